//! The request builder both sessions share, and request preparation (URL resolution, header merging).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT_ENCODING, CONTENT_TYPE};
use http::{Method, Uri};
use reqivo_proto::url::Target;

use crate::config::Timeouts;
use crate::error::{Error, Result};

pub(crate) mod sealed {
    /// Crate-private side of the session traits.
    pub trait Sealed {
        fn config(&self) -> &crate::config::Config;
        fn from_config(config: crate::config::Config) -> Self;
        fn last_url(&self) -> &crate::request::LastUrl;
    }
}

/// The part of a session a request builder needs; implemented by [`AsyncSession`](crate::AsyncSession) and
/// [`Session`](crate::Session).
pub trait Driver: sealed::Sealed {
    /// The streaming request body type: an async `Stream` of bytes, or an `io::Read`.
    type Stream;
}

/// Something that converts into an absolute URL, or a relative reference resolved against the session's
/// `base_url` (RFC 3986): `&str`, `String`, `&String` or [`Uri`].
pub trait IntoUrl {
    /// The URL as given, not yet resolved.
    #[doc(hidden)]
    fn into_url_ref(self) -> UrlRef;

    /// [`into_url_ref`](Self::into_url_ref) for a request of a session that remembers `last`: text equal
    /// to the last text resolved is not copied.
    #[doc(hidden)]
    fn into_url_ref_after(self, last: &LastUrl) -> UrlRef
    where
        Self: Sized,
    {
        let _ = last;
        self.into_url_ref()
    }
}

/// A URL as the caller gave it: a parsed absolute URI, or text that may be a relative reference.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum UrlRef {
    /// Already parsed.
    Uri(Uri),
    /// Text: absolute, or relative to `base_url`.
    Text(String),
    /// Resolved already (the session's last URL), with its target when it has one.
    Resolved(Arc<Uri>, Option<Arc<Target>>),
}

impl UrlRef {
    /// Resolves against `base` (when given and the reference is relative) and parses. With `last`, text
    /// equal to the last text resolved gives the same URL again without parsing.
    pub(crate) fn resolve(self, base: Option<&Uri>, last: Option<&LastUrl>) -> Result<Uri> {
        self.resolve_target(base, last).map(|(uri, _)| Arc::unwrap_or_clone(uri))
    }

    /// [`resolve`](Self::resolve), with the URL's target when `last` knows it (the connection's pool key,
    /// Host and request target are then not split out of the URL again).
    pub(crate) fn resolve_target(
        self,
        base: Option<&Uri>,
        last: Option<&LastUrl>,
    ) -> Result<(Arc<Uri>, Option<Arc<Target>>)> {
        let text = match self {
            UrlRef::Resolved(u, target) => return Ok((u, target)),
            UrlRef::Uri(u) if u.scheme().is_some() => return Ok((Arc::new(u), None)),
            UrlRef::Uri(u) => u.to_string(),
            UrlRef::Text(t) => t,
        };
        if let Some(hit) = last.and_then(|l| l.get(&text)) {
            return Ok(hit);
        }
        // Parsed in place: `parse` would copy the text into a fresh buffer first.
        let text = Bytes::from(text);
        let uri = match base {
            Some(base) => reqivo_proto::url::resolve(base, as_str(&text))?,
            None => {
                let uri = Uri::from_maybe_shared(text.clone())
                    .map_err(|e| Error::invalid(format!("invalid URL {:?}", as_str(&text))).with_source(e))?;
                if uri.scheme().is_none() {
                    return Err(Error::invalid(format!(
                        "relative URL {:?} needs a base_url on the session",
                        as_str(&text)
                    )));
                }
                uri
            }
        };
        let uri = Arc::new(uri);
        let target = match last {
            Some(last) => last.set(text, &uri),
            None => None,
        };
        Ok((uri, target))
    }
}

/// The text of a `Bytes` made from a `String`.
fn as_str(text: &Bytes) -> &str {
    std::str::from_utf8(text).unwrap_or_default()
}

/// A session's last resolved URL text, its result and the result's target: a session usually sends
/// request after request to the same URL, and comparing the text costs a fraction of parsing it again.
#[derive(Default)]
pub struct LastUrl(Mutex<Option<Last>>);

struct Last {
    text: Bytes,
    /// Shared with the requests (and responses) for it: a clone is one counter, not two of `Bytes`.
    uri: Arc<Uri>,
    /// `None` when the URL cannot be sent (an unsupported scheme): the request fails later, as without
    /// this memo.
    target: Option<Arc<Target>>,
}

