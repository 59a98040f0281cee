#!/usr/bin/env bash
# User-space instructions, code footprint and syscalls per request for every client in the sequential 13-byte
# GET scenario, and per message in the WebSocket 16-byte echo, by the N2 − N1 method (start-up and warm-up cancel):
#   instructions: valgrind --tool=callgrind, total Ir, and Ir without libc memset/memcpy/memmove
#                 (callgrind counts one `rep movsb` as one instruction), from callgrind_annotate;
#   code lines:   distinct 64-byte code lines run once per request (`reqivo-bench code-lines`, from the same
#                 callgrind runs, which dump costs per instruction address);
#   syscalls:     perf stat -e raw_syscalls:sys_enter (strace -c -f when the tracepoint is unavailable),
#                 with context switches alongside.
# Writes the "instructions" section of BENCHMARKS.md.
#
# usage: bench/instructions.sh [--n1 N] [--n2 N] [--clients "raw reqivo-sync ..."] [--ws-clients "ws-raw ..."]
#                              [--no-build]
#        (uses the running nginx when PORT is exported by bench/run.sh, otherwise starts its own; always starts
#        its own WebSocket echo server)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$BENCH_ROOT"

N1=1000
N2=5000
OUT_MD=${BENCH_OUT:-$BENCH_ROOT/BENCHMARKS.md}
CLIENTS=""
WS_CLIENTS=""
NO_BUILD=0
while [ $# -gt 0 ]; do
  case $1 in
    --n1) N1=$2; shift 2 ;;
    --n2) N2=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --ws-clients) WS_CLIENTS=$2; shift 2 ;;
    --no-build) NO_BUILD=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

ensure_pkg valgrind valgrind
ensure_pkg perf linux-perf
[ "$NO_BUILD" = 0 ] || export BENCH_NO_BUILD=1
build_bench
[ -n "$CLIENTS" ] || CLIENTS=$("$BIN" list clients seq13 | tr '\n' ' ')
[ -n "$WS_CLIENTS" ] || WS_CLIENTS=$("$BIN" list clients ws-echo16 | tr '\n' ' ')

OWN_NGINX=0
if [ -z "${PORT:-}" ]; then
  trap stop_nginx EXIT
  start_nginx
  check_nginx
  OWN_NGINX=1
fi
start_ws_server
trap 'stop_ws_server; if [ "$OWN_NGINX" = 1 ]; then stop_nginx; fi' EXIT
OUT=$(mktemp -d /tmp/reqivo-bench-instr.XXXXXX)
RESULTS=$OUT/instructions.jsonl
: >"$RESULTS"

# Prints "TOTAL MEMFN": all instructions, and those of libc's memset/memcpy/memmove variants.
callgrind_counts() {
  local file=$1
  callgrind_annotate --inclusive=no --threshold=100 --auto=no "$file" 2>/dev/null | awk '
    function n(s) { gsub(/,/, "", s); return s + 0 }
    /PROGRAM TOTALS/ { total = n($1) }
    /:(__)?(mem(set|cpy|move)|wmemset)[_a-z0-9]* / && /libc/ { mem += n($1) }
    END { printf "%d %d\n", total, mem }'
}

# Prints "SYSCALLS CONTEXT_SWITCHES" for one run of N requests.
syscall_counts() {
  local client=$1 scenario=$2 port=$3 n=$4 f=$OUT/perf.$client.$n
  if perf stat -x, -o "$f" -e raw_syscalls:sys_enter -e context-switches -- \
      taskset -c 0 "$BIN" "$client" "$scenario" --port "$port" --requests "$n" >/dev/null 2>"$f.err" \
      && grep -q raw_syscalls "$f"; then
    awk -F, '/raw_syscalls:sys_enter/ {s=$1} /context-switches/ {c=$1} END {printf "%d %d\n", s, c}' "$f"
  else
    # Fallback: strace counts syscalls (and slows the run; context switches unknown).
    ensure_pkg strace strace
    strace -c -f -o "$f.strace" taskset -c 0 "$BIN" "$client" "$scenario" --port "$port" --requests "$n" >/dev/null
    awk '/^-+ / {next} $NF=="total" {print $(NF-2), 0}' "$f.strace"
  fi
}

