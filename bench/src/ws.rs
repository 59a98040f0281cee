//! The WebSocket rows: clients of the echo server (`ws_server.rs`) for `ws-echo16` and `ws-bin64k`, run by
//! the same measured loops as the HTTP clients, and the memory probe `ws-idle10000`.
//!
//! Each worker opens its connection on its first operation (inside the warm-up), then every operation sends
//! one message and waits for its echo. Settings, all for a fair comparison (BENCHMARKING.md, method 7):
//! - compression off: reqivo `.compression(false)` (it offers permessage-deflate by default); tungstenite
//!   0.30 and fastwebsockets 0.10 do not implement it, and the echo server never accepts it;
//! - Nagle off: reqivo disables it itself; tokio-tungstenite `connect_async_with_config(.., true)`; the
//!   sockets we hand to tungstenite and fastwebsockets get `set_nodelay(true)`;
//! - everything else at its default; every default message limit is above 64 KiB (tungstenite 64 MiB messages,
//!   16 MiB frames; fastwebsockets 64 MiB; reqivo 64 MiB messages, 16 MiB frames).
//! - messages are handed over the cheapest way each API offers a user: reqivo borrows (`send_text(&str)`),
//!   tungstenite takes `Utf8Bytes::from_static` / `Bytes::from_static`, fastwebsockets `Payload::Borrowed`
//!   (which it copies to mask).
//!
//! fastwebsockets' own client handshake goes through hyper's upgrade machinery (feature `upgrade`), whose
//! `Upgraded` stream boxes the socket; we do the handshake by hand and give it the `TcpStream` itself
//! (`WebSocket::after_handshake`), its fastest form, read through `FragmentCollector` so that it returns
//! whole messages like the others.

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use bytes::Bytes;
use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, Role};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{
    check_len, io_fail, mem_now, print_mem, raise_nofile, run_async, run_sync, runtime, AsyncWorker, Opts, Scenario,
    SyncWorker, Target, IDLE_WS, SETTLE, TEXT16, UPLOAD,
};

/// WebSocket clients, in the order the tables list them.
pub const CLIENTS: [&str; 6] =
    ["ws-raw", "ws-reqivo-sync", "ws-reqivo-async", "tungstenite", "tokio-tungstenite", "fastwebsockets"];
/// Clients of the memory probe: async ones only (10,000 threads would measure their stacks).
pub const IDLE_CLIENTS: [&str; 4] = ["ws-raw", "ws-reqivo-async", "tokio-tungstenite", "fastwebsockets"];
/// Connections being opened at once by the memory probe (the server's backlog is 4,096).
const OPENING: usize = 64;

pub fn run(opts: &Opts) -> Result<(), String> {
    let t = &opts.target;
    let client = opts.client.as_str();
    if opts.scenario() == Scenario::WsIdle10000 {
        let frame = Arc::new(RawFrame::new(t.scenario));
        match client {
            "ws-raw" => idle_ws(opts, || WsRawTokio { target: t.clone(), frame: frame.clone(), stream: None }),
            "ws-reqivo-async" => {
                let session = reqivo::AsyncSession::builder().build().expect("reqivo session");
                idle_ws(opts, || ReqivoWsAsync { session: session.clone(), target: t.clone(), ws: None })
            }
            "tokio-tungstenite" => idle_ws(opts, || TokioTung { target: t.clone(), ws: None }),
            "fastwebsockets" => idle_ws(opts, || FastWs { target: t.clone(), ws: None }),
            other => return Err(format!("{other}: {} measures async clients only", Scenario::WsIdle10000.name())),
        }
        return Ok(());
    }
    match client {
        "ws-raw" => {
            let frame = Arc::new(RawFrame::new(t.scenario));
            run_sync(opts, || WsRaw::new(t, frame.clone())).print(opts)
        }
        "ws-reqivo-sync" => {
            let session = reqivo::Session::builder().build().expect("reqivo session");
            run_sync(opts, || ReqivoWsSync { session: session.clone(), target: t.clone(), ws: None }).print(opts)
        }
        "ws-reqivo-async" => {
            let session = reqivo::AsyncSession::builder().build().expect("reqivo session");
            run_async(opts, || ReqivoWsAsync { session: session.clone(), target: t.clone(), ws: None }).print(opts)
        }
        "tungstenite" => run_sync(opts, || Tung { target: t.clone(), ws: None }).print(opts),
        "tokio-tungstenite" => run_async(opts, || TokioTung { target: t.clone(), ws: None }).print(opts),
        "fastwebsockets" => run_async(opts, || FastWs { target: t.clone(), ws: None }).print(opts),
        other => return Err(format!("unknown WebSocket client {other:?}")),
    }
    Ok(())
}

