//! A typed client of a wasimoff broker's HTTP API (docs/API.md), and the `wasimoff` command
//! line built on it. The request and answer types are the broker's own, from
//! [`wasimoff_protocol::api`] (re-exported as [`api`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let url = doc_broker::start().await?;
//! use wasimoff_client::Client;
//! use wasimoff_client::api::{FileSource, TaskRequest, TaskResult};
//!
//! let client = Client::new(url); // e.g. "http://localhost:4080/wasimoff"
//! let module = wat::parse_str(r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
//!     (memory (export "memory") 1) (func (export "_start") (call $exit (i32.const 3))))"#)?;
//! let stored = client.upload(module, &["exit.wasm"]).await?;
//! assert!(stored.reference.starts_with("sha256:"));
//!
//! let task = TaskRequest { binary: Some(FileSource::Ref("exit.wasm".into())), ..TaskRequest::default() };
//! let TaskResult::Result(exited) = client.run(&task).await? else { panic!("it exits") };
//! assert_eq!(exited.status, 3);
//! # Ok(()) }
//! # mod doc_broker { pub async fn start() -> std::io::Result<String> {
//! #     let broker = wasimoff::Wasimoff::builder().build().expect("a broker");
//! #     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! #     let url = format!("http://{}/wasimoff", listener.local_addr()?);
//! #     tokio::spawn(async move { axum::serve(listener, axum::Router::new().layer(broker.layer())).await });
//! #     Ok(url)
//! # } }
//! ```

mod error;
mod ndjson;

pub use error::Error;
pub use wasimoff_protocol::api;

use api::{ClusterView, FileList, IndexedResult, JobAccepted, JobRequest, JobResults, JobStatus, TaskRequest, TaskResult, Uploaded};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{RequestBuilder, Response};
use serde::de::DeserializeOwned;

/// The media type of streamed results.
const NDJSON: &str = "application/x-ndjson";

/// Where a broker is by default: axum-host's address and the default mount prefix.
pub const DEFAULT_BROKER: &str = "http://localhost:4080/wasimoff";

/// Streamed results of a job, one per task as each finishes, tagged with its index.
pub type ResultStream = BoxStream<'static, Result<IndexedResult, Error>>;

