#!/usr/bin/env bash
# The one test command (README): installs what the tests need on a fresh Debian machine, then runs
#   1. cargo test (default members, debug): unit tests, the core's split-at-every-byte tests, the parity suite
#      (every scenario on the async and the blocking driver, against hyper, Python's http.server and a
#      few deliberately broken raw servers), the WebSocket suite (both drivers, against Python `websockets`
#      and tokio-tungstenite), the CLI tests, doc tests;
#   2. the nginx interop: a private nginx on 127.0.0.1:PORT serving a temp dir, checked by
#      `cargo test -p reqivo --test nginx` (both drivers) and by the `reqivo` CLI itself.
# Prints a summary; exits non-zero if anything failed. Runs unattended (CI=true, no stdin).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

declare -a SUMMARY=()
FAILED=0
NGINX_PID_FILE=""
WORK=""

cleanup() {
  if [ -n "$NGINX_PID_FILE" ] && [ -s "$NGINX_PID_FILE" ]; then
    # Only the nginx this script started, by its pid.
    kill "$(cat "$NGINX_PID_FILE")" 2>/dev/null || true
    for _ in $(seq 1 50); do
      [ -s "$NGINX_PID_FILE" ] || break
      sleep 0.1
    done
  fi
  if [ -n "$WORK" ]; then
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# step NAME COMMAND...: runs one step, records PASS/FAIL and its duration; later steps still run.
# (bash ignores `set -e` inside a command tested by `if`, so the step functions below check every
# command themselves.)
step() {
  local name=$1
  shift
  local start=$SECONDS
  echo
  echo "=== $name"
  if "$@"; then
    SUMMARY+=("PASS  $name ($((SECONDS - start)) s)")
  else
    SUMMARY+=("FAIL  $name ($((SECONDS - start)) s)")
    FAILED=1
  fi
}

summary() {
  echo
  echo "=== summary (scripts/test.sh, $SECONDS s)"
  local line
  for line in "${SUMMARY[@]}"; do
    echo "  $line"
  done
  # Known library bugs are kept as `#[ignore]`d parity tests; list them so they stay visible.
  local known
  known=$(cargo test -q -p reqivo --test parity -- --list --ignored 2>/dev/null | sed -n 's/: test$//p' || true)
  if [ -n "$known" ]; then
    echo "  known bugs, ignored (cargo test -p reqivo --test parity -- --ignored):"
    sed 's/^/    /' <<<"$known"
  fi
}

# --- system packages --------------------------------------------------------------------------------
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if ! command -v python3 >/dev/null 2>&1 || ! python3 -m venv --help >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "=== installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: ${missing[*]} missing and not running as root; install them first" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# --- Python venv (for later Python tools) -------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Python test tools: the `websockets` server the WebSocket interop tests run against (pinned in the file).
# The Autobahn fuzzing server (`kosoku`) is installed by scripts/autobahn.sh, which is not run from here:
# the full conformance run (517 cases, both drivers) takes longer than this script's budget.
.venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt

# --- 1. the workspace tests ---------------------------------------------------------------------------
step "cargo test (default members, debug)" cargo test
step "cargo test -p reqivo --features tracing --test tracing" cargo test -p reqivo --features tracing --test tracing

# No test is gated to release: the 1 GiB streaming test takes about a second in debug. The `#[ignore]`d
# parity tests are known library bugs, kept visible with `cargo test -p reqivo --test parity -- --ignored`.

# --- 2. nginx interop ---------------------------------------------------------------------------------
start_nginx() {
  WORK=$(mktemp -d /tmp/reqivo-nginx.XXXXXX) || return 1
  chmod 755 "$WORK" && mkdir -p "$WORK/root" "$WORK/logs" || return 1
  printf 'hello, nginx\n' >"$WORK/root/13b"
  head -c 1048576 /dev/urandom >"$WORK/root/1m"
  for i in $(seq 1 2000); do echo "line $i: the quick brown fox jumps over the lazy dog"; done >"$WORK/root/text.txt"
  chmod -R a+rX "$WORK/root"
  NGINX_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  NGINX_PID_FILE="$WORK/nginx.pid"
  cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $NGINX_PID_FILE;
error_log $WORK/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    types { text/plain txt; }
    default_type application/octet-stream;
    gzip on;
    gzip_types text/plain;
    gzip_min_length 0;
    client_body_temp_path $WORK/client_body;
    proxy_temp_path $WORK/proxy;
    fastcgi_temp_path $WORK/fastcgi;
    uwsgi_temp_path $WORK/uwsgi;
    scgi_temp_path $WORK/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/root;
        location / { }
    }
}
EOF
  "$NGINX" -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/logs/error.log" || return 1
  for _ in $(seq 1 50); do
    if [ -s "$NGINX_PID_FILE" ] && (exec 3<>"/dev/tcp/127.0.0.1/$NGINX_PORT") 2>/dev/null; then
      echo "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') listening on 127.0.0.1:$NGINX_PORT (pid $(cat "$NGINX_PID_FILE"))"
      return 0
    fi
    sleep 0.1
  done
  echo "nginx did not start:" >&2
  cat "$WORK/logs/error.log" >&2 || true
  return 1
}

nginx_tests() {
  local out
  out=$(REQIVO_NGINX_URL="http://127.0.0.1:$NGINX_PORT" REQIVO_NGINX_ROOT="$WORK/root" \
    cargo test -p reqivo --test nginx 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  if grep -q '^SKIPPED' <<<"$out"; then
    echo "nginx tests were skipped although REQIVO_NGINX_URL was set" >&2
    return 1
  fi
}

cli_check() {
  cargo build -p reqivo-cli || return 1
  local out
  out=$("$TARGET_DIR/debug/reqivo" -i "http://127.0.0.1:$NGINX_PORT/13b") || {
    echo "reqivo exited with status $?: $out" >&2
    return 1
  }
  echo "$out"
  local status_line
  status_line=$(head -n 1 <<<"$out" | tr -d '\r')
  if [[ ! $status_line =~ ^HTTP/1\.1\ 200 ]]; then
    echo "unexpected status line: $status_line" >&2
    return 1
  fi
  if [ "$(tail -n 1 <<<"$out")" != "hello, nginx" ]; then
    echo "the body of /13b is missing from the CLI output" >&2
    return 1
  fi
}

if step "start nginx" start_nginx; then
  step "nginx interop: cargo test -p reqivo --test nginx" nginx_tests
  step "nginx interop: reqivo -i http://127.0.0.1:PORT/13b" cli_check
fi

summary
exit $FAILED
