//! How text is compared: the one definition of a match that the index, the
//! queries and the direct scan of not-yet-indexed mail all use, so the three
//! can never disagree.
//!
//! IMAP SEARCH strings are case-insensitive substrings (RFC 3501 and 9051,
//! 6.4.4). Both the searched text and the search string are
//! [normalised](normalise) the same way and a string matches when its
//! normal form occurs anywhere in the text's: each character is replaced by
//! its compatibility decomposition (`ﬁ` -> `fi`, `ǆ` -> `dž`, `Ａ` -> `A`),
//! combining marks are removed (`Café` -> `cafe`, `İ` -> `i`), letters are
//! case-folded through their upper case (so `ς`, `σ` and `Σ` agree, as do
//! `ı` and `i`, `ſ` and `s`; `ß` stays apart from `ss`), and every run of
//! whitespace (line breaks and header folding included) becomes one space.
//!
//! Two strings equal under i;unicode-casemap (RFC 5051: titlecase, then
//! decompose) are equal here too, which is what IMAP's I18NLEVEL=1
//! (RFC 5255) asks of SEARCH; this form is coarser only in ignoring
//! diacritics on both sides, as Dovecot's full-text search does.
//! Normalisation maps each character on its own (only whitespace runs are
//! joined), so the normal form of a substring is a substring of the normal
//! form.
//!
//! The index stores the [tokens](for_each_token) of each normalised field
//! with their positions: runs of letters and digits and single other
//! characters, each with the space before it, so that the tokens of a text
//! put end to end are the text. Where tokens start depends only on the two
//! characters around each point, so a search string is cut into tokens
//! where the text is: it matches exactly where its first token ends a
//! token of the text, the middle ones follow it as whole tokens and its
//! last token starts the next; a string of one token matches inside a
//! token (the index looks it up among the field's distinct terms).
//!
//! The whole header holds opaque values (signatures, message ids, relay
//! ids) that would make the field's distinct terms many, and a string of
//! one token is looked up by walking them. So there a token is stored as
//! itself only when it reads like a word; an [opaque](is_opaque) token
//! (long, or letters and digits mixed, say) is stored as
//! the [`GRAM`]-character pieces that start at each of its characters,
//! [marked](GRAM_MARK), padded with [`GRAM_END`] after its last character,
//! one position per character ([`for_each_header_term`]). A search string
//! then matches a piece of an opaque token where its grams occur at
//! consecutive positions, and the end of one where the grams of the
//! string followed by the padding do; the term walk for one-token strings
//! skips the marked grams.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Length of the grams an opaque token is stored as, in characters.
pub const GRAM: usize = 3;

/// Separates the parts of one field (the raw header value, display names,
/// addresses) so that no string matches across two of them. A control
/// character that mail text does not carry; a search string holding it
/// matches only at part boundaries.
pub const SEPARATOR: char = '\u{1}';

/// The normal form of `text` (see the module documentation).
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalise_into(text, &mut out);
    out
}

/// Appends the normal form of `text` to `out`. Runs of ASCII (most of
/// any mail, whatever its language) take a byte-wise path; only the other
/// characters are decomposed one by one.
pub fn normalise_into(text: &str, out: &mut String) {
    let mut space = false;
    let mut rest = text;
    while !rest.is_empty() {
        let ascii = rest.bytes().position(|b| !b.is_ascii()).unwrap_or(rest.len());
        for &b in &rest.as_bytes()[..ascii] {
            if is_ascii_space(b) {
                space = true;
                continue;
            }
            if std::mem::take(&mut space) {
                out.push(' ');
            }
            out.push(b.to_ascii_lowercase() as char);
        }
        let mut chars = rest[ascii..].chars();
        let Some(c) = chars.next() else { break };
        rest = chars.as_str();
        if c.is_whitespace() {
            space = true;
            continue;
        }
        decompose_compatible(c, |d| {
            if d.is_whitespace() {
                space = true;
                return;
            }
            if is_combining_mark(d) {
                return;
            }
            for lower in simple_uppercase(d).to_lowercase() {
                if !is_combining_mark(lower) {
                    if std::mem::take(&mut space) {
                        out.push(' ');
                    }
                    out.push(lower);
                }
            }
        });
    }
    if space {
        out.push(' ');
    }
}

