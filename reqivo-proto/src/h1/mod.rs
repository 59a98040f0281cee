//! HTTP/1.1 client connection state machine (RFC 9112).
//!
//! One [`ClientConn`] is one TCP (or TLS) connection. It encodes requests into its transmit buffer and
//! decodes responses from its receive buffer; the driver moves bytes between those buffers and the socket.
//!
//! ## States
//!
//! ```text
//!  request side                     send_request          finish_body (or Known length reached)
//!    Idle ─────────────────────────────────────▶ Body ─────────────────────────────────────▶ Done
//!      │ send_request with Expect: 100-continue    ▲
//!      └──────────────────────────▶ WaitContinue ──┘ 100 Continue arrives, or handle_continue_timeout
//!    Body / WaitContinue ── a final head arrives first ──▶ Abandoned  (close_reason: RequestBodyUnsent)
//!
//!  response side       send_request             Event::Head (final)             Event::End
//!    Idle ─────────────────────────▶ Head ───────────────────────────▶ Body ──────────────────▶ Done
//!                                     │ ↺ Event::Informational (1xx)    ↺ Event::Data, Event::Trailers
//!                                     └── 101, or 2xx to CONNECT: Event::Head ⇒ Event::Upgraded ⇒ Upgraded
//!
//!  Done + Done ── start_next_cycle (only when close_reason() is None) ──▶ Idle + Idle
//!  any state ── error ──▶ Failed (sticky; close_reason() = Error)
//! ```
//!
//! ## Calling contract
//!
//! 1. [`ClientConn::send_request`] with the head and the body length.
//! 2. While [`ClientConn::wants_body`] is true, hand body bytes to [`ClientConn::send_body`] and finally
//!    call [`ClientConn::finish_body`]. With `Expect: 100-continue` `wants_body` stays false until the
//!    server answers 100 or the driver calls [`ClientConn::handle_continue_timeout`]. A `Content-Length`
//!    body may instead be written by the driver itself, up to [`ClientConn::body_direct_room`] bytes,
//!    after the bytes of `poll_transmit` (one vectored write, no copy); it then reports them with
//!    [`ClientConn::advance_body`], after `advance_transmit` for the transmit bytes of the same write.
//! 3. After every command or input: write out [`ClientConn::poll_transmit`] (then
//!    [`ClientConn::advance_transmit`]) until it is `None`, then drain [`ClientConn::poll_event`] until it
//!    returns `Ok(None)`; then, if [`ClientConn::wants_read`], read from the socket into
//!    [`ClientConn::recv_buf`] (EOF ⇒ [`ClientConn::handle_eof`]).
//! 4. After [`Event::End`], [`ClientConn::close_reason`] is `None` when the connection may be reused:
//!    call [`ClientConn::start_next_cycle`] before the next request.
//!
//! The request side and the response side move separately: a final response may arrive before the body
//! is complete (an answer to `Expect: 100-continue`, or an early error). Then the rest of the body is never
//! sent: `wants_body` turns false, `send_body` drops what it is given, and the connection closes after the
//! exchange ([`CloseReason::RequestBodyUnsent`]).
//!
//! After an error nothing more is written (`poll_transmit` is `None`); a [`ProtoError`] is returned by
//! every later `poll_event`, a [`UsageError`] by every later command (`poll_event` then says `Ok(None)`).

mod conn;
mod decode;
mod encode;
mod error;
mod fields;
mod scan;
#[cfg(test)]
mod tests;

pub use conn::ClientConn;
pub use fields::HeaderFields;

/// Checks a request head the way [`ClientConn::send_request`] will, without a connection: lets a caller
/// refuse an invalid request before it spends a DNS lookup and a connect on it.
pub fn check_request(head: &RequestHead<'_>, body: BodyLength) -> Result<(), UsageError> {
    encode::validate(head, body).map(|_| ())
}
pub use encode::HeaderBlock;
pub use error::{ProtoError, ProtoErrorKind, UsageError};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Version};

/// Size limits that protect the client from hostile responses. Every limit is checked before memory
/// for the input is committed, so no byte sequence makes the core allocate without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest response head (status line + headers, interim 1xx heads included), in bytes. Default 64 KiB.
    pub max_head_size: usize,
    /// Most header fields in one response head (or trailer section). Default 128.
    pub max_headers: usize,
    /// Longest chunk-size line (size, extensions and CRLF), in bytes. Default 4 KiB.
    pub max_chunk_line: usize,
    /// Largest decoded body, in bytes; `None` means unlimited. Default `None`.
    pub max_body_size: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_head_size: 64 * 1024, max_headers: 128, max_chunk_line: 4096, max_body_size: None }
    }
}

/// The head of a request, ready to be encoded.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The origin-form target (`/path?query`). Must start with `/` (or be `*` for OPTIONS). Absolute-form
    /// (`http://host/path`, for a forward proxy) and authority-form (`host:port`, required for CONNECT) are
    /// accepted too. Visible ASCII only: percent-encode anything else.
    pub target: &'a str,
    /// The `Host` header value (`host` or `host:port`); written first.
    pub host: &'a str,
    /// Fields checked and encoded beforehand (a session's defaults), written after `Host` and before
    /// `headers`.
    pub defaults: Option<&'a HeaderBlock>,
    /// Further headers, written in order after `Host`. `Content-Length` and `Transfer-Encoding` must not be
    /// here: the core writes them from the [`BodyLength`].
    pub headers: &'a HeaderMap,
}

/// How the request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// No body and no framing header (typical for GET).
    None,
    /// A body of exactly this many bytes, sent with `Content-Length`.
    Known(u64),
    /// A body of unknown length, sent with `Transfer-Encoding: chunked`.
    Chunked,
}

/// A decoded response head.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase as sent (may be empty; obs-text kept as bytes).
    pub reason: Bytes,
    /// Header fields in the order received, duplicates kept, obs-fold unfolded to a single space
    /// ([`HeaderFields::to_header_map`] gives an [`http::HeaderMap`]).
    pub headers: HeaderFields,
}

/// What [`ClientConn::poll_event`] reports.
#[derive(Debug)]
pub enum Event {
    /// A 1xx interim response other than 101 (100 Continue, 103 Early Hints, …).
    Informational(ResponseHead),
    /// The final response head.
    Head(ResponseHead),
    /// A piece of the decoded body (chunked framing removed).
    Data(Bytes),
    /// The trailer section of a chunked body (only when it is not empty).
    Trailers(HeaderMap),
    /// The response is complete.
    End,
    /// After a `Head` with status 101 (or a 2xx answer to CONNECT): the connection now speaks another
    /// protocol; `leftover` holds the bytes that arrived after the head and belong to that protocol.
    Upgraded {
        /// Bytes received after the 101 head.
        leftover: Bytes,
    },
}

/// Why a connection must not be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The request carried `Connection: close`.
    RequestClose,
    /// The response carried `Connection: close`.
    ResponseClose,
    /// An HTTP/1.0 response without `Connection: keep-alive`.
    Http10,
    /// The body had no length and was read until EOF.
    ReadToEof,
    /// The response had both `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.1: close after).
    TransferEncodingWithLength,
    /// The request body was not (fully) sent, e.g. a final response arrived during `Expect: 100-continue`.
    RequestBodyUnsent,
    /// The response is not finished (body unread) or a request is still in flight.
    Unfinished,
    /// Bytes arrived that belong to no request.
    UnsolicitedData,
    /// The peer closed the connection.
    PeerClosed,
    /// The connection switched protocols (101) or became a CONNECT tunnel.
    Upgraded,
    /// An error occurred on the connection.
    Error,
}
