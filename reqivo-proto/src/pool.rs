//! Connection-pool bookkeeping, sans I/O.
//!
//! The pool holds idle connections of any type `C` per origin and counts the connections in use. It
//! decides; the driver acts: [`Pool::checkout`] answers reuse this idle connection, open a new one, or
//! wait for a slot; [`Pool::checkin`] takes a clean connection back (LIFO: the most recently used one is
//! reused first, so idle ones age out and warm ones stay warm); [`Pool::release`] frees the slot of a
//! connection that was closed instead. Waking waiters and closing sockets are the driver's job.
//!
//! ```text
//!   checkout ──▶ Reuse{conn} ──▶ (request) ──▶ checkin(conn) ──▶ idle (LIFO stack)
//!            ├─▶ Connect      ──▶ (connect) ──▶ … same …     └─▶ over max_idle ⇒ handed back to close
//!            └─▶ Wait (max_per_host reached; retry after a checkin/release)
//!   failure / dirty connection ──▶ release(key)
//! ```

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The origin a connection is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    /// True for `https`.
    pub tls: bool,
    /// Lower-case host name or IP literal (no brackets). Shared: a key is cloned for every checkout.
    pub host: Arc<str>,
    /// The port.
    pub port: u16,
}

/// Pool settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most idle connections kept per origin. Default 32.
    pub max_idle_per_host: usize,
    /// Most connections (idle + in use + connecting) per origin; `None` = unlimited. Default `None`.
    pub max_per_host: Option<usize>,
    /// Idle connections older than this are closed instead of reused. Default 90 s.
    pub idle_timeout: Option<Duration>,
    /// Idle connections at least this old are checked for a close by the peer before reuse (one
    /// non-blocking peek). Younger ones skip the check: a peer rarely closes within milliseconds of its
    /// last response, and a failure before any response byte is retried anyway. Default 50 ms.
    pub verify_after: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_idle_per_host: 32,
            max_per_host: None,
            idle_timeout: Some(Duration::from_secs(90)),
            verify_after: Duration::from_millis(50),
        }
    }
}

/// Counters, readable at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Connections idle in the pool now.
    pub idle: usize,
    /// Connections checked out (or being opened) now.
    pub in_use: usize,
    /// Connections opened since the pool was created.
    pub opened: u64,
    /// Checkouts served by an idle connection.
    pub reused: u64,
}

/// The answer to [`Pool::checkout`].
#[derive(Debug)]
pub enum Checkout<C> {
    /// Reuse this idle connection. When `verify` is set, check it is still open first (if not, drop it,
    /// `release` and check out again).
    Reuse {
        /// The connection.
        conn: C,
        /// Whether it has been idle long enough to be worth a liveness check.
        verify: bool,
    },
    /// Open a new connection; its slot is already counted as in use.
    Connect,
    /// The origin is at `max_per_host`: wait for a `checkin` or `release`, then check out again.
    Wait,
}

#[derive(Debug)]
struct Origin<C> {
    idle: Vec<(C, Instant)>,
    active: usize,
}

impl<C> Origin<C> {
    fn new() -> Self {
        Origin { idle: Vec::new(), active: 0 }
    }

    /// Moves the idle connections older than `limit` to `expired` (the oldest sit at the bottom). Out of
    /// line: a checkout rarely finds one.
    #[cold]
    #[inline(never)]
    fn expire(&mut self, now: Instant, limit: Duration, expired: &mut Vec<C>) {
        let keep_from = self.idle.iter().position(|(_, since)| now.saturating_duration_since(*since) < limit);
        let stale = keep_from.unwrap_or(self.idle.len());
        expired.extend(self.idle.drain(..stale).map(|(c, _)| c));
    }
}

/// The pool. Generic over the connection type so both drivers share it.
#[derive(Debug)]
pub struct Pool<C> {
    config: PoolConfig,
    /// The first origin in use has a place of its own, found without hashing: most sessions talk to one
    /// origin. (Keys are compared host pointer first: a session's keys share one `Arc`.) Other origins
    /// live in `origins`; `front` is freed like a map entry when its origin has nothing left.
    front: Option<(PoolKey, Origin<C>)>,
    origins: HashMap<PoolKey, Origin<C>, BuildHasherDefault<Fnv1a>>,
    opened: u64,
    reused: u64,
}

impl<C> Pool<C> {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Self {
        Pool { config, front: None, origins: HashMap::default(), opened: 0, reused: 0 }
    }

