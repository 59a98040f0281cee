//! `AsyncSession`: the async front door. Mirrors `blocking/session.rs`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqivo_proto::deadline::{Deadlines, Phase};
use reqivo_proto::h1::{BodyLength, ClientConn, Event, ResponseHead};
use reqivo_proto::pool::{PoolKey, PoolStats};
use reqivo_proto::redirect::{Decision, Follow, Redirects};
use reqivo_proto::url::Target;

use super::body::AsyncBody;
use super::connect::connect;
use super::pump::{Conn, Wait, Waited};
use crate::body::MAX_PIECES;
use crate::config::{Config, SessionBuilder};
use crate::error::{Error, ErrorKind, Result};
use crate::exchange::{
    apply_redirect, body_length, check_request, gunzip, may_retry, redirect_decision, request_head, response,
};
use crate::pool::{waited, Attempt, Pooled, SharedPool};
use crate::request::{sealed, Driver, LastUrl, Prepared, RequestBody, RequestBuilder};
use crate::response::{Response, Timings};
use crate::trace;

type Stream = Pin<Box<dyn futures_core::Stream<Item = std::io::Result<bytes::Bytes>> + Send>>;

/// An async HTTP/1.1 session on tokio: connection pool, defaults and policy. Cheap to clone; clones share
/// the pool. [`Session`](crate::Session) is its blocking twin with the same methods.
///
/// ```no_run
/// # async fn demo() -> Result<(), reqivo::Error> {
/// let session = reqivo::AsyncSession::builder().build()?;
/// let resp = session.get("http://127.0.0.1:8080/").send().await?;
/// println!("{} {}", resp.status(), resp.text().await?);
/// println!("pool: {:?}", session.pool_stats());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AsyncSession {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// Boxed: a connection changes hands several times per request (pool, attempt, body, pool again),
    /// and a box moves as one pointer.
    pool: Arc<SharedPool<Box<Conn>>>,
    last_url: LastUrl,
}

/// How an attempt ended: with the response to hand out, or with a redirect to follow once the body of
/// this response is drained (boxed: rare, and the common case then moves only a pointer).
enum Outcome {
    Deliver(Response<AsyncBody>),
    Follow(Box<(AsyncBody, Follow)>),
}

impl sealed::Sealed for AsyncSession {
    fn config(&self) -> &Config {
        &self.inner.config
    }
    fn from_config(config: Config) -> Self {
        let pool = SharedPool::new(config.pool);
        AsyncSession { inner: Arc::new(Inner { config, pool, last_url: LastUrl::default() }) }
    }
    fn last_url(&self) -> &LastUrl {
        &self.inner.last_url
    }
}

impl Driver for AsyncSession {
    type Stream = Stream;
}

crate::request::session_methods!(AsyncSession);

impl AsyncSession {
    /// A builder; the same builder type and settings as [`Session::builder`](crate::Session::builder).
    pub fn builder() -> SessionBuilder<AsyncSession> {
        SessionBuilder::new()
    }

    /// Connection pool counters.
    pub fn pool_stats(&self) -> PoolStats {
        self.inner.pool.stats()
    }

    // Borrows the request: by value, it would be copied into this future and again into its state.
    async fn execute(&self, req: &mut Prepared<Stream>) -> Result<Response<AsyncBody>> {
        let config = &self.inner.config;
        let start = Instant::now();
        let deadlines = Deadlines::new(start, req.timeouts.total);
        let mut redirects = Redirects::new(config.max_redirects);
        loop {
            crate::cookies::attach(config, req);
            match self.attempt(req, &deadlines, start, &mut redirects).await? {
                Outcome::Deliver(resp) => return Ok(resp),
                Outcome::Follow(follow) => {
                    let (body, follow) = *follow;
                    trace::event!("following redirect to {}", follow.url);
                    body.discard().await;
                    apply_redirect(req, follow, config);
                }
            }
        }
    }

