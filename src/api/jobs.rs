//! Detached jobs over HTTP: `POST /api/v1/jobs` with `Prefer: respond-async` (or
//! `?detach=true`) answers `202` at once; `GET /api/v1/jobs` lists the jobs kept,
//! `GET /api/v1/jobs/{id}` answers one job's status and results so far,
//! `GET /api/v1/jobs/{id}/results` its results (NDJSON: replayed, then followed until the job
//! ends), `DELETE /api/v1/jobs/{id}` cancels it.

use super::error::{ApiError, ApiErrorKind};
use super::reply::json;
use super::request;
use super::results::{IndexedResult, TaskResult};
use super::v1::ndjson;
use crate::Wasimoff;
use crate::jobs::{JobHandle, JobStatus, ResultLine, SubmitJobError};
use crate::layers::Body;
use crate::task::{Job, TaskError, TaskOutput};
use http::header::LOCATION;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use serde::Serialize;
use std::sync::Arc;

/// The header that confirms an RFC 7240 preference was honoured.
const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");

/// How a request asked to run its job detached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Detach {
    /// `Prefer: respond-async` (RFC 7240), confirmed with `Preference-Applied`.
    Preferred,
    /// `?detach=true`.
    Query,
}

/// Whether `request` asks to run its job detached.
pub(super) fn detach(request: &Request<Body>) -> Option<Detach> {
    let preferred = request.headers().get_all("prefer").iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').any(|preference| {
            let token = preference.split([';', '=']).next().unwrap_or_default();
            token.trim().eq_ignore_ascii_case("respond-async")
        })
    });
    if preferred {
        return Some(Detach::Preferred);
    }
    request::query_values(request, "detach").iter().any(|value| value == "true").then_some(Detach::Query)
}

/// `{"id", "status": URL}`: where a detached job's status is.
#[derive(Serialize)]
struct Accepted<'a> {
    id: &'a str,
    status: &'a str,
}

/// `202 Accepted` for a job now running detached, with its status URL in `Location`.
pub(super) async fn submit(broker: &Wasimoff, job: Job, how: Detach) -> Result<Response<Body>, ApiError> {
    let handle = broker.submit_job(job).await?;
    let url = format!("{}/api/v1/jobs/{}", broker.prefix(), handle.id());
    let mut response = json(StatusCode::ACCEPTED, &Accepted { id: handle.id(), status: &url });
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&url) {
        headers.insert(LOCATION, location);
    }
    if how == Detach::Preferred {
        headers.insert(PREFERENCE_APPLIED, HeaderValue::from_static("respond-async"));
    }
    Ok(response)
}

impl From<SubmitJobError> for ApiError {
    fn from(error: SubmitJobError) -> ApiError {
        match error {
            SubmitJobError::TooManyJobs { .. } => ApiError::new(ApiErrorKind::TooManyJobs, error.to_string()),
            SubmitJobError::Refused(refused) => refused.into(),
        }
    }
}

async fn find(broker: &Wasimoff, id: &str) -> Result<JobHandle, ApiError> {
    broker.job(id).await?.ok_or_else(|| not_found(id))
}

/// `{"jobs": [status…]}`.
#[derive(Serialize)]
pub(super) struct JobList {
    pub(super) jobs: Vec<JobStatus>,
}

/// `GET /api/v1/jobs`: every detached job kept, oldest first, without results.
pub(super) async fn list(broker: &Wasimoff) -> Result<Response<Body>, ApiError> {
    Ok(json(StatusCode::OK, &JobList { jobs: broker.detached_jobs().await? }))
}

/// A job's status and its results so far in task order: `{…status, "results": [{"index",
/// "result"|"error"}…]}`.
#[derive(Serialize)]
struct StatusWithResults<'a> {
    #[serde(flatten)]
    status: &'a JobStatus,
    results: Vec<IndexedResult<'a>>,
}

/// `{"results": [{"index", "result"|"error"}…]}` in task order.
#[derive(Serialize)]
struct ResultList<'a> {
    results: Vec<IndexedResult<'a>>,
}

/// The results finished so far, in task order.
fn in_task_order(lines: &[Arc<ResultLine>]) -> Vec<(usize, Result<TaskOutput, TaskError>)> {
    let mut results: Vec<_> = lines.iter().map(|line| (line.index, line.result.clone().into_result())).collect();
    results.sort_unstable_by_key(|(index, _)| *index);
    results
}

fn indexed(results: &[(usize, Result<TaskOutput, TaskError>)]) -> Vec<IndexedResult<'_>> {
    results.iter().map(|(index, result)| IndexedResult { index: *index, result: TaskResult::new(result) }).collect()
}

async fn status_body(handle: &JobHandle, status: StatusCode) -> Result<Response<Body>, ApiError> {
    let (job, lines) = handle.snapshot().await?.ok_or_else(|| not_found(handle.id()))?;
    let results = in_task_order(&lines);
    Ok(json(status, &StatusWithResults { status: &job, results: indexed(&results) }))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(ApiErrorKind::NotFound, format!("no detached job {id:?} (unknown, or expired after its retention)"))
}

/// `GET /api/v1/jobs/{id}`: the job's status and its results so far, in task order.
pub(super) async fn status(broker: &Wasimoff, id: &str) -> Result<Response<Body>, ApiError> {
    status_body(&find(broker, id).await?, StatusCode::OK).await
}

/// `GET /api/v1/jobs/{id}/results`: when `streamed` (`Accept: application/x-ndjson` or
/// `?stream=ndjson`) one line per result, those finished replayed in the order they finished
/// and the rest as they finish, ending with the job; otherwise `{"results": […]}` of those
/// finished so far, in task order.
pub(super) async fn results(broker: &Wasimoff, id: &str, streamed: bool) -> Result<Response<Body>, ApiError> {
    let handle = find(broker, id).await?;
    if streamed {
        return Ok(ndjson(handle.results()));
    }
    let (_, lines) = handle.snapshot().await?.ok_or_else(|| not_found(id))?;
    let results = in_task_order(&lines);
    Ok(json(StatusCode::OK, &ResultList { results: indexed(&results) }))
}

/// `DELETE /api/v1/jobs/{id}`: cancels the job's unfinished tasks (they end `cancelled`) and
/// answers its final status with every result, like `GET`; for an ended job, just that.
pub(super) async fn cancel(broker: &Wasimoff, id: &str) -> Result<Response<Body>, ApiError> {
    let handle = find(broker, id).await?;
    handle.cancel().await?.ok_or_else(|| not_found(id))?;
    status_body(&handle, StatusCode::OK).await
}
