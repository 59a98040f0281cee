//! `reqivo-bench ws-server --port P`: the WebSocket echo server of the benchmarks, on a crate we did not write
//! (fastwebsockets) and a current-thread tokio runtime; `bench/run.sh` pins it to CPU 1 next to nginx.
//!
//! The opening handshake is a few lines here (the accept key from tungstenite's `derive_accept_key`): it
//! answers every upgrade with a bare 101, so permessage-deflate is never negotiated. Text and binary
//! messages are echoed as they arrive (whole messages, through `FragmentCollector`); Pings are answered and
//! Closes echoed by fastwebsockets itself. It holds 10,000+ connections (RLIMIT_NOFILE raised, backlog
//! 4,096) and runs until killed.

use std::process::ExitCode;

use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{raise_nofile, runtime};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub fn main(args: &[String]) -> ExitCode {
    let port = match args {
        [flag, p] if flag == "--port" => p.parse::<u16>().ok(),
        _ => None,
    };
    let Some(port) = port else {
        eprintln!("usage: reqivo-bench ws-server --port P");
        return ExitCode::from(2);
    };
    raise_nofile();
    let result: Result<(), BoxError> = runtime().block_on(async move {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(([127, 0, 0, 1], port).into())?;
        let listener = socket.listen(4096)?;
        eprintln!("WebSocket echo server (fastwebsockets) on 127.0.0.1:{port}");
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(async move {
                        // Clients end by dropping their connections: errors here are expected and quiet.
                        let _ = serve(stream).await;
                    });
                }
                Err(e) => {
                    // Out of descriptors, say: say so, and keep serving the connections already open.
                    eprintln!("ws-server: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    });
    if let Err(e) = result {
        eprintln!("ws-server: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn serve(mut stream: TcpStream) -> Result<(), BoxError> {
    stream.set_nodelay(true)?;
    handshake(&mut stream).await?;
    let mut ws = FragmentCollector::new(WebSocket::after_handshake(stream, Role::Server));
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            OpCode::Close => return Ok(()),
            _ => {}
        }
    }
}

/// Reads the upgrade request and answers 101. A client sends nothing more before the answer, so the head is
/// all there is to read.
async fn handshake(stream: &mut TcpStream) -> Result<(), BoxError> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() + n > 16 * 1024 {
            return Err("bad upgrade request".into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = std::str::from_utf8(&head)?;
    let key = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, v)| v.trim())
        .ok_or("no Sec-WebSocket-Key")?;
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(answer.as_bytes()).await?;
    Ok(())
}
