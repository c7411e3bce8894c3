//! FETCH responses: one `* n FETCH (...)` line per message, built from the
//! message's metadata, its stored summary (ENVELOPE, BODY, BODYSTRUCTURE,
//! PREVIEW) and its raw bytes (body sections). The summary and the raw bytes are
//! read only when an item needs them, and at most once per message.

mod binary;
mod bodystructure;
mod envelope;
mod preview;
pub(crate) mod section;
#[cfg(test)]
pub(crate) mod testdata;

pub(crate) use envelope::source_route;

use crate::request::FetchAtt;
use crate::wire;
use bodystructure::{write_body, Detail};
use imap_types::fetch::MessageDataItemName;
use kotak_engine::mime::Summary;
use kotak_engine::{Account, Error, Flags, MessageMeta};
use std::cell::OnceCell;
use std::num::NonZeroU32;

/// One message as FETCH (and SEARCH) sees it: metadata now, raw bytes and
/// summary loaded on first use and kept for the other items.
pub struct FetchSource<'a> {
    account: &'a Account,
    meta: &'a MessageMeta,
    raw: OnceCell<Vec<u8>>,
    summary: OnceCell<Summary>,
}

impl<'a> FetchSource<'a> {
    /// A source for `meta`, reading from `account` only when needed.
    pub fn new(account: &'a Account, meta: &'a MessageMeta) -> Self {
        FetchSource { account, meta, raw: OnceCell::new(), summary: OnceCell::new() }
    }

    /// The message's metadata (UID, flags, dates, size).
    pub fn meta(&self) -> &'a MessageMeta {
        self.meta
    }

    /// The raw message, read (and checksum-verified) on first call.
    pub fn raw(&self) -> Result<&[u8], Error> {
        load_once(&self.raw, || self.account.read_raw(self.meta)).map(Vec::as_slice)
    }

    /// The stored summary, read on first call.
    pub fn summary(&self) -> Result<&Summary, Error> {
        load_once(&self.summary, || self.account.summary(self.meta))
    }
}

/// The cell's value, loading it first if the cell is empty.
pub(crate) fn load_once<T>(cell: &OnceCell<T>, load: impl FnOnce() -> Result<T, Error>) -> Result<&T, Error> {
    if let Some(v) = cell.get() {
        return Ok(v);
    }
    let v = load()?;
    Ok(cell.get_or_init(|| v))
}

/// What a FETCH response carries besides the items asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extras {
    /// `UID`, first: for UID FETCH, and for the FETCH responses RFC 7162
    /// and RFC 9051 want UIDs in.
    pub uid: bool,
    /// `FLAGS`: the message just got `\Seen` from this FETCH.
    pub flags: bool,
    /// `MODSEQ`, last: CHANGEDSINCE asks for it, and CONDSTORE-aware
    /// clients get it with every flag change.
    pub modseq: bool,
    /// `\Recent` is shown in FLAGS.
    pub recent: bool,
}

/// Why a message's FETCH response could not be written.
#[derive(Debug)]
pub enum FetchError {
    /// Reading the message failed (damaged data, storage failure).
    Store(Error),
    /// A BINARY item met a transfer encoding it cannot undo (RFC 9051's
    /// UNKNOWN-CTE); the text says which.
    UnknownCte(String),
}

impl From<Error> for FetchError {
    fn from(e: Error) -> Self {
        FetchError::Store(e)
    }
}

/// Appends `* <seq> FETCH (...)\r\n` for `items`, with the `extras` that
/// are not among them. On any error nothing is appended to `out`.
pub fn render_fetch(out: &mut Vec<u8>, seq: u32, src: &FetchSource<'_>, items: &[FetchAtt<'_>], extras: Extras) -> Result<(), FetchError> {
    let uid = FetchAtt::Item(MessageDataItemName::Uid);
    let flags = FetchAtt::Item(MessageDataItemName::Flags);
    let missing = |wanted: bool, item: &FetchAtt<'_>| wanted && !items.contains(item);
    let first = missing(extras.uid, &uid).then_some(&uid);
    let last = [missing(extras.flags, &flags).then_some(&flags), missing(extras.modseq, &FetchAtt::ModSeq).then_some(&FetchAtt::ModSeq)];
    let mut line = format!("* {seq} FETCH (").into_bytes();
    for (i, item) in first.into_iter().chain(items).chain(last.into_iter().flatten()).enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        write_att(&mut line, src, item, extras.recent)?;
    }
    line.extend_from_slice(b")\r\n");
    out.extend_from_slice(&line);
    Ok(())
}

