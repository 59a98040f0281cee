//! Python's stdlib `http.server` as an HTTP/1.0 peer.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Serves a temporary directory (with `file.txt`) through `SimpleHTTPRequestHandler` speaking HTTP/1.0,
/// plus `/eof`: a body without `Content-Length`, delimited by closing the connection.
const SCRIPT: &str = r#"
import functools, http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *args):
        pass
    def do_GET(self):
        if self.path == "/eof":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"read until eof " * 100)
            return
        return super().do_GET()
handler = functools.partial(H, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// The content of `/file.txt`.
pub const FILE_BODY: &str = "hello from python http.server (HTTP/1.0)\n";

pub struct PythonServer {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl PythonServer {
    /// `None` (after printing a note) when `python3` cannot be started.
    pub fn start() -> Option<PythonServer> {
        let dir = TempDir::new("reqivo-py");
        std::fs::write(dir.path.join("file.txt"), FILE_BODY).expect("write file.txt");
        let child = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .arg(&dir.path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                println!("NOTE: skipping the HTTP/1.0 scenario: python3 is not available ({e})");
                return None;
            }
        };
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Ok(port) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            let _ = child.wait();
            println!("NOTE: skipping the HTTP/1.0 scenario: python3 did not start http.server ({line:?})");
            return None;
        };
        Some(PythonServer { child, port, _dir: dir })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed on drop.
pub struct TempDir {
    pub path: std::path::PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let path =
            std::env::temp_dir().join(format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
