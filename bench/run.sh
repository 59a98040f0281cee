#!/usr/bin/env bash
# The one benchmark command (method: shared/BENCHMARKING.md). Installs nginx if missing, starts a private
# nginx (1 worker, CPU 1), builds reqivo-bench, runs every client x scenario pinned to CPU 0 as its own
# process, interleaved round-robin with the client order rotated per round, records the server's CPU, measures
# memory per idle pooled connection, stops nginx by pid, and writes BENCHMARKS.md; then runs
# bench/instructions.sh and bench/footprint.sh, which add their sections.
#
# usage: bench/run.sh [--quick] [--rounds N] [--duration-ms MS] [--warmup-ms MS] [--mem-rounds N]
#                     [--clients "a b"] [--scenarios "x y"] [--out FILE]
#                     [--skip-memory] [--skip-instructions] [--skip-footprint]
#   --quick: 3 rounds of 1 s, 1 memory round, no instructions/footprint, written to
#            $CARGO_TARGET_DIR/BENCHMARKS.quick.md unless --out is given (a smoke run).
# Build nothing and run nothing else while it measures.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$BENCH_ROOT"
T0=$SECONDS

ROUNDS=7
DURATION=1500
WARMUP=300
MEM_ROUNDS=3
QUICK=0
SKIP_MEM=0
SKIP_INSTR=0
SKIP_FOOT=0
OUT=""
CLIENT_LIST=""
SCENARIO_LIST="seq13 inflight64 dl1m chunked64k up64k up64k-chunked"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; ROUNDS=3; DURATION=1000; WARMUP=200; MEM_ROUNDS=1; SKIP_INSTR=1; SKIP_FOOT=1; shift ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration-ms) DURATION=$2; shift 2 ;;
    --warmup-ms) WARMUP=$2; shift 2 ;;
    --mem-rounds) MEM_ROUNDS=$2; shift 2 ;;
    --clients) CLIENT_LIST=$2; shift 2 ;;
    --scenarios) SCENARIO_LIST=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --skip-memory) SKIP_MEM=1; shift ;;
    --skip-instructions) SKIP_INSTR=1; shift ;;
    --skip-footprint) SKIP_FOOT=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$OUT" ]; then
  if [ "$QUICK" = 1 ]; then OUT=$BENCH_TARGET_DIR/BENCHMARKS.quick.md; else OUT=$BENCH_ROOT/BENCHMARKS.md; fi
fi
export BENCH_OUT=$OUT

