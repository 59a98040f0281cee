//! The WebSocket connection core against a test-side server: framing, reassembly, UTF-8, close handshake,
//! limits, backpressure.
#![allow(clippy::disallowed_methods)] // Instant::now in tests

mod ws_support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use reqivo_proto::ws::{Negotiated, WsConfig, WsConn, WsErrorKind, WsEvent, WsState, WsUsageError};
use ws_support::*;

fn config() -> WsConfig {
    WsConfig { compression: false, ..WsConfig::default() }
}

fn conn() -> WsConn {
    WsConn::new(Negotiated::default(), &config(), &[])
}

fn conn_with(config: WsConfig) -> WsConn {
    WsConn::new(Negotiated::default(), &config, &[])
}

fn text(s: &str) -> Result<WsEvent, reqivo_proto::ws::WsError> {
    Ok(WsEvent::Text(s.into()))
}

fn binary(b: &[u8]) -> Result<WsEvent, reqivo_proto::ws::WsError> {
    Ok(WsEvent::Binary(Bytes::copy_from_slice(b)))
}

fn assert_protocol_error(bytes: &[u8]) {
    let mut c = conn();
    let events = feed(&mut c, bytes);
    let err = expect_error(&events);
    assert_eq!(err.kind(), WsErrorKind::Protocol, "{bytes:02x?}: {err}");
    assert_eq!(err.close_code(), Some(1002));
    let frames = sent_frames(&mut c);
    assert_eq!(frames.last().map(|f| (f.opcode, f.payload.clone())), Some((CLOSE, vec![0x03, 0xEA])));
}

// ---- receiving -------------------------------------------------------------------------------------------

#[test]
fn single_frame_messages() {
    let mut c = conn();
    let mut bytes = frame(true, TEXT, b"hello");
    bytes.extend(frame(true, BINARY, &[1, 2, 3]));
    bytes.extend(frame(true, TEXT, b""));
    bytes.extend(frame(true, BINARY, &[]));
    assert_eq!(feed(&mut c, &bytes), vec![text("hello"), binary(&[1, 2, 3]), text(""), binary(&[])]);
    assert!(c.wants_read());
    assert_eq!(c.state(), WsState::Open);
}

/// A stream with fragmentation, interleaved control frames, all three length encodings and a split code
/// point, cut at every byte position (and fed byte by byte): the events never change.
#[test]
fn byte_vector_split_at_every_position() {
    let mut bytes = Vec::new();
    bytes.extend(frame(false, TEXT, "κό".as_bytes()));
    bytes.extend(frame(true, PING, b"p1"));
    bytes.extend(frame(false, CONT, &"σμε".as_bytes()[..3])); // ends inside 'μ'
    bytes.extend(frame(true, PONG, b""));
    bytes.extend(frame(true, CONT, &"σμε".as_bytes()[3..]));
    let big: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    bytes.extend(frame(false, BINARY, &big[..200]));
    bytes.extend(frame(true, CONT, &big[200..]));
    bytes.extend(frame(true, TEXT, "😀".as_bytes()));
    let mut long = vec![0x82, 127];
    long.extend_from_slice(&(130u64).to_be_bytes()); // non-minimal 64-bit length
    long.extend((0..130).map(|i| i as u8));
    bytes.extend(&long);
    bytes.extend(close_frame(1000, "done"));

    let expected = vec![
        Ok(WsEvent::Ping(Bytes::from_static(b"p1"))),
        Ok(WsEvent::Pong(Bytes::new())),
        text("κόσμε"),
        binary(&big),
        text("😀"),
        binary(&(0..130).map(|i| i as u8).collect::<Vec<_>>()),
        Ok(WsEvent::Close { code: Some(1000), reason: "done".into() }),
    ];
    let mut c = conn();
    assert_eq!(feed(&mut c, &bytes), expected);
    for cut in 0..=bytes.len() {
        let mut c = conn();
        assert_eq!(feed_split(&mut c, &bytes, &[cut]), expected, "cut at {cut}");
        let frames = sent_frames(&mut c);
        assert_eq!(frames.iter().map(|f| f.opcode).collect::<Vec<_>>(), vec![PONG, CLOSE], "cut at {cut}");
    }
    let mut c = conn();
    let cuts: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(feed_split(&mut c, &bytes, &cuts), expected);
}

