//! WebSocket client pieces both drivers share, with no I/O: the [`Message`] type, the
//! [`WebSocketBuilder`], the [`ReconnectPolicy`], and the `Link` that turns the sans-IO codec
//! ([`reqivo_proto::ws`]) plus the keepalive schedule into messages, errors and reconnection decisions.
//!
//! The sockets themselves are [`AsyncWebSocket`](crate::AsyncWebSocket) (tokio) and
//! [`WebSocket`](crate::WebSocket) (blocking): the same methods, parameters and return types, minus
//! `.await`.
//!
//! ```no_run
//! use reqivo::Message;
//! # async fn demo() -> Result<(), reqivo::Error> {
//! let session = reqivo::AsyncSession::builder().build()?;
//! let mut ws = session.websocket("wss://example.com/chat").subprotocol("chat.v1").connect().await?;
//! ws.send_json(&serde_json::json!({"join": "lobby"})).await?;
//! while let Some(msg) = ws.recv().await? {
//!     if let Message::Text(text) = msg {
//!         println!("{text}");
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Blocking:
//!
//! ```no_run
//! use reqivo::Message;
//! # fn main() -> Result<(), reqivo::Error> {
//! let session = reqivo::Session::builder().build()?;
//! let mut ws = session.websocket("wss://example.com/chat").subprotocol("chat.v1").connect()?;
//! ws.send_json(&serde_json::json!({"join": "lobby"}))?;
//! while let Some(msg) = ws.recv()? {
//!     if let Message::Text(text) = msg {
//!         println!("{text}");
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! ## Rules both drivers follow
//!
//! - **A normal close is not an error.** When the peer's Close arrives, `recv` returns
//!   `Some(Message::Close(..))` (the echo has been written); after that `recv` returns `None`. After our own
//!   `close(code, reason)` returns, `recv` returns `None` too.
//! - **Errors** after the handshake: the peer breaking RFC 6455 is [`ErrorKind::Protocol`] (or
//!   [`ErrorKind::TooLarge`] for 1009), with the close code we sent in the message; a connection dropped
//!   without a Close frame, or a failed read or write, is [`ErrorKind::Io`]; a silent peer under keepalive
//!   is [`ErrorKind::Timeout`]`(`[`TimeoutPhase::Keepalive`]`)`. Using a closed socket, or an invalid close
//!   code, is [`ErrorKind::InvalidRequest`]. A failed opening handshake is [`ErrorKind::WebSocket`].
//! - **Backpressure:** the codec accepts at most `max_send_buffer` queued bytes (a single larger message
//!   is accepted into an empty queue); beyond that a send first writes out what is queued. Memory never
//!   grows without bound, and `send` returns once its message is written to the socket.
//! - **Reconnection** (opt-in, [`WebSocketBuilder::reconnect`]): when the connection drops abnormally
//!   (EOF without a Close frame, an I/O error, a keepalive timeout), `recv` and `send` reconnect with
//!   exponential backoff and jitter, then send what [`WebSocketBuilder::on_reconnect`] returns, then go on.
//!   **A `send` while disconnected waits for the reconnection and then sends its message; when
//!   reconnection gives up (after `max_attempts` failed attempts) it returns the error instead.** Nothing is
//!   queued across a reconnection except that one message: messages that were accepted by an earlier
//!   `send` are either on the wire or lost with the old connection (at-most-once). A normal close (by
//!   either side) and a protocol violation never reconnect.
//!
//! [`ErrorKind::Protocol`]: crate::ErrorKind::Protocol
//! [`ErrorKind::TooLarge`]: crate::ErrorKind::TooLarge
//! [`ErrorKind::Io`]: crate::ErrorKind::Io
//! [`ErrorKind::Timeout`]: crate::ErrorKind::Timeout
//! [`ErrorKind::InvalidRequest`]: crate::ErrorKind::InvalidRequest
//! [`ErrorKind::WebSocket`]: crate::ErrorKind::WebSocket
//! [`TimeoutPhase::Keepalive`]: crate::TimeoutPhase::Keepalive

mod builder;
mod link;

use bytes::Bytes;

pub(crate) use builder::WsParams;
pub use builder::{ReconnectPolicy, WebSocketBuilder};
#[cfg(feature = "json")]
pub(crate) use link::json_text;
pub(crate) use link::{check_close, checked_outgoing, random_u64, Link, Outgoing, Step};
pub use reqivo_proto::ws::close_code;

