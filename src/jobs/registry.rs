//! Where detached jobs are kept: [`Registry`], the seam between the jobs' logic and their
//! storage, with two backends: [`MemoryRegistry`] (this process) and
//! [`RedisRegistry`](super::redis_registry::RedisRegistry) (shared by every replica on one
//! Redis). Everything it holds is a serialisable record ([`JobRecord`], [`ResultLine`]).
//!
//! Every method is async and answers `backend_unavailable` when the shared backend cannot be
//! reached; the memory backend never fails.

use super::SubmitJobError;
use super::redis_registry::{Orphan, RedisRegistry};
use crate::scheduler::TaskResult;
use crate::task::{Task, TaskError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// Whether a detached job still runs, and how it ended; `"running"`, `"done"` or
/// `"cancelled"` in JSON.
///
/// ```
/// assert_eq!(serde_json::to_string(&wasimoff::JobPhase::Cancelled).unwrap(), r#""cancelled""#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobPhase {
    /// Some of its tasks are still queued or running.
    Running,
    /// Every task finished (with a result or an error).
    Done,
    /// It was cancelled; the tasks that had not finished ended with the error kind `cancelled`.
    Cancelled,
}

/// A detached job's record, without its results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobRecord {
    /// Its id, as its URL names it.
    pub(crate) id: String,
    /// How many tasks it has.
    pub(crate) tasks: usize,
    /// Its tasks that ran to an exit status.
    pub(crate) done: usize,
    /// Its tasks that ended with an error.
    pub(crate) failed: usize,
    /// Whether it runs.
    pub(crate) phase: JobPhase,
    /// When it was submitted, in milliseconds since the Unix epoch.
    pub(crate) created_ms: u64,
    /// When it ended, in milliseconds since the Unix epoch.
    pub(crate) finished_ms: Option<u64>,
}

impl JobRecord {
    /// When it is forgotten: `retention` after it ended.
    pub(crate) fn expires_ms(&self, retention: Duration) -> Option<u64> {
        let retention = u64::try_from(retention.as_millis()).unwrap_or(u64::MAX);
        self.finished_ms.map(|finished| finished.saturating_add(retention))
    }
}

/// One finished task of a job: its index in the job and its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ResultLine {
    /// The task's index in the job.
    pub(crate) index: usize,
    /// What it gave.
    pub(crate) result: TaskResult,
}

/// What a driver's heartbeat learned about the job it drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lease {
    /// It still drives the job.
    Held,
    /// It still drives the job, and a cancel was asked for.
    Cancel,
    /// Another process drives it now, or it ended: stop without recording anything more.
    Lost,
}

/// Where detached jobs are kept; see the module documentation.
pub(crate) enum Registry {
    /// In this process.
    Memory(MemoryRegistry),
    /// In Redis, shared by every replica.
    Redis(RedisRegistry),
}

impl Registry {
    /// Adds a new job with its `tasks` unless `limit` jobs are kept already (after forgetting
    /// expired ones).
    pub(crate) async fn create(&self, record: JobRecord, tasks: &[Task], limit: usize, now_ms: u64) -> Result<(), SubmitJobError> {
        match self {
            Registry::Memory(memory) => memory.create(record, limit, now_ms),
            Registry::Redis(redis) => redis.create(record, tasks, limit).await,
        }
    }

    /// The job's record, unless there is none or it expired.
    pub(crate) async fn record(&self, id: &str, now_ms: u64) -> Result<Option<JobRecord>, TaskError> {
        match self {
            Registry::Memory(memory) => Ok(memory.record(id, now_ms)),
            Registry::Redis(redis) => redis.record(id).await,
        }
    }

    /// Appends a finished task's result to its job; answers whether this process still
    /// drives the job (with Redis, another replica may have taken it over, and a task that
    /// has a result keeps its first one).
    pub(crate) async fn push(&self, id: &str, line: ResultLine) -> Result<bool, TaskError> {
        match self {
            Registry::Memory(memory) => Ok(memory.push(id, line)),
            Registry::Redis(redis) => redis.push(id, &line).await,
        }
    }

    /// Marks the job ended; it is forgotten `retention` later.
    pub(crate) async fn finish(&self, id: &str, phase: JobPhase, now_ms: u64, retention: Duration) -> Result<(), TaskError> {
        match self {
            Registry::Memory(memory) => {
                memory.finish(id, phase, now_ms, retention);
                Ok(())
            }
            Registry::Redis(redis) => redis.finish(id, phase, now_ms, retention).await,
        }
    }

