//! Browser providers over WebTransport in a real headless Chromium: the conformance table over
//! HTTP/3, the fallback to WebSocket when the endpoint is off, unreachable or silent (blocked
//! UDP), and a provider on each transport sharing a sweep.

use crate::browser::{local_tsp, provider_page, run_sweep};
use crate::conformance::run_table;
use crate::support;
use std::net::SocketAddr;
use wasimoff::{FallbackPolicy, Wasimoff, WebTransport};
use wasimoff_chromium::Chromium;

/// A broker with the fixtures uploaded, served in a host app, with `webtransport`; when that
/// is the default, the endpoint is started on the HTTP listener's address.
async fn broker(policy: FallbackPolicy, webtransport: WebTransport) -> (Wasimoff, String) {
    let start_on_host = webtransport == WebTransport::on_host_address();
    let builder = Wasimoff::builder().limits(support::test_limits()).fallback(policy).webtransport(webtransport);
    let broker = builder.build().expect("build broker");
    support::upload_fixtures(&broker).await;
    let base = support::serve(support::host_app(&broker)).await;
    if start_on_host {
        let address: SocketAddr = base.trim_start_matches("http://").parse().expect("host address");
        broker.start_webtransport(address).expect("WebTransport starts on the host's port");
    }
    (broker, base)
}