impl LastUrl {
    fn get(&self, text: &str) -> Option<(Arc<Uri>, Option<Arc<Target>>)> {
        let last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        last.as_ref().filter(|l| l.text[..] == *text.as_bytes()).map(|l| (l.uri.clone(), l.target.clone()))
    }

    /// Keeps the text without a copy: the URL shares its bytes anyway. The new target shares the pool key
    /// and Host of the last one when the origin is the same. Returns the target.
    fn set(&self, text: Bytes, uri: &Arc<Uri>) -> Option<Arc<Target>> {
        let mut last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = last.as_ref().and_then(|l| l.target.as_deref());
        let target = Target::from_uri_after(uri, previous).ok().map(Arc::new);
        *last = Some(Last { text, uri: Arc::clone(uri), target: target.clone() });
        target
    }

    /// The URL for `text` when it is the last one resolved, without copying the text.
    fn url_ref(&self, text: &str) -> Option<UrlRef> {
        self.get(text).map(|(uri, target)| UrlRef::Resolved(uri, target))
    }
}

impl IntoUrl for Uri {
    fn into_url_ref(self) -> UrlRef {
        UrlRef::Uri(self)
    }
}

impl IntoUrl for &Uri {
    fn into_url_ref(self) -> UrlRef {
        UrlRef::Uri(self.clone())
    }
}

impl IntoUrl for &str {
    fn into_url_ref(self) -> UrlRef {
        UrlRef::Text(self.to_owned())
    }
    fn into_url_ref_after(self, last: &LastUrl) -> UrlRef {
        last.url_ref(self).unwrap_or_else(|| self.into_url_ref())
    }
}

impl IntoUrl for String {
    fn into_url_ref(self) -> UrlRef {
        UrlRef::Text(self)
    }
}

impl IntoUrl for &String {
    fn into_url_ref(self) -> UrlRef {
        UrlRef::Text(self.clone())
    }
    fn into_url_ref_after(self, last: &LastUrl) -> UrlRef {
        self.as_str().into_url_ref_after(last)
    }
}

/// Appends a header given in any convertible form; a bad name or a value with CR, LF or NUL is an
/// `InvalidRequest` error (shared by the request and WebSocket builders).
pub(crate) fn append_header<K, V>(headers: &mut HeaderMap, name: K, value: V) -> Result<()>
where
    K: TryInto<HeaderName>,
    V: TryInto<HeaderValue>,
{
    match (name.try_into(), value.try_into()) {
        (Ok(n), Ok(v)) => {
            headers.append(n, v);
            Ok(())
        }
        (Err(_), _) => Err(Error::invalid("invalid header name")),
        (_, Err(_)) => Err(Error::invalid("invalid header value (CR, LF and NUL are not allowed)")),
    }
}

/// A request body as given to the builder.
pub(crate) enum RequestBody<St> {
    Empty,
    Bytes(Bytes),
    Stream(St),
}

impl<St> RequestBody<St> {
    /// Whether the body can be sent again (after a redirect or a stale pooled connection).
    pub(crate) fn replayable(&self) -> bool {
        !matches!(self, RequestBody::Stream(_))
    }
}

/// A request being built; finish it with `send()` (`.await` on an [`AsyncSession`](crate::AsyncSession)).
///
/// ```no_run
/// # async fn demo() -> Result<(), reqivo::Error> {
/// let session = reqivo::AsyncSession::builder().build()?;
/// let resp = session
///     .post("http://127.0.0.1:8080/items")
///     .header("x-trace", "1")
///     .query(&[("page", "2")])
///     .body("hello")
///     .send()
///     .await?;
/// println!("{}", resp.text().await?);
/// # Ok(()) }
/// ```
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder<'s, S: Driver> {
    pub(crate) session: &'s S,
    method: Method,
    url: UrlRef,
    headers: HeaderMap,
    query: String,
    pub(crate) body: RequestBody<S::Stream>,
    /// The session's timeouts, overridden by the request's setters (copied once here: no merge later).
    timeouts: Timeouts,
    error: Option<Error>,
}

/// A request ready to go: absolute URL, merged headers, effective timeouts.
pub(crate) struct Prepared<St> {
    pub method: Method,
    pub url: Arc<Uri>,
    /// The target of `url` when the session remembered it; `None` after a redirect.
    pub target: Option<Arc<Target>>,
    /// A `Host` the caller set by hand; it replaces the one derived from the URL (same origin only).
    pub host: Option<String>,
    /// The request's own headers merged with the session's defaults; only its own when `defaults` is set.
    pub headers: HeaderMap,
    /// The session's defaults go out as `Config::request_block`, ahead of `headers`.
    pub defaults: bool,
    pub body: RequestBody<St>,
    pub timeouts: Timeouts,
    /// The `Cookie` field in `headers` came from the cookie jar (replaced on every redirect hop).
    pub jar_cookie: bool,
}

