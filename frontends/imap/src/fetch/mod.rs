//! FETCH responses: one `* n FETCH (...)` line per message, built from the
//! message's metadata, its stored summary (ENVELOPE, BODY, BODYSTRUCTURE)
//! and its raw bytes (body sections). The summary and the raw bytes are
//! read only when an item needs them, and at most once per message.

mod bodystructure;
mod envelope;
mod section;
#[cfg(test)]
pub(crate) mod testdata;

use crate::wire;
use bodystructure::{write_body, Detail};
use imap_types::core::{AString, NonEmptyVec};
use imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName, Section};
use kotak_engine::mime::Summary;
use kotak_engine::{Account, Error, Flags, MessageMeta};
use std::cell::OnceCell;

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

/// Appends `* <seq> FETCH (...)\r\n` for `items` to `out`. `recent` adds \Recent to FLAGS.
/// `uid_first` prepends the UID item (for UID FETCH) when the items lack it.
/// On any error nothing is appended to `out`.
pub fn render_fetch(
    out: &mut Vec<u8>,
    seq: u32,
    src: &FetchSource<'_>,
    items: &[MessageDataItemName<'_>],
    recent: bool,
    uid_first: bool,
) -> Result<(), Error> {
    let mut line = format!("* {seq} FETCH (").into_bytes();
    let add_uid = uid_first && !items.contains(&MessageDataItemName::Uid);
    let all = add_uid.then_some(&MessageDataItemName::Uid).into_iter().chain(items);
    for (i, item) in all.enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        write_item(&mut line, src, item, recent)?;
    }
    line.extend_from_slice(b")\r\n");
    out.extend_from_slice(&line);
    Ok(())
}

/// Writes one `NAME value` pair of a FETCH response.
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
            let data = section::section_data(src.raw()?, src.summary()?, section.as_ref())?;
            out.extend_from_slice(b"BODY[");
            if let Some(section) = section {
                section::write_section_spec(out, section);
            }
            out.push(b']');
            match partial {
                Some((origin, count)) => {
                    out.extend_from_slice(format!("<{origin}> ").as_bytes());
                    wire::string(out, section::partial(&data, *origin, *count));
                }
                None => {
                    out.push(b' ');
                    wire::string(out, &data);
                }
            }
        }
    }
    Ok(())
}

/// INTERNALDATE's `dd-Mon-yyyy hh:mm:ss +0000` for a Unix time.
fn internal_date(secs: i64) -> String {
    let t = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    t.format("%d-%b-%Y %H:%M:%S +0000").to_string()
}

