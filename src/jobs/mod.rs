//! Detached jobs: a [`Job`] that runs without a client attached
//! ([`Wasimoff::submit_job`], `POST …/api/v1/jobs` with `Prefer: respond-async`), whose
//! progress and results are looked up by id while it runs and for
//! [`Limits::job_retention`](crate::Limits::job_retention) after it ended.
//!
//! - `registry.rs`: where jobs are kept — the records and result lines, behind the
//!   [`Registry`] seam: in memory by default, in Redis with the Redis backend
//!   (`redis_registry.rs`: any replica answers for any job, and a job whose replica died is
//!   taken over and completed by another).
//! - `driver.rs`: what runs a job: the stored files its tasks name are resolved and pinned at
//!   submission, its tasks go to the scheduler like any other job's, and each result is
//!   appended to the registry as it finishes; a cancel drops the tasks not finished yet.
//! - `handle.rs`: [`JobHandle`], the Rust view of one job (status, results, cancel).
//! - this file: [`JobStatus`], the submission and the lookups.

mod driver;
mod handle;
mod redis_registry;
mod registry;

pub use handle::JobHandle;
pub use registry::JobPhase;
pub(crate) use registry::ResultLine;

use crate::Wasimoff;
use crate::backend::RedisBackend;
use crate::handle::WeakWasimoff;
use crate::scheduler::JobId;
use crate::task::{Job, TaskError, TaskErrorKind};
use redis_registry::RedisRegistry;
use registry::{JobRecord, MemoryRegistry, Registry};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// How long a driver or a follower waits before it asks an unreachable registry again.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// A detached job's progress at one moment.
///
/// As JSON (`GET …/api/v1/jobs/{id}`, without its `results`): `{"id", "status":
/// "running"|"done"|"cancelled", "tasks", "queued", "running", "done", "failed", "created",
/// "finished"?, "expires"?}`, the times in milliseconds since the Unix epoch.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use wasimoff::{Job, JobPhase};
/// let broker = wasimoff::Wasimoff::builder().build().unwrap();
/// let job = broker.submit_job(Job::default()).await.unwrap();
/// let status = job.wait().await.unwrap();
/// assert_eq!((status.phase, status.tasks, status.queued), (JobPhase::Done, 0, 0));
/// assert!(status.finished.is_some() && status.expires > status.finished);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    /// The job's id.
    pub id: String,
    /// Whether it runs, and how it ended.
    pub phase: JobPhase,
    /// How many tasks it has.
    pub tasks: usize,
    /// Its tasks not started yet (waiting for a worker or for their turn in the job).
    pub queued: usize,
    /// Its tasks given to a worker.
    pub running: usize,
    /// Its tasks that ran to an exit status (zero or not).
    pub done: usize,
    /// Its tasks that ended with an error (`cancelled` included).
    pub failed: usize,
    /// When it was submitted.
    pub created: SystemTime,
    /// When it ended.
    pub finished: Option<SystemTime>,
    /// When it is forgotten: [`Limits::job_retention`](crate::Limits::job_retention) after it ended.
    pub expires: Option<SystemTime>,
}

impl Serialize for JobStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let optional = usize::from(self.finished.is_some()) + usize::from(self.expires.is_some());
        let mut fields = serializer.serialize_struct("JobStatus", 9 + optional)?;
        fields.serialize_field("id", &self.id)?;
        fields.serialize_field("status", &self.phase)?;
        fields.serialize_field("tasks", &self.tasks)?;
        fields.serialize_field("queued", &self.queued)?;
        fields.serialize_field("running", &self.running)?;
        fields.serialize_field("done", &self.done)?;
        fields.serialize_field("failed", &self.failed)?;
        fields.serialize_field("created", &unix_ms(self.created))?;
        if let Some(finished) = self.finished {
            fields.serialize_field("finished", &unix_ms(finished))?;
        }
        if let Some(expires) = self.expires {
            fields.serialize_field("expires", &unix_ms(expires))?;
        }
        fields.end()
    }
}

/// Why a detached job was not accepted.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use wasimoff::{Job, Limits, SubmitJobError};
/// let broker = wasimoff::Wasimoff::builder().limits(Limits { max_detached_jobs: 1, ..Limits::default() }).build().unwrap();
/// broker.submit_job(Job::default()).await.unwrap();
/// assert_eq!(broker.submit_job(Job::default()).await.err(), Some(SubmitJobError::TooManyJobs { limit: 1 }));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitJobError {
    /// [`Limits::max_detached_jobs`](crate::Limits::max_detached_jobs) jobs are kept already,
    /// running or retained; answered `507` (`too_many_jobs`) over HTTP.
    #[error("the broker keeps {limit} detached jobs already (running, or ended less than the retention ago); try again later")]
    TooManyJobs {
        /// The limit.
        limit: usize,
    },
    /// The broker refused the job: `queue_full`, `shutting_down`, or `backend_unavailable`
    /// when the shared backend cannot be reached.
    #[error(transparent)]
    Refused(#[from] TaskError),
}