    /// Sends the request once, or twice when a reused connection turned out to be dead, and decides what
    /// its response is for. The response is built here, in its box, and handed out as one pointer: the
    /// connection, head and timings are not moved out through this future.
    async fn attempt(
        &self,
        req: &mut Prepared<Stream>,
        deadlines: &Deadlines,
        start: Instant,
        redirects: &mut Redirects,
    ) -> Result<Outcome> {
        let config = &self.inner.config;
        let target = match req.target.take() {
            Some(target) => target,
            None => Arc::new(self.inner.pool.target(&req.url).map_err(|e| Error::from(e).with_url(&req.url))?),
        };
        let length = body_length(&req.method, &req.body);
        let mut retried = false;
        // The request just started: the pool wait starts with it (one clock read fewer).
        let mut wait_start = start;
        let mut timings = Timings::default();
        loop {
            let key = &target.key;
            let pool = &self.inner.pool;
            // An idle connection is taken here; connecting and waiting for a slot go through `checkout`,
            // out of line and boxed: most requests reuse a connection, and their future and its poll
            // then carry none of that.
            let mut pooled =
                match pool.try_checkout(key, wait_start, |c| crate::net::idle_socket_is_open(c.io.tcp(), key.tls)) {
                    Attempt::Reuse(mut pooled) => {
                        timings.pool_wait = Some(Duration::ZERO);
                        pooled.conn.proto.set_limits(config.limits);
                        pooled
                    }
                    first => {
                        // Checked before a connection is opened for it (see `check_request`); a request that
                        // waits for a slot is checked before the wait.
                        check_request(&request_head(req, &target, config), length).map_err(|e| e.with_url(&req.url))?;
                        let timings = &mut timings;
                        Box::pin(self.checkout(key, first, req.timeouts.connect, deadlines, (wait_start, timings)))
                            .await
                            .map_err(|e| e.with_url(&req.url))?
                    }
                };
            let head = match send(&mut pooled.conn, req, (&target, length), deadlines, config).await {
                Ok(head) => head,
                Err(e) => {
                    let proto = &pooled.conn.proto;
                    let written = proto.poll_transmit().is_none() && !proto.wants_body();
                    let retry = !retried
                        && may_retry(
                            &e,
                            pooled.reused,
                            proto.response_started(),
                            &req.method,
                            written,
                            req.body.replayable(),
                        );
                    if !retry {
                        return Err(e.with_url(&req.url));
                    }
                    trace::event!("retrying on a fresh connection after: {e}");
                    retried = true;
                    wait_start = Instant::now();
                    timings = Timings::default();
                    continue;
                }
            };
            let head_at = Instant::now();
            timings.first_byte = head_at - start;
            trace::event!("response {} (reused connection: {})", head.status, pooled.reused);
            timings.reused_connection = pooled.reused;
            crate::cookies::store(config.cookies.as_deref(), &req.url, &head.headers);
            let decision = if config.follow_redirects && head.status.is_redirection() {
                redirect_decision(req, redirects, &head)?
            } else {
                Decision::Deliver
            };
            let wait = Wait { deadlines: *deadlines, gap: req.timeouts.read, phase: Phase::Body };
            return match decision {
                Decision::Deliver => {
                    let (remote, gzip) = (pooled.conn.remote, gunzip(&head.headers, config.gzip));
                    let body = AsyncBody::new(pooled, wait, gzip, config.limits.max_body_size, head_at);
                    let mut resp = response(head, Arc::clone(&req.url), remote, timings, gzip, body);
                    resp.parts.body.state.start()?;
                    Ok(Outcome::Deliver(resp))
                }
                Decision::Follow(follow) => {
                    let mut body = AsyncBody::new(pooled, wait, false, None, head_at);
                    body.state.start()?;
                    Ok(Outcome::Follow(Box::new((body, follow))))
                }
            };
        }
    }

