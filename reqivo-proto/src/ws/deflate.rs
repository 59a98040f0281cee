//! permessage-deflate (RFC 7692 §7.2) over flate2's Rust backend.
//!
//! - **Sending:** a message is compressed as raw DEFLATE ending with a sync flush, whose trailing
//!   `00 00 ff ff` is removed. Context takeover keeps the compressor's window across messages unless
//!   `client_no_context_takeover` was agreed.
//! - **Window bits for sending:** miniz_oxide (flate2's Rust backend) always uses a 32 KiB window and has
//!   no setting for a smaller one. When the server limits us to `client_max_window_bits=N` with N < 15 we
//!   compress each message in independent pieces of at most 2^N bytes, resetting the compressor before
//!   each piece: a back-reference cannot point before the start of its piece, so every distance is below
//!   2^N and a peer inflating with a 2^N window can follow. Each piece ends with a sync flush (a
//!   byte-aligned empty stored block), so the pieces join into one valid stream. Small windows cost
//!   compression ratio and a reset per piece, never correctness.
//! - **Messages sent uncompressed:** RFC 7692 lets any message go out without RSV1. When the compressor is
//!   reset per message anyway (no context takeover, or N < 15) and compression would not shrink the
//!   message, the plain payload is sent instead. With context takeover that is not allowed (our window
//!   would then hold bytes the peer never saw).
//! - **Receiving:** the decompressor always has a 32 KiB window, which inflates data from any smaller
//!   window, so every `server_max_window_bits` is fine. Input is inflated in steps of at most 32 KiB of
//!   output, and a message is refused (1009) as soon as its inflated size passes the limit: no deflate
//!   bomb makes us hold more than `max_message_size` + one step. At the end of a message `00 00 ff ff` is
//!   fed in; with `server_no_context_takeover` the decompressor is then reset. A message whose data ends
//!   with a final block (BFINAL) is accepted: later input of that message is ignored and the decompressor
//!   is reset afterwards (its window is lost, so the server must not refer back to it).

/// Inflating failed.
#[cfg_attr(not(feature = "deflate"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The message would exceed the size limit.
    TooLarge,
    /// The data is not valid DEFLATE.
    Corrupt,
}

pub(crate) use imp::PerMessageDeflate;

#[cfg(feature = "deflate")]
mod imp {
    use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

    use super::InflateError;
    use crate::ws::DeflateParams;

