//! The scheduler: one queue of prepared tasks, shared fairly between jobs (priority classes,
//! round-robin over jobs inside a class), dispatched to providers — remote ones,
//! in-process ones, and the broker's own runner, which the fallback policy alone treats
//! differently — idle workers first, then room in a provider's own queue (bounded prefetch). It never loses a task: a provider that leaves has its
//! tasks re-queued (a bounded number of times), and every task gets exactly one result.
//!
//! - `state.rs`: the decisions, as pure state whose methods return [`Effect`]s; unit-tested
//!   with fake providers (`tests.rs`).
//! - `queue.rs`: the fair queue behind [`TaskQueue`], task and job ids and the serialisable
//!   records.
//! - this file: the façade that holds the state behind one mutex, the providers' command
//!   sinks and the submitters' waiters, carries out the effects (under the lock only
//!   non-blocking channel sends and the local runner's non-blocking task starts), and drives
//!   every deadline with one timer task. Each task has a `task` span from submission to its
//!   result (see [`Delivered`]).
//! - `verify.rs`: votes of verified tasks (replicas, quorum, spot checks), pure as well;
//!   unit-tested in `verify_tests.rs`.
//! - `wire.rs`: conversions between the broker's task types and the protocol's.

mod queue;
mod state;
#[cfg(test)]
mod tests;
mod verify;
#[cfg(test)]
mod verify_tests;
mod wire;

use queue::MemoryQueue;
pub(crate) use queue::{JobId, TaskId, TaskResult};
pub(crate) use state::{Command, NewProvider, StrikePolicy};
use state::{Effect, State};
pub(crate) use wire::{from_wire, outcome_to_result, result_to_outcome, to_wire};

use crate::cluster::{JobState, ProviderState, VerificationStats};
use crate::digest::Digest;
use crate::prepare::PreparedTask;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::field::{Empty, display};
use wasimoff_protocol::{Outcome, ProviderId};

/// When the broker runs tasks on its own local runner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FallbackPolicy {
    /// Only while no provider is connected. The default.
    #[default]
    WhenNoProviders,
    /// Always: the local runner is one more provider.
    Always,
    /// Never: tasks wait for a provider.
    Never,
}

/// The provider limit ([`Limits::max_providers`](crate::Limits::max_providers)) was reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the broker already has {limit} providers")]
pub struct ProviderLimitReached {
    /// The limit.
    pub limit: usize,
}

/// Carries out a provider's commands at once, on the thread that caused them, while the
/// scheduler is locked: it must not block or call the scheduler. The local runner takes its
/// commands this way, so starting its next task costs no hand-off to another thread.
pub(crate) type DirectSink = Box<dyn Fn(Command) + Send + Sync>;

/// Where a provider's commands go.
enum CommandSink {
    /// A channel its session reads.
    Channel(mpsc::UnboundedSender<Command>),
    /// Carried out at once.
    Direct(DirectSink),
}

/// A task's one result, with its `task` span: fields `task` and `job` from submission;
/// `provider` (where the accepted result came from), `outcome` (`exited` or an error kind),
/// `queue_ms` (submission to the first dispatch), `run_ms` (first dispatch to the result) and
/// `total_ms` recorded when the result arrives. The submitter emits its events in it.
pub(crate) struct Delivered {
    /// The result.
    pub(crate) result: TaskResult,
    /// The task's span, its fields recorded.
    pub(crate) span: tracing::Span,
}

/// A submitter waiting for its task's result, and what the task's span needs to know.
struct Waiter {
    sender: oneshot::Sender<Delivered>,
    span: tracing::Span,
    submitted: Instant,
    dispatched: Option<Instant>,
}

impl Waiter {
    /// Records the result's fields on the span and hands both to the submitter.
    fn deliver(self, result: TaskResult) {
        let now = Instant::now();
        let dispatched = self.dispatched.unwrap_or(now);
        let span = self.span;
        let outcome = match &result.outcome {
            Outcome::Exited { .. } => "exited",
            Outcome::Failed { kind, .. } => kind.as_str(),
        };
        span.record("provider", display(&result.ran_on));
        span.record("outcome", display(outcome));
        span.record("queue_ms", milliseconds(dispatched.saturating_duration_since(self.submitted)));
        span.record("run_ms", milliseconds(now.saturating_duration_since(dispatched)));
        span.record("total_ms", milliseconds(now.saturating_duration_since(self.submitted)));
        let _ = self.sender.send(Delivered { result, span });
    }
}

