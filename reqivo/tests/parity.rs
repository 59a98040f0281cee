//! Behaviour tests: every scenario runs against both the async and the blocking API (one body, two
//! drivers: `NAME::async_driver` and `NAME::sync_driver`), against servers we did not write (hyper 1,
//! Python's `http.server`) except where a misbehaving peer is the point (never answering, dripping,
//! malformed or truncated responses).

#[macro_use]
mod support;

use std::time::Duration;

use reqivo::{ErrorKind, StatusCode, TimeoutPhase, Version};
use serde_json::json;
use support::hyper_server::{gzip_body, HyperServer, GZIP_REPEAT, GZIP_TEXT};
use support::python::{PythonServer, FILE_BODY};
use support::raw::{Behaviour, RawServer};
use support::{echo_headers, expect_kind, fnv1a, ms, pattern, Client, Driver, Opts, ReadMode, Req};

fn client(d: Driver) -> Client {
    Client::new(d, &Opts::new()).expect("default session builds")
}

parity!(get_basic, |d| {
    let server = HyperServer::start();
    let url = server.url("/hello");
    let o = support::run(d, &Opts::new(), Req::get(&url)).unwrap();
    assert_eq!(o.status, StatusCode::OK);
    assert_eq!(o.reason, b"OK");
    assert_eq!(o.version, Version::HTTP_11);
    assert_eq!(o.body, b"hello world");
    assert_eq!(o.header("x-test"), Some("yes"));
    assert_eq!(o.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(o.content_length, Some(11));
    assert_eq!(o.remote_addr, Some(server.addr()));
    assert_eq!(o.url, url);
});

parity!(connection_reuse, |d| {
    let server = HyperServer::start();
    let c = client(d);
    for _ in 0..3 {
        let o = c.fetch(Req::get(server.url("/hello"))).unwrap();
        assert_eq!(o.body, b"hello world");
    }
    assert_eq!(server.conns(), 1, "three sequential GETs must share one connection");
    let stats = c.pool_stats();
    assert_eq!((stats.opened, stats.reused), (1, 2), "{stats:?}");
    assert_eq!((stats.idle, stats.in_use), (1, 0), "{stats:?}");
});

parity!(post_with_body, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let o = c.fetch(Req::post(server.url("/echo")).body("hello there")).unwrap();
    let echo = o.echo();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body"], "hello there");
    assert_eq!(echo["content_length"], "11");
    assert_eq!(echo["chunked"], false);
    // An empty PUT still says how long its body is.
    let o = c.fetch(Req::new(reqivo::Method::PUT, server.url("/echo"))).unwrap();
    assert_eq!(o.echo()["content_length"], "0");
    // A GET without a body sends no framing header at all.
    let o = c.fetch(Req::get(server.url("/echo"))).unwrap();
    assert_eq!(o.echo()["content_length"], serde_json::Value::Null);
    assert_eq!(o.echo()["chunked"], false);
});

parity!(json_body_and_json_response, |d| {
    let server = HyperServer::start();
    let value = json!({"name": "reqivo", "n": [1, 2, 3], "nested": {"ok": true, "none": null}, "text": "ünïcödé"});
    let o =
        support::run(d, &Opts::new(), Req::post(server.url("/echo")).json(value.clone()).read(ReadMode::Json)).unwrap();
    let echo = o.echo();
    assert_eq!(echo_headers(&echo, "content-type"), ["application/json"]);
    let sent: serde_json::Value = serde_json::from_str(echo["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent, value);
    assert_eq!(echo["content_length"], echo["body_len"].to_string().as_str());
});

parity!(form_body, |d| {
    let server = HyperServer::start();
    let req = Req::post(server.url("/echo")).form(&[("name", "J Doe"), ("q", "a&b=c"), ("u", "ü/?")]);
    let echo = support::run(d, &Opts::new(), req).unwrap().echo();
    assert_eq!(echo_headers(&echo, "content-type"), ["application/x-www-form-urlencoded"]);
    assert_eq!(echo["body"], "name=J+Doe&q=a%26b%3Dc&u=%C3%BC%2F%3F");
});

parity!(query_params_encoding, |d| {
    let server = HyperServer::start();
    let req = Req::get(server.url("/echo?x=1")).query("a b", "c&d").query("ü", "1/2=3").query("empty", "");
    let echo = support::run(d, &Opts::new(), req).unwrap().echo();
    assert_eq!(echo["path"], "/echo");
    assert_eq!(echo["query"], "x=1&a+b=c%26d&%C3%BC=1%2F2%3D3&empty=");
});

parity!(chunked_response_via_chunk, |d| {
    let server = HyperServer::start();
    let o =
        support::run(d, &Opts::new(), Req::get(server.url("/chunked?n=8&size=1000&delay_ms=5")).read(ReadMode::Chunks))
            .unwrap();
    assert_eq!(o.content_length, None);
    assert!(o.header("transfer-encoding").is_some_and(|te| te.contains("chunked")), "{:?}", o.headers);
    assert_eq!(o.body.len(), 8000);
    assert!(o.body == pattern(0, 8000), "chunked body content differs");
    assert!(o.pieces >= 2, "frames sent 5 ms apart arrived as {} piece(s)", o.pieces);
});

parity!(chunked_response_via_reader, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let o = c.fetch(Req::get(server.url("/chunked?n=8&size=1000&delay_ms=5")).read(ReadMode::Reader(333))).unwrap();
    assert!(o.body == pattern(0, 8000), "body read through AsyncRead/io::Read differs");
    assert!(o.pieces >= 8000 / 333, "a 333-byte buffer cannot hold more than 333 bytes per read");
    // The body was read to its end through the reader: the connection went back to the pool.
    let o = c.fetch(Req::get(server.url("/hello"))).unwrap();
    assert_eq!(o.body, b"hello world");
    assert_eq!(server.conns(), 1);
});

parity!(streaming_upload, |d| {
    let server = HyperServer::start();
    let (pieces, size) = (16, 4096);
    let o = support::run(d, &Opts::new(), Req::post(server.url("/echo")).stream(pieces, size)).unwrap();
    let echo = o.echo();
    assert_eq!(echo["chunked"], true, "a streamed body must go out chunked");
    assert_eq!(echo["content_length"], serde_json::Value::Null);
    assert_eq!(echo["body_len"], pieces * size);
    assert_eq!(echo["body_fnv"], format!("{:016x}", fnv1a(&pattern(0, pieces * size))));
});

// A body stream whose pieces are all ready at once, then ends: the async driver batches them (several
// chunks' worth per write, the end of the body in the same write); the blocking one reads them with its
// own buffer. Empty pieces, more pieces than one write takes, small and large batches.
parity!(streamed_upload_of_ready_pieces, |d| {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;

    struct Ready(std::collections::VecDeque<Bytes>);
    impl futures_core::Stream for Ready {
        type Item = std::io::Result<Bytes>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.get_mut().0.pop_front().map(Ok))
        }
    }

    let server = HyperServer::start();
    let url = server.url("/echo");
    let many = vec![3000; 40];
    let all: [&[usize]; 6] = [&[16384; 4], &[100, 0, 200, 300], &[5000, 0, 7], &[0], &[200_000], &many];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let async_session = reqivo::AsyncSession::builder().build().unwrap();
    let sync_session = reqivo::Session::builder().build().unwrap();
    for sizes in all {
        let total: usize = sizes.iter().sum();
        let data = pattern(0, total);
        let mut pieces = std::collections::VecDeque::new();
        let mut at = 0;
        for &n in sizes {
            pieces.push_back(Bytes::copy_from_slice(&data[at..at + n]));
            at += n;
        }
        let body = match d {
            Driver::Async => rt.block_on(async {
                let resp = async_session.post(&url).body_stream(Ready(pieces)).send().await.unwrap();
                resp.bytes().await.unwrap()
            }),
            Driver::Sync => {
                let resp = sync_session.post(&url).body_stream(std::io::Cursor::new(data.clone())).send().unwrap();
                resp.bytes().unwrap()
            }
        };
        let echo: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(echo["chunked"], true, "{sizes:?}");
        assert_eq!(echo["body_len"], total, "{sizes:?}");
        assert_eq!(echo["body_fnv"], format!("{:016x}", fnv1a(&data)), "{sizes:?}");
    }
    assert_eq!(server.conns(), 1, "every upload left its connection clean");
});

