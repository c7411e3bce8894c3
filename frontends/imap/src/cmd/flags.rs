//! Flags between imap-types and the engine, and the flag lists that SELECT
//! announces.

use crate::session::reply::Done;
use imap_codec::imap_types::flag::Flag;
use kotak_engine::Flags;

/// The system flags a client may set, in the order FLAGS lists them.
const SYSTEM: [&str; 5] = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

/// Converts the flags of STORE or APPEND. `\Recent` and unknown system
/// flags cannot be set by a client: BAD.
pub fn to_engine(flags: &[Flag<'_>]) -> Result<Flags, Done> {
    let mut out = Flags::default();
    for flag in flags {
        match flag {
            Flag::Answered => out.system |= Flags::ANSWERED,
            Flag::Deleted => out.system |= Flags::DELETED,
            Flag::Draft => out.system |= Flags::DRAFT,
            Flag::Flagged => out.system |= Flags::FLAGGED,
            Flag::Seen => out.system |= Flags::SEEN,
            Flag::Keyword(atom) => out.add_keyword(atom.inner()),
            Flag::Extension(_) => return Err(Done::bad(format!("Flag {flag} cannot be set"))),
        }
    }
    Ok(out)
}

/// Writes a parenthesised list of the system flags and `keywords`, ending
/// with `\*` when clients may create keywords.
pub fn write_list<'k>(out: &mut Vec<u8>, keywords: impl IntoIterator<Item = &'k str>, any_keyword: bool) {
    let mut items: Vec<&str> = SYSTEM.to_vec();
    items.extend(keywords);
    if any_keyword {
        items.push("\\*");
    }
    out.push(b'(');
    out.extend_from_slice(items.join(" ").as_bytes());
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion() {
        let flags: Vec<Flag> = ["\\Seen", "\\deleted", "$Junk", "Work", "$junk"].iter().map(|f| Flag::try_from(*f).unwrap()).collect();
        let f = to_engine(&flags).unwrap();
        assert_eq!(f.system, Flags::SEEN | Flags::DELETED);
        assert_eq!(f.keywords, vec!["$Junk".to_string(), "Work".to_string()]);
        assert!(to_engine(&[Flag::try_from("\\Recent").unwrap()]).is_err());
        let mut out = Vec::new();
        write_list(&mut out, ["Work"], true);
        assert_eq!(out, b"(\\Answered \\Flagged \\Deleted \\Seen \\Draft Work \\*)");
    }
}
