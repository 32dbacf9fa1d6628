//! Engine benchmark (not a test): `cargo bench --bench engine`.
//!
//! Where the TSP solver's compute time goes inside wasmtime: the fixture `tsp rand 8` run the
//! way `wasmtime run` would (a `Store` with a WASI context, instantiate, call `_start`) under
//! engine configurations that differ in one setting each, interleaved in rounds with the same
//! solver source compiled natively. Times are the calling thread's CPU time (not wall-clock),
//! so other load on the machine disturbs them less; min and p50 per configuration.

mod support;
#[path = "../fixtures/src/tsp.rs"]
#[allow(dead_code)] // the CSV reader is used by the fixture program, not here
mod tsp;

use std::time::{Duration, Instant};
use wasimoff_provider_core::interrupt;
use wasmtime::{
    Config, Engine, Inlining, InstanceAllocationStrategy, InstancePre, Linker, MemoryType, Module, PoolingAllocationConfig, SharedMemory,
    Store, Val,
};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

const ROUNDS: usize = 20;
const RUNS_PER_ROUND: usize = 5;
/// The runner's memory limit by default; the pool's `max_memory_size`.
const MAX_MEMORY: usize = 256 << 20;

/// How running guest code is made interruptible.
#[derive(Clone, Copy, PartialEq)]
enum Interruption {
    None,
    /// Fuel that never runs out, yielding every 10 M units (what the runner does).
    Fuel,
    /// Epoch checks with a deadline of one tick; a thread ticks every 10 ms.
    Epoch,
    /// The runner's own checks (`wasimoff_provider_core::interrupt`): a flag byte in a shared
    /// memory read at loop headers and call-making function entries, trapping when set (here
    /// it never is, as for every task that ends before its deadline).
    Checks,
}

struct Variant {
    name: &'static str,
    engine: Engine,
    pre: InstancePre<WasiP1Ctx>,
    interruption: Interruption,
    compile: Duration,
    samples: Vec<Duration>,
}

fn pool() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(4)
        .total_memories(4)
        .total_tables(4)
        .total_stacks(4)
        .max_memory_size(MAX_MEMORY)
        .linear_memory_keep_resident(1 << 20)
        .async_stack_keep_resident(1 << 20);
    pool
}

fn variant(name: &'static str, wasm: &[u8], interruption: Interruption, configure: impl FnOnce(&mut Config)) -> Variant {
    let mut config = Config::new();
    config.consume_fuel(interruption == Interruption::Fuel).epoch_interruption(interruption == Interruption::Epoch);
    config.wasm_threads(interruption == Interruption::Checks).shared_memory(interruption == Interruption::Checks);
    configure(&mut config);
    let engine = Engine::new(&config).expect("engine");
    let started = Instant::now();
    let module = if interruption == Interruption::Checks {
        Module::new(&engine, interrupt::instrument(wasm).expect("instrument")).expect("compile")
    } else {
        Module::new(&engine, wasm).expect("compile")
    };
    let compile = started.elapsed();
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |ctx: &mut WasiP1Ctx| ctx).expect("link");
    if interruption == Interruption::Checks {
        let flags = SharedMemory::new(&engine, MemoryType::shared(1, 1)).expect("flags memory");
        let store = Store::new(&engine, WasiCtxBuilder::new().build_p1());
        linker.define(&store, interrupt::IMPORT_MODULE, interrupt::FLAGS_IMPORT, flags).expect("define flags");
    }
    let pre = linker.instantiate_pre(&module).expect("instantiate_pre");
    Variant { name, engine, pre, interruption, compile, samples: Vec::new() }
}

