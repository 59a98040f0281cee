use super::*;

/// 2023-11-14 22:13:20 UTC.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn jar_with(host: &str, path: &str, lines: &[&str]) -> CookieJar {
    let mut jar = CookieJar::new();
    for line in lines {
        jar.store("http", host, path, line.as_bytes(), now());
    }
    jar
}

fn header(jar: &CookieJar, scheme: &str, host: &str, path: &str) -> Option<String> {
    jar.cookie_header(scheme, host, path, now())
}

#[test]
fn date_forms() {
    // 1994-11-06 08:49:37 UTC in the three forms of RFC 9110 §5.6.7, and variations servers send.
    let expected = Some(at(784_111_777));
    for form in [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Sun, 06-Nov-1994 08:49:37 GMT",
        "06 nov 1994 08:49:37",
        "Sun, 6 NOVEMBER 1994 8:49:37 GMT",
        "1994 Nov 06 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 UTC+0100 (ignored)",
    ] {
        assert_eq!(parse_date(form.as_bytes()), expected, "{form}");
    }
}

#[test]
fn date_two_digit_years_and_bounds() {
    let year_of = |s: &str| parse_date(s.as_bytes());
    // 70..=99 → 19xx, 0..=69 → 20xx.
    assert_eq!(year_of("01 Jan 70 00:00:00"), Some(UNIX_EPOCH));
    assert_eq!(year_of("01 Jan 69 00:00:00"), year_of("01 Jan 2069 00:00:00"));
    assert_eq!(year_of("01 Jan 00 00:00:00"), Some(at(946_684_800)));
    assert_eq!(year_of("29 Feb 2000 00:00:00"), Some(at(951_782_400)));
    assert_eq!(year_of("31 Dec 9999 23:59:59"), Some(at(253_402_300_799)));
    // Before the epoch but not before 1601.
    assert_eq!(year_of("01 Jan 1601 00:00:00"), Some(UNIX_EPOCH - Duration::from_secs(11_644_473_600)));
    for bad in [
        "01 Jan 1600 00:00:00", // before 1601
        "32 Jan 2000 00:00:00", // day out of range
        "00 Jan 2000 00:00:00",
        "29 Feb 1900 00:00:00", // not a leap year
        "31 Apr 2000 00:00:00",
        "01 Jan 2000 24:00:00", // hour out of range
        "01 Jan 2000 23:60:00",
        "01 Jan 2000 23:59:60",
        "01 Jan 2000",          // no time
        "Jan 2000 00:00:00",    // no day… the year fills the day? no: 2000 has 4 digits
        "01 2000 00:00:00",     // no month
        "01 Jan 00:00:00",      // no year
        "01 Foo 2000 00:00:00", // not a month
        "01 Jan 12345 00:00:00",
        "001 Jan 2000 00:00:00",
        "",
        "\u{ff}\u{0}garbage",
    ] {
        assert_eq!(parse_date(bad.as_bytes()), None, "{bad:?}");
    }
}

#[test]
fn name_value_parsing() {
    let mut jar = CookieJar::new();
    let store = |jar: &mut CookieJar, s: &str| jar.store("http", "example.com", "/", s.as_bytes(), now());
    assert_eq!(store(&mut jar, "  a = 1 ; Path=/"), Stored::New);
    assert_eq!(store(&mut jar, "b=x=y"), Stored::New);
    assert_eq!(store(&mut jar, "c="), Stored::New);
    assert_eq!(store(&mut jar, "d=\"quoted\"; SameSite=Lax; Priority=High; Partitioned; =; ;;"), Stored::New);
    assert_eq!(header(&jar, "http", "example.com", "/"), Some("a=1; b=x=y; c=; d=\"quoted\"".into()));
    for bad in ["novalue", "=1", " =1", ";a=1", ""] {
        assert_eq!(store(&mut jar, bad), Stored::Rejected(Rejected::Malformed), "{bad:?}");
    }
    assert_eq!(store(&mut jar, "a=\x01"), Stored::Rejected(Rejected::Malformed));
    assert_eq!(jar.store("http", "example.com", "/", b"e=\xff", now()), Stored::Rejected(Rejected::Malformed));
    let big = format!("big={}", "v".repeat(MAX_COOKIE_SIZE));
    assert_eq!(store(&mut jar, &big), Stored::Rejected(Rejected::TooLarge));
    let fits = format!("ok={}", "v".repeat(MAX_COOKIE_SIZE - 2));
    assert_eq!(store(&mut jar, &fits), Stored::New);
    // An oversized attribute is ignored, not the cookie.
    let long_path = format!("p=1; Path=/{}", "x".repeat(MAX_ATTRIBUTE_SIZE));
    assert_eq!(store(&mut jar, &long_path), Stored::New);
    assert_eq!(jar.iter().find(|c| c.name() == "p").unwrap().path(), "/");
}

