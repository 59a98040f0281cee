//! Session settings and the builder both session types share.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use http::Uri;
use reqivo_proto::h1::{HeaderBlock, Limits};
use reqivo_proto::pool::PoolConfig;

use crate::error::{Error, Result};
use crate::request::IntoUrl;
use crate::tls::TlsSettings;

/// Timeouts; each `None` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// DNS + TCP connect + TLS handshake of one connection.
    pub connect: Option<Duration>,
    /// The longest silence between two reads (and the longest blocked write).
    pub read: Option<Duration>,
    /// The whole request: pool wait, connect, send, head, and the body read through the response.
    pub total: Option<Duration>,
}

/// Everything a session knows; shared by the async and the blocking driver.
#[derive(Debug, Clone)]
pub struct Config {
    pub base_url: Option<Uri>,
    pub default_headers: HeaderMap,
    /// What a request without headers of its own sends: `default_headers` plus `Accept-Encoding` when
    /// gzip is on. Merged once here, so such a request clones it instead of merging again.
    pub request_headers: HeaderMap,
    /// `request_headers` checked and encoded once: a request without headers of its own copies these
    /// bytes instead of checking and encoding every field again. `None` when they hold a `Host` (taken
    /// out per request) or fail the check (the request then fails with the error `send` always gave).
    pub request_block: Option<HeaderBlock>,
    pub timeouts: Timeouts,
    pub limits: Limits,
    pub pool: PoolConfig,
    pub pool_wait_timeout: Option<Duration>,
    pub max_redirects: usize,
    pub follow_redirects: bool,
    pub continue_timeout: Duration,
    pub gzip: bool,
    pub tls: Arc<crate::tls::Tls>,
    /// The cookie jar; `None` with `cookie_store(false)` (see `cookies.rs`).
    pub cookies: Option<Arc<crate::cookies::CookieJar>>,
}

/// Builds an [`AsyncSession`](crate::AsyncSession) or a [`Session`](crate::Session): one builder, the
/// same settings for both.
///
/// ```
/// use std::time::Duration;
/// # fn main() -> Result<(), reqivo::Error> {
/// let session = reqivo::AsyncSession::builder()
///     .base_url("http://127.0.0.1:8080/api/")
///     .user_agent("my-app/1.0")
///     .connect_timeout(Duration::from_secs(3))
///     .timeout(Duration::from_secs(30))
///     .build()?;
/// // The blocking twin takes the very same calls.
/// let blocking = reqivo::Session::builder().base_url("http://127.0.0.1:8080/api/").build()?;
/// # let _ = (session, blocking); Ok(()) }
/// ```
#[must_use]
pub struct SessionBuilder<S> {
    base_url: Option<Uri>,
    default_headers: HeaderMap,
    timeouts: Timeouts,
    limits: Limits,
    pool: PoolConfig,
    pool_wait_timeout: Option<Duration>,
    max_redirects: usize,
    follow_redirects: bool,
    continue_timeout: Duration,
    gzip: bool,
    tls: TlsSettings,
    pub(crate) cookies: Option<Arc<crate::cookies::CookieJar>>,
    error: Option<Error>,
    _session: PhantomData<fn() -> S>,
}

