//! Redirect policy (RFC 9110 §15.4), sans I/O: given a response, follow or deliver, and how.
//!
//! ```text
//!  response ──▶ not 301/302/303/307/308, or no Location ──▶ Deliver
//!           ├─▶ 307/308 with a body that cannot be sent again ──▶ Deliver (the caller sees the 3xx)
//!           ├─▶ more than `max` redirects ──▶ Err(TooMany)
//!           ├─▶ a (method, URL) already visited ──▶ Err(Loop)
//!           └─▶ Follow { url, method, drop_body, cross_origin }
//! ```

use std::fmt;

use http::{Method, StatusCode, Uri};

use crate::url::{resolve, Target};

/// What to do with a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Hand the response to the caller.
    Deliver,
    /// Send a new request.
    Follow(Follow),
}

/// The next request of a redirect chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follow {
    /// Absolute URL to request.
    pub url: Uri,
    /// Method to use (303, and 301/302 after POST, switch to GET).
    pub method: Method,
    /// True when the body (and its `Content-*` headers) must be dropped.
    pub drop_body: bool,
    /// True when the new URL has another origin: credentials (`Authorization`, `Cookie`,
    /// `Proxy-Authorization`) must not follow.
    pub cross_origin: bool,
}

/// Why a redirect chain was abandoned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectError {
    /// More than the allowed number of redirects.
    TooMany(usize),
    /// The chain came back to a request it already made.
    Loop(String),
    /// `Location` is not a usable URL.
    BadLocation(String),
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectError::TooMany(n) => write!(f, "too many redirects (more than {n})"),
            RedirectError::Loop(url) => write!(f, "redirect loop back to {url}"),
            RedirectError::BadLocation(loc) => write!(f, "unusable redirect location {loc:?}"),
        }
    }
}

impl std::error::Error for RedirectError {}

/// The state of one request's redirect chain.
#[derive(Debug, Clone)]
pub struct Redirects {
    max: usize,
    followed: usize,
    /// The requests of the chain, the first one included; empty (nothing copied, no allocation) until the
    /// first redirect, as most requests are not redirected.
    visited: Vec<(Method, Uri)>,
}

impl Redirects {
    /// A chain that follows at most `max` redirects. Its first request is the one the first
    /// [`Redirects::on_response`] call names.
    pub fn new(max: usize) -> Self {
        Redirects { max, followed: 0, visited: Vec::new() }
    }

    /// Redirects followed so far.
    pub fn followed(&self) -> usize {
        self.followed
    }

    /// Decides about a response to `method url`. `body_replayable` is false for a streamed body that was
    /// already consumed.
    pub fn on_response(
        &mut self,
        method: &Method,
        url: &Uri,
        status: StatusCode,
        location: Option<&[u8]>,
        body_replayable: bool,
    ) -> Result<Decision, RedirectError> {
        let (new_method, drop_body) = match status.as_u16() {
            301 | 302 if *method == Method::POST => (Method::GET, true),
            301 | 302 => (method.clone(), false),
            303 if *method == Method::HEAD => (Method::HEAD, true),
            303 => (Method::GET, true),
            307 | 308 => (method.clone(), false),
            _ => return Ok(Decision::Deliver),
        };
        let Some(location) = location else { return Ok(Decision::Deliver) };
        if !drop_body && !body_replayable {
            return Ok(Decision::Deliver);
        }
        // Visible ASCII only: anything else must arrive percent-encoded (RFC 3986).
        let location = std::str::from_utf8(location)
            .ok()
            .filter(|l| l.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)))
            .ok_or_else(|| RedirectError::BadLocation(String::from_utf8_lossy(location).into_owned()))?;
        let next = resolve(url, location).map_err(|_| RedirectError::BadLocation(location.to_owned()))?;
        let next_target = Target::from_uri(&next).map_err(|_| RedirectError::BadLocation(location.to_owned()))?;
        if self.followed >= self.max {
            return Err(RedirectError::TooMany(self.max));
        }
        if self.visited.is_empty() {
            self.visited.push((method.clone(), url.clone()));
        }
        let seen = |(m, u): &(Method, Uri)| *m == new_method && *u == next;
        if self.visited.iter().any(seen) {
            return Err(RedirectError::Loop(next.to_string()));
        }
        let cross_origin = Target::from_uri(url).map(|t| t.key != next_target.key).unwrap_or(true);
        self.followed += 1;
        self.visited.push((new_method.clone(), next.clone()));
        Ok(Decision::Follow(Follow { url: next, method: new_method, drop_body, cross_origin }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(s: &'static str) -> Option<&'static [u8]> {
        Some(s.as_bytes())
    }

    #[test]
    fn method_rules() {
        let url: Uri = "http://a/x".parse().unwrap();
        let mut r = Redirects::new(10);
        let Decision::Follow(f) = r.on_response(&Method::POST, &url, StatusCode::FOUND, loc("/y"), true).unwrap()
        else {
            panic!()
        };
        assert_eq!((f.method, f.drop_body, f.cross_origin), (Method::GET, true, false));
        assert_eq!(f.url.to_string(), "http://a/y");
        let Decision::Follow(f) =
            r.on_response(&Method::PUT, &url, StatusCode::TEMPORARY_REDIRECT, loc("http://b/z"), true).unwrap()
        else {
            panic!()
        };
        assert_eq!((f.method, f.drop_body, f.cross_origin), (Method::PUT, false, true));
        assert_eq!(
            r.on_response(&Method::PUT, &url, StatusCode::PERMANENT_REDIRECT, loc("/q"), false).unwrap(),
            Decision::Deliver
        );
        assert_eq!(r.on_response(&Method::GET, &url, StatusCode::OK, loc("/q"), true).unwrap(), Decision::Deliver);
        assert_eq!(r.on_response(&Method::GET, &url, StatusCode::FOUND, None, true).unwrap(), Decision::Deliver);
    }

    #[test]
    fn loops_and_limits() {
        let a: Uri = "http://h/a".parse().unwrap();
        let b: Uri = "http://h/b".parse().unwrap();
        let mut r = Redirects::new(10);
        assert!(matches!(r.on_response(&Method::GET, &a, StatusCode::FOUND, loc("/b"), true), Ok(Decision::Follow(_))));
        assert!(matches!(
            r.on_response(&Method::GET, &b, StatusCode::FOUND, loc("/a"), true),
            Err(RedirectError::Loop(_))
        ));
        // Straight back to the first request.
        let mut r = Redirects::new(10);
        assert!(matches!(
            r.on_response(&Method::GET, &a, StatusCode::FOUND, loc("/a"), true),
            Err(RedirectError::Loop(_))
        ));
        let mut r = Redirects::new(1);
        assert!(matches!(r.on_response(&Method::GET, &a, StatusCode::FOUND, loc("/b"), true), Ok(Decision::Follow(_))));
        assert!(matches!(
            r.on_response(&Method::GET, &b, StatusCode::FOUND, loc("/c"), true),
            Err(RedirectError::TooMany(1))
        ));
        assert!(matches!(
            r.on_response(&Method::GET, &b, StatusCode::FOUND, loc("ftp://x/"), true),
            Err(RedirectError::BadLocation(_))
        ));
    }
}
