//! RFC 8970's PREVIEW item, and the `SNIPPET (FUZZY ...)` form of its
//! drafts that Dovecot still answers: the preview text the engine stored in
//! the summary at delivery, so no body is read.

use super::FetchSource;
use crate::wire;
use kotak_engine::Error;
use std::borrow::Cow;

/// Writes `PREVIEW <nstring>` (or `SNIPPET (FUZZY <nstring>)`). A summary
/// stored before previews were kept has none: the preview is then computed
/// from the body (each time; it is not stored), or with `lazy`, `NIL` is
/// sent instead, which RFC 8970 allows when a preview is not readily there.
pub(super) fn write_preview(out: &mut Vec<u8>, src: &FetchSource<'_>, lazy: bool, snippet: bool) -> Result<(), Error> {
    let summary = src.summary()?;
    let text = match &summary.preview {
        Some(stored) => Some(Cow::Borrowed(stored.as_str())),
        None if lazy => None,
        None => Some(Cow::Owned(kotak_engine::preview::preview(src.raw()?, &summary.root))),
    };
    let text = text.as_deref().map(str::as_bytes);
    if snippet {
        out.extend_from_slice(b"SNIPPET (FUZZY ");
        wire::nstring(out, text);
        out.push(b')');
    } else {
        out.extend_from_slice(b"PREVIEW ");
        wire::nstring(out, text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::testdata::{self, flags, mailbox};

    fn written(src: &FetchSource<'_>, lazy: bool, snippet: bool) -> String {
        let mut out = Vec::new();
        write_preview(&mut out, src, lazy, snippet).expect("written");
        String::from_utf8(out).expect("utf-8")
    }

    #[tokio::test]
    async fn stored_previews_need_no_body() {
        let mb = mailbox(&[(testdata::SIMPLE, flags(0, &[]), 0), (testdata::ALTERNATIVE, flags(0, &[]), 0)]).await;
        mb.damage(0);
        let src = FetchSource::new(&mb.account, &mb.messages[0]);
        assert_eq!(written(&src, false, false), "PREVIEW \"line1 line2\"");
        assert_eq!(written(&src, true, true), "SNIPPET (FUZZY \"line1 line2\")");
        assert!(src.raw.get().is_none(), "the body was read");
        let src = FetchSource::new(&mb.account, &mb.messages[1]);
        assert_eq!(written(&src, false, false), "PREVIEW {6}\r\ncafé!");
    }

    #[tokio::test]
    async fn summaries_without_a_preview_compute_it_unless_lazy() {
        let mb = mailbox(&[(testdata::SIMPLE, flags(0, &[]), 0)]).await;
        let old_summary = || {
            let summary = mb.account.summary(&mb.messages[0]).expect("summary");
            kotak_engine::mime::Summary { preview: None, ..summary }
        };
        let src = FetchSource::new(&mb.account, &mb.messages[0]);
        src.summary.set(old_summary()).expect("empty cell");
        assert_eq!(written(&src, true, false), "PREVIEW NIL");
        assert_eq!(written(&src, true, true), "SNIPPET (FUZZY NIL)");
        assert_eq!(written(&src, false, false), "PREVIEW \"line1 line2\"");
    }
}
