//! Command-line parsing, by hand: a small option table instead of a parser dependency.

use std::path::PathBuf;
use std::time::Duration;

use reqivo::header::{HeaderName, HeaderValue};
use reqivo::Method;

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Help,
    Version,
    Demo,
    /// `reqivo ws URL`: the WebSocket client.
    Ws(Box<crate::ws::WsOptions>),
    Fetch(Box<Options>),
}

/// A request body as given on the command line; files are read later, when the plan is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    Literal(String),
    File(PathBuf),
    Stdin,
}

impl Data {
    fn parse(value: &str) -> Data {
        match value.strip_prefix('@') {
            Some("-") => Data::Stdin,
            Some(path) => Data::File(PathBuf::from(path)),
            None => Data::Literal(value.to_owned()),
        }
    }
}

/// Everything `reqivo [METHOD] URL...` was given.
#[derive(Debug, Default)]
pub struct Options {
    /// `None` means "GET, or POST when there is a body".
    pub method: Option<Method>,
    pub urls: Vec<String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Several `-d` are joined with `&`, as curl does.
    pub data: Vec<Data>,
    pub json: Option<Data>,
    pub include: bool,
    pub verbose: bool,
    pub output: Option<PathBuf>,
    pub timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub max_body: Option<u64>,
    pub compressed: bool,
    pub no_follow: bool,
    pub max_redirects: Option<usize>,
    pub insecure: bool,
    pub sync: bool,
}

/// `(short, long, takes a value)`.
const OPTIONS: &[(Option<char>, &str, bool)] = &[
    (Some('H'), "header", true),
    (Some('d'), "data", true),
    (None, "json", true),
    (Some('i'), "include", false),
    (Some('v'), "verbose", false),
    (Some('o'), "output", true),
    (None, "timeout", true),
    (None, "connect-timeout", true),
    (None, "max-body", true),
    (None, "compressed", false),
    (None, "no-follow", false),
    (None, "max-redirects", true),
    (Some('k'), "insecure", false),
    (None, "sync", false),
    (Some('h'), "help", false),
    (Some('V'), "version", false),
];

pub const USAGE: &str = "\
reqivo — a curl-like HTTP/1.1 client built on the reqivo library

Usage:
  reqivo [METHOD] URL [URL...] [OPTIONS]
  reqivo ws URL [OPTIONS]   WebSocket: stdin lines out, messages in (reqivo ws --help)
  reqivo demo               a short tour against an embedded loopback server

METHOD is optional and case-insensitive (GET, post, PURGE, ...); it defaults to GET,
or POST when a body is given. Several URLs are fetched in order over one session.

Options:
  -H, --header 'Name: value'  add a request header (repeatable)
  -d, --data DATA|@FILE|@-    send a body (form content type unless -H sets one)
      --json JSON|@FILE|@-    send a JSON body with JSON content type and accept
  -i, --include               print the response status line and headers
  -v, --verbose               print request/response heads and timings to stderr
  -o, --output FILE           write the body to FILE instead of stdout
      --timeout SECS          total deadline per request (fractions allowed)
      --connect-timeout SECS  limit for DNS + connect + TLS
      --max-body BYTES        fail when the decoded body is larger
      --compressed            ask for gzip and decode it
      --no-follow             do not follow redirects
      --max-redirects N       follow at most N redirects (default 10)
  -k, --insecure              accept any TLS certificate
      --sync                  use the blocking Session instead of AsyncSession
  -h, --help                  this help
  -V, --version               the version

Exit codes: 0 response received (any status), 2 usage or invalid request,
3 connect/DNS/TLS failure, 4 timeout, 5 malformed or truncated response (or a refused
WebSocket upgrade),
6 limit exceeded, 7 redirect failure, 1 anything else.
";

