//! WebSocket behaviour tests: every scenario runs on both `AsyncWebSocket` and the blocking `WebSocket`
//! (one body, two drivers: `NAME::async_driver` and `NAME::sync_driver`), against two servers we did not
//! write: Python's `websockets` (from `.venv`, installed by `scripts/test.sh`; skipped with a note when
//! missing) and `tokio-tungstenite`.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use reqivo::{CloseFrame, ErrorKind, Message, ReconnectPolicy, TimeoutPhase};
use serde_json::json;
use support::ws_client::{WsClient, WsOpts};
use support::ws_python::PyWsServer;
use support::ws_tungstenite::TungServer;
use support::{expect_kind, fnv1a, ms, pattern, Driver, Opts};

fn connect(d: Driver, url: &str) -> WsClient {
    WsClient::connect(d, url, &WsOpts::new()).expect("websocket connects")
}

/// Text, binary, JSON, a Ping, and a normal close, against an echo endpoint.
fn echo_suite(d: Driver, url: &str) {
    let mut c = connect(d, url);
    c.send_text("hello ünïcödé").unwrap();
    c.expect_text("hello ünïcödé");
    let data = pattern(0, 100_000);
    c.send_binary(&data).unwrap();
    assert_eq!(c.recv_data().unwrap(), Some(Message::binary(data)));
    let value = json!({"op": "subscribe", "topics": ["a", "b"], "n": 3});
    c.send_json(&value).unwrap();
    let echoed = c.recv_data().unwrap().expect("json echo");
    assert_eq!(echoed.json::<serde_json::Value>().unwrap(), value);
    c.ping(b"are you there").unwrap();
    assert_eq!(c.recv().unwrap(), Some(Message::Pong("are you there".into())));
    c.close(1000, "bye").unwrap();
    assert_eq!(c.recv().unwrap(), None, "after close, recv reports the end");
    expect_kind(c.send_text("late"), ErrorKind::InvalidRequest);
}

parity!(echo_python, |d| {
    let Some(server) = PyWsServer::start() else { return };
    echo_suite(d, &server.url("/echo"));
});

parity!(echo_tungstenite, |d| {
    let server = TungServer::start();
    echo_suite(d, &server.url("/echo"));
});

fn fragments(d: Driver, url: &str) {
    let mut c = connect(d, url);
    c.expect_text("frag-1 frag-2 frag-3");
    assert_eq!(c.recv_data().unwrap(), Some(Message::binary(vec![1, 2, 3, 4, 5])));
    c.close(1000, "").unwrap();
}

parity!(fragmented_messages_python, |d| {
    let Some(server) = PyWsServer::start() else { return };
    fragments(d, &server.url("/fragments"));
});

parity!(fragmented_messages_tungstenite, |d| {
    let server = TungServer::start();
    fragments(d, &server.url("/fragments"));
});

/// A 16 MiB binary message and a 16 MiB text message there and back.
fn sixteen_mib(d: Driver, url: &str) {
    let mut c = connect(d, url);
    let data = pattern(7, 16 << 20);
    c.send_binary(&data).unwrap();
    match c.recv_data().unwrap() {
        Some(Message::Binary(b)) => assert!(b.len() == data.len() && fnv1a(&b) == fnv1a(&data), "16 MiB echo differs"),
        other => panic!("expected the binary echo, got {:?}", other.map(|m| m.as_bytes().len())),
    }
    let text = "0123456789abcdef".repeat(1 << 20);
    c.send_text(&text).unwrap();
    match c.recv_data().unwrap() {
        Some(Message::Text(t)) => assert!(t == text, "16 MiB text echo differs"),
        other => panic!("expected the text echo, got {:?}", other.map(|m| m.as_bytes().len())),
    }
    c.close(1000, "").unwrap();
}

parity!(sixteen_mib_message_python_compressed, limit = 180, |d| {
    let Some(server) = PyWsServer::start() else { return };
    sixteen_mib(d, &server.url("/echo"));
});

