//! Fair sharing between jobs across replicas: two brokers in this process on one real
//! `redis-server`, a 5,000-task sweep submitted on replica B and a small job on replica A.
//! The only worker is an in-process provider on A (the executor; both local runners are off),
//! so every task goes through the shared queue in Redis and A's claim loop to the executor,
//! which records the order in which it was given tasks and holds them while the test sets the
//! scene. A dropped job leaves nothing behind in Redis.

use crate::executor::{Seen, executor, runs};
use crate::redis_support::RedisServer;
use crate::support::{self, task};
use futures_util::StreamExt;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use wasimoff::{Backend, FallbackPolicy, Job, Limits, TaskError, TaskOutput, Wasimoff};

const SWEEP: usize = 5000;
const WORKERS: u32 = 2;
const WAIT: Duration = Duration::from_secs(30);
/// The tasks of B's sweep admitted at once: twice what the runners hold as B counts them (the
/// executor's workers on A, counted twice for prefetch; not B's local concurrency, as its
/// policy never runs tasks locally).
const WINDOW: usize = 2 * (2 * WORKERS as usize);

/// A replica on `redis` whose local runner never runs tasks.
fn replica(redis: &RedisServer) -> Wasimoff {
    let limits = Limits { concurrency: 2, ..support::test_limits() };
    Wasimoff::builder().limits(limits).fallback(FallbackPolicy::Never).backend(Backend::Redis(redis.url())).build().expect("build replica")
}

/// Replica A with the executor and replica B without workers, once B counts A's executor.
async fn replicas(redis: &RedisServer, gate: watch::Receiver<bool>) -> (Wasimoff, Wasimoff, Arc<Mutex<Seen>>) {
    let (a, b) = (replica(redis), replica(redis));
    support::upload_fixtures(&a).await;
    let seen = executor(&a, WORKERS, gate);
    until("B to see A's executor", || b.cluster().providers.iter().any(|provider| provider.name == "executor")).await;
    (a, b, seen)
}

