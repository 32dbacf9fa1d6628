//! The scheduler's state, with no I/O: the queue, every provider's capacity (workers, plus
//! the tasks it queues itself: bounded prefetch) and cached modules, the tasks each provider
//! holds, attempts, and the broker-side deadlines of remote runs. Every change returns the
//! [`Effect`]s the caller carries out; time comes in as `now`.
//!
//! A provider holds at most `workers × (1 + prefetch)` tasks; those beyond its workers wait
//! in its own queue and start as its workers free, so no worker waits a round trip for its
//! next task. Dispatch fills idle workers first, anywhere, and only then providers' queues,
//! so a fast provider does not take work an idle one could start now.
//!
//! Picking a provider costs the same however many are connected: providers with an idle
//! worker, and those with room in their queue, sit in ordered sets (all of them, per cached
//! module, and the local ones), so a pick is a few set lookups.
//!
//! A task that asks for verification runs as several *runs* with their own ids, tallied by
//! its [`Vote`] (`verify.rs`; launching runs and carrying out decisions is `state/voting.rs`): replicas go to distinct providers (a few more set lookups, one
//! per provider to skip), spot checks to trusted runners; a run that no provider could ever
//! take (every connected one had a run of the task) waits aside until a provider joins. Only
//! the vote's decision replies, so the task still gets exactly one result. An untrusted
//! provider whose result loses a vote gets a strike; after `strikes` within `window` it is
//! quarantined: no more tasks, and its session is told to close.

mod voting;

use super::FallbackPolicy;
use super::queue::{JobId, MemoryQueue, QueuedTask, TaskId, TaskQueue, TaskResult};
use super::verify::{Decision, Placement, Vote, Votes, check_probability};
use crate::cluster::{JobState, ProviderState, VerificationStats};
use crate::digest::Digest;
use crate::prepare::PreparedTask;
use crate::task::TaskErrorKind;
use crate::trust::Trust;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasimoff_protocol::{Outcome, ProviderId, ProviderKind, Transport};

/// How many providers a task may be lost on before it fails.
pub(crate) const MAX_ATTEMPTS: u32 = 3;

/// How long past its timeout the broker waits for a remote provider's result.
pub(crate) const RESULT_GRACE: Duration = Duration::from_secs(5);

/// What the broker's timeout of a remote run answers.
pub(crate) const TIMEOUT_MESSAGE: &str = "the provider did not answer within the task's timeout; the broker stopped waiting";

/// What a provider is told to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// Run this task; a remote provider gets the module's bytes if `send_module`.
    Run { task: TaskId, prepared: Arc<PreparedTask>, send_module: bool },
    /// Stop this task; no result is expected.
    Cancel { task: TaskId },
    /// The provider is quarantined: close its session with this reason.
    Quarantine { reason: String },
}

/// What the caller of a [`State`] method carries out.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Give `command` to `provider`.
    Send { provider: ProviderId, command: Command },
    /// Deliver the task's one result to its submitter.
    Reply { task: TaskId, result: TaskResult },
}

/// A provider about to join.
#[derive(Clone, Debug)]
pub(crate) struct NewProvider {
    /// Browser or native.
    pub(crate) kind: ProviderKind,
    /// The name it gave.
    pub(crate) name: String,
    /// How it is connected.
    pub(crate) transport: Transport,
    /// Tasks it runs at once.
    pub(crate) workers: u32,
    /// Tasks per worker it queues beyond its workers (negotiated; 0 for the local runner).
    pub(crate) prefetch: u32,
    /// The broker's own runner, used only as the fallback policy allows.
    pub(crate) local: bool,
    /// Whether its results are believed (local and in-process providers always are).
    pub(crate) trust: Trust,
}

/// When strikes quarantine a provider.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StrikePolicy {
    /// Strikes within `window` that quarantine.
    pub(crate) limit: u32,
    /// The window strikes are counted in.
    pub(crate) window: Duration,
}

/// A task given to a provider.
struct Running {
    prepared: Arc<PreparedTask>,
    job: JobId,
    provider: ProviderId,
    attempts: u32,
    deadline: Option<Instant>,
}

