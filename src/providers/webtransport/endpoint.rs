//! The WebTransport endpoint: binding the UDP socket, accepting connections (each runs in the
//! broker's provider sessions), replacing the self-signed certificate before it expires, and
//! closing on shutdown.

use super::accept;
use super::certificate::{self, Issued, PublishedHashes};
use super::config::{CertificateSource, Listen, SelfSigned, WebTransport, WebTransportError};
use crate::providers::info::WebTransportInfo;
use crate::providers::session::CloseKind;
use crate::{Wasimoff, handle::WeakWasimoff};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use wtransport::endpoint::endpoint_side::Server;
use wtransport::tls::WEBTRANSPORT_ALPN;
use wtransport::tls::rustls;
use wtransport::{Endpoint, ServerConfig, VarInt};

/// QUIC keep-alive, well inside the usual 30 s idle timeout even when heartbeats are slower.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// How long shutdown waits for connections to close cleanly.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// How soon a failed certificate renewal is tried again.
const RENEWAL_RETRY: Duration = Duration::from_secs(10);

/// The broker's WebTransport: its configuration and, once started, the running endpoint.
pub(crate) struct WebTransportState {
    listen: Listen,
    source: Source,
    running: Mutex<Option<Running>>,
}

/// Where the endpoint's certificates come from.
enum Source {
    /// Generated at start and renewed.
    SelfSigned(SelfSigned),
    /// The host's, checked when the broker was built.
    Given(Issued),
}

/// A started endpoint.
struct Running {
    address: SocketAddr,
    hashes: Arc<PublishedHashes>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// The QUIC server configuration serving `issued`, TLS 1.3 with ring, ALPN `h3`.
fn server_config(address: SocketAddr, issued: &Issued) -> Result<ServerConfig, WebTransportError> {
    let (chain, key) = issued.clone_parts();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|error| WebTransportError::Certificate(format!("unusable certificate or key: {error}")))?;
    tls.alpn_protocols = vec![WEBTRANSPORT_ALPN.to_vec()];
    Ok(ServerConfig::builder().with_bind_address(address).with_custom_tls(tls).keep_alive_interval(Some(KEEP_ALIVE)).build())
}

impl WebTransportState {
    /// Checks the configuration; a host-given certificate must load.
    pub(crate) fn new(config: WebTransport) -> Result<WebTransportState, WebTransportError> {
        let source = match config.certificate {
            CertificateSource::SelfSigned(settings) => {
                settings.check()?;
                Source::SelfSigned(settings)
            }
            CertificateSource::Pem { chain, key } => {
                let issued = certificate::from_pem(&chain, &key)?;
                server_config(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), &issued)?;
                Source::Given(issued)
            }
        };
        Ok(WebTransportState { listen: config.listen, source, running: Mutex::new(None) })
    }

    /// The address to bind when the broker is built, if the host configured one.
    pub(crate) fn address_at_build(&self) -> Option<SocketAddr> {
        match self.listen {
            Listen::Address(address) => Some(address),
            Listen::Off | Listen::HostAddress => None,
        }
    }

    /// Starts the endpoint unless it runs already: on the configured address, else on
    /// `host_address`. Returns the bound address. A failure is logged as a warning.
    pub(crate) fn start(&self, broker: &Wasimoff, host_address: SocketAddr) -> Result<SocketAddr, WebTransportError> {
        let started = self.try_start(broker, host_address);
        match &started {
            Ok(address) => tracing::info!(%address, "WebTransport for providers listening (UDP)"),
            Err(WebTransportError::Disabled) => {}
            Err(error) => tracing::warn!(%error, "WebTransport for providers is off; they connect over WebSocket"),
        }
        started
    }

    fn try_start(&self, broker: &Wasimoff, host_address: SocketAddr) -> Result<SocketAddr, WebTransportError> {
        let address = match self.listen {
            Listen::Off => return Err(WebTransportError::Disabled),
            Listen::HostAddress => host_address,
            Listen::Address(address) => address,
        };
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = running.as_ref() {
            return Ok(running.address);
        }
        tokio::runtime::Handle::try_current().map_err(|_| WebTransportError::NoRuntime)?;
        let generated;
        let (issued, renewal) = match &self.source {
            Source::Given(given) => (given, None),
            Source::SelfSigned(settings) => {
                generated = certificate::self_signed(settings, address.ip())?;
                (&generated, Some(Renewal { settings: *settings, at: renewal_time(&generated, settings) }))
            }
        };
        let endpoint = Endpoint::server(server_config(address, issued)?).map_err(|source| WebTransportError::Bind { address, source })?;
        let bound = endpoint.local_addr().map_err(|source| WebTransportError::Bind { address, source })?;
        let hashes = Arc::new(PublishedHashes::default());
        hashes.publish(issued);
        let stop = CancellationToken::new();
        let serving = Serving { endpoint, bound, broker: broker.downgrade(), hashes: hashes.clone(), renewal };
        let task = tokio::spawn(serving.run(stop.clone()));
        *running = Some(Running { address: bound, hashes, stop, task });
        Ok(bound)
    }

    /// What providers need to connect, while the endpoint runs.
    pub(crate) fn info(&self, path: String) -> Option<WebTransportInfo> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let running = running.as_ref()?;
        Some(WebTransportInfo { port: running.address.port(), path, certificate_hashes: running.hashes.current() })
    }

    /// Closes the endpoint and its sessions (close code 1001) and waits until it is gone.
    pub(crate) async fn stop(&self) {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(running) = running {
            running.stop.cancel();
            let _ = running.task.await;
        }
    }
}

