//! Trust and verification over real sockets and processes: a lying provider (a real
//! `wasimoff-provider` or native provider behind a test-only WebSocket proxy that forges the
//! stdout of every result it carries) is outvoted and quarantined, caught by spot checks;
//! a token-trusted provider's results stand alone; refused providers hear why; malformed
//! `verify` values are a 400 with the reason.

use crate::providers::{RAW_VERSION, cluster, connect, hear, say, wait_for, wait_for_providers_within};
use crate::support::{self, client, task};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use wasimoff::native::{NativeProvider, ProviderError, TransportChoice};
use wasimoff::protocol::{Hello, MAX_FRAME_BYTES, Outcome, ProviderKind, ToBroker, ToProvider, decode, encode};
use wasimoff::{Admission, FallbackPolicy, Job, Limits, RemoteAddress, TaskErrorKind, Verify, Wasimoff};

/// How long providers have to join (native providers try WebSocket directly here).
const JOIN: Duration = Duration::from_secs(20);

/// What the lying proxy appends to every stdout it carries.
const FORGED: &str = "forged by the liar\n";

fn websocket_url(base: &str) -> String {
    format!("{}/wasimoff/provider/ws", base.replace("http://", "ws://"))
}

/// Hands the client's address to the broker, as a host does with axum's `ConnectInfo`.
async fn remote_address(mut request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    if let Some(axum::extract::ConnectInfo(address)) = request.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>().copied() {
        request.extensions_mut().insert(RemoteAddress(address));
    }
    next.run(request).await
}

/// A broker with the fixtures that runs nothing locally unless verification needs it, served
/// with provider addresses known; returns it and its base URL.
async fn trust_broker(limits: Limits, admission: Option<fn(&wasimoff::AdmissionRequest<'_>) -> Admission>) -> (Wasimoff, String) {
    let mut builder = Wasimoff::builder().limits(limits).fallback(FallbackPolicy::Never);
    if let Some(admission) = admission {
        builder = builder.admission(admission);
    }
    let broker = builder.build().expect("build broker");
    support::upload_fixtures(&broker).await;
    let app = support::host_app(&broker).layer(axum::middleware::from_fn(remote_address));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.expect("serve") });
    (broker, format!("http://{address}"))
}

/// Appends [`FORGED`] to the stdout of a provider's result frame; other frames pass as they are.
fn forge(frame: &[u8]) -> Vec<u8> {
    match decode::<ToBroker>(frame, MAX_FRAME_BYTES) {
        Ok(ToBroker::Result { id, outcome: Outcome::Exited { status, mut stdout, stderr, artifacts, missing_artifacts, elapsed_us } }) => {
            stdout.extend_from_slice(FORGED.as_bytes());
            let outcome = Outcome::Exited { status, stdout, stderr, artifacts, missing_artifacts, elapsed_us };
            encode(&ToBroker::Result { id, outcome }).expect("encode")
        }
        _ => frame.to_vec(),
    }
}

/// The lying provider's front: a WebSocket proxy to the broker at `base` that forges every
/// result; a real provider connects to the returned URL. Test-only: nothing like it exists in
/// the shipped provider.
async fn lying_proxy(base: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let address = listener.local_addr().expect("address");
    let upstream = websocket_url(base);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(provider) = tokio_tungstenite::accept_async(stream).await else { return };
                let Ok((broker, _)) = tokio_tungstenite::connect_async(upstream).await else { return };
                let (mut to_provider, mut from_provider) = provider.split();
                let (mut to_broker, mut from_broker) = broker.split();
                let up = async {
                    while let Some(Ok(message)) = from_provider.next().await {
                        let message = match message {
                            Message::Binary(frame) => Message::Binary(forge(&frame).into()),
                            other => other,
                        };
                        if to_broker.send(message).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async {
                    while let Some(Ok(message)) = from_broker.next().await {
                        if to_provider.send(message).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::select! {
                    () = up => {}
                    () = down => {}
                }
            });
        }
    });
    format!("ws://{address}/wasimoff/provider/ws")
}

