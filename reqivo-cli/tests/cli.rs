//! End-to-end tests of the `reqivo` binary against loopback servers. Tests that need Python skip (with
//! a note on stderr) when `python3` is missing.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use support::{file_server, fixture, python_available, raw_server, reqivo, reqivo_with_stdin, scratch};

#[test]
fn binary_body_is_byte_exact_on_stdout() {
    if !python_available() {
        return;
    }
    let bytes: Vec<u8> = (0..=255u8).cycle().take(256 * 1024 + 7).collect();
    let (server, _dir) = file_server("binary", &[("all.bin", &bytes)]);
    for mode in [&[][..], &["--sync"][..]] {
        let mut args = vec![server.url("/all.bin")];
        args.extend(mode.iter().map(|s| s.to_string()));
        let run = reqivo(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout == bytes, "body differs ({} bytes, mode {mode:?})", run.stdout.len());
    }
}

#[test]
fn include_prints_status_line_headers_blank_line_body() {
    if !python_available() {
        return;
    }
    let server = fixture();
    let run = reqivo(&["-i", &server.url("/hello")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.stdout_text();
    let (head, body) = out.split_once("\r\n\r\n").expect("a blank line after the head");
    assert_eq!(body, "GET /hello\n");
    let mut lines = head.split("\r\n");
    assert_eq!(lines.next(), Some("HTTP/1.1 200 OK"));
    let headers: Vec<&str> = lines.collect();
    assert_eq!(
        headers,
        // As received: the server's spelling and order.
        ["Server: fixture", "Date: Thu, 01 Jan 2026 00:00:00 GMT", "Content-Type: text/plain", "Content-Length: 11"]
    );
}

#[test]
fn method_is_optional_and_case_insensitive() {
    if !python_available() {
        return;
    }
    let server = fixture();
    let url = server.url("/m");
    for (args, expected) in [
        (vec![url.as_str()], "GET /m\n"),
        (vec!["get", &url], "GET /m\n"),
        (vec!["GET", &url], "GET /m\n"),
        (vec!["Delete", &url], "DELETE /m\n"),
        (vec!["purge", &url], "PURGE /m\n"),
        (vec!["PURGE", &url, "--sync"], "PURGE /m\n"),
        (vec!["head", &url], ""),
    ] {
        let run = reqivo(&args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout_text(), expected, "{args:?}");
    }
}

#[test]
fn several_urls_in_order_over_one_connection() {
    if !python_available() {
        return;
    }
    let server = fixture();
    for sync in [false, true] {
        let (a, b, c) = (server.url("/a"), server.url("/b"), server.url("/c"));
        let mut args = vec!["-v", &a, &b, &c];
        if sync {
            args.push("--sync");
        }
        let run = reqivo(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout_text(), "GET /a\nGET /b\nGET /c\n");
        let reused: Vec<&str> =
            run.stderr.lines().filter(|l| l.starts_with("* timing: ")).map(|l| l.rsplit(' ').next().unwrap()).collect();
        assert_eq!(reused, ["reused=false", "reused=true", "reused=true"], "sync={sync}");
    }
}

#[test]
fn sync_and_async_print_the_same() {
    if !python_available() {
        return;
    }
    let server = fixture();
    let urls = [server.url("/one"), server.url("/echo?x=1"), server.url("/status/404")];
    let mut args = vec!["-i", "-H", "X-Test: yes"];
    args.extend(urls.iter().map(String::as_str));
    let async_run = reqivo(&args);
    args.push("--sync");
    let sync_run = reqivo(&args);
    assert_eq!(async_run.code, 0, "{}", async_run.stderr);
    assert_eq!(sync_run.code, 0, "{}", sync_run.stderr);
    assert_eq!(async_run.stdout_text(), sync_run.stdout_text());
    assert!(async_run.stdout_text().contains("HTTP/1.1 404 Not Found\r\n"));
}

#[test]
fn status_404_is_a_complete_response_exit_0() {
    if !python_available() {
        return;
    }
    let server = fixture();
    let run = reqivo(&[&server.url("/status/404")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout_text(), "not here\n");
    assert_eq!(run.stderr, "");
}

#[test]
fn usage_errors_exit_2() {
    reqivo(&["-H", "NoColon", "http://127.0.0.1:9/"]).assert_error(2, "usage");
    reqivo(&["-H", "Bad Name: x", "http://127.0.0.1:9/"]).assert_error(2, "usage");
    reqivo(&["http://exa mple.com/"]).assert_error(2, "usage");
    reqivo(&["GET"]).assert_error(2, "usage");
    reqivo(&["example.com"]).assert_error(2, "usage");
    reqivo(&["--timeout", "soon", "http://127.0.0.1:9/"]).assert_error(2, "usage");
    reqivo(&["--bogus", "http://127.0.0.1:9/"]).assert_error(2, "usage");
    reqivo(&["gopher://127.0.0.1:9/"]).assert_error(2, "usage");
    reqivo(&["ws"]).assert_error(2, "usage");
    reqivo(&["ws", "ws://a/", "--nope"]).assert_error(2, "usage");
}

/// The demo's loopback server (its WebSocket echo at `/ws`), used as a fixture here too.
#[path = "../src/demo_server.rs"]
#[allow(dead_code)]
mod demo_server;

#[test]
fn ws_sends_stdin_lines_and_prints_what_comes_back() {
    let addr = demo_server::start().unwrap();
    let url = format!("ws://{addr}/ws");
    for mode in [&[][..], &["--sync"][..]] {
        let mut args = vec!["ws", url.as_str()];
        args.extend_from_slice(mode);
        let run = reqivo_with_stdin(&args, b"hello\nwebsocket world\n");
        assert_eq!(run.code, 0, "{mode:?}: {}", run.stderr);
        assert_eq!(run.stdout_text(), "hello\nwebsocket world\n", "{mode:?}");
        args.push("--binary");
        let run = reqivo_with_stdin(&args, b"\x01\x02\n");
        assert_eq!(run.stdout, b"\x01\x02\n", "{mode:?}: {}", run.stderr);
    }
    // Not a WebSocket endpoint: the upgrade is refused.
    reqivo(&["ws", &format!("ws://{addr}/hello")]).assert_error(5, "websocket");
    let refused = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", refused.local_addr().unwrap());
    drop(refused);
    reqivo(&["ws", &url, "--sync"]).assert_error(3, "connection");
}

#[test]
fn connection_refused_exits_3() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    for mode in ["--verbose", "--sync"] {
        let run = reqivo(&[&url, mode]);
        run.assert_error(3, "connection");
        assert!(run.last_stderr_line().contains(&url), "{}", run.last_stderr_line());
    }
}

#[test]
fn silent_server_times_out_exit_4() {
    for mode in ["-i", "--sync"] {
        let url = raw_server(|stream| {
            thread::sleep(Duration::from_secs(5));
            drop(stream);
        });
        let start = Instant::now();
        let run = reqivo(&["--timeout", "0.5", &url, mode]);
        run.assert_error(4, "timeout");
        assert!(start.elapsed() < Duration::from_secs(4), "took {:?}", start.elapsed());
        assert!(run.last_stderr_line().contains("timed out"), "{}", run.last_stderr_line());
    }
}

#[test]
fn truncated_body_exits_5() {
    for mode in ["-v", "--sync"] {
        let url = raw_server(|mut stream| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
        });
        let run = reqivo(&[&url, mode]);
        run.assert_error(5, "protocol");
        // What arrived was streamed out before the failure.
        assert_eq!(run.stdout_text(), "short");
    }
}

#[test]
fn body_over_max_body_exits_6() {
    if !python_available() {
        return;
    }
    let server = fixture();
    reqivo(&["--max-body", "10", &server.url("/big")]).assert_error(6, "too_large");
    reqivo(&["--max-body", "10", &server.url("/big"), "--sync"]).assert_error(6, "too_large");
    let run = reqivo(&["--max-body", "1000", &server.url("/big")]);
    assert_eq!((run.code, run.stdout.len()), (0, 1000), "{}", run.stderr);
}

#[test]
fn redirect_loop_exits_7() {
    if !python_available() {
        return;
    }
    let server = fixture();
    reqivo(&[&server.url("/loop")]).assert_error(7, "redirect");
    reqivo(&[&server.url("/loop"), "--sync", "--max-redirects", "3"]).assert_error(7, "redirect");
    // A followed redirect: -i shows the final response only, -v names where it ended up.
    let run = reqivo(&["-i", "-v", &server.url("/moved")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout_text().starts_with("HTTP/1.1 200 OK\r\n"), "{}", run.stdout_text());
    assert!(run.stdout_text().ends_with("\r\n\r\nGET /final\n"), "{}", run.stdout_text());
    assert!(run.stderr.contains(&format!("* redirected to {}\r\n", server.url("/final"))), "{}", run.stderr);
    let run = reqivo(&["-i", "--no-follow", &server.url("/loop")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout_text().starts_with("HTTP/1.1 302 Found\r\n"));
    assert!(run.stdout_text().contains("\r\nLocation: /loop\r\n"));
}

#[test]
fn several_urls_stop_at_the_first_failure() {
    if !python_available() {
        return;
    }
    let server = fixture();
    let run = reqivo(&[&server.url("/first"), &server.url("/loop"), &server.url("/never")]);
    run.assert_error(7, "redirect");
    assert_eq!(run.stdout_text(), "GET /first\n");
}

#[test]
fn data_and_json_bodies() {
    if !python_available() {
        return;
    }
    let server = fixture();
    let echo = server.url("/echo");
    let run = reqivo(&["-d", "a=1", "-d", "b=2", &echo]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.stdout_text();
    assert!(out.starts_with("POST /echo\n"), "{out}");
    assert!(out.contains("\ncontent-type: application/x-www-form-urlencoded\n"), "{out}");
    assert!(out.ends_with("\n\na=1&b=2"), "{out}");

    let run = reqivo(&["put", "--json", r#"{"a":1}"#, &echo, "--sync"]);
    let out = run.stdout_text();
    assert!(out.starts_with("PUT /echo\n"), "{out}");
    assert!(
        out.contains("\ncontent-type: application/json\n") && out.contains("\naccept: application/json\n"),
        "{out}"
    );
    assert!(out.ends_with("\n\n{\"a\":1}"), "{out}");

    let run = reqivo(&["-d", "x", "-H", "Content-Type: text/plain", &echo]);
    assert!(run.stdout_text().contains("\ncontent-type: text/plain\n"), "{}", run.stdout_text());

    let dir = scratch("data");
    let file = dir.join("body.bin");
    std::fs::write(&file, b"from a file\n").unwrap();
    let run = reqivo(&["-d", &format!("@{}", file.display()), &echo]);
    assert!(run.stdout_text().ends_with("\n\nfrom a file\n"), "{}", run.stdout_text());
    let run = reqivo_with_stdin(&["--data", "@-", &echo], b"from stdin");
    assert!(run.stdout_text().ends_with("\n\nfrom stdin"), "{}", run.stdout_text());
    reqivo(&["-d", "@/nonexistent/reqivo-body", &echo]).assert_error(2, "usage");
}

#[test]
fn compressed_decodes_gzip_and_bad_gzip_exits_5() {
    if !python_available() {
        return;
    }
    let server = fixture();
    let plain = "squeezed\n".repeat(100);
    for args in [vec!["--compressed"], vec!["--compressed", "--sync"], vec![]] {
        let mut args = args.clone();
        let url = server.url("/gzip");
        args.push(&url);
        let run = reqivo(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout_text(), plain, "{args:?}");
    }
    reqivo(&["--compressed", &server.url("/badgzip")]).assert_error(5, "protocol");
    // Without --compressed nothing is decoded: the bytes arrive as sent.
    let run = reqivo(&[&server.url("/badgzip")]);
    assert_eq!((run.code, run.stdout_text().as_str()), (0, "this is not gzip"));
}

#[test]
fn trailers_never_reach_stdout() {
    if !python_available() {
        return;
    }
    let server = fixture();
    let run = reqivo(&["-i", "-v", &server.url("/trailers")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout_text().ends_with("\r\n\r\nabc"), "{:?}", run.stdout_text());
    assert!(!run.stdout_text().contains("42"));
    assert!(run.stderr.contains("* trailer: x-sum: 42\r\n"), "{}", run.stderr);
}

#[test]
fn output_file_gets_the_body() {
    if !python_available() {
        return;
    }
    let server = fixture();
    let path = scratch("output").join("out.txt");
    let run = reqivo(&["-o", path.to_str().unwrap(), &server.url("/saved")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "GET /saved\n");
}

#[test]
fn verbose_shows_what_was_sent_and_received() {
    if !python_available() {
        return;
    }
    let server = fixture();
    let run = reqivo(&["-v", "--compressed", "-H", "X-One: 1", "-d", "hi", &server.url("/echo?q=1")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sent: Vec<&str> = run.stderr.lines().filter_map(|l| l.strip_prefix("> ")).collect();
    assert_eq!(sent[0], "POST /echo?q=1 HTTP/1.1");
    // The server's view of the request head must match the reconstruction line for line.
    let out = run.stdout_text();
    let received: Vec<&str> = out.lines().skip(1).take_while(|l| !l.is_empty()).collect();
    let sent_lower: Vec<String> = sent[1..]
        .iter()
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            format!("{}: {v}", n.to_ascii_lowercase())
        })
        .collect();
    let received_lower: Vec<String> = received
        .iter()
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            format!("{}: {v}", n.to_ascii_lowercase())
        })
        .collect();
    assert_eq!(sent_lower, received_lower);
    assert!(run.stderr.contains("\r\n< HTTP/1.1 200 OK\r\n"), "{}", run.stderr);
    assert!(run.stderr.contains("< Content-Type: text/plain\r\n"), "{}", run.stderr);
    let timing = run.last_stderr_line();
    assert!(
        timing.starts_with("* timing: dns=") && timing.contains(" first_byte=") && timing.ends_with("reused=false")
    );
}

#[test]
fn demo_exits_0() {
    let start = Instant::now();
    let run = reqivo(&["demo"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.stdout_text();
    assert_eq!(out.matches("pool: opened: 1, reused: 2").count(), 2, "{out}");
    assert!(out.lines().count() <= 30, "{out}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn help_and_version() {
    let help = reqivo(&["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout_text().contains("Usage:"));
    assert_eq!(reqivo(&["-h"]).stdout, help.stdout);
    let version = reqivo(&["--version"]);
    assert_eq!(version.code, 0);
    assert!(version.stdout_text().starts_with("reqivo "));
}
