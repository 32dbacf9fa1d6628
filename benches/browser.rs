//! Browser provider benchmark (not a test): `cargo bench --bench browser`. Needs /usr/bin/chromium.
//!
//! One headless Chromium runs the provider page (`{base}/wasimoff/?workers=1`) of a broker with
//! `FallbackPolicy::Never`; the baseline, in the same run and interleaved in blocks, is the
//! local runner of a broker with no provider (concurrency 2, the default on 2 cores). The
//! browser is measured twice: with the host app served by plain `axum::serve` (as the tests
//! and examples do: Nagle's algorithm on), and by a listener that sets `TCP_NODELAY`; the page
//! is closed and a new one opened in between.
//!
//! 1. Per-task overhead broker → browser → broker: fixture `echo` submitted one at a time
//!    through `Wasimoff::run`, 1 worker. For attribution: stamps in the page (frame in →
//!    handed to the worker → result back → result frame out), the provider's worker script
//!    driven alone by `postMessage` with the compiled module (no broker, no socket), a
//!    WebSocket echo round trip from the page to a loopback server, and the broker alone with
//!    an in-process provider that answers at once.
//! 2. `tsp rand 8`: single-task latency (1 worker), then jobs of `BENCH_TASKS` tasks after
//!    `setWorkers(2)` against the local runner with concurrency 2, three interleaved rounds.
//!
//! Env: `BENCH_RUNS` (echo tasks measured per path and phase, default 600), `BENCH_TASKS`
//! (tasks per job, default 400).

#[path = "../tests/integration/chromium.rs"]
#[allow(dead_code)] // the driver's own tests and the helpers the benchmark does not use
mod chromium;
#[path = "../tests/integration/support.rs"]
#[allow(dead_code)]
mod support;

use axum::serve::ListenerExt;
use chromium::{Chromium, Page};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::{Duration, Instant};
use wasimoff::protocol::{Outcome, ToProvider};
use wasimoff::{FallbackPolicy, Job, Limits, Task, TaskOutput, Wasimoff};

const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
const BLOCKS: usize = 3;
const ROUNDS: usize = 3;
const ECHO_WARM_UP: usize = 50;
const TSP_WARM_UP: usize = 20;
const TSP_SINGLE_RUNS: usize = 90;
const IN_PAGE_RUNS: usize = 300;
const WS_PAYLOAD_BYTES: usize = 128;
const ECHO_STDOUT: &[u8] = b"argc=1\nargv[0]=echo\n";

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(default)
}

/// Latencies of one path and the guest's own times (instantiate → exit).
#[derive(Default)]
struct Latency {
    samples: Vec<Duration>,
    guest: Vec<Duration>,
}

impl Latency {
    fn p(&self, p: f64) -> f64 {
        let mut sorted = self.samples.clone();
        sorted.sort();
        sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6
    }

    fn mean(&self) -> f64 {
        mean_us(&self.samples)
    }

    fn guest_mean(&self) -> f64 {
        mean_us(&self.guest)
    }
}

fn mean_us(samples: &[Duration]) -> f64 {
    samples.iter().sum::<Duration>().as_secs_f64() * 1e6 / samples.len() as f64
}

/// Where a task must run and what it must print.
struct Expect<'a> {
    ran_on: &'a str,
    stdout: &'a [u8],
}

/// Runs `task` `count` times one after another on `broker`, checking every result.
async fn one_at_a_time(broker: &Wasimoff, task: &Task, count: usize, expect: &Expect<'_>, into: &mut Latency) {
    for _ in 0..count {
        let started = Instant::now();
        let output: TaskOutput = broker.run(task.clone()).await.expect("task");
        into.samples.push(started.elapsed());
        into.guest.push(output.elapsed);
        assert_eq!((output.ran_on.as_str(), &output.stdout[..]), (expect.ran_on, expect.stdout));
    }
}

/// Tasks per second of a job of `count` copies of `task`, checking every result.
async fn job_rate(broker: &Wasimoff, task: &Task, count: usize, expect: &Expect<'_>) -> f64 {
    let started = Instant::now();
    let results = broker.run_job(Job { parent: None, tasks: vec![task.clone(); count] }).await;
    let rate = count as f64 / started.elapsed().as_secs_f64();
    for result in results {
        let output = result.expect("every task of the job succeeds");
        assert_eq!((output.ran_on.as_str(), &output.stdout[..]), (expect.ran_on, expect.stdout));
    }
    rate
}

/// Serves the host app with the broker on a loopback port, with or without `TCP_NODELAY`.
async fn serve_host(broker: &Wasimoff, nodelay: bool) -> String {
    if !nodelay {
        return support::serve(support::host_app(broker)).await;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let address = listener.local_addr().expect("address");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = support::host_app(broker);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{address}")
}

/// A loopback WebSocket server that sends every binary message back.
async fn websocket_echo() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_binary() && socket.send(message).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("ws://{address}")
}

