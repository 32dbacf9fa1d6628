//! Runs a detached job: pins what its tasks name in the store, submits its tasks to the
//! scheduler as one job, records each result as it finishes, and on a cancel ends the tasks
//! not finished yet with the error kind `cancelled`.

use super::now_ms;
use super::registry::{JobPhase, ResultLine};
use crate::Wasimoff;
use crate::digest::Digest;
use crate::scheduler::{JobId, TaskResult};
use crate::store::{Store, StorePin};
use crate::task::{FileSource, Job, Task, TaskError, TaskErrorKind, TaskOutput};
use futures_util::StreamExt;
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

/// Starts driving job `id` on the current Tokio runtime; the broker's shutdown waits for it.
pub(super) fn start(broker: &Wasimoff, id: String, job: Job, scheduler_job: JobId, cancel: CancellationToken) {
    let mut pinned = Pinned::new(broker.store());
    let parent = job.parent.unwrap_or_default();
    let tasks: Vec<Task> = job.tasks.into_iter().map(|task| pinned.fix(task.inherit(&parent))).collect();
    let pins: Vec<StorePin> = pinned.pins.into_values().collect();
    let driver = broker.clone();
    broker.spawn_tracked(async move {
        drive(&driver, &id, tasks, scheduler_job, cancel, pins).await;
        driver.detached().driven().remove(&id);
    });
}

/// Runs the tasks and records their results; the files stay pinned until the job's end is
/// recorded.
async fn drive(broker: &Wasimoff, id: &str, tasks: Vec<Task>, scheduler_job: JobId, cancel: CancellationToken, pins: Vec<StorePin>) {
    let registry = &broker.detached().registry;
    let mut unfinished = vec![true; tasks.len()];
    let mut results = Box::pin(broker.run_job_as(Job { parent: None, tasks }, scheduler_job));
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            next = results.next() => match next {
                Some((index, result)) => {
                    unfinished[index] = false;
                    registry.push(id, ResultLine { index, result: record_of(result) });
                }
                None => break,
            },
        }
    }
    drop(results);
    let cancelled: Vec<usize> = unfinished.iter().enumerate().filter(|(_, unfinished)| **unfinished).map(|(index, _)| index).collect();
    for &index in &cancelled {
        let error = TaskError::new(TaskErrorKind::Cancelled, "the job was cancelled before this task finished");
        registry.push(id, ResultLine { index, result: record_of(Err(error)) });
    }
    let phase = if cancelled.is_empty() { JobPhase::Done } else { JobPhase::Cancelled };
    drop(pins);
    registry.finish(id, phase, now_ms(), broker.limits().job_retention);
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
