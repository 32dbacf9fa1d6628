//! The broker's own wasmtime runner as a provider: it joins the scheduler with the runner's
//! slots as workers and no prefetch (a task reaches it without a round trip, so a queue of
//! its own would only keep work from other providers), marked local (which only the fallback
//! policy looks at), takes task commands as they are (no encoding), and reports results
//! through the same entry point as every other provider, as `ran_on` [`LOCAL`].
//!
//! Commands are taken in a loop on the runner's control thread, which guests never block, so a
//! cancel stops a computing guest at once; and also right after each result, on the runner's
//! thread that reported it: the next task the scheduler hands out then starts there, without
//! a hand-off to another thread.

use crate::runner::{LocalRunner, Running};
use crate::scheduler::{Command, NewProvider, Scheduler, TaskId, TaskResult};
use crate::task::LOCAL;
use crate::trust::Trust;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use tokio::sync::mpsc;
use wasimoff_protocol::{ProviderId, ProviderKind, Transport};

/// Joins `runner` to `scheduler` and serves it until the scheduler is gone.
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
    let Ok((id, commands)) = scheduler.join(joining, usize::MAX) else { return };
    let handle = runner.handle().clone();
    let provider = Arc::new(Provider {
        scheduler: Arc::downgrade(scheduler),
        id,
        runner,
        state: Mutex::new(State { commands, running: HashMap::new() }),
    });
    handle.spawn(serve(provider));
}

struct Provider {
    scheduler: Weak<Scheduler>,
    id: ProviderId,
    runner: LocalRunner,
    state: Mutex<State>,
}

struct State {
    commands: mpsc::UnboundedReceiver<Command>,
    running: HashMap<TaskId, Running>,
}

/// Takes commands as they arrive. Ends when the scheduler drops the command sender, stopping
/// what still runs.
async fn serve(provider: Arc<Provider>) {
    loop {
        let command = std::future::poll_fn(|cx| provider.lock().commands.poll_recv(cx)).await;
        match command {
            Some(command) => Provider::carry_out(&provider, command),
            None => break,
        }
    }
    provider.lock().running.values().for_each(Running::stop);
}

impl Provider {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a task on the runner, which reports its result from its own thread and then
    /// carries out the commands that arrived meanwhile; a cancel stops the task.
    fn carry_out(provider: &Arc<Provider>, command: Command) {
        match command {
            Command::Run { task, prepared, .. } => {
                let reporter = provider.clone();
                let started = provider.runner.start_task(prepared, move |result| {
                    if let Some(scheduler) = reporter.scheduler.upgrade() {
                        scheduler.result(reporter.id, task, TaskResult::new(LOCAL, result));
                    }
                    reporter.take_pending();
                });
                let mut state = provider.lock();
                if state.running.len() >= 2 * provider.runner.slots() {
                    state.running.retain(|_, task| !task.is_over());
                }
                state.running.insert(task, started);
            }
            Command::Cancel { task } => {
                if let Some(started) = provider.lock().running.remove(&task) {
                    started.stop();
                }
            }
            Command::Quarantine { .. } => {}
        }
    }

    /// Carries out the commands waiting in the channel now.
    fn take_pending(self: &Arc<Provider>) {
        loop {
            let Ok(command) = self.lock().commands.try_recv() else { return };
            Provider::carry_out(self, command);
        }
    }
}
