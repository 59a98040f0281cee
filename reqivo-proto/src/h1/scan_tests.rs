//! The scanner against httparse (the parser it replaced): the same verdict and the same fields for
//! generated heads, their mutations and every prefix of them.

use std::mem::MaybeUninit;

use bytes::Bytes;

use super::super::fields::Span;
use super::{parse_response, parse_trailers, ParsedHead};
use crate::h1::{ProtoErrorKind, ResponseHead};

/// What a parse says, in terms both parsers can be compared on.
#[derive(Debug, PartialEq)]
enum Verdict {
    Partial,
    Invalid(ProtoErrorKind),
    Head { len: usize, version: http::Version, status: u16, reason: Vec<u8>, fields: Vec<(Vec<u8>, Vec<u8>)> },
}

fn verdict(parsed: Result<Option<ParsedHead>, crate::h1::ProtoError>, buf: &[u8]) -> Verdict {
    match parsed {
        Ok(None) => Verdict::Partial,
        Err(e) => Verdict::Invalid(e.kind()),
        Ok(Some(head)) => {
            let len = head.len;
            let head: ResponseHead = head.into_head(Bytes::copy_from_slice(&buf[..len]));
            Verdict::Head {
                len,
                version: head.version,
                status: head.status.as_u16(),
                reason: head.reason.to_vec(),
                fields: head.headers.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect(),
            }
        }
    }
}

/// httparse as the client used it: strict first, obs-fold allowed only when strict parsing fails.
fn reference(buf: &[u8], max_headers: usize) -> Result<Option<ParsedHead>, crate::h1::ProtoError> {
    let slots = max_headers.min(buf.len() / 3 + 1);
    match reference_with(buf, slots, false) {
        Err(_) => reference_with(buf, slots, true),
        parsed => parsed,
    }
}

fn reference_with(buf: &[u8], slots: usize, folds: bool) -> Result<Option<ParsedHead>, crate::h1::ProtoError> {
    let mut headers = vec![MaybeUninit::uninit(); slots];
    let mut response = httparse::Response::new(&mut []);
    let status = httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(folds)
        .parse_response_with_uninit_headers(&mut response, buf, &mut headers);
    let len = match status {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(reference_error(e)),
    };
    let version = if response.version == Some(1) { http::Version::HTTP_11 } else { http::Version::HTTP_10 };
    let status = http::StatusCode::from_u16(response.code.unwrap())
        .map_err(|_| crate::h1::ProtoError::new(ProtoErrorKind::InvalidHead, "status"))?;
    // The reason as sent: httparse hides one holding obs-text.
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap();
    let lead = buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    let line_end = buf[lead..].iter().position(|&b| b == b'\n').map_or(line_end, |i| lead + i);
    let line_end = if buf[line_end - 1] == b'\r' { line_end - 1 } else { line_end };
    let reason = (lead + 13).min(line_end)..line_end;
    let fields = spans(buf, response.headers);
    let present = fields.iter().fold(0, |bits, s| bits | s.known);
    Ok(Some(ParsedHead { len, version, status, reason, fields, present, may_hold_folds: folds }))
}

fn spans(buf: &[u8], headers: &[httparse::Header<'_>]) -> Vec<Span> {
    let at = |part: &[u8]| {
        if part.is_empty() {
            (0, 0)
        } else {
            let start = part.as_ptr() as usize - buf.as_ptr() as usize;
            (start as u32, (start + part.len()) as u32)
        }
    };
    headers.iter().map(|h| Span { name: at(h.name.as_bytes()), value: at(h.value), known: 0 }).collect()
}

fn reference_error(e: httparse::Error) -> crate::h1::ProtoError {
    let kind = match e {
        httparse::Error::TooManyHeaders => ProtoErrorKind::TooManyHeaders,
        _ => ProtoErrorKind::InvalidHead,
    };
    crate::h1::ProtoError::new(kind, e.to_string())
}

fn trailer_verdict(parsed: Result<Option<(usize, Vec<Span>)>, crate::h1::ProtoError>, buf: &[u8]) -> Verdict {
    match parsed {
        Ok(None) => Verdict::Partial,
        Err(e) => Verdict::Invalid(e.kind()),
        Ok(Some((len, spans))) => {
            let fields = crate::h1::HeaderFields::new(Bytes::copy_from_slice(&buf[..len]), spans, false);
            Verdict::Head {
                len,
                version: http::Version::HTTP_11,
                status: 0,
                reason: Vec::new(),
                fields: fields.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect(),
            }
        }
    }
}

fn reference_trailers(buf: &[u8], max_headers: usize) -> Result<Option<(usize, Vec<Span>)>, crate::h1::ProtoError> {
    let mut slots = vec![httparse::EMPTY_HEADER; max_headers.min(buf.len() / 3 + 1)];
    match httparse::parse_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete((len, headers))) => Ok(Some((len, spans(buf, headers)))),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(reference_error(e)),
    }
}

