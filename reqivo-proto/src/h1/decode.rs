//! Response decoding: the head (RFC 9112 §4–5, scanned by `scan.rs`), body framing (§6.3) and the chunked
//! transfer coding (§7.1).
//!
//! Every function here is pure over the receive buffer: it consumes bytes only when it returns something
//! decoded, so the same byte stream gives the same result however it was split into reads.

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, StatusCode, Version};

use super::encode::{is_field_byte, trim_ows, RequestInfo};
use super::fields::{known, HeaderFields};
use super::scan::{parse_response, parse_trailers, ParsedHead};
use super::{CloseReason, Limits, ProtoError, ProtoErrorKind, ResponseHead};

/// Finds the blank line that ends a head or trailer section. It resumes where the last call stopped, so a
/// head that arrives in many small reads is scanned once instead of being re-parsed on every read.
#[derive(Debug, Default, Clone, Copy)]
struct LineScan {
    /// Start of the first line not yet known to be non-blank.
    line_start: usize,
    /// How far the search for the LF ending that line got.
    searched: usize,
}

impl LineScan {
    /// The end of the next blank line (just after its LF) in `buf`, if it has arrived.
    fn next_blank_line(&mut self, buf: &[u8]) -> Option<usize> {
        loop {
            let start = self.line_start;
            match buf.get(start..)? {
                [b'\n', ..] => return Some(start + 1),
                [b'\r', b'\n', ..] => return Some(start + 2),
                [] | [b'\r'] => return None,
                _ => {}
            }
            let from = self.searched.max(start);
            match buf.get(from..)?.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.line_start = from + i + 1;
                    self.searched = self.line_start;
                }
                None => {
                    self.searched = buf.len();
                    return None;
                }
            }
        }
    }

    /// Nothing scanned yet.
    fn is_fresh(&self) -> bool {
        self.line_start == 0 && self.searched == 0
    }

    /// Continues after a blank line that did not end the section (empty lines before the status line).
    fn skip_to(&mut self, pos: usize) {
        self.line_start = pos;
        self.searched = pos;
    }
}

/// Reads one response head (interim or final) from the receive buffer.
#[derive(Debug, Default, Clone)]
pub(super) struct HeadReader {
    scan: LineScan,
    /// Empty lines before the status line (httparse skips them; RFC 9112 §2.2 allows it).
    lead: usize,
    /// Bytes of the buffer already checked by [`HeadReader::check_start`].
    checked: usize,
}

impl HeadReader {
    /// A complete head and its size in bytes, `None` when more bytes are needed. `budget` is what is left
    /// of `max_head_size` after earlier 1xx heads of the same exchange.
    pub(super) fn read(
        &mut self,
        recv: &mut BytesMut,
        budget: usize,
        limits: &Limits,
        eof: bool,
    ) -> Result<Option<(ResponseHead, usize)>, ProtoError> {
        let window = recv.len().min(budget);
        // A head usually arrives whole in one read: parse it at once, without scanning for its blank line
        // first (nor checking its start: the parse checks it too). The line scan is for heads that arrive
        // in pieces: it resumes where it stopped, so a head trickling in is not parsed again on every read.
        // An error here is left to the checks below, so a malformed head is reported the same way however
        // its bytes were split.
        if self.scan.is_fresh() && self.checked == 0 && window > 0 {
            if let Ok(Some(parsed)) = parse_response(&recv[..window], limits.max_headers) {
                return Ok(Some(self.take_head(recv, parsed)));
            }
        }
        self.check_start(recv)?;
        while let Some(end) = self.scan.next_blank_line(&recv[..window]) {
            if let Some(parsed) = parse_response(&recv[..end], limits.max_headers)? {
                return Ok(Some(self.take_head(recv, parsed)));
            }
            self.scan.skip_to(end);
        }
        // No complete head within the budget: a longer head can only be larger, so refuse it now.
        if recv.len() >= budget {
            return Err(err(ProtoErrorKind::HeadTooLarge, "response head exceeds max_head_size"));
        }
        if eof {
            return Err(err(ProtoErrorKind::ClosedBeforeHead, ""));
        }
        Ok(None)
    }

    /// Splits the parsed head off the buffer and builds it; the reader is ready for the next head.
    fn take_head(&mut self, recv: &mut BytesMut, parsed: ParsedHead) -> (ResponseHead, usize) {
        let len = parsed.len;
        let bytes = recv.split_to(len).freeze();
        *self = HeadReader::default();
        (parsed.into_head(bytes), len)
    }

