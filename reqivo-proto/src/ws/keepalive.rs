//! Keepalive for a WebSocket connection: a Ping every `interval`, and a deadline for a sign of life after
//! each Ping. Pure time arithmetic over the instants the driver passes in; the driver sends the Pings it
//! is told to (through [`WsConn::send_ping`](super::WsConn::send_ping)) and reports what it reads.
//!
//! ```text
//!             poll_action(now ≥ next_ping) ⇒ Ping(n)           poll_action(now ≥ pong_deadline)
//!   Idle ────────────────────────────────────────────▶ Waiting ───────────────────────────────▶ Dead
//!    ▲  ↺ handle_received (nothing to clear)              │  ↺ a later Ping while waiting is still sent;
//!    │                                                    │    the first deadline stays
//!    └──────────── handle_received(now): bytes came ──────┘
//! ```
//!
//! Any bytes from the peer count as a sign of life, not only a Pong: a peer busy sending a long message
//! may answer our Ping late (its Pong waits behind its own data frames), yet it is plainly alive.
//! `Dead` is sticky: the driver reports a timeout and drops the connection.
//!
//! Calling contract: after creating it, and after every read and every action, wait at most until
//! [`Keepalive::poll_timeout`]; when it passes, call [`Keepalive::poll_action`] until `None`.

use std::time::{Duration, Instant};

/// What the driver must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepaliveAction {
    /// Send a Ping; the payload is the big-endian counter (`n.to_be_bytes()`).
    Ping(u64),
    /// Nothing arrived within the pong timeout after a Ping: the peer is unresponsive. Sticky.
    PeerDead,
}

/// The keepalive schedule of one connection.
#[derive(Debug, Clone)]
pub struct Keepalive {
    interval: Duration,
    pong_timeout: Duration,
    /// `None` when the next Ping time does not fit in an `Instant`.
    next_ping: Option<Instant>,
    /// Set by a Ping, cleared by any received bytes.
    pong_deadline: Option<Instant>,
    pings: u64,
    dead: bool,
}

impl Keepalive {
    /// A schedule whose first Ping is due at `now + interval`. A zero `interval` is treated as 1 ms.
    pub fn new(interval: Duration, pong_timeout: Duration, now: Instant) -> Self {
        let interval = interval.max(Duration::from_millis(1));
        Keepalive {
            interval,
            pong_timeout,
            next_ping: now.checked_add(interval),
            pong_deadline: None,
            pings: 0,
            dead: false,
        }
    }

    /// Bytes arrived from the peer: it is alive, the pending pong deadline (if any) is met.
    pub fn handle_received(&mut self, _now: Instant) {
        if !self.dead {
            self.pong_deadline = None;
        }
    }

    /// When the driver must call [`Keepalive::poll_action`] at the latest.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.dead {
            return None;
        }
        match (self.next_ping, self.pong_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What is due at `now`, if anything: the pong deadline is checked before the next Ping.
    #[must_use]
    pub fn poll_action(&mut self, now: Instant) -> Option<KeepaliveAction> {
        if self.dead {
            return None;
        }
        if self.pong_deadline.is_some_and(|d| now >= d) {
            self.dead = true;
            return Some(KeepaliveAction::PeerDead);
        }
        if self.next_ping.is_some_and(|t| now >= t) {
            // Scheduled from `now`, not from the missed time: a driver that was not polled for a while
            // sends one Ping, not a burst.
            self.next_ping = now.checked_add(self.interval);
            if self.pong_deadline.is_none() {
                self.pong_deadline = now.checked_add(self.pong_timeout);
            }
            self.pings += 1;
            return Some(KeepaliveAction::Ping(self.pings));
        }
        None
    }

    /// True once the peer was declared dead.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Pings sent so far.
    pub fn pings_sent(&self) -> u64 {
        self.pings
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests may pick any instant as their start
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn pings_on_schedule_and_alive_peer_never_times_out() {
        let t0 = Instant::now();
        let mut k = Keepalive::new(ms(100), ms(50), t0);
        assert_eq!(k.poll_timeout(), Some(t0 + ms(100)));
        assert_eq!(k.poll_action(t0 + ms(99)), None);
        assert_eq!(k.poll_action(t0 + ms(100)), Some(KeepaliveAction::Ping(1)));
        assert_eq!(k.poll_action(t0 + ms(100)), None);
        assert_eq!(k.poll_timeout(), Some(t0 + ms(150)));
        k.handle_received(t0 + ms(120));
        assert_eq!(k.poll_timeout(), Some(t0 + ms(200)));
        assert_eq!(k.poll_action(t0 + ms(200)), Some(KeepaliveAction::Ping(2)));
        k.handle_received(t0 + ms(201));
        assert_eq!(k.poll_action(t0 + ms(260)), None);
        assert!(!k.is_dead());
    }

    #[test]
    fn silence_after_a_ping_is_a_dead_peer() {
        let t0 = Instant::now();
        let mut k = Keepalive::new(ms(100), ms(50), t0);
        assert_eq!(k.poll_action(t0 + ms(100)), Some(KeepaliveAction::Ping(1)));
        assert_eq!(k.poll_action(t0 + ms(149)), None);
        assert_eq!(k.poll_action(t0 + ms(150)), Some(KeepaliveAction::PeerDead));
        assert!(k.is_dead());
        assert_eq!(k.poll_timeout(), None);
        k.handle_received(t0 + ms(151));
        assert_eq!(k.poll_action(t0 + ms(500)), None, "dead is sticky");
    }

    #[test]
    fn pong_timeout_longer_than_interval_keeps_the_first_deadline() {
        let t0 = Instant::now();
        let mut k = Keepalive::new(ms(10), ms(35), t0);
        assert_eq!(k.poll_action(t0 + ms(10)), Some(KeepaliveAction::Ping(1)));
        assert_eq!(k.poll_action(t0 + ms(20)), Some(KeepaliveAction::Ping(2)));
        assert_eq!(k.poll_action(t0 + ms(30)), Some(KeepaliveAction::Ping(3)));
        assert_eq!(k.poll_timeout(), Some(t0 + ms(40)));
        assert_eq!(k.poll_action(t0 + ms(45)), Some(KeepaliveAction::PeerDead));
    }

    #[test]
    fn a_late_driver_sends_one_ping_not_a_burst() {
        let t0 = Instant::now();
        let mut k = Keepalive::new(ms(10), ms(1000), t0);
        assert_eq!(k.poll_action(t0 + ms(95)), Some(KeepaliveAction::Ping(1)));
        assert_eq!(k.poll_action(t0 + ms(95)), None);
        assert_eq!(k.poll_timeout(), Some(t0 + ms(105)));
        assert_eq!(k.pings_sent(), 1);
    }
}
