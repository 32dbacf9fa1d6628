//! Where a broker keeps what several replicas of a host app share: the in-memory backend (the
//! embedded default: nothing is shared) or Redis ([`Backend::Redis`]).
//!
//! # The Redis backend
//!
//! The scheduler stays pure and per replica: it dispatches to this replica's providers and
//! local runner exactly as without Redis. Redis sits in front of it and behind the store:
//!
//! - **Files** (`files.rs`): blobs under `wasimoff:blob:{digest}` (content-addressed, written
//!   before any alias names them), aliases in the hash `wasimoff:aliases`. The local store is a
//!   cache in front of Redis: an alias is always looked up in Redis (aliases move), content
//!   that is not cached locally is fetched once and cached; compiled modules stay cached per
//!   replica. A file uploaded on one replica runs on every other. The blobs stay within
//!   [`Limits::store_bytes`](crate::Limits::store_bytes), accounted in Redis (sizes, their
//!   sum, last uses) and evicted least recently used first by the upload's Lua script; blobs
//!   that an alias names or a pin holds are kept, and an upload that cannot fit is refused
//!   with `store_full` as the local store refuses it.
//! - **Pins** (`pins.rs`): a task's stored module is pinned in the sorted set `wasimoff:pins`
//!   until a time (Redis's clock): pinned for [`Limits::claim_timeout`](crate::Limits::claim_timeout)
//!   when the task is queued, and renewed every third of it by the replica that submitted
//!   the task while it waits for the result and by the replica that claimed it while it runs.
//!   Pins only expire, never get deleted: a replica that dies stops renewing, so it cannot pin
//!   a blob for longer than one claim timeout.
//! - **Tasks** (`queue.rs`, `claim.rs`): a submitted task, prepared (references resolved to
//!   digests, inputs loaded) and serialised as MessagePack with the submitting replica's id,
//!   is `XADD`ed to the stream `wasimoff:tasks`, claimed through one consumer group in which
//!   every replica is a consumer. A replica's claim loop claims only as many tasks as its
//!   scheduler has room for — its providers' free slots (workers and prefetch), plus its local
//!   runner's when the fallback policy lets it run tasks — so work flows to where the workers
//!   are, and pushes them into its own scheduler. Task ids are `{replica}-{counter}`, unique
//!   across replicas.
//! - **Results**: when a claimed task ends, its result is `XADD`ed to the submitting replica's
//!   stream `wasimoff:results:{replica}` and the task's entry is `XACK`ed and `XDEL`ed, in one
//!   `MULTI` transaction (retried until Redis answers). The submitter reads its results stream
//!   and completes the waiting client; a second result for the same task id (a task taken over
//!   from a replica presumed dead that was still alive) is ignored, so every task has exactly
//!   one result. A stream rather than pub/sub: a result written while the submitter's
//!   connection is down waits for it.
//! - **Cancels** (`cancels.rs`): a submitter that stops waiting for a task deletes its entry
//!   and names the task on the stream `wasimoff:cancels`; the replica that claimed it (if
//!   any) cancels it in its scheduler, so the worker stops and the claim is released.
//! - **Replica death**: a replica refreshes its claimed entries (`XCLAIM … JUSTID`) every
//!   third of [`Limits::claim_timeout`](crate::Limits::claim_timeout); the entries of a
//!   replica that stopped doing so are taken over by another replica's `XAUTOCLAIM` once they
//!   have been idle that long. An entry delivered more than
//!   [`MAX_DELIVERIES`](claim::MAX_DELIVERIES) times fails with `internal` instead of running
//!   again.
//! - **Cluster view** (`replicas.rs`): every replica writes its providers under
//!   `wasimoff:replica:{replica}` with a time to live, refreshed; the cluster view lists the
//!   providers of every live replica, each marked with its replica. Each job's depth in the
//!   shared queue is counted in the hash `wasimoff:depths` by the same scripts that queue,
//!   claim and withdraw its turns (`turns.rs`), and read with the total every 2 s, so every
//!   replica lists every job of the cluster (named by its submitting replica and its job id
//!   there) with its waiting tasks, plus what it claimed of it.
//! - **Failure**: Redis unreachable at [`Builder::build`](crate::Builder::build) is
//!   [`BuildError::Backend`](crate::BuildError::Backend). Lost while running, client calls
//!   that need it (uploads, file lookups, submissions) fail with `503 backend_unavailable`;
//!   the host's own routes are not affected; the connections reconnect by themselves
//!   (`ConnectionManager`), and results of tasks that finished meanwhile are delivered once
//!   Redis is back, so nothing acknowledged is lost (with Redis's AOF on, not even across a
//!   Redis restart).
//!
//! - **Shutdown**: [`Wasimoff::shutdown`](crate::Wasimoff::shutdown) stops claiming once the
//!   replica's own submissions are done and waits until the tasks it claimed have delivered.
//!
//! - **Fair sharing** (`turns.rs`): replicas claim waiting tasks not in stream order but by
//!   priority, and within a priority jobs take turns across replicas (start-time fair
//!   queueing over a shared sorted set); each replica's scheduler then serves the jobs it
//!   claimed round-robin by priority, as without Redis.
//!
//! The client is the `redis` crate: the most used Redis client for Rust, with typed Streams
//! commands (`XAUTOCLAIM`, `XCLAIM`, `XPENDING`) plus Lua scripts and a `ConnectionManager` that reconnects
//! by itself; `fred` would do as well but brings more than this needs.

mod cancels;
mod claim;
mod files;
mod pins;
mod queue;
mod replicas;
mod turns;

pub(crate) use claim::Capacity;
pub(crate) use files::SharedFiles;
pub(crate) use queue::RedisBackend;

/// Where the broker keeps its queue, files and results; see [`Builder::backend`](crate::Builder::backend).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// In this process only. The default.
    #[default]
    Memory,
    /// In Redis at this URL (`redis://host:port/db`), shared with every replica that uses it.
    Redis(String),
}

/// The key prefix of everything the broker keeps in Redis.
const PREFIX: &str = "wasimoff";

/// Why a Redis call failed, as the message of a `backend_unavailable` error.
pub(crate) fn unavailable(error: &redis::RedisError) -> String {
    format!("the shared backend (Redis) is unavailable: {error}")
}

/// How long connecting to Redis may take before a call fails.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a command may wait for its answer; longer than any blocking read.
const RESPONSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a blocking stream read waits for entries.
const BLOCK_MILLISECONDS: usize = 1000;

/// A connection to `client` that reconnects by itself when a call finds it broken; a call
/// fails (rather than waiting) while Redis is unreachable.
async fn connect(client: &redis::Client) -> redis::RedisResult<redis::aio::ConnectionManager> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(std::time::Duration::from_millis(500));
    redis::aio::ConnectionManager::new_with_config(client.clone(), config).await
}

/// What the detached jobs' registry shares with the backend.
impl RedisBackend {
    /// A connection for short commands.
    pub(crate) fn commands(&self) -> redis::aio::ConnectionManager {
        self.commands.clone()
    }

    /// How long a replica's claim (and a detached job's driver lease) lasts unrenewed.
    pub(crate) fn claim_timeout(&self) -> std::time::Duration {
        self.claim_timeout
    }

    /// The runtime the backend's loops run on.
    pub(crate) fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }
}
