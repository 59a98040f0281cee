//! The parity harness: one scenario body, two drivers.
//!
//! A scenario is written once against [`Client`], which is either an `AsyncSession` driven on a
//! tokio runtime owned by the client, or a blocking `Session` used on the scenario's own thread with no
//! runtime anywhere near it. Requests are described as data ([`Req`]), session settings too ([`Opts`]),
//! so the same description goes through both APIs; what came back is an [`Outcome`] (or a
//! [`reqivo::Error`]). The [`parity!`] macro expands one body into `name::async_driver` and
//! `name::sync_driver` tests, each run under a watchdog so a hang fails instead of blocking CI.
#![allow(dead_code)]

mod client;
pub mod hyper_server;
pub mod python;
pub mod raw;
mod spec;
pub mod tls;
pub mod ws_client;
pub mod ws_python;
pub mod ws_tungstenite;

use std::time::Duration;

// Each test crate uses a different part of the harness.
#[allow(unused_imports)]
pub use client::{run, Client, Held};
#[allow(unused_imports)]
pub use spec::{Opts, Outcome, ReadMode, Req, ReqBody};

/// Which API a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// `AsyncSession` on a tokio runtime.
    Async,
    /// `Session` on a plain thread, no runtime.
    Sync,
}

/// Runs `f` on its own thread and fails the test if it has not finished within `limit` (a hung request
/// becomes a failure, not a stuck CI job). Panics inside `f` are passed on.
pub fn guard<F: FnOnce() + Send + 'static>(name: &str, limit: Duration, f: F) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            f();
            let _ = tx.send(());
        })
        .expect("spawn scenario thread");
    match rx.recv_timeout(limit) {
        Ok(()) => {
            let _ = handle.join();
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("scenario {name} did not finish within {limit:?}"),
    }
}

/// Expands one scenario body into two tests, `NAME::async_driver` and `NAME::sync_driver`.
///
/// ```ignore
/// parity!(get_basic, |d| { let c = Client::new(d, &Opts::new()).unwrap(); ... });
/// parity!(#[ignore = "slow"] big, limit = 600, |d| { ... });
/// ```
#[macro_export]
macro_rules! parity {
    ($(#[$attr:meta])* $name:ident, limit = $secs:expr, |$d:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn scenario($d: $crate::support::Driver) $body

            #[test]
            $(#[$attr])*
            fn async_driver() {
                $crate::support::guard(
                    concat!(stringify!($name), "::async_driver"),
                    std::time::Duration::from_secs($secs),
                    || scenario($crate::support::Driver::Async),
                );
            }

            #[test]
            $(#[$attr])*
            fn sync_driver() {
                $crate::support::guard(
                    concat!(stringify!($name), "::sync_driver"),
                    std::time::Duration::from_secs($secs),
                    || scenario($crate::support::Driver::Sync),
                );
            }
        }
    };
    ($(#[$attr:meta])* $name:ident, |$d:ident| $body:block) => {
        $crate::parity!($(#[$attr])* $name, limit = 60, |$d| $body);
    };
}

/// Deterministic test bytes: the byte at absolute offset `i` is `i % 251`.
pub fn pattern(offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len).map(|i| (i % 251) as u8).collect()
}

/// FNV-1a, 64 bit: a cheap content fingerprint both sides can compute.
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The process's resident set size in KiB (Linux `/proc/self/status`).
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Helpers over the echo server's JSON.
pub fn echo_headers(echo: &serde_json::Value, name: &str) -> Vec<String> {
    echo["headers"]
        .as_array()
        .expect("headers array")
        .iter()
        .filter(|pair| pair[0].as_str() == Some(name))
        .map(|pair| pair[1].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Asserts that `r` is an error of `kind`, with a readable message otherwise.
#[track_caller]
pub fn expect_kind<T: std::fmt::Debug>(r: reqivo::Result<T>, kind: reqivo::ErrorKind) -> reqivo::Error {
    match r {
        Ok(v) => panic!("expected an error of kind {kind:?}, got success: {v:?}"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "wrong error kind: {e:?}");
            e
        }
    }
}

/// A peer that accepts one connection and never reads from it (so a client's writes fill the socket
/// buffers and block), until it is dropped. Its thread is not joined: if no client ever connected, it
/// would wait in `accept` for good.
pub struct SilentPeer {
    pub addr: std::net::SocketAddr,
    _done: std::sync::mpsc::Sender<()>,
}

impl SilentPeer {
    pub fn start() -> SilentPeer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (done, wait_done) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let (_socket, _) = listener.accept().unwrap();
            // Holds the socket open until the peer is dropped.
            let _ = wait_done.recv();
        });
        SilentPeer { addr, _done: done }
    }
}
