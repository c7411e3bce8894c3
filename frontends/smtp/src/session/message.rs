//! DATA and BDAT, and the end of a message: the filters judge it, the
//! trace field and the filters' fields go in front of it, and it goes into
//! the queue. The `250` is sent only once the queue has it on disk.

use super::{forged, Envelope, Flow, Greeted, Session, State, Tls};
use crate::filter::{Decision, MessageContext};
use bytes::{Buf, BytesMut};
use kotak_engine::queue::{DsnRet, NewQueueMessage};
use kotak_smtp_proto::bdat::{Chunk, ChunkReceiver};
use kotak_smtp_proto::command::Ret;
use kotak_smtp_proto::data::{DataReceiver, Fault, Received};
use kotak_smtp_proto::trace::Trace;
use kotak_smtp_proto::Reply;

impl Session {
    pub(super) fn data(&mut self) -> Reply {
        if let Err(reply) = self.ready_for_data() {
            return reply;
        }
        if let State::Envelope(envelope) = std::mem::replace(&mut self.state, State::Ready) {
            let receiver = DataReceiver::new(self.trace(&envelope), self.limit());
            self.state = State::Data(envelope, receiver);
        }
        Reply::plain(354, "Start mail input; end with <CRLF>.<CRLF>")
    }

    /// BDAT: starts or continues the chunked message; its reply comes once
    /// the chunk is read. A chunk that cannot be taken is still read (and
    /// dropped) before its refusal is sent, and the transaction stays as it
    /// was.
    pub(super) fn bdat(&mut self, size: u64, last: bool) {
        if let State::Chunks(_, receiver) = &mut self.state {
            receiver.start(size, last);
            return;
        }
        if let Err(reply) = self.ready_for_data() {
            self.skip = Some((size, reply));
            return;
        }
        let State::Envelope(envelope) = std::mem::replace(&mut self.state, State::Ready) else {
            unreachable!("ready for data")
        };
        let mut receiver = ChunkReceiver::new(self.trace(&envelope), self.limit());
        receiver.start(size, last);
        self.state = State::Chunks(envelope, receiver);
    }

    /// Why a transaction cannot take its data now, if it cannot.
    fn ready_for_data(&self) -> Result<(), Reply> {
        match &self.state {
            State::Envelope(envelope) if !envelope.recipients.is_empty() => Ok(()),
            State::Envelope(_) => Err(Reply::new(554, "5.5.1", "No valid recipients")),
            State::Fresh => Err(Reply::new(503, "5.5.1", "Send EHLO or HELO first")),
            _ => Err(Reply::new(503, "5.5.1", "Send MAIL and RCPT first")),
        }
    }

    /// The largest message a client may send.
    fn limit(&self) -> usize {
        usize::try_from(self.mx.config.max_message_size).unwrap_or(usize::MAX)
    }

    /// The `Received` field put in front of the message (RFC 5321 4.4), with
    /// the protocol named as RFC 3848 and RFC 6531 do.
    fn trace(&self, envelope: &Envelope) -> Vec<u8> {
        let (greeted, name) = match &self.greeted {
            Some((greeted, name)) => (*greeted, name.as_str()),
            None => (Greeted::Helo, ""),
        };
        let tls = match &self.tls {
            Tls::Active(version) => Some(version.as_str()),
            _ => None,
        };
        let protocol = match (greeted, envelope.mail.smtputf8, tls.is_some()) {
            (Greeted::Helo, _, false) => "SMTP",
            (Greeted::Helo, _, true) => "SMTPS",
            (Greeted::Ehlo, false, false) => "ESMTP",
            (Greeted::Ehlo, false, true) => "ESMTPS",
            (Greeted::Ehlo, true, false) => "UTF8SMTP",
            (Greeted::Ehlo, true, true) => "UTF8SMTPS",
        };
        let single_recipient = match envelope.accepted.as_slice() {
            [only] => Some(only.as_str()),
            _ => None,
        };
        Trace {
            client_name: name,
            peer: self.peer,
            hostname: &self.mx.config.hostname,
            sender: &envelope.mail.sender,
            single_recipient,
            at: chrono::Utc::now(),
            protocol,
            tls,
            return_path: false,
        }
        .fields()
    }