#[test]
fn attributes() {
    let jar = jar_with("Example.COM", "/a/b/c", &["s=1; Secure; HttpOnly; Domain=.Example.com; Path=/a"]);
    let c = jar.iter().next().unwrap();
    assert_eq!((c.domain(), c.path(), c.host_only()), ("example.com", "/a", false));
    assert!(c.secure() && c.http_only());
    assert_eq!(c.expires(), None);
    assert_eq!(c.created(), now());
}

#[test]
fn max_age_wins_over_expires() {
    let jar = jar_with("h.test", "/", &["a=1; Max-Age=60; Expires=Sun, 06 Nov 1994 08:49:37 GMT"]);
    assert_eq!(jar.iter().next().unwrap().expires(), Some(now() + Duration::from_secs(60)));
    // Order does not matter.
    let jar = jar_with("h.test", "/", &["a=1; Expires=Wed, 01 Jan 2200 00:00:00 GMT; Max-Age=60"]);
    assert_eq!(jar.iter().next().unwrap().expires(), Some(now() + Duration::from_secs(60)));
    // An invalid Max-Age is ignored, so Expires counts.
    let jar = jar_with("h.test", "/", &["a=1; Max-Age=6x0; Expires=Wed, 01 Jan 2200 00:00:00 GMT"]);
    assert_eq!(jar.iter().next().unwrap().expires(), Some(at(7_258_118_400)));
    // A huge Max-Age is capped, not an overflow.
    let jar = jar_with("h.test", "/", &["a=1; Max-Age=99999999999999999999999999"]);
    assert_eq!(jar.iter().next().unwrap().expires(), Some(now() + Duration::from_secs(MAX_AGE_CAP)));
}

#[test]
fn expiry_and_deletion() {
    let mut jar = jar_with("h.test", "/", &["a=1", "b=2; Max-Age=10"]);
    assert_eq!(header(&jar, "http", "h.test", "/"), Some("a=1; b=2".into()));
    // Expired cookies are not sent.
    let later = now() + Duration::from_secs(10);
    assert_eq!(jar.cookie_header("http", "h.test", "/", later), Some("a=1".into()));
    jar.remove_expired(later);
    assert_eq!(jar.len(), 1);
    for deleting in ["a=gone; Max-Age=0", "a=gone; Max-Age=-5", "a=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT"] {
        jar.store("http", "h.test", "/", b"a=1", now());
        assert_eq!(jar.store("http", "h.test", "/", deleting.as_bytes(), now()), Stored::Deleted);
        assert!(jar.is_empty(), "{deleting}");
    }
    // Deleting needs the same domain and path.
    jar.store("http", "h.test", "/", b"a=1; Path=/x", now());
    jar.store("http", "h.test", "/", b"a=1; Max-Age=0", now());
    assert_eq!(jar.len(), 1);
}

#[test]
fn replacement_keeps_creation_time() {
    let mut jar = CookieJar::new();
    jar.store("http", "h.test", "/", b"a=1", now());
    jar.store("http", "h.test", "/", b"b=1", now());
    let later = now() + Duration::from_secs(5);
    assert_eq!(jar.store("http", "h.test", "/", b"a=2; Secure", later), Stored::Replaced);
    assert_eq!(jar.len(), 2);
    let a = jar.iter().find(|c| c.name() == "a").unwrap();
    assert_eq!((a.value(), a.created(), a.secure()), ("2", now(), true));
    // Still first among equal paths.
    assert_eq!(jar.cookie_header("https", "h.test", "/", later), Some("a=2; b=1".into()));
    // Another path is another cookie.
    assert_eq!(jar.store("http", "h.test", "/", b"a=3; Path=/p", later), Stored::New);
    assert_eq!(jar.len(), 3);
}

