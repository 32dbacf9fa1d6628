//! Many providers on one host (not a test): `cargo bench --bench providers`.
//!
//! One broker, served by an axum host app on loopback, holds thousands of WebSocket provider
//! sessions with heartbeats on. The providers are fake (`support/fleet.rs`: real sockets, real
//! protocol frames, a canned result for every task) and live in a child process — this same
//! binary started with `--fleet` — so the broker's process holds one socket per provider and
//! its memory and CPU figures are the broker's alone.
//!
//! The run first connects 10 providers and measures dispatch of trivial tasks (throughput
//! with `IN_FLIGHT` tasks in flight, best of `ROUNDS`; latency of one task at a time), then
//! grows to each count and reports, after an idle interval with heartbeats going:
//! - resident memory per connection: the broker's RSS growth since the 10-provider step,
//!   divided by the providers added;
//! - heartbeat CPU: the broker process's CPU time (user + system) over the idle interval,
//!   per second and per 1,000 connections;
//! - dispatch at that count against the 10-provider figures of the same run.
//!
//! Last, at the largest count, a module of `BENCH_MODULE_KIB` (default 256) is sent to every
//! provider once (one task per worker, all at once) and the broker's RSS growth per provider
//! that received it is reported: what a connection keeps of a large frame it sent.
//!
//! Environment: `BENCH_PROVIDERS=1000,5000,10000` (the counts, ascending), `BENCH_HEARTBEAT_MS`
//! (default: `Limits::default().provider_heartbeat`), `BENCH_IDLE_SECS` (default: three
//! heartbeats, at least 5 s). The soft file-descriptor limit is raised to the hard limit in
//! both processes; counts that would not fit under it are left out, with a note.

mod support;

use futures_util::StreamExt;
use std::time::{Duration, Instant};
use support::fleet::{Fleet, WORKERS};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use wasimoff::{FallbackPolicy, FileSource, Limits, Task, Upload, Wasimoff};

/// Providers of the reference step every other count is compared to.
const BASELINE: usize = 10;
/// Trivial tasks per throughput round.
const TASKS: usize = 20_000;
/// Tasks in flight while measuring throughput: fewer than 10 providers' 40 workers, so at
/// every count each task goes to an idle worker and none waits in the broker's queue.
const IN_FLIGHT: usize = 32;
/// Throughput rounds per step; the best counts.
const ROUNDS: usize = 3;
/// One-at-a-time tasks for latency.
const LATENCY_TASKS: usize = 2_000;
/// Handshakes in progress at once while the fleet grows.
const PARALLEL_CONNECTS: usize = 64;
/// File descriptors each process needs besides one per connection.
const SPARE_FDS: u64 = 256;

/// Raises the soft limit on open files to the hard limit; returns the new soft limit.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid, writable rlimit for the duration of the calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
    }
    limit.rlim_cur
}

/// This process's resident memory (`VmRSS`), in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()).unwrap_or(0) * 1024
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// The child: reads `grow N` lines on stdin, connects providers at the URL in its arguments
/// until `N` are welcomed, and answers `ready N`; answers `stats` with `stats ANSWERED
/// MODULES`; ends when stdin closes.
async fn fleet(url: String) {
    raise_fd_limit();
    let mut fleet = Fleet::default();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line == "stats" {
            println!("stats {} {}", fleet.answered(), fleet.modules());
            continue;
        }
        let Some(total) = line.strip_prefix("grow ").and_then(|n| n.trim().parse().ok()) else { continue };
        fleet.grow(&url, total, PARALLEL_CONNECTS).await;
        println!("ready {}", fleet.len());
    }
}

/// The fleet process, driven over its stdin and stdout.
struct FleetProcess {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl FleetProcess {
    fn start(url: &str) -> FleetProcess {
        let mut child = tokio::process::Command::new(std::env::current_exe().expect("own path"))
            .args(["--fleet", url])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the fleet process");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        FleetProcess { child, stdin, stdout }
    }

