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

use super::words::{covering_grams, gram_spans, pad};
use super::{TextField, FIELDS};
use crate::types::{AccountId, MailboxId, ModSeq, Uid};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader, TantivyDocument, Term};

/// Name under which [`GramTokenizer`] is registered with the index. It is
/// part of the schema, so an index made with another name is rebuilt from
/// the store when opened: the name changes whenever the normal form of
/// [`super::words`] does ("casemap": the i;unicode-casemap folding).
pub(crate) const TOKENIZER: &str = "kotak_grams_casemap";

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
        let text_options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions)
                .set_fieldnorms(false),
        );
        let text = TextField::ALL_FIELDS.map(|name| b.add_text_field(name, text_options.clone()));
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
    /// `needle` (not empty), collected as UIDs. Exact: a needle of [`super::words::GRAM`]
    /// characters or more is the phrase of its grams at their offsets, a
    /// shorter one any gram that starts with it.
    pub fn substring_query(&self, acct: AccountId, mb: MailboxId, field: TextField, needle: &str) -> (BooleanQuery, Columns<1>) {
        let grams = covering_grams(needle);
        let mut per_field: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for &i in field.field_indexes() {
            let f = self.text[i];
            let q: Box<dyn Query> = match grams.as_slice() {
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
            };
            per_field.push((Occur::Should, q));
        }
        let query = BooleanQuery::new(vec![
            (Occur::Must, Box::new(term_query(self.account_term(acct))) as Box<dyn Query>),
            (Occur::Must, Box::new(term_query(Term::from_field_u64(self.mbox, mb.into())))),
            (Occur::Must, Box::new(BooleanQuery::new(per_field))),
        ]);
        (query, Columns(["uid"]))
    }
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

/// Tantivy's view of [`super::words::for_each_gram`]: every 3-character
/// piece of the (normalised) text, positioned by its first character.
#[derive(Clone, Default)]
pub(crate) struct GramTokenizer {
    normalised: String,
}

/// The grams of one text: byte offsets into the tokenizer's normalised
/// text, turned into a token one at a time.
pub(crate) struct GramStream<'a> {
    text: &'a str,
    /// (byte start, byte end) of each gram, by position.
    grams: Vec<(u32, u32)>,
    next: usize,
    token: Token,
}

impl Tokenizer for GramTokenizer {
    type TokenStream<'a> = GramStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> GramStream<'a> {
        // Documents hold normalised text already (see `message_doc`).
        self.normalised.clear();
        self.normalised.push_str(text);
        pad(&mut self.normalised);
        let grams = gram_spans(&self.normalised);
        GramStream { text: &self.normalised, grams, next: 0, token: Token::default() }
    }
}

impl TokenStream for GramStream<'_> {
    fn advance(&mut self) -> bool {
        let Some(&(from, to)) = self.grams.get(self.next) else { return false };
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
