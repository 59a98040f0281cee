//! Turns the options into what every request sends: method, headers, body, and session settings.
//! Shared by the async and the blocking loop so both send exactly the same thing.

use std::io::Read;
use std::time::Duration;

use reqivo::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, ACCEPT_ENCODING, CONTENT_TYPE, USER_AGENT};
use reqivo::{Driver, Method, RequestBuilder, SessionBuilder, Uri};

use crate::args::{Data, Options};
use crate::failure::Failure;

/// Set explicitly (not left to the library default) so `-v` shows exactly what goes on the wire.
pub const USER_AGENT_VALUE: &str = concat!("reqivo/", env!("CARGO_PKG_VERSION"));
const ACCEPT_DEFAULT: &str = "*/*";

/// The request every URL gets.
pub struct Plan {
    pub method: Method,
    pub urls: Vec<String>,
    /// The request's own headers (`-H`, then those implied by `-d`/`--json`), in sending order.
    pub headers: HeaderMap,
    /// Leaked once so every URL can send it without a copy (`&'static [u8]` converts to `Bytes` for free).
    pub body: Option<&'static [u8]>,
    pub timeout: Option<Duration>,
    pub gzip: bool,
}

impl Plan {
    pub fn new(opts: &Options) -> Result<Plan, Failure> {
        let mut headers = HeaderMap::new();
        for (name, value) in &opts.headers {
            headers.append(name.clone(), value.clone());
        }
        let body = if let Some(json) = &opts.json {
            set_default(&mut headers, CONTENT_TYPE, "application/json");
            set_default(&mut headers, ACCEPT, "application/json");
            Some(read_data(json)?)
        } else if !opts.data.is_empty() {
            set_default(&mut headers, CONTENT_TYPE, "application/x-www-form-urlencoded");
            let mut joined = Vec::new();
            for (i, data) in opts.data.iter().enumerate() {
                if i > 0 {
                    joined.push(b'&');
                }
                joined.extend_from_slice(&read_data(data)?);
            }
            Some(joined)
        } else {
            None
        };
        let method = match (&opts.method, &body) {
            (Some(m), _) => m.clone(),
            (None, Some(_)) => Method::POST,
            (None, None) => Method::GET,
        };
        Ok(Plan {
            method,
            urls: opts.urls.clone(),
            headers,
            body: body.map(|b| &*Vec::leak(b)),
            timeout: opts.timeout,
            gzip: opts.compressed,
        })
    }

    /// Adds this plan's headers, body and deadline to a request of either session type.
    pub fn apply<'s, S: Driver>(&self, mut req: RequestBuilder<'s, S>) -> RequestBuilder<'s, S> {
        req = req.headers(self.headers.clone());
        if let Some(body) = self.body {
            req = req.body(body);
        }
        if let Some(t) = self.timeout {
            req = req.timeout(t);
        }
        req
    }

    /// The request head as it goes on the wire, for `-v`: the library writes `Host` first, then the
    /// session defaults the request does not override, then the request's own headers, then the framing
    /// header. `None` when the URL does not parse (the library reports that error).
    pub fn wire_head(&self, url: &str) -> Option<WireHead> {
        let uri: Uri = url.parse().ok()?;
        let authority = uri.authority()?;
        let default_port = match uri.scheme_str()? {
            s if s.eq_ignore_ascii_case("https") => 443,
            _ => 80,
        };
        let host = authority.host().to_ascii_lowercase();
        let host = match authority.port_u16() {
            Some(p) if p != default_port => format!("{host}:{p}"),
            _ => host,
        };
        let target = match uri.path_and_query().map(|pq| pq.as_str()) {
            Some(pq) if pq.starts_with('/') => pq.to_owned(),
            Some(pq) => format!("/{pq}"),
            None => "/".to_owned(),
        };
        let mut fields: Vec<(String, Vec<u8>)> = vec![("Host".into(), host.into_bytes())];
        let mut defaults = vec![(USER_AGENT, USER_AGENT_VALUE), (ACCEPT, ACCEPT_DEFAULT)];
        if self.gzip {
            defaults.push((ACCEPT_ENCODING, "gzip"));
        }
        for (name, value) in defaults {
            if !self.headers.contains_key(&name) {
                fields.push((name.to_string(), value.as_bytes().to_vec()));
            }
        }
        for (name, value) in &self.headers {
            fields.push((name.to_string(), value.as_bytes().to_vec()));
        }
        // Mirrors the library's framing choice: a length when the body is known, and an explicit zero on
        // the methods that normally carry a body (RFC 9110 §8.6).
        match self.body {
            Some(b) => fields.push(("Content-Length".into(), b.len().to_string().into_bytes())),
            None if matches!(self.method, Method::POST | Method::PUT | Method::PATCH) => {
                fields.push(("Content-Length".into(), b"0".to_vec()))
            }
            None => {}
        }
        Some(WireHead { request_line: format!("{} {target} HTTP/1.1", self.method), fields })
    }
}

