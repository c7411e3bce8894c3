//! Sequence sets (`1:4,7,9:*`) resolved against the selected mailbox view,
//! either as message sequence numbers or as UIDs.
//!
//! `*` stands for the largest number in use, and a range is the same in
//! either order (`9:*` and `*:9` are equal), so a range whose low end lies
//! beyond the mailbox still includes the last message (RFC 3501, 6.4.8).

use imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use std::ops::Range;

/// Resolves a sequence set against a mailbox of `count` messages: sorted, unique
/// 1-based sequence numbers; `*` is `count`; numbers above count are dropped.
pub fn resolve_seq(set: &SequenceSet, count: u32) -> Vec<u32> {
    let ranges = set
        .0
        .as_ref()
        .iter()
        .map(|s| bounds(s, count))
        .filter(|&(lo, _)| lo >= 1 && lo <= count)
        .map(|(lo, hi)| (lo - 1) as usize..hi.min(count) as usize)
        .collect();
    expand(ranges).into_iter().map(|i| i as u32 + 1).collect()
}

/// Resolves a UID set against the view's ascending UIDs: sorted unique indexes into `uids`
/// of the UIDs that exist; `*` is the largest UID (or, when empty, nothing).
pub fn resolve_uid(set: &SequenceSet, uids: &[u32]) -> Vec<usize> {
    let Some(&largest) = uids.last() else { return Vec::new() };
    let ranges = set
        .0
        .as_ref()
        .iter()
        .map(|s| {
            let (lo, hi) = bounds(s, largest);
            uids.partition_point(|&u| u < lo)..uids.partition_point(|&u| u <= hi)
        })
        .collect();
    expand(ranges)
}

/// Whether every number of the set names a message of a mailbox of
/// `count` messages (`*` does when there is one). FETCH, STORE, COPY and
/// MOVE answer BAD otherwise, as Dovecot does.
pub fn within(set: &SequenceSet, count: u32) -> bool {
    count > 0 && set.0.as_ref().iter().all(|s| bounds(s, count).1 <= count)
}

/// Writes ascending numbers as a sequence set, runs as ranges (`1:3,7`);
/// COPYUID and ESEARCH use it. Empty for no numbers.
pub fn compress(numbers: impl IntoIterator<Item = u32>) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for n in numbers {
        match runs.last_mut() {
            Some(run) if run.1.checked_add(1) == Some(n) => run.1 = n,
            _ => runs.push((n, n)),
        }
    }
    let text: Vec<String> = runs.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}:{b}") }).collect();
    text.join(",")
}

/// Whether `n` is in the set, with `*` standing for `largest`. SEARCH uses
/// this to test one message at a time without resolving the whole set.
pub fn contains(set: &SequenceSet, n: u32, largest: u32) -> bool {
    set.0.as_ref().iter().any(|s| {
        let (lo, hi) = bounds(s, largest);
        lo <= n && n <= hi
    })
}

/// The inclusive bounds of one sequence, `*` replaced by `largest`, low end first.
fn bounds(seq: &Sequence, largest: u32) -> (u32, u32) {
    let value = |s: &SeqOrUid| match s {
        SeqOrUid::Value(n) => n.get(),
        SeqOrUid::Asterisk => largest,
    };
    match seq {
        Sequence::Single(s) => (value(s), value(s)),
        Sequence::Range(a, b) => {
            let (a, b) = (value(a), value(b));
            (a.min(b), a.max(b))
        }
    }
}

/// Merges index ranges and lists their members in ascending order, once each.
fn expand(mut ranges: Vec<Range<usize>>) -> Vec<usize> {
    ranges.retain(|r| !r.is_empty());
    ranges.sort_by_key(|r| r.start);
    let mut out = Vec::new();
    let mut next = 0;
    for r in ranges {
        out.extend(r.start.max(next)..r.end.max(next));
        next = next.max(r.end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> SequenceSet {
        s.parse().expect("valid sequence set")
    }

    #[test]
    fn sequence_numbers() {
        let cases: &[(&str, u32, &[u32])] = &[
            ("1", 3, &[1]),
            ("1:*", 3, &[1, 2, 3]),
            ("*", 3, &[3]),
            ("*", 0, &[]),
            ("1:*", 0, &[]),
            ("2,1,2:3", 5, &[1, 2, 3]),
            ("3:1", 5, &[1, 2, 3]),
            ("4", 3, &[]),
            ("2:9", 3, &[2, 3]),
            ("7:*", 3, &[3]),
            ("*:7", 3, &[3]),
            ("1,3,5:6", 10, &[1, 3, 5, 6]),
            ("4294967295", 3, &[]),
            ("1:4294967295", 2, &[1, 2]),
        ];
        for (s, count, want) in cases {
            assert_eq!(resolve_seq(&set(s), *count), *want, "{s} in {count}");
        }
    }

    #[test]
    fn uids() {
        let uids = [3, 5, 9, 10];
        let cases: &[(&str, &[usize])] = &[
            ("1:*", &[0, 1, 2, 3]),
            ("*", &[3]),
            ("4", &[]),
            ("5", &[1]),
            ("4:9", &[1, 2]),
            ("9:4", &[1, 2]),
            ("11:*", &[3]),
            ("1:2", &[]),
            ("10,3,5:5", &[0, 1, 3]),
            ("1:4294967295", &[0, 1, 2, 3]),
        ];
        for (s, want) in cases {
            assert_eq!(resolve_uid(&set(s), &uids), *want, "{s}");
        }
        assert!(resolve_uid(&set("1:*"), &[]).is_empty());
        assert!(resolve_uid(&set("*"), &[]).is_empty());
    }

    #[test]
    fn validity() {
        let cases: &[(&str, u32, bool)] = &[
            ("1", 3, true),
            ("1:*", 3, true),
            ("*", 3, true),
            ("3:*", 3, true),
            ("4", 3, false),
            ("2:4", 3, false),
            ("4:*", 3, false),
            ("*:4", 3, false),
            ("1,5", 3, false),
            ("1:*", 0, false),
            ("*", 0, false),
        ];
        for (s, count, valid) in cases {
            assert_eq!(within(&set(s), *count), *valid, "{s} in {count}");
        }
    }

    #[test]
    fn compression() {
        assert_eq!(compress([]), "");
        assert_eq!(compress([7]), "7");
        assert_eq!(compress([1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(compress([4, 9, 10, 11, 12]), "4,9:12");
        assert_eq!(compress([u32::MAX - 1, u32::MAX]), format!("{}:{}", u32::MAX - 1, u32::MAX));
    }

    #[test]
    fn membership() {
        let s = set("2:4,9:*");
        let inside: Vec<u32> = (1..=12).filter(|&n| contains(&s, n, 10)).collect();
        assert_eq!(inside, [2, 3, 4, 9, 10]);
        assert!(contains(&set("20:*"), 10, 10));
        assert!(!contains(&set("20:*"), 9, 10));
    }
}
