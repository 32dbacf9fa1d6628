//! Verification votes, as pure state: a task that asks for [`Verify`](crate::Verify) runs as
//! one or more *runs* (each with its own [`TaskId`], queued and dispatched like any task);
//! each run's result is a ballot, compared by a digest of what it says. A [`Vote`] decides,
//! after every run that ends, whether to wait, start more runs, accept a result (naming who
//! produced and who confirmed it, and whose results lost) or fail the task `unverified`.
//!
//! - Replicas: runs on distinct providers; a group of `quorum` equal ballots wins, a trusted
//!   provider's ballot wins alone (unless the task says otherwise); on disagreement runs are
//!   added up to `max_replicas`, and once no group can reach the quorum the task fails.
//! - Spot checks: one run; an untrusted producer's ballot is re-run on a trusted runner with
//!   [`check_probability`]; if the check differs, the trusted result is accepted instead.

use super::queue::{JobId, TaskId, TaskResult};
use crate::prepare::PreparedTask;
use crate::task::TaskErrorKind;
use crate::verify::Plan;
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, HashSet};
use wasimoff_protocol::{Outcome, ProviderId};

/// A digest of what a result says: status, stdout, stderr and artifacts of an exit; kind and
/// output of a failure (kind alone for a timeout, whose output depends on speed). Timing is
/// left out.
pub(crate) type BallotDigest = [u8; 32];

/// The digest of `outcome`; every field is length-prefixed so that none can run into the next.
pub(crate) fn ballot_digest(outcome: &Outcome) -> BallotDigest {
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    match outcome {
        Outcome::Exited { status, stdout, stderr, artifacts, missing_artifacts, elapsed_us: _ } => {
            field(b"exited");
            field(&status.to_le_bytes());
            field(stdout);
            field(stderr);
            field(artifacts.as_ref().map_or(&b"no artifacts"[..], |zip| zip.as_slice()));
            for missing in missing_artifacts {
                field(missing.as_bytes());
            }
        }
        Outcome::Failed { kind: TaskErrorKind::Timeout, .. } => field(b"timeout"),
        Outcome::Failed { kind, message: _, stdout, stderr } => {
            field(b"failed");
            field(kind.as_str().as_bytes());
            field(stdout);
            field(stderr);
        }
    }
    hash.finalize().into()
}

/// How often an untrusted provider's spot-checked result is re-run: the task's `rate` raised
/// to an exponent that grows with the provider's clean history — `clean` results confirmed
/// since its last strike in this session: 0.5 for a new provider (√rate, so 0.05 → 22 %),
/// 1 after 16 clean results (the rate itself), 1.5 from 32 on (0.05 → 1.1 %). A rate of 1
/// checks everything and 0 nothing, whatever the history.
pub(crate) fn check_probability(rate: f64, clean: u64) -> f64 {
    let exponent = (0.5 + clean as f64 / 32.0).min(1.5);
    rate.powf(exponent)
}

/// One provider's result for a task.
struct Ballot {
    provider: ProviderId,
    digest: BallotDigest,
    result: TaskResult,
}

/// Where a run may go.
pub(crate) enum Placement<'a> {
    /// Wherever a task goes.
    Anywhere,
    /// A provider that has not had a run of the task.
    Distinct(&'a HashSet<ProviderId>),
    /// A trusted runner that has not had a run of the task.
    Trusted(&'a HashSet<ProviderId>),
}

/// What a vote decides after a run ended.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Wait for the runs still out.
    Wait,
    /// Start this many more runs.
    Launch(u32),
    /// Accept this result; `losers` gave a different one, `confirmed` are untrusted
    /// providers whose result was confirmed.
    Accept { result: TaskResult, losers: Vec<ProviderId>, confirmed: Vec<ProviderId> },
    /// Fail the task with this result.
    Fail(TaskResult),
}

/// One verified task's runs and ballots.
pub(crate) struct Vote {
    plan: Plan,
    /// What every run runs.
    pub(crate) prepared: PreparedTask,
    /// The job the task belongs to; its runs share the job's turns in the queue.
    pub(crate) job: JobId,
    ballots: Vec<Ballot>,
    /// Runs queued or running.
    pub(crate) runs: HashSet<TaskId>,
    /// Providers that had a run: never given another.
    pub(crate) used: HashSet<ProviderId>,
    launched: u32,
    /// Whether two ballots differed.
    pub(crate) disagreed: bool,
    /// The last run that ended without a ballot (a broker-side timeout, a task lost).
    last_failure: Option<TaskResult>,
}

