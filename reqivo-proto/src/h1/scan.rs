//! The response-head scanner: status line and header fields (RFC 9112 §2.2, §4, §5), every byte checked
//! against the grammar, each field's position recorded without copying anything.
//!
//! The accepted language is httparse's for responses with obs-fold allowed (a differential test in
//! `h1/tests.rs` holds the two together over generated and mutated heads): leading empty lines, bare LF
//! line ends, a status line without a reason, obs-text in reasons and values. Values are scanned a word
//! at a time, so a typical head costs well under one instruction per byte of value.

use std::ops::Range;

use bytes::Bytes;
use http::{StatusCode, Version};

use super::fields::{known, HeaderFields, Span, MAX_MAP_FIELDS};
use super::{ProtoError, ProtoErrorKind, ResponseHead};

/// A complete response head: its length and where its parts lie.
pub(super) struct ParsedHead {
    pub(super) len: usize,
    pub(super) version: Version,
    pub(super) status: StatusCode,
    pub(super) reason: Range<usize>,
    pub(super) fields: Vec<Span>,
    /// A field value may hold an obs-fold line break (to be unfolded).
    pub(super) may_hold_folds: bool,
}

impl ParsedHead {
    /// The head, over `bytes` (the head's bytes, which the offsets index).
    pub(super) fn into_head(self, bytes: Bytes) -> ResponseHead {
        let reason = bytes.slice(self.reason);
        ResponseHead {
            version: self.version,
            status: self.status,
            reason,
            headers: HeaderFields::new(bytes, self.fields, self.may_hold_folds),
        }
    }
}

/// `Ok(None)`: the bytes so far are a valid beginning, and more are needed.
type Scanned<T> = Result<Option<T>, ProtoError>;

/// Returns `Ok(None)` from the enclosing function when `$e` is past the end of the buffer.
macro_rules! byte {
    ($buf:expr, $i:expr) => {
        match $buf.get($i) {
            Some(&b) => b,
            None => return Ok(None),
        }
    };
}

/// Parses the head at the start of `buf` (more bytes may follow it).
pub(super) fn parse_response(buf: &[u8], max_headers: usize) -> Scanned<ParsedHead> {
    let mut i = 0;
    // RFC 9112 §2.2: empty lines before the status line are skipped.
    loop {
        match byte!(buf, i) {
            b'\n' => i += 1,
            b'\r' if byte!(buf, i + 1) == b'\n' => i += 2,
            b'\r' => return Err(invalid("invalid new line")),
            _ => break,
        }
    }
    let version = match buf.get(i..i + 8) {
        Some(b"HTTP/1.1") => Version::HTTP_11,
        Some(b"HTTP/1.0") => Version::HTTP_10,
        Some(_) => return Err(invalid("invalid HTTP version")),
        None if b"HTTP/1.".starts_with(&buf[i..]) => return Ok(None),
        None => return Err(invalid("invalid HTTP version")),
    };
    if byte!(buf, i + 8) != b' ' {
        return Err(invalid("invalid HTTP version"));
    }
    i += 9;
    let mut code = 0u16;
    for _ in 0..3 {
        match byte!(buf, i) {
            d @ b'0'..=b'9' => code = code * 10 + u16::from(d - b'0'),
            _ => return Err(invalid("invalid response status")),
        }
        i += 1;
    }
    let reason_start;
    let reason_end;
    match byte!(buf, i) {
        b' ' => {
            reason_start = i + 1;
            i = value_end(buf, reason_start);
            reason_end = i;
            i = match line_end(buf, i, "invalid response status")? {
                Some(next) => next,
                None => return Ok(None),
            };
        }
        b'\r' if byte!(buf, i + 1) == b'\n' => {
            (reason_start, reason_end) = (i, i);
            i += 2;
        }
        b'\n' => {
            (reason_start, reason_end) = (i, i);
            i += 1;
        }
        _ => return Err(invalid("invalid response status")),
    }
    let Some(fields) = parse_fields(buf, i, max_headers, true)? else { return Ok(None) };
    let status = StatusCode::from_u16(code).map_err(|_| invalid("invalid status code"))?;
    Ok(Some(ParsedHead {
        len: fields.end,
        version,
        status,
        reason: reason_start..reason_end,
        fields: fields.spans,
        may_hold_folds: fields.folded,
    }))
}