/// splitmix64: a deterministic stream, so a failure names its case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a [u8]]) -> &'a [u8] {
        items[self.below(items.len())]
    }
    /// Mostly one of the first `usual` items (well-formed ones), sometimes any.
    fn pick_usual<'a>(&mut self, items: &[&'a [u8]], usual: usize) -> &'a [u8] {
        if self.below(8) == 0 {
            self.pick(items)
        } else {
            items[self.below(usual)]
        }
    }
}

const LINE_ENDS: &[&[u8]] = &[b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b"\r\r\n", b"\n\r"];
const STATUS_LINES: &[&[u8]] = &[
    b"HTTP/1.1 200 OK",
    b"HTTP/1.1 200 OK",
    b"HTTP/1.0 404 Not Found",
    b"HTTP/1.1 204",
    b"HTTP/1.1 301 ",
    b"HTTP/1.1 099 Low",
    b"HTTP/1.1 600 High",
    b"HTTP/1.1 200 \xe4\xf6 obs\ttext",
    b"HTTP/1.1 200 ctl\x01",
    b"HTTP/1.1 200 del\x7f",
    b"HTTP/2.0 200 OK",
    b"HTTP/1.2 200 OK",
    b"HTTP/1.1  200 OK",
    b"HTTP/1.1 20 OK",
    b"HTTP/1.1 2x0 OK",
    b"HTTP/1.1\t200 OK",
    b"HTTP/1.1 200\tOK",
    b"http/1.1 200 OK",
    b"ICY 200 OK",
];
const NAMES: &[&[u8]] = &[
    b"Content-Length",
    b"content-length",
    b"Transfer-Encoding",
    b"Connection",
    b"Location",
    b"Set-Cookie",
    b"X-A",
    b"a",
    b"!#$%&'*+-.^_`|~09",
    b"",
    b"Bad Name",
    b"Bad(Name)",
    b"Na\x80me",
    b" Leading",
    b"\tTab",
    b"Trailing ",
    b"N\x00",
];
const VALUES: &[&[u8]] = &[
    b"13",
    b"keep-alive",
    b"chunked",
    b"text/html; charset=utf-8",
    b"",
    b" ",
    b"  spaced  ",
    b"\ttabbed\t",
    b"a\tb",
    b"obs \x80\xff text",
    b"ctl\x01",
    b"nul\x00",
    b"del\x7f",
    b"cr\rlf",
    b"a much longer value that spans several eight-byte words of the scan, twice over",
    b"\"quoted\", list, of=tokens",
];

fn generate(rng: &mut Rng) -> Vec<u8> {
    let mut head = Vec::new();
    for _ in 0..rng.below(3).saturating_sub(1) {
        head.extend_from_slice(rng.pick(&[b"\r\n", b"\n", b"\r"]));
    }
    head.extend_from_slice(rng.pick_usual(STATUS_LINES, 8));
    head.extend_from_slice(rng.pick_usual(LINE_ENDS, 4));
    for _ in 0..rng.below(7) {
        head.extend_from_slice(rng.pick_usual(NAMES, 9));
        head.extend_from_slice(rng.pick_usual(&[b":", b": ", b":  ", b":\t", b" :", b""], 4));
        head.extend_from_slice(rng.pick_usual(VALUES, 10));
        head.extend_from_slice(rng.pick_usual(LINE_ENDS, 4));
        if rng.below(8) == 0 {
            // obs-fold continuation lines (or whitespace-only ones).
            head.extend_from_slice(rng.pick(&[b" folded", b"\t\tmore", b" ", b"  \t", b" x\x01"]));
            head.extend_from_slice(rng.pick(LINE_ENDS));
        }
    }
    if rng.below(10) != 0 {
        head.extend_from_slice(rng.pick_usual(LINE_ENDS, 4));
    }
    head.extend_from_slice(rng.pick(&[b"", b"body", b"\r\n", b"HTTP/1.1 200 OK\r\n\r\n"]));
    // Mutations: a byte replaced, inserted or dropped.
    for _ in 0..rng.below(5).saturating_sub(2) {
        let special = [b'\r', b'\n', b'\t', b' ', b':', 0, 0x7F, 0x80, 0xFF, b'a', b'H'];
        let at = rng.below(head.len() + 1);
        let byte = if rng.below(2) == 0 { special[rng.below(special.len())] } else { rng.next() as u8 };
        match rng.below(3) {
            0 if at < head.len() => head[at] = byte,
            1 if at < head.len() => {
                head.remove(at);
            }
            _ => head.insert(at, byte),
        }
    }
    head
}

