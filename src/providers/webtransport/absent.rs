//! WebTransport in a build without the `webtransport` cargo feature: the configuration is
//! checked as usual, and starting says that the endpoint is not compiled in.

use super::config::{CertificateSource, Listen, WebTransport, WebTransportError};
use crate::Wasimoff;
use crate::providers::info::WebTransportInfo;
use std::net::SocketAddr;

/// Stands in for the endpoint; never runs.
pub(crate) struct WebTransportState {
    listen: Listen,
}

impl WebTransportState {
    /// Checks the self-signed certificate settings (PEM needs the feature to be read).
    pub(crate) fn new(config: WebTransport) -> Result<WebTransportState, WebTransportError> {
        if let CertificateSource::SelfSigned(settings) = &config.certificate {
            settings.check()?;
        }
        Ok(WebTransportState { listen: config.listen })
    }

    /// The address the host configured, which the broker tries to bind when built.
    pub(crate) fn address_at_build(&self) -> Option<SocketAddr> {
        match self.listen {
            Listen::Address(address) => Some(address),
            Listen::Off | Listen::HostAddress => None,
        }
    }

    /// Refuses: disabled, or not compiled in (logged as a warning).
    pub(crate) fn start(&self, _broker: &Wasimoff, _host_address: SocketAddr) -> Result<SocketAddr, WebTransportError> {
        if self.listen == Listen::Off {
            return Err(WebTransportError::Disabled);
        }
        tracing::warn!("WebTransport for providers is not compiled in; they connect over WebSocket");
        Err(WebTransportError::NotCompiled)
    }

    /// Nothing runs, so nothing to connect to.
    pub(crate) fn info(&self, _path: String) -> Option<WebTransportInfo> {
        None
    }

    /// Nothing to stop.
    pub(crate) async fn stop(&self) {}
}
