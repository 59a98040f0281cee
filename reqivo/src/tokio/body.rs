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
use crate::body::{BodyState, Source};
use crate::error::{Error, Result};
use crate::exchange::drain_more;
use crate::pool::Pooled;
use crate::response::{BodyTimings, Response};

/// A response body being read from its connection. When the body ends, the connection goes back to the
/// pool; when the body is dropped before its end, the connection is closed.
pub struct AsyncBody {
    pub(super) state: BodyState<Conn>,
    wait: Wait,
}

impl AsyncBody {
    /// A body whose head has just arrived; its state is started (`BodyState::start`) once it is where it
    /// stays, in the response's box: returned in a `Result`, it would be moved once more.
    #[inline]
    pub(crate) fn new(
        pooled: Pooled<Box<Conn>>,
        wait: Wait,
        gzip: bool,
        limit: Option<u64>,
        head_at: Instant,
    ) -> AsyncBody {
        AsyncBody { state: BodyState::new(pooled, gzip, limit, head_at), wait }
    }

    /// Polls for the next piece of the body, `None` at its end.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>>> {
        loop {
            let conn = match self.state.next_source() {
                Source::Ready(out) => return Poll::Ready(Ok(out)),
                Source::Read(conn) => conn,
            };
            let event = match ready!(conn.poll_wait_event(cx, &self.wait)) {
                Ok(Waited::Event(event)) => Ok(event),
                Ok(Waited::GapElapsed) => Err(Error::timeout(self.wait.phase)),
                Err(e) => Err(e),
            };
            if let Some(out) = self.state.on_event(event)? {
                return Poll::Ready(Ok(out));
            }
        }
    }

    /// The next piece of the body, `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// The trailer fields of a chunked body, once the body has been read to its end.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.state.trailers()
    }

    /// Reads the rest of the body.
    pub(crate) async fn collect(&mut self) -> Result<Bytes> {
        if let Some(whole) = self.state.take_whole() {
            return Ok(whole);
        }
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
        self.state.elapsed()
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
            this.state.unread(chunk);
        }
        Poll::Ready(Ok(()))
    }
}

impl Response<AsyncBody> {
    /// The next piece of the body, `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        self.parts.body.chunk().await
    }

    /// The whole body.
    pub async fn bytes(mut self) -> Result<Bytes> {
        self.parts.body.collect().await
    }

    /// The whole body as text, decoded with the charset of `Content-Type` (UTF-8 by default).
    pub async fn text(mut self) -> Result<String> {
        let bytes = self.parts.body.collect().await?;
        Ok(self.decode_text(&bytes))
    }

    /// The whole body parsed as JSON.
    #[cfg(feature = "json")]
    pub async fn json<T: serde::de::DeserializeOwned>(mut self) -> Result<T> {
        let bytes = self.parts.body.collect().await?;
        crate::response::decode_json(&bytes)
    }

    /// Trailer fields of a chunked body, after it has been read to its end.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.parts.body.trailers()
    }
}

impl AsyncRead for Response<AsyncBody> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().parts.body).poll_read(cx, buf)
    }
}
