//! [`ApiError`]: why a request was refused, as one value that renders itself as
//! `{"error": {"kind": KIND, "message": TEXT}}` with its status and headers. Handlers return
//! `Result<Response<Body>, ApiError>` and use `?` on store, body and submission errors.

use super::reply;
use super::results::CapturedOutput;
use crate::layers::Body;
use crate::store::StoreError;
use crate::task::{TaskError, TaskErrorKind};
use bytes::Bytes;
use http::header::{ALLOW, RETRY_AFTER};
use http::{HeaderValue, Method, Response, StatusCode};
use serde::Serialize;

/// Seconds a client is asked to wait after `429 Too Many Requests`.
const RETRY_AFTER_SECONDS: u32 = 1;

/// The `kind` of an error answer; each kind has one HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ApiErrorKind {
    /// The request is malformed: unreadable body, invalid JSON, a bad query parameter. `400`.
    BadRequest,
    /// An uploaded file is not what it claims or needs to be, or an alias is unusable. `400`.
    InvalidFile,
    /// No file or route by that name. `404`.
    NotFound,
    /// The method is not one the route takes; `Allow` lists those it does. `405`.
    MethodNotAllowed,
    /// The body exceeds its limit. `413`.
    TooLarge,
    /// An upload does not fit within the store's quota. `507`.
    StoreFull,
    /// The broker keeps as many detached jobs as it may (`Limits::max_detached_jobs`). `507`.
    TooManyJobs,
    /// The broker failed for a reason of its own (storage I/O). `500`.
    Internal,
    /// A provider's `Origin` is not on the allow-list. `403`.
    OriginRefused,
    /// The provider limit is reached. `503`.
    ProviderLimit,
    /// The provider endpoint was called without a WebSocket upgrade. `426`.
    UpgradeRequired,
    /// A task was refused when submitted (`invalid_task` 400, `not_found` 404, `queue_full` 429,
    /// `shutting_down` 503, `backend_unavailable` 503), under the task error's own name; a
    /// file request that needs the unreachable shared backend is `backend_unavailable` too.
    #[serde(untagged)]
    Task(TaskErrorKind),
}

impl ApiErrorKind {
    /// The HTTP status of this kind.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            ApiErrorKind::BadRequest | ApiErrorKind::InvalidFile => StatusCode::BAD_REQUEST,
            ApiErrorKind::NotFound => StatusCode::NOT_FOUND,
            ApiErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiErrorKind::StoreFull | ApiErrorKind::TooManyJobs => StatusCode::INSUFFICIENT_STORAGE,
            ApiErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiErrorKind::OriginRefused => StatusCode::FORBIDDEN,
            ApiErrorKind::ProviderLimit => StatusCode::SERVICE_UNAVAILABLE,
            ApiErrorKind::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            ApiErrorKind::Task(kind) => submission_status(kind).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

/// The HTTP status of a task refused at submission; `None` for the kinds of a task that was
/// accepted and failed while running (those are `200` results).
pub(super) fn submission_status(kind: TaskErrorKind) -> Option<StatusCode> {
    match kind {
        TaskErrorKind::InvalidTask => Some(StatusCode::BAD_REQUEST),
        TaskErrorKind::NotFound => Some(StatusCode::NOT_FOUND),
        TaskErrorKind::QueueFull => Some(StatusCode::TOO_MANY_REQUESTS),
        TaskErrorKind::ShuttingDown | TaskErrorKind::BackendUnavailable => Some(StatusCode::SERVICE_UNAVAILABLE),
        _ => None,
    }
}

/// Why a request was refused. Converts into its response with [`ApiError::into_response`]
/// (or `Response::from`).
#[derive(Debug)]
pub(crate) struct ApiError {
    kind: ApiErrorKind,
    message: String,
    /// Output of a task refused at submission, answered in the shape of task errors.
    output: Option<(Bytes, Bytes)>,
    /// The methods the route takes, for `405`'s `Allow`.
    allow: Vec<Method>,
}

impl ApiError {
    /// An error of `kind` explained by `message`.
    pub(crate) fn new(kind: ApiErrorKind, message: impl Into<String>) -> ApiError {
        ApiError { kind, message: message.into(), output: None, allow: Vec::new() }
    }

    /// `405 Method Not Allowed`, listing `allowed` in the message and in `Allow`.
    pub(crate) fn method_not_allowed(allowed: Vec<Method>) -> ApiError {
        let message = format!("allowed: {}", allow_list(&allowed));
        ApiError { allow: allowed, ..ApiError::new(ApiErrorKind::MethodNotAllowed, message) }
    }

