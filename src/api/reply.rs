//! Building responses: JSON, problems (`{"error": {"kind", "message"}}`), and task results.

use crate::layers::Body;
use crate::task::{TaskError, TaskErrorKind, TaskOutput};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Seconds a client is asked to wait after `429 Too Many Requests`.
const RETRY_AFTER_SECONDS: u32 = 1;

pub(super) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

pub(super) fn with_type(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON response; a `429` also carries `Retry-After`.
pub(super) fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let mut response = match serde_json::to_vec(value) {
        Ok(bytes) => with_type(status, "application/json", bytes),
        Err(error) => return problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", error.to_string()),
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    response
}

/// An error response: `{"error": {"kind": KIND, "message": MESSAGE}}`.
pub(crate) fn problem(status: StatusCode, kind: &str, message: impl Into<String>) -> Response<Body> {
    json(status, &json!({"error": {"kind": kind, "message": message.into()}}))
}

pub(super) fn method_not_allowed(allowed: &[Method]) -> Response<Body> {
    let list = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    let mut response = problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", format!("allowed: {list}"));
    if let Ok(value) = HeaderValue::from_str(&list) {
        response.headers_mut().insert(ALLOW, value);
    }
    response
}

/// The HTTP status for a task that could not be submitted; `None` for errors that belong in
/// a `200` result (the task was accepted and failed while running).
pub(super) fn submission_status(kind: TaskErrorKind) -> Option<StatusCode> {
    match kind {
        TaskErrorKind::InvalidTask => Some(StatusCode::BAD_REQUEST),
        TaskErrorKind::NotFound => Some(StatusCode::NOT_FOUND),
        TaskErrorKind::QueueFull => Some(StatusCode::TOO_MANY_REQUESTS),
        TaskErrorKind::ShuttingDown => Some(StatusCode::SERVICE_UNAVAILABLE),
        _ => None,
    }
}

pub(super) fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Puts `bytes` under `key` as text if it is UTF-8, else under `KEY_base64`.
fn put_bytes(object: &mut Map<String, Value>, key: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => object.insert(key.to_string(), Value::from(text)),
        Err(_) => object.insert(format!("{key}_base64"), Value::from(base64(bytes))),
    };
}

fn output_json(output: &TaskOutput) -> Value {
    let mut object = Map::new();
    object.insert("status".into(), output.status.into());
    put_bytes(&mut object, "stdout", &output.stdout);
    put_bytes(&mut object, "stderr", &output.stderr);
    if let Some(artifacts) = &output.artifacts {
        object.insert("artifacts".into(), base64(artifacts).into());
    }
    if !output.missing_artifacts.is_empty() {
        object.insert("missing_artifacts".into(), output.missing_artifacts.clone().into());
    }
    object.insert("elapsed_ms".into(), json!(output.elapsed.as_micros() as f64 / 1e3));
    object.insert("ran_on".into(), output.ran_on.clone().into());
    Value::Object(object)
}

fn error_json(error: &TaskError) -> Value {
    let mut object = Map::new();
    object.insert("kind".into(), error.kind.as_str().into());
    object.insert("message".into(), error.message.clone().into());
    put_bytes(&mut object, "stdout", &error.stdout);
    put_bytes(&mut object, "stderr", &error.stderr);
    Value::Object(object)
}

/// `{"result": {...}}` or `{"error": {...}}`.
pub(super) fn envelope(result: &Result<TaskOutput, TaskError>) -> Value {
    match result {
        Ok(output) => json!({"result": output_json(output)}),
        Err(error) => json!({"error": error_json(error)}),
    }
}