/// Mean µs of `IN_PAGE_RUNS` round trips timed in the page: the provider's worker script
/// running `args` with compiled module `digest`, the guest's own time within that, and a
/// WebSocket echo. performance.now() is coarsened (100 µs) outside cross-origin isolation;
/// the means over hundreds of runs are still fine.
async fn in_page(page: &Page, digest: &str, args: &[&str], echo_url: &str) -> [f64; 3] {
    let script = format!(
        r#"(async () => {{
  const module = await window.wasimoffProvider.modules.get({digest});
  const worker = new Worker(new URL("provider-worker.js", location.href), {{ type: "module" }});
  const task = {{ args: {args}, envs: [], stdin: new Uint8Array(), files: [], artifacts: [],
    limits: {{ timeoutMs: 60000, memoryBytes: 268435456, outputBytes: 1048576, artifactBytes: 67108864 }} }};
  let done;
  worker.onmessage = ({{ data }}) => {{ if (data.type === "result") done(data.result); }};
  const run = (id) => new Promise((resolve) => {{ done = resolve; worker.postMessage({{ type: "run", id, module, task }}); }});
  for (let i = 0; i < 50; i++) await run(i);
  let guest = 0;
  let started = performance.now();
  for (let i = 0; i < {runs}; i++) {{
    const result = await run(1000 + i);
    if (result.type !== "exited") throw new Error(JSON.stringify(result));
    guest += result.elapsedUs;
  }}
  const workerUs = (performance.now() - started) * 1000 / {runs};
  worker.terminate();

  const socket = new WebSocket({echo_url});
  socket.binaryType = "arraybuffer";
  await new Promise((open, fail) => {{ socket.onopen = open; socket.onerror = fail; }});
  let back;
  socket.onmessage = () => back();
  const payload = new Uint8Array({payload});
  const ping = () => new Promise((resolve) => {{ back = resolve; socket.send(payload); }});
  for (let i = 0; i < 50; i++) await ping();
  started = performance.now();
  for (let i = 0; i < {runs}; i++) await ping();
  const socketUs = (performance.now() - started) * 1000 / {runs};
  socket.close();
  return [workerUs, guest / {runs}, socketUs];
}})()"#,
        digest = Value::from(digest),
        args = Value::from(args.to_vec()),
        echo_url = Value::from(echo_url),
        runs = IN_PAGE_RUNS,
        payload = WS_PAYLOAD_BYTES,
    );
    let values = page.evaluate(&script).await;
    [0, 1, 2].map(|i| values[i].as_f64().expect("a number"))
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
/// frame out, and how many tasks were stamped.
const SPANS_OFF: &str = r#"(() => {
  const p = window.wasimoffProvider;
  for (const name of ["receive", "finished", "send"]) delete p[name];
  delete p.pool.run;
  const spans = window.benchSpans;
  const mean = (i) => spans.reduce((sum, t) => sum + t[i + 1] - t[i], 0) * 1000 / spans.length;
  return [mean(0), mean(1), mean(2), spans.length];
})()"#;

/// What the local runner measured, over both phases.
#[derive(Default)]
struct Local {
    echo: Latency,
    tsp: Latency,
    rates: Vec<f64>,
}

/// What one phase (one way of serving the host) measured in the browser.
#[derive(Default)]
struct Browser {
    transport: String,
    echo: Latency,
    /// In the page, mean µs: frame in → worker, worker → result back, result → frame out.
    spans: [f64; 3],
    /// Worker postMessage round trip, guest time in it, WebSocket echo: mean µs.
    in_page: [f64; 3],
    tsp: Latency,
    rates: Vec<f64>,
}

struct Setup<'a> {
    chromium: &'a Chromium,
    local: &'a Wasimoff,
    remote: &'a Wasimoff,
    echo_server: &'a str,
    runs: usize,
    tasks: usize,
    tsp_stdout: &'a [u8],
}

