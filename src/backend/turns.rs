//! The order in which replicas claim the tasks waiting in the shared stream: every waiting
//! task of a higher priority first, and within a priority, jobs take turns, whichever replica
//! submitted them (start-time fair queueing).
//!
//! Each task in the stream has a turn in the sorted set `wasimoff:turns`: a member
//! `{priority key}{tag}{entry id}` (all scores 0, so the set is ordered by member), where the
//! priority key sorts higher priorities first and the tag is the task's place in its job: one
//! after the job's previous task, but never before the clock `wasimoff:clock`, the tag of the
//! latest task claimed. A job's tasks thus take tags 1, 2, 3, …; a job submitted behind them
//! starts at the clock, so its first task is claimed next, not after the tasks queued before it.
//!
//! Queueing (`XADD` and `ZADD`) and claiming (`ZPOPMIN`, then `XCLAIM … FORCE`, which puts the
//! chosen entries in the consumer group's pending list as `XREADGROUP` would) are Lua scripts,
//! so each is atomic. Replicas never `XREADGROUP` new entries: that reads in stream order
//! and would deliver an entry claimed this way a second time.
//!
//! Each job's depth in the shared queue, for the cluster view, is counted in the hash
//! `wasimoff:depths`: field `{priority}:{replica}:{job}` (the submitting replica and its job
//! id), the number of the job's turns of that priority. The turn member ends with
//! `|{field}`, so the scripts that queue, claim and withdraw a turn count it up or down in the
//! same step; a field that drops to zero is deleted.

use super::PREFIX;
use super::pins::{PIN_LUA, lease_millis, pins_key};
use super::queue::{GROUP, tasks_key};
use crate::digest::Digest;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::streams::{StreamId, StreamRangeReply};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The sorted set of the waiting tasks' turns.
pub(super) fn turns_key() -> String {
    format!("{PREFIX}:turns")
}

/// The hash of the waiting tasks per job (see the module documentation).
pub(super) fn depths_key() -> String {
    format!("{PREFIX}:depths")
}

/// The tag of the latest task claimed.
fn clock_key() -> String {
    format!("{PREFIX}:clock")
}

/// Most tasks one claim takes (Lua passes them as arguments to one `XCLAIM`).
pub(super) const CLAIM_BATCH: usize = 256;

/// Adds a task to the stream and its turn, counts it in its job's depth, and pins its stored
/// module (`pins.rs`). KEYS: the stream, the turns, the clock, the depths, the pins. ARGV: the
/// task record, the priority key, the job's next tag, the job's depth field, the pin's lease,
/// the module's digest (none for an inline module). Answers the entry id, the turn and the tag.
const QUEUE_SCRIPT: &str = r"
if ARGV[6] then pin(KEYS[5], ARGV[5], ARGV[6]) end
local tag = math.max(tonumber(redis.call('GET', KEYS[3]) or '0'), tonumber(ARGV[3]))
local entry = redis.call('XADD', KEYS[1], '*', 'task', ARGV[1])
local turn = ARGV[2] .. string.format('%016x', tag) .. entry .. '|' .. ARGV[4]
redis.call('ZADD', KEYS[2], 0, turn)
redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
return {entry, turn, tag}
";

/// Lua: splits a turn's rest (after priority key and tag) into its entry id and its job's
/// depth field (none in turns queued before depths were counted), and counts the depth down.
const UNCOUNT_LUA: &str = r"
local function uncount(depths, rest)
  local bar = string.find(rest, '|', 1, true)
  if not bar then return rest end
  local field = string.sub(rest, bar + 1)
  if redis.call('HINCRBY', depths, field, -1) <= 0 then redis.call('HDEL', depths, field) end
  return string.sub(rest, 1, bar - 1)
end
";

/// Withdraws a turn and counts its job's depth down, if the turn was still waiting. KEYS: the
/// turns, the depths. ARGV: the turn.
const WITHDRAW_SCRIPT: &str = r"
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  uncount(KEYS[2], string.sub(ARGV[1], 25))
end
return 0
";

