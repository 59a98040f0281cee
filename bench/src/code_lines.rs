//! `reqivo-bench code-lines N1.out N2.out N1 N2`: the code footprint of one request, from two callgrind runs
//! made with `--dump-instr=yes --dump-line=no --compress-pos=no --compress-strings=no` after N1 and N2
//! requests: the number of distinct 64-byte code lines whose instructions ran at least 0.9 times more per
//! extra request (so lines every request runs, not start-up).
//!
//! Why it is measured: on a VM whose vCPU halts while it waits for the server, every request starts with
//! cold caches and branch predictors, and its CPU time follows the distinct code it touches much more
//! closely than its instruction count (BENCHMARKS.md, "Instructions and syscalls").

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;

const LINE: u64 = 64;

pub fn main(args: &[String]) -> ExitCode {
    let [a, b, n1, n2] = args else {
        eprintln!("usage: reqivo-bench code-lines N1.callgrind N2.callgrind N1 N2");
        return ExitCode::from(2);
    };
    let (Ok(n1), Ok(n2)) = (n1.parse::<u64>(), n2.parse::<u64>()) else {
        eprintln!("code-lines: N1 and N2 must be numbers");
        return ExitCode::from(2);
    };
    match (read(a), read(b)) {
        (Ok(first), Ok(second)) if n2 > n1 => {
            println!("{}", per_request_lines(&first, &second, n2 - n1));
            ExitCode::SUCCESS
        }
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("code-lines: {e}");
            ExitCode::FAILURE
        }
        _ => {
            eprintln!("code-lines: N2 must be larger than N1");
            ExitCode::from(2)
        }
    }
}

fn read(path: &str) -> std::io::Result<HashMap<u64, u64>> {
    Ok(self_costs(&std::fs::read_to_string(path)?))
}

/// Instructions run at each code address, without the inclusive costs that callgrind writes after each
/// `calls=` line (those belong to the callee).
fn self_costs(text: &str) -> HashMap<u64, u64> {
    let mut costs = HashMap::new();
    let mut after_call = false;
    for line in text.lines() {
        if line.starts_with("calls=") {
            after_call = true;
            continue;
        }
        let Some(rest) = line.strip_prefix("0x") else { continue };
        if std::mem::take(&mut after_call) {
            continue;
        }
        let mut parts = rest.split_whitespace();
        let (Some(addr), Some(ir)) = (parts.next(), parts.next()) else { continue };
        if let (Ok(addr), Ok(ir)) = (u64::from_str_radix(addr, 16), ir.parse::<u64>()) {
            *costs.entry(addr).or_insert(0) += ir;
        }
    }
    costs
}

fn per_request_lines(first: &HashMap<u64, u64>, second: &HashMap<u64, u64>, requests: u64) -> usize {
    let mut lines = HashSet::new();
    for (&addr, &ir) in second {
        let grew = ir.saturating_sub(first.get(&addr).copied().unwrap_or(0));
        // At least 0.9 runs per request: every request runs it (a little slack for a request whose
        // counts straddle the measured window).
        if grew * 10 >= requests * 9 {
            lines.insert(addr / LINE);
        }
    }
    lines.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_that_run_every_request() {
        let first = "fn=a\n0x1000 10\n0x1004 10\ncalls=5 0x2000\n0x1008 999\n0x1040 1\n";
        let second = "fn=a\n0x1000 30\n0x1004 30\ncalls=15 0x2000\n0x1008 99999\n0x1040 2\n0x2000 20\n";
        let (a, b) = (self_costs(first), self_costs(second));
        // 0x1000 and 0x1004 share a line; 0x1008's cost is a call's inclusive cost; 0x1040 ran once more
        // in 20 requests; 0x2000 ran once per request.
        assert_eq!(per_request_lines(&a, &b, 20), 2);
    }
}
