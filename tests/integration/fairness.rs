//! Fair sharing between jobs over real HTTP: a one-task job submitted behind a 5,000-task job
//! goes to a worker within a turn, not after the sweep; the sweep still gets every result once;
//! a higher priority goes first; the cluster view shows each job's depth; a dropped job's
//! tasks leave the queue and their worker is told to stop.
//!
//! The ordering test uses an in-process provider as the executor (`Wasimoff::attach_provider`):
//! it sees the order in which the broker dispatches, holds tasks while the test sets the scene,
//! and answers every task with its own arguments. The local-runner test runs real modules.

use crate::executor::{executor, runs};
use crate::support::{self, client};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::PoisonError;
use std::time::Duration;
use tokio::sync::watch;
use wasimoff::{FallbackPolicy, Limits, Wasimoff};

const SWEEP: usize = 5000;
const WORKERS: u32 = 2;
const WAIT: Duration = Duration::from_secs(30);
/// The tasks of one job admitted at once here: twice what the runners hold (the executor's
/// workers; not the local concurrency of 2, which the `Never` policy of these tests leaves out).
const WINDOW: u64 = 2 * WORKERS as u64;

async fn broker(policy: FallbackPolicy) -> (Wasimoff, String) {
    let limits = Limits { concurrency: 2, ..support::test_limits() };
    let broker = Wasimoff::builder().limits(limits).fallback(policy).build().expect("build broker");
    support::upload_fixtures(&broker).await;
    let base = support::serve(support::host_app(&broker)).await;
    (broker, base)
}

/// A job of [`SWEEP`] echo tasks, task `i` echoing `sweep i`.
fn sweep_job(priority: Option<i32>) -> Value {
    let tasks: Vec<Value> = (0..SWEEP).map(|i| json!({"args": ["echo", "sweep", i.to_string()]})).collect();
    let mut parent = json!({"binary": {"ref": "echo.wasm"}});
    if let Some(priority) = priority {
        parent["priority"] = json!(priority);
    }
    json!({"parent": parent, "tasks": tasks})
}

/// Posts a streamed job; returns the response, whose body yields one line per finished task.
async fn post_streamed(base: &str, job: &Value) -> reqwest::Response {
    let response = client().post(format!("{base}/wasimoff/api/v1/jobs?stream=ndjson")).json(job).send().await.expect("post job");
    assert_eq!(response.status(), 200);
    response
}

/// Reads every line of a streamed job.
async fn lines(response: reqwest::Response) -> Vec<Value> {
    let mut text = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        text.extend_from_slice(&chunk.expect("chunk"));
    }
    String::from_utf8(text).expect("utf-8").lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()
}

async fn cluster(base: &str) -> Value {
    client().get(format!("{base}/wasimoff/api/v1/cluster")).send().await.expect("cluster").json().await.expect("json")
}

