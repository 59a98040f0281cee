//! Socket helpers shared by both drivers.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use reqivo_proto::deadline::{Deadlines, Phase};
use reqivo_proto::pool::PoolKey;

use crate::error::{Error, ErrorKind, Result};

/// Whether an idle pooled connection still looks usable: no EOF and no error pending. For plain HTTP
/// any unread byte also disqualifies it (no request is in flight, so it can only be garbage); over TLS
/// unread bytes are normal (session tickets, key updates) and only EOF or an error count.
pub(crate) fn idle_socket_is_open<S: std::os::fd::AsFd>(sock: &S, tls: bool) -> bool {
    let sock = socket2::SockRef::from(sock);
    let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    match sock.recv_with_flags(&mut probe, libc::MSG_PEEK | libc::MSG_DONTWAIT) {
        Ok(0) => false,
        Ok(_) => tls,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    }
}

/// Shuts a socket down both ways (a WebSocket after its close handshake: the peer sees EOF at once,
/// whether or not the socket object is dropped yet). Errors are ignored: the socket may be gone already.
pub(crate) fn shutdown_socket<S: std::os::fd::AsFd>(sock: &S) {
    let _ = socket2::SockRef::from(sock).shutdown(std::net::Shutdown::Both);
}

/// Remaining time for a connect phase, bounded by the connect timeout and the total deadline.
pub(crate) fn phase_budget(
    deadlines: &Deadlines,
    phase_end: Option<Instant>,
    phase: Phase,
) -> Result<Option<Duration>> {
    let now = Instant::now();
    let phase_left = phase_end.map(|end| end.saturating_duration_since(now));
    match deadlines.next(now, phase_left) {
        Some((left, _)) if left.is_zero() => Err(Error::timeout(phase)),
        Some((left, _)) => Ok(Some(left)),
        None => Ok(None),
    }
}

/// The address of an IP-literal host, which needs no lookup.
pub(crate) fn ip_literal(key: &PoolKey) -> Option<SocketAddr> {
    key.host.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, key.port))
}

/// A failed TCP connect to one address.
pub(crate) fn connect_error(e: std::io::Error, addr: &SocketAddr) -> Error {
    if e.kind() == std::io::ErrorKind::TimedOut {
        Error::timeout(Phase::Connect).with_source(e)
    } else {
        Error::new(ErrorKind::Connect, format!("could not connect to {addr}")).with_source(e)
    }
}

/// Sets a blocking socket's read and write timeouts. Out of line: the blocking driver calls it only when
/// the value changes (once per connection, usually).
#[cold]
#[inline(never)]
pub(crate) fn set_socket_timeouts(tcp: &std::net::TcpStream, timeout: Option<Duration>) -> std::io::Result<()> {
    tcp.set_read_timeout(timeout).and_then(|()| tcp.set_write_timeout(timeout))
}

/// Reads from `reader` into `buf`'s spare room, zeroed first, at most one TLS record's worth (std has no
/// stable API to read into uninitialised memory). Out of line: a plain socket's read path stays short.
#[inline(never)]
pub(crate) fn read_zeroed(reader: &mut impl std::io::Read, buf: &mut bytes::BytesMut) -> std::io::Result<usize> {
    let len = buf.len();
    let room = (buf.capacity() - len).clamp(8 * 1024, 16 * 1024 + 256);
    buf.resize(len + room, 0);
    let result = reader.read(&mut buf[len..]);
    buf.truncate(len + *result.as_ref().unwrap_or(&0));
    result
}
