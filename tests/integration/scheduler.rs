//! The scheduler with real providers over real sockets: native providers run tasks, credits
//! bound what a provider gets, modules travel once, lost tasks are re-queued exactly once,
//! cancellations reach the provider, and the fallback policies hold.

use crate::providers::{RAW_VERSION, Socket, connect, hear, hello, say, wait_for_providers};
use crate::support::{self, fixture, task};
use futures_util::StreamExt;
use serde_bytes::ByteBuf;
use std::collections::HashMap;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use wasimoff::native::NativeProvider;
use wasimoff::protocol::{Outcome, ToBroker, ToProvider};
use wasimoff::{FallbackPolicy, Job, Task, TaskErrorKind, Upload, Wasimoff};

pub async fn http_broker_with_policy(policy: FallbackPolicy) -> (Wasimoff, String) {
    let broker = Wasimoff::builder().limits(support::test_limits()).fallback(policy).build().unwrap();
    for name in support::FIXTURES {
        broker.store().put(fixture(name), Upload::new().alias(format!("{name}.wasm"))).await.unwrap();
    }
    let base = support::serve(support::host_app(&broker)).await;
    (broker, base)
}

fn provider_url(base: &str) -> String {
    format!("{}/wasimoff/provider/ws", base.replace("http://", "ws://"))
}

fn start_native(base: &str, name: &str, workers: usize) -> tokio::task::JoinHandle<()> {
    let provider = NativeProvider::new(provider_url(base)).workers(workers).name(name);
    tokio::spawn(async move {
        let _ = provider.run().await;
    })
}

/// A test-controlled provider that has said hello and been welcomed.
async fn fake_provider(base: &str, workers: u32) -> (Socket, String) {
    let mut socket = connect(base, None).await.unwrap();
    say(&mut socket, &hello(vec![RAW_VERSION], workers)).await;
    let ToProvider::Welcome { provider_id, .. } = hear(&mut socket).await else { panic!("expected welcome") };
    (socket, provider_id.to_string())
}

/// The next `run` the fake provider receives, answering pings on the way.
async fn next_run(socket: &mut Socket) -> (u64, wasimoff::protocol::WireTask) {
    loop {
        match hear(socket).await {
            ToProvider::Run { id, task } => return (id, task),
            ToProvider::Ping { nonce } => say(socket, &ToBroker::Pong { nonce }).await,
            other => panic!("expected run, got {other:?}"),
        }
    }
}

/// Whether anything arrives within `wait`.
async fn silent_for(socket: &mut Socket, wait: Duration) -> bool {
    tokio::time::timeout(wait, hear(socket)).await.is_err()
}

