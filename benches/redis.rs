//! Redis backend benchmark (not a test): `cargo bench --bench redis`. Needs `redis-server`
//! (scripts/test.sh installs it); the benchmark starts its own on a free port.
//!
//! Latency: trivial tasks (`_start` returns at once) and TSP `rand 8`, one at a time through
//! `Wasimoff::run`, on an in-memory broker and on a broker with the Redis backend (queue,
//! results and files through Redis, the same local runner), interleaved in the same run; prints
//! the mean and median per task and the Redis/in-memory ratio.
//!
//! Replicas (`cargo bench --bench redis -- replicas` for this part only): a job of
//! [`JOB_TASKS`] TSP `rand 8` tasks submitted on replica A, with one `wasimoff-provider`
//! process per replica and the local runners off, on replica A alone and on replicas A and B
//! (B's provider claims A's tasks from the shared stream), alternating round by round on a
//! fresh `redis-server` each; prints the throughput of each, the ratio, and the share of the
//! job that ran on B's provider.

#[path = "../tests/integration/redis_support.rs"]
#[allow(dead_code)] // stopping and restarting Redis is for the tests
mod redis_support;
mod support;

use futures_util::StreamExt;
use std::time::{Duration, Instant};
use wasimoff::{Backend, FallbackPolicy, FileSource, Job, Task, Upload, Wasimoff};

const TRIVIAL_WAT: &str = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;

/// Mean and median of `samples`.
fn summary(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples.iter().sum::<Duration>() / samples.len() as u32, samples[samples.len() / 2])
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

async fn broker(backend: Backend, tsp: &bytes::Bytes) -> Wasimoff {
    let broker = Wasimoff::builder().backend(backend).build().expect("build the broker");
    let trivial = wat::parse_str(TRIVIAL_WAT).expect("the trivial module");
    broker.store().put(trivial.into(), Upload::new().alias("trivial.wasm")).await.expect("upload");
    broker.store().put(tsp.clone(), Upload::new().alias("tsp.wasm")).await.expect("upload");
    broker
}

/// Per-task wall times of `runs` runs of `task` on each broker, interleaved, after a warm-up.
async fn interleaved(brokers: &[&Wasimoff], task: &Task, runs: usize) -> Vec<Vec<Duration>> {
    for broker in brokers {
        for _ in 0..runs / 10 + 1 {
            broker.run(task.clone()).await.expect("warm-up");
        }
    }
    let mut samples = vec![Vec::with_capacity(runs); brokers.len()];
    for _ in 0..runs {
        for (broker, samples) in brokers.iter().zip(&mut samples) {
            let started = Instant::now();
            broker.run(task.clone()).await.expect("the task runs");
            samples.push(started.elapsed());
        }
    }
    samples
}

/// Tasks of the job in the replicas case.
const JOB_TASKS: usize = 400;

/// Rounds of each configuration in the replicas case.
const ROUNDS: usize = 5;

async fn replica(
    redis: &redis_support::RedisServer,
    tsp: &bytes::Bytes,
    name: &str,
    workers: u32,
) -> (Wasimoff, redis_support::NativeProvider) {
    let broker = Wasimoff::builder().backend(Backend::Redis(redis.url())).fallback(FallbackPolicy::Never).build().expect("build a replica");
    broker.store().put(tsp.clone(), Upload::new().alias("tsp.wasm")).await.expect("upload");
    let provider = redis_support::NativeProvider::join(&support::serve(&broker).await, name, workers);
    (broker, provider)
}

/// Tasks the provider named `name` finished, as its own replica sees it.
fn done_by(broker: &Wasimoff, name: &str) -> u64 {
    broker.cluster().providers.iter().filter(|provider| provider.name == name).map(|provider| provider.tasks_done).sum()
}

/// Runs a job of `tasks` TSP tasks on `broker`; answers its wall time.
async fn tsp_job(broker: &Wasimoff, tasks: usize) -> Duration {
    let task = Task::new(FileSource::reference("tsp.wasm")).args(["tsp", "rand", "8"]);
    let job = Job { parent: None, tasks: vec![task; tasks] };
    let started = Instant::now();
    let results: Vec<_> = broker.run_job_unordered(job).collect().await;
    let elapsed = started.elapsed();
    assert_eq!(results.len(), tasks);
    for (index, result) in results {
        result.unwrap_or_else(|error| panic!("task {index}: {error}"));
    }
    elapsed
}

