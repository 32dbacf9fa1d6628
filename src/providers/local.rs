//! The broker's own wasmtime runner as a provider: it joins the scheduler with the runner's
//! slots as workers and no prefetch (a task reaches it without a round trip, so a queue of
//! its own would only keep work from other providers), marked local (which only the fallback
//! policy looks at), takes task
//! commands as they are (no encoding) in a loop on the runner's own threads, and reports
//! results through the same entry point as every other provider, as `ran_on` [`LOCAL`].

use crate::runner::LocalRunner;
use crate::scheduler::{Command, NewProvider, Scheduler, TaskId, TaskResult};
use crate::task::LOCAL;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
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
    };
    let Ok((id, commands)) = scheduler.join(joining, usize::MAX) else { return };
    let handle = runner.handle().clone();
    handle.spawn(serve(Arc::downgrade(scheduler), id, commands, runner));
}

/// Runs each task as its own task on the runner's threads; a cancel aborts it. Ends when the
/// scheduler drops the command sender, aborting what still runs.
async fn serve(scheduler: Weak<Scheduler>, id: ProviderId, mut commands: mpsc::UnboundedReceiver<Command>, runner: LocalRunner) {
    let mut running = JoinSet::new();
    let mut aborts: HashMap<TaskId, AbortHandle> = HashMap::new();
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => return,
                Some(Command::Run { task, prepared, .. }) => {
                    let (runner, scheduler) = (runner.clone(), scheduler.clone());
                    let abort = running.spawn(async move {
                        let result = runner.run_here(&prepared).await;
                        if let Some(scheduler) = scheduler.upgrade() {
                            scheduler.result(id, task, TaskResult::new(LOCAL, result));
                        }
                        task
                    });
                    aborts.insert(task, abort);
                }
                Some(Command::Cancel { task }) => {
                    if let Some(abort) = aborts.remove(&task) {
                        abort.abort();
                    }
                }
            },
            Some(finished) = running.join_next() => {
                if let Ok(task) = finished {
                    aborts.remove(&task);
                }
            }
        }
    }
}
