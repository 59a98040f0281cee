//! [`Client`]: an `AsyncSession` on its own tokio runtime or a blocking `Session`, sending a [`Req`] and
//! reading the response into an [`Outcome`] the same way on both.

use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqivo::{AsyncBody, AsyncSession, Body, PoolStats, Response, Session, StatusCode};

use super::spec::{Opts, Outcome, ReadMode, Req, ReqBody, DIRECT_LOOKUPS};
use super::{pattern, rss_kib, Driver};

/// A response kept open with its body unread.
pub enum Held {
    Async { resp: Option<Response<AsyncBody>>, rt: tokio::runtime::Handle },
    Sync(Response<Body>),
}

impl Held {
    pub fn status(&self) -> StatusCode {
        match self {
            Held::Async { resp, .. } => resp.as_ref().map(|r| r.status()).expect("held response"),
            Held::Sync(r) => r.status(),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Held::Async { resp, rt } = self {
            let _guard = rt.enter();
            drop(resp.take());
        }
    }
}

/// A session of either kind.
pub enum Client {
    Async { rt: tokio::runtime::Runtime, session: AsyncSession },
    Sync { session: Session },
}

/// Builds a session of `driver`'s kind with `opts` and runs one request: the one-call form of the
/// harness.
pub fn run(driver: Driver, opts: &Opts, req: Req) -> reqivo::Result<Outcome> {
    Client::new(driver, opts)?.fetch(req)
}

impl Client {
    pub fn new(driver: Driver, opts: &Opts) -> reqivo::Result<Client> {
        match driver {
            Driver::Async => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("client runtime");
                let session = opts.apply(AsyncSession::builder()).build()?;
                Ok(Client::Async { rt, session })
            }
            Driver::Sync => {
                assert!(
                    tokio::runtime::Handle::try_current().is_err(),
                    "the blocking driver must run without a runtime"
                );
                Ok(Client::Sync { session: opts.apply(Session::builder()).build()? })
            }
        }
    }

    pub fn driver(&self) -> Driver {
        match self {
            Client::Async { .. } => Driver::Async,
            Client::Sync { .. } => Driver::Sync,
        }
    }

    /// The session's cookie jar (`None` with `cookie_store(false)`).
    pub fn cookies(&self) -> Option<std::sync::Arc<reqivo::CookieJar>> {
        match self {
            Client::Async { session, .. } => session.cookies().cloned(),
            Client::Sync { session } => session.cookies().cloned(),
        }
    }

    pub fn pool_stats(&self) -> PoolStats {
        match self {
            Client::Async { session, .. } => session.pool_stats(),
            Client::Sync { session } => session.pool_stats(),
        }
    }

    /// Sends `req` and reads the body as `req.read` says.
    pub fn fetch(&self, req: Req) -> reqivo::Result<Outcome> {
        match self {
            Client::Async { rt, session } => rt.block_on(fetch_async(session.clone(), req)),
            Client::Sync { session } => fetch_sync(session, req),
        }
    }

    /// Sends all requests at once (tasks on the runtime / threads) and returns their results in order.
    pub fn fetch_concurrent(&self, reqs: Vec<Req>) -> Vec<reqivo::Result<Outcome>> {
        match self {
            Client::Async { rt, session } => rt.block_on(async {
                let tasks: Vec<_> = reqs.into_iter().map(|r| tokio::spawn(fetch_async(session.clone(), r))).collect();
                let mut out = Vec::new();
                for t in tasks {
                    out.push(t.await.expect("request task panicked"));
                }
                out
            }),
            Client::Sync { session } => std::thread::scope(|s| {
                let threads: Vec<_> = reqs.into_iter().map(|r| s.spawn(move || fetch_sync(session, r))).collect();
                threads.into_iter().map(|t| t.join().expect("request thread panicked")).collect()
            }),
        }
    }

    /// Sends `req` and returns the response with its body unread.
    pub fn open(&self, req: Req) -> reqivo::Result<Held> {
        match self {
            Client::Async { rt, session } => {
                let resp = rt.block_on(async { build_async(session, req).send().await })?;
                Ok(Held::Async { resp: Some(resp), rt: rt.handle().clone() })
            }
            Client::Sync { session } => Ok(Held::Sync(build_sync(session, req).send()?)),
        }
    }

