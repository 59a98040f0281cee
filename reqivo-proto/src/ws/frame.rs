//! Frame headers (RFC 6455 §5.2), masking (§5.3) and the mask-key generator. Pure functions over bytes;
//! which frames are allowed when is decided in `conn.rs`.

/// A frame opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    pub(crate) fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A decoded header of a frame from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub fin: bool,
    pub rsv1: bool,
    pub opcode: OpCode,
    /// Payload length.
    pub len: u64,
    /// Bytes the header occupies.
    pub header_len: usize,
}

/// Largest control frame payload (RFC 6455 §5.5).
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;
/// Longest header we write: 2 + 8 (length) + 4 (mask key).
pub(crate) const MAX_HEADER_LEN: usize = 14;

/// Decodes the header of a frame sent by a server. `Ok(None)`: more bytes are needed. Fails (always a
/// protocol error, close 1002) as soon as the bytes at hand prove the header wrong, so a bad first byte
/// fails before its length field arrives.
///
/// RSV1 is returned, not judged: whether it is allowed depends on the negotiated extension and the frame's
/// place in a message.
pub(crate) fn decode_server_header(buf: &[u8]) -> Result<Option<Header>, &'static str> {
    let Some(&b0) = buf.first() else { return Ok(None) };
    if b0 & 0x30 != 0 {
        return Err("reserved bit RSV2 or RSV3 set");
    }
    let opcode = OpCode::from_bits(b0 & 0x0F).ok_or("reserved opcode")?;
    let fin = b0 & 0x80 != 0;
    if opcode.is_control() && !fin {
        return Err("fragmented control frame");
    }
    let Some(&b1) = buf.get(1) else { return Ok(None) };
    if b1 & 0x80 != 0 {
        return Err("masked frame from the server");
    }
    let (len, header_len) = match b1 & 0x7F {
        126 => {
            let Some(ext) = buf.get(2..4) else { return Ok(None) };
            (u64::from(u16::from_be_bytes([ext[0], ext[1]])), 4)
        }
        127 => {
            let Some(&first) = buf.get(2) else { return Ok(None) };
            if first & 0x80 != 0 {
                return Err("64-bit payload length with the most significant bit set");
            }
            let Some(ext) = buf.get(2..10) else { return Ok(None) };
            let mut be = [0u8; 8];
            be.copy_from_slice(ext);
            (u64::from_be_bytes(be), 10)
        }
        short => (u64::from(short), 2),
    };
    // Non-minimal encodings (126 or 127 for a length that fits a shorter form) are accepted: see mod docs.
    if opcode.is_control() && len > MAX_CONTROL_PAYLOAD as u64 {
        return Err("control frame payload over 125 bytes");
    }
    Ok(Some(Header { fin, rsv1: b0 & 0x40 != 0, opcode, len, header_len }))
}

/// Bytes a masked client frame with `payload_len` payload bytes occupies (minimal length encoding).
pub(crate) fn client_frame_len(payload_len: usize) -> usize {
    let head = match payload_len {
        0..=125 => 6,
        126..=0xFFFF => 8,
        _ => 14,
    };
    head + payload_len
}