    /// Feeds message data from `input`. Returns `None` when the message (or
    /// chunk) is over and its reply written, so commands follow; `Some` when
    /// more input is needed or the connection ends.
    pub(super) async fn receive_data(
        &mut self,
        input: &mut BytesMut,
        out: &mut Vec<u8>,
    ) -> Option<Flow> {
        if let Some((remaining, _)) = &mut self.skip {
            let take = input
                .len()
                .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
            input.advance(take);
            *remaining -= take as u64;
            if *remaining > 0 {
                return Some(Flow::Read);
            }
            let (_, reply) = self.skip.take().expect("skipping");
            return self.answer(reply, out);
        }
        let outcome = match &mut self.state {
            State::Data(_, receiver) => {
                let (used, done) = receiver.feed(input);
                input.advance(used);
                done.map(Chunk::Last)
            }
            State::Chunks(_, receiver) => {
                let (used, done) = receiver.feed(input);
                input.advance(used);
                done
            }
            _ => return None,
        };
        let Some(outcome) = outcome else {
            return Some(Flow::Read);
        };
        let reply = match outcome {
            Chunk::More(None) => Reply::new(250, "2.0.0", "Chunk received"),
            Chunk::More(Some(fault)) => fault_reply(fault),
            Chunk::Last(received) => {
                let envelope = match std::mem::replace(&mut self.state, State::Ready) {
                    State::Data(envelope, _) | State::Chunks(envelope, _) => envelope,
                    _ => unreachable!("receiving data"),
                };
                self.finish(envelope, received).await
            }
        };
        self.answer(reply, out)
    }

    /// The end of a message: refusals for faults, then the filters, the
    /// added fields and the queue.
    async fn finish(&mut self, envelope: Envelope, received: Received) -> Reply {
        let mut message = match received {
            Received::Message(message) => message,
            Received::Refused(fault) => {
                tracing::info!(peer = %self.peer, sender = %envelope.mail.sender, ?fault, "message refused");
                return fault_reply(fault);
            }
        };
        let trace_len = trace_length(&message);
        let helo = self.greeted.as_ref().map_or("", |(_, name)| name.as_str());
        let context = MessageContext {
            peer: self.peer,
            helo,
            sender: &envelope.mail.sender,
            recipients: &envelope.accepted,
            tls: matches!(self.tls, Tls::Active(_)),
        };
        let verdict = self
            .mx
            .filters
            .check_message(&context, &message[trace_len..])
            .await;
        match verdict.decision {
            Decision::Accept => {}
            Decision::Reject { code, status, text } | Decision::TempFail { code, status, text } => {
                tracing::info!(peer = %self.peer, sender = %envelope.mail.sender, code, %status, %text, "message refused by the filters");
                return Reply::new(code, status, text);
            }
        }
        // The filters judged what the client sent; fields only we may
        // write are dropped from it before ours go in front.
        let mut sent = message.split_off(trace_len);
        forged::remove_forged_fields(&mut sent, &self.mx.config.hostname);
        message.extend_from_slice(&verdict.fields);
        message.append(&mut sent);
        let size = message.len();
        let recipients = envelope.recipients.len();
        let queued = NewQueueMessage {
            sender: envelope.mail.sender,
            envid: envelope.mail.envid,
            ret: envelope.mail.ret.map(|ret| match ret {
                Ret::Full => DsnRet::Full,
                Ret::Headers => DsnRet::Headers,
            }),
            recipients: envelope.recipients,
            message,
        };
        match self.mx.queue.enqueue(queued).await {
            Ok(id) => {
                tracing::info!(peer = %self.peer, id, size, recipients, junk = verdict.junk, "message queued");
                Reply::new(250, "2.0.0", format!("Ok: queued as {id}"))
            }
            Err(kotak_engine::Error::QueueFull) => {
                tracing::warn!(peer = %self.peer, size, "queue full; message deferred");
                Reply::new(452, "4.3.1", "Insufficient system storage, try again later")
            }
            Err(e) => {
                tracing::error!(peer = %self.peer, error = %e, "queueing failed");
                Reply::new(451, "4.3.0", "Local error in processing, try again later")
            }
        }
    }
}

/// The length of the `Received` field at the start of `message` (the
/// session's own, so it is well formed): up to the first CRLF not followed
/// by a folded line.
pub(super) fn trace_length(message: &[u8]) -> usize {
    let mut end = 0;
    while let Some(crlf) = memchr::memmem::find(&message[end..], b"\r\n") {
        end += crlf + 2;
        if message.get(end) != Some(&b'\t') {
            break;
        }
    }
    end
}

fn fault_reply(fault: Fault) -> Reply {
    match fault {
        Fault::TooLarge => Reply::too_large(),
        Fault::BareLineEnd => Reply::new(550, "5.6.0", "Message contains a bare CR or LF"),
    }
}
