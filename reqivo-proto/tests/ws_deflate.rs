//! permessage-deflate (RFC 7692) through the connection core, against a test server that compresses and
//! inflates with flate2 directly.
#![cfg(feature = "deflate")]

mod ws_support;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use http::{HeaderMap, HeaderValue, StatusCode};
use reqivo_proto::ws::{ClientHandshake, DeflateParams, Negotiated, WsConfig, WsConn, WsErrorKind, WsEvent};
use ws_support::*;

const TAIL: [u8; 4] = [0, 0, 0xFF, 0xFF];

/// Runs the handshake with `extension` as the server's answer and builds the connection.
fn connect(extension: &str, config: WsConfig) -> WsConn {
    let hs = ClientHandshake::new([9; 16], &config).unwrap();
    let mut h = HeaderMap::new();
    h.insert("upgrade", HeaderValue::from_static("websocket"));
    h.insert("connection", HeaderValue::from_static("upgrade"));
    h.insert("sec-websocket-accept", HeaderValue::from_str(&server_accept(hs.key())).unwrap());
    h.insert("sec-websocket-extensions", HeaderValue::from_str(extension).unwrap());
    let negotiated = hs.verify(StatusCode::SWITCHING_PROTOCOLS, &h).unwrap();
    assert!(negotiated.deflate.is_some());
    WsConn::new(negotiated, &config, &[])
}

fn deflate_conn(params: DeflateParams, config: WsConfig) -> WsConn {
    WsConn::new(Negotiated { subprotocol: None, deflate: Some(params) }, &config, &[])
}

/// The server's compressor.
struct ServerDeflate {
    c: Compress,
    no_context_takeover: bool,
}

impl ServerDeflate {
    fn new(no_context_takeover: bool) -> Self {
        ServerDeflate { c: Compress::new(Compression::default(), false), no_context_takeover }
    }
    fn compress(&mut self, data: &[u8]) -> Vec<u8> {
        if self.no_context_takeover {
            self.c.reset();
        }
        let mut out = Vec::with_capacity(data.len() + 1024);
        let start = self.c.total_in();
        loop {
            let done = (self.c.total_in() - start) as usize;
            out.reserve(data.len() - done + 1024);
            self.c.compress_vec(&data[done..], &mut out, FlushCompress::Sync).unwrap();
            if (self.c.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
                break;
            }
        }
        assert!(out.ends_with(&TAIL));
        out.truncate(out.len() - 4);
        out
    }
}

/// The server's decompressor.
struct ServerInflate {
    d: Decompress,
    reset_each: bool,
}

impl ServerInflate {
    fn inflate(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut input = payload.to_vec();
        input.extend_from_slice(&TAIL);
        let mut out = Vec::with_capacity(payload.len() * 4 + 1024);
        let start = self.d.total_in();
        loop {
            let done = (self.d.total_in() - start) as usize;
            out.reserve(64 * 1024);
            self.d.decompress_vec(&input[done..], &mut out, FlushDecompress::Sync).unwrap();
            if (self.d.total_in() - start) as usize == input.len() && out.len() < out.capacity() {
                break;
            }
        }
        if self.reset_each {
            self.d.reset(false);
        }
        out
    }
}

/// Reassembles the client's messages: (opcode, compressed?, payload as sent).
fn client_messages(frames: &[ClientFrame]) -> Vec<(u8, bool, Vec<u8>)> {
    let mut out = Vec::new();
    let mut current: Option<(u8, bool, Vec<u8>)> = None;
    for f in frames.iter().filter(|f| f.opcode < 8) {
        if f.opcode == CONT {
            assert!(!f.rsv1, "RSV1 on a continuation frame");
            current.as_mut().unwrap().2.extend_from_slice(&f.payload);
        } else {
            current = Some((f.opcode, f.rsv1, f.payload.clone()));
        }
        if f.fin {
            out.push(current.take().unwrap());
        }
    }
    out
}

fn sample_text(len: usize, seed: u64) -> String {
    let words = ["lorem ", "ipsum ", "dolor ", "sit ", "amet ", "κόσμε ", "😀 "];
    let mut rng = XorShift(seed | 1);
    let mut s = String::new();
    while s.len() < len {
        s.push_str(words[rng.below(words.len() as u64) as usize]);
    }
    s
}

const OPTIONS: &[&str] = &[
    "permessage-deflate",
    "permessage-deflate; client_no_context_takeover",
    "permessage-deflate; server_no_context_takeover",
    "permessage-deflate; server_max_window_bits=9",
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8",
    "permessage-deflate; client_max_window_bits=8",
    "permessage-deflate; client_max_window_bits=9",
    "permessage-deflate; client_max_window_bits=10",
    "permessage-deflate; client_max_window_bits=11",
    "permessage-deflate; client_max_window_bits=12",
    "permessage-deflate; client_max_window_bits=13",
    "permessage-deflate; client_max_window_bits=14",
    "permessage-deflate; client_max_window_bits=15",
];

