//! Browser provider benchmark (not a test): `cargo bench --bench browser`. Needs /usr/bin/chromium.
//!
//! Three paths in one run, interleaved in blocks whose order rotates: the local runner of a
//! broker with no provider (concurrency `BENCH_WORKERS`, default 2), and a headless Chromium
//! provider page connected over WebSocket and over WebTransport. Each page has its own Chromium
//! and its own broker (`FallbackPolicy::Never`, WebTransport on the host's port, host app served
//! with `TCP_NODELAY` by `support::serve`), so that every remote task runs on that page. The
//! bench panics unless each page and its broker report the transport the path is named after,
//! before and after measuring, so that a fallback cannot pass for WebTransport.
//!
//! 1. Per-task overhead broker → browser → broker: fixture `echo` submitted one at a time
//!    through `Wasimoff::run`, 1 worker, with stamps in the page (frame in → handed to the
//!    worker → result back → result frame out) to split the time into page and outside.
//! 2. Guest time alone: `TSP_ALONE` × `tsp rand 8` per path and round, one at a time on 1
//!    worker, so that V8's guest time (instantiate → exit) compares with wasmtime's without the
//!    page's other threads competing for the cores.
//! 3. Throughput: jobs of `BENCH_TASKS` × `tsp rand 8` after `setWorkers(BENCH_WORKERS)` against
//!    the local runner with that concurrency, `ROUNDS` interleaved rounds, best counts. The brokers use the
//!    default bounded prefetch (one task per worker queued in the page).
//! 4. Sharing: `PAGES` pages (each its own Chromium, 1 worker) on one broker take a job of
//!    `BENCH_SHARED` × `tsp rand 8`, once per transport: tasks/s, tasks per page, and each
//!    page's busy share between its first and its last task (its worker idle the rest; stamps
//!    in the page).
//!
//! 5. CPU split: every measured echo block and TSP job is bracketed by snapshots of the run time
//!    of every thread of the bench process (broker, local runner) and of each Chromium's
//!    processes (`process_cpu.rs`); printed as CPU µs per task by process and thread, which a
//!    loaded machine distorts far less than the wall-clock figures.
//!
//! Env: `BENCH_RUNS` (echo tasks measured per path, default 600), `BENCH_TASKS` (tasks per
//! job, default 400), `BENCH_SHARED` (tasks of the shared job, default 2000), `BENCH_PREFETCH`
//! (the brokers' `Limits::provider_prefetch`, default 1; 0 measures without prefetch),
//! `BENCH_WORKERS` (the page's workers and the local runner's concurrency in the TSP jobs,
//! default 2; 1 leaves a core free for the browser's other threads).

#[path = "support/process_cpu.rs"]
mod process_cpu;
#[path = "../tests/integration/support.rs"]
#[allow(dead_code)]
mod support;

use process_cpu::{Snapshot, Split};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use wasimoff::{FallbackPolicy, Job, Limits, Task, Wasimoff, WebTransport};
use wasimoff_chromium::{Chromium, Page};

const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
const BLOCKS: usize = 6;
const ROUNDS: usize = 3;
const ECHO_WARM_UP: usize = 50;
const TSP_WARM_UP: usize = 20;
const ECHO_STDOUT: &[u8] = b"argc=1\nargv[0]=echo\n";
const PAGES: usize = 4;
/// TSP tasks run one at a time per path and round, for the guest time without competition.
const TSP_ALONE: usize = 40;

/// The limits of the brokers with browser providers: the default, but `BENCH_PREFETCH`.
fn remote_limits() -> Limits {
    let prefetch = std::env::var("BENCH_PREFETCH").ok().and_then(|v| v.parse().ok());
    Limits { provider_prefetch: prefetch.unwrap_or(Limits::default().provider_prefetch), ..Limits::default() }
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(default)
}

