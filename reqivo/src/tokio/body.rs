//! `AsyncBody`: the async response body (`AsyncRead` and `chunk()`). Mirrors `blocking/body.rs`.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use tokio::io::{AsyncRead, ReadBuf};

use super::pump::{Conn, Wait, Waited};
use crate::body::{drain_buffered, BodyDecoder, Pending, Step};
use crate::error::{Error, Result};
use crate::exchange::drain_more;
use crate::pool::Pooled;
use crate::response::{BodyTimings, Response};

/// A response body being read from its connection. When the body ends, the connection goes back to the
/// pool; when the body is dropped before its end, the connection is closed.
pub struct AsyncBody {
    conn: Option<Pooled<Box<Conn>>>,
    decoder: BodyDecoder,
    pending: Pending,
    wait: Wait,
    started: Instant,
    elapsed: Option<Duration>,
}

impl AsyncBody {
    pub(crate) fn new(
        pooled: Pooled<Box<Conn>>,
        wait: Wait,
        gzip: bool,
        limit: Option<u64>,
        head_at: Instant,
    ) -> Result<AsyncBody> {
        let mut body = AsyncBody {
            conn: Some(pooled),
            decoder: BodyDecoder::new(gzip, limit),
            pending: Pending::default(),
            wait,
            started: head_at,
            elapsed: None,
        };
        body.drain(false)?;
        Ok(body)
    }

    /// Decodes what is already buffered; returns the connection to the pool if the body ended. `read` says
    /// whether body bytes were read since the head (if not, the body took no time of its own).
    fn drain(&mut self, read: bool) -> Result<()> {
        let Some(pooled) = &mut self.conn else { return Ok(()) };
        match drain_buffered(&mut pooled.conn.proto, &mut self.decoder, &mut self.pending) {
            Ok(true) => self.finish(read),
            Ok(false) => {}
            Err(e) => {
                self.conn = None;
                return Err(e);
            }
        }
        Ok(())
    }

    fn finish(&mut self, read: bool) {
        // A body that arrived with its head took no time of its own; the clock is not read for it.
        self.elapsed = Some(if read { self.started.elapsed() } else { Duration::ZERO });
        if let Some(mut pooled) = self.conn.take() {
            if pooled.conn.proto.close_reason().is_none() && pooled.conn.proto.start_next_cycle().is_ok() {
                pooled.checkin();
            }
        }
    }

    /// Polls for the next piece of the body, `None` at its end.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>>> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Poll::Ready(Ok(Some(b)));
            }
            let Some(pooled) = &mut self.conn else { return Poll::Ready(Ok(None)) };
            let event = match ready!(pooled.conn.poll_wait_event(cx, &self.wait)) {
                Ok(Waited::Event(event)) => Ok(event),
                Ok(Waited::GapElapsed) => Err(Error::timeout(self.wait.phase)),
                Err(e) => Err(e),
            };
            match event.and_then(|ev| self.decoder.on_event(ev)) {
                Ok(Step::Chunk(b)) => {
                    self.drain(true)?;
                    return Poll::Ready(Ok(Some(b)));
                }
                Ok(Step::Continue) => self.drain(true)?,
                Ok(Step::End(tail)) => {
                    self.finish(true);
                    return Poll::Ready(Ok(tail));
                }
                Err(e) => {
                    // The connection is in an unknown state: close it.
                    self.conn = None;
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    /// The next piece of the body, `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// The trailer fields of a chunked body, once the body has been read to its end.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.decoder.trailers()
    }

    /// Reads the rest of the body.
    pub(crate) async fn collect(&mut self) -> Result<Bytes> {
        let first = match self.chunk().await? {
            None => return Ok(Bytes::new()),
            Some(b) => b,
        };
        let Some(second) = self.chunk().await? else { return Ok(first) };
        let mut all = BytesMut::with_capacity(first.len() + second.len());
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(b) = self.chunk().await? {
            all.extend_from_slice(&b);
        }
        Ok(all.freeze())
    }

    /// Reads a small remaining body so the connection can be reused; drops it when the body is large.
    pub(crate) async fn discard(mut self) {
        let mut drained = 0;
        while let Ok(Some(b)) = self.chunk().await {
            if !drain_more(&mut drained, &b) {
                return;
            }
        }
    }
}

impl BodyTimings for AsyncBody {
    fn body_time(&self) -> Option<Duration> {
        self.elapsed
    }
}

impl AsyncRead for AsyncBody {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let Some(mut chunk) = ready!(this.poll_chunk(cx)).map_err(io::Error::other)? else {
            return Poll::Ready(Ok(()));
        };
        let n = buf.remaining().min(chunk.len());
        buf.put_slice(&chunk[..n]);
        chunk.advance(n);
        if !chunk.is_empty() {
            this.pending.push_front(chunk);
        }
        Poll::Ready(Ok(()))
    }
}

impl Response<AsyncBody> {
    /// The next piece of the body, `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        self.body.chunk().await
    }

    /// The whole body.
    pub async fn bytes(mut self) -> Result<Bytes> {
        self.body.collect().await
    }

    /// The whole body as text, decoded with the charset of `Content-Type` (UTF-8 by default).
    pub async fn text(mut self) -> Result<String> {
        let bytes = self.body.collect().await?;
        Ok(self.decode_text(&bytes))
    }

    /// The whole body parsed as JSON.
    #[cfg(feature = "json")]
    pub async fn json<T: serde::de::DeserializeOwned>(mut self) -> Result<T> {
        let bytes = self.body.collect().await?;
        crate::response::decode_json(&bytes)
    }

    /// Trailer fields of a chunked body, after it has been read to its end.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.body.trailers()
    }
}

impl AsyncRead for Response<AsyncBody> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().body).poll_read(cx, buf)
    }
}
