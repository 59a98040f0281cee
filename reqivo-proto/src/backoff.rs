//! Exponential backoff with jitter, for reconnecting. Deterministic: the caller passes in one random
//! `u64` per delay (the core has no RNG).
//!
//! Attempt `k` (0-based) waits a delay drawn from `[base/2, base]` where `base = min(max, initial · 2^k)`
//! ("equal jitter"): clients that lost the same server at the same moment spread out, and no delay is
//! shorter than half its base, so a dead server is not hammered.
//!
//! ```
//! use std::time::Duration;
//! use reqivo_proto::backoff::Backoff;
//!
//! let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), 3);
//! let d = backoff.next_delay(42).unwrap();
//! assert!(d >= Duration::from_millis(50) && d <= Duration::from_millis(100));
//! assert!(backoff.next_delay(7).is_some());
//! assert!(backoff.next_delay(7).is_some());
//! assert_eq!(backoff.next_delay(7), None, "three attempts, then give up");
//! ```

use std::time::Duration;

/// The delays before reconnection attempts, at most `max_attempts` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    max_attempts: u32,
    attempt: u32,
}

impl Backoff {
    /// A schedule of at most `max_attempts` delays, starting around `initial`, doubling, capped at `max`
    /// (a `max` below `initial` is raised to `initial`).
    pub fn new(initial: Duration, max: Duration, max_attempts: u32) -> Self {
        Backoff { initial, max: max.max(initial), max_attempts, attempt: 0 }
    }

    /// The delay before the next attempt, or `None` when every attempt is used up. `random` is any
    /// uniformly random `u64` (fresh for each call).
    pub fn next_delay(&mut self, random: u64) -> Option<Duration> {
        if self.attempt >= self.max_attempts {
            return None;
        }
        let delay = jittered(self.base(self.attempt), random);
        self.attempt += 1;
        Some(delay)
    }

    /// The un-jittered delay of attempt `k` (0-based): `min(max, initial · 2^k)`.
    pub fn base(&self, k: u32) -> Duration {
        let factor = 1u32.checked_shl(k.min(31)).unwrap_or(u32::MAX);
        self.initial.checked_mul(factor).unwrap_or(self.max).min(self.max)
    }

    /// Attempts handed out so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts over (after a successful reconnection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A delay drawn from `[base/2, base]` by `random`.
pub fn jittered(base: Duration, random: u64) -> Duration {
    let nanos = base.as_nanos().min(u128::from(u64::MAX)) as u64;
    let half = nanos / 2;
    let spread = nanos - half;
    Duration::from_nanos(half + if spread == 0 { 0 } else { random % (spread + 1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_up_to_the_cap() {
        let b = Backoff::new(ms(100), ms(1000), 10);
        let bases: Vec<_> = (0..6).map(|k| b.base(k)).collect();
        assert_eq!(bases, [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]);
        assert_eq!(b.base(200), ms(1000), "no overflow for large attempt numbers");
    }

    #[test]
    fn jitter_stays_within_half_to_full_base() {
        for random in [0, 1, 12345, u64::MAX / 3, u64::MAX] {
            let d = jittered(ms(1000), random);
            assert!(d >= ms(500) && d <= ms(1000), "{d:?}");
        }
        assert_eq!(jittered(ms(1000), 0), ms(500));
        assert_eq!(jittered(Duration::ZERO, 99), Duration::ZERO);
    }

    #[test]
    fn attempts_are_bounded_and_reset() {
        let mut b = Backoff::new(ms(10), ms(20), 2);
        assert!(b.next_delay(1).is_some());
        assert!(b.next_delay(2).is_some());
        assert_eq!(b.next_delay(3), None);
        assert_eq!(b.attempts(), 2);
        b.reset();
        assert!(b.next_delay(4).is_some());
        let mut none = Backoff::new(ms(10), ms(20), 0);
        assert_eq!(none.next_delay(0), None);
    }

    #[test]
    fn max_below_initial_is_raised() {
        let b = Backoff::new(ms(300), ms(100), 3);
        assert_eq!(b.base(0), ms(300));
        assert_eq!(b.base(5), ms(300));
    }
}