struct Provider {
    joined: NewProvider,
    in_flight: HashSet<TaskId>,
    modules: HashSet<Digest>,
    done: u64,
    /// Results confirmed by verification since its last strike.
    clean: u64,
    /// Results confirmed by verification in all.
    verified: u64,
    /// When its results lost votes, within the strike window.
    strikes: VecDeque<Instant>,
    /// Strikes in all.
    struck: u64,
    /// Takes no more tasks; its session is being closed.
    quarantined: bool,
}

impl Provider {
    fn new(joined: NewProvider) -> Provider {
        Provider {
            joined,
            in_flight: HashSet::new(),
            modules: HashSet::new(),
            done: 0,
            clean: 0,
            verified: 0,
            strikes: VecDeque::new(),
            struck: 0,
            quarantined: false,
        }
    }

    fn trusted(&self) -> bool {
        self.joined.local || self.joined.trust == Trust::Trusted
    }

    /// Whether one of its workers has nothing to run.
    fn idle(&self) -> bool {
        self.in_flight.len() < self.joined.workers as usize
    }

    /// Whether it takes one more task, to run now or to queue.
    fn room(&self) -> bool {
        let capacity = u64::from(self.joined.workers) * (1 + u64::from(self.joined.prefetch));
        (self.in_flight.len() as u64) < capacity
    }

    /// When every task it holds has ended at the latest (their deadlines), or `now`.
    fn drained_by(&self, running: &HashMap<TaskId, Running>, now: Instant) -> Instant {
        self.in_flight.iter().filter_map(|task| running.get(task)?.deadline).fold(now, Instant::max)
    }
}

/// Providers that can take a task of some kind: all of them, and per cached module.
#[derive(Default)]
struct Takers {
    all: BTreeSet<ProviderId>,
    by_module: HashMap<Digest, BTreeSet<ProviderId>>,
}

impl Takers {
    /// The first that holds `module`, else the first of all.
    fn pick(&self, module: &Digest) -> Option<ProviderId> {
        self.by_module.get(module).and_then(|set| set.first()).or_else(|| self.all.first()).copied()
    }

    /// The first not in `used` that holds `module`, else the first of all not in `used`.
    fn pick_distinct(&self, module: &Digest, used: &HashSet<ProviderId>) -> Option<ProviderId> {
        self.cached_distinct(module, used).or_else(|| first_distinct(&self.all, used))
    }

    /// The first not in `used` that holds `module`.
    fn cached_distinct(&self, module: &Digest, used: &HashSet<ProviderId>) -> Option<ProviderId> {
        self.by_module.get(module).and_then(|set| first_distinct(set, used))
    }

    /// Puts `id`, which holds `modules`, in or out.
    fn mark<'a>(&mut self, id: ProviderId, modules: impl Iterator<Item = &'a Digest>, member: bool) {
        for module in modules {
            mark(self.by_module.entry(*module).or_default(), id, member);
        }
        mark(&mut self.all, id, member);
    }

    /// Takes `id` out for `module` only (the provider dropped it).
    fn forget_module(&mut self, id: ProviderId, module: &Digest) {
        if let Some(set) = self.by_module.get_mut(module) {
            set.remove(&id);
        }
    }
}

/// The first of `set` not in `used`.
fn first_distinct(set: &BTreeSet<ProviderId>, used: &HashSet<ProviderId>) -> Option<ProviderId> {
    set.iter().find(|id| !used.contains(id)).copied()
}

/// Puts `id` into `set` or takes it out.
fn mark(set: &mut BTreeSet<ProviderId>, id: ProviderId, member: bool) {
    if member {
        set.insert(id);
    } else {
        set.remove(&id);
    }
}