    /// The job's record and its result lines from position `from` on (in the order they
    /// finished), unless the job is unknown or expired.
    pub(crate) async fn lines(&self, id: &str, from: usize, now_ms: u64) -> Result<Option<(JobRecord, Vec<Arc<ResultLine>>)>, TaskError> {
        match self {
            Registry::Memory(memory) => Ok(memory.lines(id, from, now_ms)),
            Registry::Redis(redis) => redis.lines(id, from).await,
        }
    }

    /// Waits until the job has more lines than `seen` or ends; returns at once if it has or
    /// did, or is unknown. With Redis it may also return after a short poll interval.
    pub(crate) async fn wait(&self, id: &str, seen: usize) {
        match self {
            Registry::Memory(memory) => memory.wait(id, seen).await,
            Registry::Redis(redis) => redis.wait(id).await,
        }
    }

    /// Every job kept, oldest first.
    pub(crate) async fn list(&self, now_ms: u64) -> Result<Vec<JobRecord>, TaskError> {
        match self {
            Registry::Memory(memory) => Ok(memory.list(now_ms)),
            Registry::Redis(redis) => redis.list().await,
        }
    }

    /// How often the process that drives a job must call [`Registry::heartbeat`]; `None` when
    /// no other process can see the job.
    pub(crate) fn heartbeat_interval(&self) -> Option<Duration> {
        match self {
            Registry::Memory(_) => None,
            Registry::Redis(redis) => Some(redis.heartbeat_interval()),
        }
    }

    /// Renews this process's lease on the job it drives; answers whether it still holds it,
    /// and whether someone asked (from any replica) to cancel the job.
    pub(crate) async fn heartbeat(&self, id: &str) -> Result<Lease, TaskError> {
        match self {
            Registry::Memory(_) => Ok(Lease::Held),
            Registry::Redis(redis) => redis.heartbeat(id).await,
        }
    }

    /// Asks whoever drives the job to cancel it (for a job driven by another replica).
    pub(crate) async fn request_cancel(&self, id: &str) -> Result<(), TaskError> {
        match self {
            Registry::Memory(_) => Ok(()),
            Registry::Redis(redis) => redis.request_cancel(id).await,
        }
    }

    /// Running jobs whose driving process stopped renewing its lease, now driven by this one:
    /// each with its tasks and the indices of those that have a result already.
    pub(crate) async fn take_over(&self) -> Result<Vec<Orphan>, TaskError> {
        match self {
            Registry::Memory(_) => Ok(Vec::new()),
            Registry::Redis(redis) => redis.take_over().await,
        }
    }
}

/// One job in memory.
struct Entry {
    record: JobRecord,
    /// When it is forgotten, once it ended.
    expires_ms: Option<u64>,
    lines: Vec<Arc<ResultLine>>,
    /// Lines so far, and whether the job ended: followers wait on it.
    progress: watch::Sender<(usize, bool)>,
}

impl Entry {
    fn expired(&self, now_ms: u64) -> bool {
        self.expires_ms.is_some_and(|expires| expires <= now_ms)
    }
}

/// Detached jobs in this process's memory; expired jobs are dropped whenever the registry is
/// used, so memory stays bounded by the job limit without a timer.
#[derive(Default)]
pub(crate) struct MemoryRegistry {
    jobs: Mutex<HashMap<String, Entry>>,
}

