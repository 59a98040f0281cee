//! Opening a connection: resolve, TCP connect over every address, TLS.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use reqivo_proto::deadline::{Deadlines, Phase};
use reqivo_proto::pool::PoolKey;

use crate::error::{Error, ErrorKind, Result};
use crate::net::{connect_error, ip_literal, phase_budget};
use crate::response::Timings;

/// A plain or TLS byte stream.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Transport {
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => &s.sock,
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write_vectored(bufs),
            Transport::Tls(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

/// Resolves `host` within `budget`. std's resolver (`getaddrinfo`) cannot be given a timeout, so a bounded
/// lookup runs on a short-lived thread that is abandoned if it outlasts the budget (it ends when the
/// lookup returns); an unbounded one runs here. Only name lookups of new connections pay for the thread.
fn resolve(host: &str, port: u16, budget: Option<Duration>) -> Result<io::Result<Vec<SocketAddr>>> {
    let lookup = move |host: &str| (host, port).to_socket_addrs().map(Iterator::collect);
    let Some(budget) = budget else { return Ok(lookup(host)) };
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let owned = host.to_owned();
    let spawned = std::thread::Builder::new().name("reqivo-dns".into()).spawn(move || {
        // The receiver may be gone (timed out): the result is then dropped.
        let _ = tx.send(lookup(&owned));
    });
    if spawned.is_err() {
        // No thread to spare: resolve here, unbounded, rather than fail the request.
        return Ok(lookup(host));
    }
    match rx.recv_timeout(budget) {
        Ok(result) => Ok(result),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(Error::timeout(Phase::Dns)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Err(Error::new(ErrorKind::Dns, format!("the lookup of {host} ended without an answer")))
        }
    }
}

/// Connects to `key`, filling in the DNS, connect and TLS timings.
pub(crate) fn connect(
    key: &PoolKey,
    tls: &crate::tls::Tls,
    connect_timeout: Option<Duration>,
    deadlines: &Deadlines,
    timings: &mut Timings,
) -> Result<(Transport, SocketAddr)> {
    let start = Instant::now();
    let phase_end = connect_timeout.and_then(|t| start.checked_add(t));
    let addrs: Vec<SocketAddr> = match ip_literal(key) {
        Some(addr) => vec![addr],
        None => resolve(&key.host, key.port, phase_budget(deadlines, phase_end, Phase::Dns)?)?
            .map_err(|e| Error::new(ErrorKind::Dns, format!("could not resolve {}", key.host)).with_source(e))?,
    };
    let resolved = Instant::now();
    timings.dns = Some(resolved - start);
    if addrs.is_empty() {
        return Err(Error::new(ErrorKind::Dns, format!("no addresses for {}", key.host)));
    }
    let mut last_error = None;
    let mut connected = None;
    for addr in &addrs {
        let budget = phase_budget(deadlines, phase_end, Phase::Connect)?;
        let attempt = match budget {
            Some(left) => TcpStream::connect_timeout(addr, left),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(s) => {
                connected = Some((s, *addr));
                break;
            }
            Err(e) => last_error = Some(connect_error(e, addr)),
        }
    }
    let Some((tcp, addr)) = connected else {
        return Err(last_error.unwrap_or_else(|| Error::new(ErrorKind::Connect, "no address to connect to")));
    };
    let tcp_done = Instant::now();
    timings.connect = Some(tcp_done - resolved);
    tcp.set_nodelay(true).map_err(|e| Error::new(ErrorKind::Connect, "setting TCP_NODELAY failed").with_source(e))?;
    if !key.tls {
        return Ok((Transport::Plain(tcp), addr));
    }
    let name = crate::tls::server_name(&key.host)?;
    let conn = rustls::ClientConnection::new(tls.client_config()?, name)
        .map_err(|e| Error::new(ErrorKind::Tls, "TLS setup failed").with_source(e))?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        let budget = phase_budget(deadlines, phase_end, Phase::Tls)?;
        stream.sock.set_read_timeout(budget).map_err(crate::tls::handshake_error)?;
        stream.sock.set_write_timeout(budget).map_err(crate::tls::handshake_error)?;
        stream.conn.complete_io(&mut stream.sock).map_err(crate::tls::handshake_error)?;
    }
    timings.tls = Some(tcp_done.elapsed());
    Ok((Transport::Tls(Box::new(stream)), addr))
}
