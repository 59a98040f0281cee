//! The one error type of reqivo.

use std::fmt;

use http::{StatusCode, Uri};
pub use reqivo_proto::deadline::Phase as TimeoutPhase;

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The host name could not be resolved.
    Dns,
    /// No TCP connection could be established.
    Connect,
    /// The TLS handshake failed (untrusted certificate, wrong name, protocol error).
    Tls,
    /// A timeout fired; the phase says where.
    Timeout(TimeoutPhase),
    /// The peer broke HTTP/1.1: a malformed, truncated or unexpected response.
    Protocol,
    /// A configured limit was exceeded (head size, header count, body size).
    TooLarge,
    /// Too many redirects, a redirect loop, or an unusable `Location`.
    Redirect,
    /// The request could not be built or sent as given (bad URL, header injection, wrong body length).
    InvalidRequest,
    /// `error_for_status` saw a 4xx or 5xx status.
    Status(StatusCode),
    /// The body could not be decoded (JSON, gzip).
    Decode,
    /// Any other I/O failure (connection reset mid-response, broken pipe, a WebSocket peer that dropped
    /// the connection without a Close frame, …).
    Io,
    /// The WebSocket opening handshake failed: the server refused the upgrade (its status is in the
    /// message) or answered against RFC 6455 §4.1 / RFC 7692 (wrong `Sec-WebSocket-Accept`, a subprotocol
    /// or extension that was not offered, …). A peer breaking the protocol *after* the handshake is a
    /// [`Protocol`](ErrorKind::Protocol) error whose message names the close code sent.
    WebSocket,
}

impl ErrorKind {
    /// A short stable name (`connect`, `timeout`, `protocol`, …), used by the CLI in `error[KIND]`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorKind::Dns => "dns",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout(_) => "timeout",
            ErrorKind::Protocol => "protocol",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Redirect => "redirect",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Status(_) => "status",
            ErrorKind::Decode => "decode",
            ErrorKind::Io => "io",
            ErrorKind::WebSocket => "websocket",
        }
    }
}

/// An error from reqivo: a [`kind`](Error::kind), the URL involved, and the underlying cause as
/// [`source`](std::error::Error::source).
///
/// ```
/// # async fn demo() {
/// let session = reqivo::AsyncSession::builder().build().unwrap();
/// match session.get("http://127.0.0.1:9/").send().await {
///     Ok(resp) => println!("{}", resp.status()),
///     Err(e) if e.is_connect() => eprintln!("nobody listens: {e}"),
///     Err(e) => eprintln!("{:?}: {e}", e.kind()),
/// }
/// # }
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    url: Option<Uri>,
    source: Option<Source>,
}

// Constructors are cold and out of line: every `?` and `map_err` on the request path then costs a call in
// a block the compiler moves away, not the box, string and drop code inlined between the hot lines.
impl Error {
    #[cold]
    #[inline(never)]
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { inner: Box::new(Inner { kind, message: message.into(), url: None, source: None }) }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn with_url(mut self, url: &Uri) -> Self {
        if self.inner.url.is_none() {
            self.inner.url = Some(url.clone());
        }
        self
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn timeout(phase: TimeoutPhase) -> Self {
        Error::new(ErrorKind::Timeout(phase), format!("timed out ({})", phase_name(phase)))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidRequest, message)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The URL of the request, when known.
    pub fn url(&self) -> Option<&Uri> {
        self.inner.url.as_ref()
    }

    /// True for any timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Timeout(_))
    }

    /// The phase a timeout fired in.
    pub fn timeout_phase(&self) -> Option<TimeoutPhase> {
        match self.inner.kind {
            ErrorKind::Timeout(p) => Some(p),
            _ => None,
        }
    }

    /// True for DNS, TCP connect and TLS handshake failures.
    pub fn is_connect(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Dns | ErrorKind::Connect | ErrorKind::Tls)
    }

    /// True when the peer broke the protocol.
    pub fn is_protocol(&self) -> bool {
        self.inner.kind == ErrorKind::Protocol
    }

    /// True when a limit was exceeded.
    pub fn is_too_large(&self) -> bool {
        self.inner.kind == ErrorKind::TooLarge
    }

    /// True for redirect failures.
    pub fn is_redirect(&self) -> bool {
        self.inner.kind == ErrorKind::Redirect
    }

    /// The status, for errors made by `error_for_status`.
    pub fn status(&self) -> Option<StatusCode> {
        match self.inner.kind {
            ErrorKind::Status(s) => Some(s),
            _ => None,
        }
    }
}

pub(crate) fn phase_name(phase: TimeoutPhase) -> &'static str {
    match phase {
        TimeoutPhase::PoolWait => "waiting for a pooled connection",
        TimeoutPhase::Dns => "resolving the host",
        TimeoutPhase::Connect => "connecting",
        TimeoutPhase::Tls => "TLS handshake",
        TimeoutPhase::Write => "sending the request",
        TimeoutPhase::ResponseHead => "waiting for the response head",
        TimeoutPhase::Body => "reading the response body",
        TimeoutPhase::Message => "waiting for a WebSocket message",
        TimeoutPhase::Keepalive => "WebSocket keepalive: no answer to a Ping",
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("reqivo::Error");
        d.field("kind", &self.inner.kind).field("message", &self.inner.message);
        if let Some(url) = &self.inner.url {
            d.field("url", &url.to_string());
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        if let Some(url) = &self.inner.url {
            write!(f, " ({url})")?;
        }
        if let Some(source) = &self.inner.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_ref().map(|s| &**s as &(dyn std::error::Error + 'static))
    }
}

impl From<reqivo_proto::h1::UsageError> for Error {
    #[cold]
    #[inline(never)]
    fn from(e: reqivo_proto::h1::UsageError) -> Self {
        Error::new(ErrorKind::InvalidRequest, "invalid request").with_source(e)
    }
}

impl From<reqivo_proto::h1::ProtoError> for Error {
    #[cold]
    #[inline(never)]
    fn from(e: reqivo_proto::h1::ProtoError) -> Self {
        let kind = if e.is_limit() { ErrorKind::TooLarge } else { ErrorKind::Protocol };
        let message = if e.is_limit() { "response exceeds a limit" } else { "malformed response" };
        Error::new(kind, message).with_source(e)
    }
}

impl From<reqivo_proto::url::UrlError> for Error {
    #[cold]
    #[inline(never)]
    fn from(e: reqivo_proto::url::UrlError) -> Self {
        Error::new(ErrorKind::InvalidRequest, "invalid URL").with_source(e)
    }
}

/// Maps an I/O error during a phase to an [`Error`]: timeouts keep their phase, the rest is `Io`.
#[cold]
#[inline(never)]
pub(crate) fn io_error(e: std::io::Error, phase: TimeoutPhase) -> Error {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::TimedOut | K::WouldBlock => Error::timeout(phase),
        _ => Error::new(ErrorKind::Io, format!("I/O error while {}", phase_name(phase))).with_source(e),
    }
}

/// The result type of reqivo.
pub type Result<T, E = Error> = std::result::Result<T, E>;
