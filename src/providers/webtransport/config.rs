//! How the host configures WebTransport: on or off, where it listens, which certificate.

use std::net::SocketAddr;
use std::time::Duration;

/// Whether and where providers can connect over WebTransport (HTTP/3 on QUIC, UDP), next to
/// WebSocket; see [`Builder::webtransport`](crate::Builder::webtransport).
///
/// The default listens on the host's own HTTP address and port, over UDP, once the host
/// calls [`Wasimoff::start_webtransport`](crate::Wasimoff::start_webtransport) with the
/// address its TCP listener is bound to, and serves a self-signed certificate that it
/// rotates before it expires.
///
/// ```
/// use std::time::Duration;
/// use wasimoff::{SelfSigned, WebTransport};
/// let off = WebTransport::disabled();
/// let own_port = WebTransport::bind("0.0.0.0:4433".parse().unwrap());
/// let short_lived = WebTransport::default().certificate(SelfSigned::valid_for(Duration::from_secs(3600)).into());
/// assert!(!off.is_enabled() && own_port.is_enabled() && short_lived.is_enabled());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebTransport {
    pub(crate) listen: Listen,
    pub(crate) certificate: CertificateSource,
}

/// Where the endpoint listens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Listen {
    /// No WebTransport.
    Off,
    /// The IP and port given to `start_webtransport`: the host's HTTP listener's.
    #[default]
    HostAddress,
    /// This UDP address, bound when the broker is built.
    Address(SocketAddr),
}

impl WebTransport {
    /// No WebTransport: providers connect over WebSocket only, and `…/provider/info` says
    /// `"webtransport": null`.
    ///
    /// ```
    /// let builder = wasimoff::Wasimoff::builder().webtransport(wasimoff::WebTransport::disabled());
    /// ```
    pub fn disabled() -> WebTransport {
        WebTransport { listen: Listen::Off, ..WebTransport::default() }
    }

    /// The default: listen on the address the host passes to
    /// [`Wasimoff::start_webtransport`](crate::Wasimoff::start_webtransport), which is meant
    /// to be its HTTP listener's (same IP, same port number, UDP).
    ///
    /// ```
    /// let builder = wasimoff::Wasimoff::builder().webtransport(wasimoff::WebTransport::on_host_address());
    /// ```
    pub fn on_host_address() -> WebTransport {
        WebTransport::default()
    }

    /// Listen on this UDP address, bound as soon as the broker is built (inside a Tokio
    /// runtime). Port `0` picks a free port; `…/provider/info` tells providers which.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wasimoff::BuildError> {
    /// let builder = wasimoff::Wasimoff::builder()
    ///     .webtransport(wasimoff::WebTransport::bind("0.0.0.0:4433".parse().unwrap()));
    /// let broker = builder.build()?;
    /// # Ok(()) }
    /// ```
    pub fn bind(address: SocketAddr) -> WebTransport {
        WebTransport { listen: Listen::Address(address), ..WebTransport::default() }
    }

    /// Chooses the certificate the endpoint serves (default: self-signed, rotated).
    ///
    /// ```
    /// use wasimoff::{CertificateSource, WebTransport};
    /// let pem = CertificateSource::Pem { chain: "-----BEGIN CERTIFICATE-----…".into(), key: "-----BEGIN PRIVATE KEY-----…".into() };
    /// let config = WebTransport::bind("0.0.0.0:443".parse().unwrap()).certificate(pem);
    /// ```
    pub fn certificate(mut self, certificate: CertificateSource) -> WebTransport {
        self.certificate = certificate;
        self
    }

    /// Whether WebTransport is on.
    pub fn is_enabled(&self) -> bool {
        self.listen != Listen::Off
    }
}

/// The certificate a WebTransport endpoint serves.
#[derive(Clone, PartialEq, Eq)]
pub enum CertificateSource {
    /// A self-signed ECDSA P-256 certificate, generated when the endpoint starts and replaced
    /// before it expires. Browsers accept it through `serverCertificateHashes`, which the
    /// broker publishes at `…/provider/info`. The default.
    SelfSigned(SelfSigned),
    /// A certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1), both
    /// PEM. Browsers validate it as usual; its leaf's hash is published too, which works
    /// with `serverCertificateHashes` only for an ECDSA P-256 certificate valid at most
    /// 14 days. It is not rotated.
    Pem {
        /// The PEM certificates, leaf first.
        chain: String,
        /// The PEM private key.
        key: String,
    },
}

