//! Runs a detached job: pins what its tasks name in the store, submits its tasks to the
//! scheduler as one job, records each result as it finishes, and on a cancel ends the tasks
//! not finished yet with the error kind `cancelled`. With a shared registry it renews its
//! lease on the job while it runs, hears of cancels asked on other replicas, and stops quietly
//! when another replica has taken the job over.

use super::registry::{JobPhase, Lease, Registry, ResultLine};
use super::{Driven, RETRY_PAUSE, now_ms};
use crate::Wasimoff;
use crate::digest::Digest;
use crate::scheduler::TaskResult;
use crate::store::{Store, StorePin};
use crate::task::{FileSource, Job, Task, TaskError, TaskErrorKind, TaskOutput};
use futures_util::StreamExt;
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

/// `job`'s tasks with their parent's defaults and stored files named by digest, and the pins
/// that hold those files against eviction.
pub(super) fn pinned(broker: &Wasimoff, job: Job) -> (Vec<Task>, Vec<StorePin>) {
    let mut pinned = Pinned::new(broker.store());
    let parent = job.parent.unwrap_or_default();
    let tasks = job.tasks.into_iter().map(|task| pinned.fix(task.inherit(&parent))).collect();
    (tasks, pinned.pins.into_values().collect())
}

/// Starts driving `tasks` (each with its index in job `id`) on the current Tokio runtime; the
/// broker's shutdown waits for it.
pub(super) fn start(broker: &Wasimoff, id: String, tasks: Vec<(usize, Task)>, pins: Vec<StorePin>) {
    let cancel = CancellationToken::new();
    let scheduler_job = broker.scheduler().new_job();
    broker.detached().driven().insert(id.clone(), Driven { cancel: cancel.clone(), scheduler_job });
    let driver = broker.clone();
    broker.spawn_tracked(async move {
        drive(&driver, &id, tasks, cancel, pins).await;
        driver.detached().driven().remove(&id);
    });
}

/// How a job's run ended here.
enum End {
    /// Every task has a result.
    Finished,
    /// Cancelled, here or (with a shared registry) on another replica.
    Cancelled,
    /// Another replica drives it now, or it is gone: nothing more is recorded here.
    Lost,
}

/// Runs the tasks and records their results; the files stay pinned until the job's end is
/// recorded.
async fn drive(broker: &Wasimoff, id: &str, tasks: Vec<(usize, Task)>, cancel: CancellationToken, pins: Vec<StorePin>) {
    let registry = &broker.detached().registry;
    let scheduler_job = broker.detached().driven().get(id).map(|driven| driven.scheduler_job);
    let Some(scheduler_job) = scheduler_job else { return };
    let (indices, tasks): (Vec<usize>, Vec<Task>) = tasks.into_iter().unzip();
    let mut unfinished = vec![true; tasks.len()];
    let mut results = Box::pin(broker.run_job_as(Job { parent: None, tasks }, scheduler_job));
    let mut heartbeat = registry.heartbeat_interval().map(tokio::time::interval);
    let end = loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break End::Cancelled,
            lease = beat(registry, id, heartbeat.as_mut()) => match lease {
                Lease::Held => {}
                Lease::Cancel => break End::Cancelled,
                Lease::Lost => break End::Lost,
            },
            next = results.next() => match next {
                Some((position, result)) => {
                    unfinished[position] = false;
                    let line = ResultLine { index: indices[position], result: record_of(result) };
                    if !record(broker, id, line).await {
                        break End::Lost;
                    }
                }
                None => break End::Finished,
            },
        }
    };
    drop(results);
    if matches!(end, End::Lost) {
        return;
    }
    let cancelled: Vec<usize> = unfinished.iter().zip(&indices).filter(|(unfinished, _)| **unfinished).map(|(_, index)| *index).collect();
    for &index in &cancelled {
        let error = TaskError::new(TaskErrorKind::Cancelled, "the job was cancelled before this task finished");
        if !record(broker, id, ResultLine { index, result: record_of(Err(error)) }).await {
            return;
        }
    }
    let phase = if matches!(end, End::Cancelled) { JobPhase::Cancelled } else { JobPhase::Done };
    drop(pins);
    while let Err(error) = registry.finish(id, phase, now_ms(), broker.limits().job_retention).await {
        if give_up(broker, id, &error).await {
            return;
        }
    }
}

