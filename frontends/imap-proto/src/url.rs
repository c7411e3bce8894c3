//! IMAP URLs (RFC 5092) naming one message or part of one, as CATENATE
//! (RFC 4469) takes them, with `;PARTIAL` (RFC 5550): the absolute form
//! `imap://user@host/Mailbox;UIDVALIDITY=n/;UID=m/;SECTION=s/;PARTIAL=o.l`
//! and the relative ones that start at the mailbox (`/Mailbox...`) or, in
//! the selected mailbox, at the UID (`;UID=m...`).
//! URLAUTH's parameters are not taken.

/// A parsed message URL; its texts are percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageUrl {
    /// The user an absolute URL names (without `;AUTH=`), if any.
    pub user: Option<Vec<u8>>,
    /// The mailbox name (UTF-8, as RFC 5092 encodes it); `None` for a URL
    /// relative to the selected mailbox.
    pub mailbox: Option<Vec<u8>>,
    /// The UIDVALIDITY the message's UID belongs to, if given.
    pub uidvalidity: Option<u32>,
    /// The message's UID.
    pub uid: u32,
    /// The section spec (`1.MIME`, `HEADER`), if given.
    pub section: Option<Vec<u8>>,
    /// `;PARTIAL=offset[.length]`: the byte range within the section.
    pub partial: Option<(u32, Option<u32>)>,
}

/// Parses `url`, or `None` when it is not a message URL this server takes.
pub fn parse(url: &[u8]) -> Option<MessageUrl> {
    let (user, path) = match strip_prefix_ci(url, b"imap://") {
        Some(rest) => {
            let slash = rest.iter().position(|&b| b == b'/')?;
            let server = &rest[..slash];
            let user = server.iter().rposition(|&b| b == b'@').map(|at| {
                let info = &server[..at];
                let end = find_ci(info, b";AUTH=").unwrap_or(info.len());
                &info[..end]
            });
            let user = match user {
                Some(user) => Some(decode(user)?),
                None => None,
            };
            (user, &rest[slash..])
        }
        None => (None, url),
    };
    let (mailbox, params) = match path.strip_prefix(b"/") {
        Some(path) => {
            let semicolon = path.iter().position(|&b| b == b';')?;
            let mailbox = decode(path[..semicolon].strip_suffix(b"/").unwrap_or(&path[..semicolon]))?;
            if mailbox.is_empty() {
                return None;
            }
            (Some(mailbox), &path[semicolon + 1..])
        }
        // Relative to the selected mailbox (an absolute URL's path starts with `/`).
        None => (None, path.strip_prefix(b";")?),
    };
    let mut params = params.split(|&b| b == b';').peekable();
    // Each parameter but the last ends with the `/` before the next `;`.
    let mut next = |key: &[u8]| -> Option<Option<Vec<u8>>> {
        let Some(param) = params.peek() else { return Some(None) };
        let Some(value) = strip_prefix_ci(param, key) else { return Some(None) };
        let value = if params.clone().nth(1).is_some() { value.strip_suffix(b"/")? } else { value };
        params.next();
        decode(value).map(Some)
    };
    let uidvalidity = match next(b"UIDVALIDITY=")? {
        Some(v) => Some(number(&v)?),
        None => None,
    };
    let uid = number(&next(b"UID=")??)?;
    let section = next(b"SECTION=")?;
    let partial = match next(b"PARTIAL=")? {
        Some(v) => Some(partial_range(&v)?),
        None => None,
    };
    if params.next().is_some() {
        return None;
    }
    Some(MessageUrl { user, mailbox, uidvalidity, uid, section, partial })
}

/// `number ["." nz-number]`.
fn partial_range(text: &[u8]) -> Option<(u32, Option<u32>)> {
    match text.iter().position(|&b| b == b'.') {
        Some(dot) => {
            let length = number(&text[dot + 1..])?;
            (length > 0).then_some(())?;
            Some((number(&text[..dot])?, Some(length)))
        }
        None => Some((number(text)?, None)),
    }
}

/// A decimal `u32` and nothing else.
fn number(text: &[u8]) -> Option<u32> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Undoes `%XX` escapes.
fn decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' {
            let hex = std::str::from_utf8(text.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    Some(out)
}

fn strip_prefix_ci<'t>(text: &'t [u8], prefix: &[u8]) -> Option<&'t [u8]> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

fn find_ci(text: &[u8], needle: &[u8]) -> Option<usize> {
    text.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(mailbox: &str, uidvalidity: Option<u32>, uid: u32, section: Option<&str>, partial: Option<(u32, Option<u32>)>) -> MessageUrl {
        let section = section.map(|s| s.as_bytes().to_vec());
        let mailbox = (!mailbox.is_empty()).then(|| mailbox.as_bytes().to_vec());
        MessageUrl { user: None, mailbox, uidvalidity, uid, section, partial }
    }

    #[test]
    fn forms() {
        let p = |s: &str| parse(s.as_bytes());
        assert_eq!(p("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER"), Some(url("Drafts", Some(385759045), 20, Some("HEADER"), None)));
        assert_eq!(p("/INBOX/;UID=3"), Some(url("INBOX", None, 3, None, None)));
        assert_eq!(p("/INBOX;UIDVALIDITY=1/;UID=3/;PARTIAL=5.10"), Some(url("INBOX", Some(1), 3, None, Some((5, Some(10))))));
        assert_eq!(p("/a%20b/c;UIDVALIDITY=1/;UID=3/;SECTION=HEADER.FIELDS%20(From)/;PARTIAL=7"), Some(url("a b/c", Some(1), 3, Some("HEADER.FIELDS (From)"), Some((7, None)))));
        let mut absolute = url("INBOX", Some(9), 2, Some("1"), None);
        absolute.user = Some(b"bob@x.test".to_vec());
        assert_eq!(p("imap://bob%40x.test;AUTH=*@mail.x.test:143/INBOX;UIDVALIDITY=9/;UID=2/;SECTION=1"), Some(absolute));
        assert_eq!(p(";UID=4/;SECTION=TEXT"), Some(url("", None, 4, Some("TEXT"), None)));
        for bad in ["INBOX;UID=1", ";UIDX=1", "/;UID=1", "/INBOX", "/INBOX/;UID=x", "/INBOX/;UID=1/;PARTIAL=1.0", "/INBOX/;UID=1/;EXPIRE=2030", "/INBOX/;UID=1/;URLAUTH=x", "/I%zz/;UID=1", "imap://host"] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }
}
