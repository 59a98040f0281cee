//! The pure steps of one logical request that both drivers take in the same order: framing choice,
//! retry rule, redirect application, response head shaping. No I/O here.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, PROXY_AUTHORIZATION};
use http::{Method, Uri};
use reqivo_proto::h1::{BodyLength, HeaderFields, RequestHead, ResponseHead};
use reqivo_proto::redirect::{Decision, Follow, RedirectError, Redirects};
use reqivo_proto::url::Target;

use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::request::{Prepared, RequestBody};
use crate::response::{Meta, Parts, Response, Timings};

/// How the body is framed: `Content-Length` when its size is known, chunked for streams. An empty body
/// gets `Content-Length: 0` on methods that normally carry one (RFC 9110 §8.6).
pub(crate) fn body_length<St>(method: &Method, body: &RequestBody<St>) -> BodyLength {
    match body {
        RequestBody::Empty if matches!(*method, Method::POST | Method::PUT | Method::PATCH) => BodyLength::Known(0),
        RequestBody::Empty => BodyLength::None,
        RequestBody::Bytes(b) => BodyLength::Known(b.len() as u64),
        RequestBody::Stream(_) => BodyLength::Chunked,
    }
}

/// The request head as the core will encode it for `target`.
pub(crate) fn request_head<'a, St>(req: &'a Prepared<St>, target: &'a Target, config: &'a Config) -> RequestHead<'a> {
    RequestHead {
        method: &req.method,
        target: target.path_and_query.as_str(),
        host: req.host.as_deref().unwrap_or(&target.host_header),
        defaults: if req.defaults { config.request_block.as_ref() } else { None },
        headers: &req.headers,
    }
}

/// Refuses an invalid request (header injection, hand-set framing headers, a bad method) before a
/// connection is opened for it. A reused connection needs no separate check: `ClientConn::send_request`
/// validates every head it encodes, and refuses the same requests with the same error.
pub(crate) fn check_request(head: &RequestHead<'_>, length: BodyLength) -> Result<(), Error> {
    reqivo_proto::h1::check_request(head, length).map_err(Error::from)
}

/// Whether a failed attempt may be sent again on a fresh connection: only when the connection was a
/// reused one (it may have been closed by the server while idle), no response byte arrived, the error is
/// a connection failure (not a timeout), the body can be sent again, and either the method is idempotent
/// or the request had not been fully written.
pub(crate) fn may_retry(
    error: &Error,
    reused: bool,
    response_started: bool,
    method: &Method,
    request_written: bool,
    body_replayable: bool,
) -> bool {
    reused
        && !response_started
        && matches!(error.kind(), ErrorKind::Io | ErrorKind::Protocol)
        && body_replayable
        && (method.is_idempotent() || !request_written)
}

/// Points the request at the redirect target.
pub(crate) fn apply_redirect<St>(req: &mut Prepared<St>, follow: Follow, config: &Config) {
    if req.defaults && (follow.drop_body || follow.cross_origin) {
        // A default header may be among those removed below: spell the defaults out as fields (the
        // request has none of its own when `defaults` is set).
        req.headers = config.request_headers.clone();
        req.defaults = false;
    }
    if follow.drop_body {
        req.body = RequestBody::Empty;
        for name in [CONTENT_TYPE, CONTENT_LENGTH, CONTENT_ENCODING] {
            req.headers.remove(name);
        }
    }
    if follow.cross_origin {
        for name in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION] {
            req.headers.remove(name);
        }
        req.host = None;
    }
    req.method = follow.method;
    req.url = Arc::new(follow.url);
    req.target = None;
}

pub(crate) fn redirect_error(e: RedirectError, url: &Uri) -> Error {
    Error::new(ErrorKind::Redirect, "redirect failed").with_source(e).with_url(url)
}

/// Whether a final response head is delivered or its redirect followed, for a redirect status when the
/// session follows redirects (the caller tests that: most responses never call this). Out of line and cold.
#[cold]
#[inline(never)]
pub(crate) fn redirect_decision<St>(
    req: &Prepared<St>,
    redirects: &mut Redirects,
    head: &ResponseHead,
) -> Result<Decision, Error> {
    let location = head.headers.get("location");
    redirects
        .on_response(&req.method, &req.url, head.status, location, req.body.replayable())
        .map_err(|e| redirect_error(e, &req.url))
}

/// Whether the body must be gunzipped (its `Content-Encoding` and `Content-Length` then describe bytes the
/// reader never sees, and the decoded views leave them out).
#[inline]
pub(crate) fn gunzip(fields: &HeaderFields, enabled: bool) -> bool {
    enabled && {
        let mut encodings = fields.get_all("content-encoding");
        encodings.next().is_some_and(|v| v.eq_ignore_ascii_case(b"gzip")) && encodings.next().is_none()
    }
}

/// The response to hand out: head and body, built straight into their box (a `Meta` built first and moved
/// there would be copied once more).
#[inline(always)]
pub(crate) fn response<B>(
    head: ResponseHead,
    url: Arc<Uri>,
    remote: SocketAddr,
    timings: Timings,
    gzip: bool,
    body: B,
) -> Response<B> {
    Response {
        parts: Box::new(Parts {
            meta: Meta {
                status: head.status,
                version: head.version,
                reason: head.reason,
                fields: head.headers,
                decoded: gzip,
                headers: Default::default(),
                url,
                remote_addr: Some(remote),
                timings,
            },
            body,
        }),
    }
}

/// Redirect responses are drained (so their connection is reused) when their body is at most this big.
pub(crate) const DRAIN_LIMIT: usize = 64 * 1024;

/// Appends `chunk` to a drain counter; false once the redirect body is too big to be worth draining.
pub(crate) fn drain_more(drained: &mut usize, chunk: &Bytes) -> bool {
    *drained += chunk.len();
    *drained <= DRAIN_LIMIT
}

/// A streamed body piece at least this big goes out as one chunk written straight from the piece (one
/// vectored write, no copy); smaller pieces are framed into the transmit buffer, where several can share a
/// write.
pub(crate) const DIRECT_CHUNK_MIN: usize = 32 * 1024;