/// Streams `bytes` from hyper, counting with `chunk()`, and checks the RSS stays flat.
fn big_download(d: Driver, bytes: u64, max_growth_mib: u64) {
    let server = HyperServer::start();
    let o = support::run(
        d,
        &Opts::new(),
        Req::get(server.url(&format!("/big?bytes={bytes}"))).read(ReadMode::Count { rss: true }),
    )
    .unwrap();
    assert_eq!(o.body_len, bytes);
    let growth = o.rss_growth_kib.expect("VmRSS readable");
    let secs = o.elapsed.as_secs_f64();
    println!(
        "{d:?}: {} MiB in {secs:.2} s ({:.0} MiB/s), {} pieces, RSS growth {} KiB",
        bytes >> 20,
        (bytes >> 20) as f64 / secs,
        o.pieces,
        growth
    );
    assert!(growth < max_growth_mib * 1024, "RSS grew by {growth} KiB while streaming {bytes} bytes");
}

// 1 GiB takes about a second over loopback even in a debug build (measured: ~1.5 GB/s on 2 cores), so it
// runs with every `cargo test`; the watchdog allows a slow machine ten minutes.
parity!(big_download_1gib, limit = 600, |d| {
    big_download(d, 1 << 30, 64);
});

parity!(head_request_has_no_body, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let o = c.fetch(Req::head(server.url("/hello")).read(ReadMode::Chunks)).unwrap();
    assert_eq!(o.status, StatusCode::OK);
    assert_eq!(o.content_length, Some(11), "hyper announces the GET length on HEAD: {:?}", o.headers);
    assert!(o.body.is_empty());
    // The connection is clean: the next request reuses it.
    let o = c.fetch(Req::get(server.url("/hello"))).unwrap();
    assert_eq!(o.body, b"hello world");
    assert_eq!(server.conns(), 1);
});

parity!(status_204_no_content, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let o = c.fetch(Req::get(server.url("/status/204")).read(ReadMode::Chunks)).unwrap();
    assert_eq!(o.status, StatusCode::NO_CONTENT);
    assert!(o.body.is_empty());
    assert_eq!(c.fetch(Req::get(server.url("/hello"))).unwrap().body, b"hello world");
    assert_eq!(server.conns(), 1);
});

parity!(status_304_not_modified, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let o = c.fetch(Req::get(server.url("/status/304")).header("if-none-match", "\"v1\"")).unwrap();
    assert_eq!(o.status, StatusCode::NOT_MODIFIED);
    assert_eq!(o.header("etag"), Some("\"v1\""));
    assert!(o.body.is_empty());
    assert_eq!(c.fetch(Req::get(server.url("/hello"))).unwrap().body, b"hello world");
    assert_eq!(server.conns(), 1);
});

parity!(connection_close_response, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let o = c.fetch(Req::get(server.url("/close"))).unwrap();
    assert_eq!(o.body, b"closing");
    assert_eq!(o.header("connection"), Some("close"));
    let o = c.fetch(Req::get(server.url("/hello"))).unwrap();
    assert_eq!(o.body, b"hello world");
    assert_eq!(server.conns(), 2, "a `Connection: close` response must not be reused");
    let stats = c.pool_stats();
    assert_eq!((stats.opened, stats.reused), (2, 0), "{stats:?}");
});

parity!(http10_server, |d| {
    let Some(py) = PythonServer::start() else { return };
    let c = client(d);
    let o = c.fetch(Req::get(py.url("/file.txt"))).unwrap();
    assert_eq!(o.status, StatusCode::OK);
    assert_eq!(o.version, Version::HTTP_10);
    assert_eq!(o.body_str(), FILE_BODY);
    assert_eq!(o.content_length, Some(FILE_BODY.len() as u64));
    // HTTP/1.0 without keep-alive: every request needs a new connection.
    let o = c.fetch(Req::get(py.url("/file.txt"))).unwrap();
    assert_eq!(o.body_str(), FILE_BODY);
    // A body with no length, delimited by the server closing the connection.
    let o = c.fetch(Req::get(py.url("/eof")).read(ReadMode::Chunks)).unwrap();
    assert_eq!(o.content_length, None);
    assert_eq!(o.body_str(), "read until eof ".repeat(100));
    let o = c.fetch(Req::head(py.url("/file.txt"))).unwrap();
    assert_eq!(o.content_length, Some(FILE_BODY.len() as u64));
    assert!(o.body.is_empty());
    let o = c.fetch(Req::get(py.url("/missing"))).unwrap();
    assert_eq!(o.status, StatusCode::NOT_FOUND);
    let stats = c.pool_stats();
    assert_eq!((stats.opened, stats.reused, stats.in_use), (5, 0, 0), "{stats:?}");
});