/// Messages both ways under every negotiation option.
#[test]
fn round_trip_with_each_option() {
    for ext in OPTIONS {
        let server_no_context = ext.contains("server_no_context_takeover");
        let client_no_context = ext.contains("client_no_context_takeover");
        let mut c = connect(ext, WsConfig { max_frame_size: 4000, ..WsConfig::default() });
        let mut server_out = ServerDeflate::new(server_no_context);
        let mut server_in = ServerInflate { d: Decompress::new(false), reset_each: client_no_context };
        let messages: Vec<String> = [10, 63, 64, 500, 3000, 20_000, 100, 20_000]
            .iter()
            .enumerate()
            .map(|(i, &n)| sample_text(n, i as u64))
            .collect();
        for (i, m) in messages.iter().enumerate() {
            // Client → server.
            if i % 2 == 0 {
                c.send_text(m).unwrap();
            } else {
                c.send_binary(m.as_bytes()).unwrap();
            }
            let frames = sent_frames(&mut c);
            let sent = client_messages(&frames);
            assert_eq!(sent.len(), 1);
            let (opcode, compressed, payload) = &sent[0];
            assert_eq!(*opcode, if i % 2 == 0 { TEXT } else { BINARY });
            let got = if *compressed { server_in.inflate(payload) } else { payload.clone() };
            assert_eq!(got, m.as_bytes(), "{ext}: message {i}");
            assert_eq!(*compressed, m.len() >= 64, "{ext}: threshold, message {i} of {} bytes", m.len());
            if m.len() > 4000 {
                assert!(frames.len() > 1 || payload.len() <= 4000, "fragmented");
            }
            // Server → client, fragmented at 1500 bytes.
            let z = server_out.compress(m.as_bytes());
            let mut bytes = Vec::new();
            let pieces: Vec<&[u8]> = if z.is_empty() { vec![&z[..]] } else { z.chunks(1500).collect() };
            for (k, piece) in pieces.iter().enumerate() {
                let opcode = if k > 0 {
                    CONT
                } else if i % 2 == 0 {
                    TEXT
                } else {
                    BINARY
                };
                bytes.extend(frame_rsv(k + 1 == pieces.len(), if k == 0 { 4 } else { 0 }, opcode, piece));
            }
            let expected = if i % 2 == 0 { WsEvent::Text(m.clone()) } else { WsEvent::Binary(Bytes::from(m.clone())) };
            assert_eq!(feed(&mut c, &bytes), vec![Ok(expected)], "{ext}: message {i} from the server");
        }
    }
}

#[test]
fn context_takeover_shrinks_repeated_messages() {
    let msg = sample_text(2000, 5);
    let sizes = |params: DeflateParams| {
        let mut c = deflate_conn(params, WsConfig::default());
        c.send_text(&msg).unwrap();
        c.send_text(&msg).unwrap();
        let frames = sent_frames(&mut c);
        assert!(frames.iter().all(|f| f.rsv1));
        (frames[0].payload.len(), frames[1].payload.len())
    };
    let (first, second) = sizes(DeflateParams::default());
    assert!(second * 4 < first, "with context takeover the repeat refers back: {first} then {second}");
    let (first, second) = sizes(DeflateParams { client_no_context_takeover: true, ..DeflateParams::default() });
    assert_eq!(first, second, "without context takeover each message stands alone");
}

#[test]
fn incompressible_and_small_messages_go_plain() {
    let mut c = deflate_conn(
        DeflateParams { client_no_context_takeover: true, ..DeflateParams::default() },
        WsConfig { compression_threshold: 10, ..WsConfig::default() },
    );
    let noise = XorShift(77).bytes(1000);
    c.send_binary(&noise).unwrap();
    c.send_binary(b"short").unwrap();
    c.send_binary(&[b'a'; 1000]).unwrap();
    let frames = sent_frames(&mut c);
    assert_eq!(frames.iter().map(|f| f.rsv1).collect::<Vec<_>>(), vec![false, false, true]);
    assert_eq!(frames[0].payload, noise);
}

/// A compressed, fragmented message with a ping inside, cut at every byte position.
#[test]
fn compressed_stream_split_at_every_position() {
    let text = sample_text(700, 3);
    let z = ServerDeflate::new(false).compress(text.as_bytes());
    let cut = z.len() / 2;
    let mut bytes = frame_rsv(false, 4, TEXT, &z[..cut]);
    bytes.extend(frame(true, PING, b"x"));
    bytes.extend(frame(true, CONT, &z[cut..]));
    bytes.extend(frame(true, BINARY, b"plain")); // RSV1 clear: not compressed
    let expected = vec![
        Ok(WsEvent::Ping(Bytes::from_static(b"x"))),
        Ok(WsEvent::Text(text)),
        Ok(WsEvent::Binary(Bytes::from_static(b"plain"))),
    ];
    for at in 0..=bytes.len() {
        let mut c = deflate_conn(DeflateParams::default(), WsConfig::default());
        assert_eq!(feed_split(&mut c, &bytes, &[at]), expected, "cut at {at}");
    }
}

