//! The browser provider in a real headless Chromium: the provider page and the one-line
//! snippet join the broker, the conformance table runs in the browser, sweeps are shared with
//! the local runner, a closed tab loses no task and an endless loop costs one worker restart.

use crate::conformance::run_table;
use crate::examples::start;
use crate::support::{self, client, fixture, task};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use wasimoff::{FallbackPolicy, Job, Wasimoff};
use wasimoff_chromium::{Chromium, Page};

const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A broker with the fixtures uploaded and `policy`, served in a host app.
async fn broker_with_policy(policy: FallbackPolicy) -> (Wasimoff, String) {
    let broker = Wasimoff::builder().limits(support::test_limits()).fallback(policy).build().expect("build broker");
    support::upload_fixtures(&broker).await;
    let base = support::serve(support::host_app(&broker)).await;
    (broker, base)
}

/// Opens the provider page with `workers` workers; returns it and the provider's id once the
/// broker has welcomed it.
pub async fn provider_page(chromium: &Chromium, base: &str, workers: u32) -> (Page, String) {
    let page = chromium.open(&format!("{base}/wasimoff/?workers={workers}")).await;
    let id = page.wait_for("window.wasimoffProvider?.state().providerId", JOIN_TIMEOUT).await;
    (page, id.as_str().expect("provider id").to_string())
}

fn tsp(cities: &str) -> wasimoff::Task {
    task("tsp", &["tsp", "rand", cities])
}

/// Runs `count` copies of `tsp rand CITIES`; panics unless each gives the same stdout as the
/// local runner gave for one before the sweep; returns how many ran where.
pub async fn run_sweep(broker: &Wasimoff, count: usize, cities: &str, expected: &[u8]) -> BTreeMap<String, usize> {
    let results = broker.run_job(Job { parent: None, tasks: (0..count).map(|_| tsp(cities)).collect() }).await;
    let mut ran_on = BTreeMap::new();
    for result in results {
        let output = result.expect("every task of the sweep succeeds");
        assert_eq!(String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(expected));
        *ran_on.entry(output.ran_on).or_insert(0) += 1;
    }
    ran_on
}

