//! The scheduler's state with fake providers: no runner, no runtime, time passed in.

use super::FallbackPolicy;
use super::queue::{JobId, MemoryQueue, QueuedTask, TaskId, TaskQueue, TaskResult};
use super::state::{Command, Effect, MAX_ATTEMPTS, NewProvider, RESULT_GRACE, State, TIMEOUT_MESSAGE};
use crate::digest::Digest;
use crate::limits::EffectiveLimits;
use crate::prepare::{ModuleSource, PreparedTask};
use crate::task::TaskErrorKind;
use crate::trust::Trust;
use bytes::Bytes;
use serde_bytes::ByteBuf;
use std::time::{Duration, Instant};
use wasimoff_protocol::{Outcome, ProviderId, ProviderKind, Transport};

const TIMEOUT: Duration = Duration::from_secs(1);

fn prepared(module: &str) -> PreparedTask {
    PreparedTask {
        module: ModuleSource::inline(Bytes::copy_from_slice(module.as_bytes())),
        args: vec![module.to_string()],
        envs: vec![("KEY".into(), "value".into())],
        stdin: Bytes::from_static(b"in"),
        rootfs: None,
        files: vec![("data/in.txt".into(), Bytes::from_static(b"file"))],
        artifacts: vec![],
        limits: EffectiveLimits { timeout: TIMEOUT, memory_bytes: 1 << 20, output_bytes: 1 << 10, artifact_bytes: 1 << 10 },
        priority: 0,
        deterministic: None,
        verify: None,
    }
}

fn joining(workers: u32, prefetch: u32, local: bool) -> NewProvider {
    let transport = if local { Transport::InProcess } else { Transport::WebSocket };
    let trust = if local { Trust::Trusted } else { Trust::Untrusted };
    NewProvider { kind: ProviderKind::Native, name: "fake".into(), transport, workers, prefetch, local, trust }
}

fn exited(stdout: &str) -> TaskResult {
    let outcome = Outcome::Exited {
        status: 0,
        stdout: ByteBuf::from(stdout.as_bytes().to_vec()),
        stderr: ByteBuf::new(),
        artifacts: None,
        missing_artifacts: vec![],
        elapsed_us: 1,
    };
    TaskResult::from_outcome("fake", outcome)
}

/// A scheduler state with a clock.
struct Fake {
    state: State,
    now: Instant,
    last_job: u64,
}

impl Fake {
    fn new(policy: FallbackPolicy) -> Fake {
        Fake { state: State::new(policy, MemoryQueue::default()), now: Instant::now(), last_job: 0 }
    }

    fn join(&mut self, workers: u32) -> (ProviderId, Vec<Effect>) {
        self.state.join(joining(workers, 0, false), self.now)
    }

    fn join_prefetching(&mut self, workers: u32, prefetch: u32) -> (ProviderId, Vec<Effect>) {
        self.state.join(joining(workers, prefetch, false), self.now)
    }

    fn join_local(&mut self, workers: u32) -> (ProviderId, Vec<Effect>) {
        self.state.join(joining(workers, 1, true), self.now)
    }

    /// A new job's id.
    fn job(&mut self) -> JobId {
        self.last_job += 1;
        JobId(self.last_job)
    }

    /// Submits a task alone: a job of one.
    fn submit(&mut self, module: &str) -> (TaskId, Vec<Effect>) {
        let job = self.job();
        self.state.submit(prepared(module), job, self.now)
    }

    /// Submits a task of `job` with `priority`.
    fn submit_to(&mut self, job: JobId, priority: i32) -> (TaskId, Vec<Effect>) {
        self.state.submit(PreparedTask { priority, ..prepared("m") }, job, self.now)
    }

    fn answer(&mut self, provider: ProviderId, task: TaskId) -> Vec<Effect> {
        self.state.result(provider, task, exited("done"), self.now)
    }
}

/// The runs in `effects`: (provider, task, whether the module's bytes go along).
fn runs(effects: &[Effect]) -> Vec<(ProviderId, TaskId, bool)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Send { provider, command: Command::Run { task, send_module, .. } } => Some((*provider, *task, *send_module)),
            _ => None,
        })
        .collect()
}

