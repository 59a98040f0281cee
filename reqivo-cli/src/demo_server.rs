//! The loopback HTTP/1.1 server `reqivo demo` talks to. A fixture for the tour, not a test peer: it
//! understands just enough (keep-alive, `Content-Length` request bodies) for four routes:
//!
//! - `GET /hello`  → a short text
//! - `GET /stream` → a chunked response in several chunks, with pauses so they arrive one by one
//! - `POST /echo`  → the request body back, with its content type
//! - `GET /ws`     → a WebSocket echo (RFC 6455 without extensions: each frame goes back as it came,
//!   unmasked; a Ping is answered, a Close echoed)

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

pub const HELLO: &str = "Hello from the reqivo demo server!\n";
pub const STREAM_CHUNKS: [&str; 4] = ["streamed ", "one ", "chunk ", "at a time\n"];
/// Long enough that each chunk arrives on its own, short enough to keep the demo quick.
const CHUNK_PAUSE: Duration = Duration::from_millis(40);
/// The demo never sends more; anything bigger is refused rather than buffered.
const MAX_BODY: usize = 1 << 20;

/// Starts the server on an ephemeral loopback port; it lives until the process exits.
pub fn start() -> io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // One thread per connection: the async and the blocking session each keep one open.
            thread::spawn(move || {
                let _ = serve(stream);
            });
        }
    });
    Ok(addr)
}

/// Answers requests on one connection until the client closes it or asks to.
fn serve(stream: TcpStream) -> io::Result<()> {
    // Chunks are small separate writes; without this, Nagle + delayed ACK would hold them back.
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let (mut length, mut close, mut content_type, mut ws_key) = (0usize, false, None, None);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(usize::MAX),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                "content-type" => content_type = Some(value.to_owned()),
                "sec-websocket-key" => ws_key = Some(value.to_owned()),
                _ => {}
            }
        }
        if length > MAX_BODY {
            respond(&mut writer, "413 Content Too Large", "text/plain", b"too large\n", true)?;
            return Ok(());
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        match (method.as_str(), target.as_str()) {
            ("GET", "/hello") => respond(&mut writer, "200 OK", "text/plain", HELLO.as_bytes(), close)?,
            ("GET", "/stream") => stream_chunks(&mut writer, close)?,
            ("GET", "/ws") if ws_key.is_some() => {
                return websocket_echo(reader, writer, ws_key.as_deref().unwrap_or(""))
            }
            ("POST", "/echo") => {
                let ct = content_type.as_deref().unwrap_or("application/octet-stream");
                respond(&mut writer, "200 OK", ct, &body, close)?
            }
            _ => respond(&mut writer, "404 Not Found", "text/plain", b"no such page\n", close)?,
        }
        if close {
            return Ok(());
        }
    }
}

fn respond(w: &mut TcpStream, status: &str, content_type: &str, body: &[u8], close: bool) -> io::Result<()> {
    let connection = if close { "close" } else { "keep-alive" };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: {connection}\r\n\r\n",
        body.len()
    );
    let mut message = head.into_bytes();
    message.extend_from_slice(body);
    w.write_all(&message)
}

fn stream_chunks(w: &mut TcpStream, close: bool) -> io::Result<()> {
    let connection = if close { "close" } else { "keep-alive" };
    // Each piece is formatted first and written whole: `write!` on a socket may split it into several sends.
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\nconnection: {connection}\r\n\r\n"
    );
    w.write_all(head.as_bytes())?;
    for chunk in STREAM_CHUNKS {
        thread::sleep(CHUNK_PAUSE);
        w.write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())?;
    }
    w.write_all(b"0\r\n\r\n")
}

/// Answers the upgrade, then echoes frames until the client's Close (which is echoed too).
fn websocket_echo(mut reader: BufReader<TcpStream>, mut w: TcpStream, key: &str) -> io::Result<()> {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = base64(&sha.digest().bytes());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
    );
    w.write_all(head.as_bytes())?;
    loop {
        let mut head = [0u8; 2];
        reader.read_exact(&mut head)?;
        let (fin_opcode, masked, len7) = (head[0], head[1] & 0x80 != 0, u64::from(head[1] & 0x7f));
        let len = match len7 {
            126 => {
                let mut b = [0u8; 2];
                reader.read_exact(&mut b)?;
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                reader.read_exact(&mut b)?;
                u64::from_be_bytes(b)
            }
            n => n,
        };
        if !masked || len > MAX_BODY as u64 {
            return Ok(());
        }
        let mut mask = [0u8; 4];
        reader.read_exact(&mut mask)?;
        let mut payload = vec![0; len as usize];
        reader.read_exact(&mut payload)?;
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        let reply = match fin_opcode & 0x0f {
            0x8 => 0x88,
            0x9 => 0x8a,
            0xa => continue,
            _ => fin_opcode,
        };
        let mut frame = vec![reply];
        match payload.len() {
            n if n < 126 => frame.push(n as u8),
            n if n <= 0xffff => {
                frame.push(126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&payload);
        w.write_all(&frame)?;
        if reply == 0x88 {
            return Ok(());
        }
    }
}

/// Standard base64 with padding.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in input.chunks(3) {
        let n = group.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= group.len() { char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]) } else { '=' });
        }
    }
    out
}
