//! The client API's JSON shapes (docs/API.md), owned and both `Serialize` and `Deserialize`:
//! the broker answers with them and the `wasimoff-client` crate reads them, so both sides
//! agree by construction. Bytes travel as standard base64 strings, as on the wire; with the
//! `openapi` feature every type also describes itself as an OpenAPI schema (`utoipa`).
//!
//! ```
//! use wasimoff_protocol::api::{TaskResult, IndexedResult};
//! let line: IndexedResult = serde_json::from_str(r#"{"index": 2, "result": {"status": 0, "stdout": "hi\n", "stderr": "", "elapsed_ms": 0.5, "ran_on": "local"}}"#).unwrap();
//! assert_eq!(line.index, 2);
//! let TaskResult::Result(exited) = &line.result else { panic!("an exit") };
//! assert_eq!((exited.status, exited.output.stdout.as_deref()), (0, Some("hi\n")));
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// An error answer: `{"error": {"kind", "message"}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"error": {"kind": "not_found", "message": "no stored file named \"nothing.bin\""}})))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// `{"kind", "message"}`, and for a task refused at submission the output it wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorDetail {
    /// The category, snake_case: `bad_request`, `not_found`, `queue_full`, a task error kind, …
    pub kind: String,
    /// A human-readable explanation.
    pub message: String,
    /// Output of a task refused at submission (always empty).
    #[serde(flatten)]
    pub output: Output,
}

/// What a task wrote: each stream as text when it is UTF-8, else base64 under `…_base64`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Output {
    /// Standard output as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// Standard output as base64, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_base64: Option<String>,
    /// Standard error as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// Standard error as base64, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_base64: Option<String>,
}

/// One task's result: `{"result": {...}}` when it exited (any status), `{"error": {...}}`
/// when it did not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"result": {"status": 0, "stdout": "cities: 4\n", "stderr": "", "elapsed_ms": 0.2, "ran_on": "local"}})))]
pub enum TaskResult {
    /// The task ran to an exit status.
    Result(Exited),
    /// The task did not run to an exit status.
    Error(Failed),
}

impl TaskResult {
    /// Whether the task exited with status 0.
    pub fn succeeded(&self) -> bool {
        matches!(self, TaskResult::Result(Exited { status: 0, .. }))
    }
}

/// A task that exited: `{"status", "stdout", "stderr", "artifacts"?, "missing_artifacts"?,
/// "elapsed_ms", "ran_on", "verified_by"?}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Exited {
    /// The exit status.
    pub status: i32,
    /// What it wrote.
    #[serde(flatten)]
    pub output: Output,
    /// The requested artifacts as a base64 zip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<String>,
    /// Requested artifact paths that did not exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_artifacts: Vec<String>,
    /// Wall-clock milliseconds from instantiation to exit.
    pub elapsed_ms: f64,
    /// `local` (the broker's runner) or a provider's id.
    pub ran_on: String,
    /// For a verified task: who produced the result and who confirmed it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verified_by: Vec<String>,
}

/// A task that failed: `{"kind", "message", "stdout", "stderr"}` with the output written
/// before the failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Failed {
    /// The task error kind: `trap`, `timeout`, `not_found`, …
    pub kind: String,
    /// A human-readable explanation.
    pub message: String,
    /// What it wrote before failing.
    #[serde(flatten)]
    pub output: Output,
}

/// A job's results in task order: `{"results": [...]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JobResults {
    /// One result per task, in submission order.
    pub results: Vec<TaskResult>,
}

/// One line of a streamed job (`application/x-ndjson`): `{"index", "result"|"error"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"index": 1, "error": {"kind": "trap", "message": "wasm trap: wasm `unreachable` instruction executed", "stdout": "", "stderr": ""}})))]
pub struct IndexedResult {
    /// The task's position in the job.
    pub index: usize,
    /// Its result.
    #[serde(flatten)]
    pub result: TaskResult,
}

/// The kind of a stored file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum FileKind {
    /// A valid WebAssembly module.
    Wasm,
    /// A zip archive that passed the rootfs checks.
    Zip,
    /// Anything else.
    Data,
}

/// The answer to `POST /api/v1/files`: `{"ref", "kind", "size", "aliases", "replaced"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"ref": "sha256:4eb7a880fb7a5df412875d2968f6f66f87265013c6de055819de94956708048f", "kind": "data", "size": 34, "aliases": ["cities.csv"], "replaced": {}})))]
pub struct Uploaded {
    /// The content's digest, `sha256:<hex>`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// What the content is.
    pub kind: FileKind,
    /// Its size in bytes.
    pub size: u64,
    /// The aliases it was stored under.
    pub aliases: Vec<String>,
    /// Aliases that named other content before, with that content's digest.
    pub replaced: BTreeMap<String, String>,
}