/// A WebSocket message, as received by `recv` or given to `send`.
///
/// ```
/// use reqivo::Message;
/// let m = Message::text("hello");
/// assert_eq!(m.as_text(), Some("hello"));
/// assert_eq!(Message::binary(vec![1, 2, 3]).as_bytes(), &[1, 2, 3]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A Ping from the peer (the Pong is sent automatically); sending one sends a Ping.
    Ping(Bytes),
    /// A Pong from the peer; sending one sends an unsolicited Pong.
    Pong(Bytes),
    /// The peer's Close frame (`None` when it carried no status code). Sending one starts the close
    /// handshake without waiting for the peer's answer (`None` sends code 1000).
    Close(Option<CloseFrame>),
}

/// The status code and reason of a Close frame (RFC 6455 §7.4; see [`close_code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code, e.g. [`close_code::NORMAL`].
    pub code: u16,
    /// The reason, possibly empty (at most 123 bytes when sending).
    pub reason: String,
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Message {
        Message::Binary(data.into())
    }

    /// A Close message with `code` and `reason`.
    pub fn close(code: u16, reason: impl Into<String>) -> Message {
        Message::Close(Some(CloseFrame { code, reason: reason.into() }))
    }

    /// True for a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// True for a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// True for a Close message.
    pub fn is_close(&self) -> bool {
        matches!(self, Message::Close(_))
    }

    /// The text of a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The payload: the UTF-8 bytes of a text message, the data of the others, a Close's reason.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b,
            Message::Close(Some(frame)) => frame.reason.as_bytes(),
            Message::Close(None) => &[],
        }
    }

    /// The payload as [`Bytes`] (see [`Message::as_bytes`]).
    pub fn into_bytes(self) -> Bytes {
        match self {
            Message::Text(t) => Bytes::from(t),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b,
            Message::Close(Some(frame)) => Bytes::from(frame.reason),
            Message::Close(None) => Bytes::new(),
        }
    }

    /// Parses a text or binary message as JSON (feature `json`).
    ///
    /// ```
    /// let m = reqivo::Message::text(r#"{"n": 1}"#);
    /// let v: serde_json::Value = m.json()?;
    /// assert_eq!(v["n"], 1);
    /// # Ok::<(), reqivo::Error>(())
    /// ```
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> crate::Result<T> {
        match self {
            Message::Text(_) | Message::Binary(_) => serde_json::from_slice(self.as_bytes()).map_err(|e| {
                crate::Error::new(crate::ErrorKind::Decode, "message is not the expected JSON").with_source(e)
            }),
            _ => Err(crate::Error::new(crate::ErrorKind::Decode, "only text and binary messages hold JSON")),
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::Text(text.to_owned())
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Message {
        Message::Binary(data)
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Message {
        Message::Binary(data.into())
    }
}

#[cfg(test)]
mod tests {
    use super::link::{check_close, Outgoing};
    use super::*;

    #[test]
    fn message_accessors_and_conversions() {
        assert_eq!(Message::from("hi"), Message::text("hi"));
        assert_eq!(Message::from(vec![1u8, 2]), Message::binary(vec![1u8, 2]));
        assert_eq!(Message::close(4000, "bye").as_bytes(), b"bye");
        assert_eq!(Message::Close(None).into_bytes(), Bytes::new());
        assert!(Message::text("x").is_text() && Message::binary(vec![]).is_binary() && Message::Close(None).is_close());
        assert_eq!(Message::Ping(Bytes::from_static(b"p")).as_text(), None);
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_from_text_and_binary_only() {
        let v: serde_json::Value = Message::binary(br#"[1,2]"#.to_vec()).json().unwrap();
        assert_eq!(v, serde_json::json!([1, 2]));
        assert!(Message::Pong(Bytes::new()).json::<serde_json::Value>().is_err());
        assert!(Message::text("{").json::<serde_json::Value>().is_err());
    }

    #[test]
    fn outgoing_borrows_and_close_defaults_to_1000() {
        assert!(matches!(Message::Close(None).outgoing(), Outgoing::Close(1000, "")));
        assert!(matches!(Message::close(4001, "x").outgoing(), Outgoing::Close(4001, "x")));
        assert!(matches!(Message::text("t").outgoing(), Outgoing::Text("t")));
    }

    #[test]
    fn close_codes_and_reasons_are_checked_before_sending() {
        assert!(check_close(1000, "").is_ok());
        assert!(check_close(4999, &"r".repeat(123)).is_ok());
        for code in [0, 999, 1005, 1006, 1015, 2000, 5000] {
            assert_eq!(check_close(code, "").unwrap_err().kind(), crate::ErrorKind::InvalidRequest, "{code}");
        }
        assert!(check_close(1000, &"r".repeat(124)).is_err());
    }
}