/// The scheduler's state. See the module documentation.
pub(crate) struct State<Q: TaskQueue = MemoryQueue> {
    policy: FallbackPolicy,
    queue: Q,
    next_task: u64,
    next_provider: u64,
    running: HashMap<TaskId, Running>,
    providers: HashMap<ProviderId, Provider>,
    /// Remote providers with an idle worker.
    idle: Takers,
    /// Remote providers with room in their queue.
    queue_room: Takers,
    /// Local providers with an idle worker (they never queue).
    idle_local: BTreeSet<ProviderId>,
    deadlines: BTreeSet<(Instant, TaskId)>,
    remote: usize,
    remote_workers: usize,
    /// Remote providers that are trusted.
    trusted_remote: BTreeSet<ProviderId>,
    /// Verified tasks' votes.
    votes: Votes,
    /// Runs no connected provider may take, until one joins.
    parked: Vec<QueuedTask>,
    strike_policy: StrikePolicy,
    /// Draws whether a result is spot-checked.
    rng: fastrand::Rng,
    stats: VerificationStats,
}

impl<Q: TaskQueue> State<Q> {
    /// An empty state over `queue`.
    pub(crate) fn new(policy: FallbackPolicy, queue: Q) -> State<Q> {
        State {
            policy,
            queue,
            next_task: 0,
            next_provider: 0,
            running: HashMap::new(),
            providers: HashMap::new(),
            idle: Takers::default(),
            queue_room: Takers::default(),
            idle_local: BTreeSet::new(),
            deadlines: BTreeSet::new(),
            remote: 0,
            remote_workers: 0,
            trusted_remote: BTreeSet::new(),
            votes: Votes::default(),
            parked: Vec::new(),
            strike_policy: StrikePolicy { limit: 3, window: Duration::from_secs(3600) },
            rng: fastrand::Rng::new(),
            stats: VerificationStats::default(),
        }
    }

    /// This state with `policy` for strikes (default: 3 within an hour).
    pub(crate) fn with_strikes(mut self, policy: StrikePolicy) -> State<Q> {
        self.strike_policy = policy;
        self
    }

    /// This state drawing spot checks from a generator seeded with `seed` (tests).
    #[cfg(test)]
    pub(crate) fn with_seed(mut self, seed: u64) -> State<Q> {
        self.rng = fastrand::Rng::with_seed(seed);
        self
    }

    /// Queues a task of `job` and dispatches what can run.
    pub(crate) fn submit(&mut self, task: PreparedTask, job: JobId, now: Instant) -> (TaskId, Vec<Effect>) {
        let id = self.new_task_id();
        match task.verify {
            None => self.queue.push_back(QueuedTask { id, job, task, attempts: 0 }),
            Some(verify) => {
                let (vote, runs) = Vote::new(verify.0, task, job);
                self.votes.open(id, vote);
                self.launch(id, runs, false);
            }
        }
        let mut effects = Vec::new();
        self.pump(now, &mut effects);
        (id, effects)
    }

    /// Registers a provider with its announced workers and prefetch (none for a local one).
    pub(crate) fn join(&mut self, mut provider: NewProvider, now: Instant) -> (ProviderId, Vec<Effect>) {
        if provider.local {
            provider.prefetch = 0;
        }
        self.next_provider += 1;
        let id = ProviderId(self.next_provider);
        if !provider.local {
            self.remote += 1;
            self.remote_workers += provider.workers as usize;
        }
        if !provider.local && provider.trust == Trust::Trusted {
            self.trusted_remote.insert(id);
        }
        self.providers.insert(id, Provider::new(provider));
        self.refresh(id);
        for parked in std::mem::take(&mut self.parked).into_iter().rev() {
            self.queue.push_front(parked);
        }
        let mut effects = Vec::new();
        self.pump(now, &mut effects);
        (id, effects)
    }

    /// A provider announced a new worker count.
    pub(crate) fn set_workers(&mut self, id: ProviderId, workers: u32, now: Instant) -> Vec<Effect> {
        let Some(provider) = self.providers.get_mut(&id) else { return Vec::new() };
        let before = std::mem::replace(&mut provider.joined.workers, workers);
        if !provider.joined.local {
            self.remote_workers = self.remote_workers + workers as usize - before as usize;
        }
        self.refresh(id);
        let mut effects = Vec::new();
        self.pump(now, &mut effects);
        effects
    }

    /// A provider dropped modules from its cache; they are sent again when needed.
    pub(crate) fn evicted(&mut self, id: ProviderId, digests: &[Digest]) {
        let Some(provider) = self.providers.get_mut(&id) else { return };
        for digest in digests {
            provider.modules.remove(digest);
            self.idle.forget_module(id, digest);
            self.queue_room.forget_module(id, digest);
        }
    }

