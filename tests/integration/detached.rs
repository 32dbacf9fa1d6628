//! Detached jobs over real HTTP and through the Rust API: `202` with the status URL, status
//! while running after the submitter has gone, results streamed from the middle (replayed,
//! then followed), cancel, expiry after the retention, the job limit, unknown ids, and the
//! files a waiting detached job names kept in a full store.
//!
//! An in-process provider (`Wasimoff::attach_provider`, with the local runner never used) is
//! the executor: it holds each run until the test answers it, so every state is set exactly.

use crate::support::{self, client, fixture};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use wasimoff::protocol::ToProvider;
use wasimoff::{FallbackPolicy, FileSource, InProcessProvider, Job, JobPhase, Limits, StoreError, Task, Upload, Wasimoff};

/// How long a test waits for a state before it fails.
const WAIT: Duration = Duration::from_secs(30);

async fn broker(policy: FallbackPolicy, limits: Limits) -> (Wasimoff, String) {
    let broker = Wasimoff::builder().limits(limits).fallback(policy).build().expect("build broker");
    support::upload_fixtures(&broker).await;
    let base = support::serve(support::host_app(&broker)).await;
    (broker, base)
}

/// A job of `count` echo tasks, task `i` echoing `task i`.
fn echo_job(count: usize) -> Value {
    let tasks: Vec<Value> = (0..count).map(|i| json!({"args": ["echo", "task", i.to_string()]})).collect();
    json!({"parent": {"binary": {"ref": "echo.wasm"}}, "tasks": tasks})
}

/// The next run the provider is given: its id and its arguments after argv[0].
async fn next_run(provider: &mut InProcessProvider) -> (u64, String) {
    match tokio::time::timeout(WAIT, provider.next()).await.expect("a run in time") {
        Some(ToProvider::Run { id, task }) => (id, task.args[1..].join(" ")),
        other => panic!("expected a run, got {other:?}"),
    }
}

/// What the executor answers for a run of `words`, as a result line's `result`.
fn answered(words: &str, provider: &InProcessProvider) -> Value {
    json!({"status": 0, "stdout": words, "stderr": "", "elapsed_ms": 1.0, "ran_on": provider.id().to_string()})
}

/// Submits `job` detached over HTTP; answers the `202`'s id after checking the response.
async fn submit(base: &str, job: &Value) -> String {
    let response =
        client().post(format!("{base}/wasimoff/api/v1/jobs")).header("prefer", "respond-async, wait=5").json(job).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(response.headers()["preference-applied"], "respond-async");
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_string();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(body, json!({"id": id, "status": format!("/wasimoff/api/v1/jobs/{id}")}));
    assert_eq!(location, format!("/wasimoff/api/v1/jobs/{id}"));
    id
}

