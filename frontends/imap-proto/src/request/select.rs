//! SELECT's and EXAMINE's arguments with RFC 7162's CONDSTORE and
//! QRESYNC parameters.

use super::cursor::{Cursor, Parsed, Syntax};
use imap_types::sequence::SequenceSet;
use crate::ModSeq;
use std::borrow::Cow;

/// SELECT's or EXAMINE's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectArgs<'a> {
    /// The mailbox name as sent.
    pub mailbox: Cow<'a, [u8]>,
    /// EXAMINE.
    pub read_only: bool,
    /// The CONDSTORE parameter.
    pub condstore: bool,
    /// The QRESYNC parameter.
    pub qresync: Option<Qresync>,
}

/// What a client knows of a mailbox it resynchronizes (RFC 7162 3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qresync {
    /// The UIDVALIDITY it knows.
    pub uidvalidity: u32,
    /// The HIGHESTMODSEQ it knows.
    pub modseq: ModSeq,
    /// The UIDs it knows; `None` for all. The optional message sequence
    /// match data is checked for form and not kept: the change log always
    /// tells exactly which UIDs vanished.
    pub known_uids: Option<SequenceSet>,
}

/// `SP mailbox [SP "(" select-param *(SP select-param) ")"]`.
pub fn select<'a>(c: &mut Cursor<'a>, read_only: bool) -> Parsed<SelectArgs<'a>> {
    c.sp()?;
    let mut args = SelectArgs { mailbox: c.astring()?, read_only, condstore: false, qresync: None };
    if !c.at_end() {
        c.sp()?;
        c.list(false, |c| param(c, &mut args))?;
    }
    Ok(args)
}

/// `"CONDSTORE"` or `"QRESYNC" SP "(" uidvalidity SP mod-sequence-value
/// [SP known-uids] [SP seq-match-data] ")"`.
fn param(c: &mut Cursor<'_>, args: &mut SelectArgs<'_>) -> Parsed<()> {
    match c.atom()?.to_ascii_uppercase().as_slice() {
        b"CONDSTORE" => args.condstore = true,
        b"QRESYNC" if args.qresync.is_none() => {
            c.sp()?;
            c.expect(b'(')?;
            let uidvalidity = c.nz_number()?;
            c.sp()?;
            let modseq = c.number64()?;
            let mut known_uids = None;
            if c.eat(b' ') {
                if c.peek()? == b'(' {
                    seq_match_data(c)?;
                } else {
                    known_uids = Some(c.sequence_set()?);
                    if c.eat(b' ') {
                        seq_match_data(c)?;
                    }
                }
            }
            c.expect(b')')?;
            args.qresync = Some(Qresync { uidvalidity, modseq, known_uids });
        }
        _ => return Err(Syntax::Invalid),
    }
    Ok(())
}

/// `"(" known-sequence-set SP known-uid-set ")"`.
fn seq_match_data(c: &mut Cursor<'_>) -> Parsed<()> {
    c.expect(b'(')?;
    c.sequence_set()?;
    c.sp()?;
    c.sequence_set()?;
    c.expect(b')')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Parsed<SelectArgs<'_>> {
        let mut c = Cursor::new(input.as_bytes());
        let args = select(&mut c, false)?;
        c.end()?;
        Ok(args)
    }

    fn set(s: &str) -> SequenceSet {
        s.parse().expect("valid set")
    }

    #[test]
    fn forms() {
        let plain = parse(" INBOX\r\n").expect("parses");
        assert_eq!((plain.mailbox.as_ref(), plain.condstore, plain.qresync), (&b"INBOX"[..], false, None));
        assert!(parse(" \"My Box\" (condstore)\r\n").expect("parses").condstore);
        let q = |uidvalidity, modseq, known_uids| Some(Qresync { uidvalidity, modseq, known_uids });
        let cases = [
            (" INBOX (QRESYNC (67890007 90060115194045000))\r\n", q(67_890_007, 90_060_115_194_045_000, None)),
            (" INBOX (QRESYNC (7 5 41:211,214:541))\r\n", q(7, 5, Some(set("41:211,214:541")))),
            (" INBOX (QRESYNC (7 5 1:29997 (5000,7500 15000,22500)) CONDSTORE)\r\n", q(7, 5, Some(set("1:29997")))),
            (" INBOX (QRESYNC (7 5 (1 2)))\r\n", q(7, 5, None)),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).expect("parses").qresync, want, "{input:?}");
        }
        for bad in [
            " INBOX ()\r\n",
            " INBOX (FOO)\r\n",
            " INBOX (QRESYNC)\r\n",
            " INBOX (QRESYNC (0 5))\r\n",
            " INBOX (QRESYNC (7))\r\n",
            " INBOX (QRESYNC (7 5 1:2 (1)))\r\n",
            " INBOX (QRESYNC (7 5) QRESYNC (7 5))\r\n",
            " INBOX (QRESYNC (7 5 ))\r\n",
            " INBOX (QRESYNC (7 5 1:2 ))\r\n",
            " INBOX CONDSTORE\r\n",
        ] {
            assert_eq!(parse(bad).err(), Some(Syntax::Invalid), "{bad:?}");
        }
    }
}
