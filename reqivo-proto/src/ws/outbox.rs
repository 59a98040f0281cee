//! The outgoing side of a connection: encoded frames waiting for the socket, in the order the wire needs.
//! No state transitions live here; `conn.rs` decides what may be queued when.
//!
//! Frames are encoded (and masked) when queued, except the automatic Pong, which is encoded when it moves
//! into the transmit buffer (so a newer Ping can still replace it). The transmit buffer holds whole frames
//! (and the unwritten tail of one); `refill` coalesces queued frames into it up to `TRANSMIT_CHUNK`:
//! the automatic Pong first, then the application's Pings/Pongs, then data frames, and the Close last,
//! after every data frame. Nothing follows the Close.

use std::collections::VecDeque;

use bytes::Bytes;

use super::frame::{
    client_frame_len, encode_client_frame, encode_small_frame, MaskRng, OpCode, MAX_HEADER_LEN, MAX_SMALL_PAYLOAD,
    SMALL_HEADER_LEN,
};

/// Queued frames are coalesced into the transmit buffer up to this size; control frames wait behind at
/// most this much.
const TRANSMIT_CHUNK: usize = 64 * 1024;

/// An emptied transmit buffer keeps its allocation up to this size (enough for a 64 KiB message).
const KEEP_TRANSMIT: usize = TRANSMIT_CHUNK + 1024;

#[derive(Debug)]
pub(crate) struct Outbox {
    rng: MaskRng,
    /// The automatic Pong waits while the transmit buffer holds this many bytes.
    pong_limit: usize,
    /// Bytes for the socket: `buf[head..tail]`. Everything in `buf` stays initialised, so a frame is
    /// encoded (and masked) straight into it in one pass, without zeroing its room first.
    buf: Vec<u8>,
    head: usize,
    tail: usize,
    /// The latest unanswered Ping's payload.
    pong: Option<Bytes>,
    /// The application's Ping/Pong frames.
    control: VecDeque<Vec<u8>>,
    /// Data frames.
    data: VecDeque<Vec<u8>>,
    /// Bytes in `control` and `data`.
    queued: usize,
    /// Our Close, sent after every data frame.
    close: Option<Vec<u8>>,
    /// The Close has moved into `transmit` (or output stopped): nothing more is added.
    sealed: bool,
    /// `transmit` held more than `KEEP_TRANSMIT` bytes since it was last empty.
    oversized: bool,
}

impl Outbox {
    pub(crate) fn new(mask_seed: u64, pong_limit: usize) -> Self {
        Outbox {
            rng: MaskRng::new(mask_seed),
            pong_limit,
            buf: Vec::new(),
            head: 0,
            tail: 0,
            pong: None,
            control: VecDeque::new(),
            data: VecDeque::new(),
            queued: 0,
            close: None,
            sealed: false,
            oversized: false,
        }
    }

    /// The bytes ready for the socket.
    #[inline]
    pub(crate) fn transmit(&self) -> &[u8] {
        &self.buf[self.head..self.tail]
    }

    /// True when `transmit` is not empty.
    #[inline]
    pub(crate) fn has_transmit(&self) -> bool {
        self.tail != self.head
    }

    #[inline]
    fn transmit_len(&self) -> usize {
        self.tail - self.head
    }

    /// `n` bytes of room at the end of the transmit buffer, counted as queued for the socket.
    #[inline]
    fn room(&mut self, n: usize) -> &mut [u8] {
        if self.tail + n > self.buf.len() && self.head > 0 {
            // Move the unwritten bytes to the front rather than grow.
            self.buf.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
        }
        let start = self.tail;
        self.tail += n;
        if self.tail > self.buf.len() {
            self.buf.resize(self.tail, 0);
        }
        self.oversized |= self.tail > KEEP_TRANSMIT;
        &mut self.buf[start..self.tail]
    }

