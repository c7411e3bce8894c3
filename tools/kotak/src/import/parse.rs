//! Reads the file given to `kotak account import FILE`: CSV (RFC 4180) or
//! LDIF (RFC 2849) turned into validated [`ImportRow`]s, plus one
//! [`RowError`] per row that must be skipped, so the caller never creates
//! half an account. Pure: it only looks at the text it is given.
//!
//! CSV leniencies: spaces before an opening quote are allowed, and a quote
//! inside an unquoted field is kept as a character. Passwords are kept
//! verbatim (a blank one counts as absent); every other value is trimmed.
//! LDIF attributes that are not imported are skipped unread, so a binary
//! `jpegPhoto` or a `jpegPhoto:<` URL does not matter.

use base64::Engine as _;
use std::borrow::Cow;
use std::collections::hash_map::{Entry, HashMap};
use std::fmt;

/// One account to create, as read from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// Line of the file where this row (CSV) or entry (LDIF) starts, 1-based.
    pub line: usize,
    /// The address as written (trimmed); the caller normalises it.
    pub address: String,
    /// Display name.
    pub name: Option<String>,
    /// Initial password, when the file gives one.
    pub password: Option<ImportPassword>,
    /// Storage quota in bytes; `None` is unlimited (absent or 0 in the file).
    pub quota_storage: Option<u64>,
    /// Message count quota; `None` is unlimited (absent or 0 in the file).
    pub quota_messages: Option<u64>,
    /// Name of the account's home node.
    pub node: Option<String>,
}

/// How the file gives a password: migrations carry hashes, new
/// organisations often carry plain initial passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportPassword {
    /// Plain text, for the caller to hash.
    Plain(String),
    /// An RFC 2307 `{SCHEME}...` value, kept as is.
    Hash(String),
}

/// A row that could not be read, so the operator can fix exactly that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Line where the bad row or entry starts (or the bad LDIF line), 1-based.
    pub line: usize,
    /// What is wrong, without the line number (`Display` adds it).
    pub message: String,
}

impl fmt::Display for RowError {
    /// `line 17: quota "12X" is not a size`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for RowError {}

/// The two shapes an organisation's account list usually comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Spreadsheet export with a header line.
    Csv,
    /// Directory (LDAP) export.
    Ldif,
}

/// Guesses the format so the operator need not say it: from the file name
/// (`.csv` / `.ldif`), else LDIF when the first line that is not a comment
/// starts with `dn:` or `version:`, else CSV.
pub fn detect(name: &str, content: &str) -> Format {
    let name = name.to_ascii_lowercase();
    if name.ends_with(".csv") || name.ends_with(".ldif") {
        return if name.ends_with(".csv") { Format::Csv } else { Format::Ldif };
    }
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let first = content.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
    match first.map(str::to_ascii_lowercase) {
        Some(l) if l.starts_with("dn:") || l.starts_with("version:") => Format::Ldif,
        _ => Format::Csv,
    }
}

/// Parses the whole file: every good row and every bad one, each in file
/// order. An address seen again (case-insensitively) is an error on the later
/// row; a bad row does not claim its address.
pub fn parse(format: Format, content: &str) -> (Vec<ImportRow>, Vec<RowError>) {
    let mut sink = Sink::default();
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    match format {
        Format::Csv => parse_csv(content, &mut sink),
        Format::Ldif => parse_ldif(content, &mut sink),
    }
    (sink.rows, sink.errors)
}

// Indices into `Fields`; CN and CHANGETYPE are LDIF-only pseudo-fields.
const ADDRESS: usize = 0;
const NAME: usize = 1;
const PASSWORD: usize = 2;
const HASH: usize = 3;
const QUOTA: usize = 4;
const QUOTA_MESSAGES: usize = 5;
const NODE: usize = 6;
const CN: usize = 7;
const CHANGETYPE: usize = 8;
/// The raw value of each field of a row, by the indices above.
type Fields = [Option<String>; 7];

