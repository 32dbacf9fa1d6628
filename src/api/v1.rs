//! The modern client API: content-addressed files, tasks, jobs (optionally streamed as
//! NDJSON), and the cluster view.

use super::reply::{self, json, problem};
use super::request;
use crate::layers::{Body, BodyError};
use crate::store::{FileKind, StoreError};
use crate::task::{Job, Task};
use crate::{Upload, Wasimoff};
use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{ACCEPT, CACHE_CONTROL, ETAG};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use serde_json::{Map, Value, json};

/// The media type of streamed job results.
const NDJSON: &str = "application/x-ndjson";

pub(super) fn store_problem(error: StoreError) -> Response<Body> {
    let status = match error {
        StoreError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        StoreError::Invalid(_) | StoreError::InvalidAlias { .. } => StatusCode::BAD_REQUEST,
        StoreError::NotFound(_) => StatusCode::NOT_FOUND,
        StoreError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let kind = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::BAD_REQUEST => "invalid_file",
        StatusCode::NOT_FOUND => "not_found",
        _ => "internal",
    };
    problem(status, kind, error.to_string())
}

/// `POST /api/v1/files?alias=NAME&alias=…&kind=wasm|zip|data`: stores the raw body.
pub(super) async fn upload(broker: &Wasimoff, request: Request<Body>) -> Response<Body> {
    let mut upload = Upload::new();
    upload.aliases = request::query_values(&request, "alias");
    match request::query_values(&request, "kind").first().map(String::as_str) {
        None => {}
        Some("wasm") => upload.kind = Some(FileKind::Wasm),
        Some("zip") => upload.kind = Some(FileKind::Zip),
        Some("data") => upload.kind = Some(FileKind::Data),
        Some(other) => {
            return problem(StatusCode::BAD_REQUEST, "bad_request", format!("unknown kind {other:?}: use wasm, zip or data"));
        }
    }
    let aliases = upload.aliases.clone();
    let bytes = match request::body(request, broker.limits().upload_bytes).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    match broker.store().put(bytes, upload).await {
        Ok(stored) => {
            let replaced: Map<String, Value> = stored.replaced.iter().map(|(alias, old)| (alias.clone(), old.to_string().into())).collect();
            let status = if stored.created { StatusCode::CREATED } else { StatusCode::OK };
            json(
                status,
                &json!({
                    "ref": stored.file.digest.to_string(),
                    "kind": stored.file.kind,
                    "size": stored.file.size,
                    "aliases": aliases,
                    "replaced": replaced,
                }),
            )
        }
        Err(error) => store_problem(error),
    }
}

/// `GET /api/v1/files`: every alias and the digest it points at.
pub(super) fn list_files(broker: &Wasimoff) -> Response<Body> {
    let aliases: Map<String, Value> =
        broker.store().aliases().into_iter().map(|(alias, digest)| (alias, digest.to_string().into())).collect();
    json(StatusCode::OK, &json!({ "aliases": aliases }))
}

/// `GET /api/v1/files/{digest or alias}`: the content, with its media type and digest as ETag.
pub(super) async fn download(broker: &Wasimoff, name: &str) -> Response<Body> {
    let name = percent_decode(name);
    let info = match broker.store().resolve(&name) {
        Ok(info) => info,
        Err(error) => return store_problem(error),
    };
    let bytes = match broker.store().get(&info.digest).await {
        Ok(bytes) => bytes,
        Err(error) => return store_problem(error),
    };
    let mut response = reply::with_type(StatusCode::OK, info.kind.media_type(), bytes);
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", info.digest)) {
        headers.insert(ETAG, etag);
    }
    let by_digest = name.starts_with(crate::DIGEST_PREFIX);
    let cache = if by_digest { "public, max-age=31536000, immutable" } else { "no-cache" };
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// `POST /api/v1/tasks`: runs one task. Submission errors get their own status (400, 404,
/// 429, 503); a task that ran and failed is a `200` with `{"error": …}`.
pub(super) async fn run_task(broker: &Wasimoff, request: Request<Body>) -> Response<Body> {
    let task: Task = match request::json(request, broker.limits().request_bytes).await {
        Ok(task) => task,
        Err(response) => return response,
    };
    let result = broker.run(task).await;
    let status = result.as_ref().err().and_then(|error| reply::submission_status(error.kind)).unwrap_or(StatusCode::OK);
    json(status, &reply::envelope(&result))
}

fn wants_stream(request: &Request<Body>) -> bool {
    let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    accept.contains(NDJSON) || request::query_values(request, "stream").iter().any(|v| v == "ndjson")
}

/// `POST /api/v1/jobs`: runs a job. Results in order as `{"results": [...]}`, or with
/// `Accept: application/x-ndjson` (or `?stream=ndjson`) one line per finished task,
/// `{"index": I, "result"|"error": …}`, as each finishes.
pub(super) async fn run_job(broker: &Wasimoff, request: Request<Body>) -> Response<Body> {
    let stream = wants_stream(&request);
    let job: Job = match request::json(request, broker.limits().request_bytes).await {
        Ok(job) => job,
        Err(response) => return response,
    };
    if broker.queue_is_full() {
        return problem(StatusCode::TOO_MANY_REQUESTS, "queue_full", "the queue is full; try again later");
    }
    if !stream {
        let results: Vec<Value> = broker.run_job(job).await.iter().map(reply::envelope).collect();
        return json(StatusCode::OK, &json!({ "results": results }));
    }
    let lines = broker.run_job_unordered(job).map(|(index, result)| {
        let mut line = reply::envelope(&result);
        line["index"] = index.into();
        let mut bytes = serde_json::to_vec(&line).map_err(BodyError::new)?;
        bytes.push(b'\n');
        Ok::<_, BodyError>(Frame::data(Bytes::from(bytes)))
    });
    let mut response = Response::new(StreamBody::new(lines).boxed_unsync());
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    response
}