/// The answer to the seed's `POST /api/broker/v1/upload`: `{"name", "ref", "kind", "size"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SeedUploaded {
    /// The alias it was stored under.
    pub name: String,
    /// The content's digest, `sha256:<hex>`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// What the content is.
    pub kind: FileKind,
    /// Its size in bytes.
    pub size: u64,
}

/// The answer to `GET /api/v1/files`: `{"aliases": {alias: ref}, "store": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FileList {
    /// Every alias and the digest it names.
    pub aliases: BTreeMap<String, String>,
    /// How full the store is.
    pub store: StoreUsage,
}

/// How full the store is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreUsage {
    /// Bytes the stored content takes.
    pub used_bytes: u64,
    /// The quota.
    pub limit_bytes: u64,
    /// Stored files.
    pub files: usize,
}

/// Where a file a task needs comes from: `{"ref": NAME}` or `{"blob": BASE64}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum FileSource {
    /// A stored file by alias or `sha256:<hex>` digest.
    Ref(String),
    /// The bytes themselves, base64.
    Blob(String),
}

/// A file placed into the task's filesystem: `{"path", "source"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MountedFile {
    /// Path inside the task's `/`.
    pub path: String,
    /// The content.
    pub source: FileSource,
}

/// Limits below the broker's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TaskLimits {
    /// Wall-clock timeout in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Linear memory limit in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Bytes kept of each of stdout and stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<u64>,
    /// Total size of collected artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_bytes: Option<u64>,
}

/// How a result is verified: replicas on distinct providers, or spot checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum Verify {
    /// `{"replicas", "quorum"?, "max_replicas"?, "trusted_alone"?}`.
    Replicas {
        /// Replicas started at once.
        replicas: u32,
        /// Agreeing results needed (default: all).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quorum: Option<u32>,
        /// Replicas at most, extra ones included.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_replicas: Option<u32>,
        /// Whether a trusted provider's result is accepted by itself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trusted_alone: Option<bool>,
    },
    /// `{"spot_check": F}`: re-run untrusted results on a trusted runner with probability F.
    SpotCheck {
        /// The probability, 0 to 1.
        spot_check: f64,
    },
}

/// One task as submitted (`POST /api/v1/tasks`, or an element of a job); every field is
/// optional so that a job's task can inherit it from the job's parent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"binary": {"ref": "tsp.wasm"}, "args": ["tsp", "rand", "8"]})))]
pub struct TaskRequest {
    /// The WebAssembly module to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<FileSource>,
    /// argv including argv\[0\].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// `KEY=VALUE` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envs: Option<Vec<String>>,
    /// Standard input, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// A zip unpacked as the task's `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<FileSource>,
    /// Files placed after the rootfs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<MountedFile>>,
    /// Paths returned as a base64 zip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<Vec<String>>,
    /// Limits below the broker's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<TaskLimits>,
    /// Higher goes first (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Run deterministically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deterministic: Option<bool>,
    /// The seed of a deterministic run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// How the result is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
}

/// A job: `{"parent"?, "tasks": [...]}`; each task's fields override the parent's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"parent": {"binary": {"ref": "tsp.wasm"}}, "tasks": [{"args": ["tsp", "rand", "8"]}, {"args": ["tsp", "rand", "9"]}]})))]
pub struct JobRequest {
    /// Defaults for every task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<TaskRequest>,
    /// The tasks; results come back in this order (or tagged with their index).
    pub tasks: Vec<TaskRequest>,
}

/// The seed's run configuration (`POST /api/broker/v1/run`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RunConfiguration {
    /// The binary every entry runs.
    pub bin: String,
    /// Environment for every entry, after the entry's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub envs: Vec<String>,
    /// One task per entry.
    #[serde(default)]
    pub exec: Vec<Exec>,
    /// Adds timestamps to each result.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trace: bool,
}

/// One entry of a run configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Exec {
    /// Arguments after `bin`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment, before the global one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub envs: Vec<String>,
    /// Standard input as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// Stored files mounted at `/NAME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loadfs: Vec<String>,
    /// A file the task writes in `/`, returned base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datafile: Option<String>,
}

/// The answer to a detached job (`202 Accepted`): its id and where its status is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JobAccepted {
    /// The job's id.
    pub id: String,
    /// The path of its status, `{prefix}/api/v1/jobs/{id}`.
    pub status: String,
}

/// Where a detached job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum JobPhase {
    /// Tasks are queued or running.
    Running,
    /// Every task has a result.
    Done,
    /// It was cancelled.
    Cancelled,
}

/// A point in time as the broker writes it: a number (Unix time) or a text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum Timestamp {
    /// A number, such as Unix milliseconds.
    Number(f64),
    /// A text, such as RFC 3339.
    Text(String),
}

