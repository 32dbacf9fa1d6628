//! The verification half of the scheduler's state: launching the runs of a verified task,
//! taking their results as ballots, carrying out each vote's decision, and strikes and
//! quarantine for providers whose results lose.

use super::*;

/// Verification: runs, ballots, decisions, strikes.
impl<Q: TaskQueue> State<Q> {
    pub(super) fn new_task_id(&mut self) -> TaskId {
        self.next_task += 1;
        TaskId(self.next_task)
    }

    /// Queues `count` runs of `task`'s vote, at the front if they are extra ones.
    pub(super) fn launch(&mut self, task: TaskId, count: u32, extra: bool) {
        for _ in 0..count {
            let run = self.new_task_id();
            let Some(vote) = self.votes.get_mut(task) else { return };
            let queued = QueuedTask { id: run, job: vote.job, task: vote.prepared.clone(), attempts: 0 };
            self.votes.add_run(task, run);
            if extra {
                self.queue.push_front(queued);
            } else {
                self.queue.push_back(queued);
            }
        }
    }

    /// Run (or plain task) `run` ended with `result`: from `from` if a provider answered (a
    /// ballot), without one if the broker decided (timeout, lost). A plain task is answered;
    /// a run goes to its vote.
    pub(super) fn end_run(&mut self, run: TaskId, from: Option<ProviderId>, result: TaskResult, now: Instant, effects: &mut Vec<Effect>) {
        let Some(task) = self.votes.end_run(run) else {
            effects.push(Effect::Reply { task: run, result });
            return;
        };
        let (trusted, clean) = from.and_then(|id| self.providers.get(&id)).map_or((false, 0), |p| (p.trusted(), p.clean));
        let Some(vote) = self.votes.get_mut(task) else { return };
        let decision = match from {
            Some(provider) => {
                let check = !trusted && vote.spot_check_rate().is_some_and(|rate| self.rng.f64() < check_probability(rate, clean));
                vote.ballot(provider, trusted, result, check)
            }
            None => vote.no_ballot(result),
        };
        self.decide(task, decision, now, effects);
    }

    /// Carries out a vote's decision.
    pub(super) fn decide(&mut self, task: TaskId, decision: Decision, now: Instant, effects: &mut Vec<Effect>) {
        let result = match decision {
            Decision::Wait => return,
            Decision::Launch(count) => {
                if self.votes.get_mut(task).is_some_and(|vote| vote.checking()) {
                    self.stats.spot_checks += u64::from(count);
                }
                self.launch(task, count, true);
                return;
            }
            Decision::Accept { result, losers, confirmed } => {
                self.stats.verified += 1;
                for provider in confirmed {
                    if let Some(provider) = self.providers.get_mut(&provider).filter(|p| !p.trusted()) {
                        provider.clean += 1;
                        provider.verified += 1;
                    }
                }
                for provider in losers {
                    self.strike(provider, now, effects);
                }
                result
            }
            Decision::Fail(result) => {
                if matches!(result.outcome, Outcome::Failed { kind: TaskErrorKind::Unverified, .. }) {
                    self.stats.unverified += 1;
                }
                result
            }
        };
        if let Some(vote) = self.votes.close(task) {
            if vote.disagreed {
                self.stats.disagreements += 1;
            }
            self.stop_runs(vote.runs, effects);
        }
        effects.push(Effect::Reply { task, result });
    }

    /// Stops runs no longer wanted, wherever they are: running (the provider is told), queued
    /// or set aside.
    pub(super) fn stop_runs(&mut self, runs: HashSet<TaskId>, effects: &mut Vec<Effect>) {
        for run in runs {
            match self.release(run) {
                Some(provider) => effects.push(Effect::Send { provider, command: Command::Cancel { task: run } }),
                None => {
                    if self.queue.remove(run).is_none() {
                        self.parked.retain(|parked| parked.id != run);
                    }
                }
            }
        }
    }

    /// An untrusted provider's result lost a vote; enough strikes within the window
    /// quarantine it.
    pub(super) fn strike(&mut self, id: ProviderId, now: Instant, effects: &mut Vec<Effect>) {
        let policy = self.strike_policy;
        let Some(provider) = self.providers.get_mut(&id).filter(|p| !p.trusted() && !p.quarantined) else { return };
        self.stats.strikes += 1;
        provider.struck += 1;
        provider.clean = 0;
        provider.strikes.push_back(now);
        while provider.strikes.front().is_some_and(|at| now.duration_since(*at) > policy.window) {
            provider.strikes.pop_front();
        }
        if provider.strikes.len() < policy.limit as usize {
            return;
        }
        provider.quarantined = true;
        self.stats.quarantines += 1;
        let reason = format!(
            "quarantined: {} of this provider's results lost verification votes within {} s",
            provider.strikes.len(),
            policy.window.as_secs()
        );
        self.refresh(id);
        effects.push(Effect::Send { provider: id, command: Command::Quarantine { reason } });
    }
}