/// Stamps, in the page, each task's frame arriving (`receive`), its hand-over to a worker
/// (`pool.run`), its result coming back (`finished`) and its result frame leaving (`send`).
/// Valid while one task runs at a time.
const SPANS_ON: &str = r#"(() => {
  const p = window.wasimoffProvider;
  const wrap = (target, name, stamp) => {
    const call = target[name].bind(target);
    target[name] = (...args) => { stamp(); return call(...args); };
  };
  const spans = (window.benchSpans = []);
  let task = null;
  wrap(p, "receive", () => { task = [performance.now()]; });
  wrap(p.pool, "run", () => task?.push(performance.now()));
  wrap(p, "finished", () => task?.push(performance.now()));
  wrap(p, "send", () => { if (task?.length === 3) spans.push([...task, performance.now()]); task = null; });
})()"#;
/// Removes the stamps; returns the mean µs of frame in → worker, worker → result, result →
/// frame out, and how many tasks were stamped. `performance.now()` is coarsened to 100 µs
/// outside cross-origin isolation; means over hundreds of tasks are still fine.
const SPANS_OFF: &str = r#"(() => {
  const p = window.wasimoffProvider;
  for (const name of ["receive", "finished", "send"]) delete p[name];
  delete p.pool.run;
  const spans = window.benchSpans;
  const mean = (i) => spans.reduce((sum, t) => sum + t[i + 1] - t[i], 0) * 1000 / spans.length;
  return [mean(0), mean(1), mean(2), spans.length];
})()"#;

/// Stamps, in the page, the time its one worker is busy: each task from its hand-over to the
/// worker (`pool.run`), or from the end of the task before it if that came later, to its
/// result coming back (`finished`).
const BUSY_ON: &str = r#"(() => {
  const p = window.wasimoffProvider;
  const busy = (window.benchBusy = { sum: 0, first: null, last: null, tasks: 0, open: new Map() });
  const run = p.pool.run.bind(p.pool);
  p.pool.run = (task, module) => {
    const handed = run(task, module);
    if (handed) { const now = performance.now(); busy.first ??= now; busy.open.set(task.id, now); }
    return handed;
  };
  const finished = p.finished.bind(p);
  p.finished = (task, result) => {
    const now = performance.now();
    const start = busy.open.get(task.id);
    if (start !== undefined) { busy.sum += now - Math.max(start, busy.last ?? start); busy.open.delete(task.id); busy.last = now; busy.tasks += 1; }
    return finished(task, result);
  };
})()"#;
/// Removes the busy stamps; returns the busy share between the first and the last task, and
/// the tasks stamped.
const BUSY_OFF: &str = r#"(() => {
  const p = window.wasimoffProvider;
  delete p.finished;
  delete p.pool.run;
  const busy = window.benchBusy;
  const workers = p.pool.size;
  return [busy.sum / ((busy.last - busy.first) * workers), busy.tasks];
})()"#;

/// A browser provider: its Chromium (killed when dropped), page and transport.
struct Browser {
    _chromium: Chromium,
    /// The pid of its browser process, a child of this one.
    pid: u32,
    page: Page,
    transport: &'static str,
}

/// One way to run a task and what it measured.
struct Path {
    name: &'static str,
    broker: Wasimoff,
    ran_on: String,
    browser: Option<Browser>,
    echo: Vec<Duration>,
    /// Guest time (instantiate → exit) of each echo task.
    guest: Vec<Duration>,
    /// In the page, mean µs: frame in → worker, worker → result back, result → frame out.
    spans: Option<[f64; 3]>,
    rates: Vec<f64>,
    /// CPU time during the measured echo blocks and TSP jobs, and the TSP tasks measured.
    cpu_echo: Split,
    cpu_tsp: Split,
    tsp_tasks: usize,
    /// Guest time (instantiate → exit) summed over the measured TSP tasks.
    tsp_guest: Duration,
    /// Guest time of each TSP task run one at a time on 1 worker (no other task competing).
    tsp_alone: Vec<Duration>,
}

impl Path {
    /// Runs `task` `count` times one after another, checking where it ran and what it printed.
    async fn one_at_a_time(&mut self, task: &Task, count: usize, measure: bool) {
        let before = Snapshot::take();
        for _ in 0..count {
            let started = Instant::now();
            let output = self.broker.run(task.clone()).await.expect("task");
            if measure {
                self.echo.push(started.elapsed());
                self.guest.push(output.elapsed);
            }
            assert_eq!((output.ran_on.as_str(), &output.stdout[..]), (self.ran_on.as_str(), ECHO_STDOUT));
        }
        if measure {
            self.cpu_echo.add(&before, &Snapshot::take());
        }
    }

    /// Runs `task` `count` times one after another, recording each guest time.
    async fn guest_alone(&mut self, task: &Task, count: usize, stdout: &[u8]) {
        for _ in 0..count {
            let output = self.broker.run(task.clone()).await.expect("task");
            assert_eq!((output.ran_on.as_str(), &output.stdout[..]), (self.ran_on.as_str(), stdout));
            self.tsp_alone.push(output.elapsed);
        }
    }

