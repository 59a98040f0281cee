//! The header fields of a response head exactly as received: the head's bytes and where each field lies.
//!
//! Kept raw so that a response costs no header map unless someone asks for one: the framing decisions
//! (Content-Length, Transfer-Encoding, Connection) and most lookups scan the few fields directly, in wire
//! order, duplicates and all.

use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, HeaderName, HeaderValue};

use super::encode::value_has_token;

/// Where one field lies in the head's bytes: start and end offsets of its name and of its value, and
/// which of the [`known`] names it has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) name: (u32, u32),
    pub(super) value: (u32, u32),
    pub(super) known: u8,
}

/// Names the client itself looks up on every response, each a bit. Fields are tagged when parsed, so a
/// lookup of one of these names compares one byte per field, and none at all when the name is absent.
pub(super) mod known {
    pub const CONTENT_LENGTH: u8 = 1;
    pub const TRANSFER_ENCODING: u8 = 2;
    pub const CONNECTION: u8 = 4;
    pub const CONTENT_ENCODING: u8 = 8;
    pub const LOCATION: u8 = 16;
    pub const SET_COOKIE: u8 = 32;

    /// The bit of `name` (any case), 0 for other names. The spellings servers and callers use (lower case,
    /// and each word capitalised) are compared whole before the byte-by-byte case-insensitive compare.
    #[inline]
    pub fn of(name: &[u8]) -> u8 {
        // Length and first letter pick the one candidate, so most names are ruled out without a compare.
        let first = name.first().map_or(0, |b| b | 0x20);
        match (name.len(), first) {
            (14, b'c') => matches(name, CONTENT_LENGTH, b"content-length", b"Content-Length"),
            (17, b't') => matches(name, TRANSFER_ENCODING, b"transfer-encoding", b"Transfer-Encoding"),
            (10, b'c') => matches(name, CONNECTION, b"connection", b"Connection"),
            (10, b's') => matches(name, SET_COOKIE, b"set-cookie", b"Set-Cookie"),
            (16, b'c') => matches(name, CONTENT_ENCODING, b"content-encoding", b"Content-Encoding"),
            (8, b'l') => matches(name, LOCATION, b"location", b"Location"),
            _ => 0,
        }
    }

    // Fixed-size arrays: the compiler compares them inline, where slices of unknown length call memcmp.
    fn matches<const N: usize>(name: &[u8], bit: u8, lower: &[u8; N], title: &[u8; N]) -> u8 {
        let Ok(name) = <&[u8; N]>::try_from(name) else { return 0 };
        if name == title || name == lower || name.eq_ignore_ascii_case(lower) {
            bit
        } else {
            0
        }
    }
}

/// The most fields an [`http::HeaderMap`] holds; a head with more is refused when parsed, so that
/// [`HeaderFields::to_header_map`] never has to drop one.
pub(super) const MAX_MAP_FIELDS: usize = 1 << 15;

/// The header fields of one response head, in the order received, duplicates kept, obs-fold unfolded to
/// one space. Names and values are the bytes the server sent (names as spelled, not lower-cased).
///
/// Every name is a token and every value field-content (checked by the parser), so
/// [`to_header_map`](HeaderFields::to_header_map) keeps every field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderFields {
    bytes: Bytes,
    spans: Vec<Span>,
    /// The [`known`] bits of all fields together.
    present: u8,
}

impl HeaderFields {
    /// `spans` index into `bytes`; values holding an obs-fold line break are unfolded here.
    pub(super) fn new(bytes: Bytes, spans: Vec<Span>, may_hold_folds: bool) -> Self {
        let present = spans.iter().fold(0, |bits, s| bits | s.known);
        Self::with_present(bytes, spans, present, may_hold_folds)
    }

    /// [`new`](Self::new) with the fields' [`known`] bits already gathered (by the scanner).
    pub(super) fn with_present(bytes: Bytes, spans: Vec<Span>, present: u8, may_hold_folds: bool) -> Self {
        let fields = HeaderFields { bytes, spans, present };
        if may_hold_folds {
            fields.unfold_values()
        } else {
            fields
        }
    }

    /// RFC 9112 §5.2: each obs-fold becomes one SP. Rare, so the unfolded values are appended to a copy of
    /// the head and their spans moved there.
    #[cold]
    #[inline(never)]
    fn unfold_values(mut self) -> Self {
        let folded = |s: &Span| self.bytes[range(s.value)].contains(&b'\n');
        if !self.spans.iter().any(folded) {
            return self;
        }
        let mut owned = BytesMut::from(&self.bytes[..]);
        for span in &mut self.spans {
            let value = &self.bytes[range(span.value)];
            if value.contains(&b'\n') {
                let start = owned.len();
                owned.extend_from_slice(&unfold(value));
                // Offsets fit: the head is at most a few MiB (max_head_size) and unfolding never grows it.
                span.value = (start as u32, owned.len() as u32);
            }
        }
        self.bytes = owned.freeze();
        self
    }

