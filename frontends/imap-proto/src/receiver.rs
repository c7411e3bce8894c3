//! Framing of client input into complete commands: a pure state machine,
//! bytes in, [`Event`]s out, no I/O.
//!
//! A command is one or more lines; a line that ends with a literal marker
//! (`{n}` or `{n+}`) is followed by `n` raw bytes and then the rest of the
//! command. Every limit is checked before the bytes it guards are stored: a
//! line longer than [`Limits::max_line`] is skipped, a literal larger than
//! [`Limits::max_literal`] is refused before any of it is read, and a command
//! never grows past [`Limits::max_command`].
//!
//! The caller feeds bytes with [`Receiver::feed`] (or reads straight into
//! [`Receiver::read_buffer`]) and then calls [`Receiver::poll`] until it
//! returns `None`; after that, all fed bytes have been consumed, so the
//! caller's buffering stays bounded by its read size.

use crate::request;
use imap_codec::imap_types::core::Tag;

/// The sizes the receiver enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest line, CRLF included (a command's text between literals).
    pub max_line: usize,
    /// Largest literal accepted (the node's message size limit).
    pub max_literal: u64,
    /// Largest whole command: lines plus literals.
    pub max_command: u64,
}

/// What the caller must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete command, literals included, ready for [`request::parse`].
    Command(Vec<u8>),
    /// The client announced a synchronizing literal that is acceptable:
    /// send a continuation request (`+ ...`) so it sends the data.
    Continue,
    /// The raw line requested with [`Receiver::expect_line`], without CRLF.
    Line(Vec<u8>),
    /// The command was refused before it was complete; answer it with a
    /// tagged error and carry on with the next command.
    Rejected(Refusal),
    /// The input cannot be framed any more (e.g. a non-synchronizing literal
    /// above the limit, whose bytes are already on their way): answer, then
    /// close the connection.
    Fatal(Refusal),
}

/// A command refused during framing, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The command's tag, when its start was readable.
    pub tag: Option<String>,
    /// What went wrong.
    pub reason: Reason,
}

/// Why a command was refused during framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A line exceeded the line limit.
    LineTooLong,
    /// The lines between a command's literals took it past the command limit.
    CommandTooLong,
    /// A literal exceeded the literal limit or the command limit.
    LiteralTooLarge,
    /// The command before a synchronizing literal does not parse, so the
    /// literal is not requested.
    Syntax,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a command line (the first, or one after a literal).
    Line,
    /// Reading `remaining` bytes of literal data.
    Literal { remaining: u64 },
    /// Skipping the rest of an over-long line; `skipped` counts the bytes.
    Skip { skipped: u64, reason: Reason },
    /// Reading one raw line (AUTHENTICATE data).
    RawLine,
    /// After a fatal event: everything is ignored.
    Closed,
}

/// How many trailing bytes of a skipped line are kept to recognise a
/// literal marker at its end: `{` + 20 digits + `+}` + CRLF.
const MARKER_WINDOW: usize = 25;

/// What a connection's first read asks for: more than an ordinary command
/// line, so most commands arrive in one read.
const FIRST_READ: usize = 1024;

/// The most one read asks for, reached by doubling while reads come back
/// full (literals, pipelined commands).
const MAX_READ: usize = 16 * 1024;

/// The framing state machine of one connection.
#[derive(Debug)]
pub struct Receiver {
    limits: Limits,
    state: State,
    /// Unconsumed input.
    input: Vec<u8>,
    /// Read position in `input`.
    pos: usize,
    /// The command (or raw line) being assembled.
    cmd: Vec<u8>,
    /// Where the current line starts in `cmd`.
    line_start: usize,
    /// The tag of a command whose line is being skipped.
    skipped_tag: Option<String>,
    /// The last bytes of a skipped line.
    skipped_tail: Vec<u8>,
    /// How much the next read into [`Receiver::read_buffer`] asks for.
    read_size: usize,
}

impl Receiver {
    /// A receiver at the start of a command.
    pub fn new(limits: Limits) -> Self {
        Receiver {
            limits,
            state: State::Line,
            input: Vec::new(),
            pos: 0,
            cmd: Vec::new(),
            line_start: 0,
            skipped_tag: None,
            skipped_tail: Vec::new(),
            read_size: FIRST_READ,
        }
    }