/// The next heartbeat's news, or never without a shared registry.
async fn beat(registry: &Registry, id: &str, ticks: Option<&mut tokio::time::Interval>) -> Lease {
    let Some(ticks) = ticks else { return std::future::pending().await };
    ticks.tick().await;
    registry.heartbeat(id).await.unwrap_or(Lease::Held)
}

/// Records `line`, retrying while the registry is unreachable; answers whether this process
/// still drives the job.
async fn record(broker: &Wasimoff, id: &str, line: ResultLine) -> bool {
    loop {
        match broker.detached().registry.push(id, line.clone()).await {
            Ok(driving) => return driving,
            Err(error) if give_up(broker, id, &error).await => return false,
            Err(_) => {}
        }
    }
}

/// After a failed registry call: gives up during shutdown (the job's lease lapses and another
/// replica takes it over), otherwise waits a moment before the retry.
async fn give_up(broker: &Wasimoff, id: &str, error: &TaskError) -> bool {
    if broker.is_shutting_down() {
        tracing::warn!(job = %id, %error, "stopped driving a detached job: the shared backend is unreachable during shutdown");
        return true;
    }
    tokio::time::sleep(RETRY_PAUSE).await;
    false
}

/// A task's result as the registry keeps it.
fn record_of(result: Result<TaskOutput, TaskError>) -> TaskResult {
    match result {
        Ok(output) => {
            let (ran_on, verified_by) = (output.ran_on.clone(), output.verified_by.clone());
            TaskResult { verified_by, ..TaskResult::new(ran_on, Ok(output)) }
        }
        Err(error) => TaskResult::new("", Err(error)),
    }
}

/// The stored files a job's tasks name, resolved to their digests and held against eviction
/// until the job ends: a detached job runs with the files it was submitted with, even if an
/// alias moves or is deleted while it waits. A name that resolves to nothing is left as it
/// is, and its task fails `not_found` when its turn comes.
struct Pinned<'a> {
    store: &'a Store,
    digests: HashMap<String, Option<Digest>>,
    pins: HashMap<Digest, StorePin>,
}

impl<'a> Pinned<'a> {
    fn new(store: &'a Store) -> Pinned<'a> {
        Pinned { store, digests: HashMap::new(), pins: HashMap::new() }
    }

    /// `task` naming digests instead of aliases; a binary named by alias keeps the alias as
    /// its default argv\[0\].
    fn fix(&mut self, mut task: Task) -> Task {
        if let Some(FileSource::Ref(name)) = &task.binary
            && let Some(digest) = self.pin(name)
        {
            task.args.get_or_insert_with(|| vec![name.clone()]);
            task.binary = Some(FileSource::Ref(digest.to_string()));
        }
        if let Some(rootfs) = task.rootfs.take() {
            task.rootfs = Some(self.source(rootfs));
        }
        for file in task.files.iter_mut().flatten() {
            file.source = self.source(std::mem::replace(&mut file.source, FileSource::Ref(String::new())));
        }
        task
    }

    fn source(&mut self, source: FileSource) -> FileSource {
        match source {
            FileSource::Ref(name) => match self.pin(&name) {
                Some(digest) => FileSource::Ref(digest.to_string()),
                None => FileSource::Ref(name),
            },
            blob => blob,
        }
    }

    fn pin(&mut self, name: &str) -> Option<Digest> {
        if let Some(known) = self.digests.get(name) {
            return *known;
        }
        let resolved = self.store.resolve_pinned(name).ok().map(|(info, pin)| {
            self.pins.entry(info.digest).or_insert(pin);
            info.digest
        });
        self.digests.insert(name.to_string(), resolved);
        resolved
    }
}