parity!(sixteen_mib_message_tungstenite, limit = 180, |d| {
    let server = TungServer::start();
    sixteen_mib(d, &server.url("/echo"));
});

/// What `/info` says about this connection.
fn info(c: &mut WsClient) -> serde_json::Value {
    match c.recv_data().unwrap() {
        Some(m) => m.json().unwrap(),
        None => panic!("no /info message"),
    }
}

parity!(compression_on_and_off, |d| {
    let Some(server) = PyWsServer::start() else { return };
    let text = "a compressible line of text, again and again. ".repeat(2000);
    // Offered by default, accepted by the server.
    let mut c = connect(d, &server.url("/info"));
    let ext = info(&mut c)["extensions"].as_str().unwrap_or_default().to_owned();
    assert!(ext.starts_with("permessage-deflate"), "{ext:?}");
    c.send_text(&text).unwrap();
    c.expect_text(&text);
    c.close(1000, "").unwrap();
    // Not offered.
    let mut c =
        WsClient::connect(d, &server.url("/info"), &WsOpts { compression: Some(false), ..WsOpts::new() }).unwrap();
    assert_eq!(info(&mut c)["extensions"], serde_json::Value::Null);
    c.send_text(&text).unwrap();
    c.expect_text(&text);
    c.close(1000, "").unwrap();
    // Offered, declined by a server without compression.
    let Some(plain) = PyWsServer::start_on(0, false) else { return };
    assert!(!plain.compression());
    let mut c = connect(d, &plain.url("/info"));
    assert_eq!(info(&mut c)["extensions"], serde_json::Value::Null);
    c.send_text(&text).unwrap();
    c.expect_text(&text);
    c.close(1000, "").unwrap();
});

parity!(close_code_from_client, |d| {
    let Some(server) = PyWsServer::start() else { return };
    let mut c = connect(d, &server.url("/echo"));
    c.close(4001, "bye now").unwrap();
    assert_eq!(c.recv().unwrap(), None);
    let mut seen = serde_json::Value::Null;
    for _ in 0..50 {
        let mut probe = connect(d, &server.url("/info"));
        seen = info(&mut probe)["last_close"].clone();
        if seen["code"] != serde_json::Value::Null {
            break;
        }
        std::thread::sleep(ms(20));
    }
    assert_eq!(seen, json!({"code": 4001, "reason": "bye now"}));
    expect_kind(c.close(999, ""), ErrorKind::InvalidRequest);

    let tung = TungServer::start();
    let mut c = connect(d, &tung.url("/echo"));
    c.close(3000, "app-defined").unwrap();
    assert_eq!(tung.last_close(), Some((3000, "app-defined".to_owned())));
});

parity!(close_code_from_server, |d| {
    let Some(server) = PyWsServer::start() else { return };
    let mut c = connect(d, &server.url("/close?code=4002&reason=done"));
    let frame = CloseFrame { code: 4002, reason: "done".into() };
    assert_eq!(c.recv().unwrap(), Some(Message::Close(Some(frame))));
    assert_eq!(c.recv().unwrap(), None, "a normal close by the server is not an error");
    expect_kind(c.send_text("after close"), ErrorKind::InvalidRequest);

    let tung = TungServer::start();
    let mut c = connect(d, &tung.url("/close?code=1001"));
    let frame = CloseFrame { code: 1001, reason: "bye from tungstenite".into() };
    assert_eq!(c.recv().unwrap(), Some(Message::Close(Some(frame))));
    assert_eq!(c.recv().unwrap(), None);
});

fn keepalive() -> WsOpts {
    WsOpts { keepalive: Some((ms(100), ms(300))), ..WsOpts::new() }
}