/// The tasks run in `effects`, in order.
fn tasks_run(effects: &[Effect]) -> Vec<TaskId> {
    runs(effects).into_iter().map(|(_, task, _)| task).collect()
}

pub(super) fn cancels(effects: &[Effect]) -> Vec<(ProviderId, TaskId)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Send { provider, command: Command::Cancel { task } } => Some((*provider, *task)),
            _ => None,
        })
        .collect()
}

pub(super) fn replies(effects: &[Effect]) -> Vec<(TaskId, TaskResult)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Reply { task, result } => Some((*task, result.clone())),
            _ => None,
        })
        .collect()
}

fn ids(numbers: &[u64]) -> Vec<TaskId> {
    numbers.iter().map(|n| TaskId(*n)).collect()
}

#[test]
fn tasks_are_dispatched_in_submission_order() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let submitted: Vec<TaskId> = (0..4).map(|i| fake.submit(&format!("module {}", i % 2)).0).collect();
    assert_eq!(submitted, ids(&[1, 2, 3, 4]));
    let (provider, effects) = fake.join(3);
    assert_eq!(tasks_run(&effects), ids(&[1, 2, 3]));
    assert_eq!(fake.state.queued(), 1);
    let effects = fake.answer(provider, TaskId(2));
    assert_eq!(tasks_run(&effects), ids(&[4]));
    let (_, effects) = fake.submit("module 0");
    assert!(effects.is_empty(), "no credit left");
    let effects = fake.answer(provider, TaskId(1));
    assert_eq!(tasks_run(&effects), ids(&[5]));
}

#[test]
fn a_provider_never_gets_more_tasks_than_its_workers() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (provider, _) = fake.join(2);
    let dispatched: Vec<TaskId> = (0..6).flat_map(|_| tasks_run(&fake.submit("m").1)).collect();
    assert_eq!(dispatched, ids(&[1, 2]));
    assert_eq!(tasks_run(&fake.state.set_workers(provider, 4, fake.now)), ids(&[3, 4]));
    assert!(fake.state.set_workers(provider, 1, fake.now).is_empty());
    assert!(tasks_run(&fake.answer(provider, TaskId(1))).is_empty(), "3 running, 1 worker");
    assert!(tasks_run(&fake.answer(provider, TaskId(2))).is_empty(), "2 running, 1 worker");
    assert!(tasks_run(&fake.answer(provider, TaskId(3))).is_empty(), "1 running, 1 worker");
    assert_eq!(tasks_run(&fake.answer(provider, TaskId(4))), ids(&[5]));
    assert_eq!(fake.state.providers()[0].busy, 1);
    assert_eq!(fake.state.remote_workers(), 1);
}

#[test]
fn a_provider_with_the_module_cached_is_preferred() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (first, _) = fake.join(1);
    let (second, _) = fake.join(1);
    assert_eq!(runs(&fake.submit("m").1), [(first, TaskId(1), true)]);
    assert_eq!(runs(&fake.submit("n").1), [(second, TaskId(2), true)]);
    fake.answer(first, TaskId(1));
    fake.answer(second, TaskId(2));
    assert_eq!(runs(&fake.submit("n").1), [(second, TaskId(3), false)], "the provider with n cached, not the lowest id");
    assert_eq!(runs(&fake.submit("m").1), [(first, TaskId(4), false)]);
}

#[test]
fn a_module_is_sent_once_per_provider_and_again_after_eviction() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (provider, _) = fake.join(1);
    let mut sent = Vec::new();
    for round in 0..4 {
        if round == 2 {
            fake.state.evicted(provider, &[Digest::of(b"m")]);
        }
        let (task, effects) = fake.submit("m");
        sent.extend(runs(&effects).into_iter().map(|(_, _, send_module)| send_module));
        fake.answer(provider, task);
    }
    assert_eq!(sent, [true, false, true, false]);
    assert_eq!(fake.state.providers()[0].modules_cached, 1);
}