    /// Checks `HTTP/d.d SP` as soon as those bytes arrive, so a peer that does not speak HTTP/1.x is refused
    /// at once rather than when its "head" ends or outgrows the limit.
    fn check_start(&mut self, buf: &[u8]) -> Result<(), ProtoError> {
        const PATTERN: &[u8; 9] = b"HTTP/1.1 ";
        while let Some(&b) = buf.get(self.checked) {
            if self.lead == self.checked && (b == b'\r' || b == b'\n') {
                self.lead += 1;
                self.checked += 1;
                continue;
            }
            let i = self.checked - self.lead;
            if i >= PATTERN.len() {
                break;
            }
            let ok = if i == 5 || i == 7 { b.is_ascii_digit() } else { b == PATTERN[i] };
            if !ok {
                return Err(err(ProtoErrorKind::InvalidHead, "not an HTTP/1.x status line"));
            }
            if i == 7 && !matches!(&buf[self.lead + 5..=self.checked], b"1.0" | b"1.1") {
                return Err(err(ProtoErrorKind::UnsupportedVersion, "only HTTP/1.0 and HTTP/1.1 are spoken"));
            }
            self.checked += 1;
        }
        Ok(())
    }
}

/// How a final response continues after its head (RFC 9112 §6.3).
#[derive(Debug)]
pub(super) enum Framing {
    /// The connection now carries another protocol (101, or 2xx to CONNECT).
    Tunnel,
    /// A body, possibly empty, and the close reason its framing implies.
    Body(BodyDecoder, Option<CloseReason>),
}

/// Chooses the framing of a final response (or 101) to the request described by `req`.
pub(super) fn response_framing(head: &ResponseHead, req: &RequestInfo, limits: &Limits) -> Result<Framing, ProtoError> {
    let status = head.status;
    if status == StatusCode::SWITCHING_PROTOCOLS || (req.is_connect && status.is_success()) {
        return Ok(Framing::Tunnel);
    }
    if req.is_head || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok(Framing::Body(BodyDecoder::new(Kind::Length(0)), None));
    }
    if let Some(chunked) = final_coding_is_chunked(&head.headers)? {
        // Transfer-Encoding wins over Content-Length, and the pair may be a smuggling attempt: close after.
        let reason = if head.headers.known_values(known::CONTENT_LENGTH).next().is_some() {
            Some(CloseReason::TransferEncodingWithLength)
        } else if !chunked {
            Some(CloseReason::ReadToEof)
        } else if head.version == Version::HTTP_10 {
            // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing; decode it, then close.
            Some(CloseReason::Http10)
        } else {
            None
        };
        let kind = if chunked { Kind::ChunkSize { searched: 0 } } else { Kind::Eof };
        return Ok(Framing::Body(BodyDecoder::new(kind), reason));
    }
    match content_length(&head.headers)? {
        Some(len) if limits.max_body_size.is_some_and(|max| len > max) => {
            Err(err(ProtoErrorKind::BodyTooLarge, format!("Content-Length {len} exceeds max_body_size")))
        }
        Some(len) => Ok(Framing::Body(BodyDecoder::new(Kind::Length(len)), None)),
        None => Ok(Framing::Body(BodyDecoder::new(Kind::Eof), Some(CloseReason::ReadToEof))),
    }
}

/// `None` without Transfer-Encoding; otherwise whether the final coding is `chunked`.
fn final_coding_is_chunked(headers: &HeaderFields) -> Result<Option<bool>, ProtoError> {
    let mut values = headers.known_values(known::TRANSFER_ENCODING).peekable();
    if values.peek().is_none() {
        return Ok(None);
    }
    // Empty list elements are allowed and ignored (RFC 9110 §5.6.1).
    let last = values.flat_map(|v| v.split(|&b| b == b',')).map(trim_ows).filter(|c| !c.is_empty()).last();
    match last {
        Some(coding) => Ok(Some(coding.eq_ignore_ascii_case(b"chunked"))),
        None => Err(err(ProtoErrorKind::InvalidTransferEncoding, "Transfer-Encoding without a coding")),
    }
}

