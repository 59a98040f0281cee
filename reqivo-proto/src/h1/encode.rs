//! Request encoding: the head (RFC 9112 §3, §5) and chunk framing (RFC 9112 §7.1).
//!
//! Everything is validated before the first byte is queued, so a rejected request leaves the transmit
//! buffer untouched and no caller-supplied byte can end a line early (header injection).

use bytes::{BufMut, BytesMut};
use http::{header, HeaderMap, Method};

use super::{BodyLength, RequestHead, UsageError};

/// What the connection needs to remember about the request it sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct RequestInfo {
    /// The request carried `Connection: close`.
    pub close: bool,
    /// The request carried `Expect: 100-continue` and has a body to hold back.
    pub expect_continue: bool,
    /// HEAD: the response never has a body (RFC 9112 §6.3 rule 1).
    pub is_head: bool,
    /// CONNECT: a 2xx response turns the connection into a tunnel (RFC 9112 §6.3 rule 2).
    pub is_connect: bool,
}

/// Validates `head` and appends the encoded request head to `dst`.
pub(super) fn encode_head(
    dst: &mut BytesMut,
    head: &RequestHead<'_>,
    body: BodyLength,
) -> Result<RequestInfo, UsageError> {
    let info = validate(head, body)?;

    // Size the buffer once; the estimate only needs to be close.
    let fields: usize = match head.headers.is_empty() {
        true => 0,
        false => head.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum(),
    };
    let defaults = head.defaults.map_or(0, |b| b.encoded.len());
    dst.reserve(head.method.as_str().len() + head.target.len() + head.host.len() + defaults + fields + 64);

    dst.put_slice(head.method.as_str().as_bytes());
    dst.put_u8(b' ');
    dst.put_slice(head.target.as_bytes());
    dst.put_slice(b" HTTP/1.1\r\nHost: ");
    dst.put_slice(head.host.as_bytes());
    dst.put_slice(b"\r\n");
    if let Some(block) = head.defaults {
        dst.put_slice(&block.encoded);
    }
    encode_fields(dst, head.headers);
    match body {
        BodyLength::None => {}
        BodyLength::Known(n) => {
            dst.put_slice(b"Content-Length: ");
            dst.put_slice(crate::decimal::decimal(n, &mut [0; 20]));
            dst.put_slice(b"\r\n");
        }
        BodyLength::Chunked => dst.put_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    dst.put_slice(b"\r\n");
    Ok(info)
}

/// Appends `name: value\r\n` for every field, in order.
fn encode_fields(dst: &mut impl BufMut, headers: &HeaderMap) {
    if headers.is_empty() {
        return;
    }
    for (name, value) in headers {
        dst.put_slice(name.as_str().as_bytes());
        dst.put_slice(b": ");
        dst.put_slice(value.as_bytes());
        dst.put_slice(b"\r\n");
    }
}

/// Header fields checked and encoded once, then copied into many request heads (a session's default
/// headers): each request then checks and encodes only its own fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderBlock {
    /// `name: value\r\n` lines.
    encoded: Vec<u8>,
    /// What the fields imply for the request, as found by the same checks `send_request` makes.
    fields: FieldInfo,
}

impl HeaderBlock {
    /// Checks `headers` the way [`ClientConn::send_request`](super::ClientConn::send_request) checks a
    /// request's fields (no CR/LF/NUL, no `Host`, no framing header) and encodes them.
    pub fn new(headers: &HeaderMap) -> Result<HeaderBlock, UsageError> {
        let fields = check_fields(headers)?;
        let mut encoded = Vec::new();
        encode_fields(&mut encoded, headers);
        Ok(HeaderBlock { encoded, fields })
    }

    /// The encoded fields.
    pub fn as_bytes(&self) -> &[u8] {
        &self.encoded
    }
}

/// Appends one chunk (`{hex len}\r\n{data}\r\n`). Empty data would read as the last chunk, so it is skipped.
pub(super) fn encode_chunk(dst: &mut BytesMut, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    dst.reserve(data.len() + 20);
    encode_chunk_size(dst, data.len());
    dst.put_slice(data);
    dst.put_slice(CHUNK_END);
}

