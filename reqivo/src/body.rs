//! Turning response events into body chunks, shared by both drivers: content decoding (gzip), trailers,
//! and the size limit on decoded bytes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use reqivo_proto::h1::{ClientConn, Event};

use crate::error::{Error, ErrorKind, Result};
use crate::pool::Pooled;

/// What the driver does after handing an event to [`BodyDecoder::on_event`].
enum Step {
    /// Give these bytes to the reader.
    Chunk(Bytes),
    /// Nothing to give yet: fetch the next event.
    Continue,
    /// The body is complete (with a last decoded piece, if any); the connection may go back to the pool.
    End(Option<Bytes>),
}

/// Body-level decoding state of one response.
struct BodyDecoder {
    /// Boxed, and both in one box: both are rare, a response (which holds this) is moved several times
    /// on its way out, and a plain body's drop then tests one pointer.
    rare: Option<Box<Rare>>,
}

#[derive(Default)]
struct Rare {
    #[cfg(feature = "gzip")]
    gzip: Option<gzip::Gzip>,
    trailers: Option<HeaderMap>,
}

impl BodyDecoder {
    /// `gzip` when the response is `Content-Encoding: gzip` and decoding is on; `limit` caps decoded bytes.
    fn new(gzip: bool, limit: Option<u64>) -> Self {
        #[cfg(not(feature = "gzip"))]
        let _ = (gzip, limit);
        #[cfg(feature = "gzip")]
        let rare = gzip.then(|| Box::new(Rare { gzip: Some(gzip::Gzip::new(limit)), trailers: None }));
        #[cfg(not(feature = "gzip"))]
        let rare = None;
        BodyDecoder { rare }
    }

    fn trailers(&self) -> Option<&HeaderMap> {
        self.rare.as_ref()?.trailers.as_ref()
    }

    #[cfg(feature = "gzip")]
    fn gzip(&mut self) -> Option<&mut gzip::Gzip> {
        self.rare.as_mut()?.gzip.as_mut()
    }

    /// Whether body pieces are handed out as they arrive (no content decoding).
    fn passes_through(&self) -> bool {
        #[cfg(feature = "gzip")]
        return self.rare.as_ref().is_none_or(|rare| rare.gzip.is_none());
        #[cfg(not(feature = "gzip"))]
        true
    }

    fn on_event(&mut self, event: Event) -> Result<Step> {
        match event {
            Event::Data(data) => self.decode(data),
            Event::Trailers(t) => {
                self.rare.get_or_insert_default().trailers = Some(t);
                Ok(Step::Continue)
            }
            Event::End => {
                #[cfg(feature = "gzip")]
                if let Some(g) = self.gzip() {
                    let tail = g.finish()?;
                    return Ok(Step::End((!tail.is_empty()).then_some(tail)));
                }
                Ok(Step::End(None))
            }
            Event::Head(_) | Event::Informational(_) | Event::Upgraded { .. } => {
                Err(Error::new(ErrorKind::Protocol, "unexpected response head inside a body"))
            }
        }
    }

    fn decode(&mut self, data: Bytes) -> Result<Step> {
        #[cfg(feature = "gzip")]
        if let Some(g) = self.gzip() {
            let out = g.push(&data)?;
            return Ok(if out.is_empty() { Step::Continue } else { Step::Chunk(out) });
        }
        Ok(Step::Chunk(data))
    }
}

#[cfg(feature = "gzip")]
mod gzip {
    use std::io::Write;

    use bytes::Bytes;
    use flate2::write::GzDecoder;

    use crate::error::{Error, ErrorKind, Result};

    /// Input is fed in small steps so one compressed chunk cannot expand past the limit unchecked
    /// (deflate expands at most ~1032:1, so 1 KiB of input yields at most ~1 MiB).
    const STEP: usize = 1024;

    pub(super) struct Gzip {
        decoder: GzDecoder<Vec<u8>>,
        limit: Option<u64>,
        produced: u64,
        /// Whether any encoded byte arrived. A response without body bytes (HEAD, 204, 304, an empty
        /// 200) may still say `Content-Encoding: gzip`; there is nothing to decode then.
        fed: bool,
    }

    impl Gzip {
        pub(super) fn new(limit: Option<u64>) -> Self {
            Gzip { decoder: GzDecoder::new(Vec::new()), limit, produced: 0, fed: false }
        }

        fn take(&mut self) -> Result<Bytes> {
            let out = std::mem::take(self.decoder.get_mut());
            self.produced += out.len() as u64;
            if self.limit.is_some_and(|l| self.produced > l) {
                return Err(Error::new(ErrorKind::TooLarge, "decoded body exceeds the size limit"));
            }
            Ok(out.into())
        }

