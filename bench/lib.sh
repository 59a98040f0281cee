# Shared by bench/run.sh, bench/instructions.sh and bench/footprint.sh (sourced, not run).
# - ensure_pkg CMD PKG: installs a Debian package when CMD is missing.
# - build_bench: builds reqivo-bench in release mode (skipped when BENCH_NO_BUILD=1 and it exists); sets BIN.
# - start_nginx: a private nginx (1 worker, pinned to CPU 1) on 127.0.0.1:$PORT serving a temp dir;
#   sets PORT, NGINX_WORKDIR, NGINX_MASTER, NGINX_WORKER. stop_nginx stops it by pid (call it from an EXIT trap).
# - start_ws_server [LOG]: the WebSocket echo server (`reqivo-bench ws-server`, pinned to CPU 1) on 127.0.0.1;
#   sets WS_PORT and WS_PID. stop_ws_server stops it by pid. Needs BIN (build_bench first).
# - versions_line: crate versions from Cargo.lock.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_TARGET_DIR=${CARGO_TARGET_DIR:-$BENCH_ROOT/target}
NGINX_MASTER=""
NGINX_WORKDIR=""
WS_PID=""
APT_UPDATED=0

ensure_pkg() {
  local cmd=$1 pkg=$2
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "installing $pkg (for $cmd)" >&2
    if [ "$APT_UPDATED" = 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
      APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >&2
  fi
}

build_bench() {
  BIN=$BENCH_TARGET_DIR/release/reqivo-bench
  if [ "${BENCH_NO_BUILD:-0}" = 1 ] && [ -x "$BIN" ]; then
    return 0
  fi
  echo "building reqivo-bench (release) in $BENCH_TARGET_DIR" >&2
  (cd "$BENCH_ROOT" && CARGO_TARGET_DIR=$BENCH_TARGET_DIR cargo build --release -q -p reqivo-bench) >&2
  BIN=$BENCH_TARGET_DIR/release/reqivo-bench
}

free_port() {
  local p
  for _ in $(seq 1 200); do
    # Below the ephemeral range (32768+ on Linux): thousands of closed client sockets in TIME-WAIT
    # there (after the memory probes) can make a port that nobody listens on unbindable.
    p=$((10000 + RANDOM % 20000))
    if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

start_nginx() {
  ensure_pkg nginx nginx
  ensure_pkg ss iproute2
  NGINX_WORKDIR=$(mktemp -d /tmp/reqivo-bench-nginx.XXXXXX)
  chmod 755 "$NGINX_WORKDIR"
  local w=$NGINX_WORKDIR
  mkdir -p "$w/www" "$w/tmp"
  printf 'hello world!\n' >"$w/www/13"
  # Text bodies (sub_filter only touches text; the pattern below never matches).
  head -c 65536 /dev/zero | tr '\0' 'a' >"$w/www/64k"
  head -c 1048576 /dev/zero | tr '\0' 'b' >"$w/www/1m"
  head -c 2048 /dev/zero | tr '\0' 's' >"$w/www/slow"
  chmod -R a+rX "$w"
  PORT=$(free_port)
  cat >"$w/nginx.conf" <<EOF
worker_processes 1;
worker_cpu_affinity 10;
worker_rlimit_nofile 16384;
pid $w/nginx.pid;
error_log $w/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  tcp_nodelay on;
  # Off so that a small response leaves in one writev (head + body); on for the 1 MiB file only.
  sendfile off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  default_type application/octet-stream;
  client_body_temp_path $w/tmp/body;
  proxy_temp_path $w/tmp/proxy;
  fastcgi_temp_path $w/tmp/fastcgi;
  uwsgi_temp_path $w/tmp/uwsgi;
  scgi_temp_path $w/tmp/scgi;
  server {
    listen 127.0.0.1:$PORT backlog=4096;
    root $w/www;
    location = /13 { }
    location = /64k { }
    location = /1m { sendfile on; }
    # A sub_filter makes nginx drop Content-Length and answer chunked.
    location = /chunked64k {
      alias $w/www/64k;
      sub_filter_types *;
      sub_filter 'pattern-that-never-matches' 'x';
    }
    # Upload sink: nginx reads (and discards) the whole body, then the connection is reused.
    location = /upload {
      client_max_body_size 4m;
      client_body_buffer_size 128k;
      return 200 "hello world!\n";
    }
    # 2 KiB at 1 KiB/s: keeps 1,000 requests in flight at once for the memory probe.
    location = /slow {
      alias $w/www/slow;
      limit_rate 1024;
    }
  }
}
EOF
  taskset -c 1 nginx -c "$w/nginx.conf" -p "$w" -e "$w/error.log" -q
  for _ in $(seq 1 50); do
    [ -s "$w/nginx.pid" ] && break
    sleep 0.1
  done
  NGINX_MASTER=$(cat "$w/nginx.pid")
  NGINX_WORKER=""
  for _ in $(seq 1 50); do
    NGINX_WORKER=$(pgrep -P "$NGINX_MASTER" | tr '\n' ',' | sed 's/,$//')
    [ -n "$NGINX_WORKER" ] && break
    sleep 0.1
  done
  echo "nginx $(nginx -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$PORT, master $NGINX_MASTER, worker $NGINX_WORKER (CPU 1)" >&2
}

# Checks that nginx serves what the scenarios need.
check_nginx() {
  local base="http://127.0.0.1:$PORT"
  [ "$(curl -s "$base/13")" = "hello world!" ] || { echo "nginx: /13 is wrong" >&2; return 1; }
  curl -s -D - -o /dev/null "$base/chunked64k" | grep -qi '^transfer-encoding: chunked' \
    || { echo "nginx: /chunked64k is not chunked" >&2; return 1; }
  [ "$(curl -s "$base/chunked64k" | wc -c)" = 65536 ] || { echo "nginx: /chunked64k length" >&2; return 1; }
  [ "$(curl -s --data-binary @"$NGINX_WORKDIR/www/64k" "$base/upload" | wc -c)" = 13 ] \
    || { echo "nginx: /upload" >&2; return 1; }
  # The body is consumed: a second request on the same connection after a 64 KiB POST is answered.
  local out
  local f="$NGINX_WORKDIR/www/64k" fmt='%{http_code} %{num_connects}\n'
  out=$(curl -s -w "$fmt" -o /dev/null --data-binary @"$f" "$base/upload" \
    --next -s -w "$fmt" -o /dev/null --data-binary @"$f" -H 'Transfer-Encoding: chunked' "$base/upload" \
    --next -s -w "$fmt" -o /dev/null "$base/13")
  [ "$(echo "$out" | tr '\n' ' ')" = "200 1 200 0 200 0 " ] || { echo "nginx: upload keep-alive check: $out" >&2; return 1; }
}

stop_nginx() {
  if [ -n "$NGINX_MASTER" ] && kill -0 "$NGINX_MASTER" 2>/dev/null; then
    kill "$NGINX_MASTER" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$NGINX_MASTER" 2>/dev/null || break
      sleep 0.1
    done
  fi
  NGINX_MASTER=""
  if [ -n "$NGINX_WORKDIR" ]; then
    rm -rf "$NGINX_WORKDIR"
    NGINX_WORKDIR=""
  fi
}

start_ws_server() {
  local log=${1:-/dev/null}
  ensure_pkg ss iproute2
  WS_PORT=$(free_port)
  taskset -c 1 "$BIN" ws-server --port "$WS_PORT" 2>>"$log" &
  WS_PID=$!
  for _ in $(seq 1 50); do
    ss -Htln "sport = :$WS_PORT" 2>/dev/null | grep -q . && break
    kill -0 "$WS_PID" 2>/dev/null || { echo "ws-server exited at start (see $log)" >&2; WS_PID=""; return 1; }
    sleep 0.1
  done
  echo "WebSocket echo server (fastwebsockets) on 127.0.0.1:$WS_PORT, pid $WS_PID (CPU 1)" >&2
}

stop_ws_server() {
  if [ -n "$WS_PID" ] && kill -0 "$WS_PID" 2>/dev/null; then
    kill "$WS_PID" 2>/dev/null || true
    wait "$WS_PID" 2>/dev/null || true
  fi
  WS_PID=""
}

# "name version" of a crate in Cargo.lock (the first one listed when several versions are locked).
lock_version() {
  awk -v n="$1" '$1=="name" && $3=="\""n"\"" {getline; gsub(/"/,"",$3); print $3; exit}' "$BENCH_ROOT/Cargo.lock"
}

versions_line() {
  local out="" c
  for c in tokio hyper hyper-util reqwest ureq http bytes httparse rustls tungstenite tokio-tungstenite fastwebsockets; do
    out="$out $c $(lock_version "$c"),"
  done
  echo "${out%,}"
}