#[test]
fn leftover_bytes_from_the_handshake_are_read_first() {
    let mut leftover = frame(true, TEXT, b"early");
    leftover.extend(&frame(true, TEXT, b"part")[..4]);
    let mut c = WsConn::new(Negotiated::default(), &config(), &leftover);
    assert!(!c.wants_read(), "poll_event must look at the leftover first");
    assert_eq!(events(&mut c), vec![text("early")]);
    assert!(c.wants_read());
    assert!(c.recv_buf().capacity() - c.recv_buf().len() >= 512);
    assert_eq!(feed(&mut c, b"rt"), vec![text("part")]);
}

#[test]
fn non_minimal_lengths_are_accepted() {
    let mut bytes = vec![0x81, 126, 0, 5];
    bytes.extend_from_slice(b"hello");
    bytes.extend_from_slice(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 2, 9, 9]);
    bytes.extend_from_slice(&[0x89, 126, 0, 1, 7]); // a control frame too: its length is still <= 125
    let mut c = conn();
    assert_eq!(feed(&mut c, &bytes), vec![text("hello"), binary(&[9, 9]), Ok(WsEvent::Ping(Bytes::from_static(&[7])))]);
}

#[test]
fn frame_header_violations_fail_with_1002() {
    // 64-bit length with the top bit set.
    assert_protocol_error(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]);
    // RSV2, RSV3, and RSV1 without an extension.
    assert_protocol_error(&frame_rsv(true, 2, TEXT, b"x"));
    assert_protocol_error(&frame_rsv(true, 1, TEXT, b"x"));
    assert_protocol_error(&frame_rsv(true, 4, TEXT, b"x"));
    assert_protocol_error(&frame_rsv(true, 4, PING, b"x"));
    // Reserved opcodes.
    for op in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        assert_protocol_error(&frame(true, op, b""));
    }
    // A masked server frame.
    assert_protocol_error(&[0x81, 0x81, 1, 2, 3, 4, b'a' ^ 1]);
    // Fragmented and oversized control frames.
    assert_protocol_error(&frame(false, PING, b"x"));
    assert_protocol_error(&frame(false, CLOSE, &[3, 0xE8]));
    assert_protocol_error(&frame(true, PING, &[0; 126]));
    // Continuation without a message; a new message inside a fragmented one.
    assert_protocol_error(&frame(true, CONT, b"x"));
    let mut bytes = frame(false, TEXT, b"a");
    bytes.extend(frame(true, BINARY, b"b"));
    assert_protocol_error(&bytes);
}

#[test]
fn header_errors_fail_before_the_rest_of_the_frame_arrives() {
    for first in [0x83u8, 0xA1, 0x91, 0x09] {
        let mut c = conn();
        let events = feed(&mut c, &[first]);
        assert_eq!(expect_error(&events).close_code(), Some(1002), "{first:#x}");
    }
    let mut c = conn();
    assert_eq!(expect_error(&feed(&mut c, &[0x82, 127, 0x80])).close_code(), Some(1002));
}

#[test]
fn errors_stick_and_stop_reading_and_sending() {
    let mut c = conn();
    let err = expect_error(&feed(&mut c, &frame(true, 3, b"")));
    assert_eq!(c.state(), WsState::Failed);
    assert!(!c.wants_read());
    assert_eq!(c.poll_event(), Err(err.clone()));
    assert_eq!(feed(&mut c, &frame(true, TEXT, b"ignored")), vec![Err(err.clone())]);
    assert_eq!(c.send_text("x"), Err(WsUsageError::Failed));
    assert_eq!(c.send_ping(b""), Err(WsUsageError::Failed));
    assert_eq!(c.close(1000, "", Instant::now()), Err(WsUsageError::Failed));
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 1, "only the Close reporting the error");
    assert_eq!(c.poll_event(), Err(err));
    assert_eq!(c.poll_timeout(), None);
}