#[test]
fn tasks_of_a_provider_that_leaves_go_back_to_the_front_of_the_queue() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (doomed, _) = fake.join(2);
    for _ in 0..4 {
        fake.submit("m");
    }
    let effects = fake.state.leave(doomed, "disconnected", fake.now);
    assert!(effects.is_empty(), "nobody can take them");
    assert_eq!(fake.state.queued(), 4);
    let (heir, effects) = fake.join(4);
    assert_eq!(runs(&effects), [(heir, TaskId(1), true), (heir, TaskId(2), false), (heir, TaskId(3), false), (heir, TaskId(4), false)]);
    assert!(fake.answer(doomed, TaskId(1)).is_empty(), "a result from the provider that left is stale");
    assert_eq!(replies(&fake.answer(heir, TaskId(1))).len(), 1);
}

#[test]
fn a_task_lost_on_every_attempt_fails_with_internal() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (task, _) = fake.submit("m");
    for attempt in 1..=MAX_ATTEMPTS {
        let (provider, effects) = fake.join(1);
        assert_eq!(tasks_run(&effects), [task], "attempt {attempt}");
        let effects = fake.state.leave(provider, "disconnected", fake.now);
        let failed = replies(&effects);
        if attempt < MAX_ATTEMPTS {
            assert!(failed.is_empty(), "attempt {attempt}");
            continue;
        }
        let (failed_task, result) = failed.into_iter().next().unwrap();
        let error = result.into_result().unwrap_err();
        assert_eq!(failed_task, task);
        assert_eq!(
            (error.kind, error.message.as_str()),
            (TaskErrorKind::Internal, "the task was lost on 3 providers; the last one disconnected")
        );
    }
    assert_eq!(fake.state.queued(), 0);
    let (_, effects) = fake.join(1);
    assert!(effects.is_empty(), "the failed task is gone");
}

#[test]
fn a_silent_provider_is_told_to_cancel_and_the_task_times_out() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (provider, _) = fake.join(1);
    let (task, _) = fake.submit("m");
    let (waiting, _) = fake.submit("m");
    let deadline = fake.now + TIMEOUT + RESULT_GRACE;
    assert_eq!(fake.state.next_deadline(), Some(deadline));
    assert!(fake.state.expire(deadline - Duration::from_millis(1)).is_empty());
    let effects = fake.state.expire(deadline);
    assert_eq!(cancels(&effects), [(provider, task)]);
    let timed_out = replies(&effects);
    assert_eq!(timed_out.len(), 1);
    let error = timed_out[0].1.clone().into_result().unwrap_err();
    assert_eq!((timed_out[0].0, error.kind, error.message.as_str()), (task, TaskErrorKind::Timeout, TIMEOUT_MESSAGE));
    assert_eq!(tasks_run(&effects), [waiting], "the freed worker takes the next task");
    assert_eq!(fake.state.next_deadline(), Some(deadline + TIMEOUT + RESULT_GRACE), "the next task's deadline counts from its dispatch");
    assert!(fake.state.result(provider, task, exited("late"), deadline).is_empty(), "a late result is dropped");
}

#[test]
fn the_local_provider_has_no_broker_deadline() {
    let mut fake = Fake::new(FallbackPolicy::WhenNoProviders);
    let (local, _) = fake.join_local(1);
    let (task, effects) = fake.submit("m");
    assert_eq!(runs(&effects), [(local, task, false)], "the local runner needs no module bytes");
    assert_eq!(fake.state.next_deadline(), None);
    assert!(fake.state.expire(fake.now + Duration::from_secs(3600)).is_empty());
    assert_eq!(replies(&fake.answer(local, task)).len(), 1);
    assert_eq!(fake.state.local_done(), 1);
    assert!(fake.state.providers().is_empty(), "the cluster view lists remote providers only");
}

#[test]
fn cancelling_a_queued_task_removes_it() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (first, _) = fake.submit("m");
    let (second, _) = fake.submit("m");
    assert!(fake.state.cancel(first, fake.now).is_empty());
    assert_eq!(fake.state.queued(), 1);
    let (_, effects) = fake.join(2);
    assert_eq!(tasks_run(&effects), [second]);
}