impl Default for CertificateSource {
    fn default() -> CertificateSource {
        CertificateSource::SelfSigned(SelfSigned::default())
    }
}

impl std::fmt::Debug for CertificateSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertificateSource::SelfSigned(settings) => f.debug_tuple("SelfSigned").field(settings).finish(),
            CertificateSource::Pem { chain, .. } => f.debug_struct("Pem").field("chain", chain).field("key", &"…").finish(),
        }
    }
}

impl From<SelfSigned> for CertificateSource {
    fn from(settings: SelfSigned) -> CertificateSource {
        CertificateSource::SelfSigned(settings)
    }
}

/// Lifetime of the self-signed certificates: each is valid for `validity` (whole seconds,
/// at most [`SelfSigned::MAX_VALIDITY`], Chromium's limit for `serverCertificateHashes`) and
/// replaced by a new one when `renew_before` of it is left. The replaced certificate's hash
/// stays published until it expires, so providers holding it still connect.
///
/// ```
/// use std::time::Duration;
/// use wasimoff::SelfSigned;
/// let default = SelfSigned::default();
/// assert_eq!(default.validity, Duration::from_secs(13 * 24 * 3600));
/// assert_eq!(default.renew_before, default.validity / 3);
/// let for_tests = SelfSigned { validity: Duration::from_secs(4), renew_before: Duration::from_secs(2) };
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelfSigned {
    /// How long each certificate is valid. Default 13 days.
    pub validity: Duration,
    /// How much validity is left when the next certificate replaces it. Default a third of
    /// `validity`.
    pub renew_before: Duration,
}

impl SelfSigned {
    /// The longest validity browsers accept with `serverCertificateHashes`: 14 days.
    pub const MAX_VALIDITY: Duration = Duration::from_secs(14 * 24 * 3600);

    /// Certificates valid for `validity`, each replaced when a third of it is left.
    ///
    /// ```
    /// let hourly = wasimoff::SelfSigned::valid_for(std::time::Duration::from_secs(3 * 3600));
    /// assert_eq!(hourly.renew_before, std::time::Duration::from_secs(3600));
    /// ```
    pub fn valid_for(validity: Duration) -> SelfSigned {
        SelfSigned { validity, renew_before: validity / 3 }
    }

    /// Checks the lifetimes: a validity of 1 s to 14 days, a renewal margin shorter than it
    /// and not zero.
    pub(crate) fn check(&self) -> Result<(), WebTransportError> {
        if self.validity < Duration::from_secs(1) || self.validity > SelfSigned::MAX_VALIDITY {
            return Err(WebTransportError::Certificate(format!(
                "a self-signed certificate must be valid for 1 s to 14 days, not {:?}",
                self.validity
            )));
        }
        if self.renew_before.is_zero() || self.renew_before >= self.validity {
            return Err(WebTransportError::Certificate(format!(
                "renew_before ({:?}) must be more than zero and less than the validity ({:?})",
                self.renew_before, self.validity
            )));
        }
        Ok(())
    }
}

impl Default for SelfSigned {
    fn default() -> SelfSigned {
        SelfSigned::valid_for(Duration::from_secs(13 * 24 * 3600))
    }
}

/// Why the WebTransport endpoint is not running. The host app keeps serving either way;
/// providers then connect over WebSocket.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebTransportError {
    /// The broker was built with [`WebTransport::disabled`].
    #[error("WebTransport is disabled")]
    Disabled,
    /// This build of the crate lacks the `webtransport` cargo feature.
    #[error("this build has no WebTransport (cargo feature `webtransport`)")]
    NotCompiled,
    /// Called outside a Tokio runtime.
    #[error("WebTransport must be started inside a Tokio runtime")]
    NoRuntime,
    /// The UDP socket could not be bound.
    #[error("cannot listen on UDP {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate settings or the PEM certificate and key are unusable.
    #[error("{0}")]
    Certificate(String),
}
