//! `Body`: the blocking response body (`io::Read` and `chunk()`). Mirrors `tokio/body.rs`.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;

use super::pump::{Conn, Wait};
use crate::body::{BodyState, Source};
use crate::error::Result;
use crate::exchange::drain_more;
use crate::pool::Pooled;
use crate::response::{BodyTimings, Response};

/// A response body being read from its connection. When the body ends, the connection goes back to the
/// pool; when the body is dropped before its end, the connection is closed.
pub struct Body {
    /// Started by the session ([`BodyState::start`]) once the body is in its response's box.
    pub(super) state: BodyState<Conn>,
    wait: Wait,
}

impl Body {
    pub(crate) fn new(pooled: Pooled<Box<Conn>>, wait: Wait, gzip: bool, limit: Option<u64>, head_at: Instant) -> Body {
        Body { state: BodyState::new(pooled, gzip, limit, head_at), wait }
    }

    /// The next piece of the body, `None` at its end.
    pub fn chunk(&mut self) -> Result<Option<Bytes>> {
        loop {
            let conn = match self.state.next_source() {
                Source::Ready(out) => return Ok(out),
                Source::Read(conn) => conn,
            };
            let event = conn.next_event(&self.wait);
            if let Some(out) = self.state.on_event(event)? {
                return Ok(out);
            }
        }
    }

    /// The trailer fields of a chunked body, once the body has been read to its end.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.state.trailers()
    }

    /// Reads the rest of the body.
    pub(crate) fn collect(&mut self) -> Result<Bytes> {
        if let Some(whole) = self.state.take_whole() {
            return Ok(whole);
        }
        let first = match self.chunk()? {
            None => return Ok(Bytes::new()),
            Some(b) => b,
        };
        let Some(second) = self.chunk()? else { return Ok(first) };
        let mut all = BytesMut::with_capacity(first.len() + second.len());
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(b) = self.chunk()? {
            all.extend_from_slice(&b);
        }
        Ok(all.freeze())
    }

    /// Reads a small remaining body so the connection can be reused; drops it when the body is large.
    pub(crate) fn discard(mut self) {
        let mut drained = 0;
        while let Ok(Some(b)) = self.chunk() {
            if !drain_more(&mut drained, &b) {
                return;
            }
        }
    }
}

impl BodyTimings for Body {
    fn body_time(&self) -> Option<Duration> {
        self.state.elapsed()
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let Some(mut chunk) = self.chunk().map_err(io::Error::other)? else { return Ok(0) };
        let n = buf.len().min(chunk.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.advance(n);
        if !chunk.is_empty() {
            self.state.unread(chunk);
        }
        Ok(n)
    }
}

impl Response<Body> {
    /// The next piece of the body, `None` at its end.
    pub fn chunk(&mut self) -> Result<Option<Bytes>> {
        self.parts.body.chunk()
    }

    /// The whole body.
    pub fn bytes(mut self) -> Result<Bytes> {
        self.parts.body.collect()
    }

    /// The whole body as text, decoded with the charset of `Content-Type` (UTF-8 by default).
    pub fn text(mut self) -> Result<String> {
        let bytes = self.parts.body.collect()?;
        Ok(self.decode_text(&bytes))
    }

    /// The whole body parsed as JSON.
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(mut self) -> Result<T> {
        let bytes = self.parts.body.collect()?;
        crate::response::decode_json(&bytes)
    }

    /// Trailer fields of a chunked body, after it has been read to its end.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.parts.body.trailers()
    }
}

impl Read for Response<Body> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.parts.body.read(buf)
    }
}
