use std::fmt;

/// The caller used the connection wrongly; nothing was written. Sticky like every error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// The method contains bytes that are not a token.
    InvalidMethod,
    /// The target is empty, not origin-form, or contains CR, LF, NUL, space or another control byte.
    InvalidTarget,
    /// The Host value contains CR, LF, NUL or another forbidden byte.
    InvalidHost,
    /// A header value contains CR, LF or NUL (header injection), named by header.
    InvalidHeader(String),
    /// `Content-Length` or `Transfer-Encoding` was given as a header; framing is the core's job.
    FramingHeader(String),
    /// More or fewer body bytes than the declared `Content-Length`.
    BodyLengthMismatch {
        /// Declared length.
        declared: u64,
        /// Bytes offered so far (or at `finish_body`).
        sent: u64,
    },
    /// A command was called in a state that does not accept it.
    WrongState(&'static str),
    /// `Host` was given as a header; it comes from [`RequestHead::host`](super::RequestHead::host), and a
    /// second `Host` line makes the request invalid (RFC 9112 §3.2).
    HostHeader,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::InvalidMethod => f.write_str("invalid request method"),
            UsageError::InvalidTarget => f.write_str("invalid request target"),
            UsageError::InvalidHost => f.write_str("invalid Host value"),
            UsageError::InvalidHeader(name) => write!(f, "invalid value for header {name}"),
            UsageError::FramingHeader(name) => {
                write!(f, "header {name} is set by the client from the body; do not set it by hand")
            }
            UsageError::BodyLengthMismatch { declared, sent } => {
                write!(f, "request body length mismatch: declared {declared}, sent {sent}")
            }
            UsageError::WrongState(what) => write!(f, "call out of order: {what}"),
            UsageError::HostHeader => f.write_str("header Host is set from the request's host; do not set it by hand"),
        }
    }
}

impl std::error::Error for UsageError {}

/// What the peer did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtoErrorKind {
    /// The status line or a header line is malformed.
    InvalidHead,
    /// An HTTP version other than 1.0 or 1.1.
    UnsupportedVersion,
    /// The response head is larger than `Limits::max_head_size`.
    HeadTooLarge,
    /// More header fields than `Limits::max_headers`.
    TooManyHeaders,
    /// Content-Length is signed, non-numeric, overflowing, or repeated with differing values.
    InvalidContentLength,
    /// Transfer-Encoding other than a final `chunked` (RFC 9112 §6.3 rule 4 for requests is not ours;
    /// a response with an unknown coding is read to EOF, so this is used for malformed lists only).
    InvalidTransferEncoding,
    /// A chunk-size line is malformed or a chunk is not followed by CRLF.
    InvalidChunk,
    /// A chunk-size line is longer than `Limits::max_chunk_line`.
    ChunkLineTooLong,
    /// The decoded body exceeds `Limits::max_body_size`.
    BodyTooLarge,
    /// The connection closed before the response head was complete.
    ClosedBeforeHead,
    /// The connection closed before the body was complete (Content-Length or last chunk missing).
    TruncatedBody,
    /// A response arrived with no request in flight, or bytes arrived after a complete response.
    Unsolicited,
}

/// The peer sent something the core refuses. Sticky: every later `poll_event` returns it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoError {
    kind: ProtoErrorKind,
    detail: String,
}

impl ProtoError {
    /// Creates an error of `kind` with a human-readable detail.
    #[cold]
    #[inline(never)]
    pub fn new(kind: ProtoErrorKind, detail: impl Into<String>) -> Self {
        ProtoError { kind, detail: detail.into() }
    }
    /// What went wrong.
    pub fn kind(&self) -> ProtoErrorKind {
        self.kind
    }
    /// True when a configured limit was exceeded (as opposed to malformed input).
    pub fn is_limit(&self) -> bool {
        matches!(
            self.kind,
            ProtoErrorKind::HeadTooLarge
                | ProtoErrorKind::TooManyHeaders
                | ProtoErrorKind::ChunkLineTooLong
                | ProtoErrorKind::BodyTooLarge
        )
    }
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            write!(f, "{:?}", self.kind)
        } else {
            write!(f, "{:?}: {}", self.kind, self.detail)
        }
    }
}

impl std::error::Error for ProtoError {}