    /// `n` bytes of `transmit` were written.
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        self.head += n.min(self.transmit_len());
        if self.head == self.tail {
            self.head = 0;
            self.tail = 0;
            if self.oversized {
                self.shrink();
            }
        }
        if self.queued > 0 || self.pong.is_some() || self.close.is_some() {
            // Only frames waiting outside the transmit buffer can move in.
            self.refill();
        }
    }

    /// Frames are encoded into the transmit buffer and it is reused; one that grew for a large message is
    /// not kept around.
    #[cold]
    #[inline(never)]
    fn shrink(&mut self) {
        self.buf = Vec::new();
        self.oversized = false;
    }

    /// Every byte not yet written (the waiting Pong counted at its largest).
    pub(crate) fn len(&self) -> usize {
        self.transmit_len()
            + self.queued
            + self.pong.as_ref().map_or(0, |p| p.len() + MAX_HEADER_LEN)
            + self.close.as_ref().map_or(0, |f| f.len())
    }

    /// True once our Close (or nothing at all, after `stop`) is the last thing that goes out, and has.
    pub(crate) fn close_written(&self) -> bool {
        self.sealed && self.head == self.tail
    }

    /// The common case of `push_message`, whole: nothing waiting anywhere (so the backpressure rule has
    /// nothing to check) and a payload that takes the 7-bit length form, encoded straight into the transmit
    /// buffer. `false`: nothing was done, take the general way.
    #[inline]
    pub(crate) fn push_small(&mut self, opcode: OpCode, body: &[u8]) -> bool {
        if body.len() > MAX_SMALL_PAYLOAD
            || self.tail != 0
            || self.queued != 0
            || self.sealed
            || self.pong.is_some()
            || self.close.is_some()
        {
            return false;
        }
        // The transmit buffer is empty (`head <= tail == 0`): the frame goes at its start, and a buffer
        // that held any earlier frame is long enough already.
        let n = body.len() + SMALL_HEADER_LEN;
        if self.buf.len() < n {
            self.grow(n);
        }
        self.tail = n;
        let mask = self.rng.next_mask();
        encode_small_frame(&mut self.buf[..n], opcode, body, mask);
        true
    }

    /// Out of line: the transmit buffer keeps its allocation, so this runs about once per connection.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, n: usize) {
        self.buf.resize(n, 0);
    }

    /// Queues a data message as frames of at most `max_frame` payload bytes; RSV1 on the first frame when
    /// `compressed`.
    pub(crate) fn push_message(&mut self, opcode: OpCode, body: &[u8], compressed: bool, max_frame: usize) {
        let max = max_frame.max(1);
        if body.len() <= max && self.takes_data_now() {
            // The common case, one frame straight into the transmit buffer. `refill` is not needed: it ran
            // after the last change, and a fuller transmit buffer lets nothing new in.
            let mask = self.rng.next_mask();
            encode_client_frame(self.room(client_frame_len(body.len())), true, compressed, opcode, body, mask);
            return;
        }
        let count = body.len().div_ceil(max).max(1);
        for i in 0..count {
            let chunk = &body[(i * max).min(body.len())..((i + 1) * max).min(body.len())];
            let op = if i == 0 { opcode } else { OpCode::Continuation };
            let (fin, rsv1, mask) = (i + 1 == count, i == 0 && compressed, self.rng.next_mask());
            let len = client_frame_len(chunk.len());
            if self.takes_data_now() {
                // What `refill` would do with it at once, without a buffer of its own.
                encode_client_frame(self.room(len), fin, rsv1, op, chunk, mask);
                continue;
            }
            let mut frame = vec![0; len];
            encode_client_frame(&mut frame, fin, rsv1, op, chunk, mask);
            self.queued += frame.len();
            self.data.push_back(frame);
        }
        self.refill();
    }

    /// True when a data frame queued now would move into the transmit buffer straight away: after
    /// `refill`, room left in the transmit buffer means nothing is queued ahead of data (a waiting Pong
    /// waits for the transmit buffer to drain, and data may pass it).
    fn takes_data_now(&self) -> bool {
        !self.sealed && self.transmit_len() < TRANSMIT_CHUNK && self.control.is_empty() && self.data.is_empty()
    }

    /// Queues an application Ping or Pong (payload already checked).
    pub(crate) fn push_control(&mut self, opcode: OpCode, payload: &[u8]) {
        let frame = self.encode_control(opcode, payload);
        self.queued += frame.len();
        self.control.push_back(frame);
        self.refill();
    }

    /// Answers a Ping, replacing a reply that has not moved into the transmit buffer yet.
    pub(crate) fn set_pong(&mut self, payload: Bytes) {
        if !self.sealed {
            self.pong = Some(payload);
            self.refill();
        }
    }

    /// Queues our Close (or replaces one still queued). Ignored once a Close moved into transmit.
    pub(crate) fn set_close(&mut self, payload: &[u8]) {
        if !self.sealed {
            self.close = Some(self.encode_control(OpCode::Close, payload));
            self.refill();
        }
    }

    /// Drops every queued frame; what is in the transmit buffer (whole frames) still goes out.
    pub(crate) fn drop_queued(&mut self) {
        self.pong = None;
        self.control.clear();
        self.data.clear();
        self.queued = 0;
    }

    /// Nothing more goes out at all.
    pub(crate) fn stop(&mut self) {
        self.drop_queued();
        self.head = 0;
        self.tail = 0;
        self.close = None;
        self.sealed = true;
    }

    fn encode_control(&mut self, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0; client_frame_len(payload.len())];
        encode_client_frame(&mut frame, true, false, opcode, payload, self.rng.next_mask());
        frame
    }

    /// Moves queued frames into the transmit buffer. The automatic Pong waits while the transmit buffer
    /// holds `pong_limit` bytes: a peer that sends Pings but does not read cannot make the queue grow.
    fn refill(&mut self) {
        while !self.sealed && self.transmit_len() < TRANSMIT_CHUNK {
            let pong_fits = self.transmit_len() < self.pong_limit;
            let frame = if let Some(payload) = self.pong.take_if(|_| pong_fits) {
                self.encode_control(OpCode::Pong, &payload)
            } else if let Some(frame) = self.control.pop_front().or_else(|| self.data.pop_front()) {
                self.queued -= frame.len();
                frame
            } else if let Some(frame) = self.close.take() {
                self.sealed = true;
                frame
            } else {
                break;
            };
            if self.head == self.tail && frame.len() > self.buf.len() {
                // The frame's own buffer becomes the transmit buffer: no copy.
                (self.head, self.tail) = (0, frame.len());
                self.buf = frame;
                self.oversized |= self.tail > KEEP_TRANSMIT;
            } else {
                self.room(frame.len()).copy_from_slice(&frame);
            }
        }
    }
}
