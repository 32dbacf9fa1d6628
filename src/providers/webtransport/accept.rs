//! One incoming WebTransport connection: the QUIC and HTTP/3 handshakes, the CONNECT
//! request's path, `Origin` and the provider limit, then the provider's session.

use super::link::WebTransportLink;
use crate::Wasimoff;
use crate::api::PROVIDER_WEBTRANSPORT;
use crate::providers::admission::{Refusal, admit};
use crate::providers::session::{self, Peer, frame_limit};
use http::header::{HOST, ORIGIN};
use http::{HeaderMap, HeaderValue};
use std::time::Duration;
use wtransport::endpoint::{IncomingSession, SessionRequest};

/// How long a new connection has for its handshakes and CONNECT request.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The CONNECT request's `Origin` and authority as the headers [`admit`] checks (the
/// authority plays `Host`); `None` if the origin is not a valid header value.
fn headers(request: &SessionRequest) -> Option<HeaderMap> {
    let mut headers = HeaderMap::new();
    if let Some(origin) = request.origin() {
        headers.insert(ORIGIN, HeaderValue::from_str(origin).ok()?);
    }
    if let Ok(authority) = HeaderValue::from_str(request.authority()) {
        headers.insert(HOST, authority);
    }
    Some(headers)
}

/// Takes a connection from its first packet to the end of its provider session.
pub(super) async fn connection(broker: Wasimoff, incoming: IncomingSession) {
    let request = match tokio::time::timeout(HANDSHAKE_TIMEOUT, incoming).await {
        Ok(Ok(request)) => request,
        Ok(Err(error)) => return tracing::debug!(%error, "WebTransport handshake failed"),
        Err(_) => return tracing::debug!("WebTransport handshake timed out"),
    };
    let path = request.path().split('?').next().unwrap_or_default();
    if path.strip_prefix(broker.prefix()) != Some(PROVIDER_WEBTRANSPORT) {
        tracing::debug!(path, "WebTransport request for an unknown path");
        return request.not_found().await;
    }
    let (admitted, peer) = match headers(&request) {
        Some(headers) => (admit(&broker, &headers), Peer { headers, address: Some(request.remote_address()) }),
        None => (Err(Refusal::Origin(request.origin().unwrap_or_default().to_string())), Peer::default()),
    };
    if let Err(refusal) = admitted {
        tracing::debug!(%refusal, "WebTransport provider refused");
        return match refusal {
            Refusal::Origin(_) => request.forbidden().await,
            Refusal::Full(_) => request.too_many_requests().await,
        };
    }
    match request.accept().await {
        Ok(connection) => session::run(broker.clone(), WebTransportLink::new(connection, frame_limit(&broker)), peer).await,
        Err(error) => tracing::debug!(%error, "WebTransport session was not established"),
    }
}