/// The message of a scenario as tungstenite wants it (static bytes: cloning it copies nothing).
fn tung_message(sc: Scenario) -> tungstenite::Message {
    match sc {
        Scenario::WsBin64k => tungstenite::Message::Binary(Bytes::from_static(&UPLOAD)),
        _ => tungstenite::Message::Text(tungstenite::Utf8Bytes::from_static(TEXT16)),
    }
}

/// Checks that an echo has the scenario's type and length; returns the length.
fn check_echo(sc: Scenario, binary: bool, len: usize) -> usize {
    assert_eq!(binary, sc == Scenario::WsBin64k, "{}: echo of the wrong message type", sc.name());
    check_len(len, sc);
    len
}

// ---------------------------------------------------------------------------------------------------------
// The floor: a hand-made handshake, then prebuilt masked frames and reads of the known echo length

/// RFC 6455's sample key: the floor checks only the status of the answer.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn handshake_request(t: &Target) -> String {
    format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        t.scenario.path(),
        t.authority
    )
}

fn check_101(head: &[u8]) {
    assert!(
        head.starts_with(b"HTTP/1.1 101 "),
        "WebSocket handshake refused: {:?}",
        String::from_utf8_lossy(&head[..head.len().min(60)])
    );
}

/// One client frame, masked once with a fixed key (the echo server does not care that it never changes),
/// and the length of the server's unmasked echo.
pub struct RawFrame {
    bytes: Vec<u8>,
    echo_len: usize,
}

impl RawFrame {
    pub fn new(sc: Scenario) -> RawFrame {
        let (opcode, payload): (u8, &[u8]) = match sc {
            Scenario::WsBin64k => (0x2, &UPLOAD),
            _ => (0x1, TEXT16.as_bytes()),
        };
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let len = payload.len();
        let mut bytes = Vec::with_capacity(len + 14);
        bytes.push(0x80 | opcode);
        let head = if len < 126 {
            bytes.push(0x80 | len as u8);
            2
        } else if len <= 0xffff {
            bytes.push(0x80 | 126);
            bytes.extend_from_slice(&(len as u16).to_be_bytes());
            4
        } else {
            bytes.push(0x80 | 127);
            bytes.extend_from_slice(&(len as u64).to_be_bytes());
            10
        };
        bytes.extend_from_slice(&mask);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        RawFrame { bytes, echo_len: head + len }
    }
}

pub struct WsRaw {
    target: Target,
    frame: Arc<RawFrame>,
    stream: Option<TcpStream>,
    buf: Box<[u8]>,
}

impl WsRaw {
    pub fn new(target: &Target, frame: Arc<RawFrame>) -> WsRaw {
        let buf = vec![0; frame.echo_len].into_boxed_slice();
        WsRaw { target: target.clone(), frame, stream: None, buf }
    }
}

fn raw_connect(t: &Target) -> TcpStream {
    let mut s = TcpStream::connect(&t.authority).unwrap_or_else(|e| io_fail("connect", e));
    s.set_nodelay(true).unwrap();
    s.write_all(handshake_request(t).as_bytes()).unwrap_or_else(|e| io_fail("write", e));
    // The server sends nothing after its 101 until we send a frame: whatever is read is the head.
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut buf).unwrap_or_else(|e| io_fail("read", e));
        assert!(n > 0, "connection closed during the WebSocket handshake");
        head.extend_from_slice(&buf[..n]);
    }
    check_101(&head);
    s
}

impl SyncWorker for WsRaw {
    fn op(&mut self) -> usize {
        let stream = self.stream.get_or_insert_with(|| raw_connect(&self.target));
        stream.write_all(&self.frame.bytes).unwrap_or_else(|e| io_fail("write", e));
        stream.read_exact(&mut self.buf).unwrap_or_else(|e| io_fail("read", e));
        assert_eq!(self.buf[0], self.frame.bytes[0], "unexpected echo frame");
        self.target.scenario.expect()
    }
}

/// The floor of the memory probe: the same on a tokio socket.
pub struct WsRawTokio {
    target: Target,
    frame: Arc<RawFrame>,
    stream: Option<tokio::net::TcpStream>,
}

/// A tokio socket with Nagle off, upgraded by a hand-made handshake (checked for 101).
async fn tokio_handshake(t: &Target) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(&t.authority).await.unwrap_or_else(|e| io_fail("connect", e));
    s.set_nodelay(true).unwrap();
    s.write_all(handshake_request(t).as_bytes()).await.unwrap_or_else(|e| io_fail("write", e));
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap_or_else(|e| io_fail("read", e));
        assert!(n > 0, "connection closed during the WebSocket handshake");
        head.extend_from_slice(&buf[..n]);
    }
    check_101(&head);
    s
}

