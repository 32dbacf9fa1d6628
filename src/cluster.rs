//! What the broker is doing: runners, busy slots, the queue and the recent task rate.

use crate::throughput::ThroughputHistory;
use crate::trust::Trust;
use serde::{Deserialize, Serialize};
use wasimoff_protocol::{ProviderId, Transport};

/// A snapshot of the broker's state, as served by `GET …/api/v1/cluster`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterState {
    /// Connected providers (browsers and native providers).
    pub providers: Vec<ProviderState>,
    /// The broker's own wasmtime runner.
    pub local: LocalState,
    /// Tasks admitted but not yet running; with a shared backend also every replica's tasks
    /// waiting in the shared queue, claimed by no replica yet (read every 2 s).
    pub queued: usize,
    /// The jobs with tasks queued or running, in the order the queue serves them (see
    /// [`JobState`]); with a shared backend, every replica's jobs with tasks in the shared
    /// queue or claimed by this replica, highest priority first.
    pub jobs: Vec<JobState>,
    /// How many tasks may wait before submissions are refused.
    pub queue_capacity: usize,
    /// Tasks finished per second over the last [`RATE_WINDOW`](crate::RATE_WINDOW).
    pub tasks_per_second: f64,
    /// Tasks finished in each second of the last ten minutes, for the dashboard's chart.
    pub throughput: ThroughputHistory,
    /// What verification did since the broker started.
    pub verification: VerificationStats,
}

/// One connected provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderState {
    /// The provider's id.
    pub id: ProviderId,
    /// Browser or native.
    pub kind: wasimoff_protocol::ProviderKind,
    /// The name it gave (user agent, host name).
    pub name: String,
    /// How it is connected: `websocket`, `webtransport` or `in_process`.
    pub transport: Transport,
    /// Workers it announced.
    pub workers: usize,
    /// Tasks it is running.
    pub busy: usize,
    /// Tasks it has finished.
    pub tasks_done: u64,
    /// Modules it has compiled and cached.
    pub modules_cached: usize,
    /// Whether its results are believed as they are.
    pub trust: Trust,
    /// Its results that verification confirmed.
    pub verified: u64,
    /// Its results that lost a verification vote.
    pub strikes: u64,
    /// Whether it is quarantined (its session is being closed).
    pub quarantined: bool,
    /// With a shared backend ([`Backend::Redis`](crate::Backend::Redis)): the id of the
    /// replica it is connected to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
}

/// Counters of what verification did, for metrics and the cluster view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerificationStats {
    /// Tasks accepted after verification (a quorum, a confirming check, a trusted result).
    pub verified: u64,
    /// Tasks whose results disagreed at least once.
    pub disagreements: u64,
    /// Tasks failed with `unverified`.
    pub unverified: u64,
    /// Spot checks started.
    pub spot_checks: u64,
    /// Strikes given to providers whose result lost a vote.
    pub strikes: u64,
    /// Providers quarantined.
    pub quarantines: u64,
}

/// One job's share of the queue and the workers. A task submitted alone is a job of one; a
/// job whose tasks carry different priorities has one entry per priority.
///
/// With a shared backend ([`Backend::Redis`](crate::Backend::Redis)) every replica lists every
/// job of the cluster: `queued` counts the job's tasks waiting in the shared queue (claimed by
/// no replica yet, as read every 2 s) plus those this replica claimed and still queues;
/// `running` counts those this replica gave to a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JobState {
    /// The job's id, unique per broker; with a shared backend, its id on the replica that
    /// submitted it ([`JobState::replica`]).
    pub job: u64,
    /// The priority of these tasks.
    pub priority: i32,
    /// Its tasks waiting in the broker's queue (and, with a shared backend, in the shared one).
    pub queued: usize,
    /// Its tasks given to a worker: running, or queued in a provider's own queue (prefetch).
    pub running: usize,
    /// With a shared backend: the id of the replica that submitted the job. Absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
}

/// The local runner's share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LocalState {
    /// Tasks it runs at once.
    pub workers: usize,
    /// Tasks running now.
    pub busy: usize,
    /// Tasks finished since start.
    pub tasks_done: u64,
}