/// A job this process drives: how to cancel it and which scheduler job its tasks are.
struct Driven {
    cancel: CancellationToken,
    scheduler_job: JobId,
}

/// The broker's detached jobs: the registry and the drivers running here.
pub(crate) struct Jobs {
    registry: Registry,
    driven: Mutex<HashMap<String, Driven>>,
}

impl Jobs {
    /// Jobs kept in this process, or with `shared` in Redis.
    pub(crate) fn new(shared: Option<&RedisBackend>) -> Jobs {
        let registry = match shared {
            None => Registry::Memory(MemoryRegistry::default()),
            Some(shared) => Registry::Redis(RedisRegistry::new(shared.commands(), shared.replica().to_string(), shared.claim_timeout())),
        };
        Jobs { registry, driven: Mutex::default() }
    }
}

impl Jobs {
    fn driven(&self) -> MutexGuard<'_, HashMap<String, Driven>> {
        self.driven.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The status of `record`, with queued and running from the scheduler while it runs here.
    fn status(&self, broker: &Wasimoff, record: JobRecord) -> JobStatus {
        let scheduler_job = self.driven().get(&record.id).map(|driven| driven.scheduler_job.0);
        let running =
            scheduler_job.map_or(0, |job| broker.scheduler().jobs().iter().filter(|state| state.job == job).map(|s| s.running).sum());
        status_of(record, running, broker.limits().job_retention)
    }
}

fn status_of(record: JobRecord, running: usize, retention: Duration) -> JobStatus {
    let finished_tasks = record.done + record.failed;
    let running = if record.phase == JobPhase::Running { running.min(record.tasks.saturating_sub(finished_tasks)) } else { 0 };
    JobStatus {
        queued: if record.phase == JobPhase::Running { record.tasks.saturating_sub(finished_tasks + running) } else { 0 },
        running,
        expires: record.expires_ms(retention).map(from_unix_ms),
        created: from_unix_ms(record.created_ms),
        finished: record.finished_ms.map(from_unix_ms),
        id: record.id,
        phase: record.phase,
        tasks: record.tasks,
        done: record.done,
        failed: record.failed,
    }
}

/// Starts `job` detached; see [`Wasimoff::submit_job`].
pub(crate) async fn submit(broker: &Wasimoff, job: Job) -> Result<JobHandle, SubmitJobError> {
    if broker.is_shutting_down() {
        return Err(TaskError::new(TaskErrorKind::ShuttingDown, "the broker is shutting down").into());
    }
    if broker.queue_is_full() {
        return Err(TaskError::new(TaskErrorKind::QueueFull, "the queue is full; try again later").into());
    }
    let id = new_id()?;
    let record = JobRecord {
        id: id.clone(),
        tasks: job.tasks.len(),
        done: 0,
        failed: 0,
        phase: JobPhase::Running,
        created_ms: now_ms(),
        finished_ms: None,
    };
    let (tasks, pins) = driver::pinned(broker, job);
    let limit = broker.limits().max_detached_jobs;
    broker.detached().registry.create(record, &tasks, limit, now_ms()).await?;
    driver::start(broker, id.clone(), tasks.into_iter().enumerate().collect(), pins);
    Ok(JobHandle::new(broker.clone(), id))
}

/// The job named `id`, unless there is none or it expired.
pub(crate) async fn lookup(broker: &Wasimoff, id: &str) -> Result<Option<JobHandle>, TaskError> {
    let record = broker.detached().registry.record(id, now_ms()).await?;
    Ok(record.map(|record| JobHandle::new(broker.clone(), record.id)))
}

/// With the Redis backend: every so often, takes over the running jobs whose replica stopped
/// renewing its lease and runs their unfinished tasks here. Ends with the broker.
pub(crate) fn watch_orphans(broker: WeakWasimoff, every: Duration, runtime: &tokio::runtime::Handle) {
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let Some(broker) = broker.upgrade() else { return };
            if broker.is_shutting_down() {
                return;
            }
            let Ok(orphans) = broker.detached().registry.take_over().await else { continue };
            for orphan in orphans {
                tracing::info!(job = %orphan.record.id, finished = orphan.finished.len(), tasks = orphan.tasks.len(), "took over a detached job");
                let (tasks, pins) = driver::pinned(&broker, Job { parent: None, tasks: orphan.tasks });
                let unfinished = tasks.into_iter().enumerate().filter(|(index, _)| !orphan.finished.contains(index)).collect();
                driver::start(&broker, orphan.record.id, unfinished, pins);
            }
        }
    });
}