parity!(read_timeout_silent_server, |d| {
    let server = RawServer::start(Behaviour::Silent);
    let start = std::time::Instant::now();
    let r = support::run(d, &Opts::new().read_timeout(ms(300)), Req::get(server.url("/")));
    let e = expect_kind(r, ErrorKind::Timeout(TimeoutPhase::ResponseHead));
    let took = start.elapsed();
    assert!(e.is_timeout());
    assert!(took >= ms(250) && took < ms(1500), "read timeout of 300 ms fired after {took:?}");
    assert!(e.url().is_some(), "the error names the URL: {e:?}");
});

/// Async only: the read timer is not polled again while it holds the waiting task's waker. A body whose read
/// started waiting in one task and goes on in another must still time out (its timer is polled again with
/// the new task's waker).
#[test]
fn read_timeout_holds_when_the_body_moves_to_another_task() {
    let server = RawServer::start(Behaviour::Drip {
        head: "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
        every: Duration::from_secs(3),
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let session = reqivo::AsyncSession::builder().read_timeout(ms(300)).build().unwrap();
        let mut resp = session.get(server.url("/")).send().await.unwrap();
        // The read waits in this task (its timer takes this task's waker), then is given up on.
        assert!(tokio::time::timeout(ms(50), resp.chunk()).await.is_err(), "no body byte yet");
        let start = std::time::Instant::now();
        let r = tokio::spawn(async move { resp.chunk().await }).await.unwrap();
        let e = r.expect_err("the read times out before the next byte (3 s)");
        assert_eq!(e.kind(), ErrorKind::Timeout(TimeoutPhase::Body));
        let took = start.elapsed();
        assert!(took < ms(2000), "read timeout of 300 ms fired after {took:?}");
    });
}

parity!(write_timeout_small_pieces_peer_not_reading, |d| {
    // The same with a stream of small pieces: they are framed into the transmit buffer, and it is the
    // flush of that buffer that blocks and must time out in the write phase.
    let peer = support::SilentPeer::start();
    let addr = peer.addr;
    let start = std::time::Instant::now();
    // 2000-byte pieces: a batch of them stays under the size that is written straight from the pieces.
    let req = Req::post(format!("http://{addr}/")).stream(32 << 10, 2000);
    let r = support::run(d, &Opts::new().read_timeout(ms(300)), req);
    expect_kind(r, ErrorKind::Timeout(TimeoutPhase::Write));
    // Bounded, though not tightly: producing the pieces until the socket buffers are full takes a while
    // in a debug build.
    let took = start.elapsed();
    assert!(took >= ms(250) && took < ms(30_000), "write timeout of 300 ms fired after {took:?}");
    drop(peer);
});

parity!(write_timeout_peer_not_reading, |d| {
    // A peer that accepts and never reads: the upload fills the socket buffers, and the read timeout (which
    // also bounds a blocked write) fires in the write phase.
    let peer = support::SilentPeer::start();
    let addr = peer.addr;
    let start = std::time::Instant::now();
    let req = Req::post(format!("http://{addr}/")).body(vec![b'x'; 64 << 20]);
    let r = support::run(d, &Opts::new().read_timeout(ms(300)), req);
    expect_kind(r, ErrorKind::Timeout(TimeoutPhase::Write));
    let took = start.elapsed();
    assert!(took >= ms(250) && took < ms(3000), "write timeout of 300 ms fired after {took:?}");
    drop(peer);
});

parity!(total_timeout_slow_drip, |d| {
    let server =
        RawServer::start(Behaviour::Drip { head: "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", every: ms(100) });
    let c = client(d);
    let r = c.fetch(Req::get(server.url("/")).timeout(ms(700)));
    let e = expect_kind(r, ErrorKind::Timeout(TimeoutPhase::Body));
    assert!(e.is_timeout());
    // The read gap (300 ms) never elapses — a byte comes every 100 ms — so only the total deadline fires.
    let start = std::time::Instant::now();
    let r = c.fetch(Req::get(server.url("/")).read_timeout(ms(300)).timeout(ms(1000)));
    expect_kind(r, ErrorKind::Timeout(TimeoutPhase::Body));
    let took = start.elapsed();
    assert!(took >= ms(900) && took < ms(2000), "total timeout of 1 s fired after {took:?}");
    assert_eq!(c.pool_stats().in_use, 0);
});

parity!(total_timeout_is_prompt, |d| {
    let server =
        RawServer::start(Behaviour::Drip { head: "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", every: ms(100) });
    let start = std::time::Instant::now();
    let r = support::run(d, &Opts::new().timeout(ms(700)), Req::get(server.url("/")));
    expect_kind(r, ErrorKind::Timeout(TimeoutPhase::Body));
    let took = start.elapsed();
    assert!(took >= ms(650) && took < ms(1500), "total timeout of 700 ms fired after {took:?}");
});

parity!(header_injection_rejected, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let r = c.fetch(Req::get(server.url("/echo")).header("x-evil", "a\r\nInjected: yes"));
    expect_kind(r, ErrorKind::InvalidRequest);
    let r = c.fetch(Req::get(server.url("/echo")).header("x-evil", "a\nb"));
    expect_kind(r, ErrorKind::InvalidRequest);
    let r = c.fetch(Req::get(server.url("/echo")).header("bad name", "v"));
    expect_kind(r, ErrorKind::InvalidRequest);
    let r = Client::new(d, &Opts::new().default_header("x-evil", "a\r\nb"));
    assert_eq!(r.err().map(|e| e.kind()), Some(ErrorKind::InvalidRequest));
    std::thread::sleep(ms(50));
    assert_eq!(server.conns(), 0, "nothing may reach the server");
});

parity!(body_over_limit_rejected, |d| {
    let server = HyperServer::start();
    let c = Client::new(d, &Opts::new().max_body_size(1000)).unwrap();
    let o = c.fetch(Req::get(server.url("/bytes?n=1000"))).unwrap();
    assert_eq!(o.body.len(), 1000, "a body of exactly the limit is fine");
    expect_kind(c.fetch(Req::get(server.url("/bytes?n=5000"))), ErrorKind::TooLarge);
    expect_kind(
        c.fetch(Req::get(server.url("/chunked?n=8&size=1000&delay_ms=1")).read(ReadMode::Chunks)),
        ErrorKind::TooLarge,
    );
    // The limit applies to decoded bytes.
    let c = Client::new(d, &Opts::new().max_body_size(100)).unwrap();
    expect_kind(c.fetch(Req::get(server.url("/gzip"))), ErrorKind::TooLarge);
    assert_eq!(c.pool_stats().in_use, 0);
});

