//! The queue of tasks waiting for a worker, behind [`TaskQueue`]; [`MemoryQueue`] is the
//! embedded default. Queued tasks are [`QueuedTask`] records named by a [`TaskId`] and
//! carrying their [`JobId`]; results travel as [`TaskResult`] and are routed to their
//! submitter by task id, so nothing outside the queue needs to hold a pointer into it, and
//! both records are serialisable.
//!
//! The queue shares workers fairly between jobs (a task submitted alone is a job of one):
//! strict priority classes — every task of a higher [`Task::priority`](crate::Task::priority)
//! goes before any of a lower one — and inside a class, round-robin over the jobs that have
//! tasks waiting in it, one task per turn; a job's tasks leave in submission order. A job
//! whose tasks start waiting joins the ring at its end, behind the job that took the last turn
//! (deficit round-robin with a quantum of one task), so a task submitted behind a long job
//! waits for at most one more task of each other job of its class, not for the whole job. `push_front` (a task taken back from a provider that left) puts the task
//! first in its job and its job first in its class: it goes next unless a higher class has
//! tasks waiting.
//!
//! With several replicas on one Redis ([`crate::backend`]), each replica keeps this queue for
//! the tasks it has claimed from the shared stream, so the fairness here holds per replica;
//! the backend's module documentation says how tasks and results travel between replicas.

use super::{outcome_to_result, result_to_outcome};
use crate::prepare::PreparedTask;
use crate::task::{TaskError, TaskErrorKind, TaskOutput};
use serde::{Deserialize, Serialize};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use wasimoff_protocol::Outcome;

/// A task's id, unique per broker; the `id` of its `run` frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct TaskId(pub(crate) u64);

/// A job's id, unique per broker: the tasks of one [`Job`](crate::Job) share it, a task
/// submitted alone has its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct JobId(pub(crate) u64);

/// A task waiting in the queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueuedTask {
    /// Its id.
    pub(crate) id: TaskId,
    /// The job it belongs to.
    pub(crate) job: JobId,
    /// What to run.
    pub(crate) task: PreparedTask,
    /// How many providers lost it already.
    pub(crate) attempts: u32,
}

impl QueuedTask {
    /// The flow it waits in: its priority class and its job.
    fn flow(&self) -> (i32, JobId) {
        (self.task.priority, self.job)
    }
}

/// A task's one result: the protocol's outcome and where it ran (`local` or a provider's id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TaskResult {
    /// Where the task ran, as `TaskOutput::ran_on` says.
    pub(crate) ran_on: String,
    /// What happened.
    pub(crate) outcome: Outcome,
    /// Who produced and who confirmed a verified result; empty unless the task asked for
    /// verification.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) verified_by: Vec<String>,
}

impl TaskResult {
    /// A runner's result.
    pub(crate) fn new(ran_on: impl Into<String>, result: Result<TaskOutput, TaskError>) -> TaskResult {
        TaskResult::from_outcome(ran_on, result_to_outcome(result))
    }

    /// A provider's outcome, not verified (yet).
    pub(crate) fn from_outcome(ran_on: impl Into<String>, outcome: Outcome) -> TaskResult {
        TaskResult { ran_on: ran_on.into(), outcome, verified_by: Vec::new() }
    }

    /// A failure the broker decided on itself.
    pub(crate) fn failed(ran_on: impl Into<String>, kind: TaskErrorKind, message: impl Into<String>) -> TaskResult {
        TaskResult::new(ran_on, Err(TaskError::new(kind, message)))
    }

    /// The result as the submitter sees it.
    pub(crate) fn into_result(self) -> Result<TaskOutput, TaskError> {
        let verified_by = self.verified_by;
        outcome_to_result(self.outcome, &self.ran_on).map(|output| TaskOutput { verified_by, ..output })
    }
}

/// Where tasks wait for a worker, in the order of the module documentation: strict priority
/// classes, round-robin over jobs inside a class, submission order inside a job.
pub(crate) trait TaskQueue: Send {
    /// Appends a new task to its job.
    fn push_back(&mut self, task: QueuedTask);

    /// Puts a task taken back from a provider first in its job, and its job first in its
    /// priority class.
    fn push_front(&mut self, task: QueuedTask);

    /// The task that goes next, left in the queue.
    fn front(&self) -> Option<&QueuedTask>;

    /// Takes the task that goes next; its job's next turn comes after every other job of its
    /// class has had one.
    fn pop_front(&mut self) -> Option<QueuedTask>;

    /// Takes a task out wherever it waits.
    fn remove(&mut self, id: TaskId) -> Option<QueuedTask>;

