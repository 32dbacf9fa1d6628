//! The local runner: executes tasks in a wasmtime sandbox inside the broker's process.
//!
//! One [`Engine`] with a pooling allocator and fuel-driven yielding; compiled modules cached by
//! digest; a dedicated thread pool (one thread per concurrent task) so that guest code never
//! runs on the host application's own runtime; a semaphore bounds the tasks running at once.

mod engine;
mod execute;
mod modules;
mod output;
mod sandbox;

use crate::archive::ArchiveLimits;
use crate::limits::Limits;
use crate::prepare::PreparedTask;
use crate::store::Store;
use crate::task::{TaskError, TaskErrorKind, TaskOutput};
use execute::TaskState;
use modules::ModuleCache;
use sandbox::{Sandbox, TaskDirs};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio_util::task::AbortOnDropHandle;
use wasmtime::{Engine, Linker};

struct Shared {
    engine: Engine,
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
        let engine = engine::build_engine(limits).map_err(|e| format!("cannot configure wasmtime: {e}"))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, TaskState::wasi).map_err(|e| format!("cannot link WASI: {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(limits.concurrency.max(1))
            .thread_name("wasimoff-runner")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start runner threads: {e}"))?;
        let task_dirs = TaskDirs::new(limits.concurrency.max(1) * 2).map_err(|e| format!("cannot create the task directory: {e}"))?;
        let shared = Shared {
            task_dirs: Arc::new(task_dirs),
            modules: ModuleCache::new(engine.clone(), linker, limits.cached_modules, store.compiled_modules_dir()),
            engine,
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

    /// Runs a task on the runner's threads. Dropping the returned future stops the task.
    pub(crate) async fn run(&self, task: PreparedTask) -> Result<TaskOutput, TaskError> {
        let shared = self.shared.clone();
        let result = AbortOnDropHandle::new(self.handle.spawn(async move { shared.run(&task).await })).await;
        result.unwrap_or_else(|e| Err(TaskError::new(TaskErrorKind::Internal, format!("runner task failed: {e}"))))
    }

    /// Runs a task in the calling task, which must be on the runner's threads (see
    /// [`LocalRunner::handle`]), once one of its slots is free.
    pub(crate) async fn run_here(&self, task: &PreparedTask) -> Result<TaskOutput, TaskError> {
        self.shared.run(task).await
    }
}

impl Shared {
    async fn run(&self, task: &PreparedTask) -> Result<TaskOutput, TaskError> {
        let _permit = self.permits.acquire().await.map_err(|e| TaskError::new(TaskErrorKind::Internal, e.to_string()))?;
        self.execute(task).await
    }

    async fn execute(&self, task: &PreparedTask) -> Result<TaskOutput, TaskError> {
        let pre = self.modules.get(&task.module, &self.store).await?;
        let sandbox = Sandbox::create(&self.task_dirs, task.rootfs.as_deref(), self.rootfs_limits, &task.files)?;
        execute::execute(&self.engine, &pre, task, &sandbox).await
    }
}
