//! Who may open a provider session, checked before any transport handshake: the `Origin`
//! allow-list and the provider limit.

use crate::Wasimoff;
use http::HeaderMap;
use http::header::ORIGIN;

/// Why a provider connection is turned away before its session starts.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// The `Origin` is not on the allow-list.
    #[error("origin {0} may not connect providers")]
    Origin(String),
    /// `Limits::max_providers` are connected.
    #[error("the broker already has {0} providers")]
    Full(usize),
}

/// Checks a connection request's headers (`Origin` and `Host`) and the provider count.
pub(crate) fn admit(broker: &Wasimoff, headers: &HeaderMap) -> Result<(), Refusal> {
    if !broker.origin_policy().allows(headers) {
        let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or_default();
        return Err(Refusal::Origin(origin.to_string()));
    }
    let limit = broker.limits().max_providers;
    if broker.scheduler().provider_count() >= limit {
        return Err(Refusal::Full(limit));
    }
    Ok(())
}