    /// Goes on from a first checkout that found no idle connection: connects, or waits for a slot.
    async fn checkout(
        &self,
        key: &PoolKey,
        first: Attempt<Box<Conn>>,
        // Only the connect timeout: a `&Prepared` held across `.await` would make the future !Send
        // (the boxed body stream is not `Sync`).
        connect_timeout: Option<Duration>,
        deadlines: &Deadlines,
        // When the wait for a connection started, and where its time goes.
        (wait_start, timings): (Instant, &mut Timings),
    ) -> Result<Pooled<Box<Conn>>> {
        let config = &self.inner.config;
        let pool = &self.inner.pool;
        let mut now = wait_start;
        let mut attempt = first;
        let mut waiting = None;
        loop {
            match attempt {
                Attempt::Reuse(mut pooled) => {
                    timings.pool_wait = Some(waited(wait_start, now));
                    pooled.conn.proto.set_limits(config.limits);
                    return Ok(pooled);
                }
                Attempt::Connect(slot) => {
                    timings.pool_wait = Some(waited(wait_start, now));
                    let (io, remote) = connect(key, &config.tls, connect_timeout, deadlines, timings).await?;
                    trace::event!("connected to {remote} (tls: {}) in {:?}", key.tls, timings.connect);
                    return Ok(slot.attach(Box::new(Conn::new(io, ClientConn::new(config.limits), remote))));
                }
                Attempt::Wait => {}
            }
            // The pool is full: from now on this task counts as a waiter, and each checkout is tried again
            // registered for the next freed slot, so a slot freed in between still wakes it.
            if waiting.is_none() {
                waiting = Some(pool.async_waiter());
            }
            let freed = pool.freed_async.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            attempt = pool.try_checkout(key, now, |c| crate::net::idle_socket_is_open(c.io.tcp(), key.tls));
            if let Attempt::Wait = attempt {
                now = Instant::now();
                let pool_left = config.pool_wait_timeout.map(|t| t.saturating_sub(now - wait_start));
                match deadlines.next(now, pool_left) {
                    Some((left, _)) if left.is_zero() => return Err(Error::timeout(Phase::PoolWait)),
                    Some((left, _)) => {
                        let _ = tokio::time::timeout(left, freed).await;
                    }
                    None => freed.await,
                }
                now = Instant::now();
            }
        }
    }
}

/// Writes the request and reads up to the final response head.
async fn send(
    conn: &mut Conn,
    req: &mut Prepared<Stream>,
    // The length: worked out once per request, by the caller.
    (target, length): (&Target, BodyLength),
    deadlines: &Deadlines,
    config: &Config,
) -> Result<ResponseHead> {
    conn.proto.send_request(request_head(req, target, config), length)?;
    let write = Wait { deadlines: *deadlines, gap: req.timeouts.read, phase: Phase::Write };
    // A body carries the head with it: one vectored write from memory (see `Conn::write_body`), or the
    // stream's first pieces (see `send_body`).
    if !(matches!(req.body, RequestBody::Bytes(_) | RequestBody::Stream(_)) && conn.proto.wants_body()) {
        conn.flush(&write).await?;
    }
    let mut early = None;
    if !matches!(length, BodyLength::None | BodyLength::Known(0)) {
        // Expect: 100-continue: wait a moment for the server's go-ahead (or its refusal).
        let hold = Wait { deadlines: *deadlines, gap: Some(config.continue_timeout), phase: Phase::ResponseHead };
        while !conn.proto.wants_body() && early.is_none() {
            match conn.wait_event(&hold).await? {
                Waited::GapElapsed => conn.proto.handle_continue_timeout(),
                Waited::Event(Event::Informational(_)) => {}
                Waited::Event(Event::Head(h)) => early = Some(h),
                Waited::Event(_) => {
                    return Err(Error::new(ErrorKind::Protocol, "unexpected event before the response head"))
                }
            }
        }
        if early.is_none() {
            if let Err(e) = send_body(conn, &mut req.body, &write).await {
                early = Some(answer_to_failed_upload(conn, e, deadlines, req.timeouts.read).await?);
            }
        }
    }
    if let Some(h) = early {
        return Ok(h);
    }
    let wait = Wait { deadlines: *deadlines, gap: req.timeouts.read, phase: Phase::ResponseHead };
    // Everything is written by now. Polled here rather than through `next_event`: a future layer less,
    // and the head handed out from where the core produced it.
    debug_assert!(conn.proto.poll_transmit().is_none());
    std::future::poll_fn(|cx| loop {
        return Poll::Ready(match ready!(conn.poll_wait_event(cx, &wait))? {
            Waited::Event(Event::Informational(_)) => continue,
            Waited::Event(Event::Head(h)) => Ok(h),
            Waited::GapElapsed => Err(Error::timeout(wait.phase)),
            Waited::Event(_) => Err(Error::new(ErrorKind::Protocol, "unexpected event before the response head")),
        });
    })
    .await
}