        pub(super) fn push(&mut self, mut data: &[u8]) -> Result<Bytes> {
            let mut out = Vec::new();
            self.fed |= !data.is_empty();
            while !data.is_empty() {
                let n = self.decoder.write(&data[..data.len().min(STEP)]).map_err(bad_gzip)?;
                if n == 0 {
                    return Err(Error::new(ErrorKind::Decode, "data after the end of the gzip stream"));
                }
                data = &data[n..];
                out.extend_from_slice(&self.take()?);
            }
            Ok(out.into())
        }

        pub(super) fn finish(&mut self) -> Result<Bytes> {
            if !self.fed {
                return Ok(Bytes::new());
            }
            self.decoder.try_finish().map_err(bad_gzip)?;
            let tail = self.take()?;
            Ok(tail)
        }
    }

    fn bad_gzip(e: std::io::Error) -> Error {
        Error::new(ErrorKind::Decode, "invalid gzip body").with_source(e)
    }
}

/// The connection of a response body, as the shared body logic sees it (each driver's `Conn`).
pub(crate) trait HasProto {
    fn proto(&mut self) -> &mut ClientConn;
}

/// The part of a response body both drivers share: the connection until the body ends, decoding, pieces
/// not handed out yet, and the body's time. The drivers only differ in how they wait for the next event.
pub(crate) struct BodyState<C> {
    conn: Option<Pooled<Box<C>>>,
    decoder: BodyDecoder,
    pending: Pending,
    started: Instant,
    elapsed: Option<Duration>,
}

/// Where the next piece of a body comes from.
pub(crate) enum Source<'a, C> {
    /// Hand this out at once (a piece decoded earlier, or `None`: the body has ended).
    Ready(Option<Bytes>),
    /// Wait for the next event of this connection, then give it to [`BodyState::on_event`].
    Read(&'a mut C),
}

impl<C: HasProto> BodyState<C> {
    /// A body whose head has just arrived; [`BodyState::start`] next.
    pub(crate) fn new(pooled: Pooled<Box<C>>, gzip: bool, limit: Option<u64>, head_at: Instant) -> Self {
        BodyState {
            conn: Some(pooled),
            decoder: BodyDecoder::new(gzip, limit),
            pending: Pending::default(),
            started: head_at,
            elapsed: None,
        }
    }

    /// Decodes what arrived with the head (often the whole body). Separate from `new` so the state is
    /// built in place inside the driver's body rather than moved there in a `Result`.
    pub(crate) fn start(&mut self) -> Result<()> {
        self.drain(false)
    }

    #[inline]
    pub(crate) fn next_source(&mut self) -> Source<'_, C> {
        if let Some(b) = self.pending.pop_front() {
            return Source::Ready(Some(b));
        }
        match &mut self.conn {
            Some(pooled) => Source::Read(&mut pooled.conn),
            None => Source::Ready(None),
        }
    }

    /// Takes the event (or the failure to get one) read for [`Source::Read`]; `Some` is what to hand out,
    /// `None` means read again.
    #[inline]
    pub(crate) fn on_event(&mut self, event: Result<Event>) -> Result<Option<Option<Bytes>>> {
        match event.and_then(|ev| self.decoder.on_event(ev)) {
            Ok(Step::Chunk(b)) => {
                self.drain(true)?;
                Ok(Some(Some(b)))
            }
            Ok(Step::Continue) => {
                self.drain(true)?;
                Ok(None)
            }
            Ok(Step::End(tail)) => {
                self.finish(true);
                Ok(Some(tail))
            }
            Err(e) => {
                // The connection is in an unknown state: close it.
                self.conn = None;
                Err(e)
            }
        }
    }

    /// Decodes what is already buffered; returns the connection to the pool if the body ended. `read` says
    /// whether body bytes were read since the head (if not, the body took no time of its own).
    fn drain(&mut self, read: bool) -> Result<()> {
        let Some(pooled) = &mut self.conn else { return Ok(()) };
        match drain_buffered(pooled.conn.proto(), &mut self.decoder, &mut self.pending) {
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
        // A body that arrived with its head took no time of its own, and its connection went idle when the
        // head arrived (a few microseconds before this): the clock is not read for it.
        let (now, elapsed) = if read {
            let now = Instant::now();
            (now, now.saturating_duration_since(self.started))
        } else {
            (self.started, Duration::ZERO)
        };
        self.elapsed = Some(elapsed);
        if let Some(mut pooled) = self.conn.take() {
            let proto = pooled.conn.proto();
            if proto.close_reason().is_none() && proto.start_next_cycle().is_ok() {
                pooled.checkin(now);
            }
        }
    }

    /// The whole rest of the body when it is all here in at most one piece (a small response that came
    /// with its head): handed out at once, without asking for the next piece twice.
    pub(crate) fn take_whole(&mut self) -> Option<Bytes> {
        if self.conn.is_some() || !self.pending.rest_is_empty() {
            return None;
        }
        Some(self.pending.first.take().unwrap_or_default())
    }

    /// Puts back the unread part of a piece handed out (a reader took less than the whole piece).
    pub(crate) fn unread(&mut self, piece: Bytes) {
        self.pending.push_front(piece);
    }

    pub(crate) fn trailers(&self) -> Option<&HeaderMap> {
        self.decoder.trailers()
    }

    /// The time the body took once it has ended.
    pub(crate) fn elapsed(&self) -> Option<Duration> {
        self.elapsed
    }
}