    /// Replaces the limits; they apply from the next line or literal on
    /// (the server allows larger literals once a user is logged in).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Adds bytes read from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos == self.input.len() {
            self.input.clear();
            self.pos = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// The buffer to read the client's next bytes into, by appending (as
    /// `AsyncReadExt::read_buf` does), followed by [`Receiver::read_done`].
    /// Call it once [`Receiver::poll`] returned `None`. Its free room
    /// follows what the last reads brought: little while the client sends
    /// short commands, so an idle connection holds a small buffer, and up
    /// to [`MAX_READ`] while it streams a literal.
    pub fn read_buffer(&mut self) -> &mut Vec<u8> {
        self.input.drain(..self.pos);
        self.pos = 0;
        let wanted = self.input.len() + self.read_size;
        if self.input.capacity() > 2 * wanted {
            self.input.shrink_to(wanted);
        }
        self.input.reserve(self.read_size);
        &mut self.input
    }

    /// Sizes the next read from one that appended `n` bytes to the
    /// [`Receiver::read_buffer`]: a full read doubles it, a short one
    /// brings it back to the first read's size.
    pub fn read_done(&mut self, n: usize) {
        if n >= self.read_size {
            self.read_size = (2 * self.read_size).min(MAX_READ);
        } else if n < self.read_size / 4 {
            self.read_size = FIRST_READ;
        }
    }

    /// What the client sent beyond the last event, unframed: a proxy hands
    /// it to the server it connects the client to (commands pipelined
    /// after LOGIN). Call it only between commands.
    pub fn into_unread(mut self) -> Vec<u8> {
        self.input.drain(..self.pos);
        self.input
    }

    /// Makes the next line a raw line ([`Event::Line`]) instead of a command.
    /// Call it only between commands (right after an [`Event::Command`]).
    pub fn expect_line(&mut self) {
        self.reset();
        self.state = State::RawLine;
    }

    /// The next event, or `None` when every fed byte has been consumed and
    /// more input is needed.
    pub fn poll(&mut self) -> Option<Event> {
        loop {
            let available = &self.input[self.pos..];
            if available.is_empty() {
                return None;
            }
            let event = match self.state {
                State::Closed => {
                    self.pos = self.input.len();
                    return None;
                }
                State::Line | State::RawLine => self.read_line(),
                State::Literal { remaining } => self.read_literal(remaining),
                State::Skip { skipped, reason } => self.skip_line(skipped, reason),
            };
            if matches!(event, Some(Event::Fatal(_))) {
                self.state = State::Closed;
            }
            if event.is_some() {
                return event;
            }
        }
    }

    fn reset(&mut self) {
        self.state = State::Line;
        self.cmd = Vec::new();
        self.line_start = 0;
    }

    /// Moves line bytes into `cmd`; on a complete line, decides what follows.
    fn read_line(&mut self) -> Option<Event> {
        let available = &self.input[self.pos..];
        let (take, complete) = match available.iter().position(|&b| b == b'\n') {
            Some(p) => (p + 1, true),
            None => (available.len(), false),
        };
        let line_room = self.limits.max_line - (self.cmd.len() - self.line_start);
        let command_room = self.limits.max_command.saturating_sub(self.cmd.len() as u64);
        if take > line_room || take as u64 > command_room {
            let reason = if take > line_room { Reason::LineTooLong } else { Reason::CommandTooLong };
            // Keep what fits, so the tag can be found, then skip the rest.
            let room = line_room.min(command_room as usize);
            self.cmd.extend_from_slice(&available[..room]);
            self.pos += room;
            return self.start_skip(reason);
        }
        self.cmd.extend_from_slice(&available[..take]);
        self.pos += take;
        if !complete {
            return None;
        }
        if self.state == State::RawLine {
            let mut line = std::mem::take(&mut self.cmd);
            strip_eol(&mut line);
            self.reset();
            return Some(Event::Line(line));
        }
        match literal_marker(&self.cmd[self.line_start..]) {
            Some((length, synchronizing)) => self.start_literal(length, synchronizing),
            None => {
                let cmd = std::mem::take(&mut self.cmd);
                self.reset();
                Some(Event::Command(cmd))
            }
        }
    }