#[test]
fn server_context_takeover_and_reset() {
    for no_context in [false, true] {
        let params = DeflateParams { server_no_context_takeover: no_context, ..DeflateParams::default() };
        let mut c = deflate_conn(params, WsConfig::default());
        let mut server = ServerDeflate::new(no_context);
        let msg = sample_text(3000, 9);
        for _ in 0..5 {
            let z = server.compress(msg.as_bytes());
            assert_eq!(feed(&mut c, &frame_rsv(true, 4, TEXT, &z)), vec![Ok(WsEvent::Text(msg.clone()))]);
        }
    }
}

#[test]
fn a_message_ending_with_a_final_block_is_accepted() {
    let mut c = deflate_conn(DeflateParams::default(), WsConfig::default());
    for text in ["first message with BFINAL set", "second message, fresh stream"] {
        // A whole stream: the data ends with a final block, not with a sync flush.
        let mut z = Vec::with_capacity(1000);
        Compress::new(Compression::default(), false)
            .compress_vec(text.as_bytes(), &mut z, FlushCompress::Finish)
            .unwrap();
        assert_eq!(feed(&mut c, &frame_rsv(true, 4, TEXT, &z)), vec![Ok(WsEvent::Text(text.into()))]);
    }
}

#[test]
fn deflate_bombs_stop_at_the_limit() {
    let zeros = vec![0u8; 8 << 20];
    let z = ServerDeflate::new(false).compress(&zeros);
    assert!(z.len() < 64 * 1024, "{}", z.len());
    // One frame.
    let mut c = deflate_conn(DeflateParams::default(), WsConfig { max_message_size: 1 << 20, ..WsConfig::default() });
    let err = expect_error(&feed(&mut c, &frame_rsv(true, 4, BINARY, &z)));
    assert_eq!((err.kind(), err.close_code()), (WsErrorKind::TooLarge, Some(1009)));
    // Many small fragments: the error comes before the message ends.
    let mut c = deflate_conn(DeflateParams::default(), WsConfig { max_message_size: 1 << 20, ..WsConfig::default() });
    let mut events = Vec::new();
    for (k, piece) in z.chunks(100).enumerate() {
        events.extend(feed(
            &mut c,
            &frame_rsv(false, if k == 0 { 4 } else { 0 }, if k == 0 { BINARY } else { CONT }, piece),
        ));
        if !events.is_empty() {
            assert!(k < z.len() / 100, "failed before the last fragment");
            break;
        }
    }
    assert_eq!(expect_error(&events).close_code(), Some(1009));
    // Right at the limit is fine.
    let mut c = deflate_conn(DeflateParams::default(), WsConfig { max_message_size: 8 << 20, ..WsConfig::default() });
    let events = feed(&mut c, &frame_rsv(true, 4, BINARY, &z));
    assert!(matches!(&events[..], [Ok(WsEvent::Binary(b))] if b.len() == 8 << 20));
}

#[test]
fn compressed_text_utf8_fails_fast_and_corrupt_data_fails() {
    let mut bad = b"valid start ".repeat(20);
    bad.extend_from_slice(&[0xED, 0xA0, 0x80]); // a surrogate
    bad.extend_from_slice(&b"more".repeat(200));
    let z = ServerDeflate::new(false).compress(&bad);
    let mut c = deflate_conn(DeflateParams::default(), WsConfig::default());
    let err = expect_error(&feed(&mut c, &frame_rsv(false, 4, TEXT, &z)));
    assert_eq!((err.kind(), err.close_code()), (WsErrorKind::InvalidPayload, Some(1007)));

    for garbage in [&[0x06u8][..], &[0xFF, 0xFF, 0xFF, 0xFF]] {
        let mut c = deflate_conn(DeflateParams::default(), WsConfig::default());
        let err = expect_error(&feed(&mut c, &frame_rsv(true, 4, BINARY, garbage)));
        assert_eq!(err.close_code(), Some(1007), "{garbage:02x?}");
    }
}

#[test]
fn rsv1_only_on_the_first_frame_of_a_data_message() {
    let z = ServerDeflate::new(false).compress(b"hello hello hello");
    let mut bytes = frame_rsv(false, 4, TEXT, &z[..3]);
    bytes.extend(frame_rsv(true, 4, CONT, &z[3..]));
    let mut c = deflate_conn(DeflateParams::default(), WsConfig::default());
    assert_eq!(expect_error(&feed(&mut c, &bytes)).close_code(), Some(1002));
    let mut c = deflate_conn(DeflateParams::default(), WsConfig::default());
    assert_eq!(expect_error(&feed(&mut c, &frame_rsv(true, 4, PING, b""))).close_code(), Some(1002));
    // Our own fragmented messages: RSV1 on the first frame only (client_messages asserts it).
    let mut c = deflate_conn(DeflateParams::default(), WsConfig { max_frame_size: 100, ..WsConfig::default() });
    c.send_binary(&XorShift(3).bytes(2000)).unwrap();
    let frames = sent_frames(&mut c);
    assert!(frames.len() > 1 && frames[0].rsv1);
    let msgs = client_messages(&frames);
    let mut server = ServerInflate { d: Decompress::new(false), reset_each: false };
    assert_eq!(server.inflate(&msgs[0].2), XorShift(3).bytes(2000));
}
