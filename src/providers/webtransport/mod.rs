//! Providers over WebTransport (HTTP/3 on QUIC, UDP), next to WebSocket.
//!
//! The endpoint listens on UDP (by default the host's HTTP address and port number), accepts
//! CONNECT requests for `{prefix}/provider/wt` that pass the `Origin` allow-list and the
//! provider limit, and runs the same session as WebSocket over the one bidirectional stream
//! the provider opens, in length-prefixed frames. Its certificate is self-signed and renewed
//! before it expires unless the host gives one; `…/provider/info` publishes the hashes.
//! Without the `webtransport` cargo feature only the configuration types remain, and the
//! endpoint never starts.

mod config;

pub use config::{CertificateSource, SelfSigned, WebTransport, WebTransportError};

#[cfg(feature = "webtransport")]
mod accept;
#[cfg(feature = "webtransport")]
mod certificate;
#[cfg(feature = "webtransport")]
mod endpoint;
#[cfg(feature = "webtransport")]
mod framing;
#[cfg(feature = "webtransport")]
mod link;
#[cfg(feature = "webtransport")]
pub(crate) use endpoint::WebTransportState;

#[cfg(not(feature = "webtransport"))]
mod absent;
#[cfg(not(feature = "webtransport"))]
pub(crate) use absent::WebTransportState;