/// A trailer section (RFC 9112 §7.1.2) at the start of `buf`: its length and fields. No obs-fold here.
pub(super) fn parse_trailers(buf: &[u8], max_headers: usize) -> Scanned<(usize, Vec<Span>)> {
    Ok(parse_fields(buf, 0, max_headers, false)?.map(|fields| (fields.end, fields.spans)))
}

/// A field section and the blank line ending it.
struct Fields {
    spans: Vec<Span>,
    /// Just past the blank line.
    end: usize,
    folded: bool,
}

/// Field lines from `i` up to and including the blank line.
fn parse_fields(buf: &[u8], mut i: usize, max_headers: usize, allow_folds: bool) -> Scanned<Fields> {
    // Most heads have a dozen fields or fewer; one allocation covers them.
    let mut spans = Vec::with_capacity(max_headers.min(12));
    let mut folded = false;
    loop {
        let name_start = i;
        match byte!(buf, i) {
            b'\r' if byte!(buf, i + 1) == b'\n' => return finish(spans, i + 2, folded),
            b'\r' => return Err(invalid("invalid new line")),
            b'\n' => return finish(spans, i + 1, folded),
            b if !is_token(b) => return Err(invalid("invalid header name")),
            _ => {}
        }
        i = token_end(buf, i + 1);
        if byte!(buf, i) != b':' {
            return Err(invalid("invalid header name"));
        }
        let name_end = i;
        i += 1;
        // Whitespace after the colon; with obs-fold, line breaks followed by whitespace too.
        let value_start = loop {
            match byte!(buf, i) {
                b' ' | b'\t' => i += 1,
                b if is_value(b) => break Some(i),
                _ => {
                    i = match line_end(buf, i, "invalid header value")? {
                        Some(next) => next,
                        None => return Ok(None),
                    };
                    if allow_folds && matches!(byte!(buf, i), b' ' | b'\t') {
                        folded = true;
                        continue;
                    }
                    break None;
                }
            }
        };
        let value = match value_start {
            None => (0, 0),
            Some(start) => {
                let mut end;
                loop {
                    i = value_end(buf, i);
                    end = i;
                    // CRLF nearly always: checked inline before the general case.
                    i = match buf.get(i..i + 2) {
                        Some(b"\r\n") => i + 2,
                        _ => match line_end(buf, i, "invalid header value")? {
                            Some(next) => next,
                            None => return Ok(None),
                        },
                    };
                    if allow_folds && matches!(byte!(buf, i), b' ' | b'\t') {
                        folded = true;
                        continue;
                    }
                    break;
                }
                while matches!(buf[end - 1], b' ' | b'\t' | b'\r' | b'\n') {
                    end -= 1;
                }
                (start, end)
            }
        };
        if spans.len() == max_headers {
            return Err(ProtoError::new(ProtoErrorKind::TooManyHeaders, "more than max_headers fields"));
        }
        let name = &buf[name_start..name_end];
        // Offsets fit in u32: `finish` refuses a longer section, and nothing past its end is recorded.
        spans.push(Span {
            name: (name_start as u32, name_end as u32),
            value: (value.0 as u32, value.1 as u32),
            known: known::of(name),
        });
    }
}

fn finish(spans: Vec<Span>, end: usize, folded: bool) -> Scanned<Fields> {
    if spans.len() > MAX_MAP_FIELDS {
        return Err(ProtoError::new(ProtoErrorKind::TooManyHeaders, "more header fields than a header map holds"));
    }
    // A head larger than 4 GiB cannot be addressed (and no sane limit allows one).
    if u32::try_from(end).is_err() {
        return Err(invalid("header section larger than 4 GiB"));
    }
    Ok(Some(Fields { spans, end, folded }))
}

