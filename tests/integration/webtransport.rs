//! Providers over WebTransport with a real QUIC client (wtransport's client side, pinned to
//! the certificate hashes from `…/provider/info`): sessions, tasks, frame limits, origins,
//! certificate rotation, shutdown, and the fallback when WebTransport is off.

use crate::examples;
use crate::providers::{self, RAW_VERSION, cluster, hello, wait_for_providers};
use crate::scheduler::exited;
use crate::support::{self, client, spawn_run, task};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;
use wasimoff::protocol::{MAX_FRAME_BYTES, ToBroker, ToProvider, VERSION, VERSIONS, decode, encode};
use wasimoff::{BuildError, CertificateSource, Limits, SelfSigned, Wasimoff, WebTransport, WebTransportError};
use wtransport::endpoint::ConnectOptions;
use wtransport::endpoint::endpoint_side::Client;
use wtransport::error::{ConnectingError, ConnectionError};
use wtransport::tls::Sha256Digest;
use wtransport::{ClientConfig, Connection, Endpoint, RecvStream, SendStream};

/// How long any polled condition may take.
const DEADLINE: Duration = Duration::from_secs(15);

/// A broker with the fixtures, served in a host app, with WebTransport started on the host's
/// own address; returns it and the base URL.
async fn wt_broker(limits: Limits, webtransport: WebTransport) -> (Wasimoff, String) {
    let broker = Wasimoff::builder().limits(limits).webtransport(webtransport).build().expect("build broker");
    support::upload_fixtures(&broker).await;
    let base = support::serve(support::host_app(&broker)).await;
    let udp = broker.start_webtransport(http_address(&base)).expect("start WebTransport");
    assert_eq!(udp, http_address(&base), "WebTransport listens on the host's own address");
    (broker, base)
}

fn http_address(base: &str) -> SocketAddr {
    base.trim_start_matches("http://").parse().expect("a socket address")
}

