//! A real HTTP/1.1 server for the tests: hyper 1's `http1` server on its own tokio runtime on a
//! background thread, bound to 127.0.0.1:0, optionally behind tokio-rustls. It counts accepted TCP
//! connections (and requests) so tests can assert connection reuse.
//!
//! Routes (any method unless noted):
//!
//! | path                         | response                                                            |
//! |------------------------------|---------------------------------------------------------------------|
//! | `/hello`                     | 200 `hello world`, `Content-Length`, `x-test: yes`                   |
//! | `…/echo`                     | 200 JSON describing the request (method, path, query, headers, body) |
//! | `/bytes?n=N`                 | N pattern bytes with `Content-Length`                                |
//! | `/chunked?n=&size=&delay_ms=`| n frames of `size` pattern bytes, no length (chunked)                |
//! | `/big?bytes=N`               | N bytes in 64 KiB frames, no length (chunked)                        |
//! | `/slow-body?n=&delay_ms=`    | one `x` per frame, a pause between frames                            |
//! | `/hold?ms=`                  | waits, then 200 `held`                                               |
//! | `/status/CODE`               | that status (`ETag` on 304; empty body on 204/304)                   |
//! | `/close`                     | 200 with `Connection: close`                                         |
//! | `/redirect/CODE?to=PATH`     | that status with `Location: PATH` (`&drain=1`: reads the body first) |
//! | `/reject`                    | 413 with `Connection: close` at once, request body unread            |
//! | `/loop/a`, `/loop/b`         | 302 to each other                                                    |
//! | `/chain/N`                   | 302 to `/chain/N-1`; `/chain/0` is 200                               |
//! | `/trailers`                  | chunked `hello trailers` + trailer `x-checksum` (needs `TE: trailers`)|
//! | `/big-header?bytes=N`        | a response header `x-big` of N bytes                                 |
//! | `/cookies`                   | two `Set-Cookie` fields                                              |
//! | `/set-cookie?c=V&c=…&to=PATH`| a `Set-Cookie: V` per `c` (percent-decoded); 302 to PATH with `to`    |
//! | `/gzip`                      | always gzip-encoded text; `x-saw-accept-encoding` echoes the header  |

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use super::{fnv1a, pattern};

/// The text `/gzip` serves (before compression).
pub const GZIP_TEXT: &str = "hello gzip world, ";

/// Repetitions of [`GZIP_TEXT`] in the `/gzip` body.
pub const GZIP_REPEAT: usize = 300;

/// The `/gzip` body, compressed.
pub fn gzip_body() -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for _ in 0..GZIP_REPEAT {
        enc.write_all(GZIP_TEXT.as_bytes()).expect("gzip in memory");
    }
    enc.finish().expect("gzip in memory")
}

/// A running hyper server; stopped when dropped.
pub struct HyperServer {
    addr: SocketAddr,
    conns: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    tls: bool,
}

impl HyperServer {
    /// Plain HTTP.
    pub fn start() -> HyperServer {
        Self::spawn(None)
    }

    /// HTTPS with this rustls server configuration.
    pub fn start_tls(config: Arc<rustls::ServerConfig>) -> HyperServer {
        Self::spawn(Some(tokio_rustls::TlsAcceptor::from(config)))
    }

    fn spawn(tls: Option<tokio_rustls::TlsAcceptor>) -> HyperServer {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        std_listener.set_nonblocking(true).expect("nonblocking listener");
        let addr = std_listener.local_addr().expect("local addr");
        let conns = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = oneshot::channel::<()>();
        let is_tls = tls.is_some();
        let (c, r) = (conns.clone(), requests.clone());
        let thread = std::thread::Builder::new()
            .name(format!("hyper-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("server runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener).expect("tokio listener");
                    tokio::select! {
                        _ = accept_loop(listener, tls, c, r) => {}
                        _ = rx => {}
                    }
                });
                // Dropping the runtime cancels every connection task.
                drop(rt);
            })
            .expect("spawn server thread");
        HyperServer { addr, conns, requests, shutdown: Some(tx), thread: Some(thread), tls: is_tls }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}` (or `https://localhost:PORT{path}` for TLS).
    pub fn url(&self, path: &str) -> String {
        if self.tls {
            format!("https://localhost:{}{path}", self.addr.port())
        } else {
            format!("http://{}{path}", self.addr)
        }
    }

    /// TCP connections accepted so far.
    pub fn conns(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }

    /// Requests served so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for HyperServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    conns: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        conns.fetch_add(1, Ordering::SeqCst);
        let _ = tcp.set_nodelay(true);
        let requests = requests.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                requests.fetch_add(1, Ordering::SeqCst);
                handle(req)
            });
            let builder = hyper::server::conn::http1::Builder::new();
            match tls {
                None => {
                    let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                }
                Some(acceptor) => {
                    // A client that rejects our certificate aborts the handshake: nothing to serve.
                    if let Ok(stream) = acceptor.accept(tcp).await {
                        let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            }
        });
    }
}

