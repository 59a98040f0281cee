//! The WebSocket connection state machine. Every state transition of a [`WsConn`] is in this file: the
//! phase of the close handshake (`Phase`), the frame reader (`Recv`) and what may be queued when. Frame
//! coding, UTF-8, close payloads, compression and the outgoing queue (`frame.rs`, `utf8.rs`, `close.rs`,
//! `deflate.rs`, `outbox.rs`) are helpers that report what they found or do what they are told.

use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};

use super::close::{self, close_payload, parse_close};
use super::deflate::{InflateError, PerMessageDeflate};
use super::error::{WsError, WsErrorKind, WsUsageError};
use super::frame::{self, Header, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use super::outbox::Outbox;
use super::utf8::Utf8Validator;
use super::{Negotiated, WsConfig, WsEvent, WsState};

/// Most spare capacity [`WsConn::recv_buf`] reserves for one read outside large frames.
const READ_RESERVE: usize = 8 * 1024;

/// The first reads get this much room; it doubles (up to `READ_RESERVE`) each time a read fills it. An
/// idle connection or one exchanging small messages then holds 1 KiB, not 8.
const MIN_READ_RESERVE: usize = 1024;

/// Most room reserved for one read while a large frame is arriving: big enough that a 64 KiB message
/// comes in one or two reads, small enough that a frame announced but never sent costs little.
const FRAME_READ_RESERVE: usize = 256 * 1024;

/// Where the close handshake stands (the public [`WsState`] mirrors it).
#[derive(Debug)]
enum Phase {
    Open,
    /// Our Close is queued; `None` deadline: the timeout does not fit in an `Instant`.
    CloseSent {
        deadline: Option<Instant>,
    },
    /// The peer's Close arrived; ours (echo or own) is queued or being written.
    CloseReceived,
    /// Done; `reported` once `WsEvent::Closed` went out.
    Closed {
        reported: bool,
    },
    Failed(WsError),
}

/// The frame reader.
#[derive(Debug, Clone, Copy)]
enum Recv {
    /// Expecting a frame header.
    Header,
    /// Streaming the payload of a data frame into the current message.
    Data { remaining: u64, fin: bool },
    /// Waiting for the whole payload of a control frame (at most 125 bytes).
    Control { opcode: OpCode, len: usize },
    /// Nothing more is read (after the peer's Close, or after a failure).
    Done,
}

/// A message being reassembled.
#[derive(Debug)]
struct Message {
    text: bool,
    compressed: bool,
    buf: Vec<u8>,
    utf8: Utf8Validator,
    /// Bytes of a single-frame text message already validated where they lie in the receive buffer.
    checked: usize,
}

/// One WebSocket client connection after the handshake, sans I/O. See the [module docs](super) for the
/// calling contract.
#[derive(Debug)]
pub struct WsConn {
    config: WsConfig,
    negotiated: Negotiated,
    deflate: Option<PerMessageDeflate>,
    phase: Phase,
    recv: BytesMut,
    reader: Recv,
    message: Option<Message>,
    eof: bool,
    /// Receive-buffer length at which reading last stalled for want of bytes.
    stalled_at: Option<usize>,
    /// Room reserved for the next read outside large frames (`MIN_READ_RESERVE..=READ_RESERVE`).
    read_reserve: usize,
    /// The receive buffer's length if the last read filled all the room it was given.
    read_end: usize,
    out: Outbox,
}

impl WsConn {
    /// The connection after a successful handshake. `leftover` is what arrived after the 101 head
    /// (`h1::Event::Upgraded`). The driver must have seeded `config.mask_seed` from the OS RNG.
    pub fn new(negotiated: Negotiated, config: &WsConfig, leftover: &[u8]) -> Self {
        let deflate = negotiated.deflate.and_then(PerMessageDeflate::new);
        let mut recv = BytesMut::with_capacity(leftover.len() + MIN_READ_RESERVE);
        recv.extend_from_slice(leftover);
        WsConn {
            config: config.clone(),
            negotiated,
            deflate,
            out: Outbox::new(config.mask_seed, config.max_send_buffer),
            phase: Phase::Open,
            stalled_at: if leftover.is_empty() { Some(0) } else { None },
            read_reserve: MIN_READ_RESERVE,
            read_end: usize::MAX,
            recv,
            reader: Recv::Header,
            message: None,
            eof: false,
        }
    }

    // ---- getters -------------------------------------------------------------------------------------

    /// The subprotocol and extension parameters in force.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// Where the close handshake stands.
    #[inline]
    pub fn state(&self) -> WsState {
        match self.phase {
            Phase::Open => WsState::Open,
            Phase::CloseSent { .. } => WsState::CloseSent,
            Phase::CloseReceived => WsState::CloseReceived,
            Phase::Closed { .. } => WsState::Closed,
            Phase::Failed(_) => WsState::Failed,
        }
    }

    /// True while the core needs bytes from the peer to make progress (call `poll_event` first: bytes
    /// already in the buffer may be decodable).
    #[inline]
    pub fn wants_read(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::CloseSent { .. })
            && !self.eof
            && !matches!(self.reader, Recv::Done)
            && self.stalled_at == Some(self.recv.len())
    }

    /// Outgoing bytes not yet written: the transmit buffer plus queued frames (for backpressure).
    #[inline]
    pub fn transmit_len(&self) -> usize {
        self.out.len()
    }

    // ---- inputs --------------------------------------------------------------------------------------

    /// The receive buffer: the driver appends bytes read from the socket, then calls `poll_event`.
    /// The core has reserved room for a read: between frames at least 512 bytes, growing to 4 KiB after
    /// reads that filled their room; up to 256 KiB while the payload of a large data frame is arriving.
    #[inline]
    pub fn recv_buf(&mut self) -> &mut BytesMut {
        let (want, enough) = match self.reader {
            Recv::Data { remaining, .. } => {
                let missing = usize::try_from(remaining).unwrap_or(usize::MAX).saturating_sub(self.recv.len());
                // Room beyond the frame's end: a read that brings the rest of the frame then leaves room
                // unfilled, which tells a readiness-based driver (tokio) that the socket is drained,
                // instead of its next read finding nothing.
                let want = missing.saturating_add(MIN_READ_RESERVE).clamp(self.read_reserve, FRAME_READ_RESERVE);
                (want, want)
            }
            // Between frames half the room is enough to skip reserving: `reserve` moves the unread bytes
            // back to the start of the buffer, which then happens once per many small messages rather
            // than on every read.
            _ => (self.read_reserve, self.read_reserve / 2),
        };
        if self.recv.capacity() - self.recv.len() < enough {
            self.recv.reserve(want);
        }
        self.read_end = self.recv.capacity();
        &mut self.recv
    }

    /// The peer closed its sending side. What that means is decided by `poll_event`, after the bytes
    /// already received are decoded.
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }

    /// Time passed: after the close timeout the connection counts as closed (`Closed` is reported).
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Phase::CloseSent { deadline: Some(deadline) } = self.phase {
            if now >= deadline {
                self.enter_closed();
            }
        }
    }

    // ---- commands ------------------------------------------------------------------------------------

    /// Queues a text message (compressed and fragmented as configured).
    #[inline]
    pub fn send_text(&mut self, text: &str) -> Result<(), WsUsageError> {
        self.send_message(OpCode::Text, text.as_bytes())
    }

    /// Queues a binary message (compressed and fragmented as configured).
    #[inline]
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), WsUsageError> {
        self.send_message(OpCode::Binary, data)
    }

    /// Queues a Ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), WsUsageError> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited Pong (payload at most 125 bytes); replies to Pings are automatic.
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), WsUsageError> {
        self.send_control(OpCode::Pong, payload)
    }

    /// Starts the close handshake: queues a Close with `code` (see
    /// [`is_valid_close_code`](super::is_valid_close_code)) and `reason` (at most 123 bytes) after the
    /// queued messages, and waits for the peer's Close until `now + close_timeout`. When a close is already
    /// under way (ours, or the peer's echoed by the core) this does nothing.
    pub fn close(&mut self, code: u16, reason: &str, now: Instant) -> Result<(), WsUsageError> {
        if !close::is_valid_close_code(code) {
            return Err(WsUsageError::InvalidCloseCode(code));
        }
        if reason.len() > close::MAX_REASON {
            return Err(WsUsageError::ReasonTooLong(reason.len()));
        }
        match self.phase {
            Phase::Failed(_) => Err(WsUsageError::Failed),
            Phase::CloseSent { .. } | Phase::CloseReceived | Phase::Closed { .. } => Ok(()),
            Phase::Open => {
                self.out.set_close(&close_payload(Some(code), reason));
                self.phase = Phase::CloseSent { deadline: now.checked_add(self.config.close_timeout) };
                Ok(())
            }
        }
    }

    // ---- outputs -------------------------------------------------------------------------------------

    /// Bytes to write to the socket, if any. Also after a [`WsError`]: the Close frame that reports it.
    #[must_use]
    #[inline]
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        // Emptiness first: most calls find nothing, and then no slice is built (nor bounds checked).
        self.out.has_transmit().then(|| self.out.transmit())
    }

    /// `written` bytes of [`WsConn::poll_transmit`] went out.
    #[inline]
    pub fn advance_transmit(&mut self, written: usize) {
        debug_assert!(written <= self.out.transmit().len(), "advance_transmit past poll_transmit");
        self.out.advance(written);
    }

    /// When the driver must call [`WsConn::handle_timeout`] at the latest (the close timeout).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::CloseSent { deadline } => deadline,
            _ => None,
        }
    }

    /// The next event, `Ok(None)` when more input (or writing out) is needed. Errors stick.
    #[must_use = "events and errors must be handled"]
    pub fn poll_event(&mut self) -> Result<Option<WsEvent>, WsError> {
        if self.recv.len() == self.read_end && self.read_reserve < READ_RESERVE {
            // The last read filled its room: the peer sends more than that at a time.
            self.read_reserve *= 2;
        }
        self.read_end = usize::MAX;
        // The common cases stay small and inline: a whole small frame, or nothing to decode. Everything
        // else, every error included, goes the general way, out of line.
        if matches!(self.phase, Phase::Open | Phase::CloseSent { .. }) && matches!(self.reader, Recv::Header) {
            if let Some(event) = self.whole_frame() {
                // Nothing left to decode (the usual case): `wants_read` already says so, and a driver
                // can go straight to its read next time.
                self.stalled_at = self.recv.is_empty().then_some(0);
                return Ok(Some(event));
            }
            if self.recv.is_empty() && !self.eof {
                self.stalled_at = Some(0);
                return Ok(None);
            }
        }
        self.next_event()
    }

    /// `poll_event` beyond its two common cases.
    #[inline(never)]
    fn next_event(&mut self) -> Result<Option<WsEvent>, WsError> {
        match &mut self.phase {
            Phase::Failed(e) => return Err(e.clone()),
            Phase::Closed { reported } => {
                return Ok((!std::mem::replace(reported, true)).then_some(WsEvent::Closed));
            }
            Phase::CloseReceived if self.out.close_written() => {
                self.phase = Phase::Closed { reported: true };
                return Ok(Some(WsEvent::Closed));
            }
            _ => {}
        }
        match self.read_frames() {
            Ok(Some(event)) => {
                self.stalled_at = None;
                Ok(Some(event))
            }
            Ok(None) => {
                self.stalled_at = Some(self.recv.len());
                if self.eof && !matches!(self.reader, Recv::Done) {
                    return self.on_eof();
                }
                Ok(None)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    // ---- reading -------------------------------------------------------------------------------------

    /// Decodes frames until one yields an event or more bytes are needed.
    fn read_frames(&mut self) -> Result<Option<WsEvent>, WsError> {
        loop {
            match self.reader {
                Recv::Done => return Ok(None),
                Recv::Header => {
                    let Some(header) = frame::decode_server_header(&self.recv).map_err(WsError::protocol)? else {
                        return Ok(None);
                    };
                    self.start_frame(&header)?;
                    self.recv.advance(header.header_len);
                }
                Recv::Control { opcode, len } => {
                    if self.recv.len() < len {
                        return Ok(None);
                    }
                    let payload = self.recv.split_to(len).freeze();
                    self.reader = Recv::Header;
                    return self.on_control(opcode, payload).map(Some);
                }
                Recv::Data { remaining, fin } => {
                    if let Some(event) = self.on_data(remaining, fin)? {
                        return Ok(Some(event));
                    }
                    if matches!(self.reader, Recv::Data { .. }) {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The common case in one step: an unfragmented, uncompressed text or binary frame with a 7- or 16-bit
    /// length, whole in the receive buffer, outside a fragmented message and within the limits. `None`
    /// for anything else (including invalid UTF-8): the general path then decodes it and reports any error.
    #[inline]
    fn whole_frame(&mut self) -> Option<WsEvent> {
        let (&b0, &b1) = (self.recv.first()?, self.recv.get(1)?);
        // FIN, no RSV bits, Text (0x1) or Binary (0x2); no mask bit (the general path rejects one).
        if (b0 != 0x81 && b0 != 0x82) || b1 > 126 || self.message.is_some() {
            return None;
        }
        let (len, head) = if b1 == 126 {
            let ext = self.recv.get(2..4)?;
            (usize::from(u16::from_be_bytes([ext[0], ext[1]])), 4)
        } else {
            (usize::from(b1), 2)
        };
        let end = head + len;
        if self.recv.len() < end || len > self.config.max_frame_size || len > self.config.max_message_size {
            return None;
        }
        let event = if b0 == 0x81 {
            // Copied first, then validated where the allocator put it (aligned): `str::from_utf8` checks
            // aligned ASCII a word at a time but walks unaligned bytes one by one, and the payload follows
            // a 2-byte header (about 45 instructions for 16 bytes instead of 120).
            let text = String::from_utf8(self.recv[head..end].to_vec()).ok()?;
            if end == self.recv.len() {
                // The usual case, nothing after the frame: the buffer restarts where it began.
                self.recv.clear();
            } else {
                self.recv.advance(end);
            }
            WsEvent::Text(text)
        } else {
            self.recv.advance(head);
            WsEvent::Binary(self.recv.split_to(len).freeze())
        };
        Some(event)
    }

    /// Checks a header against the message state and the limits, and sets up the reader for its payload.
    fn start_frame(&mut self, h: &Header) -> Result<(), WsError> {
        if h.opcode.is_control() {
            if h.rsv1 {
                return Err(WsError::protocol("RSV1 set on a control frame"));
            }
            // decode_server_header guarantees len <= 125.
            self.reader = Recv::Control { opcode: h.opcode, len: h.len as usize };
            return Ok(());
        }
        if h.len > self.config.max_frame_size as u64 {
            return Err(WsError::too_large("frame larger than max_frame_size"));
        }
        match (h.opcode, &self.message) {
            (OpCode::Continuation, None) => return Err(WsError::protocol("continuation frame without a message")),
            (OpCode::Continuation, Some(_)) if h.rsv1 => {
                return Err(WsError::protocol("RSV1 set on a continuation frame"));
            }
            (OpCode::Continuation, Some(_)) => {}
            (_, Some(_)) => return Err(WsError::protocol("new data frame inside a fragmented message")),
            (opcode, None) => {
                if h.rsv1 && self.deflate.is_none() {
                    return Err(WsError::protocol("RSV1 set without a negotiated extension"));
                }
                self.message = Some(Message {
                    text: opcode == OpCode::Text,
                    compressed: h.rsv1,
                    buf: Vec::new(),
                    utf8: Utf8Validator::default(),
                    checked: 0,
                });
            }
        }
        if let Some(msg) = &self.message {
            if !msg.compressed && msg.buf.len() as u64 + h.len > self.config.max_message_size as u64 {
                return Err(WsError::too_large("message larger than max_message_size"));
            }
        }
        self.reader = Recv::Data { remaining: h.len, fin: h.fin };
        Ok(())
    }

    /// Moves the available payload bytes of a data frame into the message; completes the message after
    /// its final frame. Leaves the reader in `Data` when more bytes are needed.
    fn on_data(&mut self, remaining: u64, fin: bool) -> Result<Option<WsEvent>, WsError> {
        let Some(msg) = self.message.as_mut() else {
            return Err(WsError::protocol("data frame without a message"));
        };
        let avail = remaining.min(self.recv.len() as u64) as usize;
        if fin && !msg.compressed && msg.buf.is_empty() {
            // A whole uncompressed message in one frame: wait until all of it is in the receive buffer
            // (max_frame_size bounds it, as it bounds a reassembled message), then hand it out from
            // there: binary as the received bytes, without a copy; text with one copy, into its String.
            if (avail as u64) < remaining {
                if msg.text && avail > msg.checked {
                    // Still fail fast: invalid UTF-8 ends the connection before the rest arrives.
                    msg.utf8.feed(&self.recv[msg.checked..avail]).map_err(|_| not_utf8())?;
                    msg.checked = avail;
                }
                return Ok(None);
            }
            let text = msg.text;
            self.message = None;
            self.reader = Recv::Header;
            if !text {
                return Ok(Some(WsEvent::Binary(self.recv.split_to(avail).freeze())));
            }
            // Validated after the copy, where it is aligned (see `whole_frame`).
            let text = match String::from_utf8(self.recv[..avail].to_vec()) {
                Ok(text) => text,
                Err(e) if e.utf8_error().error_len().is_none() => {
                    return Err(WsError::invalid_payload("text ends inside a UTF-8 sequence"))
                }
                Err(_) => return Err(not_utf8()),
            };
            self.recv.advance(avail);
            return Ok(Some(WsEvent::Text(text)));
        }
        if avail > 0 {
            let input = &self.recv[..avail];
            let start = msg.buf.len();
            if msg.compressed {
                let deflate = self.deflate.as_mut().ok_or(WsError::protocol("compressed frame"))?;
                deflate.inflate(input, &mut msg.buf, self.config.max_message_size).map_err(inflate_error)?;
            } else {
                msg.buf.extend_from_slice(input);
            }
            if msg.text {
                msg.utf8.feed(&msg.buf[start..]).map_err(|_| WsError::invalid_payload("text is not UTF-8"))?;
            }
            self.recv.advance(avail);
        }
        let remaining = remaining - avail as u64;
        if remaining > 0 {
            self.reader = Recv::Data { remaining, fin };
            return Ok(None);
        }
        self.reader = Recv::Header;
        if !fin {
            return Ok(None);
        }
        let Some(mut msg) = self.message.take() else { return Ok(None) };
        if msg.compressed {
            let start = msg.buf.len();
            let deflate = self.deflate.as_mut().ok_or(WsError::protocol("compressed frame"))?;
            deflate.finish_message(&mut msg.buf, self.config.max_message_size).map_err(inflate_error)?;
            if msg.text {
                msg.utf8.feed(&msg.buf[start..]).map_err(|_| WsError::invalid_payload("text is not UTF-8"))?;
            }
        }
        if !msg.text {
            return Ok(Some(WsEvent::Binary(Bytes::from(msg.buf))));
        }
        msg.utf8.finish().map_err(|_| WsError::invalid_payload("text ends inside a UTF-8 sequence"))?;
        let text = String::from_utf8(msg.buf).map_err(|_| WsError::invalid_payload("text is not UTF-8"))?;
        Ok(Some(WsEvent::Text(text)))
    }

    fn on_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<WsEvent, WsError> {
        match opcode {
            OpCode::Ping => {
                // Only the latest Ping is answered when several arrive before the reply goes out.
                self.out.set_pong(payload.clone());
                Ok(WsEvent::Ping(payload))
            }
            OpCode::Pong => Ok(WsEvent::Pong(payload)),
            _ => {
                let (code, reason) = parse_close(&payload)?;
                // Bytes after a Close are not part of the conversation.
                self.reader = Recv::Done;
                self.recv.clear();
                self.message = None;
                if matches!(self.phase, Phase::Open) {
                    self.out.set_close(&close_payload(code, ""));
                }
                self.phase = Phase::CloseReceived;
                Ok(WsEvent::Close { code, reason })
            }
        }
    }

    /// EOF with every complete frame decoded.
    fn on_eof(&mut self) -> Result<Option<WsEvent>, WsError> {
        match self.phase {
            Phase::Open => {
                Err(self.fail(WsError::new(WsErrorKind::AbnormalClosure, "connection closed without a Close frame")))
            }
            Phase::CloseSent { .. } => {
                self.enter_closed();
                self.poll_event()
            }
            _ => Ok(None),
        }
    }

    // ---- writing -------------------------------------------------------------------------------------

    #[inline]
    fn send_message(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), WsUsageError> {
        // The common case inline: open, no compression, one small frame into an empty queue.
        if matches!(self.phase, Phase::Open)
            && self.deflate.is_none()
            && payload.len() <= self.config.max_frame_size
            && self.out.push_small(opcode, payload)
        {
            return Ok(());
        }
        self.send_message_general(opcode, payload)
    }

    #[inline(never)]
    fn send_message_general(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), WsUsageError> {
        self.check_open()?;
        self.check_room(payload.len())?;
        let compressed = match &mut self.deflate {
            // A threshold of 0 means every message is compressed, even one that would not shrink.
            Some(deflate) if payload.len() >= self.config.compression_threshold => {
                deflate.compress(payload, self.config.compression_threshold == 0)
            }
            _ => None,
        };
        let body = compressed.as_deref().unwrap_or(payload);
        self.out.push_message(opcode, body, compressed.is_some(), self.config.max_frame_size);
        Ok(())
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), WsUsageError> {
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(WsUsageError::ControlTooLong(payload.len()));
        }
        self.check_open()?;
        self.check_room(payload.len())?;
        self.out.push_control(opcode, payload);
        Ok(())
    }

    fn check_open(&self) -> Result<(), WsUsageError> {
        match self.phase {
            Phase::Open => Ok(()),
            Phase::Failed(_) => Err(WsUsageError::Failed),
            _ => Err(WsUsageError::NotOpen),
        }
    }

    /// The backpressure rule: a message always fits into an empty queue; otherwise the queue may not
    /// grow past `max_send_buffer`. The message's size on the wire is reckoned before compression (which
    /// must not run for a refused message: it would move the compressor's window) with one header per
    /// fragment.
    fn check_room(&self, payload_len: usize) -> Result<(), WsUsageError> {
        let queued = self.transmit_len();
        if queued == 0 {
            return Ok(());
        }
        let frames = payload_len.div_ceil(self.config.max_frame_size.max(1)).max(1);
        let wire = payload_len.saturating_add(frames.saturating_mul(MAX_HEADER_LEN));
        if queued.saturating_add(wire) > self.config.max_send_buffer {
            return Err(WsUsageError::BufferFull);
        }
        Ok(())
    }

    // ---- failure and the end -------------------------------------------------------------------------

    /// The peer broke the protocol: stop reading, drop what is queued (the transmit buffer holds whole
    /// frames and is kept), and queue a Close with the error's code unless ours is already going out.
    fn fail(&mut self, err: WsError) -> WsError {
        self.reader = Recv::Done;
        self.message = None;
        self.out.drop_queued();
        match err.close_code() {
            Some(code) => self.out.set_close(&close_payload(Some(code), "")),
            // The peer is gone: nothing more goes out.
            None => self.out.stop(),
        }
        self.phase = Phase::Failed(err.clone());
        err
    }

    /// The close handshake is over without the peer's Close (timeout, or EOF after our Close): nothing
    /// more is read or written.
    fn enter_closed(&mut self) {
        self.reader = Recv::Done;
        self.message = None;
        self.out.stop();
        self.phase = Phase::Closed { reported: false };
    }
}

fn not_utf8() -> WsError {
    WsError::invalid_payload("text is not UTF-8")
}

fn inflate_error(e: InflateError) -> WsError {
    match e {
        InflateError::TooLarge => WsError::too_large("inflated message larger than max_message_size"),
        InflateError::Corrupt => WsError::invalid_payload("compressed data does not inflate"),
    }
}
