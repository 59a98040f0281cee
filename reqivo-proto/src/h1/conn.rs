//! The connection state machine. Every state transition of a [`ClientConn`] is in this file; encoding and
//! decoding (`encode.rs`, `decode.rs`) are pure functions over buffers that report what they found.
//!
//! The request side (`Send`) and the response side (`Recv`) move separately because a server may answer
//! before the request body is complete (an error status, or the answer to `Expect: 100-continue`).

use bytes::{Buf, Bytes, BytesMut};
use http::{StatusCode, Version};

use super::decode::{self, BodyDecoder, BodyEvent, Framing, HeadReader};
use super::encode::{self, RequestInfo};
use super::fields::known;
use super::{BodyLength, CloseReason, Event, Limits, ProtoError, RequestHead, UsageError};

/// Spare capacity [`ClientConn::recv_buf`] guarantees for the driver's next read.
const READ_RESERVE: usize = 8 * 1024;
/// Spare capacity reserved before a read in the body.
const BODY_READ_RESERVE: usize = 64 * 1024;
/// [`ClientConn::send_body`] takes no more bytes while this many wait in the transmit buffer.
const TRANSMIT_HIGH_WATER: usize = 64 * 1024;

/// The request side.
#[derive(Debug, Clone, Copy)]
enum Send {
    /// No request.
    Idle,
    /// Head queued with `Expect: 100-continue`; the body waits for 100 or the driver's timeout.
    WaitContinue(BodyProgress),
    /// The body is being sent.
    Body(BodyProgress),
    /// The request is complete.
    Done,
    /// A final response arrived before the body was complete; the rest of the body is dropped.
    Abandoned,
}

#[derive(Debug, Clone, Copy)]
enum BodyProgress {
    Known {
        declared: u64,
        sent: u64,
    },
    Chunked,
    /// Inside a chunk whose size line is queued: `left` data bytes are owed (see `begin_chunk`); `last`
    /// when the body ends with this chunk (see `begin_last_chunk`).
    ChunkData {
        left: u64,
        last: bool,
    },
}

impl BodyProgress {
    fn is_complete(self) -> bool {
        matches!(self, BodyProgress::Known { declared, sent } if sent == declared)
    }
}

/// The response side.
#[derive(Debug)]
enum Recv {
    /// No request in flight.
    Idle,
    /// Expecting a head (1xx heads loop here).
    Head,
    /// Decoding the body of the final response.
    Body(BodyDecoder),
    /// `Head` of a 101 (or 2xx to CONNECT) was reported; `Upgraded` comes next.
    Upgrading,
    /// The connection belongs to another protocol now; nothing is parsed any more.
    Upgraded,
    /// `End` was reported.
    Done,
}

/// The first error; it sticks.
#[derive(Debug, Clone)]
enum Failure {
    Usage(UsageError),
    Proto(ProtoError),
}

/// One HTTP/1.1 client connection, sans I/O. See the [module docs](super) for the calling contract.
#[derive(Debug)]
pub struct ClientConn {
    limits: Limits,
    recv: BytesMut,
    transmit: BytesMut,
    send: Send,
    recv_state: Recv,
    failure: Option<Failure>,
    /// What the current request implies for its response.
    request: RequestInfo,
    /// The first reason found in this exchange not to reuse the connection.
    close: Option<CloseReason>,
    /// The peer closed its side.
    eof: bool,
    /// Response bytes were consumed for the current request.
    started: bool,
    /// Head bytes (1xx heads included) consumed in this exchange, charged to `max_head_size`.
    head_used: usize,
    head_reader: HeadReader,
    /// Receive-buffer length at which decoding last stalled for want of bytes.
    stalled_at: Option<usize>,
    /// This exchange read body bytes after its head (the body did not arrive with it).
    read_in_body: bool,
    /// The previous exchange did: the first read of this one is a body-sized read (see `recv_buf`).
    large_reads: bool,
}

