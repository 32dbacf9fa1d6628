//! Detached jobs in Redis, shared by every replica on it: any replica answers for any job, and
//! a job whose replica died is taken over by another and completed.
//!
//! Keys (all under `wasimoff:`):
//! - `job:{id}`, a hash: `tasks`, `done`, `failed`, `phase`, `created_ms`, `finished_ms`, the
//!   `driver` (the replica that runs it) and `cancel` (set by a replica asked to cancel a job
//!   another one drives);
//! - `job:{id}:results`, a list of JSON [`ResultLine`]s in the order they finished, and
//!   `job:{id}:indices`, a hash of the task indices that have a result: a task keeps its first
//!   result, so every task has exactly one, also across a take-over;
//! - `job:{id}:spec`, the job's tasks as JSON (stored files named by digest), for a take-over;
//! - `job:{id}:lease`, the driver's lease, renewed by its heartbeat
//!   ([`Limits::claim_timeout`](crate::Limits::claim_timeout) long);
//! - `jobs`, a sorted set of the ids by creation time, for listing and for counting against
//!   [`Limits::max_detached_jobs`](crate::Limits::max_detached_jobs).
//!
//! Every change is one Lua script, so replicas never see half of one: creating checks the
//! job count and writes the job; a result is recorded only by the job's current driver while
//! the job runs; the end sets `phase` and `finished_ms` and an expiry of the retention on the
//! job's keys, so Redis itself forgets the job; the sorted set is trimmed of ids whose hash is
//! gone when a job is created. A replica's take-over scan makes it the driver of every running
//! job whose lease lapsed; it runs the tasks that have no result yet (a task the dead replica
//! had handed out may run twice; only its first result counts).
//!
//! Followers on the driving replica wake as soon as a result is recorded; elsewhere they poll
//! every [`POLL`].

use super::SubmitJobError;
use super::registry::{JobPhase, JobRecord, Lease, ResultLine};
use crate::task::{Task, TaskError, TaskErrorKind};
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// The prefix of a job's keys.
const JOB: &str = "wasimoff:job:";

/// The sorted set of job ids by creation time.
const INDEX: &str = "wasimoff:jobs";

/// How often a follower on a replica that does not drive the job looks for news.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// The longest pause between a driver's heartbeats: it also bounds how long a cancel asked on
/// another replica takes to reach the driver.
const HEARTBEAT: Duration = Duration::from_millis(250);

/// Checks the job count, trims ids whose job expired, and writes a new job with its lease.
const CREATE: &str = r"
local live = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', ARGV[1] .. id) == 1 then live = live + 1 else redis.call('ZREM', KEYS[1], id) end
end
if live >= tonumber(ARGV[2]) then return 0 end
local key = ARGV[1] .. ARGV[3]
redis.call('HSET', key, 'tasks', ARGV[4], 'done', 0, 'failed', 0, 'phase', 'running', 'created_ms', ARGV[5], 'driver', ARGV[6])
redis.call('SET', key .. ':lease', ARGV[6], 'PX', ARGV[7])
redis.call('SET', key .. ':spec', ARGV[8])
redis.call('ZADD', KEYS[1], ARGV[5], ARGV[3])
return 1
";

/// Records a result if the caller drives the running job and the task has none yet;
/// answers 0 when the caller does not drive it (any more).
const PUSH: &str = r"
if redis.call('HGET', KEYS[1], 'driver') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'phase') ~= 'running' then return 0 end
if redis.call('HSETNX', KEYS[1] .. ':indices', ARGV[2], 1) == 1 then
  redis.call('RPUSH', KEYS[1] .. ':results', ARGV[4])
  redis.call('HINCRBY', KEYS[1], ARGV[3], 1)
end
return 1
";

/// Ends the job if the caller drives it: its keys expire after the retention.
const FINISH: &str = r"
if redis.call('HGET', KEYS[1], 'driver') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'phase') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'phase', ARGV[2], 'finished_ms', ARGV[3])
redis.call('HDEL', KEYS[1], 'cancel')
redis.call('DEL', KEYS[1] .. ':lease', KEYS[1] .. ':spec')
for _, key in ipairs({KEYS[1], KEYS[1] .. ':results', KEYS[1] .. ':indices'}) do redis.call('PEXPIRE', key, ARGV[4]) end
return 1
";

/// Renews the caller's lease: -1 when it does not drive the running job, 1 when a cancel
/// was asked for, 0 otherwise.
const HEARTBEAT_SCRIPT: &str = r"
if redis.call('HGET', KEYS[1], 'driver') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'phase') ~= 'running' then return -1 end
redis.call('SET', KEYS[1] .. ':lease', ARGV[1], 'PX', ARGV[2])
return redis.call('HEXISTS', KEYS[1], 'cancel')
";

