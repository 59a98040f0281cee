//! The session's cookie jar: the core's [`reqivo_proto::cookie::CookieJar`] behind a mutex, and the two
//! hooks both drivers call on every request: [`attach`] before each attempt (redirect hops included),
//! [`store`] after each response head. No I/O here.
//!
//! An empty jar costs one atomic load per request and one bit test of the response's fields (Set-Cookie
//! is tagged while the head is parsed): no lock, no clock read, no string work.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, COOKIE};
use http::Uri;
use reqivo_proto::cookie::{self, Stored};
use reqivo_proto::h1::HeaderFields;

use crate::config::{Config, SessionBuilder};
use crate::error::Result;
use crate::request::{sealed, IntoUrl, Prepared};

pub use reqivo_proto::cookie::Cookie;

/// A cookie jar a session stores `Set-Cookie` responses in and takes `Cookie` headers from (RFC 6265).
/// Thread-safe; share one between sessions with [`SessionBuilder::cookie_jar`].
///
/// Sessions keep cookies by default ([`SessionBuilder::cookie_store`] turns that off). Cookies are
/// stored from every response, redirects included, and sent to the hosts and paths they were set for;
/// `Secure` cookies only over `https`/`wss`. A request that sets its own `Cookie` header sends that
/// instead of the jar's.
///
/// ```no_run
/// # async fn demo() -> Result<(), reqivo::Error> {
/// let session = reqivo::AsyncSession::builder().build()?;
/// session.get("http://127.0.0.1:8080/login").send().await?; // answers with Set-Cookie: sid=…
/// let jar = session.cookies().expect("cookies are on by default");
/// println!("sid = {:?}", jar.get("sid"));
/// jar.add("http://127.0.0.1:8080/", "theme=dark; Path=/")?;
/// session.get("http://127.0.0.1:8080/account").send().await?; // Cookie: sid=…; theme=dark
/// jar.clear();
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct CookieJar {
    /// The number of stored cookies, read without the lock: a request finds an empty jar with one
    /// atomic load.
    len: AtomicUsize,
    inner: Mutex<cookie::CookieJar>,
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieJar").field("len", &self.len()).finish_non_exhaustive()
    }
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    fn lock(&self) -> Guard<'_> {
        Guard { jar: self, inner: self.inner.lock().unwrap_or_else(PoisonError::into_inner) }
    }

    /// How many cookies are stored (expired ones included until the next store removes them).
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// True when no cookie is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores a cookie as if `url` had answered with this `Set-Cookie` value (`"name=value; Path=/"`).
    /// Returns whether it was kept (stored or replaced); `Max-Age=0` deletes a cookie and returns false.
    /// An invalid URL is an `InvalidRequest` error.
    pub fn add(&self, url: impl IntoUrl, set_cookie: &str) -> Result<bool> {
        let url = url.into_url_ref().resolve(None, None)?;
        let (scheme, host, path) = parts(&url);
        let stored = self.lock().store(scheme, host, path, set_cookie.as_bytes(), SystemTime::now());
        Ok(matches!(stored, Stored::New | Stored::Replaced))
    }

    /// The `Cookie` header a request to `url` would carry; `None` when no cookie applies (or the URL is
    /// invalid).
    pub fn cookie_header(&self, url: impl IntoUrl) -> Option<String> {
        let url = url.into_url_ref().resolve(None, None).ok()?;
        let (scheme, host, path) = parts(&url);
        self.lock().inner.cookie_header(scheme, host, path, SystemTime::now())
    }

    /// The value of the first unexpired cookie named `name`, for any domain and path.
    pub fn get(&self, name: &str) -> Option<String> {
        let now = SystemTime::now();
        let jar = self.lock();
        let found = jar.inner.iter().find(|c| c.name() == name && c.expires().is_none_or(|e| e > now));
        found.map(|c| c.value().to_owned())
    }

    /// A copy of every stored cookie, oldest first.
    pub fn cookies(&self) -> Vec<Cookie> {
        self.lock().inner.iter().cloned().collect()
    }

    /// Removes the cookies named `name` stored for `domain` (the host a host-only cookie came from, or
    /// its `Domain` attribute); returns how many.
    pub fn remove(&self, name: &str, domain: &str) -> usize {
        let mut jar = self.lock();
        let n = jar.inner.remove(name, domain);
        jar.sync();
        n
    }

    /// Removes every cookie.
    pub fn clear(&self) {
        let mut jar = self.lock();
        jar.inner.clear();
        jar.sync();
    }
}

/// The lock on the core jar; every change goes through it and updates the lock-free count.
struct Guard<'a> {
    jar: &'a CookieJar,
    inner: MutexGuard<'a, cookie::CookieJar>,
}

impl Guard<'_> {
    fn store(&mut self, scheme: &str, host: &str, path: &str, value: &[u8], now: SystemTime) -> Stored {
        let stored = self.inner.store(scheme, host, path, value, now);
        self.sync();
        stored
    }

    fn sync(&mut self) {
        self.jar.len.store(self.inner.len(), Ordering::Relaxed);
    }
}

