//! The floor clients: `raw` (`std::net`) and `raw-tokio`. Prebuilt request bytes, and a response reader that
//! does only what is needed to know where the response ends: the first response of a connection is parsed
//! (status, `Content-Length` or `chunked`), later ones are read to the known length (nginx's heads have a
//! fixed length on one location) or, when chunked, to the `\r\n0\r\n\r\n` that ends the body.

use std::io::{Read, Write};
use std::net::TcpStream;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{io_fail, AsyncWorker, Scenario, SyncWorker, Target, Upload, UPLOAD, UPLOAD_PIECE};

/// Read buffer: 64 KiB for big bodies, 4 KiB otherwise (an idle floor connection holds little more than its
/// socket).
fn read_buf(sc: Scenario) -> Box<[u8]> {
    vec![0; if sc.streaming() { 64 * 1024 } else { 4096 }].into_boxed_slice()
}
const END_CHUNKED: &[u8; 7] = b"\r\n0\r\n\r\n";

/// The request bytes of a scenario, built once.
pub fn request_bytes(t: &Target) -> Vec<u8> {
    let sc = t.scenario;
    let mut r = Vec::with_capacity(sc.payload() + 256);
    let method = if sc.upload() == Upload::None { "GET" } else { "POST" };
    r.extend_from_slice(format!("{method} {} HTTP/1.1\r\nHost: {}\r\n", sc.path(), t.authority).as_bytes());
    match sc.upload() {
        Upload::None => r.extend_from_slice(b"\r\n"),
        Upload::Length => {
            r.extend_from_slice(format!("Content-Length: {}\r\n\r\n", UPLOAD.len()).as_bytes());
            r.extend_from_slice(&UPLOAD);
        }
        Upload::Chunked => {
            r.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for piece in UPLOAD.chunks(UPLOAD_PIECE) {
                r.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                r.extend_from_slice(piece);
                r.extend_from_slice(b"\r\n");
            }
            r.extend_from_slice(b"0\r\n\r\n");
        }
    }
    r
}

/// How responses on this connection end, learnt from the first one.
#[derive(Clone, Copy)]
enum Framing {
    Unknown,
    Length(usize),
    Chunked,
}

/// Finds the end of one response in the bytes read.
struct RespReader {
    framing: Framing,
    scenario: Scenario,
    /// Only for the first response: everything read so far.
    first: Vec<u8>,
    got: usize,
    tail: [u8; 7],
}

impl RespReader {
    fn new(scenario: Scenario) -> Self {
        RespReader { framing: Framing::Unknown, scenario, first: Vec::new(), got: 0, tail: [0; 7] }
    }

    fn start(&mut self) {
        self.got = 0;
        self.tail = [0; 7];
    }

    /// Feeds the bytes of one read; true when the response is complete.
    fn feed(&mut self, data: &[u8]) -> bool {
        assert!(!data.is_empty(), "{}: connection closed by the server", self.scenario.name());
        if self.got == 0 {
            assert!(
                data.starts_with(b"HTTP/1.1 200 ") || matches!(self.framing, Framing::Unknown),
                "{}: unexpected response {:?}",
                self.scenario.name(),
                String::from_utf8_lossy(&data[..data.len().min(40)])
            );
        }
        self.got += data.len();
        match self.framing {
            Framing::Length(n) => {
                assert!(self.got <= n, "{}: response longer than the first one", self.scenario.name());
                self.got == n
            }
            Framing::Chunked => {
                if data.len() >= 7 {
                    self.tail.copy_from_slice(&data[data.len() - 7..]);
                } else {
                    self.tail.rotate_left(data.len());
                    self.tail[7 - data.len()..].copy_from_slice(data);
                }
                &self.tail == END_CHUNKED
            }
            Framing::Unknown => {
                self.first.extend_from_slice(data);
                self.parse_first()
            }
        }
    }