/// One round of the replicas case on a fresh Redis: the throughput of a job submitted on A
/// (tasks/s) with `replicas` replicas (1 or 2), each with a provider of `workers` workers, and
/// how many of its tasks B's provider ran.
async fn replicas_round(tsp: &bytes::Bytes, replicas: usize, workers: u32) -> (f64, u64) {
    let redis = redis_support::RedisServer::start(false);
    let (a, on_a) = replica(&redis, tsp, "on-a", workers).await;
    let b = if replicas == 2 { Some(replica(&redis, tsp, "on-b", workers).await) } else { None };
    let names: &[&str] = if replicas == 2 { &["on-a", "on-b"] } else { &["on-a"] };
    let seen = || names.iter().all(|name| a.cluster().providers.iter().any(|provider| provider.name == *name));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen() {
        assert!(Instant::now() < deadline, "replica A did not see every provider");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tsp_job(&a, 8 * replicas * workers as usize).await;
    let before = b.as_ref().map_or(0, |(b, _)| done_by(b, "on-b"));
    let elapsed = tsp_job(&a, JOB_TASKS).await;
    let on_b = b.as_ref().map_or(0, |(b, _)| done_by(b, "on-b")) - before;
    a.shutdown().await;
    if let Some((b, provider)) = b {
        b.shutdown().await;
        drop(provider);
    }
    drop(on_a);
    (JOB_TASKS as f64 / elapsed.as_secs_f64(), on_b)
}

/// The median of `values`.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The replicas case: one replica against two, alternating, for 1 and 2 workers per provider.
async fn replicas_case(tsp: &bytes::Bytes) {
    println!("\njob of {JOB_TASKS} TSP rand 8 on replica A, one provider per replica, local runners off; {ROUNDS} rounds, medians");
    println!("{:<10} {:>16} {:>16} {:>8} {:>14}", "workers", "A alone tasks/s", "A + B tasks/s", "ratio", "ran on B");
    for workers in [1, 2] {
        let (mut alone, mut both, mut on_b) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            alone.push(replicas_round(tsp, 1, workers).await.0);
            let (throughput, ran_on_b) = replicas_round(tsp, 2, workers).await;
            both.push(throughput);
            on_b.push(ran_on_b as f64);
        }
        let (alone, both, on_b) = (median(alone), median(both), median(on_b));
        println!(
            "{workers:<10} {alone:>16.0} {both:>16.0} {:>7.2}x {:>6.0} ({:>3.0}%)",
            both / alone,
            on_b,
            100.0 * on_b / JOB_TASKS as f64
        );
    }
}

#[tokio::main]
async fn main() {
    let tsp = support::tsp_wasm();
    if std::env::args().any(|arg| arg == "replicas") {
        replicas_case(&tsp).await;
        return;
    }
    latency_case(&tsp).await;
    replicas_case(&tsp).await;
}

/// The latency case: one task at a time, in memory against through Redis.
async fn latency_case(tsp: &bytes::Bytes) {
    let redis = redis_support::RedisServer::start(false);
    let memory = broker(Backend::Memory, tsp).await;
    let shared = broker(Backend::Redis(redis.url()), tsp).await;
    let cases = [
        ("trivial", Task::new(FileSource::reference("trivial.wasm")), 500),
        ("tsp rand 8", Task::new(FileSource::reference("tsp.wasm")).args(["tsp", "rand", "8"]), 50),
    ];
    println!("{:<12} {:>16} {:>16} {:>8}", "task", "in-memory µs", "redis µs", "ratio");
    for (name, task, runs) in cases {
        let samples = interleaved(&[&memory, &shared], &task, runs).await;
        let (memory_mean, memory_median) = summary(samples[0].clone());
        let (redis_mean, redis_median) = summary(samples[1].clone());
        println!(
            "{name:<12} {:>7.0} (p50 {:>4.0}) {:>7.0} (p50 {:>4.0}) {:>7.2}x",
            micros(memory_mean),
            micros(memory_median),
            micros(redis_mean),
            micros(redis_median),
            redis_mean.as_secs_f64() / memory_mean.as_secs_f64()
        );
    }
}
