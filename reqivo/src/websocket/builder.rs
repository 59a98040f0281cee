//! The WebSocket builder both sessions share, and the prepared parameters of a connection (what the
//! opening handshake sends and how it is checked), reused for every reconnection.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT_ENCODING, TE};
use http::{Method, Uri};
use reqivo_proto::backoff::Backoff;
use reqivo_proto::h1::{Limits, RequestHead, ResponseHead};
use reqivo_proto::url::Target;
use reqivo_proto::ws::{ClientHandshake, Negotiated, WsConfig, WsConn};

use super::link::{fill_random, random_u64, Link};
use super::Message;
use crate::error::{Error, ErrorKind, Result};
use crate::request::{append_header, Driver, UrlRef};
use crate::tls::Tls;

type OnReconnect = Box<dyn FnMut() -> Vec<Message> + Send>;

/// How a WebSocket reconnects after the connection drops abnormally; see
/// [`WebSocketBuilder::reconnect`].
///
/// Attempt `k` (0-based) waits a random delay between half and all of `min(max_delay, initial_delay · 2^k)`
/// before connecting again (exponential backoff with jitter). After `max_attempts` failed attempts in a
/// row, reconnection gives up and the call that was waiting returns the last error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Failed attempts in a row before giving up. Default 5.
    pub max_attempts: u32,
    /// The base delay before the first attempt. Default 100 ms.
    pub initial_delay: Duration,
    /// The largest base delay. Default 10 s.
    pub max_delay: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            max_attempts: 5,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// A WebSocket connection being configured; finish it with `connect()` (`.await` on an
/// [`AsyncSession`](crate::AsyncSession)). It starts from the session's settings: TLS, default headers
/// (less `Accept-Encoding` and `TE`, which mean nothing on an upgrade), `base_url`, the connect timeout,
/// the read timeout (for the handshake's response, and as the longest blocked write) and the total
/// timeout (for the whole opening handshake).
///
/// ```no_run
/// use std::time::Duration;
/// use reqivo::{Message, ReconnectPolicy};
/// # async fn demo() -> Result<(), reqivo::Error> {
/// let session = reqivo::AsyncSession::builder().build()?;
/// let mut ws = session
///     .websocket("wss://example.com/feed")
///     .subprotocol("feed.v2")
///     .keepalive(Duration::from_secs(20), Duration::from_secs(10))
///     .reconnect(ReconnectPolicy::default())
///     .on_reconnect(|| vec![Message::text(r#"{"subscribe":"prices"}"#)])
///     .connect()
///     .await?;
/// ws.send_text(r#"{"subscribe":"prices"}"#).await?;
/// # Ok(()) }
/// ```
///
/// The blocking twin is the same chain on a [`Session`](crate::Session), without `.await`:
///
/// ```no_run
/// # use std::time::Duration;
/// # fn main() -> Result<(), reqivo::Error> {
/// let session = reqivo::Session::builder().build()?;
/// let mut ws = session
///     .websocket("wss://example.com/feed")
///     .keepalive(Duration::from_secs(20), Duration::from_secs(10))
///     .reconnect(reqivo::ReconnectPolicy::default())
///     .connect()?;
/// ws.send_text(r#"{"subscribe":"prices"}"#)?;
/// # Ok(()) }
/// ```
#[must_use = "a WebSocket does nothing until `connect` is called"]
pub struct WebSocketBuilder<'s, S: Driver> {
    pub(crate) session: &'s S,
    url: UrlRef,
    headers: HeaderMap,
    config: WsConfig,
    connect_timeout: Option<Duration>,
    keepalive: Option<(Duration, Duration)>,
    reconnect: Option<ReconnectPolicy>,
    on_reconnect: Option<OnReconnect>,
    error: Option<Error>,
}

impl<'s, S: Driver> WebSocketBuilder<'s, S> {
    pub(crate) fn new(session: &'s S, url: UrlRef) -> Self {
        WebSocketBuilder {
            session,
            url,
            headers: HeaderMap::new(),
            config: WsConfig::default(),
            connect_timeout: None,
            keepalive: None,
            reconnect: None,
            on_reconnect: None,
            error: None,
        }
    }

    fn fail(mut self, e: Error) -> Self {
        self.error.get_or_insert(e);
        self
    }