parity!(truncated_body_is_an_error, |d| {
    let mut reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec();
    reply.extend_from_slice(b"0123456789");
    let server = RawServer::start(Behaviour::Reply(reply));
    let c = client(d);
    for mode in [ReadMode::Bytes, ReadMode::Chunks, ReadMode::Reader(64), ReadMode::Text] {
        let r = c.fetch(Req::get(server.url("/")).read(mode));
        let e = expect_kind(r, ErrorKind::Protocol);
        assert!(e.is_protocol());
    }
    // Chunked, cut off before the last chunk.
    let server = RawServer::start(Behaviour::Reply(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n".to_vec(),
    ));
    expect_kind(c.fetch(Req::get(server.url("/"))), ErrorKind::Protocol);
    assert_eq!(c.pool_stats().in_use, 0);
});

parity!(malformed_responses_are_protocol_errors, |d| {
    let c = client(d);
    for reply in [
        &b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
    ] {
        let server = RawServer::start(Behaviour::Reply(reply.to_vec()));
        let r = c.fetch(Req::get(server.url("/")));
        match r {
            Err(e) => assert_eq!(e.kind(), ErrorKind::Protocol, "reply {:?}: {e:?}", String::from_utf8_lossy(reply)),
            Ok(o) => panic!("reply {:?} was accepted: {o:?}", String::from_utf8_lossy(reply)),
        }
    }
});

parity!(redirect_302_to_200, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let o = c.fetch(Req::get(server.url("/redirect/302?to=/hello"))).unwrap();
    assert_eq!(o.status, StatusCode::OK);
    assert_eq!(o.body, b"hello world");
    assert_eq!(o.url, server.url("/hello"), "url() is the URL that answered");
    assert_eq!(server.conns(), 1, "the small redirect body is drained and the connection reused");
    // Without following, the 3xx itself is delivered.
    let c = Client::new(d, &Opts::new().follow_redirects(false)).unwrap();
    let o = c.fetch(Req::get(server.url("/redirect/302?to=/hello"))).unwrap();
    assert_eq!(o.status, StatusCode::FOUND);
    assert_eq!(o.header("location"), Some("/hello"));
});

parity!(redirect_303_post_becomes_get, |d| {
    let server = HyperServer::start();
    let o = support::run(d, &Opts::new(), Req::post(server.url("/redirect/303?to=/echo")).body("payload")).unwrap();
    let echo = o.echo();
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["body_len"], 0);
    assert_eq!(echo["content_length"], serde_json::Value::Null);
    assert!(echo_headers(&echo, "content-type").is_empty());
});

parity!(redirect_307_keeps_post_body, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let o = c.fetch(Req::post(server.url("/redirect/307?to=/echo")).body("payload")).unwrap();
    let echo = o.echo();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body"], "payload");
    assert_eq!(echo["content_length"], "7");
    // A streamed body cannot be sent twice: the 307 itself is delivered.
    let o = c.fetch(Req::post(server.url("/redirect/307?to=/echo&drain=1")).stream(2, 10)).unwrap();
    assert_eq!(o.status, StatusCode::TEMPORARY_REDIRECT);
});

parity!(early_response_during_upload, |d| {
    // RFC 9112 §9.5: a client sending a body should watch for an early response; the server here
    // answers 413 at once, never reads the 4 MiB body, and closes.
    let server = HyperServer::start();
    let c = Client::new(d, &Opts::new().read_timeout(ms(5000))).unwrap();
    for req in [
        Req::post(server.url("/reject")).stream(64, 64 * 1024),
        Req::post(server.url("/reject")).body(vec![b'x'; 4 << 20]),
    ] {
        let o = c.fetch(req).unwrap();
        assert_eq!(o.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(o.body, b"too large");
    }
});

parity!(redirect_loop_and_limit, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let e = expect_kind(c.fetch(Req::get(server.url("/loop/a"))), ErrorKind::Redirect);
    assert!(e.is_redirect());
    assert!(e.url().is_some());
    let o = c.fetch(Req::get(server.url("/chain/5"))).unwrap();
    assert_eq!(o.body, b"end of chain");
    let c = Client::new(d, &Opts::new().max_redirects(2)).unwrap();
    expect_kind(c.fetch(Req::get(server.url("/chain/5"))), ErrorKind::Redirect);
    let o = c.fetch(Req::get(server.url("/chain/2"))).unwrap();
    assert_eq!(o.body, b"end of chain");
});

parity!(error_for_status, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let e = expect_kind(
        c.fetch(Req::get(server.url("/status/404")).error_for_status()),
        ErrorKind::Status(StatusCode::NOT_FOUND),
    );
    assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(e.url().map(|u| u.to_string()), Some(server.url("/status/404")));
    expect_kind(
        c.fetch(Req::get(server.url("/status/503")).error_for_status()),
        ErrorKind::Status(StatusCode::SERVICE_UNAVAILABLE),
    );
    // Without error_for_status a 404 is a normal response.
    let o = c.fetch(Req::get(server.url("/status/404"))).unwrap();
    assert_eq!((o.status, o.body_str().as_str()), (StatusCode::NOT_FOUND, "status 404"));
    let o = c.fetch(Req::get(server.url("/hello")).error_for_status()).unwrap();
    assert_eq!(o.status, StatusCode::OK);
});

parity!(base_url_and_relative_paths, |d| {
    let server = HyperServer::start();
    let c = Client::new(d, &Opts::new().base_url(&server.url("/api/"))).unwrap();
    let o = c.fetch(Req::get("echo")).unwrap();
    assert_eq!(o.echo()["path"], "/api/echo");
    assert_eq!(o.url, server.url("/api/echo"));
    assert_eq!(c.fetch(Req::get("/echo")).unwrap().echo()["path"], "/echo");
    assert_eq!(c.fetch(Req::get("/echo?z=1").query("y", "2")).unwrap().echo()["query"], "z=1&y=2");
    // An absolute URL ignores the base.
    assert_eq!(c.fetch(Req::get(server.url("/hello"))).unwrap().body, b"hello world");
    // Without a base URL a relative URL cannot be sent.
    expect_kind(client(d).fetch(Req::get("/echo")), ErrorKind::InvalidRequest);
});

