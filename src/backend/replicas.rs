//! The cluster view across replicas: each replica writes its providers (and its local
//! runner's usable slots, for the job window) under `wasimoff:replica:{replica}` with a time
//! to live, lists itself in the set `wasimoff:replicas`, and reads every other listed
//! replica's, how many tasks wait in the shared queue (the turns of `turns.rs`) and how many
//! of them each job has (its depth).

use super::PREFIX;
use super::queue::RedisBackend;
use super::turns::{self, SharedDepth, turns_key};
use crate::cluster::{JobState, ProviderState};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, Weak};
use std::time::Duration;

/// How often a replica writes its providers and reads the others'.
const PUBLISH_PERIOD: Duration = Duration::from_secs(2);

/// How long a replica's providers stay listed after its last write.
const REPLICA_TTL_SECONDS: u64 = 10;

fn replica_key(replica: &str) -> String {
    format!("{PREFIX}:replica:{replica}")
}

/// The set of replicas that wrote their providers.
fn replicas_key() -> String {
    format!("{PREFIX}:replicas")
}

/// The other replicas' providers and the tasks waiting in the shared queue, as last read.
#[derive(Default)]
pub(crate) struct Peers {
    providers: Mutex<Vec<ProviderState>>,
    local_slots: AtomicUsize,
    waiting: AtomicUsize,
    depths: Mutex<Vec<SharedDepth>>,
}

