//! LIST patterns: `*` matches anything, `%` anything but the hierarchy
//! separator; a leading INBOX level matches in any case.

use crate::session::names::{self, Naming, SEPARATOR};

/// A LIST pattern: `*` matches anything, `%` anything but the separator.
/// A leading INBOX level matches in any case, as INBOX itself does.
pub struct Pattern {
    chars: Vec<char>,
}

impl Pattern {
    /// The pattern of a reference name and a pattern as sent (spelled as
    /// `naming` says; wildcards are plain ASCII, so the whole pattern
    /// decodes like a name). `None` when either is not valid: such a
    /// pattern matches nothing.
    pub fn from_wire(reference: &[u8], pattern: &[u8], naming: Naming) -> Option<Self> {
        let (Ok(reference), Ok(pattern)) = (names::decode(reference, naming), names::decode(pattern, naming)) else {
            return None;
        };
        Some(Pattern::new(&format!("{reference}{pattern}")))
    }

    fn new(pattern: &str) -> Self {
        Pattern { chars: pattern.chars().collect() }
    }

    /// Whether the engine name `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        let inbox_rooted = name.len() >= 5 && name[..5].iter().collect::<String>() == "INBOX" && name.get(5).is_none_or(|&c| c == SEPARATOR);
        let same = |p: char, at: usize| {
            let n = name[at];
            p == n || (inbox_rooted && at < 5 && p.eq_ignore_ascii_case(&n))
        };
        // reach[j]: the pattern so far matches the first j chars of the name.
        let mut reach = vec![false; name.len() + 1];
        reach[0] = true;
        for &p in &self.chars {
            let mut next = vec![false; name.len() + 1];
            for j in 0..=name.len() {
                next[j] = match p {
                    '*' => reach[j] || (j > 0 && next[j - 1]),
                    '%' => reach[j] || (j > 0 && next[j - 1] && name[j - 1] != SEPARATOR),
                    _ => j > 0 && reach[j - 1] && same(p, j - 1),
                };
            }
            reach = next;
        }
        reach[name.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let table: &[(&str, &str, bool)] = &[
            ("*", "INBOX", true),
            ("*", "a/b/c", true),
            ("%", "a", true),
            ("%", "a/b", false),
            ("a/%", "a/b", true),
            ("a/%", "a/b/c", false),
            ("a/*", "a/b/c", true),
            ("a*c", "a/b/c", true),
            ("a%c", "a/b/c", false),
            ("a%c", "abc", true),
            ("inbox", "INBOX", true),
            ("iNbOx/%", "INBOX/Sub", true),
            ("in%", "INBOX", true),
            ("inbox", "Inboxes", false),
            ("inboxes", "INBOXes", false),
            ("Почта/%", "Почта/Входящие", true),
            ("", "", true),
            ("*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
        ];
        for (pattern, name, expected) in table {
            assert_eq!(Pattern::new(pattern).matches(name), *expected, "{pattern:?} vs {name:?}");
        }
    }

    #[test]
    fn wire_forms() {
        let utf7 = Pattern::from_wire(b"", b"&BB8EPgRHBEIEMA-/%", Naming::ModifiedUtf7).expect("valid");
        assert!(utf7.matches("Почта/x"));
        let utf8 = Pattern::from_wire(b"", "Почта/%".as_bytes(), Naming::Utf8).expect("valid");
        assert!(utf8.matches("Почта/x"));
        assert!(Pattern::from_wire(b"", "é".as_bytes(), Naming::ModifiedUtf7).is_none());
        assert!(Pattern::from_wire(b"Tom & ", b"%", Naming::Utf8).expect("valid").matches("Tom & Jerry"));
    }
}
