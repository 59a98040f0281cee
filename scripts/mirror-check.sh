#!/usr/bin/env bash
# Keeps the two I/O drivers mirrored: reqivo/src/tokio/ and reqivo/src/blocking/ must hold the same files,
# and each pair of files must define the same functions. Prints how far each pair differs once `async`,
# `.await` and the type names that differ by design are normalised, so drift is visible in CI logs.
set -euo pipefail
cd "$(dirname "$0")/.."
a=reqivo/src/tokio
b=reqivo/src/blocking
status=0
# Async-only by design: the state the reader and writer halves of a split `AsyncWebSocket` share (a blocking
# `WebSocket` is used by one thread and has no halves).
async_only='ws_split.rs'
files_a=$(cd "$a" && ls *.rs | grep -vxF "$async_only" | sort)
files_b=$(cd "$b" && ls *.rs | sort)
if [ "$files_a" != "$files_b" ]; then
  echo "mirror-check: file sets differ"; diff <(echo "$files_a") <(echo "$files_b") || true; status=1
fi
normalise() {
  sed -E 's/\.await//g; s/\basync //g; s/AsyncSession/Session/g; s/AsyncBody/Body/g; s/AsyncWebSocket/WebSocket/g; s/^\s*\/\/.*$//' "$1" | grep -v '^\s*$'
}
# Function names per file, comments skipped; `poll_x` counts as `x` (an async fn is built on its poll
# form), trait-impl I/O methods are skipped (`Stream::poll_next`, `Sink::poll_ready`/`start_send` too), and so
# are the helpers that exist by design on one side only: `within` (async timeouts wrap futures), `arm`
# (blocking timeouts are socket options) and `split` (only an `AsyncWebSocket` splits into two halves).
fns() {
  grep -vE '^\s*//' "$1" | grep -oE '\bfn [a-z_0-9]+' | sed 's/^fn //; s/^poll_//' \
    | grep -vxE 'read|write|flush|shutdown|within|arm|next|ready|start_send|split' | sort -u
}
for f in $files_a; do
  [ -f "$b/$f" ] || continue
  missing=$(comm -3 <(fns "$a/$f") <(fns "$b/$f") | tr -d '\t' | tr '\n' ' ')
  if [ -n "$missing" ]; then
    echo "mirror-check: $f: functions not on both sides: $missing"; status=1
  fi
  lines=$(diff <(normalise "$a/$f") <(normalise "$b/$f") | grep -c '^[<>]' || true)
  echo "mirror-check: $f: $lines differing lines after normalising"
done
[ $status -eq 0 ] && echo "mirror-check: drivers mirror each other"
exit $status