/// Waits until `ready` holds.
async fn until(what: &str, ready: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !ready() {
        assert!(tokio::time::Instant::now() < deadline, "waited in vain for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Tasks in the shared stream (queued or running).
fn in_stream(redis: &RedisServer) -> usize {
    let client = redis::Client::open(redis.url()).expect("a Redis URL");
    let mut connection = client.get_connection().expect("connect to Redis");
    redis::cmd("XLEN").arg("wasimoff:tasks").query(&mut connection).expect("XLEN")
}

/// Tasks waiting in the shared queue: their turns.
fn waiting_turns(redis: &RedisServer) -> usize {
    let client = redis::Client::open(redis.url()).expect("a Redis URL");
    redis::cmd("ZCARD").arg("wasimoff:turns").query(&mut client.get_connection().expect("connect")).expect("ZCARD")
}

/// Waits until the shared stream holds `count` tasks.
async fn until_in_stream(redis: &RedisServer, count: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while in_stream(redis) != count {
        assert!(tokio::time::Instant::now() < deadline, "the stream holds {} tasks, not {count}", in_stream(redis));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A running sweep: its results, as they finished.
type Sweep = tokio::task::JoinHandle<Vec<(usize, Result<TaskOutput, TaskError>)>>;

/// Runs a sweep of [`SWEEP`] echo tasks on `broker` (task `i` echoes `sweep i`) and collects
/// every result.
fn sweep(broker: &Wasimoff, priority: i32) -> Sweep {
    let tasks = (0..SWEEP).map(|i| task("echo", &["echo", "sweep", &i.to_string()])).collect();
    let job = Job { parent: Some(task("echo", &["echo"]).priority(priority)), tasks };
    tokio::spawn(broker.run_job_unordered(job).collect())
}

/// Asserts that the sweep's results hold every index once, each with its own output.
fn assert_every_sweep_task_once(results: &[(usize, Result<TaskOutput, TaskError>)]) {
    assert_eq!(results.len(), SWEEP);
    let indices: BTreeSet<usize> = results.iter().map(|(index, _)| *index).collect();
    assert_eq!(indices.len(), SWEEP, "every index exactly once");
    for (index, result) in results {
        let output = result.as_ref().unwrap_or_else(|error| panic!("sweep task {index}: {error}"));
        assert_eq!(output.stdout, format!("sweep {index}").as_bytes(), "sweep task {index}");
    }
}

/// Shuts both replicas down (A, with the executor, last: B's claims are none), then Redis.
async fn close(a: Wasimoff, b: Wasimoff, redis: RedisServer) {
    b.shutdown().await;
    a.shutdown().await;
    drop(redis);
}

/// The scene of every test: replicas A (with the held executor) and B, a sweep of priority
/// `priority` on B, two of its tasks held by the executor and a window of it in the stream.
/// Answers the executor's gate, both replicas, what the executor saw, and the sweep.
async fn scene(redis: &RedisServer, priority: i32) -> (watch::Sender<bool>, Wasimoff, Wasimoff, Arc<Mutex<Seen>>, Sweep) {
    let (open, gate) = watch::channel(false);
    let (a, b, seen) = replicas(redis, gate).await;
    let sweep = sweep(&b, priority);
    until("the executor to hold two sweep tasks", || runs(&seen).len() == WORKERS as usize).await;
    until_in_stream(redis, WINDOW).await;
    (open, a, b, seen, sweep)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_task_on_one_replica_behind_a_sweep_on_another_goes_to_a_worker_within_a_turn() {
    let redis = RedisServer::start(false);
    let (open, a, b, seen, sweep) = scene(&redis, 0).await;
    let waiting = waiting_turns(&redis);
    assert!(waiting > 0, "part of the sweep waits in the shared queue");
    until("B's cluster view to count the shared queue's waiting tasks", || b.cluster().queued == waiting).await;
    let single = tokio::spawn({
        let a = a.clone();
        async move { a.run(task("echo", &["echo", "single"])).await }
    });
    until_in_stream(&redis, WINDOW + 1).await;

    open.send_replace(true);
    let single = single.await.expect("join").expect("the single task runs");
    assert_eq!(single.stdout, "single".as_bytes());
    let order = runs(&seen);
    let position = order.iter().position(|words| words == "single").expect("the single task ran");
    eprintln!("the single task was given to the executor after {position} sweep tasks ({WINDOW} of the sweep in the stream)");
    assert!(
        position <= 2 * WORKERS as usize,
        "{position} sweep tasks went to the executor before the single task, of which {} were queued ahead of it: {:?}",
        WINDOW - WORKERS as usize,
        &order[..position]
    );

    assert_every_sweep_task_once(&sweep.await.expect("join"));
    assert_eq!(runs(&seen).len(), SWEEP + 1, "no task ran twice");
    assert_eq!(in_stream(&redis), 0, "every task's entry is gone from the stream");
    close(a, b, redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_priority_job_on_one_replica_goes_before_a_sweep_queued_on_another() {
    let redis = RedisServer::start(false);
    let (open, a, b, seen, sweep) = scene(&redis, -1).await;
    let tasks = (0..3).map(|i| task("echo", &["echo", "urgent", &i.to_string()])).collect();
    let urgent = Job { parent: Some(task("echo", &["echo"]).priority(3)), tasks };
    let urgent = tokio::spawn(a.run_job_unordered(urgent).collect::<Vec<_>>());
    until_in_stream(&redis, WINDOW + 3).await;

    open.send_replace(true);
    let mut urgent = urgent.await.expect("join");
    urgent.sort_by_key(|(index, _)| *index);
    for (index, result) in &urgent {
        assert_eq!(result.as_ref().expect("an urgent task runs").stdout, format!("urgent {index}").as_bytes());
    }
    let order = runs(&seen);
    let urgent_runs: Vec<usize> = order.iter().enumerate().filter(|(_, words)| words.starts_with("urgent")).map(|(i, _)| i).collect();
    eprintln!("the urgent tasks were given to the executor at {urgent_runs:?}");
    assert_eq!(urgent_runs, [2, 3, 4], "straight after the two runs held when it came: {:?}", &order[..8]);

    assert_every_sweep_task_once(&sweep.await.expect("join"));
    assert_eq!(runs(&seen).len(), SWEEP + 3, "no task ran twice");
    close(a, b, redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_sweep_leaves_the_shared_queue_and_its_turns() {
    let redis = RedisServer::start(false);
    let (open, a, b, seen, sweep) = scene(&redis, 0).await;
    sweep.abort();
    until_in_stream(&redis, 0).await;
    assert_eq!(waiting_turns(&redis), 0, "no turn is left of the withdrawn tasks");

    open.send_replace(true);
    let single = a.run(task("echo", &["echo", "single"])).await.expect("the single task runs");
    assert_eq!(single.stdout, "single".as_bytes());
    let order = runs(&seen);
    assert_eq!(order.len(), WORKERS as usize + 1, "only the tasks claimed before the drop ran: {order:?}");
    assert_eq!(order.last().map(String::as_str), Some("single"));
    close(a, b, redis).await;
}
