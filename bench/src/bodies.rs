//! Upload bodies shared by the clients: a `Stream` of four 16 KiB pieces (reqivo async, reqwest), a reader
//! (the blocking clients), and an `http_body::Body` for hyper.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::harness::{UPLOAD, UPLOAD_PIECE};

pub fn upload_bytes() -> Bytes {
    Bytes::from_static(&UPLOAD)
}

/// The upload as a stream of `UPLOAD_PIECE`-sized pieces with no length known in advance.
pub struct PieceStream {
    next: usize,
}

impl PieceStream {
    pub fn new() -> PieceStream {
        PieceStream { next: 0 }
    }

    fn next_piece(&mut self) -> Option<Bytes> {
        if self.next >= UPLOAD.len() {
            return None;
        }
        let end = (self.next + UPLOAD_PIECE).min(UPLOAD.len());
        let piece = Bytes::from_static(&UPLOAD[self.next..end]);
        self.next = end;
        Some(piece)
    }
}

impl futures_core::Stream for PieceStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.next_piece().map(Ok))
    }
}

/// The upload as an `io::Read` of unknown length (each client reads it with its own buffer size).
pub fn upload_reader() -> io::Cursor<&'static [u8]> {
    io::Cursor::new(&UPLOAD[..])
}

/// A request body for hyper: empty, whole (Content-Length), or streamed in pieces (chunked).
pub enum HyperBody {
    Empty,
    Full(Option<Bytes>),
    Pieces(PieceStream),
}

impl Body for HyperBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let piece = match self.get_mut() {
            HyperBody::Empty => None,
            HyperBody::Full(b) => b.take(),
            HyperBody::Pieces(p) => p.next_piece(),
        };
        Poll::Ready(piece.map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            HyperBody::Empty | HyperBody::Full(None) => true,
            HyperBody::Full(Some(_)) => false,
            HyperBody::Pieces(p) => p.next >= UPLOAD.len(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            HyperBody::Empty | HyperBody::Full(None) => SizeHint::with_exact(0),
            HyperBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            HyperBody::Pieces(_) => SizeHint::default(),
        }
    }
}
