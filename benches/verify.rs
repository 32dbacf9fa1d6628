//! Verification benchmark (not a test): `cargo bench --bench verify`.
//!
//! A job of TSP `rand 8` tasks on untrusted native providers (two `NativeProvider`s of one
//! worker each, connected over real WebSocket; `FallbackPolicy::Never`, so the local runner
//! only takes spot checks), run unverified, with `verify: {"replicas": 2}` and with
//! `verify: {"spot_check": 0.05}`, alternating in the same run. Prints tasks/s and the ratio
//! of each verified mode to the unverified rounds.

mod support;

use std::time::{Duration, Instant};
use wasimoff::native::NativeProvider;
use wasimoff::{FallbackPolicy, FileSource, Job, Limits, Task, Upload, Verify, Wasimoff};

const TASKS: usize = 200;
const ROUNDS: usize = 3;

#[derive(Clone, Copy)]
enum Mode {
    Unverified,
    Replicas,
    SpotCheck,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Unverified => "unverified",
            Mode::Replicas => "replicas: 2",
            Mode::SpotCheck => "spot_check: 0.05",
        }
    }

    fn task(self) -> Task {
        let task = Task::new(FileSource::reference("tsp.wasm")).args(["tsp", "rand", "8"]);
        match self {
            Mode::Unverified => task,
            Mode::Replicas => task.verify(Verify::replicas(2)),
            Mode::SpotCheck => task.verify(Verify::spot_check(0.05)),
        }
    }
}

/// Runs one job of `mode`; returns tasks/s.
async fn round(broker: &Wasimoff, mode: Mode) -> f64 {
    let job = Job { parent: Some(mode.task()), tasks: vec![Task::default(); TASKS] };
    let started = Instant::now();
    let results = broker.run_job(job).await;
    let elapsed = started.elapsed();
    let failed: Vec<_> = results.iter().filter_map(|result| result.as_ref().err()).collect();
    assert!(failed.is_empty(), "{} failed: {:?}", mode.name(), failed.first());
    TASKS as f64 / elapsed.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let limits = Limits { concurrency: 1, ..Limits::default() };
    let broker = Wasimoff::builder().limits(limits).fallback(FallbackPolicy::Never).build().expect("broker");
    broker.store().put(support::tsp_wasm(), Upload::new().alias("tsp.wasm")).await.expect("upload");
    let url = support::serve(&broker).await;
    for i in 0..2 {
        let provider = NativeProvider::new(url.clone()).workers(1).name(format!("bench-{i}"));
        tokio::spawn(provider.run());
    }
    while broker.cluster().providers.len() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    round(&broker, Mode::Unverified).await;
    let modes = [Mode::Unverified, Mode::Replicas, Mode::SpotCheck];
    let mut rates = vec![Vec::new(); modes.len()];
    for _ in 0..ROUNDS {
        for (index, mode) in modes.iter().enumerate() {
            rates[index].push(round(&broker, *mode).await);
        }
    }
    let unverified: f64 = rates[0].iter().sum::<f64>() / ROUNDS as f64;
    println!("verification benchmark: {TASKS} TSP rand 8 tasks per job, 2 untrusted native providers x 1 worker, {ROUNDS} rounds");
    println!("| mode | tasks/s per round | mean | ratio to unverified |");
    println!("|---|---|---|---|");
    for (mode, rates) in modes.iter().zip(&rates) {
        let mean = rates.iter().sum::<f64>() / ROUNDS as f64;
        let rounds: Vec<String> = rates.iter().map(|rate| format!("{rate:.0}")).collect();
        println!("| {} | {} | {mean:.0} | {:.2}x |", mode.name(), rounds.join(", "), mean / unverified);
    }
    let verified = broker.cluster().verification;
    println!("verified {}, spot checks {}, disagreements {}", verified.verified, verified.spot_checks, verified.disagreements);
    broker.shutdown().await;
}
