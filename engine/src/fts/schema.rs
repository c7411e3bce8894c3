//! The shape of a shard's Tantivy index: its fields, the tokenizers that
//! turn a field into the positioned terms of [`super::words`], the
//! substring queries built from them, and a collector that reads numbers
//! from fast fields.
//!
//! Two kinds of documents live in the index. A message document per
//! (account, mailbox, UID) carries the text fields; a watermark document per
//! account records the MODSEQ up to which that account's change log is
//! reflected in the same commit, so a searcher always knows exactly which
//! messages it covers.

use super::words::{for_each_header_term, for_each_token, is_opaque, marked_grams, may_be_opaque_piece, starts_at_boundary, tokens, word_part, GRAM_MARK};
use super::{TextField, FIELDS};
use crate::types::{AccountId, MailboxId, ModSeq, Uid};
use std::sync::Arc;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{
    AutomatonWeight, BooleanQuery, EnableScoring, Occur, PhraseQuery, Query, RangeQuery, RegexPhraseQuery, RegexQuery, TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader, TantivyDocument, Term};

/// Names under which [`TokenTokenizer`] and [`HeaderTokenizer`] are
/// registered with the index. They are part of the schema, so an index made
/// with other names is rebuilt from the store when opened: a name changes
/// whenever the normal form of [`super::words`] or the way it is cut does
/// ("casemap": the i;unicode-casemap folding; the tokens replaced positioned
/// grams in every field but the header, at a fifth of the size; in the
/// header, only opaque tokens are grams, at a third of the size and half
/// the indexing time; "2": short numbers and words with three consonants
/// in a row no longer count as opaque).
pub(crate) const TOKENIZER: &str = "kotak_tokens_casemap";
pub(crate) const HEADER_TOKENIZER: &str = "kotak_header2_casemap";

/// The text field whose opaque tokens are stored as grams: the whole
/// header.
const HEADER_FIELD: usize = 6;

/// `kind` of a message document.
const KIND_MESSAGE: u64 = 0;
/// `kind` of a watermark document.
const KIND_WATERMARK: u64 = 1;

/// The fields of the index, resolved once.
#[derive(Clone)]
pub(crate) struct Fields {
    pub schema: Schema,
    kind: Field,
    acct: Field,
    mbox: Field,
    uid: Field,
    key: Field,
    modseq: Field,
    generation: Field,
    text: [Field; FIELDS],
}

