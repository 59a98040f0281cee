//! `reqivo-bench`: one subcommand per client, each run as its own process by `bench/run.sh`.
//!
//! ```text
//! reqivo-bench CLIENT SCENARIO --port P [--duration-ms 1500] [--warmup-ms 300] [--requests N]
//!              [--server-pid PID[,PID...]] [--round R]
//! reqivo-bench report throughput|memory|instructions RESULTS.jsonl [META.json]
//! reqivo-bench splice FILE SECTION          (the section's new text on stdin)
//! reqivo-bench code-lines N1.out N2.out N1 N2 (code lines run per request, from two callgrind runs)
//! reqivo-bench list clients [SCENARIO] | scenarios
//! reqivo-bench ws-server --port P            (the WebSocket echo server)
//! ```
//!
//! A run prints one JSON line on stdout. Only 127.0.0.1 is ever contacted.

mod bodies;
mod clients;
mod code_lines;
mod floor;
mod harness;
mod report;
mod ws;
mod ws_server;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clients::*;
use floor::{request_bytes, Raw, RawTokio};
use harness::{idle_async, idle_sync, run_async, run_sync, Limit, Opts, Scenario, Target};

/// HTTP clients, in the order the tables list them.
pub const CLIENTS: [&str; 9] = [
    "raw",
    "raw-tokio",
    "reqivo-sync",
    "reqivo-async",
    "hyper-conn",
    "hyper-util",
    "reqwest",
    "reqwest-blocking",
    "ureq",
];

const USAGE: &str = "usage: reqivo-bench CLIENT SCENARIO --port P [--duration-ms MS] [--warmup-ms MS] [--requests N] \
[--server-pid PID[,PID...]] [--round R]
       reqivo-bench report throughput|memory|instructions|websocket|ws-memory RESULTS.jsonl [META.json]
       reqivo-bench splice FILE SECTION   (new section text on stdin)
       reqivo-bench code-lines N1.out N2.out N1 N2   (code lines run per request, from callgrind --dump-instr)
       reqivo-bench list clients [SCENARIO] | scenarios   (the clients that run SCENARIO, or all)
       reqivo-bench ws-server --port P    (the WebSocket echo server)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(first) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match first.as_str() {
        "report" => return report::main(&args[1..]),
        "splice" => return report::splice_main(&args[1..]),
        "code-lines" => return code_lines::main(&args[1..]),
        "list" => {
            match args.get(1).map(String::as_str) {
                Some("clients") => match args.get(2).map(|s| Scenario::parse(s)) {
                    None => CLIENTS.iter().chain(&ws::CLIENTS).for_each(|c| println!("{c}")),
                    Some(Some(sc)) => clients_of(sc).iter().for_each(|c| println!("{c}")),
                    Some(None) => {
                        eprintln!("unknown scenario {:?}\n{USAGE}", args[2]);
                        return ExitCode::from(2);
                    }
                },
                Some("scenarios") => Scenario::ALL.iter().for_each(|s| println!("{}", s.name())),
                _ => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            }
            return ExitCode::SUCCESS;
        }
        "ws-server" => return ws_server::main(&args[1..]),
        "-h" | "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let client = first.as_str();
    let scenario_name = args.get(1).map(String::as_str).unwrap_or("");
    if !CLIENTS.contains(&client) && !ws::CLIENTS.contains(&client) {
        eprintln!("unknown client {client:?}\n{USAGE}");
        return ExitCode::from(2);
    }
    let Some(scenario) = Scenario::parse(scenario_name) else {
        eprintln!("unknown scenario {scenario_name:?}\n{USAGE}");
        return ExitCode::from(2);
    };
    if !clients_of(scenario).contains(&client) {
        eprintln!("{client} does not run {scenario_name} (see `reqivo-bench list clients {scenario_name}`)");
        return ExitCode::from(2);
    }
    let opts = match parse_opts(client, scenario, &args[2..]) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if scenario.is_ws() {
        if let Err(e) = ws::run(&opts) {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    } else {
        run(&opts);
    }
    ExitCode::SUCCESS
}

/// The clients that run a scenario.
fn clients_of(sc: Scenario) -> &'static [&'static str] {
    match sc {
        Scenario::WsIdle10000 => &ws::IDLE_CLIENTS,
        sc if sc.is_ws() => &ws::CLIENTS,
        _ => &CLIENTS,
    }
}

fn parse_opts(client: &str, scenario: Scenario, rest: &[String]) -> Result<Opts, String> {
    let mut port = None;
    let mut duration = Duration::from_millis(1500);
    let mut warmup = Duration::from_millis(300);
    let mut requests = None;
    let mut server_pids = Vec::new();
    let mut round = None;
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let num = |v: &String| v.parse::<u64>().map_err(|_| format!("{flag}: not a number: {v}"));
        match flag.as_str() {
            "--port" => port = Some(num(value()?)? as u16),
            "--duration-ms" => duration = Duration::from_millis(num(value()?)?),
            "--warmup-ms" => warmup = Duration::from_millis(num(value()?)?),
            "--requests" => requests = Some(num(value()?)?),
            "--round" => round = Some(num(value()?)? as u32),
            "--server-pid" => {
                for p in value()?.split(',').filter(|p| !p.is_empty()) {
                    server_pids.push(p.parse().map_err(|_| format!("--server-pid: {p}"))?);
                }
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    let port = port.ok_or("--port is required")?;
    let limit = match requests {
        Some(n) => Limit::Requests(n),
        None => Limit::For(duration),
    };
    Ok(Opts { client: client.to_string(), target: Target::new(port, scenario), warmup, limit, server_pids, round })
}

fn run(opts: &Opts) {
    let t = &opts.target;
    let idle = opts.scenario() == Scenario::Idle1000;
    macro_rules! sync_client {
        ($make:expr) => {
            if idle {
                idle_sync(opts, $make)
            } else {
                run_sync(opts, $make).print(opts)
            }
        };
    }
    macro_rules! async_client {
        ($make:expr) => {
            if idle {
                idle_async(opts, $make)
            } else {
                run_async(opts, $make).print(opts)
            }
        };
    }
    match opts.client.as_str() {
        "raw" => {
            let req = Arc::new(request_bytes(t));
            sync_client!(|| Raw::new(t, req.clone()))
        }
        "raw-tokio" => {
            let req = Arc::new(request_bytes(t));
            async_client!(|| RawTokio::new(t, req.clone()))
        }
        "reqivo-sync" => {
            let session = reqivo_sync_session();
            sync_client!(|| ReqivoSync { session: session.clone(), target: t.clone() })
        }
        "reqivo-async" => {
            let session = reqivo_async_session();
            async_client!(|| ReqivoAsync { session: session.clone(), target: t.clone() })
        }
        "hyper-conn" => async_client!(|| HyperConn { target: t.clone(), sender: None }),
        "hyper-util" => {
            let client = hyper_util_client();
            async_client!(|| HyperUtil { client: client.clone(), target: t.clone() })
        }
        "reqwest" => {
            let client = reqwest_client();
            async_client!(|| Reqwest { client: client.clone(), target: t.clone() })
        }
        "reqwest-blocking" => {
            let client = reqwest_blocking_client();
            sync_client!(|| ReqwestBlocking { client: client.clone(), target: t.clone(), buf: big_buf() })
        }
        "ureq" => {
            let agent = ureq_agent();
            sync_client!(|| Ureq { agent: agent.clone(), target: t.clone(), buf: big_buf() })
        }
        other => unreachable!("client {other}"),
    }
}

fn big_buf() -> Box<[u8]> {
    vec![0; 64 * 1024].into_boxed_slice()
}
