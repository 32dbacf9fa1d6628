//! The operator dashboard: the page and its event stream over HTTP, guarded by the client
//! layer, and the page in headless Chromium showing a connected browser provider and a
//! running job.

use crate::browser::provider_page;
use crate::support::{self, client, task};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use wasimoff::{FallbackPolicy, Job, Limits, Wasimoff};
use wasimoff_chromium::{Chromium, Page};

const SHOWN_WITHIN: Duration = Duration::from_secs(30);

/// The first server-sent event of `response`: its `event` name and its `data` as JSON.
async fn first_event(mut response: reqwest::Response) -> (String, Value) {
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = response.chunk().await.expect("read the event stream").expect("the stream goes on");
        text.push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
    }
    let (event, _rest) = text.split_once("\n\n").unwrap();
    let mut lines = event.lines();
    let name = lines.next().and_then(|line| line.strip_prefix("event: ")).expect("an event line first").to_string();
    let data = lines.next().and_then(|line| line.strip_prefix("data: ")).expect("a data line second");
    assert_eq!(lines.next(), None, "one data line: {event}");
    (name, serde_json::from_str(data).expect("the data is JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_event_stream_are_served() {
    let (broker, base) = support::http_broker().await;
    broker.run(task("echo", &["echo", "one"])).await.expect("echo runs");
    broker.run(task("trap", &["trap"])).await.expect_err("trap fails");

    let page = client().get(format!("{base}/wasimoff/dashboard")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let html = page.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("<title>wasimoff dashboard</title>"), "{html}");
    assert!(html.contains("new EventSource(\"api/v1/cluster/events\")"), "the page follows the events relative to itself");
    let post = client().post(format!("{base}/wasimoff/dashboard")).send().await.unwrap();
    assert_eq!((post.status(), post.headers()["allow"].to_str().unwrap()), (StatusCode::METHOD_NOT_ALLOWED, "GET, HEAD"));

    let events = client().get(format!("{base}/wasimoff/api/v1/cluster/events")).send().await.unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    assert_eq!(events.headers()["cache-control"], "no-cache");
    let (name, snapshot) = first_event(events).await;
    assert_eq!(name, "cluster");
    assert_eq!(snapshot["local"], json!({"workers": 2, "busy": 0, "tasks_done": 2}));
    assert_eq!((&snapshot["providers"], &snapshot["jobs"], &snapshot["queued"]), (&json!([]), &json!([]), &json!(0)));
    let throughput = &snapshot["throughput"];
    let exited = throughput["exited"].as_array().expect("exited per second");
    let failed = throughput["failed"].as_array().expect("failed per second");
    assert_eq!(exited.len(), failed.len());
    assert!(exited.len() <= 600, "at most ten minutes: {}", exited.len());
    let sum = |counts: &[Value]| counts.iter().map(|count| count.as_u64().expect("a count")).sum::<u64>();
    assert!(sum(exited) <= 1 && sum(failed) <= 1, "the history holds whole seconds only: {throughput}");

    broker.shutdown().await;
    let after = client().get(format!("{base}/wasimoff/api/v1/cluster/events")).send().await.unwrap();
    assert_eq!(after.text().await.unwrap(), "", "a broker that shut down ends the stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_layer_guards_the_dashboard_and_its_events() {
    use http::{Request, Response};
    use wasimoff::layers::Body;
    let guard = tower_http::validate_request::ValidateRequestHeaderLayer::custom(|request: &mut Request<Body>| {
        match request.headers().get("authorization") {
            Some(value) if value == "Bearer operator" => Ok(()),
            _ => {
                let mut denied = Response::new(Body::default());
                *denied.status_mut() = StatusCode::UNAUTHORIZED;
                Err(denied)
            }
        }
    });
    let broker = Wasimoff::builder().client_layer(guard).build().unwrap();
    let base = support::serve(support::host_app(&broker)).await;
    for path in ["/wasimoff/dashboard", "/wasimoff/api/v1/cluster/events"] {
        let url = format!("{base}{path}");
        assert_eq!(client().get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(client().get(&url).bearer_auth("operator").send().await.unwrap().status(), StatusCode::OK, "{path}");
    }
}

/// Waits until the row `selector` on `page` shows `expected`.
async fn wait_for_row(page: &Page, selector: &str, expected: &Value) {
    let cells = format!("JSON.stringify(Array.from(document.querySelectorAll('{selector} td'), (td) => td.textContent))");
    let expected = serde_json::to_string(&expected.to_string()).unwrap();
    page.wait_for(&format!("{cells} === {expected}"), SHOWN_WITHIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_a_connected_provider_and_a_running_job() {
    let limits = Limits { timeout: Duration::from_secs(120), ..support::test_limits() };
    let broker = Wasimoff::builder().limits(limits).fallback(FallbackPolicy::Never).build().expect("build broker");
    support::upload_fixtures(&broker).await;
    let base = support::serve(support::host_app(&broker)).await;
    let chromium = Chromium::launch().await;
    let (_provider, id) = provider_page(&chromium, &base, 1).await;
    let dashboard = chromium.open(&format!("{base}/wasimoff/dashboard")).await;
    dashboard.set_viewport(1100, 760).await;

    for round in 0..4 {
        let echoes = (0..10 * (round + 1)).map(|_| task("echo", &["echo", "hi"])).collect();
        assert!(broker.run_job(Job { parent: None, tasks: echoes }).await.iter().all(Result::is_ok));
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let spin = task("spin", &["spin"]);
    let spinning = broker.submit_job(Job { parent: None, tasks: vec![spin; 3] }).await.expect("a detached job");

    let provider = format!("#providers tr[data-provider=\"{id}\"]");
    let all_held =
        |state: &Value| state["jobs"][0]["queued"].as_u64().unwrap_or(0) + state["jobs"][0]["running"].as_u64().unwrap_or(0) == 3;
    let state = crate::providers::wait_for(&base, |state| state["providers"][0]["busy"] == 1 && all_held(state)).await;
    let shown = &state["providers"][0];
    assert_eq!(shown["tasks_done"], 100, "every echo ran in the browser: {state}");
    let expected = json!([id, shown["name"], "browser", "websocket", "1 / 1", "100", "untrusted", "0", "0"]);
    wait_for_row(&dashboard, &provider, &expected).await;
    assert_eq!(dashboard.evaluate("document.querySelector('#providers th.replica').hidden").await, true, "no replica column yet");

    let job = &state["jobs"][0];
    let (queued, running) = (job["queued"].as_u64().unwrap(), job["running"].as_u64().unwrap());
    let selector = format!("#jobs tr[data-job=\"{}\"]", job["job"]);
    let expected = json!([job["job"].to_string(), "0", queued.to_string(), running.to_string(), format!("{running} of 3 running")]);
    wait_for_row(&dashboard, &selector, &expected).await;
    assert_eq!(dashboard.evaluate("document.getElementById('queued').textContent").await, format!("{queued} / 1024"));
    assert_eq!(dashboard.evaluate("document.getElementById('providers-count').textContent").await, "1");
    let bars = dashboard.evaluate("document.querySelectorAll('#chart rect.exited').length").await;
    assert!(bars.as_u64().expect("a count") >= 1, "the chart shows the echoes: {bars}");

    let detached: Value =
        client().get(format!("{base}/wasimoff/api/v1/jobs/{}", spinning.id())).send().await.unwrap().json().await.unwrap();
    let (queued, running) = (detached["queued"].as_u64().unwrap(), detached["running"].as_u64().unwrap());
    assert_eq!((detached["status"].as_str(), queued + running), (Some("running"), 3), "{detached}");
    let expected = json!([spinning.id(), "running", "3", queued.to_string(), running.to_string(), "0", "0", "0 / 3 finished"]);
    wait_for_row(&dashboard, &format!("#detached tr[data-id=\"{}\"]", spinning.id()), &expected).await;

    let screenshot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/dashboard.png");
    dashboard.screenshot(&screenshot).await;
    assert!(dashboard.console().iter().all(|line| !line.starts_with("exception")), "{:?}", dashboard.console());
    spinning.cancel().await.expect("the registry answers");
}
