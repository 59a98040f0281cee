//! WebSocket client codec (RFC 6455), with permessage-deflate (RFC 7692) behind the `deflate` feature.
//!
//! Two pieces, both sans-IO:
//!
//! - [`ClientHandshake`]: the headers to add to the opening `GET`, and the check of the server's answer
//!   (RFC 6455 §4.1, RFC 7692 §7.1), which yields the [`Negotiated`] subprotocol and extension parameters.
//! - [`WsConn`]: the connection after the `101 Switching Protocols`: frames, masking, fragmentation,
//!   reassembly, UTF-8 validation, pings, the close handshake and compression.
//!
//! ## Connection states ([`WsState`])
//!
//! ```text
//!          close(code, reason, now)                       the peer's Close arrives
//!   Open ─────────────────────────────▶ CloseSent ──────────────────────────────────▶ CloseReceived
//!     │                                  │   │  ↺ Text/Binary/Ping/Pong still reported    │
//!     │ the peer's Close arrives         │   │                                            │ our Close (echo or
//!     │ (echo queued by the core)        │   │ handle_timeout(now ≥ deadline)             │ own) is written out
//!     └──────────────────────────────────┼───┼──────────────────▶ CloseReceived           ▼
//!                                        │   └──────────────────────────────────────▶ Closed ◀─┘
//!                                        └── EOF (the peer dropped TCP without a Close) ──▶ Closed
//!   Open / CloseSent ── the peer breaks the protocol, or EOF in Open ──▶ Failed  (sticky WsError)
//! ```
//!
//! Events: `Text`/`Binary`/`Ping`/`Pong`* in `Open` and `CloseSent`; `Close { .. }` once, when the peer's
//! Close frame arrives; `Closed` once, on entering `Closed` (the driver may then drop the socket).
//!
//! ## Calling contract (for the I/O drivers)
//!
//! Setup:
//!
//! 1. Draw 16 random bytes from the OS and build a [`ClientHandshake`]; add
//!    [`ClientHandshake::headers`] to a `GET` request (the h1 core sends it; the driver adds `Host`).
//! 2. On `h1::Event::Head`, call [`ClientHandshake::verify`] with the status and headers; a non-101 or a
//!    failed check is a [`HandshakeError`] (the driver drops the connection).
//! 3. On `h1::Event::Upgraded { leftover }`, build [`WsConn::new`] from the [`Negotiated`] value, the
//!    [`WsConfig`] (whose [`WsConfig::mask_seed`] the driver has filled from the OS RNG) and `leftover`.
//!
//! Then loop, exactly like the HTTP/1.1 core:
//!
//! 1. After every command or input: write [`WsConn::poll_transmit`] to the socket and call
//!    [`WsConn::advance_transmit`] with the count written, until `poll_transmit` is `None`.
//! 2. Drain [`WsConn::poll_event`] until it returns `Ok(None)` (or an error).
//! 3. If [`WsConn::wants_read`]: read from the socket into [`WsConn::recv_buf`] (it has ≥ 512 bytes spare),
//!    waiting at most until [`WsConn::poll_timeout`]; on EOF call [`WsConn::handle_eof`]; when the
//!    deadline passes call [`WsConn::handle_timeout`]. Then go to 1.
//!
//! Application commands ([`WsConn::send_text`], [`WsConn::send_binary`], [`WsConn::send_ping`],
//! [`WsConn::send_pong`], [`WsConn::close`]) may come at any point; they are inputs too (go to 1). A
//! driver that writes in the background may wait for writability whenever `poll_transmit` is `Some`.
//!
//! - **Backpressure:** a send is refused with [`WsUsageError::BufferFull`] (nothing queued) when the
//!   queued bytes ([`WsConn::transmit_len`]) are not zero and would exceed [`WsConfig::max_send_buffer`]
//!   with the new message (its size reckoned before compression, with a header per fragment). A message
//!   always fits into an empty queue, so the queue is bounded by `max(max_send_buffer, largest message)`
//!   plus two Pongs and one Close: automatic Pongs wait while `max_send_buffer` bytes are unwritten,
//!   the newest Ping replacing the waiting reply. The driver writes out and retries.
//! - **Order on the wire:** data frames and the close frame keep the order of the calls. Pings, pongs and
//!   automatic pong replies may overtake data frames that are still queued (they are put between frames,
//!   never inside one); the coalesced buffer that `poll_transmit` returns is at most ~64 KiB ahead.
//! - **Automatic replies:** every Ping is answered with a Pong by the core (only the latest one if several
//!   arrive before the reply is queued for writing) and still reported as [`WsEvent::Ping`]. The peer's
//!   Close is echoed (same code, no reason) by the core and reported as [`WsEvent::Close`].
//! - **Closing:** [`WsConn::close`] queues our Close and starts the close timeout
//!   ([`WsConfig::close_timeout`], reported by `poll_timeout`). [`WsEvent::Closed`] comes when both Close
//!   frames are exchanged and ours is written out, or when the peer closes TCP after our Close, or at
//!   the timeout. After `Closed` nothing more is read or written: drop the socket.
//! - **Errors:** a [`WsError`] is the peer's fault (or an EOF without a Close frame). It sticks: every later
//!   `poll_event` returns it, and commands return [`WsUsageError::Failed`]. Unlike the HTTP/1.1 core, a
//!   failed connection still has bytes to write: the Close frame with [`WsError::close_code`] (1002,
//!   1007 or 1009). The driver writes `poll_transmit` out (briefly, best effort) and then drops the
//!   socket. A [`WsUsageError`] refuses one call and changes nothing (every command checks its arguments
//!   and the state before it queues anything), so it does not stick.
//! - **Masking:** every frame we send is masked with a fresh 4-byte key from a splitmix64 generator seeded
//!   with [`WsConfig::mask_seed`]. The core stays deterministic; the driver must seed it from the OS RNG
//!   for each connection (RFC 6455 §5.3 wants keys the page's script cannot predict).
//!
//! ## Decisions
//!
//! - **Non-minimal length encodings** (a 16- or 64-bit length field holding a value that fits a shorter
//!   form) are *accepted* on receive: the length is still exact, so nothing is ambiguous, and the RFC's
//!   "minimal number of bytes MUST be used" binds the sender. We always send minimal encodings. A 64-bit
//!   length with the most significant bit set fails with 1002.
//! - **Close codes** accepted from the peer: 1000–1003, 1007–1014 (1012–1014 are IANA-registered:
//!   service restart, try again later, bad gateway), 3000–4999. Everything else (0–999, 1004–1006,
//!   1015, 1016–2999, ≥ 5000) fails with 1002, as does a 1-byte Close payload; a reason that is not UTF-8
//!   fails with 1007. [`WsConn::close`] accepts the same codes.
//! - **UTF-8** is validated incrementally as bytes arrive, inside a frame too: a text message fails with
//!   1007 as soon as its bytes prove it invalid, and code points split across frames (or reads) are fine.
//! - **permessage-deflate window bits:** we offer `client_max_window_bits` (no value). The decompressor
//!   always has a 32 KiB window, so any `server_max_window_bits` is fine. flate2's Rust backend cannot
//!   limit the compressor's window, so when the server answers `client_max_window_bits=N` with N < 15 the
//!   core compresses each message in independent pieces of at most 2^N bytes, resetting the compressor
//!   before each piece: a back-reference never reaches further back than the piece it is in, so no
//!   distance exceeds 2^N. The pieces join into one valid DEFLATE stream (each ends with a sync flush).
//!   See `deflate.rs`.
//! - **Corrupt compressed data** fails with 1007 (the payload is not what the message claims to be).

