//! Tests of the HTTP/1.1 client core: responses fed split at every byte position, a sans-IO client/server
//! pair, one test per encoding, framing and keep-alive rule, and a deterministic hostile-bytes run.

use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};

use super::encode;
use super::*;

// ---------------------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------------------

const HOST: &str = "example.com";

/// A request as the tests describe it.
#[derive(Clone)]
struct Req {
    method: Method,
    target: &'static str,
    headers: HeaderMap,
    body: BodyLength,
}

fn get() -> Req {
    Req { method: Method::GET, target: "/", headers: HeaderMap::new(), body: BodyLength::None }
}

fn method(m: Method) -> Req {
    Req { method: m, ..get() }
}

impl Req {
    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        self
    }
    fn body(mut self, body: BodyLength) -> Self {
        self.body = body;
        self
    }
    fn head(&self) -> RequestHead<'_> {
        RequestHead { method: &self.method, target: self.target, host: HOST, defaults: None, headers: &self.headers }
    }
}

/// Events reduced to comparable values.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Info(u16, Fields),
    Head { version: Version, status: u16, reason: Vec<u8>, headers: Fields },
    Data(Vec<u8>),
    Trailers(Fields),
    End,
    Upgraded(Vec<u8>),
    Err(ProtoErrorKind),
}

type Fields = Vec<(String, Vec<u8>)>;

fn map_fields(map: &HeaderMap) -> Fields {
    map.iter().map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec())).collect()
}

/// The fields as the header map a user gets sees them (every head goes through `to_header_map` here).
fn fields(h: &HeaderFields) -> Fields {
    map_fields(&h.to_header_map())
}

fn f(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())).collect()
}

fn head_ev(status: u16, headers: &[(&str, &str)]) -> Ev {
    Ev::Head { version: Version::HTTP_11, status, reason: reason_for(status).to_vec(), headers: f(headers) }
}

fn reason_for(status: u16) -> &'static [u8] {
    match status {
        100 => b"Continue",
        101 => b"Switching Protocols",
        200 => b"OK",
        204 => b"No Content",
        304 => b"Not Modified",
        _ => b"",
    }
}

fn data(s: &str) -> Ev {
    Ev::Data(s.as_bytes().to_vec())
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    events: Vec<Ev>,
    close: Option<CloseReason>,
    /// Raw `Data` events before merging.
    data_events: usize,
}

impl Outcome {
    /// The outcome with the data right before an error dropped: how much body an error lets through
    /// depends on how the bytes were split, the error itself does not.
    fn normalized(&self) -> (Vec<Ev>, Option<CloseReason>) {
        let mut events = self.events.clone();
        if let Some(Ev::Err(_)) = events.last() {
            let err = events.pop();
            if let Some(Ev::Data(_)) = events.last() {
                events.pop();
            }
            events.extend(err);
        }
        (events, self.close)
    }
}

fn connect(limits: Limits, req: &Req) -> ClientConn {
    let mut conn = ClientConn::new(limits);
    conn.send_request(req.head(), req.body).expect("send_request");
    let n = conn.poll_transmit().map_or(0, <[u8]>::len);
    conn.advance_transmit(n);
    conn
}

/// Drains `poll_event`; true once the exchange is over (End, Upgraded or an error).
fn drain(conn: &mut ClientConn, out: &mut Outcome, eof: bool) -> bool {
    for _ in 0..100_000 {
        match conn.poll_event() {
            Ok(Some(event)) => {
                let (ev, done) = match event {
                    Event::Informational(h) => (Ev::Info(h.status.as_u16(), fields(&h.headers)), false),
                    Event::Head(h) => (
                        Ev::Head {
                            version: h.version,
                            status: h.status.as_u16(),
                            reason: h.reason.to_vec(),
                            headers: fields(&h.headers),
                        },
                        false,
                    ),
                    Event::Data(d) => {
                        assert!(!d.is_empty(), "empty Data event");
                        out.data_events += 1;
                        if let Some(Ev::Data(prev)) = out.events.last_mut() {
                            prev.extend_from_slice(&d);
                            continue;
                        }
                        (Ev::Data(d.to_vec()), false)
                    }
                    Event::Trailers(t) => (Ev::Trailers(map_fields(&t)), false),
                    Event::End => (Ev::End, true),
                    Event::Upgraded { leftover } => (Ev::Upgraded(leftover.to_vec()), true),
                };
                out.events.push(ev);
                if done {
                    assert!(!conn.wants_read(), "wants_read after the exchange ended");
                    return true;
                }
            }
            Ok(None) => {
                assert!(!eof, "poll_event stalled after EOF: the driver would hang");
                assert!(conn.wants_read(), "poll_event needs bytes but wants_read() is false: the driver would hang");
                return false;
            }
            Err(e) => {
                assert_eq!(conn.poll_event().unwrap_err(), e, "errors stick");
                assert!(!conn.wants_read());
                out.events.push(Ev::Err(e.kind()));
                return true;
            }
        }
    }
    panic!("poll_event never stalled");
}

/// Feeds `chunks` to a fresh connection that sent `req`, then EOF when `eof`.
fn run_chunks(limits: Limits, req: &Req, chunks: &[&[u8]], eof: bool) -> Outcome {
    let mut conn = connect(limits, req);
    let mut out = Outcome { events: Vec::new(), close: None, data_events: 0 };
    let mut over = false;
    for chunk in chunks {
        if over {
            match out.events.last_mut() {
                // After an upgrade the bytes belong to the next protocol: count them as leftover.
                Some(Ev::Upgraded(rest)) => rest.extend_from_slice(chunk),
                Some(Ev::End) => conn.recv_buf().extend_from_slice(chunk),
                _ => {}
            }
            continue;
        }
        conn.recv_buf().extend_from_slice(chunk);
        over = drain(&mut conn, &mut out, false);
    }
    if eof {
        conn.handle_eof();
        if !over {
            over = drain(&mut conn, &mut out, true);
        }
        assert!(over, "the exchange must be over after EOF");
    }
    out.close = conn.close_reason();
    out
}

fn run(req: &Req, bytes: &[u8], eof: bool) -> Outcome {
    run_chunks(Limits::default(), req, &[bytes], eof)
}

/// Runs `bytes` whole, split in two at every position, one byte at a time and (when short) split in three
/// at every pair of positions; all must agree. Returns the whole-feed outcome.
fn check(limits: Limits, req: &Req, bytes: &[u8], eof: bool) -> Outcome {
    let whole = run_chunks(limits, req, &[bytes], eof);
    let expected = whole.normalized();
    for i in 0..=bytes.len() {
        let split = run_chunks(limits, req, &[&bytes[..i], &bytes[i..]], eof);
        assert_eq!(split.normalized(), expected, "split at {i} of {:?}", String::from_utf8_lossy(bytes));
    }
    let single: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(run_chunks(limits, req, &single, eof).normalized(), expected, "one byte at a time");
    if bytes.len() <= 96 {
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let three = run_chunks(limits, req, &[&bytes[..i], &bytes[i..j], &bytes[j..]], eof);
                assert_eq!(three.normalized(), expected, "split at {i} and {j}");
            }
        }
    }
    whole
}

fn check_default(req: &Req, bytes: &[u8], eof: bool) -> Outcome {
    check(Limits::default(), req, bytes, eof)
}

/// The single error an input must produce, checked at every split.
fn expect_err(limits: Limits, req: &Req, bytes: &[u8], eof: bool, kind: ProtoErrorKind) {
    let out = check(limits, req, bytes, eof);
    assert_eq!(out.events.last(), Some(&Ev::Err(kind)), "{:?}: {:?}", String::from_utf8_lossy(bytes), out.events);
    assert_eq!(out.close, Some(CloseReason::Error));
}

/// Encodes `req` and returns the bytes, or the error.
fn encode(req: &Req) -> Result<Vec<u8>, UsageError> {
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(req.head(), req.body)?;
    Ok(conn.poll_transmit().unwrap_or_default().to_vec())
}

/// Takes everything the client has queued.
fn take_transmit(conn: &mut ClientConn) -> Vec<u8> {
    let out = conn.poll_transmit().unwrap_or_default().to_vec();
    conn.advance_transmit(out.len());
    out
}

/// Feeds bytes and collects events until the core stalls or the exchange ends.
fn feed(conn: &mut ClientConn, bytes: &[u8]) -> Vec<Ev> {
    conn.recv_buf().extend_from_slice(bytes);
    let mut out = Outcome { events: Vec::new(), close: None, data_events: 0 };
    drain(conn, &mut out, false);
    out.events
}

// ---------------------------------------------------------------------------------------------------------
// A tiny sans-IO server: parses what the client wrote, with httparse, and checks it
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug)]
struct SeenRequest {
    method: String,
    target: String,
    headers: Fields,
    body: Vec<u8>,
    trailers_len: usize,
}