parity!(base_url_relative_references, |d| {
    let server = HyperServer::start();
    let c = Client::new(d, &Opts::new().base_url(&server.url("/api/"))).unwrap();
    assert_eq!(c.fetch(Req::get("users/echo")).unwrap().echo()["path"], "/api/users/echo");
    let echo = c.fetch(Req::get("v1/../echo?z=1").query("y", "2")).unwrap().echo();
    assert_eq!((echo["path"].as_str(), echo["query"].as_str()), (Some("/api/echo"), Some("z=1&y=2")));
    assert_eq!(c.fetch(Req::get("./echo?a=b")).unwrap().echo()["query"], "a=b");
    expect_kind(client(d).fetch(Req::get("users/echo")), ErrorKind::InvalidRequest);
});

parity!(default_headers_and_override, |d| {
    let server = HyperServer::start();
    let opts = Opts::new().default_header("x-default", "d").default_header("x-both", "session").user_agent("parity/1");
    let c = Client::new(d, &opts).unwrap();
    let req = Req::get(server.url("/echo")).header("x-both", "request").header("x-multi", "1").header("x-multi", "2");
    let echo = c.fetch(req).unwrap().echo();
    assert_eq!(echo_headers(&echo, "x-default"), ["d"]);
    assert_eq!(echo_headers(&echo, "x-both"), ["request"], "the request header replaces the default");
    assert_eq!(echo_headers(&echo, "x-multi"), ["1", "2"]);
    assert_eq!(echo_headers(&echo, "user-agent"), ["parity/1"]);
    assert_eq!(echo_headers(&echo, "host"), [server.addr().to_string()]);
    assert_eq!(echo_headers(&echo, "accept"), ["*/*"]);
    // A request can override the default User-Agent too.
    let echo = c.fetch(Req::get(server.url("/echo")).header("user-agent", "mine")).unwrap().echo();
    assert_eq!(echo_headers(&echo, "user-agent"), ["mine"]);
    let echo = client(d).fetch(Req::get(server.url("/echo"))).unwrap().echo();
    assert_eq!(echo_headers(&echo, "user-agent"), [concat!("reqivo/", env!("CARGO_PKG_VERSION"))]);
});

parity!(cancel_safety, |d| {
    let server = HyperServer::start();
    let c = client(d);
    // A response dropped with its body unread: its connection is closed, not pooled dirty.
    let held = c.open(Req::get(server.url("/slow-body?n=40&delay_ms=50"))).unwrap();
    assert_eq!(held.status(), StatusCode::OK);
    assert_eq!(c.pool_stats().in_use, 1);
    drop(held);
    assert_eq!(c.pool_stats().in_use, 0);
    let o = c.fetch(Req::get(server.url("/hello"))).unwrap();
    assert_eq!(o.body, b"hello world");
    assert_eq!(server.conns(), 2, "the next request needs a new connection");
    if d == Driver::Async {
        // A `send()` future dropped mid-body…
        let r = c.fetch_cancelled_after(Req::get(server.url("/slow-body?n=40&delay_ms=50")), ms(200));
        assert!(r.is_none(), "the slow body cannot have finished: {r:?}");
        assert_eq!(c.pool_stats().in_use, 0, "{:?}", c.pool_stats());
        assert_eq!(c.fetch(Req::get(server.url("/hello"))).unwrap().body, b"hello world");
        // …and one dropped while waiting for the head.
        let r = c.fetch_cancelled_after(Req::get(server.url("/hold?ms=500")), ms(100));
        assert!(r.is_none());
        assert_eq!(c.pool_stats().in_use, 0, "{:?}", c.pool_stats());
        assert_eq!(c.fetch(Req::get(server.url("/hello"))).unwrap().body, b"hello world");
        assert_eq!(server.conns(), 4, "each cancelled request closed its connection");
    }
});

parity!(pool_limit_waits_for_a_free_connection, |d| {
    let server = HyperServer::start();
    let c = Client::new(d, &Opts::new().max_connections_per_host(1)).unwrap();
    let start = std::time::Instant::now();
    let results = c.fetch_concurrent(vec![Req::get(server.url("/hold?ms=300")), Req::get(server.url("/hold?ms=300"))]);
    for r in results {
        assert_eq!(r.unwrap().body, b"held");
    }
    assert!(start.elapsed() >= ms(550), "with one connection the two requests must run one after the other");
    assert_eq!(server.conns(), 1);
    let stats = c.pool_stats();
    assert_eq!((stats.opened, stats.reused, stats.in_use), (1, 1, 0), "{stats:?}");
});

parity!(pool_wait_timeout, |d| {
    let server = HyperServer::start();
    let c = Client::new(d, &Opts::new().max_connections_per_host(1).pool_wait_timeout(ms(200))).unwrap();
    let held = c.open(Req::get(server.url("/slow-body?n=40&delay_ms=50"))).unwrap();
    let start = std::time::Instant::now();
    expect_kind(c.fetch(Req::get(server.url("/hello"))), ErrorKind::Timeout(TimeoutPhase::PoolWait));
    let took = start.elapsed();
    assert!(took >= ms(150) && took < ms(1500), "pool wait of 200 ms gave up after {took:?}");
    drop(held);
    assert_eq!(c.fetch(Req::get(server.url("/hello"))).unwrap().body, b"hello world");
});

parity!(tls_trusted_root, |d| {
    let cert = support::tls::localhost_cert();
    let server = HyperServer::start_tls(cert.server_config.clone());
    let c = Client::new(d, &Opts::new().add_root_certificate(&cert.der).tls_system_roots(false)).unwrap();
    let url = server.url("/hello");
    assert!(url.starts_with("https://localhost:"));
    let o = c.fetch(Req::get(&url)).unwrap();
    assert_eq!(o.body, b"hello world");
    assert_eq!(o.url, url);
    assert!(o.timings_head.tls.is_some(), "{:?}", o.timings_head);
    let o = c.fetch(Req::post(server.url("/echo")).body("over tls")).unwrap();
    assert_eq!(o.echo()["body"], "over tls");
    assert!(o.timings_head.reused_connection);
    assert_eq!(server.conns(), 1);
});

parity!(tls_untrusted_certificate, |d| {
    let cert = support::tls::localhost_cert();
    let server = HyperServer::start_tls(cert.server_config.clone());
    let e = expect_kind(support::run(d, &Opts::new(), Req::get(server.url("/hello"))), ErrorKind::Tls);
    assert!(e.is_connect());
    // Trusting nothing at all fails the same way.
    let r = support::run(d, &Opts::new().tls_system_roots(false), Req::get(server.url("/hello")));
    expect_kind(r, ErrorKind::Tls);
});

