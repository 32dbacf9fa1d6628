//! Redis backend benchmark (not a test): `cargo bench --bench redis`. Needs `redis-server`
//! (scripts/test.sh installs it); the benchmark starts its own on a free port.
//!
//! Trivial tasks (`_start` returns at once) and TSP `rand 8`, one at a time through
//! `Wasimoff::run`, on an in-memory broker and on a broker with the Redis backend (queue,
//! results and files through Redis, the same local runner), interleaved in the same run; prints
//! the mean and median per task and the Redis/in-memory ratio.

#[path = "../tests/integration/redis_support.rs"]
#[allow(dead_code)] // stopping and restarting Redis is for the tests
mod redis_support;
mod support;

use std::time::{Duration, Instant};
use wasimoff::{Backend, FileSource, Task, Upload, Wasimoff};

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

#[tokio::main]
async fn main() {
    let redis = redis_support::RedisServer::start(false);
    let tsp = support::tsp_wasm();
    let memory = broker(Backend::Memory, &tsp).await;
    let shared = broker(Backend::Redis(redis.url()), &tsp).await;
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
