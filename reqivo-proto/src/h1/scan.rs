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
    /// The [`known`] bits of all fields together, gathered while scanning (no second pass over the fields).
    pub(super) present: u8,
    /// A field value may hold an obs-fold line break (to be unfolded).
    pub(super) may_hold_folds: bool,
}

impl ParsedHead {
    /// The head, over `bytes` (the head's bytes, which the offsets index).
    pub(super) fn into_head(self, bytes: Bytes) -> ResponseHead {
        // The usual reason needs no slice of the head (a reference count taken here and dropped with it).
        let reason = match bytes.get(self.reason.clone()) {
            Some(b"OK") => Bytes::from_static(b"OK"),
            _ => bytes.slice(self.reason),
        };
        ResponseHead {
            version: self.version,
            status: self.status,
            reason,
            headers: HeaderFields::with_present(bytes, self.fields, self.present, self.may_hold_folds),
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
    // The status line nearly every response has, compared whole: it splits as the general code below
    // would split it.
    if is_200_ok(buf) {
        let Some(fields) = parse_fields(buf, 17, max_headers, true)? else { return Ok(None) };
        return Ok(Some(ParsedHead {
            len: fields.end,
            version: Version::HTTP_11,
            status: StatusCode::OK,
            reason: 13..15,
            fields: fields.spans,
            present: fields.present,
            may_hold_folds: fields.folded,
        }));
    }
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
        present: fields.present,
        may_hold_folds: fields.folded,
    }))
}

/// Whether `buf` starts with `HTTP/1.1 200 OK\r\n`: two word compares and a byte (compared as a byte
/// array, it compiles to seventeen byte compares, three lines of code).
#[inline(always)]
fn is_200_ok(buf: &[u8]) -> bool {
    let Some(line) = buf.first_chunk::<17>() else { return false };
    let at = |i: usize| u64::from_le_bytes(line[i..i + 8].try_into().unwrap_or_default());
    at(0) == const { word(b"HTTP/1.1") } && at(8) == const { word(b" 200 OK\r") } && line[16] == b'\n'
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
    /// The [`known`] bits of all fields together.
    present: u8,
    folded: bool,
}

/// Field lines from `i` up to and including the blank line.
fn parse_fields(buf: &[u8], mut i: usize, max_headers: usize, allow_folds: bool) -> Scanned<Fields> {
    // Most heads have a dozen fields or fewer; one allocation covers them.
    let mut spans = Vec::with_capacity(max_headers.min(12));
    let mut folded = false;
    let mut present = 0;
    loop {
        if let Some(line) = plain_field(buf, i) {
            if spans.len() == max_headers {
                return Err(too_many_fields());
            }
            // Offsets fit in u32: `finish` refuses a longer section, and nothing past its end is recorded.
            spans.push(Span {
                name: (i as u32, line.name_end as u32),
                value: (line.value.0 as u32, line.value.1 as u32),
                known: line.known,
            });
            present |= line.known;
            i = line.next;
            continue;
        }
        let name_start = i;
        match byte!(buf, i) {
            b'\r' if byte!(buf, i + 1) == b'\n' => return finish(Fields { spans, end: i + 2, present, folded }),
            b'\r' => return Err(invalid("invalid new line")),
            b'\n' => return finish(Fields { spans, end: i + 1, present, folded }),
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
            return Err(too_many_fields());
        }
        let name = &buf[name_start..name_end];
        let known = known::of(name);
        present |= known;
        // Offsets fit in u32: `finish` refuses a longer section, and nothing past its end is recorded.
        spans.push(Span { name: (name_start as u32, name_end as u32), value: (value.0 as u32, value.1 as u32), known });
    }
}

#[cold]
fn too_many_fields() -> ProtoError {
    ProtoError::new(ProtoErrorKind::TooManyHeaders, "more than max_headers fields")
}

/// A field line in the shape nearly every server sends, found by [`plain_field`].
struct PlainField {
    name_end: usize,
    /// The name's [`known`] bit.
    known: u8,
    value: (usize, usize),
    /// Just past the line's CRLF.
    next: usize,
}

