//! FETCH's arguments (RFC 3501 6.4.5): the message set, the data items
//! (macros expanded), RFC 9051's BINARY items, RFC 7162's MODSEQ item,
//! RFC 8514's SAVEDATE item, RFC 8970's PREVIEW item (and the SNIPPET item
//! of its drafts) and the CHANGEDSINCE and VANISHED modifiers. Body sections are built as
//! imap-types values, which the renderer in [`crate::fetch`] takes.

use super::cursor::{Cursor, MessageSet, Parsed, Syntax};
use imap_types::core::{AString, NonEmptyVec};
use imap_types::fetch::{MessageDataItemName, Part, Section};
use crate::ModSeq;
use std::borrow::Cow;
use std::num::NonZeroU32;

/// One FETCH data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAtt<'a> {
    /// An RFC 3501 item.
    Item(MessageDataItemName<'a>),
    /// `MODSEQ` (RFC 7162).
    ModSeq,
    /// `SAVEDATE` (RFC 8514): when the message was saved into the mailbox.
    SaveDate,
    /// `BINARY[part]<partial>` or `BINARY.PEEK[...]` (RFC 9051): the part
    /// with its transfer encoding undone.
    Binary {
        /// The part numbers; empty for the whole message.
        part: Vec<NonZeroU32>,
        /// `<origin.count>` of the decoded data.
        partial: Option<(u32, NonZeroU32)>,
        /// `.PEEK`: do not set `\Seen`.
        peek: bool,
    },
    /// `BINARY.SIZE[part]`: the size of the decoded part.
    BinarySize(Vec<NonZeroU32>),
    /// `PREVIEW [(LAZY)]` (RFC 8970), or Dovecot's older `SNIPPET
    /// [(FUZZY)]`: the start of the message's text.
    Preview {
        /// `LAZY`: `NIL` rather than a slow preview.
        lazy: bool,
        /// Asked as `SNIPPET`, so answered as `SNIPPET (FUZZY "...")`.
        snippet: bool,
    },
}

/// FETCH's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchArgs<'a> {
    /// The messages.
    pub set: MessageSet,
    /// The data items, macros expanded, in the order asked.
    pub items: Vec<FetchAtt<'a>>,
    /// `CHANGEDSINCE`: only messages with a higher MODSEQ.
    pub changed_since: Option<ModSeq>,
    /// `VANISHED` (UID FETCH only, with CHANGEDSINCE): also report the
    /// UIDs of the set that were expunged since.
    pub vanished: bool,
    /// UID FETCH.
    pub uid: bool,
}

impl FetchArgs<'_> {
    /// Whether the items or modifiers ask for MODSEQ, which makes the
    /// client CONDSTORE-aware (RFC 7162 3.1).
    pub fn uses_modseq(&self) -> bool {
        self.changed_since.is_some() || self.items.contains(&FetchAtt::ModSeq)
    }
}

/// `SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att
/// *(SP fetch-att) ")") [SP "(" fetch-modifier *(SP fetch-modifier) ")"]`.
pub fn fetch<'a>(c: &mut Cursor<'a>, uid: bool) -> Parsed<FetchArgs<'a>> {
    c.sp()?;
    let set = c.message_set()?;
    c.sp()?;
    let items = if c.peek()? == b'(' { c.list(false, fetch_att)? } else { macro_or_att(c)? };
    let mut args = FetchArgs { set, items, changed_since: None, vanished: false, uid };
    if !c.at_end() {
        c.sp()?;
        c.list(false, |c| modifier(c, &mut args))?;
    }
    if args.vanished && (!uid || args.changed_since.is_none()) {
        return Err(Syntax::Invalid);
    }
    Ok(args)
}

