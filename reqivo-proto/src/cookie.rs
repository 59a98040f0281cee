//! Cookies (RFC 6265): parsing `Set-Cookie`, storing, and the `Cookie` header a request carries.
//!
//! A [`CookieJar`] is plain data. The caller passes the request's scheme, host and path and the current
//! time (`now`) into every call; the jar reads no clock.
//!
//! ```text
//! response ── Set-Cookie ──▶ store(scheme, host, path, value, now) ──▶ Stored / Replaced / Deleted / Rejected
//! request  ◀── Cookie ────── cookie_header(scheme, host, path, now)
//! ```
//!
//! Set-Cookie values come from the network and are hostile input: nothing here panics on them, a cookie's
//! name and value together may not exceed [`MAX_COOKIE_SIZE`] bytes, an attribute value over
//! [`MAX_ATTRIBUTE_SIZE`] bytes is ignored, and the jar holds at most [`MAX_PER_DOMAIN`] cookies per
//! domain and [`MAX_COOKIES`] in all (expired cookies go first, then the oldest).
//!
//! Known gap: there is no public-suffix list. A `Domain` attribute without a dot (`com`, `localhost`) is
//! refused unless it is the request host itself (then the cookie is host-only), but `Domain=co.uk` from
//! `a.co.uk` is accepted.

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Largest `name` + `value` of one cookie, in bytes (RFC 6265 §6.1 asks for at least 4096); a bigger
/// cookie is ignored.
pub const MAX_COOKIE_SIZE: usize = 4096;
/// Largest attribute value (`Path`, `Domain`, `Expires`, …) in bytes; a longer attribute is ignored.
pub const MAX_ATTRIBUTE_SIZE: usize = 1024;
/// Most cookies kept per domain (RFC 6265 §6.1 asks for at least 50).
pub const MAX_PER_DOMAIN: usize = 50;
/// Most cookies kept in one jar (RFC 6265 §6.1 asks for at least 3000).
pub const MAX_COOKIES: usize = 3000;

/// The longest lifetime a `Max-Age` may give (about 400 years): keeps `now + Max-Age` representable.
const MAX_AGE_CAP: u64 = 400 * 365 * 24 * 3600;

/// One stored cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    value: String,
    domain: String,
    path: String,
    expires: Option<SystemTime>,
    host_only: bool,
    secure: bool,
    http_only: bool,
    created: SystemTime,
    /// Creation order: ties of `created` (several cookies from one response) keep their order, and a
    /// clock stepping back cannot reorder them.
    seq: u64,
}

impl Cookie {
    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The cookie's value.
    pub fn value(&self) -> &str {
        &self.value
    }
    /// The domain it is sent to (lower case, no leading dot): exactly this host when
    /// [`host_only`](Self::host_only), else this domain and its subdomains.
    pub fn domain(&self) -> &str {
        &self.domain
    }
    /// The path it is sent to (and below).
    pub fn path(&self) -> &str {
        &self.path
    }
    /// When it expires; `None` for a session cookie (kept as long as the jar).
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires
    }
    /// True when the response set no `Domain`: sent to the exact host only.
    pub fn host_only(&self) -> bool {
        self.host_only
    }
    /// Sent over `https`/`wss` only.
    pub fn secure(&self) -> bool {
        self.secure
    }
    /// Marked `HttpOnly` (meaningful to browsers; an HTTP client sends it like any other).
    pub fn http_only(&self) -> bool {
        self.http_only
    }
    /// When it was first stored (a replacement keeps the first creation time).
    pub fn created(&self) -> SystemTime {
        self.created
    }

    fn expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }

    fn same_key(&self, other: &Cookie) -> bool {
        self.name == other.name && self.domain == other.domain && self.path == other.path
    }
}

/// What [`CookieJar::store`] did with one `Set-Cookie` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A new cookie.
    New,
    /// Replaced a cookie with the same name, domain and path (its creation time kept).
    Replaced,
    /// The cookie had expired (or `Max-Age` <= 0): a stored one with the same name, domain and path was
    /// removed, if any.
    Deleted,
    /// Ignored, for this reason.
    Rejected(Rejected),
}

/// Why a `Set-Cookie` value was ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// No `=`, an empty name, control characters, or bytes that are not UTF-8.
    Malformed,
    /// Name and value longer than [`MAX_COOKIE_SIZE`].
    TooLarge,
    /// The `Domain` attribute does not cover the request host, names a top-level domain, or the host is
    /// an IP address and the attribute is another name.
    Domain,
}

