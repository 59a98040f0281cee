//! [`WsClient`]: an `AsyncWebSocket` driven on a tokio runtime owned by the client, or a blocking
//! `WebSocket` used on the scenario's thread with no runtime anywhere near it. Connection settings are
//! data ([`WsOpts`]) applied identically to both builders, so one scenario body runs on both drivers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqivo::{AsyncSession, AsyncWebSocket, Message, ReconnectPolicy, Session, WebSocket, WebSocketBuilder};

use super::{Driver, Opts};

/// WebSocket settings, applied the same way to either builder.
#[derive(Clone, Default)]
pub struct WsOpts {
    pub session: Opts,
    pub subprotocols: Vec<String>,
    pub compression: Option<bool>,
    pub keepalive: Option<(Duration, Duration)>,
    pub reconnect: Option<ReconnectPolicy>,
    /// Texts the `on_reconnect` callback returns.
    pub resubscribe: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub max_send_buffer: Option<usize>,
}

impl WsOpts {
    pub fn new() -> WsOpts {
        WsOpts::default()
    }

    fn apply<'s, S: reqivo::Driver>(
        &self,
        mut b: WebSocketBuilder<'s, S>,
        reconnects: &Arc<AtomicUsize>,
    ) -> WebSocketBuilder<'s, S> {
        for p in &self.subprotocols {
            b = b.subprotocol(p.as_str());
        }
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        if let Some(c) = self.compression {
            b = b.compression(c);
        }
        if let Some((interval, timeout)) = self.keepalive {
            b = b.keepalive(interval, timeout);
        }
        if let Some(n) = self.max_send_buffer {
            b = b.max_send_buffer(n);
        }
        if let Some(policy) = self.reconnect {
            let (count, texts) = (reconnects.clone(), self.resubscribe.clone());
            b = b.reconnect(policy).on_reconnect(move || {
                count.fetch_add(1, Ordering::SeqCst);
                texts.iter().map(|t| Message::text(t.as_str())).collect()
            });
        }
        b
    }
}

/// A WebSocket of either kind.
pub struct WsClient {
    inner: Inner,
    reconnects: Arc<AtomicUsize>,
}

// One per test: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Async { rt: tokio::runtime::Runtime, ws: Option<AsyncWebSocket> },
    Sync(WebSocket),
}

impl Drop for WsClient {
    fn drop(&mut self) {
        if let Inner::Async { rt, ws } = &mut self.inner {
            let _guard = rt.enter();
            drop(ws.take());
        }
    }
}

impl WsClient {
    pub fn connect(d: Driver, url: &str, opts: &WsOpts) -> reqivo::Result<WsClient> {
        let reconnects = Arc::new(AtomicUsize::new(0));
        let inner = match d {
            Driver::Async => {
                let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
                let session = opts.session.apply(AsyncSession::builder()).build()?;
                let ws = rt.block_on(opts.apply(session.websocket(url), &reconnects).connect())?;
                Inner::Async { rt, ws: Some(ws) }
            }
            Driver::Sync => {
                assert!(tokio::runtime::Handle::try_current().is_err(), "the blocking driver runs without a runtime");
                let session = opts.session.apply(Session::builder()).build()?;
                Inner::Sync(opts.apply(session.websocket(url), &reconnects).connect()?)
            }
        };
        Ok(WsClient { inner, reconnects })
    }

    /// How often `on_reconnect` ran.
    pub fn reconnects(&self) -> usize {
        self.reconnects.load(Ordering::SeqCst)
    }

    pub fn send_text(&mut self, text: &str) -> reqivo::Result<()> {
        match &mut self.inner {
            Inner::Async { rt, ws } => rt.block_on(ws.as_mut().unwrap().send_text(text)),
            Inner::Sync(ws) => ws.send_text(text),
        }
    }

    pub fn send_binary(&mut self, data: &[u8]) -> reqivo::Result<()> {
        match &mut self.inner {
            Inner::Async { rt, ws } => rt.block_on(ws.as_mut().unwrap().send_binary(data)),
            Inner::Sync(ws) => ws.send_binary(data),
        }
    }

    pub fn send_json(&mut self, value: &serde_json::Value) -> reqivo::Result<()> {
        match &mut self.inner {
            Inner::Async { rt, ws } => rt.block_on(ws.as_mut().unwrap().send_json(value)),
            Inner::Sync(ws) => ws.send_json(value),
        }
    }

    pub fn send(&mut self, msg: Message) -> reqivo::Result<()> {
        match &mut self.inner {
            Inner::Async { rt, ws } => rt.block_on(ws.as_mut().unwrap().send(msg)),
            Inner::Sync(ws) => ws.send(msg),
        }
    }

    pub fn ping(&mut self, payload: &[u8]) -> reqivo::Result<()> {
        match &mut self.inner {
            Inner::Async { rt, ws } => rt.block_on(ws.as_mut().unwrap().ping(payload)),
            Inner::Sync(ws) => ws.ping(payload),
        }
    }

    pub fn recv(&mut self) -> reqivo::Result<Option<Message>> {
        match &mut self.inner {
            Inner::Async { rt, ws } => rt.block_on(ws.as_mut().unwrap().recv()),
            Inner::Sync(ws) => ws.recv(),
        }
    }

    /// The next text, binary or close message (Pings and Pongs skipped).
    pub fn recv_data(&mut self) -> reqivo::Result<Option<Message>> {
        loop {
            match self.recv()? {
                Some(Message::Ping(_) | Message::Pong(_)) => {}
                other => return Ok(other),
            }
        }
    }

    /// The next message, which must be this text.
    #[track_caller]
    pub fn expect_text(&mut self, text: &str) {
        match self.recv_data() {
            Ok(Some(Message::Text(t))) => assert_eq!(t, text),
            other => panic!("expected text {text:?}, got {other:?}"),
        }
    }

    pub fn close(&mut self, code: u16, reason: &str) -> reqivo::Result<()> {
        match &mut self.inner {
            Inner::Async { rt, ws } => rt.block_on(ws.as_mut().unwrap().close(code, reason)),
            Inner::Sync(ws) => ws.close(code, reason),
        }
    }

    pub fn subprotocol(&self) -> Option<String> {
        match &self.inner {
            Inner::Async { ws, .. } => ws.as_ref().unwrap().subprotocol().map(str::to_owned),
            Inner::Sync(ws) => ws.subprotocol().map(str::to_owned),
        }
    }

    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        match &mut self.inner {
            Inner::Async { ws, .. } => ws.as_mut().unwrap().set_read_timeout(timeout),
            Inner::Sync(ws) => ws.set_read_timeout(timeout),
        }
    }
}