/// A fetch modifier: `CHANGEDSINCE mod-sequence` or `VANISHED`.
fn modifier(c: &mut Cursor<'_>, args: &mut FetchArgs<'_>) -> Parsed<()> {
    match c.atom()?.to_ascii_uppercase().as_slice() {
        b"CHANGEDSINCE" => {
            c.sp()?;
            args.changed_since = Some(c.number64()?);
        }
        b"VANISHED" => args.vanished = true,
        _ => return Err(Syntax::Invalid),
    }
    Ok(())
}

/// A macro (expanded) or a single item.
fn macro_or_att<'a>(c: &mut Cursor<'a>) -> Parsed<Vec<FetchAtt<'a>>> {
    use MessageDataItemName as N;
    let fast = [N::Flags, N::InternalDate, N::Rfc822Size];
    let expanded: Option<Vec<N<'a>>> = match c.clone().atom() {
        Ok(name) if name.eq_ignore_ascii_case(b"FAST") => Some(fast.to_vec()),
        Ok(name) if name.eq_ignore_ascii_case(b"ALL") => Some([fast.as_slice(), &[N::Envelope]].concat()),
        Ok(name) if name.eq_ignore_ascii_case(b"FULL") => Some([fast.as_slice(), &[N::Envelope, N::Body]].concat()),
        _ => None,
    };
    match expanded {
        Some(items) => {
            c.atom()?;
            Ok(items.into_iter().map(FetchAtt::Item).collect())
        }
        None => Ok(vec![fetch_att(c)?]),
    }
}

/// One data item.
pub(super) fn fetch_att<'a>(c: &mut Cursor<'a>) -> Parsed<FetchAtt<'a>> {
    use MessageDataItemName as N;
    let name = c.word()?.to_ascii_uppercase();
    let item = match name.as_slice() {
        b"ENVELOPE" => N::Envelope,
        b"FLAGS" => N::Flags,
        b"INTERNALDATE" => N::InternalDate,
        b"RFC822" => N::Rfc822,
        b"RFC822.HEADER" => N::Rfc822Header,
        b"RFC822.SIZE" => N::Rfc822Size,
        b"RFC822.TEXT" => N::Rfc822Text,
        b"BODYSTRUCTURE" => N::BodyStructure,
        b"UID" => N::Uid,
        b"MODSEQ" => return Ok(FetchAtt::ModSeq),
        b"SAVEDATE" => return Ok(FetchAtt::SaveDate),
        b"BODY" if c.peek() == Ok(b'[') => body_ext(c, false)?,
        b"BODY" => N::Body,
        b"BODY.PEEK" => body_ext(c, true)?,
        b"BINARY" | b"BINARY.PEEK" => {
            let part = binary_section(c)?;
            return Ok(FetchAtt::Binary { part, partial: partial(c)?, peek: name.as_slice() == b"BINARY.PEEK" });
        }
        b"BINARY.SIZE" => return Ok(FetchAtt::BinarySize(binary_section(c)?)),
        b"PREVIEW" => return Ok(FetchAtt::Preview { lazy: preview_modifiers(c, &["LAZY"]), snippet: false }),
        b"SNIPPET" => return Ok(FetchAtt::Preview { lazy: preview_modifiers(c, &["LAZY", "LAZY=FUZZY", "FUZZY"]), snippet: true }),
        _ => return Err(Syntax::Invalid),
    };
    Ok(FetchAtt::Item(item))
}

/// `[SP "(" preview-mod *(SP preview-mod) ")"]` after PREVIEW or SNIPPET,
/// each one of `known`: whether `LAZY` (or `LAZY=FUZZY`) is among them.
/// Nothing is consumed unless such a list comes next, so that a list of
/// fetch modifiers (`FETCH 1 PREVIEW (CHANGEDSINCE 5)`) is left alone.
fn preview_modifiers(c: &mut Cursor<'_>, known: &[&str]) -> bool {
    let mut probe = c.clone();
    let parsed = probe.sp().and_then(|()| {
        probe.list(false, |c| {
            let atom = c.atom()?;
            known.iter().find(|k| atom.eq_ignore_ascii_case(k.as_bytes())).ok_or(Syntax::Invalid)
        })
    });
    match parsed {
        Ok(modifiers) => {
            *c = probe;
            modifiers.iter().any(|m| m.starts_with("LAZY"))
        }
        Err(_) => false,
    }
}