/// The cookies of one session (RFC 6265 §5.3). See the [module docs](self).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use reqivo_proto::cookie::{CookieJar, Stored};
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let mut jar = CookieJar::new();
/// let set = jar.store("https", "www.example.com", "/login", b"sid=42; Path=/; Secure; HttpOnly", now);
/// assert_eq!(set, Stored::New);
/// assert_eq!(jar.cookie_header("https", "www.example.com", "/account", now).as_deref(), Some("sid=42"));
/// assert_eq!(jar.cookie_header("http", "www.example.com", "/account", now), None); // Secure
/// ```
#[derive(Debug, Clone, Default)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
    next_seq: u64,
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    /// How many cookies are stored (expired ones not yet removed included).
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// True when no cookie is stored.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// The stored cookies, oldest first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Cookie> + '_ {
        self.cookies.iter()
    }

    /// Removes every cookie.
    pub fn clear(&mut self) {
        self.cookies.clear();
    }

    /// Removes the cookies that have expired by `now`.
    pub fn remove_expired(&mut self, now: SystemTime) {
        self.cookies.retain(|c| !c.expired(now));
    }

    /// Removes the cookies named `name` stored for `domain` (any case, a leading dot ignored), any path;
    /// returns how many.
    pub fn remove(&mut self, name: &str, domain: &str) -> usize {
        let domain = canonical_host(domain.strip_prefix('.').unwrap_or(domain));
        let before = self.cookies.len();
        self.cookies.retain(|c| !(c.name == name && c.domain == domain));
        before - self.cookies.len()
    }

    /// Stores one `Set-Cookie` field value received in the response to a request for
    /// `scheme://host/path` (RFC 6265 §5.2 parsing, §5.3 storage). `path` is the request's path without
    /// the query.
    pub fn store(&mut self, scheme: &str, host: &str, path: &str, set_cookie: &[u8], now: SystemTime) -> Stored {
        let _ = scheme; // RFC 6265 lets any origin set a Secure cookie; kept for the 6265bis rule later.
        let parsed = match parse(set_cookie, now) {
            Ok(p) => p,
            Err(r) => return Stored::Rejected(r),
        };
        let host = canonical_host(host);
        let (domain, host_only) = match parsed.domain {
            None => (host.clone(), true),
            Some(d) if d == host => (host.clone(), is_ip(&host) || !d.contains('.')),
            // No public-suffix list: at least a bare top-level name (no dot) is refused.
            Some(d) if !d.contains('.') || is_ip(&host) => return Stored::Rejected(Rejected::Domain),
            Some(d) if domain_match(&host, &d) => (d, false),
            Some(_) => return Stored::Rejected(Rejected::Domain),
        };
        let path = match parsed.path {
            Some(p) => p,
            None => default_path(path).to_owned(),
        };
        let mut cookie = Cookie {
            name: parsed.name,
            value: parsed.value,
            domain,
            path,
            expires: parsed.expires,
            host_only,
            secure: parsed.secure,
            http_only: parsed.http_only,
            created: now,
            seq: self.next_seq,
        };
        let old = self.cookies.iter().position(|c| c.same_key(&cookie));
        if cookie.expired(now) {
            if let Some(i) = old {
                self.cookies.remove(i);
            }
            return Stored::Deleted;
        }
        let stored = match old {
            Some(i) => {
                let old = self.cookies.remove(i);
                cookie.created = old.created;
                cookie.seq = old.seq;
                Stored::Replaced
            }
            None => {
                self.next_seq += 1;
                self.make_room(&cookie.domain, now);
                Stored::New
            }
        };
        // Kept in creation order, so `cookie_header`'s tie-break and eviction need no extra sort key.
        let at = self.cookies.partition_point(|c| c.seq < cookie.seq);
        self.cookies.insert(at, cookie);
        stored
    }

    /// Frees a place for one more cookie of `domain`: expired cookies first, then the oldest of the
    /// domain when it is full, then the oldest overall when the jar is full.
    fn make_room(&mut self, domain: &str, now: SystemTime) {
        let in_domain = |c: &Cookie| c.domain == domain;
        if self.cookies.len() >= MAX_COOKIES || self.cookies.iter().filter(|c| in_domain(c)).count() >= MAX_PER_DOMAIN {
            self.remove_expired(now);
        }
        if self.cookies.iter().filter(|c| in_domain(c)).count() >= MAX_PER_DOMAIN {
            if let Some(i) = self.cookies.iter().position(in_domain) {
                self.cookies.remove(i);
            }
        }
        if self.cookies.len() >= MAX_COOKIES {
            self.cookies.remove(0);
        }
    }

    /// The `Cookie` header value for a request to `scheme://host/path` (RFC 6265 §5.4): the unexpired
    /// cookies whose domain and path match, `Secure` ones only over `https`/`wss`, longer paths first,
    /// then earlier created. `None` when no cookie applies. `path` is the request's path without the query.
    pub fn cookie_header(&self, scheme: &str, host: &str, path: &str, now: SystemTime) -> Option<String> {
        if self.cookies.is_empty() {
            return None;
        }
        let secure = scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("wss");
        let path = if path.is_empty() { "/" } else { path };
        let lower;
        let host = if host.ends_with('.') || host.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = canonical_host(host);
            lower.as_str()
        } else {
            host
        };
        let mut hits: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| {
                (secure || !c.secure)
                    && !c.expired(now)
                    && if c.host_only { c.domain == host } else { domain_match(host, &c.domain) }
                    && path_match(path, &c.path)
            })
            .collect();
        if hits.is_empty() {
            return None;
        }
        // Stable: equal path lengths stay in creation order.
        hits.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        let mut out = String::with_capacity(hits.iter().map(|c| c.name.len() + c.value.len() + 3).sum());
        for c in hits {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(&c.name);
            out.push('=');
            out.push_str(&c.value);
        }
        Some(out)
    }
}

