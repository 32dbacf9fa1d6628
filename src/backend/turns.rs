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

use super::PREFIX;
use super::queue::{GROUP, tasks_key};
use redis::aio::ConnectionManager;
use redis::streams::{StreamId, StreamRangeReply};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The sorted set of the waiting tasks' turns.
pub(super) fn turns_key() -> String {
    format!("{PREFIX}:turns")
}

/// The tag of the latest task claimed.
fn clock_key() -> String {
    format!("{PREFIX}:clock")
}

/// Most tasks one claim takes (Lua passes them as arguments to one `XCLAIM`).
pub(super) const CLAIM_BATCH: usize = 256;

/// Adds a task to the stream and its turn. KEYS: the stream, the turns, the clock. ARGV: the
/// task record, the priority key, the job's next tag. Answers the entry id, the turn and the tag.
const QUEUE_SCRIPT: &str = r"
local tag = math.max(tonumber(redis.call('GET', KEYS[3]) or '0'), tonumber(ARGV[3]))
local entry = redis.call('XADD', KEYS[1], '*', 'task', ARGV[1])
local turn = ARGV[2] .. string.format('%016x', tag) .. entry
redis.call('ZADD', KEYS[2], 0, turn)
return {entry, turn, tag}
";

/// Claims the first waiting tasks in turn order (withdrawn ones are skipped: `XCLAIM` ignores
/// ids no longer in the stream) and moves the clock. KEYS: the stream, the turns, the clock.
/// ARGV: the group, the consumer, how many. Answers the stream's last entry id (to wait for
/// entries after it) and the claimed entries.
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
    command[#command + 1] = string.sub(popped[i], 25)
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

/// Queues `record` (a serialised task) of `priority` with its job's next `tag` (or the clock,
/// if later).
pub(super) async fn queue(connection: &mut ConnectionManager, record: Vec<u8>, priority: i32, tag: u64) -> redis::RedisResult<Queued> {
    let (entry, turn, tag) = redis::cmd("EVAL")
        .arg(QUEUE_SCRIPT)
        .arg(3)
        .arg(tasks_key())
        .arg(turns_key())
        .arg(clock_key())
        .arg(record)
        .arg(priority_key(priority))
        .arg(tag)
        .query_async::<(String, String, u64)>(connection)
        .await?;
    Ok(Queued { entry, turn, tag })
}

/// Withdraws a task's turn (once claimed, it has none: this does nothing).
pub(super) fn withdraw(pipe: &mut redis::Pipeline, turn: &str) {
    pipe.zrem(turns_key(), turn).ignore();
}

/// Claims up to `count` waiting tasks in turn order for `consumer`; answers the stream's last
/// entry id and the claimed entries.
pub(super) async fn claim(connection: &mut ConnectionManager, consumer: &str, count: usize) -> redis::RedisResult<(String, Vec<StreamId>)> {
    let (since, claimed) = redis::cmd("EVAL")
        .arg(CLAIM_SCRIPT)
        .arg(3)
        .arg(tasks_key())
        .arg(turns_key())
        .arg(clock_key())
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
