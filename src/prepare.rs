//! Turns a submitted [`Task`] into a [`PreparedTask`]: references resolved to digests (so
//! later alias changes cannot affect it), inputs loaded, paths and sizes checked.

use crate::archive::safe_task_path;
use crate::digest::Digest;
use crate::limits::{EffectiveLimits, Limits};
use crate::store::{FileKind, NotACommand, Store, StoreError, StorePin, check_command};
use crate::task::{FileSource, Task, TaskError, TaskErrorKind};
use crate::verify::Verify;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The argv\[0\] of a task whose binary is an inline blob and that gives no arguments.
pub const BLOB_ARGV0: &str = "main.wasm";

/// The module a prepared task runs: its digest (the compile cache key) and, for inline
/// blobs, its bytes; stored modules are loaded from the store only if not compiled yet, and
/// held against eviction from the store while the task lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ModuleSource {
    pub(crate) digest: Digest,
    #[serde(with = "crate::byte_fields::option")]
    pub(crate) inline: Option<Bytes>,
    #[serde(skip)]
    held: Option<StorePin>,
}

impl ModuleSource {
    /// A module given inline.
    pub(crate) fn inline(bytes: Bytes) -> ModuleSource {
        ModuleSource { digest: Digest::of(&bytes), inline: Some(bytes), held: None }
    }

    /// A stored module, held by `pin` if the task came from this broker's store.
    pub(crate) fn stored(digest: Digest, pin: Option<StorePin>) -> ModuleSource {
        ModuleSource { digest, inline: None, held: pin }
    }
}

/// A task ready for a runner: everything resolved and checked. Serialisable, so that a queue
/// shared by several hosts can hold it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PreparedTask {
    pub(crate) module: ModuleSource,
    pub(crate) args: Vec<String>,
    pub(crate) envs: Vec<(String, String)>,
    #[serde(with = "crate::byte_fields")]
    pub(crate) stdin: Bytes,
    #[serde(with = "crate::byte_fields::option")]
    pub(crate) rootfs: Option<Bytes>,
    #[serde(with = "crate::byte_fields::named")]
    pub(crate) files: Vec<(String, Bytes)>,
    pub(crate) artifacts: Vec<(String, String)>,
    pub(crate) limits: EffectiveLimits,
    /// Its priority class in the queue ([`Task::priority`], 0 when unset).
    #[serde(default)]
    pub(crate) priority: i32,
    /// `Some(seed)`: run deterministically with this seed (see [`PreparedTask::make_deterministic`]).
    #[serde(default)]
    pub(crate) deterministic: Option<u64>,
    /// How the scheduler verifies the result; `None` for most tasks.
    #[serde(default)]
    pub(crate) verify: Option<Verify>,
}

impl PreparedTask {
    /// Makes the task run deterministically, with a seed picked here unless it has one: what
    /// verification needs so that every replica computes the same result.
    pub(crate) fn make_deterministic(&mut self) {
        self.deterministic.get_or_insert_with(pick_seed);
    }
}

/// A fresh seed for a deterministic task that gives none: unpredictable, not secret.
fn pick_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.finish()
}

fn invalid(message: impl Into<String>) -> TaskError {
    TaskError::new(TaskErrorKind::InvalidTask, message)
}

fn store_error(error: StoreError) -> TaskError {
    match error {
        StoreError::NotFound(_) => TaskError::new(TaskErrorKind::NotFound, error.to_string()),
        StoreError::Io(_) => TaskError::new(TaskErrorKind::Internal, error.to_string()),
        StoreError::Unavailable(_) => TaskError::new(TaskErrorKind::BackendUnavailable, error.to_string()),
        _ => invalid(error.to_string()),
    }
}

/// A module no runner could start, answered by the broker itself.
pub(crate) fn not_a_command(reason: NotACommand) -> TaskError {
    match reason {
        NotACommand::Invalid(message) => TaskError::new(TaskErrorKind::InvalidModule, message),
        NotACommand::NoStart(message) => TaskError::new(TaskErrorKind::MissingStart, message),
    }
}

async fn load(store: &Store, source: &FileSource) -> Result<(Digest, FileKind, Bytes), TaskError> {
    match source {
        FileSource::Blob(bytes) => Ok((Digest::of(bytes), FileKind::sniff(bytes), bytes.clone())),
        FileSource::Ref(name) => {
            store.pull(name).await.map_err(store_error)?;
            let info = store.resolve(name).map_err(store_error)?;
            let bytes = store.get(&info.digest).await.map_err(store_error)?;
            Ok((info.digest, info.kind, bytes))
        }
    }
}

