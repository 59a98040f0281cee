//! A deterministic hostile-bytes loop: random mixes of valid frames, broken frames and noise, fed in random
//! pieces between random commands. Asserts no panic, that every `poll_event` loop settles, that errors
//! stick, and that the send queue stays bounded.
#![allow(clippy::disallowed_methods)] // Instant::now in tests

mod ws_support;

use std::time::{Duration, Instant};

use reqivo_proto::ws::{DeflateParams, Negotiated, WsConfig, WsConn, WsEvent, WsState};
use ws_support::*;

/// A header with a random (sometimes non-minimal, sometimes huge) length encoding.
fn header(rng: &mut XorShift, b0: u8, len: usize, masked: bool) -> Vec<u8> {
    let m = if masked { 0x80 } else { 0 };
    let mut out = vec![b0];
    match rng.below(8) {
        0 => {
            out.push(m | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        1 => {
            out.push(m | 127);
            let big = if rng.below(4) == 0 { rng.next() } else { len as u64 };
            out.extend_from_slice(&big.to_be_bytes());
        }
        _ => {
            out.extend(&frame(true, 0, &vec![0; len])[1..frame(true, 0, &vec![0; len]).len() - len]);
            out[1] |= m;
        }
    }
    if masked {
        out.extend_from_slice(&[1, 2, 3, 4]);
    }
    out
}

fn payload(rng: &mut XorShift, len: usize) -> Vec<u8> {
    match rng.below(3) {
        0 => rng.bytes(len),
        1 => "aé€😀".bytes().cycle().skip(rng.below(4) as usize).take(len).collect(),
        _ => {
            // Something that might inflate (or not).
            let mut p = vec![0x00, 0x05, 0x00, 0xFA, 0xFF];
            p.extend(rng.bytes(len.saturating_sub(5)));
            p.truncate(len);
            p
        }
    }
}

/// A well-formed message in 1..4 fragments with a ping inside.
fn valid_message(rng: &mut XorShift) -> Vec<u8> {
    let text = rng.below(2) == 0;
    let len = rng.below(2000) as usize;
    let body: Vec<u8> = if text { "aé€😀".bytes().cycle().take(len).collect() } else { rng.bytes(len) };
    let parts = 1 + rng.below(4) as usize;
    let step = body.len().div_ceil(parts).max(1);
    let chunks: Vec<&[u8]> = if body.is_empty() { vec![&body[..]] } else { body.chunks(step).collect() };
    let mut out = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let opcode = if i > 0 {
            CONT
        } else if text {
            TEXT
        } else {
            BINARY
        };
        out.extend(frame(i + 1 == chunks.len(), opcode, chunk));
        if rng.below(3) == 0 {
            out.extend(frame(true, PING, b"in between"));
        }
    }
    out
}

fn hostile_stream(rng: &mut XorShift) -> Vec<u8> {
    let mut out = Vec::new();
    let mostly_valid = rng.below(2) == 0;
    for _ in 0..rng.below(12) + 1 {
        if mostly_valid && rng.below(10) != 0 {
            out.extend(valid_message(rng));
            continue;
        }
        match rng.below(10) {
            0 => out.extend(rng.bytes_below(40)),
            1 => {
                // A fully random header byte.
                let b0 = rng.next() as u8;
                let len = rng.below(200) as usize;
                let masked = rng.below(8) == 0;
                out.extend(header(rng, b0, len, masked));
                out.extend(payload(rng, len));
            }
            2 => {
                let code = [1000u16, 1001, 1002, 1005, 0, 999, 3000, 4999, 5000, 1015][rng.below(10) as usize];
                let mut p = code.to_be_bytes().to_vec();
                let n = rng.below(10) as usize;
                p.extend(payload(rng, n));
                if rng.below(5) == 0 {
                    p.truncate(1);
                }
                out.extend(frame(true, CLOSE, &p));
            }
            _ => {
                // Plausible data and control frames.
                let opcode = [TEXT, BINARY, CONT, CONT, PING, PONG][rng.below(6) as usize];
                let fin = rng.below(3) != 0;
                let rsv = if rng.below(6) == 0 { 4 } else { 0 };
                let len = if opcode >= 8 { rng.below(126) } else { rng.below(3000) } as usize;
                let p = payload(rng, len);
                out.extend(frame_rsv(fin, rsv, opcode, &p));
            }
        }
    }
    out
}

fn random_config(rng: &mut XorShift) -> (Negotiated, WsConfig) {
    let deflate = (rng.below(2) == 0).then(|| DeflateParams {
        server_no_context_takeover: rng.below(2) == 0,
        client_no_context_takeover: rng.below(2) == 0,
        server_max_window_bits: 8 + rng.below(8) as u8,
        client_max_window_bits: 8 + rng.below(8) as u8,
    });
    let config = WsConfig {
        max_frame_size: [10, 1000, 1 << 20][rng.below(3) as usize],
        max_message_size: [50, 5000, 1 << 20][rng.below(3) as usize],
        max_send_buffer: [100, 10_000][rng.below(2) as usize],
        compression_threshold: rng.below(100) as usize,
        mask_seed: rng.next(),
        ..WsConfig::default()
    };
    (Negotiated { subprotocol: None, deflate }, config)
}

#[test]
fn hostile_bytes_never_panic_and_always_settle() {
    let start = Instant::now();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut outcomes = [0usize; 5];
    for _round in 0..3000 {
        let (negotiated, config) = random_config(&mut rng);
        // A message always fits into an empty queue: the largest one sent here, with a header per
        // fragment and a little deflate overhead, plus one auto-pong and one Close.
        let largest_message = 3000 + 3000_usize.div_ceil(config.max_frame_size) * 14 + 100;
        let bound = config.max_send_buffer.max(largest_message) + 2 * (125 + 14);
        let mut c = WsConn::new(negotiated, &config, &[]);
        let stream = hostile_stream(&mut rng);
        let mut at = 0;
        let mut sticky = None;
        let mut written = Vec::new();
        let now = start;
        while at < stream.len() {
            let n = 1 + rng.below(300) as usize;
            let end = (at + n).min(stream.len());
            let evs = feed(&mut c, &stream[at..end]);
            at = end;
            if let Some(Err(e)) = evs.last() {
                sticky = Some(e.clone());
            }
            if let Some(e) = &sticky {
                assert_eq!(c.poll_event().as_ref(), Err(e), "errors stick");
                assert!(!c.wants_read());
            }
            match rng.below(8) {
                0 => {
                    let _ = c.send_text(&"t".repeat(rng.below(3000) as usize));
                }
                1 => {
                    let _ = c.send_binary(&rng.bytes_below(3000));
                }
                2 => {
                    let _ = c.send_ping(&rng.bytes_below(130));
                }
                3 if rng.below(4) == 0 => {
                    let code = [1000u16, 1004, 3000][rng.below(3) as usize];
                    let _ = c.close(code, "bye", now);
                }
                4 => c.handle_timeout(now + Duration::from_secs(rng.below(10))),
                5 => {
                    if let Some(out) = c.poll_transmit() {
                        let n = (rng.below(5000) as usize).min(out.len());
                        written.extend_from_slice(&out[..n]);
                        c.advance_transmit(n);
                    }
                }
                _ => {}
            }
            assert!(c.transmit_len() <= bound, "send queue {} over {bound}", c.transmit_len());
        }
        // Whatever was sent must be well-formed client frames.
        written.extend(drain_transmit(&mut c));
        let frames = take_client_frames(&mut written);
        assert!(frames.iter().all(|f| f.opcode < 8 || f.payload.len() <= 125));
        c.handle_eof();
        let evs = events(&mut c);
        let _ = drain_transmit(&mut c);
        let _ = events(&mut c);
        assert!(!c.wants_read());
        assert!(matches!(evs.last(), None | Some(Err(_)) | Some(Ok(WsEvent::Closed))) || c.state() != WsState::Open);
        outcomes[match c.state() {
            WsState::Open => 0,
            WsState::CloseSent => 1,
            WsState::CloseReceived => 2,
            WsState::Closed => 3,
            WsState::Failed => 4,
        }] += 1;
    }
    println!("end states (open, close sent, close received, closed, failed): {outcomes:?}");
    assert_eq!(outcomes[0] + outcomes[1] + outcomes[2], 0, "EOF always ends the connection");
    assert!(outcomes[3] > 0 && outcomes[4] > 0);
}

/// Pure noise, at every chunking, with and without compression.
#[test]
fn random_noise() {
    let mut rng = XorShift(42);
    for round in 0..2000 {
        let params = (round % 2 == 0).then(DeflateParams::default);
        let mut c = WsConn::new(
            Negotiated { subprotocol: None, deflate: params },
            &WsConfig { max_message_size: 4096, ..WsConfig::default() },
            &[],
        );
        let noise = rng.bytes_below(600);
        let step = 1 + rng.below(64) as usize;
        for piece in noise.chunks(step) {
            let _ = feed(&mut c, piece);
        }
        let _ = drain_transmit(&mut c);
    }
}