// ---- UTF-8 -----------------------------------------------------------------------------------------------

#[test]
fn invalid_utf8_fails_fast_before_the_message_ends() {
    // Autobahn 6.4.1 shape: a valid first fragment, then one that makes it invalid, then the rest.
    let mut c = conn();
    let valid = [0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5];
    assert_eq!(feed(&mut c, &frame(false, TEXT, &valid)), vec![]);
    let err = expect_error(&feed(&mut c, &frame(false, CONT, &[0xF4, 0x90, 0x80, 0x80])));
    assert_eq!((err.kind(), err.close_code()), (WsErrorKind::InvalidPayload, Some(1007)));
    assert_eq!(sent_frames(&mut c)[0].payload, vec![0x03, 0xEF]);

    // Autobahn 6.4.3 shape: one frame, delivered in chops; fails inside the frame.
    let mut payload = valid.to_vec();
    payload.extend_from_slice(&[0xF4, 0x90, 0x80, 0x80]);
    payload.extend_from_slice(b"edited");
    let bytes = frame(true, TEXT, &payload);
    let mut c = conn();
    assert_eq!(feed(&mut c, &bytes[..2 + valid.len()]), vec![]);
    assert_eq!(feed(&mut c, &bytes[2 + valid.len()..2 + valid.len() + 1]), vec![], "F4 alone may still be valid");
    let err = expect_error(&feed(&mut c, &bytes[2 + valid.len() + 1..2 + valid.len() + 2]));
    assert_eq!(err.close_code(), Some(1007));
}

#[test]
fn code_points_split_across_fragments_are_fine() {
    let s = "a€𝄞😀ü";
    let b = s.as_bytes();
    for cut1 in 0..=b.len() {
        for cut2 in cut1..=b.len() {
            let mut bytes = frame(false, TEXT, &b[..cut1]);
            bytes.extend(frame(true, PING, b""));
            bytes.extend(frame(false, CONT, &b[cut1..cut2]));
            bytes.extend(frame(true, CONT, &b[cut2..]));
            let mut c = conn();
            let events = feed(&mut c, &bytes);
            assert_eq!(events, vec![Ok(WsEvent::Ping(Bytes::new())), text(s)], "cuts {cut1},{cut2}");
        }
    }
}

#[test]
fn text_ending_inside_a_code_point_fails() {
    let mut c = conn();
    let mut bytes = frame(false, TEXT, b"ab");
    bytes.extend(frame(true, CONT, &[0xE2, 0x82]));
    assert_eq!(expect_error(&feed(&mut c, &bytes)).close_code(), Some(1007));
    // The same in one frame (checked where it lies in the receive buffer), whole or in two reads.
    let bytes = frame(true, TEXT, &[b'a', 0xE2, 0x82]);
    assert_eq!(expect_error(&feed(&mut conn(), &bytes)).close_code(), Some(1007));
    let mut c = conn();
    assert_eq!(feed(&mut c, &bytes[..3]), vec![]);
    assert_eq!(expect_error(&feed(&mut c, &bytes[3..])).close_code(), Some(1007));
    // Binary messages are not checked.
    let mut c = conn();
    assert_eq!(feed(&mut c, &frame(true, BINARY, &[0xFF, 0xE2])), vec![binary(&[0xFF, 0xE2])]);
}

