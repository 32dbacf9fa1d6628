//! Every limit the broker enforces, in one place.
//!
//! [`Limits`] holds the broker-wide values: each is both the default for a task that asks for
//! nothing and the maximum a task may ask for through [`TaskLimits`].

use serde::{Deserialize, Serialize};
use std::time::Duration;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Broker-wide limits. Every field has a safe default; see [`Limits::default`].
///
/// ```
/// use std::time::Duration;
/// let limits = wasimoff::Limits {
///     timeout: Duration::from_secs(10),
///     memory_bytes: 64 << 20,
///     ..wasimoff::Limits::default()
/// };
/// assert_eq!(limits.output_bytes, 1 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time a task may run, from instantiation to exit. Default 60 s.
    pub timeout: Duration,
    /// Linear memory a task may grow to. Default 256 MiB; at most 4 GiB (wasm32).
    pub memory_bytes: u64,
    /// Bytes kept of each of stdout and stderr; a task that writes more is stopped with
    /// [`TaskErrorKind::OutputLimit`](crate::TaskErrorKind::OutputLimit). Default 1 MiB.
    pub output_bytes: u64,
    /// Size of one stored file (upload). Default 64 MiB.
    pub upload_bytes: u64,
    /// Bytes all stored files may take together (memory and directory stores). To make room
    /// for an upload, files that no alias names and no queued or running task needs are
    /// evicted, least recently used first; an upload that cannot fit even then is refused
    /// with `507` (`store_full`). Default 1 GiB.
    pub store_bytes: u64,
    /// Total unpacked size of a rootfs zip. Default 256 MiB.
    pub rootfs_bytes: u64,
    /// Number of entries in a rootfs zip. Default 10 000.
    pub rootfs_entries: u64,
    /// Total size of the files collected as artifacts. Default 64 MiB.
    pub artifact_bytes: u64,
    /// Total size of a task's arguments and environment (`K=V`, each plus one byte).
    /// Default 64 KiB.
    pub args_env_bytes: u64,
    /// Size of a task's stdin. Default 16 MiB.
    pub stdin_bytes: u64,
    /// Size of a JSON request body (a task or job, inline blobs included). Default 128 MiB.
    pub request_bytes: u64,
    /// Tasks the local runner executes at once. Default: the number of cores.
    pub concurrency: usize,
    /// Tasks that may wait for a free runner slot; beyond that submissions fail with
    /// [`TaskErrorKind::QueueFull`](crate::TaskErrorKind::QueueFull). Default 1024.
    pub queue_length: usize,
    /// Compiled modules kept in memory. Default 64.
    pub cached_modules: usize,
    /// Providers connected at once. Default 1000.
    pub max_providers: usize,
    /// Largest protocol frame accepted from a provider. Default 80 MiB.
    pub provider_frame_bytes: u64,
    /// How often the broker pings a provider; one that leaves two pings unanswered is dropped
    /// and its tasks are re-queued. Default 5 s.
    pub provider_heartbeat: Duration,
    /// Tasks per worker the broker sends a provider beyond its workers (bounded prefetch):
    /// the provider queues them and starts each as a worker frees, so no worker waits a round
    /// trip for its next task. A provider's `hello` may ask for fewer (providers that predate
    /// prefetch: none); the local runner never prefetches. Default 1.
    pub provider_prefetch: u32,
    /// Strikes (results that lost a verification vote) within [`Limits::strike_window`] after
    /// which an untrusted provider is quarantined: its session is closed and its address
    /// refused for [`Limits::quarantine_cooloff`]. Default 3.
    pub strikes: u32,
    /// The window strikes are counted in. Default 1 hour.
    pub strike_window: Duration,
    /// How long a quarantined provider's address is refused. Default 1 hour.
    pub quarantine_cooloff: Duration,
    /// How long a detached job ([`Wasimoff::submit_job`](crate::Wasimoff::submit_job)) and its
    /// results are kept after it ends; then it is forgotten (`404`). Default 1 hour.
    pub job_retention: Duration,
    /// Detached jobs kept at once, running or retained; beyond that a submission is refused
    /// with `507` (`too_many_jobs`). Default 1000.
    pub max_detached_jobs: usize,
    /// With a shared backend ([`Backend::Redis`](crate::Backend::Redis)): how long a task
    /// claimed by a replica may go without the replica confirming it still holds it before
    /// another replica takes it over (the replica died). Default 30 s.
    pub claim_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(60),
            memory_bytes: 256 * MIB,
            output_bytes: MIB,
            upload_bytes: 64 * MIB,
            store_bytes: 1024 * MIB,
            rootfs_bytes: 256 * MIB,
            rootfs_entries: 10_000,
            artifact_bytes: 64 * MIB,
            args_env_bytes: 64 * KIB,
            stdin_bytes: 16 * MIB,
            request_bytes: 128 * MIB,
            concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue_length: 1024,
            cached_modules: 64,
            max_providers: 1000,
            provider_frame_bytes: wasimoff_protocol::MAX_FRAME_BYTES as u64,
            provider_heartbeat: Duration::from_secs(5),
            provider_prefetch: 1,
            strikes: 3,
            strike_window: Duration::from_secs(3600),
            quarantine_cooloff: Duration::from_secs(3600),
            job_retention: Duration::from_secs(3600),
            max_detached_jobs: 1000,
            claim_timeout: Duration::from_secs(30),
        }
    }
}

/// Limits a single task asks for. Each one left out takes the broker's value; each one given
/// must not exceed it.
///
/// ```
/// let limits = wasimoff::TaskLimits { timeout_ms: Some(500), ..Default::default() };
/// assert_eq!(limits.memory_bytes, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskLimits {
    /// Wall-clock timeout in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Linear memory limit in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Bytes kept of each of stdout and stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<u64>,
    /// Total size of collected artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_bytes: Option<u64>,
}

/// The limits one task runs under after merging its [`TaskLimits`] with the broker's [`Limits`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectiveLimits {
    /// Wall-clock timeout.
    pub timeout: Duration,
    /// Linear memory limit in bytes.
    pub memory_bytes: u64,
    /// Bytes kept of each of stdout and stderr.
    pub output_bytes: u64,
    /// Total size of collected artifacts.
    pub artifact_bytes: u64,
}

impl Limits {
    /// Merges a task's requests with these limits; a request above a limit is an error naming it.
    pub fn effective(&self, requested: Option<&TaskLimits>) -> Result<EffectiveLimits, String> {
        let requested = requested.cloned().unwrap_or_default();
        let timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        Ok(EffectiveLimits {
            timeout: Duration::from_millis(pick("timeout_ms", requested.timeout_ms, timeout_ms)?),
            memory_bytes: pick("memory_bytes", requested.memory_bytes, self.memory_bytes)?,
            output_bytes: pick("output_bytes", requested.output_bytes, self.output_bytes)?,
            artifact_bytes: pick("artifact_bytes", requested.artifact_bytes, self.artifact_bytes)?,
        })
    }
}

fn pick(name: &str, requested: Option<u64>, maximum: u64) -> Result<u64, String> {
    match requested {
        None => Ok(maximum),
        Some(0) => Err(format!("limit {name} must be greater than 0")),
        Some(value) if value > maximum => Err(format!("limit {name}={value} exceeds the broker's maximum of {maximum}")),
        Some(value) => Ok(value),
    }
}
