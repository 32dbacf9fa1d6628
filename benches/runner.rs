//! Runner benchmark (not a test): `cargo bench --bench runner`.
//!
//! 1. Per-task overhead of a trivial task (`_start` returns at once) through `Wasimoff::run`,
//!    against bare wasmtime (`Store::new` + `InstancePre::instantiate` + call) in the same run.
//! 2. TSP `rand 8` in the runner against the very same solver source compiled natively and
//!    called in-process, in the same run.
//! 3. The cost of `deterministic: true`: the trivial task and TSP `rand 8` with and without it,
//!    interleaved in the same run. `cargo bench --bench runner -- deterministic` runs only this.

mod support;
#[path = "../fixtures/src/tsp.rs"]
#[allow(dead_code)] // the CSV reader is used by the fixture program, not here
mod tsp;

use futures_util::StreamExt;
use std::time::{Duration, Instant};
use wasimoff::{FileSource, Task, Upload, Wasimoff};

const TRIVIAL_WAT: &str = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    (mean, percentile(&samples, 0.5), percentile(&samples, 0.99))
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn bare_wasmtime(module_bytes: &[u8], iterations: usize) -> Vec<Duration> {
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, module_bytes).expect("compile");
    let linker = wasmtime::Linker::<()>::new(&engine);
    let pre = linker.instantiate_pre(&module).expect("pre");
    (0..iterations)
        .map(|_| {
            let started = Instant::now();
            let mut store = wasmtime::Store::new(&engine, ());
            let instance = pre.instantiate(&mut store).expect("instantiate");
            instance.get_typed_func::<(), ()>(&mut store, "_start").expect("_start").call(&mut store, ()).expect("call");
            started.elapsed()
        })
        .collect()
}

/// Wall time of `runs` runs of each of `tasks`, interleaved, after a warm-up.
async fn interleaved(broker: &Wasimoff, tasks: &[&Task], runs: usize) -> Vec<Vec<Duration>> {
    for task in tasks {
        for _ in 0..runs / 10 {
            broker.run((*task).clone()).await.expect("warm-up");
        }
    }
    let mut samples = vec![Vec::with_capacity(runs); tasks.len()];
    for _ in 0..runs {
        for (task, samples) in tasks.iter().zip(&mut samples) {
            let started = Instant::now();
            let output = broker.run((*task).clone()).await.expect("task");
            samples.push(started.elapsed());
            assert_eq!(output.status, 0);
        }
    }
    samples
}

/// Deterministic mode against the same tasks without it.
async fn deterministic_cost(broker: &Wasimoff) {
    let trivial = Task::new(FileSource::reference("trivial.wasm"));
    let tsp = Task::new(FileSource::reference("tsp.wasm")).args(["tsp", "rand", "8"]);
    println!("deterministic: true against the same task without it (interleaved, same run)");
    println!("| task | runs | p50 plain | p50 deterministic | mean plain | mean deterministic | cost (p50) |");
    println!("|---|---|---|---|---|---|---|");
    for (name, task, runs) in [("trivial", trivial, 5000), ("TSP rand 8", tsp, 400)] {
        let deterministic = task.clone().deterministic(true).seed(7);
        let mut samples = interleaved(broker, &[&task, &deterministic], runs).await;
        let (det_mean, det_p50, _) = summary(samples.pop().expect("deterministic samples"));
        let (mean, p50, _) = summary(samples.pop().expect("plain samples"));
        println!(
            "| {name} | {runs} | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {:+.1} % |",
            micros(p50),
            micros(det_p50),
            micros(mean),
            micros(det_mean),
            (det_p50.as_secs_f64() / p50.as_secs_f64() - 1.0) * 100.0
        );
    }
}

