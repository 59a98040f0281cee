//! What every client shares: scenarios, options, the measured loops (sync threads and async tasks), the
//! idle-connection memory probe, and the JSON line each process prints.
//!
//! The measurement is the one in `shared/BENCHMARKING.md`: warm-up first (excluded), then a measured loop of
//! fixed duration (or a fixed request count for callgrind/perf), with the process's CPU time
//! (`getrusage(RUSAGE_SELF)`, user + sys, all threads) and the server's CPU time
//! (`/proc/<pid>/task/*/schedstat`) read right around it.

use std::future::Future;
use std::io;
use std::sync::{mpsc, Barrier};
use std::time::{Duration, Instant};

/// 13 bytes: what nginx answers on `/13` and on `/upload`.
pub const SMALL_BODY: &[u8] = b"hello world!\n";
/// Size of the upload body and of the chunked download.
pub const K64: usize = 64 * 1024;
/// Size of the big download.
pub const M1: usize = 1024 * 1024;
/// Size of the slow body used to hold 1,000 requests in flight at once (nginx `limit_rate`).
pub const SLOW_LEN: usize = 2048;
/// Piece size of streamed (chunked) uploads: four pieces of 16 KiB.
pub const UPLOAD_PIECE: usize = 16 * 1024;
/// Requests held in flight at once for the memory probe.
pub const IDLE_CONNS: usize = 1000;
/// The WebSocket text message echoed by `ws-echo16`: 16 bytes.
pub const TEXT16: &str = "0123456789abcdef";
/// WebSockets held open at once for the WebSocket memory probe.
pub const IDLE_WS: usize = 10_000;

/// The 64 KiB upload body, the same static bytes for every client (no copy needed to hand it over).
pub static UPLOAD: [u8; K64] = [b'u'; K64];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Sequential keep-alive GET of the 13-byte body, one connection.
    Seq13,
    /// 64 requests in flight over 64 connections.
    Inflight64,
    /// 1 MiB downloads, one connection.
    Dl1m,
    /// A 64 KiB body that nginx sends chunked (`sub_filter` active).
    Chunked64k,
    /// 64 KiB POST uploads with Content-Length.
    Up64k,
    /// 64 KiB POST uploads streamed with `Transfer-Encoding: chunked`.
    Up64kChunked,
    /// Memory: 1,000 concurrent slow requests, then the connections idle in the pool.
    Idle1000,
    /// WebSocket: sequential echo of a 16-byte text message, one connection.
    WsEcho16,
    /// WebSocket: sequential echo of 64 KiB binary messages, one connection.
    WsBin64k,
    /// WebSocket memory: 10,000 open WebSockets, each idle in a pending `recv` after one echo.
    WsIdle10000,
}

/// How a request carries its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upload {
    None,
    Length,
    Chunked,
}

impl Scenario {
    pub const ALL: [Scenario; 10] = [
        Scenario::Seq13,
        Scenario::Inflight64,
        Scenario::Dl1m,
        Scenario::Chunked64k,
        Scenario::Up64k,
        Scenario::Up64kChunked,
        Scenario::Idle1000,
        Scenario::WsEcho16,
        Scenario::WsBin64k,
        Scenario::WsIdle10000,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Seq13 => "seq13",
            Scenario::Inflight64 => "inflight64",
            Scenario::Dl1m => "dl1m",
            Scenario::Chunked64k => "chunked64k",
            Scenario::Up64k => "up64k",
            Scenario::Up64kChunked => "up64k-chunked",
            Scenario::Idle1000 => "idle1000",
            Scenario::WsEcho16 => "ws-echo16",
            Scenario::WsBin64k => "ws-bin64k",
            Scenario::WsIdle10000 => "ws-idle10000",
        }
    }

    pub fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|sc| sc.name() == s)
    }

    /// A WebSocket scenario (the echo server instead of nginx, the `ws-*` clients).
    pub fn is_ws(self) -> bool {
        matches!(self, Scenario::WsEcho16 | Scenario::WsBin64k | Scenario::WsIdle10000)
    }

    /// Workers (threads or tasks), each with its own connection while it runs.
    pub fn concurrency(self) -> usize {
        match self {
            Scenario::Inflight64 => 64,
            Scenario::Idle1000 => IDLE_CONNS,
            Scenario::WsIdle10000 => IDLE_WS,
            _ => 1,
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Scenario::Seq13 | Scenario::Inflight64 => "/13",
            Scenario::Dl1m => "/1m",
            Scenario::Chunked64k => "/chunked64k",
            Scenario::Up64k | Scenario::Up64kChunked => "/upload",
            Scenario::Idle1000 => "/slow",
            Scenario::WsEcho16 | Scenario::WsBin64k | Scenario::WsIdle10000 => "/echo",
        }
    }

    pub fn upload(self) -> Upload {
        match self {
            Scenario::Up64k => Upload::Length,
            Scenario::Up64kChunked => Upload::Chunked,
            _ => Upload::None,
        }
    }

    /// Length of the response body every request must receive.
    pub fn expect(self) -> usize {
        match self {
            Scenario::Seq13 | Scenario::Inflight64 | Scenario::Up64k | Scenario::Up64kChunked => SMALL_BODY.len(),
            Scenario::Dl1m => M1,
            Scenario::Chunked64k => K64,
            Scenario::Idle1000 => SLOW_LEN,
            Scenario::WsEcho16 | Scenario::WsIdle10000 => TEXT16.len(),
            Scenario::WsBin64k => K64,
        }
    }

    /// Big bodies are read piece by piece and dropped; small ones are collected the way a user would.
    pub fn streaming(self) -> bool {
        matches!(self, Scenario::Dl1m | Scenario::Chunked64k)
    }

    /// Payload bytes moved per operation (for s/GiB; a WebSocket echo counts its message once).
    pub fn payload(self) -> usize {
        match self {
            Scenario::Up64k | Scenario::Up64kChunked => K64,
            sc => sc.expect(),
        }
    }
}

