//! Timeout arithmetic over instants the caller passes in.
//!
//! A request has up to three clocks: a total deadline, a per-phase limit (connect), and a read gap (the
//! longest silence allowed between two reads). [`Deadlines::next`] answers "how long may the next wait
//! last, and which timeout fires if it runs out", so both drivers set their socket or timer the same way.

use std::time::{Duration, Instant};

/// The phase of a request a timeout fired in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Waiting for a free connection slot in the pool.
    PoolWait,
    /// Resolving the host name.
    Dns,
    /// Establishing the TCP connection.
    Connect,
    /// The TLS handshake.
    Tls,
    /// Writing the request.
    Write,
    /// Waiting for the response head.
    ResponseHead,
    /// Reading the response body.
    Body,
    /// Waiting for a WebSocket message longer than the socket's read timeout.
    Message,
    /// A WebSocket peer sent nothing within the pong timeout after a keepalive Ping: it is unresponsive.
    Keepalive,
}

/// Which limit a wait is bounded by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The total deadline of the request.
    Total,
    /// The phase's own limit (connect timeout, read gap, pool wait).
    Phase,
}

/// The deadlines of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deadlines {
    total: Option<Instant>,
}

impl Deadlines {
    /// Deadlines for a request started at `start` with an optional total timeout.
    pub fn new(start: Instant, total: Option<Duration>) -> Self {
        Deadlines { total: total.and_then(|t| start.checked_add(t)) }
    }

    /// The total deadline, if any.
    pub fn total(&self) -> Option<Instant> {
        self.total
    }

    /// How long the next wait may last at `now`, given the phase limit `phase_limit`; `None` means
    /// unbounded. A zero duration means the wait has already expired ([`Deadlines::expired`]).
    pub fn next(&self, now: Instant, phase_limit: Option<Duration>) -> Option<(Duration, Bound)> {
        self.next_with(|| now, phase_limit)
    }

    /// [`Deadlines::next`], asking `now` for the time only when there is a total deadline: without one the
    /// answer does not depend on the time, and a driver need not read the clock on every socket operation.
    pub fn next_with(&self, now: impl FnOnce() -> Instant, phase_limit: Option<Duration>) -> Option<(Duration, Bound)> {
        let total = self.total.map(|t| t.saturating_duration_since(now()));
        match (total, phase_limit) {
            (None, None) => None,
            (Some(t), None) => Some((t, Bound::Total)),
            (None, Some(p)) => Some((p, Bound::Phase)),
            (Some(t), Some(p)) if t <= p => Some((t, Bound::Total)),
            (Some(_), Some(p)) => Some((p, Bound::Phase)),
        }
    }

    /// True when the total deadline has passed at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        self.expired_with(|| now)
    }

    /// [`Deadlines::expired`], asking `now` for the time only when there is a total deadline.
    pub fn expired_with(&self, now: impl FnOnce() -> Instant) -> bool {
        self.total.is_some_and(|t| now() >= t)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests may pick any instant as their start
mod tests {
    use super::*;

    #[test]
    fn earliest_bound_wins() {
        let start = Instant::now();
        let d = Deadlines::new(start, Some(Duration::from_secs(10)));
        assert_eq!(d.next(start, Some(Duration::from_secs(3))), Some((Duration::from_secs(3), Bound::Phase)));
        let later = start + Duration::from_secs(9);
        assert_eq!(d.next(later, Some(Duration::from_secs(3))), Some((Duration::from_secs(1), Bound::Total)));
        assert_eq!(d.next(start + Duration::from_secs(11), None), Some((Duration::ZERO, Bound::Total)));
        assert!(d.expired(start + Duration::from_secs(10)));
        assert!(!d.expired(later));
        let none = Deadlines::new(start, None);
        assert_eq!(none.next(start, None), None);
        assert_eq!(none.next(start, Some(Duration::from_secs(1))), Some((Duration::from_secs(1), Bound::Phase)));
    }
}
