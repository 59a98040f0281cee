#!/usr/bin/env bash
# The one benchmark command (method: shared/BENCHMARKING.md). Installs nginx if missing, starts a private
# nginx (1 worker, CPU 1) and the WebSocket echo server (`reqivo-bench ws-server`, fastwebsockets, CPU 1),
# builds reqivo-bench, runs every client x scenario pinned to CPU 0 as its own process (HTTP clients against
# nginx, WebSocket clients against the echo server), interleaved round-robin with the client order rotated per
# round, records the server's CPU, measures memory per idle pooled connection and per idle WebSocket, stops
# both servers by pid, and writes BENCHMARKS.md; then runs bench/instructions.sh and bench/footprint.sh, which
# add their sections.
#
# usage: bench/run.sh [--quick] [--rounds N] [--duration-ms MS] [--warmup-ms MS] [--mem-rounds N]
#                     [--clients "a b"] [--scenarios "x y"] [--out FILE]
#                     [--skip-memory] [--skip-instructions] [--skip-footprint]
#   --clients / --scenarios: subsets of `reqivo-bench list clients` / `list scenarios`; each scenario runs the
#            listed clients that apply to it. Memory (idle1000, ws-idle10000) runs unless --skip-memory.
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
SCENARIO_LIST="seq13 inflight64 dl1m chunked64k up64k up64k-chunked ws-echo16 ws-bin64k"
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
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
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
read -r -a SCENARIOS <<<"$SCENARIO_LIST"
ALL_CLIENTS=" $("$BIN" list clients | tr '\n' ' ') "
for c in $CLIENT_LIST; do
  [[ "$ALL_CLIENTS" == *" $c "* ]] || { echo "unknown client $c (see reqivo-bench list clients)" >&2; exit 2; }
done
for s in "${SCENARIOS[@]}"; do
  "$BIN" list clients "$s" >/dev/null || exit 2
done
MEM_SCENARIOS=(idle1000 ws-idle10000)

# The clients that run scenario $1 (`reqivo-bench list clients S`), less those --clients leaves out.
clients_for() {
  local c out=""
  for c in $("$BIN" list clients "$1"); do
    if [ -z "$CLIENT_LIST" ] || [[ " $CLIENT_LIST " == *" $c "* ]]; then out="$out $c"; fi
  done
  echo "${out# }"
}
# The server of scenario $1: "PORT PIDS" (the echo server for ws-*, nginx otherwise).
server_for() {
  case $1 in
    ws-*) echo "$WS_PORT $WS_PID" ;;
    *) echo "$PORT $NGINX_WORKER" ;;
  esac
}
# True when some scenario in the list ($@) has a client to run.
any_run() {
  local s
  for s in "$@"; do [ -n "$(clients_for "$s")" ] && return 0; done
  return 1
}
HTTP_SCENARIOS=()
WS_SCENARIOS=()
for s in "${SCENARIOS[@]}"; do
  case $s in ws-*) WS_SCENARIOS+=("$s") ;; *) HTTP_SCENARIOS+=("$s") ;; esac
done

RUN_DIR=$BENCH_TARGET_DIR/bench-run
mkdir -p "$RUN_DIR"
RESULTS=$RUN_DIR/results.jsonl
MEMORY=$RUN_DIR/memory.jsonl
LOG=$RUN_DIR/run.log
: >"$RESULTS"
: >"$MEMORY"
: >"$LOG"

trap 'stop_ws_server; stop_nginx' EXIT
start_nginx 2>>"$LOG"
check_nginx
start_ws_server "$LOG"

# Correctness first: every client x scenario, 20 requests (after 50 of warm-up) on the real server.
echo "checking every client x scenario once" >&2
for s in "${SCENARIOS[@]}"; do
  read -r SPORT _ < <(server_for "$s")
  for c in $(clients_for "$s"); do
    if ! taskset -c 0 "$BIN" "$c" "$s" --port "$SPORT" --requests 20 >/dev/null 2>>"$LOG"; then
      echo "  FAILED: $c $s (see $LOG)" >&2
    fi
  done