impl Fields {
    /// The schema every shard index is created with.
    pub fn new() -> Fields {
        let mut b = Schema::builder();
        let kind = b.add_u64_field("kind", INDEXED | FAST);
        let acct = b.add_u64_field("acct", INDEXED | FAST);
        let mbox = b.add_u64_field("mbox", INDEXED);
        let uid = b.add_u64_field("uid", FAST);
        let key = b.add_bytes_field("key", INDEXED);
        let modseq = b.add_u64_field("modseq", FAST);
        let generation = b.add_u64_field("gen", INDEXED);
        let text_options = |tokenizer| {
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(tokenizer)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions)
                    .set_fieldnorms(false),
            )
        };
        let mut i = 0;
        let text = TextField::ALL_FIELDS.map(|name| {
            let tokenizer = if i == HEADER_FIELD { HEADER_TOKENIZER } else { TOKENIZER };
            i += 1;
            b.add_text_field(name, text_options(tokenizer))
        });
        Fields { schema: b.build(), kind, acct, mbox, uid, key, modseq, generation, text }
    }

    /// The document of one message: `texts` in [`TextField::ALL_FIELDS`]
    /// order, [normalised](super::words::normalise).
    pub fn message_doc(&self, acct: AccountId, mb: MailboxId, uid: Uid, generation: u64, texts: [&str; FIELDS]) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        doc.add_u64(self.kind, KIND_MESSAGE);
        doc.add_u64(self.acct, acct.into());
        doc.add_u64(self.mbox, mb.into());
        doc.add_u64(self.uid, uid.into());
        doc.add_bytes(self.key, &message_key(acct, mb, uid));
        doc.add_u64(self.generation, generation);
        for (field, text) in self.text.iter().zip(texts) {
            doc.add_text(*field, text);
        }
        doc
    }

    /// The term that names one message's document.
    pub fn message_term(&self, acct: AccountId, mb: MailboxId, uid: Uid) -> Term {
        Term::from_field_bytes(self.key, &message_key(acct, mb, uid))
    }

    /// The watermark document of an account.
    pub fn watermark_doc(&self, acct: AccountId, modseq: ModSeq) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        doc.add_u64(self.kind, KIND_WATERMARK);
        doc.add_u64(self.acct, acct.into());
        doc.add_bytes(self.key, &watermark_key(acct));
        doc.add_u64(self.modseq, modseq);
        doc
    }

    /// The term that names an account's watermark document.
    pub fn watermark_term(&self, acct: AccountId) -> Term {
        Term::from_field_bytes(self.key, &watermark_key(acct))
    }

    /// The term shared by every document of an account.
    pub fn account_term(&self, acct: AccountId) -> Term {
        Term::from_field_u64(self.acct, acct.into())
    }

    /// Every watermark document, collected as (account, MODSEQ).
    pub fn watermarks_query(&self) -> (TermQuery, Columns<2>) {
        (term_query(Term::from_field_u64(self.kind, KIND_WATERMARK)), Columns(["acct", "modseq"]))
    }

    /// The account's message documents written before `generation`.
    pub fn older_than(&self, acct: AccountId, generation: u64) -> Box<dyn Query> {
        let range = RangeQuery::new(
            std::ops::Bound::Included(Term::from_field_u64(self.generation, 0)),
            std::ops::Bound::Excluded(Term::from_field_u64(self.generation, generation)),
        );
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(term_query(self.account_term(acct))) as Box<dyn Query>),
            (Occur::Must, Box::new(term_query(Term::from_field_u64(self.kind, KIND_MESSAGE)))),
            (Occur::Must, Box::new(range)),
        ]))
    }

    /// Messages of one mailbox whose `field` contains the normalised
    /// `needle` (not empty), collected as UIDs. Exact (see
    /// [`super::words`]): a needle of one token is found in the terms that
    /// contain it, a longer one is the phrase of a term that ends with its
    /// first token, its middle tokens, and a term that starts with its
    /// last token; in the header, opaque tokens by their grams
    /// ([`header_query`]).
    pub fn substring_query(
        &self,
        acct: AccountId,
        mb: MailboxId,
        field: TextField,
        needle: &str,
    ) -> crate::error::Result<(BooleanQuery, Columns<1>)> {
        let parts = tokens(needle);
        // Built once, shared by the fields searched.
        let phrase = match parts.as_slice() {
            [_, _, ..] => Some(phrase_regexes(&parts)?),
            _ => None,
        };
        let mut per_field: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for &i in field.field_indexes() {
            let f = self.text[i];
            let q: Box<dyn Query> = match (&phrase, parts.as_slice()) {
                (_, []) => continue,
                _ if i == HEADER_FIELD => header_query(f, &parts, phrase.as_deref())?,
                (_, [one]) => word_terms(f, one),
                (Some(regexes), _) => {
                    let terms = regexes.iter().enumerate().map(|(o, (pattern, regex))| (o, pattern.clone(), regex.clone())).collect();
                    let mut q = RegexPhraseQuery::from_regexes(f, terms, 0);
                    q.set_max_expansions(u32::MAX);
                    Box::new(q)
                }
                (None, _) => continue,
            };
            per_field.push((Occur::Should, q));
        }
        let query = BooleanQuery::new(vec![
            (Occur::Must, Box::new(term_query(self.account_term(acct))) as Box<dyn Query>),
            (Occur::Must, Box::new(term_query(Term::from_field_u64(self.mbox, mb.into())))),
            (Occur::Must, Box::new(BooleanQuery::new(per_field))),
        ]);
        Ok((query, Columns(["uid"])))
    }
}