/// Where and what to request; handed to every client's constructor.
#[derive(Clone, Debug)]
pub struct Target {
    pub scenario: Scenario,
    /// `127.0.0.1:PORT`
    pub authority: String,
    /// `http://127.0.0.1:PORT/path` (`ws://` for the WebSocket scenarios)
    pub url: String,
}

impl Target {
    pub fn new(port: u16, scenario: Scenario) -> Target {
        let authority = format!("127.0.0.1:{port}");
        let scheme = if scenario.is_ws() { "ws" } else { "http" };
        let url = format!("{scheme}://{authority}{}", scenario.path());
        Target { scenario, authority, url }
    }
}

/// How long the measured loop runs.
#[derive(Clone, Copy, Debug)]
pub enum Limit {
    For(Duration),
    /// Total requests across all workers (the callgrind / perf mode).
    Requests(u64),
}

#[derive(Clone, Debug)]
pub struct Opts {
    pub client: String,
    pub target: Target,
    pub warmup: Duration,
    pub limit: Limit,
    pub server_pids: Vec<u32>,
    pub round: Option<u32>,
}

impl Opts {
    pub fn scenario(&self) -> Scenario {
        self.target.scenario
    }
}

/// Warm-up requests per worker in `--requests` mode (so that N1 and N2 runs warm up identically).
const WARMUP_REQUESTS: u64 = 50;

pub fn check_len(got: usize, sc: Scenario) {
    assert_eq!(got, sc.expect(), "{}: response body of {got} bytes, expected {}", sc.name(), sc.expect());
}

// ---------------------------------------------------------------------------------------------------------
// Snapshots around the measured loop

#[derive(Clone, Copy)]
struct Snapshot {
    wall: Instant,
    cpu_us: u64,
    server_ns: u64,
}

fn cpu_us() -> u64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU time of every thread of the given processes, in ns (first field of `schedstat`).
fn server_ns(pids: &[u32]) -> u64 {
    let mut total = 0;
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { continue };
        for task in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) {
                total += s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    total
}

impl Snapshot {
    fn take(pids: &[u32]) -> Snapshot {
        let server_ns = server_ns(pids);
        Snapshot { wall: Instant::now(), cpu_us: cpu_us(), server_ns }
    }
}

/// One measured run: printed as one JSON line.
pub struct Measured {
    ops: u64,
    bytes: u64,
    start: Snapshot,
    end: Snapshot,
}