/// The character's upper case where that is one character (`ς` -> `Σ`,
/// `ı` -> `I`), else the character itself (`ß`, whose upper case is `SS`).
/// Apart from the digraphs that compatibility decomposition has already
/// split and Georgian (see [`casemap`]), this is the titlecase mapping that
/// i;unicode-casemap applies.
fn simple_uppercase(c: char) -> char {
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// A string in i;unicode-casemap's "titlecased canonicalized" form (RFC
/// 5051), whose octets SORT compares: every character decomposed (with
/// compatibility decompositions) and titlecased, diacritics kept.
pub fn casemap(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_uppercase();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        decompose_compatible(c, |d| {
            // Georgian Mkhedruli letters have an upper case (Mtavruli) but
            // are their own titlecase.
            let title = if ('\u{10d0}'..='\u{10ff}').contains(&d) { d } else { simple_uppercase(d) };
            decompose_compatible(title, |t| out.push(t));
        });
    }
    out
}

/// ASCII whitespace, including the vertical tab that
/// [`u8::is_ascii_whitespace`] leaves out.
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Whether the normalised `text` contains the normalised `needle`; an empty
/// needle is in every text.
pub fn contains(text: &str, needle: &str) -> bool {
    needle.is_empty() || memchr::memmem::find(text.as_bytes(), needle.as_bytes()).is_some()
}

/// Starts the term of every gram of an opaque token in the header field:
/// normalised text holds no ASCII capital letters, so these terms never
/// equal a token's, and they sort apart from the tokens.
pub const GRAM_MARK: char = 'G';

/// Pads the grams of an opaque token's last characters (see [`GRAM_MARK`]
/// on why a capital letter): the grams of a search string followed by two
/// of them match only at the end of a token.
pub const GRAM_END: char = 'E';

/// Whether the header field stores `token` (one of [`for_each_token`]'s)
/// as grams: a run of letters and digits (after the space it may start
/// with) that does not read like a word: 9 characters or more, letters
/// and digits mixed, 5 digits or more, or four consonants in a row
/// (random strings such as the pieces of a base64 signature mostly have
/// one). Short numbers (dates, times, addresses) and words with three
/// consonants in a row (`contract`, `bench`) stay terms: few distinct
/// values, and as grams they were a third of a header's terms. Only the
/// index's size and speed depend on this choice, never what a search
/// finds. A token that contains an opaque one is opaque too, so whatever
/// holds a search string's first or last token is known to be opaque when
/// that token is.
pub fn is_opaque(token: &str) -> bool {
    let Some(word) = word_part(token) else {
        return false;
    };
    let (mut chars, mut digits, mut consonants, mut run) = (0, 0, 0, 0);
    for c in word.chars() {
        chars += 1;
        digits += usize::from(c.is_ascii_digit());
        consonants = if c.is_ascii_alphabetic() && !matches!(c, 'a' | 'e' | 'i' | 'o' | 'u') { consonants + 1 } else { 0 };
        run = run.max(consonants);
    }
    let mixed = digits > 0 && digits < chars;
    chars >= 9 || mixed || digits >= 5 || run >= 4
}

/// The letters and digits of a token made only of them (after the space
/// it may start with): the tokens that can be, or be part of, an opaque
/// token. `None` for punctuation.
pub(crate) fn word_part(token: &str) -> Option<&str> {
    let word = token.strip_prefix(' ').unwrap_or(token);
    (!word.is_empty() && word.chars().all(|c| class(c) == Class::Word)).then_some(word)
}

/// Whether `piece` (a token, or a piece of one) can be part of an
/// opaque token: letters and digits after an optional space, or the space
/// an opaque token may start with.
pub(crate) fn may_be_opaque_piece(piece: &str) -> bool {
    piece == " " || word_part(piece).is_some()
}

