//! Incremental UTF-8 validation for text messages that arrive in pieces.
//!
//! The bulk of each piece goes through `std::str::from_utf8`, which reports an incomplete sequence at the
//! end of its input (`error_len() == None`) only when the bytes so far are a valid prefix: it checks the
//! second byte's range for E0, ED, F0 and F4 before it asks for more. So a piece is rejected as soon as
//! its bytes prove the message invalid ("fail fast"), and a code point split between pieces is carried
//! over in `pending` (at most 3 bytes).

/// Invalid UTF-8 was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

/// Validates a byte stream piece by piece.
#[derive(Debug, Clone, Default)]
pub(crate) struct Utf8Validator {
    pending: [u8; 4],
    pending_len: usize,
}

/// Length of the sequence a valid lead byte starts.
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
    }
}

impl Utf8Validator {
    /// Checks the next piece. `Err` as soon as the stream so far cannot be the start of valid UTF-8.
    pub(crate) fn feed(&mut self, mut input: &[u8]) -> Result<(), Invalid> {
        if self.pending_len > 0 {
            let need = sequence_len(self.pending[0]);
            let take = (need - self.pending_len).min(input.len());
            let mut joined = self.pending;
            joined[self.pending_len..self.pending_len + take].copy_from_slice(&input[..take]);
            let joined_len = self.pending_len + take;
            match std::str::from_utf8(&joined[..joined_len]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() => {
                    // Still a valid prefix, and `input` is used up (take < need - pending_len).
                    self.pending = joined;
                    self.pending_len = joined_len;
                    return Ok(());
                }
                Err(_) => return Err(Invalid),
            }
            input = &input[take..];
        }
        match std::str::from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &input[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len();
                Ok(())
            }
            Err(_) => Err(Invalid),
        }
    }

    /// The stream ended: `Err` when it stops inside a code point.
    pub(crate) fn finish(&self) -> Result<(), Invalid> {
        if self.pending_len == 0 {
            Ok(())
        } else {
            Err(Invalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_all_splits(bytes: &[u8]) {
        let valid = std::str::from_utf8(bytes).is_ok();
        for a in 0..=bytes.len() {
            for b in a..=bytes.len() {
                let mut v = Utf8Validator::default();
                let result = v
                    .feed(&bytes[..a])
                    .and_then(|()| v.feed(&bytes[a..b]))
                    .and_then(|()| v.feed(&bytes[b..]))
                    .and_then(|()| v.finish());
                assert_eq!(result.is_ok(), valid, "{bytes:02x?} split at {a},{b}");
            }
        }
    }

    #[test]
    fn agrees_with_std_at_every_split() {
        let cases: &[&[u8]] = &[
            b"",
            b"hello",
            "κόσμε".as_bytes(),
            "€𝄞😀 mixed ascii".as_bytes(),
            &[0xF0, 0x9F, 0x98, 0x80],
            &[0xE0, 0x80, 0x80],       // overlong
            &[0xED, 0xA0, 0x80],       // surrogate
            &[0xF4, 0x90, 0x80, 0x80], // > U+10FFFF
            &[0xC0, 0xAF],
            &[0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80, 0x65],
            &[0xF0, 0x9F, 0x98],
            &[0xFF],
            &[0x80],
        ];
        for case in cases {
            check_all_splits(case);
        }
    }

    #[test]
    fn fails_fast_on_a_proven_invalid_prefix() {
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(&[0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5]), Ok(()));
        assert_eq!(v.feed(&[0xF4]), Ok(()), "F4 may still start a code point");
        assert_eq!(v.feed(&[0x90]), Err(Invalid), "F4 90 is above U+10FFFF: fail before the rest arrives");
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(&[0xED]), Ok(()));
        assert_eq!(v.feed(&[0xA0]), Err(Invalid), "surrogate");
    }

    #[test]
    fn random_bytes_agree_with_std() {
        let mut x: u64 = 0x1234_5678_9abc_def0;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..2000 {
            let len = (next() % 12) as usize;
            // Bias toward bytes that form multi-byte sequences.
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    [0x41, 0x80, 0x9F, 0xA0, 0xBF, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5][(r % 13) as usize]
                })
                .collect();
            check_all_splits(&bytes);
        }
    }
}
