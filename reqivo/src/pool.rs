//! The pool shared by one session's requests: the core's [`Pool`] behind a mutex, plus the guards that
//! make sure a slot is released (and a dirty connection closed) whatever happens to the request.
//!
//! Both drivers use this type; only the way they wait for a free slot differs (a condition variable for
//! the blocking driver, a `Notify` for the async one).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http::Uri;
use reqivo_proto::pool::{Checkout, Pool, PoolConfig, PoolKey, PoolStats};
use reqivo_proto::url::{Target, UrlError};

pub(crate) struct SharedPool<C> {
    pool: Mutex<Pool<C>>,
    /// Blocking waiters.
    pub(crate) freed: Condvar,
    /// Async waiters.
    pub(crate) freed_async: tokio::sync::Notify,
    /// Bumped under the lock whenever a slot or connection is freed, so a blocking waiter that saw the
    /// pool full cannot miss a wake-up that came between its checkout and its wait.
    generation: AtomicU64,
    /// Blocking threads inside `wait_blocking`; changed under the lock. Waking a condition variable costs
    /// a syscall, so it is only done when someone waits.
    blocking_waiters: AtomicUsize,
    /// Async checkouts that saw the pool full and wait for `freed_async`; `notify_waiters` takes a lock,
    /// so it is only called when someone waits.
    async_waiters: AtomicUsize,
    /// The target of the last request: the next URL of the same origin shares its pool key and Host.
    last_target: Mutex<Option<Target>>,
}

/// A connection slot counted as in use; released on drop unless its connection is checked back in.
pub(crate) struct Slot<C> {
    pool: Arc<SharedPool<C>>,
    key: PoolKey,
    /// False once the connection went back to the pool: nothing left to release.
    armed: bool,
}

/// A checked-out connection. Dropping it closes the connection and frees the slot: a request dropped
/// mid-way never returns a dirty connection to the pool.
pub(crate) struct Pooled<C> {
    pub(crate) conn: C,
    pub(crate) reused: bool,
    slot: Slot<C>,
}

/// What a checkout attempt gave.
pub(crate) enum Attempt<C> {
    Reuse(Pooled<C>),
    Connect(Slot<C>),
    Wait,
}

impl<C> SharedPool<C> {
    pub(crate) fn new(config: PoolConfig) -> Arc<Self> {
        Arc::new(SharedPool {
            pool: Mutex::new(Pool::new(config)),
            freed: Condvar::new(),
            freed_async: tokio::sync::Notify::new(),
            generation: AtomicU64::new(0),
            blocking_waiters: AtomicUsize::new(0),
            async_waiters: AtomicUsize::new(0),
            last_target: Mutex::new(None),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Pool<C>> {
        // A panic while holding the lock cannot leave the bookkeeping half-updated in a way that matters
        // more than refusing all further requests would.
        self.pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn stats(&self) -> PoolStats {
        self.lock().stats()
    }

    /// The current generation; read it before a checkout that may answer `Wait`.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Blocks until something was freed since generation `seen`, or `timeout` passed.
    pub(crate) fn wait_blocking(&self, seen: u64, timeout: Duration) {
        let guard = self.lock();
        if self.generation() == seen {
            self.blocking_waiters.fetch_add(1, Ordering::Relaxed);
            let (_guard, _) = self.freed.wait_timeout(guard, timeout).unwrap_or_else(|p| p.into_inner());
            self.blocking_waiters.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Call with the lock held, right after freeing something.
    fn wake(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if self.blocking_waiters.load(Ordering::Relaxed) > 0 {
            self.freed.notify_all();
        }
        // A waiter counts itself before its checkout takes the lock, and this runs under the lock after
        // the slot was freed: either that checkout saw the free slot, or this sees the count.
        if self.async_waiters.load(Ordering::Relaxed) > 0 {
            self.freed_async.notify_waiters();
        }
    }

    /// Counts an async waiter until the guard is dropped (also when its future is).
    pub(crate) fn async_waiter(&self) -> AsyncWaiter<'_, C> {
        self.async_waiters.fetch_add(1, Ordering::Relaxed);
        AsyncWaiter(self)
    }

    /// Splits `uri` into its target ([`Target::from_uri_after`] the last one).
    pub(crate) fn target(&self, uri: &Uri) -> Result<Target, UrlError> {
        let mut last = self.last_target.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let target = Target::from_uri_after(uri, last.as_ref())?;
        if !last.as_ref().is_some_and(|l| Arc::ptr_eq(&l.host_header, &target.host_header)) {
            *last = Some(target.clone());
        }
        Ok(target)
    }

    /// One checkout attempt at `now`. `is_open` is asked about each idle candidate before it is reused.
    pub(crate) fn try_checkout(
        self: &Arc<Self>,
        key: &PoolKey,
        now: Instant,
        is_open: impl Fn(&C) -> bool,
    ) -> Attempt<C> {
        loop {
            let mut expired = Vec::new();
            let decision = self.lock().checkout(key, now, &mut expired);
            // Closed outside the lock. A list that never allocated holds nothing: forgetting it frees
            // nothing either, and keeps the element drop loop off the checkout's lines.
            if expired.capacity() == 0 {
                std::mem::forget(expired);
            } else {
                close_all(expired);
            }
            let slot = || Slot { pool: self.clone(), key: key.clone(), armed: true };
            match decision {
                Checkout::Reuse { conn, verify } if !verify || is_open(&conn) => {
                    return Attempt::Reuse(Pooled { conn, reused: true, slot: slot() });
                }
                // Dead: dropped (closed) with its slot released; try the next idle one.
                Checkout::Reuse { conn, .. } => drop((conn, slot())),
                Checkout::Connect => return Attempt::Connect(slot()),
                Checkout::Wait => return Attempt::Wait,
            }
        }
    }
}

/// Drops (closes) connections; out of line, as it is rare.
#[cold]
#[inline(never)]
fn close_all<C>(conns: Vec<C>) {
    drop(conns);
}

/// An async waiter, counted in `SharedPool::async_waiters` while it lives.
pub(crate) struct AsyncWaiter<'a, C>(&'a SharedPool<C>);

impl<C> Drop for AsyncWaiter<'_, C> {
    fn drop(&mut self) {
        self.0.async_waiters.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The time from `start` to `now`: zero without a subtraction (which costs more than a comparison of
/// instants) when the checkout did not wait.
pub(crate) fn waited(start: Instant, now: Instant) -> Duration {
    if now == start {
        Duration::ZERO
    } else {
        now.saturating_duration_since(start)
    }
}

impl<C> Slot<C> {
    pub(crate) fn attach(self, conn: C) -> Pooled<C> {
        Pooled { conn, reused: false, slot: self }
    }
}

impl<C> Drop for Slot<C> {
    fn drop(&mut self) {
        if self.armed {
            let mut pool = self.pool.lock();
            pool.release(&self.key);
            self.pool.wake();
        }
    }
}

impl<C> Pooled<C> {
    /// Returns a clean connection to the pool; it is idle since `now`.
    pub(crate) fn checkin(self, now: Instant) {
        let Pooled { conn, mut slot, .. } = self;
        slot.armed = false;
        let surplus = {
            let mut pool = slot.pool.lock();
            let surplus = pool.checkin(&slot.key, conn, now);
            slot.pool.wake();
            surplus
        };
        drop(surplus);
    }
}