/// The terms of each position of the phrase of `parts` (two tokens or
/// more): one that ends with the first token (or is it, when it starts
/// with a space), the middle tokens, one that starts with the last token.
/// (The header, whose grams are looked up apart, ends its first token with
/// [`first_word_in_header`].)
fn phrase_regexes(parts: &[&str]) -> crate::error::Result<Vec<Pattern>> {
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let pattern = match i {
                0 if !starts_at_boundary(part) => format!(".*{}", literal(part)),
                _ if i == last => format!("{}.*", literal(part)),
                _ => literal(part),
            };
            let regex = regex(&pattern)?;
            Ok((pattern, regex))
        })
        .collect()
}

/// Which terms a [`Piece`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PieceKind {
    /// Terms that contain the piece.
    Contains,
    /// Terms that start with it.
    Starts,
}

/// An automaton over a field's terms (bytes: a piece of UTF-8 occurs in
/// a text exactly where its bytes do), built in time linear in the piece,
/// where a regular expression would take milliseconds to compile.
#[derive(Debug)]
struct Piece {
    kind: PieceKind,
    bytes: Vec<u8>,
    /// Knuth-Morris-Pratt: the longest proper prefix of `bytes[..=i]` that
    /// is also its suffix.
    fail: Vec<usize>,
}

/// The state of a [`Piece`]: how many bytes of it are matched; `DEAD`
/// when a prefix can no longer match; `START` before the first byte (where
/// a [marked](GRAM_MARK) gram is turned away, as grams are looked up
/// apart).
const DEAD: usize = usize::MAX;
const START: usize = usize::MAX - 1;

impl Piece {
    fn contains(piece: &str) -> Piece {
        let bytes = piece.as_bytes().to_vec();
        let mut fail = vec![0; bytes.len()];
        let mut k = 0;
        for i in 1..bytes.len() {
            while k > 0 && bytes[i] != bytes[k] {
                k = fail[k - 1];
            }
            if bytes[i] == bytes[k] {
                k += 1;
            }
            fail[i] = k;
        }
        Piece { kind: PieceKind::Contains, bytes, fail }
    }

    fn starts(piece: &str) -> Piece {
        Piece { kind: PieceKind::Starts, bytes: piece.as_bytes().to_vec(), fail: Vec::new() }
    }
}

impl tantivy_fst::Automaton for Piece {
    type State = usize;

    fn start(&self) -> usize {
        START
    }

    fn is_match(&self, &s: &usize) -> bool {
        s == self.bytes.len()
    }

    fn can_match(&self, &s: &usize) -> bool {
        s != DEAD
    }

    fn will_always_match(&self, &s: &usize) -> bool {
        s == self.bytes.len()
    }

    fn accept(&self, &s: &usize, byte: u8) -> usize {
        let n = self.bytes.len();
        if s == n || s == DEAD {
            return s;
        }
        let s = match s {
            START if byte == GRAM_MARK as u8 => return DEAD,
            START => 0,
            s => s,
        };
        match self.kind {
            PieceKind::Starts => {
                if self.bytes[s] == byte {
                    s + 1
                } else {
                    DEAD
                }
            }
            PieceKind::Contains => {
                let mut k = s;
                while k > 0 && self.bytes[k] != byte {
                    k = self.fail[k - 1];
                }
                if self.bytes[k] == byte {
                    k + 1
                } else {
                    0
                }
            }
        }
    }
}

/// The documents whose field has a term that `automaton` accepts.
#[derive(Debug, Clone)]
struct TermsQuery {
    field: Field,
    automaton: Arc<Piece>,
}

impl Query for TermsQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(AutomatonWeight::<Piece>::new(self.field, self.automaton.clone())))
    }
}

