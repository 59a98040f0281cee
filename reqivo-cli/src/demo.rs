//! `reqivo demo`: a short tour of the library against the embedded loopback server — the same steps
//! (three HTTP requests and a WebSocket echo) with `AsyncSession` and then with the blocking `Session`,
//! to show they are twins.

use std::time::{Duration, Instant};

use reqivo::{AsyncSession, Message, PoolStats, Session, StatusCode, Timings};

use crate::demo_server;
use crate::failure::Failure;
use crate::output::timing_line;

const JSON: &str = r#"{"tour":"reqivo","steps":4}"#;
const WS_TEXT: &str = "hello over WebSocket";

pub fn run() -> Result<(), Failure> {
    let addr = demo_server::start().map_err(|e| Failure::local("starting the demo server", e))?;
    let base = format!("http://{addr}");
    println!("reqivo demo: a tiny HTTP/1.1 server is listening on {base}");

    println!("\nAsyncSession (async, on a tokio runtime)");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::local("starting the tokio runtime", e))?;
    runtime.block_on(async_tour(&base))?;
    drop(runtime);

    println!("\nSession (blocking: plain sockets, no runtime, no helper thread)");
    blocking_tour(&base)?;

    println!("\nSame calls, same results: the blocking Session is AsyncSession without `.await`.");
    println!("Next: reqivo -i http://example.com/   or   reqivo --help");
    Ok(())
}

async fn async_tour(base: &str) -> Result<(), Failure> {
    let session = AsyncSession::builder().build()?;

    let resp = session.get(format!("{base}/hello")).send().await?;
    let status = status_text(resp.status(), resp.reason());
    row("GET ", "/hello ", &status, resp.text().await?.trim_end());

    let resp =
        session.post(format!("{base}/echo")).header("content-type", "application/json").body(JSON).send().await?;
    let status = status_text(resp.status(), resp.reason());
    row("POST", "/echo  ", &status, &format!("{} (echoed)", resp.text().await?));

    let mut resp = session.get(format!("{base}/stream")).send().await?;
    row("GET ", "/stream", &status_text(resp.status(), resp.reason()), "chunked, read piece by piece with chunk():");
    let start = Instant::now();
    while let Some(chunk) = resp.chunk().await? {
        chunk_row(start.elapsed(), &chunk);
    }
    summary(resp.timings(), session.pool_stats());

    let mut ws = session.websocket(format!("{}/ws", ws_base(base))).connect().await?;
    ws.send_text(WS_TEXT).await?;
    let echo = ws.recv().await?;
    ws.close(1000, "tour done").await?;
    ws_row(echo, "AsyncWebSocket");
    Ok(())
}

/// [`async_tour`] on the blocking session: the same calls, minus `.await`.
fn blocking_tour(base: &str) -> Result<(), Failure> {
    let session = Session::builder().build()?;

    let resp = session.get(format!("{base}/hello")).send()?;
    let status = status_text(resp.status(), resp.reason());
    row("GET ", "/hello ", &status, resp.text()?.trim_end());

    let resp = session.post(format!("{base}/echo")).header("content-type", "application/json").body(JSON).send()?;
    let status = status_text(resp.status(), resp.reason());
    row("POST", "/echo  ", &status, &format!("{} (echoed)", resp.text()?));

    let mut resp = session.get(format!("{base}/stream")).send()?;
    row("GET ", "/stream", &status_text(resp.status(), resp.reason()), "chunked, read piece by piece with chunk():");
    let start = Instant::now();
    while let Some(chunk) = resp.chunk()? {
        chunk_row(start.elapsed(), &chunk);
    }
    summary(resp.timings(), session.pool_stats());

    let mut ws = session.websocket(format!("{}/ws", ws_base(base))).connect()?;
    ws.send_text(WS_TEXT)?;
    let echo = ws.recv()?;
    ws.close(1000, "tour done")?;
    ws_row(echo, "WebSocket");
    Ok(())
}

/// `ws://` for the server at `http://…`.
fn ws_base(base: &str) -> String {
    base.replacen("http", "ws", 1)
}

fn ws_row(echo: Option<Message>, api: &str) {
    let text = echo.as_ref().and_then(Message::as_text).unwrap_or("(no echo)");
    row("WS  ", "/ws    ", "101", &format!("{api}: {text:?} echoed back, then closed with 1000"));
}

fn status_text(status: StatusCode, reason: &[u8]) -> String {
    format!("{} {}", status.as_u16(), String::from_utf8_lossy(reason))
}

fn row(method: &str, path: &str, status: &str, detail: &str) {
    println!("  {method} {path}  {status:<7} {detail}");
}

fn chunk_row(at: Duration, chunk: &[u8]) {
    println!("      +{:>4}ms  {:?}", at.as_millis(), String::from_utf8_lossy(chunk));
}

fn summary(timings: Timings, pool: PoolStats) {
    println!("  {}", timing_line(&timings).trim_start_matches("* "));
    let note = if pool.opened == 1 { " (one keep-alive connection served every request)" } else { "" };
    println!("  pool: opened: {}, reused: {}{note}", pool.opened, pool.reused);
}