/// Asks the driver of a running job to cancel it.
const CANCEL: &str = r"
if redis.call('HGET', KEYS[1], 'phase') == 'running' then redis.call('HSET', KEYS[1], 'cancel', 1) end
return 0
";

/// Makes the caller the driver of every running job whose lease lapsed; answers their ids.
const TAKE_OVER: &str = r"
local taken = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[1] .. id
  if redis.call('HGET', key, 'phase') == 'running' and redis.call('EXISTS', key .. ':lease') == 0 then
    redis.call('HSET', key, 'driver', ARGV[2])
    redis.call('SET', key .. ':lease', ARGV[2], 'PX', ARGV[3])
    table.insert(taken, id)
  end
end
return taken
";

/// A running job this replica took over from one that stopped renewing its lease.
pub(crate) struct Orphan {
    /// Its record.
    pub(crate) record: JobRecord,
    /// All its tasks, in job order.
    pub(crate) tasks: Vec<Task>,
    /// The indices of the tasks that have a result already.
    pub(crate) finished: Vec<usize>,
}

/// Detached jobs in Redis; see the module documentation.
pub(crate) struct RedisRegistry {
    commands: ConnectionManager,
    /// This replica's id, as a job's `driver`.
    replica: String,
    /// How long a driver's lease lasts without a heartbeat.
    lease: Duration,
    /// A counter per job this replica drives, bumped with every change, for followers here.
    changes: Mutex<HashMap<String, watch::Sender<u64>>>,
}

fn unavailable(error: &redis::RedisError) -> TaskError {
    TaskError::new(TaskErrorKind::BackendUnavailable, crate::backend::unavailable(error))
}

fn internal(what: &str, error: impl std::fmt::Display) -> TaskError {
    TaskError::new(TaskErrorKind::Internal, format!("{what}: {error}"))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn phase_name(phase: JobPhase) -> &'static str {
    match phase {
        JobPhase::Running => "running",
        JobPhase::Done => "done",
        JobPhase::Cancelled => "cancelled",
    }
}

/// A job's record from the fields of its hash; `None` for a missing or malformed hash.
fn parse_record(id: &str, fields: &HashMap<String, String>) -> Option<JobRecord> {
    let number = |name: &str| fields.get(name).and_then(|value| value.parse::<u64>().ok());
    let count = |name: &str| number(name).and_then(|value| usize::try_from(value).ok());
    let phase = match fields.get("phase")?.as_str() {
        "running" => JobPhase::Running,
        "done" => JobPhase::Done,
        "cancelled" => JobPhase::Cancelled,
        _ => return None,
    };
    Some(JobRecord {
        id: id.to_string(),
        tasks: count("tasks")?,
        done: count("done")?,
        failed: count("failed")?,
        phase,
        created_ms: number("created_ms")?,
        finished_ms: number("finished_ms"),
    })
}

fn parse_lines(encoded: &[String]) -> Result<Vec<Arc<ResultLine>>, TaskError> {
    encoded.iter().map(|line| serde_json::from_str(line).map(Arc::new).map_err(|e| internal("a stored result is unreadable", e))).collect()
}

impl RedisRegistry {
    /// The registry of replica `replica`, whose driver leases last `lease`.
    pub(crate) fn new(commands: ConnectionManager, replica: String, lease: Duration) -> RedisRegistry {
        RedisRegistry { commands, replica, lease, changes: Mutex::default() }
    }

