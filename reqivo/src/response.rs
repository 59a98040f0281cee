//! The response head, shared by both drivers; the body type `B` is the driver's.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, CONTENT_ENCODING, CONTENT_LENGTH};
use http::{StatusCode, Uri, Version};
use reqivo_proto::h1::HeaderFields;

use crate::error::{Error, ErrorKind, Result};

/// Where the time of a request went. Phases that did not happen (DNS and connect on a reused connection,
/// TLS on plain HTTP) are `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Waiting for a free connection in the pool (zero when one was free at once).
    pub pool_wait: Option<Duration>,
    /// Resolving the host name.
    pub dns: Option<Duration>,
    /// TCP connect.
    pub connect: Option<Duration>,
    /// TLS handshake.
    pub tls: Option<Duration>,
    /// From the start of the request to the first byte of the final response.
    pub first_byte: Duration,
    /// Reading the body, from the head to the end; zero when the whole body arrived with the head, `None`
    /// until the body has been read to its end.
    pub body: Option<Duration>,
    /// True when the request went out on a pooled connection.
    pub reused_connection: bool,
}

/// A response: status, headers and the final URL, with a body of type `B` (`AsyncBody` or `Body`).
///
/// ```no_run
/// # async fn demo() -> Result<(), reqivo::Error> {
/// let session = reqivo::AsyncSession::builder().build()?;
/// let resp = session.get("http://127.0.0.1:8080/").send().await?.error_for_status()?;
/// println!("{} {:?} from {:?}", resp.status(), resp.headers().get("content-type"), resp.remote_addr());
/// let body = resp.bytes().await?;
/// # let _ = body; Ok(()) }
/// ```
#[derive(Debug)]
pub struct Response<B> {
    /// Head and body in one box: a response is moved several times on its way out (through `Result`s and
    /// the futures of the driver and of the caller), and the two together are about 500 bytes.
    pub(crate) parts: Box<Parts<B>>,
}

#[derive(Debug)]
pub(crate) struct Parts<B> {
    pub meta: Meta,
    pub body: B,
}

#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub status: StatusCode,
    pub version: Version,
    pub reason: Bytes,
    /// The fields as received; the header map is built from them on first use only.
    pub fields: HeaderFields,
    /// The body is decoded (gzip): its `Content-Encoding` and `Content-Length` describe bytes the reader
    /// never sees, so the decoded views leave them out.
    pub decoded: bool,
    pub headers: OnceLock<Box<HeaderMap>>,
    /// Shared with the session's memo of its last URL.
    pub url: Arc<Uri>,
    pub remote_addr: Option<SocketAddr>,
    pub timings: Timings,
}

/// Implemented by both body types so the shared head accessors can read their timings.
pub trait BodyTimings {
    fn body_time(&self) -> Option<Duration>;
}

