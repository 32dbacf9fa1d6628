//! What a client submits ([`Task`], [`Job`]) and what it gets back ([`TaskOutput`] or
//! [`TaskError`]).

use crate::limits::TaskLimits;
use crate::verify::Verify;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::time::Duration;
pub use wasimoff_protocol::TaskErrorKind;

/// What [`TaskOutput::ran_on`] says for the broker's own runner.
pub const LOCAL: &str = "local";

/// Where a file a task needs comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum FileSource {
    /// A stored file, by `sha256:<hex>` digest or alias name.
    Ref(String),
    /// The bytes themselves (base64 in JSON).
    Blob(#[serde(with = "crate::base64_bytes")] Bytes),
}

impl FileSource {
    /// A reference to a stored file by digest or alias.
    pub fn reference(name: impl Into<String>) -> FileSource {
        FileSource::Ref(name.into())
    }

    /// Inline bytes.
    pub fn blob(bytes: impl Into<Bytes>) -> FileSource {
        FileSource::Blob(bytes.into())
    }
}

/// A file placed into the task's filesystem, read-only by intent: the task works on a private
/// copy, the stored file never changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountedFile {
    /// Path inside the task's `/`, for example `cities.csv` or `/data/in.bin`.
    pub path: String,
    /// The content.
    pub source: FileSource,
}

/// One run of a WASI command. Every field is optional so that a task in a [`Job`] can take
/// what it leaves out from the job's parent; `binary` must be set by one of them.
///
/// ```
/// use wasimoff::{FileSource, Task};
/// let task = Task::new(FileSource::reference("tsp.wasm")).args(["tsp", "rand", "8"]);
/// assert_eq!(task.args.as_deref(), Some(&["tsp".to_string(), "rand".into(), "8".into()][..]));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// The WebAssembly module to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<FileSource>,
    /// The argument vector including argv\[0\]; when absent, argv is just the binary's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Environment variables as `KEY=VALUE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envs: Option<Vec<String>>,
    /// Bytes on standard input (base64 in JSON).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::base64_bytes::option")]
    pub stdin: Option<Bytes>,
    /// A zip unpacked as the task's `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<FileSource>,
    /// Extra files placed into `/` after the rootfs is unpacked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<MountedFile>>,
    /// Paths (files or folders) collected into a zip after the task exits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<Vec<String>>,
    /// Limits below the broker's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<TaskLimits>,
    /// The task's priority class in the queue (default 0): every waiting task of a higher
    /// priority is dispatched before any of a lower one; within a priority, jobs take turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Run deterministically: `random_get` from a generator seeded with [`Task::seed`] and
    /// virtual clocks, so that the same program with the same inputs gives byte-identical
    /// results on every runner (docs/API.md says exactly what is served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deterministic: Option<bool>,
    /// The seed of a deterministic run (a JSON number, `0` to `2^64 - 1`); when absent, the
    /// broker picks one per task. Only valid with `deterministic: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// How the result is verified before it is accepted; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
}

impl Task {
    /// A task running `binary` with no arguments besides its name.
    pub fn new(binary: FileSource) -> Task {
        Task { binary: Some(binary), ..Task::default() }
    }

    /// Sets the argument vector, argv\[0\] included.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Task {
        self.args = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the environment, each entry `KEY=VALUE`.
    pub fn envs<S: Into<String>>(mut self, envs: impl IntoIterator<Item = S>) -> Task {
        self.envs = Some(envs.into_iter().map(Into::into).collect());
        self
    }

    /// Sets standard input.
    pub fn stdin(mut self, stdin: impl Into<Bytes>) -> Task {
        self.stdin = Some(stdin.into());
        self
    }

    /// Sets the zip unpacked as `/`.
    pub fn rootfs(mut self, rootfs: FileSource) -> Task {
        self.rootfs = Some(rootfs);
        self
    }

    /// Adds a file placed at `path`.
    pub fn file(mut self, path: impl Into<String>, source: FileSource) -> Task {
        self.files.get_or_insert_with(Vec::new).push(MountedFile { path: path.into(), source });
        self
    }