/// Collects results in file order and keeps one row per address.
#[derive(Default)]
struct Sink {
    rows: Vec<ImportRow>,
    errors: Vec<RowError>,
    seen: HashMap<String, usize>,
}

impl Sink {
    fn error(&mut self, line: usize, message: impl Into<String>) {
        self.errors.push(RowError { line, message: message.into() });
    }

    fn push(&mut self, line: usize, fields: Fields) {
        match build(line, fields) {
            Err(message) => self.error(line, message),
            Ok(row) => match self.seen.entry(row.address.to_lowercase()) {
                Entry::Occupied(e) => {
                    let message = format!("address {} already on line {}", row.address, e.get());
                    self.error(line, message);
                }
                Entry::Vacant(e) => {
                    e.insert(line);
                    self.rows.push(row);
                }
            },
        }
    }
}

/// Checks and converts the raw fields of one row.
fn build(line: usize, fields: Fields) -> Result<ImportRow, String> {
    let [address, name, password, hash, quota, messages, node] = fields;
    let text = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let address = text(address).ok_or("address is empty")?;
    let password = match (password.filter(|p| !p.trim().is_empty()), text(hash)) {
        (Some(_), Some(_)) => return Err("both password and password_hash are given".into()),
        (Some(p), None) => Some(ImportPassword::Plain(p)),
        (None, Some(h)) if h.starts_with('{') => Some(ImportPassword::Hash(h)),
        (None, Some(_)) => return Err("password_hash does not start with a {SCHEME}".into()),
        (None, None) => None,
    };
    let number = |v: Option<String>, what: &str, size: bool| -> Result<Option<u64>, String> {
        let Some(v) = text(v) else { return Ok(None) };
        let n = if size { parse_size(&v) } else { v.parse().ok() };
        let kind = if size { "a size" } else { "a number" };
        n.map(|n| (n != 0).then_some(n)).ok_or_else(|| format!("{what} {v:?} is not {kind}"))
    };
    Ok(ImportRow {
        line,
        address,
        name: text(name),
        password,
        quota_storage: number(quota, "quota", true)?,
        quota_messages: number(messages, "quota_messages", false)?,
        node: text(node),
    })
}

/// Bytes from `1048576`, or from `500M` with K/M/G/T meaning KiB..TiB.
fn parse_size(s: &str) -> Option<u64> {
    let unit = s.bytes().last()?.to_ascii_uppercase();
    let shift = b"KMGT".iter().position(|&u| u == unit).map_or(0, |i| 10 * (i + 1));
    let digits = if shift == 0 { s } else { s[..s.len() - 1].trim_end() };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

const COLUMNS: &str = "address (mail, email), name (displayname, cn), password, \
    password_hash (hash, userpassword), quota (quota_storage), quota_messages, \
    node (mailhost, home)";

/// The field a CSV header name stands for.
fn csv_column(name: &str) -> Option<usize> {
    Some(match name.to_ascii_lowercase().as_str() {
        "address" | "mail" | "email" => ADDRESS,
        "name" | "displayname" | "cn" => NAME,
        "password" => PASSWORD,
        "password_hash" | "hash" | "userpassword" => HASH,
        "quota" | "quota_storage" => QUOTA,
        "quota_messages" => QUOTA_MESSAGES,
        "node" | "mailhost" | "home" => NODE,
        _ => return None,
    })
}

fn parse_csv(content: &str, sink: &mut Sink) {
    let mut records = CsvRecords { s: content, pos: 0, line: 1 };
    let (hline, names) = match records.next() {
        None => return sink.error(1, "the file is empty: no header line"),
        Some(Err(e)) => return sink.errors.push(e),
        Some(Ok(header)) => header,
    };
    let mut columns = Vec::with_capacity(names.len());
    for name in names.iter().map(|n| n.trim()) {
        match csv_column(name) {
            None => return sink.error(hline, format!("unknown column {name:?}; known: {COLUMNS}")),
            Some(col) if columns.contains(&col) => {
                return sink.error(hline, format!("column {name:?} is given twice"));
            }
            Some(col) => columns.push(col),
        }
    }
    if !columns.contains(&ADDRESS) {
        return sink.error(hline, "no address column (address, mail or email)");
    }
    for record in records {
        match record {
            Err(e) => sink.errors.push(e),
            Ok((line, values)) if values.len() != columns.len() => {
                let (n, s) = (values.len(), if values.len() == 1 { "" } else { "s" });
                sink.error(line, format!("{n} field{s}, the header has {}", columns.len()));
            }
            Ok((line, values)) => {
                let mut fields = Fields::default();
                for (&col, value) in columns.iter().zip(values) {
                    fields[col] = Some(value);
                }
                sink.push(line, fields);
            }
        }
    }
}

/// Splits CSV text into records, each with the line it starts on, skipping
/// blank and `#` comment lines.
struct CsvRecords<'a> {
    s: &'a str,
    pos: usize,
    line: usize,
}