impl<'s, S: Driver> RequestBuilder<'s, S> {
    pub(crate) fn new(session: &'s S, method: Method, url: UrlRef) -> Self {
        RequestBuilder {
            session,
            method,
            url,
            headers: HeaderMap::new(),
            query: String::new(),
            body: RequestBody::Empty,
            timeouts: session.config().timeouts,
            error: None,
        }
    }

    fn fail(mut self, e: Error) -> Self {
        self.error.get_or_insert(e);
        self
    }

    /// Adds a header (several calls with one name send several fields). An invalid name or a value with
    /// CR, LF or NUL makes `send` fail with `InvalidRequest` before anything is sent.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match append_header(&mut self.headers, name, value) {
            Ok(()) => self,
            Err(e) => self.fail(e),
        }
    }

    /// Adds all these headers.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        let mut last = None;
        for (name, value) in headers {
            if let Some(n) = name {
                last = Some(n);
            }
            if let Some(n) = &last {
                self.headers.append(n.clone(), value);
            }
        }
        self
    }

    /// Appends `name=value` pairs to the URL's query, percent-encoded.
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        for (k, v) in pairs {
            if !self.query.is_empty() {
                self.query.push('&');
            }
            reqivo_proto::url::form_encode_into(&mut self.query, k.as_ref());
            self.query.push('=');
            reqivo_proto::url::form_encode_into(&mut self.query, v.as_ref());
        }
        self
    }

    /// Sets the body from bytes or a string; sent with `Content-Length`.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = RequestBody::Bytes(body.into());
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(v) => {
                self.body = RequestBody::Bytes(v.into());
                self.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                self
            }
            Err(e) => self.fail(Error::invalid("JSON body could not be serialized").with_source(e)),
        }
    }

    /// Sets an `application/x-www-form-urlencoded` body.
    pub fn form<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        let body = reqivo_proto::url::form_encode(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
        self.body = RequestBody::Bytes(body.into());
        self.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        self
    }

    /// Total deadline for this request, body included (overrides the session's).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.total = Some(timeout);
        self
    }

    /// Read-gap limit for this request (overrides the session's).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.read = Some(timeout);
        self
    }

    /// Connect limit for this request (overrides the session's).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = Some(timeout);
        self
    }

    /// Resolves the URL, merges headers and timeouts.
    pub(crate) fn prepare(self) -> Result<(&'s S, Prepared<S::Stream>)> {
        let config = self.session.config();
        let url = self.url.resolve_target(config.base_url.as_ref(), Some(self.session.last_url())).and_then(
            |(url, target)| match self.query.is_empty() {
                true => Ok((url, target)),
                false => Ok((Arc::new(reqivo_proto::url::append_query(&url, &self.query)?), None)),
            },
        );
        let (url, target) = match (self.error, url) {
            (Some(e), Ok((u, _))) => return Err(e.with_url(&u)),
            (Some(e), Err(_)) => return Err(e),
            (None, Err(e)) => return Err(e),
            (None, Ok(u)) => u,
        };
        let defaults = self.headers.is_empty() && config.request_block.is_some();
        let mut headers = if defaults {
            self.headers
        } else if self.headers.is_empty() {
            config.request_headers.clone()
        } else {
            merge_headers(&config.default_headers, self.headers, config.gzip)
        };
        // No lookup when nothing can hold a Host (the block never does).
        let host = match headers.is_empty() {
            true => None,
            false => match headers.remove(http::header::HOST).map(|v| v.to_str().map(str::to_owned)) {
                Some(Ok(h)) => Some(h),
                Some(Err(_)) => return Err(Error::invalid("the Host header must be visible ASCII").with_url(&url)),
                None => None,
            },
        };
        let timeouts = self.timeouts;
        Ok((
            self.session,
            Prepared {
                method: self.method,
                url,
                target,
                host,
                headers,
                defaults,
                body: self.body,
                timeouts,
                jar_cookie: false,
            },
        ))
    }
}