/// `recv` fails with a keepalive timeout, soon, instead of hanging.
#[track_caller]
fn expect_dead_peer(c: &mut WsClient) {
    let start = Instant::now();
    let e = loop {
        match c.recv() {
            Ok(Some(Message::Pong(_) | Message::Ping(_))) => {}
            Ok(other) => panic!("expected a keepalive timeout, got {other:?}"),
            Err(e) => break e,
        }
    };
    assert_eq!(e.kind(), ErrorKind::Timeout(TimeoutPhase::Keepalive), "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
}

parity!(keepalive_timeout_tungstenite_stops_reading, |d| {
    let server = TungServer::start();
    let mut c = WsClient::connect(d, &server.url("/silent"), &keepalive()).unwrap();
    expect_dead_peer(&mut c);
});

parity!(keepalive_timeout_python_frozen, |d| {
    let Some(server) = PyWsServer::start() else { return };
    // A generous pong timeout: a busy CI machine may keep the Python server from answering at once.
    let opts = WsOpts { keepalive: Some((ms(100), ms(1000))), ..WsOpts::new() };
    let mut c = WsClient::connect(d, &server.url("/echo"), &opts).unwrap();
    c.send_text("alive").unwrap();
    c.expect_text("alive");
    // An answering peer: Pongs come back, no timeout for a while.
    c.set_read_timeout(Some(ms(200)));
    let (start, mut pongs) = (Instant::now(), 0);
    while start.elapsed() < ms(600) {
        match c.recv() {
            Ok(Some(Message::Pong(p))) => {
                assert_eq!(p.len(), 8, "keepalive Pings carry a counter");
                pongs += 1;
            }
            Err(e) if e.kind() == ErrorKind::Timeout(TimeoutPhase::Message) => {}
            other => panic!("expected keepalive Pongs, got {other:?}"),
        }
    }
    assert!(pongs >= 1, "no keepalive Pong in 600 ms at a 100 ms interval");
    c.set_read_timeout(None);
    server.freeze();
    expect_dead_peer(&mut c);
});

fn reconnecting(texts: &[&str], attempts: u32) -> WsOpts {
    let policy = ReconnectPolicy { max_attempts: attempts, initial_delay: ms(50), max_delay: ms(300) };
    WsOpts { reconnect: Some(policy), resubscribe: texts.iter().map(|t| t.to_string()).collect(), ..WsOpts::new() }
}

/// Reconnection attempts while a test restarts its server: at most 300 ms apart, so about a minute. A
/// Python server can take seconds to start on a loaded machine; the tests do not wait longer when it is quick.
const RESTART_ATTEMPTS: u32 = 200;

/// Starts a server on `port` after `delay`, on another thread.
fn restart_later(port: u16, delay: Duration) -> std::thread::JoinHandle<Option<PyWsServer>> {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        PyWsServer::start_on(port, true)
    })
}

parity!(reconnect_after_server_restart, |d| {
    let Some(server) = PyWsServer::start() else { return };
    let port = server.port();
    let mut c = WsClient::connect(d, &server.url("/echo"), &reconnecting(&["resubscribed"], RESTART_ATTEMPTS)).unwrap();
    c.send_text("one").unwrap();
    c.expect_text("one");
    server.kill();
    let restarted = restart_later(port, ms(400));
    // recv finds the connection gone, reconnects (with backoff while nobody listens), sends what
    // on_reconnect returned, and goes on: the caller sees the echo of the resubscription.
    c.expect_text("resubscribed");
    assert_eq!(c.reconnects(), 1);
    c.send_text("two").unwrap();
    c.expect_text("two");
    c.close(1000, "").unwrap();
    drop(restarted.join().unwrap());
});