/// Writes `* n FETCH (...)` from a message's metadata alone, with what
/// `extras` asks for: the response about a flag change (RFC 7162 wants UID
/// and MODSEQ in it; a conditional STORE may leave FLAGS out).
pub fn write_meta_response(out: &mut Vec<u8>, seq: u32, meta: &MessageMeta, extras: Extras) {
    out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
    let mut separator = "";
    if extras.uid {
        out.extend_from_slice(format!("UID {}", meta.uid).as_bytes());
        separator = " ";
    }
    if extras.flags {
        out.extend_from_slice(separator.as_bytes());
        write_flags(out, &meta.flags, extras.recent);
        separator = " ";
    }
    if extras.modseq {
        out.extend_from_slice(format!("{separator}MODSEQ ({})", meta.modseq).as_bytes());
    }
    out.extend_from_slice(b")\r\n");
}

/// Writes one `NAME value` pair of a FETCH response.
fn write_att(out: &mut Vec<u8>, src: &FetchSource<'_>, att: &FetchAtt<'_>, recent: bool) -> Result<(), FetchError> {
    match att {
        FetchAtt::Item(item) => write_item(out, src, item, recent)?,
        FetchAtt::ModSeq => out.extend_from_slice(format!("MODSEQ ({})", src.meta().modseq).as_bytes()),
        FetchAtt::SaveDate => {
            // RFC 8514 allows NIL only for a mailbox that cannot keep save
            // dates; every mailbox here can (see `MessageMeta::saved_at`).
            out.extend_from_slice(b"SAVEDATE ");
            wire::string(out, internal_date(src.meta().saved_at()).as_bytes());
        }
        FetchAtt::Binary { part, partial, .. } => {
            let data = binary::decoded(src.raw()?, src.summary()?, part)?;
            binary::write_name(out, "BINARY", part);
            write_data(out, &data, *partial, binary::write_value);
        }
        FetchAtt::Preview { lazy, snippet } => preview::write_preview(out, src, *lazy, *snippet)?,
        FetchAtt::BinarySize(part) => {
            let size = binary::decoded(src.raw()?, src.summary()?, part)?.len();
            binary::write_name(out, "BINARY.SIZE", part);
            out.extend_from_slice(format!(" {size}").as_bytes());
        }
    }
    Ok(())
}

/// Writes one `NAME value` pair of an RFC 3501 item.
fn write_item(out: &mut Vec<u8>, src: &FetchSource<'_>, item: &MessageDataItemName<'_>, recent: bool) -> Result<(), Error> {
    let meta = src.meta();
    match item {
        MessageDataItemName::Uid => out.extend_from_slice(format!("UID {}", meta.uid).as_bytes()),
        MessageDataItemName::Flags => write_flags(out, &meta.flags, recent),
        MessageDataItemName::Rfc822Size => out.extend_from_slice(format!("RFC822.SIZE {}", meta.size).as_bytes()),
        MessageDataItemName::InternalDate => {
            out.extend_from_slice(b"INTERNALDATE ");
            wire::string(out, internal_date(meta.internal_date).as_bytes());
        }
        MessageDataItemName::Envelope => {
            out.extend_from_slice(b"ENVELOPE ");
            envelope::write_envelope(out, &src.summary()?.envelope);
        }
        MessageDataItemName::Body => {
            out.extend_from_slice(b"BODY ");
            write_body(out, &src.summary()?.root, Detail::Basic);
        }
        MessageDataItemName::BodyStructure => {
            out.extend_from_slice(b"BODYSTRUCTURE ");
            write_body(out, &src.summary()?.root, Detail::Extended);
        }
        MessageDataItemName::Rfc822 => {
            out.extend_from_slice(b"RFC822 ");
            wire::string(out, src.raw()?);
        }
        MessageDataItemName::Rfc822Header => {
            out.extend_from_slice(b"RFC822.HEADER ");
            wire::string(out, section::header_block(src.raw()?, src.summary()?)?);
        }
        MessageDataItemName::Rfc822Text => {
            out.extend_from_slice(b"RFC822.TEXT ");
            wire::string(out, section::text_block(src.raw()?, src.summary()?)?);
        }
        MessageDataItemName::BodyExt { section, partial, .. } => {
            let data = match section {
                // The whole message: no need to read its summary.
                None => std::borrow::Cow::Borrowed(src.raw()?),
                Some(_) => section::section_data(src.raw()?, src.summary()?, section.as_ref())?,
            };
            out.extend_from_slice(b"BODY[");
            if let Some(section) = section {
                section::write_section_spec(out, section);
            }
            out.push(b']');
            // A message appended as a literal8 (RFC 3516) may hold NULs,
            // which only a literal8 may carry.
            write_data(out, &data, *partial, binary::write_value);
        }
    }
    Ok(())
}