/// Every detached job kept, oldest first.
pub(crate) async fn list(broker: &Wasimoff) -> Result<Vec<JobStatus>, TaskError> {
    let jobs = broker.detached();
    let records = jobs.registry.list(now_ms()).await?;
    let driven: HashMap<String, u64> = jobs.driven().iter().map(|(id, driven)| (id.clone(), driven.scheduler_job.0)).collect();
    let mut running: HashMap<u64, usize> = HashMap::new();
    for state in broker.scheduler().jobs() {
        *running.entry(state.job).or_default() += state.running;
    }
    let retention = broker.limits().job_retention;
    Ok(records
        .into_iter()
        .map(|record| {
            let tasks_running = driven.get(&record.id).and_then(|job| running.get(job)).copied().unwrap_or_default();
            status_of(record, tasks_running, retention)
        })
        .collect())
}

/// A fresh job id: 128 random bits as 32 lowercase hex digits.
fn new_id() -> Result<String, TaskError> {
    let mut bits = [0u8; 16];
    getrandom::fill(&mut bits).map_err(|error| TaskError::new(TaskErrorKind::Internal, format!("no randomness for a job id: {error}")))?;
    Ok(hex::encode(bits))
}

/// Now, in milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    unix_ms(SystemTime::now())
}

fn unix_ms(time: SystemTime) -> u64 {
    u64::try_from(time.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Detached jobs on the broker's handle.
impl Wasimoff {
    /// Starts `job` detached: it runs without anyone waiting for it, and its progress and
    /// results can be looked up by its id ([`Wasimoff::job`](crate::Wasimoff::job),
    /// `GET …/api/v1/jobs/{id}`) while it runs and for
    /// [`Limits::job_retention`](crate::Limits::job_retention) after it ends — with the Redis
    /// backend on every replica, and a job whose replica dies is taken over by another. Its
    /// tasks share the workers like those of [`Wasimoff::run_job`](crate::Wasimoff::run_job);
    /// the stored files they name are resolved and held against eviction when it is
    /// submitted. Refused when [`Limits::max_detached_jobs`](crate::Limits::max_detached_jobs)
    /// jobs are kept, when the queue is full, when the shared backend is unreachable, or
    /// during shutdown (which waits for detached jobs too). Call it inside a Tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use wasimoff::{FileSource, Job, JobPhase, Task};
    /// let broker = wasimoff::Wasimoff::builder().build()?;
    /// let job = broker.submit_job(Job { parent: None, tasks: vec![Task::new(FileSource::reference("missing.wasm"))] }).await?;
    /// let status = job.wait().await.expect("kept for an hour");
    /// assert_eq!((status.phase, status.tasks, status.failed), (JobPhase::Done, 1, 1));
    /// # Ok(()) }
    /// ```
    pub async fn submit_job(&self, job: Job) -> Result<JobHandle, SubmitJobError> {
        submit(self, job).await
    }

    /// The detached job with this id, unless there is none or it expired; `backend_unavailable`
    /// when the shared backend cannot be reached.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let broker = wasimoff::Wasimoff::builder().build().unwrap();
    /// assert!(broker.job("0123456789abcdef0123456789abcdef").await.unwrap().is_none());
    /// # }
    /// ```
    pub async fn job(&self, id: &str) -> Result<Option<JobHandle>, TaskError> {
        lookup(self, id).await
    }

    /// Every detached job kept (running, or ended less than
    /// [`Limits::job_retention`](crate::Limits::job_retention) ago), oldest first, with its
    /// progress; `backend_unavailable` when the shared backend cannot be reached.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let broker = wasimoff::Wasimoff::builder().build().unwrap();
    /// let job = broker.submit_job(wasimoff::Job::default()).await.unwrap();
    /// let listed: Vec<String> = broker.detached_jobs().await.unwrap().into_iter().map(|status| status.id).collect();
    /// assert_eq!(listed, [job.id()]);
    /// # }
    /// ```
    pub async fn detached_jobs(&self) -> Result<Vec<JobStatus>, TaskError> {
        list(self).await
    }
}