    /// How many fields (repeats counted).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when the head has no fields.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// `(name, value)` pairs in wire order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> + '_ {
        self.spans.iter().map(|s| (&self.bytes[range(s.name)], &self.bytes[range(s.value)]))
    }

    /// The value of the first field named `name` (ASCII case-insensitive).
    #[inline]
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.get_all(name).next()
    }

    /// The values of every field named `name` (ASCII case-insensitive), in wire order. Inline: for a
    /// name known when compiling, the lookup of its bit folds away, and an absent known name costs a test.
    #[inline]
    pub fn get_all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        let name = name.as_bytes();
        // A known name is found by its bit (and not at all when no field has it); another name by
        // comparing names, and it is never one of the known ones.
        let bit = known::of(name);
        let absent = bit != 0 && self.present & bit == 0;
        self.spans[..if absent { 0 } else { self.spans.len() }]
            .iter()
            .filter(move |s| if bit != 0 { s.known == bit } else { same_name(&self.bytes[range(s.name)], name) })
            .map(|s| &self.bytes[range(s.value)])
    }

    /// The `Set-Cookie` values in wire order (a cookie jar reads them on every response: this skips the
    /// name lookup, and costs one bit test when there are none).
    pub fn set_cookies(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.known_values(known::SET_COOKIE)
    }

    /// True when the head has a `Set-Cookie` field (one bit test).
    #[inline]
    pub fn has_set_cookie(&self) -> bool {
        self.present & known::SET_COOKIE != 0
    }

    /// The values of the fields with one of the [`known`] names, by its bit.
    pub(super) fn known_values(&self, bit: u8) -> impl Iterator<Item = &[u8]> + '_ {
        let spans = if self.present & bit == 0 { &[][..] } else { &self.spans[..] };
        spans.iter().filter(move |s| s.known == bit).map(|s| &self.bytes[range(s.value)])
    }

    /// Whether a field named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// True when any value of `name` holds `token` as a comma-separated list element (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name).any(|value| value_has_token(value, token))
    }

    /// [`has_token`](Self::has_token) for one of the [`known`] names.
    pub(super) fn known_has_token(&self, bit: u8, token: &str) -> bool {
        self.known_values(bit).any(|value| value_has_token(value, token))
    }

    /// The fields as an [`http::HeaderMap`]: names lower-cased, the values of one name kept together in
    /// wire order, values sharing the head's bytes.
    pub fn to_header_map(&self) -> HeaderMap {
        self.to_header_map_without(&[])
    }

    /// Like [`to_header_map`](Self::to_header_map), leaving out the fields named in `skip`.
    pub fn to_header_map_without(&self, skip: &[HeaderName]) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.spans.len());
        for span in &self.spans {
            let (Some(name), Some(value)) = (header_name(&self.bytes[range(span.name)]), self.value(span)) else {
                // Unreachable: the parser admits only tokens and field-content (tested over every byte).
                debug_assert!(false, "a parsed field that http refuses");
                continue;
            };
            if !skip.contains(&name) {
                map.append(name, value);
            }
        }
        map
    }

    fn value(&self, span: &Span) -> Option<HeaderValue> {
        HeaderValue::from_maybe_shared(self.bytes.slice(range(span.value))).ok()
    }
}

fn same_name(raw: &[u8], name: &[u8]) -> bool {
    raw.len() == name.len() && raw.eq_ignore_ascii_case(name)
}

fn range((start, end): (u32, u32)) -> std::ops::Range<usize> {
    start as usize..end as usize
}

/// The field name, with the names servers send most often (in their usual spelling) matched directly
/// rather than lower-cased and looked up.
fn header_name(raw: &[u8]) -> Option<HeaderName> {
    let known = match raw {
        b"Date" => header::DATE,
        b"Server" => header::SERVER,
        b"Content-Type" => header::CONTENT_TYPE,
        b"Content-Length" => header::CONTENT_LENGTH,
        b"Connection" => header::CONNECTION,
        b"Last-Modified" => header::LAST_MODIFIED,
        b"ETag" => header::ETAG,
        b"Accept-Ranges" => header::ACCEPT_RANGES,
        b"Transfer-Encoding" => header::TRANSFER_ENCODING,
        b"Content-Encoding" => header::CONTENT_ENCODING,
        b"Cache-Control" => header::CACHE_CONTROL,
        b"Location" => header::LOCATION,
        b"Vary" => header::VARY,
        _ => return HeaderName::from_bytes(raw).ok(),
    };
    Some(known)
}

/// RFC 9112 §5.2: each obs-fold (whitespace around a line break) becomes one SP.
fn unfold(raw: &[u8]) -> Vec<u8> {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(&b) = rest.first() {
        if !is_ws(&b) {
            out.push(b);
            rest = &rest[1..];
            continue;
        }
        let run = rest.iter().position(|b| !is_ws(b)).unwrap_or(rest.len());
        if rest[..run].contains(&b'\n') {
            out.push(b' ');
        } else {
            out.extend_from_slice(&rest[..run]);
        }
        rest = &rest[run..];
    }
    out
}