async fn phase(setup: &Setup<'_>, nodelay: bool, local: &mut Local) -> Browser {
    let Setup { chromium, local: local_broker, remote, .. } = *setup;
    let base = serve_host(remote, nodelay).await;
    let page = chromium.open(&format!("{base}/wasimoff/?workers=1")).await;
    let id = page.wait_for("window.wasimoffProvider?.state().providerId", JOIN_TIMEOUT).await;
    let id = id.as_str().expect("provider id").to_string();
    let mut browser = Browser::default();
    let state = page.evaluate("window.wasimoffProvider.state()").await;
    browser.transport = state["transport"].as_str().unwrap_or("?").to_string();
    let at_local = Expect { ran_on: wasimoff::LOCAL, stdout: ECHO_STDOUT };
    let in_browser = Expect { ran_on: &id, stdout: ECHO_STDOUT };

    let echo = support::task("echo", &["echo"]);
    one_at_a_time(local_broker, &echo, ECHO_WARM_UP, &at_local, &mut Latency::default()).await;
    one_at_a_time(remote, &echo, ECHO_WARM_UP, &in_browser, &mut Latency::default()).await;
    page.evaluate(SPANS_ON).await;
    let block = setup.runs.div_ceil(BLOCKS);
    for _ in 0..BLOCKS {
        one_at_a_time(local_broker, &echo, block, &at_local, &mut local.echo).await;
        one_at_a_time(remote, &echo, block, &in_browser, &mut browser.echo).await;
    }
    let spans = page.evaluate(SPANS_OFF).await;
    assert!(spans[3].as_u64().expect("count") as usize >= block * BLOCKS, "every measured task was stamped: {spans}");
    browser.spans = [0, 1, 2].map(|i| spans[i].as_f64().expect("a mean"));
    let modules = page.evaluate("[...window.wasimoffProvider.modules.keys()]").await;
    let echo_digest = modules[0].as_str().expect("the echo module is cached");
    browser.in_page = in_page(&page, echo_digest, &["echo"], setup.echo_server).await;

    let tsp = support::task("tsp", &["tsp", "rand", "8"]);
    let at_local = Expect { ran_on: wasimoff::LOCAL, stdout: setup.tsp_stdout };
    let in_browser = Expect { ran_on: &id, stdout: setup.tsp_stdout };
    one_at_a_time(local_broker, &tsp, TSP_WARM_UP, &at_local, &mut Latency::default()).await;
    one_at_a_time(remote, &tsp, TSP_WARM_UP, &in_browser, &mut Latency::default()).await;
    for _ in 0..BLOCKS {
        one_at_a_time(local_broker, &tsp, TSP_SINGLE_RUNS / BLOCKS, &at_local, &mut local.tsp).await;
        one_at_a_time(remote, &tsp, TSP_SINGLE_RUNS / BLOCKS, &in_browser, &mut browser.tsp).await;
    }

    page.evaluate("window.wasimoffProvider.setWorkers(2)").await;
    let deadline = Instant::now() + JOIN_TIMEOUT;
    while remote.cluster().providers.first().map(|p| p.workers) != Some(2) {
        assert!(Instant::now() < deadline, "the provider did not announce 2 workers");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    job_rate(local_broker, &tsp, TSP_WARM_UP, &at_local).await;
    job_rate(remote, &tsp, TSP_WARM_UP, &in_browser).await;
    for _ in 0..ROUNDS {
        local.rates.push(job_rate(local_broker, &tsp, setup.tasks, &at_local).await);
        browser.rates.push(job_rate(remote, &tsp, setup.tasks, &in_browser).await);
    }

    page.close().await;
    let deadline = Instant::now() + JOIN_TIMEOUT;
    while !remote.cluster().providers.is_empty() {
        assert!(Instant::now() < deadline, "the closed page's provider did not leave");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    browser
}

/// Latency of `runs` tasks one at a time through a broker (policy Never) to an in-process
/// provider that answers every run at once: the broker's own share of a remote task.
async fn in_process_latency(runs: usize) -> Latency {
    let broker = Wasimoff::builder().fallback(FallbackPolicy::Never).build().expect("broker");
    support::upload_fixtures(&broker).await;
    let mut provider = broker.attach_provider("bench", 1).expect("attach");
    let id = provider.id().to_string();
    let answering = tokio::spawn(async move {
        while let Some(message) = provider.next().await {
            if let ToProvider::Run { id, .. } = message {
                let outcome = Outcome::Exited {
                    status: 0,
                    stdout: Default::default(),
                    stderr: Default::default(),
                    artifacts: None,
                    missing_artifacts: vec![],
                    elapsed_us: 0,
                };
                provider.answer(id, outcome);
            }
        }
    });
    let echo = support::task("echo", &["echo"]);
    let expect = Expect { ran_on: &id, stdout: b"" };
    one_at_a_time(&broker, &echo, ECHO_WARM_UP, &expect, &mut Latency::default()).await;
    let mut latency = Latency::default();
    one_at_a_time(&broker, &echo, runs, &expect, &mut latency).await;
    answering.abort();
    broker.shutdown().await;
    latency
}

fn best(rates: &[f64]) -> f64 {
    rates.iter().copied().fold(0f64, f64::max)
}

fn all(rates: &[f64]) -> String {
    rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ")
}

#[tokio::main]
async fn main() {
    let runs = env_count("BENCH_RUNS", 600);
    let tasks = env_count("BENCH_TASKS", 400);
    let local_broker = Wasimoff::builder().limits(Limits { concurrency: 2, ..Limits::default() }).build().expect("local broker");
    support::upload_fixtures(&local_broker).await;
    let remote = Wasimoff::builder().fallback(FallbackPolicy::Never).build().expect("browser broker");
    support::upload_fixtures(&remote).await;
    let echo_server = websocket_echo().await;
    let in_process = in_process_latency(runs).await;
    let tsp_stdout = local_broker.run(support::task("tsp", &["tsp", "rand", "8"])).await.expect("tsp runs locally").stdout;
    let chromium = Chromium::launch().await;
    let version = {
        let page = chromium.open("about:blank").await;
        let agent = page.evaluate("navigator.userAgent").await;
        let agent = agent.as_str().unwrap_or_default().to_string();
        page.close().await;
        agent.split_whitespace().find(|part| part.starts_with("HeadlessChrome/")).map_or(agent.clone(), str::to_string)
    };

    let setup = Setup { chromium: &chromium, local: &local_broker, remote: &remote, echo_server: &echo_server, runs, tasks, tsp_stdout: &tsp_stdout };
    let mut local = Local::default();
    let started = Instant::now();
    let nagle = phase(&setup, false, &mut local).await;
    let nodelay = phase(&setup, true, &mut local).await;
    let elapsed = started.elapsed();
    let phases = [("Chromium, host via axum::serve (Nagle on)", &nagle), ("Chromium, host listener TCP_NODELAY", &nodelay)];

    println!(
        "browser provider benchmark: {version}, transport {} / {}, {} cores, {:.1} s",
        nagle.transport,
        nodelay.transport,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        elapsed.as_secs_f64()
    );
    println!("echo one at a time, 1 worker: {} per browser path, {} local; {BLOCKS} interleaved blocks per phase", nagle.echo.samples.len(), local.echo.samples.len());
    println!("| path | p50 | p90 | p99 | mean | guest mean | ratio p50 |");
    println!("|---|---|---|---|---|---|---|");
    let local_p50 = local.echo.p(0.5);
    let row = |name: &str, run: &Latency, base: f64| {
        println!(
            "| {name} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.2}x |",
            run.p(0.5),
            run.p(0.9),
            run.p(0.99),
            run.mean(),
            run.guest_mean(),
            run.p(0.5) / base
        );
    };
    row("local runner (baseline)", &local.echo, local_p50);
    for (name, browser) in phases {
        row(name, &browser.echo, local_p50);
    }
    row("in-process provider that answers at once (broker's own share)", &in_process, local_p50);
    for (name, browser) in phases {
        let [to_worker, in_worker, to_frame] = browser.spans;
        let [worker, guest, socket] = browser.in_page;
        println!("{name}: +{:.0} µs per task at p50, +{:.0} µs in the mean", browser.echo.p(0.5) - local_p50, browser.echo.mean() - local.echo.mean());
        println!(
            "  page, means: frame in → worker {to_worker:.0} µs, worker → result back {in_worker:.0} µs, result → frame out {to_frame:.0} µs; \
             outside the page (broker, sockets, browser network process) {:.0} µs",
            browser.echo.mean() - to_worker - in_worker - to_frame
        );
        println!(
            "  page, alone: worker postMessage → echo → result {worker:.0} µs (guest {guest:.0} µs); WebSocket {WS_PAYLOAD_BYTES} B echo round trip {socket:.0} µs"
        );
    }
    println!(
        "tsp rand 8: single tasks one at a time (1 worker; {} per path), jobs of {tasks} (2 workers / concurrency 2; {ROUNDS} rounds per phase, best)",
        nagle.tsp.samples.len()
    );
    println!("| path | single p50 | single p90 | guest mean | tasks/s | rounds | ratio tasks/s |");
    println!("|---|---|---|---|---|---|---|");
    let local_best = best(&local.rates);
    let row = |name: &str, run: &Latency, rates: &[f64]| {
        println!(
            "| {name} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} | {} | {:.2}x |",
            run.p(0.5),
            run.p(0.9),
            run.guest_mean(),
            best(rates),
            all(rates),
            best(rates) / local_best
        );
    };
    row("local runner (baseline)", &local.tsp, &local.rates);
    for (name, browser) in phases {
        row(name, &browser.tsp, &browser.rates);
    }
    println!(
        "tsp single p50 browser/local: {:.2}x (Nagle on), {:.2}x (TCP_NODELAY)",
        nagle.tsp.p(0.5) / local.tsp.p(0.5),
        nodelay.tsp.p(0.5) / local.tsp.p(0.5)
    );
    drop(chromium);
    remote.shutdown().await;
    local_broker.shutdown().await;
}
