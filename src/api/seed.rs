//! The seed-compatible client API of the original Wasimoff broker: clients of the original
//! system only change their base URL to `http://host/<prefix>`.

use super::reply::{self, json, problem};
use super::request;
use crate::task::{FileSource, Job, MountedFile, Task, TaskError, TaskOutput};
use crate::{Upload, Wasimoff, archive};
use futures_util::StreamExt;
use http::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::layers::Body;

/// `GET /api/broker/v1/healthz`.
pub(super) fn healthz() -> Response<Body> {
    reply::with_type(StatusCode::OK, "text/plain; charset=utf-8", "OK")
}

/// `POST /api/broker/v1/upload?name=NAME`: the raw body is stored under alias NAME.
pub(super) async fn upload(broker: &Wasimoff, request: Request<Body>) -> Response<Body> {
    let Some(name) = request::query_values(&request, "name").into_iter().next() else {
        return problem(StatusCode::BAD_REQUEST, "bad_request", "missing query parameter ?name=");
    };
    let bytes = match request::body(request, broker.limits().upload_bytes).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    match broker.store().put(bytes, Upload::new().alias(name.clone())).await {
        Ok(stored) => json(
            StatusCode::OK,
            &json!({"name": name, "ref": stored.file.digest.to_string(), "kind": stored.file.kind, "size": stored.file.size}),
        ),
        Err(error) => super::v1::store_problem(error),
    }
}

/// The original run configuration.
#[derive(Deserialize)]
struct RunConfiguration {
    bin: String,
    #[serde(default)]
    envs: Vec<String>,
    #[serde(default)]
    exec: Vec<Exec>,
    #[serde(default)]
    trace: bool,
}

#[derive(Deserialize)]
struct Exec {
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    envs: Vec<String>,
    #[serde(default)]
    stdin: Option<String>,
    #[serde(default)]
    loadfs: Vec<String>,
    #[serde(default)]
    datafile: Option<String>,
}

impl Exec {
    /// One task: argv is `bin` then `args`; the task's envs come before the global ones;
    /// `loadfs` files appear at `/NAME`; `datafile` is collected after the run.
    fn task(&self, config: &RunConfiguration) -> Task {
        let mut task = Task::new(FileSource::reference(config.bin.clone()))
            .args(std::iter::once(config.bin.clone()).chain(self.args.iter().cloned()))
            .envs(self.envs.iter().chain(&config.envs).cloned());
        if let Some(stdin) = &self.stdin {
            task = task.stdin(stdin.clone());
        }
        if !self.loadfs.is_empty() {
            task.files = Some(
                self.loadfs.iter().map(|name| MountedFile { path: name.clone(), source: FileSource::reference(name.clone()) }).collect(),
            );
        }
        if let Some(datafile) = &self.datafile {
            task = task.artifacts([datafile.clone()]);
        }
        task
    }
}

fn unix_nanos(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
}

fn seed_result(exec: &Exec, result: &Result<TaskOutput, TaskError>, trace: Option<Vec<Value>>) -> Value {
    let output = match result {
        Ok(output) => output,
        Err(error) => return json!({"error": error.to_string()}),
    };
    let mut object = json!({
        "status": output.status,
        "stdout": String::from_utf8_lossy(&output.stdout),
        "stderr": String::from_utf8_lossy(&output.stderr),
    });
    let datafile = exec.datafile.as_deref().zip(output.artifacts.as_deref());
    if let Some(content) = datafile.and_then(|(name, zip)| archive::read_file(zip, name)) {
        object["datafile"] = reply::base64(&content).into();
    }
    if let Some(trace) = trace {
        object["trace"] = trace.into();
    }
    json!({ "result": object })
}

/// `POST /api/broker/v1/run`: one task per `exec` entry; a JSON array of results in order.
pub(super) async fn run(broker: &Wasimoff, request: Request<Body>) -> Response<Body> {
    let received = SystemTime::now();
    let config: RunConfiguration = match request::json(request, broker.limits().request_bytes).await {
        Ok(config) => config,
        Err(response) => return response,
    };
    if broker.queue_is_full() {
        return problem(StatusCode::TOO_MANY_REQUESTS, "queue_full", "the queue is full; try again later");
    }
    let job = Job { parent: None, tasks: config.exec.iter().map(|exec| exec.task(&config)).collect() };
    let mut finished: Vec<Option<(Result<TaskOutput, TaskError>, SystemTime)>> = vec![None; config.exec.len()];
    let mut results = broker.run_job_unordered(job);
    while let Some((index, result)) = results.next().await {
        finished[index] = Some((result, SystemTime::now()));
    }
    let array: Vec<Value> = config
        .exec
        .iter()
        .zip(finished)
        .map(|(exec, done)| {
            let Some((result, at)) = done else { return json!({"error": "the task produced no result"}) };
            let trace = config.trace.then(|| {
                let elapsed = result.as_ref().map_or(Duration::ZERO, |output| output.elapsed);
                vec![
                    json!({"event": "received", "unixnano": unix_nanos(received)}),
                    json!({"event": "started", "unixnano": unix_nanos(at - elapsed)}),
                    json!({"event": "finished", "unixnano": unix_nanos(at)}),
                ]
            });
            seed_result(exec, &result, trace)
        })
        .collect();
    json(StatusCode::OK, &array)
}