#[test]
fn a_large_single_frame_text_arriving_in_pieces_is_one_message() {
    let s = "ü€😀a".repeat(64 * 1024 / 10);
    let bytes = frame(true, TEXT, s.as_bytes());
    let mut c = conn();
    let mut events = Vec::new();
    for piece in bytes.chunks(1000) {
        events.extend(feed(&mut c, piece));
    }
    assert_eq!(events, vec![text(&s)]);
}

// ---- close handshake -------------------------------------------------------------------------------------

/// Every code 0..=65535 in a received Close: valid codes are reported and echoed, the rest fail with 1002.
#[test]
fn every_received_close_code() {
    let valid = |code: u16| matches!(code, 1000..=1003 | 1007..=1011 | 1012..=1014 | 3000..=4999);
    for code in 0..=u16::MAX {
        let mut c = conn();
        let events = feed(&mut c, &close_frame(code, "r"));
        let frames = sent_frames(&mut c);
        if valid(code) {
            assert_eq!(events, vec![Ok(WsEvent::Close { code: Some(code), reason: "r".into() })], "{code}");
            assert_eq!(frames.len(), 1);
            assert_eq!(frames[0].payload, code.to_be_bytes(), "echo of {code}");
        } else {
            assert_eq!(expect_error(&events).close_code(), Some(1002), "{code}");
            assert_eq!(frames[0].payload, 1002u16.to_be_bytes(), "{code}");
        }
    }
}

#[test]
fn close_payload_rules() {
    // Empty payload: no code; the echo is empty too.
    let mut c = conn();
    assert_eq!(feed(&mut c, &frame(true, CLOSE, &[])), vec![Ok(WsEvent::Close { code: None, reason: String::new() })]);
    assert_eq!(sent_frames(&mut c)[0].payload, Vec::<u8>::new());
    // One byte: protocol error.
    assert_protocol_error(&frame(true, CLOSE, &[0x03]));
    // A reason that is not UTF-8: 1007.
    let mut c = conn();
    let err = expect_error(&feed(&mut c, &frame(true, CLOSE, &[0x03, 0xE8, 0xC3, 0x28])));
    assert_eq!(err.close_code(), Some(1007));
    // A 123-byte reason is fine.
    let reason = "x".repeat(123);
    let mut c = conn();
    assert_eq!(feed(&mut c, &close_frame(1001, &reason)), vec![Ok(WsEvent::Close { code: Some(1001), reason })]);
}

#[test]
fn peer_initiated_close() {
    let mut c = conn();
    let mut bytes = close_frame(1001, "bye");
    bytes.extend(frame(true, TEXT, b"after close: ignored"));
    assert_eq!(feed(&mut c, &bytes), vec![Ok(WsEvent::Close { code: Some(1001), reason: "bye".into() })]);
    assert_eq!(c.state(), WsState::CloseReceived);
    assert!(!c.wants_read());
    assert_eq!(c.send_text("late"), Err(WsUsageError::NotOpen));
    assert_eq!(c.close(1000, "", Instant::now()), Ok(()), "the echo is already queued");
    assert_eq!(events(&mut c), vec![], "Closed waits until the echo is written");
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].payload, 1001u16.to_be_bytes());
    assert_eq!(events(&mut c), vec![Ok(WsEvent::Closed)]);
    assert_eq!(c.state(), WsState::Closed);
    assert_eq!(events(&mut c), vec![]);
    assert!(c.poll_transmit().is_none());
}

