//! APPEND (RFC 3501 6.3.11), answered with APPENDUID (RFC 4315), with
//! several messages in one command (MULTIAPPEND, RFC 3502), messages put
//! together from text and URLs (CATENATE, RFC 4469, with URL-PARTIAL, RFC
//! 5550) and `literal8` data (BINARY, RFC 3516).
//!
//! All or none: every message is checked and assembled before the first
//! is stored, and the engine stores them in one durable write. Each
//! literal was held to the message size limit by the receiver before it
//! was read, and the command as a whole to the receiver's command limit
//! (see `server::limits`); a CATENATE result is held to the size limit as
//! it is assembled.

use crate::cmd::{catenate, flags, Context};
use crate::request::{AppendArgs, AppendMessage, Part};
use crate::session::names;
use crate::session::reply::{Done, Outcome};
use kotak_engine::{Account, Error, MailboxId, NewMessage};
use std::borrow::Cow;

/// Stores the messages; a missing target gets `NO [TRYCREATE]`. CATENATE's
/// URLs that start at the UID are in the `selected` mailbox.
pub async fn append(ctx: &Context<'_>, selected: Option<MailboxId>, args: &AppendArgs<'_>) -> Outcome {
    let account = ctx.account;
    let name = match names::from_raw(&args.mailbox, ctx.enabled.naming()) {
        Ok(name) => name,
        Err(done) => return Ok(done),
    };
    let trycreate = || Done::no("TRYCREATE", "Target mailbox does not exist");
    let Some(target) = account.mailbox(&name)? else { return Ok(trycreate()) };
    let mut contents = Vec::with_capacity(args.messages.len());
    for message in &args.messages {
        let flags = match flags::to_engine(&message.flags) {
            Ok(flags) => flags,
            Err(done) => return Ok(done),
        };
        match content(account, selected, message, ctx.append_limit)? {
            Ok(raw) => contents.push((raw, flags)),
            Err(done) => return Ok(done),
        }
    }
    let batch: Vec<NewMessage> = args
        .messages
        .iter()
        .zip(&contents)
        .map(|(message, (raw, flags))| NewMessage { raw, flags: flags.clone(), internal_date: message.date.map(|d| d.timestamp()) })
        .collect();
    match account.append_batch(target.id, &batch).await {
        Ok(stored) => {
            let (first, last) = (stored.uids[0], stored.uids[stored.uids.len() - 1]);
            let set = if first == last { first.to_string() } else { format!("{first}:{last}") };
            Ok(Done::ok("APPEND completed").with_code(format!("APPENDUID {} {set}", stored.uidvalidity)))
        }
        Err(Error::NoSuchMailbox) => Ok(trycreate()),
        Err(e) => Err(e.into()),
    }
}

/// One message's bytes: its literal, or its CATENATE parts joined; the
/// tagged NO when a URL names nothing, the result is too large or empty.
fn content<'m>(account: &Account, selected: Option<MailboxId>, message: &AppendMessage<'m>, limit: u64) -> Result<Result<Cow<'m, [u8]>, Done>, Error> {
    let toobig = || Done::no("TOOBIG", "Message too large");
    let raw = match message.parts.as_slice() {
        [Part::Text { data, .. }] => Cow::Borrowed(*data),
        parts => {
            let mut raw = Vec::new();
            for part in parts {
                let fits = |more: usize| (raw.len() + more) as u64 <= limit;
                match part {
                    Part::Text { data, .. } if fits(data.len()) => raw.extend_from_slice(data),
                    Part::Url(url) => match catenate::resolve(account, selected, url)? {
                        Some(data) if fits(data.len()) => raw.extend_from_slice(&data),
                        Some(_) => return Ok(Err(toobig())),
                        None => {
                            let code = format!("BADURL {}", catenate::for_code(url));
                            return Ok(Err(Done::no("BADURL", "URL names no message").with_code(code)));
                        }
                    },
                    Part::Text { .. } => return Ok(Err(toobig())),
                }
            }
            Cow::Owned(raw)
        }
    };
    if raw.is_empty() {
        return Ok(Err(Done::no("CANNOT", "Empty message")));
    }
    Ok(Ok(raw))
}
