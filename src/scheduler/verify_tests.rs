//! Verification in the scheduler's state with fake providers: replica placement, quorum,
//! disagreement, spot checks, strikes and quarantine, and exactly one result per task.

use super::FallbackPolicy;
use super::queue::{JobId, MemoryQueue, TaskId, TaskResult};
use super::state::{Command, Effect, NewProvider, State, StrikePolicy};
use super::tests::{cancels, replies};
use super::verify::check_probability;
use crate::limits::EffectiveLimits;
use crate::prepare::{ModuleSource, PreparedTask};
use crate::task::TaskErrorKind;
use crate::trust::Trust;
use crate::verify::Verify;
use bytes::Bytes;
use serde_bytes::ByteBuf;
use std::time::{Duration, Instant};
use wasimoff_protocol::{Outcome, ProviderId, ProviderKind, Transport};

fn prepared(verify: Verify) -> PreparedTask {
    PreparedTask {
        module: ModuleSource::inline(Bytes::from_static(b"m")),
        args: vec!["m".into()],
        envs: vec![],
        stdin: Bytes::new(),
        rootfs: None,
        files: vec![],
        artifacts: vec![],
        limits: EffectiveLimits { timeout: Duration::from_secs(1), memory_bytes: 1 << 20, output_bytes: 1 << 10, artifact_bytes: 1 << 10 },
        priority: 0,
        deterministic: Some(0),
        verify: Some(verify),
    }
}

fn exited(ran_on: impl Into<String>, stdout: &str) -> TaskResult {
    let outcome = Outcome::Exited {
        status: 0,
        stdout: ByteBuf::from(stdout.as_bytes().to_vec()),
        stderr: ByteBuf::new(),
        artifacts: None,
        missing_artifacts: vec![],
        elapsed_us: 1,
    };
    TaskResult::from_outcome(ran_on, outcome)
}

/// A scheduler state with a clock and a fixed spot-check generator.
struct Fake {
    state: State,
    now: Instant,
}

impl Fake {
    fn new(policy: FallbackPolicy) -> Fake {
        let strikes = StrikePolicy { limit: 3, window: Duration::from_secs(60) };
        Fake { state: State::new(policy, MemoryQueue::default()).with_strikes(strikes).with_seed(7), now: Instant::now() }
    }

    fn join(&mut self, workers: u32, trust: Trust) -> (ProviderId, Vec<Effect>) {
        let joining = NewProvider {
            kind: ProviderKind::Native,
            name: "fake".into(),
            transport: Transport::WebSocket,
            workers,
            prefetch: 0,
            local: false,
            trust,
        };
        self.state.join(joining, self.now)
    }

    fn join_local(&mut self) -> ProviderId {
        let joining = NewProvider {
            kind: ProviderKind::Native,
            name: "local".into(),
            transport: Transport::InProcess,
            workers: 4,
            prefetch: 0,
            local: true,
            trust: Trust::Trusted,
        };
        self.state.join(joining, self.now).0
    }

    fn untrusted(&mut self, workers: u32) -> ProviderId {
        self.join(workers, Trust::Untrusted).0
    }

    fn submit(&mut self, verify: Verify) -> (TaskId, Vec<Effect>) {
        self.state.submit(prepared(verify), JobId(1), self.now)
    }

    /// `provider` answers `run` with `stdout`, naming itself.
    fn answer(&mut self, provider: ProviderId, run: TaskId, stdout: &str) -> Vec<Effect> {
        let name = if self.state.providers().iter().any(|p| p.id == provider) { provider.to_string() } else { "local".into() };
        self.state.result(provider, run, exited(name, stdout), self.now)
    }
}

fn runs(effects: &[Effect]) -> Vec<(ProviderId, TaskId)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Send { provider, command: Command::Run { task, .. } } => Some((*provider, *task)),
            _ => None,
        })
        .collect()
}

fn quarantines(effects: &[Effect]) -> Vec<(ProviderId, String)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Send { provider, command: Command::Quarantine { reason } } => Some((*provider, reason.clone())),
            _ => None,
        })
        .collect()
}

fn stdout(result: &TaskResult) -> String {
    match &result.outcome {
        Outcome::Exited { stdout, .. } => String::from_utf8_lossy(stdout).into_owned(),
        Outcome::Failed { kind, message, .. } => format!("{kind}: {message}"),
    }
}