    /// Adds a header to the opening handshake (e.g. `Authorization`, `Origin`). The handshake's own
    /// headers (`Upgrade`, `Connection`, `Sec-WebSocket-*`) cannot be overridden.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match append_header(&mut self.headers, name, value) {
            Ok(()) => self,
            Err(e) => self.fail(e),
        }
    }

    /// Offers a subprotocol (`Sec-WebSocket-Protocol`); call again for more, in order of preference. The
    /// server's choice is [`subprotocol()`](crate::AsyncWebSocket::subprotocol) on the socket.
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.config.subprotocols.push(protocol.into());
        self
    }

    /// Whether to offer permessage-deflate compression (RFC 7692). Default on.
    pub fn compression(mut self, enabled: bool) -> Self {
        self.config.compression = enabled;
        self
    }

    /// Offers permessage-deflate with `client_no_context_takeover`: every message is compressed on its
    /// own (default false). Some servers accept compression only with this offer.
    pub fn no_context_takeover(mut self, enabled: bool) -> Self {
        self.config.no_context_takeover = enabled;
        self
    }

    /// Messages shorter than this are sent uncompressed (default 64 bytes).
    pub fn compression_threshold(mut self, bytes: usize) -> Self {
        self.config.compression_threshold = bytes;
        self
    }

    /// Largest message accepted, after decompression (default 64 MiB); a larger one fails the connection
    /// with close code 1009 and a [`TooLarge`](crate::ErrorKind::TooLarge) error.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config.max_message_size = bytes;
        self
    }

    /// Largest frame accepted, and the largest frame sent (longer messages are fragmented). Default
    /// 16 MiB.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.config.max_frame_size = bytes.max(1);
        self
    }

    /// Bound of the outgoing queue, in bytes (default 4 MiB); see the backpressure rule in the
    /// [`websocket` module docs](crate::websocket).
    pub fn max_send_buffer(mut self, bytes: usize) -> Self {
        self.config.max_send_buffer = bytes;
        self
    }

    /// How long `close` waits for the peer's Close (default 5 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.config.close_timeout = timeout;
        self
    }

    /// Limit for DNS + TCP connect + TLS handshake (overrides the session's).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sends a Ping every `interval`; when nothing at all arrives within `pong_timeout` after a Ping, the
    /// peer counts as dead: `recv` (or `send`) fails with
    /// [`Timeout(Keepalive)`](crate::TimeoutPhase::Keepalive), or reconnects when reconnection is on.
    /// Pings go out while a `recv` is waiting (the async reader keeps its own timer; the blocking socket
    /// bounds its read by the next keepalive deadline), so keep one `recv` pending. Their Pongs are
    /// returned by `recv` like any other (`Message::Pong` with an 8-byte counter).
    pub fn keepalive(mut self, interval: Duration, pong_timeout: Duration) -> Self {
        self.keepalive = Some((interval, pong_timeout));
        self
    }

    /// Reconnects transparently when the connection drops abnormally; see the rules in the
    /// [`websocket` module docs](crate::websocket). Off by default.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = Some(policy);
        self
    }

    /// Called after each successful reconnection; the messages it returns are sent first on the new
    /// connection (to log in or resubscribe, say). Runs on the task or thread that reconnects.
    pub fn on_reconnect<F>(mut self, f: F) -> Self
    where
        F: FnMut() -> Vec<Message> + Send + 'static,
    {
        self.on_reconnect = Some(Box::new(f));
        self
    }

    /// Resolves the URL and merges the session's settings into the connection's parameters.
    pub(crate) fn prepare(self) -> Result<WsParams> {
        let config = self.session.config();
        let url = self.url.resolve(config.base_url.as_ref(), None);
        let url = match (self.error, url) {
            (Some(e), Ok(u)) => return Err(e.with_url(&u)),
            (Some(e), Err(_)) | (None, Err(e)) => return Err(e),
            (None, Ok(u)) => u,
        };
        let target = Target::from_uri(&url).map_err(|e| Error::from(e).with_url(&url))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.default_headers {
            if !self.headers.contains_key(name) && name != ACCEPT_ENCODING && name != TE {
                headers.append(name.clone(), value.clone());
            }
        }
        let mut last = None;
        for (name, value) in self.headers {
            last = name.or(last);
            if let Some(n) = &last {
                headers.append(n.clone(), value);
            }
        }
        let host = match headers.remove(http::header::HOST).map(|v| v.to_str().map(str::to_owned)) {
            Some(Ok(h)) => Some(h),
            Some(Err(_)) => return Err(Error::invalid("the Host header must be visible ASCII").with_url(&url)),
            None => None,
        };
        // Refuse a bad subprotocol list now rather than at every (re)connection.
        ClientHandshake::new([0; 16], &self.config).map_err(|e| usage(e).with_url(&url))?;
        Ok(WsParams {
            url,
            target,
            host,
            headers,
            config: self.config,
            connect_timeout: self.connect_timeout.or(config.timeouts.connect),
            read_timeout: config.timeouts.read,
            total_timeout: config.timeouts.total,
            tls: config.tls.clone(),
            limits: config.limits,
            keepalive: self.keepalive,
            reconnect: self.reconnect,
            on_reconnect: self.on_reconnect.map(Mutex::new),
            cookies: config.cookies.clone(),
        })
    }
}