/// The documents whose field `f` has a term that contains the one-token
/// `needle`, or starts with it when it starts with a space (a term that
/// holds a space starts with it).
fn word_terms(f: Field, needle: &str) -> Box<dyn Query> {
    let piece = if starts_at_boundary(needle) { Piece::starts(needle) } else { Piece::contains(needle) };
    Box::new(TermsQuery { field: f, automaton: Arc::new(piece) })
}

/// A regular expression over terms, and its source.
type Pattern = (String, Arc<tantivy_fst::Regex>);

/// One position of a phrase over the header field.
enum Slot {
    /// Exactly this term.
    Term(String),
    /// Any term this regular expression accepts.
    Pattern(Pattern),
}

/// The slots of one token of a needle at `offset`, and how many positions
/// they take.
type Part = (Vec<(usize, Slot)>, usize);

/// The documents whose header field contains the needle of `parts` (one
/// token or more). Each token of the text is a term there, or, when
/// [opaque](is_opaque), the marked grams at its characters' positions
/// ([`for_each_header_term`]). A one-token needle is a piece of a term
/// (the walk skips the grams) or of an opaque token (its grams in a row).
/// A longer one is a phrase whose first token ends a token of the text,
/// whose middle tokens are the text's next tokens (their kind is their
/// own), and whose last token starts the one after; the first and last are
/// looked for in either kind of token unless their own kind rules one out.
/// `words`: [`phrase_regexes`] of `parts` when they are two or more.
fn header_query(f: Field, parts: &[&str], words: Option<&[Pattern]>) -> crate::error::Result<Box<dyn Query>> {
    if let [one] = parts {
        let mut any: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Should, word_terms(f, one))];
        if may_be_opaque_piece(one) {
            any.push((Occur::Should, grams_in_a_row(f, one)?));
        }
        return Ok(Box::new(BooleanQuery::new(any)));
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    let words = words.ok_or_else(|| crate::error::Error::Storage("full-text query: a phrase without its expressions".into()))?;
    let mut firsts: Vec<Part> = Vec::new();
    if !is_opaque(first) {
        let slot = if starts_at_boundary(first) { Slot::Term(first.to_string()) } else { Slot::Pattern(first_word_in_header(first)?) };
        firsts.push((vec![(0, slot)], 1));
    }
    if word_part(first).is_some() && (!starts_at_boundary(first) || is_opaque(first)) {
        firsts.push(grams_part(first, true));
    }
    let mut middle: Vec<(usize, Slot)> = Vec::new();
    let mut width = 0;
    for part in &parts[1..parts.len() - 1] {
        let (slots, w) = if is_opaque(part) { grams_part(part, true) } else { (vec![(0, Slot::Term(part.to_string()))], 1) };
        middle.extend(slots.into_iter().map(|(o, slot)| (width + o, slot)));
        width += w;
    }
    let mut lasts: Vec<Part> = Vec::new();
    if !is_opaque(last) {
        lasts.push((vec![(0, Slot::Pattern(words[words.len() - 1].clone()))], 1));
    }
    if may_be_opaque_piece(last) {
        lasts.push(match marked_grams(last, false).is_empty() {
            true => (vec![(0, Slot::Pattern(gram_prefix(last)?))], 1),
            false => grams_part(last, false),
        });
    }
    let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (first_slots, first_width) in &firsts {
        for (last_slots, _) in &lasts {
            let mut slots: Vec<(usize, &Slot)> = first_slots.iter().map(|(o, s)| (*o, s)).collect();
            slots.extend(middle.iter().map(|(o, s)| (first_width + o, s)));
            slots.extend(last_slots.iter().map(|(o, s)| (first_width + width + o, s)));
            any.push((Occur::Should, phrase(f, &slots)?));
        }
    }
    Ok(Box::new(BooleanQuery::new(any)))
}

/// The marked grams of the letters and digits `piece` as slots, and the
/// positions the piece takes (one per character); `to_end`: it ends its
/// token.
fn grams_part(piece: &str, to_end: bool) -> Part {
    let slots = marked_grams(piece, to_end).into_iter().map(|(o, g)| (o, Slot::Term(g))).collect();
    (slots, piece.chars().count())
}

