//! The broker's own wasmtime runner as a provider: it joins the scheduler with the runner's
//! slots as workers and no prefetch (a task reaches it without a round trip, so a queue of
//! its own would only keep work from other providers), marked local (which only the fallback
//! policy looks at), takes task commands as they are (no encoding), and reports results
//! through the same entry point as every other provider, as `ran_on` [`LOCAL`].
//!
//! Commands are carried out at once, on the thread whose call to the scheduler caused them
//! (a [`DirectSink`]): a cancel stops a computing guest at once, and the next task, handed out
//! when a result comes in, starts from the runner's thread that reported the result, without a
//! hand-off to another thread.

use crate::runner::{LocalRunner, Running};
use crate::scheduler::{Command, DirectSink, NewProvider, Scheduler, TaskId, TaskResult};
use crate::task::LOCAL;
use crate::trust::Trust;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use wasimoff_protocol::{ProviderId, ProviderKind, Transport};

/// Joins `runner` to `scheduler`; it serves until the scheduler is gone.
pub(crate) fn attach(scheduler: &Arc<Scheduler>, runner: LocalRunner) {
    let joining = NewProvider {
        kind: ProviderKind::Native,
        name: LOCAL.to_string(),
        transport: Transport::InProcess,
        workers: u32::try_from(runner.slots()).unwrap_or(u32::MAX),
        prefetch: 0,
        local: true,
        trust: Trust::Trusted,
    };
    let weak = Arc::downgrade(scheduler);
    scheduler.join_direct(joining, move |id| {
        let provider = Provider { scheduler: weak, id, runner, running: Mutex::new(HashMap::new()) };
        let sink = Sink(Arc::new(provider));
        let sink: DirectSink = Box::new(move |command| sink.0.carry_out(command));
        sink
    });
}

struct Provider {
    scheduler: Weak<Scheduler>,
    id: ProviderId,
    runner: LocalRunner,
    running: Mutex<HashMap<TaskId, Running>>,
}

/// The scheduler's hold on the provider: dropped with the scheduler, it stops what still runs.
struct Sink(Arc<Provider>);

impl Drop for Sink {
    fn drop(&mut self) {
        self.0.lock().values().for_each(Running::stop);
    }
}

impl Provider {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TaskId, Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a task on the runner, which reports its result from its own thread; a cancel
    /// stops the task.
    fn carry_out(self: &Arc<Provider>, command: Command) {
        match command {
            Command::Run { task, prepared, .. } => {
                let reporter = Arc::downgrade(self);
                let started = self.runner.start_task(prepared, move |result| {
                    if let Some(provider) = reporter.upgrade()
                        && let Some(scheduler) = provider.scheduler.upgrade()
                    {
                        scheduler.result(provider.id, task, TaskResult::new(LOCAL, result));
                    }
                });
                let mut running = self.lock();
                if running.len() >= 2 * self.runner.slots() {
                    running.retain(|_, task| !task.is_over());
                }
                running.insert(task, started);
            }
            Command::Cancel { task } => {
                if let Some(started) = self.lock().remove(&task) {
                    started.stop();
                }
            }
            Command::Quarantine { .. } => {}
        }
    }
}
