//! THREAD's result type, its wire form, and the ORDEREDSUBJECT algorithm
//! (RFC 5256 section 3); REFERENCES is in [`super::references`].

use super::base_subject::base_subject;
use super::{casemap, thread_references, thread_refs, SortKeys, ThreadAlgorithm};
use std::io::Write;

/// One node of a thread tree: a message (by view index) or, for a message
/// that is referenced but not present, a dummy; and its replies.
///
/// Threads can be as deep as a mailbox is large (a long reply chain), so
/// every walk over them, dropping included, uses an explicit stack.
#[derive(Debug, PartialEq, Eq)]
pub struct ThreadNode {
    /// The message's index in the view (sequence number - 1); `None` for a
    /// dummy, which only ever heads a thread with two or more children.
    pub message: Option<usize>,
    /// The replies, oldest first.
    pub children: Vec<ThreadNode>,
}

impl ThreadNode {
    /// A message without replies.
    pub(crate) fn leaf(message: usize) -> ThreadNode {
        ThreadNode { message: Some(message), children: Vec::new() }
    }
}

impl Drop for ThreadNode {
    fn drop(&mut self) {
        // The default drop recurses once per level; flatten instead.
        let mut pending = std::mem::take(&mut self.children);
        while let Some(mut node) = pending.pop() {
            pending.append(&mut node.children);
        }
    }
}

/// Threads the matching messages (indexes into `keys`) with `algorithm`.
pub fn threads(algorithm: ThreadAlgorithm, keys: &[SortKeys], matching: &[usize]) -> Vec<ThreadNode> {
    match algorithm {
        ThreadAlgorithm::OrderedSubject => thread_orderedsubject(keys, matching),
        ThreadAlgorithm::References => thread_references(keys, matching),
        ThreadAlgorithm::Refs => thread_refs(keys, matching),
    }
}

/// THREAD=ORDEREDSUBJECT: messages with the same base subject form one
/// thread whose oldest message is the parent of all the others (oldest
/// first); threads are ordered by the sent date of their parent.
pub fn thread_orderedsubject(keys: &[SortKeys], matching: &[usize]) -> Vec<ThreadNode> {
    let mut rows: Vec<(String, (i64, usize))> = matching
        .iter()
        .map(|&i| (casemap(&base_subject(keys[i].subject.as_deref().unwrap_or(""))), keys[i].date_order(i)))
        .collect();
    rows.sort_unstable();
    let mut threads: Vec<ThreadNode> = rows
        .chunk_by(|a, b| a.0 == b.0)
        .filter_map(|same_subject| {
            let ((_, (_, first)), rest) = same_subject.split_first()?;
            let children = rest.iter().map(|(_, (_, i))| ThreadNode::leaf(*i)).collect();
            Some(ThreadNode { message: Some(*first), children })
        })
        .collect();
    threads.sort_by_cached_key(|t| t.message.map(|m| keys[m].date_order(m)));
    threads
}