    /// The settings.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Asks for a connection to `key` at `now`. Expired idle connections are returned in `expired` for
    /// the driver to close.
    pub fn checkout(&mut self, key: &PoolKey, now: Instant, expired: &mut Vec<C>) -> Checkout<C> {
        let idle_timeout = self.config.idle_timeout;
        // The key is cloned only for a new origin.
        let origin = match &mut self.front {
            Some((k, origin)) if k == key => origin,
            front => match self.origins.get_mut(key) {
                Some(origin) => origin,
                None if front.is_none() => &mut front.insert((key.clone(), Origin::new())).1,
                None => self.origins.entry(key.clone()).or_insert_with(Origin::new),
            },
        };
        // LIFO: the oldest idle connections sit at the bottom of the stack. The age of the bottom one is
        // also the age of the top one when it is alone (the usual case): one clock subtraction, not two.
        let oldest = origin.idle.first().map(|(_, since)| now.saturating_duration_since(*since));
        // Counted before any expired one is dropped: `oldest` is then the age of the one popped below.
        let alone = origin.idle.len() == 1;
        if let (Some(limit), Some(oldest)) = (idle_timeout, oldest) {
            if oldest >= limit {
                origin.expire(now, limit, expired);
            }
        }
        if let Some((conn, since)) = origin.idle.pop() {
            origin.active += 1;
            self.reused += 1;
            let age = match (alone, oldest) {
                (true, Some(age)) => age,
                _ => now.saturating_duration_since(since),
            };
            let verify = age >= self.config.verify_after;
            return Checkout::Reuse { conn, verify };
        }
        if self.config.max_per_host.is_some_and(|max| origin.active >= max) {
            return Checkout::Wait;
        }
        origin.active += 1;
        self.opened += 1;
        Checkout::Connect
    }

    /// Takes back a clean connection at `now`. Returns it when the origin already keeps
    /// `max_idle_per_host` idle connections: the driver closes it.
    pub fn checkin(&mut self, key: &PoolKey, conn: C, now: Instant) -> Option<C> {
        let max_idle = self.config.max_idle_per_host;
        let Some(origin) = self.origin_mut(key) else { return Some(conn) };
        origin.active = origin.active.saturating_sub(1);
        if origin.idle.len() >= max_idle {
            return Some(conn);
        }
        origin.idle.push((conn, now));
        None
    }

    /// The connection of a checked-out slot was closed (failed, dirty, or dropped mid-request).
    pub fn release(&mut self, key: &PoolKey) {
        if let Some(origin) = self.origin_mut(key) {
            origin.active = origin.active.saturating_sub(1);
            if origin.active == 0 && origin.idle.is_empty() {
                match &self.front {
                    Some((k, _)) if k == key => self.front = None,
                    _ => drop(self.origins.remove(key)),
                }
            }
        }
    }

    fn origin_mut(&mut self, key: &PoolKey) -> Option<&mut Origin<C>> {
        match &mut self.front {
            Some((k, origin)) if k == key => Some(origin),
            _ => self.origins.get_mut(key),
        }
    }

    /// Current counters.
    pub fn stats(&self) -> PoolStats {
        let (idle, in_use) = self
            .front
            .iter()
            .map(|(_, o)| o)
            .chain(self.origins.values())
            .fold((0, 0), |(idle, used), o| (idle + o.idle.len(), used + o.active));
        PoolStats { idle, in_use, opened: self.opened, reused: self.reused }
    }
}

/// FNV-1a: a few instructions per byte instead of SipHash's set-up and rounds. Pool keys are origins this
/// client was asked to connect to, a handful per session, so hash flooding is not a concern here.
#[derive(Debug, Clone, Copy)]
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    // A key's `tls`, `port` and the end marker of its host each take one step, not a loop over bytes.
    fn write_u8(&mut self, n: u8) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x0100_0000_01b3);
    }

    fn write_u16(&mut self, n: u16) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x0100_0000_01b3);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests may pick any instant as their start
mod tests {
    use super::*;

    fn key(host: &str) -> PoolKey {
        PoolKey { tls: false, host: host.into(), port: 80 }
    }

    #[test]
    fn lifo_reuse_and_stats() {
        let mut pool = Pool::new(PoolConfig::default());
        let now = Instant::now();
        let mut expired = Vec::new();
        assert!(matches!(pool.checkout(&key("a"), now, &mut expired), Checkout::Connect));
        assert!(matches!(pool.checkout(&key("a"), now, &mut expired), Checkout::Connect));
        assert_eq!(pool.checkin(&key("a"), 1, now), None);
        assert_eq!(pool.checkin(&key("a"), 2, now), None);
        assert_eq!(pool.stats(), PoolStats { idle: 2, in_use: 0, opened: 2, reused: 0 });
        assert!(matches!(pool.checkout(&key("a"), now, &mut expired), Checkout::Reuse { conn: 2, .. }));
        assert!(matches!(pool.checkout(&key("b"), now, &mut expired), Checkout::Connect));
        assert_eq!(pool.stats(), PoolStats { idle: 1, in_use: 2, opened: 3, reused: 1 });
    }