/// A duration in milliseconds, to a microsecond.
fn milliseconds(duration: Duration) -> f64 {
    duration.as_micros() as f64 / 1000.0
}

/// What the mutex guards: the state and the sinks its effects go to.
struct Locked {
    state: State,
    senders: HashMap<ProviderId, CommandSink>,
    waiters: HashMap<TaskId, Waiter>,
    /// When the timer task wakes next, if it sleeps until a deadline.
    timer_at: Option<Instant>,
}

/// The scheduler's façade. See the module documentation.
pub(crate) struct Scheduler {
    locked: Mutex<Locked>,
    timer: Arc<Notify>,
    /// The last job id handed out.
    last_job: AtomicU64,
}

impl Scheduler {
    /// A scheduler whose deadline timer runs on `runtime`.
    pub(crate) fn new(policy: FallbackPolicy, strikes: StrikePolicy, runtime: &tokio::runtime::Handle) -> Arc<Scheduler> {
        let state = State::new(policy, MemoryQueue::default()).with_strikes(strikes);
        let locked = Locked { state, senders: HashMap::new(), waiters: HashMap::new(), timer_at: None };
        let scheduler = Arc::new(Scheduler { locked: Mutex::new(locked), timer: Arc::new(Notify::new()), last_job: AtomicU64::new(0) });
        runtime.spawn(run_timer(Arc::downgrade(&scheduler), scheduler.timer.clone()));
        scheduler
    }