#[test]
fn cancelling_a_running_task_tells_its_provider() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (provider, _) = fake.join(1);
    let (running, _) = fake.submit("m");
    let (next, _) = fake.submit("m");
    let effects = fake.state.cancel(running, fake.now);
    assert_eq!(cancels(&effects), [(provider, running)]);
    assert_eq!(tasks_run(&effects), [next], "the freed worker takes the next task");
    assert!(replies(&effects).is_empty(), "no result for a cancelled task");
    assert!(fake.answer(provider, running).is_empty(), "a result after the cancel is dropped");
    assert_eq!(fake.state.next_deadline(), Some(fake.now + TIMEOUT + RESULT_GRACE), "only the next task's deadline is left");
}

#[test]
fn every_task_gets_exactly_one_result() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (provider, _) = fake.join(1);
    let (other, _) = fake.join(1);
    let (task, _) = fake.submit("m");
    assert!(fake.answer(other, task).is_empty(), "a result from a provider that does not run the task");
    assert_eq!(replies(&fake.answer(provider, task)), [(task, exited("done"))]);
    assert!(fake.answer(provider, task).is_empty(), "a duplicate result");
    assert!(fake.state.cancel(task, fake.now).is_empty(), "cancelling a finished task changes nothing");
    assert_eq!(fake.state.providers()[0].tasks_done, 1);
}

#[test]
fn when_no_providers_the_local_provider_runs_only_while_no_remote_one_is_connected() {
    let mut fake = Fake::new(FallbackPolicy::WhenNoProviders);
    let (local, _) = fake.join_local(2);
    let (first, effects) = fake.submit("m");
    assert_eq!(runs(&effects), [(local, first, false)]);
    let (remote, _) = fake.join(1);
    let (second, effects) = fake.submit("m");
    assert_eq!(runs(&effects), [(remote, second, true)]);
    let (third, effects) = fake.submit("m");
    assert!(effects.is_empty(), "the local runner has a free slot but a provider is connected");
    let effects = fake.state.leave(remote, "disconnected", fake.now);
    assert_eq!(runs(&effects), [(local, second, false)], "the lost task first; the local runner has one slot left");
    let effects = fake.answer(local, first);
    assert_eq!(runs(&effects), [(local, third, false)]);
}

#[test]
fn always_the_local_provider_runs_beside_remote_ones() {
    let mut fake = Fake::new(FallbackPolicy::Always);
    let (remote, _) = fake.join(1);
    let (local, _) = fake.join_local(1);
    let (first, effects) = fake.submit("m");
    assert_eq!(runs(&effects), [(local, first, false)], "before a remote provider that lacks the module");
    let (second, effects) = fake.submit("m");
    assert_eq!(runs(&effects), [(remote, second, true)]);
    fake.answer(local, first);
    fake.answer(remote, second);
    let (third, effects) = fake.submit("m");
    assert_eq!(runs(&effects), [(remote, third, false)], "a remote provider with the module cached comes first");
}

#[test]
fn never_the_local_provider_stays_idle() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (_, effects) = fake.join_local(4);
    assert!(effects.is_empty());
    let (task, effects) = fake.submit("m");
    assert!(effects.is_empty());
    assert_eq!(fake.state.queued(), 1);
    let (remote, effects) = fake.join(1);
    assert_eq!(runs(&effects), [(remote, task, true)]);
    assert_eq!(fake.state.remote_count(), 1);
}

#[test]
fn a_prefetching_provider_holds_its_workers_plus_prefetch_per_worker() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (provider, _) = fake.join_prefetching(2, 1);
    let dispatched: Vec<TaskId> = (0..6).flat_map(|_| tasks_run(&fake.submit("m").1)).collect();
    assert_eq!(dispatched, ids(&[1, 2, 3, 4]), "2 to run, 2 to queue");
    assert_eq!(fake.state.queued(), 2);
    assert_eq!(tasks_run(&fake.answer(provider, TaskId(3))), ids(&[5]), "a result makes room for one more");
    assert_eq!(fake.state.providers()[0].busy, 2, "busy counts workers, not queued tasks");
    assert_eq!(fake.state.remote_capacity(), 4);
    assert!(fake.state.set_workers(provider, 0, fake.now).is_empty(), "a paused provider takes nothing");
    for task in [1, 2, 4, 5] {
        assert!(tasks_run(&fake.answer(provider, TaskId(task))).is_empty(), "paused, task {task}");
    }
    assert_eq!(tasks_run(&fake.state.set_workers(provider, 1, fake.now)), ids(&[6]));
}

