//! The library clients: reqivo (both drivers), hyper (connection API and hyper-util's legacy client),
//! reqwest (async and blocking) and ureq. Each worker does one request of its scenario the way a user of
//! that library would: the URL as a string, small bodies collected, big ones read piece by piece and dropped.
//!
//! Settings that differ from a library's defaults, all for a fair comparison (BENCHMARKING.md, method 7):
//! - pools sized for the concurrency: reqivo `max_idle_per_host(1024)` (default 32), ureq
//!   `max_idle_connections(_per_host)(1024)` (defaults 10 and 3); hyper-util and reqwest keep theirs (unbounded);
//! - Nagle off everywhere: hyper-util's `HttpConnector::set_nodelay(true)` (default off), the hyper
//!   connection API's socket; reqivo, reqwest and ureq disable it by default;
//! - reqwest without TLS, HTTP/2 or system proxies (cargo features), and `no_proxy()`.

use std::io::Read;

use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::bodies::{upload_bytes, upload_reader, HyperBody, PieceStream};
use crate::harness::{check_len, AsyncWorker, Scenario, SyncWorker, Target, Upload};

/// Pool size for reqivo and ureq, whose defaults are below the benchmark's concurrency.
pub const POOL_IDLE: usize = 1024;

// ---------------------------------------------------------------------------------------------------------
// reqivo

pub fn reqivo_async_session() -> reqivo::AsyncSession {
    reqivo::AsyncSession::builder().max_idle_per_host(POOL_IDLE).build().expect("reqivo session")
}

pub fn reqivo_sync_session() -> reqivo::Session {
    reqivo::Session::builder().max_idle_per_host(POOL_IDLE).build().expect("reqivo session")
}

pub struct ReqivoAsync {
    pub session: reqivo::AsyncSession,
    pub target: Target,
}

impl AsyncWorker for ReqivoAsync {
    async fn op(&mut self) -> usize {
        let t = &self.target;
        let sc = t.scenario;
        let req = match sc.upload() {
            Upload::None => self.session.get(&t.url),
            Upload::Length => self.session.post(&t.url).body(upload_bytes()),
            Upload::Chunked => self.session.post(&t.url).body_stream(PieceStream::new()),
        };
        let mut resp = req.send().await.expect("reqivo-async send");
        assert_eq!(resp.status(), 200);
        let n = if sc.streaming() {
            let mut n = 0;
            while let Some(c) = resp.chunk().await.expect("reqivo-async body") {
                n += c.len();
            }
            n
        } else {
            resp.bytes().await.expect("reqivo-async body").len()
        };
        check_len(n, sc);
        n
    }
}

pub struct ReqivoSync {
    pub session: reqivo::Session,
    pub target: Target,
}

impl SyncWorker for ReqivoSync {
    fn op(&mut self) -> usize {
        let t = &self.target;
        let sc = t.scenario;
        let req = match sc.upload() {
            Upload::None => self.session.get(&t.url),
            Upload::Length => self.session.post(&t.url).body(upload_bytes()),
            Upload::Chunked => self.session.post(&t.url).body_stream(upload_reader()),
        };
        let mut resp = req.send().expect("reqivo-sync send");
        assert_eq!(resp.status(), 200);
        let n = if sc.streaming() {
            let mut n = 0;
            while let Some(c) = resp.chunk().expect("reqivo-sync body") {
                n += c.len();
            }
            n
        } else {
            resp.bytes().expect("reqivo-sync body").len()
        };
        check_len(n, sc);
        n
    }
}

// ---------------------------------------------------------------------------------------------------------
// hyper

fn hyper_body(sc: Scenario) -> HyperBody {
    match sc.upload() {
        Upload::None => HyperBody::Empty,
        Upload::Length => HyperBody::Full(Some(upload_bytes())),
        Upload::Chunked => HyperBody::Pieces(PieceStream::new()),
    }
}

fn method(sc: Scenario) -> http::Method {
    if sc.upload() == Upload::None {
        http::Method::GET
    } else {
        http::Method::POST
    }
}

async fn read_incoming(resp: http::Response<Incoming>, sc: Scenario) -> usize {
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let n = if sc.streaming() {
        let mut n = 0;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("hyper body").into_data() {
                n += data.len();
            }
        }
        n
    } else {
        body.collect().await.expect("hyper body").to_bytes().len()
    };
    check_len(n, sc);
    n
}

/// hyper's connection API: one `SendRequest` per connection, its `Connection` driven by a spawned task.
pub struct HyperConn {
    pub target: Target,
    pub sender: Option<hyper::client::conn::http1::SendRequest<HyperBody>>,
}

