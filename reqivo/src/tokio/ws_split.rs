//! What the reader and the writer of one WebSocket share (async only: a blocking `WebSocket` is used by
//! one thread and has no halves).
//!
//! Both halves (of `split()`, or the one `AsyncWebSocket`) share one `State` — the socket, the `Link`, the
//! reconnection state — behind a `std::sync::Mutex` that is held only inside one `poll` (never across
//! `.await`): every socket call under it is non-blocking, so the lock is held for one syscall at most. A
//! half that cannot go on parks its waker in the `State`; the other half wakes it when it wrote bytes (a
//! socket remembers one write waker only), failed the connection, or reconnected. Automatic Pongs and the
//! close echo produced while reading are written by the reader (or by the writer, when it is writing).
//!
//! The socket is kept whole in the `State` rather than split with `tokio::io::split`: every read and write
//! already happens under the `State` lock (the codec's buffers live there), so a second lock inside the
//! socket would add nothing. Reconnection is done by the reader (it owns the reconnect future); a writer
//! that finds the connection down drives the reader itself (`AsyncWebSocket`) or waits for the reader's
//! task (split halves).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Waker};
use std::time::Instant;

use reqivo_proto::backoff::Backoff;
use reqivo_proto::deadline::Phase;
use tokio::time::Sleep;

use super::ws_link::{reconnect, Pass, Reconnecting, Wire};
use crate::error::{Error, ErrorKind, Result};
use crate::websocket::{check_close, Message, Outgoing, Step, WsParams};

/// Which half is polling.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Reader,
    Writer,
}

/// What the reader and the writer share.
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) params: WsParams,
}

pub(crate) struct State {
    pub(crate) wire: Wire,
    /// `None` when reconnection is off, gave up, or is under way (the reconnect future holds it).
    pub(crate) backoff: Option<Backoff>,
    reconnecting: bool,
    /// Why reconnection gave up.
    pub(crate) gave_up: Option<(ErrorKind, String)>,
    /// Bumped by each reconnection: a message queued on an older connection is sent again.
    pub(crate) generation: u64,
    reader_alive: bool,
    reader_waker: Option<Waker>,
    writer_waker: Option<Waker>,
    /// Since when writing has made no progress (the write timeout runs from here).
    pub(crate) stalled_since: Option<Instant>,
}

impl Shared {
    pub(crate) fn new(wire: Wire, params: WsParams) -> Arc<Shared> {
        let state = State {
            wire,
            backoff: params.backoff(),
            reconnecting: false,
            gave_up: None,
            generation: 0,
            reader_alive: true,
            reader_waker: None,
            writer_waker: None,
            stalled_since: None,
        };
        Arc::new(Shared { state: Mutex::new(state), params })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // Every update of the state is complete before anything can panic; a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    /// Writes out for `role`, keeping the other half's waker informed (the socket wakes only the last
    /// task that found it full).
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>, role: Role) -> Poll<Result<()>> {
        let mut progressed = false;
        let result = self.wire.poll_write_out(cx, &mut progressed);
        if progressed {
            self.stalled_since = None;
            self.wake(other(role));
        }
        match &result {
            Poll::Pending => self.park(role, cx),
            Poll::Ready(Err(_)) => self.wake(other(role)),
            Poll::Ready(Ok(())) => {}
        }
        result
    }

    pub(crate) fn park(&mut self, role: Role, cx: &Context<'_>) {
        let slot = match role {
            Role::Reader => &mut self.reader_waker,
            Role::Writer => &mut self.writer_waker,
        };
        match slot {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
    }

    pub(crate) fn wake(&mut self, role: Role) {
        if let Some(w) = self.unpark(role) {
            w.wake();
        }
    }

    /// `role` is no longer waiting: drops its parked waker, so the other half's progress does not wake a
    /// task that has nothing to wait for (one `AsyncWebSocket` is both halves in one task: each send
    /// would otherwise wake it again for nothing).
    pub(crate) fn unpark(&mut self, role: Role) -> Option<Waker> {
        match role {
            Role::Reader => self.reader_waker.take(),
            Role::Writer => self.writer_waker.take(),
        }
    }

    /// True while a writer must wait for (or drive) a reconnection.
    pub(crate) fn is_down(&self) -> bool {
        self.reconnecting || (self.wire.link.is_down() && self.backoff.is_some())
    }

    pub(crate) fn reader_alive(&self) -> bool {
        self.reader_alive
    }

    /// The error to report for a connection that failed for good.
    pub(crate) fn failure(&self) -> Error {
        match &self.gave_up {
            Some((kind, message)) => Error::new(*kind, message.clone()),
            None => self.wire.link.check().err().unwrap_or_else(|| Error::new(ErrorKind::Io, "WebSocket failed")),
        }
    }
}

fn other(role: Role) -> Role {
    match role {
        Role::Reader => Role::Writer,
        Role::Writer => Role::Reader,
    }
}

/// The reading half's private state.
pub(crate) struct Reader {
    pub(crate) shared: Arc<Shared>,
    pub(crate) timer: Option<Pin<Box<Sleep>>>,
    pub(crate) reconnecting: Option<Reconnecting>,
    /// A Close from the peer, handed out once its echo is written.
    pub(crate) deliver: Option<Message>,
    /// The read deadline of the `recv` in progress.
    pub(crate) until: Option<Instant>,
    pub(crate) subprotocol: Option<String>,
}

impl Reader {
    pub(crate) fn new(shared: Arc<Shared>) -> Reader {
        let subprotocol = shared.lock().wire.link.subprotocol().map(str::to_owned);
        Reader { shared, timer: None, reconnecting: None, deliver: None, until: None, subprotocol }
    }

