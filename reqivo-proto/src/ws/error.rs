use std::fmt;

use http::StatusCode;

/// What the peer did wrong (or that it vanished).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsErrorKind {
    /// A frame broke RFC 6455 framing rules (reserved bits or opcodes, a masked frame, a fragmented or
    /// oversized control frame, a 64-bit length with the top bit set, a bad close code, a continuation
    /// without a message, …). We close with 1002.
    Protocol,
    /// A text message or a close reason is not UTF-8, or compressed data does not decompress. Close 1007.
    InvalidPayload,
    /// A frame exceeds `max_frame_size` or a message exceeds `max_message_size`. Close 1009.
    TooLarge,
    /// The peer closed TCP without a Close frame (status 1006 in RFC terms; nothing is sent).
    AbnormalClosure,
}

impl WsErrorKind {
    /// The close code we send for this kind, `None` when nothing is sent.
    pub fn close_code(self) -> Option<u16> {
        match self {
            WsErrorKind::Protocol => Some(1002),
            WsErrorKind::InvalidPayload => Some(1007),
            WsErrorKind::TooLarge => Some(1009),
            WsErrorKind::AbnormalClosure => None,
        }
    }
}

/// The peer broke the protocol (or the connection ended without a Close frame). Sticky: every later
/// `poll_event` returns it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsError {
    kind: WsErrorKind,
    detail: &'static str,
}

impl WsError {
    pub(crate) fn new(kind: WsErrorKind, detail: &'static str) -> Self {
        WsError { kind, detail }
    }
    pub(crate) fn protocol(detail: &'static str) -> Self {
        WsError::new(WsErrorKind::Protocol, detail)
    }
    pub(crate) fn invalid_payload(detail: &'static str) -> Self {
        WsError::new(WsErrorKind::InvalidPayload, detail)
    }
    pub(crate) fn too_large(detail: &'static str) -> Self {
        WsError::new(WsErrorKind::TooLarge, detail)
    }
    /// What went wrong.
    pub fn kind(&self) -> WsErrorKind {
        self.kind
    }
    /// The close code the core sent (queued) to the peer: 1002, 1007 or 1009; `None` after an EOF.
    pub fn close_code(&self) -> Option<u16> {
        self.kind.close_code()
    }
    /// A short description of the violation.
    pub fn detail(&self) -> &'static str {
        self.detail
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.close_code() {
            Some(code) => write!(f, "websocket {:?} (close {code}): {}", self.kind, self.detail),
            None => write!(f, "websocket {:?}: {}", self.kind, self.detail),
        }
    }
}

impl std::error::Error for WsError {}

/// The caller used the connection wrongly. The call was refused whole and nothing changed, so (unlike
/// [`WsError`]) this does not stick.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsUsageError {
    /// The queued bytes would exceed `WsConfig::max_send_buffer`: write out, then retry.
    BufferFull,
    /// Messages, pings and pongs are only sent in `Open` (after a Close nothing but the close
    /// handshake goes out).
    NotOpen,
    /// A Ping or Pong payload over 125 bytes (its length given).
    ControlTooLong(usize),
    /// A close code that may not be sent (see [`is_valid_close_code`](super::is_valid_close_code)).
    InvalidCloseCode(u16),
    /// A close reason over 123 bytes (its length given).
    ReasonTooLong(usize),
    /// A subprotocol that is empty, not a token, or offered twice.
    InvalidSubprotocol(String),
    /// The connection failed earlier; `poll_event` returns why.
    Failed,
}

impl fmt::Display for WsUsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsUsageError::BufferFull => f.write_str("websocket send buffer full: write out queued bytes first"),
            WsUsageError::NotOpen => f.write_str("websocket is closing or closed"),
            WsUsageError::ControlTooLong(n) => write!(f, "control frame payload of {n} bytes (at most 125)"),
            WsUsageError::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            WsUsageError::ReasonTooLong(n) => write!(f, "close reason of {n} bytes (at most 123)"),
            WsUsageError::InvalidSubprotocol(p) => write!(f, "invalid or duplicate subprotocol {p:?}"),
            WsUsageError::Failed => f.write_str("websocket connection failed; poll_event says why"),
        }
    }
}

impl std::error::Error for WsUsageError {}

/// The server's answer to the opening handshake breaks RFC 6455 §4.1 or RFC 7692 §7.1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The status is not 101 Switching Protocols.
    Status(StatusCode),
    /// `Upgrade` is missing, repeated, or not `websocket`.
    Upgrade,
    /// `Connection` has no `upgrade` token.
    Connection,
    /// `Sec-WebSocket-Accept` is missing or repeated.
    AcceptMissing,
    /// `Sec-WebSocket-Accept` is not base64(SHA-1(key + GUID)).
    AcceptMismatch,
    /// The server chose a subprotocol we did not offer.
    UnofferedSubprotocol(String),
    /// The server named more than one subprotocol.
    MultipleSubprotocols,
    /// The server answered with an extension we did not offer.
    UnofferedExtension(String),
    /// The server accepted permessage-deflate more than once.
    DuplicateExtension(String),
    /// `Sec-WebSocket-Extensions` does not parse.
    MalformedExtensions,
    /// A permessage-deflate parameter is unknown, repeated, has a bad value, or was not allowed.
    InvalidDeflateParam {
        /// The parameter as sent.
        param: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Status(s) => write!(f, "websocket handshake: status {s}, expected 101"),
            HandshakeError::Upgrade => f.write_str("websocket handshake: Upgrade is not `websocket`"),
            HandshakeError::Connection => f.write_str("websocket handshake: Connection lacks `upgrade`"),
            HandshakeError::AcceptMissing => f.write_str("websocket handshake: missing Sec-WebSocket-Accept"),
            HandshakeError::AcceptMismatch => f.write_str("websocket handshake: wrong Sec-WebSocket-Accept"),
            HandshakeError::UnofferedSubprotocol(p) => write!(f, "websocket handshake: subprotocol {p:?} not offered"),
            HandshakeError::MultipleSubprotocols => f.write_str("websocket handshake: more than one subprotocol"),
            HandshakeError::UnofferedExtension(e) => write!(f, "websocket handshake: extension {e:?} not offered"),
            HandshakeError::DuplicateExtension(e) => write!(f, "websocket handshake: extension {e:?} repeated"),
            HandshakeError::MalformedExtensions => {
                f.write_str("websocket handshake: malformed Sec-WebSocket-Extensions")
            }
            HandshakeError::InvalidDeflateParam { param, problem } => {
                write!(f, "websocket handshake: permessage-deflate parameter {param:?}: {problem}")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}
