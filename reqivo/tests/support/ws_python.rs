//! Python's `websockets` library (installed in `.venv` by `scripts/test.sh`) as a WebSocket server we
//! did not write, started per test on 127.0.0.1 (an ephemeral port, or a given one for restarts).
//!
//! | path                   | behaviour                                                                  |
//! |------------------------|----------------------------------------------------------------------------|
//! | `/echo`                | echoes every message (text stays text, binary stays binary)                |
//! | `/fragments`           | sends a text message in 3 fragments and a binary one in 3, then echoes     |
//! | `/close?code=&reason=` | closes at once with that code and reason                                   |
//! | `/info`                | sends JSON: chosen subprotocol, `Sec-WebSocket-Extensions` answered, the    |
//! |                        | request headers, and the close code/reason of the last other connection    |
//! | `/reject`              | refuses the upgrade with 403                                               |
//!
//! The server offers the subprotocols `chat.v2`, `chat.v1`; permessage-deflate is on unless started
//! without compression; no message size limit; no pings of its own.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

const SCRIPT: &str = r#"
import asyncio, json, logging, sys
from websockets.asyncio.server import serve

# A client dropping a connection without a Close is part of some tests, not worth a traceback.
logging.getLogger("websockets").setLevel(logging.CRITICAL)

port, compression = int(sys.argv[1]), sys.argv[2] == "deflate"
last_close = {"code": None, "reason": None}

async def handler(ws):
    route, _, query = ws.request.path.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    if route == "/info":
        await ws.send(json.dumps({
            "subprotocol": ws.subprotocol,
            "extensions": ws.response.headers.get("Sec-WebSocket-Extensions"),
            "headers": [[k.lower(), v] for k, v in ws.request.headers.raw_items()],
            "last_close": last_close,
        }))
        async for msg in ws:
            await ws.send(msg)
        return
    try:
        if route == "/close":
            await ws.close(int(params.get("code", "1000")), params.get("reason", ""))
            return
        if route == "/fragments":
            await ws.send(["frag-1 ", "frag-2 ", "frag-3"])
            await ws.send([b"\x01\x02", b"\x03", b"\x04\x05"])
        async for msg in ws:
            await ws.send(msg)
    finally:
        await ws.wait_closed()
        last_close.update(code=ws.close_code, reason=ws.close_reason)

def select_subprotocol(conn, offered):
    for proto in ("chat.v2", "chat.v1"):
        if proto in offered:
            return proto
    return None

def process_request(conn, request):
    if request.path.startswith("/reject"):
        return conn.respond(403, "no websockets here\n")

async def main():
    async with serve(handler, "127.0.0.1", port, compression="deflate" if compression else None,
                     select_subprotocol=select_subprotocol, max_size=None, ping_interval=None,
                     process_request=process_request) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().create_future()

asyncio.run(main())
"#;

/// A running `websockets` server; killed when dropped.
pub struct PyWsServer {
    child: Child,
    port: u16,
    compression: bool,
}

/// `.venv/bin/python` at the workspace root, when it exists and imports `websockets`.
fn venv_python() -> Option<PathBuf> {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import websockets"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(python)
}

impl PyWsServer {
    /// With permessage-deflate on; `None` (after a visible note) when Python `websockets` is missing.
    pub fn start() -> Option<PyWsServer> {
        Self::start_on(0, true)
    }

    /// On `port` (0: any), with or without compression.
    pub fn start_on(port: u16, compression: bool) -> Option<PyWsServer> {
        let Some(python) = venv_python() else {
            println!("NOTE: skipping: .venv/bin/python with `websockets` not found (run scripts/test.sh once)");
            return None;
        };
        let mode = if compression { "deflate" } else { "none" };
        let mut child = Command::new(python)
            .args(["-c", SCRIPT, &port.to_string(), mode])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
        match line.trim().parse() {
            Ok(port) => Some(PyWsServer { child, port, compression }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the python websockets server did not start (printed {line:?})");
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn compression(&self) -> bool {
        self.compression
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    /// Freezes the server process (SIGSTOP): the kernel keeps the TCP connection up, but nothing answers
    /// — a dead peer as keepalive must find it.
    pub fn freeze(&self) {
        signal(self.child.id(), libc::SIGSTOP);
    }

    /// Kills the server process (its sockets are closed by the kernel).
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        signal(self.child.id(), libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid has no memory-safety implications.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

impl Drop for PyWsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
