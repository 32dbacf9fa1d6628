//! Conversions between the broker's task types and the protocol's.

use crate::digest::Digest;
use crate::limits::EffectiveLimits;
use crate::prepare::{ModuleSource, PreparedTask};
use crate::task::{TaskError, TaskErrorKind, TaskOutput};
use bytes::Bytes;
use serde_bytes::ByteBuf;
use std::time::Duration;
use wasimoff_protocol::{Outcome, WireLimits, WireTask};

fn buf(bytes: &Bytes) -> ByteBuf {
    ByteBuf::from(bytes.to_vec())
}

/// The task as a provider receives it, with the module's bytes if given.
pub(crate) fn to_wire(task: &PreparedTask, module_bytes: Option<Bytes>, rootfs_bytes: u64, rootfs_entries: u64) -> WireTask {
    WireTask {
        module: task.module.digest.to_string(),
        module_bytes: module_bytes.as_ref().map(buf),
        args: task.args.clone(),
        envs: task.envs.clone(),
        stdin: buf(&task.stdin),
        rootfs: task.rootfs.as_ref().map(buf),
        files: task.files.iter().map(|(path, bytes)| (path.clone(), buf(bytes))).collect(),
        artifacts: task.artifacts.clone(),
        limits: WireLimits {
            timeout_ms: u64::try_from(task.limits.timeout.as_millis()).unwrap_or(u64::MAX),
            memory_bytes: task.limits.memory_bytes,
            output_bytes: task.limits.output_bytes,
            artifact_bytes: task.limits.artifact_bytes,
            rootfs_bytes,
            rootfs_entries,
        },
        seed: task.deterministic,
    }
}

/// A received task, ready for a local runner. The module's bytes come from the provider's
/// own store; the digest must parse.
pub(crate) fn from_wire(task: WireTask) -> Result<PreparedTask, TaskError> {
    let digest: Digest =
        task.module.parse().map_err(|e: crate::DigestParseError| TaskError::new(TaskErrorKind::InvalidTask, e.to_string()))?;
    Ok(PreparedTask {
        module: ModuleSource::stored(digest, None),
        args: task.args,
        envs: task.envs,
        stdin: Bytes::from(task.stdin.into_vec()),
        rootfs: task.rootfs.map(|b| Bytes::from(b.into_vec())),
        files: task.files.into_iter().map(|(path, bytes)| (path, Bytes::from(bytes.into_vec()))).collect(),
        artifacts: task.artifacts,
        limits: EffectiveLimits {
            timeout: Duration::from_millis(task.limits.timeout_ms),
            memory_bytes: task.limits.memory_bytes,
            output_bytes: task.limits.output_bytes,
            artifact_bytes: task.limits.artifact_bytes,
        },
        priority: 0,
        deterministic: task.seed,
        verify: None,
    })
}

/// A provider's outcome as the client sees it, naming where it ran.
pub(crate) fn outcome_to_result(outcome: Outcome, ran_on: &str) -> Result<TaskOutput, TaskError> {
    match outcome {
        Outcome::Exited { status, stdout, stderr, artifacts, missing_artifacts, elapsed_us } => Ok(TaskOutput {
            status,
            stdout: Bytes::from(stdout.into_vec()),
            stderr: Bytes::from(stderr.into_vec()),
            artifacts: artifacts.map(|a| Bytes::from(a.into_vec())),
            missing_artifacts,
            elapsed: Duration::from_micros(elapsed_us),
            ran_on: ran_on.to_string(),
            verified_by: Vec::new(),
        }),
        Outcome::Failed { kind, message, stdout, stderr } => {
            Err(TaskError { kind, message, stdout: Bytes::from(stdout.into_vec()), stderr: Bytes::from(stderr.into_vec()) })
        }
    }
}

/// A local result as a provider sends it.
pub(crate) fn result_to_outcome(result: Result<TaskOutput, TaskError>) -> Outcome {
    match result {
        Ok(output) => Outcome::Exited {
            status: output.status,
            stdout: buf(&output.stdout),
            stderr: buf(&output.stderr),
            artifacts: output.artifacts.as_ref().map(buf),
            missing_artifacts: output.missing_artifacts,
            elapsed_us: u64::try_from(output.elapsed.as_micros()).unwrap_or(u64::MAX),
        },
        Err(error) => Outcome::Failed { kind: error.kind, message: error.message, stdout: buf(&error.stdout), stderr: buf(&error.stderr) },
    }
}