/// Claims the first waiting tasks in turn order (withdrawn ones are skipped: `XCLAIM` ignores
/// ids no longer in the stream) and moves the clock. KEYS: the stream, the turns, the clock.
/// The depths: KEYS[4]. ARGV: the group, the consumer, how many. Answers the stream's last
/// entry id (to wait for entries after it) and the claimed entries.
const CLAIM_SCRIPT: &str = r"
local wanted = tonumber(ARGV[3])
local claimed = {}
local clock = tonumber(redis.call('GET', KEYS[3]) or '0')
local moved = false
while #claimed < wanted do
  local popped = redis.call('ZPOPMIN', KEYS[2], wanted - #claimed)
  if #popped == 0 then break end
  local command = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0}
  for i = 1, #popped, 2 do
    local tag = tonumber(string.sub(popped[i], 9, 24), 16)
    if tag > clock then clock = tag; moved = true end
    command[#command + 1] = uncount(KEYS[4], string.sub(popped[i], 25))
  end
  for _, word in ipairs({'RETRYCOUNT', 1, 'FORCE'}) do command[#command + 1] = word end
  for _, entry in ipairs(redis.call(unpack(command))) do
    if entry then claimed[#claimed + 1] = entry end
  end
end
if moved then redis.call('SET', KEYS[3], string.format('%d', clock)) end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local since = '0-0'
if #last > 0 then since = last[1][1] end
return {since, claimed}
";

/// A task queued in the stream with its turn.
pub(super) struct Queued {
    /// Its entry id in the stream.
    pub(super) entry: String,
    /// Its member in the turns.
    pub(super) turn: String,
    /// Its tag.
    pub(super) tag: u64,
}

/// Sorts higher priorities first: `i32::MAX` is `00000000`, `i32::MIN` is `ffffffff`.
fn priority_key(priority: i32) -> String {
    format!("{:08x}", i64::from(i32::MAX) - i64::from(priority))
}

/// The depth field of `job` of `replica` at `priority`.
fn depth_field(priority: i32, replica: &str, job: u64) -> String {
    format!("{priority}:{replica}:{job}")
}

/// One job's tasks of one priority waiting in the shared queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SharedDepth {
    /// The replica that submitted the job.
    pub(crate) replica: String,
    /// The job's id on that replica.
    pub(crate) job: u64,
    /// The priority of these tasks.
    pub(crate) priority: i32,
    /// How many wait.
    pub(crate) waiting: usize,
}

/// Reads every job's depth in the shared queue, highest priority first.
pub(super) async fn depths(connection: &mut ConnectionManager) -> redis::RedisResult<Vec<SharedDepth>> {
    let fields: Vec<(String, i64)> = connection.hgetall(depths_key()).await?;
    let mut depths: Vec<SharedDepth> = fields
        .into_iter()
        .filter_map(|(field, waiting)| {
            let mut parts = field.splitn(3, ':');
            let priority = parts.next()?.parse().ok()?;
            let replica = parts.next()?.to_string();
            let job = parts.next()?.parse().ok()?;
            Some(SharedDepth { replica, job, priority, waiting: usize::try_from(waiting).ok().filter(|waiting| *waiting > 0)? })
        })
        .collect();
    depths.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| (&a.replica, a.job).cmp(&(&b.replica, b.job))));
    Ok(depths)
}