/// Session defaults first, then the request's own headers; a request header replaces the default of the
/// same name.
pub(crate) fn merge_headers(defaults: &HeaderMap, own: HeaderMap, gzip: bool) -> HeaderMap {
    let mut merged = HeaderMap::with_capacity(defaults.len() + own.len() + 1);
    for (name, value) in defaults {
        if !own.contains_key(name) {
            merged.append(name.clone(), value.clone());
        }
    }
    if gzip && !own.contains_key(ACCEPT_ENCODING) && !defaults.contains_key(ACCEPT_ENCODING) {
        merged.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    }
    let mut last = None;
    for (name, value) in own {
        if let Some(n) = name {
            last = Some(n);
        }
        if let Some(n) = &last {
            merged.append(n.clone(), value);
        }
    }
    merged
}

/// The request helpers both sessions have, with the same names and parameters.
macro_rules! session_methods {
    ($session:ty) => {
        impl $session {
            /// Starts a request with any method.
            pub fn request(
                &self,
                method: ::http::Method,
                url: impl $crate::request::IntoUrl,
            ) -> $crate::request::RequestBuilder<'_, $session> {
                let last = $crate::request::sealed::Sealed::last_url(self);
                $crate::request::RequestBuilder::new(self, method, url.into_url_ref_after(last))
            }
            /// Starts a GET request.
            pub fn get(&self, url: impl $crate::request::IntoUrl) -> $crate::request::RequestBuilder<'_, $session> {
                self.request(::http::Method::GET, url)
            }
            /// Starts a POST request.
            pub fn post(&self, url: impl $crate::request::IntoUrl) -> $crate::request::RequestBuilder<'_, $session> {
                self.request(::http::Method::POST, url)
            }
            /// Starts a PUT request.
            pub fn put(&self, url: impl $crate::request::IntoUrl) -> $crate::request::RequestBuilder<'_, $session> {
                self.request(::http::Method::PUT, url)
            }
            /// Starts a PATCH request.
            pub fn patch(&self, url: impl $crate::request::IntoUrl) -> $crate::request::RequestBuilder<'_, $session> {
                self.request(::http::Method::PATCH, url)
            }
            /// Starts a DELETE request.
            pub fn delete(&self, url: impl $crate::request::IntoUrl) -> $crate::request::RequestBuilder<'_, $session> {
                self.request(::http::Method::DELETE, url)
            }
            /// Starts a HEAD request.
            pub fn head(&self, url: impl $crate::request::IntoUrl) -> $crate::request::RequestBuilder<'_, $session> {
                self.request(::http::Method::HEAD, url)
            }
            /// Starts an OPTIONS request.
            pub fn options(&self, url: impl $crate::request::IntoUrl) -> $crate::request::RequestBuilder<'_, $session> {
                self.request(::http::Method::OPTIONS, url)
            }
        }
    };
}
pub(crate) use session_methods;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_url_gives_what_parsing_gives() {
        let last = LastUrl::default();
        let text = |t: &str| UrlRef::Text(t.to_owned());
        let a = text("http://h:1/a?x").resolve(None, Some(&last)).unwrap();
        assert_eq!(a, "http://h:1/a?x");
        assert_eq!(text("http://h:1/a?x").resolve(None, Some(&last)).unwrap(), a);
        assert_eq!(text("http://h:1/a?y").resolve(None, Some(&last)).unwrap(), "http://h:1/a?y");
        // Failures are not remembered, and leave the last success in place.
        assert!(text("http://h:1/a b").resolve(None, Some(&last)).is_err());
        assert!(text("/a").resolve(None, Some(&last)).is_err());
        assert_eq!(text("http://h:1/a?y").resolve(None, Some(&last)).unwrap(), "http://h:1/a?y");
        // A relative reference, against the session's base.
        let base: Uri = "http://h/api/".parse().unwrap();
        for _ in 0..2 {
            assert_eq!(text("v1/x").resolve(Some(&base), Some(&last)).unwrap(), "http://h/api/v1/x");
        }
        let uri: Uri = "http://other/".parse().unwrap();
        assert_eq!(UrlRef::Uri(uri.clone()).resolve(None, Some(&last)).unwrap(), uri);
    }

    #[test]
    fn request_headers_replace_defaults() {
        let mut defaults = HeaderMap::new();
        defaults.insert("user-agent", HeaderValue::from_static("a"));
        defaults.insert("accept", HeaderValue::from_static("*/*"));
        let mut own = HeaderMap::new();
        own.append("user-agent", HeaderValue::from_static("b"));
        own.append("x", HeaderValue::from_static("1"));
        own.append("x", HeaderValue::from_static("2"));
        let merged = merge_headers(&defaults, own, true);
        assert_eq!(merged.get_all("user-agent").iter().collect::<Vec<_>>(), ["b"]);
        assert_eq!(merged.get_all("x").iter().collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(merged["accept-encoding"], "gzip");
        assert_eq!(merged["accept"], "*/*");
    }
}
