//! The message sent in `BDAT` chunks (CHUNKING, RFC 3030): each chunk is
//! exactly as many bytes as its command said, with no dot-stuffing and no
//! end marker, so nothing inside a chunk can end the message early.
//!
//! - The size limit is checked when a chunk is announced, before a byte of
//!   it is stored: a chunk that would take the message past the limit makes
//!   it refused, and its bytes (and those of later chunks) are read and
//!   dropped, so the session stays in step with the client.
//! - The content must use CRLF line ends, as a message relayed later with
//!   `DATA` must (BINARYMIME is not offered): a bare CR or LF anywhere,
//!   across chunk boundaries too, refuses the message.
//! - A message that does not end with CRLF gets one, as RFC 3030 asks of a
//!   server that relays it with `DATA`.
//!
//! Pure: bytes in, a message (or the reason it was refused) out.

use crate::data::{Fault, Received};

/// What a chunk's last byte led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// A chunk that was not the last is complete: reply to it and wait for
    /// the next `BDAT`. Carries the fault if the message is already refused.
    More(Option<Fault>),
    /// The last chunk is complete: the message (or why it is refused).
    Last(Received),
}

/// Collects one message from its chunks. Create one at the first `BDAT`
/// of a transaction.
#[derive(Debug)]
pub struct ChunkReceiver {
    limit: usize,
    message: Vec<u8>,
    fault: Option<Fault>,
    /// Bytes of the current chunk still to come.
    remaining: u64,
    /// Whether the current chunk is the last.
    last: bool,
    /// Whether a chunk was started and is not complete yet.
    in_chunk: bool,
    /// The byte before the ones being fed (CR or LF checks span chunks).
    previous: u8,
}

impl ChunkReceiver {
    /// A receiver whose message starts with `prefix` (the trace fields),
    /// followed by at most `limit` bytes from the client.
    pub fn new(prefix: Vec<u8>, limit: usize) -> Self {
        let limit = limit.saturating_add(prefix.len());
        ChunkReceiver {
            limit,
            message: prefix,
            fault: None,
            remaining: 0,
            last: false,
            in_chunk: false,
            previous: b'\n',
        }
    }

    /// Starts the chunk a `BDAT size [LAST]` announced; call [`Self::feed`]
    /// next (even for a chunk of 0 bytes, which completes at once).
    pub fn start(&mut self, size: u64, last: bool) {
        self.remaining = size;
        self.last = last;
        self.in_chunk = true;
        if self.fault.is_none() && size > (self.limit - self.message.len()) as u64 {
            self.refuse(Fault::TooLarge);
        }
        if self.fault.is_none() {
            // The limit was checked above, so this reserves at most it.
            self.message.reserve(size as usize);
        }
    }

    /// Whether a chunk was started and not all of its bytes were fed yet;
    /// between chunks the input holds commands.
    pub fn in_chunk(&self) -> bool {
        self.in_chunk
    }

    /// Consumes the current chunk's bytes from `input`; returns how many
    /// were taken and, once the chunk is complete, what it completed. The
    /// bytes after it are the client's next command and are left alone.
    /// Between chunks it takes nothing and reports nothing.
    pub fn feed(&mut self, input: &[u8]) -> (usize, Option<Chunk>) {
        let take = input
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let bytes = &input[..take];
        self.remaining -= take as u64;
        if self.fault.is_none() {
            self.check_line_ends(bytes);
        }
        if self.fault.is_none() {
            self.message.extend_from_slice(bytes);
        }
        if let Some(&byte) = bytes.last() {
            self.previous = byte;
        }
        if self.remaining > 0 || !self.in_chunk {
            return (take, None);
        }
        self.in_chunk = false;
        if !self.last {
            return (take, Some(Chunk::More(self.fault)));
        }
        (take, Some(Chunk::Last(self.finish())))
    }

    /// Refuses the message on a CR not followed by LF or a LF not preceded
    /// by CR; a CR at the very end waits for the next byte.
    fn check_line_ends(&mut self, bytes: &[u8]) {
        if self.previous == b'\r' && bytes.first().is_some_and(|&b| b != b'\n') {
            self.refuse(Fault::BareLineEnd);
            return;
        }
        let mut at = 0;
        while let Some(found) = memchr::memchr2(b'\r', b'\n', &bytes[at..]) {
            let i = at + found;
            let bare = match bytes[i] {
                b'\r' => bytes.get(i + 1).is_some_and(|&next| next != b'\n'),
                _ => (if i == 0 { self.previous } else { bytes[i - 1] }) != b'\r',
            };
            if bare {
                self.refuse(Fault::BareLineEnd);
                return;
            }
            at = i + 1;
        }
    }

    fn refuse(&mut self, fault: Fault) {
        if self.fault.is_none() {
            self.fault = Some(fault);
            self.message = Vec::new();
        }
    }

    fn finish(&mut self) -> Received {
        if self.fault.is_none() && self.previous == b'\r' {
            self.refuse(Fault::BareLineEnd);
        }
        match self.fault {
            Some(fault) => Received::Refused(fault),
            None => {
                let mut message = std::mem::take(&mut self.message);
                if !message.is_empty() && !message.ends_with(b"\r\n") {
                    message.extend_from_slice(b"\r\n");
                }
                Received::Message(message)
            }
        }
    }
}

#[cfg(test)]
mod tests;
