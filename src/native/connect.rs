//! Picks the transport as the browser provider does: WebTransport when the broker offers it,
//! WebSocket at any error or after [`WEBTRANSPORT_TIMEOUT`] of silence.

use super::link::{self, Link};
use super::{ProviderError, TransportChoice};
#[cfg(feature = "webtransport")]
use std::time::Duration;

/// How long the WebTransport attempt (the info request, the session and its stream) may take
/// before WebSocket is tried: blocked UDP never answers.
#[cfg(feature = "webtransport")]
pub(super) const WEBTRANSPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// Connects to the broker whose WebSocket endpoint is `url` over the chosen transport.
pub(super) async fn open(url: &str, choice: TransportChoice, frame_limit: usize) -> Result<Link, ProviderError> {
    match choice {
        TransportChoice::WebSocket => {}
        TransportChoice::WebTransport => return webtransport(url, frame_limit).await.map_err(ProviderError::Connect),
        TransportChoice::Auto => match webtransport(url, frame_limit).await {
            Ok(link) => return Ok(link),
            Err(error) => tracing::info!(%error, "no WebTransport; connecting over WebSocket"),
        },
    }
    link::websocket(url, frame_limit).await.map_err(ProviderError::Connect)
}

/// The WebTransport session the broker offers next to `url`, within [`WEBTRANSPORT_TIMEOUT`].
#[cfg(feature = "webtransport")]
async fn webtransport(url: &str, frame_limit: usize) -> Result<Link, String> {
    let attempt = async {
        let info_url = super::info::info_url(url)?;
        let offer = super::info::fetch(&info_url).await?.webtransport.ok_or("the broker does not offer WebTransport")?;
        let host = info_url.host().ok_or("no host")?;
        super::webtransport::connect(host, &offer, frame_limit).await
    };
    tokio::time::timeout(WEBTRANSPORT_TIMEOUT, attempt)
        .await
        .map_err(|_| format!("WebTransport: no answer within {} ms", WEBTRANSPORT_TIMEOUT.as_millis()))?
}

/// Without the `webtransport` feature there is no WebTransport client.
#[cfg(not(feature = "webtransport"))]
async fn webtransport(_url: &str, _frame_limit: usize) -> Result<Link, String> {
    Err("this build has no WebTransport (the `webtransport` feature is off)".into())
}