impl AsyncWorker for WsRawTokio {
    async fn op(&mut self) -> usize {
        if self.stream.is_none() {
            let t = &self.target;
            let s = tokio_handshake(t).await;
            self.stream = Some(s);
        }
        let stream = self.stream.as_mut().unwrap();
        stream.write_all(&self.frame.bytes).await.unwrap_or_else(|e| io_fail("write", e));
        let mut echo = [0u8; 64];
        let echo = &mut echo[..self.frame.echo_len];
        stream.read_exact(echo).await.unwrap_or_else(|e| io_fail("read", e));
        self.target.scenario.expect()
    }
}

impl IdleWs for WsRawTokio {
    async fn idle(&mut self) {
        let mut byte = [0u8; 1];
        let n = self.stream.as_mut().unwrap().read(&mut byte).await.unwrap_or_else(|e| io_fail("read", e));
        panic!("an idle WebSocket received {n} bytes");
    }
}

// ---------------------------------------------------------------------------------------------------------
// reqivo

fn reqivo_echo(sc: Scenario, msg: reqivo::Message) -> Option<usize> {
    match msg {
        reqivo::Message::Text(t) => Some(check_echo(sc, false, t.len())),
        reqivo::Message::Binary(b) => Some(check_echo(sc, true, b.len())),
        reqivo::Message::Ping(_) | reqivo::Message::Pong(_) => None,
        reqivo::Message::Close(frame) => panic!("the echo server closed: {frame:?}"),
    }
}

pub struct ReqivoWsAsync {
    session: reqivo::AsyncSession,
    target: Target,
    ws: Option<reqivo::AsyncWebSocket>,
}

impl AsyncWorker for ReqivoWsAsync {
    async fn op(&mut self) -> usize {
        let sc = self.target.scenario;
        if self.ws.is_none() {
            let ws = self.session.websocket(&self.target.url).compression(false).connect().await;
            self.ws = Some(ws.expect("reqivo-async WebSocket connect"));
        }
        let ws = self.ws.as_mut().unwrap();
        match sc {
            Scenario::WsBin64k => ws.send_binary(&UPLOAD).await,
            _ => ws.send_text(TEXT16).await,
        }
        .expect("reqivo-async send");
        loop {
            let msg = ws.recv().await.expect("reqivo-async recv").expect("reqivo-async: the WebSocket ended");
            if let Some(n) = reqivo_echo(sc, msg) {
                return n;
            }
        }
    }
}

impl IdleWs for ReqivoWsAsync {
    async fn idle(&mut self) {
        let msg = self.ws.as_mut().unwrap().recv().await;
        panic!("an idle WebSocket received {msg:?}");
    }
}

pub struct ReqivoWsSync {
    session: reqivo::Session,
    target: Target,
    ws: Option<reqivo::WebSocket>,
}