fn split_env(entry: &str) -> Result<(String, String), TaskError> {
    match entry.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(invalid(format!("environment entry {entry:?} is not KEY=VALUE"))),
    }
}

/// Resolves and checks `task` against the store and the broker's limits.
pub(crate) async fn prepare(task: Task, store: &Store, limits: &Limits) -> Result<PreparedTask, TaskError> {
    let implied = task.implies_deterministic();
    let binary = task.binary.ok_or_else(|| invalid("the task names no binary"))?;
    let (module, default_argv0) = match &binary {
        FileSource::Blob(bytes) => {
            check_command(bytes).map_err(not_a_command)?;
            (ModuleSource::inline(bytes.clone()), BLOB_ARGV0.to_string())
        }
        FileSource::Ref(name) => {
            store.pull(name).await.map_err(store_error)?;
            let (info, pin) = store.resolve_pinned(name).map_err(store_error)?;
            if info.kind != FileKind::Wasm {
                return Err(TaskError::new(
                    TaskErrorKind::InvalidModule,
                    format!("{name} is not a WebAssembly module (stored as {:?})", info.kind),
                ));
            }
            if !info.wasi_command {
                return Err(TaskError::new(
                    TaskErrorKind::MissingStart,
                    format!("{name} exports no `_start` function without parameters or results: it is not a WASI command"),
                ));
            }
            (ModuleSource::stored(info.digest, Some(pin)), name.clone())
        }
    };
    let args = task.args.unwrap_or_else(|| vec![default_argv0]);
    let envs = task.envs.unwrap_or_default().iter().map(|e| split_env(e)).collect::<Result<Vec<_>, _>>()?;
    let texts = || args.iter().chain(envs.iter().flat_map(|(key, value)| [key, value]));
    let text_size: u64 = texts().map(|s| s.len() as u64 + 1).sum();
    if text_size > limits.args_env_bytes {
        return Err(invalid(format!("arguments and environment take {text_size} bytes; the limit is {}", limits.args_env_bytes)));
    }
    if texts().any(|s| s.contains('\0')) {
        return Err(invalid("arguments and environment must not contain NUL bytes"));
    }
    let stdin = task.stdin.unwrap_or_default();
    if stdin.len() as u64 > limits.stdin_bytes {
        return Err(invalid(format!("stdin of {} bytes exceeds the limit of {} bytes", stdin.len(), limits.stdin_bytes)));
    }
    let rootfs = match &task.rootfs {
        None => None,
        Some(source) => {
            let (_, kind, bytes) = load(store, source).await?;
            if kind != FileKind::Zip {
                return Err(TaskError::new(TaskErrorKind::RootfsRejected, "the rootfs is not a zip archive"));
            }
            Some(bytes)
        }
    };
    let mut files = Vec::new();
    for file in task.files.unwrap_or_default() {
        let path = safe_task_path(&file.path).map_err(|e| invalid(e.to_string()))?;
        let (_, _, bytes) = load(store, &file.source).await?;
        files.push((path, bytes));
    }
    let artifacts = task
        .artifacts
        .unwrap_or_default()
        .into_iter()
        .map(|requested| Ok((safe_task_path(&requested).map_err(|e| invalid(e.to_string()))?, requested)))
        .collect::<Result<Vec<_>, TaskError>>()?;
    let limits = limits.effective(task.limits.as_ref()).map_err(invalid)?;
    if let Some(verify) = &task.verify {
        verify.check().map_err(invalid)?;
    }
    let deterministic = task.deterministic == Some(true) || implied;
    if task.deterministic == Some(false) && implied {
        return Err(invalid("a verified task runs deterministically; drop \"deterministic\": false"));
    }
    if task.seed.is_some() && !deterministic {
        return Err(invalid("a seed needs \"deterministic\": true"));
    }
    let priority = task.priority.unwrap_or_default();
    let mut prepared = PreparedTask {
        module,
        args,
        envs,
        stdin,
        rootfs,
        files,
        artifacts,
        limits,
        priority,
        deterministic: task.seed,
        verify: task.verify,
    };
    if deterministic {
        prepared.make_deterministic();
    }
    Ok(prepared)
}