/// A detached job's status (`GET /api/v1/jobs/{id}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JobStatus {
    /// The job's id.
    pub id: String,
    /// Running, done or cancelled.
    pub status: JobPhase,
    /// Tasks in the job.
    pub tasks: usize,
    /// Tasks waiting.
    pub queued: usize,
    /// Tasks running.
    pub running: usize,
    /// Tasks finished with an exit status.
    pub done: usize,
    /// Tasks that failed.
    pub failed: usize,
    /// When it was submitted.
    pub created: Timestamp,
    /// When its last task finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<Timestamp>,
    /// When it is forgotten (its retention ends), once it has ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
    /// The results so far, each with its index.
    #[serde(default)]
    pub results: Vec<IndexedResult>,
}

/// The detached jobs kept (`GET /api/v1/jobs`), without their results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JobList {
    /// Each job's status.
    pub jobs: Vec<JobStatus>,
}

/// Tasks finished in each of the last seconds, oldest first (at most 600).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ThroughputView {
    /// Tasks that exited, per second.
    pub exited: Vec<u32>,
    /// Tasks that failed, per second.
    pub failed: Vec<u32>,
}

/// Whether a provider's results are believed as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum Trust {
    /// Accepted as they are.
    Trusted,
    /// Verified when the task asks for it.
    Untrusted,
}

/// The cluster view (`GET /api/v1/cluster`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"providers": [], "local": {"workers": 2, "busy": 0, "tasks_done": 9}, "queued": 0, "jobs": [], "queue_capacity": 1024, "tasks_per_second": 10.0, "throughput": {"exited": [3, 4], "failed": [0, 1]}, "verification": {"verified": 1, "disagreements": 0, "unverified": 0, "spot_checks": 0, "strikes": 0, "quarantines": 0}})))]
pub struct ClusterView {
    /// Connected providers.
    pub providers: Vec<ProviderView>,
    /// The broker's own runner.
    pub local: LocalView,
    /// Tasks admitted but not yet running.
    pub queued: usize,
    /// Jobs with tasks queued or running, in the order the queue serves them.
    pub jobs: Vec<JobView>,
    /// How many tasks may wait before submissions are refused.
    pub queue_capacity: usize,
    /// Tasks finished per second over the last 10 s.
    pub tasks_per_second: f64,
    /// Tasks finished in each of the last seconds.
    #[serde(default)]
    pub throughput: ThroughputView,
    /// What verification did.
    pub verification: VerificationView,
}

/// One connected provider in the cluster view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProviderView {
    /// Its id, `p<number>`.
    pub id: String,
    /// Browser or native.
    pub kind: crate::ProviderKind,
    /// The name it gave.
    pub name: String,
    /// `websocket`, `webtransport` or `in_process`.
    pub transport: crate::Transport,
    /// Workers it announced.
    pub workers: usize,
    /// Tasks it is running.
    pub busy: usize,
    /// Tasks it has finished.
    pub tasks_done: u64,
    /// Modules it has cached.
    pub modules_cached: usize,
    /// Whether its results are believed as they are.
    pub trust: Trust,
    /// Its results that verification confirmed.
    pub verified: u64,
    /// Its results that lost a vote.
    pub strikes: u64,
    /// Whether it is quarantined.
    pub quarantined: bool,
    /// The replica it is connected to, with a shared backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
}

/// The local runner in the cluster view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LocalView {
    /// Tasks it runs at once.
    pub workers: usize,
    /// Tasks running now.
    pub busy: usize,
    /// Tasks finished since start.
    pub tasks_done: u64,
}

/// One job's share of the queue in the cluster view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JobView {
    /// The job's number.
    pub job: u64,
    /// The priority of these tasks.
    pub priority: i32,
    /// Its tasks waiting.
    pub queued: usize,
    /// Its tasks given to a worker.
    pub running: usize,
    /// The replica that submitted it, with a shared backend (`job` is its number there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
}

/// What verification did since the broker started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VerificationView {
    /// Tasks accepted after verification.
    pub verified: u64,
    /// Tasks whose results disagreed at least once.
    pub disagreements: u64,
    /// Tasks failed with `unverified`.
    pub unverified: u64,
    /// Spot checks started.
    pub spot_checks: u64,
    /// Strikes given.
    pub strikes: u64,
    /// Providers quarantined.
    pub quarantines: u64,
}

/// One element of the seed's run answer: `{"result": {...}}` or `{"error": TEXT}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum SeedResult {
    /// The task exited (any status).
    Result(SeedOutput),
    /// Why it did not.
    Error(String),
}

/// `{"status", "stdout", "stderr", "datafile"?, "trace"?}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SeedOutput {
    /// The exit status.
    pub status: i32,
    /// Standard output (lossy text).
    pub stdout: String,
    /// Standard error (lossy text).
    pub stderr: String,
    /// The `datafile`, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datafile: Option<String>,
    /// `received`, `started`, `finished` timestamps, with `trace: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Vec<TraceEvent>>,
}

/// A timestamp of `trace: true`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TraceEvent {
    /// `received`, `started` or `finished`.
    pub event: String,
    /// Nanoseconds since the Unix epoch.
    pub unixnano: u128,
}