/// One complete request from the front of `wire` (consumed), or `None` while incomplete.
fn server_read(wire: &mut Vec<u8>) -> Option<SeenRequest> {
    let mut slots = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut slots);
    let head_len = match req.parse(wire).expect("the server parses the client's request") {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return None,
    };
    assert_eq!(req.version, Some(1), "requests are HTTP/1.1");
    let headers: Fields = req.headers.iter().map(|h| (h.name.to_owned(), h.value.to_vec())).collect();
    assert!(headers[0].0.eq_ignore_ascii_case("host"), "Host comes first");
    let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let (method, target) = (req.method?.to_owned(), req.path?.to_owned());
    let mut pos = head_len;
    let mut body = Vec::new();
    let mut trailers_len = 0;
    if let Some(cl) = header("content-length") {
        assert!(header("transfer-encoding").is_none());
        let len: usize = std::str::from_utf8(&cl).ok()?.parse().ok()?;
        if wire.len() < pos + len {
            return None;
        }
        body.extend_from_slice(&wire[pos..pos + len]);
        pos += len;
    } else if let Some(te) = header("transfer-encoding") {
        assert_eq!(te, b"chunked");
        loop {
            let (n, size) = match httparse::parse_chunk_size(&wire[pos..]).expect("valid chunk size") {
                httparse::Status::Complete(x) => x,
                httparse::Status::Partial => return None,
            };
            let size = size as usize;
            pos += n;
            if size == 0 {
                let mut slots = [httparse::EMPTY_HEADER; 8];
                match httparse::parse_headers(&wire[pos..], &mut slots).expect("valid trailers") {
                    httparse::Status::Complete((n, _)) => {
                        trailers_len = n;
                        pos += n;
                    }
                    httparse::Status::Partial => return None,
                }
                break;
            }
            if wire.len() < pos + size + 2 {
                return None;
            }
            body.extend_from_slice(&wire[pos..pos + size]);
            assert_eq!(&wire[pos + size..pos + size + 2], b"\r\n", "chunk data ends with CRLF");
            pos += size + 2;
        }
    }
    wire.drain(..pos);
    Some(SeenRequest { method, target, headers, body, trailers_len })
}

/// Sends `req` with `body` through the client, writing at most `write_max` bytes per write, and lets the
/// server answer with `respond`; the response is fed back in pieces of `read_max` bytes.
fn exchange(
    conn: &mut ClientConn,
    req: &Req,
    body: &[u8],
    write_max: usize,
    read_max: usize,
    respond: impl FnOnce(&SeenRequest) -> Vec<u8>,
) -> (SeenRequest, Vec<Ev>) {
    conn.send_request(req.head(), req.body).unwrap();
    let mut wire = Vec::new();
    let mut rest = body;
    let seen = loop {
        while let Some(out) = conn.poll_transmit() {
            let n = out.len().min(write_max);
            wire.extend_from_slice(&out[..n]);
            conn.advance_transmit(n);
        }
        if let Some(seen) = server_read(&mut wire) {
            break seen;
        }
        assert!(conn.wants_body(), "the server needs more of the request but the client has nothing to send");
        if rest.is_empty() {
            conn.finish_body().unwrap();
        } else {
            let n = conn.send_body(rest).unwrap();
            rest = &rest[n..];
        }
    };
    assert!(wire.is_empty(), "nothing after the request");
    assert!(!conn.wants_body());
    let response = respond(&seen);
    let mut out = Outcome { events: Vec::new(), close: None, data_events: 0 };
    for piece in response.chunks(read_max) {
        conn.recv_buf().extend_from_slice(piece);
        if drain(conn, &mut out, false) {
            break;
        }
    }
    (seen, out.events)
}

// ---------------------------------------------------------------------------------------------------------
// Request encoding
// ---------------------------------------------------------------------------------------------------------

#[test]
fn request_head_layout_and_order() {
    let req = Req { target: "/path?q=1", ..get() }
        .header("accept", "*/*")
        .header("x-dup", "1")
        .header("user-agent", "reqivo")
        .header("x-dup", "2");
    let bytes = encode(&req).unwrap();
    assert_eq!(
        bytes,
        b"GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\naccept: */*\r\nx-dup: 1\r\nx-dup: 2\r\n\
          user-agent: reqivo\r\n\r\n"
    );
}

#[test]
fn request_framing_headers_follow_body_length() {
    let post = method(Method::POST);
    let none = encode(&post).unwrap();
    assert!(!String::from_utf8(none).unwrap().to_ascii_lowercase().contains("content-length"));
    let known = encode(&post.clone().body(BodyLength::Known(12))).unwrap();
    assert!(known.ends_with(b"\r\nContent-Length: 12\r\n\r\n"));
    let zero = encode(&post.clone().body(BodyLength::Known(0))).unwrap();
    assert!(zero.ends_with(b"\r\nContent-Length: 0\r\n\r\n"));
    for n in [9, 10, 65_536, u64::MAX] {
        let big = encode(&post.clone().body(BodyLength::Known(n))).unwrap();
        assert!(big.ends_with(format!("\r\nContent-Length: {n}\r\n\r\n").as_bytes()), "{n}");
    }
    let chunked = encode(&post.body(BodyLength::Chunked)).unwrap();
    assert!(chunked.ends_with(b"\r\nTransfer-Encoding: chunked\r\n\r\n"));
}

#[test]
fn request_target_forms() {
    let ok = |m: Method, t: &'static str| encode(&Req { method: m, target: t, ..get() });
    assert!(ok(Method::OPTIONS, "*").is_ok());
    assert_eq!(ok(Method::GET, "*"), Err(UsageError::InvalidTarget));
    assert!(ok(Method::CONNECT, "example.com:443").is_ok());
    assert_eq!(ok(Method::CONNECT, "/"), Err(UsageError::InvalidTarget));
    assert!(ok(Method::GET, "http://example.com/x?y").is_ok());
    assert_eq!(ok(Method::GET, "example.com/x"), Err(UsageError::InvalidTarget));
    assert_eq!(ok(Method::GET, ""), Err(UsageError::InvalidTarget));
    assert_eq!(ok(Method::GET, "/caf\u{e9}"), Err(UsageError::InvalidTarget));
}

#[test]
fn injection_in_target_is_refused_before_any_byte() {
    for target in ["/a\r\nX-Injected: 1", "/a\nb", "/a\rb", "/a\0b", "/a b", "/a\tb", "/a\x7fb", "/a\x01"] {
        let mut conn = ClientConn::new(Limits::default());
        let req = Req { target, ..get() };
        assert_eq!(conn.send_request(req.head(), req.body), Err(UsageError::InvalidTarget), "{target:?}");
        assert!(conn.poll_transmit().is_none());
    }
}

#[test]
fn injection_in_host_is_refused() {
    let headers = HeaderMap::new();
    for host in ["a\r\nX-Injected: 1", "a\nb", "a\0", "a b", "", "a/b", "a\tb"] {
        let mut conn = ClientConn::new(Limits::default());
        let head = RequestHead { method: &Method::GET, target: "/", host, defaults: None, headers: &headers };
        assert_eq!(conn.send_request(head, BodyLength::None), Err(UsageError::InvalidHost), "{host:?}");
        assert!(conn.poll_transmit().is_none());
    }
    let head = RequestHead { method: &Method::GET, target: "/", host: "[::1]:8080", defaults: None, headers: &headers };
    assert!(ClientConn::new(Limits::default()).send_request(head, BodyLength::None).is_ok());
}

#[test]
fn injection_in_header_value_is_refused() {
    // Such values come from `HeaderValue::from_maybe_shared_unchecked`, which only lets them through in
    // release builds (and is `unsafe`), so the check the encoder runs on every field is tested directly.
    let bad: [&[u8]; 7] = [b"a\r\nX-Injected: 1", b"a\nb", b"a\rb", b"a\0b", b"a\x01b", b"a\x7fb", b"\x1b"];
    for value in bad {
        assert_eq!(encode::check_field("x-test", value), Err(UsageError::InvalidHeader("x-test".into())));
    }
    for name in ["", "x y", "x\r\ny", "x:", "x\0"] {
        assert_eq!(encode::check_field(name, b"v"), Err(UsageError::InvalidHeader(name.into())), "{name:?}");
    }
    assert_eq!(encode::check_field("x-ok", b"a\tb\xe9 ~"), Ok(()), "HTAB and obs-text are field bytes");
    let mut req = get();
    req.headers.append("x-tab", HeaderValue::from_bytes(b"a\tb\xe9").unwrap());
    assert!(encode(&req).unwrap().windows(7).any(|w| w == b"a\tb\xe9\r\n\r"));
}

#[test]
fn injection_in_method_and_name_is_impossible_by_type() {
    // `Method` and `HeaderName` have no unchecked constructors; the encoder re-checks them all the same.
    assert!(Method::from_bytes(b"GET\r\nX: 1").is_err());
    assert!(Method::from_bytes(b"GE T").is_err());
    assert!(HeaderName::from_bytes(b"x\r\ny").is_err());
    assert!(HeaderName::from_bytes(b"x\0").is_err());
    let custom = Method::from_bytes(b"PURGE").unwrap();
    assert!(encode(&method(custom)).unwrap().starts_with(b"PURGE / HTTP/1.1\r\n"));
}

#[test]
fn framing_and_host_headers_are_refused() {
    let cl = get().header("content-length", "5");
    assert_eq!(encode(&cl), Err(UsageError::FramingHeader("content-length".into())));
    let te = get().header("transfer-encoding", "chunked");
    assert_eq!(encode(&te), Err(UsageError::FramingHeader("transfer-encoding".into())));
    let host = get().header("host", "evil.example");
    assert_eq!(encode(&host), Err(UsageError::HostHeader));
}

#[test]
fn header_block_is_written_like_the_same_fields_in_the_map() {
    let own = get().header("user-agent", "reqivo").header("accept", "*/*").header("x-dup", "1").header("x-dup", "2");
    let block = HeaderBlock::new(&own.headers).unwrap();
    let split = get().header("x-own", "3");
    let mut conn = ClientConn::new(Limits::default());
    let head = RequestHead { defaults: Some(&block), ..split.head() };
    conn.send_request(head, BodyLength::None).unwrap();
    assert_eq!(
        take_transmit(&mut conn),
        b"GET / HTTP/1.1\r\nHost: example.com\r\nuser-agent: reqivo\r\naccept: */*\r\nx-dup: 1\r\nx-dup: 2\r\n\
          x-own: 3\r\n\r\n"
    );
    assert_eq!(
        encode(&own).unwrap().len(),
        b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".len() + block.as_bytes().len()
    );
}