#[test]
fn domain_attribute() {
    let store = |host: &str, line: &str| {
        let mut jar = CookieJar::new();
        let r = jar.store("http", host, "/", line.as_bytes(), now());
        let first = jar.iter().next().map(|c| (c.domain().to_owned(), c.host_only()));
        (r, first)
    };
    assert_eq!(store("www.example.com", "a=1"), (Stored::New, Some(("www.example.com".into(), true))));
    assert_eq!(store("www.example.com", "a=1; Domain=example.com"), (Stored::New, Some(("example.com".into(), false))));
    assert_eq!(
        store("www.example.com", "a=1; Domain=.EXAMPLE.com."),
        (Stored::New, Some(("example.com".into(), false)))
    );
    assert_eq!(store("example.com", "a=1; Domain=example.com"), (Stored::New, Some(("example.com".into(), false))));
    // An empty Domain is ignored.
    assert_eq!(store("example.com", "a=1; Domain="), (Stored::New, Some(("example.com".into(), true))));
    let rejected = (Stored::Rejected(Rejected::Domain), None);
    assert_eq!(store("www.example.com", "a=1; Domain=other.com"), rejected);
    assert_eq!(store("www.example.com", "a=1; Domain=ww.example.com"), rejected);
    assert_eq!(store("example.com", "a=1; Domain=www.example.com"), rejected);
    assert_eq!(store("www.example.com", "a=1; Domain=com"), rejected);
    assert_eq!(store("www.example.com", "a=1; Domain=.com"), rejected);
    assert_eq!(store("app.localhost", "a=1; Domain=localhost"), rejected);
    // A dotless name equal to the host: host-only.
    assert_eq!(store("localhost", "a=1; Domain=localhost"), (Stored::New, Some(("localhost".into(), true))));
    // IP addresses never domain-match; the attribute naming the address itself gives a host-only cookie.
    assert_eq!(store("192.168.0.1", "a=1; Domain=168.0.1"), rejected);
    assert_eq!(store("192.168.0.1", "a=1; Domain=192.168.0.1"), (Stored::New, Some(("192.168.0.1".into(), true))));
    assert_eq!(store("[::1]", "a=1; Domain=::1"), rejected);
}

#[test]
fn domain_matching_on_send() {
    let mut jar = CookieJar::new();
    jar.store("http", "www.example.com", "/", b"host=1", now());
    jar.store("http", "www.example.com", "/", b"dom=1; Domain=example.com", now());
    assert_eq!(header(&jar, "http", "www.example.com", "/"), Some("host=1; dom=1".into()));
    assert_eq!(header(&jar, "http", "WWW.Example.com.", "/"), Some("host=1; dom=1".into()));
    assert_eq!(header(&jar, "http", "example.com", "/"), Some("dom=1".into()));
    assert_eq!(header(&jar, "http", "a.b.example.com", "/"), Some("dom=1".into()));
    assert_eq!(header(&jar, "http", "badexample.com", "/"), None);
    assert_eq!(header(&jar, "http", "example.org", "/"), None);
    assert_eq!(header(&jar, "http", "sub.www.example.com", "/"), Some("dom=1".into()));
    // An IP host only gets its own host-only cookies.
    let jar = jar_with("127.0.0.1", "/", &["a=1"]);
    assert_eq!(header(&jar, "http", "127.0.0.1", "/"), Some("a=1".into()));
    assert_eq!(header(&jar, "http", "127.0.0.2", "/"), None);
}

#[test]
fn default_path_rules() {
    assert_eq!(default_path(""), "/");
    assert_eq!(default_path("x"), "/");
    assert_eq!(default_path("/"), "/");
    assert_eq!(default_path("/a"), "/");
    assert_eq!(default_path("/a/"), "/a");
    assert_eq!(default_path("/a/b"), "/a");
    assert_eq!(default_path("/a/b/c.html"), "/a/b");
    // The default path applies when Path is missing or does not start with '/'.
    let jar = jar_with("h.test", "/docs/guide/page", &["a=1", "b=1; Path=relative", "c=1; Path="]);
    assert!(jar.iter().all(|c| c.path() == "/docs/guide"));
}

#[test]
fn path_matching() {
    assert!(path_match("/", "/"));
    assert!(path_match("/a", "/"));
    assert!(path_match("/a/b", "/a"));
    assert!(path_match("/a/b", "/a/"));
    assert!(path_match("/a", "/a"));
    assert!(!path_match("/ab", "/a"));
    assert!(!path_match("/", "/a"));
    assert!(!path_match("/A", "/a"));
    let jar = jar_with("h.test", "/", &["root=1", "deep=1; Path=/a/b", "mid=1; Path=/a"]);
    // Longer paths first; equal lengths in creation order.
    assert_eq!(header(&jar, "http", "h.test", "/a/b/c"), Some("deep=1; mid=1; root=1".into()));
    assert_eq!(header(&jar, "http", "h.test", "/a"), Some("mid=1; root=1".into()));
    assert_eq!(header(&jar, "http", "h.test", "/ab"), Some("root=1".into()));
    assert_eq!(header(&jar, "http", "h.test", ""), Some("root=1".into()));
}

