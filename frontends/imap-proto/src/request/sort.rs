//! SORT's and THREAD's arguments (RFC 5256, with RFC 5957's DISPLAYFROM
//! and DISPLAYTO, and RFC 5267's RETURN options): sort criteria or a
//! threading algorithm, a charset, and search keys.

use super::cursor::{Cursor, Parsed, Syntax};
use super::search::{keys, search_return, SearchKey, SearchReturn};
use crate::sort_spec::{SortCriterion, SortKey, ThreadAlgorithm};
use std::borrow::Cow;

/// SORT's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortArgs<'a> {
    /// RETURN options (ESORT, CONTEXT=SORT); `None` for a plain SORT.
    pub options: Option<SearchReturn>,
    /// The order, first criterion first.
    pub criteria: Vec<SortCriterion>,
    /// The charset of the search strings.
    pub charset: Cow<'a, [u8]>,
    /// The search keys, all of which must match.
    pub keys: Vec<SearchKey<'a>>,
    /// UID SORT.
    pub uid: bool,
}

/// THREAD's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadArgs<'a> {
    /// How to thread.
    pub algorithm: ThreadAlgorithm,
    /// The charset of the search strings.
    pub charset: Cow<'a, [u8]>,
    /// The search keys, all of which must match.
    pub keys: Vec<SearchKey<'a>>,
    /// UID THREAD.
    pub uid: bool,
}

/// `[SP "RETURN" SP "(" [opt *(SP opt)] ")"] SP "(" sort-criterion *(SP
/// sort-criterion) ")" SP charset 1*(SP search-key)`, where a criterion is
/// `["REVERSE" SP] sort-key`; SAVE is SEARCH's alone.
pub fn sort<'a>(c: &mut Cursor<'a>, uid: bool) -> Parsed<SortArgs<'a>> {
    let options = match c.space_then("RETURN") {
        true => Some(search_return(c)?),
        false => None,
    };
    if options.is_some_and(|o| o.save) {
        return Err(Syntax::Invalid);
    }
    c.sp()?;
    let criteria = c.list(false, |c| {
        let reverse = c.keyword("REVERSE");
        if reverse {
            c.sp()?;
        }
        let key = SortKey::from_name(c.atom()?).ok_or(Syntax::Invalid)?;
        Ok(SortCriterion { reverse, key })
    })?;
    c.sp()?;
    let charset = c.astring()?;
    Ok(SortArgs { options, criteria, charset, keys: keys(c)?, uid })
}

/// `SP thread-alg SP charset 1*(SP search-key)`.
pub fn thread<'a>(c: &mut Cursor<'a>, uid: bool) -> Parsed<ThreadArgs<'a>> {
    c.sp()?;
    let algorithm = ThreadAlgorithm::from_name(c.atom()?).ok_or(Syntax::Invalid)?;
    c.sp()?;
    let charset = c.astring()?;
    Ok(ThreadArgs { algorithm, charset, keys: keys(c)?, uid })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(input: &str) -> Parsed<SortArgs<'_>> {
        let mut c = Cursor::new(input.as_bytes());
        let args = sort(&mut c, false)?;
        c.end()?;
        Ok(args)
    }

    fn threaded(input: &str) -> Parsed<ThreadArgs<'_>> {
        let mut c = Cursor::new(input.as_bytes());
        let args = thread(&mut c, true)?;
        c.end()?;
        Ok(args)
    }

    #[test]
    fn sort_forms() {
        let args = sorted(" (REVERSE arrival subject DISPLAYFROM) UTF-8 UNSEEN SINCE 1-Feb-1994\r\n").expect("parses");
        let c = |reverse, key| SortCriterion { reverse, key };
        assert_eq!(args.criteria, vec![c(true, SortKey::Arrival), c(false, SortKey::Subject), c(false, SortKey::DisplayFrom)]);
        assert_eq!(args.charset.as_ref(), b"UTF-8");
        assert_eq!(args.keys.len(), 2);
        assert_eq!(sorted(" (SIZE) \"US-ASCII\" ALL\r\n").expect("parses").charset.as_ref(), b"US-ASCII");
        assert_eq!(args.options, None);
        let esort = sorted(" RETURN (MIN COUNT UPDATE) (SIZE) UTF-8 ALL\r\n").expect("parses");
        let wanted = SearchReturn { min: true, count: true, update: true, ..SearchReturn::default() };
        assert_eq!((esort.options, esort.criteria.len()), (Some(wanted), 1));
        assert_eq!(sorted(" RETURN () (SIZE) UTF-8 ALL\r\n").expect("parses").options, Some(SearchReturn { all: true, ..SearchReturn::default() }));
        for bad in [
            " () UTF-8 ALL\r\n",
            " (REVERSE) UTF-8 ALL\r\n",
            " (REVERSE REVERSE DATE) UTF-8 ALL\r\n",
            " (BOGUS) UTF-8 ALL\r\n",
            " (DATE) UTF-8\r\n",
            " DATE UTF-8 ALL\r\n",
            " (DATE) ALL\r\n",
            " RETURN (SAVE) (DATE) UTF-8 ALL\r\n",
            " RETURN (ALL PARTIAL 1:2) (DATE) UTF-8 ALL\r\n",
            " RETURN (DATE) UTF-8 ALL\r\n",
        ] {
            assert!(sorted(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn thread_forms() {
        let args = threaded(" REFERENCES UTF-8 ALL\r\n").expect("parses");
        assert_eq!((args.algorithm, args.uid, args.keys), (ThreadAlgorithm::References, true, vec![SearchKey::All]));
        assert_eq!(threaded(" orderedsubject us-ascii SEEN\r\n").expect("parses").algorithm, ThreadAlgorithm::OrderedSubject);
        assert_eq!(threaded(" refs UTF-8 ALL\r\n").expect("parses").algorithm, ThreadAlgorithm::Refs);
        for bad in [" REF UTF-8 ALL\r\n", " REFERENCES UTF-8\r\n", " (REFERENCES) UTF-8 ALL\r\n"] {
            assert!(threaded(bad).is_err(), "{bad:?}");
        }
    }
}
