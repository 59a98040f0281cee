//! Turns the JSON lines of the runs into the Markdown tables of `BENCHMARKS.md`, and splices a section into
//! that file (`<!-- BEGIN name -->` … `<!-- END name -->`), so that each script updates only its own part.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Read as _;
use std::process::ExitCode;

use serde_json::Value;

use crate::CLIENTS;

const FLOOR_SYNC: &str = "raw";
const FLOOR_ASYNC: &str = "raw-tokio";
const ASYNC_CLIENTS: [&str; 5] = ["raw-tokio", "reqivo-async", "hyper-conn", "hyper-util", "reqwest"];
const PEERS: [&str; 5] = ["hyper-conn", "hyper-util", "reqwest", "reqwest-blocking", "ureq"];
const THROUGHPUT_SCENARIOS: [&str; 6] = ["seq13", "inflight64", "dl1m", "chunked64k", "up64k", "up64k-chunked"];

pub fn main(args: &[String]) -> ExitCode {
    let (Some(kind), Some(file)) = (args.first(), args.get(1)) else {
        eprintln!("usage: reqivo-bench report throughput|memory|instructions|websocket|ws-memory RESULTS.jsonl");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let recs: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let out = match kind.as_str() {
        "throughput" => throughput(&recs),
        "memory" => memory(&recs),
        "instructions" => instructions(&recs),
        "websocket" => websocket(&recs),
        "ws-memory" => ws_memory(&recs),
        other => {
            eprintln!("unknown report {other}");
            return ExitCode::from(2);
        }
    };
    print!("{out}");
    ExitCode::SUCCESS
}

pub fn splice_main(args: &[String]) -> ExitCode {
    let (Some(file), Some(section)) = (args.first(), args.get(1)) else {
        eprintln!("usage: reqivo-bench splice FILE SECTION < text");
        return ExitCode::from(2);
    };
    let mut body = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut body) {
        eprintln!("stdin: {e}");
        return ExitCode::FAILURE;
    }
    let old = std::fs::read_to_string(file).unwrap_or_default();
    let new = splice(&old, section, &body);
    if let Err(e) = std::fs::write(file, new) {
        eprintln!("{file}: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn splice(old: &str, section: &str, body: &str) -> String {
    let begin = format!("<!-- BEGIN {section} -->");
    let end = format!("<!-- END {section} -->");
    let mut block = format!("{begin}\n{}", body.trim_end());
    block.push('\n');
    block.push_str(&end);
    if let (Some(b), Some(e)) = (old.find(&begin), old.find(&end)) {
        if b < e {
            return format!("{}{}{}", &old[..b], block, &old[e + end.len()..]);
        }
    }
    let mut s = old.trim_end().to_string();
    if !s.is_empty() {
        s.push_str("\n\n");
    }
    s.push_str(&block);
    s.push('\n');
    s
}

// ---------------------------------------------------------------------------------------------------------

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    Some(if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 })
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(*x), hi.max(*x)))
}

fn fmt_num(x: f64) -> String {
    if x >= 10_000.0 {
        format!("{x:.0}")
    } else if x >= 100.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn med_range(v: &[f64]) -> String {
    match median(v) {
        None => "—".into(),
        Some(m) if v.len() == 1 => fmt_num(m),
        Some(m) => {
            let (lo, hi) = min_max(v);
            format!("{} ({}–{})", fmt_num(m), fmt_num(lo), fmt_num(hi))
        }
    }
}

fn is_async(client: &str) -> bool {
    ASYNC_CLIENTS.contains(&client)
}

fn own_floor(client: &str) -> &'static str {
    if is_async(client) {
        FLOOR_ASYNC
    } else {
        FLOOR_SYNC
    }
}

fn num(r: &Value, k: &str) -> Option<f64> {
    r.get(k).and_then(Value::as_f64)
}

fn text<'a>(r: &'a Value, k: &str) -> &'a str {
    r.get(k).and_then(Value::as_str).unwrap_or("")
}

/// One scenario's runs: client → round → record.
struct Runs<'a> {
    by_client: BTreeMap<&'a str, BTreeMap<u64, &'a Value>>,
    rounds: BTreeSet<u64>,
    metric: &'static str,
}

