#!/usr/bin/env bash
# Footprint of a minimal program doing one GET (bench/footprint/{reqivo,reqwest,ureq}, default features):
# dependency count, clean release build time (fresh target dir, CARGO_BUILD_JOBS=2) and binary size; each
# program is then run once against a private nginx to show it works. Writes the "footprint" section of
# BENCHMARKS.md. Builds are timed one after the other; run nothing else meanwhile.
#
# usage: bench/footprint.sh [--only "reqivo ureq"]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$BENCH_ROOT"
OUT_MD=${BENCH_OUT:-$BENCH_ROOT/BENCHMARKS.md}
PROGRAMS="reqivo ureq reqwest"
while [ $# -gt 0 ]; do
  case $1 in
    --only) PROGRAMS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

ensure_pkg nginx nginx
build_bench
trap stop_nginx EXIT
start_nginx
check_nginx

ROWS=""
for p in $PROGRAMS; do
  dir=$BENCH_ROOT/bench/footprint/$p
  echo "footprint: $p" >&2
  (cd "$dir" && cargo fetch -q)
  tree=$(cd "$dir" && cargo tree -p "$p" -e normal --prefix none)
  # The command of issue 3 (repeated subtrees marked "(*)" count twice), and the distinct crates.
  deps_raw=$(sort -u <<<"$tree" | wc -l)
  deps=$(sed 's/ (\*)$//' <<<"$tree" | sort -u | wc -l)
  tdir=$(mktemp -d /tmp/reqivo-footprint.XXXXXX)
  t0=$(date +%s.%N)
  if ! (cd "$dir" && CARGO_TARGET_DIR=$tdir CARGO_BUILD_JOBS=2 cargo build --release -q) >"$tdir.log" 2>&1; then
    echo "  build of $p failed: $(grep -m1 '^error' "$tdir.log")" >&2
    ROWS="$ROWS| $p | $deps | $deps_raw | build failed | | | |
"
    rm -rf "$tdir" "$tdir.log"
    continue
  fi
  t1=$(date +%s.%N)
  build_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
  exe=$tdir/release/footprint-$p
  size=$(stat -c %s "$exe")
  strip -o "$tdir/stripped" "$exe"
  stripped=$(stat -c %s "$tdir/stripped")
  works=$("$exe" "http://127.0.0.1:$PORT/13" 2>&1 | head -1 || true)
  ROWS="$ROWS| $p | $deps | $deps_raw | $build_s s | $(awk -v s="$size" 'BEGIN { printf "%.2f MiB", s / 1048576 }') | $(awk -v s="$stripped" 'BEGIN { printf "%.2f MiB", s / 1048576 }') | \`$works\` |
"
  rm -f "$tdir.log"
  rm -rf "$tdir"
done

{
  echo "## Footprint"
  echo
  echo "A minimal program doing one GET with default features (\`bench/footprint/*\`: reqivo's blocking \`Session\`,"
  echo "ureq 3, reqwest 0.13 with \`#[tokio::main]\`). Dependencies: \`cargo tree -p CRATE -e normal --prefix none\`,"
  echo "distinct lines after dropping the \"(*)\" marks of repeated subtrees (the count includes the crate itself;"
  echo "the raw \`| sort -u | wc -l\` of issue 3, which counts a crate twice when it is marked \"(*)\", beside it)."
  echo "Build: \`cargo build --release\` with a fresh target dir and \`CARGO_BUILD_JOBS=2\`, sources already"
  echo "downloaded. Size: the release binary (default release profile) and stripped. The last column is the"
  echo "program's output for a GET of the 13-byte body. Measured $(date -u '+%Y-%m-%d %H:%M UTC'), $(rustc --version)."
  echo
  echo "| program | dependencies (distinct crates) | \`sort -u\` of issue 3 | clean release build | binary | stripped | run |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s' "$ROWS"
} | "$BIN" splice "$OUT_MD" footprint

echo "footprint: section written to $OUT_MD" >&2
stop_nginx
