//! The provider endpoint over WebSocket: the HTTP upgrade (works under axum and plain hyper
//! with upgrades enabled) and the session that follows it.

use super::admission::{Refusal, admit};
use super::session::{self, CloseKind, Peer, ProviderLink, Received, frame_limit};
use crate::Wasimoff;
use crate::layers::Body;
use crate::trust::RemoteAddress;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use wasimoff_protocol::Transport;

/// How long closing waits for the close frame to go out and the provider's to come back.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Bytes read from a provider's socket per read. Tungstenite zero-fills this much of its
/// read buffer before every read and keeps it for the connection's life, so its default of
/// 128 KiB made every idle provider cost 133 KiB of broker memory (and a 128 KiB memset per
/// pong); 8 KiB keeps a connection near 10 KiB. A large frame still gets one buffer of its
/// size, filled 8 KiB per read.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// The largest WebSocket frame the broker sends; a longer message goes out as a fragmented
/// message of frames this size, which every WebSocket reassembles. Tungstenite copies each
/// outgoing frame into a write buffer that keeps its largest size for the connection's life:
/// sent whole, a 256 KiB module left each provider that got it holding 259 KiB.
const FRAGMENT_BYTES: usize = 16 * 1024;

fn has_token(headers: &HeaderMap, name: http::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).any(|v| v.split(',').any(|part| part.trim().eq_ignore_ascii_case(token)))
}

/// Answers `GET {prefix}/provider/ws`: checks origin, provider limit and the WebSocket
/// handshake, answers `101 Switching Protocols`, and runs the session once upgraded.
pub(crate) fn upgrade(broker: Wasimoff, request: Request<Body>) -> Response<Body> {
    use crate::api::{ApiError, ApiErrorKind};
    let headers = request.headers();
    match admit(&broker, headers) {
        Ok(()) => {}
        Err(refusal @ Refusal::Origin(_)) => return ApiError::new(ApiErrorKind::OriginRefused, refusal.to_string()).into_response(),
        Err(refusal @ Refusal::Full(_)) => return ApiError::new(ApiErrorKind::ProviderLimit, refusal.to_string()).into_response(),
    }
    let key = headers.get(SEC_WEBSOCKET_KEY).cloned();
    let upgrade_requested = has_token(headers, UPGRADE, "websocket") && has_token(headers, CONNECTION, "upgrade");
    let Some(key) = key.filter(|_| upgrade_requested) else {
        return ApiError::new(ApiErrorKind::UpgradeRequired, "this endpoint speaks WebSocket only").into_response();
    };
    if headers.get(SEC_WEBSOCKET_VERSION).is_none_or(|v| v != "13") {
        return ApiError::new(ApiErrorKind::BadRequest, "unsupported WebSocket version; use 13").into_response();
    }
    let address = request.extensions().get::<RemoteAddress>().map(|remote| remote.0);
    let peer = Peer { headers: headers.clone(), address };
    let on_upgrade = hyper::upgrade::on(request);
    let sessions = broker.clone();
    sessions.sessions().spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let limit = frame_limit(&broker);
                let config = WebSocketConfig::default()
                    .read_buffer_size(READ_BUFFER_BYTES)
                    .max_message_size(Some(limit))
                    .max_frame_size(Some(limit));
                let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
                session::run(broker, WebSocketLink(socket), peer).await;
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

/// A provider's WebSocket: one binary message per frame; the frame limit is set in the
/// socket's configuration.
struct WebSocketLink(WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>);

impl ProviderLink for WebSocketLink {
    const TRANSPORT: Transport = Transport::WebSocket;

    /// Sends a frame of up to [`FRAGMENT_BYTES`] as one binary message, a longer one in
    /// fragments; each is flushed before the next goes into the write buffer.
    async fn send(&mut self, frame: Vec<u8>) -> bool {
        if frame.len() <= FRAGMENT_BYTES {
            return self.0.send(Message::Binary(frame.into())).await.is_ok();
        }
        let mut rest = Bytes::from(frame);
        let mut opcode = OpCode::Data(Data::Binary);
        while !rest.is_empty() {
            let fragment = rest.split_to(FRAGMENT_BYTES.min(rest.len()));
            if self.0.send(Message::Frame(Frame::message(fragment, opcode, rest.is_empty()))).await.is_err() {
                return false;
            }
            opcode = OpCode::Data(Data::Continue);
        }
        true
    }

    async fn receive(&mut self) -> Received {
        loop {
            return match self.0.next().await {
                None | Some(Ok(Message::Close(_))) => Received::Closed,
                Some(Ok(Message::Binary(frame))) => Received::Frame(frame),
                Some(Ok(Message::Text(_))) => {
                    Received::Violation(CloseKind::Unsupported, "text frames are not part of the protocol".into())
                }
                Some(Ok(_)) => continue,
                Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(error))) => {
                    Received::Violation(CloseKind::TooBig, format!("frame too large: {error}"))
                }
                Some(Err(_)) => Received::Closed,
            };
        }
    }

    async fn close(&mut self, kind: CloseKind, reason: &str) {
        let frame = CloseFrame { code: CloseCode::from(kind.code()), reason: reason.into() };
        let closing = async {
            let _ = self.0.send(Message::Close(Some(frame))).await;
            // The closing handshake: read (and drop) what the provider still sends until its
            // own close frame, so that no unread data makes the kernel reset the connection,
            // which could discard the reason before the provider reads it.
            while let Some(Ok(message)) = self.0.next().await {
                if message.is_close() {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, closing).await;
    }

    /// Dropping the socket ends the connection.
    async fn end(self) {}
}
