//! `reqivo ws URL`: lines from stdin go out as messages, received messages are printed one per line.
//! At the end of stdin, once nothing has been sent or received for `QUIET` (answers to the last lines
//! are usually on their way, and a server stops sending as soon as it sees our Close), a Close (1000) is
//! sent and what still arrives is printed until the server's Close.
//! The async path splits the socket (stdin and the socket are served by two futures); the blocking path
//! (`--sync`) polls the socket with a short read timeout and takes stdin lines from a reader thread
//! (a blocking `WebSocket` cannot be split).

use std::cell::Cell;
use std::io::{self, BufRead, Write};
use std::time::{Duration, Instant};

use reqivo::header::{HeaderName, HeaderValue};
use reqivo::{AsyncSession, ErrorKind, Message, Session, SessionBuilder, TimeoutPhase, WebSocketBuilder};
use tokio::io::AsyncBufReadExt;

use crate::args::{parse_header, seconds};
use crate::failure::Failure;

/// After the end of stdin, how long nothing must arrive before the Close is sent.
const QUIET: Duration = Duration::from_millis(300);

pub const USAGE: &str = "\
Usage: reqivo ws URL [OPTIONS]

Sends each line of stdin as a WebSocket message and prints each message received on its own line
(binary messages as their raw bytes). At the end of stdin, once the connection has been quiet for
0.3 s, it closes the connection (code 1000) and prints what still arrives until the server's Close.

Options:
  -H, --header 'Name: value'  add a header to the opening handshake (repeatable)
      --subprotocol NAME      offer a subprotocol (repeatable, in order of preference)
      --binary                send lines as binary messages instead of text
      --connect-timeout SECS  limit for DNS + connect + TLS
  -k, --insecure              accept any TLS certificate (wss://)
  -v, --verbose               report the handshake, Pings, Pongs and the close on stderr
      --sync                  use the blocking WebSocket instead of AsyncWebSocket
  -h, --help                  this help
";

/// What `reqivo ws` was given.
#[derive(Debug, Default)]
pub struct WsOptions {
    pub url: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub subprotocols: Vec<String>,
    pub binary: bool,
    pub connect_timeout: Option<Duration>,
    pub insecure: bool,
    pub verbose: bool,
    pub sync: bool,
    pub help: bool,
}

/// Parses the arguments after `ws`.
pub fn parse(args: &[String]) -> Result<WsOptions, String> {
    let mut opts = WsOptions::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline.clone().or_else(|| args.next().cloned()).ok_or_else(|| format!("{what} needs a value"))
        };
        match name {
            "-H" | "--header" => opts.headers.push(parse_header(&value(name)?)?),
            "--subprotocol" => opts.subprotocols.push(value(name)?),
            "--connect-timeout" => opts.connect_timeout = Some(seconds("connect-timeout", &value(name)?)?),
            "--binary" => opts.binary = true,
            "-k" | "--insecure" => opts.insecure = true,
            "-v" | "--verbose" => opts.verbose = true,
            "--sync" => opts.sync = true,
            "-h" | "--help" => opts.help = true,
            _ if name.starts_with('-') => return Err(format!("unknown option {name} for `reqivo ws`")),
            _ if opts.url.is_empty() => opts.url = arg.clone(),
            _ => return Err("`reqivo ws` takes one URL".into()),
        }
    }
    if opts.url.is_empty() && !opts.help {
        return Err("no URL given (reqivo ws ws://host/path)".into());
    }
    if !opts.help && !opts.url.contains("://") {
        return Err(format!("{:?} is not a URL (want ws://{} or wss://{})", opts.url, opts.url, opts.url));
    }
    Ok(opts)
}

pub fn run(opts: &WsOptions) -> Result<(), Failure> {
    if opts.help {
        print!("{USAGE}");
        return Ok(());
    }
    if opts.sync {
        return run_blocking(opts);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::local("starting the tokio runtime", e))?;
    let result = runtime.block_on(run_async(opts));
    // A stdin read may still be pending on the blocking pool: do not wait for it.
    runtime.shutdown_background();
    result
}

fn session<S: reqivo::Driver>(b: SessionBuilder<S>, opts: &WsOptions) -> SessionBuilder<S> {
    let b = b.danger_accept_invalid_certs(opts.insecure);
    match opts.connect_timeout {
        Some(t) => b.connect_timeout(t),
        None => b,
    }
}

fn configure<'s, S: reqivo::Driver>(mut b: WebSocketBuilder<'s, S>, opts: &WsOptions) -> WebSocketBuilder<'s, S> {
    for (name, value) in &opts.headers {
        b = b.header(name.clone(), value.clone());
    }
    for p in &opts.subprotocols {
        b = b.subprotocol(p.as_str());
    }
    b
}