/// `section [partial]` of BODY[...] and BODY.PEEK[...].
fn body_ext<'a>(c: &mut Cursor<'a>, peek: bool) -> Parsed<MessageDataItemName<'a>> {
    let section = section(c)?;
    Ok(MessageDataItemName::BodyExt { section, partial: partial(c)?, peek })
}

/// A section spec as an IMAP URL's `;SECTION=` gives it (`1.MIME`,
/// `HEADER.FIELDS (From)`), given in brackets (`[1.MIME]`); `None` when it
/// does not parse.
pub fn section_spec(bracketed: &[u8]) -> Option<Section<'_>> {
    let mut c = Cursor::new(bracketed);
    let section = section(&mut c).ok()??;
    (c.pos() == bracketed.len()).then_some(section)
}

/// `"[" [section-spec] "]"`: `None` for the whole message.
fn section<'a>(c: &mut Cursor<'a>) -> Parsed<Option<Section<'a>>> {
    c.expect(b'[')?;
    if c.eat(b']') {
        return Ok(None);
    }
    let numbers = part_numbers(c)?;
    let part = NonEmptyVec::try_from(numbers).ok().map(Part);
    let text = match &part {
        Some(_) if !c.eat(b'.') => None,
        _ => Some(c.word()?.to_ascii_uppercase()),
    };
    let section = match (text.as_deref(), part) {
        (None, Some(part)) => Section::Part(part),
        (Some(b"MIME"), Some(part)) => Section::Mime(part),
        (Some(b"HEADER"), part) => Section::Header(part),
        (Some(b"TEXT"), part) => Section::Text(part),
        (Some(b"HEADER.FIELDS"), part) => Section::HeaderFields(part, header_list(c)?),
        (Some(b"HEADER.FIELDS.NOT"), part) => Section::HeaderFieldsNot(part, header_list(c)?),
        _ => return Err(Syntax::Invalid),
    };
    c.expect(b']')?;
    Ok(Some(section))
}

/// `nz-number *("." nz-number)`, or nothing when no digit comes next; a
/// dot not followed by a digit is left for the section text.
fn part_numbers(c: &mut Cursor<'_>) -> Parsed<Vec<NonZeroU32>> {
    let mut numbers = Vec::new();
    while c.peek()?.is_ascii_digit() {
        numbers.push(NonZeroU32::new(c.nz_number()?).ok_or(Syntax::Invalid)?);
        let mut probe = c.clone();
        if !(probe.eat(b'.') && probe.peek()?.is_ascii_digit()) {
            break;
        }
        c.expect(b'.')?;
    }
    Ok(numbers)
}

/// `SP "(" header-fld-name *(SP header-fld-name) ")"`.
fn header_list<'a>(c: &mut Cursor<'a>) -> Parsed<NonEmptyVec<AString<'a>>> {
    c.sp()?;
    let names = c.list(false, |c| {
        let name = match c.astring()? {
            Cow::Borrowed(bytes) => AString::try_from(bytes),
            Cow::Owned(bytes) => AString::try_from(bytes),
        };
        name.map_err(|_| Syntax::Invalid)
    })?;
    NonEmptyVec::try_from(names).map_err(|_| Syntax::Invalid)
}

/// `"[" [section-part] "]"` of the BINARY items.
fn binary_section(c: &mut Cursor<'_>) -> Parsed<Vec<NonZeroU32>> {
    c.expect(b'[')?;
    let numbers = part_numbers(c)?;
    c.expect(b']')?;
    Ok(numbers)
}

