//! HTTP benchmark (not a test): `cargo bench --bench http` runs both parts; `-- trivial` or
//! `-- tsp` runs one.
//!
//! 1. **trivial**: many concurrent keep-alive clients on loopback POST a trivial task to
//!    `/wasimoff/api/v1/tasks` of a host app with the broker layer. Baseline, same run, same
//!    client: a bare hyper handler that answers the same request with a body of the same size.
//! 2. **tsp**: 64 keep-alive clients POST the TSP solver (`tsp rand 8`) to the broker, against
//!    the same solver source compiled natively and looped by 2 threads over the same number of
//!    tasks, in interleaved rounds. Server, clients and native threads share the machine's
//!    cores, as in a user's own test. Prints tasks/s of both, their ratio, and the CPU time per
//!    task of each thread group (runner threads, the host runtime's threads that serve HTTP
//!    and run the clients, the native threads).

mod support;
#[path = "../fixtures/src/tsp.rs"]
#[allow(dead_code)] // the CSV reader is used by the fixture program, not here
mod tsp;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasimoff::{Upload, Wasimoff};

const CLIENTS: usize = 32;
const REQUESTS_PER_CLIENT: usize = 400;
const SINGLE_CLIENT_REQUESTS: usize = 3000;
const TRIVIAL_WAT: &str = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;
const TASK: &str = r#"{"binary":{"ref":"trivial.wasm"}}"#;
const TSP_TASK: &str = r#"{"binary":{"ref":"tsp.wasm"},"args":["tsp","rand","8"]}"#;
const TSP_CLIENTS: usize = 64;
const TSP_TASKS_PER_CLIENT: usize = 24;
const TSP_ROUNDS: usize = 3;
const NATIVE_THREADS: usize = 2;

async fn serve<S, B>(service: S) -> String
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        }
    });
    format!("http://{address}")
}

struct Measured {
    per_second: f64,
    latencies: Vec<Duration>,
}

