//! `Link`: one open WebSocket connection's protocol state, without the socket. It wraps the codec
//! ([`WsConn`]) and the keepalive schedule, turns codec events into [`Message`]s and codec errors into
//! [`Error`]s, remembers a failure (sticky), and says whether a failure may be repaired by reconnecting.
//! Both drivers run the same loop over it:
//!
//! 1. `handle_time(clock)` (close timeout, keepalive Pings, a dead peer);
//! 2. write out `conn.poll_transmit()`;
//! 3. `next()`: a [`Step`] — a message to hand out, the end, or "read" / "write" first;
//! 4. read into `recv_buf()` until `deadline()`, then `handle_read(n, clock)`.
//!
//! Time is passed as a clock (`Instant::now`) rather than an instant: it is read only when a timer runs
//! (keepalive, close timeout, a close to queue), so a plain echo loop reads no clock at all.

use std::time::Instant;

use bytes::BytesMut;
use reqivo_proto::ws::{Keepalive, KeepaliveAction, WsConn, WsError, WsErrorKind, WsEvent, WsState, WsUsageError};

use super::{CloseFrame, Message};
use crate::error::{Error, ErrorKind, Result, TimeoutPhase};

/// What the driver does next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Hand this message to the caller. For `Message::Close`, write out first: the echo is queued.
    Message(Message),
    /// The close handshake is over; `recv` returns `None` from now on.
    Closed,
    /// Read from the socket (until `deadline()`), then call `next` again.
    Read,
    /// Write out what is queued, then call `next` again.
    Write,
}

/// A message to send, borrowed (so `send_text(&str)` copies nothing before the codec frames it).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outgoing<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
    Ping(&'a [u8]),
    Pong(&'a [u8]),
    Close(u16, &'a str),
}

impl Message {
    pub(crate) fn outgoing(&self) -> Outgoing<'_> {
        match self {
            Message::Text(t) => Outgoing::Text(t),
            Message::Binary(b) => Outgoing::Binary(b),
            Message::Ping(p) => Outgoing::Ping(p),
            Message::Pong(p) => Outgoing::Pong(p),
            Message::Close(frame) => {
                frame.as_ref().map_or(Outgoing::Close(1000, ""), |f| Outgoing::Close(f.code, &f.reason))
            }
        }
    }
}

/// A message a caller asked to send, checked (a Close's code and reason) and borrowed for the codec.
pub(crate) fn checked_outgoing(msg: &Message) -> Result<Outgoing<'_>> {
    if let Message::Close(Some(frame)) = msg {
        check_close(frame.code, &frame.reason)?;
    }
    Ok(msg.outgoing())
}

/// `value` as the text of a JSON message.
#[cfg(feature = "json")]
pub(crate) fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::invalid("JSON message could not be serialized").with_source(e))
}

/// Checks a close code and reason before anything is queued.
pub(crate) fn check_close(code: u16, reason: &str) -> Result<()> {
    if !reqivo_proto::ws::is_valid_close_code(code) {
        return Err(Error::invalid(format!("close code {code} may not be sent")));
    }
    if reason.len() > 123 {
        return Err(Error::invalid(format!("close reason of {} bytes (at most 123)", reason.len())));
    }
    Ok(())
}

/// A failure, kept so every later call reports it again.
#[derive(Debug, Clone)]
struct Fatal {
    kind: ErrorKind,
    message: String,
    reconnectable: bool,
}

impl Fatal {
    /// Out of line: `check` runs on every step and stays small.
    #[cold]
    #[inline(never)]
    fn error(&self) -> Error {
        Error::new(self.kind, self.message.clone())
    }
}

pub(crate) struct Link {
    conn: WsConn,
    keepalive: Option<Keepalive>,
    fatal: Option<Fatal>,
    closed: bool,
    /// `next()` said `Read`, or handed out a message that used up the received bytes, and the codec has
    /// seen nothing since that could change the answer (no bytes, no timer, no Close, no write once
    /// closing): the answer is still `Read`. A driver woken before its data arrived, or receiving right
    /// after a message, then goes straight to the read instead of decoding again.
    read_wanted: bool,
}

impl Link {
    pub(crate) fn new(
        conn: WsConn,
        keepalive: Option<(std::time::Duration, std::time::Duration)>,
        now: Instant,
    ) -> Self {
        let keepalive = keepalive.map(|(interval, timeout)| Keepalive::new(interval, timeout, now));
        Link { conn, keepalive, fatal: None, closed: false, read_wanted: false }
    }

    /// The subprotocol the server chose.
    pub(crate) fn subprotocol(&self) -> Option<&str> {
        self.conn.negotiated().subprotocol.as_deref()
    }

