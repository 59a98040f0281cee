//! `AsyncWebSocket` and its halves. Mirrors `blocking/websocket.rs` (plus `split`, `Stream` and `Sink`).

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use super::session::AsyncSession;
use super::ws_link::open;
use super::ws_split::{Reader, Shared, Writer};
use crate::error::{Error, ErrorKind, Result, TimeoutPhase};
use crate::request::IntoUrl;
#[cfg(feature = "json")]
use crate::websocket::json_text;
use crate::websocket::{check_close, checked_outgoing, Message, Outgoing, WebSocketBuilder};

/// An async WebSocket client connection on tokio. [`WebSocket`](crate::WebSocket) is its blocking twin
/// with the same methods. The rules on errors, closing, backpressure and reconnection are in the
/// [`websocket` module docs](crate::websocket).
///
/// Besides the methods, it is a [`Stream`](futures_core::Stream) of `Result<Message>` (ending after the
/// close handshake) and a [`Sink<Message>`](futures_sink::Sink); [`split`](AsyncWebSocket::split) gives a
/// reader and a writer that work concurrently from two tasks.
///
/// ```no_run
/// use reqivo::Message;
/// # async fn demo() -> Result<(), reqivo::Error> {
/// let session = reqivo::AsyncSession::builder().build()?;
/// let mut ws = session.websocket("ws://127.0.0.1:9001/echo").connect().await?;
/// ws.send_text("hello").await?;
/// while let Some(msg) = ws.recv().await? {
///     match msg {
///         Message::Text(t) => {
///             println!("{t}");
///             ws.close(1000, "done").await?;
///         }
///         Message::Close(frame) => println!("closed by the server: {frame:?}"),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
///
/// The blocking twin, line for line:
///
/// ```no_run
/// # fn main() -> Result<(), reqivo::Error> {
/// let session = reqivo::Session::builder().build()?;
/// let mut ws = session.websocket("ws://127.0.0.1:9001/echo").connect()?;
/// ws.send_text("hello")?;
/// while let Some(msg) = ws.recv()? {
///     println!("{msg:?}");
/// }
/// # Ok(()) }
/// ```
pub struct AsyncWebSocket {
    reader: AsyncWsReader,
    writer: AsyncWsWriter,
}

/// The receiving half of a [split](AsyncWebSocket::split) [`AsyncWebSocket`]: `recv`, and a
/// [`Stream`](futures_core::Stream) of `Result<Message>`. It also writes the automatic Pongs and keepalive
/// Pings, and reconnects (when on): keep it polled.
pub struct AsyncWsReader {
    inner: Reader,
    read_timeout: Option<Duration>,
    /// The stream ended (after the close handshake or a failure).
    ended: bool,
}

/// The sending half of a [split](AsyncWebSocket::split) [`AsyncWebSocket`]: the `send_*` methods and a
/// [`Sink<Message>`](futures_sink::Sink). While the connection is down it waits for the reader to
/// reconnect (or fails at once when the reader was dropped).
pub struct AsyncWsWriter {
    inner: Writer,
}

impl AsyncSession {
    /// Starts a WebSocket connection to a `ws://` or `wss://` URL (or a relative one, against
    /// `base_url`); `http(s)://` URLs work too. See [`WebSocketBuilder`].
    pub fn websocket(&self, url: impl IntoUrl) -> WebSocketBuilder<'_, AsyncSession> {
        WebSocketBuilder::new(self, url.into_url_ref())
    }
}

impl WebSocketBuilder<'_, AsyncSession> {
    /// Connects and performs the opening handshake (a `GET` with `Upgrade: websocket` on a connection of
    /// its own, not from the pool).
    pub async fn connect(self) -> Result<AsyncWebSocket> {
        let params = self.prepare()?;
        let wire = open(&params).await?;
        let shared = Shared::new(wire, params);
        let reader = AsyncWsReader { inner: Reader::new(shared.clone()), read_timeout: None, ended: false };
        let writer = AsyncWsWriter { inner: Writer::new(shared) };
        Ok(AsyncWebSocket { reader, writer })
    }
}