    /// `429`: the queue has no room for the request's tasks.
    pub(crate) fn queue_full() -> ApiError {
        ApiError::new(ApiErrorKind::Task(TaskErrorKind::QueueFull), "the queue is full; try again later")
    }

    /// The answer: the error as JSON with its status, `Retry-After` on `429`, `Allow` on `405`.
    pub(crate) fn into_response(self) -> Response<Body> {
        let status = self.kind.status();
        let output = self.output.as_ref().map(|(stdout, stderr)| CapturedOutput::new(stdout, stderr));
        let body = ErrorBody { error: ErrorFields { kind: self.kind, message: &self.message, output } };
        let mut response = reply::json(status, &body);
        let headers = response.headers_mut();
        if status == StatusCode::TOO_MANY_REQUESTS {
            headers.insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        if !self.allow.is_empty()
            && let Ok(value) = HeaderValue::from_str(&allow_list(&self.allow))
        {
            headers.insert(ALLOW, value);
        }
        response
    }
}

fn allow_list(methods: &[Method]) -> String {
    methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ")
}

impl From<ApiError> for Response<Body> {
    fn from(error: ApiError) -> Response<Body> {
        error.into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        let kind = match error {
            StoreError::TooLarge { .. } => ApiErrorKind::TooLarge,
            StoreError::Full { .. } => ApiErrorKind::StoreFull,
            StoreError::Invalid(_) | StoreError::InvalidAlias { .. } => ApiErrorKind::InvalidFile,
            StoreError::NotFound(_) => ApiErrorKind::NotFound,
            StoreError::Io(_) => ApiErrorKind::Internal,
            StoreError::Unavailable(_) => ApiErrorKind::Task(TaskErrorKind::BackendUnavailable),
        };
        ApiError::new(kind, error.to_string())
    }
}

/// A task refused at submission (see [`submission_status`]); it is answered like a task
/// error, with the (empty) output it wrote.
impl From<TaskError> for ApiError {
    fn from(error: TaskError) -> ApiError {
        ApiError { output: Some((error.stdout, error.stderr)), ..ApiError::new(ApiErrorKind::Task(error.kind), error.message) }
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(error: serde_json::Error) -> ApiError {
        ApiError::new(ApiErrorKind::BadRequest, format!("invalid JSON: {error}"))
    }
}

/// `{"error": …}`.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorFields<'a>,
}

/// `{"kind", "message"}`, and `stdout`/`stderr` for a task refused at submission.
#[derive(Serialize)]
struct ErrorFields<'a> {
    kind: ApiErrorKind,
    message: &'a str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    output: Option<CapturedOutput<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn render(error: ApiError) -> (StatusCode, http::HeaderMap, String) {
        let response = error.into_response();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.map(|collected| collected.to_bytes()).unwrap_or_default();
        (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn an_error_renders_its_kind_message_status_and_headers() {
        let (status, headers, body) = render(ApiError::new(ApiErrorKind::BadRequest, "no")).await;
        assert_eq!((status, body.as_str()), (StatusCode::BAD_REQUEST, r#"{"error":{"kind":"bad_request","message":"no"}}"#));
        assert_eq!(headers["content-type"], "application/json");

        let (status, headers, body) = render(ApiError::method_not_allowed(vec![Method::GET, Method::HEAD])).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers["allow"], "GET, HEAD");
        assert_eq!(body, r#"{"error":{"kind":"method_not_allowed","message":"allowed: GET, HEAD"}}"#);

        let (status, headers, body) = render(ApiError::queue_full()).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers["retry-after"], "1");
        assert_eq!(body, r#"{"error":{"kind":"queue_full","message":"the queue is full; try again later"}}"#);
    }

    #[tokio::test]
    async fn a_refused_task_renders_as_a_task_error() {
        let refused = TaskError::new(TaskErrorKind::InvalidTask, "the task names no binary");
        let (status, _, body) = render(refused.into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, r#"{"error":{"kind":"invalid_task","message":"the task names no binary","stdout":"","stderr":""}}"#);
        assert_eq!(ApiErrorKind::Task(TaskErrorKind::ShuttingDown).status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ApiErrorKind::Task(TaskErrorKind::Trap).status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn store_errors_keep_their_kinds() {
        let missing = ApiError::from(StoreError::NotFound("x".into()));
        assert_eq!(missing.kind, ApiErrorKind::NotFound);
        let invalid = ApiError::from(StoreError::Invalid("bad".into()));
        assert_eq!((invalid.kind, invalid.kind.status()), (ApiErrorKind::InvalidFile, StatusCode::BAD_REQUEST));
        let unavailable = ApiError::from(StoreError::Unavailable("down".into()));
        assert_eq!(unavailable.kind.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