    /// Called with a complete line ending in a literal marker; `cmd` holds
    /// the command up to and including the marker.
    fn start_literal(&mut self, length: u64, synchronizing: bool) -> Option<Event> {
        let total = (self.cmd.len() as u64).saturating_add(length);
        if length > self.limits.max_literal || total > self.limits.max_command {
            let refusal = Refusal { tag: find_tag(&self.cmd), reason: Reason::LiteralTooLarge };
            self.reset();
            return Some(if synchronizing { Event::Rejected(refusal) } else { Event::Fatal(refusal) });
        }
        if synchronizing {
            // Ask for the data only if the command so far makes sense.
            if !request::wants_literal(&self.cmd) {
                let refusal = Refusal { tag: find_tag(&self.cmd), reason: Reason::Syntax };
                self.reset();
                return Some(Event::Rejected(refusal));
            }
        }
        self.state = State::Literal { remaining: length };
        if length == 0 {
            self.line_start = self.cmd.len();
            self.state = State::Line;
        }
        synchronizing.then_some(Event::Continue)
    }

    fn read_literal(&mut self, remaining: u64) -> Option<Event> {
        let available = &self.input[self.pos..];
        let take = remaining.min(available.len() as u64) as usize;
        self.cmd.extend_from_slice(&available[..take]);
        self.pos += take;
        let remaining = remaining - take as u64;
        if remaining == 0 {
            self.state = State::Line;
            self.line_start = self.cmd.len();
        } else {
            self.state = State::Literal { remaining };
        }
        None
    }

    /// Drops the line being read, remembering its tag.
    fn start_skip(&mut self, reason: Reason) -> Option<Event> {
        self.skipped_tag = find_tag(&self.cmd);
        self.skipped_tail.clear();
        let skipped = (self.cmd.len() - self.line_start) as u64;
        self.cmd = Vec::new();
        self.line_start = 0;
        self.state = State::Skip { skipped, reason };
        None
    }

    fn skip_line(&mut self, skipped: u64, reason: Reason) -> Option<Event> {
        let available = &self.input[self.pos..];
        let (take, complete) = match available.iter().position(|&b| b == b'\n') {
            Some(p) => (p + 1, true),
            None => (available.len(), false),
        };
        let seen = &available[..take];
        let keep = seen.len().min(MARKER_WINDOW);
        self.skipped_tail.extend_from_slice(&seen[seen.len() - keep..]);
        let excess = self.skipped_tail.len().saturating_sub(MARKER_WINDOW);
        self.skipped_tail.drain(..excess);
        self.pos += take;
        let skipped = skipped + take as u64;
        let refusal = || Refusal { tag: self.skipped_tag.clone(), reason };
        if skipped > self.limits.max_command {
            return Some(Event::Fatal(refusal()));
        }
        if !complete {
            self.state = State::Skip { skipped, reason };
            return None;
        }
        // A non-synchronizing literal's bytes follow the line regardless of
        // our answer, and cannot be told apart from commands: give up.
        let event = match literal_marker(&self.skipped_tail) {
            Some((_, false)) => Event::Fatal(refusal()),
            _ => Event::Rejected(refusal()),
        };
        self.reset();
        Some(event)
    }
}

/// Removes a trailing CRLF (or bare LF).
fn strip_eol(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
}

/// Recognises `{n}\r\n` or `{n+}\r\n` at the end of a line: the literal's
/// length (saturated, so huge numbers stay huge) and whether it is
/// synchronizing.
fn literal_marker(line: &[u8]) -> Option<(u64, bool)> {
    let body = line.strip_suffix(b"}\r\n")?;
    let (body, synchronizing) = match body.strip_suffix(b"+") {
        Some(b) => (b, false),
        None => (body, true),
    };
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let length = digits.iter().fold(0u64, |n, &d| n.saturating_mul(10).saturating_add((d - b'0') as u64));
    Some((length, synchronizing))
}