impl AsyncWebSocket {
    /// Sends a text message; returns once it is written to the socket.
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        self.send_out(Outgoing::Text(text)).await
    }

    /// Sends a binary message; returns once it is written to the socket.
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<()> {
        self.send_out(Outgoing::Binary(data)).await
    }

    /// Sends `value` as a JSON text message (feature `json`).
    #[cfg(feature = "json")]
    pub async fn send_json<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.send_text(&json_text(value)?).await
    }

    /// Sends any [`Message`]; a `Close` starts the close handshake without waiting (see `close`).
    pub async fn send(&mut self, msg: Message) -> Result<()> {
        self.send_out(checked_outgoing(&msg)?).await
    }

    /// Sends a Ping (payload at most 125 bytes); its Pong arrives through `recv`.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<()> {
        self.send_out(Outgoing::Ping(payload)).await
    }

    /// The next message; `Ok(None)` once the close handshake is over (a normal close is not an error).
    /// Pings are answered automatically and still returned. Waits at most the read timeout, if set.
    /// Cancel-safe: dropping the future loses nothing (use it in `select!` or under a timeout).
    pub async fn recv(&mut self) -> Result<Option<Message>> {
        // `AsyncWsReader::recv`'s body, not a call: one state machine less in the caller's future.
        let reader = &mut self.reader;
        reader.inner.until = reader.read_timeout.and_then(|t| Instant::now().checked_add(t));
        poll_fn(|cx| reader.inner.poll_recv(cx)).await
    }

    /// Closes: sends a Close with `code` (see [`close_code`](crate::close_code)) and `reason` (at most
    /// 123 bytes), then reads (dropping what arrives) until the peer's Close or the close timeout.
    /// Closing a closed or failed socket does nothing.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<()> {
        check_close(code, reason)?;
        if self.writer.inner.shared.lock().wire.link.check().is_err() {
            // A failed connection has nothing left to close.
            return Ok(());
        }
        if self.send_out(Outgoing::Close(code, reason)).await.is_err() {
            return Ok(());
        }
        self.reader.inner.until = None;
        // Messages still arriving are dropped; an error ends the wait just as the Close does.
        while let Ok(Some(_)) = poll_fn(|cx| self.reader.inner.poll_recv(cx)).await {}
        Ok(())
    }

    /// The subprotocol the server chose, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.reader.subprotocol()
    }

    /// Bounds how long `recv` waits for a message (`None`, the default, waits forever); running out is a
    /// [`Timeout(Message)`](crate::TimeoutPhase::Message) error that leaves the socket usable.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.reader.set_read_timeout(timeout);
    }

    /// Splits into a reader and a writer that can be used from two tasks at once.
    ///
    /// ```no_run
    /// # async fn demo(ws: reqivo::AsyncWebSocket) -> Result<(), reqivo::Error> {
    /// let (mut reader, mut writer) = ws.split();
    /// tokio::spawn(async move {
    ///     for i in 0..10 {
    ///         writer.send_text(&format!("tick {i}")).await?;
    ///     }
    ///     writer.close(1000, "").await
    /// });
    /// while let Some(msg) = reader.recv().await? {
    ///     println!("{msg:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn split(self) -> (AsyncWsReader, AsyncWsWriter) {
        (self.reader, self.writer)
    }

    /// Queues and writes one message, reconnecting first when the connection is down. The `poll_fn`
    /// itself rather than an `async fn` around it: one state machine less in the caller's future.
    fn send_out<'a>(&'a mut self, msg: Outgoing<'a>) -> impl Future<Output = Result<()>> + Send + 'a {
        let mut queued = None;
        let (reader, writer) = (&mut self.reader.inner, &mut self.writer.inner);
        poll_fn(move |cx| writer.poll_send(cx, &msg, &mut queued, Some(&mut *reader)))
    }
}