/// `clients` keep-alive clients each POST `body` `requests_per_client` times; every response
/// must be a success and contain `expect`.
async fn drive_with(url: &str, body: &'static str, expect: &Arc<Vec<u8>>, clients: usize, requests_per_client: usize) -> Measured {
    let client = reqwest::Client::builder().tcp_nodelay(true).build().expect("client");
    let started = Instant::now();
    let clients: Vec<_> = (0..clients)
        .map(|_| {
            let client = client.clone();
            let url = url.to_string();
            let expect = expect.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(requests_per_client);
                for _ in 0..requests_per_client {
                    let sent = Instant::now();
                    let response = client.post(&url).body(body).send().await.expect("request");
                    assert!(response.status().is_success());
                    let bytes = response.bytes().await.expect("body");
                    assert!(
                        expect.is_empty() || bytes.windows(expect.len()).any(|w| w == expect.as_slice()),
                        "unexpected response {bytes:?}"
                    );
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.expect("client task"));
    }
    let per_second = latencies.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    Measured { per_second, latencies }
}

async fn drive(url: &str, clients: usize, requests_per_client: usize) -> Measured {
    drive_with(url, TASK, &Arc::new(Vec::new()), clients, requests_per_client).await
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let only = |part: &str| !args.iter().any(|a| a == "trivial" || a == "tsp") || args.iter().any(|a| a == part);
    if only("trivial") {
        trivial().await;
    }
    if only("tsp") {
        tsp_throughput().await;
    }
}

async fn trivial() {
    let broker = Wasimoff::builder().build().expect("broker");
    broker.store().put(wat::parse_str(TRIVIAL_WAT).expect("wat").into(), Upload::new().alias("trivial.wasm")).await.expect("upload");
    let host = axum::Router::new().route("/", axum::routing::get(|| async { "home" })).layer(broker.layer());
    let broker_base = serve(host).await;
    let task_url = format!("{broker_base}/wasimoff/api/v1/tasks");
    let sample = reqwest::Client::new().post(&task_url).body(TASK).send().await.expect("sample").bytes().await.expect("body");
    let body = Bytes::from(sample.to_vec());
    let bare = tower::service_fn(move |_request: Request<Incoming>| {
        let body = body.clone();
        async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
    });
    let bare_base = serve(bare).await;

    drive(&task_url, CLIENTS, REQUESTS_PER_CLIENT).await;
    drive(&bare_base, CLIENTS, REQUESTS_PER_CLIENT).await;
    let broker_run = drive(&task_url, CLIENTS, REQUESTS_PER_CLIENT).await;
    let bare_run = drive(&bare_base, CLIENTS, REQUESTS_PER_CLIENT).await;
    let broker_single = drive(&task_url, 1, SINGLE_CLIENT_REQUESTS).await;
    let bare_single = drive(&bare_base, 1, SINGLE_CLIENT_REQUESTS).await;

    println!(
        "HTTP benchmark: {CLIENTS} keep-alive clients x {REQUESTS_PER_CLIENT} requests, loopback, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("response body: {} bytes: {}", sample.len(), String::from_utf8_lossy(&sample));
    println!("| server | requests/s | p50 | p90 | p99 |");
    println!("|---|---|---|---|---|");
    let runs = [
        ("trivial task via the broker layer, 32 clients", &broker_run),
        ("bare hyper handler, same body (baseline), 32 clients", &bare_run),
        ("trivial task via the broker layer, 1 client", &broker_single),
        ("bare hyper handler, same body (baseline), 1 client", &bare_single),
    ];
    for (name, run) in runs {
        println!(
            "| {name} | {:.0} | {:.0} µs | {:.0} µs | {:.0} µs |",
            run.per_second,
            percentile(&run.latencies, 0.5),
            percentile(&run.latencies, 0.9),
            percentile(&run.latencies, 0.99)
        );
    }
    println!(
        "broker/baseline, 32 clients: throughput {:.2}x, p50 latency {:.2}x; 1 client: p50 latency {:.2}x",
        broker_run.per_second / bare_run.per_second,
        percentile(&broker_run.latencies, 0.5) / percentile(&bare_run.latencies, 0.5),
        percentile(&broker_single.latencies, 0.5) / percentile(&bare_single.latencies, 0.5)
    );
    broker.shutdown().await;
}

struct Native {
    per_second: f64,
    cpu: Duration,
}

/// Runs `tasks` TSP reports on [`NATIVE_THREADS`] threads: tasks/s and the threads' CPU time.
fn native_round(tasks: usize) -> Native {
    let started = Instant::now();
    let threads: Vec<_> = (0..NATIVE_THREADS)
        .map(|_| {
            std::thread::Builder::new()
                .name("native-tsp".into())
                .spawn(move || {
                    let cpu = support::thread_cpu();
                    for _ in 0..tasks / NATIVE_THREADS {
                        std::hint::black_box(tsp::report(&tsp::random_cities(8, std::hint::black_box(1))));
                    }
                    support::thread_cpu() - cpu
                })
                .expect("thread")
        })
        .collect();
    let cpu = threads.into_iter().map(|thread| thread.join().expect("native thread")).sum();
    Native { per_second: (tasks / NATIVE_THREADS * NATIVE_THREADS) as f64 / started.elapsed().as_secs_f64(), cpu }
}

struct Round {
    native: Native,
    broker: Measured,
    cpu: BTreeMap<String, Duration>,
}

fn cpu_per_task(cpu: &BTreeMap<String, Duration>, group: &str, tasks: usize) -> f64 {
    cpu.get(group).copied().unwrap_or_default().as_secs_f64() * 1e3 / tasks as f64
}

async fn tsp_throughput() {
    let broker = Wasimoff::builder().build().expect("broker");
    broker.store().put(support::tsp_wasm(), Upload::new().alias("tsp.wasm")).await.expect("upload");
    let host = axum::Router::new().route("/", axum::routing::get(|| async { "home" })).layer(broker.layer());
    let task_url = format!("{}/wasimoff/api/v1/tasks", serve(host).await);
    let report = tsp::report(&tsp::random_cities(8, 1));
    let expect = Arc::new(format!("\"stdout\":{}", serde_json::to_string(&report).expect("json")).into_bytes());
    let tasks = TSP_CLIENTS * TSP_TASKS_PER_CLIENT;

    native_round(tasks / 4);
    drive_with(&task_url, TSP_TASK, &expect, TSP_CLIENTS, TSP_TASKS_PER_CLIENT / 4).await;
    let mut rounds = Vec::new();
    for round in 0..TSP_ROUNDS {
        let native_first = round % 2 == 0;
        let run_native = || async move { tokio::task::spawn_blocking(move || native_round(tasks)).await.expect("native") };
        let mut native = if native_first { Some(run_native().await) } else { None };
        let before = support::cpu_by_thread_name();
        let broker_run = drive_with(&task_url, TSP_TASK, &expect, TSP_CLIENTS, TSP_TASKS_PER_CLIENT).await;
        let mut cpu = support::cpu_spent(&before, &support::cpu_by_thread_name());
        if native.is_none() {
            native = Some(run_native().await);
        }
        cpu.retain(|_, spent| !spent.is_zero());
        rounds.push(Round { native: native.expect("native round"), broker: broker_run, cpu });
    }

    println!(
        "TSP rand 8 over HTTP: {TSP_CLIENTS} keep-alive clients, {tasks} tasks per round, {TSP_ROUNDS} interleaved rounds, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| round | native, {NATIVE_THREADS} threads: tasks/s | broker over HTTP: tasks/s | ratio | broker p50 / p99 | \
         CPU per task: native | broker: runner threads + host runtime + other = total | ratio by CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (index, round) in rounds.iter().enumerate() {
        let native_cpu = round.native.cpu.as_secs_f64() * 1e3 / tasks as f64;
        let runner = cpu_per_task(&round.cpu, "wasimoff-runner", tasks);
        let host = cpu_per_task(&round.cpu, "tokio-rt-worker", tasks);
        let total = round.cpu.values().map(Duration::as_secs_f64).sum::<f64>() * 1e3 / tasks as f64;
        println!(
            "| {} | {:.0} | {:.0} | {:.2}x | {:.0} / {:.0} ms | {native_cpu:.3} ms | {runner:.3} + {host:.3} + {:.3} = {total:.3} ms | {:.2}x |",
            index + 1,
            round.native.per_second,
            round.broker.per_second,
            round.broker.per_second / round.native.per_second,
            percentile(&round.broker.latencies, 0.5) / 1e3,
            percentile(&round.broker.latencies, 0.99) / 1e3,
            total - runner - host,
            native_cpu / total,
        );
    }
    let best = |f: fn(&Round) -> f64| rounds.iter().map(f).fold(0.0, f64::max);
    let best_native = best(|r| r.native.per_second);
    let best_broker = best(|r| r.broker.per_second);
    let mut ratios: Vec<f64> = rounds.iter().map(|r| r.broker.per_second / r.native.per_second).collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "best of {TSP_ROUNDS}: native {best_native:.0} tasks/s, broker {best_broker:.0} tasks/s, ratio {:.2}x; median of the rounds' ratios {:.2}x",
        best_broker / best_native,
        ratios[ratios.len() / 2]
    );
    broker.shutdown().await;
}
