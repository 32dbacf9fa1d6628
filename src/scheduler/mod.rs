//! The scheduler: one FIFO queue of prepared tasks, dispatched to providers by credits (free
//! workers) and to the local runner by the fallback policy. It never loses a task: a provider
//! that leaves has its in-flight tasks re-queued (a bounded number of times), and every task
//! gets exactly one result.
//!
//! Picking a target costs the same however many providers are connected: providers with free
//! workers sit in ordered sets (all of them, and per cached module), so a pick is a set lookup.

mod wire;

pub(crate) use wire::{from_wire, outcome_to_result, result_to_outcome, to_wire};

use crate::cluster::ProviderState;
use crate::digest::Digest;
use crate::prepare::PreparedTask;
use crate::runner::LocalRunner;
use crate::task::{TaskError, TaskErrorKind, TaskOutput};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use wasimoff_protocol::{ProviderId, ProviderKind, Transport};

/// When the broker runs tasks on its own wasmtime runner.
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

/// What `TaskOutput::ran_on` says for the broker's own runner.
pub const LOCAL: &str = "local";

/// How many providers a task may be lost on before it fails.
pub(crate) const MAX_ATTEMPTS: u32 = 3;

/// How long past its timeout the broker waits for a provider's result before giving up on it.
pub(crate) const RESULT_GRACE: Duration = Duration::from_secs(5);

type Reply = oneshot::Sender<Result<TaskOutput, TaskError>>;

/// What a provider's session is told to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send this task; include the module's bytes if `send_module`.
    Run { id: u64, task: Arc<PreparedTask>, send_module: bool },
    /// Tell the provider to stop this task.
    Cancel { id: u64 },
}

/// Who runs a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Assignee {
    Local,
    Provider(u64),
}

struct Pending {
    task: Arc<PreparedTask>,
    reply: Reply,
    attempts: u32,
    assignee: Option<Assignee>,
    /// The local run, or the broker-side deadline of a remote run; stopped when the task
    /// finishes, is cancelled or is taken back.
    watch: Option<tokio::task::AbortHandle>,
}

impl Pending {
    fn stop_watch(&mut self) {
        if let Some(handle) = self.watch.take() {
            handle.abort();
        }
    }
}

struct Provider {
    name: String,
    kind: ProviderKind,
    transport: Transport,
    workers: u32,
    in_flight: HashSet<u64>,
    modules: HashSet<Digest>,
    done: u64,
    commands: mpsc::UnboundedSender<Command>,
}

impl Provider {
    fn credits(&self) -> u32 {
        self.workers.saturating_sub(self.in_flight.len() as u32)
    }
}

#[derive(Default)]
struct State {
    next_task: u64,
    next_provider: u64,
    queue: VecDeque<u64>,
    tasks: HashMap<u64, Pending>,
    providers: HashMap<u64, Provider>,
    free: BTreeSet<u64>,
    free_by_module: HashMap<Digest, BTreeSet<u64>>,
    local_free: usize,
    local_done: u64,
    provider_workers: usize,
}

/// The provider limit ([`Limits::max_providers`](crate::Limits::max_providers)) was reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the broker already has {limit} providers")]
pub struct ProviderLimitReached {
    /// The limit.
    pub limit: usize,
}

/// The scheduler. See the module documentation.
pub(crate) struct Scheduler {
    state: Mutex<State>,
    runner: LocalRunner,
    policy: FallbackPolicy,
}

impl State {
    /// Puts provider `key` into or out of the free sets after its credits or modules changed.
    fn refresh(&mut self, key: u64) {
        let Some(provider) = self.providers.get(&key) else { return };
        let free = provider.credits() > 0;
        for module in &provider.modules {
            let set = self.free_by_module.entry(*module).or_default();
            if free {
                set.insert(key);
            } else {
                set.remove(&key);
            }
        }
        if free {
            self.free.insert(key);
        } else {
            self.free.remove(&key);
        }
    }

    fn forget_provider(&mut self, key: u64) -> Option<Provider> {
        let provider = self.providers.remove(&key)?;
        self.provider_workers -= provider.workers as usize;
        self.free.remove(&key);
        for module in &provider.modules {
            if let Some(set) = self.free_by_module.get_mut(module) {
                set.remove(&key);
            }
        }
        Some(provider)
    }
}

