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
///
/// Mail is mostly ASCII with a few other characters, so the text is cut into
/// runs at [safe cuts](is_safe_cut): runs without non-ASCII bytes go through
/// the fast [`ascii_words`], only the runs around non-ASCII characters pay
/// for UAX #29 in [`unicode_words`].
pub fn for_each_word(text: &str, mut f: impl FnMut(usize, usize, &str)) {
    let bytes = text.as_bytes();
    let mut normalised = String::new();
    let mut start = 0;
    while start < bytes.len() {
        let Some(non_ascii) = first_non_ascii(&bytes[start..]).map(|i| start + i) else {
            ascii_words(&text[start..], &mut normalised, |s, e, w| f(start + s, start + e, w));
            return;
        };
        // Every position before `non_ascii` has an ASCII byte, so a cut only
        // needs whitespace in front of it.
        let cut = (start + 1..non_ascii).rev().find(|&p| is_cut_space(bytes[p - 1])).unwrap_or(start);
        let end = (non_ascii + 1..bytes.len()).find(|&p| is_safe_cut(bytes, p)).unwrap_or(bytes.len());
        ascii_words(&text[start..cut], &mut normalised, |s, e, w| f(start + s, start + e, w));
        unicode_words(&text[cut..end], &mut normalised, |s, e, w| f(cut + s, cut + e, w));
        start = end;
    }
}

/// Whether splitting `bytes` before index `p` (0 < p < len) leaves every
/// word as UAX #29 finds it in the whole text: whitespace before `p` never
/// belongs to a word and no rule joins it to a following ASCII character
/// (CR LF and space runs stay together, but give no words either way), and
/// an ASCII byte at `p` is not a combining mark or joiner that UAX #29 would
/// attach to the whitespace.
fn is_safe_cut(bytes: &[u8], p: usize) -> bool {
    is_cut_space(bytes[p - 1]) && bytes[p].is_ascii()
}

/// ASCII whitespace, including the vertical tab that
/// [`u8::is_ascii_whitespace`] leaves out.
fn is_cut_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Index of the first non-ASCII byte of `bytes`: whole blocks are checked
/// with the word-at-a-time [`slice::is_ascii`], single bytes only inside
/// the block that has one.
fn first_non_ascii(bytes: &[u8]) -> Option<usize> {
    const BLOCK: usize = 64;
    let from = bytes.chunks(BLOCK).position(|block| !block.is_ascii())? * BLOCK;
    bytes[from..].iter().position(|b| !b.is_ascii()).map(|i| from + i)
}

/// [`for_each_word`] for ASCII text, where UAX #29 never breaks inside a
/// run of letters and digits, so the words are exactly those runs.
/// `normalised` is scratch space, shared by all runs of one text so that
/// many short runs do not each allocate.
fn ascii_words(text: &str, normalised: &mut String, mut f: impl FnMut(usize, usize, &str)) {
    let bytes = text.as_bytes();
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
        normalise(&text[start..i], normalised);
        f(start, i, normalised);
    }
}

/// [`for_each_word`] for any text; `normalised` is scratch space as in
/// [`ascii_words`].
fn unicode_words(text: &str, normalised: &mut String, mut f: impl FnMut(usize, usize, &str)) {
    for (word_start, word) in text.unicode_word_indices() {
        let mut piece_start = None;
        for (i, c) in word.char_indices().chain(std::iter::once((word.len(), ' '))) {
            if c.is_alphanumeric() {
                piece_start.get_or_insert(i);
            } else if let Some(s) = piece_start.take() {
                normalise(&word[s..i], normalised);
                if !normalised.is_empty() {
                    f(word_start + s, word_start + i, normalised);
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
        // Most words of most mail: nothing to decompose, and every byte is
        // a character, so the cut is a byte count.
        out.push_str(&word[..word.len().min(MAX_WORD_CHARS)]);
        out.make_ascii_lowercase();
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

    type Triple = (usize, usize, String);

    /// The `(start, end, word)` calls that `split` makes to the callback.
    fn triples(split: impl FnOnce(&mut dyn FnMut(usize, usize, &str))) -> Vec<Triple> {
        let mut out = Vec::new();
        split(&mut |s, e, w| out.push((s, e, w.to_string())));
        out
    }

    /// `count` texts of 0 to `max_len` pieces drawn from `alphabet`, the
    /// same on every run.
    fn random_texts(alphabet: &[&str], count: usize, max_len: usize) -> Vec<String> {
        let mut seed = 12345u32;
        let mut next = move |below: usize| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 8) as usize % below
        };
        (0..count).map(|_| (0..next(max_len + 1)).map(|_| alphabet[next(alphabet.len())]).collect()).collect()
    }

    #[test]
    fn the_ascii_shortcut_gives_the_same_words() {
        let alphabet = [
            "a", "Z", "0", "9", " ", ".", ",", "'", "_", "-", "@", ":", "/", "\t", "\r", "\n", "!", "?", "(", ")", "\"",
            "=", "+", "#",
        ];
        let hand = ["don't stop", "alice.smith@Example.COM", "3.14_beta x-y", "a'b.c,d", "__init__", "e.g. U.S.A."];
        for text in random_texts(&alphabet, 500, 200).iter().map(String::as_str).chain(hand) {
            let fast = triples(|f| ascii_words(text, &mut String::new(), f));
            assert_eq!(fast, triples(|f| unicode_words(text, &mut String::new(), f)), "{text:?}");
        }
    }

    #[test]
    fn cutting_mixed_text_into_runs_gives_the_same_words() {
        let alphabet = [
            "a", "b", "Z", "k", "0", "7", " ", " ", " ", "  ", "\t", "\r\n", "\r", "\n", "\x0b", "\x0c", ".", ",", "'",
            "_", "-", "@", ":", "\"", "é", "—", "ü", "\u{301}", "\u{345}", "日", "Я", "ß", "\u{200d}", "😀", "\u{a0}",
        ];
        let hand = [
            "naïve café — ok",
            "a \u{301}b",
            "x\u{a0}y z",
            "é\r\nfoo bar",
            "foo bar\u{200d}😀 baz",
            " \u{301}x y é",
            "plain ascii, then ü at the end",
            "é",
        ];
        for text in random_texts(&alphabet, 3000, 300).iter().map(String::as_str).chain(hand) {
            let runs = triples(|f| for_each_word(text, f));
            assert_eq!(runs, triples(|f| unicode_words(text, &mut String::new(), f)), "{text:?}");
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