impl CsvRecords<'_> {
    /// Index of the next `want` byte at or after `from`, else the end.
    fn until(&self, from: usize, want: impl Fn(u8) -> bool) -> usize {
        self.s.as_bytes()[from..].iter().position(|&c| want(c)).map_or(self.s.len(), |i| from + i)
    }

    /// Reads one field and the delimiter after it; `true` if the record goes on.
    fn field(&mut self) -> Result<(String, bool), String> {
        let (s, b) = (self.s, self.s.as_bytes());
        let mut p = self.until(self.pos, |c| c != b' ' && c != b'\t');
        let value = if b.get(p) == Some(&b'"') {
            let mut value = String::new();
            loop {
                let q = self.until(p + 1, |c| c == b'"');
                if q == b.len() {
                    self.pos = q;
                    return Err("quoted field is never closed (rest of file skipped)".into());
                }
                self.line += b[p + 1..q].iter().filter(|&&c| c == b'\n').count();
                value.push_str(&s[p + 1..q]);
                p = q + 1;
                if b.get(p) != Some(&b'"') {
                    break;
                }
                value.push('"');
            }
            p = self.until(p, |c| c != b' ' && c != b'\t');
            value
        } else {
            p = self.until(p, |c| c == b',' || c == b'\n');
            let raw = &s[self.pos..p];
            let crlf = b.get(p) != Some(&b',');
            raw.strip_suffix('\r').filter(|_| crlf).unwrap_or(raw).to_owned()
        };
        self.pos = p + 1;
        match b.get(p) {
            Some(b',') => return Ok((value, true)),
            None | Some(b'\n') => {}
            Some(b'\r') if b.get(p + 1) == Some(&b'\n') => self.pos += 1,
            Some(_) => {
                self.pos = (self.until(p, |c| c == b'\n') + 1).min(b.len());
                self.line += 1;
                return Err("text after the closing quote of a field".into());
            }
        }
        self.line += 1;
        Ok((value, false))
    }
}

impl Iterator for CsvRecords<'_> {
    type Item = Result<(usize, Vec<String>), RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.pos >= self.s.len() {
                return None;
            }
            let end = self.until(self.pos, |c| c == b'\n');
            let text = &self.s[self.pos..end];
            if !text.trim().is_empty() && !text.starts_with('#') {
                break;
            }
            (self.pos, self.line) = (end + 1, self.line + 1);
        }
        let (line, mut fields) = (self.line, Vec::new());
        loop {
            let (value, more) = match self.field() {
                Ok(field) => field,
                Err(message) => return Some(Err(RowError { line, message })),
            };
            fields.push(value);
            if !more {
                return Some(Ok((line, fields)));
            }
        }
    }
}