impl Measured {
    pub fn print(&self, opts: &Opts) {
        let sc = opts.scenario();
        let secs = self.end.wall.duration_since(self.start.wall).as_secs_f64();
        let cpu_us = self.end.cpu_us.saturating_sub(self.start.cpu_us);
        let ops = self.ops.max(1) as f64;
        let gib = (self.ops as f64 * sc.payload() as f64) / (1u64 << 30) as f64;
        let server_s = self.end.server_ns.saturating_sub(self.start.server_ns) as f64 / 1e9;
        let round = opts.round.map(|r| format!("\"round\":{r},")).unwrap_or_default();
        println!(
            "{{{round}\"client\":\"{}\",\"scenario\":\"{}\",\"ops\":{},\"bytes\":{},\"secs\":{:.6},\"cpu_us\":{},\
             \"ops_per_s\":{:.1},\"cpu_us_per_op\":{:.4},\"cpu_s_per_gib\":{:.6},\"server_cpu_s\":{:.6},\
             \"server_busy\":{}}}",
            opts.client,
            sc.name(),
            self.ops,
            self.bytes,
            secs,
            cpu_us,
            self.ops as f64 / secs,
            cpu_us as f64 / ops,
            if gib > 0.0 { cpu_us as f64 / 1e6 / gib } else { 0.0 },
            server_s,
            if opts.server_pids.is_empty() { "null".to_string() } else { format!("{:.4}", server_s / secs) },
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Sync clients: the calling thread for one connection, threads sharing one client for more

/// One worker of a blocking client: performs one request of the scenario, reads the whole body and
/// returns its length. Panics on any error (a benchmark must not count failures).
pub trait SyncWorker: Send {
    fn op(&mut self) -> usize;
}

fn sync_loop(w: &mut impl SyncWorker, limit: Limit, start: Instant) -> (u64, u64) {
    let (mut ops, mut bytes) = (0u64, 0u64);
    match limit {
        Limit::For(d) => {
            let deadline = start + d;
            while Instant::now() < deadline {
                bytes += w.op() as u64;
                ops += 1;
            }
        }
        Limit::Requests(n) => {
            for _ in 0..n {
                bytes += w.op() as u64;
                ops += 1;
            }
        }
    }
    (ops, bytes)
}

fn per_worker(limit: Limit, conc: usize) -> Limit {
    match limit {
        Limit::Requests(n) => Limit::Requests(n.div_ceil(conc as u64)),
        l => l,
    }
}

fn warm_limit(opts: &Opts) -> Limit {
    match opts.limit {
        Limit::For(_) => Limit::For(opts.warmup),
        Limit::Requests(_) => Limit::Requests(WARMUP_REQUESTS),
    }
}

/// Runs a blocking client: warm-up, then the measured loop; one worker per connection.
pub fn run_sync<W: SyncWorker>(opts: &Opts, make: impl Fn() -> W + Sync) -> Measured {
    let conc = opts.scenario().concurrency();
    let limit = per_worker(opts.limit, conc);
    let warm = warm_limit(opts);
    if conc == 1 {
        let mut w = make();
        sync_loop(&mut w, warm, Instant::now());
        let start = Snapshot::take(&opts.server_pids);
        let (ops, bytes) = sync_loop(&mut w, limit, start.wall);
        let end = Snapshot::take(&opts.server_pids);
        return Measured { ops, bytes, start, end };
    }
    let go = Barrier::new(conc + 1);
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..conc)
            .map(|_| {
                let (go, ready_tx, make) = (&go, ready_tx.clone(), &make);
                s.spawn(move || {
                    let mut w = make();
                    sync_loop(&mut w, warm, Instant::now());
                    ready_tx.send(()).unwrap();
                    go.wait();
                    sync_loop(&mut w, limit, Instant::now())
                })
            })
            .collect();
        for _ in 0..conc {
            ready_rx.recv().expect("a worker failed during warm-up");
        }
        let start = Snapshot::take(&opts.server_pids);
        go.wait();
        let (mut ops, mut bytes) = (0, 0);
        for h in handles {
            let (o, b) = h.join().expect("a worker failed");
            ops += o;
            bytes += b;
        }
        let end = Snapshot::take(&opts.server_pids);
        Measured { ops, bytes, start, end }
    })
}

// ---------------------------------------------------------------------------------------------------------
// Async clients: a current-thread tokio runtime (the client is pinned to one CPU); the future itself for
// one connection, spawned tasks for more.

/// One worker of an async client; see [`SyncWorker`].
pub trait AsyncWorker: Send + 'static {
    fn op(&mut self) -> impl Future<Output = usize> + Send;
}