impl Vote {
    /// A vote for `prepared` under `plan`, and how many runs to start now.
    pub(crate) fn new(plan: Plan, prepared: PreparedTask, job: JobId) -> (Vote, u32) {
        let first = match plan {
            Plan::Replicas { replicas, .. } => replicas,
            Plan::SpotCheck { .. } => 1,
        };
        let vote = Vote {
            plan,
            prepared,
            job,
            ballots: Vec::new(),
            runs: HashSet::new(),
            used: HashSet::new(),
            launched: first,
            disagreed: false,
            last_failure: None,
        };
        (vote, first)
    }

    /// Where the next run may go.
    pub(crate) fn placement(&self) -> Placement<'_> {
        match self.plan {
            Plan::Replicas { .. } => Placement::Distinct(&self.used),
            Plan::SpotCheck { .. } if self.ballots.is_empty() => Placement::Anywhere,
            Plan::SpotCheck { .. } => Placement::Trusted(&self.used),
        }
    }

    /// Whether the runs it starts now are spot checks of a producer's result.
    pub(crate) fn checking(&self) -> bool {
        matches!(self.placement(), Placement::Trusted(_))
    }

    /// The spot-check rate, if a ballot of an untrusted provider now would be checked with
    /// some probability (a spot-checked task whose producer has not answered).
    pub(crate) fn spot_check_rate(&self) -> Option<f64> {
        match self.plan {
            Plan::SpotCheck { rate } if self.ballots.is_empty() => Some(rate),
            _ => None,
        }
    }

    /// A run ended with `provider`'s result; `check` says whether a spot-checked result is
    /// re-run (drawn by the caller from [`check_probability`]).
    pub(crate) fn ballot(&mut self, provider: ProviderId, trusted: bool, result: TaskResult, check: bool) -> Decision {
        let ballot = Ballot { provider, digest: ballot_digest(&result.outcome), result };
        match self.plan {
            Plan::Replicas { quorum, max_replicas, trusted_alone, .. } => {
                let digest = ballot.digest;
                self.ballots.push(ballot);
                self.disagreed |= self.ballots.iter().any(|other| other.digest != digest);
                if trusted && trusted_alone {
                    return self.accept(digest);
                }
                self.tally(quorum, max_replicas)
            }
            Plan::SpotCheck { .. } => self.spot_ballot(ballot, trusted, check),
        }
    }

    /// Spot check: the producer's ballot is accepted, or checked; the check's ballot is
    /// accepted, with the producer's if they agree.
    fn spot_ballot(&mut self, ballot: Ballot, trusted: bool, check: bool) -> Decision {
        let digest = ballot.digest;
        let producing = self.ballots.is_empty();
        self.disagreed |= self.ballots.iter().any(|producer| producer.digest != digest);
        self.ballots.push(ballot);
        if producing && check && !trusted {
            self.launched += 1;
            return Decision::Launch(1);
        }
        self.accept(digest)
    }

    /// A run ended without a ballot; `failure` says why.
    pub(crate) fn no_ballot(&mut self, failure: TaskResult) -> Decision {
        self.last_failure = Some(failure);
        match self.plan {
            Plan::Replicas { quorum, max_replicas, .. } => self.tally(quorum, max_replicas),
            Plan::SpotCheck { .. } => match self.ballots.first() {
                Some(producer) => {
                    let digest = producer.digest;
                    self.accept(digest)
                }
                None => Decision::Fail(self.last_failure.take().unwrap_or_else(lost)),
            },
        }
    }

    /// Replicas: accept a group that has the quorum, wait for runs that can still make one,
    /// add runs that might, or fail.
    fn tally(&mut self, quorum: u32, max_replicas: u32) -> Decision {
        let mut groups: Vec<(BallotDigest, u32)> = Vec::new();
        for ballot in &self.ballots {
            match groups.iter_mut().find(|(digest, _)| *digest == ballot.digest) {
                Some((_, count)) => *count += 1,
                None => groups.push((ballot.digest, 1)),
            }
        }
        let best = groups.iter().max_by_key(|(_, count)| *count).copied();
        if let Some((digest, count)) = best
            && count >= quorum
        {
            return self.accept(digest);
        }
        let needed = quorum - best.map_or(0, |(_, count)| count);
        let outstanding = u32::try_from(self.runs.len()).unwrap_or(u32::MAX);
        if outstanding >= needed {
            return Decision::Wait;
        }
        let more = (needed - outstanding).min(max_replicas.saturating_sub(self.launched));
        if outstanding + more < needed {
            return Decision::Fail(self.unverified(quorum));
        }
        self.launched += more;
        Decision::Launch(more)
    }

    /// Accepts the ballots with `digest`: the first of them is the result, all of them
    /// confirm it, the others lost.
    fn accept(&mut self, digest: BallotDigest) -> Decision {
        let (agree, differ): (Vec<&Ballot>, Vec<&Ballot>) = self.ballots.iter().partition(|ballot| ballot.digest == digest);
        let verified_by = agree.iter().map(|ballot| ballot.result.ran_on.clone()).collect();
        let confirmed = if agree.len() > 1 { agree.iter().map(|ballot| ballot.provider).collect() } else { Vec::new() };
        let losers = differ.iter().map(|ballot| ballot.provider).collect();
        let mut result = agree.first().map_or_else(lost, |ballot| ballot.result.clone());
        result.verified_by = verified_by;
        Decision::Accept { result, losers, confirmed }
    }

    /// The failure of a task whose ballots reached no quorum, naming who said what; or, with
    /// no ballot at all, why the last run ended.
    fn unverified(&mut self, quorum: u32) -> TaskResult {
        let Some(first) = self.ballots.first() else { return self.last_failure.take().unwrap_or_else(lost) };
        let mut groups: Vec<(BallotDigest, Vec<&str>)> = Vec::new();
        for ballot in &self.ballots {
            match groups.iter_mut().find(|(digest, _)| *digest == ballot.digest) {
                Some((_, names)) => names.push(&ballot.result.ran_on),
                None => groups.push((ballot.digest, vec![&ballot.result.ran_on])),
            }
        }
        let said = groups.iter().map(|(_, names)| format!("[{}]", names.join(", "))).collect::<Vec<_>>().join(" vs ");
        let message = format!(
            "the results of {} runs reached no quorum of {quorum} (the providers that agree are grouped): {said}",
            self.ballots.len()
        );
        TaskResult::failed(first.result.ran_on.clone(), TaskErrorKind::Unverified, message)
    }
}

