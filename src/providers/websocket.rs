//! The provider endpoint over WebSocket: the HTTP upgrade (works under axum and plain hyper
//! with upgrades enabled) and the session that follows it.

use crate::Wasimoff;
use crate::layers::Body;
use futures_util::{SinkExt, StreamExt};
use http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use super::command_message;
use crate::scheduler::{Command, outcome_to_result};
use tokio::sync::mpsc;
use wasimoff_protocol::{ToBroker, ToProvider, decode, encode, negotiate};

/// Unanswered pings after which a provider is dropped.
const MISSED_PINGS: u32 = 2;

/// How long a new connection has to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);


fn has_token(headers: &HeaderMap, name: http::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|part| part.trim().eq_ignore_ascii_case(token)))
}

/// Answers `GET {prefix}/provider/ws`: checks origin, provider limit and the WebSocket
/// handshake, answers `101 Switching Protocols`, and runs the session once upgraded.
pub(crate) fn upgrade(broker: Wasimoff, request: Request<Body>) -> Response<Body> {
    use crate::api::problem;
    let headers = request.headers();
    if !broker.origin_policy().allows(headers) {
        let origin = headers.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or_default();
        return problem(StatusCode::FORBIDDEN, "origin_refused", format!("origin {origin} may not connect providers"));
    }
    let limit = broker.limits().max_providers;
    if broker.scheduler().provider_count() >= limit {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "provider_limit", format!("the broker already has {limit} providers"));
    }
    let key = headers.get(SEC_WEBSOCKET_KEY).cloned();
    let upgrade_requested = has_token(headers, UPGRADE, "websocket") && has_token(headers, CONNECTION, "upgrade");
    let Some(key) = key.filter(|_| upgrade_requested) else {
        return problem(StatusCode::UPGRADE_REQUIRED, "upgrade_required", "this endpoint speaks WebSocket only");
    };
    if headers.get(SEC_WEBSOCKET_VERSION).is_none_or(|v| v != "13") {
        return problem(StatusCode::BAD_REQUEST, "bad_request", "unsupported WebSocket version; use 13");
    }
    let on_upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let limit = broker.limits().provider_frame_bytes;
                let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                let config = WebSocketConfig::default().max_message_size(Some(limit)).max_frame_size(Some(limit));
                let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
                session(broker, socket).await;
            }
            Err(error) => tracing::warn!(%error, "provider connection was not upgraded"),
        }
    });
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

async fn send(socket: &mut Socket, message: &ToProvider) -> bool {
    match encode(message) {
        Ok(frame) => socket.send(Message::Binary(frame.into())).await.is_ok(),
        Err(error) => {
            tracing::error!(%error, "cannot encode a message to a provider");
            false
        }
    }
}

async fn close(socket: &mut Socket, code: CloseCode, reason: &str) {
    let frame = CloseFrame { code, reason: reason.into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
    let _ = socket.close(None).await;
}

/// What the next frame from a provider is.
enum Incoming {
    Message(ToBroker),
    /// Not a valid message: close with this code and reason.
    Violation(CloseCode, String),
    Closed,
}

async fn receive(socket: &mut Socket, limit: usize) -> Incoming {
    loop {
        return match socket.next().await {
            None | Some(Ok(Message::Close(_))) => Incoming::Closed,
            Some(Ok(Message::Binary(frame))) => match decode::<ToBroker>(&frame, limit) {
                Ok(message) => Incoming::Message(message),
                Err(error) => Incoming::Violation(CloseCode::Invalid, error.to_string()),
            },
            Some(Ok(Message::Text(_))) => Incoming::Violation(CloseCode::Unsupported, "text frames are not part of the protocol".into()),
            Some(Ok(_)) => continue,
            Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(error))) => {
                Incoming::Violation(CloseCode::Size, format!("frame too large: {error}"))
            }
            Some(Err(_)) => Incoming::Closed,
        };
    }
}

async fn session(broker: Wasimoff, mut socket: Socket) {
    let limit = usize::try_from(broker.limits().provider_frame_bytes).unwrap_or(usize::MAX);
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, receive(&mut socket, limit)).await {
        Ok(Incoming::Message(ToBroker::Hello(hello))) => hello,
        Ok(Incoming::Message(_)) => return refuse(&mut socket, "the first message must be hello").await,
        Ok(Incoming::Violation(code, reason)) => return close(&mut socket, code, &reason).await,
        Ok(Incoming::Closed) => return,
        Err(_) => return refuse(&mut socket, "no hello within 10 s").await,
    };
    let version = match negotiate(&hello.versions) {
        Ok(version) => version,
        Err(reason) => return refuse(&mut socket, &reason).await,
    };
    let scheduler = broker.scheduler().clone();
    let joined = scheduler.join(hello.kind, hello.name, "websocket", hello.workers, broker.limits().max_providers);
    let (id, commands) = match joined {
        Ok(joined) => joined,
        Err(full) => return refuse(&mut socket, &full.to_string()).await,
    };
    let welcome = ToProvider::Welcome {
        version,
        provider_id: id.clone(),
        heartbeat_ms: u64::try_from(broker.limits().provider_heartbeat.as_millis()).unwrap_or(u64::MAX),
        max_frame_bytes: broker.limits().provider_frame_bytes,
    };
    let why = if send(&mut socket, &welcome).await { serve(&broker, &id, &mut socket, commands, limit).await } else { "disconnected" };
    scheduler.leave(&id, why);
}

async fn refuse(socket: &mut Socket, reason: &str) {
    send(socket, &ToProvider::Refused { reason: reason.to_string() }).await;
    close(socket, CloseCode::Policy, reason).await;
}

/// The welcomed provider's session: tasks out, results and events in, heartbeats, until
/// either side leaves. Returns why it ended.
async fn serve(
    broker: &Wasimoff,
    id: &str,
    socket: &mut Socket,
    mut commands: mpsc::UnboundedReceiver<Command>,
    limit: usize,
) -> &'static str {
    let scheduler = broker.scheduler();
    let period = broker.limits().provider_heartbeat;
    let mut heartbeat = tokio::time::interval(period);
    heartbeat.tick().await;
    let mut unanswered = 0u32;
    let mut nonce = 0u64;
    loop {
        tokio::select! {
            incoming = receive(socket, limit) => match incoming {
                Incoming::Message(ToBroker::Workers { count }) => scheduler.set_workers(id, count),
                Incoming::Message(ToBroker::Pong { .. }) => unanswered = 0,
                Incoming::Message(ToBroker::Evicted { digests }) => scheduler.evicted(id, &digests),
                Incoming::Message(ToBroker::Result { id: task, outcome }) => {
                    scheduler.provider_result(id, task, outcome_to_result(outcome, id));
                }
                Incoming::Message(ToBroker::Hello(_)) => {
                    close(socket, CloseCode::Protocol, "hello twice").await;
                    return "broke the protocol";
                }
                Incoming::Violation(code, reason) => {
                    close(socket, code, &reason).await;
                    return "broke the protocol";
                }
                Incoming::Closed => return "disconnected",
            },
            command = commands.recv() => {
                let Some(command) = command else { return "was removed" };
                let frame = command_message(broker, command).await;
                if !send(socket, &frame).await {
                    return "disconnected";
                }
            }
            _ = heartbeat.tick() => {
                if unanswered >= MISSED_PINGS {
                    close(socket, CloseCode::Away, "missed heartbeats").await;
                    return "stopped answering heartbeats";
                }
                nonce += 1;
                unanswered += 1;
                if !send(socket, &ToProvider::Ping { nonce }).await {
                    return "disconnected";
                }
            }
        }
    }
}
