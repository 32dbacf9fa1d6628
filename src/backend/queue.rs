//! The Redis backend's handle and its submitting side: tasks go to the shared stream, results
//! come back on this replica's results stream to the waiting submitter.

use super::cancels::{self, Running};
use super::claim::{self, Capacity, Claims};
use super::pins::Needed;
use super::replicas::{self, Peers};
use super::turns::{self, JobTags, Queued};
use super::{BLOCK_MILLISECONDS, PREFIX, SharedFiles, connect, unavailable};
use crate::cluster::ProviderState;
use crate::digest::Digest;
use crate::limits::Limits;
use crate::prepare::PreparedTask;
use crate::scheduler::{JobId, Scheduler, TaskResult};
use crate::task::{TaskError, TaskErrorKind, TaskOutput};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::streams::{StreamReadOptions, StreamReadReply};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::oneshot;

/// The stream every replica's submitted tasks wait in.
pub(super) fn tasks_key() -> String {
    format!("{PREFIX}:tasks")
}

/// The consumer group of the tasks stream; every replica is a consumer, named by its id.
pub(super) const GROUP: &str = "replicas";

/// The stream the results of `replica`'s tasks come back on.
pub(super) fn results_key(replica: &str) -> String {
    format!("{PREFIX}:results:{replica}")
}

/// How long a retry of a failed Redis call waits.
pub(super) const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// A task in the shared stream.
#[derive(Serialize, Deserialize)]
pub(super) struct TaskRecord {
    /// Its id, unique across replicas: `{replica}-{counter}`.
    pub(super) id: String,
    /// The replica whose client waits for it.
    pub(super) replica: String,
    /// Its job's id on that replica.
    pub(super) job: u64,
    /// What to run.
    pub(super) task: PreparedTask,
}

/// A result on its submitter's results stream.
#[derive(Serialize, Deserialize)]
pub(super) struct ResultRecord {
    /// The task's id.
    pub(super) task: String,
    /// Its result.
    pub(super) result: TaskResult,
}