impl Scheduler {
    pub(crate) fn new(runner: LocalRunner, policy: FallbackPolicy) -> Scheduler {
        let state = State { local_free: runner.slots(), ..State::default() };
        Scheduler { state: Mutex::new(state), runner, policy }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a task; the receiver gets its one result.
    pub(crate) fn submit(self: &Arc<Self>, task: PreparedTask) -> (u64, oneshot::Receiver<Result<TaskOutput, TaskError>>) {
        let (reply, receiver) = oneshot::channel();
        let mut state = self.state();
        state.next_task += 1;
        let id = state.next_task;
        state.tasks.insert(id, Pending { task: Arc::new(task), reply, attempts: 0, assignee: None, watch: None });
        state.queue.push_back(id);
        self.pump(&mut state);
        (id, receiver)
    }

    /// Dispatches queued tasks while someone has a free worker.
    fn pump(self: &Arc<Self>, state: &mut State) {
        while let Some(&id) = state.queue.front() {
            let Some(pending) = state.tasks.get(&id) else {
                state.queue.pop_front();
                continue;
            };
            let module = pending.task.module.digest;
            let cached = state.free_by_module.get(&module).and_then(|set| set.first().copied());
            let local_allowed = match self.policy {
                FallbackPolicy::WhenNoProviders => state.providers.is_empty(),
                FallbackPolicy::Always => true,
                FallbackPolicy::Never => false,
            };
            let target = match (cached, local_allowed && state.local_free > 0) {
                (Some(key), _) => Assignee::Provider(key),
                (None, true) => Assignee::Local,
                (None, false) => match state.free.first().copied() {
                    Some(key) => Assignee::Provider(key),
                    None => break,
                },
            };
            state.queue.pop_front();
            match target {
                Assignee::Local => self.start_local(state, id),
                Assignee::Provider(key) => self.start_remote(state, id, key),
            }
        }
    }

    fn start_local(self: &Arc<Self>, state: &mut State, id: u64) {
        let Some(pending) = state.tasks.get_mut(&id) else { return };
        state.local_free -= 1;
        pending.assignee = Some(Assignee::Local);
        let task = pending.task.clone();
        let scheduler = self.clone();
        let handle = self.runner.spawn(async move {
            let result = scheduler.runner.run((*task).clone()).await;
            scheduler.finish(id, Assignee::Local, result);
        });
        pending.watch = Some(handle.abort_handle());
    }

    fn start_remote(self: &Arc<Self>, state: &mut State, id: u64, key: u64) {
        let (Some(pending), Some(provider)) = (state.tasks.get_mut(&id), state.providers.get_mut(&key)) else { return };
        pending.assignee = Some(Assignee::Provider(key));
        provider.in_flight.insert(id);
        let module = pending.task.module.digest;
        let send_module = provider.modules.insert(module);
        let timeout = pending.task.limits.timeout + RESULT_GRACE;
        let _ = provider.commands.send(Command::Run { id, task: pending.task.clone(), send_module });
        state.refresh(key);
        let scheduler = self.clone();
        let deadline = self.runner.spawn(async move {
            tokio::time::sleep(timeout).await;
            scheduler.expire(id, key);
        });
        if let Some(pending) = state.tasks.get_mut(&id) {
            pending.watch = Some(deadline.abort_handle());
        }
    }

    /// Delivers a result if `from` still owns the task; stale or duplicate results are dropped.
    fn finish(self: &Arc<Self>, id: u64, from: Assignee, result: Result<TaskOutput, TaskError>) {
        let mut state = self.state();
        if state.tasks.get(&id).map(|p| p.assignee) != Some(Some(from)) {
            return;
        }
        let Some(mut pending) = state.tasks.remove(&id) else { return };
        if from != Assignee::Local {
            pending.stop_watch();
        }
        match from {
            Assignee::Local => {
                state.local_free += 1;
                state.local_done += 1;
            }
            Assignee::Provider(key) => {
                if let Some(provider) = state.providers.get_mut(&key) {
                    provider.in_flight.remove(&id);
                    provider.done += 1;
                }
                state.refresh(key);
            }
        }
        let _ = pending.reply.send(result);
        self.pump(&mut state);
    }

    /// A provider's answer to `run`.
    pub(crate) fn provider_result(self: &Arc<Self>, provider: ProviderId, id: u64, result: Result<TaskOutput, TaskError>) {
        self.finish(id, Assignee::Provider(provider.0), result);
    }

    /// The broker's own timeout for a task on a provider: the provider is told to stop it and
    /// the task fails with `timeout`.
    fn expire(self: &Arc<Self>, id: u64, key: u64) {
        {
            let state = self.state();
            if state.tasks.get(&id).map(|p| p.assignee) != Some(Some(Assignee::Provider(key))) {
                return;
            }
            if let Some(provider) = state.providers.get(&key) {
                let _ = provider.commands.send(Command::Cancel { id });
            }
        }
        let message = "the provider did not answer within the task's timeout; the broker stopped waiting";
        self.finish(id, Assignee::Provider(key), Err(TaskError::new(TaskErrorKind::Timeout, message)));
    }

    /// The client no longer wants task `id`: it leaves the queue, or its runner is stopped.
    pub(crate) fn cancel(self: &Arc<Self>, id: u64) {
        let mut state = self.state();
        let Some(mut pending) = state.tasks.remove(&id) else { return };
        pending.stop_watch();
        match pending.assignee {
            None => state.queue.retain(|queued| *queued != id),
            Some(Assignee::Local) => state.local_free += 1,
            Some(Assignee::Provider(key)) => {
                if let Some(provider) = state.providers.get_mut(&key) {
                    provider.in_flight.remove(&id);
                    let _ = provider.commands.send(Command::Cancel { id });
                }
                state.refresh(key);
            }
        }
        self.pump(&mut state);
    }

    /// Registers a provider with `workers` free workers, unless `limit` are connected.
    pub(crate) fn join(
        self: &Arc<Self>,
        kind: ProviderKind,
        name: String,
        transport: Transport,
        workers: u32,
        limit: usize,
    ) -> Result<(ProviderId, mpsc::UnboundedReceiver<Command>), ProviderLimitReached> {
        let mut state = self.state();
        if state.providers.len() >= limit {
            return Err(ProviderLimitReached { limit });
        }
        state.next_provider += 1;
        let key = state.next_provider;
        let (commands, receiver) = mpsc::unbounded_channel();
        let provider = Provider { name, kind, transport, workers, in_flight: HashSet::new(), modules: HashSet::new(), done: 0, commands };
        state.provider_workers += workers as usize;
        state.providers.insert(key, provider);
        state.refresh(key);
        self.pump(&mut state);
        Ok((ProviderId(key), receiver))
    }

    /// A provider announced a new worker count.
    pub(crate) fn set_workers(self: &Arc<Self>, provider: ProviderId, workers: u32) {
        let key = provider.0;
        let mut state = self.state();
        if let Some(entry) = state.providers.get_mut(&key) {
            let before = std::mem::replace(&mut entry.workers, workers);
            state.provider_workers = state.provider_workers + workers as usize - before as usize;
        }
        state.refresh(key);
        self.pump(&mut state);
    }

    /// A provider dropped modules from its cache; they will be sent again when needed.
    pub(crate) fn evicted(self: &Arc<Self>, provider: ProviderId, digests: &[String]) {
        let key = provider.0;
        let mut state = self.state();
        let evicted: Vec<Digest> = digests.iter().filter_map(|d| d.parse().ok()).collect();
        if let Some(entry) = state.providers.get_mut(&key) {
            for digest in &evicted {
                entry.modules.remove(digest);
            }
        }
        for digest in &evicted {
            if let Some(set) = state.free_by_module.get_mut(digest) {
                set.remove(&key);
            }
        }
    }

    /// A provider left: its in-flight tasks go back to the front of the queue, or fail after
    /// [`MAX_ATTEMPTS`] providers lost them.
    pub(crate) fn leave(self: &Arc<Self>, provider: ProviderId, why: &str) {
        let key = provider.0;
        let mut state = self.state();
        let Some(gone) = state.forget_provider(key) else { return };
        let mut lost: Vec<u64> = gone.in_flight.into_iter().collect();
        lost.sort_unstable_by(|a, b| b.cmp(a));
        for id in lost {
            let Some(pending) = state.tasks.get_mut(&id) else { continue };
            pending.stop_watch();
            pending.assignee = None;
            pending.attempts += 1;
            if pending.attempts >= MAX_ATTEMPTS {
                if let Some(pending) = state.tasks.remove(&id) {
                    let message = format!("the task was lost on {MAX_ATTEMPTS} providers; the last one {why}");
                    let _ = pending.reply.send(Err(TaskError::new(TaskErrorKind::Internal, message)));
                }
            } else {
                state.queue.push_front(id);
            }
        }
        self.pump(&mut state);
    }

    /// Connected providers, for the cluster view.
    pub(crate) fn providers(&self) -> Vec<ProviderState> {
        let state = self.state();
        let mut providers: Vec<(u64, ProviderState)> = state
            .providers
            .iter()
            .map(|(key, p)| {
                let view = ProviderState {
                    id: ProviderId(*key),
                    kind: p.kind,
                    name: p.name.clone(),
                    transport: p.transport,
                    workers: p.workers as usize,
                    busy: p.in_flight.len(),
                    tasks_done: p.done,
                    modules_cached: p.modules.len(),
                };
                (*key, view)
            })
            .collect();
        providers.sort_by_key(|(key, _)| *key);
        providers.into_iter().map(|(_, view)| view).collect()
    }

    /// How many providers are connected.
    pub(crate) fn provider_count(&self) -> usize {
        self.state().providers.len()
    }

    /// Tasks waiting for a worker.
    pub(crate) fn queued(&self) -> usize {
        self.state().queue.len()
    }

    /// Workers of all connected providers.
    pub(crate) fn provider_workers(&self) -> usize {
        self.state().provider_workers
    }

    /// Tasks the local runner finished.
    pub(crate) fn local_done(&self) -> u64 {
        self.state().local_done
    }
}
