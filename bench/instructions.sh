#!/usr/bin/env bash
# User-space instructions and syscalls per request for every client in the sequential 13-byte GET scenario,
# by the N2 − N1 method (start-up and warm-up cancel):
#   instructions: valgrind --tool=callgrind, total Ir, and Ir without libc memset/memcpy/memmove
#                 (callgrind counts one `rep movsb` as one instruction), from callgrind_annotate;
#   syscalls:     perf stat -e raw_syscalls:sys_enter (strace -c -f when the tracepoint is unavailable),
#                 with context switches alongside.
# Writes the "instructions" section of BENCHMARKS.md.
#
# usage: bench/instructions.sh [--n1 N] [--n2 N] [--clients "raw reqivo-sync ..."] [--no-build]
#        (uses the running nginx when PORT is exported by bench/run.sh, otherwise starts its own)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$BENCH_ROOT"

N1=1000
N2=5000
OUT_MD=${BENCH_OUT:-$BENCH_ROOT/BENCHMARKS.md}
CLIENTS=""
NO_BUILD=0
while [ $# -gt 0 ]; do
  case $1 in
    --n1) N1=$2; shift 2 ;;
    --n2) N2=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --no-build) NO_BUILD=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

ensure_pkg valgrind valgrind
ensure_pkg perf linux-perf
[ "$NO_BUILD" = 0 ] || export BENCH_NO_BUILD=1
build_bench
[ -n "$CLIENTS" ] || CLIENTS=$("$BIN" list clients seq13 | tr '\n' ' ')

OWN_NGINX=0
if [ -z "${PORT:-}" ]; then
  trap stop_nginx EXIT
  start_nginx
  check_nginx
  OWN_NGINX=1
fi
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
  local client=$1 n=$2 f=$OUT/perf.$client.$n
  if perf stat -x, -o "$f" -e raw_syscalls:sys_enter -e context-switches -- \
      taskset -c 0 "$BIN" "$client" seq13 --port "$PORT" --requests "$n" >/dev/null 2>"$f.err" \
      && grep -q raw_syscalls "$f"; then
    awk -F, '/raw_syscalls:sys_enter/ {s=$1} /context-switches/ {c=$1} END {printf "%d %d\n", s, c}' "$f"
  else
    # Fallback: strace counts syscalls (and slows the run; context switches unknown).
    ensure_pkg strace strace
    strace -c -f -o "$f.strace" taskset -c 0 "$BIN" "$client" seq13 --port "$PORT" --requests "$n" >/dev/null
    awk '/^-+ / {next} $NF=="total" {print $(NF-2), 0}' "$f.strace"
  fi
}

for client in $CLIENTS; do
  echo "instructions: $client" >&2
  declare -A IR=() MEM=() SYS=() CS=()
  for n in $N1 $N2; do
    cg=$OUT/callgrind.$client.$n
    taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$cg" -q \
      "$BIN" "$client" seq13 --port "$PORT" --requests "$n" >/dev/null 2>"$cg.err" \
      || { echo "  callgrind run failed: $(tail -3 "$cg.err")" >&2; continue 2; }
    read -r IR[$n] MEM[$n] < <(callgrind_counts "$cg")
    read -r SYS[$n] CS[$n] < <(syscall_counts "$client" "$n")
  done
  printf '{"client":"%s","n1":%d,"n2":%d,"ir1":%d,"ir2":%d,"mem1":%d,"mem2":%d,"sys1":%d,"sys2":%d,"cs1":%d,"cs2":%d}\n' \
    "$client" "$N1" "$N2" "${IR[$N1]}" "${IR[$N2]}" "${MEM[$N1]}" "${MEM[$N2]}" "${SYS[$N1]}" "${SYS[$N2]}" \
    "${CS[$N1]}" "${CS[$N2]}" >>"$RESULTS"
  unset IR MEM SYS CS
done

{
  echo "## Instructions and syscalls per request (\`seq13\`)"
  echo
  echo "User-space instructions per request from \`valgrind --tool=callgrind\`, (Ir(N2) − Ir(N1)) / (N2 − N1) with"
  echo "N1 = $N1 and N2 = $N2 requests after the same warm-up, so start-up cancels; \"without memset/memcpy\" subtracts"
  echo "libc's memset/memcpy/memmove (callgrind counts one \`rep movsb\` as one instruction). Syscalls and context"
  echo "switches per request: \`perf stat -e raw_syscalls:sys_enter -e context-switches\`, same N2 − N1 method."
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC'), commit ${BENCH_COMMIT:-$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}."
  echo
  "$BIN" report instructions "$RESULTS"
} | "$BIN" splice "$OUT_MD" instructions

cp "$RESULTS" "$BENCH_TARGET_DIR/instructions.jsonl"
rm -rf "$OUT"
echo "instructions: section written to $OUT_MD (raw results: $BENCH_TARGET_DIR/instructions.jsonl)" >&2
[ "$OWN_NGINX" = 1 ] && stop_nginx
exit 0
