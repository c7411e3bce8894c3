//! How text becomes searchable words: the one definition that the index,
//! the queries and the direct scan of not-yet-indexed mail all use, so the
//! three can never disagree.
//!
//! Text is split into Unicode words (UAX #29), each word is split again at
//! every character that is not a letter or a digit (so `bob.smith`,
//! `example.com` and `don't` give two words each), diacritics are removed
//! (canonical decomposition without combining marks: `café` -> `cafe`) and
//! letters are lower-cased. There is no stemming and no stop-word list.
//! Over-long words are cut to [`MAX_WORD_CHARS`] characters on both sides.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// Longest word kept, in characters; longer runs (base64 lines, hashes) are
/// cut, so a query word longer than this matches on its first characters.
pub const MAX_WORD_CHARS: usize = 40;

/// Calls `f(start, end, word)` for every word of `text`, in order, with the
/// word's byte range in `text` and its normalised form.
pub fn for_each_word(text: &str, f: impl FnMut(usize, usize, &str)) {
    if text.is_ascii() {
        ascii_words(text, f)
    } else {
        unicode_words(text, f)
    }
}

/// [`for_each_word`] for ASCII text, where UAX #29 never breaks inside a
/// run of letters and digits, so the words are exactly those runs.
fn ascii_words(text: &str, mut f: impl FnMut(usize, usize, &str)) {
    let bytes = text.as_bytes();
    let mut normalised = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        normalise(&text[start..i], &mut normalised);
        f(start, i, &normalised);
    }
}

/// [`for_each_word`] for any text.
fn unicode_words(text: &str, mut f: impl FnMut(usize, usize, &str)) {
    let mut normalised = String::new();
    for (word_start, word) in text.unicode_word_indices() {
        let mut piece_start = None;
        for (i, c) in word.char_indices().chain(std::iter::once((word.len(), ' '))) {
            if c.is_alphanumeric() {
                piece_start.get_or_insert(i);
            } else if let Some(s) = piece_start.take() {
                normalise(&word[s..i], &mut normalised);
                if !normalised.is_empty() {
                    f(word_start + s, word_start + i, &normalised);
                }
            }
        }
    }
}

/// The normalised words of `text`, in order.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_word(text, |_, _, w| out.push(w.to_string()));
    out
}

/// Writes the folded, lower-cased, length-capped form of `word` into `out`.
fn normalise(word: &str, out: &mut String) {
    out.clear();
    if word.is_ascii() {
        // Most words of most mail: nothing to decompose.
        out.extend(word.bytes().take(MAX_WORD_CHARS).map(|b| char::from(b.to_ascii_lowercase())));
        return;
    }
    let mut chars = 0;
    for c in word.nfd().filter(|c| !is_combining_mark(*c)) {
        for lower in c.to_lowercase() {
            if chars == MAX_WORD_CHARS {
                return;
            }
            out.push(lower);
            chars += 1;
        }
    }
}

/// Whether `words` contains `query` as consecutive words, all equal except
/// the last, which only has to start the word it lines up with (so `rep`
/// finds `report`, and `alice@exam` finds `alice@example.com`). An empty
/// query matches everything.
pub fn contains_phrase(words: &[String], query: &[String]) -> bool {
    let Some((last, head)) = query.split_last() else { return true };
    words.windows(query.len()).any(|w| w[..head.len()] == *head && w[head.len()].starts_with(last.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_and_folding() {
        let cases: &[(&str, &[&str])] = &[
            ("Hello, World!", &["hello", "world"]),
            ("Café crème brûlée", &["cafe", "creme", "brulee"]),
            ("cafe\u{301}", &["cafe"]),
            ("Alice Smith <alice.smith@Example.COM>", &["alice", "smith", "alice", "smith", "example", "com"]),
            ("don't stop", &["don", "t", "stop"]),
            ("Selamat pagi, apa kabar? Terima kasih.", &["selamat", "pagi", "apa", "kabar", "terima", "kasih"]),
            ("Привет, МИР", &["привет", "мир"]),
            ("version 3.14_beta", &["version", "3", "14", "beta"]),
            ("日本語", &["日", "本", "語"]),
            ("  ...  --- ", &[]),
            ("", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(words(text), *want, "{text:?}");
        }
    }

    #[test]
    fn the_ascii_shortcut_gives_the_same_words() {
        let alphabet = b"aZ09 .,'_-@:/\t\r\n!?()\"=+#";
        let mut seed = 12345u32;
        for len in 0..200 {
            let text: String = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    char::from(alphabet[(seed >> 16) as usize % alphabet.len()])
                })
                .collect();
            let (mut fast, mut full) = (Vec::new(), Vec::new());
            ascii_words(&text, |s, e, w| fast.push((s, e, w.to_string())));
            unicode_words(&text, |s, e, w| full.push((s, e, w.to_string())));
            assert_eq!(fast, full, "{text:?}");
        }
        for text in ["don't stop", "alice.smith@Example.COM", "3.14_beta x-y", "a'b.c,d", "__init__", "e.g. U.S.A."] {
            let (mut fast, mut full) = (Vec::new(), Vec::new());
            ascii_words(text, |s, e, w| fast.push((s, e, w.to_string())));
            unicode_words(text, |s, e, w| full.push((s, e, w.to_string())));
            assert_eq!(fast, full, "{text:?}");
        }
    }

    #[test]
    fn long_words_are_cut() {
        let long = "x".repeat(100);
        assert_eq!(words(&long), ["x".repeat(MAX_WORD_CHARS)]);
    }

    #[test]
    fn byte_ranges_point_at_the_words() {
        let text = "Dear Ana-Maria, see café.";
        let mut seen = Vec::new();
        for_each_word(text, |s, e, w| seen.push((text[s..e].to_string(), w.to_string())));
        let want = [("Dear", "dear"), ("Ana", "ana"), ("Maria", "maria"), ("see", "see"), ("café", "cafe")];
        assert_eq!(seen, want.map(|(a, b)| (a.to_string(), b.to_string())));
    }

    #[test]
    fn phrases_match_whole_words_and_a_final_prefix() {
        let doc = words("Quarterly report from alice@example.com about the café");
        let cases: &[(&str, bool)] = &[
            ("report", true),
            ("rep", true),
            ("port", false),
            ("quarterly report", true),
            ("quarterly rep", true),
            ("quart report", false),
            ("report quarterly", false),
            ("alice@example.com", true),
            ("alice@exam", true),
            ("example.com", true),
            ("CAFÉ", true),
            ("cafe", true),
            ("", true),
            ("!!", true),
            ("missing", false),
        ];
        for (q, want) in cases {
            assert_eq!(contains_phrase(&doc, &words(q)), *want, "{q:?}");
        }
        assert!(!contains_phrase(&[], &words("a")));
    }
}
