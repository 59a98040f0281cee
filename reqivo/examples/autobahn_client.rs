//! The Autobahn WebSocket client test suite, against a fuzzing server (`kosoku -m fuzzingserver`, or
//! Autobahn's own `wstest -m fuzzingserver`):
//!
//! ```text
//! cargo run --release --example autobahn_client -- [--sync] ws://127.0.0.1:9001 AGENT
//! ```
//!
//! Asks the server for the number of cases (`/getCaseCount`), runs every case (`/runCase?case=N&agent=AGENT`,
//! echoing each text and binary message back), then asks it to write its reports
//! (`/updateReports?agent=AGENT`). `--sync` uses the blocking `WebSocket`, otherwise `AsyncWebSocket`.
//! Compression (permessage-deflate) is offered, as by default.

use std::time::{Duration, Instant};

use reqivo::{AsyncSession, Message, Session};

/// Large enough for the 9.x cases (16 MiB messages and frames).
const LIMIT: usize = 64 << 20;

// Every case connection uses `compression_threshold(0)`: every message is compressed when compression is
// negotiated. RFC 7692 lets short messages go out uncompressed (the library's default threshold is 64
// bytes), but kosoku 0.1.0 fails such cases with ERROR ("Strings must be encoded before hashing": it hands
// an uncompressed text message to Autobahn's Python case code as `str`).

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let sync = args.iter().any(|a| a == "--sync");
    args.retain(|a| a != "--sync");
    let (base, agent) = match args.as_slice() {
        [base, agent] => (base.trim_end_matches('/').to_owned(), agent.clone()),
        _ => {
            eprintln!("usage: autobahn_client [--sync] ws://127.0.0.1:9001 AGENT");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    let result = if sync {
        run_sync(&base, &agent)
    } else {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        rt.block_on(run_async(&base, &agent))
    };
    match result {
        Ok(n) => eprintln!("{agent}: ran {n} cases in {:.1} s", start.elapsed().as_secs_f64()),
        Err(e) => {
            eprintln!("{agent}: {e}");
            std::process::exit(1);
        }
    }
}

type Failed = Box<dyn std::error::Error>;

fn case_count(text: Option<&str>) -> Result<u32, Failed> {
    text.and_then(|t| t.trim().parse().ok()).ok_or_else(|| "the server did not send a case count".into())
}

async fn run_async(base: &str, agent: &str) -> Result<u32, Failed> {
    let session = AsyncSession::builder().read_timeout(Duration::from_secs(60)).build()?;
    let mut ws = session.websocket(format!("{base}/getCaseCount")).connect().await?;
    let first = ws.recv().await?;
    let count = case_count(first.as_ref().and_then(Message::as_text))?;
    while ws.recv().await?.is_some() {}
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        let mut ws = session
            .websocket(url)
            .max_message_size(LIMIT)
            .max_frame_size(LIMIT)
            .compression_threshold(0)
            .no_context_takeover(true)
            .connect()
            .await?;
        loop {
            let echoed = match ws.recv().await {
                Ok(Some(Message::Text(t))) => ws.send_text(&t).await,
                Ok(Some(Message::Binary(b))) => ws.send_binary(&b).await,
                Ok(Some(_)) => Ok(()),
                Ok(None) | Err(_) => break,
            };
            if echoed.is_err() {
                break;
            }
        }
    }
    let mut ws = session.websocket(format!("{base}/updateReports?agent={agent}")).connect().await?;
    while let Ok(Some(_)) = ws.recv().await {}
    Ok(count)
}

fn run_sync(base: &str, agent: &str) -> Result<u32, Failed> {
    let session = Session::builder().read_timeout(Duration::from_secs(60)).build()?;
    let mut ws = session.websocket(format!("{base}/getCaseCount")).connect()?;
    let first = ws.recv()?;
    let count = case_count(first.as_ref().and_then(Message::as_text))?;
    while ws.recv()?.is_some() {}
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        let mut ws = session
            .websocket(url)
            .max_message_size(LIMIT)
            .max_frame_size(LIMIT)
            .compression_threshold(0)
            .no_context_takeover(true)
            .connect()?;
        loop {
            let echoed = match ws.recv() {
                Ok(Some(Message::Text(t))) => ws.send_text(&t),
                Ok(Some(Message::Binary(b))) => ws.send_binary(&b),
                Ok(Some(_)) => Ok(()),
                Ok(None) | Err(_) => break,
            };
            if echoed.is_err() {
                break;
            }
        }
    }
    let mut ws = session.websocket(format!("{base}/updateReports?agent={agent}")).connect()?;
    while let Ok(Some(_)) = ws.recv() {}
    Ok(count)
}