/// Just past the line ending at `i` (CRLF or LF); `Ok(None)` when it has not fully arrived. Any other
/// byte there is not allowed in the line: the error says `what`.
fn line_end(buf: &[u8], i: usize, what: &'static str) -> Scanned<usize> {
    match buf.get(i) {
        Some(b'\n') => Ok(Some(i + 1)),
        Some(b'\r') => match buf.get(i + 1) {
            Some(b'\n') => Ok(Some(i + 2)),
            Some(_) => Err(invalid(what)),
            None => Ok(None),
        },
        Some(_) => Err(invalid(what)),
        None => Ok(None),
    }
}

/// The first byte from `i` on that cannot be in a field value or reason phrase (HTAB, SP, VCHAR,
/// obs-text), or `buf.len()`.
fn value_end(buf: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    while let Some(word) = buf.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let w = u64::from_le_bytes(*word);
        // Flags each byte below 0x20 or equal to 0x7F (bytes from 0x80 up are never flagged). The lowest
        // flag is exact: borrows only carry upwards, past a byte that is flagged itself.
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        let del = w ^ (ONES * 0x7F);
        let is_del = del.wrapping_sub(ONES) & !del & HIGH;
        let stop = below_space | is_del;
        if stop == 0 {
            i += 8;
            continue;
        }
        i += (stop.trailing_zeros() / 8) as usize;
        if buf[i] != b'\t' {
            return i;
        }
        i += 1;
    }
    while i < buf.len() && is_value(buf[i]) {
        i += 1;
    }
    i
}

/// The first byte from `i` on that is not a tchar, or `buf.len()`.
fn token_end(buf: &[u8], mut i: usize) -> usize {
    // Header names are nearly all letters, digits and dashes: those are recognised a word at a time, and
    // the table decides only at the first other byte (the colon, usually). Each byte's high bit is cleared
    // first, so no sum or difference below carries into the next byte (bytes from 0x80 up are no tchar).
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = ONES * 0x80;
    // High bit of each byte set when the byte (below 0x80) is at least `lo`, or at most `hi`.
    let at_least = |x: u64, lo: u8| x + ONES * u64::from(0x80 - lo);
    let at_most = |x: u64, hi: u8| ONES * u64::from(0x80 + hi) - x;
    while let Some(word) = buf.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let w = u64::from_le_bytes(*word);
        let low7 = w & !HIGH;
        let folded = low7 | (ONES * 0x20);
        let letter = at_least(folded, b'a') & at_most(folded, b'z');
        let digit = at_least(low7, b'0') & at_most(low7, b'9');
        let not_dash = (low7 ^ (ONES * u64::from(b'-'))) + ONES * 0x7F;
        let common = (letter | digit | !not_dash) & !w & HIGH;
        if common == HIGH {
            i += 8;
            continue;
        }
        i += ((!common & HIGH).trailing_zeros() / 8) as usize;
        if !is_token(buf[i]) {
            return i;
        }
        i += 1;
    }
    while i < buf.len() && is_token(buf[i]) {
        i += 1;
    }
    i
}

fn is_token(b: u8) -> bool {
    CLASS[b as usize] & TOKEN != 0
}

fn is_value(b: u8) -> bool {
    CLASS[b as usize] & VALUE != 0
}

const TOKEN: u8 = 1;
const VALUE: u8 = 2;

/// Byte classes: RFC 9110 §5.6.2 tchar, and field-vchar / SP / HTAB (§5.5).
static CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let token = c.is_ascii_alphanumeric()
            || matches!(c, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'^'..=b'`' | b'|' | b'~');
        let value = c == b'\t' || (c >= 0x20 && c != 0x7F);
        class[b] = if token { TOKEN } else { 0 } | if value { VALUE } else { 0 };
        b += 1;
    }
    class
};

fn invalid(detail: &'static str) -> ProtoError {
    ProtoError::new(ProtoErrorKind::InvalidHead, detail)
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