/// True when the items read a body section without .PEEK (so \Seen must be set first).
pub fn sets_seen(items: &[MessageDataItemName<'_>]) -> bool {
    items.iter().any(|item| {
        matches!(
            item,
            MessageDataItemName::BodyExt { peek: false, .. } | MessageDataItemName::Rfc822 | MessageDataItemName::Rfc822Text
        )
    })
}

/// Expands the ALL/FAST/FULL macros into item lists (and passes item lists through).
pub fn expand_macro(m: &MacroOrMessageDataItemNames<'_>) -> Vec<MessageDataItemName<'static>> {
    match m {
        MacroOrMessageDataItemNames::Macro(m) => m.expand().iter().filter_map(owned_item).collect(),
        MacroOrMessageDataItemNames::MessageDataItemNames(items) => items.iter().filter_map(owned_item).collect(),
    }
}

/// A copy of `item` that owns its data. Only header field names borrow;
/// they were valid when parsed, so copying them cannot fail in practice,
/// and an item that somehow cannot be copied is dropped (and logged).
fn owned_item(item: &MessageDataItemName<'_>) -> Option<MessageDataItemName<'static>> {
    use MessageDataItemName as N;
    let owned = match item {
        N::Body => N::Body,
        N::BodyStructure => N::BodyStructure,
        N::Envelope => N::Envelope,
        N::Flags => N::Flags,
        N::InternalDate => N::InternalDate,
        N::Rfc822 => N::Rfc822,
        N::Rfc822Header => N::Rfc822Header,
        N::Rfc822Size => N::Rfc822Size,
        N::Rfc822Text => N::Rfc822Text,
        N::Uid => N::Uid,
        N::BodyExt { section, partial, peek } => {
            let section = match section {
                Some(s) => Some(owned_section(s)?),
                None => None,
            };
            N::BodyExt { section, partial: *partial, peek: *peek }
        }
    };
    Some(owned)
}

/// A copy of a section that owns its header field names.
fn owned_section(section: &Section<'_>) -> Option<Section<'static>> {
    let names = |list: &NonEmptyVec<AString<'_>>| -> Option<NonEmptyVec<AString<'static>>> {
        let copied: Option<Vec<AString<'static>>> = list.as_ref().iter().map(|n| AString::try_from(n.as_ref().to_vec()).ok()).collect();
        let copied = copied.and_then(|v| NonEmptyVec::try_from(v).ok());
        if copied.is_none() {
            tracing::warn!(?list, "dropping a FETCH item whose header names cannot be copied");
        }
        copied
    };
    Some(match section {
        Section::Part(p) => Section::Part(p.clone()),
        Section::Header(p) => Section::Header(p.clone()),
        Section::Text(p) => Section::Text(p.clone()),
        Section::Mime(p) => Section::Mime(p.clone()),
        Section::HeaderFields(p, n) => Section::HeaderFields(p.clone(), names(n)?),
        Section::HeaderFieldsNot(p, n) => Section::HeaderFieldsNot(p.clone(), names(n)?),
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
    use imap_codec::decode::Decoder;
    use imap_codec::imap_types::command::CommandBody;
    use imap_codec::{CommandCodec, ResponseCodec};
    use testdata::{flags, mailbox, TestMailbox};

    /// The item list of `FETCH 1 <spec>`, as the command parser produces it.
    fn items(spec: &str) -> Vec<MessageDataItemName<'static>> {
        let line = format!("a FETCH 1 {spec}\r\n");
        let (_, cmd) = CommandCodec::default().decode(line.as_bytes()).expect("valid FETCH");
        match cmd.body {
            CommandBody::Fetch { macro_or_item_names, .. } => expand_macro(&macro_or_item_names),
            other => panic!("not a FETCH: {other:?}"),
        }
    }

    fn render(mb: &TestMailbox, index: usize, spec: &str, recent: bool, uid_first: bool) -> String {
        let src = FetchSource::new(&mb.account, &mb.messages[index]);
        let mut out = b"previous\r\n".to_vec();
        render_fetch(&mut out, index as u32 + 1, &src, &items(spec), recent, uid_first).expect("render");
        let line = out.split_off(b"previous\r\n".len());
        let (rest, _) = ResponseCodec::default().decode(&line).unwrap_or_else(|e| panic!("unparsable {line:?}: {e:?}"));
        assert!(rest.is_empty(), "trailing bytes after {line:?}");
        String::from_utf8(line).expect("utf-8 output")
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
        let got = render_fetch(&mut out, 1, &src, &items("(FLAGS BODY[])"), false, false);
        assert!(matches!(got, Err(Error::Corrupt(_))), "{got:?}");
        assert_eq!(out, b"kept");
        render_fetch(&mut out, 1, &src, &items("(FLAGS ENVELOPE RFC822.SIZE)"), false, true).expect("no body needed");
        assert!(out.starts_with(b"kept* 1 FETCH (UID 1 FLAGS"));
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
        ];
        for (spec, want) in cases {
            assert_eq!(sets_seen(&items(spec)), want, "{spec}");
        }
    }

    #[test]
    fn macros() {
        use MessageDataItemName as N;
        assert_eq!(items("FAST"), [N::Flags, N::InternalDate, N::Rfc822Size]);
        assert_eq!(items("ALL"), [N::Flags, N::InternalDate, N::Rfc822Size, N::Envelope]);
        assert_eq!(items("FULL"), [N::Flags, N::InternalDate, N::Rfc822Size, N::Envelope, N::Body]);
        let listed = items("(UID BODY.PEEK[1.HEADER.FIELDS (a \"b c\")]<1.2>)");
        assert_eq!(listed.len(), 2);
        let line = "a FETCH 1 (UID BODY.PEEK[1.HEADER.FIELDS (a \"b c\")]<1.2>)\r\n";
        let (_, cmd) = CommandCodec::default().decode(line.as_bytes()).expect("valid FETCH");
        let CommandBody::Fetch { macro_or_item_names: MacroOrMessageDataItemNames::MessageDataItemNames(parsed), .. } = cmd.body else {
            panic!("not an item list")
        };
        assert_eq!(listed, parsed);
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
