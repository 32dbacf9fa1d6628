//! The native provider's transports and module cache: WebSocket when WebTransport is off or
//! does not answer, and evictions the broker hears of.

use crate::providers::{cluster, wait_for_providers_within};
use crate::support::{self, task};
use serde_json::json;
use std::time::Duration;
use wasimoff::native::{NativeProvider, ProviderError, TransportChoice};
use wasimoff::{FallbackPolicy, Wasimoff};

/// Long enough for the 3 s WebTransport attempt and the WebSocket after it.
const JOIN: Duration = Duration::from_secs(15);

fn websocket_url(base: &str) -> String {
    format!("{}/wasimoff/provider/ws", base.replace("http://", "ws://"))
}

/// A broker that runs nothing locally, with the fixtures, served at the returned base URL.
async fn remote_only_broker() -> (Wasimoff, String) {
    let broker = Wasimoff::builder().limits(support::test_limits()).fallback(FallbackPolicy::Never).build().expect("build broker");
    support::upload_fixtures(&broker).await;
    let base = support::serve(support::host_app(&broker)).await;
    (broker, base)
}

/// Joins a provider with `transport` and runs one echo task on it; returns the cluster entry.
async fn join_and_echo(broker: &Wasimoff, base: &str, provider: NativeProvider) -> serde_json::Value {
    let running = tokio::spawn(provider.run());
    let state = wait_for_providers_within(base, 1, JOIN).await;
    let output = broker.run(task("echo", &["echo", "hi"])).await.expect("echo runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "argc=2\nargv[0]=echo\nargv[1]=hi\n");
    assert_eq!(output.ran_on, state["providers"][0]["id"].as_str().expect("an id"));
    running.abort();
    state["providers"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_webtransport_the_native_provider_uses_websocket() {
    let (broker, base) = remote_only_broker().await;
    let provider = NativeProvider::new(websocket_url(&base)).workers(1);
    assert_eq!(join_and_echo(&broker, &base, provider).await["transport"], "websocket");

    let error =
        NativeProvider::new(websocket_url(&base)).transport(TransportChoice::WebTransport).run().await.expect_err("no WebTransport");
    assert!(matches!(&error, ProviderError::Connect(reason) if reason == "the broker does not offer WebTransport"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_webtransport_endpoint_falls_back_to_websocket() {
    let broker = Wasimoff::builder().limits(support::test_limits()).fallback(FallbackPolicy::Never).build().expect("build broker");
    support::upload_fixtures(&broker).await;
    // The host answers `…/provider/info` itself, offering a UDP port where nothing answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
    let port = silent.local_addr().expect("address").port();
    let info = json!({"protocol_version": 1, "websocket": "/wasimoff/provider/ws",
        "webtransport": {"port": port, "path": "/wasimoff/provider/wt", "certificate_hashes": ["ab".repeat(32)]}});
    let app = axum::Router::new()
        .route("/wasimoff/provider/info", axum::routing::get(move || async move { axum::Json(info) }))
        .fallback_service(support::host_app(&broker));
    let base = support::serve(app).await;

    let error = NativeProvider::new(websocket_url(&base)).transport(TransportChoice::WebTransport).run().await.expect_err("silence");
    assert!(matches!(&error, ProviderError::Connect(reason) if reason == "WebTransport: no answer within 3000 ms"), "{error}");
    let provider = NativeProvider::new(websocket_url(&base)).workers(1);
    assert_eq!(join_and_echo(&broker, &base, provider).await["transport"], "websocket");
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_module_cache_evicts_and_the_broker_sends_the_module_again() {
    let (broker, base) = remote_only_broker().await;
    let provider = tokio::spawn(NativeProvider::new(websocket_url(&base)).workers(1).cached_modules(1).run());
    wait_for_providers_within(&base, 1, JOIN).await;
    for (name, args) in [("echo", &["echo", "a"][..]), ("exit", &["exit", "3"]), ("echo", &["echo", "b"])] {
        let result = broker.run(task(name, args)).await;
        let status = result.map(|output| output.status).expect("runs");
        assert_eq!(status, if name == "exit" { 3 } else { 0 });
        let state = cluster(&base).await;
        assert_eq!(state["providers"][0]["modules_cached"], 1, "the broker heard of the eviction: {state}");
    }
    provider.abort();
}