#[test]
fn replicas_go_to_distinct_providers_even_when_one_has_room_for_all() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let big = fake.untrusted(8);
    let (_, effects) = fake.submit(Verify::replicas(3));
    assert_eq!(runs(&effects).len(), 1, "one replica per provider");
    assert_eq!(fake.state.queued(), 0, "the others wait aside: no other provider is connected");
    let (second, effects) = fake.join(1, Trust::Untrusted);
    let (third, more) = fake.join(1, Trust::Untrusted);
    let placed: Vec<ProviderId> = runs(&effects).into_iter().chain(runs(&more)).map(|(provider, _)| provider).collect();
    assert_eq!(placed, [second, third]);
    assert!(!placed.contains(&big));
    assert!(replies(&effects).is_empty() && replies(&more).is_empty());
}

#[test]
fn a_quorum_of_equal_results_is_accepted_once_naming_every_confirmer() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (a, b, c) = (fake.untrusted(1), fake.untrusted(1), fake.untrusted(1));
    let (task, effects) = fake.submit(Verify::replicas(3).quorum(2));
    let placed = runs(&effects);
    assert_eq!(placed.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [a, b, c]);
    assert!(replies(&fake.answer(a, placed[0].1, "42")).is_empty(), "one result is no quorum");
    let effects = fake.answer(b, placed[1].1, "42");
    let answered = replies(&effects);
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].0, task);
    assert_eq!(stdout(&answered[0].1), "42");
    assert_eq!(answered[0].1.verified_by, [a.to_string(), b.to_string()]);
    assert_eq!(cancels(&effects), [(c, placed[2].1)], "the replica still running is stopped");
    assert!(fake.answer(c, placed[2].1, "42").is_empty(), "a late replica changes nothing");
    assert_eq!(fake.state.verification().verified, 1);
    assert!(fake.state.providers().iter().filter(|p| p.id != c).all(|p| p.verified == 1));
}

#[test]
fn a_disagreement_adds_a_replica_and_the_loser_gets_a_strike() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (honest, liar, third) = (fake.untrusted(1), fake.untrusted(1), fake.untrusted(1));
    let (task, effects) = fake.submit(Verify::replicas(2));
    let placed = runs(&effects);
    assert_eq!(placed.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [honest, liar]);
    assert!(fake.answer(honest, placed[0].1, "right").is_empty());
    let effects = fake.answer(liar, placed[1].1, "wrong");
    let extra = runs(&effects);
    assert_eq!(extra.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [third], "one more replica, on a provider that had none");
    assert!(replies(&effects).is_empty());
    let effects = fake.answer(third, extra[0].1, "right");
    let answered = replies(&effects);
    assert_eq!(answered.len(), 1);
    assert_eq!((answered[0].0, stdout(&answered[0].1)), (task, "right".into()));
    assert_eq!(answered[0].1.verified_by, [honest.to_string(), third.to_string()]);
    let stats = fake.state.verification();
    assert_eq!((stats.verified, stats.disagreements, stats.strikes, stats.quarantines), (1, 1, 1, 0));
    let strikes: Vec<(ProviderId, u64)> = fake.state.providers().iter().map(|p| (p.id, p.strikes)).collect();
    assert_eq!(strikes, [(honest, 0), (liar, 1), (third, 0)]);
}

#[test]
fn without_a_quorum_up_to_max_replicas_the_task_fails_unverified_naming_the_providers() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let providers: Vec<ProviderId> = (0..4).map(|_| fake.untrusted(1)).collect();
    let (task, effects) = fake.submit(Verify::replicas(2).max_replicas(3));
    let mut pending = runs(&effects);
    let mut answers = 0;
    let mut answered = Vec::new();
    while let Some((provider, run)) = pending.pop() {
        answers += 1;
        let effects = fake.answer(provider, run, &format!("answer {answers}"));
        pending.extend(runs(&effects));
        answered.extend(replies(&effects));
    }
    assert_eq!(answers, 3, "max_replicas runs, no more");
    assert_eq!(answered.len(), 1);
    let (id, result) = &answered[0];
    assert_eq!(*id, task);
    let Outcome::Failed { kind, message, .. } = &result.outcome else { panic!("an unverified failure: {result:?}") };
    assert_eq!(*kind, TaskErrorKind::Unverified);
    for provider in &providers[..3] {
        assert!(message.contains(&provider.to_string()), "{message} names {provider}");
    }
    assert!(!message.contains(&providers[3].to_string()));
    let stats = fake.state.verification();
    assert_eq!((stats.unverified, stats.disagreements, stats.strikes), (1, 1, 0), "no quorum, no loser");
}

