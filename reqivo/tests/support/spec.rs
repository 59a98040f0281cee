//! Requests, session settings and results as plain data, so one description drives both APIs.

use std::net::SocketAddr;
use std::time::Duration;

use reqivo::{HeaderMap, Method, SessionBuilder, StatusCode, Timings, Version};

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
    MaxHeadSize(usize),
    MaxHeaders(usize),
    MaxConnsPerHost(usize),
    PoolWaitTimeout(Duration),
    MaxRedirects(usize),
    FollowRedirects(bool),
    Gzip(bool),
    RootCert(Vec<u8>),
    SystemRoots(bool),
    AcceptInvalidCerts(bool),
    CookieStore(bool),
    CookieJar(std::sync::Arc<reqivo::CookieJar>),
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
    pub fn max_head_size(self, n: usize) -> Opts {
        self.with(Setting::MaxHeadSize(n))
    }
    pub fn max_headers(self, n: usize) -> Opts {
        self.with(Setting::MaxHeaders(n))
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
    pub fn cookie_store(self, b: bool) -> Opts {
        self.with(Setting::CookieStore(b))
    }
    pub fn cookie_jar(self, jar: std::sync::Arc<reqivo::CookieJar>) -> Opts {
        self.with(Setting::CookieJar(jar))
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
                Setting::MaxHeadSize(n) => b.max_head_size(n),
                Setting::MaxHeaders(n) => b.max_headers(n),
                Setting::MaxConnsPerHost(n) => b.max_connections_per_host(n),
                Setting::PoolWaitTimeout(d) => b.pool_wait_timeout(d),
                Setting::MaxRedirects(n) => b.max_redirects(n),
                Setting::FollowRedirects(f) => b.follow_redirects(f),
                Setting::Gzip(g) => b.gzip(g),
                Setting::RootCert(der) => b.add_root_certificate(der),
                Setting::SystemRoots(r) => b.tls_system_roots(r),
                Setting::AcceptInvalidCerts(a) => b.danger_accept_invalid_certs(a),
                Setting::CookieStore(c) => b.cookie_store(c),
                Setting::CookieJar(jar) => b.cookie_jar(jar),
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

/// Header names whose `Response::header` lookup every outcome records.
pub const DIRECT_LOOKUPS: [&str; 5] =
    ["content-type", "content-encoding", "content-length", "set-cookie", "x-saw-accept-encoding"];

/// What a request gave, read the same way on both drivers.
#[derive(Debug)]
pub struct Outcome {
    pub status: StatusCode,
    pub version: Version,
    pub reason: Vec<u8>,
    pub headers: HeaderMap,
    /// `raw_headers()`: wire order and spelling.
    pub raw_headers: Vec<(String, Vec<u8>)>,
    /// `header(name)` for each of [`DIRECT_LOOKUPS`], taken without the header map.
    pub direct: Vec<Option<String>>,
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

    /// The first value from `headers()`; for the names of [`DIRECT_LOOKUPS`] also checks that
    /// `Response::header` (which reads the raw fields) agrees.
    pub fn header(&self, name: &str) -> Option<&str> {
        let from_map = self.headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(i) = DIRECT_LOOKUPS.iter().position(|n| n.eq_ignore_ascii_case(name)) {
            assert_eq!(self.direct[i].as_deref(), from_map, "header({name}) disagrees with headers()");
        }
        from_map
    }

    /// The fields named `name` as received, in wire order.
    pub fn raw(&self, name: &str) -> Vec<&[u8]> {
        self.raw_headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| &v[..]).collect()
    }
}