parity!(send_while_disconnected_waits_for_reconnect, |d| {
    let Some(server) = PyWsServer::start() else { return };
    let port = server.port();
    let mut c = WsClient::connect(d, &server.url("/echo"), &reconnecting(&["again"], RESTART_ATTEMPTS)).unwrap();
    c.send_text("one").unwrap();
    c.expect_text("one");
    server.kill();
    let restarted = restart_later(port, ms(400));
    // The first write may still be taken by the kernel for a connection the peer has dropped (that
    // message is lost: at-most-once); once the drop is seen, send reconnects and then sends.
    let mut sent = 0;
    while c.reconnects() == 0 {
        c.send_text("after").unwrap();
        sent += 1;
        assert!(sent < 50, "send never noticed the dropped connection");
        std::thread::sleep(ms(50));
    }
    c.expect_text("again");
    c.expect_text("after");
    c.close(1000, "").unwrap();
    drop(restarted.join().unwrap());
});

parity!(reconnect_gives_up, |d| {
    let Some(server) = PyWsServer::start() else { return };
    let mut c = WsClient::connect(d, &server.url("/echo"), &reconnecting(&[], 3)).unwrap();
    server.kill();
    let e = c.recv().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e:?}");
    assert!(e.to_string().contains("gave up after 3"), "{e}");
    assert_eq!(c.reconnects(), 0);
    assert!(c.send_text("x").is_err(), "a socket whose reconnection gave up stays failed");
});

parity!(subprotocol_negotiation, |d| {
    let Some(server) = PyWsServer::start() else { return };
    let opts = WsOpts { subprotocols: vec!["chat.v9".into(), "chat.v1".into()], ..WsOpts::new() };
    let mut c = WsClient::connect(d, &server.url("/info"), &opts).unwrap();
    assert_eq!(c.subprotocol().as_deref(), Some("chat.v1"));
    assert_eq!(info(&mut c)["subprotocol"], "chat.v1");
    let tung = TungServer::start();
    let c = WsClient::connect(d, &tung.url("/echo"), &opts).unwrap();
    assert_eq!(c.subprotocol().as_deref(), Some("chat.v1"));
    let c = connect(d, &tung.url("/echo"));
    assert_eq!(c.subprotocol(), None);
});

parity!(wss_against_local_tls_server, |d| {
    let cert = support::tls::localhost_cert();
    let server = TungServer::start_tls(cert.server_config.clone());
    let opts = WsOpts { session: Opts::new().add_root_certificate(&cert.der).tls_system_roots(false), ..WsOpts::new() };
    let mut c = WsClient::connect(d, &server.url("/echo"), &opts).unwrap();
    c.send_text("over tls").unwrap();
    c.expect_text("over tls");
    c.close(1000, "").unwrap();
    let untrusted = WsOpts { session: Opts::new().tls_system_roots(false), ..WsOpts::new() };
    expect_kind(WsClient::connect(d, &server.url("/echo"), &untrusted).map(|_| ()), ErrorKind::Tls);
});

