//! Why the command failed: the exit code and the one `error[KIND]` line scripts can rely on.

use std::io;

use reqivo::ErrorKind;

/// A failure of the command, with everything needed for its exit code and last stderr line.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments, or input named by the arguments that cannot be read.
    Usage(String),
    /// The library failed the request.
    Request(reqivo::Error),
    /// Writing the output (or starting the runtime) failed.
    Local { what: String, error: io::Error },
}

impl From<reqivo::Error> for Failure {
    fn from(e: reqivo::Error) -> Self {
        Failure::Request(e)
    }
}

impl Failure {
    pub fn local(what: impl Into<String>, error: io::Error) -> Self {
        Failure::Local { what: what.into(), error }
    }

    /// The `KIND` of `error[KIND]` and the exit code; the pairs are the CLI's contract.
    pub fn kind(&self) -> (&'static str, u8) {
        let Failure::Request(e) = self else {
            return match self {
                Failure::Usage(_) => ("usage", 2),
                _ => ("other", 1),
            };
        };
        match e.kind() {
            ErrorKind::InvalidRequest => ("usage", 2),
            ErrorKind::Dns | ErrorKind::Connect | ErrorKind::Tls => ("connection", 3),
            ErrorKind::Timeout(_) => ("timeout", 4),
            // Io errors only happen on an established connection, i.e. while the response is expected.
            ErrorKind::Protocol | ErrorKind::Decode | ErrorKind::Io => ("protocol", 5),
            ErrorKind::TooLarge => ("too_large", 6),
            ErrorKind::Redirect => ("redirect", 7),
            ErrorKind::WebSocket => ("websocket", 5),
            _ => ("other", 1),
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.kind().1
    }

    /// `reqivo: error[KIND]: message: cause: deeper cause`, on one line.
    pub fn line(&self) -> String {
        let message = match self {
            Failure::Usage(m) => format!("{m} (see reqivo --help)"),
            Failure::Request(e) => with_sources(e),
            Failure::Local { what, error } => format!("{what}: {}", with_sources(error)),
        };
        // Newlines inside a cause would stop this from being the last line.
        let message = message.replace(['\r', '\n'], " ");
        format!("reqivo: error[{}]: {message}", self.kind().0)
    }
}

/// The error and its source chain joined with `: `. A cause the text already shows (reqivo's `Display`
/// includes the first source) is not repeated.
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Chain(&'static str, Option<Box<Chain>>);
    impl std::fmt::Display for Chain {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Chain {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|c| c as _)
        }
    }

    #[test]
    fn source_chain_on_one_line() {
        let e = Chain("outer", Some(Box::new(Chain("middle", Some(Box::new(Chain("inner\nline", None)))))));
        let f = Failure::local("writing out.bin", io::Error::other(e));
        assert_eq!(f.line(), "reqivo: error[other]: writing out.bin: outer: middle: inner line");
        assert_eq!(f.exit_code(), 1);
    }

    #[test]
    fn usage_line() {
        let f = Failure::Usage("no URL given".into());
        assert_eq!(f.line(), "reqivo: error[usage]: no URL given (see reqivo --help)");
        assert_eq!(f.exit_code(), 2);
    }
}