/// A connection to one broker. Cheap to clone; clones share the connection pool.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client of the broker at `base`, its URL including the mount prefix (for example
    /// [`DEFAULT_BROKER`]).
    pub fn new(base: impl Into<String>) -> Client {
        let base = base.into().trim_end_matches('/').to_string();
        Client { http: reqwest::Client::new(), base, token: None }
    }

    /// Sends `Authorization: Bearer <token>` with every request (for a host that guards the
    /// client routes, such as axum-host with `WASIMOFF_TOKEN`).
    pub fn token(mut self, token: impl Into<String>) -> Client {
        self.token = Some(token.into());
        self
    }

    /// The broker's URL, including its mount prefix.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Stores `bytes` under `aliases` (`POST /api/v1/files`).
    pub async fn upload(&self, bytes: impl Into<Bytes>, aliases: &[&str]) -> Result<Uploaded, Error> {
        let query: Vec<(&str, &str)> = aliases.iter().map(|alias| ("alias", *alias)).collect();
        json(self.request(reqwest::Method::POST, "/api/v1/files").query(&query).body(bytes.into()).send().await?).await
    }

    /// Every alias and how full the store is (`GET /api/v1/files`).
    pub async fn files(&self) -> Result<FileList, Error> {
        json(self.request(reqwest::Method::GET, "/api/v1/files").send().await?).await
    }

    /// Runs one task and waits for its result (`POST /api/v1/tasks`). A task that ran and
    /// failed is an `Ok(TaskResult::Error(…))`; a task refused at submission is an [`Error`].
    pub async fn run(&self, task: &TaskRequest) -> Result<TaskResult, Error> {
        json(self.request(reqwest::Method::POST, "/api/v1/tasks").json(task).send().await?).await
    }

    /// Runs a job and waits for all its results, in task order (`POST /api/v1/jobs`).
    pub async fn run_job(&self, job: &JobRequest) -> Result<JobResults, Error> {
        json(self.request(reqwest::Method::POST, "/api/v1/jobs").json(job).send().await?).await
    }

    /// Runs a job and streams its results as each task finishes (`POST /api/v1/jobs` with
    /// `Accept: application/x-ndjson`). Dropping the stream cancels the job's remaining tasks.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let url = doc_broker::start().await?;
    /// use futures_util::StreamExt;
    /// use wasimoff_client::Client;
    /// use wasimoff_client::api::{FileSource, JobRequest, TaskRequest};
    ///
    /// let client = Client::new(url);
    /// let exit = wat::parse_str(r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    ///     (memory (export "memory") 1) (func (export "_start") (call $exit (i32.const 0))))"#)?;
    /// client.upload(exit, &["exit.wasm"]).await?;
    /// let job = JobRequest {
    ///     parent: Some(TaskRequest { binary: Some(FileSource::Ref("exit.wasm".into())), ..TaskRequest::default() }),
    ///     tasks: vec![TaskRequest::default(); 3],
    /// };
    /// let mut results = client.stream_job(&job).await?;
    /// let mut indices = Vec::new();
    /// while let Some(line) = results.next().await {
    ///     let line = line?;
    ///     assert!(line.result.succeeded());
    ///     indices.push(line.index);
    /// }
    /// indices.sort();
    /// assert_eq!(indices, [0, 1, 2]);
    /// # Ok(()) }
    /// # mod doc_broker { pub async fn start() -> std::io::Result<String> {
    /// #     let broker = wasimoff::Wasimoff::builder().build().expect("a broker");
    /// #     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let url = format!("http://{}/wasimoff", listener.local_addr()?);
    /// #     tokio::spawn(async move { axum::serve(listener, axum::Router::new().layer(broker.layer())).await });
    /// #     Ok(url)
    /// # } }
    /// ```
    pub async fn stream_job(&self, job: &JobRequest) -> Result<ResultStream, Error> {
        let request = self.request(reqwest::Method::POST, "/api/v1/jobs").header(ACCEPT, HeaderValue::from_static(NDJSON)).json(job);
        Ok(ndjson::lines(checked(request.send().await?).await?.bytes_stream()))
    }

    /// Submits a job detached (`POST /api/v1/jobs` with `Prefer: respond-async`): the broker
    /// answers `202` with the job's id at once and keeps its results for
    /// [`job_status`](Client::job_status) and [`job_results`](Client::job_results).
    pub async fn submit_job(&self, job: &JobRequest) -> Result<JobAccepted, Error> {
        json(self.request(reqwest::Method::POST, "/api/v1/jobs").header("prefer", "respond-async").json(job).send().await?).await
    }

    /// A detached job's progress and its results so far (`GET /api/v1/jobs/{id}`).
    pub async fn job_status(&self, id: &str) -> Result<JobStatus, Error> {
        json(self.request(reqwest::Method::GET, &format!("/api/v1/jobs/{}", path_segment(id))).send().await?).await
    }

    /// A detached job's results, streamed as they finish (`GET /api/v1/jobs/{id}/results`).
    pub async fn job_results(&self, id: &str) -> Result<ResultStream, Error> {
        let path = format!("/api/v1/jobs/{}/results", path_segment(id));
        let request = self.request(reqwest::Method::GET, &path).header(ACCEPT, HeaderValue::from_static(NDJSON));
        Ok(ndjson::lines(checked(request.send().await?).await?.bytes_stream()))
    }

    /// Cancels a detached job (`DELETE /api/v1/jobs/{id}`).
    pub async fn cancel_job(&self, id: &str) -> Result<api::JobStatus, Error> {
        json(self.request(reqwest::Method::DELETE, &format!("/api/v1/jobs/{}", path_segment(id))).send().await?).await
    }

    /// Providers, workers, the queue and the task rate (`GET /api/v1/cluster`).
    pub async fn cluster(&self) -> Result<ClusterView, Error> {
        json(self.request(reqwest::Method::GET, "/api/v1/cluster").send().await?).await
    }

    /// Runs a seed run configuration (`POST /api/broker/v1/run`) and returns the broker's
    /// answer as it came: a JSON array with one element per `exec` entry.
    pub async fn run_configuration(&self, config: &api::RunConfiguration) -> Result<Bytes, Error> {
        Ok(checked(self.request(reqwest::Method::POST, "/api/broker/v1/run").json(config).send().await?).await?.bytes().await?)
    }
}