impl ClientConn {
    /// A fresh connection with the given limits.
    pub fn new(limits: Limits) -> Self {
        ClientConn {
            limits,
            recv: BytesMut::new(),
            transmit: BytesMut::new(),
            send: Send::Idle,
            recv_state: Recv::Idle,
            failure: None,
            request: RequestInfo::default(),
            close: None,
            eof: false,
            started: false,
            head_used: 0,
            head_reader: HeadReader::default(),
            stalled_at: None,
            read_in_body: false,
            large_reads: false,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Changes the limits for the next request (pooled connections serve requests with other limits).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        // The limits decide some answers (a head too large): the next `poll_event` must look again.
        self.stalled_at = None;
    }

    /// True while the core needs more bytes from the peer to make progress.
    pub fn wants_read(&self) -> bool {
        // Bytes appended since the last stall may already be decodable: `poll_event` must look first.
        self.failure.is_none()
            && !self.eof
            && matches!(self.recv_state, Recv::Head | Recv::Body(_))
            && self.stalled_at == Some(self.recv.len())
    }

    /// True while the core accepts body bytes through [`ClientConn::send_body`].
    pub fn wants_body(&self) -> bool {
        self.failure.is_none() && self.body_pending() && !matches!(self.send, Send::WaitContinue(_))
    }

    /// True once any byte of a response to the current request has been received. A failure before that on
    /// a reused connection may be retried on a fresh one.
    pub fn response_started(&self) -> bool {
        self.started || (matches!(self.recv_state, Recv::Head) && !self.recv.is_empty())
    }

    /// `None` when the connection is idle after a complete exchange and may be reused; otherwise why not.
    pub fn close_reason(&self) -> Option<CloseReason> {
        if self.failure.is_some() {
            return Some(CloseReason::Error);
        }
        match self.recv_state {
            Recv::Upgrading | Recv::Upgraded => return Some(CloseReason::Upgraded),
            Recv::Head | Recv::Body(_) => return Some(CloseReason::Unfinished),
            Recv::Idle | Recv::Done => {}
        }
        if self.close.is_some() {
            self.close
        } else if self.eof {
            Some(CloseReason::PeerClosed)
        } else if !self.transmit.is_empty() {
            Some(CloseReason::Unfinished)
        } else if !self.recv.is_empty() {
            Some(CloseReason::UnsolicitedData)
        } else {
            None
        }
    }

    /// The receive buffer: the driver appends bytes read from the socket, then calls `poll_event`.
    /// The core has reserved room for a read (at least 8 KiB of spare capacity).
    pub fn recv_buf(&mut self) -> &mut BytesMut {
        // Bodies are read in larger steps: fewer reads, and fewer fresh allocations once body pieces
        // handed out as `Bytes` keep the previous block alive. The first read of an exchange is as large
        // when the previous response's body did not come with its head: a connection that serves large
        // responses gets the head and most of the body in one read, one that serves small ones keeps its
        // small buffer (the buffer is dropped again between exchanges, see `start_next_cycle`).
        let want = match self.recv_state {
            Recv::Body(_) => {
                self.read_in_body = true;
                BODY_READ_RESERVE
            }
            Recv::Head if self.large_reads && self.recv.is_empty() => BODY_READ_RESERVE,
            _ => READ_RESERVE,
        };
        self.recv.reserve(want);
        &mut self.recv
    }

    /// The peer closed its sending side.
    pub fn handle_eof(&mut self) {
        // What EOF means depends on the state; `poll_event` and `close_reason` decide.
        self.eof = true;
    }

    /// The `Expect: 100-continue` wait ran out: send the body without waiting for 100.
    pub fn handle_continue_timeout(&mut self) {
        if let Send::WaitContinue(progress) = self.send {
            self.send = Send::Body(progress);
        }
    }

    /// Encodes a request head. `Content-Length` / `Transfer-Encoding: chunked` follow from `body`.
    pub fn send_request(&mut self, head: RequestHead<'_>, body: BodyLength) -> Result<(), UsageError> {
        self.check_command()?;
        if !matches!((self.send, &self.recv_state), (Send::Idle, Recv::Idle)) {
            return Err(self.fail_usage(UsageError::WrongState(
                "send_request needs an idle connection: call start_next_cycle after End",
            )));
        }
        if !self.recv.is_empty() {
            // They cannot answer a request not sent yet (often a 408 on an idle connection).
            return Err(self.fail_usage(UsageError::WrongState(
                "send_request on a connection holding unsolicited bytes (close_reason is UnsolicitedData)",
            )));
        }
        let info = match encode::encode_head(&mut self.transmit, &head, body) {
            Ok(info) => info,
            Err(e) => return Err(self.fail_usage(e)),
        };
        let progress = match body {
            BodyLength::None => None,
            BodyLength::Known(declared) => Some(BodyProgress::Known { declared, sent: 0 }),
            BodyLength::Chunked => Some(BodyProgress::Chunked),
        };
        self.send = match progress {
            None => Send::Done,
            Some(p) if info.expect_continue => Send::WaitContinue(p),
            Some(p) => Send::Body(p),
        };
        self.request = info;
        if info.close {
            self.note_close(CloseReason::RequestClose);
        }
        self.recv_state = Recv::Head;
        self.stalled_at = Some(self.recv.len());
        Ok(())
    }

    /// Queues body bytes (chunk-framed when chunked); returns how many were taken (may be fewer than
    /// offered when the transmit buffer is full: write it out and offer the rest).
    ///
    /// After a final response cut the request short (see [`CloseReason::RequestBodyUnsent`]) the bytes are
    /// dropped and reported as taken, so a copy loop ends; check [`ClientConn::wants_body`] to stop earlier.
    pub fn send_body(&mut self, data: &[u8]) -> Result<usize, UsageError> {
        self.check_command()?;
        let progress = match self.send {
            Send::Abandoned => return Ok(data.len()),
            Send::Body(progress) => progress,
            _ => return Err(self.fail_usage(UsageError::WrongState("send_body while wants_body() is false"))),
        };
        let room = TRANSMIT_HIGH_WATER.saturating_sub(self.transmit.len());
        let take = room.min(data.len());
        match progress {
            BodyProgress::Known { declared, sent } => {
                let offered = sent.saturating_add(data.len() as u64);
                if offered > declared {
                    return Err(self.fail_usage(UsageError::BodyLengthMismatch { declared, sent: offered }));
                }
                self.transmit.extend_from_slice(&data[..take]);
                self.send = Send::Body(BodyProgress::Known { declared, sent: sent + take as u64 });
            }
            BodyProgress::Chunked => encode::encode_chunk(&mut self.transmit, &data[..take]),
            BodyProgress::ChunkData { left, last } => {
                let take = take.min(usize::try_from(left).unwrap_or(usize::MAX));
                self.transmit.extend_from_slice(&data[..take]);
                self.chunk_data_sent(left, last, take);
                return Ok(take);
            }
        }
        Ok(take)
    }

    /// Starts a chunk of `len` bytes whose data the driver writes itself (a chunked body's counterpart of
    /// [`ClientConn::body_direct_room`]): its size line is queued, and `body_direct_room` is `len` until
    /// [`ClientConn::advance_body`] has counted them; the chunk's CRLF is queued after the last byte (see
    /// [`ClientConn::body_direct_suffix`]). Returns false, doing nothing, unless a chunked body is in
    /// progress between chunks (and `len` is not 0, which would end the body).
    pub fn begin_chunk(&mut self, len: usize) -> Result<bool, UsageError> {
        self.begin_direct_chunk(len, false)
    }

    /// Like [`ClientConn::begin_chunk`] for the body's final chunk: after its data the last chunk is
    /// queued too, and the body is complete (no [`ClientConn::finish_body`] needed), so a driver that
    /// knows the stream has ended sends the data and the end of the body in one write.
    pub fn begin_last_chunk(&mut self, len: usize) -> Result<bool, UsageError> {
        self.begin_direct_chunk(len, true)
    }

    fn begin_direct_chunk(&mut self, len: usize, last: bool) -> Result<bool, UsageError> {
        self.check_command()?;
        if len == 0 || self.failure.is_some() || !matches!(self.send, Send::Body(BodyProgress::Chunked)) {
            return Ok(false);
        }
        encode::encode_chunk_size(&mut self.transmit, len);
        self.send = Send::Body(BodyProgress::ChunkData { left: len as u64, last });
        Ok(true)
    }

    /// `n` of the `left` bytes of the current direct chunk went out (or were queued).
    fn chunk_data_sent(&mut self, left: u64, last: bool, n: usize) {
        let left = left - n as u64;
        if left > 0 {
            self.send = Send::Body(BodyProgress::ChunkData { left, last });
        } else if last {
            self.transmit.extend_from_slice(encode::FINAL_CHUNK_END);
            self.send = Send::Done;
        } else {
            self.transmit.extend_from_slice(encode::CHUNK_END);
            self.send = Send::Body(BodyProgress::Chunked);
        }
    }

    /// The bytes the core queues once the last of the [`ClientConn::body_direct_room`] bytes is counted:
    /// the chunk's CRLF (and the end of the body after [`ClientConn::begin_last_chunk`]); empty for a
    /// `Content-Length` body. A driver writing all of those bytes may put these right behind them in the
    /// same vectored write: [`ClientConn::advance_vectored`] counts them.
    pub fn body_direct_suffix(&self) -> &'static [u8] {
        match self.send {
            Send::Body(BodyProgress::ChunkData { last: false, .. }) => encode::CHUNK_END,
            Send::Body(BodyProgress::ChunkData { last: true, .. }) => encode::FINAL_CHUNK_END,
            _ => &[],
        }
    }

