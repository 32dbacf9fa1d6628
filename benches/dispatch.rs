//! Dispatch benchmark (not a test): `cargo bench --bench dispatch`.
//!
//! No-op tasks through `Wasimoff::run` to in-process providers that answer at once, with 1,
//! 10, 100 and 1000 providers attached (4 workers each). The broker's own runner is off
//! (`FallbackPolicy::Never`), so every task goes through the scheduler's dispatch. Throughput
//! must stay flat as providers grow; ratios are against the 1-provider run of the same process.

use futures_util::StreamExt;
use std::time::Instant;
use wasimoff::protocol::{Outcome, ToProvider};
use wasimoff::{FallbackPolicy, FileSource, Limits, Task, Upload, Wasimoff};

const TASKS: usize = 40_000;
const IN_FLIGHT: usize = 512;
const WORKERS: u32 = 4;

fn done() -> Outcome {
    Outcome::Exited {
        status: 0,
        stdout: Default::default(),
        stderr: Default::default(),
        artifacts: None,
        missing_artifacts: vec![],
        elapsed_us: 0,
    }
}

async fn measure(providers: usize) -> f64 {
    let limits = Limits { queue_length: 4096, max_providers: 2000, ..Limits::default() };
    let broker = Wasimoff::builder().limits(limits).fallback(FallbackPolicy::Never).build().expect("broker");
    let module = wat::parse_str(r#"(module (func (export "_start")))"#).expect("wat");
    broker.store().put(module.into(), Upload::new().alias("noop.wasm")).await.expect("upload");
    let answering: Vec<_> = (0..providers)
        .map(|i| {
            let mut provider = broker.attach_provider(&format!("bench-{i}"), WORKERS).expect("attach");
            tokio::spawn(async move {
                while let Some(message) = provider.next().await {
                    if let ToProvider::Run { id, .. } = message {
                        provider.answer(id, done());
                    }
                }
            })
        })
        .collect();
    let task = Task::new(FileSource::reference("noop.wasm"));
    let warm: Vec<_> = futures_util::stream::iter(0..2000).map(|_| broker.run(task.clone())).buffer_unordered(IN_FLIGHT).collect().await;
    assert!(warm.iter().all(Result::is_ok));
    let started = Instant::now();
    let results: Vec<_> =
        futures_util::stream::iter(0..TASKS).map(|_| broker.run(task.clone())).buffer_unordered(IN_FLIGHT).collect().await;
    let per_second = TASKS as f64 / started.elapsed().as_secs_f64();
    assert!(results.iter().all(Result::is_ok), "a task failed");
    for provider in answering {
        provider.abort();
    }
    per_second
}

#[tokio::main]
async fn main() {
    println!(
        "dispatch benchmark: {TASKS} no-op tasks, {IN_FLIGHT} in flight, {WORKERS} workers per provider, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    const COUNTS: [usize; 4] = [1, 10, 100, 1000];
    const ROUNDS: usize = 3;
    let mut best = [0f64; COUNTS.len()];
    for _ in 0..ROUNDS {
        for (slot, providers) in COUNTS.iter().enumerate() {
            best[slot] = best[slot].max(measure(*providers).await);
        }
    }
    println!("best of {ROUNDS} interleaved rounds");
    println!("| providers | tasks/s | ratio to 1 provider |");
    println!("|---|---|---|");
    for (slot, providers) in COUNTS.iter().enumerate() {
        println!("| {providers} | {:.0} | {:.2}x |", best[slot], best[slot] / best[0]);
    }
}
