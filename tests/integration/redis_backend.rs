//! The Redis backend with real processes: axum-host replicas sharing one real `redis-server`,
//! native providers as `wasimoff-provider` processes.

use crate::examples::{AXUM_HOST_BANNER, Example, start};
use crate::providers::wait_for_within;
use crate::redis_support::{NativeProvider, RedisServer};
use crate::support::{client, fixture, to_b64};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// How long a replica may take to see what another one did (a provider joining, a task
/// taken over) in these tests.
pub(crate) const SETTLE: Duration = Duration::from_secs(20);

/// An axum-host replica on `redis`, with extra settings.
pub(crate) fn replica(redis: &RedisServer, env: &[(&str, &str)]) -> Example {
    let url = redis.url();
    let mut settings = vec![("WASIMOFF_REDIS", url.as_str()), ("WASIMOFF_WEBTRANSPORT", "off")];
    settings.extend_from_slice(env);
    start("axum-host", AXUM_HOST_BANNER, &settings)
}

/// A `wasimoff-provider` process with 2 workers joined to `replica`, killed when dropped.
pub(crate) fn join(replica: &Example, name: &str) -> NativeProvider {
    NativeProvider::join(&format!("{}/wasimoff/provider/ws", replica.base.replace("http://", "ws://")), name, 2)
}

/// The cluster view of `replica` once it lists a provider named `name`; answers that entry.
async fn provider_named(replica: &Example, name: &str) -> Value {
    let listed = |state: &Value| state["providers"].as_array().is_some_and(|all| all.iter().any(|p| p["name"] == name));
    let state = wait_for_within(&replica.base, listed, SETTLE).await;
    state["providers"].as_array().and_then(|all| all.iter().find(|p| p["name"] == name)).cloned().unwrap_or(Value::Null)
}

