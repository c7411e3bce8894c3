//! SORT's ordering: the RFC 5256 sort keys plus RFC 5957's DISPLAYFROM and
//! DISPLAYTO, each optionally reversed, with ties in sequence order.

use super::{base_subject, casemap, SortKeys};
use crate::fetch::source_route;
use kotak_engine::mime::Address;
use std::cmp::Ordering;

pub use kotak_imap_proto::sort_spec::{SortCriterion, SortKey};

/// Orders the matching messages (indexes into `keys`, index = sequence
/// number - 1; each must be in range) by the criteria, first criterion
/// first; messages equal under every criterion stay in sequence order, even
/// under REVERSE.
pub fn sort(keys: &[SortKeys], matching: &[usize], criteria: &[SortCriterion]) -> Vec<usize> {
    let mut rows: Vec<(Vec<Value>, usize)> =
        matching.iter().map(|&i| (criteria.iter().map(|c| Value::of(&keys[i], c.key)).collect(), i)).collect();
    rows.sort_by(|(a, a_index), (b, b_index)| {
        criteria
            .iter()
            .zip(a.iter().zip(b))
            .map(|(criterion, (x, y))| if criterion.reverse { y.cmp(x) } else { x.cmp(y) })
            .find(|order| order.is_ne())
            .unwrap_or(Ordering::Equal)
            .then(a_index.cmp(b_index))
    });
    rows.into_iter().map(|(_, i)| i).collect()
}

/// One message's value for one key, computed once per SORT so comparisons
/// are cheap. Strings are in i;unicode-casemap form.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Number(i64),
    Text(String),
}

impl Value {
    fn of(keys: &SortKeys, key: SortKey) -> Value {
        match key {
            SortKey::Arrival => Value::Number(keys.arrival),
            SortKey::Date => Value::Number(keys.sent_date()),
            SortKey::Size => Value::Number(i64::from(keys.size)),
            SortKey::Subject => Value::Text(casemap(&base_subject(keys.subject.as_deref().unwrap_or("")))),
            SortKey::From => Value::Text(local_part(keys.from.as_ref())),
            SortKey::To => Value::Text(local_part(keys.to.as_ref())),
            SortKey::Cc => Value::Text(local_part(keys.cc.as_ref())),
            SortKey::DisplayFrom => Value::Text(display_name(keys.from.as_ref())),
            SortKey::DisplayTo => Value::Text(display_name(keys.to.as_ref())),
        }
    }
}

/// RFC 5256: the address's addr-mailbox (without a source route); empty
/// when there is no address.
fn local_part(address: Option<&Address>) -> String {
    casemap(address.and_then(mailbox).unwrap_or(""))
}

/// The addr-mailbox of an address, as ENVELOPE shows it: a source route the
/// summary keeps in the local part (`@route:user`) is not part of it.
fn mailbox(address: &Address) -> Option<&str> {
    let local = address.mailbox.as_deref()?;
    Some(match address.host {
        Some(_) => source_route(local).1,
        None => local,
    })
}