/// Pulls every event already decodable from the receive buffer (no I/O) into `pending`, so a small
/// response that arrived in one read is complete at once and its connection goes straight back to the
/// pool. Returns true when the body ended.
fn drain_buffered(proto: &mut ClientConn, decoder: &mut BodyDecoder, pending: &mut Pending) -> Result<bool> {
    // A body that came whole with its head ends at once, without an event per piece.
    if decoder.passes_through() {
        if let Some(body) = proto.take_whole_body() {
            if !body.is_empty() {
                pending.push_back(body);
            }
            return Ok(true);
        }
    }
    while let Some(event) = proto.poll_event()? {
        match decoder.on_event(event)? {
            Step::Chunk(b) => pending.push_back(b),
            Step::Continue => {}
            Step::End(tail) => {
                if let Some(tail) = tail {
                    pending.push_back(tail);
                }
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Body pieces decoded but not yet handed out. Most bodies decode to one piece while the head is read, so
/// the first piece waits in place and the queue exists only for the rest.
#[derive(Debug, Default)]
// The box is the point: one word in the body, and one test in its drop, for a queue nearly always absent.
#[allow(clippy::box_collection)]
struct Pending {
    first: Option<Bytes>,
    rest: Option<Box<VecDeque<Bytes>>>,
}

impl Pending {
    fn rest_is_empty(&self) -> bool {
        self.rest.as_ref().is_none_or(|rest| rest.is_empty())
    }

    #[inline]
    fn push_back(&mut self, piece: Bytes) {
        if self.first.is_none() && self.rest_is_empty() {
            self.first = Some(piece);
        } else {
            self.rest.get_or_insert_default().push_back(piece);
        }
    }

    /// Puts back the unread part of a piece, ahead of everything else.
    fn push_front(&mut self, piece: Bytes) {
        if let Some(first) = self.first.replace(piece) {
            self.rest.get_or_insert_default().push_front(first);
        }
    }

    fn pop_front(&mut self) -> Option<Bytes> {
        self.first.take().or_else(|| self.rest.as_mut()?.pop_front())
    }
}

/// Most pieces of a streamed request body sent in one vectored write (with the queued bytes before them and
/// the chunk's end after them: two slices more).
pub(crate) const MAX_PIECES: usize = 16;

/// Request-body pieces written straight from the caller's buffers (never copied into the core's transmit
/// buffer), and how far the writes got.
pub(crate) struct Pieces<'a, P> {
    pieces: &'a [P],
    /// The piece the next byte comes from, and the offset in it.
    index: usize,
    offset: usize,
    left: usize,
}

impl<'a, P: AsRef<[u8]>> Pieces<'a, P> {
    pub(crate) fn new(pieces: &'a [P]) -> Self {
        let left = pieces.iter().map(|p| p.as_ref().len()).sum();
        Pieces { pieces, index: 0, offset: 0, left }
    }

    /// Bytes not written yet.
    pub(crate) fn left(&self) -> usize {
        self.left
    }

    /// The unwritten part of the current piece.
    pub(crate) fn current(&self) -> &'a [u8] {
        self.pieces.get(self.index).map_or(&[], |p| &p.as_ref()[self.offset..])
    }

    /// `n` more bytes went out.
    pub(crate) fn advance(&mut self, mut n: usize) {
        self.left -= n;
        while n > 0 {
            let rest = self.pieces[self.index].as_ref().len() - self.offset;
            if n < rest {
                self.offset += n;
                return;
            }
            n -= rest;
            self.index += 1;
            self.offset = 0;
        }
    }

    /// The slices of one vectored write: `queued`, the unwritten pieces (as many as fit) and, when they all
    /// fit, `suffix`. Returns how many of `out` are in use.
    pub(crate) fn slices<'s>(&self, queued: &'s [u8], suffix: &'s [u8], out: &mut [std::io::IoSlice<'s>]) -> usize
    where
        'a: 's,
    {
        out[0] = std::io::IoSlice::new(queued);
        let mut used = 1;
        let mut offset = self.offset;
        for piece in &self.pieces[self.index..] {
            // The last slot is kept for the suffix.
            if used + 1 >= out.len() {
                return used;
            }
            let piece = &piece.as_ref()[offset..];
            offset = 0;
            if !piece.is_empty() {
                out[used] = std::io::IoSlice::new(piece);
                used += 1;
            }
        }
        out[used] = std::io::IoSlice::new(suffix);
        used + 1
    }
}
