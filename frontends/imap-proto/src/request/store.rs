//! STORE's arguments (RFC 3501 6.4.6) with RFC 7162's UNCHANGEDSINCE
//! modifier; the message set may be `$` (RFC 5182).

use super::cursor::{Cursor, MessageSet, Parsed, Syntax};
use imap_types::flag::{Flag, StoreType};
use crate::ModSeq;

/// STORE's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreArgs<'a> {
    /// The messages.
    pub set: MessageSet,
    /// `UNCHANGEDSINCE`: leave alone messages changed after this MODSEQ.
    pub unchanged_since: Option<ModSeq>,
    /// Replace, add or remove.
    pub kind: StoreType,
    /// `.SILENT`: no FETCH responses (unless UNCHANGEDSINCE demands them).
    pub silent: bool,
    /// The flags.
    pub flags: Vec<Flag<'a>>,
    /// UID STORE.
    pub uid: bool,
}

/// `SP sequence-set [SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"]
/// SP ["+" / "-"] "FLAGS" [".SILENT"] SP (flag-list / (flag *(SP flag)))`.
pub fn store<'a>(c: &mut Cursor<'a>, uid: bool) -> Parsed<StoreArgs<'a>> {
    c.sp()?;
    let set = c.message_set()?;
    c.sp()?;
    let mut unchanged_since = None;
    if c.peek()? == b'(' {
        c.list(false, |c| {
            if !c.keyword("UNCHANGEDSINCE") || unchanged_since.is_some() {
                return Err(Syntax::Invalid);
            }
            c.sp()?;
            unchanged_since = Some(c.number64()?);
            Ok(())
        })?;
        c.sp()?;
    }
    let kind = if c.eat(b'+') {
        StoreType::Add
    } else if c.eat(b'-') {
        StoreType::Remove
    } else {
        StoreType::Replace
    };
    let silent = match c.word()?.to_ascii_uppercase().as_slice() {
        b"FLAGS" => false,
        b"FLAGS.SILENT" => true,
        _ => return Err(Syntax::Invalid),
    };
    c.sp()?;
    let flags = if c.peek()? == b'(' {
        c.list(true, flag)?
    } else {
        let mut flags = vec![flag(c)?];
        while !c.at_end() {
            c.sp()?;
            flags.push(flag(c)?);
        }
        flags
    };
    Ok(StoreArgs { set, unchanged_since, kind, silent, flags, uid })
}

/// `"\" atom` (a system or extension flag) or a keyword atom.
pub fn flag<'a>(c: &mut Cursor<'a>) -> Parsed<Flag<'a>> {
    let start = c.pos();
    c.eat(b'\\');
    c.atom()?;
    let text = std::str::from_utf8(c.since(start)).map_err(|_| Syntax::Invalid)?;
    Flag::try_from(text).map_err(|_| Syntax::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Parsed<StoreArgs<'_>> {
        let mut c = Cursor::new(input.as_bytes());
        let args = store(&mut c, false)?;
        c.end()?;
        Ok(args)
    }

    fn flags(list: &[&'static str]) -> Vec<Flag<'static>> {
        list.iter().map(|f| Flag::try_from(*f).expect("flag")).collect()
    }

    #[test]
    fn forms() {
        let args = parse(" 1:3 +FLAGS (\\Seen $Junk)\r\n").expect("parses");
        assert_eq!((args.kind, args.silent, args.unchanged_since), (StoreType::Add, false, None));
        assert_eq!(args.flags, flags(&["\\Seen", "$Junk"]));
        let args = parse(" $ (UNCHANGEDSINCE 12121230045) -flags.silent \\Deleted $Processed\r\n").expect("parses");
        assert_eq!((args.set, args.kind, args.silent), (MessageSet::Saved, StoreType::Remove, true));
        assert_eq!(args.unchanged_since, Some(12_121_230_045));
        assert_eq!(args.flags, flags(&["\\Deleted", "$Processed"]));
        let args = parse(" 7 FLAGS ()\r\n").expect("parses");
        assert_eq!((args.kind, args.flags), (StoreType::Replace, vec![]));
        assert_eq!(parse(" 1 (UNCHANGEDSINCE 0) FLAGS \\Foo\r\n").expect("parses").unchanged_since, Some(0));
        for bad in [
            " 1 FLAGS\r\n",
            " 1 FLAGS \r\n",
            " 1 +FLAGS.LOUD (\\Seen)\r\n",
            " 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS ()\r\n",
            " 1 (UNCHANGEDSINCE) FLAGS ()\r\n",
            " 1 () FLAGS ()\r\n",
            " 1 (FOO 1) FLAGS ()\r\n",
            " 1 *FLAGS ()\r\n",
            " 1 FLAGS (\\)\r\n",
            " 1 FLAGS (a\"b)\r\n",
        ] {
            assert_eq!(parse(bad).err(), Some(Syntax::Invalid), "{bad:?}");
        }
    }
}