/// RFC 5957 section 3: the decoded display name when it is not empty,
/// else the address `mailbox@host` (without a source route), else the
/// mailbox alone (a group name), else empty.
fn display_name(address: Option<&Address>) -> String {
    let Some(address) = address else { return String::new() };
    let shown = match (address.name.as_deref(), mailbox(address), address.host.as_deref()) {
        (Some(name), ..) if !name.trim().is_empty() => name.to_string(),
        (_, Some(mailbox), Some(host)) => format!("{mailbox}@{host}"),
        (_, Some(mailbox), None) => mailbox.to_string(),
        _ => String::new(),
    };
    casemap(&shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::test_support::{address, all};

    /// Criteria as (reverse, key) pairs.
    type Criteria = &'static [(bool, SortKey)];

    fn by(criteria: &[(bool, SortKey)], keys: &[SortKeys]) -> Vec<usize> {
        let criteria: Vec<SortCriterion> = criteria.iter().map(|&(reverse, key)| SortCriterion { reverse, key }).collect();
        sort(keys, &all(keys), &criteria)
    }

    fn with_subjects(subjects: &[&str]) -> Vec<SortKeys> {
        subjects.iter().map(|s| SortKeys { subject: Some(s.to_string()), ..SortKeys::default() }).collect()
    }

    #[test]
    fn key_names() {
        assert_eq!(SortKey::from_name(b"arrival"), Some(SortKey::Arrival));
        assert_eq!(SortKey::from_name(b"DisplayFrom"), Some(SortKey::DisplayFrom));
        assert_eq!(SortKey::from_name(b"DISPLAYTO"), Some(SortKey::DisplayTo));
        assert_eq!(SortKey::from_name(b"SIZE"), Some(SortKey::Size));
        assert_eq!(SortKey::from_name(b"REVERSE"), None);
        assert_eq!(SortKey::from_name(b""), None);
        assert_eq!(SortKey::from_name(b"SIZES"), None);
    }

    #[test]
    fn numeric_keys_with_ties_in_sequence_order() {
        let keys: Vec<SortKeys> = [(30, 100, Some(5)), (10, 300, None), (20, 100, Some(400)), (10, 200, Some(1))]
            .iter()
            .map(|&(size, arrival, sent)| SortKeys { size, arrival, sent, ..SortKeys::default() })
            .collect();
        // Sent dates: 5, 300 (from arrival), 400, 1.
        let cases: &[(Criteria, &[usize])] = &[
            (&[(false, SortKey::Size)], &[1, 3, 2, 0]),
            (&[(true, SortKey::Size)], &[0, 2, 1, 3]),
            (&[(false, SortKey::Arrival)], &[0, 2, 3, 1]),
            (&[(true, SortKey::Arrival)], &[1, 3, 0, 2]),
            (&[(false, SortKey::Date)], &[3, 0, 1, 2]),
            (&[(true, SortKey::Date)], &[2, 1, 0, 3]),
            (&[(false, SortKey::Arrival), (true, SortKey::Size)], &[0, 2, 3, 1]),
            (&[(true, SortKey::Size), (false, SortKey::Arrival)], &[0, 2, 3, 1]),
            (&[], &[0, 1, 2, 3]),
        ];
        for (criteria, expected) in cases {
            assert_eq!(by(criteria, &keys), *expected, "{criteria:?}");
        }
    }

    #[test]
    fn reverse_keeps_ties_in_sequence_order() {
        let keys = vec![SortKeys { size: 1, ..SortKeys::default() }; 3];
        assert_eq!(by(&[(true, SortKey::Size)], &keys), [0, 1, 2]);
    }

    #[test]
    fn subject_uses_the_base_subject_and_casemap() {
        let keys = with_subjects(&["Re: beta", "alpha", "[list] Fwd: ALPHA", "", "Beta (fwd)", "=?utf-8?q?gamma?="]);
        assert_eq!(by(&[(false, SortKey::Subject)], &keys), [3, 1, 2, 0, 4, 5]);
        assert_eq!(by(&[(true, SortKey::Subject)], &keys), [5, 0, 4, 1, 2, 3]);
        let missing = vec![SortKeys::default(), SortKeys { subject: Some("a".into()), ..SortKeys::default() }];
        assert_eq!(by(&[(true, SortKey::Subject)], &missing), [1, 0]);
    }

    #[test]
    fn casemap_is_unicode_casemap() {
        // "b" equals "B"; "é" is "E" and its accent, so it sorts right
        // after "e"; the digraph "ǆ" is "DŽ", whichever case it is in.
        let keys = with_subjects(&["é", "F", "e", "ǆ", "Ǆa", "d", "B", "b"]);
        assert_eq!(by(&[(false, SortKey::Subject)], &keys), [6, 7, 5, 3, 4, 2, 0, 1]);
        let keys = with_subjects(&["Ǆ", "ǅ", "ǆ", "dž"]);
        assert_eq!(by(&[(true, SortKey::Subject)], &keys), [0, 1, 2, 3]);
    }

    #[test]
    fn address_keys_use_the_local_part_of_the_first_address() {
        let keys = vec![
            SortKeys { from: Some(address(Some("Zed"), "bob", "a.example")), ..SortKeys::default() },
            SortKeys { from: Some(address(Some("Amy"), "Carol", "a.example")), ..SortKeys::default() },
            SortKeys::default(),
            SortKeys { from: Some(address(None, "ALICE", "z.example")), ..SortKeys::default() },
        ];
        assert_eq!(by(&[(false, SortKey::From)], &keys), [2, 3, 0, 1]);
        let moved = |k: &SortKeys| SortKeys { to: k.from.clone(), cc: k.from.clone(), ..SortKeys::default() };
        let others: Vec<SortKeys> = keys.iter().map(moved).collect();
        assert_eq!(by(&[(false, SortKey::To)], &others), [2, 3, 0, 1]);
        assert_eq!(by(&[(true, SortKey::Cc)], &others), [1, 0, 3, 2]);
    }

    #[test]
    fn display_keys_prefer_the_name_then_the_address() {
        let keys = vec![
            SortKeys { from: Some(address(Some("Zed"), "aaron", "x.example")), ..SortKeys::default() },
            SortKeys { from: Some(address(None, "mia", "x.example")), ..SortKeys::default() },
            SortKeys { from: Some(address(Some("  "), "beth", "x.example")), ..SortKeys::default() },
            SortKeys { from: Some(address(Some("ada"), "zoe", "x.example")), ..SortKeys::default() },
            SortKeys::default(),
            SortKeys { from: Some(Address { mailbox: Some("Crew".into()), ..Address::default() }), ..SortKeys::default() },
        ];
        // "", "ada", "beth@x.example", "Crew", "mia@x.example", "Zed"
        assert_eq!(by(&[(false, SortKey::DisplayFrom)], &keys), [4, 3, 2, 5, 1, 0]);
        let moved: Vec<SortKeys> = keys.iter().map(|k| SortKeys { to: k.from.clone(), ..SortKeys::default() }).collect();
        assert_eq!(by(&[(true, SortKey::DisplayTo)], &moved), [0, 1, 5, 2, 3, 4]);
    }

    #[test]
    fn display_and_address_keys_leave_out_source_routes() {
        // The summary keeps `<@route:zoe@x.example>` as local part `@route:zoe`;
        // RFC 5957's fallback is the address, `zoe@x.example`, and RFC 5256's
        // FROM key the addr-mailbox, `zoe`.
        let keys = vec![
            SortKeys { from: Some(address(Some("Xavier"), "xavier", "x.example")), ..SortKeys::default() },
            SortKeys { from: Some(address(None, "@route:zoe", "x.example")), ..SortKeys::default() },
            SortKeys { from: Some(address(None, "@a.example,@b.example:amy", "x.example")), ..SortKeys::default() },
            SortKeys { from: Some(address(Some("Yuri"), "@r:aaa", "x.example")), ..SortKeys::default() },
        ];
        // "amy@x.example", "Xavier", "Yuri", "zoe@x.example"
        assert_eq!(by(&[(false, SortKey::DisplayFrom)], &keys), [2, 0, 3, 1]);
        let moved: Vec<SortKeys> = keys.iter().map(|k| SortKeys { to: k.from.clone(), ..SortKeys::default() }).collect();
        assert_eq!(by(&[(true, SortKey::DisplayTo)], &moved), [1, 3, 0, 2]);
        // "aaa", "amy", "xavier", "zoe"
        assert_eq!(by(&[(false, SortKey::From)], &keys), [3, 2, 0, 1]);
    }

    #[test]
    fn only_matching_messages_are_sorted() {
        let keys = with_subjects(&["d", "c", "b", "a"]);
        let criteria = [SortCriterion { reverse: false, key: SortKey::Subject }];
        assert_eq!(sort(&keys, &[2, 0, 1], &criteria), [2, 1, 0]);
        assert_eq!(sort(&keys, &[], &criteria), Vec::<usize>::new());
    }

    #[test]
    fn later_criteria_break_ties_of_earlier_ones() {
        let mut keys = with_subjects(&["b", "a", "b", "a"]);
        for (k, size) in keys.iter_mut().zip([1, 2, 3, 4]) {
            k.size = size;
        }
        assert_eq!(by(&[(false, SortKey::Subject), (true, SortKey::Size)], &keys), [3, 1, 2, 0]);
        assert_eq!(by(&[(true, SortKey::Subject), (false, SortKey::Size)], &keys), [0, 2, 1, 3]);
    }
}
