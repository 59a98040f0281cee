#!/usr/bin/env bash
# The cold-code probe (cold-code.c): how much one request's CPU time grows with the distinct code it runs,
# on this machine, against the bench nginx. Generates 1,500 small distinct functions, then runs the probe for
# several K, each with K distinct functions and with one function called K times (same instructions).
# Columns: CPU µs per request (user + kernel, getrusage); µs in the calls (rdtsc); the rest (the request
# itself). Pinned to CPU 0, nginx to CPU 1.
#
# usage: bench/probe/cold-code.sh [SECONDS]     (starts and stops its own nginx)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
SECS=${1:-2}
OUT=$(mktemp -d /tmp/reqivo-cold-code.XXXXXX)
trap 'stop_nginx; rm -rf "$OUT"' EXIT
{
  echo "typedef unsigned long (*step_fn)(unsigned long);"
  # Each function is a few dependent operations and a branch: ~60-100 bytes of code, 1-2 cache lines.
  for i in $(seq 0 1499); do
    echo "__attribute__((noinline)) static unsigned long s$i(unsigned long x) {" \
      "if (x & $((1 << (i % 13)))) x = x * $((i % 89 + 3)) + $i; else x ^= $((i * 7 + 1));" \
      "return x + ((x >> $((i % 7 + 1))) & 1); }"
  done
  echo "const step_fn steps[] = {"
  for i in $(seq 0 1499); do echo "s$i,"; done
  echo "}; const long step_count = 1500;"
} >"$OUT/steps.c"
gcc -O2 -o "$OUT/cold-code" "$(dirname "$0")/cold-code.c" "$OUT/steps.c"
# The TSC rate, from the kernel's calibration (rdtsc ticks at it on every core).
GHZ=$(awk '/^cpu MHz/ {print $4 / 1000; exit}' /proc/cpuinfo)
tsc=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Refined TSC clocksource calibration: \([0-9.]*\) MHz.*/\1/p; s/.*tsc: Detected \([0-9.]*\) MHz processor.*/\1/p' | tail -1)
[ -n "$tsc" ] && GHZ=$(awk -v m="$tsc" 'BEGIN {print m / 1000}')
start_nginx
check_nginx
echo "    K mode       cpu/req  in calls     rest   (µs; TSC at $GHZ GHz)"
for k in 0 100 250 500 1000 1500; do
  for mode in same distinct; do
    [ "$k" = 0 ] && [ "$mode" = distinct ] && continue
    taskset -c 0 "$OUT/cold-code" "$PORT" "$SECS" "$k" "$mode" "$GHZ"
  done
done