    fn changes(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<u64>>> {
        self.changes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self, id: &str) {
        if let Some(changes) = self.changes().get(id) {
            changes.send_modify(|count| *count += 1);
        }
    }

    fn drives(&self, id: &str) {
        self.changes().entry(id.to_string()).or_insert_with(|| watch::channel(0).0);
    }

    pub(crate) async fn create(&self, record: JobRecord, tasks: &[Task], limit: usize) -> Result<(), SubmitJobError> {
        let spec = serde_json::to_string(tasks).map_err(|e| internal("cannot encode the job", e))?;
        let created: i64 = redis::Script::new(CREATE)
            .key(INDEX)
            .arg(JOB)
            .arg(limit)
            .arg(&record.id)
            .arg(record.tasks)
            .arg(record.created_ms)
            .arg(&self.replica)
            .arg(millis(self.lease))
            .arg(spec)
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        if created == 0 {
            return Err(SubmitJobError::TooManyJobs { limit });
        }
        self.drives(&record.id);
        Ok(())
    }

    pub(crate) async fn record(&self, id: &str) -> Result<Option<JobRecord>, TaskError> {
        let fields: HashMap<String, String> =
            redis::cmd("HGETALL").arg(format!("{JOB}{id}")).query_async(&mut self.commands.clone()).await.map_err(|e| unavailable(&e))?;
        Ok(parse_record(id, &fields))
    }

    pub(crate) async fn push(&self, id: &str, line: &ResultLine) -> Result<bool, TaskError> {
        let counter = match line.result.outcome {
            wasimoff_protocol::Outcome::Exited { .. } => "done",
            wasimoff_protocol::Outcome::Failed { .. } => "failed",
        };
        let encoded = serde_json::to_string(line).map_err(|e| internal("cannot encode a result", e))?;
        let recorded: i64 = redis::Script::new(PUSH)
            .key(format!("{JOB}{id}"))
            .arg(&self.replica)
            .arg(line.index)
            .arg(counter)
            .arg(encoded)
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        self.changed(id);
        Ok(recorded == 1)
    }

    pub(crate) async fn finish(&self, id: &str, phase: JobPhase, now_ms: u64, retention: Duration) -> Result<(), TaskError> {
        let _: i64 = redis::Script::new(FINISH)
            .key(format!("{JOB}{id}"))
            .arg(&self.replica)
            .arg(phase_name(phase))
            .arg(now_ms)
            .arg(millis(retention).max(1))
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        if let Some(changes) = self.changes().remove(id) {
            changes.send_modify(|count| *count += 1);
        }
        Ok(())
    }

    pub(crate) async fn lines(&self, id: &str, from: usize) -> Result<Option<(JobRecord, Vec<Arc<ResultLine>>)>, TaskError> {
        let key = format!("{JOB}{id}");
        let start = isize::try_from(from).unwrap_or(isize::MAX);
        let (fields, encoded): (HashMap<String, String>, Vec<String>) = redis::pipe()
            .atomic()
            .hgetall(&key)
            .lrange(format!("{key}:results"), start, -1)
            .query_async(&mut self.commands.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        let Some(record) = parse_record(id, &fields) else { return Ok(None) };
        Ok(Some((record, parse_lines(&encoded)?)))
    }

    pub(crate) async fn wait(&self, id: &str) {
        let changes = self.changes().get(id).map(watch::Sender::subscribe);
        match changes {
            Some(mut changes) => {
                let _ = tokio::time::timeout(POLL, changes.changed()).await;
            }
            None => tokio::time::sleep(POLL).await,
        }
    }

    pub(crate) async fn list(&self) -> Result<Vec<JobRecord>, TaskError> {
        let mut commands = self.commands.clone();
        let ids: Vec<String> =
            redis::cmd("ZRANGE").arg(INDEX).arg(0).arg(-1).query_async(&mut commands).await.map_err(|e| unavailable(&e))?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(format!("{JOB}{id}"));
        }
        let all: Vec<HashMap<String, String>> = pipe.query_async(&mut commands).await.map_err(|e| unavailable(&e))?;
        let mut records: Vec<JobRecord> = ids.iter().zip(&all).filter_map(|(id, fields)| parse_record(id, fields)).collect();
        records.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(records)
    }

    pub(crate) fn heartbeat_interval(&self) -> Duration {
        (self.lease / 3).min(HEARTBEAT)
    }

    pub(crate) async fn heartbeat(&self, id: &str) -> Result<Lease, TaskError> {
        let answer: i64 = redis::Script::new(HEARTBEAT_SCRIPT)
            .key(format!("{JOB}{id}"))
            .arg(&self.replica)
            .arg(millis(self.lease))
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(match answer {
            1 => Lease::Cancel,
            0 => Lease::Held,
            _ => Lease::Lost,
        })
    }

    pub(crate) async fn request_cancel(&self, id: &str) -> Result<(), TaskError> {
        let _: i64 = redis::Script::new(CANCEL)
            .key(format!("{JOB}{id}"))
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(())
    }

    pub(crate) async fn take_over(&self) -> Result<Vec<Orphan>, TaskError> {
        let mut commands = self.commands.clone();
        let taken: Vec<String> = redis::Script::new(TAKE_OVER)
            .key(INDEX)
            .arg(JOB)
            .arg(&self.replica)
            .arg(millis(self.lease))
            .invoke_async(&mut commands)
            .await
            .map_err(|e| unavailable(&e))?;
        let mut orphans = Vec::with_capacity(taken.len());
        for id in &taken {
            let key = format!("{JOB}{id}");
            let (fields, spec, finished): (HashMap<String, String>, Option<String>, Vec<usize>) = redis::pipe()
                .hgetall(&key)
                .get(format!("{key}:spec"))
                .hkeys(format!("{key}:indices"))
                .query_async(&mut commands)
                .await
                .map_err(|e| unavailable(&e))?;
            let (Some(record), Some(spec)) = (parse_record(id, &fields), spec) else { continue };
            let tasks: Vec<Task> = match serde_json::from_str(&spec) {
                Ok(tasks) => tasks,
                Err(error) => {
                    tracing::warn!(job = %id, %error, "a detached job's stored tasks are unreadable; it stays unfinished");
                    continue;
                }
            };
            self.drives(id);
            orphans.push(Orphan { record, tasks, finished });
        }
        Ok(orphans)
    }
}
