//! Bounded prefetch with real providers over real sockets: a provider that leaves with running
//! and queued tasks loses none of them (a Chromium tab closed, a native provider killed), a
//! cancel reaches a task queued in the page, and an idle provider is served before a busy
//! provider's queue.

use crate::browser::{local_tsp, provider_page};
use crate::providers::{cluster, wait_for_providers_within};
use crate::support::{self, task};
use std::collections::BTreeMap;
use std::time::Duration;
use wasimoff::native::NativeProvider;
use wasimoff::{FallbackPolicy, Job, Limits, Task, TaskLimits, Wasimoff};
use wasimoff_chromium::Chromium;

const WAIT: Duration = Duration::from_secs(30);

/// Tasks long enough (tens of ms) that a provider holds some while others wait in its queue.
const CITIES: &str = "10";

async fn broker_with_policy(policy: FallbackPolicy) -> (Wasimoff, String) {
    let limits = Limits { provider_prefetch: 1, ..support::test_limits() };
    let broker = Wasimoff::builder().limits(limits).fallback(policy).build().expect("build broker");
    support::upload_fixtures(&broker).await;
    let base = support::serve(support::host_app(&broker)).await;
    (broker, base)
}

fn tsp() -> Task {
    task("tsp", &["tsp", "rand", CITIES])
}

/// A task that keeps its worker busy for `ms` and then fails with `timeout`.
fn spin(ms: u64) -> Task {
    let mut spin = task("spin", &["spin"]);
    spin.limits = Some(TaskLimits { timeout_ms: Some(ms), ..Default::default() });
    spin
}