async fn get(url: &str) -> (StatusCode, Value) {
    let response = client().get(url).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

/// Polls the job's status until `done` says so.
async fn status_when(url: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, status) = get(url).await;
        if done(&status) {
            return status;
        }
        assert!(tokio::time::Instant::now() < deadline, "no such status in time: {status}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Drops the times from a status (checked separately) so the rest compares exactly.
fn without_times(mut status: Value) -> Value {
    for key in ["created", "finished", "expires"] {
        status.as_object_mut().unwrap().remove(key);
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_job_runs_without_its_submitter_and_streams_from_the_middle() {
    let (broker, base) = broker(FallbackPolicy::Never, support::test_limits()).await;
    let mut provider = broker.attach_provider("executor", 1).unwrap();
    let id = submit(&base, &echo_job(3)).await;
    let url = format!("{base}/wasimoff/api/v1/jobs/{id}");

    let (first, words) = next_run(&mut provider).await;
    assert_eq!(words, "task 0");
    provider.answer(first, support::exited("task 0"));
    let (second, words) = next_run(&mut provider).await;
    assert_eq!(words, "task 1");
    let running = status_when(&url, |status| status["done"] == 1).await;
    assert!(running["created"].as_u64().unwrap() > 1_700_000_000_000, "unix milliseconds: {running}");
    assert_eq!(running.get("finished"), None);
    assert_eq!(
        without_times(running),
        json!({"id": id, "status": "running", "tasks": 3, "queued": 1, "running": 1, "done": 1, "failed": 0,
               "results": [{"index": 0, "result": answered("task 0", &provider)}]})
    );

    let stream = client().get(format!("{url}/results")).header("accept", "application/x-ndjson").send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "application/x-ndjson");
    let mut lines = stream.bytes_stream();
    let mut line = async || -> Value {
        let chunk = tokio::time::timeout(WAIT, lines.next()).await.expect("a line in time").expect("a line").unwrap();
        serde_json::from_slice(&chunk).unwrap()
    };
    assert_eq!(line().await, json!({"index": 0, "result": answered("task 0", &provider)}), "replayed");
    provider.answer(second, support::exited("task 1"));
    assert_eq!(line().await, json!({"index": 1, "result": answered("task 1", &provider)}), "followed");
    let (third, words) = next_run(&mut provider).await;
    assert_eq!(words, "task 2");
    provider.answer(third, support::exited("task 2"));
    assert_eq!(line().await, json!({"index": 2, "result": answered("task 2", &provider)}));
    assert!(tokio::time::timeout(WAIT, lines.next()).await.expect("the end in time").is_none(), "the stream ends with the job");

    let (status, done) = get(&url).await;
    assert_eq!(status, StatusCode::OK);
    let finished = done["finished"].as_u64().unwrap();
    assert_eq!(done["expires"], finished + 3_600_000, "kept for the default retention of an hour");
    let results: Vec<Value> = (0..3).map(|i| json!({"index": i, "result": answered(&format!("task {i}"), &provider)})).collect();
    assert_eq!(
        without_times(done),
        json!({"id": id, "status": "done", "tasks": 3, "queued": 0, "running": 0, "done": 3, "failed": 0, "results": results})
    );
    let (status, plain) = get(&format!("{url}/results")).await;
    assert_eq!((status, plain), (StatusCode::OK, json!({"results": results})));
    let (status, listing) = get(&format!("{base}/wasimoff/api/v1/jobs")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listing["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(listing["jobs"][0]["id"], id.as_str());
    assert_eq!(listing["jobs"][0]["status"], "done");
    assert_eq!(listing["jobs"][0].get("results"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_ends_the_unfinished_tasks_and_keeps_the_finished_ones() {
    let (broker, base) = broker(FallbackPolicy::Never, support::test_limits()).await;
    let mut provider = broker.attach_provider("executor", 1).unwrap();
    let id = submit(&base, &echo_job(3)).await;
    let url = format!("{base}/wasimoff/api/v1/jobs/{id}");
    let (first, _) = next_run(&mut provider).await;
    provider.answer(first, support::exited("task 0"));
    let (second, words) = next_run(&mut provider).await;
    assert_eq!(words, "task 1");

    let response = client().delete(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cancelled: Value = response.json().await.unwrap();
    let error = json!({"kind": "cancelled", "message": "the job was cancelled before this task finished", "stdout": "", "stderr": ""});
    let expected = json!({"id": id, "status": "cancelled", "tasks": 3, "queued": 0, "running": 0, "done": 1, "failed": 2,
        "results": [{"index": 0, "result": answered("task 0", &provider)}, {"index": 1, "error": error}, {"index": 2, "error": error}]});
    assert_eq!(without_times(cancelled.clone()), expected);
    assert!(cancelled["finished"].as_u64().is_some());
    match tokio::time::timeout(WAIT, provider.next()).await.expect("a cancel in time") {
        Some(ToProvider::Cancel { id }) => assert_eq!(id, second, "the running task is stopped on its provider"),
        other => panic!("expected a cancel, got {other:?}"),
    }
    assert_eq!(broker.cluster().queued, 0, "no task of the job is left in the queue");

    let again = client().delete(&url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(without_times(again.json().await.unwrap()), expected, "cancelling an ended job changes nothing");
    let lines = client().get(format!("{url}/results?stream=ndjson")).send().await.unwrap().text().await.unwrap();
    assert_eq!(lines.lines().count(), 3, "the replay of an ended job ends: {lines}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_job_expires_after_its_retention() {
    let limits = Limits { job_retention: Duration::from_secs(1), ..support::test_limits() };
    let (_broker, base) = broker(FallbackPolicy::WhenNoProviders, limits).await;
    let response = client().post(format!("{base}/wasimoff/api/v1/jobs?detach=true")).json(&echo_job(1)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers().get("preference-applied"), None, "no preference was sent");
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let url = format!("{base}/wasimoff/api/v1/jobs/{id}");
    let done = status_when(&url, |status| status["status"] == "done").await;
    assert_eq!(done["results"][0]["result"]["stdout"], "argc=3\nargv[0]=echo\nargv[1]=task\nargv[2]=0\n");
    assert_eq!(done["expires"], done["finished"].as_u64().unwrap() + 1000);

    let gone = status_when(&url, |status| status.get("error").is_some()).await;
    let message = format!("no detached job {id:?} (unknown, or expired after its retention)");
    assert_eq!(gone, json!({"error": {"kind": "not_found", "message": message}}));
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let (status, listing) = get(&format!("{base}/wasimoff/api/v1/jobs")).await;
    assert_eq!((status, listing), (StatusCode::OK, json!({"jobs": []})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_jobs_are_404_and_the_job_limit_is_507() {
    let limits = Limits { max_detached_jobs: 1, ..support::test_limits() };
    let (_broker, base) = broker(FallbackPolicy::WhenNoProviders, limits).await;
    let jobs = format!("{base}/wasimoff/api/v1/jobs");
    let unknown = format!("{jobs}/0123456789abcdef0123456789abcdef");
    let message = "no detached job \"0123456789abcdef0123456789abcdef\" (unknown, or expired after its retention)";
    for response in [
        client().get(&unknown).send().await.unwrap(),
        client().get(format!("{unknown}/results")).header("accept", "application/x-ndjson").send().await.unwrap(),
        client().delete(&unknown).send().await.unwrap(),
    ] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.json::<Value>().await.unwrap(), json!({"error": {"kind": "not_found", "message": message}}));
    }
    let wrong_method = client().delete(format!("{unknown}/results")).send().await.unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers()["allow"], "GET, HEAD");

    let first = submit(&base, &json!({"tasks": []})).await;
    let refused = client().post(&jobs).header("prefer", "respond-async").json(&json!({"tasks": []})).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::INSUFFICIENT_STORAGE);
    let message = "the broker keeps 1 detached jobs already (running, or ended less than the retention ago); try again later";
    assert_eq!(refused.json::<Value>().await.unwrap(), json!({"error": {"kind": "too_many_jobs", "message": message}}));
    let (status, kept) = get(&format!("{jobs}/{first}")).await;
    assert_eq!((status, &kept["status"], &kept["tasks"]), (StatusCode::OK, &json!("done"), &json!(0)));
    let streamed = client().post(&jobs).header("accept", "application/x-ndjson").json(&echo_job(1)).send().await.unwrap();
    assert_eq!(streamed.status(), StatusCode::OK, "attached jobs are not limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_detached_job_keeps_its_files_in_a_full_store() {
    let echo = fixture("echo");
    let limits = Limits { store_bytes: echo.len() as u64 + 1000, ..support::test_limits() };
    let broker = Wasimoff::builder().limits(limits).build().unwrap();
    let module = broker.store().put(echo.clone(), Upload::new().alias("echo.wasm")).await.unwrap().file.digest;
    let holding = broker.attach_provider("holds nothing", 0).unwrap();
    let tasks = (0..3).map(|i| Task::default().args(["echo".to_string(), i.to_string()])).collect();
    let job = broker.submit_job(Job { parent: Some(Task::new(FileSource::reference("echo.wasm"))), tasks }).await.unwrap();
    let status = job.status().await.unwrap().unwrap();
    assert_eq!((status.phase, status.tasks, status.queued, status.running, status.done), (JobPhase::Running, 3, 3, 0, 0));

    broker.store().delete_alias("echo.wasm").await.unwrap();
    let error = broker.store().put(bytes::Bytes::from(vec![b'.'; 2000]), Upload::new()).await.unwrap_err();
    assert!(matches!(error, StoreError::Full { size: 2000, available: 1000, .. }), "{error:?}");
    assert!(broker.store().resolve(&module.to_string()).is_ok(), "the waiting job's module stays");
    let listed = broker.detached_jobs().await.unwrap();
    assert_eq!(listed.iter().map(|status| status.id.as_str()).collect::<Vec<_>>(), [job.id()]);

    drop(holding);
    let mut results: Vec<_> = broker.job(job.id()).await.unwrap().expect("kept").results().collect().await;
    results.sort_by_key(|(index, _)| *index);
    let outputs: Vec<_> = results.into_iter().map(|(index, result)| (index, result.map(|output| output.stdout))).collect();
    let expected: Vec<_> = (0..3).map(|i| (i, Ok(format!("argc=2\nargv[0]=echo\nargv[1]={i}\n").into()))).collect();
    assert_eq!(outputs, expected, "the tasks ran with the module, although its alias was deleted");
    assert_eq!(job.wait().await.map(|status| (status.phase, status.done)), Some((JobPhase::Done, 3)));
    broker.store().put(bytes::Bytes::from(vec![b'.'; 2000]), Upload::new()).await.unwrap();
    assert!(broker.store().resolve(&module.to_string()).is_err(), "with the job ended, its module is evictable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_handle_cancels_and_follows_a_job() {
    let broker = Wasimoff::builder().limits(support::test_limits()).fallback(FallbackPolicy::Never).build().unwrap();
    support::upload_fixtures(&broker).await;
    let mut provider = broker.attach_provider("executor", 1).unwrap();
    let job = broker.submit_job(Job { parent: None, tasks: vec![support::task("echo", &["echo", "a"]); 2] }).await.unwrap();
    let (first, _) = next_run(&mut provider).await;
    let mut follow = job.results();
    provider.answer(first, support::exited("a"));
    let (index, result) = tokio::time::timeout(WAIT, follow.next()).await.expect("in time").expect("a result");
    assert_eq!((index, result.map(|output| output.stdout)), (0, Ok("a".into())));
    let (_second, _) = next_run(&mut provider).await;
    let ended = job.cancel().await.unwrap().expect("kept");
    assert_eq!((ended.phase, ended.done, ended.failed, ended.queued, ended.running), (JobPhase::Cancelled, 1, 1, 0, 0));
    let (index, result) = follow.next().await.expect("the cancelled task's line");
    assert_eq!((index, result.map_err(|error| error.kind)), (1, Err(wasimoff::TaskErrorKind::Cancelled)));
    assert!(follow.next().await.is_none());
    assert_eq!(job.status().await.unwrap(), Some(ended));
}