/// A host lower-cased, a trailing dot dropped (`Example.COM.` and `example.com` are one host).
fn canonical_host(host: &str) -> String {
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// An IPv4 address, or an IPv6 literal (`[::1]`, or bare with colons).
fn is_ip(host: &str) -> bool {
    host.starts_with('[') || host.contains(':') || host.parse::<Ipv4Addr>().is_ok()
}

/// RFC 6265 §5.1.3 (both arguments canonical).
fn domain_match(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
            && !is_ip(host))
}

/// RFC 6265 §5.1.4: the directory of the request path.
pub fn default_path(path: &str) -> &str {
    if !path.starts_with('/') {
        return "/";
    }
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// RFC 6265 §5.1.4 path-match.
pub fn path_match(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// One parsed `Set-Cookie` value, before the request decides domain and path.
struct Parsed {
    name: String,
    value: String,
    expires: Option<SystemTime>,
    domain: Option<String>,
    path: Option<String>,
    secure: bool,
    http_only: bool,
}

/// RFC 6265 §5.2.
fn parse(line: &[u8], now: SystemTime) -> Result<Parsed, Rejected> {
    let (pair, attributes) = match line.iter().position(|&b| b == b';') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[][..]),
    };
    let eq = pair.iter().position(|&b| b == b'=').ok_or(Rejected::Malformed)?;
    let name = trim(&pair[..eq]);
    let value = trim(&pair[eq + 1..]);
    if name.is_empty() {
        return Err(Rejected::Malformed);
    }
    if name.len() + value.len() > MAX_COOKIE_SIZE {
        return Err(Rejected::TooLarge);
    }
    // Control characters could not go out again in a header (and the caller may store by hand).
    if name.iter().chain(value).any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(Rejected::Malformed);
    }
    let text = |b: &[u8]| std::str::from_utf8(b).map(str::to_owned).map_err(|_| Rejected::Malformed);
    let mut parsed = Parsed {
        name: text(name)?,
        value: text(value)?,
        expires: None,
        domain: None,
        path: None,
        secure: false,
        http_only: false,
    };
    let mut max_age = None;
    let mut expires = None;
    for attribute in attributes.split(|&b| b == b';') {
        let (key, val) = match attribute.iter().position(|&b| b == b'=') {
            Some(i) => (trim(&attribute[..i]), trim(&attribute[i + 1..])),
            None => (trim(attribute), &[][..]),
        };
        if val.len() > MAX_ATTRIBUTE_SIZE {
            continue;
        }
        // The last of each attribute wins (§5.3: "the last attribute in the list").
        if key.eq_ignore_ascii_case(b"expires") {
            if let Some(t) = parse_date(val) {
                expires = Some(t);
            }
        } else if key.eq_ignore_ascii_case(b"max-age") {
            if let Some(t) = parse_max_age(val, now) {
                max_age = Some(t);
            }
        } else if key.eq_ignore_ascii_case(b"domain") {
            // An empty Domain is undefined in RFC 6265; ignoring it (host-only) is the safe reading.
            let d = val.strip_prefix(b".").unwrap_or(val);
            if !d.is_empty() {
                if let Ok(d) = std::str::from_utf8(d) {
                    parsed.domain = Some(canonical_host(d));
                }
            }
        } else if key.eq_ignore_ascii_case(b"path") {
            parsed.path = match val.first() {
                Some(b'/') => std::str::from_utf8(val).ok().map(str::to_owned),
                _ => None,
            };
        } else if key.eq_ignore_ascii_case(b"secure") {
            parsed.secure = true;
        } else if key.eq_ignore_ascii_case(b"httponly") {
            parsed.http_only = true;
        }
        // Anything else (SameSite, Priority, Partitioned, …) is ignored.
    }
    parsed.expires = max_age.or(expires);
    Ok(parsed)
}