/// Runs the job of `count` TSP tasks; panics unless every task has exactly one result, equal
/// to the local runner's; returns how many ran where.
async fn checked_sweep(broker: Wasimoff, count: usize, expected: bytes::Bytes) -> BTreeMap<String, usize> {
    let results = broker.run_job(Job { parent: None, tasks: vec![tsp(); count] }).await;
    assert_eq!(results.len(), count, "one result per task");
    let mut ran_on = BTreeMap::new();
    for result in results {
        let output = result.expect("every task succeeds");
        assert_eq!(String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&expected));
        *ran_on.entry(output.ran_on).or_insert(0) += 1;
    }
    ran_on
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_tab_with_running_and_queued_tasks_loses_nothing() {
    let (broker, base) = broker_with_policy(FallbackPolicy::WhenNoProviders).await;
    let expected = local_tsp(&broker, CITIES).await;
    let chromium = Chromium::launch().await;
    let (page, id) = provider_page(&chromium, &base, 2).await;
    let sweep = tokio::spawn(checked_sweep(broker.clone(), 24, expected));
    let busy_and_queued = "(s => s.busy === 2 && s.queued >= 1)(window.wasimoffProvider.state())";
    let deadline = tokio::time::Instant::now() + WAIT;
    // A result the page holds back to batch with the next is not yet the broker's: wait until
    // the broker has one, then until the page again runs two tasks and queues one.
    while broker.cluster().providers.iter().all(|provider| provider.tasks_done == 0) {
        assert!(tokio::time::Instant::now() < deadline, "the broker got no result from the page");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    page.wait_for(busy_and_queued, WAIT).await;
    page.close().await;
    let ran_on = sweep.await.expect("sweep");
    assert_eq!(ran_on.values().sum::<usize>(), 24, "{ran_on:?}");
    assert!(ran_on[&id] >= 1, "the page ran tasks before it left: {ran_on:?}");
    assert!(ran_on[wasimoff::LOCAL] >= 3, "its running and queued tasks ran locally: {ran_on:?}");
    assert!(broker.cluster().providers.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_native_provider_with_running_and_queued_tasks_loses_nothing() {
    let (broker, base) = broker_with_policy(FallbackPolicy::WhenNoProviders).await;
    let expected = local_tsp(&broker, CITIES).await;
    let url = format!("{}/wasimoff/provider/ws", base.replace("http://", "ws://"));
    let provider = tokio::spawn(NativeProvider::new(url).workers(1).run());
    let joined = wait_for_providers_within(&base, 1, WAIT).await;
    let id = joined["providers"][0]["id"].as_str().expect("an id").to_string();
    let sweep = tokio::spawn(checked_sweep(broker.clone(), 16, expected));
    let deadline = tokio::time::Instant::now() + WAIT;
    while cluster(&base).await["providers"][0]["tasks_done"].as_u64().unwrap_or(0) < 1 {
        assert!(tokio::time::Instant::now() < deadline, "the native provider finished no task");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    provider.abort();
    let ran_on = sweep.await.expect("sweep");
    assert_eq!(ran_on.values().sum::<usize>(), 16, "{ran_on:?}");
    assert!(ran_on[&id] >= 1 && ran_on[wasimoff::LOCAL] >= 2, "{ran_on:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_task_queued_in_the_page_never_runs() {
    let (broker, base) = broker_with_policy(FallbackPolicy::Never).await;
    let chromium = Chromium::launch().await;
    let (page, id) = provider_page(&chromium, &base, 1).await;
    let busy = support::spawn_run(&broker, spin(1500));
    page.wait_for("window.wasimoffProvider.state().busy === 1", WAIT).await;
    let queued = support::spawn_run(&broker, task("echo", &["echo", "never"]));
    page.wait_for("window.wasimoffProvider.state().queued === 1", WAIT).await;
    queued.abort();
    page.wait_for("window.wasimoffProvider.state().queued === 0", WAIT).await;
    assert_eq!(page.evaluate("window.wasimoffProvider.state().busy").await, 1, "the running task runs on");

    let error = busy.await.expect("join").expect_err("the spin stops at its timeout");
    assert_eq!(error.kind.as_str(), "timeout");
    let output = broker.run(task("echo", &["echo", "after"])).await.expect("echo");
    assert_eq!((output.ran_on.as_str(), &output.stdout[..]), (id.as_str(), &b"argc=2\nargv[0]=echo\nargv[1]=after\n"[..]));
    let state = page.evaluate("window.wasimoffProvider.state()").await;
    assert_eq!(state["tasksDone"], 2, "the spin and the last echo; the cancelled echo never ran: {state}");
    let log = state["log"].as_array().expect("log").iter().filter_map(|line| line.as_str()).collect::<Vec<_>>().join("\n");
    assert_eq!(log.matches(": exit 0").count(), 1, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_provider_is_served_before_a_busy_providers_queue() {
    let (broker, base) = broker_with_policy(FallbackPolicy::Never).await;
    let first_browser = Chromium::launch().await;
    let (first, first_id) = provider_page(&first_browser, &base, 1).await;
    let warm = broker.run(task("echo", &["echo", "warm"])).await.expect("echo");
    assert_eq!(warm.ran_on, first_id, "the first page now holds echo");
    let second_browser = Chromium::launch().await;
    let (_second, second_id) = provider_page(&second_browser, &base, 1).await;

    let busy = support::spawn_run(&broker, spin(1500));
    first.wait_for("window.wasimoffProvider.state().busy === 1", WAIT).await;
    let output = broker.run(task("echo", &["echo", "idle"])).await.expect("echo");
    assert_eq!(output.ran_on, second_id, "the idle page, although the busy one holds the module and has room in its queue");
    let error = busy.await.expect("join").expect_err("the spin stops at its timeout");
    assert_eq!(error.kind.as_str(), "timeout");
    assert_eq!(first.evaluate("window.wasimoffProvider.state().tasksDone").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_chromium_page_sends_several_results_per_frame() {
    let (broker, base) = broker_with_policy(FallbackPolicy::Never).await;
    let chromium = Chromium::launch().await;
    let (_page, _) = provider_page(&chromium, &base, 2).await;
    let before = broker.provider_traffic();
    let tasks: Vec<Task> = (0..200).map(|i| task("echo", &["echo", &i.to_string()])).collect();
    let results = broker.run_job(Job { parent: None, tasks }).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result.expect("every task succeeds").stdout, format!("argc=2\nargv[0]=echo\nargv[1]={i}\n"));
    }
    let after = broker.provider_traffic();
    let (frames, messages) = (after.frames_received - before.frames_received, after.messages_received - before.messages_received);
    assert!(messages >= 200, "every result came: {after:?}");
    assert!(frames < messages, "a page whose workers each had a task to go on with held results back to batch them: {after:?}");
}
