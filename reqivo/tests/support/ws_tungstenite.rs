//! `tokio-tungstenite` as a second WebSocket server we did not write, on its own tokio runtime on a
//! background thread, bound to 127.0.0.1:0, optionally behind tokio-rustls (`wss://`).
//!
//! | path                   | behaviour                                                                  |
//! |------------------------|----------------------------------------------------------------------------|
//! | `/echo`                | echoes every text and binary message                                       |
//! | `/fragments`           | sends a text message in 3 raw frames and a binary one in 3, then echoes    |
//! | `/close?code=N`        | closes at once with code N and reason `bye from tungstenite`               |
//! | `/silent`              | completes the handshake, then never reads (so never answers a Ping)        |
//! | `/set-cookie`          | like `/echo`; the handshake response sets the cookie `ws=handshake`       |
//!
//! A `Sec-WebSocket-Protocol` offer is answered with `chat.v1` when offered. The close code and reason
//! of the last connection the client closed are kept ([`TungServer::last_close`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

type LastClose = Arc<Mutex<Option<(u16, String)>>>;

/// A running tungstenite server; stopped when dropped.
pub struct TungServer {
    addr: SocketAddr,
    tls: bool,
    last_close: LastClose,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TungServer {
    pub fn start() -> TungServer {
        Self::spawn(None)
    }

    /// `wss://` with this rustls server configuration (the certificate is for `localhost`).
    pub fn start_tls(config: Arc<rustls::ServerConfig>) -> TungServer {
        Self::spawn(Some(tokio_rustls::TlsAcceptor::from(config)))
    }

    fn spawn(tls: Option<tokio_rustls::TlsAcceptor>) -> TungServer {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown, stop) = oneshot::channel::<()>();
        let last_close = LastClose::default();
        let last = last_close.clone();
        let is_tls = tls.is_some();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx.send(listener.local_addr().expect("addr")).expect("send addr");
                let accept = async {
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else { continue };
                        let (tls, last) = (tls.clone(), last.clone());
                        tokio::spawn(async move {
                            match tls {
                                Some(acceptor) => {
                                    if let Ok(stream) = acceptor.accept(tcp).await {
                                        serve(stream, last).await;
                                    }
                                }
                                None => serve(tcp, last).await,
                            }
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stop => {}
                }
            });
            rt.shutdown_timeout(Duration::from_millis(100));
        });
        let addr = addr_rx.recv().expect("server address");
        TungServer { addr, tls: is_tls, last_close, shutdown: Some(shutdown), thread: Some(thread) }
    }

    pub fn url(&self, path: &str) -> String {
        if self.tls {
            format!("wss://localhost:{}{path}", self.addr.port())
        } else {
            format!("ws://127.0.0.1:{}{path}", self.addr.port())
        }
    }

    /// The code and reason of the last Close a client sent (waits up to 2 s for one to arrive).
    pub fn last_close(&self) -> Option<(u16, String)> {
        for _ in 0..200 {
            if let Some(c) = self.last_close.lock().unwrap().clone() {
                return Some(c);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for TungServer {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// tungstenite's callback type has a large error variant by design.
#[allow(clippy::result_large_err)]
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: S, last: LastClose) {
    let path = Arc::new(Mutex::new(String::new()));
    let seen = path.clone();
    let callback = move |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        *seen.lock().unwrap() = req.uri().to_string();
        let offered = req.headers().get_all("sec-websocket-protocol").iter().filter_map(|v| v.to_str().ok());
        if offered.flat_map(|v| v.split(',')).any(|p| p.trim() == "chat.v1") {
            resp.headers_mut().insert("sec-websocket-protocol", "chat.v1".parse().unwrap());
        }
        if req.uri().path() == "/set-cookie" {
            resp.headers_mut().append("set-cookie", "ws=handshake; Path=/".parse().unwrap());
        }
        Ok(resp)
    };
    let config = WebSocketConfig::default().max_message_size(None).max_frame_size(None);
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await else {
        return;
    };
    let path = path.lock().unwrap().clone();
    if path == "/silent" {
        tokio::time::sleep(Duration::from_secs(30)).await;
        return;
    }
    if let Some(code) = path.strip_prefix("/close?code=") {
        let frame =
            CloseFrame { code: CloseCode::from(code.parse::<u16>().unwrap()), reason: "bye from tungstenite".into() };
        let _ = ws.close(Some(frame)).await;
        while let Some(Ok(_)) = ws.next().await {}
        return;
    }
    if path == "/fragments" {
        let text = [("frag-1 ", OpCode::Data(Data::Text), false), ("frag-2 ", OpCode::Data(Data::Continue), false)];
        for (part, op, fin) in text.into_iter().chain([("frag-3", OpCode::Data(Data::Continue), true)]) {
            let _ = ws.feed(Message::Frame(Frame::message(part.as_bytes().to_vec(), op, fin))).await;
        }
        let binary: [(&[u8], OpCode, bool); 3] = [
            (&[1, 2], OpCode::Data(Data::Binary), false),
            (&[3], OpCode::Data(Data::Continue), false),
            (&[4, 5], OpCode::Data(Data::Continue), true),
        ];
        for (part, op, fin) in binary {
            let _ = ws.feed(Message::Frame(Frame::message(part.to_vec(), op, fin))).await;
        }
        let _ = ws.flush().await;
    }
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                if ws.send(m).await.is_err() {
                    break;
                }
            }
            Ok(Message::Close(frame)) => {
                let info = frame.map(|f| (u16::from(f.code), f.reason.to_string())).unwrap_or((1005, String::new()));
                *last.lock().unwrap() = Some(info);
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}