/// The Redis backend of one replica. See the module documentation of `backend`.
pub(crate) struct RedisBackend {
    /// This replica's id: its consumer name and the prefix of its task ids.
    pub(super) replica: String,
    /// For short commands (blocking reads have connections of their own).
    pub(super) commands: ConnectionManager,
    /// The runtime its loops and deliveries run on.
    pub(super) runtime: tokio::runtime::Handle,
    /// How long a claimed task may go unrefreshed before another replica takes it over.
    pub(super) claim_timeout: Duration,
    /// The tasks this replica claimed and runs.
    pub(super) claims: Claims,
    /// The other replicas' providers, as last read.
    pub(super) peers: Peers,
    next_task: AtomicU64,
    /// The tags of this replica's jobs in the shared turns.
    tags: JobTags,
    waiters: Mutex<HashMap<String, oneshot::Sender<TaskResult>>>,
    /// The claimed tasks running here, for cancels from their submitters.
    pub(super) running: Running,
    /// The stored modules of the tasks this replica submitted or claimed, pinned in Redis.
    pub(super) needed: Needed,
    /// Connections for the blocking reads (claims, results, cancels), handed to the loops by
    /// [`RedisBackend::start`].
    blocking: Mutex<Option<(ConnectionManager, ConnectionManager, ConnectionManager)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Creates the consumer group (and the stream) unless it exists.
pub(super) async fn ensure_group(connection: &mut ConnectionManager) -> redis::RedisResult<()> {
    let created: redis::RedisResult<()> = connection.xgroup_create_mkstream(tasks_key(), GROUP, "0").await;
    match created {
        Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
        other => other,
    }
}

impl RedisBackend {
    /// Connects to Redis at `url` on `runtime`, waiting for it here; answers the backend and the
    /// store's shared tier, or why Redis cannot be used.
    pub(crate) fn connect(
        url: &str,
        limits: &Limits,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(Arc<RedisBackend>, SharedFiles), String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid Redis URL {url:?}: {e}"))?;
        let (sender, receiver) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let connected = async {
                let mut commands = connect(&client).await?;
                ensure_group(&mut commands).await?;
                Ok::<_, redis::RedisError>((commands, connect(&client).await?, connect(&client).await?, connect(&client).await?))
            };
            let _ = sender.send(connected.await);
        });
        let (commands, claims, results, cancels) = receiver
            .recv()
            .map_err(|_| "the connection attempt was dropped".to_string())?
            .map_err(|e| format!("cannot reach Redis at {url}: {e}"))?;
        let backend = RedisBackend {
            replica: format!("{:016x}", fastrand::u64(..)),
            commands: commands.clone(),
            runtime: runtime.clone(),
            claim_timeout: limits.claim_timeout.max(Duration::from_millis(300)),
            claims: Claims::default(),
            peers: Peers::default(),
            next_task: AtomicU64::new(0),
            tags: JobTags::default(),
            waiters: Mutex::default(),
            running: Running::default(),
            needed: Needed::default(),
            blocking: Mutex::new(Some((claims, results, cancels))),
        };
        Ok((Arc::new(backend), SharedFiles::new(commands, limits.store_bytes)))
    }

    /// Starts the loops: reading this replica's results, claiming tasks while `scheduler` has
    /// room (`capacity`), refreshing and taking over claims, and publishing `providers()` (and
    /// the local runner's usable slots) for the cluster view.
    pub(crate) fn start(
        self: &Arc<Self>,
        scheduler: &Arc<Scheduler>,
        capacity: Capacity,
        providers: impl Fn() -> Vec<ProviderState> + Send + 'static,
    ) {
        let Some((claims, results, cancels)) = lock(&self.blocking).take() else { return };
        let backend = Arc::downgrade(self);
        self.runtime.spawn(read_results(backend.clone(), results, results_key(&self.replica)));
        self.runtime.spawn(claim::claim_loop(backend.clone(), Arc::downgrade(scheduler), capacity, claims));
        self.runtime.spawn(claim::maintain(backend.clone(), Arc::downgrade(scheduler), capacity));
        self.runtime.spawn(cancels::follow(backend.clone(), Arc::downgrade(scheduler), cancels));
        let weak = Arc::downgrade(scheduler);
        let local = move || weak.upgrade().map_or(0, |scheduler| capacity.local(&scheduler));
        self.runtime.spawn(replicas::publish(backend, move || (providers(), local())));
    }

    /// This replica's id.
    pub(crate) fn replica(&self) -> &str {
        &self.replica
    }

    /// The other live replicas' providers, each marked with its replica.
    pub(crate) fn peer_providers(&self) -> Vec<ProviderState> {
        self.peers.providers()
    }

    /// Tasks waiting in the shared queue, claimed by no replica yet (as last read).
    pub(crate) fn shared_waiting(&self) -> usize {
        self.peers.waiting()
    }

    /// Workers of the other live replicas' providers.
    pub(crate) fn peer_workers(&self) -> usize {
        self.peers.providers().iter().map(|provider| provider.workers).sum()
    }

    /// Slots of the other live replicas' local runners that their fallback policies let run
    /// tasks (as they last published).
    pub(crate) fn peer_local_slots(&self) -> usize {
        self.peers.local_slots()
    }

    /// Queues `task` of `job` in the shared stream, with its turn (see `turns`), and waits for
    /// its one result, from whichever replica ran it. Dropping the future withdraws the task if
    /// no replica has claimed it.
    pub(crate) async fn run(&self, task: PreparedTask, job: JobId) -> Result<TaskOutput, TaskError> {
        let id = format!("{}-{}", self.replica, self.next_task.fetch_add(1, Ordering::Relaxed) + 1);
        let priority = task.priority;
        let module = task.module.inline.is_none().then_some(task.module.digest);
        let record = TaskRecord { id: id.clone(), replica: self.replica.clone(), job: job.0, task };
        let bytes = rmp_serde::to_vec_named(&record)
            .map_err(|e| TaskError::new(TaskErrorKind::Internal, format!("cannot encode the task: {e}")))?;
        let (sender, receiver) = oneshot::channel();
        lock(&self.waiters).insert(id.clone(), sender);
        let tag = self.tags.next(job.0);
        if let Some(module) = module {
            self.needed.add(module);
        }
        let mut withdraw = Withdraw { backend: self, id, job: job.0, module, queued: None, armed: true };
        let (commands, lease) = (&mut self.commands.clone(), self.claim_timeout);
        let queued = turns::queue(commands, bytes, (&self.replica, job.0), (priority, tag), module.as_ref(), lease)
            .await
            .map_err(|e| TaskError::new(TaskErrorKind::BackendUnavailable, unavailable(&e)))?;
        self.tags.got(job.0, queued.tag);
        withdraw.queued = Some(queued);
        let result = receiver.await;
        withdraw.armed = false;
        match result {
            Ok(result) => result.into_result(),
            Err(_) => Err(TaskError::new(TaskErrorKind::Internal, "the backend dropped the task")),
        }
    }

    /// Hands a result to its waiting submitter; a second result for the same task finds no
    /// waiter and is dropped.
    fn complete(&self, record: ResultRecord) {
        if let Some(waiter) = lock(&self.waiters).remove(&record.task) {
            let _ = waiter.send(record.result);
        }
    }
}