impl Drop for WebTransportState {
    fn drop(&mut self) {
        if let Some(running) = self.running.get_mut().unwrap_or_else(PoisonError::into_inner).take() {
            running.stop.cancel();
        }
    }
}

/// When the next self-signed certificate replaces `issued`.
fn renewal_time(issued: &Issued, settings: &SelfSigned) -> Instant {
    let left = issued.expires.and_then(|expires| expires.duration_since(SystemTime::now()).ok()).unwrap_or_default();
    Instant::now() + left.saturating_sub(settings.renew_before)
}

/// The next certificate renewal of a self-signed endpoint.
struct Renewal {
    settings: SelfSigned,
    at: Instant,
}

/// The endpoint's task: accepts connections and renews the certificate until stopped.
struct Serving {
    endpoint: Endpoint<Server>,
    bound: SocketAddr,
    broker: WeakWasimoff,
    hashes: Arc<PublishedHashes>,
    renewal: Option<Renewal>,
}

impl Serving {
    async fn run(mut self, stop: CancellationToken) {
        loop {
            let renewal_at = self.renewal.as_ref().map(|renewal| renewal.at);
            let renewal_due = async move {
                match renewal_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = stop.cancelled() => break,
                incoming = self.endpoint.accept() => {
                    let Some(broker) = self.broker.upgrade() else { break };
                    broker.sessions().spawn(accept::connection(broker.clone(), incoming));
                }
                () = renewal_due => self.renew(),
            }
        }
        self.endpoint.close(VarInt::from_u32(CloseKind::Away.code().into()), b"the broker is shutting down");
        let _ = tokio::time::timeout(CLOSE_GRACE, self.endpoint.wait_idle()).await;
    }

    /// Serves a new self-signed certificate to new connections; connected sessions keep
    /// theirs. Publishes its hash once it is served.
    fn renew(&mut self) {
        let Some(renewal) = self.renewal.as_mut() else { return };
        let renewed = certificate::self_signed(&renewal.settings, self.bound.ip())
            .and_then(|issued| Ok((server_config(self.bound, &issued)?, issued)))
            .and_then(|(config, issued)| {
                self.endpoint.reload_config(config, false).map_err(|source| WebTransportError::Bind { address: self.bound, source })?;
                Ok(issued)
            });
        renewal.at = match renewed {
            Ok(issued) => {
                self.hashes.publish(&issued);
                tracing::info!(hash = %issued.hash(), "WebTransport certificate renewed");
                renewal_time(&issued, &renewal.settings)
            }
            Err(error) => {
                tracing::error!(%error, "cannot renew the WebTransport certificate; trying again soon");
                Instant::now() + RENEWAL_RETRY
            }
        };
    }
}