#[test]
fn client_initiated_close() {
    let now = Instant::now();
    let mut c = conn();
    c.send_text("last words").unwrap();
    c.close(1000, "done", now).unwrap();
    assert_eq!(c.state(), WsState::CloseSent);
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(5)));
    assert_eq!(c.send_binary(b"x"), Err(WsUsageError::NotOpen));
    assert_eq!(c.send_ping(b"x"), Err(WsUsageError::NotOpen));
    assert_eq!(c.close(1000, "again", now), Ok(()), "close is idempotent");
    let frames = sent_frames(&mut c);
    assert_eq!(frames.iter().map(|f| f.opcode).collect::<Vec<_>>(), vec![TEXT, CLOSE]);
    assert_eq!(frames[1].payload, b"\x03\xe8done");
    // Messages still arrive while we wait for the peer's Close.
    assert!(c.wants_read());
    let mut bytes = frame(true, TEXT, b"in flight");
    bytes.extend(frame(true, PING, b"p"));
    bytes.extend(close_frame(1000, ""));
    assert_eq!(
        feed(&mut c, &bytes),
        vec![
            text("in flight"),
            Ok(WsEvent::Ping(Bytes::from_static(b"p"))),
            Ok(WsEvent::Close { code: Some(1000), reason: String::new() }),
            Ok(WsEvent::Closed),
        ]
    );
    assert!(c.poll_transmit().is_none(), "no pong after our Close, no second Close");
    assert_eq!(c.state(), WsState::Closed);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn an_error_after_our_close_was_written_sends_nothing_more() {
    let mut c = conn();
    c.close(1001, "", Instant::now()).unwrap();
    assert_eq!(sent_frames(&mut c).len(), 1);
    let err = expect_error(&feed(&mut c, &frame(true, CONT, b"stray")));
    assert_eq!(err.close_code(), Some(1002));
    assert!(c.poll_transmit().is_none(), "one Close per connection");
    assert_eq!(c.poll_timeout(), None);
    // But a Close still queued behind data is replaced by the error's.
    let mut c = conn_with(WsConfig { max_frame_size: 1000, ..config() });
    c.send_binary(&[0; 200_000]).unwrap();
    c.close(1000, "", Instant::now()).unwrap();
    expect_error(&feed(&mut c, &frame(true, 3, b"")));
    let frames = sent_frames(&mut c);
    assert!(frames.len() < 200, "queued data frames were dropped");
    assert_eq!(frames.last().unwrap().payload, 1002u16.to_be_bytes());
    assert_eq!(frames.iter().filter(|f| f.opcode == CLOSE).count(), 1);
}

#[test]
fn close_timeout() {
    let now = Instant::now();
    let mut c = conn_with(WsConfig { close_timeout: Duration::from_millis(300), ..config() });
    c.close(1000, "", now).unwrap();
    drain_transmit(&mut c);
    let deadline = c.poll_timeout().unwrap();
    assert_eq!(deadline, now + Duration::from_millis(300));
    c.handle_timeout(now + Duration::from_millis(299));
    assert_eq!(events(&mut c), vec![]);
    c.handle_timeout(deadline);
    assert_eq!(c.state(), WsState::Closed);
    assert_eq!(events(&mut c), vec![Ok(WsEvent::Closed)]);
    assert!(!c.wants_read());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn eof_cases() {
    // EOF in Open (between frames, or inside one): abnormal closure, nothing sent.
    for bytes in [vec![], frame(true, TEXT, b"abc")[..3].to_vec()] {
        let mut c = conn();
        c.send_text("queued").unwrap();
        c.recv_buf().extend_from_slice(&bytes);
        c.handle_eof();
        let err = expect_error(&events(&mut c));
        assert_eq!((err.kind(), err.close_code()), (WsErrorKind::AbnormalClosure, None));
        assert!(c.poll_transmit().is_none());
    }
    // Complete frames before the EOF are still delivered.
    let mut c = conn();
    c.recv_buf().extend_from_slice(&frame(true, TEXT, b"x"));
    c.handle_eof();
    let ev = events(&mut c);
    assert_eq!(ev[0], text("x"));
    assert_eq!(expect_error(&ev).kind(), WsErrorKind::AbnormalClosure);
    // EOF after our Close: closed.
    let mut c = conn();
    c.close(1000, "", Instant::now()).unwrap();
    drain_transmit(&mut c);
    c.handle_eof();
    assert_eq!(events(&mut c), vec![Ok(WsEvent::Closed)]);
    assert!(!c.wants_read());
}

// ---- pings and pongs -------------------------------------------------------------------------------------

#[test]
fn pings_are_answered_automatically() {
    let mut c = conn();
    let payload = [7u8; 125];
    assert_eq!(feed(&mut c, &frame(true, PING, &payload)), vec![Ok(WsEvent::Ping(Bytes::copy_from_slice(&payload)))]);
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 1);
    assert_eq!((frames[0].opcode, &frames[0].payload[..]), (PONG, &payload[..]));
}