    /// Tasks per second of a job of `count` copies of `task`, checking every result.
    async fn job_rate(&mut self, task: &Task, count: usize, stdout: &[u8]) -> f64 {
        let before = Snapshot::take();
        let started = Instant::now();
        let results = self.broker.run_job(Job { parent: None, tasks: vec![task.clone(); count] }).await;
        let rate = count as f64 / started.elapsed().as_secs_f64();
        self.cpu_tsp.add(&before, &Snapshot::take());
        self.tsp_tasks += count;
        for result in results {
            let output = result.expect("every task of the job succeeds");
            self.tsp_guest += output.elapsed;
            assert_eq!((output.ran_on.as_str(), &output.stdout[..]), (self.ran_on.as_str(), stdout));
        }
        rate
    }

    /// Panics unless the page and the broker both say the provider uses the path's transport.
    async fn check_transport(&self) {
        let Some(browser) = &self.browser else { return };
        let state = browser.page.evaluate("window.wasimoffProvider.state()").await;
        assert_eq!(state["transport"], browser.transport, "{}: the page uses another transport: {state}", self.name);
        assert_eq!(state["providerId"], self.ran_on.as_str(), "{}: the page reconnected: {state}", self.name);
        let providers = self.broker.cluster().providers;
        let seen: Vec<_> = providers.iter().map(|p| (p.id.to_string(), p.transport.as_str())).collect();
        assert_eq!(seen, [(self.ran_on.clone(), browser.transport)], "{}: the broker sees other providers", self.name);
    }

    fn p(&self, p: f64) -> f64 {
        let mut sorted = self.echo.clone();
        sorted.sort();
        sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6
    }

    fn best(&self) -> f64 {
        self.rates.iter().copied().fold(0f64, f64::max)
    }
}

fn mean_us(samples: &[Duration]) -> f64 {
    samples.iter().sum::<Duration>().as_secs_f64() * 1e6 / samples.len() as f64
}

fn local_path(broker: Wasimoff) -> Path {
    Path {
        name: "local runner",
        broker,
        ran_on: wasimoff::LOCAL.into(),
        browser: None,
        echo: vec![],
        guest: vec![],
        spans: None,
        rates: vec![],
        cpu_echo: Split::default(),
        cpu_tsp: Split::default(),
        tsp_tasks: 0,
        tsp_guest: Duration::ZERO,
        tsp_alone: vec![],
    }
}

/// A broker that never runs tasks itself, with the fixtures, served with WebTransport on its
/// host's port; returns it and the host's base URL.
async fn remote_broker() -> (Wasimoff, String) {
    let broker = Wasimoff::builder()
        .limits(remote_limits())
        .fallback(FallbackPolicy::Never)
        .webtransport(WebTransport::on_host_address())
        .build()
        .expect("broker");
    support::upload_fixtures(&broker).await;
    let base = support::serve(support::host_app(&broker)).await;
    let address: SocketAddr = base.trim_start_matches("http://").parse().expect("host address");
    broker.start_webtransport(address).expect("WebTransport starts on the host's port");
    (broker, base)
}

/// A broker with WebTransport on its host's port and a Chromium provider page with 1 worker
/// on `transport` (`websocket` forced by the page's query, `webtransport` offered and taken).
async fn browser_path(name: &'static str, transport: &'static str) -> Path {
    let (broker, base) = remote_broker().await;
    let earlier = process_cpu::children();
    let chromium = Chromium::launch().await;
    let pid = *process_cpu::children().difference(&earlier).next().expect("Chromium is a child process");
    let query = if transport == "websocket" { "&transport=websocket" } else { "" };
    let page = chromium.open(&format!("{base}/wasimoff/?workers=1{query}")).await;
    let id = page.wait_for("window.wasimoffProvider?.state().providerId", JOIN_TIMEOUT).await;
    let ran_on = id.as_str().expect("provider id").to_string();
    let browser = Some(Browser { _chromium: chromium, pid, page, transport });
    let path = Path { name, ran_on, browser, ..local_path(broker) };
    path.check_transport().await;
    path
}