done

# CPU accounting over the measurement: what the machine did beyond our clients and nginx.
stat_busy() { awk '/^cpu / {print $2+$3+$4+$7+$8, $9}' /proc/stat; }   # busy jiffies, steal jiffies
# `times` must run in this shell (a subshell would report its own children): written to a file first.
children_cpu() { tail -1 "$RUN_DIR/times" | awk '{ split($1,u,/[ms]/); split($2,s,/[ms]/); print u[1]*60+u[2]+s[1]*60+s[2] }'; }
servers_cpu() {
  local pid t total=0
  for pid in $NGINX_MASTER ${NGINX_WORKER//,/ } $WS_PID; do
    for t in /proc/"$pid"/task/*/schedstat; do
      [ -r "$t" ] && total=$((total + $(cut -d' ' -f1 "$t")))
    done
  done
  echo "$total"
}
read -r BUSY0 STEAL0 < <(stat_busy)
times >"$RUN_DIR/times"
KIDS0=$(children_cpu)
NGX0=$(servers_cpu)
M0=$SECONDS
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# The clients of scenario $1 in round $2's order: rotated by one place per round.
rotated() {
  local -a cs
  read -r -a cs <<<"$(clients_for "$1")"
  local n=${#cs[@]}
  [ "$n" -gt 0 ] || return 0
  local off=$(( ($2 - 1) % n ))
  echo "${cs[@]:off}" "${cs[@]:0:off}"
}

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS (client order rotated by $((r - 1)))" >&2
  for s in "${SCENARIOS[@]}"; do
    read -r SPORT SPID < <(server_for "$s")
    for c in $(rotated "$s" "$r"); do
      taskset -c 0 "$BIN" "$c" "$s" --port "$SPORT" --duration-ms "$DURATION" --warmup-ms "$WARMUP" \
        --server-pid "$SPID" --round "$r" >>"$RESULTS" 2>>"$LOG" \
        || echo "  FAILED: round $r $c $s (see $LOG)" >&2
    done
  done
done

if [ "$SKIP_MEM" = 0 ]; then
  for r in $(seq 1 "$MEM_ROUNDS"); do
    echo "memory round $r/$MEM_ROUNDS" >&2
    for s in "${MEM_SCENARIOS[@]}"; do
      read -r SPORT _ < <(server_for "$s")
      for c in $(rotated "$s" "$r"); do
        taskset -c 0 "$BIN" "$c" "$s" --port "$SPORT" --round "$r" >>"$MEMORY" 2>>"$LOG" \
          || echo "  FAILED: memory $c $s (see $LOG)" >&2
      done
    done
  done
fi

read -r BUSY1 STEAL1 < <(stat_busy)
times >"$RUN_DIR/times"
KIDS1=$(children_cpu)
NGX1=$(servers_cpu)
M1=$SECONDS
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
stop_ws_server
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
  echo "  WebSocket echo server: fastwebsockets on a current-thread tokio runtime, pinned to CPU 1, no compression;"
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
  echo "1 MiB and chunked bodies are read piece by piece and dropped. WebSocket: compression off everywhere"
  echo "(reqivo \`.compression(false)\`; tungstenite and fastwebsockets have none), Nagle off everywhere"
  echo "(tokio-tungstenite \`disable_nagle\`, \`set_nodelay\` on the sockets given to tungstenite and fastwebsockets),"
  echo "default message limits (all ≥ 16 MiB)."
} | "$BIN" splice "$OUT" header
NOT_MEASURED="Not measured in this run (\`--scenarios\` / \`--clients\` / \`--skip-memory\` left it out)."

{
  echo "## HTTP/1.1 throughput and CPU"
  echo
  if [ ${#HTTP_SCENARIOS[@]} -gt 0 ] && any_run "${HTTP_SCENARIOS[@]}"; then
    echo "Floors: \`raw\` (std::net: prebuilt request bytes, reads the known response length) and \`raw-tokio\`;"
    echo "\"own floor\" is \`raw\` for blocking clients and \`raw-tokio\` for async ones. \"server busy\" is nginx's CPU"
    echo "time / wall time during the measured loop (≥ 0.9: server-bound, only client CPU per operation is meaningful)."
    echo
    "$BIN" report throughput "$RESULTS"
  else
    echo "$NOT_MEASURED"
  fi
} | "$BIN" splice "$OUT" throughput

{
  echo "## WebSocket"
  echo
  echo "Against the echo server above (fastwebsockets, CPU 1). Each operation sends one message and waits for its"
  echo "echo; s/GiB counts the message once. Floor: \`ws-raw\` (std::net: hand-made handshake, then a prebuilt masked"
  echo "frame written and the known echo length read into a reused buffer, nothing parsed). fastwebsockets runs on"
  echo "the \`TcpStream\` itself (handshake by hand, \`WebSocket::after_handshake\`, read through"
  echo "\`FragmentCollector\`), not through hyper's upgraded stream. \"server busy\": the echo server's CPU time / wall"
  echo "time during the measured loop."
  echo
  if [ ${#WS_SCENARIOS[@]} -gt 0 ] && any_run "${WS_SCENARIOS[@]}"; then
    "$BIN" report websocket "$RESULTS"
  else
    echo "$NOT_MEASURED"
    echo
  fi
  echo "### Memory per idle WebSocket (\`ws-idle10000\`)"
  echo
  if [ "$SKIP_MEM" = 0 ] && any_run ws-idle10000; then
    echo "One echo (baseline), then 10,000 WebSockets opened on a current-thread runtime (64 handshakes at a time),"
    echo "each echoing one 16-byte message, then each waiting in \`recv\` (\`next()\`, \`read_frame\`) in a task of its"
    echo "own spawned after the connection is open (so a task holds the connection and a pending read, not the state"
    echo "of its finished \`connect\`), all open at once. RSS delta after \`malloc_trim(0)\`, divided by the sockets"
    echo "opened. \`ws-raw\` here is the same floor on a tokio socket (a task waiting in \`read\`): the cost of a task"
    echo "and a registered socket. Default settings. $MEM_ROUNDS round(s)."
    echo
    "$BIN" report ws-memory "$MEMORY"
  else
    echo "$NOT_MEASURED"
  fi
} | "$BIN" splice "$OUT" websocket

if [ "$SKIP_MEM" = 0 ]; then
  {
    echo "## Memory per idle pooled connection"
    echo
    if any_run idle1000; then
      echo "One request, then 1,000 concurrent requests (threads for blocking clients, tasks for async ones) to a"
      echo "location nginx sends slowly (2 KiB at 1 KiB/s) so that all are in flight at once, then the connections idle"
      echo "in the pool (the floors keep their sockets). RSS delta after \`malloc_trim(0)\`, divided by the number of"
      echo "sockets opened (counted in /proc/self/fd). Pools: see the settings above (reqivo and ureq raised to 1024)."
      echo "$MEM_ROUNDS round(s)."
      echo
      "$BIN" report memory "$MEMORY"
    else
      echo "$NOT_MEASURED"
    fi
  } | "$BIN" splice "$OUT" memory
fi

echo "throughput and memory written to $OUT (raw results in $RUN_DIR)" >&2
export BENCH_NO_BUILD=1
[ "$SKIP_INSTR" = 1 ] || bash "$BENCH_ROOT/bench/instructions.sh"
[ "$SKIP_FOOT" = 1 ] || bash "$BENCH_ROOT/bench/footprint.sh"
ELAPSED=$((SECONDS - T0))
echo "bench/run.sh: done in $((ELAPSED / 60)) min $((ELAPSED % 60)) s" >&2