    /// Bytes to write, if any.
    #[inline]
    pub(crate) fn transmit(&self) -> Option<&[u8]> {
        self.conn.poll_transmit()
    }

    /// `n` bytes of `transmit()` went out.
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        // A written Close echo may end the handshake; while open, writing changes nothing on the
        // receiving side (and an echo loop keeps the read it already knows it wants).
        if self.conn.state() != WsState::Open {
            self.read_wanted = false;
        }
        self.conn.advance_transmit(n);
    }

    /// Where the driver reads into.
    pub(crate) fn recv_buf(&mut self) -> &mut BytesMut {
        self.conn.recv_buf()
    }

    /// The earliest time `handle_time` must run: the close timeout or the keepalive schedule.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let keepalive = self.keepalive.as_ref().filter(|_| self.conn.state() == WsState::Open);
        match (self.conn.poll_timeout(), keepalive.and_then(Keepalive::poll_timeout)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A read returned `n` bytes (0: EOF).
    pub(crate) fn handle_read(&mut self, n: usize, clock: impl FnOnce() -> Instant) {
        self.read_wanted = false;
        if n == 0 {
            self.conn.handle_eof();
        } else if let Some(k) = &mut self.keepalive {
            k.handle_received(clock());
        }
    }

    /// Time passed: the close timeout, keepalive Pings, and a dead peer (an error, reconnectable).
    #[inline]
    pub(crate) fn handle_time(&mut self, clock: impl FnOnce() -> Instant) -> Result<()> {
        if self.keepalive.is_none() && self.conn.poll_timeout().is_none() {
            // No timer runs: nothing can be due (checked inline: this runs on every pass).
            return self.check();
        }
        self.run_timers(clock())
    }

    fn run_timers(&mut self, now: Instant) -> Result<()> {
        self.read_wanted = false;
        self.conn.handle_timeout(now);
        if self.conn.state() != WsState::Open || self.fatal.is_some() {
            return self.check();
        }
        while let Some(action) = self.keepalive.as_mut().and_then(|k| k.poll_action(now)) {
            match action {
                // A full queue means our data is not leaving either; the pong deadline still runs.
                KeepaliveAction::Ping(n) => drop(self.conn.send_ping(&n.to_be_bytes())),
                KeepaliveAction::PeerDead => {
                    let e = Error::timeout(TimeoutPhase::Keepalive);
                    return Err(self.fail(e, true));
                }
            }
        }
        Ok(())
    }

    /// The next thing to do; see [`Step`]. Codec errors become [`Error`]s and stick.
    #[inline]
    pub(crate) fn next(&mut self) -> Result<Step> {
        // `fail` clears the flag: a failure is never hidden by it.
        if self.read_wanted {
            return Ok(Step::Read);
        }
        self.decode()
    }

    #[inline]
    fn decode(&mut self) -> Result<Step> {
        self.check()?;
        // Data messages here; everything else (control frames, the end, errors) out of line.
        match self.conn.poll_event() {
            Ok(Some(WsEvent::Text(t))) => {
                // Nothing left in the buffer: the next call goes straight to the read.
                self.read_wanted = self.conn.wants_read();
                Ok(Step::Message(Message::Text(t)))
            }
            Ok(Some(WsEvent::Binary(b))) => {
                self.read_wanted = self.conn.wants_read();
                Ok(Step::Message(Message::Binary(b)))
            }
            other => self.decode_rare(other),
        }
    }

    /// `decode` for what is not a data message.
    #[cold]
    #[inline(never)]
    fn decode_rare(&mut self, polled: std::result::Result<Option<WsEvent>, WsError>) -> Result<Step> {
        match polled {
            Ok(Some(event)) => Ok(match event {
                // Handled by `decode`.
                WsEvent::Text(t) => Step::Message(Message::Text(t)),
                WsEvent::Binary(b) => Step::Message(Message::Binary(b)),
                WsEvent::Ping(p) => Step::Message(Message::Ping(p)),
                WsEvent::Pong(p) => Step::Message(Message::Pong(p)),
                WsEvent::Close { code, reason } => {
                    Step::Message(Message::Close(code.map(|code| CloseFrame { code, reason })))
                }
                WsEvent::Closed => {
                    self.closed = true;
                    Step::Closed
                }
            }),
            Ok(None) if self.conn.wants_read() => {
                self.read_wanted = true;
                Ok(Step::Read)
            }
            Ok(None) if self.conn.poll_transmit().is_some() => Ok(Step::Write),
            Ok(None) if self.closed || self.conn.state() == WsState::Closed => Ok(Step::Closed),
            Ok(None) => Err(self.fail(Error::new(ErrorKind::Io, "WebSocket connection stalled"), false)),
            Err(e) => Err(self.fail(ws_error(&e), e.kind() == WsErrorKind::AbnormalClosure)),
        }
    }

    /// Queues `msg`; `Ok(false)` when the queue is full (write out, then try again).
    pub(crate) fn queue(&mut self, msg: &Outgoing<'_>, clock: impl FnOnce() -> Instant) -> Result<bool> {
        self.check()?;
        if let Outgoing::Close(..) = msg {
            // A queued Close changes what the codec expects.
            self.read_wanted = false;
        }
        let result = match *msg {
            Outgoing::Text(t) => self.conn.send_text(t),
            Outgoing::Binary(b) => self.conn.send_binary(b),
            Outgoing::Ping(p) => self.conn.send_ping(p),
            Outgoing::Pong(p) => self.conn.send_pong(p),
            Outgoing::Close(code, reason) => self.conn.close(code, reason, clock()),
        };
        match result {
            Ok(()) => Ok(true),
            Err(e) => self.queue_error(e),
        }
    }

    /// What a refused `queue` reports: `Ok(false)` for a full queue, else the error.
    #[cold]
    #[inline(never)]
    fn queue_error(&self, e: WsUsageError) -> Result<bool> {
        match e {
            WsUsageError::BufferFull => Ok(false),
            WsUsageError::NotOpen => Err(Error::invalid("the WebSocket is closing or closed")),
            WsUsageError::Failed => {
                Err(self.check().err().unwrap_or_else(|| Error::new(ErrorKind::Io, "WebSocket failed")))
            }
            e => Err(Error::invalid(e.to_string()).with_source(e)),
        }
    }

    /// True once our Close is queued or the peer's arrived: no more messages go out, no reconnection.
    pub(crate) fn is_closing(&self) -> bool {
        matches!(self.conn.state(), WsState::CloseSent | WsState::CloseReceived | WsState::Closed) || self.closed
    }

    /// True when the connection failed in a way a reconnection may repair.
    pub(crate) fn is_down(&self) -> bool {
        self.fatal.as_ref().is_some_and(|f| f.reconnectable)
    }

    /// Records a failure found by the driver (an I/O error, a timeout); returns it.
    pub(crate) fn fail(&mut self, error: Error, reconnectable: bool) -> Error {
        self.read_wanted = false;
        if self.fatal.is_none() {
            let reconnectable = reconnectable && !self.is_closing();
            self.fatal = Some(Fatal { kind: error.kind(), message: error.to_string(), reconnectable });
        }
        error
    }

    /// A read from the socket failed; the connection is down (both drivers).
    #[cold]
    #[inline(never)]
    pub(crate) fn read_failed(&mut self, e: std::io::Error) -> Error {
        let e = Error::new(ErrorKind::Io, "I/O error while receiving WebSocket frames").with_source(e);
        self.fail(e, true)
    }

    /// A write to the socket failed (`None`: the socket took nothing); the connection is down (both drivers).
    #[cold]
    #[inline(never)]
    pub(crate) fn write_failed(&mut self, e: Option<std::io::Error>) -> Error {
        let e = match e {
            Some(e) => crate::error::io_error(e, TimeoutPhase::Write),
            None => Error::new(ErrorKind::Io, "connection closed while sending"),
        };
        self.fail(e, true)
    }

    /// The recorded failure, again.
    #[inline]
    pub(crate) fn check(&self) -> Result<()> {
        match &self.fatal {
            Some(f) => Err(f.error()),
            None => Ok(()),
        }
    }
}