impl<'a> Runs<'a> {
    fn new(recs: &'a [Value], scenario: &str) -> Runs<'a> {
        let metric = if matches!(scenario, "dl1m" | "ws-bin64k") { "cpu_s_per_gib" } else { "cpu_us_per_op" };
        let mut by_client: BTreeMap<&str, BTreeMap<u64, &Value>> = BTreeMap::new();
        let mut rounds = BTreeSet::new();
        for r in recs.iter().filter(|r| text(r, "scenario") == scenario) {
            let round = r.get("round").and_then(Value::as_u64).unwrap_or(0);
            rounds.insert(round);
            by_client.entry(text(r, "client")).or_default().insert(round, r);
        }
        Runs { by_client, rounds, metric }
    }

    fn values(&self, client: &str, key: &str) -> Vec<f64> {
        self.by_client.get(client).map(|m| m.values().filter_map(|r| num(r, key)).collect()).unwrap_or_default()
    }

    /// Median over rounds of `client / base`, each round paired with itself.
    fn ratio(&self, client: &str, base: &str, key: &str) -> Option<f64> {
        let (c, b) = (self.by_client.get(client)?, self.by_client.get(base)?);
        let pairs: Vec<f64> = c
            .iter()
            .filter_map(|(round, r)| Some(num(r, key)? / num(b.get(round)?, key)?))
            .filter(|x| x.is_finite())
            .collect();
        median(&pairs)
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map(|x| format!("{x:.2}")).unwrap_or_else(|| "—".into())
}

fn scenario_title(s: &str) -> &'static str {
    match s {
        "seq13" => "Sequential keep-alive GET of 13 bytes, one connection (`seq13`)",
        "inflight64" => {
            "64 requests in flight over 64 connections (`inflight64`; threads for sync clients, one shared client)"
        }
        "dl1m" => "1 MiB downloads, one connection (`dl1m`)",
        "chunked64k" => "Chunked 64 KiB downloads (nginx `sub_filter`), one connection (`chunked64k`)",
        "up64k" => "64 KiB POST uploads with Content-Length, one connection (`up64k`)",
        "up64k-chunked" => {
            "64 KiB POST uploads streamed chunked (4 × 16 KiB pieces or the client's reader buffer) (`up64k-chunked`)"
        }
        _ => "?",
    }
}

fn throughput(recs: &[Value]) -> String {
    let mut out = String::new();
    for sc in THROUGHPUT_SCENARIOS {
        let runs = Runs::new(recs, sc);
        if runs.by_client.is_empty() {
            continue;
        }
        let unit = if runs.metric == "cpu_s_per_gib" { "CPU s/GiB" } else { "CPU µs/op" };
        let _ = writeln!(out, "### {}\n", scenario_title(sc));
        let _ = writeln!(
            out,
            "| client | {unit} | ops/s | CPU ÷ raw | CPU ÷ raw-tokio | CPU ÷ reqwest | CPU ÷ ureq | ops/s ÷ own floor | server busy | runs |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
        for client in CLIENTS {
            let name = if client.starts_with("reqivo") { format!("**{client}**") } else { client.to_string() };
            let cpu = runs.values(client, runs.metric);
            if cpu.is_empty() {
                let _ = writeln!(out, "| {name} | failed (see the run log) | | | | | | | | 0/{} |", runs.rounds.len());
                continue;
            }
            let busy = median(&runs.values(client, "server_busy"));
            let busy = match busy {
                Some(b) if b >= 0.9 => format!("{b:.2} (server-bound)"),
                Some(b) => format!("{b:.2}"),
                None => "—".into(),
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {} | {} | {} | {busy} | {}/{} |",
                med_range(&cpu),
                med_range(&runs.values(client, "ops_per_s")),
                fmt_ratio(runs.ratio(client, "raw", runs.metric)),
                fmt_ratio(runs.ratio(client, "raw-tokio", runs.metric)),
                fmt_ratio(runs.ratio(client, "reqwest", runs.metric)),
                fmt_ratio(runs.ratio(client, "ureq", runs.metric)),
                fmt_ratio(runs.ratio(client, own_floor(client), "ops_per_s")),
                cpu.len(),
                runs.rounds.len(),
            );
        }
        out.push('\n');
    }
    out.push_str(&targets(recs));
    out
}

/// The issue's targets for the HTTP rows, checked against this run.
fn targets(recs: &[Value]) -> String {
    // (scenario, sync max ÷ raw, async max ÷ raw-tokio, async min ops/s ÷ raw-tokio)
    let rows: [(&str, f64, f64, Option<f64>); 4] = [
        ("seq13", 1.25, 1.25, None),
        ("inflight64", 1.3, 1.15, Some(0.95)),
        ("dl1m", 1.05, 1.1, None),
        ("chunked64k", 1.25, 1.3, None),
    ];
    let mut out = String::from(
        "### Targets (issue 3), client CPU per operation paired against the floor of the same kind\n\n\
         | scenario | reqivo-sync ÷ raw (target) | reqivo-async ÷ raw-tokio (target) | best peer ÷ raw |\n|---|---|---|---|\n",
    );
    let mark = |ok: bool| if ok { "✅" } else { "❌" };
    for (sc, sync_max, async_max, async_ops) in rows {
        let runs = Runs::new(recs, sc);
        if runs.by_client.is_empty() {
            continue;
        }
        let m = runs.metric;
        let s = runs.ratio("reqivo-sync", "raw", m);
        let a = runs.ratio("reqivo-async", "raw-tokio", m);
        let sync_cell = match s {
            Some(x) => format!("{} {x:.2} (≤ {sync_max})", mark(x <= sync_max)),
            None => "—".into(),
        };
        let mut async_cell = match a {
            Some(x) => format!("{} {x:.2} (≤ {async_max})", mark(x <= async_max)),
            None => "—".into(),
        };
        if let Some(min_ops) = async_ops {
            if let Some(o) = runs.ratio("reqivo-async", "raw-tokio", "ops_per_s") {
                let _ = write!(async_cell, "; ops/s {} {o:.2} (≥ {min_ops})", mark(o >= min_ops));
            }
        }
        let best = PEERS
            .iter()
            .filter_map(|p| runs.ratio(p, "raw", m).map(|r| (r, *p)))
            .min_by(|x, y| x.0.total_cmp(&y.0))
            .map(|(r, p)| format!("{p} {r:.2}"))
            .unwrap_or_else(|| "—".into());
        let _ = writeln!(out, "| {sc} | {sync_cell} | {async_cell} | {best} |");
    }
    out.push('\n');
    out
}

fn memory(recs: &[Value]) -> String {
    let runs = Runs::new(recs, "idle1000");
    let mut out = String::from(
        "| client | KiB RSS per idle pooled connection | connections opened | ÷ reqwest | ÷ ureq | runs |\n|---|---|---|---|---|---|\n",
    );
    for client in CLIENTS {
        let name = if client.starts_with("reqivo") { format!("**{client}**") } else { client.to_string() };
        let v = runs.values(client, "kib_per_conn");
        if v.is_empty() {
            let _ = writeln!(out, "| {name} | failed (see the run log) | | | | 0 |");
            continue;
        }
        let conns = median(&runs.values(client, "conns")).unwrap_or(0.0);
        let _ = writeln!(
            out,
            "| {name} | {} | {conns:.0} | {} | {} | {} |",
            med_range(&v),
            fmt_ratio(runs.ratio(client, "reqwest", "kib_per_conn")),
            fmt_ratio(runs.ratio(client, "ureq", "kib_per_conn")),
            v.len()
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// WebSocket

const WS_FLOOR: &str = "ws-raw";
const WS_PEER: &str = "tokio-tungstenite";
/// Issue 3: reqivo's memory per idle WebSocket at most this fraction of tokio-tungstenite's.
const WS_IDLE_TARGET: f64 = 1.0 / 8.0;

fn ws_name(client: &str) -> String {
    if client.contains("reqivo") {
        format!("**{client}**")
    } else {
        client.to_string()
    }
}

fn websocket(recs: &[Value]) -> String {
    let mut out = String::new();
    for (sc, title) in [
        ("ws-echo16", "Sequential echo of a 16-byte text message, one connection (`ws-echo16`)"),
        ("ws-bin64k", "Sequential echo of 64 KiB binary messages, one connection (`ws-bin64k`)"),
    ] {
        let runs = Runs::new(recs, sc);
        if runs.by_client.is_empty() {
            continue;
        }
        let unit = if runs.metric == "cpu_s_per_gib" { "CPU s/GiB" } else { "CPU µs/message" };
        let _ = writeln!(out, "### {title}\n");
        let _ = writeln!(
            out,
            "| client | {unit} | messages/s | CPU ÷ {WS_FLOOR} | CPU ÷ {WS_PEER} | messages/s ÷ {WS_FLOOR} | server busy | runs |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        for client in crate::ws::CLIENTS {
            let cpu = runs.values(client, runs.metric);
            if cpu.is_empty() {
                let _ = writeln!(
                    out,
                    "| {} | failed (see the run log) | | | | | | 0/{} |",
                    ws_name(client),
                    runs.rounds.len()
                );
                continue;
            }
            let busy = match median(&runs.values(client, "server_busy")) {
                Some(b) if b >= 0.9 => format!("{b:.2} (server-bound)"),
                Some(b) => format!("{b:.2}"),
                None => "—".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {busy} | {}/{} |",
                ws_name(client),
                med_range(&cpu),
                med_range(&runs.values(client, "ops_per_s")),
                fmt_ratio(runs.ratio(client, WS_FLOOR, runs.metric)),
                fmt_ratio(runs.ratio(client, WS_PEER, runs.metric)),
                fmt_ratio(runs.ratio(client, WS_FLOOR, "ops_per_s")),
                cpu.len(),
                runs.rounds.len(),
            );
        }
        out.push('\n');
    }
    out
}

fn ws_memory(recs: &[Value]) -> String {
    let runs = Runs::new(recs, "ws-idle10000");
    let mut out = format!(
        "| client | KiB RSS per idle WebSocket | connections opened | ÷ {WS_PEER} | runs |\n|---|---|---|---|---|\n"
    );
    for client in crate::ws::IDLE_CLIENTS {
        let v = runs.values(client, "kib_per_conn");
        if v.is_empty() {
            let _ = writeln!(out, "| {} | failed (see the run log) | | | 0 |", ws_name(client));
            continue;
        }
        let conns = median(&runs.values(client, "conns")).unwrap_or(0.0);
        let _ = writeln!(
            out,
            "| {} | {} | {conns:.0} | {} | {} |",
            ws_name(client),
            med_range(&v),
            fmt_ratio(runs.ratio(client, WS_PEER, "kib_per_conn")),
            v.len()
        );
    }
    if let Some(r) = runs.ratio("ws-reqivo-async", WS_PEER, "kib_per_conn") {
        let ok = if r <= WS_IDLE_TARGET { "✅" } else { "❌" };
        let _ = writeln!(
            out,
            "\nTarget (issue 3): ws-reqivo-async ÷ {WS_PEER} {ok} {r:.3} (≤ 1/8 = {WS_IDLE_TARGET:.3}), paired per round."
        );
    }
    out
}

fn instructions(recs: &[Value]) -> String {
    // Records from before the WebSocket rows have no scenario: they are seq13.
    let of = |scenario: &str| -> Vec<&Value> {
        recs.iter().filter(|r| r.get("scenario").and_then(Value::as_str).unwrap_or("seq13") == scenario).collect()
    };
    let mut out = instruction_table(&of("seq13"), &CLIENTS, "raw", "request");
    let ws = of("ws-echo16");
    if !ws.is_empty() {
        out.push_str("\nWebSocket, per 16-byte echo (`ws-echo16`):\n\n");
        out.push_str(&instruction_table(&ws, &crate::ws::CLIENTS, "ws-raw", "message"));
    }
    out
}

/// One table: per operation, instructions (with and without libc's memory functions), code lines, syscalls
/// and context switches, for `clients` in order; instruction targets below it.
fn instruction_table(recs: &[&Value], clients: &[&str], floor: &str, op: &str) -> String {
    let mut out = format!(
        "| client | instructions/{op} | without memset/memcpy/memmove | ÷ {floor} | code lines/{op} | syscalls/{op} | context switches/{op} |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let per = |r: &Value, k: &str| -> Option<f64> {
        let (n1, n2) = (num(r, "n1")?, num(r, "n2")?);
        Some((num(r, &format!("{k}2"))? - num(r, &format!("{k}1"))?) / (n2 - n1))
    };
    let by: BTreeMap<&str, &Value> = recs.iter().map(|r| (text(r, "client"), *r)).collect();
    let floor_ir = by.get(floor).and_then(|r| per(r, "ir"));
    let mut status = String::new();
    for &client in clients {
        let name = if client.contains("reqivo") { format!("**{client}**") } else { client.to_string() };
        let Some(r) = by.get(client) else {
            let _ = writeln!(out, "| {name} | — | — | — | — | — | — |");
            continue;
        };
        let ir = per(r, "ir");
        let nomem = match (per(r, "ir"), per(r, "mem")) {
            (Some(a), Some(b)) => Some(a - b),
            _ => None,
        };
        let (lines, sys, cs) = (num(r, "code_lines"), per(r, "sys"), per(r, "cs"));
        let f0 = |x: Option<f64>| x.map(|v| format!("{v:.0}")).unwrap_or_else(|| "—".into());
        let f1 = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into());
        let ratio = match (ir, floor_ir) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.0}", a / b),
            _ => "—".into(),
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {ratio} | {} | {} | {} |",
            f0(ir),
            f0(nomem),
            f0(lines),
            f1(sys),
            f1(cs)
        );
        let target = match client {
            "reqivo-sync" => Some((4000.0, Some(2.0))),
            "reqivo-async" => Some((6000.0, None)),
            _ => None,
        };
        if let (Some((max_ir, want_sys)), Some(ir)) = (target, ir) {
            let ok = if ir <= max_ir { "✅" } else { "❌" };
            let _ = write!(status, "- {client}: {ir:.0} instructions/request {ok} (target ≤ {max_ir:.0})");
            if let (Some(w), Some(s)) = (want_sys, sys) {
                let ok = if (s - w).abs() < 0.05 { "✅" } else { "❌" };
                let _ = write!(status, "; {s:.2} syscalls/request {ok} (target {w:.0})");
            }
            status.push('\n');
        }
    }
    if !status.is_empty() {
        out.push_str("\nTargets (issue 3):\n\n");
        out.push_str(&status);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_or_appends() {
        let a = splice("# T\n", "x", "one\n");
        assert_eq!(a, "# T\n\n<!-- BEGIN x -->\none\n<!-- END x -->\n");
        let b = splice(&a, "x", "two");
        assert_eq!(b, "# T\n\n<!-- BEGIN x -->\ntwo\n<!-- END x -->\n");
        let c = splice(&b, "y", "three");
        assert!(c.contains("two") && c.ends_with("<!-- END y -->\n"));
    }

    #[test]
    fn median_pairs() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        let recs: Vec<Value> = [
            r#"{"round":1,"client":"raw","scenario":"seq13","cpu_us_per_op":10,"ops_per_s":100}"#,
            r#"{"round":1,"client":"ureq","scenario":"seq13","cpu_us_per_op":20,"ops_per_s":50}"#,
            r#"{"round":2,"client":"raw","scenario":"seq13","cpu_us_per_op":20,"ops_per_s":100}"#,
            r#"{"round":2,"client":"ureq","scenario":"seq13","cpu_us_per_op":30,"ops_per_s":50}"#,
        ]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
        let runs = Runs::new(&recs, "seq13");
        assert_eq!(runs.ratio("ureq", "raw", "cpu_us_per_op"), Some(1.75));
    }

    #[test]
    fn websocket_tables() {
        let recs: Vec<Value> = [
            r#"{"round":1,"client":"ws-raw","scenario":"ws-bin64k","cpu_s_per_gib":0.5,"ops_per_s":100}"#,
            r#"{"round":1,"client":"tokio-tungstenite","scenario":"ws-bin64k","cpu_s_per_gib":1.0,"ops_per_s":50}"#,
            r#"{"round":1,"client":"ws-reqivo-async","scenario":"ws-idle10000","kib_per_conn":10,"conns":10000}"#,
            r#"{"round":1,"client":"tokio-tungstenite","scenario":"ws-idle10000","kib_per_conn":100,"conns":10000}"#,
        ]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
        let t = websocket(&recs);
        assert!(t.contains("| tokio-tungstenite | 1.00 | 50.00 | 2.00 | 1.00 | 0.50 |"), "{t}");
        assert!(t.contains("| **ws-reqivo-sync** | failed"), "{t}");
        assert!(!t.contains("ws-echo16"), "{t}");
        let m = ws_memory(&recs);
        assert!(m.contains("✅ 0.100"), "{m}");
    }
}