    /// Async only: runs `fetch(req)` but drops the future after `after`. `None` when it was cancelled.
    pub fn fetch_cancelled_after(&self, req: Req, after: Duration) -> Option<reqivo::Result<Outcome>> {
        match self {
            Client::Async { rt, session } => {
                rt.block_on(async { tokio::time::timeout(after, fetch_async(session.clone(), req)).await.ok() })
            }
            Client::Sync { .. } => panic!("cancellation by dropping a future exists only on the async driver"),
        }
    }
}

/// A `Stream` of byte pieces received from a tokio channel (written by hand: reqivo takes any
/// `futures_core::Stream`).
struct ChannelStream(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl futures_core::Stream for ChannelStream {
    type Item = std::io::Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().0.poll_recv(cx)
    }
}

/// An `io::Read` over pattern bytes that hands out at most `piece` bytes per call.
struct PieceReader {
    data: Vec<u8>,
    pos: usize,
    piece: usize,
}

impl Read for PieceReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.piece).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn build_async(session: &AsyncSession, req: Req) -> reqivo::RequestBuilder<'_, AsyncSession> {
    let mut b = session.request(req.method, req.url.as_str());
    for (k, v) in &req.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    if !req.query.is_empty() {
        b = b.query(&req.query);
    }
    if let Some(t) = req.timeout {
        b = b.timeout(t);
    }
    if let Some(t) = req.read_timeout {
        b = b.read_timeout(t);
    }
    match req.body {
        ReqBody::None => b,
        ReqBody::Bytes(v) => b.body(v),
        ReqBody::Json(v) => b.json(&v),
        ReqBody::Form(pairs) => b.form(&pairs),
        ReqBody::Stream { pieces, size } => {
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            tokio::spawn(async move {
                let data = Bytes::from(pattern(0, pieces * size));
                for i in 0..pieces {
                    if i == pieces / 2 && tx.send(Ok(Bytes::new())).await.is_err() {
                        return;
                    }
                    if tx.send(Ok(data.slice(i * size..(i + 1) * size))).await.is_err() {
                        return;
                    }
                    tokio::task::yield_now().await;
                }
            });
            b.body_stream(ChannelStream(rx))
        }
    }
}

fn build_sync(session: &Session, req: Req) -> reqivo::RequestBuilder<'_, Session> {
    let mut b = session.request(req.method, req.url.as_str());
    for (k, v) in &req.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    if !req.query.is_empty() {
        b = b.query(&req.query);
    }
    if let Some(t) = req.timeout {
        b = b.timeout(t);
    }
    if let Some(t) = req.read_timeout {
        b = b.read_timeout(t);
    }
    match req.body {
        ReqBody::None => b,
        ReqBody::Bytes(v) => b.body(v),
        ReqBody::Json(v) => b.json(&v),
        ReqBody::Form(pairs) => b.form(&pairs),
        ReqBody::Stream { pieces, size } => {
            b.body_stream(PieceReader { data: pattern(0, pieces * size), pos: 0, piece: size })
        }
    }
}

/// Fills the head part of an outcome.
macro_rules! head_outcome {
    ($resp:expr, $start:expr) => {
        Outcome {
            status: $resp.status(),
            version: $resp.version(),
            reason: $resp.reason().to_vec(),
            headers: $resp.headers().clone(),
            raw_headers: $resp.raw_headers().map(|(n, v)| (n.to_owned(), v.to_vec())).collect(),
            direct: DIRECT_LOOKUPS.iter().map(|n| $resp.header(n).map(str::to_owned)).collect(),
            url: $resp.url().to_string(),
            remote_addr: $resp.remote_addr(),
            content_length: $resp.content_length(),
            body: Vec::new(),
            body_len: 0,
            pieces: 0,
            text: None,
            json: None,
            trailers: None,
            timings_head: $resp.timings(),
            timings_end: None,
            rss_growth_kib: None,
            elapsed: $start.elapsed(),
        }
    };
}

/// Samples RSS growth every so many pieces.
struct RssProbe {
    base: Option<u64>,
    max_growth: u64,
}

impl RssProbe {
    fn new(enabled: bool) -> RssProbe {
        RssProbe { base: if enabled { rss_kib() } else { None }, max_growth: 0 }
    }
    fn sample(&mut self, pieces: usize) {
        if let Some(base) = self.base {
            if pieces.is_multiple_of(256) {
                self.max_growth = self.max_growth.max(rss_kib().unwrap_or(base).saturating_sub(base));
            }
        }
    }
    fn result(&mut self) -> Option<u64> {
        self.sample(0);
        self.base.map(|_| self.max_growth)
    }
}