    /// Sets the paths collected as artifacts.
    pub fn artifacts<S: Into<String>>(mut self, paths: impl IntoIterator<Item = S>) -> Task {
        self.artifacts = Some(paths.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the task's limits.
    pub fn limits(mut self, limits: TaskLimits) -> Task {
        self.limits = Some(limits);
        self
    }

    /// Sets the priority: higher goes first (default 0).
    ///
    /// ```
    /// use wasimoff::{FileSource, Task};
    /// let urgent = Task::new(FileSource::reference("tsp.wasm")).priority(10);
    /// assert_eq!(urgent.priority, Some(10));
    /// ```
    pub fn priority(mut self, priority: i32) -> Task {
        self.priority = Some(priority);
        self
    }

    /// Runs the task deterministically (or not): seeded `random_get` and virtual clocks.
    pub fn deterministic(mut self, deterministic: bool) -> Task {
        self.deterministic = Some(deterministic);
        self
    }

    /// Sets the seed of a deterministic run, which makes the run reproducible.
    pub fn seed(mut self, seed: u64) -> Task {
        self.seed = Some(seed);
        self
    }

    /// Verifies the result before it is accepted: replicas on distinct providers or spot
    /// checks on a trusted runner.
    ///
    /// ```
    /// use wasimoff::{FileSource, Task, Verify};
    /// let task = Task::new(FileSource::reference("tsp.wasm")).verify(Verify::replicas(2));
    /// assert!(task.implies_deterministic());
    /// ```
    pub fn verify(mut self, verify: Verify) -> Task {
        self.verify = Some(verify);
        self
    }

    /// Whether this task must run deterministically because of what it asks for: a
    /// verified task's replicas must be comparable byte for byte. The one place that says
    /// `verify` implies deterministic execution.
    pub fn implies_deterministic(&self) -> bool {
        self.verify.is_some()
    }

    /// This task with every field it leaves out taken from `parent`.
    pub fn inherit(self, parent: &Task) -> Task {
        Task {
            binary: self.binary.or_else(|| parent.binary.clone()),
            args: self.args.or_else(|| parent.args.clone()),
            envs: self.envs.or_else(|| parent.envs.clone()),
            stdin: self.stdin.or_else(|| parent.stdin.clone()),
            rootfs: self.rootfs.or_else(|| parent.rootfs.clone()),
            files: self.files.or_else(|| parent.files.clone()),
            artifacts: self.artifacts.or_else(|| parent.artifacts.clone()),
            limits: self.limits.or_else(|| parent.limits.clone()),
            priority: self.priority.or(parent.priority),
            deterministic: self.deterministic.or(parent.deterministic),
            seed: self.seed.or(parent.seed),
            verify: self.verify.or(parent.verify),
        }
    }
}

/// Several tasks submitted together; each task's fields override the parent's.
///
/// ```
/// use wasimoff::{FileSource, Job, Task};
/// let job = Job {
///     parent: Some(Task::new(FileSource::reference("tsp.wasm"))),
///     tasks: (5..8).map(|n| Task::default().args(["tsp".to_string(), "rand".into(), n.to_string()])).collect(),
/// };
/// assert_eq!(job.tasks.len(), 3);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Defaults for every task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Task>,
    /// The tasks, whose results come back in this order.
    pub tasks: Vec<Task>,
}

/// A task that ran to its end and exited with a status (zero or not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskOutput {
    /// The exit status.
    pub status: i32,
    /// Everything written to standard output.
    pub stdout: Bytes,
    /// Everything written to standard error.
    pub stderr: Bytes,
    /// The requested artifacts as a zip, if any were requested.
    pub artifacts: Option<Bytes>,
    /// Requested artifact paths that did not exist (or were links) when the task exited.
    pub missing_artifacts: Vec<String>,
    /// Wall-clock time from the start of instantiation to exit.
    pub elapsed: Duration,
    /// Where it ran: [`LOCAL`] (the broker's runner) or a provider's id.
    pub ran_on: String,
    /// For a task that asked for verification: who produced this result and who confirmed
    /// it ([`LOCAL`] or provider ids, the producer first). Empty otherwise.
    pub verified_by: Vec<String>,
}

/// Why a task did not run to an exit status. Output written before the failure is kept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct TaskError {
    /// The category, stable across runners.
    pub kind: TaskErrorKind,
    /// A human-readable explanation.
    pub message: String,
    /// Standard output written before the failure.
    pub stdout: Bytes,
    /// Standard error written before the failure.
    pub stderr: Bytes,
}

impl TaskError {
    /// An error with no captured output.
    pub fn new(kind: TaskErrorKind, message: impl Into<String>) -> TaskError {
        TaskError { kind, message: message.into(), stdout: Bytes::new(), stderr: Bytes::new() }
    }
}