#[test]
fn header_block_refuses_what_a_request_refuses() {
    for (name, value, error) in [
        ("content-length", "5", UsageError::FramingHeader("content-length".into())),
        ("transfer-encoding", "chunked", UsageError::FramingHeader("transfer-encoding".into())),
        ("host", "evil.example", UsageError::HostHeader),
    ] {
        assert_eq!(HeaderBlock::new(&get().header(name, value).headers), Err(error));
    }
}

#[test]
fn header_block_flags_reach_the_connection() {
    let close = HeaderBlock::new(&get().header("connection", "close").headers).unwrap();
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(RequestHead { defaults: Some(&close), ..get().head() }, BodyLength::None).unwrap();
    take_transmit(&mut conn);
    conn.recv_buf().extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    while !matches!(conn.poll_event(), Ok(Some(Event::End))) {}
    assert_eq!(conn.close_reason(), Some(CloseReason::RequestClose));

    let expect = HeaderBlock::new(&get().header("expect", "100-continue").headers).unwrap();
    let post = method(Method::POST);
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(RequestHead { defaults: Some(&expect), ..post.head() }, BodyLength::Known(3)).unwrap();
    assert!(!conn.wants_body(), "the body waits for 100 Continue");
}

#[test]
fn body_written_by_the_driver_is_framed_by_the_core() {
    let req = method(Method::POST).body(BodyLength::Known(10));
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(req.head(), req.body).unwrap();
    assert_eq!(conn.body_direct_room(), 10);
    // Body bytes may only follow the whole head.
    let mut early = ClientConn::new(Limits::default());
    early.send_request(req.head(), req.body).unwrap();
    assert!(matches!(early.advance_body(1), Err(UsageError::WrongState(_))));
    assert!(early.poll_transmit().is_none(), "a failed connection writes nothing more");
    let head = take_transmit(&mut conn);
    assert!(head.ends_with(b"Content-Length: 10\r\n\r\n"));
    conn.advance_body(0).unwrap();
    conn.advance_body(4).unwrap();
    assert_eq!((conn.body_direct_room(), conn.wants_body()), (6, true));
    // Mixed with bytes handed to the core.
    assert_eq!(conn.send_body(b"ab"), Ok(2));
    assert_eq!(take_transmit(&mut conn), b"ab");
    conn.advance_body(4).unwrap();
    assert_eq!((conn.body_direct_room(), conn.wants_body()), (0, false));
    assert!(conn.poll_transmit().is_none());
    feed(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(conn.close_reason(), None);
    conn.start_next_cycle().unwrap();

    // More than declared is the caller's error, and it sticks.
    let req = method(Method::POST).body(BodyLength::Known(3));
    conn.send_request(req.head(), req.body).unwrap();
    take_transmit(&mut conn);
    assert_eq!(conn.advance_body(4), Err(UsageError::BodyLengthMismatch { declared: 3, sent: 4 }));
    assert_eq!(conn.body_direct_room(), 0);
    assert_eq!(conn.close_reason(), Some(CloseReason::Error));
}

#[test]
fn chunked_and_waiting_bodies_are_not_written_directly() {
    let chunked = method(Method::POST).body(BodyLength::Chunked);
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(chunked.head(), chunked.body).unwrap();
    take_transmit(&mut conn);
    assert_eq!(conn.body_direct_room(), 0);
    assert!(matches!(conn.advance_body(1), Err(UsageError::WrongState(_))));

    let expect = method(Method::POST).header("expect", "100-continue").body(BodyLength::Known(5));
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(expect.head(), expect.body).unwrap();
    take_transmit(&mut conn);
    assert_eq!(conn.body_direct_room(), 0, "the body waits for 100 Continue");
    conn.handle_continue_timeout();
    assert_eq!(conn.body_direct_room(), 5);
}

#[test]
fn usage_errors_stick() {
    let mut conn = ClientConn::new(Limits::default());
    let bad = Req { target: "/\n", ..get() };
    assert_eq!(conn.send_request(bad.head(), bad.body), Err(UsageError::InvalidTarget));
    let good = get();
    assert_eq!(conn.send_request(good.head(), good.body), Err(UsageError::InvalidTarget));
    assert_eq!(conn.send_body(b"x"), Err(UsageError::InvalidTarget));
    assert_eq!(conn.finish_body(), Err(UsageError::InvalidTarget));
    assert_eq!(conn.start_next_cycle(), Err(UsageError::InvalidTarget));
    assert_eq!(conn.close_reason(), Some(CloseReason::Error));
    assert!(matches!(conn.poll_event(), Ok(None)));
    assert!(!conn.wants_read());
}

#[test]
fn chunked_request_body_framing() {
    let req = method(Method::POST).body(BodyLength::Chunked);
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(req.head(), req.body).unwrap();
    take_transmit(&mut conn);
    assert!(conn.wants_body());
    assert_eq!(conn.send_body(b"hello"), Ok(5));
    assert_eq!(conn.send_body(b""), Ok(0));
    assert_eq!(conn.send_body(&[b'x'; 26]), Ok(26));
    assert_eq!(take_transmit(&mut conn), [&b"5\r\nhello\r\n1a\r\n"[..], &[b'x'; 26], b"\r\n"].concat());
    conn.finish_body().unwrap();
    assert_eq!(take_transmit(&mut conn), b"0\r\n\r\n");
    assert!(!conn.wants_body());
    conn.finish_body().unwrap(); // harmless twice
    assert!(conn.poll_transmit().is_none());
}

#[test]
fn known_length_body_mismatch() {
    let req = method(Method::PUT).body(BodyLength::Known(5));
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(req.head(), req.body).unwrap();
    take_transmit(&mut conn);
    assert_eq!(conn.send_body(b"123"), Ok(3));
    assert_eq!(conn.send_body(b"456"), Err(UsageError::BodyLengthMismatch { declared: 5, sent: 6 }));
    assert_eq!(conn.send_body(b"4"), Err(UsageError::BodyLengthMismatch { declared: 5, sent: 6 }));
    assert!(conn.poll_transmit().is_none(), "a failed request is not completed");

    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(req.head(), req.body).unwrap();
    assert_eq!(conn.send_body(b"123"), Ok(3));
    assert_eq!(conn.finish_body(), Err(UsageError::BodyLengthMismatch { declared: 5, sent: 3 }));

    // The declared length reached: the request is complete, finish_body is optional.
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(req.head(), req.body).unwrap();
    assert_eq!(conn.send_body(b"12345"), Ok(5));
    assert!(!conn.wants_body());
    assert_eq!(conn.send_body(b""), Ok(0));
    conn.finish_body().unwrap();
    assert!(take_transmit(&mut conn).ends_with(b"\r\n\r\n12345"));
}

#[test]
fn send_body_is_bounded_by_the_transmit_buffer() {
    for body in [BodyLength::Known(300_000), BodyLength::Chunked] {
        let req = method(Method::POST).body(body);
        let mut conn = ClientConn::new(Limits::default());
        conn.send_request(req.head(), req.body).unwrap();
        let payload: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let first = conn.send_body(&payload).unwrap();
        assert!(first > 0 && first <= 64 * 1024, "took {first}");
        assert_eq!(conn.send_body(&payload[first..]), Ok(0), "full buffer takes nothing");
        assert!(conn.poll_transmit().unwrap().len() <= 64 * 1024 + 200);
        let mut wire = take_transmit(&mut conn);
        let mut sent = first;
        while sent < payload.len() {
            let n = conn.send_body(&payload[sent..]).unwrap();
            assert!(n > 0);
            sent += n;
            wire.extend(take_transmit(&mut conn));
        }
        conn.finish_body().unwrap();
        wire.extend(take_transmit(&mut conn));
        let seen = server_read(&mut wire).expect("complete request");
        assert_eq!(seen.body, payload);
    }
}

#[test]
fn bodiless_requests_are_complete_after_send_request() {
    for body in [BodyLength::None, BodyLength::Known(0)] {
        let req = method(Method::POST).body(body);
        let mut conn = ClientConn::new(Limits::default());
        conn.send_request(req.head(), req.body).unwrap();
        assert!(!conn.wants_body());
        take_transmit(&mut conn);
        assert_eq!(
            feed(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            [head_ev(200, &[("content-length", "0")]), Ev::End]
        );
        conn.finish_body().unwrap(); // harmless
        assert_eq!(conn.close_reason(), None);
    }
    let mut conn = ClientConn::new(Limits::default());
    assert!(conn.send_body(b"x").is_err(), "no request, no body");
}

#[test]
fn request_connection_close_closes_after_the_exchange() {
    let req = get().header("connection", "Close");
    let mut conn = connect(Limits::default(), &req);
    assert_eq!(conn.close_reason(), Some(CloseReason::Unfinished));
    feed(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(conn.close_reason(), Some(CloseReason::RequestClose));
    assert!(conn.start_next_cycle().is_err());
}

// ---------------------------------------------------------------------------------------------------------
// Expect: 100-continue
// ---------------------------------------------------------------------------------------------------------

fn expecting(body: BodyLength) -> (ClientConn, Vec<u8>) {
    let req = method(Method::PUT).header("expect", "100-continue").body(body);
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(req.head(), req.body).unwrap();
    let head = take_transmit(&mut conn);
    assert!(!conn.wants_body(), "the body waits for 100 Continue");
    assert!(conn.wants_read());
    (conn, head)
}

#[test]
fn expect_continue_sends_body_after_100() {
    let (mut conn, _) = expecting(BodyLength::Known(5));
    assert!(conn.send_body(b"hello").is_err(), "sending before 100 is a usage error");
    let (mut conn, _) = expecting(BodyLength::Known(5));
    let events = feed(&mut conn, b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
    assert_eq!(events, [Ev::Info(103, f(&[("link", "</s.css>")]))]);
    assert!(!conn.wants_body(), "only 100 releases the body");
    let events = feed(&mut conn, b"HTTP/1.1 100 Continue\r\n\r\n");
    assert_eq!(events, [Ev::Info(100, vec![])]);
    assert!(conn.wants_body());
    assert_eq!(conn.send_body(b"hello"), Ok(5));
    assert_eq!(take_transmit(&mut conn), b"hello");
    let events = feed(&mut conn, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    assert!(matches!(events[..], [Ev::Head { status: 201, .. }, Ev::End]));
    assert_eq!(conn.close_reason(), None);
    conn.start_next_cycle().unwrap();
}

#[test]
fn expect_continue_timeout_releases_the_body() {
    let (mut conn, _) = expecting(BodyLength::Chunked);
    conn.handle_continue_timeout();
    assert!(conn.wants_body());
    assert_eq!(conn.send_body(b"abc"), Ok(3));
    conn.finish_body().unwrap();
    assert_eq!(take_transmit(&mut conn), b"3\r\nabc\r\n0\r\n\r\n");
    feed(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(conn.close_reason(), None);
}

#[test]
fn expect_continue_final_response_first_leaves_body_unsent() {
    let (mut conn, head) = expecting(BodyLength::Known(5));
    assert!(head.ends_with(b"Content-Length: 5\r\n\r\n"));
    let events = feed(&mut conn, b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n");
    assert!(matches!(events[..], [Ev::Head { status: 417, .. }, Ev::End]));
    assert!(!conn.wants_body());
    conn.handle_continue_timeout(); // too late: nothing changes
    assert!(!conn.wants_body());
    assert_eq!(conn.send_body(b"hello"), Ok(5), "dropped, reported as taken");
    conn.finish_body().unwrap();
    assert!(conn.poll_transmit().is_none(), "the body is never sent");
    assert_eq!(conn.close_reason(), Some(CloseReason::RequestBodyUnsent));
}

#[test]
fn expect_continue_without_body_is_plain() {
    let req = get().header("expect", "100-continue");
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(req.head(), req.body).unwrap();
    assert!(!conn.wants_body());
    take_transmit(&mut conn);
    feed(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(conn.close_reason(), None);
}

#[test]
fn early_final_response_abandons_a_streaming_body() {
    let req = method(Method::POST).body(BodyLength::Chunked);
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(req.head(), req.body).unwrap();
    conn.send_body(b"part").unwrap();
    take_transmit(&mut conn);
    let events = feed(&mut conn, b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n");
    assert!(matches!(events[..], [Ev::Head { status: 413, .. }, Ev::End]));
    assert!(!conn.wants_body());
    assert_eq!(conn.close_reason(), Some(CloseReason::RequestBodyUnsent));
}

// ---------------------------------------------------------------------------------------------------------
// Response heads
// ---------------------------------------------------------------------------------------------------------

#[test]
fn content_length_response_at_every_split() {
    let out = check_default(&get(), b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello", false);
    assert_eq!(out.events, [head_ev(200, &[("content-length", "5"), ("x-a", "b")]), data("hello"), Ev::End]);
    assert_eq!(out.data_events, 1, "a body already buffered comes out as one Data event");
    assert_eq!(out.close, None);
}

#[test]
fn data_is_split_from_the_receive_buffer_without_copying() {
    let mut conn = connect(Limits::default(), &get());
    conn.recv_buf().extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    let buffer_start = conn.recv_buf().as_ptr() as usize;
    assert!(matches!(conn.poll_event(), Ok(Some(Event::Head(_)))));
    let Ok(Some(Event::Data(body))) = conn.poll_event() else { panic!("Data expected") };
    // The head was 38 bytes; the body still sits where the driver put it.
    assert_eq!(body.as_ptr() as usize, buffer_start + 38);
}

#[test]
fn reason_phrase_variants() {
    let out = check_default(&get(), b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false);
    assert!(matches!(&out.events[0], Ev::Head { reason, .. } if reason.is_empty()));
    let out = run(&get(), b"HTTP/1.1 404 Not  Found \r\nContent-Length: 0\r\n\r\n", false);
    assert!(matches!(&out.events[0], Ev::Head { status: 404, reason, .. } if reason == b"Not  Found "));
    let out = check_default(&get(), b"HTTP/1.1 200 Caf\xe9\r\nContent-Length: 0\r\n\r\n", false);
    assert!(matches!(&out.events[0], Ev::Head { reason, .. } if reason == b"Caf\xe9"), "obs-text kept as bytes");
    let out = run(&get(), b"HTTP/1.1 200 OK\nContent-Length: 0\n\n", false);
    assert!(matches!(&out.events[..], [Ev::Head { reason, .. }, Ev::End] if reason == b"OK"), "bare LF lines");
}

#[test]
fn versions() {
    let out = check_default(&get(), b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", false);
    assert!(matches!(&out.events[0], Ev::Head { version: Version::HTTP_10, .. }));
    for bad in [&b"HTTP/1.2 200 OK\r\n\r\n"[..], b"HTTP/2.0 200 OK\r\n\r\n", b"HTTP/0.9 200 OK\r\n\r\n"] {
        expect_err(Limits::default(), &get(), bad, false, ProtoErrorKind::UnsupportedVersion);
    }
    for bad in [
        &b"HTTP/2 200 OK\r\n\r\n"[..],
        b"http/1.1 200 OK\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 099 Low\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
    ] {
        expect_err(Limits::default(), &get(), bad, false, ProtoErrorKind::InvalidHead);
    }
}

#[test]
fn garbage_is_refused_before_the_head_ends() {
    let mut conn = connect(Limits::default(), &get());
    conn.recv_buf().extend_from_slice(b"SSH-2.0");
    assert_eq!(conn.poll_event().unwrap_err().kind(), ProtoErrorKind::InvalidHead);
}

#[test]
fn headers_keep_order_and_duplicates() {
    let bytes = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-A: 1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n";
    let mut conn = connect(Limits::default(), &get());
    conn.recv_buf().extend_from_slice(bytes);
    let Ok(Some(Event::Head(head))) = conn.poll_event() else { panic!("head expected") };
    let cookies: Vec<_> = head.headers.get_all("set-cookie").collect();
    assert_eq!(cookies, [b"a=1", b"b=2"]);
    assert_eq!(head.headers.get("SET-COOKIE"), Some(&b"a=1"[..]));
    let wire: Vec<_> = head.headers.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
    let expected = [("Set-Cookie", "a=1"), ("X-A", "1"), ("Set-Cookie", "b=2"), ("Content-Length", "0")];
    assert_eq!(wire, expected.map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())));
    let map = head.headers.to_header_map();
    let names: Vec<_> = map.keys().map(|k| k.as_str().to_owned()).collect();
    assert_eq!(names, ["set-cookie", "x-a", "content-length"]);
    check_default(&get(), bytes, false);
}

#[test]
fn obs_fold_is_unfolded_to_one_space() {
    let bytes =
        b"HTTP/1.1 200 OK\r\nX-Folded: hello  \r\n  world\r\n\tagain\r\nX-Empty:\r\n late\r\nContent-Length: 0\r\n\r\n";
    let out = check_default(&get(), bytes, false);
    assert_eq!(
        out.events,
        [head_ev(200, &[("x-folded", "hello world again"), ("x-empty", "late"), ("content-length", "0")]), Ev::End]
    );
}

#[test]
fn leading_empty_lines_are_skipped() {
    let out = check_default(&get(), b"\r\n\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false);
    assert_eq!(out.events, [head_ev(200, &[("content-length", "0")]), Ev::End]);
}

#[test]
fn interim_responses() {
    let bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: <a>\r\nLink: <b>\r\n\r\n\
                  HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let out = check_default(&get(), bytes, false);
    assert_eq!(
        out.events,
        [
            Ev::Info(100, vec![]),
            Ev::Info(103, f(&[("link", "<a>"), ("link", "<b>")])),
            head_ev(200, &[("content-length", "2")]),
            data("ok"),
            Ev::End
        ]
    );
    assert_eq!(out.close, None);
}

#[test]
fn switching_protocols_hands_over_the_leftover() {
    let bytes = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello";
    let req = get().header("connection", "upgrade").header("upgrade", "websocket");
    let out = check_default(&req, bytes, false);
    assert_eq!(
        out.events,
        [head_ev(101, &[("upgrade", "websocket"), ("connection", "Upgrade")]), Ev::Upgraded(b"\x81\x05hello".to_vec())]
    );
    assert_eq!(out.close, Some(CloseReason::Upgraded));

    // Nothing is parsed after the upgrade.
    let mut conn = connect(Limits::default(), &req);
    feed(&mut conn, bytes);
    conn.recv_buf().extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
    assert!(matches!(conn.poll_event(), Ok(None)));
    assert!(!conn.wants_read());
    conn.handle_eof();
    assert!(matches!(conn.poll_event(), Ok(None)));
    assert_eq!(conn.close_reason(), Some(CloseReason::Upgraded));
}

#[test]
fn connect_success_is_a_tunnel() {
    let req = Req { method: Method::CONNECT, target: "example.com:443", ..get() };
    let out = check_default(&req, b"HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x01", false);
    assert!(matches!(&out.events[..], [Ev::Head { status: 200, .. }, Ev::Upgraded(rest)] if rest == b"\x16\x03\x01"));
    let out = check_default(&req, b"HTTP/1.1 407 Proxy Auth\r\nContent-Length: 1\r\n\r\nx", false);
    assert!(matches!(&out.events[..], [Ev::Head { status: 407, .. }, Ev::Data(_), Ev::End]));
}

// ---------------------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------------------

fn limits(max_head_size: usize, max_headers: usize) -> Limits {
    Limits { max_head_size, max_headers, ..Limits::default() }
}

#[test]
fn head_size_limit() {
    let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let exact = check(limits(bytes.len(), 10), &get(), bytes, false);
    assert_eq!(exact.events.last(), Some(&Ev::End), "a head of exactly max_head_size is fine");
    expect_err(limits(bytes.len() - 1, 10), &get(), bytes, false, ProtoErrorKind::HeadTooLarge);
}

#[test]
fn endless_head_is_refused_once_it_reaches_the_limit() {
    let mut conn = connect(limits(100, 10), &get());
    conn.recv_buf().extend_from_slice(b"HTTP/1.1 200 OK\r\nX-Long: ");
    while conn.recv_buf().len() < 99 {
        conn.recv_buf().extend_from_slice(b"a");
        assert!(matches!(conn.poll_event(), Ok(None)));
    }
    conn.recv_buf().extend_from_slice(b"a");
    assert_eq!(conn.poll_event().unwrap_err().kind(), ProtoErrorKind::HeadTooLarge);
    // The same with obs-fold lines and with endless empty lines.
    let mut folded = b"HTTP/1.1 200 OK\r\nX: a".to_vec();
    while folded.len() < 200 {
        folded.extend_from_slice(b"\r\n b");
    }
    expect_err(limits(100, 10), &get(), &folded, false, ProtoErrorKind::HeadTooLarge);
    expect_err(limits(100, 10), &get(), &b"\r\n".repeat(60), false, ProtoErrorKind::HeadTooLarge);
}

#[test]
fn header_count_limit() {
    let three = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(check(limits(1024, 3), &get(), three, false).events.last(), Some(&Ev::End));
    let four = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 0\r\n\r\n";
    expect_err(limits(1024, 3), &get(), four, false, ProtoErrorKind::TooManyHeaders);
    expect_err(limits(1024, 0), &get(), b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n", false, ProtoErrorKind::TooManyHeaders);
}

#[test]
fn interim_heads_count_toward_the_head_limit() {
    let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
    let last = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let both = [&interim[..], last].concat();
    let fits = check(limits(both.len(), 10), &get(), &both, false);
    assert_eq!(fits.events.last(), Some(&Ev::End));
    let out = check(limits(both.len() - 1, 10), &get(), &both, false);
    assert_eq!(out.events, [Ev::Info(100, vec![]), Ev::Err(ProtoErrorKind::HeadTooLarge)]);
    // Endless 1xx responses are refused too.
    expect_err(limits(1000, 10), &get(), &interim.repeat(50), false, ProtoErrorKind::HeadTooLarge);
}

#[test]
fn trailers_count_toward_head_size_and_header_count() {
    let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nT-A: 1\r\nT-B: 2\r\n\r\n";
    let head_len = 47;
    let ok = check(limits(bytes.len(), 2), &get(), bytes, false);
    assert_eq!(ok.events[2], Ev::Trailers(f(&[("t-a", "1"), ("t-b", "2")])));
    let trailer_len = 18;
    let out = check(limits(head_len + trailer_len - 1, 2), &get(), bytes, false);
    assert_eq!(out.events.last(), Some(&Ev::Err(ProtoErrorKind::HeadTooLarge)));
    let out = check(limits(1024, 1), &get(), bytes, false);
    assert_eq!(out.events.last(), Some(&Ev::Err(ProtoErrorKind::TooManyHeaders)));
}

#[test]
fn chunk_line_limit() {
    let small = Limits { max_chunk_line: 16, ..Limits::default() };
    let fits = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=abcdefg\r\nx\r\n0\r\n\r\n";
    assert_eq!(check(small, &get(), fits, false).events.last(), Some(&Ev::End), "15-byte line fits");
    let long = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=abcdefghijklmnop\r\nx\r\n0\r\n\r\n";
    expect_err(small, &get(), long, false, ProtoErrorKind::ChunkLineTooLong);
    // A chunk-size line that never ends is refused at the limit, not buffered.
    let mut endless = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1".to_vec();
    endless.extend(std::iter::repeat_n(b'0', 40));
    expect_err(small, &get(), &endless, false, ProtoErrorKind::ChunkLineTooLong);
}

#[test]
fn body_size_limit() {
    let max = Limits { max_body_size: Some(10), ..Limits::default() };
    let fits = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
    assert_eq!(check(max, &get(), fits, false).events.last(), Some(&Ev::End));
    // Content-Length: refused at head time, before any byte of the body.
    let out = check(max, &get(), b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", false);
    assert_eq!(out.events, [Ev::Err(ProtoErrorKind::BodyTooLarge)]);
    // Chunked: refused when the chunk that crosses the limit is announced.
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n";
    let out = check(max, &get(), chunked, false);
    assert_eq!(out.events.last(), Some(&Ev::Err(ProtoErrorKind::BodyTooLarge)));
    assert!(out.events.contains(&data("012345")));
    // Read to EOF: refused before the bytes beyond the limit are handed out.
    let out = check(max, &get(), b"HTTP/1.1 200 OK\r\n\r\n0123456789A", true);
    assert_eq!(out.events.last(), Some(&Ev::Err(ProtoErrorKind::BodyTooLarge)));
    let handed_out: usize = out.events.iter().map(|e| if let Ev::Data(d) = e { d.len() } else { 0 }).sum();
    assert!(handed_out <= 10);
    // HEAD responses have no body, whatever their Content-Length says.
    let out = check(max, &method(Method::HEAD), b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", false);
    assert_eq!(out.events.last(), Some(&Ev::End));
}

// ---------------------------------------------------------------------------------------------------------
// Body framing (RFC 9112 §6.3)
// ---------------------------------------------------------------------------------------------------------

#[test]
fn responses_without_body() {
    let cases: [(Req, &[u8]); 4] = [
        (method(Method::HEAD), b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
        (method(Method::HEAD), b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        (get(), b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
        (get(), b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"),
    ];
    for (req, bytes) in cases {
        let out = check_default(&req, bytes, false);
        assert!(matches!(&out.events[..], [Ev::Head { .. }, Ev::End]), "{:?}", out.events);
        assert_eq!(out.close, None);
    }
    // Bytes after a bodiless response are not its body.
    let out = run(&get(), b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", false);
    assert!(matches!(&out.events[..], [Ev::Head { .. }, Ev::End]));
    assert_eq!(out.close, Some(CloseReason::UnsolicitedData));
}

#[test]
fn chunked_with_extensions_and_trailers() {
    let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                  5;name=value;flag\r\nhello\r\nA ; q=\"x y\"\r\n0123456789\r\n0;last\r\nX-Check: 1\r\nX-Check: 2\r\n\r\n";
    let out = check_default(&get(), bytes, false);
    assert_eq!(
        out.events,
        [
            head_ev(200, &[("transfer-encoding", "chunked")]),
            data("hello0123456789"),
            Ev::Trailers(f(&[("x-check", "1"), ("x-check", "2")])),
            Ev::End
        ]
    );
    assert_eq!(out.close, None);
    assert_eq!(out.data_events, 2, "one Data per buffered chunk");
}

#[test]
fn chunked_variants() {
    let framed = |body: &[u8]| [&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..], body].concat();
    let body = |out: &Outcome| match &out.events[..] {
        [Ev::Head { .. }, Ev::Data(d), Ev::End] => d.clone(),
        [Ev::Head { .. }, Ev::End] => Vec::new(),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(body(&check_default(&get(), &framed(b"0\r\n\r\n"), false)), b"");
    assert_eq!(body(&check_default(&get(), &framed(b"a\r\n0123456789\r\n0\r\n\r\n"), false)), b"0123456789");
    assert_eq!(body(&check_default(&get(), &framed(b"00000000000000000003\r\nabc\r\n0\r\n\r\n"), false)), b"abc");
    assert_eq!(body(&check_default(&get(), &framed(b"3\nabc\n0\n\n"), false)), b"abc", "bare LF");
    assert_eq!(body(&check_default(&get(), &framed(b"3  \r\nabc\r\n0\r\n\r\n"), false)), b"abc");
    for bad in [
        &b"+3\r\nabc\r\n0\r\n\r\n"[..],
        b"-3\r\nabc\r\n0\r\n\r\n",
        b" 3\r\nabc\r\n0\r\n\r\n",
        b"0x3\r\nabc\r\n0\r\n\r\n",
        b"\r\nabc\r\n0\r\n\r\n",
        b"3 x\r\nabc\r\n0\r\n\r\n",
        b"3;a\0b\r\nabc\r\n0\r\n\r\n",
        b"3\r\r\nabc\r\n0\r\n\r\n",
        b"10000000000000000\r\n",
        b"3\r\nabcX\r\n0\r\n\r\n",
        b"3\r\nabc\rX0\r\n\r\n",
        b"0\r\nbad trailer\r\n\r\n",
    ] {
        let out = check_default(&get(), &framed(bad), true);
        let kind = if bad.starts_with(b"0\r\n") { ProtoErrorKind::InvalidHead } else { ProtoErrorKind::InvalidChunk };
        assert_eq!(out.events.last(), Some(&Ev::Err(kind)), "{:?}", String::from_utf8_lossy(bad));
    }
    // The largest chunk size parses; the body is then simply cut short.
    let out = check_default(&get(), &framed(b"ffffffffffffffff\r\nabc"), true);
    assert_eq!(out.events.last(), Some(&Ev::Err(ProtoErrorKind::TruncatedBody)));
}

#[test]
fn transfer_encoding_final_coding_decides() {
    let out = check_default(
        &get(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n2\r\nzz\r\n0\r\n\r\n",
        false,
    );
    assert!(matches!(&out.events[..], [Ev::Head { .. }, Ev::Data(d), Ev::End] if d == b"zz"));
    assert_eq!(out.close, None);
    let split =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: ,chunked,\r\n\r\n1\r\nz\r\n0\r\n\r\n";
    assert_eq!(check_default(&get(), split, false).close, None);
    // Not chunked last: the body runs to EOF and the connection is not reusable.
    for te in ["chunked, gzip", "gzip", "identity"] {
        let bytes = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: {te}\r\n\r\n1\r\nz\r\n0\r\n\r\n");
        let out = check_default(&get(), bytes.as_bytes(), true);
        assert!(matches!(&out.events[..], [Ev::Head { .. }, Ev::Data(d), Ev::End] if d == b"1\r\nz\r\n0\r\n\r\n"));
        assert_eq!(out.close, Some(CloseReason::ReadToEof));
    }
    expect_err(
        Limits::default(),
        &get(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: , \r\n\r\n",
        false,
        ProtoErrorKind::InvalidTransferEncoding,
    );
}

#[test]
fn transfer_encoding_with_content_length_decodes_by_te_and_closes() {
    let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let out = check_default(&get(), bytes, false);
    assert!(matches!(&out.events[..], [Ev::Head { .. }, Ev::Data(d), Ev::End] if d == b"hello"));
    assert_eq!(out.close, Some(CloseReason::TransferEncodingWithLength));
    // Even an invalid Content-Length is ignored then.
    let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(check_default(&get(), bytes, false).close, Some(CloseReason::TransferEncodingWithLength));
}

#[test]
fn content_length_values() {
    let with = |values: &[&str]| {
        let mut s = String::from("HTTP/1.1 200 OK\r\n");
        for v in values {
            s.push_str(&format!("Content-Length: {v}\r\n"));
        }
        s.push_str("\r\nhello");
        s.into_bytes()
    };
    for ok in [&["5"][..], &["5", "5"], &["5, 5"], &["5,5", "5"], &["005"]] {
        let out = check_default(&get(), &with(ok), false);
        assert!(matches!(&out.events[..], [Ev::Head { .. }, Ev::Data(d), Ev::End] if d == b"hello"), "{ok:?}");
        assert_eq!(out.close, None);
    }
    for bad in [
        &["5", "6"][..],
        &["5, 6"],
        &["+5"],
        &["-5"],
        &["five"],
        &[""],
        &["5,"],
        &["5,,5"],
        &["5 5"],
        &["0x5"],
        &["18446744073709551616"],
        &["99999999999999999999999"],
    ] {
        expect_err(Limits::default(), &get(), &with(bad), false, ProtoErrorKind::InvalidContentLength);
    }
    let out = check_default(&get(), &with(&["18446744073709551615"]), true);
    assert_eq!(out.events.last(), Some(&Ev::Err(ProtoErrorKind::TruncatedBody)), "u64::MAX is a valid length");
}

#[test]
fn body_read_to_eof() {
    let out = check_default(&get(), b"HTTP/1.1 200 OK\r\nX: y\r\n\r\nall of it", true);
    assert_eq!(out.events, [head_ev(200, &[("x", "y")]), data("all of it"), Ev::End]);
    assert_eq!(out.close, Some(CloseReason::ReadToEof));
    let out = check_default(&get(), b"HTTP/1.1 200 OK\r\n\r\n", true);
    assert_eq!(out.events, [head_ev(200, &[]), Ev::End]);
    // Without EOF the body is not over.
    let mut conn = connect(Limits::default(), &get());
    feed(&mut conn, b"HTTP/1.1 200 OK\r\n\r\nsome");
    assert!(conn.wants_read());
    assert_eq!(conn.close_reason(), Some(CloseReason::Unfinished));
}

#[test]
fn truncated_bodies_are_errors() {
    let cases: [&[u8]; 5] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: 1\r\n",
    ];
    for bytes in cases {
        let out = check_default(&get(), bytes, true);
        assert_eq!(out.events.last(), Some(&Ev::Err(ProtoErrorKind::TruncatedBody)));
        assert!(!out.events.contains(&Ev::End));
    }
}

#[test]
fn eof_before_head() {
    for bytes in [&b""[..], b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", b"HTT"] {
        expect_err(Limits::default(), &get(), bytes, true, ProtoErrorKind::ClosedBeforeHead);
    }
    let mut conn = connect(Limits::default(), &get());
    conn.handle_eof();
    assert_eq!(conn.poll_event().unwrap_err().kind(), ProtoErrorKind::ClosedBeforeHead);
    assert!(!conn.response_started(), "nothing arrived: the request may be retried");
}

// ---------------------------------------------------------------------------------------------------------
// Keep-alive and connection state
// ---------------------------------------------------------------------------------------------------------

#[test]
fn keep_alive_reasons() {
    let cases: [(&[u8], Option<CloseReason>); 6] = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", None),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", Some(CloseReason::Http10)),
        (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", None),
        (b"HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nContent-Length: 0\r\n\r\n", Some(CloseReason::ResponseClose)),
        (b"HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n", None),
        (
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n",
            Some(CloseReason::Http10),
        ),
    ];
    for (bytes, reason) in cases {
        let out = check_default(&get(), bytes, false);
        assert_eq!(out.events.last(), Some(&Ev::End));
        assert_eq!(out.close, reason, "{:?}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn close_reason_through_an_exchange() {
    let mut conn = ClientConn::new(Limits::default());
    assert_eq!(conn.close_reason(), None, "fresh");
    assert!(!conn.wants_read());
    let req = get();
    conn.send_request(req.head(), req.body).unwrap();
    assert_eq!(conn.close_reason(), Some(CloseReason::Unfinished));
    take_transmit(&mut conn);
    let events = feed(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab");
    assert_eq!(events.len(), 2);
    assert_eq!(conn.close_reason(), Some(CloseReason::Unfinished), "mid-body");
    feed(&mut conn, b"cd");
    assert_eq!(conn.close_reason(), None);
    conn.start_next_cycle().unwrap();
    assert_eq!(conn.close_reason(), None, "freshly reset");

    // Bytes after End.
    conn.send_request(req.head(), req.body).unwrap();
    take_transmit(&mut conn);
    feed(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200");
    assert_eq!(conn.close_reason(), Some(CloseReason::UnsolicitedData));
    assert!(conn.start_next_cycle().is_err());

    // EOF after End.
    let mut conn = connect(Limits::default(), &req);
    feed(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    conn.handle_eof();
    assert_eq!(conn.close_reason(), Some(CloseReason::PeerClosed));

    // Bytes while idle.
    let mut conn = ClientConn::new(Limits::default());
    conn.recv_buf().extend_from_slice(b"HTTP/1.1 408 Request Timeout\r\n\r\n");
    assert_eq!(conn.close_reason(), Some(CloseReason::UnsolicitedData));
    assert!(matches!(conn.send_request(req.head(), req.body), Err(UsageError::WrongState(_))));
}

#[test]
fn start_next_cycle_only_after_a_clean_end() {
    let req = get();
    assert!(matches!(ClientConn::new(Limits::default()).start_next_cycle(), Err(UsageError::WrongState(_))));
    let mut conn = connect(Limits::default(), &req);
    assert!(matches!(conn.start_next_cycle(), Err(UsageError::WrongState(_))), "mid-exchange");
    assert!(conn.send_request(req.head(), req.body).is_err(), "the error sticks");

    let mut conn = connect(Limits::default(), &req);
    feed(&mut conn, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert!(matches!(conn.start_next_cycle(), Err(UsageError::WrongState(_))), "close reason set");

    let mut conn = connect(Limits::default(), &req);
    feed(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert!(matches!(conn.send_request(req.head(), req.body), Err(UsageError::WrongState(_))), "reset first");
}

#[test]
fn wants_read_and_recv_buf() {
    let mut conn = ClientConn::new(Limits::default());
    assert!(!conn.wants_read(), "idle");
    let spare = |conn: &mut ClientConn| {
        let buf = conn.recv_buf();
        buf.capacity() - buf.len()
    };
    assert!(spare(&mut conn) >= 8 * 1024);
    let req = get();
    conn.send_request(req.head(), req.body).unwrap();
    assert!(conn.wants_read(), "a head is expected");
    take_transmit(&mut conn);
    conn.recv_buf().extend_from_slice(&[b'H'; 1]);
    assert!(!conn.wants_read(), "new bytes: poll_event first");
    assert!(matches!(conn.poll_event(), Ok(None)));
    assert!(conn.wants_read());
    conn.recv_buf().extend_from_slice(b"TTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n");
    assert!(matches!(conn.poll_event(), Ok(Some(Event::Head(_)))));
    assert!(matches!(conn.poll_event(), Ok(None)));
    assert!(conn.wants_read(), "a body is expected");
    let mut left = 20_000;
    while left > 0 {
        assert!(conn.wants_read());
        assert!(spare(&mut conn) >= 8 * 1024);
        let n = left.min(8 * 1024);
        conn.recv_buf().extend(std::iter::repeat_n(b'x', n));
        left -= n;
        while let Ok(Some(_)) = conn.poll_event() {}
    }
    assert!(!conn.wants_read(), "all 20000 bytes arrived");
    assert_eq!(conn.close_reason(), None);
}

#[test]
fn response_started_tracks_the_current_request() {
    let req = get();
    let mut conn = connect(Limits::default(), &req);
    assert!(!conn.response_started());
    conn.recv_buf().extend_from_slice(b"H");
    assert!(conn.response_started(), "before poll_event");
    feed(&mut conn, b"TTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert!(conn.response_started());
    conn.start_next_cycle().unwrap();
    assert!(!conn.response_started());
    conn.send_request(req.head(), req.body).unwrap();
    assert!(!conn.response_started());
    feed(&mut conn, b"HTTP/1.1 100 Continue\r\n\r\n");
    assert!(conn.response_started(), "an interim response counts");
}

#[test]
fn proto_errors_stick() {
    let mut conn = connect(Limits::default(), &get());
    conn.recv_buf().extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n");
    let first = conn.poll_event().unwrap_err();
    assert_eq!(first.kind(), ProtoErrorKind::InvalidContentLength);
    conn.recv_buf().extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    conn.handle_eof();
    for _ in 0..3 {
        assert_eq!(conn.poll_event().unwrap_err(), first);
    }
    assert_eq!(conn.close_reason(), Some(CloseReason::Error));
    assert!(!conn.wants_read());
    assert!(matches!(conn.start_next_cycle(), Err(UsageError::WrongState(_))));
    assert!(matches!(conn.send_body(b"x"), Err(UsageError::WrongState(_))));
    assert!(!first.is_limit());
    assert!(first.to_string().contains("InvalidContentLength"));
}

// ---------------------------------------------------------------------------------------------------------
// Client/server pair
// ---------------------------------------------------------------------------------------------------------

#[test]
fn pair_keep_alive_session() {
    let mut conn = ClientConn::new(Limits::default());

    let req =
        Req { target: "/a?b=c", ..get() }.header("accept", "text/plain").header("x-dup", "1").header("x-dup", "2");
    let (seen, events) = exchange(&mut conn, &req, b"", 3, 5, |seen| {
        assert_eq!(seen.body, b"");
        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfirst!".to_vec()
    });
    assert_eq!((seen.method.as_str(), seen.target.as_str()), ("GET", "/a?b=c"));
    assert_eq!(seen.headers, f(&[("Host", HOST), ("accept", "text/plain"), ("x-dup", "1"), ("x-dup", "2")]));
    assert_eq!(events, [head_ev(200, &[("content-length", "6")]), data("first!"), Ev::End]);
    assert_eq!(conn.close_reason(), None);
    conn.start_next_cycle().unwrap();

    let body = b"a known-length body".repeat(10);
    let req = method(Method::POST).body(BodyLength::Known(body.len() as u64)).header("content-type", "text/plain");
    let (seen, events) = exchange(&mut conn, &req, &body, 64, 1, |seen| {
        let mut r = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for piece in seen.body.chunks(70) {
            r.extend(format!("{:x};n=v\r\n", piece.len()).bytes());
            r.extend(piece);
            r.extend(b"\r\n");
        }
        r.extend(b"0\r\nDigest: x\r\n\r\n");
        r
    });
    assert_eq!(seen.body, body);
    assert!(seen.headers.contains(&("Content-Length".into(), body.len().to_string().into_bytes())));
    assert_eq!(events.len(), 4);
    assert_eq!(events[1], Ev::Data(body.clone()), "echoed");
    assert_eq!(events[2], Ev::Trailers(f(&[("digest", "x")])));
    conn.start_next_cycle().unwrap();

    let req = method(Method::PUT).body(BodyLength::Chunked).header("expect", "100-continue");
    conn.send_request(req.head(), req.body).unwrap();
    let mut wire = take_transmit(&mut conn);
    let seen_head = {
        let mut slots = [httparse::EMPTY_HEADER; 8];
        let mut r = httparse::Request::new(&mut slots);
        assert!(r.parse(&wire).unwrap().is_complete());
        r.headers.iter().any(|h| h.name == "expect")
    };
    assert!(seen_head && !conn.wants_body());
    assert_eq!(feed(&mut conn, b"HTTP/1.1 100 Continue\r\n\r\n"), [Ev::Info(100, vec![])]);
    for piece in [&b"chunk one "[..], b"", b"chunk two"] {
        conn.send_body(piece).unwrap();
    }
    conn.finish_body().unwrap();
    wire.extend(take_transmit(&mut conn));
    let seen = server_read(&mut wire).unwrap();
    assert_eq!(seen.body, b"chunk one chunk two");
    assert_eq!(seen.trailers_len, 2);
    let events = feed(&mut conn, b"HTTP/1.1 204 No Content\r\n\r\n");
    assert!(matches!(events[..], [Ev::Head { status: 204, .. }, Ev::End]));
    assert_eq!(conn.close_reason(), None);
    conn.start_next_cycle().unwrap();

    let req = get().header("connection", "close");
    let (_, events) = exchange(&mut conn, &req, b"", 1000, 1000, |_| b"HTTP/1.1 200 OK\r\n\r\nbye".to_vec());
    assert_eq!(events, [head_ev(200, &[]), data("bye")]);
    conn.handle_eof();
    assert!(matches!(conn.poll_event(), Ok(Some(Event::End))));
    assert_eq!(conn.close_reason(), Some(CloseReason::RequestClose));
}

// ---------------------------------------------------------------------------------------------------------
// Hostile bytes
// ---------------------------------------------------------------------------------------------------------

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn hostile_bytes_never_panic_or_hang() {
    let seeds: [&[u8]; 8] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nrest",
        b"HTTP/1.0 200 OK\r\nX: a\r\n b\r\n\r\nto eof",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
        b"\r\nHTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    ];
    let alphabet = b"\r\n :;,0123456789abcdefxHTP/1.-+\t\0\x80\xff";
    let methods = [Method::GET, Method::HEAD, Method::CONNECT];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..4000 {
        let mut bytes = seeds[rng.below(seeds.len())].to_vec();
        if round % 10 == 0 {
            bytes = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        }
        for _ in 0..rng.below(4) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(5) {
                0 if at < bytes.len() => bytes[at] = alphabet[rng.below(alphabet.len())],
                1 => bytes.insert(at, alphabet[rng.below(alphabet.len())]),
                2 if at < bytes.len() => {
                    bytes.remove(at);
                }
                3 if !bytes.is_empty() => {
                    let from = rng.below(bytes.len());
                    let len = rng.below(bytes.len() - from + 1);
                    let copy = bytes[from..from + len].to_vec();
                    bytes.splice(at..at, copy);
                }
                _ => bytes.truncate(at),
            }
        }
        // Mostly default limits, so that mutated responses get past the head; sometimes tiny ones.
        let tiny = rng.below(4) == 0;
        let limits = if tiny {
            Limits {
                max_head_size: [16, 64, 256][rng.below(3)],
                max_headers: [0, 1, 3][rng.below(3)],
                max_chunk_line: [1, 4, 16][rng.below(3)],
                max_body_size: [None, Some(0), Some(4)][rng.below(3)],
            }
        } else {
            Limits::default()
        };
        let req = method(methods[rng.below(methods.len())].clone());
        let req = if req.method == Method::CONNECT { Req { target: "h:1", ..req } } else { req };
        let mut chunks = Vec::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(16));
            chunks.push(&rest[..n]);
            rest = &rest[n..];
        }
        // run_chunks asserts that the exchange ends after EOF and that no stall leaves wants_read false.
        let out = run_chunks(limits, &req, &chunks, true);
        assert!(!out.events.is_empty(), "round {round}");
        // However the bytes were split, the outcome is the same as fed whole.
        let whole = run_chunks(limits, &req, &[&bytes], true);
        assert_eq!(out.normalized(), whole.normalized(), "round {round}: {:?}", String::from_utf8_lossy(&bytes));
    }
}

/// `HeaderFields::to_header_map` relies on the parser admitting only what `http` accepts: tried with every
/// byte inside a name and inside a value. A field the parser takes must reach the map unchanged.
#[test]
fn every_parsed_field_reaches_the_header_map() {
    for b in 0..=255u8 {
        for (name, value) in [(vec![b'X', b, b'T'], b"v".to_vec()), (b"X-T".to_vec(), vec![b'a', b, b'b'])] {
            let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
            bytes.extend_from_slice(&name);
            bytes.extend_from_slice(b": ");
            bytes.extend_from_slice(&value);
            bytes.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
            let mut conn = connect(Limits::default(), &get());
            conn.recv_buf().extend_from_slice(&bytes);
            let Ok(Some(Event::Head(head))) = conn.poll_event() else { continue };
            let map = head.headers.to_header_map();
            assert_eq!(map.len(), head.headers.len(), "byte {b:#04x}: a field was dropped");
            let (raw_name, raw_value) = head.headers.iter().next().unwrap();
            let got = map.get(std::str::from_utf8(raw_name).unwrap()).expect("field in the map");
            assert_eq!(got.as_bytes(), raw_value, "byte {b:#04x}");
        }
    }
}

/// Direct chunks (the driver writes the data itself) mixed with framed ones give a well-formed body;
/// a direct chunk's data may go out in pieces, partly through `send_body`.
#[test]
fn direct_chunks_mix_with_framed_ones() {
    let req = method(Method::POST).body(BodyLength::Chunked);
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(req.head(), req.body).unwrap();
    take_transmit(&mut conn);
    assert_eq!(conn.begin_chunk(0), Ok(false), "an empty chunk would end the body");
    assert_eq!(conn.send_body(b"abc"), Ok(3));
    assert_eq!(conn.begin_chunk(10), Ok(true));
    assert_eq!(conn.body_direct_room(), 10);
    assert!(conn.advance_body(4).is_err(), "the size line is not written yet");
    let mut conn = ClientConn::new(Limits::default());
    conn.send_request(req.head(), req.body).unwrap();
    let mut wire = take_transmit(&mut conn);
    conn.send_body(b"abc").unwrap();
    conn.begin_chunk(10).unwrap();
    wire.extend(take_transmit(&mut conn));
    wire.extend_from_slice(b"0123");
    conn.advance_body(4).unwrap();
    assert_eq!(conn.body_direct_room(), 6);
    assert_eq!(conn.send_body(b"456789xyz"), Ok(6), "send_body finishes the open chunk only");
    assert_eq!(conn.body_direct_room(), 0);
    assert_eq!(conn.send_body(b"xyz"), Ok(3));
    let mut conn2 = ClientConn::new(Limits::default());
    conn2.send_request(req.head(), req.body).unwrap();
    conn2.begin_chunk(5).unwrap();
    assert!(conn2.finish_body().is_err(), "a chunk's data is owed");
    conn.finish_body().unwrap();
    wire.extend(take_transmit(&mut conn));
    let seen = server_read(&mut wire).expect("complete request");
    assert_eq!(seen.body, b"abc0123456789xyz");
}

/// An empty trailer section (the usual end of a chunked body) counts against `max_head_size` like any.
#[test]
fn empty_trailer_section_counts_toward_head_size() {
    let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
    let head_len = 47;
    let ok = check(limits(head_len + 2, 2), &get(), bytes, false);
    assert_eq!(ok.events[1..], [data("x"), Ev::End]);
    let lf_only = check(limits(head_len + 1, 2), &get(), &bytes[..bytes.len() - 2], false);
    assert_eq!(lf_only.events.last(), Some(&Ev::Data(b"x".to_vec())), "waits for the section");
    let lf = [&bytes[..bytes.len() - 2], &b"\n"[..]].concat();
    assert_eq!(check(limits(head_len + 1, 2), &get(), &lf, false).events[1..], [data("x"), Ev::End]);
    let out = check(limits(head_len + 1, 2), &get(), bytes, false);
    assert_eq!(out.events.last(), Some(&Ev::Err(ProtoErrorKind::HeadTooLarge)));
}

/// The first read of an exchange is body-sized only when the previous response's body needed reads of
/// its own; the large buffer is not kept between exchanges.
#[test]
fn first_read_is_large_after_a_body_that_needed_reads() {
    fn spare(conn: &mut ClientConn) -> usize {
        let buf = conn.recv_buf();
        buf.capacity() - buf.len()
    }
    let mut conn = connect(Limits::default(), &get());
    assert!(spare(&mut conn) < 64 * 1024, "a fresh connection reads small");
    let events = feed(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab");
    assert_eq!(events[1..], [data("ab")]);
    assert!(spare(&mut conn) >= 64 * 1024, "body reads are large");
    assert_eq!(feed(&mut conn, b"c"), [data("c"), Ev::End]);
    conn.start_next_cycle().unwrap();
    assert!(conn.recv_buf().capacity() <= 16 * 1024, "no large buffer held between exchanges");
    conn.send_request(get().head(), BodyLength::None).unwrap();
    take_transmit(&mut conn);
    assert!(spare(&mut conn) >= 64 * 1024, "the body needed a read: the next head read is large");
    let events = feed(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
    assert_eq!(events[1..], [data("x"), Ev::End]);
    conn.start_next_cycle().unwrap();
    conn.send_request(get().head(), BodyLength::None).unwrap();
    take_transmit(&mut conn);
    assert!(spare(&mut conn) < 64 * 1024, "the body came with its head: back to small reads");
}

/// A final direct chunk ends the body: its data, CRLF and the last chunk can go out in one vectored write
/// (`body_direct_suffix`), counted by `advance_vectored` however the write was cut.
#[test]
fn last_direct_chunk_ends_the_body_in_one_write() {
    let req = method(Method::POST).body(BodyLength::Chunked);
    let data = b"0123456789";
    for cut in 0..200 {
        let mut conn = ClientConn::new(Limits::default());
        conn.send_request(req.head(), req.body).unwrap();
        conn.send_body(b"abc").unwrap();
        assert_eq!(conn.begin_last_chunk(data.len()), Ok(true));
        assert_eq!(conn.body_direct_suffix(), b"\r\n0\r\n\r\n");
        // One vectored write of everything, cut after `cut` bytes; the rest goes out in later writes.
        let mut wire = Vec::new();
        let mut body = &data[..];
        let mut first = true;
        while !body.is_empty() || conn.poll_transmit().is_some() {
            let queued = conn.poll_transmit().unwrap_or_default().to_vec();
            let suffix = if body.len() as u64 == conn.body_direct_room() { conn.body_direct_suffix() } else { &[] };
            let all = [&queued[..], body, suffix].concat();
            let n = if first { cut.min(all.len()) } else { all.len() };
            first = false;
            wire.extend_from_slice(&all[..n]);
            let took = conn.advance_vectored(n).unwrap();
            body = &body[took..];
        }
        assert!(!conn.wants_body(), "the body is complete");
        assert!(conn.finish_body().is_ok(), "finish_body after the end is harmless");
        let seen = server_read(&mut wire).expect("complete request");
        assert_eq!(seen.body, b"abc0123456789", "cut at {cut}");
        assert!(wire.is_empty(), "nothing after the request (cut at {cut})");
    }
    // A Content-Length body has no suffix; a write past the direct bytes is refused.
    let mut conn = ClientConn::new(Limits::default());
    let req = method(Method::POST).body(BodyLength::Known(3));
    conn.send_request(req.head(), req.body).unwrap();
    assert_eq!(conn.body_direct_suffix(), b"");
    assert_eq!(conn.begin_last_chunk(3), Ok(false), "not chunked");
    let head = conn.poll_transmit().unwrap().len();
    assert!(conn.advance_vectored(head + 4).is_err());
    // Not between chunks: nothing happens.
    let mut conn = ClientConn::new(Limits::default());
    let req = method(Method::POST).body(BodyLength::Chunked);
    conn.send_request(req.head(), req.body).unwrap();
    conn.begin_chunk(2).unwrap();
    assert_eq!(conn.body_direct_suffix(), b"\r\n");
    assert_eq!(conn.begin_last_chunk(2), Ok(false), "inside a chunk");
}

#[test]
fn chunk_size_lines_are_lowercase_hex() {
    for (len, line) in
        [(1, "1\r\n"), (15, "f\r\n"), (16, "10\r\n"), (0xabcdef, "abcdef\r\n"), (usize::MAX, "ffffffffffffffff\r\n")]
    {
        let mut buf = bytes::BytesMut::new();
        encode::encode_chunk_size(&mut buf, len);
        assert_eq!(&buf[..], line.as_bytes());
    }
}

#[test]
fn a_whole_content_length_body_is_taken_at_once() {
    let req = get();
    let mut conn = connect(Limits::default(), &req);
    assert_eq!(conn.take_whole_body(), None, "no head yet");
    conn.recv_buf().extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel");
    assert!(matches!(conn.poll_event(), Ok(Some(Event::Head(_)))));
    assert_eq!(conn.take_whole_body(), None, "two bytes missing");
    conn.recv_buf().extend_from_slice(b"lo");
    assert_eq!(conn.take_whole_body().as_deref(), Some(&b"hello"[..]));
    assert!(matches!(conn.poll_event(), Ok(None)), "End is not reported again");
    assert_eq!(conn.close_reason(), None);
    conn.start_next_cycle().expect("reusable");

    // An empty body, and one whose start was already handed out as Data.
    let mut conn = connect(Limits::default(), &req);
    conn.recv_buf().extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
    assert!(matches!(conn.poll_event(), Ok(Some(Event::Head(_)))));
    assert_eq!(conn.take_whole_body().as_deref(), Some(&b""[..]));
    conn.start_next_cycle().expect("reusable");
    let mut conn = connect(Limits::default(), &req);
    conn.recv_buf().extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab");
    assert!(matches!(conn.poll_event(), Ok(Some(Event::Head(_)))));
    assert!(matches!(conn.poll_event(), Ok(Some(Event::Data(d))) if d == "ab"));
    conn.recv_buf().extend_from_slice(b"cdHTTP");
    assert_eq!(conn.take_whole_body().as_deref(), Some(&b"cd"[..]));
    assert_eq!(conn.close_reason(), Some(CloseReason::UnsolicitedData));

    // Chunked and read-to-EOF bodies go through poll_event.
    for response in
        [&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..], b"HTTP/1.1 200 OK\r\n\r\nx"]
    {
        let mut conn = connect(Limits::default(), &req);
        conn.recv_buf().extend_from_slice(response);
        assert!(matches!(conn.poll_event(), Ok(Some(Event::Head(_)))));
        assert_eq!(conn.take_whole_body(), None);
        assert!(matches!(conn.poll_event(), Ok(Some(_))));
    }
}