#[test]
fn a_trusted_result_counts_as_a_quorum_by_itself() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (trusted, _) = fake.join(1, Trust::Trusted);
    let other = fake.untrusted(1);
    let (task, effects) = fake.submit(Verify::replicas(2));
    let placed = runs(&effects);
    let effects = fake.answer(trusted, placed[0].1, "sure");
    let answered = replies(&effects);
    assert_eq!(answered.len(), 1);
    assert_eq!((answered[0].0, answered[0].1.verified_by.clone()), (task, vec![trusted.to_string()]));
    assert_eq!(cancels(&effects), [(other, placed[1].1)]);

    let (_, effects) = fake.submit(Verify::replicas(2).trusted_alone(false));
    let placed = runs(&effects);
    let trusted_run = placed.iter().find(|(p, _)| *p == trusted).map(|(_, run)| *run).unwrap_or(TaskId(0));
    assert!(replies(&fake.answer(trusted, trusted_run, "sure")).is_empty(), "asked for a full quorum");
}

#[test]
fn the_local_runner_takes_a_replica_no_other_provider_can_and_settles_it() {
    let mut fake = Fake::new(FallbackPolicy::WhenNoProviders);
    let local = fake.join_local();
    let remote = fake.untrusted(1);
    let (task, effects) = fake.submit(Verify::replicas(2));
    let placed = runs(&effects);
    assert_eq!(placed.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [remote, local]);
    let answered = replies(&fake.answer(local, placed[1].1, "ok"));
    assert_eq!((answered[0].0, answered[0].1.verified_by.clone()), (task, vec!["local".to_string()]));
}

#[test]
fn a_full_spot_check_reruns_on_a_trusted_runner_and_catches_a_lie() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let local = fake.join_local();
    let liar = fake.untrusted(1);
    let (task, effects) = fake.submit(Verify::spot_check(1.0));
    let placed = runs(&effects);
    assert_eq!(placed.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [liar], "the policy keeps the first run off the local runner");
    let effects = fake.answer(liar, placed[0].1, "forged");
    let check = runs(&effects);
    assert_eq!(check.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [local], "the check runs on the trusted local runner");
    assert!(replies(&effects).is_empty());
    let answered = replies(&fake.answer(local, check[0].1, "true"));
    assert_eq!(answered.len(), 1);
    assert_eq!((answered[0].0, stdout(&answered[0].1)), (task, "true".into()));
    assert_eq!(answered[0].1.verified_by, ["local"]);
    let stats = fake.state.verification();
    assert_eq!((stats.spot_checks, stats.disagreements, stats.strikes), (1, 1, 1));

    let (_, effects) = fake.submit(Verify::spot_check(1.0));
    let produced = runs(&effects)[0].1;
    let check = runs(&fake.answer(liar, produced, "honest"))[0].1;
    let answered = replies(&fake.answer(local, check, "honest"));
    assert_eq!(answered[0].1.verified_by, [liar.to_string(), "local".to_string()]);
}

#[test]
fn a_spot_check_prefers_a_trusted_remote_provider_and_a_zero_rate_checks_nothing() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    fake.join_local();
    let producer = fake.untrusted(1);
    let (trusted, _) = fake.join(1, Trust::Trusted);
    let (_, effects) = fake.submit(Verify::spot_check(1.0));
    let produced = runs(&effects);
    assert_eq!(produced[0].0, producer, "the first idle provider");
    let check = runs(&fake.answer(producer, produced[0].1, "x"));
    assert_eq!(check.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [trusted]);

    let mut fake = Fake::new(FallbackPolicy::Never);
    fake.join_local();
    let producer = fake.untrusted(1);
    let (task, effects) = fake.submit(Verify::spot_check(0.0));
    let effects = fake.answer(producer, runs(&effects)[0].1, "x");
    assert!(runs(&effects).is_empty());
    let answered = replies(&effects);
    assert_eq!((answered[0].0, answered[0].1.verified_by.clone()), (task, vec![producer.to_string()]));
}