    /// Takes the fields it needs rather than `&mut self`, so a caller may hold `st` locked through
    /// `self.shared` without cloning the `Arc`.
    pub(crate) fn start_reconnect(
        shared: &Arc<Shared>,
        reconnecting: &mut Option<Reconnecting>,
        st: &mut State,
        cause: Error,
    ) {
        if let Some(backoff) = st.backoff.take() {
            st.reconnecting = true;
            *reconnecting = Some(Box::pin(reconnect(shared.clone(), backoff, cause)));
        }
    }

    /// Drives a reconnection (starting one if the connection is down); `Ready(Ok)` when the connection is
    /// usable again, the error when reconnection is off or gave up.
    pub(crate) fn poll_reconnect(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.reconnecting.is_none() {
            let shared = self.shared.clone();
            let mut st = shared.lock();
            if !st.wire.link.is_down() {
                return Poll::Ready(Ok(()));
            }
            if st.backoff.is_none() {
                return Poll::Ready(Err(st.failure()));
            }
            let cause = st.failure();
            Reader::start_reconnect(&self.shared, &mut self.reconnecting, &mut st, cause);
        }
        let Some(fut) = self.reconnecting.as_mut() else { return Poll::Ready(Ok(())) };
        let (backoff, result) = ready!(fut.as_mut().poll(cx));
        self.reconnecting = None;
        let mut st = self.shared.lock();
        st.reconnecting = false;
        st.wake(Role::Writer);
        match result {
            Ok(wire) => {
                self.subprotocol = wire.link.subprotocol().map(str::to_owned);
                st.wire = wire;
                st.backoff = Some(backoff);
                st.generation += 1;
                st.stalled_since = None;
                Poll::Ready(Ok(()))
            }
            Err(e) => {
                st.gave_up = Some((e.kind(), e.to_string()));
                Poll::Ready(Err(e))
            }
        }
    }

    /// Sleeps until `at` (`None`: forever); `Ready` once it passed.
    pub(crate) fn poll_timer(&mut self, cx: &mut Context<'_>, at: Option<Instant>) -> Poll<()> {
        poll_sleep(&mut self.timer, cx, at)
    }
}

/// The receive loop's rare ends, out of line (`ws_link.rs` has the loop).
impl Reader {
    /// A pass that ended the `recv` other than with a data message: the close handshake, a failure
    /// (reconnecting when on: `None`, poll again). After the close handshake or a failure nothing more
    /// is read or written.
    #[cold]
    #[inline(never)]
    pub(crate) fn finish(
        shared: &Arc<Shared>,
        reconnecting: &mut Option<Reconnecting>,
        mut st: MutexGuard<'_, State>,
        pass: Pass,
    ) -> Option<Result<Option<Message>>> {
        if matches!(pass, Pass::Done(Ok(None)) | Pass::Fail(_)) {
            st.wire.shutdown();
        }
        match pass {
            Pass::Done(result) => {
                st.unpark(Role::Reader);
                Some(result)
            }
            Pass::Fail(e) => {
                if st.wire.link.is_down() && st.backoff.is_some() {
                    Reader::start_reconnect(shared, reconnecting, &mut st, e);
                    return None;
                }
                Some(Err(if st.gave_up.is_some() { st.failure() } else { e }))
            }
            // Never passed here.
            Pass::Again | Pass::Wait => None,
        }
    }

    /// Waits for the timer (`wake_at`: keepalive, close timeout, read deadline); `Ready(Ok)`: poll again,
    /// the error once the read deadline passed.
    #[cold]
    #[inline(never)]
    pub(crate) fn poll_wait(&mut self, cx: &mut Context<'_>, wake_at: Option<Instant>) -> Poll<Result<()>> {
        ready!(self.poll_timer(cx, wake_at));
        if self.until.is_some_and(|u| Instant::now() >= u) {
            return Poll::Ready(Err(Error::timeout(Phase::Message)));
        }
        Poll::Ready(Ok(()))
    }