impl Peers {
    /// The providers, each marked with its replica.
    pub(crate) fn providers(&self) -> Vec<ProviderState> {
        self.providers.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Usable slots of the other replicas' local runners.
    pub(crate) fn local_slots(&self) -> usize {
        self.local_slots.load(Ordering::Relaxed)
    }

    /// Tasks waiting in the shared queue, claimed by no replica yet.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Each job's tasks waiting in the shared queue, highest priority first.
    pub(crate) fn depths(&self) -> Vec<SharedDepth> {
        self.depths.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn set(&self, providers: Vec<ProviderState>) {
        *self.providers.lock().unwrap_or_else(PoisonError::into_inner) = providers;
    }
}

/// What a replica publishes under its key: its providers and its local runner's usable slots.
#[derive(Serialize, Deserialize)]
struct Published {
    providers: Vec<ProviderState>,
    local_slots: usize,
}

/// Writes `mine()` (providers, usable local slots) under this replica's key and reads the
/// other replicas', every [`PUBLISH_PERIOD`]. Ends with the backend.
pub(super) async fn publish(backend: Weak<RedisBackend>, mine: impl Fn() -> (Vec<ProviderState>, usize) + Send + 'static) {
    loop {
        let Some(backend) = backend.upgrade() else { return };
        let (providers, local_slots) = mine();
        if let Err(error) = exchange(&backend, Published { providers, local_slots }).await {
            tracing::debug!(%error, "exchanging the replicas' providers through Redis failed");
        }
        drop(backend);
        tokio::time::sleep(PUBLISH_PERIOD).await;
    }
}

/// Writes `mine` under this replica's key, lists it in the set of replicas, reads the depth of
/// the shared queue (in all and by job) and the others' providers (dropping replicas whose key
/// expired from the set).
async fn exchange(backend: &RedisBackend, mine: Published) -> redis::RedisResult<()> {
    let mut connection = backend.commands.clone();
    let mine = serde_json::to_vec(&mine).unwrap_or_default();
    let mut pipe = redis::pipe();
    pipe.set_ex(replica_key(&backend.replica), mine, REPLICA_TTL_SECONDS).ignore().sadd(replicas_key(), &backend.replica).ignore();
    pipe.query_async::<()>(&mut connection).await?;
    let waiting: usize = connection.zcard(turns_key()).await?;
    backend.peers.waiting.store(waiting, Ordering::Relaxed);
    let depths = turns::depths(&mut connection).await?;
    *backend.peers.depths.lock().unwrap_or_else(PoisonError::into_inner) = depths;
    let replicas: Vec<String> = connection.smembers(replicas_key()).await?;
    let others: Vec<String> = replicas.into_iter().filter(|replica| *replica != backend.replica).collect();
    if others.is_empty() {
        backend.peers.set(Vec::new());
        backend.peers.local_slots.store(0, Ordering::Relaxed);
        return Ok(());
    }
    let keys: Vec<String> = others.iter().map(|replica| replica_key(replica)).collect();
    let values: Vec<Option<Vec<u8>>> = connection.mget(&keys).await?;
    let (mut peers, mut local_slots) = (Vec::new(), 0);
    for (replica, value) in others.into_iter().zip(values) {
        match value {
            Some(value) => {
                let Ok(listed) = serde_json::from_slice::<Published>(&value) else {
                    tracing::debug!(%replica, "a replica's published providers are not readable; skipped");
                    continue;
                };
                local_slots += listed.local_slots;
                peers.extend(listed.providers.into_iter().map(|provider| ProviderState { replica: Some(replica.clone()), ..provider }));
            }
            None => {
                let _: redis::RedisResult<usize> = connection.srem(replicas_key(), &replica).await;
            }
        }
    }
    backend.peers.set(peers);
    backend.peers.local_slots.store(local_slots, Ordering::Relaxed);
    Ok(())
}

impl RedisBackend {
    /// The cluster's jobs as this replica sees them: `local` (its scheduler's jobs, which are
    /// the tasks it claimed) named by their submitter's replica and job id, each with its tasks
    /// waiting in the shared queue added to `queued`, then the jobs with tasks only in the shared
    /// queue; highest priority first.
    pub(crate) fn jobs(&self, local: Vec<JobState>) -> Vec<JobState> {
        merge(local, &self.claims.submitters(), self.peers.depths())
    }
}

/// See [`RedisBackend::jobs`]: `submitters` names local jobs, `depths` are the shared queue's.
fn merge(local: Vec<JobState>, submitters: &HashMap<u64, (String, u64)>, depths: Vec<SharedDepth>) -> Vec<JobState> {
    let mut waiting: HashMap<(String, u64, i32), usize> =
        depths.iter().map(|depth| ((depth.replica.clone(), depth.job, depth.priority), depth.waiting)).collect();
    let mut jobs: Vec<JobState> = local
        .into_iter()
        .map(|state| match submitters.get(&state.job) {
            Some((replica, job)) => {
                let shared = waiting.remove(&(replica.clone(), *job, state.priority)).unwrap_or_default();
                JobState { job: *job, replica: Some(replica.clone()), queued: state.queued + shared, ..state }
            }
            None => state,
        })
        .collect();
    for depth in depths {
        if let Some(queued) = waiting.remove(&(depth.replica.clone(), depth.job, depth.priority)) {
            jobs.push(JobState { job: depth.job, priority: depth.priority, queued, running: 0, replica: Some(depth.replica) });
        }
    }
    jobs.sort_by_key(|state| std::cmp::Reverse(state.priority));
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(replica: &str, job: u64, priority: i32, waiting: usize) -> SharedDepth {
        SharedDepth { replica: replica.into(), job, priority, waiting }
    }

    fn state(job: u64, replica: Option<&str>, priority: i32, queued: usize, running: usize) -> JobState {
        JobState { job, priority, queued, running, replica: replica.map(str::to_string) }
    }

    #[test]
    fn claimed_jobs_are_named_by_their_submitter_and_count_their_shared_depth() {
        let local = vec![state(1, None, 0, 2, 3), state(2, None, 5, 0, 1)];
        let submitters = HashMap::from([(1, ("a".to_string(), 7)), (2, ("b".to_string(), 7))]);
        let depths = vec![depth("b", 9, 9, 4), depth("a", 7, 0, 10), depth("a", 8, 0, 6)];
        assert_eq!(
            merge(local, &submitters, depths),
            [state(9, Some("b"), 9, 4, 0), state(7, Some("b"), 5, 0, 1), state(7, Some("a"), 0, 12, 3), state(8, Some("a"), 0, 6, 0)]
        );
    }
}