/// The documents where `piece` ([may be](may_be_opaque_piece) one) is in
/// an opaque token: its marked grams at consecutive positions, or,
/// when it is shorter than a gram, a gram that starts with it.
fn grams_in_a_row(f: Field, piece: &str) -> crate::error::Result<Box<dyn Query>> {
    let grams = marked_grams(piece, false);
    if grams.is_empty() {
        return Ok(Box::new(RegexQuery::from_regex(gram_prefix(piece)?.1, f)));
    }
    let slots: Vec<(usize, Slot)> = grams.into_iter().map(|(o, g)| (o, Slot::Term(g))).collect();
    phrase(f, &slots.iter().map(|(o, s)| (*o, s)).collect::<Vec<_>>())
}

/// The documents where field `f` holds the slots at their offsets from
/// one position: a term query for one term, a phrase of terms, or a phrase
/// of regular expressions (terms as literal ones) when a slot is a pattern.
fn phrase(f: Field, slots: &[(usize, &Slot)]) -> crate::error::Result<Box<dyn Query>> {
    if let [(_, Slot::Term(term))] = slots {
        return Ok(Box::new(term_query(Term::from_field_text(f, term))));
    }
    let terms: Vec<(usize, Term)> = slots
        .iter()
        .filter_map(|(o, s)| match s {
            Slot::Term(t) => Some((*o, Term::from_field_text(f, t))),
            Slot::Pattern(_) => None,
        })
        .collect();
    if terms.len() == slots.len() {
        return Ok(Box::new(PhraseQuery::new_with_offset(terms)));
    }
    let regexes = slots
        .iter()
        .map(|(o, s)| match s {
            Slot::Term(t) => {
                let pattern = literal(t);
                Ok((*o, pattern.clone(), regex(&pattern)?))
            }
            Slot::Pattern((pattern, regex)) => Ok((*o, pattern.clone(), regex.clone())),
        })
        .collect::<crate::error::Result<Vec<_>>>()?;
    let mut q = RegexPhraseQuery::from_regexes(f, regexes, 0);
    q.set_max_expansions(u32::MAX);
    Ok(Box::new(q))
}

/// The header's terms that end with `piece` and are not
/// [marked](GRAM_MARK) grams: the walk skips the grams (a regular
/// expression that must start with any character walks them all; this
/// one is compiled only for TEXT searches, the other fields have no grams).
fn first_word_in_header(piece: &str) -> crate::error::Result<Pattern> {
    let pattern = format!("[^{GRAM_MARK}].*{0}|{0}", literal(piece));
    let regex = regex(&pattern)?;
    Ok((pattern, regex))
}

/// The marked grams that start with `piece` (shorter than a gram).
fn gram_prefix(piece: &str) -> crate::error::Result<Pattern> {
    let pattern = format!("{GRAM_MARK}{}.*", literal(piece));
    let regex = regex(&pattern)?;
    Ok((pattern, regex))
}

fn regex(pattern: &str) -> crate::error::Result<Arc<tantivy_fst::Regex>> {
    tantivy_fst::Regex::new(pattern)
        .map(Arc::new)
        .map_err(|e| crate::error::Error::Storage(format!("full-text query {pattern:?}: {e}")))
}

/// A regular expression that matches exactly `text`: letters and digits as
/// themselves, every other character by its code point.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else {
            out.push_str(&format!("\\x{{{:x}}}", c as u32));
        }
    }
    out
}

fn term_query(term: Term) -> TermQuery {
    TermQuery::new(term, IndexRecordOption::Basic)
}

fn message_key(acct: AccountId, mb: MailboxId, uid: Uid) -> [u8; 12] {
    crate::keys::message(acct, mb, uid)
}

fn watermark_key(acct: AccountId) -> [u8; 5] {
    let mut k = [0xff; 5];
    k[..4].copy_from_slice(&acct.to_be_bytes());
    k
}