    /// What a sync flush ends with; removed on send, appended on receive.
    const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];
    /// Most bytes inflated per step.
    const STEP: usize = 32 * 1024;

    /// Compressor and decompressor of one connection.
    pub(crate) struct PerMessageDeflate {
        params: DeflateParams,
        compress: Compress,
        decompress: Decompress,
        scratch: Vec<u8>,
        /// The current inbound stream ended with a final block.
        stream_ended: bool,
    }

    impl std::fmt::Debug for PerMessageDeflate {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("PerMessageDeflate").field("params", &self.params).finish_non_exhaustive()
        }
    }

    impl PerMessageDeflate {
        pub(crate) fn new(params: DeflateParams) -> Option<Self> {
            Some(PerMessageDeflate {
                params,
                compress: Compress::new(Compression::default(), false),
                decompress: Decompress::new(false),
                scratch: vec![0; STEP],
                stream_ended: false,
            })
        }

        /// Compresses a message payload; `None` when it should be sent uncompressed (it would not shrink
        /// and nothing ties it to the next message). `always` compresses it anyway.
        pub(crate) fn compress(&mut self, payload: &[u8], always: bool) -> Option<Vec<u8>> {
            let bits = self.params.client_max_window_bits;
            let fresh_per_message = self.params.client_no_context_takeover || bits < 15;
            let mut out = Vec::with_capacity(payload.len() / 2 + 64);
            if bits < 15 {
                let piece = 1usize << bits;
                if payload.is_empty() {
                    self.compress.reset();
                    deflate_sync(&mut self.compress, payload, &mut out);
                }
                for chunk in payload.chunks(piece) {
                    self.compress.reset();
                    deflate_sync(&mut self.compress, chunk, &mut out);
                }
            } else {
                if fresh_per_message {
                    self.compress.reset();
                }
                deflate_sync(&mut self.compress, payload, &mut out);
            }
            if !out.ends_with(&TAIL) {
                // Not reachable with miniz_oxide; if it were, start over so the peer's window stays in step.
                self.compress.reset();
                return None;
            }
            out.truncate(out.len() - TAIL.len());
            if fresh_per_message && !always && out.len() >= payload.len() {
                return None;
            }
            Some(out)
        }

        /// Inflates the next bytes of a compressed message into `out`, which may not grow past `limit`.
        pub(crate) fn inflate(
            &mut self,
            mut input: &[u8],
            out: &mut Vec<u8>,
            limit: usize,
        ) -> Result<(), InflateError> {
            while !self.stream_ended {
                let room = limit.saturating_sub(out.len());
                let cap = self.scratch.len().min(room.saturating_add(1));
                let (in_before, out_before) = (self.decompress.total_in(), self.decompress.total_out());
                let status = self
                    .decompress
                    .decompress(input, &mut self.scratch[..cap], FlushDecompress::None)
                    .map_err(|_| InflateError::Corrupt)?;
                let used = (self.decompress.total_in() - in_before) as usize;
                let produced = (self.decompress.total_out() - out_before) as usize;
                if produced > room {
                    return Err(InflateError::TooLarge);
                }
                out.extend_from_slice(&self.scratch[..produced]);
                input = &input[used..];
                if status == Status::StreamEnd {
                    self.stream_ended = true;
                } else if produced < cap && input.is_empty() {
                    return Ok(());
                } else if used == 0 && produced == 0 {
                    return Err(InflateError::Corrupt);
                }
            }
            Ok(())
        }

        /// Ends an inbound compressed message (feeds `00 00 ff ff`, resets when agreed).
        pub(crate) fn finish_message(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
            let result = self.inflate(&TAIL, out, limit);
            if self.params.server_no_context_takeover || self.stream_ended || result.is_err() {
                self.decompress.reset(false);
                self.stream_ended = false;
            }
            result
        }
    }

    /// Compresses all of `input` and completes a sync flush.
    fn deflate_sync(c: &mut Compress, input: &[u8], out: &mut Vec<u8>) {
        let start = c.total_in();
        loop {
            let rest = &input[(c.total_in() - start) as usize..];
            out.reserve(rest.len() + rest.len() / 8 + 64);
            if c.compress_vec(rest, out, FlushCompress::Sync).is_err() {
                return;
            }
            // The flush is complete once all input is taken and output space was left over.
            if (c.total_in() - start) as usize == input.len() && out.len() < out.capacity() {
                return;
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn sample(len: usize) -> Vec<u8> {
            let words = ["alpha ", "beta ", "gamma ", "delta ", "epsilon ", "\u{3bb} "];
            let mut x = 7u32;
            let mut out = Vec::new();
            while out.len() < len {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                out.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
            }
            out.truncate(len);
            out
        }

        fn inflate_all(data: &[u8]) -> Vec<u8> {
            let mut d = PerMessageDeflate::new(DeflateParams::default()).unwrap();
            let mut out = Vec::new();
            d.inflate(data, &mut out, usize::MAX).unwrap();
            d.finish_message(&mut out, usize::MAX).unwrap();
            out
        }

        /// With N < 15 the output is exactly the concatenation of independently compressed pieces of 2^N
        /// bytes, and each piece inflates on its own (so no distance reaches before its piece).
        #[test]
        fn small_window_compresses_in_independent_pieces() {
            let msg = sample(5000);
            for bits in [8u8, 9, 12, 14] {
                let params = DeflateParams { client_max_window_bits: bits, ..DeflateParams::default() };
                let mut pmd = PerMessageDeflate::new(params).unwrap();
                let out = pmd.compress(&msg, false).expect("repetitive text shrinks");
                let mut expected = Vec::new();
                for piece in msg.chunks(1 << bits) {
                    let mut c = Compress::new(Compression::default(), false);
                    let mut one = Vec::new();
                    deflate_sync(&mut c, piece, &mut one);
                    let mut standalone = one.clone();
                    standalone.truncate(one.len() - 4);
                    assert_eq!(inflate_all(&standalone), piece, "piece inflates alone, bits {bits}");
                    expected.extend_from_slice(&one);
                }
                expected.truncate(expected.len() - 4);
                assert_eq!(out, expected, "bits {bits}");
                assert_eq!(inflate_all(&out), msg);
                // A second message is compressed the same way (no context carried over).
                assert_eq!(pmd.compress(&msg, false).unwrap(), expected);
            }
        }

        #[test]
        fn incompressible_messages_go_plain_only_without_context_takeover() {
            let noise: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
            let mut fresh =
                PerMessageDeflate::new(DeflateParams { client_no_context_takeover: true, ..DeflateParams::default() })
                    .unwrap();
            assert_eq!(fresh.compress(&noise, false), None);
            let mut takeover = PerMessageDeflate::new(DeflateParams::default()).unwrap();
            assert!(takeover.compress(&noise, false).is_some());
        }

        #[test]
        fn inflate_stops_at_the_limit() {
            let mut c = Compress::new(Compression::best(), false);
            let mut bomb = Vec::new();
            deflate_sync(&mut c, &vec![0u8; 4 << 20], &mut bomb);
            assert!(bomb.len() < 8 * 1024, "{}", bomb.len());
            let mut d = PerMessageDeflate::new(DeflateParams::default()).unwrap();
            let mut out = Vec::new();
            assert_eq!(d.inflate(&bomb, &mut out, 100_000), Err(InflateError::TooLarge));
            assert!(out.len() <= 100_000);
            assert!(out.capacity() < 400_000, "{}", out.capacity());
        }
    }
}

#[cfg(not(feature = "deflate"))]
mod imp {
    use super::InflateError;
    use crate::ws::DeflateParams;

    /// Without the `deflate` feature no value exists: compression is never negotiated.
    #[derive(Debug)]
    pub(crate) enum PerMessageDeflate {}

    impl PerMessageDeflate {
        pub(crate) fn new(_params: DeflateParams) -> Option<Self> {
            None
        }
        pub(crate) fn compress(&mut self, _payload: &[u8], _always: bool) -> Option<Vec<u8>> {
            match *self {}
        }
        pub(crate) fn inflate(&mut self, _input: &[u8], _out: &mut Vec<u8>, _limit: usize) -> Result<(), InflateError> {
            match *self {}
        }
        pub(crate) fn finish_message(&mut self, _out: &mut Vec<u8>, _limit: usize) -> Result<(), InflateError> {
            match *self {}
        }
    }
}
