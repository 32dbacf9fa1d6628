//! Where detached jobs are kept: [`Registry`], the seam between the jobs' logic and their
//! storage, with one backend today, [`MemoryRegistry`]. Everything it holds is a serialisable
//! record ([`JobRecord`], [`ResultLine`]), so a shared backend can store the same values.
//!
//! A Redis backend maps onto it as: one hash per job, `job:{id}`, with the [`JobRecord`]
//! fields (`HSET` on create, `HINCRBY` of `done`/`failed` with each result, `HSET` of `phase`
//! and `finished_ms` at the end); one stream of result lines per job, `job:{id}:results`
//! (`XADD` of the MessagePack [`ResultLine`]; [`Registry::lines`] is `XRANGE` from the
//! position a reader has reached and [`Registry::wait`] is `XREAD BLOCK` on it, or a
//! subscription to a `job:{id}:changed` channel); a sorted set `jobs` of the ids by creation
//! time for [`Registry::list`] and for counting against `max_detached_jobs` (one Lua script
//! checks the count and creates the hash, so replicas cannot overshoot); and `EXPIRE` on both
//! keys of a job set to the retention when it ends, so Redis itself forgets it (the sorted set
//! is trimmed of ids whose hash is gone when it is read). Cancelling from a replica that does
//! not drive the job is `HSET job:{id} cancel 1` plus a `PUBLISH` the driving replica listens
//! for.

use crate::scheduler::TaskResult;
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

/// The job limit ([`Limits::max_detached_jobs`](crate::Limits::max_detached_jobs)) is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RegistryFull;

/// Where detached jobs are kept; see the module documentation.
pub(crate) enum Registry {
    /// In this process.
    Memory(MemoryRegistry),
}

impl Registry {
    /// Adds a new job unless `limit` jobs are kept already (after forgetting expired ones).
    pub(crate) fn create(&self, record: JobRecord, limit: usize, now_ms: u64) -> Result<(), RegistryFull> {
        match self {
            Registry::Memory(memory) => memory.create(record, limit, now_ms),
        }
    }

    /// The job's record, unless there is none or it expired.
    pub(crate) fn record(&self, id: &str, now_ms: u64) -> Option<JobRecord> {
        match self {
            Registry::Memory(memory) => memory.record(id, now_ms),
        }
    }

    /// Appends a finished task's result to its job.
    pub(crate) fn push(&self, id: &str, line: ResultLine) {
        match self {
            Registry::Memory(memory) => memory.push(id, line),
        }
    }

    /// Marks the job ended; it is forgotten `retention` later.
    pub(crate) fn finish(&self, id: &str, phase: JobPhase, now_ms: u64, retention: Duration) {
        match self {
            Registry::Memory(memory) => memory.finish(id, phase, now_ms, retention),
        }
    }

    /// The job's record and its result lines from position `from` on (in the order they
    /// finished), unless the job is unknown or expired.
    pub(crate) fn lines(&self, id: &str, from: usize, now_ms: u64) -> Option<(JobRecord, Vec<Arc<ResultLine>>)> {
        match self {
            Registry::Memory(memory) => memory.lines(id, from, now_ms),
        }
    }

    /// Waits until the job has more lines than `seen` or ends; returns at once if it has or
    /// did, or is unknown.
    pub(crate) async fn wait(&self, id: &str, seen: usize) {
        match self {
            Registry::Memory(memory) => memory.wait(id, seen).await,
        }
    }

    /// Every job kept, oldest first.
    pub(crate) fn list(&self, now_ms: u64) -> Vec<JobRecord> {
        match self {
            Registry::Memory(memory) => memory.list(now_ms),
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

    fn create(&self, record: JobRecord, limit: usize, now_ms: u64) -> Result<(), RegistryFull> {
        let mut jobs = self.lock(now_ms);
        if jobs.len() >= limit {
            return Err(RegistryFull);
        }
        let (progress, _) = watch::channel((0, false));
        jobs.insert(record.id.clone(), Entry { record, expires_ms: None, lines: Vec::new(), progress });
        Ok(())
    }

    fn record(&self, id: &str, now_ms: u64) -> Option<JobRecord> {
        self.lock(now_ms).get(id).map(|entry| entry.record.clone())
    }

    fn push(&self, id: &str, line: ResultLine) {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = jobs.get_mut(id) {
            match &line.result.outcome {
                wasimoff_protocol::Outcome::Exited { .. } => entry.record.done += 1,
                wasimoff_protocol::Outcome::Failed { .. } => entry.record.failed += 1,
            }
            entry.lines.push(Arc::new(line));
            entry.progress.send_replace((entry.lines.len(), false));
        }
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

    #[test]
    fn jobs_count_against_the_limit_until_they_expire() {
        let registry = Registry::Memory(MemoryRegistry::default());
        registry.create(record("a", 10), 1, 10).unwrap();
        assert_eq!(registry.create(record("b", 11), 1, 11), Err(RegistryFull));
        registry.push("a", failed(1));
        registry.finish("a", JobPhase::Done, 20, Duration::from_millis(5));
        let (ended, lines) = registry.lines("a", 0, 24).unwrap();
        assert_eq!((ended.failed, ended.phase, ended.finished_ms, lines.len()), (1, JobPhase::Done, Some(20), 1));
        assert_eq!(registry.lines("a", 1, 24).map(|(_, lines)| lines.len()), Some(0));
        assert_eq!(registry.record("a", 25), None, "forgotten at finished + retention");
        registry.create(record("b", 25), 1, 25).unwrap();
        assert_eq!(registry.list(25).iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["b"]);
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
        registry.create(record("a", 0), 10, 0).unwrap();
        let waiting = tokio::spawn({
            let registry = registry.clone();
            async move { registry.wait("a", 0).await }
        });
        registry.push("a", failed(0));
        waiting.await.unwrap();
        registry.finish("a", JobPhase::Done, 1, Duration::from_secs(60));
        registry.wait("a", 1).await;
        registry.wait("unknown", 0).await;
    }
}
