//! The claiming side of the Redis backend: take tasks from the shared stream (in turn order,
//! see `turns`) while this replica's scheduler has room, run them there, send each result to
//! its submitter, keep the claims fresh, and take over the claims of replicas that stopped
//! refreshing theirs.

use super::BLOCK_MILLISECONDS;
use super::pins;
use super::queue::{GROUP, RETRY_PAUSE, RedisBackend, ResultRecord, TaskRecord, ensure_group, results_key, tasks_key};
use super::turns::{self, CLAIM_BATCH};
use crate::scheduler::{FallbackPolicy, JobId, Scheduler, TaskResult};
use crate::task::{LOCAL, TaskErrorKind};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamClaimOptions, StreamId, StreamPendingCountReply, StreamReadOptions, StreamReadReply,
};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::Notify;

/// How many times a task may be delivered to replicas (claimed, then taken over from replicas
/// presumed dead) before it fails instead of running again.
pub(crate) const MAX_DELIVERIES: usize = 3;

/// How long a results stream of a replica that no longer reads it is kept.
const RESULTS_TTL_SECONDS: i64 = 3600;

/// How often a replica with no room looks again (providers may have joined).
const ROOM_POLL: Duration = Duration::from_millis(100);

/// How many tasks a replica's scheduler has room for, from its runners.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Capacity {
    /// When the local runner runs tasks.
    pub(crate) policy: FallbackPolicy,
    /// Tasks the local runner runs at once.
    pub(crate) local_slots: usize,
}

impl Capacity {
    /// Tasks `scheduler`'s runners hold at most now: its providers' workers and prefetch, and
    /// the local runner's slots while the fallback policy lets it run tasks.
    fn total(&self, scheduler: &Scheduler) -> usize {
        scheduler.provider_capacity() + self.local(scheduler)
    }

    /// The local runner's slots while the fallback policy lets it run `scheduler`'s tasks now
    /// (with no providers connected, for [`FallbackPolicy::WhenNoProviders`]); otherwise none.
    pub(crate) fn local(&self, scheduler: &Scheduler) -> usize {
        match self.policy {
            FallbackPolicy::Always => self.local_slots,
            FallbackPolicy::WhenNoProviders if scheduler.provider_count() == 0 => self.local_slots,
            FallbackPolicy::WhenNoProviders | FallbackPolicy::Never => 0,
        }
    }
}