/// `POST /api/v1/jobs` with `body`; the status and the answer.
async fn post_job(base: &str, body: &Value) -> (u16, Value) {
    let response = client().post(format!("{base}/wasimoff/api/v1/jobs")).json(body).send().await.expect("post");
    (response.status().as_u16(), response.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_outvote_a_lying_provider_process_until_it_is_quarantined() {
    let limits = Limits { strikes: 3, ..support::test_limits() };
    let (broker, base) = trust_broker(limits, None).await;
    let honest: Vec<_> =
        (0..2).map(|i| tokio::spawn(NativeProvider::new(websocket_url(&base)).name(format!("honest-{i}")).workers(1).run())).collect();
    let proxy = lying_proxy(&base).await;
    let mut liar = tokio::process::Command::new(env!("CARGO_BIN_EXE_wasimoff-provider"))
        .args([proxy.as_str(), "--workers", "1", "--name", "liar", "--transport", "websocket"])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the provider binary");
    let state = wait_for_providers_within(&base, 3, JOIN).await;
    let liar_id = state["providers"].as_array().into_iter().flatten().find(|p| p["name"] == "liar").map(|p| p["id"].clone());
    let liar_id = liar_id.and_then(|id| id.as_str().map(String::from)).expect("the liar joined");

    let tasks: Vec<Value> = (0..24).map(|n| json!({"args": ["echo", format!("task {n}")]})).collect();
    let job = json!({"parent": {"binary": {"ref": "echo.wasm"}, "verify": {"replicas": 2}}, "tasks": tasks});
    let (status, answer) = post_job(&base, &job).await;
    assert_eq!(status, 200, "{answer}");
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 24);
    for (n, result) in results.iter().enumerate() {
        let result = &result["result"];
        assert_eq!(result["stdout"], format!("argc=2\nargv[0]=echo\nargv[1]=task {n}\n"), "{result}");
        let verified_by = result["verified_by"].as_array().expect("verified_by");
        assert_eq!(verified_by.len(), 2, "{result}");
        assert!(!verified_by.contains(&Value::from(liar_id.clone())), "the liar confirmed nothing: {result}");
    }

    let exit = tokio::time::timeout(JOIN, liar.wait()).await.expect("the liar exits").expect("status");
    assert_eq!(exit.code(), Some(1), "a refused provider exits with 1");
    let mut stderr = String::new();
    if let Some(mut pipe) = liar.stderr.take() {
        tokio::io::AsyncReadExt::read_to_string(&mut pipe, &mut stderr).await.expect("stderr");
    }
    assert!(
        stderr
            .contains("the broker refused this provider: quarantined: 3 of this provider's results lost verification votes within 3600 s"),
        "{stderr}"
    );
    let state = wait_for_providers_within(&base, 2, JOIN).await;
    let verification = &state["verification"];
    assert_eq!((&verification["strikes"], &verification["quarantines"]), (&json!(3), &json!(1)), "{state}");
    assert_eq!(verification["verified"], 24);
    assert_eq!(verification["unverified"], 0);
    assert!(state["providers"].as_array().into_iter().flatten().all(|p| p["strikes"] == 0 && p["trust"] == "untrusted"), "{state}");

    let mut socket = connect(&base, None).await.expect("connect");
    say(&mut socket, &ToBroker::Hello(hello(None))).await;
    let ToProvider::Refused { reason } = hear(&mut socket).await else { panic!("a quarantined address is refused") };
    assert!(reason.starts_with("this address is quarantined for another "), "{reason}");

    let metrics = client().get(format!("{base}/wasimoff/api/v1/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("wasimoff_verification_strikes_total 3"), "{metrics}");
    assert!(metrics.contains("wasimoff_verification_quarantines_total 1"), "{metrics}");
    assert!(metrics.contains("wasimoff_verified_tasks_total 24"), "{metrics}");
    honest.iter().for_each(tokio::task::JoinHandle::abort);
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spot_check_catches_every_lie() {
    let limits = Limits { strikes: 100, ..support::test_limits() };
    let (broker, base) = trust_broker(limits, None).await;
    let proxy = lying_proxy(&base).await;
    let liar = tokio::spawn(NativeProvider::new(proxy).name("liar").workers(1).transport(TransportChoice::WebSocket).run());
    wait_for_providers_within(&base, 1, JOIN).await;

    let tasks = (0..6).map(|n| task("echo", &["echo", &n.to_string()]).verify(Verify::spot_check(1.0))).collect();
    let results = broker.run_job(Job { parent: None, tasks }).await;
    for (n, result) in results.into_iter().enumerate() {
        let output = result.expect("a checked result");
        assert_eq!(String::from_utf8_lossy(&output.stdout), format!("argc=2\nargv[0]=echo\nargv[1]={n}\n"));
        assert_eq!(output.verified_by, ["local"], "the trusted re-run's result replaced the lie");
    }
    let verification = broker.cluster().verification;
    assert_eq!((verification.spot_checks, verification.disagreements, verification.strikes), (6, 6, 6));
    assert_eq!(cluster(&base).await["providers"][0]["strikes"], 6);
    liar.abort();
}

/// A native provider's hello, presenting `token`.
fn hello(token: Option<&str>) -> Hello {
    Hello {
        versions: vec![RAW_VERSION],
        kind: ProviderKind::Native,
        name: "raw".into(),
        workers: 1,
        prefetch: 0,
        token: token.map(String::from),
    }
}

fn trust_s3cret(request: &wasimoff::AdmissionRequest<'_>) -> Admission {
    Admission::trust_token("s3cret")(request)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_trusted_native_provider_is_accepted_alone() {
    let (broker, base) = trust_broker(support::test_limits(), Some(trust_s3cret)).await;
    let provider =
        tokio::spawn(NativeProvider::new(websocket_url(&base)).token("s3cret").workers(1).transport(TransportChoice::WebSocket).run());
    let state = wait_for_providers_within(&base, 1, JOIN).await;
    assert_eq!(state["providers"][0]["trust"], "trusted");
    let id = state["providers"][0]["id"].as_str().expect("an id").to_string();
    let output = broker.run(task("echo", &["echo", "trusted"]).verify(Verify::replicas(3))).await.expect("runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "argc=2\nargv[0]=echo\nargv[1]=trusted\n");
    assert_eq!((output.ran_on.clone(), output.verified_by), (id.clone(), vec![id]));
    assert_eq!(broker.cluster().verification.verified, 1);
    provider.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_provider_hears_the_reason_in_the_close() {
    let (_broker, base) = trust_broker(support::test_limits(), Some(trust_s3cret)).await;
    let mut socket = connect(&base, None).await.expect("connect");
    say(&mut socket, &ToBroker::Hello(hello(Some("guess")))).await;
    let ToProvider::Refused { reason } = hear(&mut socket).await else { panic!("a wrong token is refused") };
    assert_eq!(reason, "the provider token is wrong");
    let close = loop {
        match socket.next().await {
            Some(Ok(Message::Close(Some(close)))) => break close,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!((close.code, close.reason.as_str()), (CloseCode::Policy, "the provider token is wrong"));

    let error =
        NativeProvider::new(websocket_url(&base)).token("guess").transport(TransportChoice::WebSocket).run().await.expect_err("refused");
    assert!(matches!(&error, ProviderError::Refused(reason) if reason == "the provider token is wrong"), "{error}");
    let (_, base) =
        trust_broker(support::test_limits(), Some(|_: &wasimoff::AdmissionRequest<'_>| Admission::Refuse("closed today".into()))).await;
    let error = NativeProvider::new(websocket_url(&base)).transport(TransportChoice::WebSocket).run().await.expect_err("refused");
    assert!(matches!(&error, ProviderError::Refused(reason) if reason == "closed today"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_verify_values_are_refused_with_the_reason() {
    let (broker, base) = support::http_broker().await;
    let cases = [
        (json!({"replicas": 0}), "verify.replicas must be from 1 to 16, not 0"),
        (json!({"replicas": 2, "quorum": 3}), "verify.quorum must be a majority of the 2 replicas (at most 2), not 3"),
        (json!({"spot_check": 2.0}), "verify.spot_check must be a probability from 0 to 1, not 2"),
        (json!({"replicas": 2, "spot_check": 0.5}), "verify takes either replicas or spot_check, not both"),
        (json!({"copies": 2}), "unknown field `copies`"),
    ];
    for (verify, reason) in cases {
        let body = json!({"binary": {"ref": "echo.wasm"}, "verify": verify});
        let response = client().post(format!("{base}/wasimoff/api/v1/tasks")).json(&body).send().await.expect("post");
        assert_eq!(response.status(), 400, "{verify}");
        let answer: Value = response.json().await.expect("json");
        assert_eq!(answer["error"]["kind"], "bad_request");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{verify}: {message}");

        let job = json!({"parent": {"binary": {"ref": "echo.wasm"}, "verify": verify}, "tasks": [{}]});
        let (status, answer) = post_job(&base, &job).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap_or_default().contains(reason), "{answer}");
    }
    let error = broker.run(task("echo", &["echo"]).verify(Verify::replicas(0))).await.expect_err("refused");
    assert_eq!((error.kind, error.message.as_str()), (TaskErrorKind::InvalidTask, "verify.replicas must be from 1 to 16, not 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_tasks_inherit_verify_from_the_job_parent_and_the_local_runner_settles_them() {
    let (_broker, base) = support::http_broker().await;
    let job = json!({"parent": {"binary": {"ref": "echo.wasm"}, "verify": {"replicas": 2}}, "tasks": [{"args": ["echo", "a"]}, {"args": ["echo", "b"], "verify": {"spot_check": 0.5}}]});
    let (status, answer) = post_job(&base, &job).await;
    assert_eq!(status, 200, "{answer}");
    for (n, arg) in ["a", "b"].iter().enumerate() {
        let result = &answer["results"][n]["result"];
        assert_eq!(result["stdout"], format!("argc=2\nargv[0]=echo\nargv[1]={arg}\n"));
        assert_eq!(result["verified_by"], json!(["local"]), "{result}");
    }
    let state = wait_for(&base, |state| state["verification"]["verified"] == 2).await;
    assert_eq!(state["verification"]["disagreements"], 0);
}
