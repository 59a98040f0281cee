//! `Session`: the blocking twin of `AsyncSession`. Mirrors `tokio/session.rs`.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqivo_proto::deadline::{Deadlines, Phase};
use reqivo_proto::h1::{BodyLength, ClientConn, Event, ResponseHead};
use reqivo_proto::pool::{PoolKey, PoolStats};
use reqivo_proto::redirect::{Decision, Follow, Redirects};
use reqivo_proto::url::Target;

use super::body::Body;
use super::connect::connect;
use super::pump::{Conn, Wait, Waited};
use crate::config::{Config, SessionBuilder};
use crate::error::{Error, ErrorKind, Result};
use crate::exchange::{
    apply_redirect, body_length, check_request, gunzip, may_retry, redirect_decision, request_head, response,
};
use crate::pool::{waited, Attempt, Pooled, SharedPool};
use crate::request::{sealed, Driver, LastUrl, Prepared, RequestBody, RequestBuilder};
use crate::response::{Response, Timings};
use crate::trace;

type Stream = Box<dyn Read + Send>;

/// A blocking HTTP/1.1 session: connection pool, defaults and policy, on `std::net` sockets — no runtime,
/// no helper thread. Cheap to clone; clones share the pool. The same API as
/// [`AsyncSession`](crate::AsyncSession), minus `.await`.
///
/// ```no_run
/// # fn main() -> Result<(), reqivo::Error> {
/// let session = reqivo::Session::builder().build()?;
/// let resp = session.get("http://127.0.0.1:8080/").send()?;
/// println!("{} {}", resp.status(), resp.text()?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
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
    Deliver(Response<Body>),
    Follow(Box<(Body, Follow)>),
}

impl sealed::Sealed for Session {
    fn config(&self) -> &Config {
        &self.inner.config
    }
    fn from_config(config: Config) -> Self {
        let pool = SharedPool::new(config.pool);
        Session { inner: Arc::new(Inner { config, pool, last_url: LastUrl::default() }) }
    }
    fn last_url(&self) -> &LastUrl {
        &self.inner.last_url
    }
}

impl Driver for Session {
    type Stream = Stream;
}

crate::request::session_methods!(Session);

impl Session {
    /// A builder; the same builder type and settings as [`AsyncSession::builder`](crate::AsyncSession::builder).
    pub fn builder() -> SessionBuilder<Session> {
        SessionBuilder::new()
    }

    /// Connection pool counters.
    pub fn pool_stats(&self) -> PoolStats {
        self.inner.pool.stats()
    }

    // Borrows the request, as the async twin does (there, by value it would be copied into the future).
    fn execute(&self, req: &mut Prepared<Stream>) -> Result<Response<Body>> {
        let config = &self.inner.config;
        let start = Instant::now();
        let deadlines = Deadlines::new(start, req.timeouts.total);
        let mut redirects = Redirects::new(config.max_redirects);
        loop {
            crate::cookies::attach(config, req);
            match self.attempt(req, &deadlines, start, &mut redirects)? {
                Outcome::Deliver(resp) => return Ok(resp),
                Outcome::Follow(follow) => {
                    let (body, follow) = *follow;
                    trace::event!("following redirect to {}", follow.url);
                    body.discard();
                    apply_redirect(req, follow, config);
                }
            }
        }
    }

    /// Sends the request once, or twice when a reused connection turned out to be dead, and decides what
    /// its response is for. The response is built here, in its box, and handed out as one pointer: the
    /// connection, head and timings are not moved out through the caller.
    fn attempt(
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
            // out of line: most requests reuse a connection, and their path then carries none of that.
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
                        self.checkout(key, first, req.timeouts.connect, deadlines, (wait_start, timings))
                            .map_err(|e| e.with_url(&req.url))?
                    }
                };
            let head = match send(&mut pooled.conn, req, (&target, length), deadlines, config) {
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
                    let body = Body::new(pooled, wait, gzip, config.limits.max_body_size, head_at);
                    let mut resp = response(head, Arc::clone(&req.url), remote, timings, gzip, body);
                    resp.parts.body.state.start()?;
                    Ok(Outcome::Deliver(resp))
                }
                Decision::Follow(follow) => {
                    let mut body = Body::new(pooled, wait, false, None, head_at);
                    body.state.start()?;
                    Ok(Outcome::Follow(Box::new((body, follow))))
                }
            };
        }
    }

    /// Goes on from a first checkout that found no idle connection: connects, or waits for a slot.
    #[inline(never)]
    fn checkout(
        &self,
        key: &PoolKey,
        first: Attempt<Box<Conn>>,
        // Only the connect timeout, as in the async twin (where a `&Prepared` held across `.await` would make
        // the future !Send).
        connect_timeout: Option<Duration>,
        deadlines: &Deadlines,
        // When the wait for a connection started, and where its time goes.
        (wait_start, timings): (Instant, &mut Timings),
    ) -> Result<Pooled<Box<Conn>>> {
        let config = &self.inner.config;
        let pool = &self.inner.pool;
        let mut now = wait_start;
        let mut attempt = first;
        loop {
            match attempt {
                Attempt::Reuse(mut pooled) => {
                    timings.pool_wait = Some(waited(wait_start, now));
                    pooled.conn.proto.set_limits(config.limits);
                    return Ok(pooled);
                }
                Attempt::Connect(slot) => {
                    timings.pool_wait = Some(waited(wait_start, now));
                    let (io, remote) = connect(key, &config.tls, connect_timeout, deadlines, timings)?;
                    trace::event!("connected to {remote} (tls: {}) in {:?}", key.tls, timings.connect);
                    return Ok(slot.attach(Box::new(Conn::new(io, ClientConn::new(config.limits), remote))));
                }
                Attempt::Wait => {}
            }
            // The pool is full: wait for a freed slot (the generation read before the checkout means a slot
            // freed in between ends the wait at once), then try again.
            let seen = pool.generation();
            attempt = pool.try_checkout(key, now, |c| crate::net::idle_socket_is_open(c.io.tcp(), key.tls));
            if let Attempt::Wait = attempt {
                now = Instant::now();
                let pool_left = config.pool_wait_timeout.map(|t| t.saturating_sub(now - wait_start));
                match deadlines.next(now, pool_left) {
                    Some((left, _)) if left.is_zero() => return Err(Error::timeout(Phase::PoolWait)),
                    Some((left, _)) => pool.wait_blocking(seen, left),
                    None => pool.wait_blocking(seen, Duration::from_secs(3600)),
                }
                now = Instant::now();
            }
        }
    }
}

