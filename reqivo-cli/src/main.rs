//! `reqivo`: a curl-like HTTP/1.1 client on the reqivo library.
//!
//! `args` parses the command line, `plan` decides what each request sends, `run` drives the async or
//! the blocking session, `output` prints, `failure` maps errors to exit codes and the `error[KIND]`
//! line; `ws` is `reqivo ws` (the WebSocket client); `demo` is a guided tour against the embedded
//! loopback server in `demo_server`.

mod args;
mod demo;
mod demo_server;
mod failure;
mod output;
mod plan;
mod run;
mod ws;

use std::process::ExitCode;

use args::Command;
use failure::Failure;

fn main() -> ExitCode {
    // args_os: a non-UTF-8 argument is a usage error, not a panic.
    let argv: Result<Vec<String>, _> = std::env::args_os().skip(1).map(|a| a.into_string()).collect();
    let parsed = argv.map_err(|a| format!("argument {a:?} is not valid UTF-8 (use -d @FILE for binary data)"));
    let result = match parsed.and_then(args::parse) {
        Err(message) => Err(Failure::Usage(message)),
        Ok(Command::Help) => {
            print!("{}", args::USAGE);
            Ok(())
        }
        Ok(Command::Version) => {
            println!("reqivo {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Ok(Command::Ws(opts)) => ws::run(&opts),
        Ok(Command::Demo) => demo::run(),
        Ok(Command::Fetch(opts)) => run::run(&opts),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{}", failure.line());
            ExitCode::from(failure.exit_code())
        }
    }
}