impl AsyncWsReader {
    /// The next message; see [`AsyncWebSocket::recv`].
    pub async fn recv(&mut self) -> Result<Option<Message>> {
        self.inner.until = self.read_timeout.and_then(|t| Instant::now().checked_add(t));
        poll_fn(|cx| self.inner.poll_recv(cx)).await
    }

    /// The subprotocol the server chose, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.inner.subprotocol.as_deref()
    }

    /// See [`AsyncWebSocket::set_read_timeout`].
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }
}

impl AsyncWsWriter {
    /// Sends a text message; see [`AsyncWebSocket::send_text`].
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        self.send_out(Outgoing::Text(text)).await
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<()> {
        self.send_out(Outgoing::Binary(data)).await
    }

    /// Sends `value` as a JSON text message (feature `json`).
    #[cfg(feature = "json")]
    pub async fn send_json<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.send_text(&json_text(value)?).await
    }

    /// Sends any [`Message`].
    pub async fn send(&mut self, msg: Message) -> Result<()> {
        self.send_out(checked_outgoing(&msg)?).await
    }

    /// Sends a Ping; its Pong arrives through the reader.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<()> {
        self.send_out(Outgoing::Ping(payload)).await
    }

    /// Sends our Close and returns once it is written; the reader sees the peer's Close and then `None`.
    /// Closing a closed or failed socket does nothing.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<()> {
        check_close(code, reason)?;
        if self.inner.shared.lock().wire.link.check().is_err() {
            return Ok(());
        }
        match self.send_out(Outgoing::Close(code, reason)).await {
            Err(e) if e.kind() == ErrorKind::InvalidRequest => Err(e),
            _ => Ok(()),
        }
    }

    fn send_out<'a>(&'a mut self, msg: Outgoing<'a>) -> impl Future<Output = Result<()>> + Send + 'a {
        let mut queued = None;
        poll_fn(move |cx| self.inner.poll_send(cx, &msg, &mut queued, None))
    }
}

impl futures_core::Stream for AsyncWsReader {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if this.inner.until.is_none() {
            this.inner.until = this.read_timeout.and_then(|t| Instant::now().checked_add(t));
        }
        let result = ready!(this.inner.poll_recv(cx));
        this.inner.until = None;
        Poll::Ready(match result {
            Ok(Some(msg)) => Some(Ok(msg)),
            Ok(None) => {
                this.ended = true;
                None
            }
            Err(e) => {
                // A read timeout leaves the socket usable; anything else ends the stream.
                this.ended = e.kind() != ErrorKind::Timeout(TimeoutPhase::Message);
                Some(Err(e))
            }
        })
    }
}

impl futures_core::Stream for AsyncWebSocket {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.get_mut().reader).poll_next(cx)
    }
}

/// Sends messages one at a time: `poll_ready` completes once the previous one is written; `poll_close`
/// sends a Close (1000) without waiting for the peer's.
impl futures_sink::Sink<Message> for AsyncWsWriter {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().inner.poll_pending(cx, None)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<()> {
        self.get_mut().inner.start(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().inner.poll_flush_all(cx, None)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().inner.poll_finish(cx, None)
    }
}

/// The same `Sink` as [`AsyncWsWriter`]'s; reconnects itself when the connection is down.
impl futures_sink::Sink<Message> for AsyncWebSocket {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        this.writer.inner.poll_pending(cx, Some(&mut this.reader.inner))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<()> {
        self.get_mut().writer.inner.start(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        this.writer.inner.poll_flush_all(cx, Some(&mut this.reader.inner))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        this.writer.inner.poll_finish(cx, Some(&mut this.reader.inner))
    }
}

impl std::fmt::Debug for AsyncWebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncWebSocket").field("url", &self.writer.inner.shared.params.url).finish_non_exhaustive()
    }
}