fn transports(broker: &Wasimoff) -> Vec<String> {
    let mut transports: Vec<String> = broker.cluster().providers.iter().map(|p| p.transport.to_string()).collect();
    transports.sort();
    transports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_provider_runs_the_conformance_table_over_webtransport() {
    let (broker, base) = broker(FallbackPolicy::Never, WebTransport::on_host_address()).await;
    let chromium = Chromium::launch().await;
    let (page, id) = provider_page(&chromium, &base, 4).await;
    assert_eq!(page.evaluate("window.wasimoffProvider.state().transport").await, "webtransport");
    assert_eq!(transports(&broker), ["webtransport"]);
    run_table(broker.clone(), &id).await;
    assert_eq!(page.evaluate("window.wasimoffProvider.state().connection").await, "connected");

    // The provider page after the table, for the docs (README shows a copy).
    let screenshot = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/provider-page.png");
    page.set_viewport(1000, 860).await;
    page.wait_for("document.querySelector('[data-field=tasksDone]').textContent !== '0'", std::time::Duration::from_secs(10)).await;
    page.screenshot(&screenshot).await;
    assert!(std::fs::metadata(&screenshot).expect("screenshot written").len() > 10_000);
}

/// Opens the provider page against `base` and expects it on WebSocket, with `log` in its log.
async fn expect_websocket_fallback(base: &str, broker: &Wasimoff, log: &str) {
    let chromium = Chromium::launch().await;
    let (page, id) = provider_page(&chromium, base, 1).await;
    let state = page.evaluate("window.wasimoffProvider.state()").await;
    assert_eq!(state["transport"], "websocket");
    let lines = state["log"].as_array().expect("log").iter().filter_map(|l| l.as_str()).collect::<Vec<_>>().join("\n");
    assert!(lines.contains(log), "the log should say {log:?}:\n{lines}");
    assert_eq!(transports(broker), ["websocket"]);
    let output = broker.run(support::task("echo", &["echo", "over websocket"])).await.expect("the task runs");
    assert_eq!(output.ran_on, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_uses_websocket_when_webtransport_is_disabled() {
    let (broker, base) = broker(FallbackPolicy::Never, WebTransport::disabled()).await;
    expect_websocket_fallback(&base, &broker, "connected over websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_falls_back_to_websocket_when_webtransport_is_unreachable() {
    // The endpoint listens on 127.0.0.2; the page reaches the broker as 127.0.0.1, where
    // that UDP port is closed.
    let (broker, base) = broker(FallbackPolicy::Never, WebTransport::bind("127.0.0.2:0".parse().expect("address"))).await;
    expect_websocket_fallback(&base, &broker, "WebTransport failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_falls_back_to_websocket_when_udp_is_blocked() {
    // A socket that swallows every datagram sits where the page looks for the endpoint, as a
    // firewall that drops UDP would: the handshake never answers.
    let blackhole = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind a UDP socket");
    let port = blackhole.local_addr().expect("address").port();
    tokio::spawn(async move {
        let mut buffer = [0u8; 2048];
        while blackhole.recv_from(&mut buffer).await.is_ok() {}
    });
    let bind = SocketAddr::from(([127, 0, 0, 2], port));
    let (broker, base) = broker(FallbackPolicy::Never, WebTransport::bind(bind)).await;
    expect_websocket_fallback(&base, &broker, "WebTransport failed (no answer within 3000 ms)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webtransport_and_a_websocket_provider_share_a_sweep() {
    let (broker, base) = broker(FallbackPolicy::WhenNoProviders, WebTransport::on_host_address()).await;
    let expected = local_tsp(&broker, "8").await;
    let (quic, tcp) = (Chromium::launch().await, Chromium::launch().await);
    let (_quic_page, quic_id) = provider_page(&quic, &base, 2).await;
    let tcp_page = tcp.open(&format!("{base}/wasimoff/?workers=2&transport=websocket")).await;
    let tcp_id = tcp_page.wait_for("window.wasimoffProvider?.state().providerId", std::time::Duration::from_secs(30)).await;
    assert_eq!(transports(&broker), ["websocket", "webtransport"]);
    let ran_on = run_sweep(&broker, 60, "8", &expected).await;
    assert_eq!(ran_on.values().sum::<usize>(), 60);
    assert!(ran_on.contains_key(&quic_id), "the WebTransport provider ran tasks: {ran_on:?}");
    assert!(ran_on.contains_key(tcp_id.as_str().expect("id")), "the WebSocket provider ran tasks: {ran_on:?}");
    assert!(!ran_on.contains_key(wasimoff::LOCAL), "providers were connected, so nothing ran locally: {ran_on:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_reconnects_after_the_axum_host_restarts() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port();
    let listen = format!("127.0.0.1:{port}");
    let host = crate::examples::start("axum-host", crate::examples::AXUM_HOST_BANNER, &[("WASIMOFF_LISTEN", &listen)]);
    let chromium = Chromium::launch().await;
    let (page, _) = provider_page(&chromium, &host.base, 1).await;
    assert_eq!(page.evaluate("window.wasimoffProvider.state().transport").await, "webtransport");
    let base = host.base.clone();
    drop(host);

    // The killed host cannot close the QUIC connection. The provider learns of it either from
    // Chromium (a packet sent while the port was closed bounced) or, if nothing bounced, from
    // 2.5 heartbeat periods of silence; then it backs off and reconnects to the new host.
    let _restarted = crate::examples::start("axum-host", crate::examples::AXUM_HOST_BANNER, &[("WASIMOFF_LISTEN", &listen)]);
    let cluster = crate::providers::wait_for_providers_within(&base, 1, std::time::Duration::from_secs(60)).await;
    assert_eq!(cluster["providers"][0]["transport"], "webtransport");
    let second = page.wait_for("window.wasimoffProvider.state().providerId", std::time::Duration::from_secs(10)).await;
    assert_eq!(second, cluster["providers"][0]["id"]);
    let log = page.evaluate("window.wasimoffProvider.state().log.join('\\n')").await;
    let log = log.as_str().expect("log");
    assert!(log.contains("connection lost: Connection lost.") || log.contains("no heartbeat for 12500 ms"), "{log}");
    assert_eq!(log.matches("connected over webtransport as").count(), 2, "a second session: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_gives_up_on_a_silent_host_and_reconnects_when_it_answers_again() {
    let host = crate::examples::start("axum-host", crate::examples::AXUM_HOST_BANNER, &[]);
    let chromium = Chromium::launch().await;
    let (page, _) = provider_page(&chromium, &host.base, 1).await;
    assert_eq!(page.evaluate("window.wasimoffProvider.state().transport").await, "webtransport");

    // A stopped process keeps its sockets: nothing bounces, the broker just falls silent.
    host.signal("STOP");
    page.wait_for("window.wasimoffProvider.state().connection !== 'connected'", std::time::Duration::from_secs(30)).await;
    let log = page.evaluate("window.wasimoffProvider.state().log.join('\\n')").await;
    assert!(log.as_str().expect("log").contains("connection lost: no heartbeat for 12500 ms"), "{log}");

    host.signal("CONT");
    page.wait_for("window.wasimoffProvider.state().connection === 'connected'", std::time::Duration::from_secs(60)).await;
    let cluster = crate::providers::wait_for_providers_within(&host.base, 1, std::time::Duration::from_secs(30)).await;
    assert_eq!(cluster["providers"][0]["id"], page.evaluate("window.wasimoffProvider.state().providerId").await);
}
