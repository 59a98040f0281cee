//! The WebSocket I/O loop: the opening handshake through the HTTP/1.1 core on a dedicated connection,
//! then bytes between the socket and the shared `Link`. Mirrors `tokio/ws_link.rs`.

use std::io::Write;
use std::time::{Duration, Instant};

use reqivo_proto::backoff::Backoff;
use reqivo_proto::deadline::{Deadlines, Phase};
use reqivo_proto::h1::{BodyLength, ClientConn, Event};

use super::connect::{connect, Transport};
use super::pump::{read_into, Conn, Wait};
use crate::error::{io_error, Error, ErrorKind, Result};
use crate::net::shutdown_socket;
use crate::response::Timings;
use crate::websocket::{random_u64, Link, Message, Outgoing, Step, WsParams};

/// An open WebSocket connection: the socket and its protocol state.
pub(crate) struct Wire {
    io: Transport,
    pub(crate) link: Link,
    /// The socket's read timeout last set (at most the time left to the deadline); `None` until the first
    /// read sets one.
    read_timeout: Option<Option<Duration>>,
    shut: bool,
}

/// Connects, sends the upgrade request through the HTTP/1.1 core and checks the `101` answer.
pub(crate) fn open(params: &WsParams) -> Result<Wire> {
    let deadlines = Deadlines::new(Instant::now(), params.total_timeout);
    let mut timings = Timings::default();
    let (io, remote) = connect(&params.target.key, &params.tls, params.connect_timeout, &deadlines, &mut timings)
        .map_err(|e| e.with_url(&params.url))?;
    let mut conn = Conn::new(io, ClientConn::new(params.limits), remote);
    let hs = params.handshake()?;
    conn.proto.send_request(params.request_head(&hs), BodyLength::None)?;
    let wait = Wait { deadlines, gap: params.read_timeout, phase: Phase::ResponseHead };
    let head = loop {
        match conn.next_event(&wait).map_err(|e| e.with_url(&params.url))? {
            Event::Informational(_) => {}
            Event::Head(head) => break head,
            _ => return Err(handshake_error(params)),
        }
    };
    let negotiated = params.verify(&hs, &head)?;
    let Event::Upgraded { leftover } = conn.next_event(&wait)? else { return Err(handshake_error(params)) };
    let link = params.link(negotiated, &leftover, Instant::now())?;
    conn.io.tcp().set_write_timeout(params.read_timeout).map_err(|e| io_error(e, Phase::Write))?;
    Ok(Wire { io: conn.io, link, read_timeout: None, shut: false })
}

fn handshake_error(params: &WsParams) -> Error {
    Error::new(ErrorKind::WebSocket, "unexpected response to the WebSocket upgrade request").with_url(&params.url)
}

/// Replaces a connection that dropped abnormally when reconnection is on (`backoff`), otherwise returns
/// `cause`: waits out the backoff and opens a new connection, sending the `on_reconnect` messages first.
/// When the backoff has no attempt left, reconnection is off from then on and the error says it gave up.
pub(crate) fn reconnect(params: &WsParams, backoff: &mut Option<Backoff>, wire: &mut Wire, cause: Error) -> Result<()> {
    let Some(schedule) = backoff.as_mut().filter(|_| wire.link.is_down()) else { return Err(cause) };
    let mut last = cause;
    while let Some(delay) = schedule.next_delay(random_u64()?) {
        std::thread::sleep(delay);
        match open(params).and_then(|fresh| resubscribe(fresh, params)) {
            Ok(fresh) => {
                *wire = fresh;
                return Ok(());
            }
            Err(e) => last = e,
        }
    }
    let attempts = schedule.attempts();
    *backoff = None;
    Err(gave_up(attempts, last))
}

/// Sends what `on_reconnect` returns on a fresh connection.
fn resubscribe(mut wire: Wire, params: &WsParams) -> Result<Wire> {
    for msg in params.resubscribe() {
        wire.send(&msg.outgoing())?;
    }
    Ok(wire)
}

