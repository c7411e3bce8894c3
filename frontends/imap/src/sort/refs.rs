//! THREAD=REFS (draft-ietf-morg-inthread, section 3.1; listed by RFC 9051
//! appendix E): the REFERENCES algorithm's steps 1 to 3 and 6, without
//! step 5's merging by subject, and with the threads ordered by their most
//! recent message instead of their first, so that a thread that gets a
//! new reply moves to the end, as Dovecot orders them.

use super::references::Forest;
use super::thread::ThreadNode;
use super::SortKeys;

/// Threads the matching messages (indexes into `keys`) by their references
/// alone; threads are ordered by the newest sent date of any message in
/// them (INTERNALDATE where `Date:` is missing), ties by the thread's first
/// message, and replies within a thread by sent date as for REFERENCES.
pub fn thread_refs(keys: &[SortKeys], matching: &[usize]) -> Vec<ThreadNode> {
    let (mut forest, roots) = Forest::linked(keys, matching);
    let mut roots = forest.sort_all(roots);
    // sort_all left the roots in order of their first message: a stable
    // sort keeps that order among threads whose newest dates are equal.
    roots.sort_by_cached_key(|&root| {
        let messages = forest.post_order(&[root]).into_iter().filter_map(|node| forest.message(node));
        messages.map(|m| keys[m].sent_date()).max().unwrap_or(i64::MAX)
    });
    forest.into_threads(&roots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::test_support::{all, message, render};

    fn threads(keys: &[SortKeys]) -> String {
        render(&thread_refs(keys, &all(keys)))
    }

    #[test]
    fn threads_are_ordered_by_their_newest_message() {
        let keys = [
            message("<a@x>", &[], "first", 10),
            message("<b@x>", &[], "second", 20),
            message("<c@x>", &["<a@x>"], "Re: first", 30),
            message("<d@x>", &[], "third", 25),
        ];
        // REFERENCES would give (1 3)(2)(4): the thread of 1 now ends last.
        assert_eq!(threads(&keys), "(2)(4)(1 3)");
    }

    #[test]
    fn subjects_are_not_merged() {
        let keys = [message("<a@x>", &[], "lunch", 10), message("<b@x>", &[], "Re: lunch", 20), message("<c@x>", &[], "lunch", 30)];
        assert_eq!(threads(&keys), "(1)(2)(3)");
    }

    #[test]
    fn dummies_and_replies_as_for_references() {
        let keys = [
            message("<b@x>", &["<gone@x>"], "b", 40),
            message("<c@x>", &["<gone@x>"], "c", 10),
            message("<d@x>", &["<gone@x>", "<c@x>"], "d", 20),
            message("<e@x>", &[], "e", 30),
            message("", &[], "no id", 30),
        ];
        // The dummy's thread ends at 40; e and the message without an id
        // tie at 30 and keep their order.
        assert_eq!(threads(&keys), "(4)(5)((2 3)(1))");
        let matching = [1, 2];
        assert_eq!(render(&thread_refs(&keys, &matching)), "(2 3)");
    }

    #[test]
    fn empty() {
        assert_eq!(threads(&[]), "");
    }
}
