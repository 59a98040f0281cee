#!/usr/bin/env bash
# Per-operation user and kernel time of bench clients: CPU time per operation from the client's own report
# (getrusage around the measured loop, exact in total), user time from time-split.c (rdtsc outside the socket
# and poll calls, over the whole run), kernel time = CPU − user. Uses the bench nginx / echo server on PORT.
#
# usage: BIN=target/release/reqivo-bench bench/probe/time-split.sh PORT SCENARIO CLIENT... [-- ROUNDS]
set -euo pipefail
PORT=$1; SCENARIO=$2; shift 2
ROUNDS=3
CLIENTS=()
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then ROUNDS=$2; break; fi
  CLIENTS+=("$1"); shift
done
OUT=$(mktemp -d /tmp/reqivo-time-split.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
gcc -O2 -shared -fPIC -o "$OUT/time-split.so" "$(dirname "$0")/time-split.c" -ldl
MHZ=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Refined TSC clocksource calibration: \([0-9.]*\) MHz.*/\1/p; s/.*tsc: Detected \([0-9.]*\) MHz processor.*/\1/p' | tail -1)
[ -n "$MHZ" ] || MHZ=$(awk '/^cpu MHz/ {print $4; exit}' /proc/cpuinfo)
echo "client            cpu µs/op  user µs/op  kernel µs/op   (TSC $MHZ MHz)"
for r in $(seq 1 "$ROUNDS"); do
  for c in "${CLIENTS[@]}"; do
    line=$(LD_PRELOAD=$OUT/time-split.so taskset -c 0 "$BIN" "$c" "$SCENARIO" --port "$PORT" --duration-ms 2000 \
      --warmup-ms 300 2>"$OUT/err")
    cpu=$(sed 's/.*"cpu_us_per_op":\([0-9.]*\).*/\1/' <<<"$line")
    cyc=$(sed -n 's/.*outside-calls cycles per write \([0-9.]*\).*/\1/p' "$OUT/err")
    awk -v c="$c" -v cpu="$cpu" -v cyc="$cyc" -v mhz="$MHZ" \
      'BEGIN { u = cyc / mhz; printf "%-17s %9.2f  %10.2f  %12.2f\n", c, cpu, u, cpu - u }'
  done
done