#[test]
fn idle_workers_anywhere_are_filled_before_any_provider_queue() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (fast, _) = fake.join_prefetching(1, 1);
    let (first, _) = fake.submit("m");
    fake.answer(fast, first);
    let (idle, _) = fake.join_prefetching(1, 1);
    let placed: Vec<(ProviderId, TaskId, bool)> = (0..5).flat_map(|_| runs(&fake.submit("m").1)).collect();
    assert_eq!(
        placed,
        [(fast, TaskId(2), false), (idle, TaskId(3), true), (fast, TaskId(4), false), (idle, TaskId(5), false)],
        "the idle provider's worker before the fast provider's queue; then the queues, lowest id first"
    );
    assert_eq!(fake.state.queued(), 1);
    assert_eq!(runs(&fake.answer(idle, TaskId(3))), [(idle, TaskId(6), false)], "room on the provider that answered");
}

#[test]
fn the_local_provider_never_prefetches() {
    let mut fake = Fake::new(FallbackPolicy::Always);
    let (local, _) = fake.join_local(1);
    let (first, effects) = fake.submit("m");
    assert_eq!(runs(&effects), [(local, first, false)]);
    let (second, effects) = fake.submit("m");
    assert!(effects.is_empty(), "asked for prefetch, the local runner still takes one task per worker");
    assert_eq!(runs(&fake.answer(local, first)), [(local, second, false)]);
    let (remote, _) = fake.join_prefetching(1, 1);
    let (third, effects) = fake.submit("m");
    assert_eq!(runs(&effects), [(remote, third, true)], "an idle remote worker before a queue");
    let (fourth, effects) = fake.submit("m");
    assert_eq!(runs(&effects), [(remote, fourth, false)], "the remote provider's queue; the local runner is busy");
}

#[test]
fn a_lost_provider_gives_back_its_running_and_its_queued_tasks() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (doomed, _) = fake.join_prefetching(1, 2);
    let (witness, _) = fake.join(1);
    let dispatched: Vec<(ProviderId, TaskId, bool)> = (0..4).flat_map(|_| runs(&fake.submit("m").1)).collect();
    assert_eq!(dispatched.iter().filter(|(provider, ..)| *provider == doomed).count(), 3, "{dispatched:?}");
    let effects = fake.state.leave(doomed, "disconnected", fake.now);
    assert!(effects.is_empty(), "the witness is busy");
    assert_eq!(fake.state.queued(), 3);
    let (heir, effects) = fake.join_prefetching(1, 2);
    assert_eq!(tasks_run(&effects), ids(&[1, 3, 4]), "in their order, at the front");
    for task in [1, 3, 4] {
        assert!(fake.answer(doomed, TaskId(task)).is_empty(), "stale result of task {task}");
        assert_eq!(replies(&fake.answer(heir, TaskId(task))), [(TaskId(task), exited("done"))]);
        assert!(fake.answer(heir, TaskId(task)).is_empty(), "a duplicate of task {task}");
    }
    assert_eq!(replies(&fake.answer(witness, TaskId(2))).len(), 1);
}

#[test]
fn cancelling_a_task_queued_on_its_provider_tells_the_provider_and_frees_its_place() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (provider, _) = fake.join_prefetching(1, 1);
    let (running, _) = fake.submit("m");
    let (queued, effects) = fake.submit("m");
    assert_eq!(tasks_run(&effects), [queued], "into the provider's queue");
    let (waiting, effects) = fake.submit("m");
    assert!(effects.is_empty());
    let effects = fake.state.cancel(queued, fake.now);
    assert_eq!(cancels(&effects), [(provider, queued)]);
    assert_eq!(tasks_run(&effects), [waiting], "the freed place takes the next task");
    assert!(replies(&effects).is_empty());
    assert!(fake.answer(provider, queued).is_empty(), "a result after the cancel is dropped");
    assert_eq!(replies(&fake.answer(provider, running)).len(), 1);
    assert_eq!(replies(&fake.answer(provider, waiting)).len(), 1);
}