impl<B> Response<B> {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.parts.meta.status
    }

    /// The HTTP version of the response (1.0 or 1.1).
    pub fn version(&self) -> Version {
        self.parts.meta.version
    }

    /// The reason phrase as received (may be empty).
    pub fn reason(&self) -> &[u8] {
        &self.parts.meta.reason
    }

    /// The headers, duplicates kept: names in the order they first appeared, the values of one name in
    /// the order received (`http::HeaderMap` groups repeated names; [`raw_headers`](Self::raw_headers) keeps
    /// the wire order). When the body is decoded (gzip), `Content-Encoding` and `Content-Length` are left
    /// out. The map is built on the first call: a response nobody asks for headers costs none.
    pub fn headers(&self) -> &HeaderMap {
        self.parts.meta.headers.get_or_init(|| {
            let hidden: &[_] = if self.parts.meta.decoded { &[CONTENT_ENCODING, CONTENT_LENGTH] } else { &[] };
            Box::new(self.parts.meta.fields.to_header_map_without(hidden))
        })
    }

    /// The first value of the header `name` (ASCII case-insensitive), without building a header map;
    /// `None` when absent, not UTF-8, or hidden because the body is decoded (see [`headers`](Self::headers)).
    ///
    /// ```no_run
    /// # async fn demo(session: reqivo::AsyncSession) -> Result<(), reqivo::Error> {
    /// let resp = session.get("http://127.0.0.1:8080/").send().await?;
    /// if let Some(kind) = resp.header("content-type") {
    ///     println!("{kind}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        if self.parts.meta.decoded && is_hidden_when_decoded(name) {
            return None;
        }
        std::str::from_utf8(self.parts.meta.fields.get(name)?).ok()
    }

    /// Every header field exactly as received, in wire order: names as the server spelled them, repeats
    /// where they came (`Set-Cookie` among others), values as bytes (obs-fold unfolded to one space).
    /// Unlike [`headers`](Self::headers) nothing is left out, also when the body is decoded.
    pub fn raw_headers(&self) -> impl ExactSizeIterator<Item = (&str, &[u8])> + '_ {
        // Names are tokens (checked by the parser): always ASCII.
        self.parts.meta.fields.iter().map(|(name, value)| (std::str::from_utf8(name).unwrap_or_default(), value))
    }

    /// The URL that answered, after redirects.
    pub fn url(&self) -> &Uri {
        &self.parts.meta.url
    }

    /// The peer's socket address.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.parts.meta.remote_addr
    }

    /// The `Content-Length` of the body, when the server sent one (and it was not decoded away).
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.trim().parse().ok()
    }

    /// Decodes body bytes to text with the charset of this response's `Content-Type`.
    pub(crate) fn decode_text(&self, bytes: &[u8]) -> String {
        decode_text(bytes, self.parts.meta.fields.get("content-type"))
    }

    /// Turns a 4xx or 5xx status into an error of kind [`ErrorKind::Status`].
    pub fn error_for_status(self) -> Result<Self> {
        match status_error(&self.parts.meta) {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    /// Like [`Response::error_for_status`], by reference.
    pub fn error_for_status_ref(&self) -> Result<&Self> {
        match status_error(&self.parts.meta) {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    /// The body, for streaming.
    pub fn body_mut(&mut self) -> &mut B {
        &mut self.parts.body
    }

    /// Consumes the response and returns its body.
    pub fn into_body(self) -> B {
        self.parts.body
    }
}

impl<B: BodyTimings> Response<B> {
    /// Per-phase timings; `body` is filled in once the body has been read to its end.
    pub fn timings(&self) -> Timings {
        Timings { body: self.parts.body.body_time(), ..self.parts.meta.timings }
    }
}

fn is_hidden_when_decoded(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-encoding") || name.eq_ignore_ascii_case("content-length")
}

fn status_error(meta: &Meta) -> Option<Error> {
    let status = meta.status;
    (status.is_client_error() || status.is_server_error())
        .then(|| Error::new(ErrorKind::Status(status), format!("HTTP status {status}")).with_url(&meta.url))
}

/// Decodes body bytes to text with the charset of `Content-Type` (UTF-8 by default). UTF-8, US-ASCII and
/// ISO-8859-1 are decoded exactly; invalid UTF-8 and unknown charsets decode as UTF-8 with U+FFFD.
fn decode_text(bytes: &[u8], content_type: Option<&[u8]>) -> String {
    let charset = content_type
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|ct| {
            ct.split(';').skip(1).find_map(|param| {
                let (name, value) = param.split_once('=')?;
                name.trim().eq_ignore_ascii_case("charset").then(|| value.trim().trim_matches('"').to_ascii_lowercase())
            })
        })
        .unwrap_or_default();
    match charset.as_str() {
        "iso-8859-1" | "latin1" | "latin-1" | "l1" | "iso_8859-1" => bytes.iter().map(|&b| b as char).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[cfg(feature = "json")]
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::new(ErrorKind::Decode, "invalid JSON body").with_source(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_from_content_type() {
        assert_eq!(decode_text("héllo".as_bytes(), None), "héllo");
        assert_eq!(decode_text(&[0x68, 0xe9], Some(b"text/plain; charset=ISO-8859-1")), "hé");
        assert_eq!(decode_text(&[0x68, 0xff], Some(b"text/plain; charset=\"utf-8\"")), "h\u{fffd}");
    }
}