/// The tasks a replica claimed and runs.
#[derive(Default)]
pub(crate) struct Claims {
    /// Their entry ids in the tasks stream.
    held: Mutex<HashSet<String>>,
    /// Local job ids of the submitters' jobs (submitter, job) with tasks held, and how many.
    jobs: Mutex<HashMap<(String, u64), (JobId, usize)>>,
    /// Woken when a claimed task is done.
    freed: Arc<Notify>,
    /// Set when the broker shuts down: no more claims.
    closed: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Claims {
    fn count(&self) -> usize {
        lock(&self.held).len()
    }

    /// Holds an entry; false if it is held already (a refresh raced a take-over).
    fn hold(&self, entry: &str) -> bool {
        lock(&self.held).insert(entry.to_string())
    }

    /// The local job of a submitter's job, made with `new_job` on its first task.
    fn job(&self, submitter: &str, job: u64, new_job: impl FnOnce() -> JobId) -> JobId {
        let mut jobs = lock(&self.jobs);
        let entry = jobs.entry((submitter.to_string(), job)).or_insert_with(|| (new_job(), 0));
        entry.1 += 1;
        entry.0
    }

    /// The submitter's job (replica, job id there) of each local job with tasks held, by local job id.
    pub(super) fn submitters(&self) -> HashMap<u64, (String, u64)> {
        lock(&self.jobs).iter().map(|((submitter, job), (local, _))| (local.0, (submitter.clone(), *job))).collect()
    }

    /// Lets go of a done entry of a submitter's job.
    fn release(&self, entry: &str, submitter: &str, job: u64) {
        lock(&self.held).remove(entry);
        let mut jobs = lock(&self.jobs);
        let key = (submitter.to_string(), job);
        if let Some(count) = jobs.get_mut(&key).map(|(_, count)| count) {
            *count -= 1;
            if *count == 0 {
                jobs.remove(&key);
            }
        }
        drop(jobs);
        self.freed.notify_one();
    }
}

/// Room for more claims: the scheduler's capacity less what this replica holds; none once
/// the broker shuts down.
fn room(backend: &RedisBackend, scheduler: &Scheduler, capacity: Capacity) -> usize {
    if backend.claims.closed.load(Ordering::Acquire) {
        return 0;
    }
    capacity.total(scheduler).saturating_sub(backend.claims.count())
}

/// Claims waiting tasks from the shared stream in turn order (see `turns`), as many as the
/// scheduler has room for, and runs them; with room left, waits for the next task added to the
/// stream. Ends with the backend or the scheduler.
pub(super) async fn claim_loop(
    backend: Weak<RedisBackend>,
    scheduler: Weak<Scheduler>,
    capacity: Capacity,
    mut connection: ConnectionManager,
) {
    loop {
        let (replica, room, freed) = {
            let (Some(backend), Some(scheduler)) = (backend.upgrade(), scheduler.upgrade()) else { return };
            (backend.replica.clone(), room(&backend, &scheduler, capacity), backend.claims.freed.clone())
        };
        if room == 0 {
            tokio::select! {
                () = freed.notified() => {}
                () = tokio::time::sleep(ROOM_POLL) => {}
            }
            continue;
        }
        let claimed = turns::claim(&mut connection, &replica, room).await;
        let since = {
            let (Some(backend), Some(scheduler)) = (backend.upgrade(), scheduler.upgrade()) else { return };
            match claimed {
                Ok((since, entries)) => {
                    let short = entries.len() < room.min(CLAIM_BATCH);
                    for entry in entries {
                        backend.take(&scheduler, entry);
                    }
                    short.then_some(since)
                }
                Err(error) => {
                    tracing::debug!(%error, "claiming tasks from Redis failed; retrying");
                    if error.code() == Some("NOGROUP") {
                        let _ = ensure_group(&mut connection).await;
                    }
                    tokio::time::sleep(RETRY_PAUSE).await;
                    None
                }
            }
        };
        if let Some(since) = since {
            wait_for_tasks(&mut connection, &since).await;
        }
    }
}

/// Waits until an entry after `since` is added to the tasks stream (or a while passes).
async fn wait_for_tasks(connection: &mut ConnectionManager, since: &str) {
    let options = StreamReadOptions::default().count(1).block(BLOCK_MILLISECONDS);
    let added: redis::RedisResult<Option<StreamReadReply>> = connection.xread_options(&[tasks_key()], &[since], &options).await;
    if let Err(error) = added {
        tracing::debug!(%error, "waiting for tasks in Redis failed; retrying");
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Every third of the claim timeout: renews the pins of the modules its tasks need
/// (`pins.rs`), refreshes this replica's claims (so no other replica takes them over) and,
/// with room to spare, takes over entries idle longer than the timeout (their replica died).
/// Ends with the backend or the scheduler.
pub(super) async fn maintain(backend: Weak<RedisBackend>, scheduler: Weak<Scheduler>, capacity: Capacity) {
    let mut cursor = "0-0".to_string();
    loop {
        let period = match backend.upgrade() {
            Some(backend) => backend.claim_timeout / 3,
            None => return,
        };
        tokio::time::sleep(period).await;
        let (Some(backend), Some(scheduler)) = (backend.upgrade(), scheduler.upgrade()) else { return };
        let mut connection = backend.commands.clone();
        if let Err(error) = pins::renew(&mut connection, &backend.needed, backend.claim_timeout).await {
            tracing::debug!(%error, "renewing pins in Redis failed");
        }
        let held: Vec<String> = lock(&backend.claims.held).iter().cloned().collect();
        if !held.is_empty() {
            let options = StreamClaimOptions::default().with_justid();
            let refreshed: redis::RedisResult<redis::Value> =
                connection.xclaim_options(tasks_key(), GROUP, &backend.replica, 0, &held, options).await;
            if let Err(error) = refreshed {
                tracing::debug!(%error, "refreshing claims in Redis failed");
            }
        }
        let room = room(&backend, &scheduler, capacity);
        if room == 0 {
            continue;
        }
        let idle = backend.claim_timeout.as_millis() as u64;
        let options = StreamAutoClaimOptions::default().count(room);
        let reply: redis::RedisResult<StreamAutoClaimReply> =
            connection.xautoclaim_options(tasks_key(), GROUP, &backend.replica, idle, &cursor, options).await;
        match reply {
            Ok(reply) => {
                cursor = reply.next_stream_id;
                for entry in reply.claimed {
                    let deliveries = deliveries(&mut connection, &entry.id).await;
                    if deliveries > MAX_DELIVERIES {
                        backend.give_up(entry, deliveries);
                    } else {
                        tracing::info!(entry = %entry.id, "took over a task of a replica that stopped refreshing it");
                        backend.take(&scheduler, entry);
                    }
                }
            }
            Err(error) => {
                tracing::debug!(%error, "taking over idle claims in Redis failed");
                cursor = "0-0".to_string();
            }
        }
    }
}

/// How many times the entry was delivered (1 if Redis does not say).
async fn deliveries(connection: &mut ConnectionManager, entry: &str) -> usize {
    let pending: redis::RedisResult<StreamPendingCountReply> = connection.xpending_count(tasks_key(), GROUP, entry, entry, 1).await;
    pending.ok().and_then(|reply| reply.ids.first().map(|pending| pending.times_delivered)).unwrap_or(1)
}

/// The task record of an entry, unless it is unreadable.
fn record(entry: &StreamId) -> Option<TaskRecord> {
    entry.get::<Vec<u8>>("task").and_then(|bytes| rmp_serde::from_slice(&bytes).ok())
}

impl RedisBackend {
    /// Stops claiming tasks and waits until every task this replica claimed has delivered its
    /// result.
    pub(crate) async fn drain(&self) {
        self.claims.closed.store(true, Ordering::Release);
        while self.claims.count() > 0 {
            tokio::select! {
                () = self.claims.freed.notified() => {}
                () = tokio::time::sleep(ROOM_POLL) => {}
            }
        }
    }

    /// Runs a claimed entry in `scheduler` and, once done, delivers its result.
    fn take(self: &Arc<Self>, scheduler: &Scheduler, entry: StreamId) {
        let Some(record) = record(&entry) else {
            tracing::warn!(entry = %entry.id, "dropping an unreadable task from Redis");
            self.runtime.spawn(drop_entry(self.commands.clone(), entry.id));
            return;
        };
        if !self.claims.hold(&entry.id) {
            return;
        }
        let job = self.claims.job(&record.replica, record.job, || scheduler.new_job());
        let module = record.task.module.inline.is_none().then_some(record.task.module.digest);
        if let Some(module) = module {
            self.needed.add(module);
        }
        let (id, receiver) = scheduler.submit(record.task, job);
        self.running.insert(&record.id, id);
        let backend = self.clone();
        let (task, submitter) = (record.id, record.replica);
        self.runtime.spawn(async move {
            let result = match receiver.await {
                Ok(delivered) => delivered.result,
                Err(_) => TaskResult::failed(LOCAL, TaskErrorKind::Cancelled, "its submitter stopped waiting for it"),
            };
            backend.running.remove(&task);
            backend.deliver(&entry.id, task, &submitter, result).await;
            if let Some(module) = &module {
                backend.needed.remove(module);
            }
            backend.claims.release(&entry.id, &submitter, record.job);
        });
    }

    /// Fails an entry delivered too often, without running it.
    fn give_up(self: &Arc<Self>, entry: StreamId, deliveries: usize) {
        let Some(record) = record(&entry) else {
            self.runtime.spawn(drop_entry(self.commands.clone(), entry.id));
            return;
        };
        let message = format!("the task was taken over from {} replicas that stopped answering; it is not run again", deliveries - 1);
        let result = TaskResult::failed(LOCAL, TaskErrorKind::Internal, message);
        let backend = self.clone();
        self.runtime.spawn(async move { backend.deliver(&entry.id, record.id, &record.replica, result).await });
    }

    /// Sends a result to its submitter's results stream and acknowledges and deletes the
    /// task's entry, in one transaction; retried until Redis takes it.
    async fn deliver(&self, entry: &str, task: String, submitter: &str, result: TaskResult) {
        let bytes = match rmp_serde::to_vec_named(&ResultRecord { task, result }) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::error!(%error, "cannot encode a result");
                return;
            }
        };
        let key = results_key(submitter);
        let mut connection = self.commands.clone();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .xadd(&key, "*", &[("result", bytes)])
            .ignore()
            .expire(&key, RESULTS_TTL_SECONDS)
            .ignore()
            .xack(tasks_key(), GROUP, &[entry])
            .ignore()
            .xdel(tasks_key(), &[entry])
            .ignore();
        while let Err(error) = pipe.query_async::<()>(&mut connection).await {
            tracing::debug!(%error, "delivering a result through Redis failed; retrying");
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}

/// Acknowledges and deletes an entry that cannot run.
async fn drop_entry(mut connection: ConnectionManager, entry: String) {
    let mut pipe = redis::pipe();
    pipe.atomic().xack(tasks_key(), GROUP, &[&entry]).ignore().xdel(tasks_key(), &[&entry]).ignore();
    let _: redis::RedisResult<()> = pipe.query_async(&mut connection).await;
}