/// Parses the arguments after the program name; `Err` is a usage error message.
pub fn parse(args: Vec<String>) -> Result<Command, String> {
    match args.first().map(String::as_str) {
        Some("demo") if args.len() == 1 => return Ok(Command::Demo),
        Some("demo") => return Err("`demo` takes no arguments".into()),
        Some("ws") => return crate::ws::parse(&args[1..]).map(|o| Command::Ws(Box::new(o))),
        _ => {}
    }
    let mut opts = Options::default();
    let mut positionals = Vec::new();
    let mut args = args.into_iter();
    let mut only_positionals = false;
    while let Some(arg) = args.next() {
        if only_positionals || arg == "-" || !arg.starts_with('-') {
            positionals.push(arg);
        } else if arg == "--" {
            only_positionals = true;
        } else if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let &(_, name, takes_value) =
                OPTIONS.iter().find(|o| o.1 == name).ok_or_else(|| format!("unknown option --{name}"))?;
            let value = match (takes_value, inline) {
                (true, Some(v)) => Some(v),
                (true, None) => Some(args.next().ok_or_else(|| format!("--{name} needs a value"))?),
                (false, Some(_)) => return Err(format!("--{name} takes no value")),
                (false, None) => None,
            };
            if let Some(cmd) = apply(&mut opts, name, value)? {
                return Ok(cmd);
            }
        } else {
            // A cluster of short options (`-iv`); one that takes a value eats the rest or the next argument.
            let cluster = &arg[1..];
            for (i, c) in cluster.char_indices() {
                let &(_, name, takes_value) =
                    OPTIONS.iter().find(|o| o.0 == Some(c)).ok_or_else(|| format!("unknown option -{c}"))?;
                let value = if takes_value {
                    let rest = &cluster[i + c.len_utf8()..];
                    Some(if rest.is_empty() {
                        args.next().ok_or_else(|| format!("-{c} needs a value"))?
                    } else {
                        rest.to_owned()
                    })
                } else {
                    None
                };
                if let Some(cmd) = apply(&mut opts, name, value)? {
                    return Ok(cmd);
                }
                if takes_value {
                    break;
                }
            }
        }
    }
    split_positionals(&mut opts, positionals)?;
    Ok(Command::Fetch(Box::new(opts)))
}

/// Records one option; returns a command when the option ends parsing (`--help`, `--version`).
fn apply(opts: &mut Options, name: &str, value: Option<String>) -> Result<Option<Command>, String> {
    let value = value.unwrap_or_default();
    match name {
        "header" => opts.headers.push(parse_header(&value)?),
        "data" => opts.data.push(Data::parse(&value)),
        "json" => {
            if opts.json.replace(Data::parse(&value)).is_some() {
                return Err("--json given twice".into());
            }
        }
        "include" => opts.include = true,
        "verbose" => opts.verbose = true,
        "output" => opts.output = Some(PathBuf::from(value)),
        "timeout" => opts.timeout = Some(seconds(name, &value)?),
        "connect-timeout" => opts.connect_timeout = Some(seconds(name, &value)?),
        "max-body" => opts.max_body = Some(number(name, &value)?),
        "compressed" => opts.compressed = true,
        "no-follow" => opts.no_follow = true,
        "max-redirects" => opts.max_redirects = Some(number(name, &value)?),
        "insecure" => opts.insecure = true,
        "sync" => opts.sync = true,
        "help" => return Ok(Some(Command::Help)),
        "version" => return Ok(Some(Command::Version)),
        _ => unreachable!("option {name} is in the table but not handled"),
    }
    Ok(None)
}

/// The first positional is a METHOD unless it looks like a URL (has `://`); the rest are URLs.
fn split_positionals(opts: &mut Options, positionals: Vec<String>) -> Result<(), String> {
    let mut positionals = positionals.into_iter().peekable();
    let first = positionals.next_if(|p| !p.contains("://"));
    if let Some(first) = &first {
        let method = Method::from_bytes(first.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("{first:?} is neither a method nor a URL (URLs need a scheme, like http://)"))?;
        opts.method = Some(method);
    }
    opts.urls = positionals.collect();
    match (&first, opts.urls.is_empty()) {
        (None, true) => return Err("no URL given".into()),
        // `reqivo example.com` would otherwise read as the method EXAMPLE.COM with no URL.
        (Some(first), true) => {
            return Err(format!("no URL given ({first:?} was taken as the METHOD; URLs need a scheme, like http://)"))
        }
        _ => {}
    }
    if let Some(bad) = opts.urls.iter().find(|u| !u.contains("://")) {
        return Err(format!("{bad:?} is not a URL (URLs need a scheme, like http://{bad})"));
    }
    if opts.json.is_some() && !opts.data.is_empty() {
        return Err("-d and --json cannot be combined".into());
    }
    Ok(())
}