/// Writes the request and reads up to the final response head.
fn send(
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
    // stream's first piece (see `send_body`).
    if !(matches!(req.body, RequestBody::Bytes(_) | RequestBody::Stream(_)) && conn.proto.wants_body()) {
        conn.flush(&write)?;
    }
    let mut early = None;
    if !matches!(length, BodyLength::None | BodyLength::Known(0)) {
        // Expect: 100-continue: wait a moment for the server's go-ahead (or its refusal).
        let hold = Wait { deadlines: *deadlines, gap: Some(config.continue_timeout), phase: Phase::ResponseHead };
        while !conn.proto.wants_body() && early.is_none() {
            match conn.wait_event(&hold)? {
                Waited::GapElapsed => conn.proto.handle_continue_timeout(),
                Waited::Event(Event::Informational(_)) => {}
                Waited::Event(Event::Head(h)) => early = Some(h),
                Waited::Event(_) => {
                    return Err(Error::new(ErrorKind::Protocol, "unexpected event before the response head"))
                }
            }
        }
        if early.is_none() {
            if let Err(e) = send_body(conn, &mut req.body, &write) {
                early = Some(answer_to_failed_upload(conn, e, deadlines, req.timeouts.read)?);
            }
        }
    }
    if let Some(h) = early {
        return Ok(h);
    }
    let wait = Wait { deadlines: *deadlines, gap: req.timeouts.read, phase: Phase::ResponseHead };
    // Everything is written by now: read, without `next_event`'s flush (as the async twin does).
    debug_assert!(conn.proto.poll_transmit().is_none());
    loop {
        return match conn.read_event(&wait)? {
            Waited::Event(Event::Informational(_)) => continue,
            Waited::Event(Event::Head(h)) => Ok(h),
            Waited::GapElapsed => Err(Error::timeout(wait.phase)),
            Waited::Event(_) => Err(Error::new(ErrorKind::Protocol, "unexpected event before the response head")),
        };
    }
}

/// A server may answer and close without reading the whole body (a 413, a 401): the write then fails,
/// but its response is waiting to be read (RFC 9112 §9.5). Returns that response, or the write error.
fn answer_to_failed_upload(
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
        match conn.read_event(&wait) {
            Ok(Waited::Event(Event::Informational(_))) => {}
            Ok(Waited::Event(Event::Head(head))) => return Ok(head),
            _ => return Err(error),
        }
    }
}

fn send_body(conn: &mut Conn, body: &mut RequestBody<Stream>, wait: &Wait) -> Result<()> {
    match body {
        RequestBody::Empty => {}
        RequestBody::Bytes(bytes) => conn.write_body(bytes, wait)?,
        RequestBody::Stream(reader) => {
            let mut buf = vec![0u8; 64 * 1024];
            while conn.proto.wants_body() {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::new(ErrorKind::Io, "reading the request body failed").with_source(e)),
                };
                // Written at once (with the head, the first time): the next read may block for a long time.
                // Only a read returning 0 says the body ended, so its end goes out on its own.
                conn.send_pieces(&[&buf[..n]], false, wait)?;
                conn.flush(wait)?;
            }
        }
    }
    // A final response that arrived early ends the request body (the core dropped the rest).
    if conn.proto.wants_body() {
        conn.proto.finish_body()?;
    }
    conn.flush(wait)
}

impl<'s> RequestBuilder<'s, Session> {
    /// Streams the body from a reader, sent with `Transfer-Encoding: chunked`.
    pub fn body_stream(mut self, reader: impl Read + Send + 'static) -> Self {
        self.body = RequestBody::Stream(Box::new(reader));
        self
    }

    /// Sends the request and returns the response once its head has arrived; the body is read from the
    /// [`Response`].
    pub fn send(self) -> Result<Response<Body>> {
        let (session, mut prepared) = self.prepare()?;
        let span = trace::request_span(&prepared.method, &prepared.url);
        trace::in_span_sync(span, || session.execute(&mut prepared))
    }
}