pub(crate) async fn post(url: String, body: Value) -> (StatusCode, Value) {
    let response = client().post(url).json(&body).send().await.expect("the replica answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn upload(replica: &Example, alias: &str, bytes: bytes::Bytes) -> StatusCode {
    let url = format!("{}/wasimoff/api/v1/files?alias={alias}", replica.base);
    client().post(url).body(bytes).send().await.expect("the replica answers").status()
}

pub(crate) fn echo(args: &[&str]) -> Value {
    json!({"binary": {"blob": to_b64(&fixture("echo"))}, "args": args})
}

pub(crate) fn echoed(args: &[&str]) -> String {
    let mut text = format!("argc={}\n", args.len());
    for (index, arg) in args.iter().enumerate() {
        text.push_str(&format!("argv[{index}]={arg}\n"));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_on_one_replica_runs_on_another() {
    let redis = RedisServer::start(false);
    let (a, b) = (replica(&redis, &[]), replica(&redis, &[]));
    assert_eq!(upload(&a, "echo.wasm", fixture("echo")).await, StatusCode::CREATED);
    assert_eq!(upload(&b, "again.wasm", fixture("echo")).await, StatusCode::OK, "B finds the content in Redis: not new");

    let task = json!({"binary": {"ref": "echo.wasm"}, "args": ["echo", "shared"]});
    let (status, answer) = post(format!("{}/wasimoff/api/v1/tasks", b.base), task).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["result"]["stdout"], echoed(&["echo", "shared"]));
    let fetched = client().get(format!("{}/wasimoff/api/v1/files/echo.wasm", b.base)).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap(), fixture("echo"));
    let listed: Value = client().get(format!("{}/wasimoff/api/v1/files", b.base)).send().await.unwrap().json().await.unwrap();
    assert!(listed["aliases"]["echo.wasm"].as_str().is_some_and(|digest| digest.starts_with("sha256:")), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_on_one_replica_serves_a_job_submitted_on_another() {
    let redis = RedisServer::start(false);
    let never = [("WASIMOFF_FALLBACK", "never")];
    let (a, b) = (replica(&redis, &never), replica(&redis, &never));
    let _provider = join(&a, "on-a");
    let on_a = provider_named(&a, "on-a").await;
    let on_b = provider_named(&b, "on-a").await;
    assert_eq!(on_b["id"], on_a["id"], "B's cluster view lists A's provider: {on_b}");
    assert_eq!(on_b["replica"], on_a["replica"]);
    assert!(on_b["replica"].is_string(), "marked with its replica: {on_b}");

    let tasks: Vec<Value> = (0..4).map(|index| json!({"args": ["echo", index.to_string()]})).collect();
    let job = json!({"parent": echo(&["echo"]), "tasks": tasks});
    let (status, answer) = post(format!("{}/wasimoff/api/v1/jobs", b.base), job).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    for (index, result) in results.iter().enumerate() {
        assert_eq!(result["result"]["stdout"], echoed(&["echo", &index.to_string()]), "{result}");
        assert_eq!(result["result"]["ran_on"], on_a["id"], "{result}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tasks_of_a_killed_replica_are_taken_over_and_finish_once() {
    let redis = RedisServer::start(false);
    let claim = [("WASIMOFF_CLAIM_TIMEOUT_MS", "1000")];
    let a = replica(&redis, &[claim[0], ("WASIMOFF_FALLBACK", "always")]);
    let b = replica(&redis, &[claim[0], ("WASIMOFF_FALLBACK", "never")]);
    // Every task spins until its 1.5 s timeout: the same result wherever and whenever it runs.
    let spin = json!({"binary": {"blob": to_b64(&fixture("spin"))}, "limits": {"timeout_ms": 1500}});
    let job = json!({"parent": spin, "tasks": vec![json!({}); 6]});
    let submitted = tokio::spawn(post(format!("{}/wasimoff/api/v1/jobs", b.base), job));
    // A claims tasks as its runner frees; kill it while it holds some.
    let busy = |state: &Value| state["local"]["busy"].as_u64().is_some_and(|busy| busy > 0);
    wait_for_within(&a.base, busy, SETTLE).await;
    a.signal("KILL");
    let _c = replica(&redis, &[claim[0], ("WASIMOFF_FALLBACK", "always")]);

    let (status, answer) = submitted.await.expect("the job's request");
    assert_eq!(status, StatusCode::OK, "{answer}");
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 6, "one result per task: {answer}");
    for result in results {
        assert_eq!(result["error"]["kind"], "timeout", "{result}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_tasks_survive_a_redis_restart_with_aof() {
    let mut redis = RedisServer::start(true);
    let never = [("WASIMOFF_FALLBACK", "never")];
    let (a, b) = (replica(&redis, &never), replica(&redis, &never));
    let submitted = tokio::spawn(post(format!("{}/wasimoff/api/v1/tasks", b.base), echo(&["echo", "kept"])));
    let url = redis.url();
    let queued = || {
        let client = redis::Client::open(url.as_str()).expect("a Redis URL");
        let mut connection = client.get_connection().expect("connect to Redis");
        redis::cmd("XLEN").arg("wasimoff:tasks").query::<usize>(&mut connection).expect("XLEN")
    };
    for _ in 0..200 {
        if queued() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(queued(), 1, "the task waits in Redis: no replica has a worker");
    redis.restart();
    assert_eq!(queued(), 1, "the task is still there after the restart");

    let _provider = join(&a, "after-restart");
    let (status, answer) = submitted.await.expect("the task's request");
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["result"]["stdout"], echoed(&["echo", "kept"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_the_client_api_answers_503_and_recovers() {
    let mut redis = RedisServer::start(true);
    let host = replica(&redis, &[]);
    redis.stop();

    let (status, answer) = post(format!("{}/wasimoff/api/v1/tasks", host.base), echo(&["echo", "down"])).await;
    assert_eq!((status, &answer["error"]["kind"]), (StatusCode::SERVICE_UNAVAILABLE, &json!("backend_unavailable")), "{answer}");
    let url = format!("{}/wasimoff/api/v1/files?alias=echo.wasm", host.base);
    let refused: Value = client().post(url).body(fixture("echo")).send().await.unwrap().json().await.unwrap();
    assert_eq!(refused["error"]["kind"], "backend_unavailable", "{refused}");
    let jobs = client().get(format!("{}/wasimoff/api/v1/jobs", host.base)).send().await.unwrap();
    assert_eq!(jobs.status(), StatusCode::SERVICE_UNAVAILABLE, "detached jobs live in Redis too");
    let home = client().get(format!("{}/", host.base)).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK, "the host's own pages keep serving");
    assert_eq!(client().get(format!("{}/api/hello", host.base)).send().await.unwrap().status(), StatusCode::OK);

    redis.restart();
    let mut last = (StatusCode::SERVICE_UNAVAILABLE, Value::Null);
    for _ in 0..40 {
        last = post(format!("{}/wasimoff/api/v1/tasks", host.base), echo(&["echo", "back"])).await;
        if last.0 == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(last.0, StatusCode::OK, "{}", last.1);
    assert_eq!(last.1["result"]["stdout"], echoed(&["echo", "back"]));
}

#[test]
fn an_unreachable_redis_is_a_build_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port();
    let built = wasimoff::Wasimoff::builder().backend(wasimoff::Backend::Redis(format!("redis://127.0.0.1:{port}/"))).build();
    match built {
        Err(wasimoff::BuildError::Backend(message)) => {
            assert!(message.starts_with(&format!("cannot reach Redis at redis://127.0.0.1:{port}/: ")), "{message}")
        }
        other => panic!("expected BuildError::Backend, got {other:?}"),
    }
    let invalid = wasimoff::Wasimoff::builder().backend(wasimoff::Backend::Redis("http://nowhere".into())).build();
    assert!(
        matches!(&invalid, Err(wasimoff::BuildError::Backend(message)) if message.starts_with("invalid Redis URL \"http://nowhere\"")),
        "{invalid:?}"
    );
}
