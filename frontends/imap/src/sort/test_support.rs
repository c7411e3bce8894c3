//! Builders shared by the SORT and THREAD tests.

use super::{write_threads, SortKeys, ThreadNode};
use kotak_engine::mime::Address;

/// An address with an optional display name.
pub(crate) fn address(name: Option<&str>, mailbox: &str, host: &str) -> Address {
    Address { name: name.map(str::to_string), mailbox: Some(mailbox.into()), host: Some(host.into()) }
}

/// A message for threading tests: its Message-ID, References, subject and
/// sent date.
pub(crate) fn message(id: &str, references: &[&str], subject: &str, sent: i64) -> SortKeys {
    SortKeys {
        message_id: (!id.is_empty()).then(|| id.to_string()),
        references: references.iter().map(|r| r.to_string()).collect(),
        subject: Some(subject.into()),
        sent: Some(sent),
        ..SortKeys::default()
    }
}

/// Threads written with sequence numbers.
pub(crate) fn render(threads: &[ThreadNode]) -> String {
    let mut out = Vec::new();
    write_threads(&mut out, threads, |i| i as u32 + 1);
    String::from_utf8_lossy(&out).into_owned()
}

/// Indexes of every message.
pub(crate) fn all(keys: &[SortKeys]) -> Vec<usize> {
    (0..keys.len()).collect()
}