/// Scheme, host and path (no query) of a URL, as the jar takes them.
fn parts(url: &Uri) -> (&str, &str, &str) {
    (url.scheme_str().unwrap_or(""), url.host().unwrap_or(""), url.path())
}

/// Before each attempt of a request (first and every redirect hop): replaces the `Cookie` field the jar
/// put in for the previous hop with the one for `req.url`. A `Cookie` header of the caller's own (or
/// a default header) wins over the jar.
#[inline]
pub(crate) fn attach<St>(config: &Config, req: &mut Prepared<St>) {
    // Inline: the common request (an empty jar, or none, and no cookie from a previous hop) only reads a
    // flag and a count.
    if req.jar_cookie || config.cookies.as_deref().is_some_and(|jar| !jar.is_empty()) {
        attach_from_jar(config, req);
    }
}

#[inline(never)]
fn attach_from_jar<St>(config: &Config, req: &mut Prepared<St>) {
    if req.jar_cookie {
        req.headers.remove(COOKIE);
        req.jar_cookie = false;
    }
    let own = |headers: &HeaderMap| {
        headers.contains_key(COOKIE) || (req.defaults && config.default_headers.contains_key(COOKIE))
    };
    if let Some(jar) = config.cookies.as_deref() {
        req.jar_cookie = add_header(jar, &req.url, &mut req.headers, own);
    }
}

/// Puts the jar's `Cookie` field for `url` into `headers` unless the jar is empty or `own(headers)`
/// says the caller set one; true when it did.
pub(crate) fn add_header(
    jar: &CookieJar,
    url: &Uri,
    headers: &mut HeaderMap,
    own: impl Fn(&HeaderMap) -> bool,
) -> bool {
    if jar.is_empty() || own(headers) {
        return false;
    }
    let (scheme, host, path) = parts(url);
    let value = jar.lock().inner.cookie_header(scheme, host, path, SystemTime::now());
    // The jar refuses control characters, so the value is a valid field value.
    match value.map(|v| HeaderValue::from_maybe_shared(Bytes::from(v))) {
        Some(Ok(v)) => {
            headers.insert(COOKIE, v);
            true
        }
        _ => false,
    }
}

/// After each response head (redirects and WebSocket handshakes included): stores its `Set-Cookie`
/// fields. The clock is read only when there is one.
#[inline]
pub(crate) fn store(jar: Option<&CookieJar>, url: &Uri, fields: &HeaderFields) {
    // Inline: a response without `Set-Cookie` costs one bit test.
    if let Some(jar) = jar {
        if fields.has_set_cookie() {
            store_in_jar(jar, url, fields);
        }
    }
}

#[inline(never)]
fn store_in_jar(jar: &CookieJar, url: &Uri, fields: &HeaderFields) {
    let values = fields.set_cookies();
    let (scheme, host, path) = parts(url);
    let now = SystemTime::now();
    let mut jar = jar.lock();
    for value in values {
        jar.store(scheme, host, path, value, now);
    }
}

impl<S: sealed::Sealed> SessionBuilder<S> {
    /// Whether the session keeps cookies: stores `Set-Cookie` from every response and sends matching
    /// cookies back (default true, as in a browser or Python's `requests.Session`). Off, the session
    /// neither stores nor sends any, and [`cookies`](crate::AsyncSession::cookies) is `None`.
    pub fn cookie_store(mut self, enabled: bool) -> Self {
        match enabled {
            true => drop(self.cookies.get_or_insert_with(Default::default)),
            false => self.cookies = None,
        }
        self
    }

    /// Uses this jar instead of a fresh one: sessions built with clones of one `Arc` share their
    /// cookies (a login in one is seen by the other).
    ///
    /// ```
    /// use std::sync::Arc;
    /// # fn main() -> Result<(), reqivo::Error> {
    /// let jar = Arc::new(reqivo::CookieJar::new());
    /// let a = reqivo::AsyncSession::builder().cookie_jar(jar.clone()).build()?;
    /// let b = reqivo::Session::builder().cookie_jar(jar.clone()).build()?;
    /// jar.add("https://example.com/", "sid=1")?;
    /// assert_eq!(a.cookies().unwrap().get("sid"), b.cookies().unwrap().get("sid"));
    /// # Ok(()) }
    /// ```
    pub fn cookie_jar(mut self, jar: Arc<CookieJar>) -> Self {
        self.cookies = Some(jar);
        self
    }
}

macro_rules! cookies_accessor {
    ($session:ty) => {
        impl $session {
            /// The session's cookie jar (shared by its clones); `None` when built with
            /// [`cookie_store(false)`](SessionBuilder::cookie_store). See [`CookieJar`].
            pub fn cookies(&self) -> Option<&Arc<CookieJar>> {
                sealed::Sealed::config(self).cookies.as_ref()
            }
        }
    };
}
cookies_accessor!(crate::AsyncSession);
cookies_accessor!(crate::Session);
