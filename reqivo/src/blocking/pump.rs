//! The I/O loop: moves bytes between the socket and the core's buffers. Mirrors `tokio/pump.rs`.

use std::io::{IoSlice, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use reqivo_proto::deadline::{Deadlines, Phase};
use reqivo_proto::h1::{ClientConn, Event};

use super::connect::Transport;
use crate::body::{HasProto, Pieces, MAX_PIECES};
use crate::error::{io_error, Error, ErrorKind, Result};
use crate::exchange::DIRECT_CHUNK_MIN;

/// One connection: the socket and its protocol state.
pub(crate) struct Conn {
    pub(crate) io: Transport,
    pub(crate) proto: ClientConn,
    pub(crate) remote: SocketAddr,
    /// The socket timeout last set, so it is only changed when it must be (one syscall saved per read).
    socket_timeout: Option<Duration>,
}

impl HasProto for Conn {
    fn proto(&mut self) -> &mut ClientConn {
        &mut self.proto
    }
}

/// The limits of one wait: the request's deadlines and the phase's own limit (the read gap).
#[derive(Clone, Copy)]
pub(crate) struct Wait {
    pub deadlines: Deadlines,
    pub gap: Option<Duration>,
    pub phase: Phase,
}

/// How a bounded wait ended.
pub(crate) enum Waited {
    Event(Event),
    /// The wait's own limit ran out (not the total deadline).
    GapElapsed,
}

impl Conn {
    pub(crate) fn new(io: Transport, proto: ClientConn, remote: SocketAddr) -> Self {
        Conn { io, proto, remote, socket_timeout: None }
    }

    /// Sets the socket's read and write timeouts for the next wait; `Ok(false)` when no time is left.
    fn arm(&mut self, wait: &Wait) -> Result<bool> {
        let timeout = match wait.deadlines.next_with(Instant::now, wait.gap) {
            Some((left, _)) if left.is_zero() => return Ok(false),
            Some((left, _)) => Some(left),
            None => None,
        };
        if timeout != self.socket_timeout {
            crate::net::set_socket_timeouts(self.io.tcp(), timeout).map_err(|e| io_error(e, wait.phase))?;
            self.socket_timeout = timeout;
        }
        Ok(true)
    }

    /// Writes everything the core has queued (a TLS connection is flushed even when nothing was, as in the
    /// async twin: that writes what rustls may hold, if anything).
    pub(crate) fn flush(&mut self, wait: &Wait) -> Result<()> {
        while let Some(len) = self.proto.poll_transmit().map(<[u8]>::len) {
            if !self.arm(wait)? {
                return Err(Error::timeout(Phase::Write));
            }
            let bytes = self.proto.poll_transmit().unwrap_or_default();
            let n = self.io.write(&bytes[..len]).map_err(|e| io_error(e, Phase::Write))?;
            if n == 0 {
                return Err(Error::new(ErrorKind::Io, "connection closed while sending"));
            }
            self.proto.advance_transmit(n);
        }
        // TCP sends what it is given; only TLS may hold written bytes back.
        if let Transport::Tls(_) = self.io {
            self.io.flush().map_err(|e| io_error(e, Phase::Write))?;
        }
        Ok(())
    }

    /// Frames `data` as the next piece of a chunked body into the transmit buffer; writes only while the
    /// buffer is full (the caller flushes when it is done queueing).
    pub(crate) fn queue_body(&mut self, mut data: &[u8], wait: &Wait) -> Result<()> {
        while !data.is_empty() && self.proto.wants_body() {
            let n = self.proto.send_body(data)?;
            data = &data[n..];
            if !data.is_empty() {
                self.flush(wait)?;
            }
        }
        Ok(())
    }

    /// Sends `data` as request body, straight from `data` in vectored writes behind what the core has
    /// queued (the head, a chunk-size line): never copied into the transmit buffer. A chunked body sends
    /// it as one chunk.
    pub(crate) fn write_body(&mut self, data: &[u8], wait: &Wait) -> Result<()> {
        self.write_pieces::<_, 3>(&[data], false, wait)
    }

    /// Sends pieces of a streamed (chunked) body; with `last` the body ends with them. Large ones go out
    /// as one chunk straight from the pieces (`write_pieces`); small ones are framed into the transmit
    /// buffer, written when the caller flushes (with the head, or the end of the body, when those wait too).
    pub(crate) fn send_pieces<P: AsRef<[u8]>>(&mut self, pieces: &[P], last: bool, wait: &Wait) -> Result<()> {
        if Pieces::new(pieces).left() >= DIRECT_CHUNK_MIN {
            return self.write_pieces::<_, { MAX_PIECES + 2 }>(pieces, last, wait);
        }
        for piece in pieces {
            self.queue_body(piece.as_ref(), wait)?;
        }
        if last && self.proto.wants_body() {
            self.proto.finish_body()?;
        }
        Ok(())
    }

    /// Sends `pieces` as one chunk (or as the rest of a `Content-Length` body), straight from the pieces in
    /// vectored writes between what the core has queued before them (the head, the chunk-size line) and
    /// after them (the chunk's CRLF, the end of the body when `last`); at most `SLICES - 2` pieces per write.
    fn write_pieces<P: AsRef<[u8]>, const SLICES: usize>(
        &mut self,
        pieces: &[P],
        last: bool,
        wait: &Wait,
    ) -> Result<()> {
        let mut data = Pieces::new(pieces);
        if last {
            self.proto.begin_last_chunk(data.left())?;
        } else {
            self.proto.begin_chunk(data.left())?;
        }
        while data.left() > 0 && self.proto.wants_body() {
            let room = self.proto.body_direct_room();
            if room < data.left() as u64 {
                // Chunked, or more than declared: `send_body` frames it or says what is wrong.
                let n = self.proto.send_body(data.current())?;
                data.advance(n);
                self.flush(wait)?;
                continue;
            }
            if !self.arm(wait)? {
                return Err(Error::timeout(Phase::Write));
            }
            let queued = self.proto.poll_transmit().unwrap_or_default();
            // Sized by the caller: a future holds the array across the write.
            let mut slices = [IoSlice::new(&[]); SLICES];
            let used = data.slices(queued, self.proto.body_direct_suffix(), &mut slices);
            let n = self.io.write_vectored(&slices[..used]).map_err(|e| io_error(e, Phase::Write))?;
            if n == 0 {
                return Err(Error::new(ErrorKind::Io, "connection closed while sending"));
            }
            data.advance(self.proto.advance_vectored(n)?);
        }
        Ok(())
    }

    /// One read into the core's buffer; EOF is handed to the core. `Ok(false)` when the wait's own limit
    /// ran out; a total-deadline expiry is an error.
    fn fill(&mut self, wait: &Wait) -> Result<bool> {
        if !self.arm(wait)? {
            return self.expired(wait);
        }
        match read_into(&mut self.io, self.proto.recv_buf()) {
            Ok(0) => self.proto.handle_eof(),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return self.expired(wait);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e, wait.phase)),
        }
        Ok(true)
    }

    fn expired(&self, wait: &Wait) -> Result<bool> {
        if wait.deadlines.expired_with(Instant::now) {
            Err(Error::timeout(wait.phase))
        } else {
            Ok(false)
        }
    }

    /// The next event, reading as needed; the wait's own limit running out is reported, not an error.
    pub(crate) fn wait_event(&mut self, wait: &Wait) -> Result<Waited> {
        self.flush(wait)?;
        self.read_event(wait)
    }

    /// Like `wait_event`, without writing first (after a failed write, to pick up the peer's answer).
    pub(crate) fn read_event(&mut self, wait: &Wait) -> Result<Waited> {
        loop {
            if let Some(event) = self.proto.poll_event()? {
                return Ok(Waited::Event(event));
            }
            if !self.proto.wants_read() {
                return Err(Error::new(ErrorKind::Protocol, "connection stalled: no event and nothing to read"));
            }
            if !self.fill(wait)? {
                return Ok(Waited::GapElapsed);
            }
        }
    }

    /// The next event; any timeout is an error.
    pub(crate) fn next_event(&mut self, wait: &Wait) -> Result<Event> {
        match self.wait_event(wait)? {
            Waited::Event(event) => Ok(event),
            Waited::GapElapsed => Err(Error::timeout(wait.phase)),
        }
    }
}

/// Reads into the spare capacity the core reserved. A plain socket receives straight into the
/// uninitialised spare capacity; a TLS stream needs an initialised buffer (see `net::read_zeroed`).
pub(crate) fn read_into(io: &mut Transport, buf: &mut BytesMut) -> std::io::Result<usize> {
    match io {
        Transport::Plain(tcp) => {
            let len = buf.len();
            // An empty buffer would read as EOF.
            buf.reserve(1);
            let spare = buf.spare_capacity_mut();
            let n = socket2::SockRef::from(&*tcp).recv(spare)?;
            // SAFETY: `recv` initialised the first `n` bytes of the spare capacity.
            unsafe { buf.set_len(len + n) };
            Ok(n)
        }
        Transport::Tls(tls) => crate::net::read_zeroed(tls, buf),
    }
}
