//! The modern client API: content-addressed files, tasks, jobs (optionally streamed as
//! NDJSON), and the cluster view.

use super::error::{ApiError, ApiErrorKind, submission_status};
use super::jobs;
use super::reply::{self, json};
use super::request;
use super::results::{IndexedResult, JobResults, TaskResult};
use crate::layers::{Body, BodyError};
use crate::store::FileKind;
use crate::task::{Job, Task, TaskError, TaskOutput};
use crate::{Digest, Upload, Wasimoff};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, ETAG};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use std::collections::BTreeMap;
use wasimoff_protocol::api;

/// The media type of streamed job results.
const NDJSON: &str = "application/x-ndjson";

/// Alias and digest pairs as the JSON object `{alias: ref}`.
fn digests_by_alias(pairs: Vec<(String, Digest)>) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(alias, digest)| (alias, digest.to_string())).collect()
}

/// The `kind` query parameter of an upload.
fn file_kind(name: &str) -> Result<FileKind, ApiError> {
    match name {
        "wasm" => Ok(FileKind::Wasm),
        "zip" => Ok(FileKind::Zip),
        "data" => Ok(FileKind::Data),
        other => Err(ApiError::new(ApiErrorKind::BadRequest, format!("unknown kind {other:?}: use wasm, zip or data"))),
    }
}

/// `POST /api/v1/files?alias=NAME&alias=…&kind=wasm|zip|data`: stores the raw body.
pub(super) async fn upload(broker: &Wasimoff, request: Request<Body>) -> Result<Response<Body>, ApiError> {
    let mut upload = Upload::new();
    upload.aliases = request::query_values(&request, "alias");
    upload.kind = request::query_values(&request, "kind").first().map(|name| file_kind(name)).transpose()?;
    let aliases = upload.aliases.clone();
    let bytes = request::body(request, broker.limits().upload_bytes).await?;
    let stored = broker.store().put(bytes, upload).await?;
    let status = if stored.created { StatusCode::CREATED } else { StatusCode::OK };
    let file = stored.file;
    let uploaded = api::Uploaded {
        reference: file.digest.to_string(),
        kind: file.kind.into(),
        size: file.size,
        aliases,
        replaced: digests_by_alias(stored.replaced),
    };
    Ok(json(status, &uploaded))
}

/// `GET /api/v1/files`: every alias and the digest it points at (every replica's, with a
/// shared backend).
pub(super) async fn list_files(broker: &Wasimoff) -> Result<Response<Body>, ApiError> {
    let aliases = digests_by_alias(broker.store().list_aliases().await?);
    let usage = broker.store().usage();
    let store = api::StoreUsage { used_bytes: usage.used_bytes, limit_bytes: usage.limit_bytes, files: usage.files };
    Ok(json(StatusCode::OK, &api::FileList { aliases, store }))
}

/// `DELETE /api/v1/files/{alias}`: deletes the alias; `204`, or `404` if there is none.
pub(super) async fn delete_alias(broker: &Wasimoff, name: &str) -> Result<Response<Body>, ApiError> {
    broker.store().delete_alias(&percent_decode(name)).await?;
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

/// `GET /api/v1/files/{digest or alias}`: the content, with its media type and digest as ETag.
pub(super) async fn download(broker: &Wasimoff, name: &str) -> Result<Response<Body>, ApiError> {
    let name = percent_decode(name);
    broker.store().pull(&name).await?;
    let info = broker.store().resolve(&name)?;
    let bytes = broker.store().get(&info.digest).await?;
    let mut response = reply::with_type(StatusCode::OK, info.kind.media_type(), bytes);
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", info.digest)) {
        headers.insert(ETAG, etag);
    }
    let by_digest = name.starts_with(crate::DIGEST_PREFIX);
    let cache = if by_digest { "public, max-age=31536000, immutable" } else { "no-cache" };
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(response)
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// `POST /api/v1/tasks`: runs one task. A task refused at submission gets its own status
/// (400, 404, 429, 503); a task that ran and failed is a `200` with `{"error": …}`.
pub(super) async fn run_task(broker: &Wasimoff, request: Request<Body>) -> Result<Response<Body>, ApiError> {
    let task: Task = request::json(request, broker.limits().request_bytes).await?;
    match broker.run(task).await {
        Err(error) if submission_status(error.kind).is_some() => Err(error.into()),
        result => Ok(json(StatusCode::OK, &TaskResult::new(&result))),
    }
}

/// Whether the client asked for results as NDJSON: `Accept: application/x-ndjson` or
/// `?stream=ndjson`.
pub(super) fn wants_stream(request: &Request<Body>) -> bool {
    let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    accept.contains(NDJSON) || request::query_values(request, "stream").iter().any(|v| v == "ndjson")
}

/// `POST /api/v1/jobs`: runs a job. Results in order as `{"results": [...]}`, or with
/// `Accept: application/x-ndjson` (or `?stream=ndjson`) one line per finished task,
/// `{"index": I, "result"|"error": …}`, as each finishes. With `Prefer: respond-async` (or
/// `?detach=true`) it runs detached: `202` at once (see [`jobs`](super::jobs)).
pub(super) async fn run_job(broker: &Wasimoff, request: Request<Body>) -> Result<Response<Body>, ApiError> {
    let stream = wants_stream(&request);
    let detach = jobs::detach(&request);
    let job: Job = request::json(request, broker.limits().request_bytes).await?;
    if let Some(how) = detach {
        return jobs::submit(broker, job, how).await;
    }
    if broker.queue_is_full() {
        return Err(ApiError::queue_full());
    }
    if !stream {
        let results = broker.run_job(job).await;
        return Ok(json(StatusCode::OK, &JobResults { results: results.iter().map(TaskResult::new).collect() }));
    }
    Ok(ndjson(broker.run_job_unordered(job)))
}

/// Results as an NDJSON body, one `{"index": I, "result"|"error": …}` line each as it comes.
pub(super) fn ndjson(results: impl Stream<Item = (usize, Result<TaskOutput, TaskError>)> + Send + 'static) -> Response<Body> {
    let lines = results.map(|(index, result)| {
        let mut bytes = serde_json::to_vec(&IndexedResult { index, result: TaskResult::new(&result) }).map_err(BodyError::new)?;
        bytes.push(b'\n');
        Ok::<_, BodyError>(Frame::data(Bytes::from(bytes)))
    });
    let mut response = Response::new(StreamBody::new(lines).boxed_unsync());
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    response
}