#[tokio::main]
async fn main() {
    let broker = Wasimoff::builder().build().expect("broker");
    let trivial = wat::parse_str(TRIVIAL_WAT).expect("wat");
    broker.store().put(trivial.clone().into(), Upload::new().alias("trivial.wasm")).await.expect("upload");
    broker.store().put(support::tsp_wasm(), Upload::new().alias("tsp.wasm")).await.expect("upload");
    if std::env::args().any(|arg| arg == "deterministic") {
        deterministic_cost(&broker).await;
        broker.shutdown().await;
        return;
    }
    let trivial_task = Task::new(FileSource::reference("trivial.wasm"));

    const TRIVIAL_RUNS: usize = 3000;
    for _ in 0..200 {
        broker.run(trivial_task.clone()).await.expect("warm-up");
    }
    let mut runner_samples = Vec::with_capacity(TRIVIAL_RUNS);
    for _ in 0..TRIVIAL_RUNS {
        let started = Instant::now();
        let output = broker.run(trivial_task.clone()).await.expect("trivial task");
        runner_samples.push(started.elapsed());
        assert_eq!(output.status, 0);
    }
    let bare_samples = bare_wasmtime(&trivial, TRIVIAL_RUNS);
    let (runner_mean, runner_p50, runner_p99) = summary(runner_samples);
    let (bare_mean, bare_p50, bare_p99) = summary(bare_samples);

    const PARALLEL_TASKS: usize = 4000;
    const IN_FLIGHT: usize = 256;
    let started = Instant::now();
    let cpu_before = support::process_cpu();
    let results: Vec<_> =
        futures_util::stream::iter(0..PARALLEL_TASKS).map(|_| broker.run(trivial_task.clone())).buffer_unordered(IN_FLIGHT).collect().await;
    assert!(results.iter().all(Result::is_ok), "a trivial task failed");
    let throughput = PARALLEL_TASKS as f64 / started.elapsed().as_secs_f64();
    let cpu_per_task = (support::process_cpu() - cpu_before) / PARALLEL_TASKS as u32;

    const TSP_RUNS: usize = 40;
    let tsp_task = Task::new(FileSource::reference("tsp.wasm")).args(["tsp", "rand", "8"]);
    let cities = tsp::random_cities(8, 1);
    let native_report = tsp::report(&cities);
    let runner_report = broker.run(tsp_task.clone()).await.expect("tsp");
    assert_eq!(runner_report.stdout, native_report.as_bytes(), "runner and native disagree");
    let mut runner_tsp = Vec::new();
    let mut guest_tsp = Vec::new();
    let mut native_tsp = Vec::new();
    for _ in 0..TSP_RUNS {
        let started = Instant::now();
        let output = broker.run(tsp_task.clone()).await.expect("tsp");
        runner_tsp.push(started.elapsed());
        guest_tsp.push(output.elapsed);
        let started = Instant::now();
        std::hint::black_box(tsp::report(std::hint::black_box(&cities)));
        native_tsp.push(started.elapsed());
    }
    let min = |samples: &[Duration]| samples.iter().min().copied().unwrap_or_default();
    let (runner_tsp_min, guest_tsp_min, native_tsp_min) = (min(&runner_tsp), min(&guest_tsp), min(&native_tsp));
    let (_, runner_tsp_p50, _) = summary(runner_tsp);
    let (_, guest_tsp_p50, _) = summary(guest_tsp);
    let (_, native_tsp_p50, _) = summary(native_tsp);
    println!("runner benchmark ({} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!("| measurement | mean | p50 | p99 |");
    println!("|---|---|---|---|");
    println!(
        "| trivial task via Wasimoff::run | {:.1} µs | {:.1} µs | {:.1} µs |",
        micros(runner_mean),
        micros(runner_p50),
        micros(runner_p99)
    );
    println!(
        "| bare wasmtime instantiate + call (baseline) | {:.1} µs | {:.1} µs | {:.1} µs |",
        micros(bare_mean),
        micros(bare_p50),
        micros(bare_p99)
    );
    println!(
        "runner overhead over bare wasmtime: {:.1} µs per task (p50), ratio {:.2}x",
        micros(runner_p50) - micros(bare_p50),
        runner_p50.as_secs_f64() / bare_p50.as_secs_f64()
    );
    println!(
        "trivial tasks, {PARALLEL_TASKS} with {IN_FLIGHT} in flight: {throughput:.0} tasks/s, {:.1} µs of CPU per task",
        micros(cpu_per_task)
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!("TSP rand 8 ({TSP_RUNS} interleaved runs) | p50 | min |");
    println!("| Wasimoff::run, whole task | {:.3} ms | {:.3} ms |", ms(runner_tsp_p50), ms(runner_tsp_min));
    println!("| in the runner, instantiate to exit | {:.3} ms | {:.3} ms |", ms(guest_tsp_p50), ms(guest_tsp_min));
    println!("| native, same source, in-process (baseline) | {:.3} ms | {:.3} ms |", ms(native_tsp_p50), ms(native_tsp_min));
    println!(
        "TSP rand 8 runner/native ratio: p50 {:.2}x, min {:.2}x",
        ratio(runner_tsp_p50, native_tsp_p50),
        ratio(runner_tsp_min, native_tsp_min)
    );
    deterministic_cost(&broker).await;
    broker.shutdown().await;
}
