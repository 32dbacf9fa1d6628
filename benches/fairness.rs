//! Fair sharing benchmark (not a test): `cargo bench --bench fairness`.
//!
//! A one-task job behind big jobs: 4 in-process providers with 4 workers each answer every
//! task after a simulated task length of 5 ms (`FallbackPolicy::Never`, so every task goes
//! through the scheduler). 1 or 4 jobs of 5,000 tasks run; while they do, single tasks are run
//! one after the other and their time-to-result is taken, in milliseconds and in task lengths.
//! Only the public API is used, so the same file measures an older build (the FIFO queue).

use futures_util::StreamExt;
use std::time::{Duration, Instant};
use wasimoff::protocol::{Outcome, ToProvider};
use wasimoff::{FallbackPolicy, FileSource, Job, Limits, Task, Upload, Wasimoff};

const PROVIDERS: usize = 4;
const WORKERS: u32 = 4;
const TASK_LENGTH: Duration = Duration::from_millis(5);
const SWEEP: usize = 5000;
const SINGLES: usize = 40;

fn done() -> Outcome {
    Outcome::Exited {
        status: 0,
        stdout: Default::default(),
        stderr: Default::default(),
        artifacts: None,
        missing_artifacts: vec![],
        elapsed_us: TASK_LENGTH.as_micros() as u64,
    }
}

/// Time-to-result of single tasks behind `sweeps` big jobs, sorted.
async fn measure(sweeps: usize) -> Vec<Duration> {
    let limits = Limits { concurrency: 1, ..Limits::default() };
    let broker = Wasimoff::builder().limits(limits).fallback(FallbackPolicy::Never).build().expect("broker");
    let module = wat::parse_str(r#"(module (func (export "_start")))"#).expect("wat");
    broker.store().put(module.into(), Upload::new().alias("noop.wasm")).await.expect("upload");
    let providers: Vec<_> = (0..PROVIDERS)
        .map(|i| {
            let mut provider = broker.attach_provider(&format!("bench-{i}"), WORKERS).expect("attach");
            let (finished, mut answers) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        message = provider.next() => match message {
                            Some(ToProvider::Run { id, .. }) => {
                                let finished = finished.clone();
                                tokio::spawn(async move {
                                    tokio::time::sleep(TASK_LENGTH).await;
                                    let _ = finished.send(id);
                                });
                            }
                            Some(_) => {}
                            None => return,
                        },
                        Some(id) = answers.recv() => provider.answer(id, done()),
                    }
                }
            })
        })
        .collect();
    let task = Task::new(FileSource::reference("noop.wasm"));
    let big: Vec<_> = (0..sweeps)
        .map(|_| {
            let mut results = broker.run_job_unordered(Job { parent: Some(task.clone()), tasks: vec![Task::default(); SWEEP] });
            tokio::spawn(async move { while results.next().await.is_some() {} })
        })
        .collect();
    tokio::time::sleep(TASK_LENGTH * 20).await;
    let mut times = Vec::with_capacity(SINGLES);
    for _ in 0..SINGLES {
        let started = Instant::now();
        broker.run(task.clone()).await.expect("single task");
        times.push(started.elapsed());
    }
    for handle in big.into_iter().chain(providers) {
        handle.abort();
    }
    times.sort_unstable();
    times
}

#[tokio::main]
async fn main() {
    println!(
        "fairness benchmark: single tasks behind jobs of {SWEEP} tasks; {PROVIDERS} providers x {WORKERS} workers, task length {} ms, {} cores",
        TASK_LENGTH.as_millis(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| big jobs running | single task p50 | p90 | max | p50 in task lengths |");
    println!("|---|---|---|---|---|");
    for sweeps in [1, 4] {
        let times = measure(sweeps).await;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let p50 = times[times.len() / 2];
        println!(
            "| {sweeps} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} |",
            ms(p50),
            ms(times[times.len() * 9 / 10]),
            ms(times[times.len() - 1]),
            p50.as_secs_f64() / TASK_LENGTH.as_secs_f64()
        );
    }
}