/// `["<" number "." nz-number ">"]`.
fn partial(c: &mut Cursor<'_>) -> Parsed<Option<(u32, NonZeroU32)>> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let origin = c.number()?;
    c.expect(b'.')?;
    let count = NonZeroU32::new(c.nz_number()?).ok_or(Syntax::Invalid)?;
    c.expect(b'>')?;
    Ok(Some((origin, count)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_codec::decode::Decoder;
    use imap_codec::imap_types::command::CommandBody;
    use imap_codec::imap_types::fetch::MacroOrMessageDataItemNames;
    use imap_codec::CommandCodec;

    fn parse(input: &str, uid: bool) -> Parsed<FetchArgs<'_>> {
        let mut c = Cursor::new(input.as_bytes());
        let args = fetch(&mut c, uid)?;
        c.end()?;
        Ok(args)
    }

    /// Checks that our parser and imap-codec read `spec` into the same
    /// RFC 3501 items.
    fn same_as_codec(spec: &str) {
        let line = format!("a FETCH 1 {spec}\r\n");
        let (_, cmd) = CommandCodec::default().decode(line.as_bytes()).expect("imap-codec parses it");
        let CommandBody::Fetch { macro_or_item_names, .. } = cmd.body else { panic!("not a FETCH") };
        let theirs = match &macro_or_item_names {
            MacroOrMessageDataItemNames::Macro(m) => m.expand(),
            MacroOrMessageDataItemNames::MessageDataItemNames(items) => items.clone(),
        };
        let input = format!(" 1 {spec}\r\n");
        let ours = parse(&input, false).unwrap_or_else(|e| panic!("{spec}: {e:?}")).items;
        let theirs: Vec<FetchAtt<'_>> = theirs.into_iter().map(FetchAtt::Item).collect();
        assert_eq!(ours, theirs, "{spec}");
    }

    #[test]
    fn rfc3501_items_parse_as_imap_codec_parses_them() {
        let specs = [
            "ALL",
            "FAST",
            "FULL",
            "FLAGS",
            "(UID rfc822.size INTERNALDATE ENVELOPE)",
            "(BODY BODYSTRUCTURE RFC822 RFC822.HEADER RFC822.TEXT)",
            "BODY[]",
            "BODY.PEEK[]<0.100>",
            "(BODY[1] BODY[2.3] BODY[3.MIME] BODY[4.1.HEADER] BODY[5.TEXT] BODY[HEADER] BODY[TEXT])",
            "BODY[HEADER.FIELDS (From To Cc)]",
            "body.peek[1.header.fields.not (Date)]<5.7>",
        ];
        for spec in specs {
            same_as_codec(spec);
        }
    }

    #[test]
    fn header_names_in_any_string_form() {
        let args = parse(" 1 BODY[HEADER.FIELDS (From \"To\" {2}\r\nCc)]\r\n", false).expect("parses");
        let FetchAtt::Item(MessageDataItemName::BodyExt { section: Some(Section::HeaderFields(None, names)), .. }) = &args.items[0] else {
            panic!("not a header list: {args:?}")
        };
        let names: Vec<&[u8]> = names.as_ref().iter().map(|n| n.as_ref()).collect();
        assert_eq!(names, [&b"From"[..], b"To", b"Cc"]);
    }

    #[test]
    fn extension_items_and_modifiers() {
        let one = NonZeroU32::new(1).expect("non-zero");
        let two = NonZeroU32::new(2).expect("non-zero");
        let args = parse(" 1:* (UID MODSEQ BINARY.PEEK[1.2]<0.2> BINARY[] BINARY.SIZE[2] savedate) (CHANGEDSINCE 12345 VANISHED)\r\n", true)
            .expect("parses");
        assert_eq!(
            args.items,
            vec![
                FetchAtt::Item(MessageDataItemName::Uid),
                FetchAtt::ModSeq,
                FetchAtt::Binary { part: vec![one, two], partial: Some((0, two)), peek: true },
                FetchAtt::Binary { part: vec![], partial: None, peek: false },
                FetchAtt::BinarySize(vec![two]),
                FetchAtt::SaveDate,
            ]
        );
        assert_eq!((args.changed_since, args.vanished, args.uid), (Some(12345), true, true));
        assert!(args.uses_modseq());
        assert_eq!(parse(" $ FLAGS\r\n", false).expect("parses").set, MessageSet::Saved);
        assert!(!parse(" 1 FLAGS\r\n", false).expect("parses").uses_modseq());
        assert!(parse(" 1 MODSEQ\r\n", false).expect("parses").uses_modseq());
    }

    #[test]
    fn preview_items_and_their_modifiers() {
        let preview = |lazy, snippet| FetchAtt::Preview { lazy, snippet };
        let cases = [
            (" 1 PREVIEW\r\n", vec![preview(false, false)], None),
            (" 1 (RFC822.SIZE preview)\r\n", vec![FetchAtt::Item(MessageDataItemName::Rfc822Size), preview(false, false)], None),
            (" 1:4 (PREVIEW (LAZY))\r\n", vec![preview(true, false)], None),
            (" 1 PREVIEW (lazy)\r\n", vec![preview(true, false)], None),
            (" 1 (PREVIEW (LAZY) UID)\r\n", vec![preview(true, false), FetchAtt::Item(MessageDataItemName::Uid)], None),
            (" 1 PREVIEW (CHANGEDSINCE 5)\r\n", vec![preview(false, false)], Some(5)),
            (" 1 PREVIEW (LAZY) (CHANGEDSINCE 5)\r\n", vec![preview(true, false)], Some(5)),
            (" 1 (SNIPPET (FUZZY))\r\n", vec![preview(false, true)], None),
            (" 1 (SNIPPET (LAZY=FUZZY) SNIPPET)\r\n", vec![preview(true, true), preview(false, true)], None),
        ];
        for (input, items, changed_since) in cases {
            let args = parse(input, false).unwrap_or_else(|e| panic!("{input:?}: {e:?}"));
            assert_eq!((args.items, args.changed_since), (items, changed_since), "{input:?}");
        }
        for input in [" 1 (PREVIEW (FUZZY))\r\n", " 1 (PREVIEW (LAZY FOO))\r\n", " 1 PREVIEW (LAZY\r\n", " 1 (PREVIEW ())\r\n", " 1 PREVIEW.PEEK\r\n"] {
            assert_eq!(parse(input, false).err(), Some(Syntax::Invalid), "{input:?}");
        }
    }

    #[test]
    fn invalid_forms() {
        let cases = [
            (" 1 FLAGS (VANISHED)\r\n", true),
            (" 1 FLAGS (CHANGEDSINCE 1 VANISHED)\r\n", false),
            (" 1 FLAGS (CHANGEDSINCE)\r\n", false),
            (" 1 FLAGS (FOO)\r\n", false),
            (" 1 FLAGS ()\r\n", false),
            (" 1 ()\r\n", false),
            (" 1 (ALL)\r\n", false),
            (" 1 BODY[0]\r\n", false),
            (" 1 BODY[1.]\r\n", false),
            (" 1 BODY[MIME]\r\n", false),
            (" 1 BODY[HEADER.FIELDS]\r\n", false),
            (" 1 BODY[HEADER.FIELDS ()]\r\n", false),
            (" 1 BODY[1]<1>\r\n", false),
            (" 1 BODY[1]<1.0>\r\n", false),
            (" 1 BINARY[TEXT]\r\n", false),
            (" 1 BINARY.SIZE\r\n", false),
            (" 1 BODY.PEEK\r\n", false),
            (" 1 FROB\r\n", false),
            (" 0 FLAGS\r\n", false),
            (" 1  FLAGS\r\n", false),
        ];
        for (input, uid) in cases {
            assert_eq!(parse(input, uid).err(), Some(Syntax::Invalid), "{input:?}");
        }
    }
}
