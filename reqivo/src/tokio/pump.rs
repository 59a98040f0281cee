//! The I/O loop: moves bytes between the socket and the core's buffers. Mirrors `blocking/pump.rs`;
//! it is poll-based underneath so the body can implement `AsyncRead` without boxing futures.

use std::future::{poll_fn, Future};
use std::io::IoSlice;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use reqivo_proto::deadline::{Deadlines, Phase};
use reqivo_proto::h1::{ClientConn, Event};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Sleep;

use super::connect::Transport;
use crate::body::{HasProto, Pieces, MAX_PIECES};
use crate::error::{io_error, Error, ErrorKind, Result};
use crate::exchange::DIRECT_CHUNK_MIN;

/// One connection: the socket and its protocol state.
pub(crate) struct Conn {
    pub(crate) io: Transport,
    pub(crate) proto: ClientConn,
    pub(crate) remote: SocketAddr,
    /// The read timer, kept for the connection's life (see `Timer`).
    timer: Timer,
}

impl HasProto for Conn {
    fn proto(&mut self) -> &mut ClientConn {
        &mut self.proto
    }
}

/// The limits of one wait: the request's deadlines and the phase's own limit (the read gap).
#[derive(Clone, Copy)]
pub(crate) struct Wait {
    pub deadlines: Deadlines,
    pub gap: Option<Duration>,
    pub phase: Phase,
}

/// How a bounded wait ended.
pub(crate) enum Waited {
    Event(Event),
    /// The wait's own limit ran out (not the total deadline).
    GapElapsed,
}

/// The timer of the read (or write: they never overlap) in progress. A tokio timer costs more to set up
/// and take down than a read, so one is kept per connection and set only when a read or write has to
/// wait; it is moved only when a wait must end sooner than it is set for: a timer set for an earlier
/// wait's deadline that fires early is moved on then. Nor is it polled again while it is set and holds
/// this task's waker: a poll costs more than the read.
#[derive(Default)]
struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    /// The waker the timer was last polled with, which it holds until it fires; `None` when not known
    /// (never polled, moved since, or fired). Polls are kept out of tokio's cooperative budget, so a
    /// pending poll always leaves its waker with the timer.
    waker: Option<Waker>,
    read: ReadWait,
}

/// The deadline of the read (or write) in progress, worked out only once it has to wait.
#[derive(Default, Clone, Copy)]
enum ReadWait {
    #[default]
    Idle,
    /// Started with this much time left (`None` = unbounded), not waited yet.
    Started(Option<Duration>),
    Waiting(Option<tokio::time::Instant>),
}

impl Timer {
    /// Called when a read or write returned `Pending`: ready when its time has run out.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let until = match self.read {
            ReadWait::Started(left) => {
                let until = left.map(|left| tokio::time::Instant::now() + left);
                self.read = ReadWait::Waiting(until);
                until
            }
            ReadWait::Waiting(until) => until,
            ReadWait::Idle => None,
        };
        let Some(until) = until else { return Poll::Pending };
        let sleep = match &mut self.sleep {
            Some(sleep) => {
                if sleep.deadline() > until {
                    sleep.as_mut().reset(until);
                    self.waker = None;
                } else if !sleep.is_elapsed() && self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    // Set to fire by `until` (early, at worst: then it is moved on), and it wakes this task.
                    return Poll::Pending;
                }
                sleep
            }
            None => self.sleep.insert(Box::pin(tokio::time::sleep_until(until))),
        };
        loop {
            // Unconstrained: a poll refused for want of budget would return pending without taking the
            // waker, and the check above would then trust a waker the timer never got. (The path
            // `tokio::task::coop::unconstrained` is newer than the tokio versions we accept.)
            #[allow(deprecated)]
            let polled = Pin::new(&mut tokio::task::unconstrained(sleep.as_mut())).poll(cx);
            if polled.is_pending() {
                if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    self.waker = Some(cx.waker().clone());
                }
                return Poll::Pending;
            }
            self.waker = None;
            if sleep.deadline() >= until {
                self.read = ReadWait::Idle;
                return Poll::Ready(());
            }
            sleep.as_mut().reset(until);
        }
    }
}

impl Conn {
    pub(crate) fn new(io: Transport, proto: ClientConn, remote: SocketAddr) -> Self {
        Conn { io, proto, remote, timer: Timer::default() }
    }

    /// Writes everything the core has queued.
    pub(crate) async fn flush(&mut self, wait: &Wait) -> Result<()> {
        poll_fn(|cx| self.poll_flush(cx, wait)).await
    }

