use bytes::BytesMut;

use super::{BodyLength, CloseReason, Event, Limits, ProtoError, RequestHead, UsageError};

/// One HTTP/1.1 client connection, sans I/O. See the [module docs](super) for the calling contract.
#[derive(Debug)]
pub struct ClientConn {
    limits: Limits,
    recv: BytesMut,
}

impl ClientConn {
    /// A fresh connection with the given limits.
    pub fn new(limits: Limits) -> Self {
        ClientConn { limits, recv: BytesMut::new() }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Changes the limits for the next request (pooled connections serve requests with other limits).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// True while the core needs more bytes from the peer to make progress.
    pub fn wants_read(&self) -> bool {
        todo!()
    }

    /// True while the core accepts body bytes through [`ClientConn::send_body`].
    pub fn wants_body(&self) -> bool {
        todo!()
    }

    /// True once any byte of a response to the current request has been received. A failure before that on
    /// a reused connection may be retried on a fresh one.
    pub fn response_started(&self) -> bool {
        todo!()
    }

    /// `None` when the connection is idle after a complete exchange and may be reused; otherwise why not.
    pub fn close_reason(&self) -> Option<CloseReason> {
        todo!()
    }

    /// The receive buffer: the driver appends bytes read from the socket, then calls `poll_event`.
    /// The core has reserved room for a read (at least 8 KiB of spare capacity).
    pub fn recv_buf(&mut self) -> &mut BytesMut {
        &mut self.recv
    }

    /// The peer closed its sending side.
    pub fn handle_eof(&mut self) {
        todo!()
    }

    /// The `Expect: 100-continue` wait ran out: send the body without waiting for 100.
    pub fn handle_continue_timeout(&mut self) {
        todo!()
    }

    /// Encodes a request head. `Content-Length` / `Transfer-Encoding: chunked` follow from `body`.
    pub fn send_request(&mut self, head: RequestHead<'_>, body: BodyLength) -> Result<(), UsageError> {
        let _ = (head, body);
        todo!()
    }

    /// Queues body bytes (chunk-framed when chunked); returns how many were taken (may be fewer than
    /// offered when the transmit buffer is full: write it out and offer the rest).
    pub fn send_body(&mut self, data: &[u8]) -> Result<usize, UsageError> {
        let _ = data;
        todo!()
    }

    /// Ends the request body (writes the last chunk when chunked; checks the length when known).
    pub fn finish_body(&mut self) -> Result<(), UsageError> {
        todo!()
    }

    /// Bytes to write to the socket, if any.
    #[must_use]
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        todo!()
    }

    /// `written` bytes of [`ClientConn::poll_transmit`] went out.
    pub fn advance_transmit(&mut self, written: usize) {
        let _ = written;
        todo!()
    }

    /// The next response event decoded from the receive buffer, `Ok(None)` when more input is needed.
    pub fn poll_event(&mut self) -> Result<Option<Event>, ProtoError> {
        todo!()
    }

    /// Resets for the next request after [`Event::End`] when `close_reason()` is `None`.
    pub fn start_next_cycle(&mut self) -> Result<(), UsageError> {
        todo!()
    }
}