    /// Grows the fleet to `total` providers and waits until the broker counts them all.
    async fn grow(&mut self, broker: &Wasimoff, total: usize) -> Duration {
        let started = Instant::now();
        self.stdin.write_all(format!("grow {total}\n").as_bytes()).await.expect("tell the fleet");
        let line = self.stdout.next_line().await.expect("read the fleet").expect("the fleet ended");
        assert_eq!(line, format!("ready {total}"));
        while broker.cluster().providers.len() < total {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        started.elapsed()
    }

    /// Modules the fleet's providers were sent so far.
    async fn modules(&mut self) -> u64 {
        self.stdin.write_all(b"stats\n").await.expect("tell the fleet");
        let line = self.stdout.next_line().await.expect("read the fleet").expect("the fleet ended");
        line.rsplit(' ').next().and_then(|modules| modules.parse().ok()).expect("stats ANSWERED MODULES")
    }
}

/// Sends a module of `kib` KiB to (nearly) every provider: one task per worker of `count`
/// providers, all at once. Prints the broker's RSS growth per provider that received it.
async fn spread_module(broker: &Wasimoff, fleet: &mut FleetProcess, count: usize, kib: usize) {
    let wat = format!(r#"(module (memory 1 64) (data (i32.const 0) "{}") (func (export "_start")))"#, "m".repeat(kib * 1024));
    let module = wat::parse_str(&wat).expect("wat");
    broker.store().put(module.into(), Upload::new().alias("big.wasm")).await.expect("upload");
    let task = Task::new(FileSource::reference("big.wasm"));
    let modules_before = fleet.modules().await;
    let rss_before = resident_bytes();
    let tasks = count * WORKERS as usize;
    let results: Vec<_> = futures_util::stream::iter(0..tasks).map(|_| broker.run(task.clone())).buffer_unordered(tasks).collect().await;
    let failed: Vec<_> = results.iter().filter_map(|result| result.as_ref().err()).collect();
    if let Some(error) = failed.first() {
        println!("{} of {tasks} tasks failed, the first: {error}", failed.len());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let grown = resident_bytes().saturating_sub(rss_before);
    let sent = fleet.modules().await - modules_before;
    println!(
        "a {kib} KiB module sent to {sent} of {count} providers: broker RSS +{:.1} MiB, {:.1} KiB per provider that received it",
        mib(grown),
        grown as f64 / sent.max(1) as f64 / 1024.0
    );
}

/// Dispatch figures of one step.
struct Dispatch {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

async fn dispatch(broker: &Wasimoff, task: &Task) -> Dispatch {
    let mut per_second = 0f64;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let results: Vec<_> =
            futures_util::stream::iter(0..TASKS).map(|_| broker.run(task.clone())).buffer_unordered(IN_FLIGHT).collect().await;
        per_second = per_second.max(TASKS as f64 / started.elapsed().as_secs_f64());
        assert!(results.iter().all(Result::is_ok), "a task failed");
    }
    let mut latencies = Vec::with_capacity(LATENCY_TASKS);
    for _ in 0..LATENCY_TASKS {
        let sent = Instant::now();
        broker.run(task.clone()).await.expect("a task failed");
        latencies.push(sent.elapsed());
    }
    latencies.sort_unstable();
    Dispatch { per_second, p50: latencies[LATENCY_TASKS / 2], p99: latencies[LATENCY_TASKS * 99 / 100] }
}

/// Idle figures of one step: CPU per second over the interval, and RSS at its end.
async fn idle(interval: Duration) -> (Duration, u64) {
    let cpu = support::process_cpu();
    let started = Instant::now();
    tokio::time::sleep(interval).await;
    let per_second = (support::process_cpu() - cpu).div_f64(started.elapsed().as_secs_f64());
    (per_second, resident_bytes())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip_while(|arg| arg != "--fleet");
    if args.next().is_some() {
        return fleet(args.next().expect("the fleet's URL")).await;
    }
    let fd_limit = raise_fd_limit();
    let wanted: Vec<usize> = std::env::var("BENCH_PROVIDERS")
        .unwrap_or_else(|_| "1000,5000,10000".into())
        .split(',')
        .filter_map(|count| count.trim().parse().ok())
        .collect();
    let (counts, left_out): (Vec<usize>, Vec<usize>) = wanted.into_iter().partition(|count| *count as u64 + SPARE_FDS <= fd_limit);
    if !left_out.is_empty() {
        println!(
            "note: the hard limit on open files is {fd_limit}; {left_out:?} providers need more (one per connection in each process, plus {SPARE_FDS}) and are left out"
        );
    }
    let heartbeat = Duration::from_millis(env_or("BENCH_HEARTBEAT_MS", Limits::default().provider_heartbeat.as_millis() as u64));
    let idle_for = Duration::from_secs(env_or("BENCH_IDLE_SECS", (heartbeat.as_secs() * 3).max(5)));
    let most = counts.iter().copied().max().unwrap_or(BASELINE);
    let limits = Limits { max_providers: most + BASELINE, queue_length: 4096, provider_heartbeat: heartbeat, ..Limits::default() };
    let broker = Wasimoff::builder().limits(limits).fallback(FallbackPolicy::Never).build().expect("broker");
    let module = wat::parse_str(r#"(module (func (export "_start")))"#).expect("wat");
    broker.store().put(module.into(), Upload::new().alias("noop.wasm")).await.expect("upload");
    let task = Task::new(FileSource::reference("noop.wasm"));
    let url = support::serve(&broker).await;
    let mut fleet = FleetProcess::start(&url);
    println!(
        "many providers: heartbeat every {} ms, idle interval {} s, {} cores, open-file limit {fd_limit}; \
         dispatch: {TASKS} no-op tasks x {ROUNDS} rounds (best), {IN_FLIGHT} in flight; latency of {LATENCY_TASKS} one at a time",
        heartbeat.as_millis(),
        idle_for.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    fleet.grow(&broker, BASELINE).await;
    let base = dispatch(&broker, &task).await;
    let (base_cpu, base_rss) = idle(idle_for).await;
    println!(
        "| providers | connect s | broker RSS MiB | RSS/conn KiB | idle CPU ms/s | per 1k conns ms/s | tasks/s | ratio | p50 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {BASELINE} | - | {:.1} | - | {:.2} | - | {:.0} | 1.00x | {:.3} | {:.3} |",
        mib(base_rss),
        ms(base_cpu),
        base.per_second,
        ms(base.p50),
        ms(base.p99)
    );
    for count in counts.into_iter().filter(|count| *count > BASELINE) {
        let connect = fleet.grow(&broker, count).await;
        let (cpu, rss) = idle(idle_for).await;
        let added = (count - BASELINE) as f64;
        let per_conn_kib = rss.saturating_sub(base_rss) as f64 / added / 1024.0;
        let heartbeat_cpu = ms(cpu.saturating_sub(base_cpu));
        let at = dispatch(&broker, &task).await;
        println!(
            "| {count} | {:.1} | {:.1} | {per_conn_kib:.1} | {:.2} | {:.2} | {:.0} | {:.2}x | {:.3} | {:.3} |",
            connect.as_secs_f64(),
            mib(rss),
            ms(cpu),
            heartbeat_cpu / (added / 1000.0),
            at.per_second,
            at.per_second / base.per_second,
            ms(at.p50),
            ms(at.p99)
        );
    }
    spread_module(&broker, &mut fleet, most, env_or("BENCH_MODULE_KIB", 256)).await;
    drop(fleet.stdin);
    let _ = fleet.child.wait().await;
}