    /// Tasks waiting.
    fn len(&self) -> usize;

    /// Tasks waiting per flow: `(job, priority, count)`, jobs in the order they go within a
    /// class, classes from the highest.
    fn depths(&self) -> Vec<(JobId, i32, usize)>;
}

/// The priority of a task that sets none; its class is never dropped.
const DEFAULT_PRIORITY: i32 = 0;

/// The jobs of one priority class with tasks waiting.
#[derive(Debug, Default)]
struct Class {
    /// Whose turn is next: every job with tasks waiting, once, with its next task — so a job
    /// of one lives in the ring alone, as in a plain FIFO.
    ring: VecDeque<QueuedTask>,
    /// The tasks after the first of each job in the ring, in order (empty for a job of one,
    /// which allocates nothing).
    rest: HashMap<JobId, VecDeque<QueuedTask>>,
}

impl Class {
    /// Takes the ring entry at `position` out; the job's next task, if any, takes its place.
    /// Says whether one did.
    fn take(&mut self, position: usize) -> Option<(QueuedTask, bool)> {
        let Entry::Occupied(mut rest) = self.rest.entry(self.ring.get(position)?.job) else { return None };
        match rest.get_mut().pop_front() {
            Some(next) => self.ring.get_mut(position).map(|head| (std::mem::replace(head, next), true)),
            None => {
                rest.remove();
                self.ring.remove(position).map(|task| (task, false))
            }
        }
    }
}

/// The in-process queue: priority classes of per-job FIFOs, served round-robin. The default
/// class (0) stays when it runs empty, so a queue that keeps running empty — the usual case
/// with idle workers — allocates nothing per task.
#[derive(Debug, Default)]
pub(crate) struct MemoryQueue {
    classes: BTreeMap<i32, Class>,
    len: usize,
}

impl MemoryQueue {
    /// The class that goes next: the highest with tasks waiting.
    fn first_class(&self) -> Option<&Class> {
        self.classes.values().rev().find(|class| !class.ring.is_empty())
    }

    /// Drops `priority`'s class once it is empty, unless it is the default one.
    fn tidy(&mut self, priority: i32) {
        if priority != DEFAULT_PRIORITY && self.classes.get(&priority).is_some_and(|class| class.ring.is_empty()) {
            self.classes.remove(&priority);
        }
    }
}

impl TaskQueue for MemoryQueue {
    fn push_back(&mut self, task: QueuedTask) {
        let (priority, job) = task.flow();
        self.len += 1;
        let class = self.classes.entry(priority).or_default();
        match class.rest.entry(job) {
            Entry::Occupied(mut rest) => rest.get_mut().push_back(task),
            Entry::Vacant(vacant) => {
                vacant.insert(VecDeque::new());
                class.ring.push_back(task);
            }
        }
    }

    fn push_front(&mut self, task: QueuedTask) {
        let (priority, job) = task.flow();
        self.len += 1;
        let class = self.classes.entry(priority).or_default();
        let rest = class.rest.entry(job).or_default();
        if let Some(position) = class.ring.iter().position(|head| head.job == job)
            && let Some(head) = class.ring.remove(position)
        {
            rest.push_front(head);
        }
        class.ring.push_front(task);
    }

    fn front(&self) -> Option<&QueuedTask> {
        self.first_class()?.ring.front()
    }

    fn pop_front(&mut self) -> Option<QueuedTask> {
        let (&priority, class) = self.classes.iter_mut().rev().find(|(_, class)| !class.ring.is_empty())?;
        let (task, more) = class.take(0)?;
        if more {
            class.ring.rotate_left(1);
        }
        self.tidy(priority);
        self.len -= 1;
        Some(task)
    }

    fn remove(&mut self, id: TaskId) -> Option<QueuedTask> {
        let (priority, task) = self.classes.iter_mut().find_map(|(priority, class)| {
            if let Some(position) = class.ring.iter().position(|head| head.id == id) {
                return class.take(position).map(|(task, _)| (*priority, task));
            }
            class.rest.values_mut().find_map(|rest| {
                let position = rest.iter().position(|queued| queued.id == id)?;
                rest.remove(position).map(|task| (*priority, task))
            })
        })?;
        self.tidy(priority);
        self.len -= 1;
        Some(task)
    }

    fn len(&self) -> usize {
        self.len
    }

    fn depths(&self) -> Vec<(JobId, i32, usize)> {
        self.classes
            .iter()
            .rev()
            .flat_map(|(priority, class)| {
                class.ring.iter().map(|head| (head.job, *priority, 1 + class.rest.get(&head.job).map_or(0, VecDeque::len)))
            })
            .collect()
    }
}