#[test]
fn secure_only_over_secure_schemes() {
    let jar = jar_with("h.test", "/", &["plain=1", "sec=1; Secure"]);
    assert_eq!(header(&jar, "http", "h.test", "/"), Some("plain=1".into()));
    assert_eq!(header(&jar, "ws", "h.test", "/"), Some("plain=1".into()));
    assert_eq!(header(&jar, "https", "h.test", "/"), Some("plain=1; sec=1".into()));
    assert_eq!(header(&jar, "WSS", "h.test", "/"), Some("plain=1; sec=1".into()));
}

#[test]
fn per_domain_limit_evicts_oldest() {
    let mut jar = CookieJar::new();
    for i in 0..MAX_PER_DOMAIN + 5 {
        let line = format!("c{i}=1");
        assert_eq!(jar.store("http", "h.test", "/", line.as_bytes(), now()), Stored::New);
    }
    assert_eq!(jar.len(), MAX_PER_DOMAIN);
    assert_eq!(jar.iter().next().unwrap().name(), "c5");
    // Expired cookies go before the oldest live one.
    let mut jar = CookieJar::new();
    jar.store("http", "h.test", "/", b"old=1", now());
    jar.store("http", "h.test", "/", b"short=1; Max-Age=1", now());
    for i in 2..MAX_PER_DOMAIN {
        jar.store("http", "h.test", "/", format!("c{i}=1").as_bytes(), now());
    }
    assert_eq!(jar.len(), MAX_PER_DOMAIN);
    jar.store("http", "h.test", "/", b"new=1", now() + Duration::from_secs(2));
    assert_eq!(jar.len(), MAX_PER_DOMAIN);
    assert!(jar.iter().any(|c| c.name() == "old"));
    assert!(!jar.iter().any(|c| c.name() == "short"));
    // Other domains are untouched.
    jar.store("http", "other.test", "/", b"x=1", now());
    assert_eq!(jar.len(), MAX_PER_DOMAIN + 1);
}

#[test]
fn total_limit_evicts_oldest() {
    let mut jar = CookieJar::new();
    for i in 0..MAX_COOKIES + 10 {
        let host = format!("h{}.test", i / 10);
        jar.store("http", &host, "/", format!("c{i}=1").as_bytes(), now());
    }
    assert_eq!(jar.len(), MAX_COOKIES);
    assert_eq!(jar.iter().next().unwrap().name(), "c10");
}

#[test]
fn remove_and_clear() {
    let mut jar = jar_with("www.example.com", "/", &["a=1", "a=2; Path=/x", "b=1", "a=3; Domain=example.com"]);
    assert_eq!(jar.remove("a", "WWW.example.com"), 2);
    assert_eq!(jar.remove("a", ".example.com"), 1);
    assert_eq!(jar.len(), 1);
    jar.clear();
    assert!(jar.is_empty());
    assert_eq!(header(&jar, "http", "www.example.com", "/"), None);
}

#[test]
fn hostile_input_never_panics() {
    // Every prefix of a few tricky lines, and every single byte.
    let lines: [&[u8]; 5] = [
        b"a=1; Expires=Sun, 06 Nov 1994 08:49:37 GMT; Max-Age=-; Domain=.; Path=/\xff; Secure",
        b"=;=;=;;;; Domain=...; Max-Age=99999999999999999999999999999999",
        b"a=b; expires=99:99:99 99 jan 99; max-age=-99999999999999999999",
        b"\xff\xfe=\xfd; domain=\xff.com",
        b"a=1; Domain=[::1]; Path",
    ];
    let mut jar = CookieJar::new();
    for line in lines {
        for end in 0..=line.len() {
            for host in ["h.test", "[::1]", "10.0.0.1", "", "."] {
                jar.store("http", host, "", &line[..end], now());
                let _ = jar.cookie_header("https", host, "", now());
            }
            let _ = parse_date(&line[..end]);
        }
    }
    for b in 0..=255u8 {
        jar.store("http", "h.test", "/", &[b], now());
        let _ = parse_date(&[b]);
    }
    assert!(jar.len() <= MAX_COOKIES);
}
