//! The seed-compatible client API of the original Wasimoff broker: clients of the original
//! system only change their base URL to `http://host/<prefix>`.

use super::error::{ApiError, ApiErrorKind};
use super::reply::{self, json};
use super::request;
use super::results::Base64;
use crate::layers::Body;
use crate::task::{FileSource, Job, MountedFile, Task, TaskError, TaskOutput};
use crate::{Upload, Wasimoff, archive};
use futures_util::StreamExt;
use http::{Request, Response, StatusCode};
use serde::Serialize;
use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};
use wasimoff_protocol::api::{Exec, RunConfiguration, SeedUploaded};

/// `GET /api/broker/v1/healthz`.
pub(super) fn healthz() -> Response<Body> {
    reply::with_type(StatusCode::OK, "text/plain; charset=utf-8", "OK")
}

/// `POST /api/broker/v1/upload?name=NAME`: the raw body is stored under alias NAME.
pub(super) async fn upload(broker: &Wasimoff, request: Request<Body>) -> Result<Response<Body>, ApiError> {
    let Some(name) = request::query_values(&request, "name").into_iter().next() else {
        return Err(ApiError::new(ApiErrorKind::BadRequest, "missing query parameter ?name="));
    };
    let bytes = request::body(request, broker.limits().upload_bytes).await?;
    let file = broker.store().put(bytes, Upload::new().alias(name.clone())).await?.file;
    Ok(json(StatusCode::OK, &SeedUploaded { name, reference: file.digest.to_string(), kind: file.kind.into(), size: file.size }))
}

/// One task of a run configuration: argv is `bin` then `args`; the entry's envs come before
/// the global ones; `loadfs` files appear at `/NAME`; `datafile` is collected after the run.
fn exec_task(exec: &Exec, config: &RunConfiguration) -> Task {
    let mut task = Task::new(FileSource::reference(config.bin.clone()))
        .args(std::iter::once(config.bin.clone()).chain(exec.args.iter().cloned()))
        .envs(exec.envs.iter().chain(&config.envs).cloned());
    if let Some(stdin) = &exec.stdin {
        task = task.stdin(stdin.clone());
    }
    if !exec.loadfs.is_empty() {
        task.files =
            Some(exec.loadfs.iter().map(|name| MountedFile { path: name.clone(), source: FileSource::reference(name.clone()) }).collect());
    }
    if let Some(datafile) = &exec.datafile {
        task = task.artifacts([datafile.clone()]);
    }
    task
}

/// One element of the answer: `{"result": {...}}` (also for a non-zero exit) or
/// `{"error": TEXT}`.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum SeedResult<'a> {
    Result(SeedOutput<'a>),
    Error(String),
}

/// `{"status", "stdout", "stderr", "datafile"?, "trace"?}`, output as (lossy) text.
#[derive(Serialize)]
struct SeedOutput<'a> {
    status: i32,
    stdout: Cow<'a, str>,
    stderr: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    datafile: Option<Base64<Vec<u8>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<[TraceEvent; 3]>,
}

/// A timestamp of `trace: true`.
#[derive(Serialize)]
struct TraceEvent {
    event: TracePoint,
    unixnano: u128,
}

/// What a trace timestamp marks.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum TracePoint {
    Received,
    Started,
    Finished,
}

/// A task's outcome and when it was known.
type Finished = (Result<TaskOutput, TaskError>, SystemTime);

fn unix_nanos(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
}

impl<'a> SeedResult<'a> {
    fn new(exec: &Exec, finished: Option<&'a Finished>, received: Option<SystemTime>) -> SeedResult<'a> {
        let Some((result, at)) = finished else { return SeedResult::Error("the task produced no result".into()) };
        let output = match result {
            Ok(output) => output,
            Err(error) => return SeedResult::Error(error.to_string()),
        };
        let datafile = exec.datafile.as_deref().zip(output.artifacts.as_deref());
        let trace = received.map(|received| {
            let time = |event, at| TraceEvent { event, unixnano: unix_nanos(at) };
            [
                time(TracePoint::Received, received),
                time(TracePoint::Started, at.checked_sub(output.elapsed).unwrap_or(*at)),
                time(TracePoint::Finished, *at),
            ]
        });
        SeedResult::Result(SeedOutput {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout),
            stderr: String::from_utf8_lossy(&output.stderr),
            datafile: datafile.and_then(|(name, zip)| archive::read_file(zip, name)).map(Base64),
            trace,
        })
    }
}

/// `POST /api/broker/v1/run`: one task per `exec` entry; a JSON array of results in order.
pub(super) async fn run(broker: &Wasimoff, request: Request<Body>) -> Result<Response<Body>, ApiError> {
    let received = SystemTime::now();
    let config: RunConfiguration = request::json(request, broker.limits().request_bytes).await?;
    if broker.queue_is_full() {
        return Err(ApiError::queue_full());
    }
    let job = Job { parent: None, tasks: config.exec.iter().map(|exec| exec_task(exec, &config)).collect() };
    let mut finished: Vec<Option<Finished>> = vec![None; config.exec.len()];
    let mut results = broker.run_job_unordered(job);
    while let Some((index, result)) = results.next().await {
        finished[index] = Some((result, SystemTime::now()));
    }
    let received = config.trace.then_some(received);
    let answer: Vec<SeedResult> =
        config.exec.iter().zip(&finished).map(|(exec, done)| SeedResult::new(exec, done.as_ref(), received)).collect();
    Ok(json(StatusCode::OK, &answer))
}