parity!(tls_danger_accept_invalid_certs, |d| {
    let cert = support::tls::localhost_cert();
    let server = HyperServer::start_tls(cert.server_config.clone());
    let o = support::run(d, &Opts::new().danger_accept_invalid_certs(true), Req::get(server.url("/hello"))).unwrap();
    assert_eq!(o.body, b"hello world");
});

parity!(gzip_decoded, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let o = c.fetch(Req::get(server.url("/gzip")).read(ReadMode::Text)).unwrap();
    assert_eq!(o.body_str(), GZIP_TEXT.repeat(GZIP_REPEAT));
    assert_eq!(o.header("x-saw-accept-encoding"), Some("gzip"));
    assert_eq!(o.header("content-encoding"), None, "decoded away");
    assert_eq!(o.content_length, None, "the length of the encoded bytes is removed");
    assert_eq!(o.raw("content-encoding"), [b"gzip"], "raw_headers shows what was received");
    let o = c.fetch(Req::get(server.url("/gzip")).read(ReadMode::Reader(100))).unwrap();
    assert_eq!(o.body_str(), GZIP_TEXT.repeat(GZIP_REPEAT));
    assert_eq!(server.conns(), 1);
});

parity!(gzip_disabled, |d| {
    let server = HyperServer::start();
    let o = support::run(d, &Opts::new().gzip(false), Req::get(server.url("/gzip"))).unwrap();
    assert_eq!(o.header("x-saw-accept-encoding"), Some("none"), "no Accept-Encoding may be sent");
    assert_eq!(o.header("content-encoding"), Some("gzip"));
    assert!(o.body == gzip_body(), "the raw gzip bytes are delivered");
    assert_eq!(o.content_length, Some(o.body.len() as u64));
});

parity!(timings_populated, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let first = c.fetch(Req::get(server.url("/chunked?n=4&size=100")).read(ReadMode::Chunks)).unwrap();
    let t = first.timings_head;
    assert!(t.connect.is_some(), "{t:?}");
    assert!(!t.reused_connection);
    assert_eq!(t.tls, None);
    assert!(t.first_byte > Duration::ZERO);
    assert_eq!(t.body, None, "the body has not been read when the head arrives: {t:?}");
    let end = first.timings_end.unwrap();
    assert!(end.body.is_some(), "{end:?}");
    let second = c.fetch(Req::get(server.url("/hello")).read(ReadMode::Chunks)).unwrap();
    let t = second.timings_head;
    assert!(t.reused_connection, "{t:?}");
    assert_eq!((t.dns, t.connect), (None, None), "{t:?}");
});

parity!(stale_pooled_connection, |d| {
    // The server closes an idle keep-alive connection: the pool notices and opens a new one.
    let server = RawServer::start(Behaviour::OneThenClose { idle: Some(ms(20)) });
    let c = client(d);
    assert_eq!(c.fetch(Req::get(server.url("/"))).unwrap().body, b"ok");
    std::thread::sleep(ms(200));
    assert_eq!(c.fetch(Req::get(server.url("/"))).unwrap().body, b"ok");
    assert_eq!(server.conns(), 2);
    // The server closes the connection just as the next request arrives, answering nothing: a GET is
    // sent again on a fresh connection, a POST (not idempotent, fully written) is not.
    let server = RawServer::start(Behaviour::OneThenClose { idle: None });
    let c = client(d);
    assert_eq!(c.fetch(Req::get(server.url("/"))).unwrap().body, b"ok");
    assert_eq!(c.fetch(Req::get(server.url("/"))).unwrap().body, b"ok", "a GET on a dead pooled connection is retried");
    assert_eq!(server.conns(), 2);
    match c.fetch(Req::post(server.url("/")).body("once")) {
        Ok(o) => panic!("a POST that got no answer must fail, not be retried: {o:?}"),
        Err(e) => assert!(matches!(e.kind(), ErrorKind::Io | ErrorKind::Protocol), "{e:?}"),
    }
    assert_eq!(server.conns(), 2, "the POST was not sent twice");
    assert_eq!(c.pool_stats().in_use, 0);
});

parity!(connection_refused, |d| {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e =
        expect_kind(support::run(d, &Opts::new(), Req::get(format!("http://127.0.0.1:{port}/"))), ErrorKind::Connect);
    assert!(e.is_connect());
    assert!(e.url().is_some());
});

parity!(cross_origin_redirect_drops_credentials, |d| {
    let a = HyperServer::start();
    let b = HyperServer::start();
    let c = client(d);
    let req = |to: &str| {
        Req::get(a.url(&format!("/redirect/302?to={to}")))
            .header("authorization", "Bearer secret")
            .header("cookie", "session=1")
            .header("x-other", "kept")
    };
    let echo = c.fetch(req("/echo")).unwrap().echo();
    assert_eq!(echo_headers(&echo, "authorization"), ["Bearer secret"], "same origin keeps credentials");
    let o = c.fetch(req(&b.url("/echo"))).unwrap();
    assert_eq!(o.url, b.url("/echo"));
    let echo = o.echo();
    assert!(echo_headers(&echo, "authorization").is_empty(), "Authorization leaked to another origin");
    assert!(echo_headers(&echo, "cookie").is_empty(), "Cookie leaked to another origin");
    assert_eq!(echo_headers(&echo, "x-other"), ["kept"]);
    assert_eq!(echo_headers(&echo, "host"), [b.addr().to_string()]);
});

parity!(default_headers_on_redirects_and_host, |d| {
    // A request without headers of its own sends the session's defaults as one pre-encoded block; a
    // redirect must still strip the credentials among them, and a default Host still replaces the URL's.
    let a = HyperServer::start();
    let b = HyperServer::start();
    let opts = Opts::new().default_header("authorization", "Bearer secret").default_header("x-other", "kept");
    let c = Client::new(d, &opts).unwrap();
    let echo = c.fetch(Req::get(a.url("/redirect/302?to=/echo"))).unwrap().echo();
    assert_eq!(echo_headers(&echo, "authorization"), ["Bearer secret"], "same origin keeps credentials");
    let o = c.fetch(Req::get(a.url(&format!("/redirect/302?to={}", b.url("/echo"))))).unwrap();
    let echo = o.echo();
    assert!(echo_headers(&echo, "authorization").is_empty(), "a default Authorization leaked to another origin");
    assert_eq!(echo_headers(&echo, "x-other"), ["kept"]);
    let c = Client::new(d, &Opts::new().default_header("host", "example.test")).unwrap();
    assert_eq!(echo_headers(&c.fetch(Req::get(a.url("/echo"))).unwrap().echo(), "host"), ["example.test"]);
});