async fn info(base: &str) -> Value {
    let response = client().get(format!("{base}/wasimoff/provider/info")).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

fn hashes(info: &Value) -> Vec<String> {
    let hashes = info["webtransport"]["certificate_hashes"].as_array().unwrap_or_else(|| panic!("no hashes in {info}"));
    hashes.iter().map(|hash| hash.as_str().unwrap().to_string()).collect()
}

fn digest(hash: &str) -> Sha256Digest {
    let bytes: [u8; 32] = hex::decode(hash).expect("hex").try_into().expect("32 bytes");
    Sha256Digest::new(bytes)
}

/// Polls `info` until `done` holds for it.
async fn info_until(base: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let info = info(base).await;
        if done(&info) {
            return info;
        }
        assert!(Instant::now() < deadline, "{what} never happened: {info}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A WebTransport session to the broker at `base`, trusting only certificates with `hashes`.
async fn connect_to(
    base: &str,
    path: &str,
    origin: Option<&str>,
    hashes: &[String],
) -> Result<(Endpoint<Client>, Connection), ConnectingError> {
    let port = info(base).await["webtransport"]["port"].as_u64().expect("a port");
    let config = ClientConfig::builder()
        .with_bind_address("127.0.0.1:0".parse().unwrap())
        .with_server_certificate_hashes(hashes.iter().map(|hash| digest(hash)))
        .build();
    let endpoint = Endpoint::client(config).expect("client endpoint");
    let mut options = ConnectOptions::builder(format!("https://127.0.0.1:{port}{path}"));
    if let Some(origin) = origin {
        options = options.add_header("origin", origin);
    }
    let connection = endpoint.connect(options).await?;
    Ok((endpoint, connection))
}

/// A provider speaking the protocol by hand over WebTransport.
struct Provider {
    _endpoint: Endpoint<Client>,
    connection: Connection,
    send: SendStream,
    recv: RecvStream,
}

impl Provider {
    /// Connects with `hashes` and opens the session's stream.
    async fn open(base: &str, hashes: &[String]) -> Provider {
        let (endpoint, connection) = connect_to(base, "/wasimoff/provider/wt", None, hashes).await.expect("connect");
        let (send, recv) = connection.open_bi().await.expect("open a stream").await.expect("stream opened");
        Provider { _endpoint: endpoint, connection, send, recv }
    }

    /// Connects and is welcomed with `workers` workers; returns the provider id too.
    async fn join(base: &str, hashes: &[String], workers: u32) -> (Provider, String) {
        let mut provider = Provider::open(base, hashes).await;
        provider.say(&hello(vec![RAW_VERSION], workers)).await;
        match provider.hear().await {
            ToProvider::Welcome { provider_id, .. } => (provider, provider_id.to_string()),
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    async fn say_raw(&mut self, frame: &[u8]) {
        let length = u32::try_from(frame.len()).unwrap().to_be_bytes();
        self.send.write_all(&length).await.unwrap();
        self.send.write_all(frame).await.unwrap();
    }

    async fn say(&mut self, message: &ToBroker) {
        self.say_raw(&encode(message).unwrap()).await;
    }

    /// The next message, answering pings on the way.
    async fn hear(&mut self) -> ToProvider {
        loop {
            let mut length = [0u8; 4];
            self.recv.read_exact(&mut length).await.expect("a frame header");
            let mut frame = vec![0u8; u32::from_be_bytes(length) as usize];
            self.recv.read_exact(&mut frame).await.expect("a frame");
            match decode(&frame, MAX_FRAME_BYTES).unwrap() {
                ToProvider::Ping { nonce } => self.say(&ToBroker::Pong { nonce }).await,
                message => return message,
            }
        }
    }

    /// Reads the broker's side of the stream to its end, then returns how the broker
    /// closed the session: its application error code and reason.
    async fn closing(mut self) -> (u64, String) {
        let mut rest = Vec::new();
        let mut buffer = [0u8; 4096];
        while let Ok(Some(n)) = self.recv.read(&mut buffer).await {
            rest.extend_from_slice(&buffer[..n]);
        }
        match self.connection.closed().await {
            ConnectionError::ApplicationClosed(close) => (close.code().into_inner(), String::from_utf8_lossy(close.reason()).into_owned()),
            other => panic!("expected an application close, got {other:?}"),
        }
    }

    /// Leaves as a well-behaved provider: finishes its side of the stream, reads the
    /// broker's side to its clean end (pings may come first), then closes the session.
    async fn leave(mut self) {
        self.send.finish().await.expect("the broker acknowledges the end of the stream");
        let mut buffer = [0u8; 4096];
        loop {
            match self.recv.read(&mut buffer).await {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(error) => panic!("the broker did not finish its side of the stream: {error}"),
            }
        }
        self.connection.close(0u32.into(), b"bye");
    }
}

/// Runs one echo task on `broker`, answers it as `provider`, and checks the result came
/// from there; returns whether the `run` carried the module's bytes.
async fn run_one(broker: &Wasimoff, provider: &mut Provider, provider_id: &str, words: &str) -> bool {
    let running = spawn_run(broker, task("echo", &["echo", words]));
    let ToProvider::Run { id, task } = provider.hear().await else { panic!("expected run") };
    assert_eq!(task.args, ["echo", words]);
    provider.say(&ToBroker::Result { id, outcome: exited(words) }).await;
    let output = running.await.unwrap().expect("the task succeeds");
    assert_eq!((output.stdout.as_ref(), output.ran_on.as_str()), (words.as_bytes(), provider_id));
    task.module_bytes.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_is_welcomed_over_webtransport_and_shown_in_the_cluster() {
    let (_broker, base) = wt_broker(support::test_limits(), WebTransport::default()).await;
    let info = info(&base).await;
    let port = http_address(&base).port();
    assert_eq!(info["protocol_version"], 2);
    assert_eq!(info["websocket"], "/wasimoff/provider/ws");
    assert_eq!((&info["webtransport"]["port"], &info["webtransport"]["path"]), (&json!(port), &json!("/wasimoff/provider/wt")));
    let hashes = hashes(&info);
    assert_eq!(hashes.len(), 1);
    assert!(hashes[0].len() == 64 && hashes[0].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{hashes:?}");

    let mut provider = Provider::open(&base, &hashes).await;
    provider.say(&hello(VERSIONS.to_vec(), 3)).await;
    let ToProvider::Welcome { version, provider_id, heartbeat_ms, max_frame_bytes, .. } = provider.hear().await else {
        panic!("expected welcome");
    };
    assert_eq!((version, heartbeat_ms, max_frame_bytes), (VERSION, 5000, MAX_FRAME_BYTES as u64));
    let state = wait_for_providers(&base, 1).await;
    let shown = &state["providers"][0];
    assert_eq!((&shown["id"], &shown["transport"], &shown["workers"]), (&json!(provider_id), &json!("webtransport"), &json!(3)));

    provider.say(&ToBroker::Workers { count: 5 }).await;
    let deadline = Instant::now() + DEADLINE;
    while cluster(&base).await["providers"][0]["workers"] != 5 {
        assert!(Instant::now() < deadline, "the worker count never changed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    provider.leave().await;
    assert_eq!(wait_for_providers(&base, 0).await["providers"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_run_on_a_webtransport_provider_and_modules_travel_once() {
    let (broker, base) = wt_broker(support::test_limits(), WebTransport::default()).await;
    let (mut provider, id) = Provider::join(&base, &hashes(&info(&base).await), 1).await;
    wait_for_providers(&base, 1).await;
    assert!(run_one(&broker, &mut provider, &id, "first").await, "the first task carries the module");
    assert!(!run_one(&broker, &mut provider, &id, "second").await, "the second task carries only the digest");
    assert_eq!(cluster(&base).await["providers"][0]["tasks_done"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_length_prefix_closes_the_session_with_1009() {
    let limits = Limits { provider_frame_bytes: 1024, ..support::test_limits() };
    let (_broker, base) = wt_broker(limits, WebTransport::default()).await;
    let mut provider = Provider::open(&base, &hashes(&info(&base).await)).await;
    provider.say(&hello(vec![RAW_VERSION], 1)).await;
    assert!(matches!(provider.hear().await, ToProvider::Welcome { max_frame_bytes: 1024, .. }));
    wait_for_providers(&base, 1).await;
    provider.send.write_all(&4096u32.to_be_bytes()).await.unwrap();
    let (code, reason) = provider.closing().await;
    assert_eq!((code, reason.as_str()), (1009, "frame too large: 4096 bytes, the limit is 1024"));
    wait_for_providers(&base, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_and_a_late_hello_close_with_their_codes() {
    let (_broker, base) = wt_broker(support::test_limits(), WebTransport::default()).await;
    let hashes = hashes(&info(&base).await);
    let (mut provider, _) = Provider::join(&base, &hashes, 1).await;
    provider.say_raw(b"\xc1not msgpack").await;
    let (code, reason) = provider.closing().await;
    assert_eq!(code, 1007);
    assert!(reason.starts_with("malformed frame"), "{reason}");

    let (mut provider, _) = Provider::join(&base, &hashes, 1).await;
    provider.say(&hello(vec![RAW_VERSION], 1)).await;
    assert_eq!(provider.closing().await, (1002, "hello twice".to_string()));

    let mut provider = Provider::open(&base, &hashes).await;
    provider.say(&hello(vec![99], 1)).await;
    let reason = "incompatible protocol: the broker speaks versions [1, 2], the provider offered [99]".to_string();
    assert_eq!(provider.hear().await, ToProvider::Refused { reason: reason.clone() });
    assert_eq!(provider.closing().await, (1008, reason));
    assert_eq!(wait_for_providers(&base, 0).await["providers"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_and_other_paths_are_refused() {
    let (_broker, base) = wt_broker(support::test_limits(), WebTransport::default()).await;
    let hashes = hashes(&info(&base).await);
    let path = "/wasimoff/provider/wt";
    let refused = connect_to(&base, path, Some("http://evil.example"), &hashes).await;
    assert!(matches!(refused, Err(ConnectingError::SessionRejected)), "a foreign origin was not refused: {:?}", refused.err());
    let wrong_path = connect_to(&base, "/wasimoff/provider/ws", None, &hashes).await;
    assert!(matches!(wrong_path, Err(ConnectingError::SessionRejected)), "another path was not refused: {:?}", wrong_path.err());
    let own = format!("http://{}", http_address(&base));
    for allowed in [own.as_str(), "http://localhost:9999", "https://127.0.0.1:1"] {
        assert!(connect_to(&base, path, Some(allowed), &hashes).await.is_ok(), "{allowed} was refused");
    }
    assert_eq!(cluster(&base).await["providers"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_limit_refuses_more_sessions() {
    let limits = Limits { max_providers: 1, ..support::test_limits() };
    let (_broker, base) = wt_broker(limits, WebTransport::default()).await;
    let hashes = hashes(&info(&base).await);
    let (_first, _) = Provider::join(&base, &hashes, 1).await;
    wait_for_providers(&base, 1).await;
    let second = connect_to(&base, "/wasimoff/provider/wt", None, &hashes).await;
    assert!(matches!(second, Err(ConnectingError::SessionRejected)), "a second provider was not refused: {:?}", second.err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_rotates_without_dropping_sessions() {
    let short = SelfSigned { validity: Duration::from_secs(4), renew_before: Duration::from_secs(2) };
    let (broker, base) = wt_broker(support::test_limits(), WebTransport::default().certificate(short.into())).await;
    let first = hashes(&info(&base).await);
    assert_eq!(first.len(), 1);
    let (mut old, old_id) = Provider::join(&base, &first, 1).await;

    let overlap = info_until(&base, "a rotation", |info| hashes(info).len() == 2).await;
    let both = hashes(&overlap);
    assert_eq!(both[1], first[0], "the previous hash stays published, after the new one");
    let (new, _) = Provider::join(&base, &both[..1], 1).await;
    let stale = connect_to(&base, "/wasimoff/provider/wt", None, &first).await;
    assert!(stale.is_err(), "new connections get the new certificate");
    new.leave().await;
    wait_for_providers(&base, 1).await;

    info_until(&base, "the first certificate's expiry", |info| !hashes(info).contains(&first[0])).await;
    assert!(run_one(&broker, &mut old, &old_id, "still here").await);
    assert_eq!(cluster(&base).await["providers"][0]["id"], old_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pem_certificate_is_served_and_bad_certificates_fail_the_build() {
    let identity = wtransport::Identity::self_signed(["localhost", "127.0.0.1"]).unwrap();
    let chain = identity.certificate_chain().as_slice()[0].to_pem();
    let key_pem = identity.private_key().to_secret_pem();
    let expected = hex::encode(identity.certificate_chain().as_slice()[0].hash().as_ref());
    let pem = WebTransport::default().certificate(CertificateSource::Pem { chain: chain.clone(), key: key_pem.clone() });
    let (_broker, base) = wt_broker(support::test_limits(), pem).await;
    assert_eq!(hashes(&info(&base).await), std::slice::from_ref(&expected));
    let (provider, _) = Provider::join(&base, &[expected], 2).await;
    assert_eq!(wait_for_providers(&base, 1).await["providers"][0]["transport"], "webtransport");
    provider.leave().await;

    let other_key = wtransport::Identity::self_signed(["localhost"]).unwrap().private_key().to_secret_pem();
    let not_pem = "-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n".to_string();
    let refusals = [
        (chain.clone(), other_key, "unusable certificate or key: keys may not be consistent"),
        (chain, not_pem, "invalid PEM private key"),
        (String::new(), key_pem, "the PEM certificate chain holds no certificate"),
    ];
    for (chain, key, expected) in refusals {
        let built = Wasimoff::builder().webtransport(WebTransport::default().certificate(CertificateSource::Pem { chain, key })).build();
        let Err(BuildError::WebTransport(WebTransportError::Certificate(reason))) = built else { panic!("{built:?}") };
        assert!(reason.starts_with(expected), "{reason}");
    }
    let too_long = SelfSigned::valid_for(Duration::from_secs(15 * 24 * 3600));
    let built = Wasimoff::builder().webtransport(WebTransport::default().certificate(too_long.into())).build();
    assert!(matches!(built, Err(BuildError::WebTransport(WebTransportError::Certificate(_)))), "{built:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_the_endpoint_and_its_sessions() {
    let (broker, base) = wt_broker(support::test_limits(), WebTransport::default()).await;
    let (provider, _) = Provider::join(&base, &hashes(&info(&base).await), 1).await;
    broker.shutdown().await;
    assert!(broker.cluster().providers.is_empty(), "shutdown returned before the session ended");
    assert_eq!(provider.closing().await, (1001, "the broker is shutting down".to_string()));
    assert_eq!(info(&base).await["webtransport"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_info_says_null_when_webtransport_is_disabled() {
    let deny_all = tower::layer::layer_fn(|_: wasimoff::ClientRoutes| {
        tower::service_fn(|_: http::Request<wasimoff::layers::Body>| async {
            let mut denied = http::Response::new(wasimoff::layers::Body::default());
            *denied.status_mut() = http::StatusCode::UNAUTHORIZED;
            Ok::<_, std::convert::Infallible>(denied)
        })
    });
    let broker = Wasimoff::builder().webtransport(WebTransport::disabled()).client_layer(deny_all).build().unwrap();
    let base = support::serve(support::host_app(&broker)).await;
    assert!(matches!(broker.start_webtransport(http_address(&base)), Err(WebTransportError::Disabled)));
    let expected = json!({"protocol_version": 2, "websocket": "/wasimoff/provider/ws", "webtransport": null});
    assert_eq!(info(&base).await, expected);
    let cross = client().get(format!("{base}/wasimoff/provider/info")).header("origin", "http://localhost:3000").send().await.unwrap();
    assert_eq!(cross.headers()["access-control-allow-origin"], "http://localhost:3000");
    let foreign = client().get(format!("{base}/wasimoff/provider/info")).header("origin", "http://evil.example").send().await.unwrap();
    assert!(!foreign.headers().contains_key("access-control-allow-origin"));
    let post = client().post(format!("{base}/wasimoff/provider/info")).send().await.unwrap();
    assert_eq!(post.status(), reqwest::StatusCode::METHOD_NOT_ALLOWED);
    let guarded = client().get(format!("{base}/wasimoff/api/v1/cluster")).send().await.unwrap();
    assert_eq!(guarded.status(), reqwest::StatusCode::UNAUTHORIZED, "the client routes are guarded, the info is not");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_udp_port_leaves_the_broker_on_websocket() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let broker = Wasimoff::builder().webtransport(WebTransport::bind(address)).build().expect("the broker builds anyway");
    assert!(matches!(broker.start_webtransport(address), Err(WebTransportError::Bind { .. })));
    let base = support::serve(support::host_app(&broker)).await;
    assert_eq!(info(&base).await["webtransport"], Value::Null);
    let mut socket = providers::connect(&base, None).await.unwrap();
    providers::say(&mut socket, &hello(vec![RAW_VERSION], 1)).await;
    assert!(matches!(providers::hear(&mut socket).await, ToProvider::Welcome { .. }));
    assert_eq!(wait_for_providers(&base, 1).await["providers"][0]["transport"], "websocket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_axum_host_serves_webtransport_on_its_own_port_unless_turned_off() {
    let host = examples::start("axum-host", crate::examples::AXUM_HOST_BANNER, &[]);
    let published = info(&host.base).await;
    assert_eq!(published["webtransport"]["port"], http_address(&host.base).port());
    let (provider, _) = Provider::join(&host.base, &hashes(&published), 2).await;
    assert_eq!(wait_for_providers(&host.base, 1).await["providers"][0]["transport"], "webtransport");
    provider.leave().await;

    let host = examples::start("hyper-host", crate::examples::HYPER_HOST_BANNER, &[("WASIMOFF_WEBTRANSPORT", "off")]);
    assert_eq!(
        host.banner[crate::examples::HYPER_HOST_BANNER - 1],
        "  UDP  off  WebTransport for providers: WebTransport is disabled; they use WebSocket"
    );
    assert_eq!(info(&host.base).await["webtransport"], Value::Null);
}