async fn run_async(opts: &WsOptions) -> Result<(), Failure> {
    let session = session(AsyncSession::builder(), opts).build()?;
    let ws = configure(session.websocket(opts.url.as_str()), opts).connect().await?;
    connected(opts, ws.subprotocol());
    let (mut reader, mut writer) = ws.split();
    let binary = opts.binary;
    let last_received = Cell::new(Instant::now());
    let last = &last_received;
    let sending = async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await.map_err(|e| Failure::local("reading stdin", e))? {
            if binary {
                writer.send_binary(line.as_bytes()).await?;
            } else {
                writer.send_text(&line).await?;
            }
            last.set(Instant::now());
        }
        loop {
            let quiet_until = last.get() + QUIET;
            if Instant::now() >= quiet_until {
                break;
            }
            tokio::time::sleep_until(quiet_until.into()).await;
        }
        writer.close(1000, "").await?;
        Ok::<_, Failure>(())
    };
    let receiving = async {
        let mut out = io::stdout().lock();
        while let Some(msg) = reader.recv().await? {
            last.set(Instant::now());
            print_message(&mut out, msg, opts.verbose)?;
        }
        Ok::<_, Failure>(())
    };
    tokio::pin!(sending, receiving);
    let mut input_open = true;
    loop {
        tokio::select! {
            sent = &mut sending, if input_open => {
                sent?;
                input_open = false;
            }
            // The server closed (or the connection failed): stdin no longer matters.
            received = &mut receiving => return received,
        }
    }
}

/// The blocking twin: the same steps, with stdin lines taken from a reader thread between short waits.
fn run_blocking(opts: &WsOptions) -> Result<(), Failure> {
    let session = session(Session::builder(), opts).build()?;
    let mut ws = configure(session.websocket(opts.url.as_str()), opts).connect()?;
    connected(opts, ws.subprotocol());
    let lines = stdin_lines();
    ws.set_read_timeout(Some(Duration::from_millis(20)));
    let mut out = io::stdout().lock();
    let (mut input_open, mut close_sent, mut last) = (true, false, Instant::now());
    loop {
        while input_open {
            match lines.try_recv() {
                Ok(line) => {
                    if opts.binary {
                        ws.send_binary(line.as_bytes())?;
                    } else {
                        ws.send_text(&line)?;
                    }
                    last = Instant::now();
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => input_open = false,
            }
        }
        if !input_open && !close_sent && last.elapsed() >= QUIET {
            // Close without waiting: what still arrives is printed below.
            ws.send(Message::close(1000, ""))?;
            close_sent = true;
        }
        match ws.recv() {
            Ok(Some(msg)) => {
                last = Instant::now();
                print_message(&mut out, msg, opts.verbose)?;
            }
            Ok(None) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Timeout(TimeoutPhase::Message) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Lines of stdin, read on a thread (std has no non-blocking stdin); the channel closes at EOF.
fn stdin_lines() -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn connected(opts: &WsOptions, subprotocol: Option<&str>) {
    if opts.verbose {
        eprintln!("* connected to {} (subprotocol: {})", opts.url, subprotocol.unwrap_or("none"));
    }
}

/// Text and binary messages go to stdout, one per line; the rest is reported on stderr with `-v`.
fn print_message(out: &mut impl Write, msg: Message, verbose: bool) -> Result<(), Failure> {
    let written = match msg {
        Message::Text(t) => writeln!(out, "{t}").and_then(|()| out.flush()),
        Message::Binary(b) => out.write_all(&b).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush()),
        Message::Ping(p) | Message::Pong(p) if verbose => {
            eprintln!("* ping/pong ({} bytes)", p.len());
            Ok(())
        }
        Message::Close(frame) => {
            match frame {
                Some(f) if verbose || f.code != 1000 => eprintln!("* closed by the server: {} {}", f.code, f.reason),
                None if verbose => eprintln!("* closed by the server (no status code)"),
                _ => {}
            }
            Ok(())
        }
        _ => Ok(()),
    };
    written.map_err(|e| Failure::local("writing to stdout", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options() {
        let o = parse(&args(&["ws://a/x", "-H", "X-A: 1", "--subprotocol=chat", "--binary", "--sync", "-k"])).unwrap();
        assert_eq!(o.url, "ws://a/x");
        assert_eq!(o.headers.len(), 1);
        assert_eq!(o.subprotocols, ["chat"]);
        assert!(o.binary && o.sync && o.insecure && !o.verbose);
        assert!(parse(&args(&["--help"])).unwrap().help);
    }

    #[test]
    fn usage_errors() {
        assert!(parse(&args(&[])).unwrap_err().contains("no URL"));
        assert!(parse(&args(&["a.example"])).unwrap_err().contains("not a URL"));
        assert!(parse(&args(&["ws://a/", "ws://b/"])).unwrap_err().contains("one URL"));
        assert!(parse(&args(&["ws://a/", "--nope"])).unwrap_err().contains("unknown option"));
        assert!(parse(&args(&["ws://a/", "-H"])).unwrap_err().contains("needs a value"));
    }
}