/// Writes the value of a section item after its name: `<origin>` for a
/// partial fetch, a space, and the (partial) data written by `value`.
fn write_data(out: &mut Vec<u8>, data: &[u8], partial: Option<(u32, NonZeroU32)>, value: fn(&mut Vec<u8>, &[u8])) {
    match partial {
        Some((origin, count)) => {
            out.extend_from_slice(format!("<{origin}> ").as_bytes());
            value(out, section::partial(data, origin, count));
        }
        None => {
            out.push(b' ');
            value(out, data);
        }
    }
}

/// INTERNALDATE's `dd-Mon-yyyy hh:mm:ss +0000` for a Unix time.
fn internal_date(secs: i64) -> String {
    let t = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    t.format("%d-%b-%Y %H:%M:%S +0000").to_string()
}

/// True when the items read a body section without .PEEK (so \Seen must be set first).
pub fn sets_seen(items: &[FetchAtt<'_>]) -> bool {
    items.iter().any(|item| {
        matches!(
            item,
            FetchAtt::Item(MessageDataItemName::BodyExt { peek: false, .. } | MessageDataItemName::Rfc822 | MessageDataItemName::Rfc822Text)
                | FetchAtt::Binary { peek: false, .. }
        )
    })
}

/// Writes `FLAGS (...)` for the flags (and \Recent) — also used for untagged FETCH FLAGS.
pub fn write_flags(out: &mut Vec<u8>, flags: &Flags, recent: bool) {
    const SYSTEM: [(u8, &str); 5] = [
        (Flags::SEEN, "\\Seen"),
        (Flags::ANSWERED, "\\Answered"),
        (Flags::FLAGGED, "\\Flagged"),
        (Flags::DELETED, "\\Deleted"),
        (Flags::DRAFT, "\\Draft"),
    ];
    let mut names: Vec<&str> = SYSTEM.iter().filter(|(bit, _)| flags.has(*bit)).map(|(_, name)| *name).collect();
    // A keyword that is not an atom cannot be written in a flag list; the
    // IMAP parser never stores one, but other writers of the engine might.
    names.extend(flags.keywords.iter().map(String::as_str).filter(|k| is_atom(k)));
    if recent {
        names.push("\\Recent");
    }
    out.extend_from_slice(b"FLAGS (");
    out.extend_from_slice(names.join(" ").as_bytes());
    out.push(b')');
}

/// Whether `s` is a non-empty run of IMAP ATOM-CHARs.
fn is_atom(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c > 0x20 && c < 0x7f && !b"(){%*\"\\]".contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{self, Body, Request};
    use imap_codec::decode::Decoder;
    use imap_codec::ResponseCodec;
    use testdata::{flags, mailbox, TestMailbox};

    /// Runs `f` on the item list of `FETCH 1 <spec>`, as the command
    /// parser produces it.
    fn with_items<R>(spec: &str, f: impl FnOnce(&[FetchAtt<'_>]) -> R) -> R {
        let mut cmd = format!("a FETCH 1 {spec}\r\n").into_bytes();
        match request::parse(&mut cmd) {
            Ok(Request { body: Body::Fetch(args), .. }) => f(&args.items),
            other => panic!("not a FETCH: {other:?}"),
        }
    }

    /// The response for message `index`, without checking its syntax.
    fn render_raw(mb: &TestMailbox, index: usize, spec: &str, extras: Extras) -> String {
        let src = FetchSource::new(&mb.account, &mb.messages[index]);
        let mut out = Vec::new();
        with_items(spec, |items| render_fetch(&mut out, index as u32 + 1, &src, items, extras)).expect("render");
        String::from_utf8(out).expect("utf-8 output")
    }

    /// The response for message `index`, which imap-codec must accept.
    fn render(mb: &TestMailbox, index: usize, spec: &str, recent: bool, uid_first: bool) -> String {
        let line = render_raw(mb, index, spec, Extras { uid: uid_first, recent, ..Extras::default() });
        let (rest, _) = ResponseCodec::default().decode(line.as_bytes()).unwrap_or_else(|e| panic!("unparsable {line:?}: {e:?}"));
        assert!(rest.is_empty(), "trailing bytes after {line:?}");
        line
    }

    async fn sample() -> TestMailbox {
        mailbox(&[
            (testdata::SIMPLE, flags(Flags::SEEN | Flags::FLAGGED, &["$Work"]), 760_686_745),
            (testdata::ALTERNATIVE, flags(0, &[]), 1_646_195_400),
            (testdata::MIXED, flags(Flags::ANSWERED | Flags::DELETED | Flags::DRAFT, &[]), 0),
        ])
        .await
    }

    #[tokio::test]
    async fn responses() {
        let mb = sample().await;
        let simple_size = testdata::SIMPLE.len();
        let header = &testdata::SIMPLE[..testdata::SIMPLE.find("\r\n\r\n").expect("blank line") + 4];
        let cases: Vec<(usize, &str, bool, bool, String)> = vec![
            (0, "(UID FLAGS)", true, false, "* 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged $Work \\Recent))\r\n".into()),
            (2, "FLAGS", false, true, "* 3 FETCH (UID 3 FLAGS (\\Answered \\Deleted \\Draft))\r\n".into()),
            (1, "(FLAGS UID)", false, true, "* 2 FETCH (FLAGS () UID 2)\r\n".into()),
            (
                0,
                "FAST",
                false,
                false,
                format!("* 1 FETCH (FLAGS (\\Seen \\Flagged $Work) INTERNALDATE \"08-Feb-1994 05:52:25 +0000\" RFC822.SIZE {simple_size})\r\n"),
            ),
            (2, "INTERNALDATE", false, false, "* 3 FETCH (INTERNALDATE \"01-Jan-1970 00:00:00 +0000\")\r\n".into()),
            (
                0,
                "BODY.PEEK[HEADER.FIELDS (Subject)]",
                false,
                false,
                "* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {24}\r\nSubject: Lunch plans\r\n\r\n)\r\n".into(),
            ),
            (0, "BODY[]<0.5>", false, false, "* 1 FETCH (BODY[]<0> \"From:\")\r\n".into()),
            (0, "BODY.PEEK[TEXT]<3.100>", false, false, "* 1 FETCH (BODY[TEXT]<3> {11}\r\ne1\r\nline2\r\n)\r\n".into()),
            (0, "BODY[TEXT]<100.5>", false, false, "* 1 FETCH (BODY[TEXT]<100> \"\")\r\n".into()),
            (0, "BODY[1]", false, false, "* 1 FETCH (BODY[1] {14}\r\nline1\r\nline2\r\n)\r\n".into()),
            (0, "BODY[4]", false, false, "* 1 FETCH (BODY[4] \"\")\r\n".into()),
            (0, "RFC822.TEXT", false, false, "* 1 FETCH (RFC822.TEXT {14}\r\nline1\r\nline2\r\n)\r\n".into()),
            (0, "RFC822.HEADER", false, false, format!("* 1 FETCH (RFC822.HEADER {{{}}}\r\n{header})\r\n", header.len())),
            (0, "RFC822", false, false, format!("* 1 FETCH (RFC822 {{{simple_size}}}\r\n{})\r\n", testdata::SIMPLE)),
            (0, "BODY.PEEK[]", false, false, format!("* 1 FETCH (BODY[] {{{simple_size}}}\r\n{})\r\n", testdata::SIMPLE)),
            (
                1,
                "ENVELOPE",
                false,
                false,
                "* 2 FETCH (ENVELOPE (\"Tue, 1 Mar 2022 23:30:00 -0500\" \"=?utf-8?q?Caf=C3=A9?= menu\" \
                 ((\"=?utf-8?b?SsO2cmcgTQ==?=\" NIL \"jm\" \"example.de\")) ((\"=?utf-8?b?SsO2cmcgTQ==?=\" NIL \"jm\" \"example.de\")) \
                 ((\"=?utf-8?b?SsO2cmcgTQ==?=\" NIL \"jm\" \"example.de\")) \
                 ((NIL NIL \"Friends\" NIL)(NIL NIL \"ana\" \"example.com\")(\"Cy\" NIL \"cy\" \"example.net\")(NIL NIL NIL NIL)) \
                 ((NIL NIL \"dee\" \"example.com\")) NIL NIL NIL))\r\n"
                    .into(),
            ),
            (
                0,
                "(BODY BODYSTRUCTURE)",
                false,
                false,
                "* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 14 2) \
                 BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 14 2 NIL NIL NIL NIL))\r\n"
                    .into(),
            ),
        ];
        for (index, spec, recent, uid_first, want) in cases {
            assert_eq!(render(&mb, index, spec, recent, uid_first), want, "{spec}");
        }
    }

    #[tokio::test]
    async fn every_item_of_every_sample_is_valid_imap() {
        let mb = sample().await;
        let specs = [
            "FULL",
            "ALL",
            "BODYSTRUCTURE",
            "(BODY[1] BODY[2] BODY[3] BODY[3.1] BODY[3.2] BODY[2.MIME] BODY[3.HEADER] BODY[3.TEXT])",
            "(BODY[1.1] BODY[3.HEADER.FIELDS (Subject From)] BODY[3.HEADER.FIELDS.NOT (Subject)]<2.7>)",
        ];
        for index in 0..mb.messages.len() {
            for spec in specs {
                render(&mb, index, spec, true, true);
            }
        }
    }

    #[tokio::test]
    async fn errors_append_nothing_and_metadata_needs_no_body() {
        let mb = sample().await;
        mb.damage(0);
        let src = FetchSource::new(&mb.account, &mb.messages[0]);
        let mut out = b"kept".to_vec();
        let got = with_items("(FLAGS BODY[])", |items| render_fetch(&mut out, 1, &src, items, Extras::default()));
        assert!(matches!(got, Err(FetchError::Store(Error::Corrupt(_)))), "{got:?}");
        assert_eq!(out, b"kept");
        let extras = Extras { uid: true, ..Extras::default() };
        with_items("(FLAGS ENVELOPE RFC822.SIZE)", |items| render_fetch(&mut out, 1, &src, items, extras)).expect("no body needed");
        assert!(out.starts_with(b"kept* 1 FETCH (UID 1 FLAGS"));
    }

    #[tokio::test]
    async fn save_dates_and_old_records_without_one() {
        let mut mb = sample().await;
        mb.messages[0].save_date = None;
        mb.messages[1].save_date = Some(1_646_195_400);
        let old = format!("* 1 FETCH (SAVEDATE \"{}\")\r\n", internal_date(mb.messages[0].internal_date));
        assert_eq!(render_raw(&mb, 0, "SAVEDATE", Extras::default()), old);
        assert_eq!(render_raw(&mb, 1, "(SAVEDATE)", Extras::default()), "* 2 FETCH (SAVEDATE \"02-Mar-2022 04:30:00 +0000\")\r\n");
    }

    #[tokio::test]
    async fn extras_modseq_and_binary() {
        let mb = sample().await;
        let modseq = |i: usize| mb.messages[i].modseq;
        let all = Extras { uid: true, flags: true, modseq: true, recent: true };
        let cases: Vec<(usize, &str, Extras, String)> = vec![
            (1, "RFC822.SIZE", all, format!("* 2 FETCH (UID 2 RFC822.SIZE {} FLAGS (\\Recent) MODSEQ ({}))\r\n", testdata::ALTERNATIVE.len(), modseq(1))),
            (1, "(MODSEQ UID FLAGS)", all, format!("* 2 FETCH (MODSEQ ({}) UID 2 FLAGS (\\Recent))\r\n", modseq(1))),
            (0, "MODSEQ", Extras::default(), format!("* 1 FETCH (MODSEQ ({}))\r\n", modseq(0))),
            (2, "(BINARY.SIZE[2] BINARY[2] BINARY.PEEK[3.2]<1.2>)", Extras::default(), "* 3 FETCH (BINARY.SIZE[2] 7 BINARY[2] \"Hello!!\" BINARY[3.2]<1> \"IF\")\r\n".into()),
            (1, "BINARY[1]", Extras::default(), "* 2 FETCH (BINARY[1] {8}\r\ncafé!\r\n)\r\n".into()),
        ];
        for (index, spec, extras, want) in cases {
            assert_eq!(render_raw(&mb, index, spec, extras), want, "{spec}");
        }
    }

    #[test]
    fn seen_setting_items() {
        let cases = [
            ("BODY[]", true),
            ("BODY.PEEK[]", false),
            ("BODY[HEADER]<0.10>", true),
            ("RFC822", true),
            ("RFC822.TEXT", true),
            ("RFC822.HEADER", false),
            ("(FLAGS BODY.PEEK[1] BODY[2])", true),
            ("FULL", false),
            ("BODYSTRUCTURE", false),
            ("BINARY[1]", true),
            ("(BINARY.PEEK[1] BINARY.SIZE[1] MODSEQ)", false),
        ];
        for (spec, want) in cases {
            assert_eq!(with_items(spec, sets_seen), want, "{spec}");
        }
    }

    #[test]
    fn meta_responses() {
        let meta = MessageMeta { uid: 7, flags: flags(Flags::SEEN, &["$Junk"]), modseq: 42, internal_date: 0, size: 1, blob: 1, save_date: None };
        let cases = [
            (Extras { flags: true, ..Extras::default() }, "* 3 FETCH (FLAGS (\\Seen $Junk))\r\n"),
            (Extras { uid: true, flags: true, modseq: true, recent: true }, "* 3 FETCH (UID 7 FLAGS (\\Seen $Junk \\Recent) MODSEQ (42))\r\n"),
            (Extras { modseq: true, ..Extras::default() }, "* 3 FETCH (MODSEQ (42))\r\n"),
            (Extras { uid: true, modseq: true, ..Extras::default() }, "* 3 FETCH (UID 7 MODSEQ (42))\r\n"),
        ];
        for (extras, want) in cases {
            let mut out = Vec::new();
            write_meta_response(&mut out, 3, &meta, extras);
            assert_eq!(String::from_utf8(out).expect("utf-8"), want, "{extras:?}");
        }
    }

    #[test]
    fn flag_lists() {
        let cases: &[(Flags, bool, &str)] = &[
            (flags(0, &[]), false, "FLAGS ()"),
            (flags(0, &[]), true, "FLAGS (\\Recent)"),
            (flags(0x1f, &["b", "A"]), false, "FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft A b)"),
            (flags(Flags::DRAFT, &["ok", "not ok", ""]), false, "FLAGS (\\Draft ok)"),
        ];
        for (f, recent, want) in cases {
            let mut out = Vec::new();
            write_flags(&mut out, f, *recent);
            assert_eq!(String::from_utf8(out).expect("utf-8"), *want);
        }
    }
}