/// Tantivy's view of [`super::words::for_each_token`]: the tokens of the
/// (normalised) text, positioned one after the other.
#[derive(Clone, Default)]
pub(crate) struct TokenTokenizer {
    spans: Vec<Span>,
}

impl Tokenizer for TokenTokenizer {
    type TokenStream<'a> = SpanStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> SpanStream<'a> {
        // Documents hold normalised text already (see `message_doc`).
        self.spans.clear();
        for_each_token(text, |from, to| {
            let position = self.spans.len() as u32;
            self.spans.push(Span { from: from as u32, to: to as u32, position });
        });
        SpanStream { text, spans: &self.spans, next: 0, token: Token::default() }
    }
}

/// Tantivy's view of [`super::words::for_each_header_term`]: the tokens
/// of the (normalised) header, and the grams of its opaque tokens.
#[derive(Clone, Default)]
pub(crate) struct HeaderTokenizer {
    /// The terms, end to end.
    terms: String,
    spans: Vec<Span>,
}

impl Tokenizer for HeaderTokenizer {
    type TokenStream<'a> = SpanStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> SpanStream<'a> {
        // Documents hold normalised text already (see `message_doc`).
        self.terms.clear();
        self.spans.clear();
        for_each_header_term(text, |term, position| {
            let from = self.terms.len() as u32;
            self.terms.push_str(term);
            self.spans.push(Span { from, to: self.terms.len() as u32, position: position as u32 });
        });
        SpanStream { text: &self.terms, spans: &self.spans, next: 0, token: Token::default() }
    }
}

/// One term of a text: its bytes in a string, and its position.
#[derive(Clone, Copy)]
pub(crate) struct Span {
    from: u32,
    to: u32,
    position: u32,
}

/// The terms of one text, turned into a Tantivy token one at a time.
pub(crate) struct SpanStream<'a> {
    text: &'a str,
    spans: &'a [Span],
    next: usize,
    token: Token,
}