/// A codec error as an [`Error`]; the message names the close code we sent.
fn ws_error(e: &WsError) -> Error {
    let (kind, message) = match e.kind() {
        WsErrorKind::AbnormalClosure => {
            (ErrorKind::Io, "the WebSocket peer closed the connection without a Close frame (1006)".to_owned())
        }
        WsErrorKind::TooLarge => {
            (ErrorKind::TooLarge, format!("WebSocket message too large (closed with 1009): {}", e.detail()))
        }
        WsErrorKind::InvalidPayload => {
            (ErrorKind::Protocol, format!("invalid WebSocket payload from the peer (closed with 1007): {}", e.detail()))
        }
        _ => (
            ErrorKind::Protocol,
            format!("WebSocket protocol violation by the peer (closed with 1002): {}", e.detail()),
        ),
    };
    Error::new(kind, message).with_source(e.clone())
}

/// A random `u64` from the OS (mask seeds, backoff jitter).
pub(crate) fn random_u64() -> Result<u64> {
    let mut seed = [0u8; 8];
    fill_random(&mut seed)?;
    Ok(u64::from_le_bytes(seed))
}

/// Fills `buf` from the OS random generator (handshake keys).
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::getrandom(buf).map_err(|e| Error::new(ErrorKind::Io, "the OS random generator failed").with_source(e))
}