mod close;
mod conn;
mod deflate;
mod error;
mod frame;
mod handshake;
mod keepalive;
mod outbox;
mod utf8;

use std::time::Duration;

use bytes::Bytes;

pub use close::{close_code, is_valid_close_code};
pub use conn::WsConn;
pub use error::{HandshakeError, WsError, WsErrorKind, WsUsageError};
pub use frame::apply_mask;
pub use handshake::ClientHandshake;
pub use keepalive::{Keepalive, KeepaliveAction};

/// Settings of a WebSocket client connection (handshake offer, limits, timeouts, masking seed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsConfig {
    /// Subprotocols to offer, in order of preference (`Sec-WebSocket-Protocol`). Each must be a token;
    /// duplicates are refused. Default: none.
    pub subprotocols: Vec<String>,
    /// Offer permessage-deflate (RFC 7692). Default: true when the `deflate` feature is on. Without the
    /// feature nothing is offered, whatever this says.
    pub compression: bool,
    /// Messages shorter than this many bytes are sent uncompressed even when compression was negotiated.
    /// 0 compresses every message, even one that would not shrink. Default 64.
    pub compression_threshold: usize,
    /// Offer `client_no_context_takeover` with permessage-deflate: we promise to compress every message
    /// on its own (less compression for streams of similar small messages, no compressor state kept
    /// between messages), and servers that only use no-context-takeover accept our offer. Default false.
    pub no_context_takeover: bool,
    /// Largest frame payload accepted from the peer (larger ⇒ close 1009); also the largest payload per
    /// frame we send (longer messages are fragmented). Default 16 MiB.
    pub max_frame_size: usize,
    /// Largest message accepted from the peer, after decompression (larger ⇒ close 1009). Default 64 MiB.
    pub max_message_size: usize,
    /// Bound for queued outgoing bytes; see the backpressure rule in the module docs. Default 4 MiB.
    pub max_send_buffer: usize,
    /// How long to wait for the peer's Close after ours. Default 5 s.
    pub close_timeout: Duration,
    /// Seed for the mask-key generator. The driver must set it from the OS RNG; the default is a constant.
    pub mask_seed: u64,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            subprotocols: Vec::new(),
            compression: cfg!(feature = "deflate"),
            compression_threshold: 64,
            no_context_takeover: false,
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_send_buffer: 4 << 20,
            close_timeout: Duration::from_secs(5),
            mask_seed: 0x5eed_5eed_5eed_5eed,
        }
    }
}