/// The response if its status is a success, else the broker's error.
async fn checked(response: Response) -> Result<Response, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.bytes().await.unwrap_or_default();
    Err(Error::from_answer(status, &body))
}

/// The body of a successful response as a `T`.
async fn json<T: DeserializeOwned>(response: Response) -> Result<T, Error> {
    let bytes = checked(response).await?.bytes().await?;
    serde_json::from_slice(&bytes).map_err(|error| Error::Unexpected(format!("an answer that is not the expected JSON: {error}")))
}

/// `text` percent-encoded for one path segment.
fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A task's output streams as bytes, whether they came as text or base64.
pub trait OutputBytes {
    /// Standard output.
    fn stdout_bytes(&self) -> Result<Vec<u8>, Error>;
    /// Standard error.
    fn stderr_bytes(&self) -> Result<Vec<u8>, Error>;
}

impl OutputBytes for api::Output {
    fn stdout_bytes(&self) -> Result<Vec<u8>, Error> {
        bytes_of(self.stdout.as_deref(), self.stdout_base64.as_deref())
    }

    fn stderr_bytes(&self) -> Result<Vec<u8>, Error> {
        bytes_of(self.stderr.as_deref(), self.stderr_base64.as_deref())
    }
}

/// Decodes standard base64, as the broker sends bytes.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, Error> {
    STANDARD.decode(text).map_err(|error| Error::Unexpected(format!("invalid base64: {error}")))
}

fn bytes_of(text: Option<&str>, base64: Option<&str>) -> Result<Vec<u8>, Error> {
    match (text, base64) {
        (Some(text), _) => Ok(text.as_bytes().to_vec()),
        (None, Some(encoded)) => decode_base64(encoded),
        (None, None) => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_comes_back_as_bytes_from_text_or_base64() {
        let output = api::Output { stdout: Some("hi\n".into()), stderr_base64: Some("/wA=".into()), ..api::Output::default() };
        assert_eq!(output.stdout_bytes().ok(), Some(b"hi\n".to_vec()));
        assert_eq!(output.stderr_bytes().ok(), Some(vec![0xff, 0x00]));
    }

    #[test]
    fn ids_are_escaped_in_paths() {
        assert_eq!(path_segment("j-12_a.b"), "j-12_a.b");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn recorded_detached_job_answers_parse() {
        let accepted: JobAccepted = serde_json::from_str(r#"{"id": "j7", "status": "/wasimoff/api/v1/jobs/j7"}"#).expect("accepted");
        assert_eq!((accepted.id.as_str(), accepted.status.as_str()), ("j7", "/wasimoff/api/v1/jobs/j7"));
        let status: JobStatus = serde_json::from_str(
            r#"{"id": "j7", "status": "done", "tasks": 2, "queued": 0, "running": 0, "done": 1, "failed": 1,
                "created": 1764700000000, "finished": "2026-12-02T19:40:00Z",
                "results": [{"index": 0, "result": {"status": 0, "stdout": "ok\n", "stderr": "", "elapsed_ms": 0.3, "ran_on": "local"}},
                            {"index": 1, "error": {"kind": "trap", "message": "wasm trap", "stdout": "", "stderr": ""}}]}"#,
        )
        .expect("status");
        assert_eq!(status.status, api::JobPhase::Done);
        assert_eq!((status.tasks, status.done, status.failed), (2, 1, 1));
        assert_eq!(status.created, api::Timestamp::Number(1764700000000.0));
        assert_eq!(status.finished, Some(api::Timestamp::Text("2026-12-02T19:40:00Z".into())));
        assert!(status.results[0].result.succeeded() && !status.results[1].result.succeeded());
        let running: JobStatus = serde_json::from_str(
            r#"{"id": "j8", "status": "running", "tasks": 5, "queued": 3, "running": 2, "done": 0, "failed": 0, "created": 1}"#,
        )
        .expect("running");
        assert_eq!((running.status, running.finished, running.results.len()), (api::JobPhase::Running, None, 0));
    }
}