/// A successful outcome with `stdout`, as a provider reports it.
pub fn exited(stdout: &str) -> Outcome {
    Outcome::Exited {
        status: 0,
        stdout: ByteBuf::from(stdout.as_bytes().to_vec()),
        stderr: ByteBuf::new(),
        artifacts: None,
        missing_artifacts: vec![],
        elapsed_us: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_flow_to_a_native_provider() {
    let (broker, base) = http_broker_with_policy(FallbackPolicy::WhenNoProviders).await;
    let _provider = start_native(&base, "native-1", 2);
    let state = wait_for_providers(&base, 1).await;
    let id = state["providers"][0]["id"].as_str().unwrap().to_string();
    let job = Job { parent: Some(task("tsp", &["tsp", "rand", "5"])), tasks: vec![Task::default(); 10] };
    let results = broker.run_job(job).await;
    for result in &results {
        let output = result.as_ref().unwrap();
        assert_eq!(output.ran_on, id, "ran on the provider, not locally");
        assert_eq!(String::from_utf8_lossy(&output.stdout).lines().next(), Some("cities: 5"));
    }
    let cluster = broker.cluster();
    assert_eq!(cluster.providers[0].tasks_done, 10);
    assert_eq!(cluster.providers[0].modules_cached, 1);
    assert_eq!(cluster.local.tasks_done, 0);
    let failure = broker.run(task("trap", &["trap"])).await.unwrap_err();
    assert_eq!((failure.kind, failure.stdout.as_ref()), (TaskErrorKind::Trap, &b"about to trap\n"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_never_gets_more_tasks_than_free_workers() {
    let (broker, base) = http_broker_with_policy(FallbackPolicy::WhenNoProviders).await;
    let (mut socket, _) = fake_provider(&base, 3).await;
    let runs: Vec<_> = (0..10).map(|i| support::spawn_run(&broker, task("echo", &["echo", &i.to_string()]))).collect();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(next_run(&mut socket).await);
    }
    assert!(silent_for(&mut socket, Duration::from_millis(300)).await, "a fourth task arrived with three workers busy");
    assert_eq!(broker.cluster().queued, 7);
    let (first, _) = held.remove(0);
    say(&mut socket, &ToBroker::Result { id: first, outcome: exited("done\n") }).await;
    held.push(next_run(&mut socket).await);
    assert!(silent_for(&mut socket, Duration::from_millis(200)).await, "one result frees exactly one worker");
    say(&mut socket, &ToBroker::Workers { count: 5 }).await;
    held.push(next_run(&mut socket).await);
    held.push(next_run(&mut socket).await);
    assert!(silent_for(&mut socket, Duration::from_millis(200)).await, "five workers, five tasks");
    let mut answered = 1;
    while answered < 10 {
        let (id, _) = if held.is_empty() { next_run(&mut socket).await } else { held.remove(0) };
        say(&mut socket, &ToBroker::Result { id, outcome: exited("done\n") }).await;
        answered += 1;
    }
    for run in runs {
        assert_eq!(run.await.unwrap().unwrap().stdout, "done\n");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_travels_once_per_provider() {
    let (broker, base) = http_broker_with_policy(FallbackPolicy::WhenNoProviders).await;
    let (mut socket, _) = fake_provider(&base, 1).await;
    let mut sent_bytes = Vec::new();
    for i in 0..3 {
        let broker = broker.clone();
        let run = tokio::spawn(async move { broker.run(task("echo", &["echo"])).await });
        let (id, wire) = next_run(&mut socket).await;
        sent_bytes.push(wire.module_bytes.as_ref().map(|b| b.len()));
        say(&mut socket, &ToBroker::Result { id, outcome: exited(&format!("run {i}")) }).await;
        run.await.unwrap().unwrap();
    }
    assert_eq!(sent_bytes, vec![Some(fixture("echo").len()), None, None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_cancels_its_task_on_the_provider() {
    let (broker, base) = http_broker_with_policy(FallbackPolicy::WhenNoProviders).await;
    let (mut socket, _) = fake_provider(&base, 1).await;
    let abandoned = support::spawn_run(&broker, task("spin", &["spin"]));
    let (id, _) = next_run(&mut socket).await;
    abandoned.abort();
    loop {
        match hear(&mut socket).await {
            ToProvider::Cancel { id: cancelled } => {
                assert_eq!(cancelled, id);
                break;
            }
            ToProvider::Ping { nonce } => say(&mut socket, &ToBroker::Pong { nonce }).await,
            other => panic!("expected cancel, got {other:?}"),
        }
    }
    assert_eq!(broker.cluster().providers[0].busy, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_lost_with_a_provider_complete_elsewhere_exactly_once() {
    let (broker, base) = http_broker_with_policy(FallbackPolicy::WhenNoProviders).await;
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for round in 0..5 {
        let steady = start_native(&base, "steady", 2);
        let doomed = start_native(&base, "doomed", 2);
        wait_for_providers(&base, 2).await;
        let job = Job {
            parent: Some(Task::new(wasimoff::FileSource::reference("tsp.wasm"))),
            tasks: (0..40).map(|i| Task::default().args(["tsp".to_string(), "rand".into(), "7".into(), i.to_string()])).collect(),
        };
        let sweep = {
            let broker = broker.clone();
            tokio::spawn(async move { broker.run_job(job).await })
        };
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(seed % 60)).await;
        doomed.abort();
        let results = sweep.await.unwrap();
        assert_eq!(results.len(), 40, "round {round}");
        for (i, result) in results.iter().enumerate() {
            let output = result.as_ref().unwrap_or_else(|e| panic!("round {round} task {i}: {e}"));
            assert_eq!(String::from_utf8_lossy(&output.stdout).lines().next(), Some("cities: 7"), "round {round} task {i}");
        }
        steady.abort();
        wait_for_providers(&base, 0).await;
    }
    assert_eq!(broker.cluster().queued, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_vanishes_mid_task_loses_nothing() {
    let (broker, base) = http_broker_with_policy(FallbackPolicy::WhenNoProviders).await;
    let (mut socket, _) = fake_provider(&base, 2).await;
    let runs: Vec<_> = (0..4).map(|i| support::spawn_run(&broker, task("echo", &["echo", &i.to_string()]))).collect();
    let (first, first_task) = next_run(&mut socket).await;
    let answered = first_task.args[1].clone();
    let echoed = format!("argc=2\nargv[0]=echo\nargv[1]={answered}\n");
    let (_, second_task) = next_run(&mut socket).await;
    say(&mut socket, &ToBroker::Result { id: first, outcome: exited(&echoed) }).await;
    let (_, third_task) = next_run(&mut socket).await;
    drop(socket);
    let mut ran_on: HashMap<String, String> = HashMap::new();
    for (i, run) in runs.into_iter().enumerate() {
        let output = run.await.unwrap().unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), format!("argc=2\nargv[0]=echo\nargv[1]={i}\n"));
        ran_on.insert(i.to_string(), output.ran_on);
    }
    assert_ne!(ran_on[&answered], "local", "the answered task kept the provider's result");
    for lost in [&second_task.args[1], &third_task.args[1]] {
        assert_eq!(ran_on[lost], "local", "task {lost}, lost with the provider, ran on the local runner");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_policies_behave_as_documented() {
    let (never, base) = http_broker_with_policy(FallbackPolicy::Never).await;
    let waiting = support::spawn_run(&never, task("echo", &["echo", "waited"]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "with policy never, no provider means the task waits");
    assert_eq!(never.cluster().queued, 1);
    let _provider = start_native(&base, "late", 1);
    let output = waiting.await.unwrap().unwrap();
    assert_ne!(output.ran_on, "local");

    let (always, base) = http_broker_with_policy(FallbackPolicy::Always).await;
    let _provider = start_native(&base, "one", 1);
    wait_for_providers(&base, 1).await;
    let job = Job { parent: Some(task("tsp", &["tsp", "rand", "7"])), tasks: vec![Task::default(); 30] };
    let places: Vec<String> = always.run_job(job).await.into_iter().map(|r| r.unwrap().ran_on).collect();
    assert!(places.iter().any(|p| p == "local") && places.iter().any(|p| p != "local"), "{places:?}");

    let (default, base) = http_broker_with_policy(FallbackPolicy::WhenNoProviders).await;
    assert_eq!(default.run(task("echo", &["echo"])).await.unwrap().ran_on, "local");
    let _provider = start_native(&base, "one", 1);
    wait_for_providers(&base, 1).await;
    assert_ne!(default.run(task("echo", &["echo"])).await.unwrap().ran_on, "local");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_lost_on_every_provider_fails_after_three_attempts() {
    let (broker, base) = http_broker_with_policy(FallbackPolicy::Never).await;
    let doomed = support::spawn_run(&broker, task("echo", &["echo", "cursed"]));
    for _ in 0..3 {
        let (mut socket, _) = fake_provider(&base, 1).await;
        let (_, wire) = next_run(&mut socket).await;
        assert_eq!(wire.args, ["echo", "cursed"]);
        drop(socket);
    }
    let error = doomed.await.unwrap().unwrap_err();
    assert_eq!(error.kind, TaskErrorKind::Internal);
    assert_eq!(error.message, "the task was lost on 3 providers; the last one disconnected");
    let (mut socket, _) = fake_provider(&base, 1).await;
    let next = support::spawn_run(&broker, task("echo", &["echo", "fine"]));
    let (id, wire) = next_run(&mut socket).await;
    assert_eq!(wire.args, ["echo", "fine"], "the cluster goes on after the cursed task");
    say(&mut socket, &ToBroker::Result { id, outcome: exited("fine\n") }).await;
    assert_eq!(next.await.unwrap().unwrap().stdout, "fine\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_enforces_the_timeout_of_a_silent_provider() {
    let (broker, base) = http_broker_with_policy(FallbackPolicy::WhenNoProviders).await;
    let (mut socket, _) = fake_provider(&base, 1).await;
    let limits = wasimoff::TaskLimits { timeout_ms: Some(100), ..Default::default() };
    let silent = support::spawn_run(&broker, task("echo", &["echo"]).limits(limits));
    let (id, _) = next_run(&mut socket).await;
    let error = silent.await.unwrap().unwrap_err();
    assert_eq!(error.kind, TaskErrorKind::Timeout);
    assert_eq!(error.message, "the provider did not answer within the task's timeout; the broker stopped waiting");
    loop {
        match hear(&mut socket).await {
            ToProvider::Cancel { id: cancelled } => break assert_eq!(cancelled, id),
            ToProvider::Ping { nonce } => say(&mut socket, &ToBroker::Pong { nonce }).await,
            other => panic!("expected cancel, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_stops_answering_heartbeats_is_dropped_and_its_task_rerun() {
    let limits = wasimoff::Limits { provider_heartbeat: Duration::from_millis(100), ..support::test_limits() };
    let (broker, base) = support::http_broker_with(limits).await;
    let (mut socket, _) = fake_provider(&base, 1).await;
    let run = support::spawn_run(&broker, task("echo", &["echo", "stalled"]));
    let (_, wire) = next_run(&mut socket).await;
    assert_eq!(wire.args, ["echo", "stalled"]);
    let mut pings = 0;
    let (code, reason) = loop {
        match socket.next().await {
            Some(Ok(Message::Binary(_))) => pings += 1,
            Some(Ok(Message::Close(Some(close)))) => break (close.code, close.reason.to_string()),
            other => panic!("expected pings then a close, got {other:?}"),
        }
    };
    assert!(pings >= 2, "dropped after {pings} unanswered pings");
    assert_eq!((code, reason.as_str()), (CloseCode::Away, "missed heartbeats"));
    let output = run.await.unwrap().unwrap();
    assert_eq!(output.ran_on, "local", "the stalled task ran again on the local runner");
    assert_eq!(output.stdout, "argc=2\nargv[0]=echo\nargv[1]=stalled\n");
}