    /// A provider left: its tasks (running or queued there) go back to the front of the queue, in order, or fail after
    /// [`MAX_ATTEMPTS`] providers lost them; `why` ends that failure's message.
    pub(crate) fn leave(&mut self, id: ProviderId, why: &str, now: Instant) -> Vec<Effect> {
        let Some(gone) = self.providers.remove(&id) else { return Vec::new() };
        if !gone.joined.local {
            self.remote -= 1;
            self.remote_workers -= gone.joined.workers as usize;
        }
        self.idle.mark(id, gone.modules.iter(), false);
        self.queue_room.mark(id, gone.modules.iter(), false);
        self.idle_local.remove(&id);
        self.trusted_remote.remove(&id);
        let mut effects = Vec::new();
        let mut lost: Vec<TaskId> = gone.in_flight.into_iter().collect();
        lost.sort_unstable_by(|a, b| b.cmp(a));
        for task in lost {
            let Some(running) = self.take_running(task) else { continue };
            let attempts = running.attempts + 1;
            if attempts >= MAX_ATTEMPTS {
                let message = format!("the task was lost on {MAX_ATTEMPTS} providers; the last one {why}");
                let result = TaskResult::failed(id.to_string(), TaskErrorKind::Internal, message);
                self.end_run(task, None, result, now, &mut effects);
            } else {
                self.queue.push_front(QueuedTask { id: task, job: running.job, task: Arc::unwrap_or_clone(running.prepared), attempts });
            }
        }
        self.pump(now, &mut effects);
        effects
    }

    /// A provider's result for `task`; dropped unless `from` runs the task now (stale or
    /// duplicate results).
    pub(crate) fn result(&mut self, from: ProviderId, task: TaskId, result: TaskResult, now: Instant) -> Vec<Effect> {
        if self.running.get(&task).map(|running| running.provider) != Some(from) {
            return Vec::new();
        }
        self.release(task);
        if let Some(provider) = self.providers.get_mut(&from) {
            provider.done += 1;
        }
        let mut effects = Vec::new();
        self.end_run(task, Some(from), result, now, &mut effects);
        self.pump(now, &mut effects);
        effects
    }

    /// The submitter no longer wants `task`: it leaves the queue, or its provider is told to
    /// stop it. No result follows.
    pub(crate) fn cancel(&mut self, task: TaskId, now: Instant) -> Vec<Effect> {
        if let Some(vote) = self.votes.close(task) {
            let mut effects = Vec::new();
            self.stop_runs(vote.runs, &mut effects);
            self.pump(now, &mut effects);
            return effects;
        }
        let Some(provider) = self.release(task) else {
            self.queue.remove(task);
            return Vec::new();
        };
        let mut effects = vec![Effect::Send { provider, command: Command::Cancel { task } }];
        self.pump(now, &mut effects);
        effects
    }