/// Polls the cluster view until `ready` holds for it; returns that view.
async fn cluster_until(base: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let view = cluster(base).await;
        if ready(&view) {
            return view;
        }
        assert!(tokio::time::Instant::now() < deadline, "waited in vain for {what}: {view}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asserts that the sweep's lines hold every index once, each with its own output.
fn assert_every_sweep_task_once(lines: &[Value], stdout: impl Fn(usize) -> String) {
    assert_eq!(lines.len(), SWEEP);
    let indices: BTreeSet<usize> = lines.iter().map(|line| line["index"].as_u64().expect("index") as usize).collect();
    assert_eq!(indices.len(), SWEEP, "every index exactly once");
    for line in lines {
        let index = line["index"].as_u64().expect("index") as usize;
        assert_eq!(line["result"]["stdout"].as_str(), Some(stdout(index).as_str()), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_task_behind_a_sweep_goes_to_a_worker_within_a_turn() {
    let (broker, base) = broker(FallbackPolicy::Never).await;
    let (open, gate) = watch::channel(false);
    let seen = executor(&broker, WORKERS, gate);

    let sweep = post_streamed(&base, &sweep_job(None)).await;
    let view = cluster_until(&base, "the sweep's window", |view| {
        view["jobs"]
            .as_array()
            .is_some_and(|jobs| jobs.len() == 1 && jobs[0]["running"] == WORKERS && jobs[0]["queued"] == WINDOW - u64::from(WORKERS))
    })
    .await;
    let sweep_queued = view["jobs"][0]["queued"].as_u64().expect("queued");
    let single = tokio::spawn(
        client()
            .post(format!("{base}/wasimoff/api/v1/tasks"))
            .json(&json!({"binary": {"ref": "echo.wasm"}, "args": ["echo", "single"]}))
            .send(),
    );
    let view = cluster_until(&base, "the single task queued", |view| view["jobs"].as_array().is_some_and(|jobs| jobs.len() == 2)).await;
    let sweep_id = view["jobs"][0]["job"].clone();
    let expected = json!([
        {"job": sweep_id, "priority": 0, "queued": sweep_queued, "running": WORKERS},
        {"job": view["jobs"][1]["job"], "priority": 0, "queued": 1, "running": 0},
    ]);
    assert_eq!(view["jobs"], expected, "the view lists each job's depth in the order the queue serves them");
    assert_ne!(view["jobs"][1]["job"], sweep_id);
    assert_eq!(view["queued"], sweep_queued + 1);

    open.send_replace(true);
    let single: Value = single.await.expect("join").expect("post task").json().await.expect("json");
    assert_eq!(single["result"]["stdout"], "single");
    let order = runs(&seen);
    let position = order.iter().position(|words| words == "single").expect("the single task ran");
    assert!(
        position <= 2 * WORKERS as usize,
        "{position} sweep tasks went to a worker before the single task, of which {sweep_queued} were queued ahead of it: {:?}",
        &order[..position]
    );

    let lines = lines(sweep).await;
    assert_every_sweep_task_once(&lines, |index| format!("sweep {index}"));
    assert_eq!(runs(&seen).len(), SWEEP + 1, "no task ran twice");
    let view = cluster(&base).await;
    assert_eq!((view["jobs"].clone(), view["queued"].clone()), (json!([]), json!(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_priority_job_goes_before_a_queued_sweep() {
    let (broker, base) = broker(FallbackPolicy::Never).await;
    let (open, gate) = watch::channel(false);
    let seen = executor(&broker, WORKERS, gate);

    let sweep = post_streamed(&base, &sweep_job(Some(-1))).await;
    cluster_until(&base, "the sweep's window", |view| view["jobs"][0]["queued"] == WINDOW - u64::from(WORKERS)).await;
    let urgent = json!({"parent": {"binary": {"ref": "echo.wasm"}, "priority": 3}, "tasks": [
        {"args": ["echo", "urgent", "0"]}, {"args": ["echo", "urgent", "1"]}, {"args": ["echo", "urgent", "2"]},
    ]});
    let urgent = post_streamed(&base, &urgent).await;
    let view = cluster_until(&base, "the urgent job queued", |view| view["jobs"][0]["queued"] == 3).await;
    assert_eq!(view["jobs"][0]["priority"], 3, "the higher priority is listed and served first: {view}");
    assert_eq!(view["jobs"][1]["priority"], -1);

    open.send_replace(true);
    let urgent = lines(urgent).await;
    assert_eq!(urgent.len(), 3);
    let order = runs(&seen);
    let urgent_runs: Vec<usize> = order.iter().enumerate().filter(|(_, words)| words.starts_with("urgent")).map(|(i, _)| i).collect();
    assert_eq!(urgent_runs, [2, 3, 4], "straight after the two runs held when it came: {:?}", &order[..6]);
    assert_every_sweep_task_once(&lines(sweep).await, |index| format!("sweep {index}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_priority_is_refused_with_its_reason() {
    let (_broker, base) = broker(FallbackPolicy::Never).await;
    let cases = [
        (
            "/wasimoff/api/v1/tasks",
            json!({"binary": {"ref": "echo.wasm"}, "priority": "high"}),
            "invalid JSON: invalid type: string \"high\", expected i32",
        ),
        (
            "/wasimoff/api/v1/tasks",
            json!({"binary": {"ref": "echo.wasm"}, "priority": 1.5}),
            "invalid JSON: invalid type: floating point `1.5`, expected i32",
        ),
        (
            "/wasimoff/api/v1/jobs",
            json!({"parent": {"priority": 4294967296_u64}, "tasks": [{}]}),
            "invalid JSON: invalid value: integer `4294967296`, expected i32",
        ),
    ];
    for (path, body, reason) in cases {
        let response = client().post(format!("{base}{path}")).json(&body).send().await.expect("post");
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.expect("json");
        assert_eq!(error["error"]["kind"], "bad_request");
        let message = error["error"]["message"].as_str().expect("message");
        assert!(message.starts_with(reason), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_sweep_leaves_the_queue_and_its_running_tasks_are_stopped() {
    let (broker, base) = broker(FallbackPolicy::Never).await;
    let (_open, gate) = watch::channel(false);
    let seen = executor(&broker, WORKERS, gate);
    let sweep = post_streamed(&base, &sweep_job(None)).await;
    cluster_until(&base, "the sweep's window", |view| view["jobs"][0]["queued"] == WINDOW - u64::from(WORKERS)).await;
    drop(sweep);
    cluster_until(&base, "the sweep gone", |view| view["jobs"] == json!([]) && view["queued"] == 0).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.lock().unwrap_or_else(PoisonError::into_inner).cancelled < WORKERS as usize {
        assert!(tokio::time::Instant::now() < deadline, "the executor was not told to stop its tasks");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(runs(&seen), ["sweep 0", "sweep 1"], "only the two tasks that had a worker ever ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_local_runner_a_single_task_finishes_before_the_sweep_and_the_sweep_completes() {
    let (_broker, base) = broker(FallbackPolicy::WhenNoProviders).await;
    let mut sweep = post_streamed(&base, &sweep_job(None)).await.bytes_stream();
    let mut received = Vec::new();
    while !received.contains(&b'\n') {
        received.extend_from_slice(&sweep.next().await.expect("a first result").expect("chunk"));
    }
    let single =
        client().post(format!("{base}/wasimoff/api/v1/tasks")).json(&json!({"binary": {"ref": "echo.wasm"}, "args": ["echo", "single"]}));
    let single = tokio::spawn(single.send());
    let mut single = Box::pin(async move { single.await.expect("join").expect("post task").json::<Value>().await.expect("json") });
    let answer = loop {
        tokio::select! {
            answer = &mut single => break answer,
            chunk = sweep.next() => received.extend_from_slice(&chunk.expect("the sweep ends after the single task").expect("chunk")),
        }
    };
    assert_eq!(answer["result"]["stdout"], "argc=2\nargv[0]=echo\nargv[1]=single\n");
    let before = received.iter().filter(|byte| **byte == b'\n').count();
    while let Some(chunk) = sweep.next().await {
        received.extend_from_slice(&chunk.expect("chunk"));
    }
    let lines: Vec<Value> =
        String::from_utf8(received).expect("utf-8").lines().map(|line| serde_json::from_str(line).expect("line")).collect();
    assert!(before < SWEEP / 10, "{before} of {SWEEP} sweep results arrived before the single task's");
    assert_every_sweep_task_once(&lines, |index| format!("argc=3\nargv[0]=echo\nargv[1]=sweep\nargv[2]={index}\n"));
}