# One client in one scenario: N1 and N2 operations under callgrind (costs per instruction address, for the
# code lines) and under perf stat.
measure() {
  local client=$1 scenario=$2 port=$3 n1=$4 n2=$5
  echo "instructions: $client $scenario" >&2
  declare -A IR=() MEM=() SYS=() CS=()
  for n in $n1 $n2; do
    cg=$OUT/callgrind.$client.$n
    taskset -c 0 valgrind --tool=callgrind --dump-instr=yes --dump-line=no --compress-pos=no --compress-strings=no \
      --callgrind-out-file="$cg" -q "$BIN" "$client" "$scenario" --port "$port" --requests "$n" >/dev/null 2>"$cg.err" \
      || { echo "  callgrind run failed: $(tail -3 "$cg.err")" >&2; return 0; }
    read -r IR[$n] MEM[$n] < <(callgrind_counts "$cg")
    read -r SYS[$n] CS[$n] < <(syscall_counts "$client" "$scenario" "$port" "$n")
  done
  lines=$("$BIN" code-lines "$OUT/callgrind.$client.$n1" "$OUT/callgrind.$client.$n2" "$n1" "$n2")
  rm -f "$OUT"/callgrind.$client.*
  printf '{"client":"%s","scenario":"%s","n1":%d,"n2":%d,"ir1":%d,"ir2":%d,"mem1":%d,"mem2":%d,"sys1":%d,"sys2":%d,"cs1":%d,"cs2":%d,"code_lines":%d}\n' \
    "$client" "$scenario" "$n1" "$n2" "${IR[$n1]}" "${IR[$n2]}" "${MEM[$n1]}" "${MEM[$n2]}" "${SYS[$n1]}" "${SYS[$n2]}" \
    "${CS[$n1]}" "${CS[$n2]}" "$lines" >>"$RESULTS"
}

for client in $CLIENTS; do measure "$client" seq13 "$PORT" "$N1" "$N2"; done
# Messages are cheaper than requests: more of them, so start-up noise stays small.
for client in $WS_CLIENTS; do measure "$client" ws-echo16 "$WS_PORT" $((2 * N1)) $((2 * N2)); done

{
  echo "## Instructions, code lines and syscalls per request (\`seq13\`, \`ws-echo16\`)"
  echo
  echo "User-space instructions per request from \`valgrind --tool=callgrind\`, (Ir(N2) − Ir(N1)) / (N2 − N1) with"
  echo "N1 = $N1 and N2 = $N2 requests after the same warm-up, so start-up cancels; \"without memset/memcpy\" subtracts"
  echo "libc's memset/memcpy/memmove (callgrind counts one \`rep movsb\` as one instruction). Syscalls and context"
  echo "switches per request: \`perf stat -e raw_syscalls:sys_enter -e context-switches\`, same N2 − N1 method."
  echo
  echo "Code lines: the distinct 64-byte lines of code that run once per request (\`reqivo-bench code-lines\`, from"
  echo "the same callgrind runs). On a VM whose vCPU halts while the client waits for the server, each request"
  echo "starts with cold caches and branch predictors; its CPU time then follows the code it touches more than the"
  echo "instructions it runs (measured: ~10 ns per line per request, user and kernel time together; see ARCHITECTURE.md,"
  echo "\"Performance\"). The WebSocket table counts per 16-byte echo, with twice the N1 and N2 messages."
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC'), commit ${BENCH_COMMIT:-$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}."
  echo
  "$BIN" report instructions "$RESULTS"
} | "$BIN" splice "$OUT_MD" instructions

cp "$RESULTS" "$BENCH_TARGET_DIR/instructions.jsonl"
rm -rf "$OUT"
echo "instructions: section written to $OUT_MD (raw results: $BENCH_TARGET_DIR/instructions.jsonl)" >&2
exit 0
