//! The loopback HTTP/1.1 server `reqivo demo` talks to. A fixture for the tour, not a test peer: it
//! understands just enough (keep-alive, `Content-Length` request bodies) for three routes:
//!
//! - `GET /hello`  → a short text
//! - `GET /stream` → a chunked response in several chunks, with pauses so they arrive one by one
//! - `POST /echo`  → the request body back, with its content type

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
        let (mut length, mut close, mut content_type) = (0usize, false, None);
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
