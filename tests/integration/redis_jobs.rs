//! Detached jobs on the Redis backend with real processes: axum-host replicas sharing one real
//! `redis-server`. Any replica answers for any job, also after the submitting replica was
//! killed; a job whose replica died mid-way is taken over and completed once by another; a
//! cancel reaches a job from any replica, and stops its tasks on the replica that runs them.

use crate::providers::wait_for_within;
use crate::redis_backend::{SETTLE, echo, echoed, join, post, replica};
use crate::redis_support::RedisServer;
use crate::support::{client, fixture, to_b64};
use reqwest::StatusCode;
use reqwest::header::ACCEPT;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Each replica's driver lease in these tests: a dead replica's job is taken over this soon.
const LEASE: (&str, &str) = ("WASIMOFF_CLAIM_TIMEOUT_MS", "1000");

/// No local runs: tasks wait in the shared stream until a provider joins.
const NO_LOCAL_RUNS: (&str, &str) = ("WASIMOFF_FALLBACK", "never");

/// A job of `count` echo tasks, task `i` printing `job-{i}`.
fn echo_job(count: usize) -> Value {
    json!({"tasks": (0..count).map(|i| echo(&["echo", &format!("job-{i}")])).collect::<Vec<_>>()})
}

/// Submits `job` detached on `base`; answers its id.
async fn submit(base: &str, job: Value) -> String {
    let (status, accepted) = post(format!("{base}/wasimoff/api/v1/jobs?detach=true"), job).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    accepted["id"].as_str().expect("a job id").to_string()
}

async fn get(url: String) -> (StatusCode, Value) {
    let response = client().get(url).send().await.expect("the replica answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The job's results from `base` as NDJSON, which ends with the job: stdout by task index.
async fn streamed(base: &str, id: &str) -> BTreeMap<u64, Value> {
    let url = format!("{base}/wasimoff/api/v1/jobs/{id}/results");
    let request = client().get(url).header(ACCEPT, "application/x-ndjson").send();
    let response = tokio::time::timeout(SETTLE * 3, request).await.expect("the stream starts").expect("the replica answers");
    assert_eq!(response.status(), StatusCode::OK);
    let text = tokio::time::timeout(SETTLE * 3, response.text()).await.expect("the job ends").expect("the stream's body");
    let mut by_index = BTreeMap::new();
    for line in text.lines() {
        let line: Value = serde_json::from_str(line).expect("an NDJSON line");
        let index = line["index"].as_u64().expect("an index");
        assert!(by_index.insert(index, line["result"]["stdout"].clone()).is_none(), "task {index} has one result: {text}");
    }
    by_index
}

fn expected_stdout(count: u64) -> BTreeMap<u64, Value> {
    (0..count).map(|i| (i, json!(echoed(&["echo", &format!("job-{i}")])))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_job_submitted_on_one_replica_is_answered_by_another_also_after_it_was_killed() {
    let redis = RedisServer::start(false);
    let (a, b) = (replica(&redis, &[]), replica(&redis, &[]));
    let id = submit(&a.base, echo_job(4)).await;
    assert_eq!(streamed(&b.base, &id).await, expected_stdout(4), "B follows A's job to its end");

    a.signal("KILL");
    let (status, job) = get(format!("{}/wasimoff/api/v1/jobs/{id}", b.base)).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!((&job["status"], &job["tasks"], &job["done"], &job["failed"]), (&json!("done"), &json!(4), &json!(4), &json!(0)), "{job}");
    let stdout: Vec<&Value> = job["results"].as_array().expect("results").iter().map(|result| &result["result"]["stdout"]).collect();
    assert_eq!(stdout, expected_stdout(4).values().collect::<Vec<_>>(), "{job}");
    let (status, listed) = get(format!("{}/wasimoff/api/v1/jobs", b.base)).await;
    assert_eq!((status, listed["jobs"][0]["id"].as_str()), (StatusCode::OK, Some(id.as_str())), "{listed}");
    let (status, missing) = get(format!("{}/wasimoff/api/v1/jobs/{}", b.base, "0".repeat(32))).await;
    assert_eq!((status, &missing["error"]["kind"]), (StatusCode::NOT_FOUND, &json!("not_found")), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_job_whose_replica_died_is_completed_by_another_once() {
    let redis = RedisServer::start(false);
    let a = replica(&redis, &[LEASE, NO_LOCAL_RUNS]);
    let b = replica(&redis, &[LEASE, NO_LOCAL_RUNS]);
    let id = submit(&a.base, echo_job(5)).await;
    let (_, waiting) = get(format!("{}/wasimoff/api/v1/jobs/{id}", b.base)).await;
    assert_eq!((&waiting["status"], &waiting["queued"], &waiting["done"]), (&json!("running"), &json!(5), &json!(0)), "{waiting}");

    a.signal("KILL");
    let _provider = join(&b, "after-a");
    assert_eq!(streamed(&b.base, &id).await, expected_stdout(5), "B took the job over and ran every task once");
    let (_, job) = get(format!("{}/wasimoff/api/v1/jobs/{id}", b.base)).await;
    assert_eq!((&job["status"], &job["done"], &job["failed"]), (&json!("done"), &json!(5), &json!(0)), "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_job_is_cancelled_from_another_replica() {
    let redis = RedisServer::start(false);
    let a = replica(&redis, &[NO_LOCAL_RUNS]);
    let b = replica(&redis, &[NO_LOCAL_RUNS]);
    let id = submit(&a.base, echo_job(3)).await;

    let url = format!("{}/wasimoff/api/v1/jobs/{id}", b.base);
    let response = client().delete(&url).send().await.expect("B answers");
    assert_eq!(response.status(), StatusCode::OK);
    let ended: Value = response.json().await.expect("the final status");
    assert_eq!((&ended["status"], &ended["failed"], &ended["queued"]), (&json!("cancelled"), &json!(3), &json!(0)), "{ended}");
    let kinds: Vec<&Value> = ended["results"].as_array().expect("results").iter().map(|result| &result["error"]["kind"]).collect();
    assert_eq!(kinds, [&json!("cancelled"); 3], "{ended}");
    let (_, on_a) = get(format!("{}/wasimoff/api/v1/jobs/{id}", a.base)).await;
    assert_eq!(on_a["status"], "cancelled", "A sees the same job: {on_a}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_job_stops_its_tasks_on_the_replica_that_claimed_them() {
    let redis = RedisServer::start(false);
    let a = replica(&redis, &[NO_LOCAL_RUNS]);
    let b = replica(&redis, &[("WASIMOFF_FALLBACK", "always")]);
    // Each task would spin for its whole minute unless stopped.
    let spin = json!({"binary": {"blob": to_b64(&fixture("spin"))}, "limits": {"timeout_ms": 60_000}});
    let id = submit(&a.base, json!({"parent": spin, "tasks": vec![json!({}); 2]})).await;
    // A runs nothing itself, so the job's window is B's local runner once A has read B's
    // published slots, or a single task before that: B runs one task or both.
    let running = |state: &Value| state["local"]["busy"].as_u64().is_some_and(|busy| busy >= 1);
    wait_for_within(&b.base, running, SETTLE).await;
    let busy = |count: u64| move |state: &Value| state["local"]["busy"].as_u64() == Some(count);

    let response = client().delete(format!("{}/wasimoff/api/v1/jobs/{id}", a.base)).send().await.expect("A answers");
    let ended: Value = response.json().await.expect("the final status");
    assert_eq!((&ended["status"], &ended["failed"]), (&json!("cancelled"), &json!(2)), "{ended}");
    wait_for_within(&b.base, busy(0), SETTLE).await;
}
