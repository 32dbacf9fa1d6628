//! The provider endpoint over real WebSockets: handshake, version, origin, limits, frames,
//! and the cluster view of connected providers.

use crate::support::{self, client};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error, Message};
use wasimoff::protocol::{Hello, MAX_FRAME_BYTES, ProviderKind, ToBroker, ToProvider, VERSION, VERSIONS, decode, encode};
use wasimoff::{Limits, OriginPolicy, Wasimoff};

pub type Socket = WebSocketStream<TcpStream>;

pub async fn connect(base: &str, origin: Option<&str>) -> Result<Socket, Error> {
    let address = base.trim_start_matches("http://");
    let mut request = format!("ws://{address}/wasimoff/provider/ws").into_client_request().unwrap();
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().unwrap());
    }
    let stream = TcpStream::connect(address).await.unwrap();
    tokio_tungstenite::client_async(request, stream).await.map(|(socket, _)| socket)
}

pub async fn say(socket: &mut Socket, message: &ToBroker) {
    socket.send(Message::Binary(encode(message).unwrap().into())).await.unwrap();
}

/// The protocol version of the test's raw providers: one message per frame, so that [`hear`]
/// reads one message per frame.
pub const RAW_VERSION: u32 = 1;

/// The next message, from a frame of one (the raw providers speak [`RAW_VERSION`]).
pub async fn hear(socket: &mut Socket) -> ToProvider {
    loop {
        match socket.next().await.expect("a frame").expect("no error") {
            Message::Binary(frame) => return decode(&frame, MAX_FRAME_BYTES).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }
}

/// The close code and reason the broker ends the connection with.
async fn closing(socket: &mut Socket) -> (CloseCode, String) {
    while let Some(frame) = socket.next().await {
        if let Ok(Message::Close(Some(close))) = frame {
            return (close.code, close.reason.to_string());
        }
    }
    panic!("the connection ended without a close frame");
}

pub fn hello(versions: Vec<u32>, workers: u32) -> ToBroker {
    ToBroker::Hello(Hello { versions, kind: ProviderKind::Native, name: "test-provider".into(), workers, prefetch: 0, token: None })
}

pub async fn cluster(base: &str) -> Value {
    client().get(format!("{base}/wasimoff/api/v1/cluster")).send().await.unwrap().json().await.unwrap()
}

pub async fn wait_for_providers(base: &str, count: usize) -> Value {
    wait_for_providers_within(base, count, std::time::Duration::from_secs(2)).await
}

/// The cluster state once it lists `count` providers, polled until `limit` has passed.
pub async fn wait_for_providers_within(base: &str, count: usize, limit: std::time::Duration) -> Value {
    let has_count = |state: &Value| state["providers"].as_array().is_some_and(|providers| providers.len() == count);
    wait_for_within(base, has_count, limit).await
}

/// The cluster state once `condition` holds, polled for up to 10 s.
pub async fn wait_for(base: &str, condition: impl Fn(&Value) -> bool) -> Value {
    wait_for_within(base, condition, std::time::Duration::from_secs(10)).await
}

pub async fn wait_for_within(base: &str, condition: impl Fn(&Value) -> bool, limit: std::time::Duration) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if let Ok(response) = client().get(format!("{base}/wasimoff/api/v1/cluster")).send().await
            && let Ok(state) = response.json::<Value>().await
            && condition(&state)
        {
            return state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the cluster never reached the expected state: {}", cluster(base).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_is_welcomed_and_shown_in_the_cluster() {
    let (_broker, base) = support::http_broker().await;
    let mut socket = connect(&base, None).await.unwrap();
    say(&mut socket, &hello(VERSIONS.to_vec(), 3)).await;
    let ToProvider::Welcome { version, provider_id, heartbeat_ms, max_frame_bytes, .. } = hear(&mut socket).await else {
        panic!("expected welcome");
    };
    assert_eq!((version, heartbeat_ms, max_frame_bytes), (VERSION, 5000, MAX_FRAME_BYTES as u64));
    let state = wait_for_providers(&base, 1).await;
    let provider = &state["providers"][0];
    assert_eq!(provider["id"], provider_id.to_string());
    assert_eq!(
        (&provider["kind"], &provider["name"], &provider["transport"]),
        (&"native".into(), &"test-provider".into(), &"websocket".into())
    );
    assert_eq!(provider["workers"], 3);

    say(&mut socket, &ToBroker::Workers { count: 5 }).await;
    for _ in 0..100 {
        if cluster(&base).await["providers"][0]["workers"] == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(cluster(&base).await["providers"][0]["workers"], 5);
    socket.close(None).await.unwrap();
    wait_for_providers(&base, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incompatible_version_is_refused_with_the_reason() {
    let (_broker, base) = support::http_broker().await;
    let mut socket = connect(&base, None).await.unwrap();
    say(&mut socket, &hello(vec![99], 1)).await;
    let reason = "incompatible protocol: the broker speaks versions [1, 2], the provider offered [99]".to_string();
    assert_eq!(hear(&mut socket).await, ToProvider::Refused { reason: reason.clone() });
    assert_eq!(closing(&mut socket).await, (CloseCode::Policy, reason));
    assert_eq!(cluster(&base).await["providers"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_message_must_be_hello() {
    let (_broker, base) = support::http_broker().await;
    let mut socket = connect(&base, None).await.unwrap();
    say(&mut socket, &ToBroker::Workers { count: 1 }).await;
    assert_eq!(hear(&mut socket).await, ToProvider::Refused { reason: "the first message must be hello".into() });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_are_checked_against_the_allow_list() {
    let (_broker, base) = support::http_broker().await;
    let host = base.trim_start_matches("http://");
    match connect(&base, Some("http://evil.example")).await {
        Err(Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("a foreign origin was not refused: {other:?}"),
    }
    for allowed in [format!("http://{host}"), "http://localhost:9999".to_string(), "http://127.0.0.1:1".to_string()] {
        let mut socket = connect(&base, Some(&allowed)).await.unwrap_or_else(|e| panic!("{allowed}: {e}"));
        say(&mut socket, &hello(vec![RAW_VERSION], 1)).await;
        assert!(matches!(hear(&mut socket).await, ToProvider::Welcome { .. }), "{allowed}");
    }

    let listed = Wasimoff::builder().allowed_origins(OriginPolicy::List(vec!["https://ok.example".into()])).build().unwrap();
    let base = support::serve(support::host_app(&listed)).await;
    assert!(connect(&base, Some("https://ok.example")).await.is_ok());
    assert!(connect(&base, Some("http://localhost:1")).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frames_close_the_connection() {
    let (_broker, base) = support::http_broker_with(Limits { provider_frame_bytes: 1024, ..support::test_limits() }).await;
    let mut socket = connect(&base, None).await.unwrap();
    say(&mut socket, &hello(vec![RAW_VERSION], 1)).await;
    assert!(matches!(hear(&mut socket).await, ToProvider::Welcome { max_frame_bytes: 1024, .. }));
    socket.send(Message::Binary(vec![0u8; 4096].into())).await.unwrap();
    let (code, reason) = closing(&mut socket).await;
    assert_eq!(code, CloseCode::Size);
    assert!(reason.starts_with("frame too large"), "{reason}");
    wait_for_providers(&base, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_close_the_connection() {
    let (_broker, base) = support::http_broker().await;
    let mut socket = connect(&base, None).await.unwrap();
    say(&mut socket, &hello(vec![RAW_VERSION], 1)).await;
    hear(&mut socket).await;
    socket.send(Message::Binary(b"\xc1not msgpack".to_vec().into())).await.unwrap();
    let (code, reason) = closing(&mut socket).await;
    assert_eq!(code, CloseCode::Invalid);
    assert!(reason.starts_with("malformed frame"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_limit_answers_503() {
    let (_broker, base) = support::http_broker_with(Limits { max_providers: 1, ..support::test_limits() }).await;
    let mut first = connect(&base, None).await.unwrap();
    say(&mut first, &hello(vec![RAW_VERSION], 1)).await;
    hear(&mut first).await;
    wait_for_providers(&base, 1).await;
    match connect(&base, None).await {
        Err(Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("a second provider was not refused: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_works_under_plain_hyper_and_ignores_the_client_layer() {
    use http::{Request, Response, StatusCode};
    use wasimoff::layers::Body;
    let deny_all = tower_http::validate_request::ValidateRequestHeaderLayer::custom(|_: &mut Request<Body>| {
        let mut denied = Response::new(Body::default());
        *denied.status_mut() = StatusCode::UNAUTHORIZED;
        Err::<(), _>(denied)
    });
    let broker = Wasimoff::builder().client_layer(deny_all).build().unwrap();
    let host = tower::service_fn(|_: Request<hyper::body::Incoming>| async {
        Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(bytes::Bytes::from_static(b"host"))))
    });
    let base = support::serve_with_hyper(tower::Layer::layer(&broker.layer(), host)).await;
    let mut socket = connect(&base, None).await.unwrap();
    say(&mut socket, &hello(vec![RAW_VERSION], 2)).await;
    assert!(matches!(hear(&mut socket).await, ToProvider::Welcome { .. }));
    assert_eq!(broker.cluster().providers.len(), 1);
    let plain = client().get(format!("{base}/wasimoff/provider/ws")).send().await.unwrap();
    assert_eq!(plain.status(), reqwest::StatusCode::UPGRADE_REQUIRED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_websocket_sessions_going_away() {
    let (broker, base) = support::http_broker().await;
    let mut socket = connect(&base, None).await.unwrap();
    say(&mut socket, &hello(vec![RAW_VERSION], 1)).await;
    assert!(matches!(hear(&mut socket).await, ToProvider::Welcome { .. }));
    broker.shutdown().await;
    assert!(broker.cluster().providers.is_empty(), "shutdown returned before the session ended");
    assert_eq!(closing(&mut socket).await, (CloseCode::Away, "the broker is shutting down".to_string()));

    let mut late = connect(&base, None).await.unwrap();
    assert_eq!(closing(&mut late).await, (CloseCode::Away, "the broker is shutting down".to_string()));
}