pub(crate) fn gave_up(attempts: u32, last: Error) -> Error {
    let message = format!("WebSocket reconnection gave up after {attempts} failed attempt(s)");
    Error::new(last.kind(), message).with_source(last)
}

impl Wire {
    /// Writes everything the codec has queued.
    pub(crate) fn write_out(&mut self) -> Result<()> {
        if self.link.transmit().is_none() {
            return Ok(());
        }
        while let Some(bytes) = self.link.transmit() {
            match self.io.write(bytes) {
                Ok(n) if n > 0 => self.link.advance(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                written => return Err(self.link.write_failed(written.err())),
            }
        }
        self.io.flush().map_err(|e| self.link.write_failed(Some(e)))
    }

    /// One read into the codec's buffer, waiting at most until `until`; `Ok(false)` when that passed.
    fn fill(&mut self, until: Option<Instant>) -> Result<bool> {
        let left = match until {
            Some(t) => match t.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Ok(false),
            },
            None => None,
        };
        // The deadline stays put while the time left shrinks with every read: a timeout already set is
        // kept while it still ends by the deadline, and a new one is half the time left (at least 1 ms),
        // so a busy socket re-arms a few times per deadline rather than on every read. A wait may end
        // early; the loop then reads again.
        let keep = match (self.read_timeout, left) {
            (Some(None), None) => true,
            (Some(Some(set)), Some(left)) => set <= left,
            _ => false,
        };
        if !keep {
            self.arm(left)?;
        }
        match read_into(&mut self.io, self.link.recv_buf()) {
            Ok(n) => self.link.handle_read(n, Instant::now),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Ok(false);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(self.link.read_failed(e)),
        }
        Ok(true)
    }

    /// Sets the socket's read timeout for a wait of at most `left` (`None`: no bound). Out of line: a
    /// timeout already set is kept, so this runs a few times per deadline, not per message.
    #[cold]
    #[inline(never)]
    fn arm(&mut self, left: Option<Duration>) -> Result<()> {
        let timeout = left.map(|left| (left / 2).max(Duration::from_millis(1)));
        self.io.tcp().set_read_timeout(timeout).map_err(|e| io_error(e, Phase::Message))?;
        self.read_timeout = Some(timeout);
        Ok(())
    }

    /// The next message on this connection; `None` after the close handshake. `until` bounds the wait
    /// (a timeout error when it passes). After the close handshake or a failure the socket is shut down.
    pub(crate) fn recv(&mut self, until: Option<Instant>) -> Result<Option<Message>> {
        let result = self.pass(until);
        if matches!(result, Ok(None)) || self.link.check().is_err() {
            self.shutdown();
        }
        result
    }

    /// Shuts the socket down (once): nothing more is read or written on it.
    fn shutdown(&mut self) {
        if !self.shut {
            self.shut = true;
            shutdown_socket(self.io.tcp());
        }
    }

    /// The receive loop: timers, writing out, the next codec step, reads.
    fn pass(&mut self, until: Option<Instant>) -> Result<Option<Message>> {
        loop {
            self.link.handle_time(Instant::now)?;
            self.write_out()?;
            let step = match self.link.next() {
                Ok(step) => step,
                Err(e) => {
                    // The codec queued a Close reporting the violation: best effort.
                    let _ = self.write_out();
                    return Err(e);
                }
            };
            match step {
                Step::Message(msg) => {
                    if msg.is_close() {
                        // The echo goes out before the caller hears of the Close.
                        let _ = self.write_out();
                    }
                    return Ok(Some(msg));
                }
                Step::Closed => return Ok(None),
                Step::Write => {}
                Step::Read => {
                    let wake = earliest(self.link.deadline(), until);
                    if !self.fill(wake)? && until.is_some_and(|u| Instant::now() >= u) {
                        return Err(Error::timeout(Phase::Message));
                    }
                }
            }
        }
    }

    /// Queues `msg` (writing out first while the queue is full) and writes it out.
    pub(crate) fn send(&mut self, msg: &Outgoing<'_>) -> Result<()> {
        while !self.link.queue(msg, Instant::now)? {
            self.write_out()?;
        }
        self.write_out()
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