/// Queues `record` (a serialised task) of `job` of `replica` at `priority` with the job's next
/// `tag` (or the clock, if later), pinning its stored `module` for `lease`.
pub(super) async fn queue(
    connection: &mut ConnectionManager,
    record: Vec<u8>,
    (replica, job): (&str, u64),
    (priority, tag): (i32, u64),
    module: Option<&Digest>,
    lease: Duration,
) -> redis::RedisResult<Queued> {
    let mut script = redis::cmd("EVAL");
    script.arg(format!("{PIN_LUA}{QUEUE_SCRIPT}")).arg(5).arg(tasks_key()).arg(turns_key()).arg(clock_key()).arg(depths_key());
    script.arg(pins_key()).arg(record).arg(priority_key(priority)).arg(tag).arg(depth_field(priority, replica, job));
    script.arg(lease_millis(lease)).arg(module.map(Digest::to_string));
    let (entry, turn, tag) = script.query_async::<(String, String, u64)>(connection).await?;
    Ok(Queued { entry, turn, tag })
}

/// Withdraws a task's turn and counts it out of its job's depth (once claimed, it has no turn:
/// this does nothing).
pub(super) fn withdraw(pipe: &mut redis::Pipeline, turn: &str) {
    pipe.cmd("EVAL").arg(format!("{UNCOUNT_LUA}{WITHDRAW_SCRIPT}")).arg(2).arg(turns_key()).arg(depths_key()).arg(turn).ignore();
}

/// Claims up to `count` waiting tasks in turn order for `consumer`; answers the stream's last
/// entry id and the claimed entries.
pub(super) async fn claim(connection: &mut ConnectionManager, consumer: &str, count: usize) -> redis::RedisResult<(String, Vec<StreamId>)> {
    let (since, claimed) = redis::cmd("EVAL")
        .arg(format!("{UNCOUNT_LUA}{CLAIM_SCRIPT}"))
        .arg(4)
        .arg(tasks_key())
        .arg(turns_key())
        .arg(clock_key())
        .arg(depths_key())
        .arg(GROUP)
        .arg(consumer)
        .arg(count.min(CLAIM_BATCH))
        .query_async::<(String, StreamRangeReply)>(connection)
        .await?;
    Ok((since, claimed.ids))
}

/// The tags of this replica's jobs with tasks queued or running.
#[derive(Default)]
pub(super) struct JobTags {
    /// By job: tasks in flight, and the latest tag given.
    jobs: Mutex<HashMap<u64, (usize, u64)>>,
}

impl JobTags {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, (usize, u64)>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tag to ask for a new task of `job` (one after its latest), counting it in flight.
    pub(super) fn next(&self, job: u64) -> u64 {
        let mut jobs = self.lock();
        let (in_flight, latest) = jobs.entry(job).or_default();
        *in_flight += 1;
        *latest += 1;
        *latest
    }

    /// Records the tag a task of `job` got (later than asked for when the clock was).
    pub(super) fn got(&self, job: u64, tag: u64) {
        if let Some((_, latest)) = self.lock().get_mut(&job) {
            *latest = (*latest).max(tag);
        }
    }

    /// A task of `job` is done; a job with none in flight is forgotten (its next task starts
    /// at the clock, like a new job's).
    pub(super) fn done(&self, job: u64) {
        let mut jobs = self.lock();
        if let Some((in_flight, _)) = jobs.get_mut(&job) {
            *in_flight -= 1;
            if *in_flight == 0 {
                jobs.remove(&job);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_keys_sort_higher_priorities_first() {
        let priorities = [i32::MAX, 3, 1, 0, -1, i32::MIN];
        let keys: Vec<String> = priorities.iter().map(|priority| priority_key(*priority)).collect();
        assert_eq!(keys, ["00000000", "7ffffffc", "7ffffffe", "7fffffff", "80000000", "ffffffff"]);
    }

    #[test]
    fn a_job_is_forgotten_once_none_of_its_tasks_is_in_flight() {
        let tags = JobTags::default();
        assert_eq!((tags.next(7), tags.next(7)), (1, 2));
        tags.got(7, 10);
        assert_eq!(tags.next(7), 11, "after the clock moved it on");
        for _ in 0..3 {
            tags.done(7);
        }
        assert_eq!(tags.next(7), 1, "a job with nothing in flight starts again at the clock");
    }
}
