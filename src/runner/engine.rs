//! The wasmtime [`Engine`]s of a runner: pooling allocator, and a way to make running guest
//! code yield to the async executor regularly, where the wall-clock timeout around the call
//! and a cancellation stop the task.
//!
//! Modules run on the engine built for [`Interruption::Checks`]: rewritten with the runner's
//! own checks (`wasimoff_provider_core::interrupt`, host side in `super::interrupt`), which
//! cost next to nothing. The rare module that cannot be rewritten (shared memory or atomics
//! of its own, a start function) runs on an engine built for [`Interruption::Fuel`]: fuel is
//! never allowed to run out, it only makes the guest yield every [`YIELD_INTERVAL_FUEL`]
//! units. Why not wasmtime's own checks everywhere: fuel and epoch checks have a slow path
//! that calls a runtime builtin, and the hot loop spills its values around it; on the TSP
//! fixture fuel cost 1.27× and epoch checks 1.45× of unchecked code (`cargo bench --bench
//! engine`, docs/BENCHMARKS.md).
//!
//! Wasmtime's intra-module inlining (`Config::compiler_inlining`) is left off: it removes a
//! function-entry check per inlined call (TSP with fuel 1.27× → 1.21× of native) but made
//! compiling 3–3.5× slower, which a large module pays on its first task.
//!
//! Linear memories keep wasmtime's default 4 GiB reservation per pool slot (virtual address
//! space only), so compiled code needs no explicit bounds checks: a 256 MiB reservation made
//! TSP 1.20× slower. The memory limit is enforced by the pool's `max_memory_size` and the
//! store's limiter, not by the reservation.

use crate::limits::Limits;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Fuel (roughly, wasm instructions) between two yields: a few milliseconds of guest code.
pub(crate) const YIELD_INTERVAL_FUEL: u64 = 10_000_000;

/// Largest linear memory of a wasm32 module.
const WASM32_MAX_MEMORY: u64 = 4 << 30;

/// Linear memory bytes kept mapped between tasks where the kernel has the `PAGEMAP_SCAN` ioctl
/// (Linux 6.7): wasmtime then finds the pages a task wrote and zeroes only those with
/// `memset`, so a slot's next task takes no page faults there and no `madvise` (with its
/// TLB-shootdown interrupts to the other runner threads) is needed; pages past this are handed
/// back with `madvise`. A Rust guest's 1 MiB stack and its heap lie in the first few MiB.
const LINEAR_MEMORY_KEEP_RESIDENT_SCANNED: usize = 4 << 20;

/// The same without the ioctl, where everything up to it is zeroed whether touched or not:
/// one wasm page (with 1 MiB the TSP profile showed ~50 µs of `memset` per task).
const LINEAR_MEMORY_KEEP_RESIDENT: usize = 64 << 10;

/// Table bytes kept mapped between tasks, for the same reason: a table handed back with
/// `madvise` faulted on the next task's first indirect call, and the copy-on-write fault
/// flushed the TLB of every runner thread (~25 µs per TSP task in `perf`).
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// Instance slots beyond the concurrency, for tasks that are finishing while others start.
const SPARE_SLOTS: usize = 2;

/// How an engine's compiled code gives control back to the runner.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interruption {
    /// Modules rewritten with the runner's checks; the engine imports shared memory for them.
    Checks,
    /// Fuel metering, for modules that cannot be rewritten.
    Fuel,
}

/// Builds an engine: a pool sized to the concurrency, memories up to the memory limit.
pub(crate) fn build_engine(limits: &Limits, interruption: Interruption) -> wasmtime::Result<Engine> {
    let slots = u32::try_from(limits.concurrency.max(1) + SPARE_SLOTS).unwrap_or(u32::MAX);
    let max_memory = limits.memory_bytes.min(WASM32_MAX_MEMORY);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(slots)
        .total_memories(slots)
        .total_tables(slots)
        .total_stacks(slots)
        .max_memory_size(usize::try_from(max_memory).unwrap_or(usize::MAX))
        .table_keep_resident(TABLE_KEEP_RESIDENT);
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(Enabled::Yes).linear_memory_keep_resident(LINEAR_MEMORY_KEEP_RESIDENT_SCANNED);
    } else {
        pool.linear_memory_keep_resident(LINEAR_MEMORY_KEEP_RESIDENT);
    }
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match interruption {
        // Threads only for the flags memory: a module's own shared memory is never rewritten.
        Interruption::Checks => config.wasm_threads(true).shared_memory(true),
        Interruption::Fuel => config.wasm_threads(false).consume_fuel(true),
    };
    Engine::new(&config)
}