    #[test]
    fn max_idle_hands_back_surplus() {
        let mut pool = Pool::new(PoolConfig { max_idle_per_host: 1, ..PoolConfig::default() });
        let now = Instant::now();
        let mut expired = Vec::new();
        pool.checkout(&key("a"), now, &mut expired);
        pool.checkout(&key("a"), now, &mut expired);
        assert_eq!(pool.checkin(&key("a"), 1, now), None);
        assert_eq!(pool.checkin(&key("a"), 2, now), Some(2));
    }

    #[test]
    fn max_per_host_waits_until_release() {
        let mut pool: Pool<u32> = Pool::new(PoolConfig { max_per_host: Some(1), ..PoolConfig::default() });
        let now = Instant::now();
        let mut expired = Vec::new();
        assert!(matches!(pool.checkout(&key("a"), now, &mut expired), Checkout::Connect));
        assert!(matches!(pool.checkout(&key("a"), now, &mut expired), Checkout::Wait));
        pool.release(&key("a"));
        assert!(matches!(pool.checkout(&key("a"), now, &mut expired), Checkout::Connect));
    }

    #[test]
    fn idle_expiry_returns_stale_connections() {
        let mut pool = Pool::new(PoolConfig { idle_timeout: Some(Duration::from_secs(10)), ..PoolConfig::default() });
        let t0 = Instant::now();
        let mut expired = Vec::new();
        pool.checkout(&key("a"), t0, &mut expired);
        pool.checkout(&key("a"), t0, &mut expired);
        pool.checkin(&key("a"), 1, t0);
        pool.checkin(&key("a"), 2, t0 + Duration::from_secs(8));
        let got = pool.checkout(&key("a"), t0 + Duration::from_secs(12), &mut expired);
        assert!(matches!(got, Checkout::Reuse { conn: 2, .. }));
        assert_eq!(expired, vec![1]);
    }

    #[test]
    fn origins_beside_the_first_keep_their_state() {
        let mut pool = Pool::new(PoolConfig::default());
        let now = Instant::now();
        let mut expired = Vec::new();
        assert!(matches!(pool.checkout(&key("a"), now, &mut expired), Checkout::Connect));
        assert!(matches!(pool.checkout(&key("b"), now, &mut expired), Checkout::Connect));
        assert_eq!(pool.checkin(&key("b"), 2, now), None);
        // The first origin empties and gives up its place; "b" is still found, not duplicated.
        pool.release(&key("a"));
        assert_eq!(pool.stats(), PoolStats { idle: 1, in_use: 0, opened: 2, reused: 0 });
        assert!(matches!(pool.checkout(&key("b"), now, &mut expired), Checkout::Reuse { conn: 2, .. }));
        assert!(matches!(pool.checkout(&key("c"), now, &mut expired), Checkout::Connect));
        assert_eq!(pool.checkin(&key("c"), 3, now), None);
        assert_eq!(pool.checkin(&key("b"), 2, now), None);
        assert_eq!(pool.stats(), PoolStats { idle: 2, in_use: 0, opened: 3, reused: 1 });
        assert!(matches!(pool.checkout(&key("c"), now, &mut expired), Checkout::Reuse { conn: 3, .. }));
        assert!(matches!(pool.checkout(&key("b"), now, &mut expired), Checkout::Reuse { conn: 2, .. }));
    }

    #[test]
    fn verify_follows_the_age_of_the_connection_reused() {
        let mut pool = Pool::new(PoolConfig { idle_timeout: Some(Duration::from_secs(10)), ..PoolConfig::default() });
        let t0 = Instant::now();
        let mut expired = Vec::new();
        let verify = |c: Checkout<u32>| match c {
            Checkout::Reuse { verify, .. } => verify,
            _ => panic!("not a reuse"),
        };
        pool.checkout(&key("a"), t0, &mut expired);
        pool.checkin(&key("a"), 1, t0);
        assert!(!verify(pool.checkout(&key("a"), t0 + Duration::from_millis(10), &mut expired)));
        pool.checkin(&key("a"), 1, t0);
        assert!(verify(pool.checkout(&key("a"), t0 + Duration::from_secs(1), &mut expired)));
        // An old one expires; the young one left is alone but not checked as old.
        pool.checkout(&key("a"), t0, &mut expired);
        pool.checkin(&key("a"), 1, t0);
        pool.checkin(&key("a"), 2, t0 + Duration::from_secs(11));
        assert!(!verify(pool.checkout(&key("a"), t0 + Duration::from_millis(11_010), &mut expired)));
        assert_eq!(expired, vec![1]);
    }
}