/// Calls `f(term, position)` for every term of the header field's
/// normalised `text`, in order: each token that is not
/// [opaque](is_opaque) at one position, and for an opaque one, the
/// [marked](GRAM_MARK) gram that starts at each of its characters (the
/// leading space included), [padded](GRAM_END), one position per
/// character.
pub fn for_each_header_term(text: &str, mut f: impl FnMut(&str, usize)) {
    let mut position = 0;
    let (mut gram, mut chars) = (String::new(), Vec::new());
    for_each_token(text, |from, to| {
        let token = &text[from..to];
        if !is_opaque(token) {
            f(token, position);
            position += 1;
            return;
        }
        chars.clear();
        chars.extend(token.chars());
        for i in 0..chars.len() {
            gram.clear();
            gram.push(GRAM_MARK);
            gram.extend((i..i + GRAM).map(|j| chars.get(j).copied().unwrap_or(GRAM_END)));
            f(&gram, position);
            position += 1;
        }
    });
}

/// The marked grams a search must find at consecutive positions for
/// `piece` (letters and digits, at least [`GRAM`] characters with the
/// padding) to occur in an opaque token, with their offsets in characters
/// ([`covering_grams`]); `to_end`: the piece must end the token, so it is
/// padded as the token's end is.
pub fn marked_grams(piece: &str, to_end: bool) -> Vec<(usize, String)> {
    let mut padded = piece.to_string();
    if to_end {
        padded.extend([GRAM_END; GRAM - 1]);
    }
    covering_grams(&padded).into_iter().map(|(offset, gram)| (offset, format!("{GRAM_MARK}{gram}"))).collect()
}

/// The grams a search for the normalised `needle` (at least [`GRAM`]
/// characters) must find at consecutive positions, with their offsets in
/// `needle`: the fewest that cover every character (one every `GRAM`
/// characters, and the last one).
pub fn covering_grams(needle: &str) -> Vec<(usize, String)> {
    let starts: Vec<usize> = needle.char_indices().map(|(i, _)| i).chain(std::iter::once(needle.len())).collect();
    let count = starts.len() - 1;
    if count < GRAM {
        return Vec::new();
    }
    let last = count - GRAM;
    let mut offsets: Vec<usize> = (0..last).step_by(GRAM).collect();
    offsets.push(last);
    offsets.into_iter().map(|o| (o, needle[starts[o]..starts[o + GRAM]].to_string())).collect()
}

/// How a character takes part in [tokens](for_each_token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `' '`: starts a token, and stays with what follows it.
    Space,
    /// Letters and digits (outside the scripts written without spaces):
    /// a run of them is one token.
    Word,
    /// Anything else (punctuation, [`SEPARATOR`], ideographs): one token
    /// of its own, with the space before it if there is one.
    Single,
}

fn class(c: char) -> Class {
    if c == ' ' {
        Class::Space
    } else if c.is_ascii() {
        if c.is_ascii_alphanumeric() {
            Class::Word
        } else {
            Class::Single
        }
    } else if c.is_alphanumeric() && !is_ideographic(c) {
        Class::Word
    } else {
        Class::Single
    }
}

/// Scripts written without spaces between words (Han, kana and their
/// symbols), whose characters are tokens of their own, so a sentence is
/// not one long token.
fn is_ideographic(c: char) -> bool {
    matches!(c, '\u{2e80}'..='\u{9fff}' | '\u{f900}'..='\u{faff}' | '\u{ff66}'..='\u{ff9f}' | '\u{20000}'..='\u{3ffff}')
}

/// Whether a token starts between characters of classes `prev` and `next`:
/// before every space, before a `Single` unless a space comes just before
/// it, and after every `Single`. The rule sees only the two neighbours, so
/// a piece of a text is cut where the whole is.
fn boundary(prev: Class, next: Class) -> bool {
    next == Class::Space || (next == Class::Single && prev != Class::Space) || prev == Class::Single
}

