//! Interop with a real nginx, both drivers. `scripts/test.sh` starts nginx and sets
//! `REQIVO_NGINX_URL` (e.g. `http://127.0.0.1:PORT`) and `REQIVO_NGINX_ROOT` (its static root, holding
//! `13b`, `1m` and `text.txt`). Without `REQIVO_NGINX_URL` every test prints a skip note and passes.

#[macro_use]
mod support;

use std::io::Write;

use reqivo::{ErrorKind, StatusCode, Version};
use support::{expect_kind, Client, Opts, ReadMode, Req};

/// The nginx base URL and static root, or `None` after printing a note (straight to stderr, so the note
/// shows even though the test harness captures `println!` of passing tests).
fn nginx(test: &str) -> Option<(String, std::path::PathBuf)> {
    match std::env::var("REQIVO_NGINX_URL") {
        Ok(url) if !url.is_empty() => {
            let root = std::env::var("REQIVO_NGINX_ROOT").expect("REQIVO_NGINX_ROOT must be set with REQIVO_NGINX_URL");
            Some((url.trim_end_matches('/').to_owned(), root.into()))
        }
        _ => {
            static NOTE: std::sync::Once = std::sync::Once::new();
            NOTE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "\nSKIPPED: nginx interop tests (REQIVO_NGINX_URL is not set; scripts/test.sh starts nginx and sets it)\n"
                );
            });
            let _ = test;
            None
        }
    }
}

fn file(root: &std::path::Path, name: &str) -> Vec<u8> {
    std::fs::read(root.join(name)).expect("static file")
}

parity!(small_file, |d| {
    let Some((base, root)) = nginx("small_file") else { return };
    let o = support::run(d, &Opts::new(), Req::get(format!("{base}/13b"))).unwrap();
    assert_eq!(o.status, StatusCode::OK);
    assert_eq!(o.version, Version::HTTP_11);
    assert_eq!(o.body, file(&root, "13b"));
    assert_eq!(o.body.len(), 13);
    assert_eq!(o.content_length, Some(13));
    assert!(o.header("server").is_some_and(|s| s.starts_with("nginx")), "{:?}", o.headers);
});

parity!(one_mib_file, |d| {
    let Some((base, root)) = nginx("one_mib_file") else { return };
    let c = Client::new(d, &Opts::new()).unwrap();
    let expected = file(&root, "1m");
    let o = c.fetch(Req::get(format!("{base}/1m")).read(ReadMode::Chunks)).unwrap();
    assert_eq!(o.content_length, Some(1 << 20));
    assert!(o.body == expected, "1 MiB body differs");
    let o = c.fetch(Req::get(format!("{base}/1m")).read(ReadMode::Reader(4096))).unwrap();
    assert!(o.body == expected, "1 MiB body read through the reader differs");
    assert_eq!(c.pool_stats().opened, 1);
});

parity!(keepalive_reuse, |d| {
    let Some((base, _)) = nginx("keepalive_reuse") else { return };
    let c = Client::new(d, &Opts::new()).unwrap();
    for _ in 0..5 {
        assert_eq!(c.fetch(Req::get(format!("{base}/13b"))).unwrap().body.len(), 13);
    }
    let stats = c.pool_stats();
    assert_eq!((stats.opened, stats.reused), (1, 4), "{stats:?}");
});

parity!(head_and_conditional, |d| {
    let Some((base, _)) = nginx("head_and_conditional") else { return };
    let c = Client::new(d, &Opts::new()).unwrap();
    let o = c.fetch(Req::head(format!("{base}/1m"))).unwrap();
    assert_eq!(o.content_length, Some(1 << 20));
    assert!(o.body.is_empty());
    let etag = o.header("etag").expect("nginx sends an ETag").to_owned();
    let o = c.fetch(Req::get(format!("{base}/1m")).header("if-none-match", &etag)).unwrap();
    assert_eq!(o.status, StatusCode::NOT_MODIFIED);
    assert!(o.body.is_empty());
    let o = c.fetch(Req::get(format!("{base}/1m")).header("range", "bytes=10-19")).unwrap();
    assert_eq!(o.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(o.body.len(), 10);
    assert_eq!(c.pool_stats().opened, 1, "HEAD, 304 and 206 all leave the connection reusable");
});

parity!(errors_and_status, |d| {
    let Some((base, _)) = nginx("errors_and_status") else { return };
    let c = Client::new(d, &Opts::new()).unwrap();
    let o = c.fetch(Req::get(format!("{base}/missing"))).unwrap();
    assert_eq!(o.status, StatusCode::NOT_FOUND);
    expect_kind(
        c.fetch(Req::get(format!("{base}/missing")).error_for_status()),
        ErrorKind::Status(StatusCode::NOT_FOUND),
    );
    let o = c.fetch(Req::post(format!("{base}/13b")).body("x")).unwrap();
    assert_eq!(o.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(c.fetch(Req::get(format!("{base}/13b"))).unwrap().body.len(), 13);
});

parity!(gzip_chunked, |d| {
    let Some((base, root)) = nginx("gzip_chunked") else { return };
    let text = String::from_utf8(file(&root, "text.txt")).unwrap();
    // nginx compresses on the fly: gzip, chunked, no Content-Length.
    let o = support::run(d, &Opts::new(), Req::get(format!("{base}/text.txt")).read(ReadMode::Text)).unwrap();
    assert_eq!(o.body_str(), text);
    assert_eq!(o.header("content-encoding"), None);
    let o = support::run(d, &Opts::new(), Req::get(format!("{base}/text.txt")).read(ReadMode::Chunks)).unwrap();
    assert_eq!(o.body_str(), text);
    let o = support::run(d, &Opts::new().gzip(false), Req::get(format!("{base}/text.txt"))).unwrap();
    assert_eq!(o.header("content-encoding"), None, "nothing compressed without Accept-Encoding");
    assert_eq!(o.body_str(), text);
});

parity!(concurrent_requests, |d| {
    let Some((base, _)) = nginx("concurrent_requests") else { return };
    let c = Client::new(d, &Opts::new().max_connections_per_host(2)).unwrap();
    let reqs = (0..8).map(|_| Req::get(format!("{base}/1m")).read(ReadMode::Count { rss: false })).collect();
    for r in c.fetch_concurrent(reqs) {
        assert_eq!(r.unwrap().body_len, 1 << 20);
    }
    assert!(c.pool_stats().opened <= 2);
    assert_eq!(c.pool_stats().in_use, 0);
});