/// Writes one masked client frame into `dst`, which is exactly `client_frame_len(payload.len())` long:
/// the header with the minimal length encoding, the mask key, and `payload` XOR-ed with it. The payload is
/// masked as it is copied (one pass over it, not a copy and then a second pass to mask).
pub(crate) fn encode_client_frame(
    dst: &mut [u8],
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    payload: &[u8],
    mask: [u8; 4],
) {
    debug_assert_eq!(dst.len(), client_frame_len(payload.len()));
    let len = payload.len();
    dst[0] = (u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode.bits();
    let key_at = if len < 126 {
        dst[1] = 0x80 | len as u8;
        2
    } else if let Ok(short) = u16::try_from(len) {
        dst[1] = 0x80 | 126;
        dst[2..4].copy_from_slice(&short.to_be_bytes());
        4
    } else {
        dst[1] = 0x80 | 127;
        dst[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    let (key, body) = dst[key_at..].split_at_mut(4);
    key.copy_from_slice(&mask);
    mask_copy(body, payload, mask);
}

/// Largest payload with the 7-bit length form.
pub(crate) const MAX_SMALL_PAYLOAD: usize = 125;
/// Header of a frame with the 7-bit length form: 2 bytes and the mask key.
pub(crate) const SMALL_HEADER_LEN: usize = 6;

/// `encode_client_frame` for a final, uncompressed frame of at most `MAX_SMALL_PAYLOAD` bytes; `dst` is
/// `SMALL_HEADER_LEN + payload.len()` long. Small enough to inline into the common send path.
#[inline]
pub(crate) fn encode_small_frame(dst: &mut [u8], opcode: OpCode, payload: &[u8], mask: [u8; 4]) {
    debug_assert!(payload.len() <= MAX_SMALL_PAYLOAD && dst.len() == SMALL_HEADER_LEN + payload.len());
    let Some((head, body)) = dst.split_first_chunk_mut::<SMALL_HEADER_LEN>() else { return };
    *head = [0x80 | opcode.bits(), 0x80 | payload.len() as u8, mask[0], mask[1], mask[2], mask[3]];
    mask_small(body, payload, mask);
}

/// `mask_copy` without the 32-byte blocks (a small payload has none).
#[inline]
fn mask_small(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let wide = wide_key(key);
    let (dst_words, dst_rest) = dst.as_chunks_mut::<8>();
    let (src_words, src_rest) = src.as_chunks::<8>();
    for (d, s) in dst_words.iter_mut().zip(src_words) {
        *d = (u64::from_ne_bytes(*s) ^ wide).to_ne_bytes();
    }
    for (i, (d, s)) in dst_rest.iter_mut().zip(src_rest).enumerate() {
        *d = s ^ key[i & 3];
    }
}

/// `dst = src ^ key` (masking from key offset 0); both of the same length.
fn mask_copy(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let (dst_blocks, dst_rest) = dst.as_chunks_mut::<32>();
    let (src_blocks, src_rest) = src.as_chunks::<32>();
    if !dst_blocks.is_empty() {
        // Whole 32-byte blocks, as arrays so that no bounds or length checks remain and the loop
        // vectorises (to 16-byte XORs on baseline x86-64). The key block is built only for them.
        let block: [u8; 32] = std::array::from_fn(|i| key[i & 3]);
        for (d, s) in dst_blocks.iter_mut().zip(src_blocks) {
            for i in 0..32 {
                d[i] = s[i] ^ block[i];
            }
        }
    }
    // The remainder (a small message is nothing else) in 8-byte words, then bytes; each piece starts at
    // a multiple of 4, so at key offset 0.
    let wide = wide_key(key);
    let (dst_words, dst_rest) = dst_rest.as_chunks_mut::<8>();
    let (src_words, src_rest) = src_rest.as_chunks::<8>();
    for (d, s) in dst_words.iter_mut().zip(src_words) {
        *d = (u64::from_ne_bytes(*s) ^ wide).to_ne_bytes();
    }
    for (i, (d, s)) in dst_rest.iter_mut().zip(src_rest).enumerate() {
        *d = s ^ key[i & 3];
    }
}

/// The key twice, as the 8-byte word that masks 8 bytes at key offset 0 (either byte order: both halves
/// are the same). Built from a `u32`: assembling it from eight bytes costs some 25 instructions.
#[inline]
fn wide_key(key: [u8; 4]) -> u64 {
    let k = u64::from(u32::from_ne_bytes(key));
    k | (k << 32)
}

/// XORs `buf` with the 4-byte masking key, starting at key offset 0 (RFC 6455 §5.3). Masking and
/// unmasking are the same operation. Works on 8 bytes at a time.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    let wide = wide_key(key);
    // Whole 8-byte words, as arrays so that no bounds or length checks remain and the loop vectorises.
    let (words, rest) = buf.as_chunks_mut::<8>();
    for word in words {
        *word = (u64::from_ne_bytes(*word) ^ wide).to_ne_bytes();
    }
    // The remainder starts at a multiple of 8, so at key offset 0.
    for (i, byte) in rest.iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

/// splitmix64: a tiny, fast, well-distributed generator for mask keys. Deterministic from its seed; the
/// driver seeds it from the OS RNG (see `WsConfig::mask_seed`).
#[derive(Debug, Clone)]
pub(crate) struct MaskRng(u64);

impl MaskRng {
    pub(crate) fn new(seed: u64) -> Self {
        MaskRng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn next_mask(&mut self) -> [u8; 4] {
        let [a, b, c, d, ..] = self.next_u64().to_le_bytes();
        [a, b, c, d]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_bytewise(buf: &mut [u8], key: [u8; 4]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }

    #[test]
    fn mask_matches_bytewise_for_every_length_and_key() {
        let key = [0x12, 0x34, 0xAB, 0xCD];
        for len in 0..100 {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply_mask(&mut fast, key);
            mask_bytewise(&mut slow, key);
            assert_eq!(fast, slow, "len {len}");
            apply_mask(&mut fast, key);
            assert_eq!(fast, data, "masking twice restores, len {len}");
        }
    }

    #[test]
    fn mask_copy_matches_bytewise_for_every_length() {
        let key = [0x12, 0x34, 0xAB, 0xCD];
        for len in 0..200 {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut copied = vec![0xEE; len];
            mask_copy(&mut copied, &data, key);
            let mut slow = data.clone();
            mask_bytewise(&mut slow, key);
            assert_eq!(copied, slow, "len {len}");
        }
    }

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn mask_throughput() {
        use std::time::Instant;
        let mut buf = vec![0x5Au8; 1 << 20];
        let key = [1, 2, 3, 4];
        let rounds = 64;
        let t = Instant::now();
        for _ in 0..rounds {
            apply_mask(std::hint::black_box(&mut buf), key);
        }
        let fast = t.elapsed();
        let t = Instant::now();
        for _ in 0..rounds {
            mask_bytewise(std::hint::black_box(&mut buf), key);
        }
        let slow = t.elapsed();
        let mib = rounds as f64;
        println!(
            "masking 1 MiB x {rounds}: u64 {:.0} MiB/s, bytewise {:.0} MiB/s ({:.1}x)",
            mib / fast.as_secs_f64(),
            mib / slow.as_secs_f64(),
            slow.as_secs_f64() / fast.as_secs_f64().max(1e-9)
        );
    }

    #[test]
    fn header_lengths_are_minimal_and_decodable() {
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload = vec![7u8; len];
            let mut out = vec![0; client_frame_len(len)];
            encode_client_frame(&mut out, true, false, OpCode::Binary, &payload, [0; 4]);
            let expected_header = match len {
                0..=125 => 6,
                126..=65535 => 8,
                _ => 14,
            };
            assert_eq!(out.len(), expected_header + len, "len {len}");
        }
    }

    #[test]
    fn small_frame_matches_the_general_encoder() {
        for len in 0..=MAX_SMALL_PAYLOAD {
            let payload: Vec<u8> = (0..len).map(|i| (i * 11 + 5) as u8).collect();
            for opcode in [OpCode::Text, OpCode::Binary] {
                let mut general = vec![0; client_frame_len(len)];
                encode_client_frame(&mut general, true, false, opcode, &payload, [9, 8, 7, 6]);
                let mut small = vec![0; SMALL_HEADER_LEN + len];
                encode_small_frame(&mut small, opcode, &payload, [9, 8, 7, 6]);
                assert_eq!(small, general, "len {len}");
            }
        }
    }

    #[test]
    fn mask_keys_vary_and_are_deterministic() {
        let mut a = MaskRng::new(42);
        let mut b = MaskRng::new(42);
        let keys: Vec<_> = (0..100).map(|_| a.next_mask()).collect();
        assert!(keys.iter().zip(keys.iter().skip(1)).all(|(x, y)| x != y));
        assert_eq!(keys, (0..100).map(|_| b.next_mask()).collect::<Vec<_>>());
    }
}
