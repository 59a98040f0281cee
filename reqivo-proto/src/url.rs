//! URL handling over [`http::Uri`]: splitting an absolute URL into what the connection needs, resolving
//! relative references (RFC 3986 §5.2, for `base_url` and redirects), and query/form encoding.

use std::fmt;
use std::sync::Arc;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::Uri;

use crate::pool::PoolKey;

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(String);

impl UrlError {
    fn new(msg: impl Into<String>) -> Self {
        UrlError(msg.into())
    }
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlError {}

/// The parts of an absolute `http`, `https`, `ws` or `wss` URL that a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where to connect (scheme class, host, port).
    pub key: PoolKey,
    /// The origin-form request target: path and query, at least `/`. Shares the URL's bytes.
    pub path_and_query: PathAndQuery,
    /// The `Host` header value: the host, with `:port` when not the scheme's default.
    pub host_header: Arc<str>,
    /// The scheme and authority as written: a later URL with the same ones has the same origin.
    scheme: Scheme,
    authority: Authority,
}

/// The default port of a scheme we speak, or `None` when we do not speak it.
fn default_port(scheme: &str) -> Option<(u16, bool)> {
    match scheme {
        "http" | "ws" => Some((80, false)),
        "https" | "wss" => Some((443, true)),
        _ => None,
    }
}

impl Target {
    /// Splits an absolute URL. Userinfo (`user:pass@`) is refused: credentials belong in headers.
    pub fn from_uri(uri: &Uri) -> Result<Target, UrlError> {
        Target::from_uri_after(uri, None)
    }

    /// [`Target::from_uri`], sharing the pool key and `Host` of `previous` when `uri` has the same scheme
    /// and authority (compared as `http` does, ignoring ASCII case): most requests of a session go to one
    /// origin, and then nothing but the path is taken from the URL.
    pub fn from_uri_after(uri: &Uri, previous: Option<&Target>) -> Result<Target, UrlError> {
        if let (Some(prev), Some(scheme), Some(authority)) = (previous, uri.scheme(), uri.authority()) {
            // The authority was accepted for `previous`, and a case-insensitive match splits the same way.
            // (`Authority`'s own `==` compares byte by byte after lowering both: try the exact match first.)
            let (a, b) = (prev.authority.as_str(), authority.as_str());
            if prev.scheme == *scheme && (a == b || a.eq_ignore_ascii_case(b)) {
                return Ok(Target { path_and_query: origin_form(uri)?, ..prev.clone() });
            }
        }
        let scheme = uri.scheme().ok_or_else(|| UrlError::new("URL has no scheme"))?;
        let (default, tls) =
            default_port(scheme.as_str()).or_else(|| default_port(&scheme.as_str().to_ascii_lowercase())).ok_or_else(
                || UrlError::new(format!("unsupported URL scheme {:?}", scheme.as_str().to_ascii_lowercase())),
            )?;
        let authority = uri.authority().ok_or_else(|| UrlError::new("URL has no host"))?;
        if authority.as_str().contains('@') {
            return Err(UrlError::new("credentials in the URL are not supported; use a header"));
        }
        let (host, port) = split_authority(authority.as_str());
        if host.is_empty() {
            return Err(UrlError::new("URL has an empty host"));
        }
        let port = port.unwrap_or(default);
        let mut host_header = String::with_capacity(host.len() + 6);
        host_header.push_str(host);
        host_header.make_ascii_lowercase();
        let bare_host = Arc::from(host_header.trim_start_matches('[').trim_end_matches(']'));
        if port != default {
            host_header.push(':');
            // Digits are ASCII.
            host_header.extend(crate::decimal::decimal(port.into(), &mut [0; 20]).iter().map(|&d| char::from(d)));
        }
        Ok(Target {
            key: PoolKey { tls, host: bare_host, port },
            path_and_query: origin_form(uri)?,
            host_header: Arc::from(host_header),
            scheme: scheme.clone(),
            authority: authority.clone(),
        })
    }
}