parity!(trailers_and_repeated_headers, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let o = c.fetch(Req::get(server.url("/trailers")).header("te", "trailers").read(ReadMode::Chunks)).unwrap();
    assert_eq!(o.body, b"hello trailers");
    let trailers = o.trailers.expect("trailers after the body");
    assert_eq!(trailers.get("x-checksum").map(|v| v.as_bytes()), Some(&b"abc123"[..]));
    let o = c.fetch(Req::get(server.url("/cookies"))).unwrap();
    let cookies: Vec<_> = o.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2; Path=/"]);
    assert_eq!(o.header("set-cookie"), Some("a=1; Path=/"));
    assert_eq!(o.raw("set-cookie"), [&b"a=1; Path=/"[..], b"b=2; Path=/"]);
    assert_eq!(server.conns(), 1);
});

parity!(expect_100_continue, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let req = Req::post(server.url("/echo")).header("expect", "100-continue").body("after the go-ahead");
    let o = c.fetch(req).unwrap();
    assert_eq!(o.echo()["body"], "after the go-ahead");
    assert!(
        o.elapsed < ms(900),
        "the body waited for the 1 s continue timeout instead of hyper's 100: {:?}",
        o.elapsed
    );
    // The exchange left the connection clean.
    assert_eq!(c.fetch(Req::get(server.url("/hello"))).unwrap().body, b"hello world");
    assert_eq!(server.conns(), 1);
});

parity!(large_uploads, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let data = pattern(0, 4 << 20);
    let echo = c.fetch(Req::post(server.url("/echo")).body(data.clone())).unwrap().echo();
    assert_eq!(echo["content_length"], (4 << 20).to_string().as_str());
    assert_eq!(echo["body_fnv"], format!("{:016x}", fnv1a(&data)));
    let echo = c.fetch(Req::post(server.url("/echo")).stream(64, 64 * 1024)).unwrap().echo();
    assert_eq!(echo["chunked"], true);
    assert_eq!(echo["body_fnv"], format!("{:016x}", fnv1a(&data)));
    assert_eq!(server.conns(), 1);
});

parity!(head_of_gzip_resource, |d| {
    // A HEAD answer announces the encoding of the body it does not carry: nothing to decode.
    let server = HyperServer::start();
    let c = client(d);
    let o = c.fetch(Req::head(server.url("/gzip")).read(ReadMode::Chunks)).unwrap();
    assert_eq!(o.status, StatusCode::OK);
    assert!(o.body.is_empty());
    let o = c.fetch(Req::head(server.url("/gzip"))).unwrap();
    assert!(o.body.is_empty());
    assert_eq!(
        c.fetch(Req::get(server.url("/gzip")).read(ReadMode::Text)).unwrap().body_str(),
        GZIP_TEXT.repeat(GZIP_REPEAT)
    );
});

parity!(head_limits, |d| {
    let server = HyperServer::start();
    let c = Client::new(d, &Opts::new().max_head_size(1024)).unwrap();
    assert_eq!(c.fetch(Req::get(server.url("/big-header?bytes=100"))).unwrap().body, b"big header");
    expect_kind(c.fetch(Req::get(server.url("/big-header?bytes=2000"))), ErrorKind::TooLarge);
    // The default (256 KiB) takes a 100 KiB header, not a 300 KiB one.
    let c = client(d);
    assert_eq!(c.fetch(Req::get(server.url("/big-header?bytes=100000"))).unwrap().body, b"big header");
    expect_kind(c.fetch(Req::get(server.url("/big-header?bytes=300000"))), ErrorKind::TooLarge);
    let c = Client::new(d, &Opts::new().max_headers(3)).unwrap();
    expect_kind(c.fetch(Req::get(server.url("/cookies"))), ErrorKind::TooLarge);
    assert_eq!(c.pool_stats().in_use, 0);
});