/// Writes threads in the form of RFC 5256's `thread-list`s, e.g.
/// `(1 2)(3 6 (4 23)(44 7 96))`, without the `* THREAD` prefix: a chain of
/// single replies is a space-separated list, a node with several replies is
/// followed by one parenthesized list per reply. `number` turns a view
/// index into the number to write (sequence number or UID).
pub fn write_threads(out: &mut Vec<u8>, threads: &[ThreadNode], number: impl Fn(usize) -> u32) {
    enum Step<'a> {
        Open(&'a ThreadNode),
        Close,
    }
    let mut steps: Vec<Step<'_>> = threads.iter().rev().map(Step::Open).collect();
    while let Some(step) = steps.pop() {
        let Step::Open(node) = step else {
            out.push(b')');
            continue;
        };
        out.push(b'(');
        steps.push(Step::Close);
        let mut current = node;
        let mut wrote_number = false;
        loop {
            if let Some(message) = current.message {
                if wrote_number {
                    out.push(b' ');
                }
                // Writing to a Vec cannot fail.
                let _ = write!(out, "{}", number(message));
                wrote_number = true;
            }
            match current.children.as_slice() {
                [] => break,
                [only] => current = only,
                several => {
                    if wrote_number {
                        out.push(b' ');
                    }
                    steps.extend(several.iter().rev().map(Step::Open));
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::test_support::{all, message, render};

    fn node(message: Option<usize>, children: Vec<ThreadNode>) -> ThreadNode {
        ThreadNode { message, children }
    }

    #[test]
    fn thread_list_format() {
        let leaf = ThreadNode::leaf;
        let cases: Vec<(Vec<ThreadNode>, &str)> = vec![
            (vec![], ""),
            (vec![leaf(0)], "(1)"),
            (vec![leaf(1), leaf(0)], "(2)(1)"),
            (vec![node(Some(0), vec![node(Some(1), vec![leaf(2)])])], "(1 2 3)"),
            (vec![node(Some(0), vec![leaf(1), leaf(2)])], "(1 (2)(3))"),
            (vec![node(None, vec![leaf(2), leaf(4)])], "((3)(5))"),
            (vec![node(None, vec![node(Some(2), vec![leaf(3)]), leaf(4)])], "((3 4)(5))"),
            (
                vec![
                    leaf(1),
                    node(
                        Some(2),
                        vec![node(
                            Some(5),
                            vec![node(Some(3), vec![leaf(22)]), node(Some(43), vec![node(Some(6), vec![leaf(95)])])],
                        )],
                    ),
                ],
                "(2)(3 6 (4 23)(44 7 96))",
            ),
            (
                vec![node(Some(0), vec![node(Some(1), vec![leaf(2), node(Some(3), vec![leaf(4), leaf(5)])]), leaf(6)])],
                "(1 (2 (3)(4 (5)(6)))(7))",
            ),
        ];
        for (threads, expected) in cases {
            assert_eq!(render(&threads), expected);
        }
    }

    #[test]
    fn thread_list_numbers_come_from_the_caller() {
        let mut out = b"* THREAD ".to_vec();
        write_threads(&mut out, &[node(Some(0), vec![ThreadNode::leaf(1)])], |i| [4000, 4002][i]);
        assert_eq!(out, b"* THREAD (4000 4002)");
    }

    #[test]
    fn algorithm_names() {
        assert_eq!(ThreadAlgorithm::from_name(b"orderedsubject"), Some(ThreadAlgorithm::OrderedSubject));
        assert_eq!(ThreadAlgorithm::from_name(b"REFERENCES"), Some(ThreadAlgorithm::References));
        assert_eq!(ThreadAlgorithm::from_name(b"Refs"), Some(ThreadAlgorithm::Refs));
        assert_eq!(ThreadAlgorithm::from_name(b"REF"), None);
    }

    #[test]
    fn orderedsubject_groups_by_base_subject_then_date() {
        let keys = vec![
            message("", &[], "hello", 30),
            message("", &[], "Re: hello", 10),
            message("", &[], "world", 20),
            message("", &[], "Fwd: WORLD", 40),
            message("", &[], "HELLO (fwd)", 50),
            message("", &[], "alone", 60),
        ];
        let ordered = thread_orderedsubject(&keys, &all(&keys));
        assert_eq!(render(&ordered), "(2 (1)(5))(3 4)(6)");
        let by_algorithm = threads(ThreadAlgorithm::OrderedSubject, &keys, &all(&keys));
        assert_eq!(by_algorithm, ordered);
    }

    #[test]
    fn orderedsubject_ties_follow_sequence_order() {
        let keys = vec![
            message("", &[], "b", 5),
            message("", &[], "a", 5),
            message("", &[], "Re: a", 5),
            message("", &[], "", 5),
            message("", &[], "", 1),
        ];
        assert_eq!(render(&thread_orderedsubject(&keys, &all(&keys))), "(5 4)(1)(2 3)");
        assert_eq!(render(&thread_orderedsubject(&keys, &[2, 0])), "(1)(3)");
        assert_eq!(render(&thread_orderedsubject(&keys, &[])), "");
    }

    #[test]
    fn orderedsubject_uses_internal_date_without_sent_date() {
        let mut keys = vec![message("", &[], "x", 0), message("", &[], "y", 0)];
        keys[0].sent = None;
        keys[0].arrival = 100;
        keys[1].sent = Some(50);
        assert_eq!(render(&thread_orderedsubject(&keys, &all(&keys))), "(2)(1)");
    }

    #[test]
    fn deep_trees_are_written_and_dropped_without_recursion() {
        let mut chain = ThreadNode::leaf(199_999);
        for i in (0..199_999).rev() {
            chain = node(Some(i), vec![chain]);
        }
        let text = render(std::slice::from_ref(&chain));
        assert!(text.starts_with("(1 2 3 "));
        assert!(text.ends_with(" 199999 200000)"));
        drop(chain);
    }
}
