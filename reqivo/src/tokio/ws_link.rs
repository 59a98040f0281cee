//! The WebSocket I/O loop on tokio: the opening handshake through the HTTP/1.1 core on a dedicated
//! connection, then bytes between the socket and the shared `Link`. Mirrors `blocking/ws_link.rs`; the
//! state the two halves of a split socket share is in `ws_split.rs` (async only).

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use reqivo_proto::backoff::Backoff;
use reqivo_proto::deadline::{Deadlines, Phase};
use reqivo_proto::h1::{BodyLength, ClientConn, Event};
use tokio::io::AsyncWrite;

use super::connect::{connect, Transport};
use super::pump::{poll_read_into, Conn, Wait};
use super::ws_split::{Reader, Role, Shared, State};
use crate::error::{Error, ErrorKind, Result};
use crate::net::shutdown_socket;
use crate::response::Timings;
use crate::websocket::{random_u64, Link, Message, Outgoing, Step, WsParams};

/// An open WebSocket connection: the socket and its protocol state.
pub(crate) struct Wire {
    io: Transport,
    pub(crate) link: Link,
    shut: bool,
    /// Bytes were written since the last completed flush (a TLS stream may still hold them).
    unflushed: bool,
}

/// Connects, sends the upgrade request through the HTTP/1.1 core and checks the `101` answer.
pub(crate) async fn open(params: &WsParams) -> Result<Wire> {
    let deadlines = Deadlines::new(Instant::now(), params.total_timeout);
    let mut timings = Timings::default();
    let (io, remote) = connect(&params.target.key, &params.tls, params.connect_timeout, &deadlines, &mut timings)
        .await
        .map_err(|e| e.with_url(&params.url))?;
    let mut conn = Conn::new(io, ClientConn::new(params.limits), remote);
    let hs = params.handshake()?;
    conn.proto.send_request(params.request_head(&hs), BodyLength::None)?;
    let wait = Wait { deadlines, gap: params.read_timeout, phase: Phase::ResponseHead };
    let head = loop {
        match conn.next_event(&wait).await.map_err(|e| e.with_url(&params.url))? {
            Event::Informational(_) => {}
            Event::Head(head) => break head,
            _ => return Err(handshake_error(params)),
        }
    };
    let negotiated = params.verify(&hs, &head)?;
    let Event::Upgraded { leftover } = conn.next_event(&wait).await? else { return Err(handshake_error(params)) };
    let link = params.link(negotiated, &leftover, Instant::now())?;
    Ok(Wire { io: conn.io, link, shut: false, unflushed: false })
}

fn handshake_error(params: &WsParams) -> Error {
    Error::new(ErrorKind::WebSocket, "unexpected response to the WebSocket upgrade request").with_url(&params.url)
}

pub(crate) type Reconnecting = Pin<Box<dyn Future<Output = (Backoff, Result<Wire>)> + Send>>;

/// Waits out the backoff and opens a new connection, sending the `on_reconnect` messages first; gives up
/// when the backoff has no attempt left. Hands the backoff back with the result.
pub(crate) async fn reconnect(shared: Arc<Shared>, mut backoff: Backoff, cause: Error) -> (Backoff, Result<Wire>) {
    let mut last = cause;
    loop {
        let delay = match random_u64() {
            Ok(random) => backoff.next_delay(random),
            Err(e) => return (backoff, Err(e)),
        };
        let Some(delay) = delay else {
            let attempts = backoff.attempts();
            return (backoff, Err(gave_up(attempts, last)));
        };
        tokio::time::sleep(delay).await;
        let attempt = match open(&shared.params).await {
            Ok(wire) => resubscribe(wire, &shared.params).await,
            Err(e) => Err(e),
        };
        match attempt {
            Ok(wire) => return (backoff, Ok(wire)),
            Err(e) => last = e,
        }
    }
}

/// Sends what `on_reconnect` returns on a fresh connection (not shared yet).
async fn resubscribe(mut wire: Wire, params: &WsParams) -> Result<Wire> {
    for msg in params.resubscribe() {
        wire.send(&msg.outgoing()).await?;
    }
    Ok(wire)
}

pub(crate) fn gave_up(attempts: u32, last: Error) -> Error {
    let message = format!("WebSocket reconnection gave up after {attempts} failed attempt(s)");
    Error::new(last.kind(), message).with_source(last)
}

