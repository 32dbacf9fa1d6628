//! Task results as JSON: `{"result": {...}}` for a task that exited, `{"error": {...}}` for one
//! that did not, and the small serializing helpers the answers share.

use crate::store::FileKind;
use crate::task::{TaskError, TaskErrorKind, TaskOutput};
use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::{Serialize, Serializer};
use std::fmt::Display;
use wasimoff_protocol::api;

/// Bytes serialized as a standard base64 string.
pub(super) struct Base64<B>(pub(super) B);

impl<B: AsRef<[u8]>> Serialize for Base64<B> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&Base64Display::new(self.0.as_ref(), &STANDARD))
    }
}

/// A value serialized as its text (`Display`), such as a digest `sha256:…`.
pub(super) struct AsText<T>(pub(super) T);

impl<T: Display> Serialize for AsText<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// A stored file's kind as the API names it.
impl From<FileKind> for api::FileKind {
    fn from(kind: FileKind) -> api::FileKind {
        match kind {
            FileKind::Wasm => api::FileKind::Wasm,
            FileKind::Zip => api::FileKind::Zip,
            FileKind::Data => api::FileKind::Data,
        }
    }
}

/// What a task wrote: each stream as text when it is UTF-8, else as base64 under
/// `stdout_base64` / `stderr_base64`.
#[derive(Serialize)]
pub(super) struct CapturedOutput<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    stdout: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stdout_base64: Option<Base64<&'a [u8]>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stderr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stderr_base64: Option<Base64<&'a [u8]>>,
}

impl<'a> CapturedOutput<'a> {
    pub(super) fn new(stdout: &'a [u8], stderr: &'a [u8]) -> CapturedOutput<'a> {
        let (stdout, stdout_base64) = text_or_base64(stdout);
        let (stderr, stderr_base64) = text_or_base64(stderr);
        CapturedOutput { stdout, stdout_base64, stderr, stderr_base64 }
    }
}

fn text_or_base64(bytes: &[u8]) -> (Option<&str>, Option<Base64<&[u8]>>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (Some(text), None),
        Err(_) => (None, Some(Base64(bytes))),
    }
}

/// One task's result: `{"result": {...}}` or `{"error": {...}}`.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum TaskResult<'a> {
    /// The task ran to an exit status (any status).
    Result(Exited<'a>),
    /// The task did not run to an exit status.
    Error(Failed<'a>),
}

impl<'a> TaskResult<'a> {
    pub(super) fn new(result: &'a Result<TaskOutput, TaskError>) -> TaskResult<'a> {
        match result {
            Ok(output) => TaskResult::Result(Exited {
                status: output.status,
                output: CapturedOutput::new(&output.stdout, &output.stderr),
                artifacts: output.artifacts.as_deref().map(Base64),
                missing_artifacts: &output.missing_artifacts,
                elapsed_ms: output.elapsed.as_micros() as f64 / 1e3,
                ran_on: AsText(&output.ran_on),
                verified_by: &output.verified_by,
            }),
            Err(error) => TaskResult::Error(Failed {
                kind: error.kind,
                message: &error.message,
                output: CapturedOutput::new(&error.stdout, &error.stderr),
            }),
        }
    }
}

/// `{"status", "stdout"|"stdout_base64", "stderr"|"stderr_base64", "artifacts"?,
/// "missing_artifacts"?, "elapsed_ms", "ran_on", "verified_by"?}`.
#[derive(Serialize)]
pub(super) struct Exited<'a> {
    status: i32,
    #[serde(flatten)]
    output: CapturedOutput<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifacts: Option<Base64<&'a [u8]>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    missing_artifacts: &'a [String],
    elapsed_ms: f64,
    ran_on: AsText<&'a dyn Display>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    verified_by: &'a [String],
}

/// `{"kind", "message", "stdout"|"stdout_base64", "stderr"|"stderr_base64"}`.
#[derive(Serialize)]
pub(super) struct Failed<'a> {
    kind: TaskErrorKind,
    message: &'a str,
    #[serde(flatten)]
    output: CapturedOutput<'a>,
}

/// A job's results in task order: `{"results": [...]}`.
#[derive(Serialize)]
pub(super) struct JobResults<'a> {
    pub(super) results: Vec<TaskResult<'a>>,
}

/// One line of a streamed job: `{"index": I, "result"|"error": …}`.
#[derive(Serialize)]
pub(super) struct IndexedResult<'a> {
    pub(super) index: usize,
    #[serde(flatten)]
    pub(super) result: TaskResult<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::time::Duration;

    fn json(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap_or_default()
    }

    #[test]
    fn an_exit_renders_text_output_and_optional_fields() {
        let output = TaskOutput {
            status: 3,
            stdout: Bytes::from_static(b"out\n"),
            stderr: Bytes::from_static(&[0xff, 0x00]),
            artifacts: Some(Bytes::from_static(b"PK")),
            missing_artifacts: vec!["/gone".into()],
            elapsed: Duration::from_micros(1500),
            ran_on: "local".into(),
            verified_by: vec![],
        };
        assert_eq!(
            json(&TaskResult::new(&Ok(output))),
            r#"{"result":{"status":3,"stdout":"out\n","stderr_base64":"/wA=","artifacts":"UEs=","missing_artifacts":["/gone"],"elapsed_ms":1.5,"ran_on":"local"}}"#
        );
    }

    #[test]
    fn a_failure_renders_its_kind_and_output_and_a_line_its_index() {
        let error = TaskError { stdout: Bytes::from_static(b"about to trap\n"), ..TaskError::new(TaskErrorKind::Trap, "wasm trap") };
        let result = Err(error);
        let line = IndexedResult { index: 4, result: TaskResult::new(&result) };
        assert_eq!(json(&line), r#"{"index":4,"error":{"kind":"trap","message":"wasm trap","stdout":"about to trap\n","stderr":""}}"#);
    }
}