impl MemoryRegistry {
    fn lock(&self, now_ms: u64) -> MutexGuard<'_, HashMap<String, Entry>> {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        jobs.retain(|_, entry| !entry.expired(now_ms));
        jobs
    }

    fn create(&self, record: JobRecord, limit: usize, now_ms: u64) -> Result<(), SubmitJobError> {
        let mut jobs = self.lock(now_ms);
        if jobs.len() >= limit {
            return Err(SubmitJobError::TooManyJobs { limit });
        }
        let (progress, _) = watch::channel((0, false));
        jobs.insert(record.id.clone(), Entry { record, expires_ms: None, lines: Vec::new(), progress });
        Ok(())
    }

    fn record(&self, id: &str, now_ms: u64) -> Option<JobRecord> {
        self.lock(now_ms).get(id).map(|entry| entry.record.clone())
    }

    fn push(&self, id: &str, line: ResultLine) -> bool {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = jobs.get_mut(id) else { return false };
        match &line.result.outcome {
            wasimoff_protocol::Outcome::Exited { .. } => entry.record.done += 1,
            wasimoff_protocol::Outcome::Failed { .. } => entry.record.failed += 1,
        }
        entry.lines.push(Arc::new(line));
        entry.progress.send_replace((entry.lines.len(), false));
        true
    }

    fn finish(&self, id: &str, phase: JobPhase, now_ms: u64, retention: Duration) {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = jobs.get_mut(id) {
            entry.record.phase = phase;
            entry.record.finished_ms = Some(now_ms);
            entry.expires_ms = entry.record.expires_ms(retention);
            entry.progress.send_replace((entry.lines.len(), true));
        }
    }

    fn lines(&self, id: &str, from: usize, now_ms: u64) -> Option<(JobRecord, Vec<Arc<ResultLine>>)> {
        let jobs = self.lock(now_ms);
        let entry = jobs.get(id)?;
        Some((entry.record.clone(), entry.lines.get(from..).unwrap_or_default().to_vec()))
    }

    async fn wait(&self, id: &str, seen: usize) {
        let receiver = {
            let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
            match jobs.get(id) {
                Some(entry) => entry.progress.subscribe(),
                None => return,
            }
        };
        let mut receiver = receiver;
        let _ = receiver.wait_for(|(lines, ended)| *lines > seen || *ended).await;
    }

    fn list(&self, now_ms: u64) -> Vec<JobRecord> {
        let mut records: Vec<JobRecord> = self.lock(now_ms).values().map(|entry| entry.record.clone()).collect();
        records.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{TaskError, TaskErrorKind};

    fn record(id: &str, created_ms: u64) -> JobRecord {
        JobRecord { id: id.into(), tasks: 2, done: 0, failed: 0, phase: JobPhase::Running, created_ms, finished_ms: None }
    }

    fn failed(index: usize) -> ResultLine {
        ResultLine { index, result: TaskResult::new("local", Err(TaskError::new(TaskErrorKind::Cancelled, "cancelled"))) }
    }

    #[tokio::test]
    async fn jobs_count_against_the_limit_until_they_expire() {
        let registry = Registry::Memory(MemoryRegistry::default());
        registry.create(record("a", 10), &[], 1, 10).await.unwrap();
        assert_eq!(registry.create(record("b", 11), &[], 1, 11).await, Err(SubmitJobError::TooManyJobs { limit: 1 }));
        assert!(registry.push("a", failed(1)).await.unwrap());
        registry.finish("a", JobPhase::Done, 20, Duration::from_millis(5)).await.unwrap();
        let (ended, lines) = registry.lines("a", 0, 24).await.unwrap().unwrap();
        assert_eq!((ended.failed, ended.phase, ended.finished_ms, lines.len()), (1, JobPhase::Done, Some(20), 1));
        assert_eq!(registry.lines("a", 1, 24).await.unwrap().map(|(_, lines)| lines.len()), Some(0));
        assert_eq!(registry.record("a", 25).await.unwrap(), None, "forgotten at finished + retention");
        assert!(!registry.push("a", failed(0)).await.unwrap(), "an expired job takes no results");
        registry.create(record("b", 25), &[], 1, 25).await.unwrap();
        assert_eq!(registry.list(25).await.unwrap().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn records_and_lines_are_serialisable() {
        let line = failed(3);
        let text = serde_json::to_string(&line).unwrap();
        assert_eq!(serde_json::from_str::<ResultLine>(&text).unwrap(), line);
        let mut ended = record("x", 1);
        (ended.phase, ended.finished_ms) = (JobPhase::Cancelled, Some(2));
        let text = serde_json::to_string(&ended).unwrap();
        assert!(text.contains(r#""phase":"cancelled""#), "{text}");
        assert_eq!(serde_json::from_str::<JobRecord>(&text).unwrap(), ended);
    }

    #[tokio::test]
    async fn a_follower_wakes_for_a_new_line_and_for_the_end() {
        let registry = Arc::new(Registry::Memory(MemoryRegistry::default()));
        registry.create(record("a", 0), &[], 10, 0).await.unwrap();
        let waiting = tokio::spawn({
            let registry = registry.clone();
            async move { registry.wait("a", 0).await }
        });
        registry.push("a", failed(0)).await.unwrap();
        waiting.await.unwrap();
        registry.finish("a", JobPhase::Done, 1, Duration::from_secs(60)).await.unwrap();
        registry.wait("a", 1).await;
        registry.wait("unknown", 0).await;
    }
}