/// The origin-form target of an absolute URL: its path and query, at least `/`.
fn origin_form(uri: &Uri) -> Result<PathAndQuery, UrlError> {
    match uri.path_and_query() {
        Some(pq) if pq.as_str().starts_with('/') => Ok(pq.clone()),
        Some(pq) => PathAndQuery::try_from(format!("/{}", pq.as_str()))
            .map_err(|e| UrlError::new(format!("invalid path {:?}: {e}", pq.as_str()))),
        None => Ok(PathAndQuery::from_static("/")),
    }
}

/// The host (IPv6 literals keep their brackets) and the port of an authority without userinfo: what
/// `Authority::host` and `Authority::port_u16` give, in one pass and without their general parsing.
/// An empty or unparsable port is `None`, as with `port_u16`.
fn split_authority(authority: &str) -> (&str, Option<u16>) {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(i) => (&authority[..=i], authority[i + 1..].strip_prefix(':')),
            None => (authority, None),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    (host, port.and_then(|p| p.parse().ok()))
}

/// Resolves `reference` against the absolute `base` (RFC 3986 §5.2). An absolute reference is returned
/// as is (normalised).
pub fn resolve(base: &Uri, reference: &str) -> Result<Uri, UrlError> {
    let reference = reference.trim();
    if has_scheme(reference) {
        return reference.parse::<Uri>().map_err(|e| UrlError::new(format!("invalid URL {reference:?}: {e}")));
    }
    let scheme = base.scheme_str().ok_or_else(|| UrlError::new("base URL has no scheme"))?;
    let base_authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    // Drop the fragment: it never goes on the wire.
    let reference = reference.split('#').next().unwrap_or("");
    let joined = if let Some(rest) = reference.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else {
        let (ref_path, ref_query) = match reference.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (reference, None),
        };
        let base_path = base.path();
        let (path, query) = if ref_path.is_empty() {
            (base_path.to_owned(), ref_query.map(str::to_owned).or_else(|| base.query().map(str::to_owned)))
        } else if ref_path.starts_with('/') {
            (remove_dot_segments(ref_path), ref_query.map(str::to_owned))
        } else {
            let merged = match base_path.rfind('/') {
                Some(i) => format!("{}{}", &base_path[..=i], ref_path),
                None => format!("/{ref_path}"),
            };
            (remove_dot_segments(&merged), ref_query.map(str::to_owned))
        };
        let path = if path.is_empty() { "/".to_owned() } else { path };
        match query {
            Some(q) => format!("{scheme}://{base_authority}{path}?{q}"),
            None => format!("{scheme}://{base_authority}{path}"),
        }
    };
    joined.parse::<Uri>().map_err(|e| UrlError::new(format!("invalid URL {joined:?}: {e}")))
}

fn has_scheme(s: &str) -> bool {
    let Some(colon) = s.find(':') else { return false };
    let scheme = &s[..colon];
    !scheme.is_empty()
        && scheme.as_bytes()[0].is_ascii_alphabetic()
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if path.starts_with('/') && !joined.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Percent-encodes `s` for a query component or an `application/x-www-form-urlencoded` body
/// (space as `+`, unreserved characters kept).
pub fn form_encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
    }
}

/// Encodes name/value pairs as `a=1&b=2`.
pub fn form_encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        form_encode_into(&mut out, name);
        out.push('=');
        form_encode_into(&mut out, value);
    }
    out
}

