//! Per-job queue depth in the cluster view across replicas: two brokers in this process on one
//! real `redis-server`. Replica A holds the only worker (the gated executor; both local runners
//! are off), so a big job submitted on A fills the executor and the rest waits in the shared
//! queue; replica B, which holds none of it, lists the job with that depth.

use crate::executor::executor;
use crate::redis_support::RedisServer;
use crate::support::{self, client, host_app, serve, task};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::watch;
use wasimoff::{Backend, FallbackPolicy, Job, Limits, Wasimoff};

const WAIT: Duration = Duration::from_secs(30);

/// A replica on `redis` whose local runner never runs tasks.
fn replica(redis: &RedisServer) -> Wasimoff {
    let limits = Limits { concurrency: 2, ..support::test_limits() };
    Wasimoff::builder().limits(limits).fallback(FallbackPolicy::Never).backend(Backend::Redis(redis.url())).build().expect("build replica")
}

/// Answers a Redis command's integer answer.
fn count(redis: &RedisServer, command: &str, key: &str) -> usize {
    let client = redis::Client::open(redis.url()).expect("a Redis URL");
    redis::cmd(command).arg(key).query(&mut client.get_connection().expect("connect")).expect("a count")
}

/// B's cluster view over HTTP until `ready` holds for it.
async fn cluster_until(base: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let url = format!("{base}/wasimoff/api/v1/cluster");
        let state: Value = client().get(url).send().await.expect("B answers").json().await.expect("JSON");
        if ready(&state) {
            return state;
        }
        assert!(tokio::time::Instant::now() < deadline, "waited in vain for {what}: {state}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_waiting_in_the_shared_queue_is_listed_with_its_depth_on_every_replica() {
    let redis = RedisServer::start(false);
    let (a, b) = (replica(&redis), replica(&redis));
    support::upload_fixtures(&a).await;
    let (open, gate) = watch::channel(false);
    let seen = executor(&a, 2, gate);
    let replica_a = loop {
        if let Some(replica) = a.cluster().providers.first().and_then(|provider| provider.replica.clone()) {
            break replica;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let b_base = serve(host_app(&b)).await;
    cluster_until(&b_base, "B to see A's executor", |state| state["providers"].as_array().is_some_and(|all| all.len() == 1)).await;

    let tasks = (0..200).map(|i| task("echo", &["echo", "job", &i.to_string()])).collect();
    let job = tokio::spawn(a.run_job_unordered(Job { parent: None, tasks }).collect::<Vec<_>>());
    let deadline = tokio::time::Instant::now() + WAIT;
    while crate::executor::runs(&seen).len() < 2 || count(&redis, "ZCARD", "wasimoff:turns") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the executor holds two tasks and the rest waits");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let waiting = count(&redis, "ZCARD", "wasimoff:turns");
    let in_stream = count(&redis, "XLEN", "wasimoff:tasks");
    let on_b = cluster_until(&b_base, "B to list A's job with its shared depth", |state| {
        state["jobs"].as_array().is_some_and(|jobs| jobs.len() == 1 && jobs[0]["queued"] == json!(waiting))
    })
    .await;
    let listed = &on_b["jobs"][0];
    eprintln!("B lists {listed}; A lists {:?}; {waiting} waiting of {in_stream} in the stream", a.cluster().jobs);
    assert_eq!((&listed["replica"], &listed["priority"], &listed["running"]), (&json!(replica_a), &json!(0), &json!(0)), "{on_b}");
    assert_eq!(on_b["queued"], json!(waiting), "the total counts the shared queue");

    let on_a = a.cluster().jobs;
    assert_eq!(on_a.len(), 1, "{on_a:?}");
    assert_eq!((on_a[0].job, on_a[0].replica.as_deref()), (listed["job"].as_u64().expect("a job id"), Some(replica_a.as_str())));
    assert_eq!(on_a[0].queued + on_a[0].running, in_stream, "A counts what it claimed and what waits: {on_a:?}");
    assert!(on_a[0].queued >= waiting, "{on_a:?}");

    open.send_replace(true);
    let results = job.await.expect("join");
    assert_eq!(results.len(), 200);
    for (index, result) in results {
        assert_eq!(result.expect("a task runs").stdout, format!("job {index}").as_bytes());
    }
    cluster_until(&b_base, "the job to leave B's view", |state| state["jobs"] == json!([])).await;
    assert_eq!(count(&redis, "EXISTS", "wasimoff:depths"), 0, "no depth is left behind");
    b.shutdown().await;
    a.shutdown().await;
}