    /// The Close from the peer is handed out once its echo is written (or writing failed: it is over
    /// anyway).
    #[cold]
    #[inline(never)]
    pub(crate) fn deliver_close(deliver: &mut Option<Message>, written: bool) -> Pass {
        match deliver.take() {
            Some(msg) if written => Pass::Done(Ok(Some(msg))),
            msg => {
                *deliver = msg;
                Pass::Wait
            }
        }
    }

    /// The steps other than a message and a read: the end, writing first, a codec error.
    #[cold]
    #[inline(never)]
    pub(crate) fn rare_step(step: Result<Step>, written: bool, st: &mut State, cx: &mut Context<'_>) -> Pass {
        match step {
            Ok(Step::Closed) => Pass::Done(Ok(None)),
            Ok(Step::Write) if written => Pass::Again,
            Ok(Step::Write) => Pass::Wait,
            // Handled by `pass`.
            Ok(Step::Message(_) | Step::Read) => Pass::Again,
            Err(e) => {
                // The codec queued a Close reporting the violation: best effort.
                let _ = st.poll_write_out(cx, Role::Reader);
                Pass::Fail(e)
            }
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.reader_alive = false;
        if self.reconnecting.take().is_some() {
            // Nobody will finish this reconnection: the connection stays down for good.
            st.reconnecting = false;
            st.gave_up.get_or_insert((ErrorKind::Io, "the WebSocket reader was dropped while reconnecting".into()));
        }
        st.wake(Role::Writer);
    }
}

/// Polls a reusable sleep reset to `at`.
pub(crate) fn poll_sleep(timer: &mut Option<Pin<Box<Sleep>>>, cx: &mut Context<'_>, at: Option<Instant>) -> Poll<()> {
    let Some(at) = at else {
        *timer = None;
        return Poll::Pending;
    };
    let at = tokio::time::Instant::from_std(at);
    match timer {
        Some(sleep) if sleep.deadline() == at => {}
        Some(sleep) => sleep.as_mut().reset(at),
        None => *timer = Some(Box::pin(tokio::time::sleep_until(at))),
    }
    match timer {
        Some(sleep) => sleep.as_mut().poll(cx),
        None => Poll::Pending,
    }
}

/// How one attempt to send ended.
enum Sent {
    Done,
    /// The connection is down: reconnect (or wait for the reader to), then send again.
    Down,
}

/// The writing half's private state.
pub(crate) struct Writer {
    pub(crate) shared: Arc<Shared>,
    timer: Option<Pin<Box<Sleep>>>,
    /// The `Sink`'s message in flight, with the generation it was queued on.
    pending: Option<(Message, Option<u64>)>,
    close_sent: bool,
}

impl Writer {
    pub(crate) fn new(shared: Arc<Shared>) -> Writer {
        Writer { shared, timer: None, pending: None, close_sent: false }
    }

    /// Queues `msg` once (`queued` remembers the connection generation it went on) and writes it out.
    /// When the connection is down: with `reader`, drives the reconnection; without, waits for the reader
    /// task to reconnect. Returns when the message is written to the socket.
    pub(crate) fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        msg: &Outgoing<'_>,
        queued: &mut Option<u64>,
        mut reader: Option<&mut Reader>,
    ) -> Poll<Result<()>> {
        loop {
            match ready!(self.poll_send_once(cx, msg, queued))? {
                Sent::Done => return Poll::Ready(Ok(())),
                Sent::Down => ready!(self.poll_down(cx, reader.as_deref_mut()))?,
            }
        }
    }

    /// The connection is down: reconnects with `reader`, or waits for the reader task. `Ready(Ok)`: send
    /// again.
    #[cold]
    #[inline(never)]
    fn poll_down(&mut self, cx: &mut Context<'_>, reader: Option<&mut Reader>) -> Poll<Result<()>> {
        if let Some(r) = reader {
            return r.poll_reconnect(cx);
        }
        let mut st = self.shared.lock();
        if !st.is_down() {
            return Poll::Ready(Ok(()));
        }
        if !st.reader_alive() {
            return Poll::Ready(Err(st.failure()));
        }
        st.park(Role::Writer, cx);
        st.wake(Role::Reader);
        Poll::Pending
    }