/// Appends encoded pairs to the query of `uri`.
pub fn append_query(uri: &Uri, encoded_pairs: &str) -> Result<Uri, UrlError> {
    if encoded_pairs.is_empty() {
        return Ok(uri.clone());
    }
    let s = uri.to_string();
    let (without_fragment, _) = s.split_once('#').unwrap_or((&s, ""));
    let sep = if uri.query().is_some_and(|q| !q.is_empty()) {
        "&"
    } else if without_fragment.ends_with('?') {
        ""
    } else {
        "?"
    };
    let joined = format!("{without_fragment}{sep}{encoded_pairs}");
    joined.parse::<Uri>().map_err(|e| UrlError::new(format!("invalid URL {joined:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(base: &str, reference: &str) -> String {
        resolve(&base.parse().unwrap(), reference).unwrap().to_string()
    }

    #[test]
    fn rfc3986_examples() {
        let base = "http://a/b/c/d;p?q";
        assert_eq!(r(base, "g"), "http://a/b/c/g");
        assert_eq!(r(base, "./g"), "http://a/b/c/g");
        assert_eq!(r(base, "g/"), "http://a/b/c/g/");
        assert_eq!(r(base, "/g"), "http://a/g");
        assert_eq!(r(base, "//g"), "http://g/");
        assert_eq!(r(base, "?y"), "http://a/b/c/d;p?y");
        assert_eq!(r(base, "g?y"), "http://a/b/c/g?y");
        assert_eq!(r(base, ""), "http://a/b/c/d;p?q");
        assert_eq!(r(base, "."), "http://a/b/c/");
        assert_eq!(r(base, ".."), "http://a/b/");
        assert_eq!(r(base, "../g"), "http://a/b/g");
        assert_eq!(r(base, "../../g"), "http://a/g");
        assert_eq!(r(base, "../../../g"), "http://a/g");
        assert_eq!(r(base, "g#s"), "http://a/b/c/g");
        assert_eq!(r(base, "https://x:8443/y"), "https://x:8443/y");
    }

    #[test]
    fn target_parts() {
        let t = Target::from_uri(&"http://Example.com:8080/a?b=1".parse().unwrap()).unwrap();
        assert_eq!(t.key, PoolKey { tls: false, host: "example.com".into(), port: 8080 });
        assert_eq!(t.path_and_query, "/a?b=1");
        assert_eq!(&*t.host_header, "example.com:8080");
        let t = Target::from_uri(&"https://[::1]".parse().unwrap()).unwrap();
        assert_eq!(t.key, PoolKey { tls: true, host: "::1".into(), port: 443 });
        assert_eq!(&*t.host_header, "[::1]");
        assert_eq!(t.path_and_query, "/");
        assert!(Target::from_uri(&"ftp://x/".parse().unwrap()).is_err());
        assert!(Target::from_uri(&"http://u:p@x/".parse().unwrap()).is_err());
        assert!(Target::from_uri(&"/relative".parse().unwrap()).is_err());
    }

    #[test]
    fn target_after_shares_the_origin_of_the_same_authority() {
        let split = |url: &str, prev: Option<&Target>| Target::from_uri_after(&url.parse().unwrap(), prev);
        let first = split("http://Example.com:8080/a", None).unwrap();
        let next = split("http://example.COM:8080/b?c", Some(&first)).unwrap();
        assert!(Arc::ptr_eq(&next.host_header, &first.host_header) && Arc::ptr_eq(&next.key.host, &first.key.host));
        assert_eq!(next.path_and_query, "/b?c");
        assert_eq!(next, Target::from_uri(&"http://example.com:8080/b?c".parse().unwrap()).unwrap());
        // Anything else is split afresh, and gives what `from_uri` gives.
        for url in [
            "http://example.com/b",
            "http://example.com:80/b",
            "http://example.com:8081/b",
            "https://example.com:8080/b",
            "ws://example.com:8080/b",
            "http://other.example:8080/b",
            "http://[::1]:8080/b",
        ] {
            let t = split(url, Some(&first)).unwrap();
            assert!(!Arc::ptr_eq(&t.host_header, &first.host_header), "{url}");
            assert_eq!(t, Target::from_uri(&url.parse().unwrap()).unwrap(), "{url}");
        }
        for bad in ["http://u@example.com:8080/", "ftp://example.com:8080/", "/relative", "http://:8080/"] {
            let uri: Uri = bad.parse().unwrap();
            assert!(Target::from_uri_after(&uri, Some(&first)).is_err(), "{bad}");
        }
    }

    #[test]
    fn encoding() {
        assert_eq!(form_encode([("a b", "c&d"), ("é", "x=y")]), "a+b=c%26d&%C3%A9=x%3Dy");
        let u: Uri = "http://h/p?x=1".parse().unwrap();
        assert_eq!(append_query(&u, "y=2").unwrap().to_string(), "http://h/p?x=1&y=2");
        let u: Uri = "http://h/p".parse().unwrap();
        assert_eq!(append_query(&u, "y=2").unwrap().to_string(), "http://h/p?y=2");
    }
}
