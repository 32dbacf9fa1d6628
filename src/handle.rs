//! The builder and the in-process handle.

use crate::limits::Limits;
use crate::prepare::prepare;
use crate::runner::LocalRunner;
use crate::store::{Storage, Store};
use crate::task::{Job, Task, TaskError, TaskErrorKind, TaskOutput};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio_util::task::TaskTracker;

/// Why a broker could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The storage backend could not be opened.
    #[error("cannot open storage: {0}")]
    Storage(#[from] std::io::Error),
    /// The local runner could not start.
    #[error("cannot start the local runner: {0}")]
    Runner(String),
}

/// Configures a broker; see [`Wasimoff::builder`].
#[derive(Clone, Debug, Default)]
pub struct Builder {
    limits: Limits,
    storage: Storage,
}

impl Builder {
    /// Sets every limit at once.
    pub fn limits(mut self, limits: Limits) -> Builder {
        self.limits = limits;
        self
    }

    /// Chooses where files are stored (memory by default).
    pub fn storage(mut self, storage: Storage) -> Builder {
        self.storage = storage;
        self
    }

    /// Opens the store and starts the local runner.
    pub fn build(self) -> Result<Wasimoff, BuildError> {
        let store = Store::open(&self.storage, &self.limits)?;
        let runner = LocalRunner::start(&self.limits, store.clone()).map_err(BuildError::Runner)?;
        Ok(Wasimoff {
            inner: Arc::new(Inner {
                store,
                runner,
                limits: self.limits,
                tracker: TaskTracker::new(),
                admitted: AtomicUsize::new(0),
            }),
        })
    }
}

struct Inner {
    store: Store,
    runner: LocalRunner,
    limits: Limits,
    tracker: TaskTracker,
    admitted: AtomicUsize,
}

/// The broker handle: submit tasks and jobs in-process, reach the store, shut down.
/// Cheap to clone; all clones drive the same broker.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use wasimoff::{FileSource, Task, Upload, Wasimoff};
/// let broker = Wasimoff::builder().build()?;
/// broker.store().put(std::fs::read("tsp.wasm")?.into(), Upload::new().alias("tsp.wasm")).await?;
/// let output = broker.run(Task::new(FileSource::reference("tsp.wasm")).args(["tsp", "rand", "8"])).await?;
/// println!("{}", String::from_utf8_lossy(&output.stdout));
/// broker.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Wasimoff {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Wasimoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wasimoff").field("store", &self.inner.store).field("limits", &self.inner.limits).finish()
    }
}

/// Releases an admission slot when the task is done or abandoned.
struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Wasimoff {
    /// A builder with default limits and in-memory storage.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The file store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Runs one task and waits for its result. Dropping the future cancels the task.
    pub async fn run(&self, task: Task) -> Result<TaskOutput, TaskError> {
        let inner = &self.inner;
        if inner.tracker.is_closed() {
            return Err(TaskError::new(TaskErrorKind::ShuttingDown, "the broker is shutting down"));
        }
        let capacity = inner.limits.concurrency + inner.limits.queue_length;
        if inner.admitted.fetch_add(1, Ordering::AcqRel) >= capacity {
            inner.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(TaskError::new(
                TaskErrorKind::QueueFull,
                format!("the queue is full ({} tasks waiting); try again later", inner.limits.queue_length),
            ));
        }
        let _admission = Admission(&inner.admitted);
        inner
            .tracker
            .track_future(async {
                let prepared = prepare(task, &inner.store, &inner.limits).await?;
                inner.runner.run(prepared).await
            })
            .await
    }

    /// Runs a job's tasks, each inheriting what it leaves out from the parent, and returns
    /// their results in order. At most twice the concurrency of its tasks wait at once, so a
    /// large job does not fill the queue by itself.
    pub async fn run_job(&self, job: Job) -> Vec<Result<TaskOutput, TaskError>> {
        let parent = job.parent.unwrap_or_default();
        let window = self.inner.limits.concurrency.max(1) * 2;
        futures_util::stream::iter(job.tasks)
            .map(|task| self.run(task.inherit(&parent)))
            .buffered(window)
            .collect()
            .await
    }

    /// Stops taking tasks and waits until every task already submitted has finished.
    pub async fn shutdown(&self) {
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }
}
