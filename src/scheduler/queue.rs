//! The queue of tasks waiting for a worker, behind [`TaskQueue`]; [`MemoryQueue`] is the
//! embedded default. Queued tasks are [`QueuedTask`] records named by a [`TaskId`]; results
//! travel as [`TaskResult`] and are routed to their submitter by task id, so nothing outside
//! the queue needs to hold a pointer into it, and both records are serialisable.
//!
//! A Redis Streams backend shared by several hosts maps onto it as: `push_back` is `XADD` of
//! the MessagePack record to a shared `tasks` stream; `pop_front` is `XREADGROUP` in one
//! consumer group (one consumer per host), reading a `retries` stream first, where
//! `push_front` adds; `remove` is `XDEL`; a result is `PUBLISH`ed on a channel named by the
//! task id, which the submitting host's waiter map subscribes to.

use super::{outcome_to_result, result_to_outcome};
use crate::prepare::PreparedTask;
use crate::task::{TaskError, TaskErrorKind, TaskOutput};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use wasimoff_protocol::Outcome;

/// A task's id, unique per broker; the `id` of its `run` frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct TaskId(pub(crate) u64);

/// A task waiting in the queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueuedTask {
    /// Its id.
    pub(crate) id: TaskId,
    /// What to run.
    pub(crate) task: PreparedTask,
    /// How many providers lost it already.
    pub(crate) attempts: u32,
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

/// Where tasks wait for a worker, in order.
pub(crate) trait TaskQueue: Send {
    /// Appends a new task.
    fn push_back(&mut self, task: QueuedTask);

    /// Puts a task taken back from a provider before every other.
    fn push_front(&mut self, task: QueuedTask);

    /// The task that goes next, left in the queue.
    fn front(&self) -> Option<&QueuedTask>;

    /// Takes the task that goes next.
    fn pop_front(&mut self) -> Option<QueuedTask>;

    /// Takes a task out wherever it waits.
    fn remove(&mut self, id: TaskId) -> Option<QueuedTask>;

    /// Tasks waiting.
    fn len(&self) -> usize;
}

/// The in-process FIFO queue.
#[derive(Debug, Default)]
pub(crate) struct MemoryQueue(VecDeque<QueuedTask>);

impl TaskQueue for MemoryQueue {
    fn push_back(&mut self, task: QueuedTask) {
        self.0.push_back(task);
    }

    fn push_front(&mut self, task: QueuedTask) {
        self.0.push_front(task);
    }

    fn front(&self) -> Option<&QueuedTask> {
        self.0.front()
    }

    fn pop_front(&mut self) -> Option<QueuedTask> {
        self.0.pop_front()
    }

    fn remove(&mut self, id: TaskId) -> Option<QueuedTask> {
        let position = self.0.iter().position(|queued| queued.id == id)?;
        self.0.remove(position)
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}