/// A server may answer and close without reading the whole body (a 413, a 401): the write then fails,
/// but its response is waiting to be read (RFC 9112 §9.5). Returns that response, or the write error.
async fn answer_to_failed_upload(
    conn: &mut Conn,
    error: Error,
    deadlines: &Deadlines,
    gap: Option<Duration>,
) -> Result<ResponseHead> {
    if error.kind() != ErrorKind::Io {
        return Err(error);
    }
    let wait = Wait { deadlines: *deadlines, gap, phase: Phase::ResponseHead };
    loop {
        match conn.read_event(&wait).await {
            Ok(Waited::Event(Event::Informational(_))) => {}
            Ok(Waited::Event(Event::Head(head))) => return Ok(head),
            _ => return Err(error),
        }
    }
}

async fn send_body(conn: &mut Conn, body: &mut RequestBody<Stream>, wait: &Wait) -> Result<()> {
    match body {
        RequestBody::Empty => {}
        RequestBody::Bytes(bytes) => conn.write_body(bytes, wait).await?,
        RequestBody::Stream(stream) => {
            // The pieces the stream has ready at once go out together, as one chunk written straight from
            // them (with the head, the first time, and the end of the body when the stream ends at once):
            // one write per batch rather than per piece, and nothing held back while the stream waits.
            // Boxed: its state is large, and every request's future would carry it otherwise.
            Box::pin(async {
                let mut batch = Vec::new();
                let mut ended = false;
                while conn.proto.wants_body() && !ended {
                    while batch.len() < MAX_PIECES {
                        let now = std::future::poll_fn(|cx| Poll::Ready(stream.as_mut().poll_next(cx))).await;
                        let piece = match now {
                            Poll::Ready(piece) => piece,
                            Poll::Pending if batch.is_empty() => {
                                conn.flush(wait).await?;
                                std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await
                            }
                            Poll::Pending => break,
                        };
                        let Some(piece) = piece else {
                            ended = true;
                            break;
                        };
                        let piece: Bytes = piece
                            .map_err(|e| Error::new(ErrorKind::Io, "reading the request body failed").with_source(e))?;
                        if !piece.is_empty() {
                            batch.push(piece);
                        }
                    }
                    conn.send_pieces(&batch, ended, wait).await?;
                    batch.clear();
                }
                Ok::<_, Error>(())
            })
            .await?;
        }
    }
    // A final response that arrived early ends the request body (the core dropped the rest).
    if conn.proto.wants_body() {
        conn.proto.finish_body()?;
    }
    conn.flush(wait).await
}

impl<'s> RequestBuilder<'s, AsyncSession> {
    /// Streams the body from a `Stream` of byte chunks, sent with `Transfer-Encoding: chunked`.
    pub fn body_stream<S>(mut self, stream: S) -> Self
    where
        S: futures_core::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    {
        self.body = RequestBody::Stream(Box::pin(stream));
        self
    }

    /// Sends the request and returns the response once its head has arrived; the body is read from the
    /// [`Response`].
    pub async fn send(self) -> Result<Response<AsyncBody>> {
        let (session, mut prepared) = self.prepare()?;
        let span = trace::request_span(&prepared.method, &prepared.url);
        trace::in_span(span, session.execute(&mut prepared)).await
    }
}