    /// How many body bytes the driver may write itself, straight from its own buffer and right after the
    /// bytes of [`ClientConn::poll_transmit`] (one vectored write, no copy into the transmit buffer): what
    /// is left of a `Content-Length` body, or of the chunk started by [`ClientConn::begin_chunk`]. Zero
    /// whenever [`ClientConn::wants_body`] is false, and for a chunked body between chunks.
    pub fn body_direct_room(&self) -> u64 {
        match self.send {
            Send::Body(BodyProgress::Known { declared, sent }) if self.failure.is_none() => declared - sent,
            Send::Body(BodyProgress::ChunkData { left, .. }) if self.failure.is_none() => left,
            _ => 0,
        }
    }

    /// `written` body bytes the driver wrote itself went out, after everything `poll_transmit` held (see
    /// [`ClientConn::body_direct_room`] and [`ClientConn::begin_chunk`]). Of one vectored write, first [`ClientConn::advance_transmit`] the
    /// transmit bytes, then advance the body by the rest.
    pub fn advance_body(&mut self, written: usize) -> Result<(), UsageError> {
        self.check_command()?;
        let (declared, sent) = match self.send {
            _ if written == 0 => return Ok(()),
            // The request was cut short by a final response: the bytes went out, the connection closes.
            Send::Abandoned => return Ok(()),
            Send::Body(BodyProgress::Known { declared, sent }) if self.transmit.is_empty() => (declared, sent),
            Send::Body(BodyProgress::ChunkData { left, last }) if self.transmit.is_empty() => {
                if written as u64 > left {
                    return Err(self.fail_usage(UsageError::WrongState("advance_body past the end of the chunk")));
                }
                self.chunk_data_sent(left, last, written);
                return Ok(());
            }
            _ => {
                return Err(self.fail_usage(UsageError::WrongState(
                    "advance_body needs a Content-Length body in progress and poll_transmit written out",
                )))
            }
        };
        let sent = sent.saturating_add(written as u64);
        if sent > declared {
            return Err(self.fail_usage(UsageError::BodyLengthMismatch { declared, sent }));
        }
        self.send = Send::Body(BodyProgress::Known { declared, sent });
        Ok(())
    }

