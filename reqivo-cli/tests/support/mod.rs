//! Shared helpers for the CLI tests: loopback servers (Python's stdlib for well-behaved HTTP, raw
//! `TcpListener`s for misbehaving peers) and a runner for the built binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_reqivo");

/// A small HTTP/1.1 (keep-alive) server with fixed Date/Server headers, so two runs print the same heads.
pub const FIXTURE: &str = r#"
import gzip, http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def date_time_string(self, timestamp=None): return "Thu, 01 Jan 2026 00:00:00 GMT"
    def version_string(self): return "fixture"
    def reply(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers: self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        p = self.path
        if p == "/status/404": self.reply(404, b"not here\n")
        elif p == "/loop": self.reply(302, b"", [("Location", "/loop")])
        elif p == "/moved": self.reply(301, b"gone\n", [("Location", "/final")])
        elif p == "/big": self.reply(200, b"x" * 1000)
        elif p == "/gzip":
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                self.reply(200, gzip.compress(b"squeezed\n" * 100), [("Content-Encoding", "gzip")])
            else: self.reply(200, b"squeezed\n" * 100)
        elif p == "/badgzip": self.reply(200, b"this is not gzip", [("Content-Encoding", "gzip")])
        elif p == "/trailers":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Sum")
            self.end_headers()
            self.wfile.write(b"2\r\nab\r\n1\r\nc\r\n0\r\nX-Sum: 42\r\n\r\n")
        elif p.startswith("/echo"):
            out = f"{self.command} {p}\n".encode()
            for k, v in self.headers.items(): out += f"{k}: {v}\n".encode()
            self.reply(200, out + b"\n" + body)
        else: self.reply(200, f"{self.command} {p}\n".encode())
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_PURGE = do_HEAD = handle_any
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// A Python server process, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn python_available() -> bool {
    let ok = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: python3 is not available");
    }
    ok
}

/// Starts `python3 ARGS` and reads the port from its first stdout line (the last number on it).
pub fn start_python(args: &[&str]) -> Server {
    let mut child = Command::new("python3")
        .arg("-u")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse::<u16>().ok())
        .find(|p| *p > 1000)
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    Server { child, port }
}

pub fn fixture() -> Server {
    start_python(&["-c", FIXTURE])
}

/// `python3 -m http.server` over a fresh directory.
pub fn file_server(name: &str, files: &[(&str, &[u8])]) -> (Server, PathBuf) {
    let dir = scratch(name);
    for (file, content) in files {
        std::fs::write(dir.join(file), content).unwrap();
    }
    let server = start_python(&["-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", dir.to_str().unwrap()]);
    (server, dir)
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn last_stderr_line(&self) -> &str {
        self.stderr.lines().last().unwrap_or("")
    }

    /// Asserts the exit code and that the last stderr line is `reqivo: error[KIND]: …`.
    pub fn assert_error(&self, code: i32, kind: &str) {
        assert_eq!(self.code, code, "exit code; stderr: {}", self.stderr);
        let last = self.last_stderr_line();
        assert!(last.starts_with(&format!("reqivo: error[{kind}]: ")), "last stderr line: {last:?}");
    }
}

pub fn reqivo(args: &[&str]) -> Run {
    reqivo_with_stdin(args, b"")
}

/// Runs the binary; kills it after 30 s so a hang fails the test instead of stalling the suite.
pub fn reqivo_with_stdin(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start reqivo");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).map(|_| v)
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).map(|_| s)
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("reqivo {args:?} did not finish in 30 s");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap().unwrap(),
        stderr: err.join().unwrap().unwrap(),
    }
}

/// A raw server for one connection: reads the request head, then runs `then` on the socket.
pub fn raw_server(then: impl FnOnce(TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        then(stream);
    });
    url
}