/// One task as `wasmtime run` would run it; returns its CPU time and stdout.
async fn run_once(variant: &Variant) -> (Duration, Vec<u8>) {
    let started = support::thread_cpu();
    let stdout = MemoryOutputPipe::new(1 << 20);
    let mut wasi = WasiCtxBuilder::new();
    wasi.args(&["tsp", "rand", "8"]).stdout(stdout.clone());
    let mut store = Store::new(&variant.engine, wasi.build_p1());
    match variant.interruption {
        Interruption::None => {}
        Interruption::Fuel => {
            store.set_fuel(u64::MAX).expect("fuel");
            store.fuel_async_yield_interval(Some(10_000_000)).expect("yield interval");
        }
        Interruption::Epoch => {
            store.set_epoch_deadline(1);
            store.epoch_deadline_async_yield_and_update(1);
        }
        Interruption::Checks => {}
    }
    let instance = variant.pre.instantiate_async(&mut store).await.expect("instantiate");
    if let Some(slot) = instance.get_global(&mut store, interrupt::SLOT_EXPORT) {
        slot.set(&mut store, Val::I32(1)).expect("slot");
    }
    let start = instance.get_typed_func::<(), ()>(&mut store, "_start").expect("_start");
    start.call_async(&mut store, ()).await.expect("call");
    let spent = support::thread_cpu() - started;
    (spent, stdout.contents().to_vec())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let wasm = support::tsp_wasm();
    let pooling = |config: &mut Config| {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool()));
    };
    let mut variants = vec![
        variant("on-demand allocator, no interruption", &wasm, Interruption::None, |_| {}),
        variant("pooling, no interruption", &wasm, Interruption::None, pooling),
        variant("pooling, fuel (the runner's fallback)", &wasm, Interruption::Fuel, pooling),
        variant("pooling, epoch", &wasm, Interruption::Epoch, pooling),
        variant("pooling, own checks (the runner)", &wasm, Interruption::Checks, pooling),
        variant("pooling, fuel, inlining", &wasm, Interruption::Fuel, |config| {
            pooling(config);
            config.compiler_inlining(Inlining::Yes);
        }),
        variant("pooling, epoch, inlining", &wasm, Interruption::Epoch, |config| {
            pooling(config);
            config.compiler_inlining(Inlining::Yes);
        }),
        variant("pooling, no interruption, inlining", &wasm, Interruption::None, |config| {
            pooling(config);
            config.compiler_inlining(Inlining::Yes);
        }),
        variant("pooling, no interruption, 256 MiB reservation", &wasm, Interruption::None, |config| {
            pooling(config);
            config.memory_reservation(MAX_MEMORY as u64);
        }),
        variant("pooling, no interruption, no signals-based traps", &wasm, Interruption::None, |config| {
            pooling(config);
            config.signals_based_traps(false);
        }),
    ];
    let epoch_engines: Vec<Engine> = variants.iter().filter(|v| v.interruption == Interruption::Epoch).map(|v| v.engine.clone()).collect();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(10));
            epoch_engines.iter().for_each(Engine::increment_epoch);
        }
    });

    let cities = tsp::random_cities(8, 1);
    let expected = tsp::report(&cities);
    for variant in &variants {
        assert_eq!(run_once(variant).await.1, expected.as_bytes(), "{} disagrees with native", variant.name);
    }
    let mut native = Vec::new();
    for _ in 0..ROUNDS {
        for _ in 0..RUNS_PER_ROUND {
            let started = support::thread_cpu();
            std::hint::black_box(tsp::report(&tsp::random_cities(8, std::hint::black_box(1))));
            native.push(support::thread_cpu() - started);
        }
        for variant in variants.iter_mut() {
            for _ in 0..RUNS_PER_ROUND {
                let spent = run_once(variant).await.0;
                variant.samples.push(spent);
            }
        }
    }

    native.sort();
    let (native_min, native_p50) = (native[0], native[native.len() / 2]);
    println!("TSP rand 8, CPU time per task, {ROUNDS} interleaved rounds of {RUNS_PER_ROUND}");
    println!("| configuration | compile | min | p50 | min / native | p50 / native |");
    println!("|---|---|---|---|---|---|");
    println!("| native, same source | | {:.3} ms | {:.3} ms | 1.00x | 1.00x |", ms(native_min), ms(native_p50));
    for variant in variants.iter_mut() {
        variant.samples.sort();
        let (min, p50) = (variant.samples[0], variant.samples[variant.samples.len() / 2]);
        println!(
            "| {} | {:.0} ms | {:.3} ms | {:.3} ms | {:.2}x | {:.2}x |",
            variant.name,
            ms(variant.compile),
            ms(min),
            ms(p50),
            min.as_secs_f64() / native_min.as_secs_f64(),
            p50.as_secs_f64() / native_p50.as_secs_f64()
        );
    }
}