fn parse_ldif(content: &str, sink: &mut Sink) {
    // Logical (unfolded) lines of the current entry, comments included so
    // that their continuation lines fold into them.
    let mut lines: Vec<(usize, Cow<str>)> = Vec::new();
    let mut first = true;
    for (i, raw) in content.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix(' '), lines.last_mut()) {
            (Some(more), Some((_, last))) => last.to_mut().push_str(more),
            _ if raw.is_empty() => ldif_entry(&mut lines, &mut first, sink),
            _ => lines.push((i + 1, Cow::Borrowed(raw))),
        }
    }
    ldif_entry(&mut lines, &mut first, sink);
}

/// Hands one finished entry to `sink` and empties `lines`; a leading
/// `version:` line is dropped from the first entry.
fn ldif_entry(lines: &mut Vec<(usize, Cow<str>)>, first: &mut bool, sink: &mut Sink) {
    lines.retain(|(_, l)| !l.starts_with('#'));
    let version = |l: &str| l.get(..8).is_some_and(|v| v.eq_ignore_ascii_case("version:"));
    if *first && lines.first().is_some_and(|(_, l)| version(l)) {
        lines.remove(0);
    }
    if !lines.is_empty() {
        *first = false;
        match ldif_fields(lines) {
            Ok(fields) => sink.push(lines[0].0, fields),
            Err(e) => sink.errors.push(e),
        }
    }
    lines.clear();
}

/// The fields of one LDIF entry; errors name the offending line.
fn ldif_fields(lines: &[(usize, Cow<str>)]) -> Result<Fields, RowError> {
    let start = lines[0].0;
    let (mut fields, mut cn) = (Fields::default(), None);
    for (n, (line, text)) in lines.iter().enumerate() {
        let err = |message: String| RowError { line: *line, message };
        let attr_char = |c: u8| c.is_ascii_alphanumeric() || b"-;.".contains(&c);
        let (attr, rest) = (text.split_once(':'))
            .filter(|(a, _)| !a.is_empty() && a.bytes().all(attr_char))
            .ok_or_else(|| err("not an `attribute: value` line".into()))?;
        let attr = attr.split(';').next().unwrap_or(attr);
        let slot = match attr.to_ascii_lowercase().as_str() {
            "dn" if n == 0 => continue,
            "dn" => return Err(err("a second dn: in one entry (missing blank line?)".into())),
            _ if n == 0 => return Err(err("entry does not start with dn:".into())),
            "mail" => ADDRESS,
            "displayname" => NAME,
            "cn" => CN,
            "userpassword" => HASH,
            "kotakquotastorage" => QUOTA,
            "kotakquotamessages" => QUOTA_MESSAGES,
            "mailhost" => NODE,
            "changetype" => CHANGETYPE,
            _ => continue,
        };
        let value = ldif_value(rest).map_err(|m| err(format!("{attr}: {m}")))?;
        match slot {
            CHANGETYPE if value.trim().eq_ignore_ascii_case("add") => {}
            CHANGETYPE => {
                return Err(err(format!("changetype {:?} is not imported, only add", value.trim())))
            }
            CN if cn.is_none() => cn = Some(value),
            CN => {}
            HASH if !value.starts_with('{') => {
                let message = "userPassword without a {SCHEME}: plain text is not imported";
                return Err(err(format!("{message} from LDIF")));
            }
            _ if fields[slot].replace(value).is_some() => {
                return Err(err(format!("more than one {attr} value")))
            }
            _ => {}
        }
    }
    if fields[ADDRESS].is_none() {
        return Err(RowError { line: start, message: "entry has no mail attribute".into() });
    }
    fields[NAME] = fields[NAME].take().or(cn);
    Ok(fields)
}