parity!(session_settings_are_shared, |d| {
    let Some(server) = PyWsServer::start() else { return };
    let session = Opts::new().base_url(&server.url("/")).default_header("x-team", "blue").user_agent("ws-test/1");
    let opts = WsOpts { session, headers: vec![("authorization".into(), "Bearer t".into())], ..WsOpts::new() };
    let mut c = WsClient::connect(d, "info", &opts).unwrap();
    let headers = info(&mut c)["headers"].clone();
    let get = |name: &str| -> Vec<String> {
        let pairs = headers.as_array().unwrap().iter();
        pairs.filter(|p| p[0] == name).map(|p| p[1].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(get("x-team"), ["blue"]);
    assert_eq!(get("user-agent"), ["ws-test/1"]);
    assert_eq!(get("authorization"), ["Bearer t"]);
    assert_eq!(get("accept-encoding"), Vec::<String>::new(), "no Accept-Encoding on an upgrade");
    assert_eq!(get("upgrade"), ["websocket"]);
});

parity!(refused_upgrade_is_a_websocket_error, |d| {
    let Some(server) = PyWsServer::start() else { return };
    let e = expect_kind(WsClient::connect(d, &server.url("/reject"), &WsOpts::new()).map(|_| ()), ErrorKind::WebSocket);
    assert!(e.to_string().contains("403"), "{e}");
});

parity!(read_timeout_leaves_the_socket_usable, |d| {
    let Some(server) = PyWsServer::start() else { return };
    let mut c = connect(d, &server.url("/echo"));
    c.set_read_timeout(Some(ms(200)));
    let e = c.recv().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout(TimeoutPhase::Message));
    c.send_text("still here").unwrap();
    c.expect_text("still here");
    c.close(1000, "").unwrap();
});

/// Async only: the reader and the writer of a split socket run in two tasks at once, and the socket is
/// a `Stream` and a `Sink`.
#[test]
fn split_halves_and_stream_sink_async() {
    use futures_util::{SinkExt, StreamExt};
    let Some(server) = PyWsServer::start() else { return };
    let url = server.url("/echo");
    support::guard("split", Duration::from_secs(60), move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let session = reqivo::AsyncSession::builder().build().unwrap();
            let ws = session.websocket(url.as_str()).connect().await.unwrap();
            let (mut reader, mut writer) = ws.split();
            let writing = tokio::spawn(async move {
                for i in 0..500 {
                    writer.send_text(&format!("message {i}")).await.unwrap();
                }
                writer
            });
            for i in 0..500 {
                assert_eq!(reader.recv().await.unwrap(), Some(Message::text(format!("message {i}"))));
            }
            let mut writer = writing.await.unwrap();
            writer.close(1000, "done").await.unwrap();
            assert!(matches!(reader.next().await, Some(Ok(Message::Close(Some(_))))));
            assert!(reader.next().await.is_none(), "the stream ends after the close handshake");

            let mut ws = session.websocket(url.as_str()).connect().await.unwrap();
            SinkExt::send(&mut ws, Message::text("via sink")).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("via sink"));
            SinkExt::close(&mut ws).await.unwrap();
            assert!(matches!(ws.next().await, Some(Ok(Message::Close(_)))));
            assert!(ws.next().await.is_none());
        });
    });
}

parity!(handshake_carries_and_stores_cookies, |d| {
    let Some(server) = PyWsServer::start() else { return };
    let jar = std::sync::Arc::new(reqivo::CookieJar::new());
    // Cookies are not scheme-bound: one set for http:// goes to ws:// on the same host; a Secure one not.
    let http = server.url("/").replacen("ws:", "http:", 1);
    jar.add(&*http, "sid=abc; Path=/").unwrap();
    jar.add(&*http, "sec=1; Secure").unwrap();
    let opts = WsOpts { session: Opts::new().cookie_jar(jar.clone()), ..WsOpts::new() };
    let mut c = WsClient::connect(d, &server.url("/info"), &opts).unwrap();
    let headers = info(&mut c)["headers"].clone();
    let cookies: Vec<_> =
        headers.as_array().unwrap().iter().filter(|p| p[0] == "cookie").map(|p| p[1].clone()).collect();
    assert_eq!(cookies, [json!("sid=abc")]);
    // A Cookie header of the caller's own wins.
    let own = WsOpts { headers: vec![("cookie".into(), "mine=1".into())], ..opts };
    let mut c = WsClient::connect(d, &server.url("/info"), &own).unwrap();
    let headers = info(&mut c)["headers"].clone();
    let cookies: Vec<_> =
        headers.as_array().unwrap().iter().filter(|p| p[0] == "cookie").map(|p| p[1].clone()).collect();
    assert_eq!(cookies, [json!("mine=1")]);
});

parity!(handshake_response_sets_cookies, |d| {
    let server = TungServer::start();
    let jar = std::sync::Arc::new(reqivo::CookieJar::new());
    let opts = WsOpts { session: Opts::new().cookie_jar(jar.clone()), ..WsOpts::new() };
    let mut c = WsClient::connect(d, &server.url("/set-cookie"), &opts).unwrap();
    assert_eq!(jar.get("ws").as_deref(), Some("handshake"));
    c.send_text("still echoes").unwrap();
    c.expect_text("still echoes");
    c.close(1000, "").unwrap();
});