impl SyncWorker for ReqivoWsSync {
    fn op(&mut self) -> usize {
        let sc = self.target.scenario;
        let ws = self.ws.get_or_insert_with(|| {
            self.session.websocket(&self.target.url).compression(false).connect().expect("reqivo-sync connect")
        });
        match sc {
            Scenario::WsBin64k => ws.send_binary(&UPLOAD),
            _ => ws.send_text(TEXT16),
        }
        .expect("reqivo-sync send");
        loop {
            let msg = ws.recv().expect("reqivo-sync recv").expect("reqivo-sync: the WebSocket ended");
            if let Some(n) = reqivo_echo(sc, msg) {
                return n;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// tungstenite and tokio-tungstenite

fn tung_echo(sc: Scenario, msg: tungstenite::Message) -> Option<usize> {
    match msg {
        tungstenite::Message::Text(t) => Some(check_echo(sc, false, t.len())),
        tungstenite::Message::Binary(b) => Some(check_echo(sc, true, b.len())),
        tungstenite::Message::Close(frame) => panic!("the echo server closed: {frame:?}"),
        _ => None,
    }
}

pub struct Tung {
    target: Target,
    ws: Option<(tungstenite::WebSocket<TcpStream>, tungstenite::Message)>,
}

impl SyncWorker for Tung {
    fn op(&mut self) -> usize {
        let t = &self.target;
        let (ws, msg) = self.ws.get_or_insert_with(|| {
            let s = TcpStream::connect(&t.authority).unwrap_or_else(|e| io_fail("connect", e));
            s.set_nodelay(true).unwrap();
            let (ws, _) = tungstenite::client(t.url.as_str(), s).expect("tungstenite handshake");
            (ws, tung_message(t.scenario))
        });
        ws.send(msg.clone()).expect("tungstenite send");
        loop {
            if let Some(n) = tung_echo(t.scenario, ws.read().expect("tungstenite read")) {
                return n;
            }
        }
    }
}

type TokioTungStream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct TokioTung {
    target: Target,
    ws: Option<(TokioTungStream, tungstenite::Message)>,
}

impl AsyncWorker for TokioTung {
    async fn op(&mut self) -> usize {
        let t = &self.target;
        if self.ws.is_none() {
            let (ws, _) = tokio_tungstenite::connect_async_with_config(t.url.as_str(), None, true)
                .await
                .expect("tokio-tungstenite connect");
            self.ws = Some((ws, tung_message(t.scenario)));
        }
        let (ws, msg) = self.ws.as_mut().unwrap();
        ws.send(msg.clone()).await.expect("tokio-tungstenite send");
        loop {
            let msg = ws.next().await.expect("tokio-tungstenite: the WebSocket ended");
            if let Some(n) = tung_echo(t.scenario, msg.expect("tokio-tungstenite read")) {
                return n;
            }
        }
    }
}

impl IdleWs for TokioTung {
    async fn idle(&mut self) {
        let msg = self.ws.as_mut().unwrap().0.next().await;
        panic!("an idle WebSocket received {msg:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// fastwebsockets

pub struct FastWs {
    target: Target,
    ws: Option<FragmentCollector<tokio::net::TcpStream>>,
}

impl AsyncWorker for FastWs {
    async fn op(&mut self) -> usize {
        let t = &self.target;
        let sc = t.scenario;
        if self.ws.is_none() {
            let s = tokio_handshake(t).await;
            self.ws = Some(FragmentCollector::new(fastwebsockets::WebSocket::after_handshake(s, Role::Client)));
        }
        let ws = self.ws.as_mut().unwrap();
        let frame = match sc {
            Scenario::WsBin64k => Frame::binary(Payload::Borrowed(&UPLOAD)),
            _ => Frame::text(Payload::Borrowed(TEXT16.as_bytes())),
        };
        ws.write_frame(frame).await.expect("fastwebsockets write");
        loop {
            let frame = ws.read_frame().await.expect("fastwebsockets read");
            match frame.opcode {
                OpCode::Text => return check_echo(sc, false, frame.payload.len()),
                OpCode::Binary => return check_echo(sc, true, frame.payload.len()),
                OpCode::Close => panic!("the echo server closed"),
                _ => {}
            }
        }
    }
}

impl IdleWs for FastWs {
    async fn idle(&mut self) {
        let frame = self.ws.as_mut().unwrap().read_frame().await;
        panic!("an idle WebSocket received {:?}", frame.map(|f| f.opcode));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Memory per idle WebSocket

/// A worker whose connection can wait, idle, for a message that never comes.
pub trait IdleWs: AsyncWorker {
    fn idle(&mut self) -> impl Future<Output = ()> + Send;
}

/// One echo (warm-up, baseline); then 10,000 WebSockets opened by tasks on the current-thread runtime (64
/// handshakes at a time), each echoing one message; then each one waiting in `recv` in a task of its own (what
/// an idle connection of an application does). The waiting tasks are spawned after the connections are open,
/// so that they hold the connection and a pending `recv`, not the state of the finished `connect` future. RSS
/// growth after `malloc_trim(0)`, divided by the sockets opened.
pub fn idle_ws<W: IdleWs>(opts: &Opts, make: impl Fn() -> W) {
    raise_nofile();
    runtime().block_on(async {
        let mut first = make();
        first.op().await;
        let before = mem_now();
        let gate = Arc::new(tokio::sync::Semaphore::new(OPENING));
        let opening: Vec<_> = (0..IDLE_WS)
            .map(|_| {
                let (mut w, gate) = (make(), gate.clone());
                tokio::spawn(async move {
                    let _permit = gate.acquire_owned().await.unwrap();
                    w.op().await;
                    w
                })
            })
            .collect();
        let mut open = Vec::with_capacity(IDLE_WS);
        for h in opening {
            open.push(h.await.expect("a WebSocket failed to open"));
        }
        for mut w in open {
            tokio::spawn(async move { w.idle().await });
        }
        // Long enough for every task to reach its pending read.
        tokio::time::sleep(SETTLE).await;
        let after = mem_now();
        print_mem(opts, &before, &after);
        drop(first);
    });
}