    /// `written` bytes of one vectored write went out: what [`ClientConn::poll_transmit`] held, then body
    /// bytes from the driver's own buffer (see [`ClientConn::body_direct_room`]), then possibly some of
    /// [`ClientConn::body_direct_suffix`]. Advances the transmit buffer first, the body by the rest and the
    /// suffix (queued once the body bytes are counted) by what is left; returns how many of the driver's
    /// body bytes went out.
    pub fn advance_vectored(&mut self, written: usize) -> Result<usize, UsageError> {
        let from_queue = written.min(self.transmit.len());
        self.advance_transmit(from_queue);
        let rest = written - from_queue;
        let body = match self.send {
            Send::Body(BodyProgress::ChunkData { left, .. }) => rest.min(usize::try_from(left).unwrap_or(usize::MAX)),
            _ => rest,
        };
        self.advance_body(body)?;
        let suffix = rest - body;
        if suffix > self.transmit.len() {
            return Err(self.fail_usage(UsageError::WrongState("advance_vectored past the body's direct bytes")));
        }
        self.advance_transmit(suffix);
        Ok(body)
    }

    /// Ends the request body (writes the last chunk when chunked; checks the length when known).
    pub fn finish_body(&mut self) -> Result<(), UsageError> {
        self.check_command()?;
        match self.send {
            Send::Done | Send::Abandoned => Ok(()),
            Send::Body(BodyProgress::Known { declared, sent }) if sent != declared => {
                Err(self.fail_usage(UsageError::BodyLengthMismatch { declared, sent }))
            }
            Send::Body(BodyProgress::ChunkData { .. }) => {
                Err(self.fail_usage(UsageError::WrongState("finish_body before the chunk's data was written")))
            }
            Send::Body(progress) => {
                if let BodyProgress::Chunked = progress {
                    encode::encode_last_chunk(&mut self.transmit);
                }
                self.send = Send::Done;
                Ok(())
            }
            Send::WaitContinue(_) => {
                Err(self.fail_usage(UsageError::WrongState("finish_body while waiting for 100 Continue")))
            }
            Send::Idle => Err(self.fail_usage(UsageError::WrongState("finish_body without a request"))),
        }
    }

