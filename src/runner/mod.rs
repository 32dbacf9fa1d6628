//! The local runner: executes tasks in a wasmtime sandbox inside the broker's process.
//!
//! An [`Engine`] with a pooling allocator for modules rewritten with cheap interruption
//! checks (and one with fuel for those that cannot be); compiled modules cached by digest; a
//! dedicated thread pool so that guest code never runs on the host application's own
//! runtime; a semaphore bounds the tasks running at once.
//!
//! A rewritten guest never yields: it keeps its thread until it ends or its flag is raised.
//! So the guest pool has exactly one thread per slot and runs guests only, and a second runtime of
//! one thread (the runner's [`LocalRunner::handle`]) takes the runner's other work, such as
//! the scheduler's timer. Every task runs as its own spawned task on the guest pool; whoever
//! waits for it, or started it, raises its flag (with [`interrupt::Stop`]) to stop it, from
//! any thread: a cancellation stops a computing guest at once, which aborting the task alone
//! could not.

mod determinism;
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
    guests: tokio::runtime::Handle,
    control: tokio::runtime::Handle,
    _runtimes: Arc<[OwnedRuntime; 2]>,
}

/// A task started with [`LocalRunner::start_task`].
pub(crate) struct Running(interrupt::Stop);

impl Running {
    /// Stops the task, even while its guest computes; its result is not reported.
    pub(crate) fn stop(&self) {
        self.0.stop();
    }

    /// Whether the task ended (and reported its result) or was stopped.
    pub(crate) fn is_over(&self) -> bool {
        self.0.is_over()
    }
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
            Linked::new(engine, linker)
        };
        let guests = runtime(limits.concurrency.max(1), "wasimoff-runner")?;
        let control = runtime(1, "wasimoff-runner-control")?;
        let task_dirs = TaskDirs::new(limits.concurrency.max(1) * 2).map_err(|e| format!("cannot create the task directory: {e}"))?;
        let shared = Shared {
            task_dirs: Arc::new(task_dirs),
            modules: ModuleCache::new(
                Engines::new(Linked::new(engine, linker)?, build_fuel),
                limits.cached_modules,
                store.compiled_modules_dir(),
            ),
            interrupts,
            permits: Semaphore::new(limits.concurrency.max(1)),
            slots: limits.concurrency.max(1),
            store,
            rootfs_limits: ArchiveLimits { unpacked_bytes: limits.rootfs_bytes, entries: limits.rootfs_entries },
        };
        let shared = Arc::new(shared);
        Ok(LocalRunner {
            shared,
            guests: guests.handle().clone(),
            control: control.handle().clone(),
            _runtimes: Arc::new([OwnedRuntime(Some(guests)), OwnedRuntime(Some(control))]),
        })
    }

    /// The runner's control thread, for its work other than guests (never blocked by a guest).
    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        &self.control
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
        let result = AbortOnDropHandle::new(self.guests.spawn(async move { shared.run(&task, &stop).await })).await;
        result.unwrap_or_else(|e| Err(TaskError::new(TaskErrorKind::Internal, format!("runner task failed: {e}"))))
    }

    /// Starts `task` on the runner's threads once one of its slots is free and hands its result
    /// to `done` there, without a waiter: [`Running::stop`] stops it.
    ///
    /// Spawned straight onto the guest pool: from outside it, that wakes one parked guest
    /// thread, which then runs the task; from a guest thread (the next task taken right after a
    /// result) it queues the task on that thread.
    pub(crate) fn start_task(&self, task: Arc<PreparedTask>, done: impl FnOnce(Result<TaskOutput, TaskError>) + Send + 'static) -> Running {
        let stop = self.shared.interrupts.stop();
        let shared = self.shared.clone();
        let running = stop.clone();
        self.guests.spawn(async move {
            let result = shared.run(&task, &stop).await;
            // The task's hold on its stored files ends before its result is reported, so a
            // submitter that saw the result may count on the files being evictable.
            drop(task);
            if stop.end() {
                done(result);
            }
        });
        Running(running)
    }
}

/// A multi-threaded runtime of `threads` threads named `name`.
fn runtime(threads: usize, name: &str) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runner threads: {e}"))
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
        if stop.is_stopped() {
            return Err(TaskError::new(TaskErrorKind::Internal, "the task was stopped before it started"));
        }
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