#[test]
fn scanner_agrees_with_httparse() {
    let mut rng = Rng(0x5eed);
    let mut complete = 0;
    for case in 0..30_000 {
        let head = generate(&mut rng);
        let max_headers = [0, 1, 3, 100][rng.below(4)];
        // Every prefix for some cases: a head cut anywhere is partial or already wrong, never different.
        let cuts: Vec<usize> = if case % 8 == 0 { (0..=head.len()).collect() } else { vec![head.len()] };
        for cut in cuts {
            let buf = &head[..cut];
            let ours = verdict(parse_response(buf, max_headers), buf);
            let theirs = verdict(reference(buf, max_headers), buf);
            assert_eq!(
                ours,
                theirs,
                "case {case}, max_headers {max_headers}, head {:?}",
                buf.escape_ascii().to_string()
            );
            complete += matches!(ours, Verdict::Head { .. }) as usize;
            let ours = trailer_verdict(parse_trailers(buf, max_headers), buf);
            let theirs = trailer_verdict(reference_trailers(buf, max_headers), buf);
            assert_eq!(ours, theirs, "trailers: case {case}, head {:?}", buf.escape_ascii().to_string());
        }
    }
    // The generator must reach the accepting paths, not only the errors.
    assert!(complete > 5_000, "only {complete} complete heads");
}

#[test]
fn every_byte_in_every_position_of_a_small_head() {
    let base = b"HTTP/1.1 200 OK\r\nName: value\r\nA-Longer-Field-Name09: y z\tw\r\n\r\n";
    for at in 0..base.len() {
        for byte in 0..=255u8 {
            let mut head = base.to_vec();
            head[at] = byte;
            let ours = verdict(parse_response(&head, 100), &head);
            let theirs = verdict(reference(&head, 100), &head);
            assert_eq!(ours, theirs, "byte {byte:#04x} at {at}");
        }
    }
}

#[test]
fn known_names_are_found_in_any_case_and_others_are_not_mistaken_for_them() {
    let buf = b"HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nConnection: close\r\nSET-COOKIE: b=2\r\nX-Set-Cookie: no\r\n\
Set-Cookie: c=3\r\nset-cookie2: no\r\nconnectioN: keep-alive\r\n\r\n";
    let head = parse_response(buf, 100).unwrap().unwrap().into_head(Bytes::copy_from_slice(buf));
    let all = |name| head.headers.get_all(name).collect::<Vec<_>>();
    assert_eq!(all("Set-Cookie"), [&b"a=1"[..], b"b=2", b"c=3"]);
    assert_eq!(all("set-cookie"), all("SET-cookie"));
    assert_eq!(head.headers.set_cookies().collect::<Vec<_>>(), all("set-cookie"));
    assert_eq!(all("connection"), [&b"close"[..], b"keep-alive"]);
    assert_eq!(all("x-set-cookie"), [&b"no"[..]]);
    let bare = parse_response(b"HTTP/1.1 200 OK\r\nX: y\r\n\r\n", 100).unwrap().unwrap();
    let bare = bare.into_head(Bytes::from_static(b"HTTP/1.1 200 OK\r\nX: y\r\n\r\n"));
    assert_eq!(bare.headers.get("set-cookie"), None);
}

/// A head as a server sends it, with every name the scanner recognises by its spelling (`common_name`):
/// every byte replaced by every value, and every byte dropped, give httparse's verdict, and every field's
/// known bit is the one `known::of` gives its name.
#[test]
fn every_byte_in_every_position_of_a_server_head() {
    let base: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 23 Nov 2026 00:44:14 GMT\r\n\
Content-Type: application/octet-stream\r\nContent-Length: 13\r\nLast-Modified: Mon, 23 Nov 2026 00:24:28 GMT\r\n\
Connection: keep-alive\r\nETag: \"6b0387bc-d\"\r\nAccept-Ranges: bytes\r\nLocation: /x\r\nSet-Cookie: a=1\r\n\
Keep-Alive: timeout=5\r\nExpires: 0\r\nVary: *\r\nCache-Control: no-cache\r\nContent-Encoding: gzip\r\n\
Transfer-Encoding: chunked\r\nX-Other: 1\r\n\r\nhello world!\n";
    let check = |head: &[u8], what: &str| {
        let ours = parse_response(head, 100);
        if let Ok(Some(parsed)) = &ours {
            for span in &parsed.fields {
                let name = &head[span.name.0 as usize..span.name.1 as usize];
                assert_eq!(span.known, super::known::of(name), "{what}: name {:?}", name.escape_ascii().to_string());
            }
        }
        assert_eq!(verdict(ours, head), verdict(reference(head, 100), head), "{what}");
    };
    for cut in 0..=base.len() {
        check(&base[..cut], &format!("cut at {cut}"));
    }
    for at in 0..base.len() {
        let mut head = base.to_vec();
        head.remove(at);
        check(&head, &format!("byte dropped at {at}"));
        for byte in 0..=255u8 {
            let mut head = base.to_vec();
            head[at] = byte;
            check(&head, &format!("byte {byte:#04x} at {at}"));
        }
    }
}