/// Appends a chunk-size line (hex digits written by hand: `write!` costs more than the rest of a chunk).
pub(super) fn encode_chunk_size(dst: &mut BytesMut, len: usize) {
    let mut buf = [0u8; 18];
    let mut at = 16;
    let mut n = len;
    loop {
        at -= 1;
        buf[at] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    buf[16..].copy_from_slice(b"\r\n");
    dst.put_slice(&buf[at..]);
}

/// What follows a chunk's data.
pub(super) const CHUNK_END: &[u8] = b"\r\n";
/// What follows the data of a body's final chunk: its CRLF, the last chunk and an empty trailer section.
pub(super) const FINAL_CHUNK_END: &[u8] = b"\r\n0\r\n\r\n";

/// Appends the last chunk and an empty trailer section.
pub(super) fn encode_last_chunk(dst: &mut BytesMut) {
    dst.put_slice(&FINAL_CHUNK_END[CHUNK_END.len()..]);
}

pub(super) fn validate(head: &RequestHead<'_>, body: BodyLength) -> Result<RequestInfo, UsageError> {
    let method = head.method;
    if method.as_str().is_empty() || !method.as_str().bytes().all(is_tchar) {
        return Err(UsageError::InvalidMethod);
    }
    if !valid_target(method, head.target) {
        return Err(UsageError::InvalidTarget);
    }
    if !valid_authority(head.host) {
        return Err(UsageError::InvalidHost);
    }
    let own = check_fields(head.headers)?;
    let defaults = head.defaults.map_or(FieldInfo::default(), |b| b.fields);
    let expect_continue = own.expect_continue || defaults.expect_continue;
    let has_body = matches!(body, BodyLength::Chunked) || matches!(body, BodyLength::Known(n) if n > 0);
    Ok(RequestInfo {
        close: own.close || defaults.close,
        expect_continue: has_body && expect_continue,
        is_head: method == Method::HEAD,
        is_connect: method == Method::CONNECT,
    })
}

/// What a request's fields say about the exchange.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct FieldInfo {
    /// `Connection: close`.
    close: bool,
    /// `Expect: 100-continue`.
    expect_continue: bool,
}

/// One pass over the fields: checks, and what the connection must remember (no lookups by name).
#[inline]
fn check_fields(headers: &HeaderMap) -> Result<FieldInfo, UsageError> {
    if headers.is_empty() {
        // The common request sends only the session's defaults; iterating an empty map is not free, and
        // neither is a call: only the loop is out of line.
        return Ok(FieldInfo::default());
    }
    check_each_field(headers)
}

#[inline(never)]
fn check_each_field(headers: &HeaderMap) -> Result<FieldInfo, UsageError> {
    let (mut close, mut expect_continue) = (false, false);
    for (name, value) in headers {
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            return Err(UsageError::FramingHeader(name.as_str().to_owned()));
        }
        if name == header::HOST {
            return Err(UsageError::HostHeader);
        }
        check_field(name.as_str(), value.as_bytes())?;
        if name == header::CONNECTION {
            close |= value_has_token(value.as_bytes(), "close");
        } else if name == header::EXPECT {
            expect_continue |= value.as_bytes().eq_ignore_ascii_case(b"100-continue");
        }
    }
    Ok(FieldInfo { close, expect_continue })
}

/// RFC 9112 §3.2: origin-form, or absolute-form (for proxies), or authority-form for CONNECT, or `*` for
/// OPTIONS. Only visible ASCII: the URL layer percent-encodes everything else.
fn valid_target(method: &Method, target: &str) -> bool {
    if *method == Method::CONNECT {
        return valid_authority(target);
    }
    if target == "*" {
        return *method == Method::OPTIONS;
    }
    let visible = target.bytes().all(|b| b.is_ascii_graphic());
    visible && (target.starts_with('/') || has_scheme(target))
}

/// `scheme "://"`, the start of an absolute-form target.
fn has_scheme(target: &str) -> bool {
    let Some((scheme, _)) = target.split_once("://") else { return false };
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `HeaderName` and `HeaderValue` normally guarantee this, but `HeaderValue::from_maybe_shared_unchecked`
/// does not check for CR, LF or NUL in release builds: re-check, or a value could end its line early.
pub(super) fn check_field(name: &str, value: &[u8]) -> Result<(), UsageError> {
    let name_ok = !name.is_empty() && name.bytes().all(is_tchar);
    if name_ok && value.iter().all(|&b| is_field_byte(b)) {
        Ok(())
    } else {
        Err(UsageError::InvalidHeader(name.to_owned()))
    }
}

/// RFC 3986 §3.2.2 host (reg-name, IPv4, IP-literal) with an optional port: unreserved, pct-encoded,
/// sub-delims, `:`, `[` and `]`.
fn valid_authority(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| AUTHORITY[usize::from(b)])
}

/// RFC 9110 §5.6.2 token character.
fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// Byte classes as tables: one load per byte instead of a search through the list of allowed symbols.
const TCHAR: [bool; 256] = byte_class(b"!#$%&'*+-.^_`|~");
const AUTHORITY: [bool; 256] = byte_class(b"-._~%!$&'()*+,;=:[]");

/// ASCII letters and digits plus `symbols`.
const fn byte_class(symbols: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < symbols.len() {
        table[symbols[i] as usize] = true;
        i += 1;
    }
    table
}

/// RFC 9110 §5.5 field-value byte: HTAB, SP, VCHAR, obs-text. No CR, LF, NUL or other control.
pub(super) fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

/// True when `value` holds `token` as a comma-separated list element (case-insensitive).
pub(super) fn value_has_token(value: &[u8], token: &str) -> bool {
    let token = token.as_bytes();
    // An element shorter than the token cannot be it: only the lengths are compared then.
    value.split(|&b| b == b',').any(|item| item.len() >= token.len() && trim_ows(item).eq_ignore_ascii_case(token))
}

/// Strips optional whitespace (SP / HTAB) from both ends.
pub(super) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}
