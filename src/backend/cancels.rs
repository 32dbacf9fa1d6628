//! Cancels across replicas: a submitter that stops waiting for a task (a dropped request, a
//! cancelled detached job) deletes its entry from the tasks stream and its turn and, in the
//! same transaction, names it on the stream `wasimoff:cancels` in case a replica claimed it. Every replica follows that
//! stream and cancels the task in its scheduler if it runs it, so its worker is told to stop
//! and the claim is released at once instead of when the task ends.

use super::queue::{RETRY_PAUSE, RedisBackend};
use super::{BLOCK_MILLISECONDS, PREFIX};
use crate::scheduler::{Scheduler, TaskId};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::streams::{StreamMaxlen, StreamReadOptions, StreamReadReply};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError, Weak};

/// The stream of cancelled task ids.
fn cancels_key() -> String {
    format!("{PREFIX}:cancels")
}

/// How many cancels the stream keeps (about): followers only read new ones.
const KEPT: usize = 10_000;

/// The claimed tasks this replica runs: their shared ids and their ids in its scheduler.
#[derive(Default)]
pub(super) struct Running(Mutex<HashMap<String, TaskId>>);

impl Running {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, TaskId>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes that shared task `task` runs here as `id`.
    pub(super) fn insert(&self, task: &str, id: TaskId) {
        self.lock().insert(task.to_string(), id);
    }

    /// Forgets shared task `task` (it ended).
    pub(super) fn remove(&self, task: &str) {
        self.lock().remove(task);
    }

    fn get(&self, task: &str) -> Option<TaskId> {
        self.lock().get(task).copied()
    }
}

/// Adds to `pipe` the cancel of shared task `task`, for whichever replica claimed it.
pub(super) fn announce(pipe: &mut redis::Pipeline, task: &str) {
    pipe.xadd_maxlen(cancels_key(), StreamMaxlen::Approx(KEPT), "*", &[("task", task)]).ignore();
}

/// Follows the cancels stream from now on and cancels the named tasks that run here. Ends
/// with the backend or the scheduler.
pub(super) async fn follow(backend: Weak<RedisBackend>, scheduler: Weak<Scheduler>, mut connection: ConnectionManager) {
    let mut last = "$".to_string();
    let options = StreamReadOptions::default().count(256).block(BLOCK_MILLISECONDS);
    loop {
        let reply: redis::RedisResult<Option<StreamReadReply>> = connection.xread_options(&[cancels_key()], &[&last], &options).await;
        let (Some(backend), Some(scheduler)) = (backend.upgrade(), scheduler.upgrade()) else { return };
        match reply {
            Ok(reply) => {
                for entry in reply.into_iter().flat_map(|reply| reply.keys).flat_map(|key| key.ids) {
                    if let Some(id) = entry.get::<String>("task").and_then(|task| backend.running.get(&task)) {
                        scheduler.cancel(id);
                    }
                    last = entry.id;
                }
            }
            Err(error) => {
                tracing::debug!(%error, "reading cancels from Redis failed; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}