    fn lock(&self) -> MutexGuard<'_, Locked> {
        self.locked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Carries out `effects` and wakes the timer if a deadline came before its wake-up.
    fn apply(&self, locked: &mut Locked, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send { provider, command } => {
                    if let Command::Run { task, .. } = &command
                        && let Some(waiter) = locked.waiters.get_mut(task)
                        && waiter.dispatched.is_none()
                    {
                        waiter.dispatched = Some(Instant::now());
                    }
                    match locked.senders.get(&provider) {
                        Some(CommandSink::Channel(sender)) => {
                            let _ = sender.send(command);
                        }
                        Some(CommandSink::Direct(carry_out)) => carry_out(command),
                        None => {}
                    }
                }
                Effect::Reply { task, result } => {
                    if let Some(waiter) = locked.waiters.remove(&task) {
                        waiter.deliver(result);
                    }
                }
            }
        }
        if let Some(next) = locked.state.next_deadline()
            && locked.timer_at.is_none_or(|at| next < at)
        {
            locked.timer_at = Some(next);
            self.timer.notify_one();
        }
    }

    /// A new job's id, for the tasks it submits.
    pub(crate) fn new_job(&self) -> JobId {
        JobId(self.last_job.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Queues a task of `job`; the receiver gets its one result and its span.
    pub(crate) fn submit(&self, task: PreparedTask, job: JobId) -> (TaskId, oneshot::Receiver<Delivered>) {
        let (sender, receiver) = oneshot::channel();
        let mut locked = self.lock();
        let submitted = Instant::now();
        let (id, effects) = locked.state.submit(task, job, submitted);
        let span = tracing::info_span!(
            "task",
            task = id.0,
            job = job.0,
            provider = Empty,
            outcome = Empty,
            queue_ms = Empty,
            run_ms = Empty,
            total_ms = Empty
        );
        locked.waiters.insert(id, Waiter { sender, span, submitted, dispatched: None });
        self.apply(&mut locked, effects);
        (id, receiver)
    }

    /// The submitter no longer wants task `id`.
    pub(crate) fn cancel(&self, id: TaskId) {
        let mut locked = self.lock();
        if let Some(waiter) = locked.waiters.remove(&id) {
            waiter.span.record("outcome", display("cancelled"));
        }
        let effects = locked.state.cancel(id, Instant::now());
        self.apply(&mut locked, effects);
    }

    /// Registers a provider, unless it is remote and `limit` remote providers are connected;
    /// the receiver gets its commands.
    pub(crate) fn join(
        &self,
        provider: NewProvider,
        limit: usize,
    ) -> Result<(ProviderId, mpsc::UnboundedReceiver<Command>), ProviderLimitReached> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut locked = self.lock();
        if !provider.local && locked.state.remote_count() >= limit {
            return Err(ProviderLimitReached { limit });
        }
        let (id, effects) = locked.state.join(provider, Instant::now());
        locked.senders.insert(id, CommandSink::Channel(sender));
        self.apply(&mut locked, effects);
        Ok((id, receiver))
    }

    /// Registers a provider whose commands `sink` (made with the provider's id) carries out at
    /// once; see [`DirectSink`]. The sink is dropped when the provider leaves or the scheduler
    /// is dropped.
    pub(crate) fn join_direct(&self, provider: NewProvider, sink: impl FnOnce(ProviderId) -> DirectSink) -> ProviderId {
        let mut locked = self.lock();
        let (id, effects) = locked.state.join(provider, Instant::now());
        locked.senders.insert(id, CommandSink::Direct(sink(id)));
        self.apply(&mut locked, effects);
        id
    }

    /// A provider's result for `task`, whatever carried it.
    pub(crate) fn result(&self, provider: ProviderId, task: TaskId, result: TaskResult) {
        let mut locked = self.lock();
        let effects = locked.state.result(provider, task, result, Instant::now());
        self.apply(&mut locked, effects);
    }

    /// A provider announced a new worker count.
    pub(crate) fn set_workers(&self, provider: ProviderId, workers: u32) {
        let mut locked = self.lock();
        let effects = locked.state.set_workers(provider, workers, Instant::now());
        self.apply(&mut locked, effects);
    }

    /// A provider dropped modules (`sha256:<hex>` digests) from its cache.
    pub(crate) fn evicted(&self, provider: ProviderId, digests: &[String]) {
        let digests: Vec<Digest> = digests.iter().filter_map(|digest| digest.parse().ok()).collect();
        self.lock().state.evicted(provider, &digests);
    }

    /// A provider left; `why` ends the message of a task that fails because of it.
    pub(crate) fn leave(&self, provider: ProviderId, why: &str) {
        let mut locked = self.lock();
        locked.senders.remove(&provider);
        let effects = locked.state.leave(provider, why, Instant::now());
        self.apply(&mut locked, effects);
    }

    /// Fails the remote runs past their deadline; returns the next deadline.
    fn expire(&self) -> Option<Instant> {
        let mut locked = self.lock();
        let effects = locked.state.expire(Instant::now());
        self.apply(&mut locked, effects);
        locked.timer_at = locked.state.next_deadline();
        locked.timer_at
    }

    /// Connected remote providers, for the cluster view.
    pub(crate) fn providers(&self) -> Vec<ProviderState> {
        self.lock().state.providers()
    }

    /// The jobs with tasks queued or running, for the cluster view.
    pub(crate) fn jobs(&self) -> Vec<JobState> {
        self.lock().state.jobs()
    }

    /// How many remote providers are connected.
    pub(crate) fn provider_count(&self) -> usize {
        self.lock().state.remote_count()
    }

    /// Tasks waiting for a worker.
    pub(crate) fn queued(&self) -> usize {
        self.lock().state.queued()
    }

    /// Workers of all remote providers.
    pub(crate) fn provider_workers(&self) -> usize {
        self.lock().state.remote_workers()
    }

    /// Tasks all remote providers hold at most: their workers plus what they queue (prefetch).
    pub(crate) fn provider_capacity(&self) -> usize {
        self.lock().state.remote_capacity()
    }

    /// What verification did so far.
    pub(crate) fn verification(&self) -> VerificationStats {
        self.lock().state.verification()
    }

    /// Tasks the local runner finished.
    pub(crate) fn local_done(&self) -> u64 {
        self.lock().state.local_done()
    }
}

impl Drop for Scheduler {
    /// Wakes the timer task, which then finds the scheduler gone and ends.
    fn drop(&mut self) {
        self.timer.notify_one();
    }
}

/// The one timer task: sleeps until the earliest deadline (or until woken for an earlier
/// one), expires what is due, and ends with the scheduler.
async fn run_timer(scheduler: Weak<Scheduler>, wake: Arc<Notify>) {
    loop {
        let next = match scheduler.upgrade() {
            Some(scheduler) => scheduler.expire(),
            None => return,
        };
        match next {
            Some(at) => {
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                }
            }
            None => wake.notified().await,
        }
    }
}