#[test]
fn a_queued_task_has_its_time_after_the_tasks_ahead_of_it() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (provider, _) = fake.join_prefetching(1, 1);
    let (running, _) = fake.submit("m");
    let first_deadline = fake.now + TIMEOUT + RESULT_GRACE;
    assert_eq!(fake.state.next_deadline(), Some(first_deadline), "a task given to an idle worker: from its dispatch");
    fake.now += Duration::from_millis(300);
    let (queued, _) = fake.submit("m");
    let effects = fake.state.expire(first_deadline);
    assert_eq!(cancels(&effects), [(provider, running)]);
    assert_eq!(replies(&effects).len(), 1, "only the running task timed out");
    assert_eq!(
        fake.state.next_deadline(),
        Some(first_deadline + TIMEOUT + RESULT_GRACE),
        "the queued task's time counts from when the task ahead of it must have ended"
    );
    assert_eq!(replies(&fake.answer(provider, queued)).len(), 1);
    assert_eq!(fake.state.next_deadline(), None);
}

#[test]
fn queued_tasks_and_results_serialise() {
    let queued = QueuedTask { id: TaskId(7), job: JobId(3), task: PreparedTask { priority: -2, ..prepared("m") }, attempts: 2 };
    let json = serde_json::to_string(&queued).unwrap();
    assert_eq!(serde_json::from_str::<QueuedTask>(&json).unwrap(), queued);
    let result = exited("out");
    assert_eq!(serde_json::from_str::<TaskResult>(&serde_json::to_string(&result).unwrap()).unwrap(), result);
}

#[test]
fn jobs_take_turns_one_task_each() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (long, short, single) = (fake.job(), fake.job(), fake.job());
    let long_tasks: Vec<TaskId> = (0..4).map(|_| fake.submit_to(long, 0).0).collect();
    let short_tasks: Vec<TaskId> = (0..2).map(|_| fake.submit_to(short, 0).0).collect();
    let (alone, _) = fake.submit_to(single, 0);
    let (_, effects) = fake.join(7);
    let expected = [long_tasks[0], short_tasks[0], alone, long_tasks[1], short_tasks[1], long_tasks[2], long_tasks[3]];
    assert_eq!(tasks_run(&effects), expected);
}

#[test]
fn a_job_submitted_behind_a_long_one_goes_next() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (provider, _) = fake.join(1);
    let sweep = fake.job();
    let sweep_tasks: Vec<TaskId> = (0..100).map(|_| fake.submit_to(sweep, 0).0).collect();
    let (alone, effects) = fake.submit("m");
    assert!(effects.is_empty(), "the worker is busy");
    assert_eq!(tasks_run(&fake.answer(provider, sweep_tasks[0])), [sweep_tasks[1]], "the sweep's turn came before the task joined");
    assert_eq!(tasks_run(&fake.answer(provider, sweep_tasks[1])), [alone], "not the sweep's third task");
    assert_eq!(tasks_run(&fake.answer(provider, alone)), [sweep_tasks[2]]);
    assert_eq!(fake.state.queued(), 97);
}

#[test]
fn a_higher_priority_goes_first_and_jobs_take_turns_within_a_priority() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (low, normal, other, high) = (fake.job(), fake.job(), fake.job(), fake.job());
    let (low_task, _) = fake.submit_to(low, -1);
    let normal_tasks: Vec<TaskId> = (0..2).map(|_| fake.submit_to(normal, 0).0).collect();
    let (other_task, _) = fake.submit_to(other, 0);
    let high_tasks: Vec<TaskId> = (0..2).map(|_| fake.submit_to(high, 5).0).collect();
    let (provider, effects) = fake.join(1);
    assert_eq!(tasks_run(&effects), [high_tasks[0]]);
    let mut order = vec![high_tasks[0]];
    while let Some(&last) = order.last() {
        let next = tasks_run(&fake.answer(provider, last));
        if next.is_empty() {
            break;
        }
        order.extend(next);
    }
    assert_eq!(order, [high_tasks[0], high_tasks[1], normal_tasks[0], other_task, normal_tasks[1], low_task]);
}