    /// Remote runs past their deadline: the provider is told to stop, the task fails with
    /// `timeout`.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Effect> {
        let mut effects = Vec::new();
        while let Some(&(deadline, task)) = self.deadlines.first()
            && deadline <= now
        {
            self.deadlines.pop_first();
            let Some(provider) = self.release(task) else { continue };
            effects.push(Effect::Send { provider, command: Command::Cancel { task } });
            let result = TaskResult::failed(provider.to_string(), TaskErrorKind::Timeout, TIMEOUT_MESSAGE);
            self.end_run(task, None, result, now, &mut effects);
        }
        self.pump(now, &mut effects);
        effects
    }

    /// The earliest deadline of a remote run.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(deadline, _)| *deadline)
    }

    /// Connected remote providers, by id.
    pub(crate) fn providers(&self) -> Vec<ProviderState> {
        let mut providers: Vec<ProviderState> = self
            .providers
            .iter()
            .filter(|(_, provider)| !provider.joined.local)
            .map(|(id, provider)| ProviderState {
                id: *id,
                kind: provider.joined.kind,
                name: provider.joined.name.clone(),
                transport: provider.joined.transport,
                workers: provider.joined.workers as usize,
                busy: provider.in_flight.len().min(provider.joined.workers as usize),
                tasks_done: provider.done,
                modules_cached: provider.modules.len(),
                trust: provider.joined.trust,
                verified: provider.verified,
                strikes: provider.struck,
                quarantined: provider.quarantined,
                replica: None,
            })
            .collect();
        providers.sort_by_key(|provider| provider.id);
        providers
    }

    /// The jobs with tasks queued or dispatched, per priority: the queue's order first (jobs
    /// with tasks waiting, highest priority first), then those with dispatched tasks only, by id.
    pub(crate) fn jobs(&self) -> Vec<JobState> {
        let mut dispatched: BTreeMap<(JobId, i32), usize> = BTreeMap::new();
        for running in self.running.values() {
            *dispatched.entry((running.job, running.prepared.priority)).or_default() += 1;
        }
        let mut jobs: Vec<JobState> = self
            .queue
            .depths()
            .into_iter()
            .map(|(job, priority, queued)| JobState {
                job: job.0,
                priority,
                queued,
                running: dispatched.remove(&(job, priority)).unwrap_or_default(),
                replica: None,
            })
            .collect();
        jobs.extend(dispatched.into_iter().map(|((job, priority), running)| JobState {
            job: job.0,
            priority,
            queued: 0,
            running,
            replica: None,
        }));
        jobs
    }

    /// How many remote providers are connected.
    pub(crate) fn remote_count(&self) -> usize {
        self.remote
    }

    /// Workers of all remote providers.
    pub(crate) fn remote_workers(&self) -> usize {
        self.remote_workers
    }

    /// Tasks all remote providers hold at most: their workers plus what they queue.
    pub(crate) fn remote_capacity(&self) -> usize {
        self.providers
            .values()
            .filter(|provider| !provider.joined.local)
            .map(|provider| provider.joined.workers as usize * (1 + provider.joined.prefetch as usize))
            .sum()
    }

    /// Tasks waiting for a worker.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// What verification did so far.
    pub(crate) fn verification(&self) -> VerificationStats {
        self.stats
    }

    /// Tasks the local providers finished.
    pub(crate) fn local_done(&self) -> u64 {
        self.providers.values().filter(|provider| provider.joined.local).map(|provider| provider.done).sum()
    }

    /// Takes `task` from its provider; returns the provider.
    fn release(&mut self, task: TaskId) -> Option<ProviderId> {
        let running = self.take_running(task)?;
        if let Some(provider) = self.providers.get_mut(&running.provider) {
            provider.in_flight.remove(&task);
        }
        self.refresh(running.provider);
        Some(running.provider)
    }

    /// Forgets that `task` runs, and its deadline.
    fn take_running(&mut self, task: TaskId) -> Option<Running> {
        let running = self.running.remove(&task)?;
        if let Some(deadline) = running.deadline {
            self.deadlines.remove(&(deadline, task));
        }
        Some(running)
    }

    /// Puts provider `id` into or out of the sets of takers after its tasks or modules changed.
    fn refresh(&mut self, id: ProviderId) {
        let Some(provider) = self.providers.get(&id) else { return };
        if provider.joined.local {
            mark(&mut self.idle_local, id, provider.idle());
            return;
        }
        let takes = !provider.quarantined;
        self.idle.mark(id, provider.modules.iter(), takes && provider.idle());
        self.queue_room.mark(id, provider.modules.iter(), takes && provider.room());
    }

    fn local_allowed(&self) -> bool {
        match self.policy {
            FallbackPolicy::WhenNoProviders => self.remote == 0,
            FallbackPolicy::Always => true,
            FallbackPolicy::Never => false,
        }
    }

    /// Who takes a task of `module` next: an idle worker first — on a provider with the
    /// module cached, else on a local provider if the policy allows, else on any provider —
    /// and only then room in a provider's queue, one with the module cached first.
    fn pick(&self, module: &Digest) -> Option<ProviderId> {
        let idle_cached = self.idle.by_module.get(module).and_then(|set| set.first()).copied();
        let local = || self.local_allowed().then(|| self.idle_local.first().copied()).flatten();
        idle_cached.or_else(local).or_else(|| self.idle.all.first().copied()).or_else(|| self.queue_room.pick(module))
    }

    /// Who takes a run of a verified task: for a replica the same order as [`State::pick`]
    /// among providers that had no run of the task (the local runner also when no such
    /// remote provider is connected, unless the policy is `Never`); for a spot check a
    /// trusted remote provider with an idle worker, else the local runner, else a trusted
    /// remote provider's queue.
    fn pick_for(&self, module: &Digest, placement: &Placement<'_>) -> Option<ProviderId> {
        match placement {
            Placement::Anywhere => self.pick(module),
            Placement::Distinct(used) => {
                let local_allowed = self.local_allowed() || (self.policy != FallbackPolicy::Never && !self.distinct_remote(used));
                let local = || local_allowed.then(|| first_distinct(&self.idle_local, used)).flatten();
                self.idle
                    .cached_distinct(module, used)
                    .or_else(local)
                    .or_else(|| first_distinct(&self.idle.all, used))
                    .or_else(|| self.queue_room.pick_distinct(module, used))
            }
            Placement::Trusted(used) => {
                let trusted = |fits: fn(&Provider) -> bool| {
                    self.trusted_remote
                        .iter()
                        .find(|id| !used.contains(id) && self.providers.get(id).is_some_and(|p| !p.quarantined && fits(p)))
                        .copied()
                };
                trusted(Provider::idle).or_else(|| first_distinct(&self.idle_local, used)).or_else(|| trusted(Provider::room))
            }
        }
    }

    /// Whether a remote provider that had no run of the task is connected.
    fn distinct_remote(&self, used: &HashSet<ProviderId>) -> bool {
        let used_remote = used.iter().filter(|id| self.providers.get(id).is_some_and(|p| !p.joined.local)).count();
        self.remote > used_remote
    }

    /// Whether no connected provider could ever take a run placed so: it waits aside.
    fn nowhere(&self, placement: &Placement<'_>) -> bool {
        let local_left = |used: &HashSet<ProviderId>| self.providers.iter().any(|(id, p)| p.joined.local && !used.contains(id));
        match placement {
            Placement::Anywhere => false,
            Placement::Distinct(used) => !self.distinct_remote(used) && (self.policy == FallbackPolicy::Never || !local_left(used)),
            Placement::Trusted(used) => !self.trusted_remote.iter().any(|id| !used.contains(id)) && !local_left(used),
        }
    }

    /// Dispatches queued tasks, in order, while someone can take the next one; a run no
    /// connected provider may take is set aside.
    fn pump(&mut self, now: Instant, effects: &mut Vec<Effect>) {
        while let Some(next) = self.queue.front() {
            let placement = self.votes.placement(next.id);
            let picked = self.pick_for(&next.task.module.digest, &placement);
            let park = picked.is_none() && self.nowhere(&placement);
            let Some(id) = picked else {
                if park && let Some(parked) = self.queue.pop_front() {
                    self.parked.push(parked);
                    continue;
                }
                break;
            };
            let Some(provider) = self.providers.get_mut(&id) else { break };
            let Some(queued) = self.queue.pop_front() else { break };
            if let Some(vote) = self.votes.task_of(queued.id).and_then(|task| self.votes.get_mut(task)) {
                vote.used.insert(id);
            }
            let local = provider.joined.local;
            // A task queued on the provider starts once those ahead of it have ended, at the
            // latest by their deadlines; its own time counts from then.
            let starts_by = if provider.idle() { now } else { provider.drained_by(&self.running, now) };
            provider.in_flight.insert(queued.id);
            let send_module = !local && provider.modules.insert(queued.task.module.digest);
            let deadline = (!local).then(|| starts_by + queued.task.limits.timeout + RESULT_GRACE);
            if let Some(deadline) = deadline {
                self.deadlines.insert((deadline, queued.id));
            }
            let prepared = Arc::new(queued.task);
            let running = Running { prepared: prepared.clone(), job: queued.job, provider: id, attempts: queued.attempts, deadline };
            self.running.insert(queued.id, running);
            effects.push(Effect::Send { provider: id, command: Command::Run { task: queued.id, prepared, send_module } });
            self.refresh(id);
        }
    }
}