/// A reconstructed request head.
pub struct WireHead {
    pub request_line: String,
    pub fields: Vec<(String, Vec<u8>)>,
}

/// The session settings the options ask for; one function for both session types.
pub fn configure<S: Driver>(builder: SessionBuilder<S>, opts: &Options) -> SessionBuilder<S> {
    let mut b = builder
        .user_agent(USER_AGENT_VALUE)
        .default_header(ACCEPT, ACCEPT_DEFAULT)
        // Off unless asked for, so no Accept-Encoding is sent and bodies arrive as the server sent them.
        .gzip(opts.compressed)
        .follow_redirects(!opts.no_follow)
        .danger_accept_invalid_certs(opts.insecure);
    if let Some(t) = opts.connect_timeout {
        b = b.connect_timeout(t);
    }
    if let Some(n) = opts.max_body {
        b = b.max_body_size(n);
    }
    if let Some(n) = opts.max_redirects {
        b = b.max_redirects(n);
    }
    b
}

/// A header implied by `-d`/`--json`, unless a `-H` already set it (as curl does).
fn set_default(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    if !headers.contains_key(&name) {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

fn read_data(data: &Data) -> Result<Vec<u8>, Failure> {
    match data {
        Data::Literal(s) => Ok(s.clone().into_bytes()),
        Data::File(path) => {
            std::fs::read(path).map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))
        }
        Data::Stdin => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Failure::Usage(format!("cannot read the body from stdin: {e}")))?;
            Ok(buf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Plan {
        match crate::args::parse(args.iter().map(|s| s.to_string()).collect()) {
            Ok(crate::args::Command::Fetch(o)) => Plan::new(&o).unwrap(),
            _ => panic!("not a fetch"),
        }
    }

    fn fields(p: &Plan, url: &str) -> Vec<String> {
        let head = p.wire_head(url).unwrap();
        let mut lines = vec![head.request_line];
        lines.extend(head.fields.iter().map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v))));
        lines
    }

    #[test]
    fn get_head() {
        let p = plan(&["http://Example.com:80/a?b=1"]);
        assert_eq!(
            fields(&p, "http://Example.com:80/a?b=1"),
            ["GET /a?b=1 HTTP/1.1", "Host: example.com", &format!("user-agent: {USER_AGENT_VALUE}"), "accept: */*"]
        );
    }

    #[test]
    fn data_defaults_to_post_form() {
        let p = plan(&["-d", "a=1", "-d", "b=2", "--compressed", "http://h:8080"]);
        assert_eq!(p.method, Method::POST);
        assert_eq!(p.body, Some(&b"a=1&b=2"[..]));
        let f = fields(&p, "http://h:8080");
        assert_eq!(f[0], "POST / HTTP/1.1");
        assert_eq!(f[1], "Host: h:8080");
        assert!(f.contains(&"accept-encoding: gzip".to_string()));
        assert!(f.contains(&"content-type: application/x-www-form-urlencoded".to_string()));
        assert_eq!(f.last().unwrap(), "Content-Length: 7");
    }

    #[test]
    fn json_and_header_overrides() {
        let p = plan(&["put", "--json", "{}", "-H", "Content-Type: text/x-json", "http://h/"]);
        assert_eq!(p.method, Method::PUT);
        let f = fields(&p, "http://h/");
        assert!(f.contains(&"content-type: text/x-json".to_string()));
        assert!(f.contains(&"accept: application/json".to_string()));
        assert!(!f.contains(&"accept: */*".to_string()));
    }
}
