//! Trust in providers: every provider is [`Trust::Trusted`] or [`Trust::Untrusted`]; the
//! host's admission hook ([`Builder::admission`](crate::Builder::admission)) decides for each
//! connecting provider from its hello, the request's headers and its address, and may refuse
//! it ([`Admission`]). Addresses of quarantined providers are refused for a cool-off time
//! ([`Quarantine`]).

use http::HeaderMap;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use wasimoff_protocol::Hello;

/// How far the broker believes a provider's results. The local runner and in-process
/// providers are trusted; remote providers are what the admission hook says (by default
/// untrusted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// Its result is accepted as it is and confirms others' (it counts as a quorum by itself).
    Trusted,
    /// Its results are verified when the task asks for it.
    #[default]
    Untrusted,
}

/// The address of the client of an HTTP request, as a request extension. Hosts that know it
/// insert it (axum: from `ConnectInfo<SocketAddr>`; hyper: from the accepted stream) so that
/// the admission hook sees provider addresses and quarantined addresses are refused; the
/// WebTransport endpoint knows it itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteAddress(pub SocketAddr);

/// What the admission hook sees of a connecting provider.
#[derive(Debug)]
pub struct AdmissionRequest<'a> {
    /// The provider's hello: kind, name, workers, and the `token` it presents, if any.
    pub hello: &'a Hello,
    /// The headers of the connection request (WebSocket upgrade; for WebTransport `Origin`
    /// and `Host`).
    pub headers: &'a HeaderMap,
    /// Where the provider connects from, if known (see [`RemoteAddress`]).
    pub remote_address: Option<SocketAddr>,
}

/// The admission hook's answer for one connecting provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Turn it away: it gets a `refused` message and a close (1008) with this reason.
    Refuse(String),
    /// Admit it as [`Trust::Trusted`].
    Trusted,
    /// Admit it as [`Trust::Untrusted`].
    Untrusted,
}

/// The admission hook's type.
pub(crate) type AdmissionHook = Arc<dyn Fn(&AdmissionRequest<'_>) -> Admission + Send + Sync>;

impl Admission {
    /// The default hook: every provider (browser or native) is admitted untrusted.
    pub fn untrusted(_request: &AdmissionRequest<'_>) -> Admission {
        Admission::Untrusted
    }

    /// A hook that trusts providers whose hello presents `token` (the native provider's
    /// `--token`) and admits every other one untrusted; a provider presenting a wrong token is
    /// refused.
    ///
    /// ```
    /// let builder = wasimoff::Wasimoff::builder().admission(wasimoff::Admission::trust_token("s3cret"));
    /// ```
    pub fn trust_token(token: impl Into<String>) -> impl Fn(&AdmissionRequest<'_>) -> Admission + Send + Sync + Clone + 'static {
        let token: String = token.into();
        move |request: &AdmissionRequest<'_>| match &request.hello.token {
            None => Admission::Untrusted,
            Some(presented) if same_secret(presented, &token) => Admission::Trusted,
            Some(_) => Admission::Refuse("the provider token is wrong".into()),
        }
    }
}

/// Compares two secrets in time that depends on their lengths only.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |differ, (x, y)| differ | (x ^ y)) == 0
}

/// Addresses of quarantined providers and until when they are refused.
#[derive(Default)]
pub(crate) struct Quarantine(Mutex<HashMap<IpAddr, Instant>>);

impl Quarantine {
    /// Refuses `address` for `cooloff` from now.
    pub(crate) fn add(&self, address: IpAddr, cooloff: Duration) {
        let mut refused = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        refused.retain(|_, until| *until > now);
        refused.insert(address, now + cooloff);
    }

    /// How much longer `address` is refused, if it is.
    pub(crate) fn remaining(&self, address: IpAddr) -> Option<Duration> {
        let refused = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let until = *refused.get(&address)?;
        until.checked_duration_since(Instant::now()).filter(|left| !left.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasimoff_protocol::ProviderKind;

    fn hello(token: Option<&str>) -> Hello {
        Hello { versions: vec![1], kind: ProviderKind::Native, name: "n".into(), workers: 1, prefetch: 0, token: token.map(String::from) }
    }

    #[test]
    fn a_token_hook_trusts_the_token_refuses_a_wrong_one_and_admits_the_rest_untrusted() {
        let hook = Admission::trust_token("s3cret");
        let headers = HeaderMap::new();
        let decide = |token| hook(&AdmissionRequest { hello: &hello(token), headers: &headers, remote_address: None });
        assert_eq!(decide(Some("s3cret")), Admission::Trusted);
        assert_eq!(decide(Some("s3creT")), Admission::Refuse("the provider token is wrong".into()));
        assert_eq!(decide(Some("s3cret!")), Admission::Refuse("the provider token is wrong".into()));
        assert_eq!(decide(None), Admission::Untrusted);
    }

    #[test]
    fn a_quarantined_address_is_refused_until_its_cooloff_ends() {
        let quarantine = Quarantine::default();
        let address: IpAddr = [10, 0, 0, 1].into();
        assert_eq!(quarantine.remaining(address), None);
        quarantine.add(address, Duration::from_secs(60));
        assert!(quarantine.remaining(address).is_some_and(|left| left <= Duration::from_secs(60)));
        assert_eq!(quarantine.remaining([10, 0, 0, 2].into()), None);
        quarantine.add(address, Duration::ZERO);
        assert_eq!(quarantine.remaining(address), None);
    }
}
