//! The shape of a shard's Tantivy index: its fields, the tokenizer that
//! turns a field into the positioned grams of [`super::words`], the
//! substring queries built from them, and a collector that reads numbers
//! from fast fields.
//!
//! Two kinds of documents live in the index. A message document per
//! (account, mailbox, UID) carries the text fields; a watermark document per
//! account records the MODSEQ up to which that account's change log is
//! reflected in the same commit, so a searcher always knows exactly which
//! messages it covers.

use super::words::{covering_grams, for_each_token, gram_spans, pad, starts_at_boundary, tokens};
use super::{TextField, FIELDS};
use crate::types::{AccountId, MailboxId, ModSeq, Uid};
use std::sync::Arc;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{
    AutomatonWeight, BooleanQuery, EnableScoring, Occur, PhraseQuery, Query, RangeQuery, RegexPhraseQuery, TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader, TantivyDocument, Term};

/// Names under which [`TokenTokenizer`] and [`GramTokenizer`] are
/// registered with the index. They are part of the schema, so an index made
/// with other names is rebuilt from the store when opened: a name changes
/// whenever the normal form of [`super::words`] or the way it is cut does
/// ("casemap": the i;unicode-casemap folding; the tokens replaced positioned
/// grams in every field but the header, at a fifth of the size).
pub(crate) const TOKENIZER: &str = "kotak_tokens_casemap";
pub(crate) const GRAM_TOKENIZER: &str = "kotak_grams_casemap";

/// The text field cut into grams rather than tokens: the whole header.
const GRAM_FIELD: usize = 6;

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
            let tokenizer = if i == GRAM_FIELD { GRAM_TOKENIZER } else { TOKENIZER };
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
    /// last token.
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
                _ if i == GRAM_FIELD => gram_query(f, needle),
                (_, []) => continue,
                (_, [one]) if starts_at_boundary(one) => Box::new(TermsQuery { field: f, automaton: Arc::new(Piece::starts(one)) }),
                (_, [one]) => Box::new(TermsQuery { field: f, automaton: Arc::new(Piece::contains(one)) }),
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
fn phrase_regexes(parts: &[&str]) -> crate::error::Result<Vec<(String, Arc<tantivy_fst::Regex>)>> {
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
            let regex =
                tantivy_fst::Regex::new(&pattern).map_err(|e| crate::error::Error::Storage(format!("full-text query {pattern:?}: {e}")))?;
            Ok((pattern, Arc::new(regex)))
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
/// when a prefix can no longer match.
const DEAD: usize = usize::MAX;

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
        0
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

/// The documents whose gram field `f` contains `needle`: for a needle of
/// [`super::words::GRAM`] characters or more, the phrase of its grams at
/// their offsets; for a shorter one, any gram that starts with it.
fn gram_query(f: Field, needle: &str) -> Box<dyn Query> {
    let grams = covering_grams(needle);
    match grams.as_slice() {
        [] => {
            let low = std::ops::Bound::Included(Term::from_field_text(f, needle));
            let high = match crate::shard::prefix_end(needle.as_bytes()) {
                Some(end) => std::ops::Bound::Excluded(Term::from_field_bytes(f, &end)),
                None => std::ops::Bound::Unbounded,
            };
            Box::new(RangeQuery::new(low, high))
        }
        [(_, gram)] => Box::new(term_query(Term::from_field_text(f, gram))),
        _ => Box::new(PhraseQuery::new_with_offset(grams.iter().map(|(o, g)| (*o, Term::from_field_text(f, g))).collect())),
    }
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
    spans: Vec<(u32, u32)>,
}

impl Tokenizer for TokenTokenizer {
    type TokenStream<'a> = SpanStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> SpanStream<'a> {
        // Documents hold normalised text already (see `message_doc`).
        self.spans.clear();
        for_each_token(text, |from, to| self.spans.push((from as u32, to as u32)));
        SpanStream { text, spans: &self.spans, next: 0, token: Token::default() }
    }
}

/// Tantivy's view of [`super::words::for_each_gram`]: every 3-character
/// piece of the (normalised) text, positioned by its first character.
#[derive(Clone, Default)]
pub(crate) struct GramTokenizer {
    normalised: String,
    spans: Vec<(u32, u32)>,
}

impl Tokenizer for GramTokenizer {
    type TokenStream<'a> = SpanStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> SpanStream<'a> {
        // Documents hold normalised text already (see `message_doc`).
        self.normalised.clear();
        self.normalised.push_str(text);
        pad(&mut self.normalised);
        self.spans = gram_spans(&self.normalised);
        SpanStream { text: &self.normalised, spans: &self.spans, next: 0, token: Token::default() }
    }
}

/// The pieces of one text (tokens or grams) as byte ranges in it, by
/// position, turned into a Tantivy token one at a time.
pub(crate) struct SpanStream<'a> {
    text: &'a str,
    spans: &'a [(u32, u32)],
    next: usize,
    token: Token,
}

impl TokenStream for SpanStream<'_> {
    fn advance(&mut self) -> bool {
        let Some(&(from, to)) = self.spans.get(self.next) else {
            return false;
        };
        self.token.text.clear();
        self.token.text.push_str(&self.text[from as usize..to as usize]);
        self.token.offset_from = from as usize;
        self.token.offset_to = to as usize;
        self.token.position = self.next;
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
