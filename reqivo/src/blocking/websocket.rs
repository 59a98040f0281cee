//! `WebSocket`: the blocking twin of `AsyncWebSocket`. Mirrors `tokio/websocket.rs`.

use std::time::{Duration, Instant};

use reqivo_proto::backoff::Backoff;

use super::session::Session;
use super::ws_link::{open, reconnect, Wire};
use crate::error::Result;
use crate::request::IntoUrl;
#[cfg(feature = "json")]
use crate::websocket::json_text;
use crate::websocket::{check_close, checked_outgoing, Message, Outgoing, WebSocketBuilder, WsParams};

/// A blocking WebSocket client connection on a `std::net` socket — no runtime, no helper thread. The
/// same methods, parameters and return types as [`AsyncWebSocket`](crate::AsyncWebSocket), minus
/// `.await`, plus nothing running in the background: Pings (keepalive) and automatic Pongs go out while
/// a call (`recv`, `send`, `close`) is in progress. The rules on errors, closing, backpressure and
/// reconnection are in the [`websocket` module docs](crate::websocket).
///
/// ```no_run
/// use reqivo::Message;
/// # fn main() -> Result<(), reqivo::Error> {
/// let session = reqivo::Session::builder().build()?;
/// let mut ws = session.websocket("ws://127.0.0.1:9001/echo").connect()?;
/// ws.send_text("hello")?;
/// while let Some(msg) = ws.recv()? {
///     match msg {
///         Message::Text(t) => {
///             println!("{t}");
///             ws.close(1000, "done")?;
///         }
///         Message::Close(frame) => println!("closed by the server: {frame:?}"),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
pub struct WebSocket {
    wire: Wire,
    params: WsParams,
    /// The reconnection schedule; `None` when reconnection is off or gave up.
    backoff: Option<Backoff>,
    read_timeout: Option<Duration>,
}

impl Session {
    /// Starts a WebSocket connection to a `ws://` or `wss://` URL (or a relative one, against
    /// `base_url`); `http(s)://` URLs work too. See [`WebSocketBuilder`].
    pub fn websocket(&self, url: impl IntoUrl) -> WebSocketBuilder<'_, Session> {
        WebSocketBuilder::new(self, url.into_url_ref())
    }
}

impl WebSocketBuilder<'_, Session> {
    /// Connects and performs the opening handshake (a `GET` with `Upgrade: websocket` on a connection of
    /// its own, not from the pool).
    pub fn connect(self) -> Result<WebSocket> {
        let params = self.prepare()?;
        let wire = open(&params)?;
        Ok(WebSocket { wire, backoff: params.backoff(), params, read_timeout: None })
    }
}

impl WebSocket {
    /// Sends a text message; returns once it is written to the socket.
    pub fn send_text(&mut self, text: &str) -> Result<()> {
        self.send_out(Outgoing::Text(text))
    }

    /// Sends a binary message; returns once it is written to the socket.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<()> {
        self.send_out(Outgoing::Binary(data))
    }

    /// Sends `value` as a JSON text message (feature `json`).
    #[cfg(feature = "json")]
    pub fn send_json<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.send_text(&json_text(value)?)
    }

    /// Sends any [`Message`]; a `Close` starts the close handshake without waiting (see `close`).
    pub fn send(&mut self, msg: Message) -> Result<()> {
        self.send_out(checked_outgoing(&msg)?)
    }

    /// Sends a Ping (payload at most 125 bytes); its Pong arrives through `recv`.
    pub fn ping(&mut self, payload: &[u8]) -> Result<()> {
        self.send_out(Outgoing::Ping(payload))
    }

    /// The next message; `Ok(None)` once the close handshake is over (a normal close is not an error).
    /// Pings are answered automatically and still returned. Waits at most the read timeout, if set.
    pub fn recv(&mut self) -> Result<Option<Message>> {
        let until = self.read_timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            match self.wire.recv(until) {
                Ok(msg) => {
                    if let Some(b) = &mut self.backoff {
                        b.reset();
                    }
                    return Ok(msg);
                }
                Err(e) => reconnect(&self.params, &mut self.backoff, &mut self.wire, e)?,
            }
        }
    }

    /// Closes: sends a Close with `code` (see [`close_code`](crate::close_code)) and `reason` (at most
    /// 123 bytes), then reads (dropping what arrives) until the peer's Close or the close timeout.
    /// Closing a closed or failed socket does nothing.
    pub fn close(&mut self, code: u16, reason: &str) -> Result<()> {
        check_close(code, reason)?;
        if self.wire.link.check().is_err() {
            // A failed connection has nothing left to close.
            return Ok(());
        }
        if self.wire.send(&Outgoing::Close(code, reason)).is_err() {
            return Ok(());
        }
        // Messages still arriving are dropped; an error ends the wait just as the Close does.
        while let Ok(Some(_)) = self.wire.recv(None) {}
        Ok(())
    }

    /// The subprotocol the server chose, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.wire.link.subprotocol()
    }

    /// Bounds how long `recv` waits for a message (`None`, the default, waits forever); running out is a
    /// [`Timeout(Message)`](crate::TimeoutPhase::Message) error that leaves the socket usable.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// Queues and writes one message, reconnecting first when the connection is down.
    fn send_out(&mut self, msg: Outgoing<'_>) -> Result<()> {
        loop {
            match self.wire.send(&msg) {
                Ok(()) => {
                    if let Some(b) = &mut self.backoff {
                        b.reset();
                    }
                    return Ok(());
                }
                Err(e) => reconnect(&self.params, &mut self.backoff, &mut self.wire, e)?,
            }
        }
    }
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket").field("url", &self.params.url).finish_non_exhaustive()
    }
}