ensure_pkg nginx nginx
ensure_pkg curl curl
ensure_pkg taskset util-linux
# The commit the binary is built from, taken before the build (sub-scripts reuse the binary and this stamp).
COMMIT=${BENCH_COMMIT:-$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}
if [ -z "${BENCH_COMMIT:-}" ] && [ -n "$(git -C "$BENCH_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  COMMIT="$COMMIT (with uncommitted changes)"
fi
export BENCH_COMMIT=$COMMIT
build_bench
read -r -a CLIENTS <<<"${CLIENT_LIST:-$("$BIN" list clients | tr '\n' ' ')}"
read -r -a SCENARIOS <<<"$SCENARIO_LIST"

RUN_DIR=$BENCH_TARGET_DIR/bench-run
mkdir -p "$RUN_DIR"
RESULTS=$RUN_DIR/results.jsonl
MEMORY=$RUN_DIR/memory.jsonl
LOG=$RUN_DIR/run.log
: >"$RESULTS"
: >"$MEMORY"
: >"$LOG"

trap stop_nginx EXIT
start_nginx 2>>"$LOG"
check_nginx

# Correctness first: every client x scenario, 20 requests (after 50 of warm-up) on the real server.
echo "checking every client x scenario once" >&2
for s in "${SCENARIOS[@]}"; do
  for c in "${CLIENTS[@]}"; do
    if ! taskset -c 0 "$BIN" "$c" "$s" --port "$PORT" --requests 20 >/dev/null 2>>"$LOG"; then
      echo "  FAILED: $c $s (see $LOG)" >&2
    fi
  done
done

# CPU accounting over the measurement: what the machine did beyond our clients and nginx.
stat_busy() { awk '/^cpu / {print $2+$3+$4+$7+$8, $9}' /proc/stat; }   # busy jiffies, steal jiffies
# `times` must run in this shell (a subshell would report its own children): written to a file first.
children_cpu() { tail -1 "$RUN_DIR/times" | awk '{ split($1,u,/[ms]/); split($2,s,/[ms]/); print u[1]*60+u[2]+s[1]*60+s[2] }'; }
nginx_cpu() {
  local pid t total=0
  for pid in $NGINX_MASTER ${NGINX_WORKER//,/ }; do
    for t in /proc/"$pid"/task/*/schedstat; do
      [ -r "$t" ] && total=$((total + $(cut -d' ' -f1 "$t")))
    done
  done
  echo "$total"
}
read -r BUSY0 STEAL0 < <(stat_busy)
times >"$RUN_DIR/times"
KIDS0=$(children_cpu)
NGX0=$(nginx_cpu)
M0=$SECONDS
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

N=${#CLIENTS[@]}
for r in $(seq 1 "$ROUNDS"); do
  off=$(( (r - 1) % N ))
  ORDER=("${CLIENTS[@]:off}" "${CLIENTS[@]:0:off}")
  echo "round $r/$ROUNDS: ${ORDER[*]}" >&2
  for s in "${SCENARIOS[@]}"; do
    for c in "${ORDER[@]}"; do
      taskset -c 0 "$BIN" "$c" "$s" --port "$PORT" --duration-ms "$DURATION" --warmup-ms "$WARMUP" \
        --server-pid "$NGINX_WORKER" --round "$r" >>"$RESULTS" 2>>"$LOG" \
        || echo "  FAILED: round $r $c $s (see $LOG)" >&2
    done
  done
done

if [ "$SKIP_MEM" = 0 ]; then
  for r in $(seq 1 "$MEM_ROUNDS"); do
    off=$(( (r - 1) % N ))
    ORDER=("${CLIENTS[@]:off}" "${CLIENTS[@]:0:off}")
    echo "memory round $r/$MEM_ROUNDS" >&2
    for c in "${ORDER[@]}"; do
      taskset -c 0 "$BIN" "$c" idle1000 --port "$PORT" --round "$r" >>"$MEMORY" 2>>"$LOG" \
        || echo "  FAILED: memory $c (see $LOG)" >&2
    done
  done
fi

read -r BUSY1 STEAL1 < <(stat_busy)
times >"$RUN_DIR/times"
KIDS1=$(children_cpu)
NGX1=$(nginx_cpu)
M1=$SECONDS
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
stop_nginx

HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
read -r OTHER_S OTHER_PCT STEAL_S < <(awk -v b0="$BUSY0" -v b1="$BUSY1" -v s0="$STEAL0" -v s1="$STEAL1" -v hz="$HZ" \
  -v k0="$KIDS0" -v k1="$KIDS1" -v n0="$NGX0" -v n1="$NGX1" -v w=$((M1 - M0)) -v ncpu="$NCPU" 'BEGIN {
    busy = (b1 - b0) / hz; ours = (k1 - k0) + (n1 - n0) / 1e9; other = busy - ours; if (other < 0) other = 0;
    pct = (w > 0) ? 100 * other / (w * ncpu) : 0;
    printf "%.1f %.1f %.1f\n", other, pct, (s1 - s0) / hz }')
if awk -v p="$OTHER_PCT" 'BEGIN { exit !(p >= 5) }'; then
  BUSY_NOTE="**The machine was busy**: other processes used ${OTHER_S} CPU-s during the $((M1 - M0)) s of measurement (${OTHER_PCT} % of the ${NCPU} CPUs); treat ops/s with care, CPU per operation is less affected."
else
  BUSY_NOTE="The machine was quiet: other processes used ${OTHER_S} CPU-s during the $((M1 - M0)) s of measurement (${OTHER_PCT} % of the ${NCPU} CPUs)."
fi

ELAPSED=$((SECONDS - T0))

{
  echo "# reqivo benchmarks"
  echo
  echo "Produced by \`bench/run.sh\`$([ "$QUICK" = 1 ] && echo ' --quick (a smoke run, not for quoting)'); method: BENCHMARKING.md"
  echo "(the shared method notes). Client CPU per operation (getrusage user + sys of the client process, all its"
  echo "threads, around the measured loop) is the headline; ops/s second. Ratios are paired within a round (the"
  echo "median of the per-round ratios), so a noisy burst hits both sides of a ratio alike."
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $COMMIT"
  echo "- machine: $NCPU × $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
  echo "- $(rustc --version); nginx $(nginx -v 2>&1 | sed 's/.*\///')"
  echo "- crates (Cargo.lock):$(versions_line)"
  echo "- nginx: 1 worker pinned to CPU 1, \`keepalive_requests\` 1e8, access log off, \`tcp_nodelay on\`, \`sendfile\` on for /1m only;"
  echo "  clients pinned to CPU 0 (\`taskset -c 0\`); async clients on a current-thread tokio runtime."
  echo "- $ROUNDS rounds × $DURATION ms measured (after $WARMUP ms of warm-up in the same process), one process per"
  echo "  client × scenario × round, client order rotated each round. Cells: median (min–max) over rounds."
  echo "- load: $BUSY_NOTE Steal: ${STEAL_S} s. Load average $LOAD0 before, $LOAD1 after."
  echo "- \`bench/run.sh\` took $((ELAPSED / 60)) min $((ELAPSED % 60)) s up to this point (build included)."
  echo
  echo "Settings that differ from a library's defaults, for a fair comparison: reqivo \`max_idle_per_host(1024)\`"
  echo "(default 32) and ureq \`max_idle_connections(_per_host)(1024)\` (defaults 10 and 3) so the pools hold the"
  echo "64/1,000 connections; hyper-util \`HttpConnector::set_nodelay(true)\` (default off; every other client already"
  echo "disables Nagle); reqwest 0.13 without TLS, HTTP/2 and system-proxy features, \`no_proxy()\`; ureq 3 without"
  echo "its default rustls and gzip features. Small bodies are collected (\`bytes()\`, \`read_to_vec\`, \`collect\`);"
  echo "1 MiB and chunked bodies are read piece by piece and dropped."
} | "$BIN" splice "$OUT" header

{
  echo "## HTTP/1.1 throughput and CPU"
  echo
  echo "Floors: \`raw\` (std::net: prebuilt request bytes, reads the known response length) and \`raw-tokio\`;"
  echo "\"own floor\" is \`raw\` for blocking clients and \`raw-tokio\` for async ones. \"server busy\" is nginx's CPU"
  echo "time / wall time during the measured loop (≥ 0.9: server-bound, only client CPU per operation is meaningful)."
  echo
  "$BIN" report throughput "$RESULTS"
} | "$BIN" splice "$OUT" throughput

{
  echo "## WebSocket"
  echo
  echo "TODO (issue 4): not measured yet — reqivo has no WebSocket client. The subcommands exist and print \"not yet\"."
  echo
  echo "| scenario | ws-raw | ws-reqivo-sync | ws-reqivo-async | tungstenite | tokio-tungstenite | fastwebsockets |"
  echo "|---|---|---|---|---|---|---|"
  echo "| echo of 16-byte text (\`ws-echo16\`) | not yet | not yet | not yet | not yet | not yet | not yet |"
  echo "| 64 KiB binary messages (\`ws-bin64k\`) | not yet | not yet | not yet | not yet | not yet | not yet |"
  echo "| memory per idle WebSocket, 10,000 (\`ws-idle10000\`) | not yet | not yet | not yet | not yet | not yet | not yet |"
} | "$BIN" splice "$OUT" websocket

if [ "$SKIP_MEM" = 0 ]; then
  {
    echo "## Memory per idle pooled connection"
    echo
    echo "One request, then 1,000 concurrent requests (threads for blocking clients, tasks for async ones) to a"
    echo "location nginx sends slowly (2 KiB at 1 KiB/s) so that all are in flight at once, then the connections idle"
    echo "in the pool (the floors keep their sockets). RSS delta after \`malloc_trim(0)\`, divided by the number of"
    echo "sockets opened (counted in /proc/self/fd). Pools: see the settings above (reqivo and ureq raised to 1024)."
    echo "$MEM_ROUNDS round(s)."
    echo
    "$BIN" report memory "$MEMORY"
  } | "$BIN" splice "$OUT" memory
fi

echo "throughput and memory written to $OUT (raw results in $RUN_DIR)" >&2
export BENCH_NO_BUILD=1
[ "$SKIP_INSTR" = 1 ] || bash "$BENCH_ROOT/bench/instructions.sh"
[ "$SKIP_FOOT" = 1 ] || bash "$BENCH_ROOT/bench/footprint.sh"
ELAPSED=$((SECONDS - T0))
echo "bench/run.sh: done in $((ELAPSED / 60)) min $((ELAPSED % 60)) s" >&2