    fn parse_first(&mut self) -> bool {
        let buf = &self.first;
        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) else { return false };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200 "), "{}: unexpected response {head:?}", self.scenario.name());
        let header = |name: &str| {
            head.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')).map(|v| v.trim()))
        };
        let body = &buf[head_end..];
        let chunked_expected = self.scenario == Scenario::Chunked64k;
        if let Some(len) = header("content-length").filter(|_| !chunked_expected) {
            let len: usize = len.parse().expect("Content-Length");
            assert_eq!(len, self.scenario.expect(), "{}: body length", self.scenario.name());
            assert!(body.len() <= len);
            if body.len() == len {
                self.framing = Framing::Length(head_end + len);
                return true;
            }
            false
        } else {
            assert_eq!(header("transfer-encoding"), Some("chunked"), "{}: no framing", self.scenario.name());
            if !body.ends_with(END_CHUNKED) {
                return false;
            }
            let decoded = decode_chunked(body);
            assert_eq!(decoded, self.scenario.expect(), "{}: chunked body length", self.scenario.name());
            self.framing = Framing::Chunked;
            true
        }
    }
}

/// Length of a complete chunked body (checked once per connection).
fn decode_chunked(mut body: &[u8]) -> usize {
    let mut total = 0;
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
        let size_str = std::str::from_utf8(&body[..line_end]).expect("chunk size");
        let size = usize::from_str_radix(size_str.split(';').next().unwrap().trim(), 16).expect("chunk size");
        body = &body[line_end + 2..];
        if size == 0 {
            return total;
        }
        total += size;
        body = &body[size + 2..];
    }
}

// ---------------------------------------------------------------------------------------------------------

pub struct Raw {
    target: Target,
    request: std::sync::Arc<Vec<u8>>,
    stream: Option<TcpStream>,
    reader: RespReader,
    buf: Box<[u8]>,
}

impl Raw {
    pub fn new(target: &Target, request: std::sync::Arc<Vec<u8>>) -> Raw {
        Raw {
            target: target.clone(),
            request,
            stream: None,
            reader: RespReader::new(target.scenario),
            buf: read_buf(target.scenario),
        }
    }
}

impl SyncWorker for Raw {
    fn op(&mut self) -> usize {
        let stream = self.stream.get_or_insert_with(|| {
            let s = TcpStream::connect(&self.target.authority).unwrap_or_else(|e| io_fail("connect", e));
            s.set_nodelay(true).unwrap();
            s
        });
        stream.write_all(&self.request).unwrap_or_else(|e| io_fail("write", e));
        self.reader.start();
        loop {
            let n = stream.read(&mut self.buf).unwrap_or_else(|e| io_fail("read", e));
            if self.reader.feed(&self.buf[..n]) {
                return self.target.scenario.expect();
            }
        }
    }
}

pub struct RawTokio {
    target: Target,
    request: std::sync::Arc<Vec<u8>>,
    stream: Option<tokio::net::TcpStream>,
    reader: RespReader,
    buf: Box<[u8]>,
}

impl RawTokio {
    pub fn new(target: &Target, request: std::sync::Arc<Vec<u8>>) -> RawTokio {
        RawTokio {
            target: target.clone(),
            request,
            stream: None,
            reader: RespReader::new(target.scenario),
            buf: read_buf(target.scenario),
        }
    }
}

impl AsyncWorker for RawTokio {
    async fn op(&mut self) -> usize {
        if self.stream.is_none() {
            let s =
                tokio::net::TcpStream::connect(&self.target.authority).await.unwrap_or_else(|e| io_fail("connect", e));
            s.set_nodelay(true).unwrap();
            self.stream = Some(s);
        }
        let stream = self.stream.as_mut().unwrap();
        stream.write_all(&self.request).await.unwrap_or_else(|e| io_fail("write", e));
        self.reader.start();
        loop {
            let n = stream.read(&mut self.buf).await.unwrap_or_else(|e| io_fail("read", e));
            if self.reader.feed(&self.buf[..n]) {
                return self.target.scenario.expect();
            }
        }
    }
}