/// The Content-Length, if any. Repeats are accepted only when every value is the same (RFC 9110 §8.6).
fn content_length(headers: &HeaderFields) -> Result<Option<u64>, ProtoError> {
    let mut found = None;
    for value in headers.known_values(known::CONTENT_LENGTH) {
        for item in value.split(|&b| b == b',') {
            let len = parse_decimal(trim_ows(item))
                .ok_or_else(|| err(ProtoErrorKind::InvalidContentLength, "not a decimal u64"))?;
            if found.is_some_and(|prev| prev != len) {
                return Err(err(ProtoErrorKind::InvalidContentLength, "differing values"));
            }
            found = Some(len);
        }
    }
    Ok(found)
}

/// `1*DIGIT` as a u64: no sign, no whitespace, no overflow.
fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        let digit = char::from(b).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// What the body decoder produced.
#[derive(Debug)]
pub(super) enum BodyEvent {
    Data(Bytes),
    Trailers(HeaderMap),
    End,
}

/// Decodes one response body.
#[derive(Debug)]
pub(super) struct BodyDecoder {
    kind: Kind,
    /// Body bytes received or, for chunked bodies, announced so far (checked against `max_body_size`).
    received: u64,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Content-Length: this many bytes remain.
    Length(u64),
    /// No framing: everything until EOF.
    Eof,
    /// Expecting a chunk-size line; `searched` bytes of it hold no LF.
    ChunkSize { searched: usize },
    /// Inside a chunk: this many data bytes remain.
    ChunkData(u64),
    /// After a chunk's data: expecting its CRLF.
    ChunkEnd,
    /// After the last chunk: expecting the trailer section.
    Trailers(LineScan),
    /// Trailers were reported; only End remains.
    Finished,
}

impl BodyDecoder {
    fn new(kind: Kind) -> Self {
        BodyDecoder { kind, received: 0 }
    }

    /// The rest of a `Content-Length` body when all of it is in `recv`: split off, and the body is done
    /// (what `decode` would hand out as `Data` then `End`). `None` for other framings, or while bytes are
    /// missing; nothing changes then.
    pub(super) fn take_whole(&mut self, recv: &mut BytesMut) -> Option<Bytes> {
        let Kind::Length(remaining) = self.kind else { return None };
        if (recv.len() as u64) < remaining {
            return None;
        }
        self.kind = Kind::Length(0);
        // `remaining` fits: it is at most the buffer's length.
        Some(if remaining == 0 { Bytes::new() } else { recv.split_to(remaining as usize).freeze() })
    }

    /// The next body event, `None` when more bytes are needed. `trailer_budget` is what is left of
    /// `max_head_size` after the heads of this exchange: trailers count against the same limit.
    pub(super) fn decode(
        &mut self,
        recv: &mut BytesMut,
        limits: &Limits,
        trailer_budget: usize,
        eof: bool,
    ) -> Result<Option<BodyEvent>, ProtoError> {
        loop {
            match self.kind {
                Kind::Length(0) | Kind::Finished => return Ok(Some(BodyEvent::End)),
                Kind::Length(remaining) => {
                    let Some(data) = take(recv, remaining) else { return need_more(eof) };
                    self.kind = Kind::Length(remaining - data.len() as u64);
                    return Ok(Some(BodyEvent::Data(data)));
                }
                Kind::Eof if recv.is_empty() => return if eof { Ok(Some(BodyEvent::End)) } else { Ok(None) },
                Kind::Eof => {
                    self.announce(recv.len() as u64, limits)?;
                    return Ok(Some(BodyEvent::Data(recv.split().freeze())));
                }
                Kind::ChunkSize { searched } => {
                    let window = recv.len().min(limits.max_chunk_line);
                    let Some(lf) = recv.get(searched..window).and_then(|s| s.iter().position(|&b| b == b'\n')) else {
                        if recv.len() >= limits.max_chunk_line {
                            return Err(err(
                                ProtoErrorKind::ChunkLineTooLong,
                                "chunk-size line exceeds max_chunk_line",
                            ));
                        }
                        self.kind = Kind::ChunkSize { searched: window };
                        return need_more(eof);
                    };
                    let end = searched + lf + 1;
                    let size = parse_chunk_size(&recv[..end])?;
                    recv.advance(end);
                    self.announce(size, limits)?;
                    self.kind = if size == 0 { Kind::Trailers(LineScan::default()) } else { Kind::ChunkData(size) };
                }
                Kind::ChunkData(remaining) => {
                    let Some(data) = take(recv, remaining) else { return need_more(eof) };
                    let left = remaining - data.len() as u64;
                    self.kind = if left == 0 { Kind::ChunkEnd } else { Kind::ChunkData(left) };
                    return Ok(Some(BodyEvent::Data(data)));
                }
                Kind::ChunkEnd => {
                    let line_end = match recv[..] {
                        [b'\n', ..] => 1,
                        [b'\r', b'\n', ..] => 2,
                        [] | [b'\r'] => return need_more(eof),
                        _ => return Err(err(ProtoErrorKind::InvalidChunk, "chunk data not followed by CRLF")),
                    };
                    recv.advance(line_end);
                    self.kind = Kind::ChunkSize { searched: 0 };
                }
                Kind::Trailers(scan) if scan.is_fresh() && empty_section(recv).is_some_and(|n| n <= trailer_budget) => {
                    // No trailer fields (nearly every chunked body): nothing to parse or build.
                    recv.advance(empty_section(recv).unwrap_or(0));
                    self.kind = Kind::Finished;
                    return Ok(Some(BodyEvent::End));
                }
                Kind::Trailers(mut scan) => {
                    let window = recv.len().min(trailer_budget);
                    while let Some(end) = scan.next_blank_line(&recv[..window]) {
                        if let Some((len, fields)) = parse_trailers(&recv[..end], limits.max_headers)? {
                            // Trailers are rare and the caller wants a map: build it at once.
                            let trailers =
                                HeaderFields::new(recv.split_to(len).freeze(), fields, false).to_header_map();
                            self.kind = Kind::Finished;
                            if trailers.is_empty() {
                                return Ok(Some(BodyEvent::End));
                            }
                            return Ok(Some(BodyEvent::Trailers(trailers)));
                        }
                        scan.skip_to(end);
                    }
                    self.kind = Kind::Trailers(scan);
                    if recv.len() >= trailer_budget {
                        return Err(err(ProtoErrorKind::HeadTooLarge, "trailer section exceeds max_head_size"));
                    }
                    return need_more(eof);
                }
            }
        }
    }