#[test]
fn only_the_latest_ping_is_answered_while_the_socket_is_busy() {
    let mut c = conn();
    c.send_binary(&vec![0u8; 100_000]).unwrap();
    let mut bytes = Vec::new();
    for i in 0..3u8 {
        bytes.extend(frame(true, PING, &[i]));
    }
    assert_eq!(feed(&mut c, &bytes).len(), 3);
    let frames = sent_frames(&mut c);
    let pongs: Vec<_> = frames.iter().filter(|f| f.opcode == PONG).map(|f| f.payload.clone()).collect();
    assert_eq!(pongs, vec![vec![2]]);
}

#[test]
fn user_pings_and_pongs() {
    let mut c = conn();
    c.send_ping(b"are you there").unwrap();
    c.send_pong(b"unsolicited").unwrap();
    assert_eq!(c.send_ping(&[0; 126]), Err(WsUsageError::ControlTooLong(126)));
    assert_eq!(c.send_pong(&[0; 126]), Err(WsUsageError::ControlTooLong(126)));
    let frames = sent_frames(&mut c);
    assert_eq!(
        frames.iter().map(|f| (f.opcode, f.payload.clone())).collect::<Vec<_>>(),
        vec![(PING, b"are you there".to_vec()), (PONG, b"unsolicited".to_vec())]
    );
}

// ---- sending ---------------------------------------------------------------------------------------------

#[test]
fn frames_are_masked_with_fresh_deterministic_keys() {
    let run = |seed: u64| {
        let mut c = conn_with(WsConfig { mask_seed: seed, ..config() });
        for i in 0..20 {
            c.send_text(&format!("message {i}")).unwrap();
        }
        let raw = drain_transmit(&mut c);
        (raw.clone(), take_client_frames(&mut raw.clone()))
    };
    let (raw_a, frames_a) = run(1);
    let (raw_b, _) = run(1);
    let (raw_c, _) = run(2);
    assert_eq!(raw_a, raw_b, "same seed, same bytes");
    assert_ne!(raw_a, raw_c);
    let keys: std::collections::HashSet<_> = frames_a.iter().map(|f| f.mask).collect();
    assert_eq!(keys.len(), 20);
    assert!(!raw_a.windows(9).any(|w| w == b"message 1"), "payload appears masked");
    assert_eq!(frames_a[3].payload, b"message 3");
}

#[test]
fn long_messages_are_fragmented_and_pings_go_between_fragments() {
    let mut c = conn_with(WsConfig { max_frame_size: 16 * 1024, ..config() });
    let msg: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    c.send_binary(&msg).unwrap();
    c.send_ping(b"mid").unwrap();
    let frames = sent_frames(&mut c);
    assert!(frames.iter().all(|f| f.payload.len() <= 16 * 1024));
    let ping_at = frames.iter().position(|f| f.opcode == PING).unwrap();
    assert!(ping_at > 0 && ping_at < frames.len() - 1, "ping between fragments, at {ping_at} of {}", frames.len());
    let data: Vec<_> = frames.iter().filter(|f| f.opcode != PING).collect();
    assert_eq!(data[0].opcode, BINARY);
    assert!(data[1..].iter().all(|f| f.opcode == CONT));
    assert!(data[..data.len() - 1].iter().all(|f| !f.fin) && data.last().unwrap().fin);
    assert_eq!(data.iter().flat_map(|f| f.payload.clone()).collect::<Vec<_>>(), msg);
}