impl AsyncWorker for HyperConn {
    async fn op(&mut self) -> usize {
        let t = &self.target;
        if self.sender.is_none() {
            let tcp = tokio::net::TcpStream::connect(&t.authority).await.expect("connect");
            tcp.set_nodelay(true).unwrap();
            let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .expect("hyper handshake");
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().unwrap();
        sender.ready().await.expect("hyper connection ready");
        let req = http::Request::builder()
            .method(method(t.scenario))
            .uri(t.scenario.path())
            .header(http::header::HOST, &t.authority)
            .body(hyper_body(t.scenario))
            .unwrap();
        let resp = sender.send_request(req).await.expect("hyper send");
        read_incoming(resp, t.scenario).await
    }
}

pub type HyperUtilClient =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, HyperBody>;

pub fn hyper_util_client() -> HyperUtilClient {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector)
}

pub struct HyperUtil {
    pub client: HyperUtilClient,
    pub target: Target,
}

impl AsyncWorker for HyperUtil {
    async fn op(&mut self) -> usize {
        let t = &self.target;
        let req = http::Request::builder()
            .method(method(t.scenario))
            .uri(t.url.as_str())
            .body(hyper_body(t.scenario))
            .unwrap();
        let resp = self.client.request(req).await.expect("hyper-util request");
        read_incoming(resp, t.scenario).await
    }
}

// ---------------------------------------------------------------------------------------------------------
// reqwest

pub fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().tcp_nodelay(true).build().expect("reqwest client")
}

pub fn reqwest_blocking_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().no_proxy().tcp_nodelay(true).build().expect("reqwest client")
}

pub struct Reqwest {
    pub client: reqwest::Client,
    pub target: Target,
}

impl AsyncWorker for Reqwest {
    async fn op(&mut self) -> usize {
        let t = &self.target;
        let sc = t.scenario;
        let req = match sc.upload() {
            Upload::None => self.client.get(&t.url),
            Upload::Length => self.client.post(&t.url).body(upload_bytes()),
            Upload::Chunked => self.client.post(&t.url).body(reqwest::Body::wrap_stream(PieceStream::new())),
        };
        let mut resp = req.send().await.expect("reqwest send");
        assert_eq!(resp.status(), 200);
        let n = if sc.streaming() {
            let mut n = 0;
            while let Some(c) = resp.chunk().await.expect("reqwest body") {
                n += c.len();
            }
            n
        } else {
            resp.bytes().await.expect("reqwest body").len()
        };
        check_len(n, sc);
        n
    }
}

fn read_all(mut r: impl Read, buf: &mut [u8]) -> usize {
    let mut n = 0;
    loop {
        match r.read(buf).expect("body read") {
            0 => return n,
            k => n += k,
        }
    }
}

pub struct ReqwestBlocking {
    pub client: reqwest::blocking::Client,
    pub target: Target,
    pub buf: Box<[u8]>,
}

impl SyncWorker for ReqwestBlocking {
    fn op(&mut self) -> usize {
        let t = &self.target;
        let sc = t.scenario;
        let req = match sc.upload() {
            Upload::None => self.client.get(&t.url),
            Upload::Length => self.client.post(&t.url).body(upload_bytes()),
            Upload::Chunked => self.client.post(&t.url).body(reqwest::blocking::Body::new(upload_reader())),
        };
        let resp = req.send().expect("reqwest-blocking send");
        assert_eq!(resp.status(), 200);
        let n = if sc.streaming() {
            read_all(resp, &mut self.buf)
        } else {
            resp.bytes().expect("reqwest-blocking body").len()
        };
        check_len(n, sc);
        n
    }
}

// ---------------------------------------------------------------------------------------------------------
// ureq

pub fn ureq_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_idle_connections(POOL_IDLE)
        .max_idle_connections_per_host(POOL_IDLE)
        .build()
        .into()
}

pub struct Ureq {
    pub agent: ureq::Agent,
    pub target: Target,
    pub buf: Box<[u8]>,
}

impl SyncWorker for Ureq {
    fn op(&mut self) -> usize {
        let t = &self.target;
        let sc = t.scenario;
        let mut resp = match sc.upload() {
            Upload::None => self.agent.get(&t.url).call(),
            Upload::Length => self.agent.post(&t.url).send(&crate::harness::UPLOAD[..]),
            Upload::Chunked => {
                let mut r = upload_reader();
                self.agent.post(&t.url).send(ureq::SendBody::from_reader(&mut r))
            }
        }
        .expect("ureq request");
        assert_eq!(resp.status(), 200);
        let n = if sc.streaming() {
            read_all(resp.body_mut().as_reader(), &mut self.buf)
        } else {
            resp.body_mut().read_to_vec().expect("ureq body").len()
        };
        check_len(n, sc);
        n
    }
}
