//! The parity harness: one scenario body, two drivers.
//!
//! A scenario is written once against [`Client`], which is either an [`AsyncSession`] driven on a
//! tokio runtime owned by the client, or a blocking [`Session`] used on the scenario's own thread with no
//! runtime anywhere near it. Requests are described as data ([`Req`]), session settings too ([`Opts`]),
//! so the same description goes through both APIs; what came back is an [`Outcome`] (or a
//! [`reqivo::Error`]). The [`parity!`] macro expands one body into `name::async_driver` and
//! `name::sync_driver` tests, each run under a watchdog so a hang fails instead of blocking CI.
#![allow(dead_code)]

pub mod hyper_server;
pub mod python;
pub mod raw;
pub mod tls;

use std::io::Read;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqivo::{
    AsyncBody, AsyncSession, Body, HeaderMap, Method, PoolStats, Response, Session, SessionBuilder, StatusCode,
    Timings, Version,
};

/// Which API a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// `AsyncSession` on a tokio runtime.
    Async,
    /// `Session` on a plain thread, no runtime.
    Sync,
}

/// Runs `f` on its own thread and fails the test if it has not finished within `limit` (a hung request
/// becomes a failure, not a stuck CI job). Panics inside `f` are passed on.
pub fn guard<F: FnOnce() + Send + 'static>(name: &str, limit: Duration, f: F) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            f();
            let _ = tx.send(());
        })
        .expect("spawn scenario thread");
    match rx.recv_timeout(limit) {
        Ok(()) => {
            let _ = handle.join();
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("scenario {name} did not finish within {limit:?}"),
    }
}