    /// Only queueing and a write that takes everything are handled here; the rest is out of line
    /// (`queue_failed`, `write_stuck`), so the lines a message runs through stay few.
    fn poll_send_once(
        &mut self,
        cx: &mut Context<'_>,
        msg: &Outgoing<'_>,
        queued: &mut Option<u64>,
    ) -> Poll<Result<Sent>> {
        // Disjoint borrows instead of a clone of the `Arc`: no reference-count traffic per poll.
        let Writer { shared, timer, .. } = self;
        let mut st = shared.lock();
        loop {
            if st.is_down() {
                // Whatever was queued went with the old connection: the message goes again.
                *queued = None;
                return Poll::Ready(Ok(Sent::Down));
            }
            if *queued != Some(st.generation) {
                match st.wire.link.queue(msg, Instant::now) {
                    Ok(true) => *queued = Some(st.generation),
                    // The queue is full: write out, then queue again.
                    Ok(false) => {}
                    Err(e) => match Writer::queue_failed(&st, e) {
                        Some(e) => return Poll::Ready(Err(e)),
                        None => continue,
                    },
                }
            }
            match st.poll_write_out(cx, Role::Writer) {
                Poll::Ready(Ok(())) if queued.is_some() => {
                    st.unpark(Role::Writer);
                    if let Some(b) = &mut st.backoff {
                        b.reset();
                    }
                    return Poll::Ready(Ok(Sent::Done));
                }
                Poll::Ready(Ok(())) => {}
                written => {
                    if let Some(result) = Writer::write_stuck(shared, timer, &mut st, cx, written) {
                        return result;
                    }
                }
            }
        }
    }

    /// Queueing failed: the error to report, or `None` when the connection is down (send again).
    #[cold]
    #[inline(never)]
    fn queue_failed(st: &State, e: Error) -> Option<Error> {
        if st.is_down() {
            return None;
        }
        Some(if st.gave_up.is_some() { st.failure() } else { e })
    }

    /// Writing out failed or could not finish: the error, the wait (the write timeout runs: no progress
    /// at all for the session's read timeout), or `None` to go on (the connection is down, or the timer
    /// fired early).
    #[cold]
    #[inline(never)]
    fn write_stuck(
        shared: &Shared,
        timer: &mut Option<Pin<Box<Sleep>>>,
        st: &mut State,
        cx: &mut Context<'_>,
        written: Poll<Result<()>>,
    ) -> Option<Poll<Result<Sent>>> {
        match written {
            Poll::Ready(Ok(())) => None,
            Poll::Ready(Err(e)) => {
                st.wake(Role::Reader);
                (!st.is_down()).then_some(Poll::Ready(Err(e)))
            }
            Poll::Pending => {
                let now = Instant::now();
                let since = *st.stalled_since.get_or_insert(now);
                let Some(at) = shared.params.read_timeout.and_then(|t| since.checked_add(t)) else {
                    return Some(Poll::Pending);
                };
                if now >= at {
                    let e = st.wire.link.fail(Error::timeout(Phase::Write), true);
                    st.wake(Role::Reader);
                    (!st.is_down()).then_some(Poll::Ready(Err(e)))
                } else if poll_sleep(timer, cx, Some(at)).is_pending() {
                    Some(Poll::Pending)
                } else {
                    None
                }
            }
        }
    }

    /// Drives the `Sink`'s message in flight.
    pub(crate) fn poll_pending(&mut self, cx: &mut Context<'_>, reader: Option<&mut Reader>) -> Poll<Result<()>> {
        let Some((msg, mut queued)) = self.pending.take() else { return Poll::Ready(Ok(())) };
        let result = self.poll_send(cx, &msg.outgoing(), &mut queued, reader);
        if result.is_pending() {
            self.pending = Some((msg, queued));
        }
        result
    }

    pub(crate) fn start(&mut self, msg: Message) -> Result<()> {
        if let Message::Close(Some(frame)) = &msg {
            check_close(frame.code, &frame.reason)?;
        }
        self.pending = Some((msg, None));
        Ok(())
    }

    pub(crate) fn poll_flush_all(&mut self, cx: &mut Context<'_>, reader: Option<&mut Reader>) -> Poll<Result<()>> {
        ready!(self.poll_pending(cx, reader))?;
        self.shared.lock().poll_write_out(cx, Role::Writer)
    }

    pub(crate) fn poll_finish(&mut self, cx: &mut Context<'_>, mut reader: Option<&mut Reader>) -> Poll<Result<()>> {
        ready!(self.poll_flush_all(cx, reader.as_deref_mut()))?;
        if !self.close_sent {
            self.close_sent = true;
            if self.shared.lock().wire.link.is_closing() {
                return Poll::Ready(Ok(()));
            }
            self.pending = Some((Message::close(1000, ""), None));
        }
        self.poll_pending(cx, reader)
    }
}