/// What the handshake settled: the subprotocol and the permessage-deflate parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// The subprotocol the server chose, if any.
    pub subprotocol: Option<String>,
    /// permessage-deflate parameters, when the server accepted compression. Ignored by [`WsConn::new`]
    /// when the `deflate` feature is off (compressed frames from the peer then fail with 1002).
    pub deflate: Option<DeflateParams>,
}

/// permessage-deflate parameters agreed in the handshake (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor per message: we reset our decompressor after each message.
    pub server_no_context_takeover: bool,
    /// We must reset our compressor per message.
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window, 8..=15 (15 when not given). Our decompressor handles any of them.
    pub server_max_window_bits: u8,
    /// Our LZ77 window limit, 8..=15 (15 when not given).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// The state of a [`WsConn`]; see the graph in the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsState {
    /// Messages flow both ways.
    Open,
    /// We queued our Close; the peer's Close has not arrived (messages are still received).
    CloseSent,
    /// The peer's Close arrived; our Close (echo or own) is not yet written out.
    CloseReceived,
    /// The close handshake is over (or timed out): drop the socket.
    Closed,
    /// The connection failed; `poll_event` returns the error.
    Failed,
}

/// What [`WsConn::poll_event`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    /// A complete text message (reassembled and decompressed; valid UTF-8).
    Text(String),
    /// A complete binary message (reassembled and decompressed).
    Binary(Bytes),
    /// A Ping; the core has already queued the Pong.
    Ping(Bytes),
    /// A Pong (solicited or not).
    Pong(Bytes),
    /// The peer's Close frame. When we had not closed yet, the core queued the echo.
    Close {
        /// The status code, `None` when the frame had no payload.
        code: Option<u16>,
        /// The reason (may be empty).
        reason: String,
    },
    /// The close handshake is complete (or was cut short by EOF or the close timeout): drop the socket.
    Closed,
}