    /// `flush` as a poll function: a write that has to wait is bounded by the connection's timer, as a
    /// read is, rather than by a timeout future set up around every write. (A TLS connection is flushed
    /// even when nothing was queued: that writes what rustls may hold, if anything, and costs nothing else.)
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>, wait: &Wait) -> Poll<Result<()>> {
        while let Some(bytes) = self.proto.poll_transmit() {
            if let ReadWait::Idle = self.timer.read {
                let left = match wait.deadlines.next_with(Instant::now, wait.gap) {
                    Some((left, _)) if left.is_zero() => return Poll::Ready(Err(Error::timeout(Phase::Write))),
                    other => other.map(|(left, _)| left),
                };
                self.timer.read = ReadWait::Started(left);
            }
            let written = match Pin::new(&mut self.io).poll_write(cx, bytes) {
                Poll::Pending => {
                    ready!(self.timer.poll_expired(cx));
                    Err(Error::timeout(Phase::Write))
                }
                Poll::Ready(Ok(0)) => Err(Error::new(ErrorKind::Io, "connection closed while sending")),
                Poll::Ready(Ok(n)) => Ok(n),
                Poll::Ready(Err(e)) => Err(io_error(e, Phase::Write)),
            };
            self.timer.read = ReadWait::Idle;
            self.proto.advance_transmit(written?);
        }
        // TCP sends what it is given; only TLS may hold written bytes back.
        if let Transport::Tls(_) = self.io {
            ready!(Pin::new(&mut self.io).poll_flush(cx)).map_err(|e| io_error(e, Phase::Write))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Frames `data` as the next piece of a chunked body into the transmit buffer; writes only while the
    /// buffer is full (the caller flushes when it is done queueing).
    pub(crate) async fn queue_body(&mut self, mut data: &[u8], wait: &Wait) -> Result<()> {
        while !data.is_empty() && self.proto.wants_body() {
            let n = self.proto.send_body(data)?;
            data = &data[n..];
            if !data.is_empty() {
                self.flush(wait).await?;
            }
        }
        Ok(())
    }

    /// Sends `data` as request body, straight from `data` in vectored writes behind what the core has
    /// queued (the head, a chunk-size line): never copied into the transmit buffer. A chunked body sends
    /// it as one chunk.
    pub(crate) async fn write_body(&mut self, data: &[u8], wait: &Wait) -> Result<()> {
        self.write_pieces::<_, 3>(&[data], false, wait).await
    }

    /// Sends pieces of a streamed (chunked) body; with `last` the body ends with them. Large ones go out
    /// as one chunk straight from the pieces (`write_pieces`); small ones are framed into the transmit
    /// buffer, written when the caller flushes (with the head, or the end of the body, when those wait too).
    pub(crate) async fn send_pieces<P: AsRef<[u8]>>(&mut self, pieces: &[P], last: bool, wait: &Wait) -> Result<()> {
        if Pieces::new(pieces).left() >= DIRECT_CHUNK_MIN {
            return self.write_pieces::<_, { MAX_PIECES + 2 }>(pieces, last, wait).await;
        }
        for piece in pieces {
            self.queue_body(piece.as_ref(), wait).await?;
        }
        if last && self.proto.wants_body() {
            self.proto.finish_body()?;
        }
        Ok(())
    }

    /// Sends `pieces` as one chunk (or as the rest of a `Content-Length` body), straight from the pieces in
    /// vectored writes between what the core has queued before them (the head, the chunk-size line) and
    /// after them (the chunk's CRLF, the end of the body when `last`); at most `SLICES - 2` pieces per write.
    async fn write_pieces<P: AsRef<[u8]>, const SLICES: usize>(
        &mut self,
        pieces: &[P],
        last: bool,
        wait: &Wait,
    ) -> Result<()> {
        let mut data = Pieces::new(pieces);
        if last {
            self.proto.begin_last_chunk(data.left())?;
        } else {
            self.proto.begin_chunk(data.left())?;
        }
        while data.left() > 0 && self.proto.wants_body() {
            let room = self.proto.body_direct_room();
            if room < data.left() as u64 {
                // Chunked, or more than declared: `send_body` frames it or says what is wrong.
                let n = self.proto.send_body(data.current())?;
                data.advance(n);
                self.flush(wait).await?;
                continue;
            }
            let left = match wait.deadlines.next(Instant::now(), wait.gap) {
                Some((left, _)) if left.is_zero() => return Err(Error::timeout(Phase::Write)),
                other => other.map(|(left, _)| left),
            };
            let queued = self.proto.poll_transmit().unwrap_or_default();
            // Sized by the caller: a future holds the array across the write.
            let mut slices = [IoSlice::new(&[]); SLICES];
            let used = data.slices(queued, self.proto.body_direct_suffix(), &mut slices);
            let n = within(left, self.io.write_vectored(&slices[..used])).await?;
            if n == 0 {
                return Err(Error::new(ErrorKind::Io, "connection closed while sending"));
            }
            data.advance(self.proto.advance_vectored(n)?);
        }
        Ok(())
    }

    /// One read into the core's buffer; EOF is handed to the core. `Ok(false)` when the wait's own limit
    /// ran out; a total-deadline expiry is an error.
    fn poll_fill(&mut self, cx: &mut Context<'_>, wait: &Wait) -> Poll<Result<bool>> {
        if let ReadWait::Idle = self.timer.read {
            let left = match wait.deadlines.next_with(Instant::now, wait.gap) {
                Some((left, _)) if left.is_zero() => return Poll::Ready(expired(wait)),
                other => other.map(|(left, _)| left),
            };
            self.timer.read = ReadWait::Started(left);
        }
        match poll_read_into(Pin::new(&mut self.io), cx, self.proto.recv_buf()) {
            Poll::Ready(Ok(0)) => self.proto.handle_eof(),
            Poll::Ready(Ok(_)) => {}
            Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => {
                self.timer.read = ReadWait::Idle;
                return Poll::Ready(Err(io_error(e, wait.phase)));
            }
            Poll::Pending => {
                ready!(self.timer.poll_expired(cx));
                return Poll::Ready(expired(wait));
            }
        }
        self.timer.read = ReadWait::Idle;
        Poll::Ready(Ok(true))
    }

    /// The next event, reading as needed; the wait's own limit running out is reported, not an error.
    /// Nothing may be left to transmit (flush first).
    pub(crate) fn poll_wait_event(&mut self, cx: &mut Context<'_>, wait: &Wait) -> Poll<Result<Waited>> {
        // Woken during a read that went pending: the core found no event in the bytes it holds and nothing
        // touched the connection since, so asking again would only repeat that work. Read at once.
        // (The core would answer that at once too, but the call still costs ~80 instructions per request;
        // only this driver is woken without data, so the blocking twin has no such check.)
        loop {
            if let ReadWait::Idle = self.timer.read {
                if let Some(event) = self.proto.poll_event()? {
                    return Poll::Ready(Ok(Waited::Event(event)));
                }
                if !self.proto.wants_read() {
                    return Poll::Ready(Err(Error::new(
                        ErrorKind::Protocol,
                        "connection stalled: no event and nothing to read",
                    )));
                }
            }
            if !ready!(self.poll_fill(cx, wait))? {
                return Poll::Ready(Ok(Waited::GapElapsed));
            }
        }
    }

    /// The next event, reading as needed; the wait's own limit running out is reported, not an error.
    pub(crate) async fn wait_event(&mut self, wait: &Wait) -> Result<Waited> {
        self.flush(wait).await?;
        self.read_event(wait).await
    }

    /// Like `wait_event`, without writing first (after a failed write, to pick up the peer's answer).
    pub(crate) async fn read_event(&mut self, wait: &Wait) -> Result<Waited> {
        poll_fn(|cx| self.poll_wait_event(cx, wait)).await
    }

    /// The next event; any timeout is an error.
    pub(crate) async fn next_event(&mut self, wait: &Wait) -> Result<Event> {
        self.flush(wait).await?;
        // Not through `wait_event`: two future layers less on every request.
        poll_fn(|cx| match ready!(self.poll_wait_event(cx, wait))? {
            Waited::Event(event) => Poll::Ready(Ok(event)),
            Waited::GapElapsed => Poll::Ready(Err(Error::timeout(wait.phase))),
        })
        .await
    }
}

fn expired(wait: &Wait) -> Result<bool> {
    if wait.deadlines.expired_with(Instant::now) {
        Err(Error::timeout(wait.phase))
    } else {
        Ok(false)
    }
}

/// Runs a write within `left` (`None` = unbounded). The timer is set up only when the write does not
/// complete at once: most do, and a timer costs more than the write itself.
async fn within(left: Option<Duration>, write: impl Future<Output = std::io::Result<usize>>) -> Result<usize> {
    let mut write = std::pin::pin!(write);
    let written = match poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
        Poll::Ready(written) => written,
        Poll::Pending => match left {
            Some(left) => tokio::time::timeout(left, write).await.map_err(|_| Error::timeout(Phase::Write))?,
            None => write.await,
        },
    };
    written.map_err(|e| io_error(e, Phase::Write))
}

/// Reads into the spare capacity the core reserved, without zeroing it first.
pub(crate) fn poll_read_into(
    io: Pin<&mut Transport>,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<std::io::Result<usize>> {
    if !buf.has_remaining_mut() {
        buf.reserve(8 * 1024);
    }
    let spare = buf.spare_capacity_mut();
    let mut read_buf = ReadBuf::uninit(spare);
    ready!(io.poll_read(cx, &mut read_buf))?;
    let n = read_buf.filled().len();
    // SAFETY: `ReadBuf` guarantees its first `n` bytes were initialised by the read, and they are the
    // first `n` bytes of `buf`'s spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Poll::Ready(Ok(n))
}