#[test]
fn strikes_within_the_window_quarantine_a_provider_which_then_takes_no_task() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let local = fake.join_local();
    let liar = fake.untrusted(1);
    for strike in 1..=3 {
        let (_, effects) = fake.submit(Verify::spot_check(1.0));
        let produced = runs(&effects);
        assert_eq!(produced[0].0, liar);
        let check = runs(&fake.answer(liar, produced[0].1, "forged"))[0].1;
        let effects = fake.answer(local, check, "true");
        let quarantined = quarantines(&effects);
        if strike < 3 {
            assert!(quarantined.is_empty());
        } else {
            assert_eq!(quarantined, [(liar, "quarantined: 3 of this provider's results lost verification votes within 60 s".into())]);
        }
    }
    let stats = fake.state.verification();
    assert_eq!((stats.strikes, stats.quarantines), (3, 1));
    assert!(fake.state.providers()[0].quarantined);
    let (_, effects) = fake.submit(Verify::spot_check(1.0));
    assert!(runs(&effects).is_empty(), "a quarantined provider gets no task");
    let effects = fake.state.leave(liar, "was quarantined", fake.now);
    assert!(runs(&effects).is_empty(), "a spot-checked task waits for a provider");
}

#[test]
fn strikes_outside_the_window_are_forgotten() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let local = fake.join_local();
    let liar = fake.untrusted(1);
    for _ in 0..5 {
        let (_, effects) = fake.submit(Verify::spot_check(1.0));
        let check = runs(&fake.answer(liar, runs(&effects)[0].1, "forged"))[0].1;
        assert!(quarantines(&fake.answer(local, check, "true")).is_empty());
        fake.now += Duration::from_secs(31);
    }
    assert_eq!(fake.state.verification().strikes, 5);
}

#[test]
fn cancelling_a_verified_task_stops_every_run_and_no_result_follows() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (a, b) = (fake.untrusted(1), fake.untrusted(1));
    let (task, effects) = fake.submit(Verify::replicas(3));
    let placed = runs(&effects);
    assert_eq!(fake.state.queued(), 0, "the third replica waits aside");
    let effects = fake.state.cancel(task, fake.now);
    let mut stopped = cancels(&effects);
    stopped.sort();
    assert_eq!(stopped, [(a, placed[0].1), (b, placed[1].1)]);
    assert!(replies(&effects).is_empty());
    assert!(replies(&fake.answer(a, placed[0].1, "x")).is_empty());
    let (_, effects) = fake.join(1, Trust::Untrusted);
    assert!(runs(&effects).is_empty(), "the run waiting aside is gone too");
}

#[test]
fn a_replica_lost_with_its_provider_runs_elsewhere_and_the_task_gets_one_result() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let (a, b, c) = (fake.untrusted(1), fake.untrusted(1), fake.untrusted(1));
    let (task, effects) = fake.submit(Verify::replicas(2));
    let placed = runs(&effects);
    let effects = fake.state.leave(b, "disconnected", fake.now);
    let again = runs(&effects);
    assert_eq!(again, [(c, placed[1].1)], "re-queued on the provider that had no run");
    assert!(replies(&fake.answer(a, placed[0].1, "v")).is_empty());
    let answered = replies(&fake.answer(c, placed[1].1, "v"));
    assert_eq!(answered.len(), 1);
    assert_eq!((answered[0].0, answered[0].1.verified_by.clone()), (task, vec![a.to_string(), c.to_string()]));
}

#[test]
fn tasks_without_verify_are_answered_as_before() {
    let mut fake = Fake::new(FallbackPolicy::Never);
    let provider = fake.untrusted(1);
    let mut plain = prepared(Verify::replicas(2));
    plain.verify = None;
    let (task, effects) = fake.state.submit(plain, JobId(1), fake.now);
    assert_eq!(runs(&effects), [(provider, task)]);
    let answered = replies(&fake.answer(provider, task, "plain"));
    assert_eq!(answered.len(), 1);
    assert!(answered[0].1.verified_by.is_empty());
    assert_eq!(fake.state.verification(), Default::default());
}

#[test]
fn the_check_probability_falls_with_clean_history() {
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(check_probability(0.05, 0), 0.05f64.sqrt()));
    assert!(close(check_probability(0.05, 16), 0.05));
    assert!(close(check_probability(0.05, 32), 0.05f64.powf(1.5)));
    assert!(close(check_probability(0.05, 1000), 0.05f64.powf(1.5)));
    assert!((0..100).all(|clean| check_probability(1.0, clean) == 1.0 && check_probability(0.0, clean) == 0.0));
    assert!((0..40).all(|clean| check_probability(0.3, clean + 1) <= check_probability(0.3, clean)));
}