/// The failure of a vote that ended with no run at all, which the scheduler never lets happen.
fn lost() -> TaskResult {
    TaskResult::failed("broker", TaskErrorKind::Internal, "every run of the task ended without a result")
}

/// Every vote, and which task each run belongs to.
#[derive(Default)]
pub(crate) struct Votes {
    votes: HashMap<TaskId, Vote>,
    task_of_run: HashMap<TaskId, TaskId>,
}

impl Votes {
    /// Starts a vote for `task`.
    pub(crate) fn open(&mut self, task: TaskId, vote: Vote) {
        self.votes.insert(task, vote);
    }

    /// Adds `run` to `task`'s vote.
    pub(crate) fn add_run(&mut self, task: TaskId, run: TaskId) {
        if let Some(vote) = self.votes.get_mut(&task) {
            vote.runs.insert(run);
            self.task_of_run.insert(run, task);
        }
    }

    /// The task a run belongs to, if it is a run of a vote.
    pub(crate) fn task_of(&self, run: TaskId) -> Option<TaskId> {
        self.task_of_run.get(&run).copied()
    }

    /// The vote of `task`.
    pub(crate) fn get_mut(&mut self, task: TaskId) -> Option<&mut Vote> {
        self.votes.get_mut(&task)
    }

    /// Where `run` may go.
    pub(crate) fn placement(&self, run: TaskId) -> Placement<'_> {
        self.task_of(run).and_then(|task| self.votes.get(&task)).map_or(Placement::Anywhere, Vote::placement)
    }

    /// `run` ended: it no longer counts as out.
    pub(crate) fn end_run(&mut self, run: TaskId) -> Option<TaskId> {
        let task = self.task_of_run.remove(&run)?;
        if let Some(vote) = self.votes.get_mut(&task) {
            vote.runs.remove(&run);
        }
        Some(task)
    }

    /// Closes `task`'s vote; returns it, its runs still out forgotten.
    pub(crate) fn close(&mut self, task: TaskId) -> Option<Vote> {
        let vote = self.votes.remove(&task)?;
        for run in &vote.runs {
            self.task_of_run.remove(run);
        }
        Some(vote)
    }
}