/// A response body: either all at once (exact length ⇒ hyper sends `Content-Length`) or frames of
/// unknown total length (⇒ chunked), optionally with a pause before each frame.
pub enum TestBody {
    Full(Option<Bytes>),
    Frames {
        frames: std::vec::IntoIter<Bytes>,
        delay: Option<Duration>,
        sleep: Option<Pin<Box<tokio::time::Sleep>>>,
        /// Sent after the last frame.
        trailers: Option<hyper::HeaderMap>,
    },
    /// `left` bytes, `frame` at a time (the last frame cut short).
    Generated {
        frame: Bytes,
        left: u64,
    },
}

impl TestBody {
    fn full(b: impl Into<Bytes>) -> Self {
        TestBody::Full(Some(b.into()))
    }
    fn empty() -> Self {
        TestBody::Full(None)
    }
    fn frames(frames: Vec<Bytes>, delay: Option<Duration>) -> Self {
        TestBody::Frames { frames: frames.into_iter(), delay, sleep: None, trailers: None }
    }
}

impl hyper::body::Body for TestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            TestBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            TestBody::Frames { frames, delay, sleep, trailers } => {
                if frames.len() == 0 {
                    return Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(t))));
                }
                if let Some(d) = delay {
                    let s = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(*d)));
                    if s.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    *sleep = None;
                }
                Poll::Ready(frames.next().map(|f| Ok(Frame::data(f))))
            }
            TestBody::Generated { frame, left } => {
                if *left == 0 {
                    return Poll::Ready(None);
                }
                let n = (*left).min(frame.len() as u64) as usize;
                *left -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(frame.slice(..n)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            TestBody::Full(b) => b.is_none(),
            TestBody::Frames { .. } => false,
            TestBody::Generated { left, .. } => *left == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            TestBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            TestBody::Full(None) => SizeHint::with_exact(0),
            // Unknown length: hyper frames it with chunked encoding.
            _ => SizeHint::default(),
        }
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then_some(v)
    })
}