impl<S: crate::request::sealed::Sealed> SessionBuilder<S> {
    pub(crate) fn new() -> Self {
        let mut default_headers = HeaderMap::new();
        default_headers.insert(USER_AGENT, HeaderValue::from_static(concat!("reqivo/", env!("CARGO_PKG_VERSION"))));
        default_headers.insert(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        SessionBuilder {
            base_url: None,
            default_headers,
            timeouts: Timeouts {
                connect: Some(Duration::from_secs(10)),
                read: Some(Duration::from_secs(30)),
                total: None,
            },
            limits: Limits { max_head_size: 256 * 1024, ..Limits::default() },
            pool: PoolConfig::default(),
            pool_wait_timeout: Some(Duration::from_secs(30)),
            max_redirects: 10,
            follow_redirects: true,
            continue_timeout: Duration::from_secs(1),
            gzip: cfg!(feature = "gzip"),
            tls: TlsSettings::default(),
            cookies: Some(Arc::default()),
            error: None,
            _session: PhantomData,
        }
    }

    fn fail(mut self, e: Error) -> Self {
        self.error.get_or_insert(e);
        self
    }

    /// Relative request URLs are resolved against this URL (RFC 3986), e.g. `base/` + `users/1`.
    pub fn base_url(mut self, url: impl IntoUrl) -> Self {
        match url.into_url_ref().resolve(None, None) {
            Ok(u) => {
                self.base_url = Some(u);
                self
            }
            Err(e) => self.fail(e),
        }
    }

    /// Adds a header sent with every request (a request's own header of the same name wins).
    pub fn default_header<K, V>(self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(n), Ok(v)) => {
                let mut this = self;
                this.default_headers.insert(n, v);
                this
            }
            _ => self.fail(Error::invalid("invalid default header")),
        }
    }

    /// Replaces the `User-Agent` header (default `reqivo/VERSION`).
    pub fn user_agent(self, value: &str) -> Self {
        self.default_header(USER_AGENT, value)
    }

    /// Limit for DNS + TCP connect + TLS handshake (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = Some(timeout);
        self
    }

    /// The longest silence allowed between two reads, and the longest blocked write (default 30 s).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.read = Some(timeout);
        self
    }

    /// A total deadline per request, body included (default none).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.total = Some(timeout);
        self
    }

    /// Largest decoded response body in bytes (default unlimited); more is a `TooLarge` error.
    pub fn max_body_size(mut self, bytes: u64) -> Self {
        self.limits.max_body_size = Some(bytes);
        self
    }

    /// Largest response head in bytes, 1xx heads included (default 256 KiB).
    pub fn max_head_size(mut self, bytes: usize) -> Self {
        self.limits.max_head_size = bytes;
        self
    }

    /// Most header fields in a response (default 128).
    pub fn max_headers(mut self, count: usize) -> Self {
        self.limits.max_headers = count;
        self
    }

    /// Most idle connections kept per origin (default 32).
    pub fn max_idle_per_host(mut self, count: usize) -> Self {
        self.pool.max_idle_per_host = count;
        self
    }

    /// Most connections per origin; further requests wait for a free one (default unlimited).
    pub fn max_connections_per_host(mut self, count: usize) -> Self {
        self.pool.max_per_host = Some(count.max(1));
        self
    }

    /// Idle connections older than this are closed, not reused (default 90 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool.idle_timeout = Some(timeout);
        self
    }

    /// How long a request waits for a free connection when the origin is at its limit (default 30 s).
    pub fn pool_wait_timeout(mut self, timeout: Duration) -> Self {
        self.pool_wait_timeout = Some(timeout);
        self
    }

    /// Most redirects followed per request (default 10).
    pub fn max_redirects(mut self, count: usize) -> Self {
        self.max_redirects = count;
        self
    }

    /// Whether 3xx responses with a `Location` are followed (default true).
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = follow;
        self
    }

    /// How long an `Expect: 100-continue` request waits for 100 before sending its body (default 1 s).
    pub fn continue_timeout(mut self, timeout: Duration) -> Self {
        self.continue_timeout = timeout;
        self
    }

    /// Whether to send `Accept-Encoding: gzip` and decode gzip bodies (default on with feature `gzip`).
    pub fn gzip(mut self, enabled: bool) -> Self {
        if enabled && !cfg!(feature = "gzip") {
            return self.fail(Error::invalid("gzip support needs the `gzip` cargo feature"));
        }
        self.gzip = enabled;
        self
    }

    /// Trusts this certificate (DER) in addition to (or, with `tls_system_roots(false)`, instead of)
    /// the system roots.
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.tls.extra_roots.push(der.into());
        self
    }

    /// Trusts the certificates of a PEM bundle.
    pub fn add_root_certificates_pem(self, pem: &[u8]) -> Self {
        match crate::tls::parse_pem_certs(pem) {
            Ok(certs) => certs.into_iter().fold(self, |b, der| b.add_root_certificate(der)),
            Err(e) => self.fail(e),
        }
    }

    /// Whether the operating system's root certificates are trusted (default true).
    pub fn tls_system_roots(mut self, enabled: bool) -> Self {
        self.tls.system_roots = enabled;
        self
    }

    /// Accepts any server certificate. Only for tests against servers with throwaway certificates.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.tls.accept_invalid = accept;
        self
    }

    /// Builds the session.
    pub fn build(self) -> Result<S> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let tls = Arc::new(crate::tls::Tls::new(self.tls)?);
        let request_headers = crate::request::merge_headers(&self.default_headers, HeaderMap::new(), self.gzip);
        let request_block = HeaderBlock::new(&request_headers).ok();
        Ok(S::from_config(Config {
            base_url: self.base_url,
            default_headers: self.default_headers,
            request_headers,
            request_block,
            timeouts: self.timeouts,
            limits: self.limits,
            pool: self.pool,
            pool_wait_timeout: self.pool_wait_timeout,
            max_redirects: self.max_redirects,
            follow_redirects: self.follow_redirects,
            continue_timeout: self.continue_timeout,
            gzip: self.gzip,
            tls,
            cookies: self.cookies,
        }))
    }
}