    /// Bytes to write to the socket, if any.
    #[must_use]
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        // A failed connection is abandoned: a half-written request must not be completed.
        if self.failure.is_some() || self.transmit.is_empty() {
            None
        } else {
            Some(&self.transmit)
        }
    }

    /// `written` bytes of [`ClientConn::poll_transmit`] went out.
    pub fn advance_transmit(&mut self, written: usize) {
        debug_assert!(written <= self.transmit.len(), "advance_transmit past poll_transmit");
        self.transmit.advance(written.min(self.transmit.len()));
    }

    /// The next response event decoded from the receive buffer, `Ok(None)` when more input is needed.
    pub fn poll_event(&mut self) -> Result<Option<Event>, ProtoError> {
        if let Some(failure) = &self.failure {
            return failed_poll(failure);
        }
        // Nothing arrived since the last look found nothing to decode: the answer is the same (every
        // decoder here is pure over the buffer), so it is not worked out again. A driver polls once
        // before its first read of every response.
        if self.wants_read() {
            return Ok(None);
        }
        match self.step() {
            Ok(Some(event)) => {
                self.stalled_at = None;
                Ok(Some(event))
            }
            Ok(None) => {
                self.stalled_at = Some(self.recv.len());
                Ok(None)
            }
            Err(e) => Err(self.fail_proto(e)),
        }
    }

    #[cold]
    #[inline(never)]
    fn fail_proto(&mut self, e: ProtoError) -> ProtoError {
        self.failure = Some(Failure::Proto(e.clone()));
        e
    }

    /// The whole body of the current response when all of it has arrived with a `Content-Length` (the
    /// usual small response): the same as draining [`poll_event`](Self::poll_event) through `Data` and
    /// `End`, in one call. The exchange has then ended (`End` is not reported again). `None` for other
    /// framings, while bytes are missing, or outside a body; nothing changes then.
    pub fn take_whole_body(&mut self) -> Option<Bytes> {
        if self.failure.is_some() {
            return None;
        }
        let Recv::Body(decoder) = &mut self.recv_state else { return None };
        let body = decoder.take_whole(&mut self.recv)?;
        self.recv_state = Recv::Done;
        self.stalled_at = None;
        Some(body)
    }

    /// Resets for the next request after [`Event::End`] when `close_reason()` is `None`.
    pub fn start_next_cycle(&mut self) -> Result<(), UsageError> {
        self.check_command()?;
        if !matches!(self.recv_state, Recv::Done) || self.close_reason().is_some() {
            return Err(self.fail_usage(UsageError::WrongState(
                "start_next_cycle is only allowed after End with close_reason() == None",
            )));
        }
        self.send = Send::Idle;
        self.recv_state = Recv::Idle;
        self.request = RequestInfo::default();
        self.close = None;
        self.started = false;
        self.head_used = 0;
        self.head_reader = HeadReader::default();
        self.stalled_at = None;
        self.large_reads = std::mem::take(&mut self.read_in_body);
        // An idle pooled connection should not pin a large body-sized buffer.
        if self.recv.is_empty() && self.recv.capacity() > 2 * READ_RESERVE {
            self.recv = BytesMut::new();
        }
        Ok(())
    }

    /// One step of the response side.
    fn step(&mut self) -> Result<Option<Event>, ProtoError> {
        match &mut self.recv_state {
            Recv::Idle | Recv::Done | Recv::Upgraded => Ok(None),
            Recv::Head => self.step_head(),
            Recv::Upgrading => {
                self.recv_state = Recv::Upgraded;
                Ok(Some(Event::Upgraded { leftover: self.recv.split().freeze() }))
            }
            Recv::Body(decoder) => {
                let trailer_budget = self.limits.max_head_size.saturating_sub(self.head_used);
                match decoder.decode(&mut self.recv, &self.limits, trailer_budget, self.eof)? {
                    None => Ok(None),
                    Some(BodyEvent::Data(data)) => Ok(Some(Event::Data(data))),
                    Some(BodyEvent::Trailers(trailers)) => Ok(Some(Event::Trailers(trailers))),
                    Some(BodyEvent::End) => {
                        self.recv_state = Recv::Done;
                        Ok(Some(Event::End))
                    }
                }
            }
        }
    }

    fn step_head(&mut self) -> Result<Option<Event>, ProtoError> {
        self.started |= !self.recv.is_empty();
        let budget = self.limits.max_head_size.saturating_sub(self.head_used);
        let Some((head, len)) = self.head_reader.read(&mut self.recv, budget, &self.limits, self.eof)? else {
            return Ok(None);
        };
        self.head_used = self.head_used.saturating_add(len);

        if head.status.is_informational() && head.status != StatusCode::SWITCHING_PROTOCOLS {
            if head.status == StatusCode::CONTINUE {
                self.handle_continue_timeout();
            }
            return Ok(Some(Event::Informational(head)));
        }

        let framing = decode::response_framing(&head, &self.request, &self.limits)?;
        if self.body_pending() {
            // RFC 9110 §10.1.1: the final answer came first; the server will not read the rest of the body.
            self.send = Send::Abandoned;
            self.note_close(CloseReason::RequestBodyUnsent);
        }
        if head.headers.known_has_token(known::CONNECTION, "close") {
            self.note_close(CloseReason::ResponseClose);
        } else if head.version == Version::HTTP_10 && !head.headers.known_has_token(known::CONNECTION, "keep-alive") {
            self.note_close(CloseReason::Http10);
        }
        match framing {
            Framing::Tunnel => self.recv_state = Recv::Upgrading,
            Framing::Body(decoder, reason) => {
                if let Some(reason) = reason {
                    self.note_close(reason);
                }
                self.recv_state = Recv::Body(decoder);
            }
        }
        Ok(Some(Event::Head(head)))
    }

    /// True while the request body is neither complete nor abandoned.
    fn body_pending(&self) -> bool {
        match self.send {
            Send::WaitContinue(progress) | Send::Body(progress) => !progress.is_complete(),
            Send::Idle | Send::Done | Send::Abandoned => false,
        }
    }

    /// Records why the connection must close after this exchange; the first reason found is kept.
    fn note_close(&mut self, reason: CloseReason) {
        self.close.get_or_insert(reason);
    }

    // The failure paths are cold and out of line, so the commands keep only a test on their hot lines.
    #[inline]
    fn check_command(&self) -> Result<(), UsageError> {
        match &self.failure {
            None => Ok(()),
            Some(failure) => Err(command_refused(failure)),
        }
    }

    #[cold]
    #[inline(never)]
    fn fail_usage(&mut self, e: UsageError) -> UsageError {
        self.failure = Some(Failure::Usage(e.clone()));
        e
    }
}

#[cold]
#[inline(never)]
fn command_refused(failure: &Failure) -> UsageError {
    match failure {
        Failure::Usage(e) => e.clone(),
        Failure::Proto(_) => UsageError::WrongState("the connection failed; poll_event says why"),
    }
}

/// What `poll_event` answers after a failure: the peer's error again, or nothing after a usage error.
#[cold]
#[inline(never)]
fn failed_poll(failure: &Failure) -> Result<Option<Event>, ProtoError> {
    match failure {
        Failure::Proto(e) => Err(e.clone()),
        Failure::Usage(_) => Ok(None),
    }
}