impl TokenStream for SpanStream<'_> {
    fn advance(&mut self) -> bool {
        let Some(&Span { from, to, position }) = self.spans.get(self.next) else {
            return false;
        };
        self.token.text.clear();
        self.token.text.push_str(&self.text[from as usize..to as usize]);
        self.token.offset_from = from as usize;
        self.token.offset_to = to as usize;
        self.token.position = position as usize;
        self.token.position_length = 1;
        self.next += 1;
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Collects, for every matching document, the values of N u64 fast fields.
pub(crate) struct Columns<const N: usize>(pub [&'static str; N]);

/// [`Columns`] for one segment.
pub(crate) struct SegmentColumns<const N: usize> {
    columns: Vec<Column<u64>>,
    rows: Vec<[u64; N]>,
}

impl<const N: usize> Collector for Columns<N> {
    type Fruit = Vec<[u64; N]>;
    type Child = SegmentColumns<N>;

    fn for_segment(&self, _: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<SegmentColumns<N>> {
        let columns = self.0.iter().map(|name| segment.fast_fields().u64(name)).collect::<tantivy::Result<_>>()?;
        Ok(SegmentColumns { columns, rows: Vec::new() })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<[u64; N]>>) -> tantivy::Result<Vec<[u64; N]>> {
        Ok(fruits.concat())
    }
}

impl<const N: usize> SegmentCollector for SegmentColumns<N> {
    type Fruit = Vec<[u64; N]>;

    fn collect(&mut self, doc: DocId, _: Score) {
        let mut row = [0; N];
        for (value, column) in row.iter_mut().zip(&self.columns) {
            *value = column.first(doc).unwrap_or(0);
        }
        self.rows.push(row);
    }

    fn harvest(self) -> Vec<[u64; N]> {
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy_fst::Automaton;

    fn run(a: &Piece, text: &str) -> bool {
        let mut s = a.start();
        for &b in text.as_bytes() {
            if !a.can_match(&s) {
                return false;
            }
            s = a.accept(&s, b);
        }
        a.is_match(&s)
    }

    #[test]
    fn pieces_match_like_str() {
        let texts = ["", "a", "aab", "aaab", "abab", "ababab", "abaabab", "xabcabd", "abcabdab", "éaé", " dé", "baaa"];
        let pieces = ["a", "aa", "aab", "abab", "abaab", "abcabd", "é", "aé", "b", " d", "aaa"];
        for t in texts {
            for p in pieces {
                assert_eq!(run(&Piece::contains(p), t), t.contains(p), "{t:?} contains {p:?}");
                assert_eq!(run(&Piece::starts(p), t), t.starts_with(p), "{t:?} starts with {p:?}");
            }
        }
    }

    /// Every piece of each header (all starts, up to 24 characters), looked
    /// up in an index of those headers, finds exactly the headers that
    /// contain it: pieces inside and across opaque tokens, words,
    /// punctuation and spaces.
    #[test]
    fn header_pieces_are_found_exactly() {
        use super::super::words::normalise;
        let headers = [
            "Received: from mx1 by mail.test with ESMTPS id 5F3A2B9C0D for <a@b.c>",
            "DKIM-Signature: v=1; a=rsa-sha256; s=sel2026; bh=ab+cd/EF12gh34ij56KL==; b=Zx9y8W7v+u6T5s4R3q2P1oNmLkJiHgFeDcBa",
            "Message-ID: <0123456789ABCDEF.42@example.com> x-id 123456 7 abcdefghijklmnop qrstuv2 sha256",
            "Subject: id 5f3a2b9c0d sha2 sha25 ab+cd",
        ];
        let fields = Fields::new();
        let index = tantivy::Index::create_in_ram(fields.schema.clone());
        index.tokenizers().register(TOKENIZER, TokenTokenizer::default());
        index.tokenizers().register(HEADER_TOKENIZER, HeaderTokenizer::default());
        let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let texts: Vec<String> = headers.iter().map(|h| normalise(h)).collect();
        for (uid, text) in texts.iter().enumerate() {
            let mut fields_text = [""; FIELDS];
            fields_text[HEADER_FIELD] = text;
            writer.add_document(fields.message_doc(1, 1, uid as Uid, 0, fields_text)).unwrap();
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let mut needles = std::collections::BTreeSet::new();
        for text in &texts {
            let chars: Vec<(usize, char)> = text.char_indices().collect();
            for (i, &(from, _)) in chars.iter().enumerate() {
                for &(to, _) in chars[i + 1..].iter().take(24).chain([&(text.len(), ' ')]) {
                    if to > from && text[from..to].chars().count() <= 24 {
                        needles.insert(text[from..to].to_string());
                    }
                }
            }
        }
        for needle in ["zz9", "g", "gsha", "e", " e", "1e", "ab+cd/ef12", " 7 ab", "sha256 ", "id  5f"] {
            needles.insert(normalise(needle));
        }
        for needle in &needles {
            let (query, columns) = fields.substring_query(1, 1, crate::fts::TextField::Text, needle).unwrap();
            let mut found: Vec<u64> = searcher.search(&query, &columns).unwrap().into_iter().map(|[uid]| uid).collect();
            found.sort_unstable();
            let want: Vec<u64> = (0..texts.len() as u64).filter(|&u| super::super::words::contains(&texts[u as usize], needle)).collect();
            assert_eq!(found, want, "{needle:?}");
        }
    }

    #[test]
    fn literals_are_exact() {
        for text in ["a.b", "x*y+z?", "(é)[1]{2}", " \u{1}$^|\\"] {
            let regex = tantivy_fst::Regex::new(&literal(text)).unwrap();
            let mut s = regex.start();
            for &b in text.as_bytes() {
                s = regex.accept(&s, b);
            }
            assert!(regex.is_match(&s), "{text:?}");
        }
    }
}