parity!(read_timeout_between_body_bytes, |d| {
    let server =
        RawServer::start(Behaviour::Drip { head: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", every: ms(600) });
    let start = std::time::Instant::now();
    let r = support::run(d, &Opts::new().read_timeout(ms(200)), Req::get(server.url("/")));
    expect_kind(r, ErrorKind::Timeout(TimeoutPhase::Body));
    let took = start.elapsed();
    assert!(took >= ms(150) && took < ms(1500), "a 200 ms read gap fired after {took:?}");
});

parity!(tiny_reader_buffer, |d| {
    let server = HyperServer::start();
    let o = support::run(
        d,
        &Opts::new(),
        Req::get(server.url("/chunked?n=3&size=100&delay_ms=1")).read(ReadMode::Reader(1)),
    )
    .unwrap();
    assert!(o.body == pattern(0, 300));
    assert_eq!(o.pieces, 300);
});

parity!(informational_103_before_final_response, |d| {
    let reply = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let server = RawServer::start(Behaviour::Reply(reply.to_vec()));
    let o = support::run(d, &Opts::new(), Req::get(server.url("/"))).unwrap();
    assert_eq!(o.status, StatusCode::OK);
    assert_eq!(o.body, b"ok");
    assert_eq!(o.header("link"), None, "the 103's fields are not the final response's");
});

// --- cookies ---------------------------------------------------------------------------------------------

/// `/set-cookie` with one `Set-Cookie` per entry of `cookies`, redirecting to `to` when given.
fn set_cookie_url(server: &HyperServer, cookies: &[&str], to: Option<&str>) -> String {
    let escape = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let mut query: Vec<String> = cookies.iter().map(|c| format!("c={}", escape(c))).collect();
    query.extend(to.map(|t| format!("to={}", escape(t))));
    server.url(&format!("/set-cookie?{}", query.join("&")))
}

fn sent_cookies(c: &Client, url: &str) -> Vec<String> {
    echo_headers(&c.fetch(Req::get(url)).unwrap().echo(), "cookie")
}

parity!(cookies_set_then_sent_back, |d| {
    let server = HyperServer::start();
    let c = client(d);
    assert!(sent_cookies(&c, &server.url("/echo")).is_empty(), "a fresh session sends no cookie");
    c.fetch(Req::get(set_cookie_url(&server, &["a=1; Path=/", "b=2; HttpOnly; SameSite=Lax"], None))).unwrap();
    assert_eq!(sent_cookies(&c, &server.url("/echo")), ["a=1; b=2"], "one Cookie field, in creation order");
    // Longer paths first; a path-scoped cookie stays on its path.
    c.fetch(Req::get(set_cookie_url(&server, &["deep=3; Path=/deep"], None))).unwrap();
    assert_eq!(sent_cookies(&c, &server.url("/deep/echo")), ["deep=3; a=1; b=2"]);
    assert_eq!(sent_cookies(&c, &server.url("/echo")), ["a=1; b=2"]);
    // Replacing keeps the place; the jar is visible through the session.
    c.fetch(Req::get(set_cookie_url(&server, &["a=9"], None))).unwrap();
    assert_eq!(sent_cookies(&c, &server.url("/echo")), ["a=9; b=2"]);
    let jar = c.cookies().expect("cookies are on by default");
    assert_eq!((jar.get("a").as_deref(), jar.len()), (Some("9"), 3));
    // A Cookie header of the request's own wins over the jar.
    let o = c.fetch(Req::get(server.url("/echo")).header("cookie", "mine=1")).unwrap();
    assert_eq!(echo_headers(&o.echo(), "cookie"), ["mine=1"]);
    // Cookies added by hand are sent; clearing the jar stops them.
    jar.add(server.url("/"), "hand=1").unwrap();
    assert_eq!(sent_cookies(&c, &server.url("/echo")), ["a=9; b=2; hand=1"]);
    jar.clear();
    assert!(sent_cookies(&c, &server.url("/echo")).is_empty());
});

parity!(cookies_not_sent_to_another_host, |d| {
    let server = HyperServer::start();
    let c = client(d);
    // The server is 127.0.0.1: a host-only cookie from it is not sent to `localhost`, even on the same
    // port, and a Domain attribute naming another host is refused.
    c.fetch(Req::get(set_cookie_url(&server, &["ip=1", "other=1; Domain=example.com"], None))).unwrap();
    assert_eq!(c.cookies().unwrap().len(), 1);
    assert_eq!(sent_cookies(&c, &server.url("/echo")), ["ip=1"]);
    let localhost = server.url("/echo").replace("127.0.0.1", "localhost");
    assert!(sent_cookies(&c, &localhost).is_empty(), "a cookie of 127.0.0.1 went to localhost");
    // Nor after a redirect to that other host; the redirect's own cookie goes along on its origin only.
    let to = localhost.clone();
    let o = c.fetch(Req::get(set_cookie_url(&server, &["hop=1"], Some(&to)))).unwrap();
    assert_eq!(o.url, localhost);
    assert!(echo_headers(&o.echo(), "cookie").is_empty());
});

parity!(secure_cookie_not_sent_over_http, |d| {
    let server = HyperServer::start();
    let c = client(d);
    c.fetch(Req::get(set_cookie_url(&server, &["plain=1", "sec=1; Secure"], None))).unwrap();
    assert_eq!(c.cookies().unwrap().len(), 2);
    assert_eq!(sent_cookies(&c, &server.url("/echo")), ["plain=1"]);
    // Over https it is sent.
    let cert = support::tls::localhost_cert();
    let tls = HyperServer::start_tls(cert.server_config.clone());
    let c = Client::new(d, &Opts::new().add_root_certificate(&cert.der).tls_system_roots(false)).unwrap();
    c.cookies().unwrap().add(tls.url("/"), "sec=2; Secure").unwrap();
    assert_eq!(sent_cookies(&c, &tls.url("/echo")), ["sec=2"]);
    assert!(sent_cookies(
        &c,
        &tls.url("/echo")
            .replace("https:", "http:")
            .replace(&tls.addr().port().to_string(), &server.addr().port().to_string())
    )
    .is_empty());
});

parity!(cookie_set_on_redirect_is_sent_on_the_followed_request, |d| {
    let server = HyperServer::start();
    let c = client(d);
    let o = c.fetch(Req::get(set_cookie_url(&server, &["hop=1; Path=/"], Some("/echo")))).unwrap();
    assert_eq!(o.url, server.url("/echo"));
    assert_eq!(echo_headers(&o.echo(), "cookie"), ["hop=1"]);
    // Two hops, each adding one: the second hop carries the first's cookie, the last request both.
    let second = set_cookie_url(&server, &["two=2"], Some("/echo"));
    let o = c.fetch(Req::get(set_cookie_url(&server, &["one=1"], Some(&second)))).unwrap();
    assert_eq!(echo_headers(&o.echo(), "cookie"), ["hop=1; one=1; two=2"]);
});

parity!(max_age_zero_deletes_a_cookie, |d| {
    let server = HyperServer::start();
    let c = client(d);
    c.fetch(Req::get(set_cookie_url(&server, &["a=1", "b=1; Max-Age=3600"], None))).unwrap();
    assert_eq!(sent_cookies(&c, &server.url("/echo")), ["a=1; b=1"]);
    c.fetch(Req::get(set_cookie_url(&server, &["a=; Max-Age=0"], None))).unwrap();
    assert_eq!(sent_cookies(&c, &server.url("/echo")), ["b=1"]);
    c.fetch(Req::get(set_cookie_url(&server, &["b=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"], None))).unwrap();
    assert!(sent_cookies(&c, &server.url("/echo")).is_empty());
    assert!(c.cookies().unwrap().is_empty());
});

parity!(cookie_store_off_sends_nothing, |d| {
    let server = HyperServer::start();
    let c = Client::new(d, &Opts::new().cookie_store(false)).unwrap();
    assert!(c.cookies().is_none());
    let o = c.fetch(Req::get(set_cookie_url(&server, &["a=1"], Some("/echo")))).unwrap();
    assert!(echo_headers(&o.echo(), "cookie").is_empty());
    assert!(sent_cookies(&c, &server.url("/echo")).is_empty());
    // The Set-Cookie fields are still there for the caller.
    let o = c.fetch(Req::get(set_cookie_url(&server, &["a=1"], None))).unwrap();
    assert_eq!(o.header("set-cookie"), Some("a=1"));
});

parity!(sessions_share_a_cookie_jar, |d| {
    let server = HyperServer::start();
    let jar = std::sync::Arc::new(reqivo::CookieJar::new());
    let a = Client::new(d, &Opts::new().cookie_jar(jar.clone())).unwrap();
    let b = Client::new(d, &Opts::new().cookie_jar(jar.clone())).unwrap();
    a.fetch(Req::get(set_cookie_url(&server, &["shared=1"], None))).unwrap();
    assert_eq!(sent_cookies(&b, &server.url("/echo")), ["shared=1"]);
    assert_eq!(jar.cookie_header(server.url("/x")).as_deref(), Some("shared=1"));
});