/// `%XX` escapes decoded (`+` kept): enough for the cookie values the tests put in a query.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn num(query: &str, name: &str, default: u64) -> u64 {
    query_param(query, name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn respond(status: u16, body: TestBody) -> Response<TestBody> {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(status).expect("valid status");
    r
}

async fn handle(req: Request<Incoming>) -> Result<Response<TestBody>, Infallible> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let resp = match segments.as_slice() {
        ["hello"] => {
            let mut r = respond(200, TestBody::full("hello world"));
            r.headers_mut().insert("content-type", "text/plain; charset=utf-8".parse().unwrap());
            r.headers_mut().insert("x-test", "yes".parse().unwrap());
            r
        }
        _ if path.ends_with("/echo") => echo(req).await,
        ["bytes"] => respond(200, TestBody::full(pattern(0, num(&query, "n", 100) as usize))),
        ["chunked"] => {
            let (n, size) = (num(&query, "n", 8) as usize, num(&query, "size", 1000) as usize);
            let all = Bytes::from(pattern(0, n * size));
            let frames = (0..n).map(|i| all.slice(i * size..(i + 1) * size)).collect();
            let delay = Duration::from_millis(num(&query, "delay_ms", 5));
            respond(200, TestBody::frames(frames, Some(delay)))
        }
        ["big"] => {
            let frame = Bytes::from(pattern(0, 64 * 1024));
            respond(200, TestBody::Generated { frame, left: num(&query, "bytes", 1 << 20) })
        }
        ["slow-body"] => {
            let frames = (0..num(&query, "n", 40)).map(|_| Bytes::from_static(b"x")).collect();
            respond(200, TestBody::frames(frames, Some(Duration::from_millis(num(&query, "delay_ms", 50)))))
        }
        ["trailers"] => {
            let frames = vec![Bytes::from_static(b"hello "), Bytes::from_static(b"trailers")];
            let mut trailers = hyper::HeaderMap::new();
            trailers.insert("x-checksum", "abc123".parse().unwrap());
            let body =
                TestBody::Frames { frames: frames.into_iter(), delay: None, sleep: None, trailers: Some(trailers) };
            let mut r = respond(200, body);
            r.headers_mut().insert("trailer", "x-checksum".parse().unwrap());
            r
        }
        ["big-header"] => {
            let mut r = respond(200, TestBody::full("big header"));
            r.headers_mut().insert("x-big", "b".repeat(num(&query, "bytes", 1024) as usize).parse().unwrap());
            r
        }
        ["cookies"] => {
            let mut r = respond(200, TestBody::full("cookies"));
            r.headers_mut().append("set-cookie", "a=1; Path=/".parse().unwrap());
            r.headers_mut().append("set-cookie", "b=2; Path=/".parse().unwrap());
            r
        }
        ["set-cookie"] => {
            let to = query_param(&query, "to");
            let mut r = respond(if to.is_some() { 302 } else { 200 }, TestBody::full("cookies set"));
            for pair in query.split('&') {
                if let Some(value) = pair.strip_prefix("c=") {
                    r.headers_mut().append("set-cookie", percent_decode(value).parse().unwrap());
                }
            }
            if let Some(to) = to {
                r.headers_mut().insert("location", percent_decode(to).parse().unwrap());
            }
            r
        }
        ["reject"] => {
            // Answers at once without reading the request body (an early final response).
            let mut r = respond(413, TestBody::full("too large"));
            r.headers_mut().insert("connection", "close".parse().unwrap());
            r
        }
        ["hold"] => {
            tokio::time::sleep(Duration::from_millis(num(&query, "ms", 300))).await;
            respond(200, TestBody::full("held"))
        }
        ["status", code] => {
            let code: u16 = code.parse().unwrap_or(500);
            let body =
                if code == 204 || code == 304 { TestBody::empty() } else { TestBody::full(format!("status {code}")) };
            let mut r = respond(code, body);
            if code == 304 {
                r.headers_mut().insert("etag", "\"v1\"".parse().unwrap());
            }
            r
        }
        ["close"] => {
            let mut r = respond(200, TestBody::full("closing"));
            r.headers_mut().insert("connection", "close".parse().unwrap());
            r
        }
        ["redirect", code] => {
            let to = query_param(&query, "to").unwrap_or("/hello").to_owned();
            if query_param(&query, "drain").is_some() {
                // Read the whole request body first, so the client is never answered mid-upload.
                let _ = req.into_body().collect().await;
            }
            let mut r = respond(code.parse().unwrap_or(302), TestBody::full("redirecting"));
            r.headers_mut().insert("location", to.parse().unwrap());
            r
        }
        ["loop", which] => {
            let to = if *which == "a" { "/loop/b" } else { "/loop/a" };
            let mut r = respond(302, TestBody::full("looping"));
            r.headers_mut().insert("location", to.parse().unwrap());
            r
        }
        ["chain", n] => match n.parse::<u32>().unwrap_or(0) {
            0 => respond(200, TestBody::full("end of chain")),
            n => {
                let mut r = respond(302, TestBody::full("next"));
                r.headers_mut().insert("location", format!("/chain/{}", n - 1).parse().unwrap());
                r
            }
        },
        ["gzip"] => {
            let saw = req.headers().get("accept-encoding").and_then(|v| v.to_str().ok()).unwrap_or("none").to_owned();
            let mut r = respond(200, TestBody::full(gzip_body()));
            r.headers_mut().insert("content-encoding", "gzip".parse().unwrap());
            r.headers_mut().insert("content-type", "text/plain".parse().unwrap());
            r.headers_mut().insert("x-saw-accept-encoding", saw.parse().unwrap());
            r
        }
        _ => respond(404, TestBody::full("no such route")),
    };
    Ok(resp)
}

/// Answers with a JSON description of the request.
async fn echo(req: Request<Incoming>) -> Response<TestBody> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return respond(400, TestBody::full(format!("bad request body: {e}"))),
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let chunked = parts
        .headers
        .get_all("transfer-encoding")
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.to_ascii_lowercase().contains("chunked")));
    let json = serde_json::json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "version": format!("{:?}", parts.version),
        "headers": headers,
        "chunked": chunked,
        "content_length": parts.headers.get("content-length").and_then(|v| v.to_str().ok()),
        "body_len": body.len(),
        "body_fnv": format!("{:016x}", fnv1a(&body)),
        "body": if body.len() <= 64 * 1024 { Some(String::from_utf8_lossy(&body).into_owned()) } else { None },
    });
    let mut r = respond(200, TestBody::full(serde_json::to_vec(&json).expect("json")));
    r.headers_mut().insert("content-type", "application/json".parse().unwrap());
    r
}