async fn async_loop(w: &mut impl AsyncWorker, limit: Limit, start: Instant) -> (u64, u64) {
    let (mut ops, mut bytes) = (0u64, 0u64);
    match limit {
        Limit::For(d) => {
            let deadline = start + d;
            while Instant::now() < deadline {
                bytes += w.op().await as u64;
                ops += 1;
            }
        }
        Limit::Requests(n) => {
            for _ in 0..n {
                bytes += w.op().await as u64;
                ops += 1;
            }
        }
    }
    (ops, bytes)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// Runs an async client; `make` is called inside the runtime.
pub fn run_async<W: AsyncWorker>(opts: &Opts, make: impl Fn() -> W) -> Measured {
    let conc = opts.scenario().concurrency();
    let limit = per_worker(opts.limit, conc);
    let warm = warm_limit(opts);
    let pids = opts.server_pids.clone();
    runtime().block_on(async move {
        if conc == 1 {
            let mut w = make();
            async_loop(&mut w, warm, Instant::now()).await;
            let start = Snapshot::take(&pids);
            let (ops, bytes) = async_loop(&mut w, limit, start.wall).await;
            let end = Snapshot::take(&pids);
            return Measured { ops, bytes, start, end };
        }
        let (go_tx, go_rx) = tokio::sync::watch::channel(false);
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let handles: Vec<_> = (0..conc)
            .map(|_| {
                let mut w = make();
                let (mut go_rx, ready_tx) = (go_rx.clone(), ready_tx.clone());
                tokio::spawn(async move {
                    async_loop(&mut w, warm, Instant::now()).await;
                    ready_tx.send(()).unwrap();
                    go_rx.wait_for(|go| *go).await.unwrap();
                    async_loop(&mut w, limit, Instant::now()).await
                })
            })
            .collect();
        for _ in 0..conc {
            ready_rx.recv().await.expect("a worker failed during warm-up");
        }
        let start = Snapshot::take(&pids);
        go_tx.send(true).unwrap();
        let (mut ops, mut bytes) = (0, 0);
        for h in handles {
            let (o, b) = h.await.expect("a worker failed");
            ops += o;
            bytes += b;
        }
        let end = Snapshot::take(&pids);
        Measured { ops, bytes, start, end }
    })
}

// ---------------------------------------------------------------------------------------------------------
// Memory per idle pooled connection

pub struct Mem {
    rss_kib: u64,
    sockets: usize,
}

pub fn mem_now() -> Mem {
    // Give freed memory back first, the same for every client, so that only what is held is counted.
    // SAFETY: plain glibc call without pointers.
    unsafe {
        libc::malloc_trim(0);
    }
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    let sockets = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:")))
                .count()
        })
        .unwrap_or(0);
    Mem { rss_kib: pages * page / 1024, sockets }
}

pub fn raise_nofile() {
    // SAFETY: get/setrlimit only read/write the struct we pass.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 && rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        }
    }
}

/// Prints the memory probe's JSON line: RSS growth divided by the sockets opened.
pub fn print_mem(opts: &Opts, before: &Mem, after: &Mem) {
    let conns = after.sockets.saturating_sub(before.sockets);
    let delta = after.rss_kib.saturating_sub(before.rss_kib);
    let round = opts.round.map(|r| format!("\"round\":{r},")).unwrap_or_default();
    println!(
        "{{{round}\"client\":\"{}\",\"scenario\":\"{}\",\"requests\":{},\"conns\":{conns},\"rss_before_kib\":{},\
         \"rss_after_kib\":{},\"kib_per_conn\":{:.2}}}",
        opts.client,
        opts.scenario().name(),
        opts.scenario().concurrency(),
        before.rss_kib,
        after.rss_kib,
        delta as f64 / conns.max(1) as f64
    );
}

pub const SETTLE: Duration = Duration::from_millis(300);

/// One request (warm-up, baseline), then 1,000 concurrent slow requests on 1,000 threads, then idle.
pub fn idle_sync<W: SyncWorker>(opts: &Opts, make: impl Fn() -> W + Sync) {
    raise_nofile();
    let mut first = make();
    first.op();
    let before = mem_now();
    let go = Barrier::new(IDLE_CONNS);
    let workers: Vec<W> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..IDLE_CONNS)
            .map(|_| {
                let (go, make) = (&go, &make);
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn_scoped(s, move || {
                        let mut w = make();
                        go.wait();
                        w.op();
                        w
                    })
                    .expect("spawning a thread")
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a worker failed")).collect()
    });
    std::thread::sleep(SETTLE);
    let after = mem_now();
    print_mem(opts, &before, &after);
    drop((first, workers));
}

/// The async version of [`idle_sync`]: 1,000 tasks on the current-thread runtime.
pub fn idle_async<W: AsyncWorker>(opts: &Opts, make: impl Fn() -> W) {
    raise_nofile();
    runtime().block_on(async {
        let mut first = make();
        first.op().await;
        let before = mem_now();
        let handles: Vec<_> = (0..IDLE_CONNS)
            .map(|_| {
                let mut w = make();
                tokio::spawn(async move {
                    w.op().await;
                    w
                })
            })
            .collect();
        let mut workers = Vec::with_capacity(IDLE_CONNS);
        for h in handles {
            workers.push(h.await.expect("a worker failed"));
        }
        tokio::time::sleep(SETTLE).await;
        let after = mem_now();
        print_mem(opts, &before, &after);
        drop((first, workers));
    });
}

pub fn io_fail(what: &str, e: io::Error) -> ! {
    panic!("{what}: {e}")
}
