//! How providers connect: the answer of `GET {prefix}/provider/info`.

use serde::{Deserialize, Serialize};

/// Where and how providers connect to this broker, served at `GET {prefix}/provider/info`
/// (outside the client routes, so a host's client layer does not guard it) and returned by
/// [`Wasimoff::provider_info`](crate::Wasimoff::provider_info).
///
/// ```
/// let info: wasimoff::ProviderInfo = serde_json::from_str(r#"{"protocol_version": 2,
///     "websocket": "/wasimoff/provider/ws", "webtransport": {"port": 4080,
///     "path": "/wasimoff/provider/wt", "certificate_hashes": ["ab12"]}}"#).unwrap();
/// assert_eq!(info.webtransport.unwrap().port, 4080);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderInfo {
    /// The newest protocol version the broker speaks.
    pub protocol_version: u32,
    /// The WebSocket endpoint's path, on the host's own HTTP port.
    pub websocket: String,
    /// The WebTransport endpoint, `None` while it is not running.
    pub webtransport: Option<WebTransportInfo>,
}

/// The WebTransport endpoint: connect to `https://<broker host>:<port><path>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebTransportInfo {
    /// The UDP port.
    pub port: u16,
    /// The path of the CONNECT request.
    pub path: String,
    /// SHA-256 of each certificate the endpoint may present (DER, 64 lowercase hex digits),
    /// newest first, for `serverCertificateHashes`: the one served now and earlier ones
    /// until they expire.
    pub certificate_hashes: Vec<String>,
}
