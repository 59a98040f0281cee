//! Opening a connection: resolve, TCP connect over every address, TLS. Mirrors `blocking/connect.rs`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use reqivo_proto::deadline::{Deadlines, Phase};
use reqivo_proto::pool::PoolKey;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::error::{Error, ErrorKind, Result};
use crate::net::{connect_error, ip_literal, phase_budget};
use crate::response::Timings;

/// A plain or TLS byte stream.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Transport {
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => s.get_ref().0,
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Runs `fut` within `budget` (`None` = unbounded); running out is a timeout in `phase`.
async fn within<T>(budget: Option<Duration>, phase: Phase, fut: impl std::future::Future<Output = T>) -> Result<T> {
    match budget {
        Some(left) => tokio::time::timeout(left, fut).await.map_err(|_| Error::timeout(phase)),
        None => Ok(fut.await),
    }
}

/// Resolves `host` within `budget` (tokio runs the lookup on its blocking pool).
async fn resolve(host: &str, port: u16, budget: Option<Duration>) -> Result<io::Result<Vec<SocketAddr>>> {
    within(budget, Phase::Dns, async { Ok(tokio::net::lookup_host((host, port)).await?.collect()) }).await
}

/// Connects to `key`, filling in the DNS, connect and TLS timings.
pub(crate) async fn connect(
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
        None => resolve(&key.host, key.port, phase_budget(deadlines, phase_end, Phase::Dns)?)
            .await?
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
        match within(budget, Phase::Connect, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                connected = Some((s, *addr));
                break;
            }
            Ok(Err(e)) => last_error = Some(connect_error(e, addr)),
            Err(timeout) => last_error = Some(timeout),
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
    let connector = tokio_rustls::TlsConnector::from(tls.client_config()?);
    let budget = phase_budget(deadlines, phase_end, Phase::Tls)?;
    let stream =
        within(budget, Phase::Tls, connector.connect(name, tcp)).await?.map_err(crate::tls::handshake_error)?;
    timings.tls = Some(tcp_done.elapsed());
    Ok((Transport::Tls(Box::new(stream)), addr))
}