fn trim(b: &[u8]) -> &[u8] {
    let is_ws = |c: &u8| *c == b' ' || *c == b'\t';
    let start = b.iter().position(|c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ws(c)).map_or(start, |i| i + 1);
    &b[start..end]
}

/// RFC 6265 §5.2.2: `-`? DIGIT+ seconds; zero or less means "already expired".
fn parse_max_age(val: &[u8], now: SystemTime) -> Option<SystemTime> {
    let (negative, digits) = match val.first()? {
        b'-' => (true, &val[1..]),
        _ => (false, val),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let seconds = digits.iter().fold(0u64, |n, d| n.saturating_mul(10).saturating_add(u64::from(d - b'0')));
    if negative || seconds == 0 {
        return Some(UNIX_EPOCH);
    }
    now.checked_add(Duration::from_secs(seconds.min(MAX_AGE_CAP))).or(Some(now))
}

/// RFC 6265 §5.1.1, the cookie date algorithm: lenient about the form (RFC 1123, RFC 850, asctime and
/// what servers make of them), strict about the values.
pub fn parse_date(input: &[u8]) -> Option<SystemTime> {
    let is_delimiter = |b: u8| matches!(b, 0x09 | 0x20..=0x2F | 0x3B..=0x40 | 0x5B..=0x60 | 0x7B..=0x7E);
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for token in input.split(|&b| is_delimiter(b)).filter(|t| !t.is_empty()) {
        if time.is_none() {
            if let Some(t) = parse_time(token) {
                time = Some(t);
                continue;
            }
        }
        if day.is_none() {
            if let Some(d) = leading_number(token, 1, 2) {
                day = Some(d);
                continue;
            }
        }
        if month.is_none() {
            if let Some(m) = parse_month(token) {
                month = Some(m);
                continue;
            }
        }
        if year.is_none() {
            if let Some(y) = leading_number(token, 2, 4) {
                year = Some(y);
                continue;
            }
        }
    }
    let ((hour, minute, second), day, month, mut year) = (time?, day?, month?, year?);
    year += match year {
        70..=99 => 1900,
        0..=69 => 2000,
        _ => 0,
    };
    if year < 1601 || hour > 23 || minute > 59 || second > 59 || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let seconds = days * 86400 + i64::from(hour * 3600 + minute * 60 + second);
    match u64::try_from(seconds) {
        Ok(s) => UNIX_EPOCH.checked_add(Duration::from_secs(s)),
        Err(_) => UNIX_EPOCH.checked_sub(Duration::from_secs(seconds.unsigned_abs())).or(Some(UNIX_EPOCH)),
    }
}

/// `min..=max` digits at the start of `token`, followed by the end or a non-digit.
fn leading_number(token: &[u8], min: usize, max: usize) -> Option<u32> {
    let n = token.iter().take_while(|b| b.is_ascii_digit()).count();
    if n < min || n > max {
        return None;
    }
    Some(token[..n].iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// `hms-time`: 1*2DIGIT ":" 1*2DIGIT ":" 1*2DIGIT, then the end or a non-digit.
fn parse_time(token: &[u8]) -> Option<(u32, u32, u32)> {
    let mut rest = token;
    let mut parts = [0u32; 3];
    for (i, part) in parts.iter_mut().enumerate() {
        let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=2).contains(&n) {
            return None;
        }
        *part = rest[..n].iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0'));
        rest = &rest[n..];
        if i < 2 {
            rest = rest.strip_prefix(b":")?;
        }
    }
    Some((parts[0], parts[1], parts[2]))
}

fn parse_month(token: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] =
        [b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"];
    let prefix = token.get(..3)?;
    MONTHS.iter().position(|m| prefix.eq_ignore_ascii_case(*m)).map(|i| i as u32 + 1)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests;