#[test]
fn tasks_taken_back_go_first_in_their_job_and_their_job_first_in_its_priority() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (first, second, urgent) = (fake.job(), fake.job(), fake.job());
    let a: Vec<TaskId> = (0..3).map(|_| fake.submit_to(first, 0).0).collect();
    let b: Vec<TaskId> = (0..2).map(|_| fake.submit_to(second, 0).0).collect();
    let (doomed, effects) = fake.join(2);
    assert_eq!(tasks_run(&effects), [a[0], b[0]]);
    fake.submit_to(second, 0);
    assert!(fake.state.leave(doomed, "disconnected", fake.now).is_empty());
    let (urgent_task, _) = fake.submit_to(urgent, 1);
    let (heir, effects) = fake.join(8);
    assert_eq!(tasks_run(&effects), [urgent_task, a[0], b[0], a[1], b[1], a[2], TaskId(6)]);
    assert_eq!(fake.state.jobs().iter().map(|job| (job.job, job.running)).collect::<Vec<_>>(), [(1, 3), (2, 3), (3, 1)]);
    assert_eq!(replies(&fake.answer(heir, a[0])).len(), 1);
}

#[test]
fn a_cancelled_task_leaves_its_job_and_an_emptied_job_loses_its_turn() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (first, second, third) = (fake.job(), fake.job(), fake.job());
    let a: Vec<TaskId> = (0..2).map(|_| fake.submit_to(first, 0).0).collect();
    let (b, _) = fake.submit_to(second, 0);
    let (c, _) = fake.submit_to(third, 0);
    assert!(fake.state.cancel(a[0], fake.now).is_empty());
    assert!(fake.state.cancel(b, fake.now).is_empty());
    assert!(fake.state.cancel(b, fake.now).is_empty(), "a second cancel finds nothing");
    let depths: Vec<(u64, usize)> = fake.state.jobs().iter().map(|job| (job.job, job.queued)).collect();
    assert_eq!(depths, [(1, 1), (3, 1)], "the emptied job is gone from the view and the ring");
    assert_eq!(fake.state.queued(), 2);
    let (_, effects) = fake.join(4);
    assert_eq!(tasks_run(&effects), [a[1], c]);
    assert_eq!(fake.state.queued(), 0);
    assert!(fake.state.jobs().iter().all(|job| job.queued == 0 && job.running == 1));
}

#[test]
fn the_job_view_counts_queued_and_dispatched_tasks_per_job_and_priority() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (sweep, urgent) = (fake.job(), fake.job());
    for _ in 0..5 {
        fake.submit_to(sweep, 0);
    }
    fake.submit_to(sweep, 2);
    fake.submit_to(urgent, 2);
    fake.join(3);
    let view: Vec<(u64, i32, usize, usize)> =
        fake.state.jobs().iter().map(|job| (job.job, job.priority, job.queued, job.running)).collect();
    assert_eq!(view, [(1, 0, 4, 1), (1, 2, 0, 1), (2, 2, 0, 1)]);
}

#[test]
fn the_memory_queue_front_is_what_pop_takes() {
    let mut queue = MemoryQueue::default();
    for (id, job, priority) in [(1, 1, 0), (2, 1, 0), (3, 2, 0), (4, 3, 7), (5, 2, 0)] {
        queue.push_back(QueuedTask { id: TaskId(id), job: JobId(job), task: PreparedTask { priority, ..prepared("m") }, attempts: 0 });
    }
    assert_eq!(queue.depths(), [(JobId(3), 7, 1), (JobId(1), 0, 2), (JobId(2), 0, 2)]);
    let mut order = Vec::new();
    while let Some(front) = queue.front().map(|task| task.id) {
        let popped = queue.pop_front().map(|task| task.id);
        assert_eq!(popped, Some(front));
        order.push(front);
    }
    assert_eq!(order, ids(&[4, 1, 3, 2, 5]));
    assert_eq!((queue.len(), queue.depths()), (0, vec![]));
    assert!(queue.remove(TaskId(1)).is_none());
    let low = QueuedTask { id: TaskId(6), job: JobId(4), task: PreparedTask { priority: -1, ..prepared("m") }, attempts: 0 };
    queue.push_back(low);
    assert_eq!(queue.front().map(|task| task.id), Some(TaskId(6)), "below the emptied default class");
    assert_eq!(queue.remove(TaskId(6)).map(|task| task.id), Some(TaskId(6)));
    assert_eq!((queue.len(), queue.front().is_none(), queue.pop_front()), (0, true, None));
}
