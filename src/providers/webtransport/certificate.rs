//! The endpoint's certificates: self-signed ones (ECDSA P-256, short-lived, generated with
//! exact validity bounds), host-given PEM ones, and the list of hashes providers may pin.

use super::config::{SelfSigned, WebTransportError};
use sha2::{Digest as _, Sha256};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wtransport::Identity;
use wtransport::tls::rustls::pki_types::pem::PemObject;
use wtransport::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use wtransport::tls::self_signed::time::OffsetDateTime;

/// A certificate chain and key, ready for the TLS configuration.
pub(super) struct Issued {
    /// The chain, leaf first.
    chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    key: PrivateKeyDer<'static>,
    /// When the leaf expires; `None` for host-given certificates, which are published as
    /// long as they are served.
    pub(super) expires: Option<SystemTime>,
}

impl Issued {
    /// The SHA-256 of the leaf's DER as 64 lowercase hex digits, as `serverCertificateHashes`
    /// wants it (there as bytes).
    pub(super) fn hash(&self) -> String {
        self.chain.first().map(|leaf| hex::encode(Sha256::digest(leaf.as_ref()))).unwrap_or_default()
    }

    /// A copy, for a server configuration.
    pub(super) fn clone_parts(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (self.chain.clone(), self.key.clone_key())
    }
}

/// The names a self-signed certificate is issued for: loopback and the bound IP.
fn names(bound: IpAddr) -> Vec<String> {
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
    let ip = bound.to_string();
    if !bound.is_unspecified() && !names.contains(&ip) {
        names.push(ip);
    }
    names
}

fn timestamp(at: SystemTime) -> Result<OffsetDateTime, WebTransportError> {
    let seconds = at.duration_since(UNIX_EPOCH).map_err(|_| WebTransportError::Certificate("the clock is before 1970".into()))?;
    i64::try_from(seconds.as_secs())
        .ok()
        .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
        .ok_or_else(|| WebTransportError::Certificate("the clock is out of range".into()))
}

/// A new self-signed certificate for `bound`, valid from this second for exactly
/// `settings.validity` (whole seconds).
pub(super) fn self_signed(settings: &SelfSigned, bound: IpAddr) -> Result<Issued, WebTransportError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let not_before = UNIX_EPOCH + Duration::from_secs(now.as_secs());
    let not_after = not_before + Duration::from_secs(settings.validity.as_secs());
    let identity = Identity::self_signed_builder()
        .subject_alt_names(names(bound))
        .not_before(timestamp(not_before)?)
        .not_after(timestamp(not_after)?)
        .build()
        .map_err(|error| WebTransportError::Certificate(format!("cannot generate a certificate: {error}")))?;
    let chain = identity.certificate_chain().as_slice().iter().map(|c| CertificateDer::from(c.der().to_vec())).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.private_key().secret_der().to_vec()));
    Ok(Issued { chain, key, expires: Some(not_after) })
}

/// A host-given chain and key, both PEM.
pub(super) fn from_pem(chain: &str, key: &str) -> Result<Issued, WebTransportError> {
    let invalid = |what: &str, error: &dyn std::fmt::Display| WebTransportError::Certificate(format!("invalid PEM {what}: {error}"));
    let chain = CertificateDer::pem_slice_iter(chain.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid("certificate chain", &error))?;
    if chain.is_empty() {
        return Err(WebTransportError::Certificate("the PEM certificate chain holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|error| invalid("private key", &error))?;
    Ok(Issued { chain, key, expires: None })
}

/// One published hash.
struct Entry {
    hash: String,
    expires: Option<SystemTime>,
}

/// The hashes of the certificates providers may meet: the one served now and the ones it
/// replaced, until they expire. Shared by the endpoint (which adds) and `…/provider/info`.
#[derive(Default)]
pub(super) struct PublishedHashes(Mutex<Vec<Entry>>);

impl PublishedHashes {
    /// Publishes the certificate now served, ahead of the earlier ones.
    pub(super) fn publish(&self, issued: &Issued) {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        entries.insert(0, Entry { hash: issued.hash(), expires: issued.expires });
    }

    /// The hashes of unexpired certificates, newest first.
    pub(super) fn current(&self) -> Vec<String> {
        let now = SystemTime::now();
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|entry| entry.expires.is_none_or(|expires| expires > now));
        entries.iter().map(|entry| entry.hash.clone()).collect()
    }
}