/// Sets the page's workers to `workers` and waits until its broker knows.
async fn set_workers(path: &Path, workers: usize) {
    let Some(browser) = &path.browser else { return };
    browser.page.evaluate(&format!("window.wasimoffProvider.setWorkers({workers})")).await;
    let deadline = Instant::now() + JOIN_TIMEOUT;
    while path.broker.cluster().providers.first().map(|p| p.workers) != Some(workers) {
        assert!(Instant::now() < deadline, "{}: the provider did not announce {workers} workers", path.name);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the shared job measured on one transport.
struct Shared {
    transport: &'static str,
    rate: f64,
    /// Per page: tasks it ran, and its busy share between its first and its last task.
    pages: Vec<(usize, f64)>,
}

/// `PAGES` Chromium pages with 1 worker each on one broker over `transport`, sharing a job of
/// `count` copies of `task`.
async fn shared_job(transport: &'static str, task: &Task, count: usize, stdout: &[u8]) -> Shared {
    let (broker, base) = remote_broker().await;
    let query = if transport == "websocket" { "&transport=websocket" } else { "" };
    let mut browsers = Vec::new();
    for _ in 0..PAGES {
        let chromium = Chromium::launch().await;
        let page = chromium.open(&format!("{base}/wasimoff/?workers=1{query}")).await;
        let id = page.wait_for("window.wasimoffProvider?.state().providerId", JOIN_TIMEOUT).await;
        let state = page.evaluate("window.wasimoffProvider.state()").await;
        assert_eq!(state["transport"], transport, "the page uses another transport: {state}");
        browsers.push((chromium, page, id.as_str().expect("provider id").to_string()));
    }
    let warm = broker.run_job(Job { parent: None, tasks: vec![task.clone(); TSP_WARM_UP * PAGES] }).await;
    assert!(warm.into_iter().all(|result| result.is_ok()), "the warm-up job succeeds");
    for (_, page, _) in &browsers {
        page.evaluate(BUSY_ON).await;
    }
    let started = Instant::now();
    let results = broker.run_job(Job { parent: None, tasks: vec![task.clone(); count] }).await;
    let rate = count as f64 / started.elapsed().as_secs_f64();
    let mut ran_on = std::collections::HashMap::new();
    for result in results {
        let output = result.expect("every task of the shared job succeeds");
        assert_eq!(&output.stdout[..], stdout);
        *ran_on.entry(output.ran_on).or_insert(0usize) += 1;
    }
    let mut pages = Vec::new();
    for (_, page, id) in &browsers {
        let busy = page.evaluate(BUSY_OFF).await;
        let tasks = ran_on.get(id).copied().unwrap_or(0);
        assert_eq!(busy[1].as_u64().expect("a count") as usize, tasks, "{id}: every task it ran was stamped");
        pages.push((tasks, busy[0].as_f64().unwrap_or(0.0)));
    }
    assert_eq!(broker.cluster().providers.len(), PAGES, "no page reconnected");
    drop(browsers);
    broker.shutdown().await;
    Shared { transport, rate, pages }
}

#[tokio::main]
async fn main() {
    let runs = env_count("BENCH_RUNS", 600);
    let tasks = env_count("BENCH_TASKS", 400);
    let shared_tasks = env_count("BENCH_SHARED", 2000);
    let workers = env_count("BENCH_WORKERS", 2);
    let started = Instant::now();
    let local = Wasimoff::builder().limits(Limits { concurrency: workers, ..Limits::default() }).build().expect("local broker");
    support::upload_fixtures(&local).await;
    let tsp = support::task("tsp", &["tsp", "rand", "8"]);
    let tsp_stdout = local.run(tsp.clone()).await.expect("tsp runs locally").stdout;
    let mut paths = [
        local_path(local),
        browser_path("Chromium, WebSocket", "websocket").await,
        browser_path("Chromium, WebTransport", "webtransport").await,
    ];
    let agent = paths[1].browser.as_ref().expect("a browser").page.evaluate("navigator.userAgent").await;
    let agent = agent.as_str().unwrap_or_default();
    let version = agent.split_whitespace().find(|part| part.starts_with("HeadlessChrome/")).unwrap_or(agent).to_string();

    let echo = support::task("echo", &["echo"]);
    for path in &mut paths {
        path.one_at_a_time(&echo, ECHO_WARM_UP, false).await;
        if let Some(browser) = &path.browser {
            browser.page.evaluate(SPANS_ON).await;
        }
    }
    let block = runs.div_ceil(BLOCKS);
    for round in 0..BLOCKS {
        for i in 0..paths.len() {
            paths[(round + i) % paths.len()].one_at_a_time(&echo, block, true).await;
        }
    }
    for path in &mut paths {
        let Some(browser) = &path.browser else { continue };
        let spans = browser.page.evaluate(SPANS_OFF).await;
        assert!(spans[3].as_u64().expect("count") as usize >= block * BLOCKS, "{}: every measured task was stamped: {spans}", path.name);
        path.spans = Some([0, 1, 2].map(|i| spans[i].as_f64().expect("a mean")));
    }

    for path in &mut paths {
        path.guest_alone(&tsp, TSP_WARM_UP, &tsp_stdout).await;
        path.tsp_alone.clear();
    }
    for round in 0..ROUNDS {
        for i in 0..paths.len() {
            paths[(round + i) % paths.len()].guest_alone(&tsp, TSP_ALONE, &tsp_stdout).await;
        }
    }
    for path in &mut paths {
        set_workers(path, workers).await;
        path.job_rate(&tsp, TSP_WARM_UP, &tsp_stdout).await;
        (path.cpu_tsp, path.tsp_tasks, path.tsp_guest) = (Split::default(), 0, Duration::ZERO);
    }
    for round in 0..ROUNDS {
        for i in 0..paths.len() {
            let path = &mut paths[(round + i) % 3];
            let rate = path.job_rate(&tsp, tasks, &tsp_stdout).await;
            path.rates.push(rate);
        }
    }
    for path in &paths {
        path.check_transport().await;
    }
    let mut shared = Vec::new();
    for transport in ["websocket", "webtransport"] {
        shared.push(shared_job(transport, &tsp, shared_tasks, &tsp_stdout).await);
    }
    let elapsed = started.elapsed();

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "browser provider benchmark: {version}, {cores} cores, {:.1} s, prefetch {} per worker",
        elapsed.as_secs_f64(),
        remote_limits().provider_prefetch
    );
    println!("echo one at a time, 1 worker: {} per path in {BLOCKS} interleaved blocks", paths[0].echo.len());
    println!("| path | p50 | p90 | p99 | mean | guest mean | p50 / local | p50 / WebSocket |");
    println!("|---|---|---|---|---|---|---|---|");
    let (local_p50, ws_p50) = (paths[0].p(0.5), paths[1].p(0.5));
    for path in &paths {
        let (p50, p90, p99, mean, guest) = (path.p(0.5), path.p(0.9), path.p(0.99), mean_us(&path.echo), mean_us(&path.guest));
        let vs_ws = if path.browser.is_some() { format!("{:.2}x", p50 / ws_p50) } else { "".into() };
        println!(
            "| {} | {p50:.0} µs | {p90:.0} µs | {p99:.0} µs | {mean:.0} µs | {guest:.0} µs | {:.2}x | {vs_ws} |",
            path.name,
            p50 / local_p50
        );
    }
    for path in &paths[1..] {
        let [to_worker, in_worker, to_frame] = path.spans.expect("stamped");
        println!(
            "{}: +{:.0} µs per task at p50; page, means: frame in → worker {to_worker:.0} µs, worker → result back {in_worker:.0} µs, \
             result → frame out {to_frame:.0} µs; outside the page (broker, transport, browser network process) {:.0} µs",
            path.name,
            path.p(0.5) - local_p50,
            mean_us(&path.echo) - to_worker - in_worker - to_frame
        );
    }
    let ratio = |f: &dyn Fn(&Path) -> f64| f(&paths[2]) / f(&paths[1]);
    println!(
        "echo WebTransport / WebSocket: p50 {:.2}x, p90 {:.2}x, p99 {:.2}x, mean {:.2}x",
        ratio(&|p| p.p(0.5)),
        ratio(&|p| p.p(0.9)),
        ratio(&|p| p.p(0.99)),
        ratio(&|p| mean_us(&p.echo))
    );
    // The page's clock is coarsened to 100 µs with jitter: a mean, not a median, and without the
    // slowest tenth (tasks preempted by other load).
    let trimmed_mean = |samples: &[Duration]| {
        let mut sorted = samples.to_vec();
        sorted.sort();
        mean_us(&sorted[..sorted.len() * 9 / 10])
    };
    let local_alone = trimmed_mean(&paths[0].tsp_alone);
    let alone: Vec<String> = paths
        .iter()
        .map(|p| format!("{} {:.0} µs ({:.2}x)", p.name, trimmed_mean(&p.tsp_alone), trimmed_mean(&p.tsp_alone) / local_alone))
        .collect();
    println!("tsp rand 8 one at a time, 1 worker, guest time (instantiate → exit), mean of the fastest 90 %: {}", alone.join(", "));
    println!("tsp rand 8: jobs of {tasks}, {workers} workers / concurrency {workers}, {ROUNDS} interleaved rounds, best counts");
    println!("| path | tasks/s | rounds | / local | / WebSocket | guest mean | guest / local |");
    println!("|---|---|---|---|---|---|---|");
    let (local_best, ws_best) = (paths[0].best(), paths[1].best());
    for path in &paths {
        let rounds = path.rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ");
        let vs_ws = if path.browser.is_some() { format!("{:.2}x", path.best() / ws_best) } else { "".into() };
        let guest = path.tsp_guest.as_secs_f64() * 1e6 / path.tsp_tasks as f64;
        let local_guest = paths[0].tsp_guest.as_secs_f64() * 1e6 / paths[0].tsp_tasks as f64;
        println!(
            "| {} | {:.0} | {rounds} | {:.2}x | {vs_ws} | {guest:.0} µs | {:.2}x |",
            path.name,
            path.best(),
            path.best() / local_best,
            guest / local_guest
        );
    }
    println!("tsp rand 8 shared: a job of {shared_tasks} on {PAGES} pages of 1 worker each (one Chromium each), one broker");
    println!("| transport | tasks/s | / local | tasks per page | busy share per page, first to last task |");
    println!("|---|---|---|---|---|");
    for run in &shared {
        let tasks = run.pages.iter().map(|(tasks, _)| tasks.to_string()).collect::<Vec<_>>().join(", ");
        let busy = run.pages.iter().map(|(_, share)| format!("{:.0} %", share * 100.0)).collect::<Vec<_>>().join(", ");
        println!("| {} | {:.0} | {:.2}x | {tasks} | {busy} |", run.transport, run.rate, run.rate / local_best);
    }
    print_cpu(&paths);
    for path in paths {
        drop(path.browser);
        path.broker.shutdown().await;
    }
}

/// Prints, per path, the CPU µs per task of the echo blocks and of the TSP jobs: the bench
/// process (broker and local runner), the path's Chromium by process and thread (the larger
/// ones), and every other Chromium.
fn print_cpu(paths: &[Path]) {
    let roots: Vec<u32> = paths.iter().filter_map(|p| p.browser.as_ref().map(|b| b.pid)).collect();
    let us = |time: Duration, tasks: usize| time.as_secs_f64() * 1e6 / tasks.max(1) as f64;
    println!("CPU per task (µs, run time of every thread from /proc, summed over the measured echo blocks / TSP jobs)");
    println!("| path | phase | total | bench process (broker, local runner) | its Chromium | other Chromiums |");
    println!("|---|---|---|---|---|---|");
    for path in paths {
        let root = path.browser.as_ref().map(|b| b.pid);
        for (phase, split, tasks) in [("echo", &path.cpu_echo, path.echo.len()), ("tsp", &path.cpu_tsp, path.tsp_tasks)] {
            let (bench, chromium, others) =
                (split.total(None), root.map_or(Duration::ZERO, |r| split.total(Some(r))), split.others(&roots));
            println!(
                "| {} | {phase} | {:.0} | {:.0} | {:.0} | {:.0} |",
                path.name,
                us(bench + chromium + others, tasks),
                us(bench, tasks),
                us(chromium, tasks),
                us(others, tasks)
            );
        }
    }
    for path in paths {
        for (phase, split, tasks) in [("echo", &path.cpu_echo, path.echo.len()), ("tsp", &path.cpu_tsp, path.tsp_tasks)] {
            let mut rows = split.rows(None);
            if let Some(browser) = &path.browser {
                rows.extend(split.rows(Some(browser.pid)));
            }
            rows.sort_by_key(|row| std::cmp::Reverse(row.2));
            let shown: Vec<String> = rows
                .iter()
                .filter(|(_, _, time)| us(*time, tasks) >= 1.0)
                .map(|(process, thread, time)| format!("{process}/{thread} {:.0}", us(*time, tasks)))
                .collect();
            println!("{}, {phase}, µs per task: {}", path.name, shown.join(", "));
        }
    }
}