/// Expands one scenario body into two tests, `NAME::async_driver` and `NAME::sync_driver`.
///
/// ```ignore
/// parity!(get_basic, |d| { let c = Client::new(d, &Opts::new()).unwrap(); ... });
/// parity!(#[ignore = "slow"] big, limit = 600, |d| { ... });
/// ```
#[macro_export]
macro_rules! parity {
    ($(#[$attr:meta])* $name:ident, limit = $secs:expr, |$d:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn scenario($d: $crate::support::Driver) $body

            #[test]
            $(#[$attr])*
            fn async_driver() {
                $crate::support::guard(
                    concat!(stringify!($name), "::async_driver"),
                    std::time::Duration::from_secs($secs),
                    || scenario($crate::support::Driver::Async),
                );
            }

            #[test]
            $(#[$attr])*
            fn sync_driver() {
                $crate::support::guard(
                    concat!(stringify!($name), "::sync_driver"),
                    std::time::Duration::from_secs($secs),
                    || scenario($crate::support::Driver::Sync),
                );
            }
        }
    };
    ($(#[$attr:meta])* $name:ident, |$d:ident| $body:block) => {
        $crate::parity!($(#[$attr])* $name, limit = 60, |$d| $body);
    };
}

/// Deterministic test bytes: the byte at absolute offset `i` is `i % 251`.
pub fn pattern(offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len).map(|i| (i % 251) as u8).collect()
}

/// FNV-1a, 64 bit: a cheap content fingerprint both sides can compute.
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The process's resident set size in KiB (Linux `/proc/self/status`).
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Session settings, as data, applied identically to either builder.
#[derive(Clone, Default)]
pub struct Opts {
    settings: Vec<Setting>,
}

#[derive(Clone)]
enum Setting {
    BaseUrl(String),
    DefaultHeader(String, String),
    UserAgent(String),
    ReadTimeout(Duration),
    Timeout(Duration),
    ConnectTimeout(Duration),
    MaxBodySize(u64),
    MaxConnsPerHost(usize),
    PoolWaitTimeout(Duration),
    MaxRedirects(usize),
    FollowRedirects(bool),
    Gzip(bool),
    RootCert(Vec<u8>),
    SystemRoots(bool),
    AcceptInvalidCerts(bool),
}

impl Opts {
    pub fn new() -> Opts {
        Opts::default()
    }
    fn with(mut self, s: Setting) -> Opts {
        self.settings.push(s);
        self
    }
    pub fn base_url(self, u: &str) -> Opts {
        self.with(Setting::BaseUrl(u.to_owned()))
    }
    pub fn default_header(self, k: &str, v: &str) -> Opts {
        self.with(Setting::DefaultHeader(k.to_owned(), v.to_owned()))
    }
    pub fn user_agent(self, v: &str) -> Opts {
        self.with(Setting::UserAgent(v.to_owned()))
    }
    pub fn read_timeout(self, d: Duration) -> Opts {
        self.with(Setting::ReadTimeout(d))
    }
    pub fn timeout(self, d: Duration) -> Opts {
        self.with(Setting::Timeout(d))
    }
    pub fn connect_timeout(self, d: Duration) -> Opts {
        self.with(Setting::ConnectTimeout(d))
    }
    pub fn max_body_size(self, n: u64) -> Opts {
        self.with(Setting::MaxBodySize(n))
    }
    pub fn max_connections_per_host(self, n: usize) -> Opts {
        self.with(Setting::MaxConnsPerHost(n))
    }
    pub fn pool_wait_timeout(self, d: Duration) -> Opts {
        self.with(Setting::PoolWaitTimeout(d))
    }
    pub fn max_redirects(self, n: usize) -> Opts {
        self.with(Setting::MaxRedirects(n))
    }
    pub fn follow_redirects(self, b: bool) -> Opts {
        self.with(Setting::FollowRedirects(b))
    }
    pub fn gzip(self, b: bool) -> Opts {
        self.with(Setting::Gzip(b))
    }
    pub fn add_root_certificate(self, der: &[u8]) -> Opts {
        self.with(Setting::RootCert(der.to_vec()))
    }
    pub fn tls_system_roots(self, b: bool) -> Opts {
        self.with(Setting::SystemRoots(b))
    }
    pub fn danger_accept_invalid_certs(self, b: bool) -> Opts {
        self.with(Setting::AcceptInvalidCerts(b))
    }

    /// The same builder calls for either session type.
    pub fn apply<S: reqivo::Driver>(&self, mut b: SessionBuilder<S>) -> SessionBuilder<S> {
        for s in &self.settings {
            b = match s.clone() {
                Setting::BaseUrl(u) => b.base_url(u),
                Setting::DefaultHeader(k, v) => b.default_header(k.as_str(), v.as_str()),
                Setting::UserAgent(v) => b.user_agent(&v),
                Setting::ReadTimeout(d) => b.read_timeout(d),
                Setting::Timeout(d) => b.timeout(d),
                Setting::ConnectTimeout(d) => b.connect_timeout(d),
                Setting::MaxBodySize(n) => b.max_body_size(n),
                Setting::MaxConnsPerHost(n) => b.max_connections_per_host(n),
                Setting::PoolWaitTimeout(d) => b.pool_wait_timeout(d),
                Setting::MaxRedirects(n) => b.max_redirects(n),
                Setting::FollowRedirects(f) => b.follow_redirects(f),
                Setting::Gzip(g) => b.gzip(g),
                Setting::RootCert(der) => b.add_root_certificate(der),
                Setting::SystemRoots(r) => b.tls_system_roots(r),
                Setting::AcceptInvalidCerts(a) => b.danger_accept_invalid_certs(a),
            };
        }
        b
    }
}

/// A request body, as data.
#[derive(Clone, Debug)]
pub enum ReqBody {
    None,
    Bytes(Vec<u8>),
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
    /// Streamed (chunked): `pieces` pieces of `size` pattern bytes. Async: a hand-written `Stream` fed
    /// through a tokio channel by a producer task (with an empty piece in the middle, which must not end
    /// the chunked body); sync: an `io::Read` that returns at most `size` bytes per call.
    Stream {
        pieces: usize,
        size: usize,
    },
}

/// How the response body is consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// `bytes()`.
    Bytes,
    /// `text()`.
    Text,
    /// `json::<serde_json::Value>()`.
    Json,
    /// `chunk()` until `None`, keeping the bytes.
    Chunks,
    /// `AsyncRead` / `io::Read` on the response with a buffer of this size.
    Reader(usize),
    /// `chunk()` until `None`, counting bytes only; `rss` samples the resident set size while reading.
    Count { rss: bool },
    /// Leave the body unread (the response is dropped).
    Skip,
}

/// A request, as data; the same description is sent through either API.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub body: ReqBody,
    pub timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    pub read: ReadMode,
    pub error_for_status: bool,
}

impl Req {
    pub fn new(method: Method, url: impl Into<String>) -> Req {
        Req {
            method,
            url: url.into(),
            headers: Vec::new(),
            query: Vec::new(),
            body: ReqBody::None,
            timeout: None,
            read_timeout: None,
            read: ReadMode::Bytes,
            error_for_status: false,
        }
    }
    pub fn get(url: impl Into<String>) -> Req {
        Req::new(Method::GET, url)
    }
    pub fn post(url: impl Into<String>) -> Req {
        Req::new(Method::POST, url)
    }
    pub fn head(url: impl Into<String>) -> Req {
        Req::new(Method::HEAD, url)
    }
    pub fn header(mut self, k: &str, v: &str) -> Req {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }
    pub fn query(mut self, k: &str, v: &str) -> Req {
        self.query.push((k.to_owned(), v.to_owned()));
        self
    }
    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Req {
        self.body = ReqBody::Bytes(b.into());
        self
    }
    pub fn json(mut self, v: serde_json::Value) -> Req {
        self.body = ReqBody::Json(v);
        self
    }
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Req {
        self.body = ReqBody::Form(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        self
    }
    pub fn stream(mut self, pieces: usize, size: usize) -> Req {
        self.body = ReqBody::Stream { pieces, size };
        self
    }
    pub fn timeout(mut self, d: Duration) -> Req {
        self.timeout = Some(d);
        self
    }
    pub fn read_timeout(mut self, d: Duration) -> Req {
        self.read_timeout = Some(d);
        self
    }
    pub fn read(mut self, mode: ReadMode) -> Req {
        self.read = mode;
        self
    }
    pub fn error_for_status(mut self) -> Req {
        self.error_for_status = true;
        self
    }
}

/// What a request gave, read the same way on both drivers.
#[derive(Debug)]
pub struct Outcome {
    pub status: StatusCode,
    pub version: Version,
    pub reason: Vec<u8>,
    pub headers: HeaderMap,
    pub url: String,
    pub remote_addr: Option<SocketAddr>,
    pub content_length: Option<u64>,
    /// The body (empty in `Count` and `Skip` modes).
    pub body: Vec<u8>,
    /// Bytes of body read.
    pub body_len: u64,
    /// Pieces returned by `chunk()` / reads that returned data.
    pub pieces: usize,
    pub text: Option<String>,
    pub json: Option<serde_json::Value>,
    pub trailers: Option<HeaderMap>,
    /// `timings()` once the head arrived.
    pub timings_head: Timings,
    /// `timings()` after the body was read (modes that keep the response: Chunks, Reader, Count).
    pub timings_end: Option<Timings>,
    /// Largest RSS growth seen while reading (`Count { rss: true }`), in KiB.
    pub rss_growth_kib: Option<u64>,
    /// From the start of `send` to the end of the body.
    pub elapsed: Duration,
}

impl Outcome {
    /// The body as UTF-8 (lossy).
    pub fn body_str(&self) -> String {
        if let Some(t) = &self.text {
            return t.clone();
        }
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The echo server's JSON, from `json` or parsed from the body.
    pub fn echo(&self) -> serde_json::Value {
        match &self.json {
            Some(j) => j.clone(),
            None => serde_json::from_slice(&self.body).expect("echo JSON"),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Helpers over the echo server's JSON.
pub fn echo_headers(echo: &serde_json::Value, name: &str) -> Vec<String> {
    echo["headers"]
        .as_array()
        .expect("headers array")
        .iter()
        .filter(|pair| pair[0].as_str() == Some(name))
        .map(|pair| pair[1].as_str().unwrap_or_default().to_owned())
        .collect()
}

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
            if pieces % 256 == 0 {
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

/// Asserts that `r` is an error of `kind`, with a readable message otherwise.
#[track_caller]
pub fn expect_kind<T: std::fmt::Debug>(r: reqivo::Result<T>, kind: reqivo::ErrorKind) -> reqivo::Error {
    match r {
        Ok(v) => panic!("expected an error of kind {kind:?}, got success: {v:?}"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "wrong error kind: {e:?}");
            e
        }
    }
}