/// `Name: value` → a validated header; the value's surrounding whitespace is not part of it (RFC 9110 §5.5).
pub(crate) fn parse_header(arg: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) =
        arg.split_once(':').ok_or_else(|| format!("header {arg:?} has no colon (want 'Name: value')"))?;
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name {name:?}"))?;
    let value = HeaderValue::from_bytes(value.trim_matches([' ', '\t']).as_bytes())
        .map_err(|_| format!("invalid value for header {name}"))?;
    Ok((name, value))
}

pub(crate) fn seconds(name: &str, value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("--{name} wants a positive number of seconds, not {value:?}"))
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("--{name} wants a whole number, not {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetch(args: &[&str]) -> Options {
        match parse(args.iter().map(|s| s.to_string()).collect()) {
            Ok(Command::Fetch(o)) => *o,
            other => panic!("expected a fetch, got {other:?}"),
        }
    }

    fn usage_error(args: &[&str]) -> String {
        parse(args.iter().map(|s| s.to_string()).collect()).expect_err("expected a usage error")
    }

    #[test]
    fn method_is_optional_and_case_insensitive() {
        assert_eq!(fetch(&["http://a/"]).method, None);
        assert_eq!(fetch(&["get", "http://a/"]).method, Some(Method::GET));
        assert_eq!(fetch(&["purge", "http://a/"]).method.unwrap().as_str(), "PURGE");
        assert_eq!(fetch(&["http://a/", "http://b/"]).urls, ["http://a/", "http://b/"]);
    }

    #[test]
    fn options_in_all_spellings() {
        let o = fetch(&["-iv", "-HX-A: 1", "--header=X-B:  2 ", "http://a/", "--timeout", "0.5", "-o", "f", "--sync"]);
        assert!(o.include && o.verbose && o.sync);
        assert_eq!(o.headers.len(), 2);
        assert_eq!(o.headers[1].1, "2");
        assert_eq!(o.timeout, Some(Duration::from_millis(500)));
        assert_eq!(o.output, Some(PathBuf::from("f")));
        let o = fetch(&["-d", "a=1", "-d", "@file", "-d", "@-", "http://a/"]);
        assert_eq!(o.data, [Data::Literal("a=1".into()), Data::File("file".into()), Data::Stdin]);
    }

    #[test]
    fn usage_errors() {
        assert!(usage_error(&["-H", "NoColon", "http://a/"]).contains("no colon"));
        assert!(usage_error(&["-H", "Bad Name: x", "http://a/"]).contains("invalid header name"));
        assert!(usage_error(&["GET"]).contains("no URL"));
        assert!(usage_error(&["GET", "example.com"]).contains("not a URL"));
        assert!(usage_error(&["example.com/x"]).contains("neither a method nor a URL"));
        assert!(usage_error(&["--timeout", "-1", "http://a/"]).contains("seconds"));
        assert!(usage_error(&["--nope", "http://a/"]).contains("unknown option"));
        assert!(usage_error(&["http://a/", "-o"]).contains("needs a value"));
        assert!(usage_error(&["--json", "{}", "-d", "x", "http://a/"]).contains("cannot be combined"));
    }

    #[test]
    fn subcommands_and_help() {
        assert!(matches!(parse(vec!["demo".into()]), Ok(Command::Demo)));
        assert!(matches!(parse(vec!["ws".into(), "ws://a/".into()]), Ok(Command::Ws(_))));
        assert!(matches!(parse(vec!["http://a/".into(), "--help".into()]), Ok(Command::Help)));
        assert!(matches!(parse(vec!["--version".into()]), Ok(Command::Version)));
    }
}