#[test]
fn usage_errors_do_not_stick() {
    let mut c = conn();
    let now = Instant::now();
    assert_eq!(c.close(1005, "", now), Err(WsUsageError::InvalidCloseCode(1005)));
    assert_eq!(c.close(999, "", now), Err(WsUsageError::InvalidCloseCode(999)));
    assert_eq!(c.close(1000, &"x".repeat(124), now), Err(WsUsageError::ReasonTooLong(124)));
    assert_eq!(c.state(), WsState::Open);
    c.send_text("still fine").unwrap();
    assert_eq!(sent_frames(&mut c)[0].payload, b"still fine");
    c.close(4999, &"x".repeat(123), now).unwrap();
}

#[test]
fn backpressure_bounds_the_send_queue() {
    let mut c = conn_with(WsConfig { max_send_buffer: 10_000, max_frame_size: 4096, ..config() });
    c.send_binary(&[1; 50_000]).unwrap(); // an empty queue takes any message
    assert!(c.transmit_len() > 50_000);
    assert_eq!(c.send_binary(&[2; 10]), Err(WsUsageError::BufferFull));
    assert_eq!(c.send_ping(b""), Err(WsUsageError::BufferFull));
    // Write most of it out.
    let mut written = Vec::new();
    while c.transmit_len() > 9_000 {
        let out = c.poll_transmit().unwrap();
        let n = out.len().min(500);
        written.extend_from_slice(&out[..n]);
        c.advance_transmit(n);
    }
    c.send_binary(&[3; 10]).unwrap();
    assert_eq!(c.send_binary(&[4; 5_000]), Err(WsUsageError::BufferFull));
    written.extend(drain_transmit(&mut c));
    let frames = take_client_frames(&mut written);
    assert_eq!(frames.last().unwrap().payload, vec![3; 10]);
    assert_eq!(c.transmit_len(), 0);
    c.send_binary(&[4; 5_000]).unwrap();
}

#[test]
fn send_queue_stays_bounded_while_the_peer_does_not_read() {
    let mut c = conn_with(WsConfig { max_send_buffer: 100_000, ..config() });
    let mut refused = 0;
    for _ in 0..10_000 {
        if c.send_text(&"y".repeat(1000)) == Err(WsUsageError::BufferFull) {
            refused += 1;
        }
        // Pings flood in meanwhile.
        let _ = feed(&mut c, &frame(true, PING, &[1; 100]));
    }
    assert!(refused > 9_000);
    assert!(c.transmit_len() <= 100_000 + 125 + 14, "{}", c.transmit_len());
}

#[test]
fn a_ping_flood_cannot_grow_the_queue() {
    let mut c = conn_with(WsConfig { max_send_buffer: 100, ..config() });
    for i in 0..10_000u32 {
        let _ = feed(&mut c, &frame(true, PING, &i.to_be_bytes()));
    }
    assert!(c.transmit_len() <= 100 + 2 * (125 + 14), "{}", c.transmit_len());
    // Once written out, the latest ping is answered.
    let frames = sent_frames(&mut c);
    assert_eq!(frames.last().unwrap().payload, 9_999u32.to_be_bytes());
}

// ---- limits ----------------------------------------------------------------------------------------------

#[test]
fn frame_size_limit_is_checked_at_the_header() {
    let mut c = conn_with(WsConfig { max_frame_size: 1000, ..config() });
    assert_eq!(feed(&mut c, &frame(true, BINARY, &[0; 1000])), vec![binary(&[0; 1000])]);
    let bytes = frame(true, BINARY, &[0; 1001]);
    let err = expect_error(&feed(&mut c, &bytes[..4])); // header only
    assert_eq!((err.kind(), err.close_code()), (WsErrorKind::TooLarge, Some(1009)));
    assert_eq!(sent_frames(&mut c)[0].payload, 1009u16.to_be_bytes());
}

