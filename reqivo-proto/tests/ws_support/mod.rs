//! A minimal server side for testing the client codec, written independently of the client's code paths:
//! its own frame encoder and decoder, its own unmasking, its own base64.
#![allow(dead_code)]

use reqivo_proto::ws::{WsConn, WsError, WsEvent};

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CONT: u8 = 0x0;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// An unmasked server frame with the minimal length encoding.
pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_rsv(fin, 0, opcode, payload)
}

/// A server frame with reserved bits `rsv` (0..=7, RSV1 = 4).
pub fn frame_rsv(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(if fin { 0x80 } else { 0 }) | (rsv << 4) | opcode];
    let len = payload.len();
    if len <= 125 {
        out.push(len as u8);
    } else if len <= 0xFFFF {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

pub fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    frame(true, CLOSE, &payload)
}

/// A frame as the server decoded it from the client's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFrame {
    pub fin: bool,
    pub rsv1: bool,
    pub opcode: u8,
    pub mask: [u8; 4],
    pub payload: Vec<u8>,
}

/// Decodes every complete client frame in `buf` (removing them), checking what a server must check:
/// the mask bit is set, RSV2/RSV3 are clear, and the length uses the minimal encoding.
pub fn take_client_frames(buf: &mut Vec<u8>) -> Vec<ClientFrame> {
    let mut frames = Vec::new();
    loop {
        if buf.len() < 2 {
            return frames;
        }
        let (b0, b1) = (buf[0], buf[1]);
        assert_eq!(b0 & 0x30, 0, "RSV2/RSV3 set by the client");
        assert_eq!(b1 & 0x80, 0x80, "client frame not masked");
        let (len, mut at) = match b1 & 0x7F {
            126 => {
                if buf.len() < 4 {
                    return frames;
                }
                let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
                assert!(len >= 126, "non-minimal 16-bit length");
                (len, 4)
            }
            127 => {
                if buf.len() < 10 {
                    return frames;
                }
                let len = u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize;
                assert!(len > 0xFFFF, "non-minimal 64-bit length");
                (len, 10)
            }
            n => (n as usize, 2),
        };
        if buf.len() < at + 4 + len {
            return frames;
        }
        let mask: [u8; 4] = buf[at..at + 4].try_into().unwrap();
        at += 4;
        let payload: Vec<u8> = buf[at..at + len].iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
        frames.push(ClientFrame { fin: b0 & 0x80 != 0, rsv1: b0 & 0x40 != 0, opcode: b0 & 0x0F, mask, payload });
        buf.drain(..at + len);
    }
}

/// Writes out everything the client wants to send and returns it.
pub fn drain_transmit(conn: &mut WsConn) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(bytes) = conn.poll_transmit() {
        // Write in odd-sized pieces to exercise partial writes.
        let n = bytes.len().min(1000);
        out.extend_from_slice(&bytes[..n]);
        conn.advance_transmit(n);
    }
    out
}

/// The client's frames after writing everything out.
pub fn sent_frames(conn: &mut WsConn) -> Vec<ClientFrame> {
    let mut bytes = drain_transmit(conn);
    let frames = take_client_frames(&mut bytes);
    assert!(bytes.is_empty(), "a partial frame was left over");
    frames
}

/// Drains events until `Ok(None)` or the first error (included).
pub fn events(conn: &mut WsConn) -> Vec<Result<WsEvent, WsError>> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        match conn.poll_event() {
            Ok(Some(ev)) => out.push(Ok(ev)),
            Ok(None) => return out,
            Err(e) => {
                out.push(Err(e));
                return out;
            }
        }
    }
    panic!("poll_event did not settle");
}

/// Feeds bytes to the client and drains events.
pub fn feed(conn: &mut WsConn, bytes: &[u8]) -> Vec<Result<WsEvent, WsError>> {
    conn.recv_buf().extend_from_slice(bytes);
    events(conn)
}

/// Feeds `bytes` in pieces cut at `cuts`, collecting all events.
pub fn feed_split(conn: &mut WsConn, bytes: &[u8], cuts: &[usize]) -> Vec<Result<WsEvent, WsError>> {
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        out.extend(feed(conn, &bytes[start..cut]));
        start = cut;
        if matches!(out.last(), Some(Err(_))) {
            break;
        }
    }
    out
}

/// The only error among `events` (asserting it is the last one).
pub fn expect_error(events: &[Result<WsEvent, WsError>]) -> WsError {
    match events.last() {
        Some(Err(e)) => e.clone(),
        other => panic!("expected an error, got {other:?} in {events:?}"),
    }
}

/// Standard base64, written here independently of the core's.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = String::new();
    for &b in data {
        bits = (bits << 8) | u32::from(b);
        nbits += 8;
        while nbits >= 6 {
            nbits -= 6;
            out.push(A[((bits >> nbits) & 63) as usize] as char);
        }
    }
    if nbits > 0 {
        out.push(A[((bits << (6 - nbits)) & 63) as usize] as char);
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

/// The Sec-WebSocket-Accept a server computes for a key.
pub fn server_accept(key_b64: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key_b64.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64(&sha.digest().bytes())
}

/// A small xorshift64 generator for deterministic tests.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Between 0 and `max - 1` random bytes.
    pub fn bytes_below(&mut self, max: u64) -> Vec<u8> {
        let len = self.below(max) as usize;
        self.bytes(len)
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
