//! The local runner: executes tasks in a wasmtime sandbox inside the broker's process.
//!
//! An [`Engine`] with a pooling allocator for modules rewritten with cheap interruption
//! checks (and one with fuel for those that cannot be); compiled modules cached by digest; a
//! dedicated thread pool so that guest code never runs on the host application's own
//! runtime; a semaphore bounds the tasks running at once.
//!
//! A rewritten guest never yields: it keeps its thread until it ends or its flag is raised.
//! So the pool has one thread more than the concurrency, which stays free for the runner's
//! other work (the local provider's commands, timers, cancellations), and every task runs as
//! its own spawned task whose waiter raises the flag (with [`interrupt::Stop`]) when it stops
//! waiting: a cancellation then stops a computing guest at once, which aborting the task alone
//! could not.

mod engine;
mod execute;
mod interrupt;
mod modules;
mod output;
mod sandbox;
#[cfg(test)]
mod tests;

use crate::archive::ArchiveLimits;
use crate::limits::Limits;
use crate::prepare::PreparedTask;
use crate::store::Store;
use crate::task::{TaskError, TaskErrorKind, TaskOutput};
use engine::Interruption;
use execute::TaskState;
use interrupt::Interrupts;
use modules::{Engines, Linked, ModuleCache};
use sandbox::{Sandbox, TaskDirs};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio_util::task::AbortOnDropHandle;
use wasmtime::{Engine, Linker};

struct Shared {
    interrupts: Interrupts,
    modules: ModuleCache,
    permits: Semaphore,
    slots: usize,
    store: Store,
    rootfs_limits: ArchiveLimits,
    task_dirs: Arc<TaskDirs>,
}

/// Owns the runner's threads; stops them without blocking when dropped.
struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The wasmtime fallback runner. Cheap to clone.
#[derive(Clone)]
pub(crate) struct LocalRunner {
    shared: Arc<Shared>,
    handle: tokio::runtime::Handle,
    _runtime: Arc<OwnedRuntime>,
}

impl LocalRunner {
    /// Starts a runner with `limits.concurrency` slots, loading modules from `store`.
    pub(crate) fn start(limits: &Limits, store: Store) -> Result<LocalRunner, String> {
        let engine = engine::build_engine(limits, Interruption::Checks).map_err(|e| format!("cannot configure wasmtime: {e}"))?;
        let interrupts = Interrupts::start(&engine)?;
        let mut linker = wasi_linker(&engine)?;
        let definitions = wasmtime::Store::new(&engine, TaskState::empty());
        interrupts.define(&mut linker, &definitions).map_err(|e| format!("cannot link the interruption checks: {e}"))?;
        let fuel_limits = limits.clone();
        let build_fuel = move || {
            let engine = engine::build_engine(&fuel_limits, Interruption::Fuel).map_err(|e| format!("cannot configure wasmtime: {e}"))?;
            let linker = wasi_linker(&engine)?;
            Ok(Linked::new(engine, linker))
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(limits.concurrency.max(1) + 1)
            .thread_name("wasimoff-runner")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start runner threads: {e}"))?;
        let task_dirs = TaskDirs::new(limits.concurrency.max(1) * 2).map_err(|e| format!("cannot create the task directory: {e}"))?;
        let shared = Shared {
            task_dirs: Arc::new(task_dirs),
            modules: ModuleCache::new(
                Engines::new(Linked::new(engine, linker), build_fuel),
                limits.cached_modules,
                store.compiled_modules_dir(),
            ),
            interrupts,
            permits: Semaphore::new(limits.concurrency.max(1)),
            slots: limits.concurrency.max(1),
            store,
            rootfs_limits: ArchiveLimits { unpacked_bytes: limits.rootfs_bytes, entries: limits.rootfs_entries },
        };
        let handle = runtime.handle().clone();
        Ok(LocalRunner { shared: Arc::new(shared), handle, _runtime: Arc::new(OwnedRuntime(Some(runtime))) })
    }

    /// The runtime that owns the runner's threads, for work that belongs on them.
    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    /// Tasks running now.
    pub(crate) fn busy(&self) -> usize {
        self.shared.slots - self.shared.permits.available_permits()
    }

    /// Tasks that can run at once.
    pub(crate) fn slots(&self) -> usize {
        self.shared.slots
    }

    /// Drops the compiled module of `digest` (a provider's cache evicted it).
    pub(crate) fn forget(&self, digest: &crate::digest::Digest) {
        self.shared.modules.remove(digest);
    }

    /// Runs a task on the runner's threads once one of its slots is free. Dropping the
    /// returned future stops the task.
    pub(crate) async fn run(&self, task: PreparedTask) -> Result<TaskOutput, TaskError> {
        let shared = self.shared.clone();
        let stop = self.shared.interrupts.stop();
        let _stop_on_drop = StopOnDrop(stop.clone());
        let result = AbortOnDropHandle::new(self.handle.spawn(async move { shared.run(&task, &stop).await })).await;
        result.unwrap_or_else(|e| Err(TaskError::new(TaskErrorKind::Internal, format!("runner task failed: {e}"))))
    }

    /// [`LocalRunner::run`] for a caller on the runner's threads (see [`LocalRunner::handle`]).
    pub(crate) async fn run_here(&self, task: &PreparedTask) -> Result<TaskOutput, TaskError> {
        self.run(task.clone()).await
    }
}

/// Stops a task when its waiter is dropped (after the task ended, that changes nothing).
struct StopOnDrop(interrupt::Stop);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

impl Shared {
    async fn run(&self, task: &PreparedTask, stop: &interrupt::Stop) -> Result<TaskOutput, TaskError> {
        let _permit = self.permits.acquire().await.map_err(|e| TaskError::new(TaskErrorKind::Internal, e.to_string()))?;
        self.execute(task, stop).await
    }

    async fn execute(&self, task: &PreparedTask, stop: &interrupt::Stop) -> Result<TaskOutput, TaskError> {
        let pre = self.modules.get(&task.module, &self.store).await?;
        let sandbox = Sandbox::create(&self.task_dirs, task.rootfs.as_deref(), self.rootfs_limits, &task.files)?;
        execute::execute(stop, &pre, task, &sandbox).await
    }
}

/// A linker with WASI preview 1 for `engine`.
fn wasi_linker(engine: &Engine) -> Result<Linker<TaskState>, String> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, TaskState::wasi).map_err(|e| format!("cannot link WASI: {e}"))?;
    Ok(linker)
}
