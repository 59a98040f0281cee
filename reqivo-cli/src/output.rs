//! Everything the command prints: the body (stdout or `-o FILE`), `-i` heads, and `-v` diagnostics on
//! stderr. Both request loops call the same methods in the same order, so their output is identical.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use reqivo::{HeaderMap, StatusCode, Timings, Uri, Version};

use crate::args::Options;
use crate::failure::Failure;
use crate::plan::Plan;

/// Line ending of `-i` and `-v` heads; CRLF, as curl prints them.
const EOL: &[u8] = b"\r\n";

/// The parts of a response head the output needs; built from either response type by [`head_of!`].
pub struct Head<'a> {
    pub version: Version,
    pub status: StatusCode,
    pub reason: &'a [u8],
    /// As received: wire order, the server's spelling.
    pub headers: Vec<(&'a str, &'a [u8])>,
    pub url: &'a Uri,
}

/// Borrows the head of a `Response<AsyncBody>` or `Response<Body>`. A macro because the bound that
/// makes the accessors generic (`BodyTimings`) is not public.
macro_rules! head_of {
    ($resp:expr) => {
        $crate::output::Head {
            version: $resp.version(),
            status: $resp.status(),
            reason: $resp.reason(),
            headers: $resp.raw_headers().collect(),
            url: $resp.url(),
        }
    };
}
pub(crate) use head_of;

enum Sink {
    Stdout(io::Stdout),
    /// `-o FILE`: opened at the first response, so a failed request leaves no empty file behind.
    File {
        path: PathBuf,
        file: Option<File>,
    },
}

pub struct Output {
    include: bool,
    verbose: bool,
    sink: Sink,
}

impl Output {
    pub fn new(opts: &Options) -> Output {
        let sink = match &opts.output {
            Some(path) if path.as_os_str() != "-" => Sink::File { path: path.clone(), file: None },
            _ => Sink::Stdout(io::stdout()),
        };
        Output { include: opts.include, verbose: opts.verbose, sink }
    }

    /// `-v`: the request head, before it is sent.
    pub fn request(&mut self, plan: &Plan, url: &str) {
        if !self.verbose {
            return;
        }
        let Some(head) = plan.wire_head(url) else { return };
        let mut text = Vec::new();
        line(&mut text, b"> ", head.request_line.as_bytes(), None);
        for (name, value) in &head.fields {
            line(&mut text, b"> ", name.as_bytes(), Some(value));
        }
        text.extend_from_slice(b">");
        text.extend_from_slice(EOL);
        diagnostic(&text);
    }

    /// The response head: to stderr with `-v`, into the output with `-i`.
    pub fn response_head(&mut self, requested: &str, head: &Head<'_>) -> Result<(), Failure> {
        if self.verbose {
            let mut text = Vec::new();
            // Compared as parsed URLs, since the library normalises (`http://h` answers as `http://h/`).
            if requested.parse::<Uri>().map(|u| u.to_string()).ok() != Some(head.url.to_string()) {
                line(&mut text, b"* ", format!("redirected to {}", head.url).as_bytes(), None);
            }
            write_head(&mut text, b"< ", head);
            text.extend_from_slice(b"<");
            text.extend_from_slice(EOL);
            diagnostic(&text);
        }
        let mut text = Vec::new();
        if self.include {
            write_head(&mut text, b"", head);
            text.extend_from_slice(EOL);
        }
        // Even when empty: this creates the `-o` file, so an empty body still leaves an (empty) file.
        self.write(&text)
    }

    /// One piece of the body, written through at once so long downloads stream.
    pub fn body(&mut self, chunk: &[u8]) -> Result<(), Failure> {
        self.write(chunk)
    }

    /// After the body: `-v` trailers and timings. Trailers never go into the output.
    pub fn finish(&mut self, timings: Timings, trailers: Option<&HeaderMap>) {
        if !self.verbose {
            return;
        }
        let mut text = Vec::new();
        for (name, value) in trailers.into_iter().flatten() {
            line(&mut text, b"* trailer: ", name.as_str().as_bytes(), Some(value.as_bytes()));
        }
        line(&mut text, b"", timing_line(&timings).as_bytes(), None);
        diagnostic(&text);
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        match &mut self.sink {
            Sink::Stdout(out) => {
                let mut out = out.lock();
                // Flushed per piece: stdout is line-buffered and a body need not contain newlines.
                out.write_all(bytes).and_then(|()| out.flush()).map_err(|e| Failure::local("writing to stdout", e))
            }
            Sink::File { path, file } => {
                let what = || format!("writing {}", path.display());
                let f = match file {
                    Some(f) => f,
                    None => file.insert(File::create(&*path).map_err(|e| Failure::local(what(), e))?),
                };
                f.write_all(bytes).map_err(|e| Failure::local(what(), e))
            }
        }
    }
}

/// `* timing: dns=…ms connect=…ms tls=…ms first_byte=…ms body=…ms reused=…`; a phase that did not happen
/// (DNS and connect on a reused connection, TLS on plain HTTP) reads 0, as in curl's `-w` timings.
pub fn timing_line(t: &Timings) -> String {
    let ms = |d: Option<Duration>| format!("{:.3}ms", d.unwrap_or_default().as_secs_f64() * 1000.0);
    format!(
        "* timing: dns={} connect={} tls={} first_byte={} body={} reused={}",
        ms(t.dns),
        ms(t.connect),
        ms(t.tls),
        ms(Some(t.first_byte)),
        ms(t.body),
        t.reused_connection
    )
}

/// The status line and the headers in received order, each line prefixed.
fn write_head(out: &mut Vec<u8>, prefix: &[u8], head: &Head<'_>) {
    let version = match head.version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    };
    let mut status = format!("{version} {}", head.status.as_u16()).into_bytes();
    if !head.reason.is_empty() {
        status.push(b' ');
        status.extend_from_slice(head.reason);
    }
    line(out, prefix, &status, None);
    for (name, value) in &head.headers {
        line(out, prefix, name.as_bytes(), Some(value));
    }
}

/// Appends `prefix text` or `prefix name: value`, raw bytes (values may hold obs-text), and a CRLF.
fn line(out: &mut Vec<u8>, prefix: &[u8], text: &[u8], value: Option<&[u8]>) {
    out.extend_from_slice(prefix);
    out.extend_from_slice(text);
    if let Some(v) = value {
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
    }
    out.extend_from_slice(EOL);
}

/// Diagnostics are best effort: a closed stderr is no reason to abort a transfer.
fn diagnostic(text: &[u8]) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text);
    let _ = err.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_shape() {
        let headers = vec![("Content-Type", &b"text/plain"[..]), ("X-A", b"1"), ("content-type", b"x")];
        let url: Uri = "http://h/".parse().unwrap();
        let head = Head { version: Version::HTTP_11, status: StatusCode::OK, reason: b"OK", headers, url: &url };
        let mut out = Vec::new();
        write_head(&mut out, b"< ", &head);
        assert_eq!(out, b"< HTTP/1.1 200 OK\r\n< Content-Type: text/plain\r\n< X-A: 1\r\n< content-type: x\r\n");
    }

    #[test]
    fn timings_format() {
        let t = Timings {
            connect: Some(Duration::from_micros(1500)),
            first_byte: Duration::from_millis(3),
            reused_connection: true,
            ..Timings::default()
        };
        assert_eq!(
            timing_line(&t),
            "* timing: dns=0.000ms connect=1.500ms tls=0.000ms first_byte=3.000ms body=0.000ms reused=true"
        );
    }
}
