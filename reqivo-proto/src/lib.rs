//! # reqivo-proto: the sans-IO core of reqivo
//!
//! **In scope:** HTTP/1.1 client framing ([`h1`]: request encoding, response decoding, body framing per
//! RFC 9112 §6, keep-alive decisions), connection-pool bookkeeping ([`pool`]), timeout arithmetic over
//! instants the caller passes in ([`deadline`]), URL reference resolution ([`url`]), the WebSocket client
//! codec with its keepalive schedule ([`ws`]), and reconnection backoff from a caller-supplied random
//! number ([`backoff`]), and the cookie jar ([`cookie`]: RFC 6265 parsing, storage and matching).
//!
//! **Out of scope:** sockets, TLS, DNS, timers, threads and async runtimes. Nothing in this crate reads a
//! clock, sleeps or performs I/O: bytes and decisions go in, bytes and decisions come out. The I/O drivers
//! in the `reqivo` crate (`reqivo::tokio` and `reqivo::blocking`) do the I/O that the core names, and they
//! mirror each other line by line. `clippy.toml` in this crate bans the clock and sleep functions.
//!
//! Errors say who is at fault: [`h1::UsageError`] is the caller's mistake (wrong order, an invalid header),
//! [`h1::ProtoError`] is the peer's (a malformed, truncated or oversized response). Errors stick: after one,
//! every later call returns it again.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backoff;
pub mod cookie;
pub mod deadline;
mod decimal;
pub mod h1;
pub mod pool;
pub mod redirect;
pub mod url;
pub mod ws;