#[test]
fn message_size_limit_across_fragments() {
    let cfg = WsConfig { max_message_size: 10, ..config() };
    let mut ok = frame(false, TEXT, b"01234");
    ok.extend(frame(true, CONT, b"56789"));
    assert_eq!(feed(&mut conn_with(cfg.clone()), &ok), vec![text("0123456789")]);
    let mut bad = frame(false, TEXT, b"01234");
    bad.extend(frame(true, PING, b""));
    bad.extend(&frame(true, CONT, b"567890")[..2]);
    let mut c = conn_with(cfg);
    let events = feed(&mut c, &bad);
    assert_eq!(events[0], Ok(WsEvent::Ping(Bytes::new())));
    assert_eq!(expect_error(&events).close_code(), Some(1009));
}

// ---- a client/server pair --------------------------------------------------------------------------------

/// Random messages both ways through the test server, with random read and write sizes.
#[test]
fn random_conversation() {
    let mut rng = XorShift(0xC0FFEE);
    let mut c = conn_with(WsConfig { max_frame_size: 3000, ..config() });
    let mut to_server = Vec::new();
    let mut expected_at_server = Vec::new();
    for round in 0..300 {
        let len = rng.below(10_000) as usize;
        if rng.below(2) == 0 {
            let s: String = (0..len).map(|i| ['a', 'é', '€', '😀'][(i + round) % 4]).collect();
            c.send_text(&s).unwrap();
            expected_at_server.push((TEXT, s.into_bytes()));
        } else {
            let b = rng.bytes(len);
            c.send_binary(&b).unwrap();
            expected_at_server.push((BINARY, b));
        }
        // Server → client: a fragmented message with a ping inside, delivered in random pieces.
        let blen = rng.below(8000) as usize;
        let b = rng.bytes(blen);
        let mut bytes = Vec::new();
        let pieces: Vec<&[u8]> = if b.is_empty() { vec![&b[..]] } else { b.chunks(2500).collect() };
        if pieces.len() == 1 {
            bytes.extend(frame(true, PING, &[round as u8]));
        }
        for (i, piece) in pieces.iter().enumerate() {
            bytes.extend(frame(i + 1 == pieces.len(), if i == 0 { BINARY } else { CONT }, piece));
            if i == 0 && pieces.len() > 1 {
                bytes.extend(frame(true, PING, &[round as u8])); // inside the fragmented message
            }
        }
        let mut got = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let n = 1 + rng.below(2000) as usize;
            let end = (at + n).min(bytes.len());
            got.extend(feed(&mut c, &bytes[at..end]));
            at = end;
        }
        let brief: Vec<_> = got
            .iter()
            .map(|e| match e {
                Ok(WsEvent::Binary(x)) => format!("bin {}", x.len()),
                other => format!("{other:?}"),
            })
            .collect();
        assert!(
            got == vec![Ok(WsEvent::Ping(Bytes::from(vec![round as u8]))), binary(&b)],
            "round {round}: {brief:?} want {}",
            b.len()
        );
        // Partial writes of random size.
        while let Some(out) = c.poll_transmit() {
            let n = (1 + rng.below(4000) as usize).min(out.len());
            to_server.extend_from_slice(&out[..n]);
            c.advance_transmit(n);
        }
    }
    let frames = take_client_frames(&mut to_server);
    let mut messages = Vec::new();
    let mut current: Option<(u8, Vec<u8>)> = None;
    let mut pongs = 0;
    for f in frames {
        match f.opcode {
            PONG => pongs += 1,
            CONT => current.as_mut().unwrap().1.extend(f.payload),
            op => current = Some((op, f.payload)),
        }
        if f.fin && f.opcode != PONG {
            messages.push(current.take().unwrap());
        }
    }
    assert_eq!(pongs, 300);
    assert_eq!(messages, expected_at_server);
}