/// Calls `f(from, to)` with the byte range of every token of the
/// normalised `text`, in order. Tokens cover the text end to end (their
/// concatenation is the text): a run of letters and digits, or one other
/// character, each with the space before it.
pub fn for_each_token(text: &str, mut f: impl FnMut(usize, usize)) {
    if text.is_empty() {
        return;
    }
    let mut start = 0;
    if text.is_ascii() {
        let bytes = text.as_bytes();
        let mut prev = class(bytes[0] as char);
        for (i, &b) in bytes.iter().enumerate().skip(1) {
            let next = class(b as char);
            if boundary(prev, next) {
                f(start, i);
                start = i;
            }
            prev = next;
        }
    } else {
        let mut chars = text.char_indices();
        let mut prev = chars.next().map_or(Class::Space, |(_, c)| class(c));
        for (i, c) in chars {
            let next = class(c);
            if boundary(prev, next) {
                f(start, i);
                start = i;
            }
            prev = next;
        }
    }
    f(start, text.len());
}

/// The tokens of the normalised `text` ([`for_each_token`]).
pub fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for_each_token(text, |from, to| out.push(&text[from..to]));
    out
}

/// Whether a token can only start where it does: one that begins with a
/// space (the text has a token boundary before every space).
pub fn starts_at_boundary(token: &str) -> bool {
    token.starts_with(' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        let cases: &[(&str, &str)] = &[
            ("Hello, World!", "hello, world!"),
            ("Café crème BRÛLÉE", "cafe creme brulee"),
            ("cafe\u{301}", "cafe"),
            ("Straße STRASSE", "straße strasse"),
            ("Привет, МИР", "привет, мир"),
            ("İstanbul", "istanbul"),
            ("a \r\n\t b\u{a0}\u{a0}c", "a b c"),
            ("  x  ", " x "),
            ("日本語", "日本語"),
            ("", ""),
            // What i;unicode-casemap equates (RFC 5051, RFC 5255).
            ("ǅ Ǆ ǆ dž", "dz dz dz dz"),
            ("ﬁle Ｆｕｌｌ x²", "file full x2"),
            ("ΣΊΣΥΦΟΣ σίσυφος ςσ", "σισυφοσ σισυφοσ σσ"),
            ("ıI ſS µΜ K", "ii ss μμ k"),
            ("ẞ ß SS", "ß ß ss"),
            ("a\u{2003}\u{a8}b", "a b"),
            // ASCII runs between other characters, spaces across them.
            ("Ünïcode\u{a0} \tMIX ASCII ÉND\u{3000}", "unicode mix ascii end "),
        ];
        for (text, want) in cases {
            assert_eq!(normalise(text), *want, "{text:?}");
        }
    }

    #[test]
    fn normal_forms_hold_no_ascii_capitals() {
        // What lets GRAM_MARK and GRAM_END stand apart from any text.
        let all: String = (0..0x3_0000).filter_map(char::from_u32).collect();
        assert!(!normalise(&all).bytes().any(|b| b.is_ascii_uppercase()));
    }

    #[test]
    fn unicode_casemap_form() {
        let cases: &[(&str, &str)] = &[
            ("subject", "SUBJECT"),
            ("ǆungla ǅ Ǆ", "DZ\u{30c}UNGLA DZ\u{30c} DZ\u{30c}"),
            ("café", "CAFE\u{301}"),
            ("ß ﬁ ς ı", "ß FI Σ I"),
            ("ა Ა", "ა Ა"),
        ];
        for (text, want) in cases {
            assert_eq!(casemap(text), *want, "{text:?}");
            assert_eq!(casemap(want), *want, "{want:?} is stable");
        }
        assert!(casemap("cafe") < casemap("Café"));
        assert_ne!(casemap("ß"), casemap("ss"));
    }

    #[test]
    fn normalising_pieces_gives_pieces_of_the_whole() {
        let whole = "Beautiful Wörld — Café,\r\n  ÀÉÎ ß";
        let norm = normalise(whole);
        let chars: Vec<(usize, char)> = whole.char_indices().collect();
        for (i, &(a, _)) in chars.iter().enumerate() {
            for &(b, _) in &chars[i..] {
                let piece = normalise(&whole[a..b]);
                let trimmed = piece.trim_matches(' ');
                assert!(contains(&norm, trimmed), "{:?} -> {piece:?} not in {norm:?}", &whole[a..b]);
            }
        }
    }

    #[test]
    fn covering_grams_cover_every_character() {
        assert_eq!(covering_grams("ab"), []);
        assert_eq!(covering_grams("abc"), [(0, "abc".to_string())]);
        assert_eq!(covering_grams("abcd"), [(0, "abc".to_string()), (1, "bcd".to_string())]);
        let cover: Vec<usize> = covering_grams("abcdefghij").into_iter().map(|(o, _)| o).collect();
        assert_eq!(cover, [0, 3, 6, 7]);
        assert_eq!(covering_grams("abcabc"), [(0, "abc".to_string()), (3, "abc".to_string())]);
        assert_eq!(covering_grams("aéb"), [(0, "aéb".to_string())]);
    }

    #[test]
    fn opaque_tokens_are_long_mixed_or_unpronounceable() {
        for (token, want) in [
            ("meeting", false),
            (" rapat", false),
            (" internationalization", true),
            ("abacadaba", true),
            ("abacadab", false),
            ("a1", true),
            (" 1a", true),
            ("7", false),
            (" 2026", false),
            (" 0800", false),
            ("12345", true),
            ("sha", false),
            (" contract", false),
            ("xkcd", true),
            (" strength", true),
            (" ", false),
            ("", false),
        ] {
            assert_eq!(is_opaque(token), want, "{token:?}");
        }
    }

    #[test]
    fn header_terms_grams_for_opaque_tokens_only() {
        let mut seen = Vec::new();
        for_each_header_term("id a1b2c3d, x", |term, position| seen.push((term.to_string(), position)));
        let want = [
            ("id", 0),
            ("G a1", 1),
            ("Ga1b", 2),
            ("G1b2", 3),
            ("Gb2c", 4),
            ("G2c3", 5),
            ("Gc3d", 6),
            ("G3dE", 7),
            ("GdEE", 8),
            (",", 9),
            (" x", 10),
        ];
        assert_eq!(seen, want.map(|(t, p)| (t.to_string(), p)));
        assert_eq!(marked_grams("c3d", true), [(0, "Gc3d".to_string()), (2, "GdEE".to_string())]);
        assert_eq!(marked_grams("b2c3", false), [(0, "Gb2c".to_string()), (1, "G2c3".to_string())]);
        assert_eq!(marked_grams("d", true), [(0, "GdEE".to_string())]);
        assert_eq!(marked_grams("d", false), []);
    }

    #[test]
    fn tokens_cover_the_text() {
        let s = SEPARATOR;
        assert_eq!(tokens("abc, dé-f  (x)"), ["abc", ",", " dé", "-", "f", " ", " (", "x", ")"]);
        assert_eq!(tokens(&format!("a{s}b {s}")), ["a", &s.to_string(), "b", &format!(" {s}")]);
        assert_eq!(tokens("日本語 ok"), ["日", "本", "語", " ok"]);
        assert_eq!(tokens(""), Vec::<&str>::new());
        assert_eq!(tokens(" "), [" "]);
        // A piece of a text is cut where the text is, apart from its ends.
        let text = normalise("Re: [kotak] user-from@Example.com wrote:  «ça va?» 日本 x");
        let whole: Vec<(usize, usize)> = {
            let mut v = Vec::new();
            for_each_token(&text, |a, b| v.push((a, b)));
            v
        };
        assert_eq!(whole.iter().map(|&(a, b)| &text[a..b]).collect::<String>(), text);
        let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
        for (i, &a) in starts.iter().enumerate() {
            for &b in &starts[i + 1..] {
                let mut inner = Vec::new();
                for_each_token(&text[a..b], |x, y| inner.push((a + x, a + y)));
                for &(x, _) in &inner[1..] {
                    assert!(whole.iter().any(|&(w, _)| w == x), "{:?} cut at {x}", &text[a..b]);
                }
            }
        }
    }

    #[test]
    fn substrings() {
        let text = normalise("Quarterly report from \"Real From\" <user-from@Example.com>, Beautiful world");
        for q in ["report", "port", "eautiful worl", "ser-fro", "eal fro", "E", "xa", "CAFÉ BEAUTIFUL", ""] {
            let want = !q.starts_with("CAFÉ");
            assert_eq!(contains(&text, &normalise(q)), want, "{q:?}");
        }
    }
}
