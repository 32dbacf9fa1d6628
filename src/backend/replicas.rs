//! The cluster view across replicas: each replica writes its providers under
//! `wasimoff:replica:{replica}` with a time to live, lists itself in the set
//! `wasimoff:replicas`, and reads every other listed replica's, and how many tasks wait in the
//! shared queue (the turns of `turns.rs`).

use super::PREFIX;
use super::queue::RedisBackend;
use super::turns::turns_key;
use crate::cluster::ProviderState;
use redis::AsyncCommands;
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
    waiting: AtomicUsize,
}

impl Peers {
    /// The providers, each marked with its replica.
    pub(crate) fn providers(&self) -> Vec<ProviderState> {
        self.providers.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Tasks waiting in the shared queue, claimed by no replica yet.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    fn set(&self, providers: Vec<ProviderState>) {
        *self.providers.lock().unwrap_or_else(PoisonError::into_inner) = providers;
    }
}

/// Writes `providers()` under this replica's key and reads the other replicas', every
/// [`PUBLISH_PERIOD`]. Ends with the backend.
pub(super) async fn publish(backend: Weak<RedisBackend>, providers: impl Fn() -> Vec<ProviderState> + Send + 'static) {
    loop {
        let Some(backend) = backend.upgrade() else { return };
        if let Err(error) = exchange(&backend, providers()).await {
            tracing::debug!(%error, "exchanging the replicas' providers through Redis failed");
        }
        drop(backend);
        tokio::time::sleep(PUBLISH_PERIOD).await;
    }
}

/// Writes `mine` under this replica's key, lists it in the set of replicas, reads the depth of
/// the shared queue and the others' providers (dropping replicas whose key expired from the
/// set).
async fn exchange(backend: &RedisBackend, mine: Vec<ProviderState>) -> redis::RedisResult<()> {
    let mut connection = backend.commands.clone();
    let mine = serde_json::to_vec(&mine).unwrap_or_default();
    let mut pipe = redis::pipe();
    pipe.set_ex(replica_key(&backend.replica), mine, REPLICA_TTL_SECONDS).ignore().sadd(replicas_key(), &backend.replica).ignore();
    pipe.query_async::<()>(&mut connection).await?;
    let waiting: usize = connection.zcard(turns_key()).await?;
    backend.peers.waiting.store(waiting, Ordering::Relaxed);
    let replicas: Vec<String> = connection.smembers(replicas_key()).await?;
    let others: Vec<String> = replicas.into_iter().filter(|replica| *replica != backend.replica).collect();
    if others.is_empty() {
        backend.peers.set(Vec::new());
        return Ok(());
    }
    let keys: Vec<String> = others.iter().map(|replica| replica_key(replica)).collect();
    let values: Vec<Option<Vec<u8>>> = connection.mget(&keys).await?;
    let mut peers = Vec::new();
    for (replica, value) in others.into_iter().zip(values) {
        match value {
            Some(value) => {
                let listed: Vec<ProviderState> = serde_json::from_slice(&value).unwrap_or_default();
                peers.extend(listed.into_iter().map(|provider| ProviderState { replica: Some(replica.clone()), ..provider }));
            }
            None => {
                let _: redis::RedisResult<usize> = connection.srem(replicas_key(), &replica).await;
            }
        }
    }
    backend.peers.set(peers);
    Ok(())
}