/// Everything needed to open (and reopen) one WebSocket connection.
pub(crate) struct WsParams {
    pub url: Uri,
    pub target: Target,
    host: Option<String>,
    headers: HeaderMap,
    pub config: WsConfig,
    pub connect_timeout: Option<Duration>,
    /// The handshake response's read gap, and the longest blocked write afterwards.
    pub read_timeout: Option<Duration>,
    /// Bound of the whole opening handshake.
    pub total_timeout: Option<Duration>,
    pub tls: Arc<Tls>,
    pub limits: Limits,
    keepalive: Option<(Duration, Duration)>,
    reconnect: Option<ReconnectPolicy>,
    on_reconnect: Option<Mutex<OnReconnect>>,
    cookies: Option<Arc<crate::cookies::CookieJar>>,
}

/// One opening handshake: the codec's check and the request headers carrying its fresh key.
pub(crate) struct Handshake {
    check: ClientHandshake,
    headers: HeaderMap,
}

impl WsParams {
    /// A fresh handshake (new random key).
    pub(crate) fn handshake(&self) -> Result<Handshake> {
        let mut key = [0u8; 16];
        fill_random(&mut key)?;
        let check = ClientHandshake::new(key, &self.config).map_err(|e| usage(e).with_url(&self.url))?;
        let mut headers = self.headers.clone();
        if let Some(jar) = &self.cookies {
            crate::cookies::add_header(jar, &self.url, &mut headers, |h| h.contains_key(http::header::COOKIE));
        }
        for (name, value) in check.headers() {
            headers.insert(name.clone(), value.clone());
        }
        Ok(Handshake { check, headers })
    }

    /// The `GET` that asks for the upgrade.
    pub(crate) fn request_head<'a>(&'a self, hs: &'a Handshake) -> RequestHead<'a> {
        RequestHead {
            method: &Method::GET,
            target: self.target.path_and_query.as_str(),
            host: self.host.as_deref().unwrap_or(&self.target.host_header),
            defaults: None,
            headers: &hs.headers,
        }
    }

    /// Checks the server's answer (RFC 6455 §4.1, RFC 7692 §7.1).
    pub(crate) fn verify(&self, hs: &Handshake, head: &ResponseHead) -> Result<Negotiated> {
        crate::cookies::store(self.cookies.as_deref(), &self.url, &head.headers);
        hs.check.verify(head.status, &head.headers.to_header_map()).map_err(|e| {
            let message = match e {
                reqivo_proto::ws::HandshakeError::Status(status) => {
                    format!("the server refused the WebSocket upgrade with status {status}")
                }
                _ => "the server's WebSocket handshake response is invalid".to_owned(),
            };
            Error::new(ErrorKind::WebSocket, message).with_source(e).with_url(&self.url)
        })
    }

    /// The connection after the `101`: the codec with a fresh mask seed, and the keepalive schedule.
    pub(crate) fn link(&self, negotiated: Negotiated, leftover: &[u8], now: Instant) -> Result<Link> {
        let mut config = self.config.clone();
        config.mask_seed = random_u64()?;
        let conn = WsConn::new(negotiated, &config, leftover);
        Ok(Link::new(conn, self.keepalive, now))
    }

    /// A fresh backoff schedule, when reconnection is on.
    pub(crate) fn backoff(&self) -> Option<Backoff> {
        self.reconnect.map(|p| Backoff::new(p.initial_delay, p.max_delay, p.max_attempts))
    }

    /// The messages to send first on a new connection (from the `on_reconnect` callback).
    pub(crate) fn resubscribe(&self) -> Vec<Message> {
        match &self.on_reconnect {
            Some(f) => (f.lock().unwrap_or_else(|p| p.into_inner()))(),
            None => Vec::new(),
        }
    }
}

fn usage(e: reqivo_proto::ws::WsUsageError) -> Error {
    Error::invalid(e.to_string()).with_source(e)
}