/// The field line at `i` when it has the usual shape: a name, `:`, at most one SP, a non-empty value
/// starting with a visible byte, CRLF, and a next line that is not an obs-fold. `None` for anything else
/// (the line is then parsed by the general code in [`parse_fields`], which decides errors and partial
/// input): what this accepts, it splits exactly as the general code would, in one pass and with few
/// branches.
#[inline(always)]
fn plain_field(buf: &[u8], i: usize) -> Option<PlainField> {
    let (name_end, known) = match common_name(buf, i) {
        Some(found) => found,
        // Not a name at all (the blank line ending the section, usually): the general code.
        None if !is_token(*buf.get(i)?) => return None,
        None => {
            let end = token_end(buf, i + 1);
            (end, known::of(&buf[i..end]))
        }
    };
    let mut v = name_end + 1;
    match buf.get(name_end..)? {
        [b':', b' ', ..] => v += 1,
        [b':', ..] => {}
        _ => return None,
    }
    let first = *buf.get(v)?;
    // A value that starts with whitespace or a control byte: the general code.
    if first <= b' ' || first == 0x7F {
        return None;
    }
    let e = value_end(buf, v + 1);
    match buf.get(e..e + 3)? {
        [b'\r', b'\n', b' ' | b'\t'] => return None,
        [b'\r', b'\n', _] => {}
        _ => return None,
    }
    // Trailing whitespace is not part of the value; `buf[v]` is not whitespace, so this stops there.
    let mut end = e;
    while matches!(buf[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    Some(PlainField { name_end, known, value: (v, end), next: e + 2 })
}

/// Up to 8 bytes as a little-endian word (the rest zero).
const fn word(text: &[u8]) -> u64 {
    let mut word = 0u64;
    let mut k = text.len();
    while k > 0 {
        k -= 1;
        word = word << 8 | text[k] as u64;
    }
    word
}

/// The low `n` bytes of a word (`n` ≤ 8).
const fn low(n: u32) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1 << (8 * n)) - 1
    }
}

/// True when the word holds `text` (at most 8 bytes) in its low bytes.
macro_rules! holds {
    ($word:expr, $text:literal) => {
        $word & const { low($text.len() as u32) } == const { word($text) }
    };
}

/// The first four bytes of a name, as [`common_name`] dispatches on them.
const fn first4(name: &[u8]) -> u32 {
    word(name) as u32
}

const DATE: u32 = first4(b"Date");
const ETAG: u32 = first4(b"ETag");
const VARY: u32 = first4(b"Vary");
const SERVER: u32 = first4(b"Serv");
const EXPIRES: u32 = first4(b"Expi");
const LOCATION: u32 = first4(b"Loca");
const CONN: u32 = first4(b"Conn");
const SET_COOKIE: u32 = first4(b"Set-");
const KEEP_ALIVE: u32 = first4(b"Keep");
const CONTENT: u32 = first4(b"Cont");
const LAST_MODIFIED: u32 = first4(b"Last");
const ACCEPT_RANGES: u32 = first4(b"Acce");
const CACHE_CONTROL: u32 = first4(b"Cach");

/// The end (the colon) and [`known`] bit of the field name at `i` when it is one of the names servers
/// send most, in the spelling they send. Such a name needs no byte-by-byte tchar check (it is one), and
/// no second look for its bit: a few word compares of the name and its colon do both.
#[inline(always)]
fn common_name(buf: &[u8], i: usize) -> Option<(usize, u8)> {
    let bytes = buf.get(i..)?.first_chunk::<16>()?;
    let lo = u64::from_le_bytes(*bytes.first_chunk::<8>()?);
    let hi = u64::from_le_bytes(*bytes.last_chunk::<8>()?);
    let found = match lo as u32 {
        DATE if holds!(lo, b"Date:") => (4, 0),
        ETAG if holds!(lo, b"ETag:") => (4, 0),
        VARY if holds!(lo, b"Vary:") => (4, 0),
        SERVER if holds!(lo, b"Server:") => (6, 0),
        EXPIRES if holds!(lo, b"Expires:") => (7, 0),
        LOCATION if holds!(lo, b"Location") && holds!(hi, b":") => (8, known::LOCATION),
        CONN if holds!(lo, b"Connecti") && holds!(hi, b"on:") => (10, known::CONNECTION),
        SET_COOKIE if holds!(lo, b"Set-Cook") && holds!(hi, b"ie:") => (10, known::SET_COOKIE),
        KEEP_ALIVE if holds!(lo, b"Keep-Ali") && holds!(hi, b"ve:") => (10, 0),
        CONTENT if holds!(lo, b"Content-") => {
            if holds!(hi, b"Length:") {
                (14, known::CONTENT_LENGTH)
            } else if holds!(hi, b"Type:") {
                (12, 0)
            } else {
                return None;
            }
        }
        LAST_MODIFIED if holds!(lo, b"Last-Mod") && holds!(hi, b"ified:") => (13, 0),
        ACCEPT_RANGES if holds!(lo, b"Accept-R") && holds!(hi, b"anges:") => (13, 0),
        CACHE_CONTROL if holds!(lo, b"Cache-Co") && holds!(hi, b"ntrol:") => (13, 0),
        _ => return None,
    };
    Some((i + found.0, found.1))
}

#[inline(always)]
fn finish(fields: Fields) -> Scanned<Fields> {
    if fields.spans.len() > MAX_MAP_FIELDS {
        return Err(ProtoError::new(ProtoErrorKind::TooManyHeaders, "more header fields than a header map holds"));
    }
    // A head larger than 4 GiB cannot be addressed (and no sane limit allows one).
    if u32::try_from(fields.end).is_err() {
        return Err(invalid("header section larger than 4 GiB"));
    }
    Ok(Some(fields))
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

#[cold]
fn invalid(detail: &'static str) -> ProtoError {
    ProtoError::new(ProtoErrorKind::InvalidHead, detail)
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