    /// Counts `n` more body bytes against `max_body_size` before they are handed out.
    fn announce(&mut self, n: u64, limits: &Limits) -> Result<(), ProtoError> {
        let total = self.received.checked_add(n);
        match (total, limits.max_body_size) {
            (Some(total), Some(max)) if total <= max => self.received = total,
            (Some(total), None) => self.received = total,
            _ => return Err(err(ProtoErrorKind::BodyTooLarge, "body exceeds max_body_size")),
        }
        Ok(())
    }
}

/// The length of the blank line at the start of `buf`, if it starts with one (an empty field section).
fn empty_section(buf: &[u8]) -> Option<usize> {
    match buf {
        [b'\n', ..] => Some(1),
        [b'\r', b'\n', ..] => Some(2),
        _ => None,
    }
}

/// Splits up to `max` buffered bytes off without copying; `None` when the buffer is empty.
fn take(recv: &mut BytesMut, max: u64) -> Option<Bytes> {
    if recv.is_empty() {
        return None;
    }
    let n = usize::try_from(max).unwrap_or(usize::MAX).min(recv.len());
    Some(recv.split_to(n).freeze())
}

/// Waiting for bytes is fine unless the peer has closed: then the body was cut short.
fn need_more<T>(eof: bool) -> Result<Option<T>, ProtoError> {
    if eof {
        Err(err(ProtoErrorKind::TruncatedBody, "connection closed before the end of the body"))
    } else {
        Ok(None)
    }
}

/// `chunk-size [ BWS chunk-ext ] CRLF` (RFC 9112 §7.1): hex only, no sign, no leading whitespace; the
/// extensions are checked for forbidden bytes and ignored.
fn parse_chunk_size(line: &[u8]) -> Result<u64, ProtoError> {
    let invalid = |why: &str| err(ProtoErrorKind::InvalidChunk, why);
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(invalid("chunk size is not hexadecimal"));
    }
    let size = line[..digits].iter().try_fold(0u64, |acc, &b| {
        let digit = char::from(b).to_digit(16)?;
        acc.checked_mul(16)?.checked_add(u64::from(digit))
    });
    let size = size.ok_or_else(|| invalid("chunk size overflows u64"))?;
    match trim_ows(&line[digits..]) {
        [] => Ok(size),
        [b';', ext @ ..] if ext.iter().all(|&b| is_field_byte(b)) => Ok(size),
        _ => Err(invalid("malformed chunk-size line")),
    }
}

fn err(kind: ProtoErrorKind, detail: impl Into<String>) -> ProtoError {
    ProtoError::new(kind, detail)
}