/// Forgets a task that is done or whose submitter stopped waiting; in the latter case also
/// deletes its entry from the stream and its turn, and tells a replica that claimed it already
/// to stop it (`cancels.rs`).
struct Withdraw<'a> {
    backend: &'a RedisBackend,
    id: String,
    job: u64,
    /// The stored module the task needs.
    module: Option<Digest>,
    queued: Option<Queued>,
    armed: bool,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        lock(&self.backend.waiters).remove(&self.id);
        self.backend.tags.done(self.job);
        if let Some(module) = &self.module {
            self.backend.needed.remove(module);
        }
        if let (true, Some(queued)) = (self.armed, self.queued.take()) {
            let mut connection = self.backend.commands.clone();
            let mut pipe = redis::pipe();
            pipe.atomic().xdel(tasks_key(), &[queued.entry]).ignore();
            turns::withdraw(&mut pipe, &queued.turn);
            cancels::announce(&mut pipe, &self.id);
            self.backend.runtime.spawn(async move {
                let _: redis::RedisResult<()> = pipe.query_async(&mut connection).await;
            });
        }
    }
}

/// Reads this replica's results stream, completes the waiting submitters, and deletes what it
/// read (so it always reads from the start: what is there is new). Ends with the backend.
async fn read_results(backend: Weak<RedisBackend>, mut connection: ConnectionManager, key: String) {
    let options = StreamReadOptions::default().count(256).block(BLOCK_MILLISECONDS);
    loop {
        let reply: redis::RedisResult<Option<StreamReadReply>> = connection.xread_options(&[&key], &["0-0"], &options).await;
        let Some(backend) = backend.upgrade() else { return };
        match reply {
            Ok(reply) => {
                let entries = reply.into_iter().flat_map(|reply| reply.keys).flat_map(|key| key.ids);
                let mut read = Vec::new();
                for entry in entries {
                    let record = entry.get::<Vec<u8>>("result").and_then(|bytes| rmp_serde::from_slice::<ResultRecord>(&bytes).ok());
                    if let Some(record) = record {
                        backend.complete(record);
                    }
                    read.push(entry.id);
                }
                if !read.is_empty() {
                    let _: redis::RedisResult<usize> = connection.xdel(&key, &read).await;
                }
            }
            Err(error) => {
                tracing::debug!(%error, "reading results from Redis failed; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}