/// The output of `tsp rand CITIES` on the local runner.
pub async fn local_tsp(broker: &Wasimoff, cities: &str) -> bytes::Bytes {
    let output = broker.run(tsp(cities)).await.expect("tsp runs locally");
    assert_eq!(output.ran_on, wasimoff::LOCAL);
    output.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_provider_runs_the_conformance_table() {
    let (broker, base) = broker_with_policy(FallbackPolicy::Never).await;
    let chromium = Chromium::launch().await;
    let (page, id) = provider_page(&chromium, &base, 4).await;
    run_table(broker.clone(), &id).await;

    let state = page.evaluate("window.wasimoffProvider.state()").await;
    assert_eq!(state["connection"], "connected");
    assert_eq!(state["transport"], "websocket");
    assert_eq!(state["restarts"], 1, "only the endless loop restarts a worker: {state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_and_the_local_runner_share_a_sweep_under_always() {
    let (broker, base) = broker_with_policy(FallbackPolicy::Always).await;
    let expected = local_tsp(&broker, "8").await;
    let chromium = Chromium::launch().await;
    let (_page, id) = provider_page(&chromium, &base, 2).await;
    let ran_on = run_sweep(&broker, 40, "8", &expected).await;
    assert_eq!(ran_on.values().sum::<usize>(), 40);
    assert!(ran_on.contains_key(&id) && ran_on.contains_key(wasimoff::LOCAL), "both ran tasks: {ran_on:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_chromium_tab_mid_sweep_loses_no_task() {
    let (broker, base) = broker_with_policy(FallbackPolicy::WhenNoProviders).await;
    let expected = local_tsp(&broker, "9").await;
    let chromium = Chromium::launch().await;
    let (page, id) = provider_page(&chromium, &base, 2).await;
    let sweep = tokio::spawn({
        let broker = broker.clone();
        async move { run_sweep(&broker, 60, "9", &expected).await }
    });
    page.wait_for("window.wasimoffProvider.state().tasksDone >= 4", JOIN_TIMEOUT).await;
    page.close().await;
    let ran_on = sweep.await.expect("sweep");
    assert_eq!(ran_on.values().sum::<usize>(), 60, "one result per task: {ran_on:?}");
    assert!(ran_on[&id] >= 4, "the browser ran tasks before it left: {ran_on:?}");
    assert!(ran_on[wasimoff::LOCAL] >= 1, "the rest ran locally: {ran_on:?}");
    assert!(broker.cluster().providers.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_stops_an_endless_loop_at_its_timeout_and_replaces_the_worker() {
    let (broker, base) = broker_with_policy(FallbackPolicy::Never).await;
    let chromium = Chromium::launch().await;
    let (page, id) = provider_page(&chromium, &base, 1).await;
    let mut spin = task("spin", &["spin"]);
    spin.limits = Some(wasimoff::TaskLimits { timeout_ms: Some(500), ..Default::default() });
    let error = broker.run(spin).await.expect_err("the loop is stopped");
    assert_eq!(error.kind.as_str(), "timeout");
    assert_eq!(error.message, "the task ran longer than its timeout of 500 ms and was stopped");
    assert_eq!(&error.stdout[..], b"spinning\n");

    let output = broker.run(task("echo", &["echo", "after"])).await.expect("the replaced worker runs tasks");
    assert_eq!(output.ran_on, id);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "argc=2\nargv[0]=echo\nargv[1]=after\n");
    let state = page.evaluate("window.wasimoffProvider.state()").await;
    assert_eq!(state["restarts"], 1);
    assert_eq!(state["workers"].as_array().expect("workers").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_the_axum_host_with_the_snippet_becomes_a_provider() {
    let host = start("axum-host", crate::examples::AXUM_HOST_BANNER, &[]);
    let base = &host.base;
    let chromium = Chromium::launch().await;
    let home = chromium.open(&format!("{base}/")).await;
    home.wait_for("document.querySelector('[data-wasimoff-consent=allow]') !== null", JOIN_TIMEOUT).await;
    assert!(crate::providers::cluster(base).await["providers"].as_array().expect("providers").is_empty(), "no provider before consent");
    home.evaluate("document.querySelector('[data-wasimoff-consent=allow]').click()").await;
    let id = home.wait_for("window.wasimoffProvider?.state().providerId", JOIN_TIMEOUT).await;
    let cluster = crate::providers::wait_for_providers(base, 1).await;
    let provider = &cluster["providers"][0];
    assert_eq!((&provider["id"], &provider["kind"], &provider["transport"]), (&id, &json!("browser"), &json!("webtransport")));
    assert!(provider["workers"].as_u64().expect("workers") >= 1);

    let upload: Value = client()
        .post(format!("{base}/wasimoff/api/v1/files?alias=echo.wasm"))
        .body(fixture("echo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(upload["ref"].as_str().expect("ref").starts_with("sha256:"), "{upload}");
    let task = json!({"binary": {"ref": "echo.wasm"}, "args": ["echo", "from curl"]});
    let result: Value = client().post(format!("{base}/wasimoff/api/v1/tasks")).json(&task).send().await.unwrap().json().await.unwrap();
    assert_eq!(result["result"]["stdout"], "argc=2\nargv[0]=echo\nargv[1]=from curl\n", "{result}");
    assert_eq!(result["result"]["ran_on"], id, "the task ran in the browser");

    let second_tab = chromium.open(&format!("{base}/wasimoff/")).await;
    second_tab.wait_for("window.wasimoffProvider?.state().connection === 'standby'", JOIN_TIMEOUT).await;
    assert_eq!(crate::providers::cluster(base).await["providers"].as_array().expect("providers").len(), 1, "one provider per browser");
    home.close().await;
    let takeover = second_tab.wait_for("window.wasimoffProvider.state().providerId", JOIN_TIMEOUT).await;
    assert_ne!(takeover, id, "the second tab took over when the first closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_provider_takes_no_tasks_and_a_stopped_one_drains_first() {
    let (broker, base) = broker_with_policy(FallbackPolicy::Never).await;
    let chromium = Chromium::launch().await;
    let (page, id) = provider_page(&chromium, &base, 1).await;

    page.evaluate("window.wasimoffProvider.pause()").await;
    let paused = crate::providers::wait_for(&base, |state| state["providers"][0]["workers"] == 0).await;
    assert_eq!(paused["providers"][0]["id"], id.as_str());
    let waiting = tokio::spawn({
        let broker = broker.clone();
        async move { broker.run(task("echo", &["echo", "after resume"])).await }
    });
    crate::providers::wait_for(&base, |state| state["queued"] == 1).await;
    page.evaluate("window.wasimoffProvider.resume()").await;
    let output = waiting.await.expect("task").expect("runs once resumed");
    assert_eq!((output.ran_on.as_str(), &output.stdout[..]), (id.as_str(), &b"argc=2\nargv[0]=echo\nargv[1]=after resume\n"[..]));

    let long = tokio::spawn({
        let broker = broker.clone();
        async move { broker.run(tsp("10")).await }
    });
    page.wait_for("window.wasimoffProvider.state().busy === 1", JOIN_TIMEOUT).await;
    page.evaluate("window.wasimoffProvider.stop()").await;
    let output = long.await.expect("task").expect("the running task finished before the provider left");
    assert_eq!(output.ran_on, id);
    assert!(output.stdout.starts_with(b"cities: 10\n"));
    assert_eq!(page.evaluate("window.wasimoffProvider.state().connection").await, "stopped");
    crate::providers::wait_for(&base, |state| state["providers"].as_array().is_some_and(Vec::is_empty)).await;
    page.wait_for("window.wasimoffProvider.state().log.some((line) => line.includes('disconnected'))", JOIN_TIMEOUT).await;
    assert_eq!(page.evaluate("window.wasimoffProvider.state().workers.length").await, 0, "a stopped provider keeps no workers");
}