impl Wire {
    /// Writes what the codec has queued, as far as the socket takes it; `Ready(Ok)` once all is out.
    /// `progressed` turns true when bytes were written.
    #[inline]
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>, progressed: &mut bool) -> Poll<Result<()>> {
        if self.link.transmit().is_none() && !self.unflushed {
            return Poll::Ready(Ok(()));
        }
        while let Some(bytes) = self.link.transmit() {
            match Pin::new(&mut self.io).poll_write(cx, bytes) {
                Poll::Ready(Ok(n)) if n > 0 => {
                    self.link.advance(n);
                    *progressed = true;
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Poll::Ready(written) => return Poll::Ready(Err(self.link.write_failed(written.err()))),
                Poll::Pending => return Poll::Pending,
            }
        }
        let flushed = ready!(Pin::new(&mut self.io).poll_flush(cx));
        self.unflushed = false;
        Poll::Ready(flushed.map_err(|e| self.link.write_failed(Some(e))))
    }

    /// One read into the codec's buffer.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        match ready!(poll_read_into(Pin::new(&mut self.io), cx, self.link.recv_buf())) {
            Ok(n) => self.link.handle_read(n, Instant::now),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Poll::Ready(Err(self.link.read_failed(e))),
        }
        Poll::Ready(Ok(()))
    }

    /// Shuts the socket down (once): nothing more is read or written on it.
    pub(crate) fn shutdown(&mut self) {
        if !self.shut {
            self.shut = true;
            shutdown_socket(self.io.tcp());
        }
    }

    /// Queues `msg` (writing out first while the queue is full) and writes it out. Only for a connection
    /// no other task can see yet.
    async fn send(&mut self, msg: &Outgoing<'_>) -> Result<()> {
        while !self.link.queue(msg, Instant::now)? {
            poll_fn(|cx| self.poll_write_out(cx, &mut false)).await?;
        }
        poll_fn(|cx| self.poll_write_out(cx, &mut false)).await
    }
}

/// What one pass of the receive loop found.
pub(crate) enum Pass {
    Done(Result<Option<Message>>),
    Again,
    Wait,
    Fail(Error),
}

impl Reader {
    /// The next message; `None` after the close handshake. Reconnects when the connection drops and
    /// reconnection is on. Cancel-safe: everything in progress is kept in `self`.
    ///
    /// Only a message and a wait for bytes are handled here; the end, failures, reconnection and timers
    /// are out of line (`finish`, `poll_wait`), so the lines a message runs through stay few.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Message>>> {
        loop {
            if self.reconnecting.is_some() {
                ready!(self.poll_reconnect(cx))?;
                continue;
            }
            let mut st = self.shared.lock();
            // Passes that made progress run again under the same lock.
            let pass = loop {
                match Reader::pass(&mut self.deliver, &mut st, cx) {
                    Pass::Again => {}
                    pass => break pass,
                }
            };
            let wake_at = match pass {
                Pass::Done(Ok(Some(msg))) if !msg.is_close() => {
                    st.unpark(Role::Reader);
                    return Poll::Ready(Ok(Some(msg)));
                }
                Pass::Wait => {
                    st.park(Role::Reader, cx);
                    let wake_at = earliest(st.wire.link.deadline(), self.until);
                    if wake_at.is_none() && self.timer.is_none() {
                        // No timer runs and none is set: the socket's waker is all there is. (Returned
                        // with the lock still held, like a message: one unlock sequence for both.)
                        return Poll::Pending;
                    }
                    drop(st);
                    wake_at
                }
                pass => match Reader::finish(&self.shared, &mut self.reconnecting, st, pass) {
                    Some(result) => return Poll::Ready(result),
                    None => continue,
                },
            };
            ready!(self.poll_wait(cx, wake_at))?;
        }
    }

    /// One pass: timers, writing out, the next codec step, one read.
    fn pass(deliver: &mut Option<Message>, st: &mut State, cx: &mut Context<'_>) -> Pass {
        if let Err(e) = st.wire.link.handle_time(Instant::now) {
            return Pass::Fail(e);
        }
        // Checked here first: a pass with nothing to write (most of them) skips the wakeup bookkeeping.
        let written = if st.wire.unflushed || st.wire.link.transmit().is_some() {
            st.poll_write_out(cx, Role::Reader)
        } else {
            Poll::Ready(Ok(()))
        };
        if deliver.is_some() {
            return Reader::deliver_close(deliver, written.is_ready());
        }
        if let Poll::Ready(Err(e)) = written {
            return Pass::Fail(e);
        }
        // Bytes just read are decoded at once, without the timers and the write-out above (a read queues
        // nothing to write); one read per pass, so the timers still run between reads.
        let mut may_read = true;
        loop {
            return match st.wire.link.next() {
                Ok(Step::Message(msg)) if msg.is_close() => {
                    *deliver = Some(msg);
                    Pass::Again
                }
                Ok(Step::Message(msg)) => {
                    if let Some(b) = &mut st.backoff {
                        b.reset();
                    }
                    Pass::Done(Ok(Some(msg)))
                }
                Ok(Step::Read) if may_read => match st.wire.poll_fill(cx) {
                    Poll::Ready(Ok(())) => {
                        may_read = false;
                        continue;
                    }
                    Poll::Ready(Err(e)) => Pass::Fail(e),
                    Poll::Pending => Pass::Wait,
                },
                Ok(Step::Read) => Pass::Again,
                other => Reader::rare_step(other, written.is_ready(), st, cx),
            };
        }
    }
}

pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