async fn fetch_async(session: AsyncSession, req: Req) -> reqivo::Result<Outcome> {
    use tokio::io::AsyncReadExt;
    let start = Instant::now();
    let mode = req.read;
    let efs = req.error_for_status;
    let mut resp = build_async(&session, req).send().await?;
    if efs {
        resp = resp.error_for_status()?;
    }
    let mut out = head_outcome!(resp, start);
    match mode {
        ReadMode::Bytes => {
            out.body = resp.bytes().await?.to_vec();
            out.body_len = out.body.len() as u64;
        }
        ReadMode::Text => {
            let t = resp.text().await?;
            out.body_len = t.len() as u64;
            out.text = Some(t);
        }
        ReadMode::Json => out.json = Some(resp.json::<serde_json::Value>().await?),
        ReadMode::Chunks | ReadMode::Count { .. } => {
            let keep = mode == ReadMode::Chunks;
            let mut probe = RssProbe::new(matches!(mode, ReadMode::Count { rss: true }));
            while let Some(piece) = resp.chunk().await? {
                out.pieces += 1;
                out.body_len += piece.len() as u64;
                if keep {
                    out.body.extend_from_slice(&piece);
                }
                probe.sample(out.pieces);
            }
            out.rss_growth_kib = probe.result();
            out.trailers = resp.trailers().cloned();
            out.timings_end = Some(resp.timings());
        }
        ReadMode::Reader(size) => {
            let mut buf = vec![0u8; size];
            loop {
                let n = resp.read(&mut buf).await.map_err(unwrap_io)?;
                if n == 0 {
                    break;
                }
                out.pieces += 1;
                out.body.extend_from_slice(&buf[..n]);
            }
            out.body_len = out.body.len() as u64;
            out.timings_end = Some(resp.timings());
        }
        ReadMode::Skip => drop(resp),
    }
    out.elapsed = start.elapsed();
    Ok(out)
}

fn fetch_sync(session: &Session, req: Req) -> reqivo::Result<Outcome> {
    let start = Instant::now();
    let mode = req.read;
    let efs = req.error_for_status;
    let mut resp = build_sync(session, req).send()?;
    if efs {
        resp = resp.error_for_status()?;
    }
    let mut out = head_outcome!(resp, start);
    match mode {
        ReadMode::Bytes => {
            out.body = resp.bytes()?.to_vec();
            out.body_len = out.body.len() as u64;
        }
        ReadMode::Text => {
            let t = resp.text()?;
            out.body_len = t.len() as u64;
            out.text = Some(t);
        }
        ReadMode::Json => out.json = Some(resp.json::<serde_json::Value>()?),
        ReadMode::Chunks | ReadMode::Count { .. } => {
            let keep = mode == ReadMode::Chunks;
            let mut probe = RssProbe::new(matches!(mode, ReadMode::Count { rss: true }));
            while let Some(piece) = resp.chunk()? {
                out.pieces += 1;
                out.body_len += piece.len() as u64;
                if keep {
                    out.body.extend_from_slice(&piece);
                }
                probe.sample(out.pieces);
            }
            out.rss_growth_kib = probe.result();
            out.trailers = resp.trailers().cloned();
            out.timings_end = Some(resp.timings());
        }
        ReadMode::Reader(size) => {
            let mut buf = vec![0u8; size];
            loop {
                let n = resp.read(&mut buf).map_err(unwrap_io)?;
                if n == 0 {
                    break;
                }
                out.pieces += 1;
                out.body.extend_from_slice(&buf[..n]);
            }
            out.body_len = out.body.len() as u64;
            out.timings_end = Some(resp.timings());
        }
        ReadMode::Skip => drop(resp),
    }
    out.elapsed = start.elapsed();
    Ok(out)
}

/// The body readers wrap a `reqivo::Error` in an `io::Error`; take it back out so both read modes
/// report the same error kinds.
fn unwrap_io(e: std::io::Error) -> reqivo::Error {
    match e.into_inner().map(|inner| inner.downcast::<reqivo::Error>()) {
        Some(Ok(err)) => *err,
        Some(Err(other)) => panic!("body reader failed with a non-reqivo error: {other}"),
        None => panic!("body reader failed with a bare io::Error"),
    }
}