/// The text of an LDIF value from what follows the attribute's `:`.
fn ldif_value(rest: &str) -> Result<String, String> {
    if let Some(encoded) = rest.strip_prefix(':') {
        let bytes = (base64::engine::general_purpose::STANDARD.decode(encoded.trim()))
            .map_err(|_| "invalid base64".to_owned())?;
        String::from_utf8(bytes).map_err(|_| "base64 value is not UTF-8 text".to_owned())
    } else if rest.starts_with('<') {
        Err("values read from a URL (:<) are not imported".into())
    } else {
        Ok(rest.trim_start_matches(' ').to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ImportPassword::{Hash, Plain};

    fn row(line: usize, address: &str) -> ImportRow {
        let (name, password, quota_storage, quota_messages, node) = (None, None, None, None, None);
        let address = address.into();
        ImportRow { line, address, name, password, quota_storage, quota_messages, node }
    }

    fn with(row: ImportRow, name: Option<&str>, password: Option<ImportPassword>) -> ImportRow {
        ImportRow { name: name.map(Into::into), password, ..row }
    }

    fn plain(p: &str) -> Option<ImportPassword> {
        Some(Plain(p.into()))
    }

    type Case<'a> = (&'a str, Vec<ImportRow>, &'a [(usize, &'a str)]);

    /// Checks the good rows exactly and each error's line and message start.
    fn check(format: Format, cases: &[Case]) {
        for (content, rows, errors) in cases {
            let (got, errs) = parse(format, content);
            assert_eq!(&got, rows, "rows of {content:?}");
            assert_eq!(errs.len(), errors.len(), "errors of {content:?}: {errs:?}");
            for (e, (line, start)) in errs.iter().zip(errors.iter()) {
                let ok = e.line == *line && e.message.starts_with(start);
                assert!(ok, "{content:?}: got {e}, want line {line}: {start}");
            }
        }
    }

    #[test]
    fn csv_good() {
        let full = ImportRow {
            quota_storage: Some(500 << 20),
            quota_messages: Some(1000),
            node: Some("n1".into()),
            ..with(row(2, "a@x.test"), Some("Ann"), plain("pw"))
        };
        let hashed = ImportRow {
            node: Some("n2".into()),
            ..with(row(2, "b@x.test"), Some("Bob"), Some(Hash("{SSHA}abc".into())))
        };
        let quota = |line, q| ImportRow { quota_storage: Some(q), ..row(line, "d@x.test") };
        check(Format::Csv, &[
            ("address,name,password,quota,quota_messages,node\na@x.test,Ann,pw,500M,1000,n1\n",
                vec![full], &[]),
            ("MailHost,Hash,CN,EMail,Quota_Storage\nn2,{SSHA}abc,Bob, b@x.test ,0",
                vec![hashed.clone()], &[]),
            ("node,password_hash,name,address\nn2,{SSHA}abc,Bob,b@x.test\n", vec![hashed], &[]),
            ("home,DisplayName,mail,userPassword,quota_messages,password\n,,b@x.test,,, \n",
                vec![row(2, "b@x.test")], &[]),
            ("email,quota\nd@x.test,2g\n", vec![quota(2, 2 << 30)], &[]),
            // Quotes: commas, "" escapes, newlines (later lines move on), spaces kept in passwords.
            ("address,name,password\n\"a@x.test\",\"Smith, Ann \"\"A\"\"\",\"p,w\"\n\
              b@x.test,\"two\nlines\",\"  sp \"\nc@x.test, \"C, D\" ,\n", vec![
                with(row(2, "a@x.test"), Some("Smith, Ann \"A\""), plain("p,w")),
                with(row(3, "b@x.test"), Some("two\nlines"), plain("  sp ")),
                with(row(5, "c@x.test"), Some("C, D"), None),
            ], &[]),
            // BOM, CRLF, comments, blank lines, a quoted last field, no final newline.
            ("\u{feff}# export\r\naddress,name,password\r\n\r\na@x.test,Ann,pw\r\n# note\r\n  \r\n\
              b@x.test,Bob,\"q\"\r\nc@x.test,Cy,", vec![
                with(row(4, "a@x.test"), Some("Ann"), plain("pw")),
                with(row(7, "b@x.test"), Some("Bob"), plain("q")),
                with(row(8, "c@x.test"), Some("Cy"), None),
            ], &[]),
        ]);
    }

    macro_rules! h {
        ($rows:literal) => {
            concat!("address,password,password_hash,quota,quota_messages\n", $rows)
        };
    }

    #[test]
    fn csv_errors() {
        let quota = |line, q| ImportRow { quota_storage: Some(q), ..row(line, "a@x.test") };
        let messages = ImportRow { quota_messages: Some(2), ..row(5, "c@x.test") };
        check(Format::Csv, &[
            (h!("a@x.test,p,{SSHA}x,,\n"), vec![], &[(2, "both password and password_hash")]),
            (h!(" ,p,,,\n"), vec![], &[(2, "address is empty")]),
            (h!("a@x.test,,nohash,,\n"), vec![], &[(2, "password_hash does not start with a {")]),
            (h!("a@x.test,,,12X,\n"), vec![], &[(2, "quota \"12X\" is not a size")]),
            (h!("a@x.test,,,99999999T,\n"), vec![], &[(2, "quota \"99999999T\" is not a size")]),
            (h!("a@x.test,,,,many\n"), vec![], &[(2, "quota_messages \"many\" is not a number")]),
            (h!("a@x.test,p\nb@x.test,,,,,\nc@x.test,,,,\n"), vec![row(4, "c@x.test")],
                &[(2, "2 fields, the header has 5"), (3, "6 fields")]),
            (h!("# c\na@x.test,,,1,\nb@x.test,,,1Q,\nc@x.test,,,,2\n"), vec![quota(3, 1), messages],
                &[(4, "quota \"1Q\" is not a size")]),
            ("address,colour\na@x.test,red\n", vec![], &[(1, "unknown column \"colour\"; known")]),
            ("name\nAnn\n", vec![], &[(1, "no address column")]),
            ("mail,Email\n", vec![], &[(1, "column \"Email\" is given twice")]),
            ("# only a comment\n", vec![], &[(1, "the file is empty")]),
            ("address,name\na@x.test,\"Ann\nb@x.test,B\n", vec![], &[(2, "quoted field is never")]),
            ("address,name\na@x.test,\"Ann\"x\nb@x.test,B\n",
                vec![with(row(3, "b@x.test"), Some("B"), None)], &[(2, "text after the closing")]),
            // Duplicates, case-insensitive; a bad row does not claim its address.
            ("address\na@x.test\nb@x.test\nA@X.test\n",
                vec![row(2, "a@x.test"), row(3, "b@x.test")],
                &[(4, "address A@X.test already on line 2")]),
            ("address,quota\na@x.test,bad\na@x.test,1\n", vec![quota(3, 1)], &[(2, "quota")]),
        ]);
    }

    #[test]
    fn sizes() {
        for (text, want) in [
            ("0", Some(0)), ("1024", Some(1024)), ("1K", Some(1024)), ("500M", Some(500 << 20)),
            ("2g", Some(2 << 30)), ("1 T", Some(1 << 40)), ("M", None), ("1.5G", None),
            ("-1", None), ("+1", None), ("12X", None), ("20000000T", None),
        ] {
            assert_eq!(parse_size(text), want, "{text:?}");
        }
    }

    const LDIF: &str = "version: 1\n# a comment that is\n  folded\n\n\
        dn: uid=ann,ou=people,dc=x,dc=test\nobjectClass: inetOrgPerson\nmail: ann@x.test\n\
        cn: Ann Other\ndisplayName:: Wm/DqyBBbm4=\nuserPassword:: e1NTSEF9YWJjZGVm\n\
        kotakQuotaStorage: 1G\nkotakQuotaMessages: 5000\nmailHost: node\n -2\njpegPhoto:: //4=\n\
        photo:< file:///tmp/ann.jpg\n\n\n# between entries\ndn: uid=bob,dc=x,dc=test\n\
        changetype: add\nMAIL;lang-en: bob@x.te\n st\ncn: Bob\ncn: Robert\n\
        userPassword: {CRYPT}$6$x";

    #[test]
    fn ldif_good() {
        let ann = ImportRow {
            quota_storage: Some(1 << 30),
            quota_messages: Some(5000),
            node: Some("node-2".into()),
            ..with(row(5, "ann@x.test"), Some("Zoë Ann"), Some(Hash("{SSHA}abcdef".into())))
        };
        let bob = with(row(20, "bob@x.test"), Some("Bob"), Some(Hash("{CRYPT}$6$x".into())));
        let crlf = LDIF.replace('\n', "\r\n");
        check(Format::Ldif, &[
            (LDIF, vec![ann.clone(), bob.clone()], &[]),
            (&crlf, vec![ann, bob], &[]),
            ("\u{feff}dn: x\nmail: c@x.test\n", vec![row(1, "c@x.test")], &[]),
        ]);
    }

    #[test]
    fn ldif_errors() {
        check(Format::Ldif, &[
            ("mail: a@x.test\n", vec![], &[(1, "entry does not start with dn:")]),
            ("dn: a\nmail: a@x.test\nmail: b@x.test\n", vec![], &[(3, "more than one mail value")]),
            ("dn: a\nmail: a@x.test\nuserPassword: secret\n", vec![],
                &[(3, "userPassword without a {SCHEME}: plain text is not imported from LDIF")]),
            ("dn: a\nmail:: !!!\n", vec![], &[(2, "mail: invalid base64")]),
            ("dn: a\nmail: a@x.test\ndisplayName:: //4=\n", vec![],
                &[(3, "displayName: base64 value is not UTF-8 text")]),
            ("dn: a\nmail: a@x.test\ncn:< file:///etc/passwd\n", vec![],
                &[(3, "cn: values read from a URL (:<) are not imported")]),
            ("dn: a\nchangetype: modify\nmail: a@x.test\n", vec![],
                &[(2, "changetype \"modify\" is not imported, only add")]),
            ("dn: a\ncn: A\n", vec![], &[(1, "entry has no mail attribute")]),
            ("dn: a\nmail a@x.test\n", vec![], &[(2, "not an `attribute: value` line")]),
            ("\n dn: a\nmail: a@x.test\n", vec![], &[(2, "not an `attribute: value` line")]),
            ("dn: a\nmail: a@x.test\nkotakQuotaStorage: lots\n", vec![], &[(1, "quota \"lots\"")]),
            ("dn: a\nmail: a@x.test\ndn: b\nmail: b@x.test\n", vec![], &[(3, "a second dn:")]),
            ("dn: a\nmail: a@x\n\ndn: b\nmail: b@x\nuserPassword: x\n\ndn: c\nmail: A@X",
                vec![row(1, "a@x")], &[(6, "userPassword without"), (8, "address A@X already on")]),
        ]);
    }

    #[test]
    fn detect_format() {
        for (name, content, want) in [
            ("users.csv", "dn: x", Format::Csv),
            ("USERS.LDIF", "a,b", Format::Ldif),
            ("users", "# c\n\nversion: 1\n", Format::Ldif),
            ("users", "\u{feff}DN: x", Format::Ldif),
            ("users.txt", "address,name\n", Format::Csv),
            ("users", "", Format::Csv),
        ] {
            assert_eq!(detect(name, content), want, "{name} {content:?}");
        }
    }

    #[test]
    fn big_csv_is_fast() {
        let mut csv = String::from("address,name,password,quota,quota_messages,node\n");
        for i in 0..25_000 {
            let node = i % 4;
            csv.push_str(&format!("u{i}@b.test,\"User {i}, Sales\",pw{i},1G,100000,node{node}\n"));
        }
        let started = std::time::Instant::now();
        let (rows, errors) = parse(Format::Csv, &csv);
        println!("25,000 CSV rows parsed in {:?}", started.elapsed());
        assert_eq!((rows.len(), errors.len()), (25_000, 0));
        assert_eq!(rows[24_999].line, 25_001);
    }
}