/// The tag at the start of a command, when it is a valid tag followed by a
/// space or the end of the line.
pub fn find_tag(cmd: &[u8]) -> Option<String> {
    let end = cmd.iter().position(|&b| b == b' ' || b == b'\r' || b == b'\n')?;
    let candidate = &cmd[..end];
    Tag::validate(candidate).ok()?;
    String::from_utf8(candidate.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_line: 64, max_literal: 100, max_command: 200 };

    fn cmd(s: &str) -> Event {
        Event::Command(s.as_bytes().to_vec())
    }

    fn rejected(tag: Option<&str>, reason: Reason) -> Event {
        Event::Rejected(Refusal { tag: tag.map(str::to_string), reason })
    }

    fn fatal(tag: Option<&str>, reason: Reason) -> Event {
        Event::Fatal(Refusal { tag: tag.map(str::to_string), reason })
    }

    /// Feeds `chunks` one at a time, collecting every event (stopping at a fatal one).
    fn run(chunks: &[&[u8]], raw_line_after_first: bool) -> Vec<Event> {
        let mut r = Receiver::new(LIMITS);
        let mut events = Vec::new();
        for chunk in chunks {
            r.feed(chunk);
            while let Some(e) = r.poll() {
                let first_command = matches!(e, Event::Command(_)) && events.is_empty();
                let fatal = matches!(e, Event::Fatal(_));
                events.push(e);
                if fatal {
                    return events;
                }
                if first_command && raw_line_after_first {
                    r.expect_line();
                }
            }
            assert_eq!(r.pos, r.input.len(), "poll returned None with input left");
        }
        events
    }

    /// Checks `input` gives `expected`, fed whole and split at every byte boundary.
    fn check(input: &[u8], raw_line_after_first: bool, expected: &[Event]) {
        assert_eq!(run(&[input], raw_line_after_first), expected, "whole: {:?}", String::from_utf8_lossy(input));
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(run(&[a, b], raw_line_after_first), expected, "split at {split}: {:?}", String::from_utf8_lossy(input));
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&bytes, raw_line_after_first), expected, "byte by byte");
    }

    #[test]
    fn framing_table() {
        let long = format!("a1 LOGIN {} x\r\n", "u".repeat(70));
        let long_nonsync = format!("a1 APPEND {} {{5+}}\r\nhello\r\n", "u".repeat(70));
        let long_sync = format!("a1 APPEND {} {{5}}\r\n", "u".repeat(70));
        let table: Vec<(&[u8], Vec<Event>)> = vec![
            (b"a1 NOOP\r\n", vec![cmd("a1 NOOP\r\n")]),
            (b"a1 NOOP\r\na2 CAPABILITY\r\na3 LOGOUT\r\n", vec![cmd("a1 NOOP\r\n"), cmd("a2 CAPABILITY\r\n"), cmd("a3 LOGOUT\r\n")]),
            (
                b"a1 LOGIN {3}\r\nbob {2}\r\npw\r\n",
                vec![Event::Continue, Event::Continue, cmd("a1 LOGIN {3}\r\nbob {2}\r\npw\r\n")],
            ),
            (b"a1 LOGIN {3+}\r\nbob pw\r\na2 NOOP\r\n", vec![cmd("a1 LOGIN {3+}\r\nbob pw\r\n"), cmd("a2 NOOP\r\n")]),
            (b"a1 APPEND x {5}\r\n{9}\r\n\r\n", vec![Event::Continue, cmd("a1 APPEND x {5}\r\n{9}\r\n\r\n")]),
            (b"a1 APPEND x {0}\r\n\r\n", vec![Event::Continue, cmd("a1 APPEND x {0}\r\n\r\n")]),
            (b"a1 APPEND x ~{3}\r\na\0b\r\n", vec![Event::Continue, cmd("a1 APPEND x ~{3}\r\na\0b\r\n")]),
            (b"a1 APPEND x {1}\r\na ~{2+}\r\n\0b\r\n", vec![Event::Continue, cmd("a1 APPEND x {1}\r\na ~{2+}\r\n\0b\r\n")]),
            (b"a1 APPEND x {101}\r\na2 NOOP\r\n", vec![rejected(Some("a1"), Reason::LiteralTooLarge), cmd("a2 NOOP\r\n")]),
            (
                b"a1 APPEND x {10000000000}\r\na2 NOOP\r\n",
                vec![rejected(Some("a1"), Reason::LiteralTooLarge), cmd("a2 NOOP\r\n")],
            ),
            (
                b"a1 APPEND x {99999999999999999999999999}\r\n",
                vec![rejected(Some("a1"), Reason::LiteralTooLarge)],
            ),
            (b"a1 APPEND x {10000000000+}\r\nxxxx", vec![fatal(Some("a1"), Reason::LiteralTooLarge)]),
            (b"a1 FROB x {5}\r\na2 NOOP\r\n", vec![rejected(Some("a1"), Reason::Syntax), cmd("a2 NOOP\r\n")]),
            (b"(( {5}\r\n", vec![rejected(None, Reason::Syntax)]),
            (long.as_bytes(), vec![rejected(Some("a1"), Reason::LineTooLong)]),
            (long_sync.as_bytes(), vec![rejected(Some("a1"), Reason::LineTooLong)]),
            (long_nonsync.as_bytes(), vec![fatal(Some("a1"), Reason::LineTooLong)]),
            (b"a1 NOOP\r\n", vec![cmd("a1 NOOP\r\n")]),
            (b"\r\n", vec![cmd("\r\n")]),
            (b"a1 x {5}x\r\n", vec![cmd("a1 x {5}x\r\n")]),
            (b"a1 x {}\r\n", vec![cmd("a1 x {}\r\n")]),
            (b"a1 NOOP", vec![]),
        ];
        for (input, expected) in &table {
            check(input, false, expected);
        }
    }

    #[test]
    fn line_limit_is_per_line_and_command_limit_is_total() {
        // Each line is under 64 bytes; the literals push the total over 200.
        let mut input = b"a1 APPEND x {90+}\r\n".to_vec();
        input.extend_from_slice(&[b'm'; 90]);
        input.extend_from_slice(b" {90+}\r\n");
        input.extend_from_slice(&[b'm'; 90]);
        check(&input, false, &[fatal(Some("a1"), Reason::LiteralTooLarge)]);
        // Empty literals cannot stretch a command past the limit either.
        let input = format!("a1 SEARCH TEXT {{0}}\r\n{}a2 NOOP\r\n", " TEXT {0}\r\n".repeat(17));
        let mut expected = vec![Event::Continue; 17];
        expected.push(rejected(Some("a1"), Reason::CommandTooLong));
        expected.push(cmd("a2 NOOP\r\n"));
        check(input.as_bytes(), false, &expected);
    }

    #[test]
    fn raw_line_mode() {
        check(b"a1 AUTHENTICATE PLAIN\r\nAGJvYgBwdw==\r\na2 NOOP\r\n", true, &[
            cmd("a1 AUTHENTICATE PLAIN\r\n"),
            Event::Line(b"AGJvYgBwdw==".to_vec()),
            cmd("a2 NOOP\r\n"),
        ]);
        let long = format!("a1 AUTHENTICATE PLAIN\r\n{}\r\na2 NOOP\r\n", "A".repeat(80));
        check(long.as_bytes(), true, &[
            cmd("a1 AUTHENTICATE PLAIN\r\n"),
            rejected(None, Reason::LineTooLong),
            cmd("a2 NOOP\r\n"),
        ]);
    }

    /// Reads `input` the way a socket would: each read appends as much as
    /// the read buffer has room for.
    fn read_all(r: &mut Receiver, mut input: &[u8], events: &mut Vec<Event>) -> Vec<usize> {
        let mut rooms = Vec::new();
        while !input.is_empty() {
            let buffer = r.read_buffer();
            let room = buffer.capacity() - buffer.len();
            let n = room.min(input.len());
            buffer.extend_from_slice(&input[..n]);
            input = &input[n..];
            r.read_done(n);
            rooms.push(room);
            events.extend(std::iter::from_fn(|| r.poll()));
        }
        rooms
    }

    #[test]
    fn read_buffer_grows_while_full_and_shrinks_when_idle() {
        let limits = Limits { max_line: 1000, max_literal: 100_000, max_command: 200_000 };
        let mut r = Receiver::new(limits);
        let mut events = Vec::new();
        let first = read_all(&mut r, b"a1 NOOP\r\n", &mut events);
        assert!(first[0] >= FIRST_READ && first[0] < 2 * FIRST_READ, "{first:?}");
        let mut append = b"a2 APPEND x {60000+}\r\n".to_vec();
        append.extend_from_slice(&[b'm'; 60_000]);
        append.extend_from_slice(b"\r\n");
        let rooms = read_all(&mut r, &append, &mut events);
        assert!(rooms.len() < 10, "reads double up to the largest: {rooms:?}");
        assert!(rooms.iter().all(|&room| room < 2 * MAX_READ), "{rooms:?}");
        read_all(&mut r, b"a3 IDLE\r\n", &mut events);
        let idle = r.read_buffer();
        assert!(idle.capacity() < 2 * FIRST_READ, "an idle connection keeps {} bytes", idle.capacity());
        assert_eq!(events, vec![cmd("a1 NOOP\r\n"), Event::Command(append), cmd("a3 IDLE\r\n")]);
    }

    #[test]
    fn endless_line_is_fatal_without_storing_it() {
        let mut r = Receiver::new(LIMITS);
        let mut events = Vec::new();
        for _ in 0..10 {
            r.feed(&[b'x'; 64]);
            events.extend(std::iter::from_fn(|| r.poll()));
            assert!(r.cmd.len() <= LIMITS.max_line);
        }
        assert_eq!(events, vec![fatal(None, Reason::LineTooLong)]);
        r.feed(b"a1 NOOP\r\n");
        assert_eq!(r.poll(), None, "nothing after a fatal event");
    }
}
