//! Which web origins may connect providers.

use http::HeaderMap;
use http::header::{HOST, ORIGIN};

/// Which `Origin` a provider connection may come from. Connections without an `Origin` header
/// (native providers; browsers always send one) are allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum OriginPolicy {
    /// The host's own origin (the `Origin`'s host and port equal the `Host` header) and any
    /// port on `localhost`, `127.0.0.1` or `[::1]`. The default.
    #[default]
    SameOriginAndLocalhost,
    /// Exactly these origins, for example `https://example.org`.
    List(Vec<String>),
    /// Any origin.
    Any,
}

fn authority(origin: &str) -> &str {
    origin.split_once("://").map_or(origin, |(_, rest)| rest).trim_end_matches('/')
}

fn is_localhost(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split_once(']').map_or(rest, |(host, _)| host)
    } else {
        authority.rsplit_once(':').map_or(authority, |(host, _)| host)
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

impl OriginPolicy {
    /// Whether a request with these headers may open a provider connection.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::List(allowed) => allowed.iter().any(|a| a.trim_end_matches('/') == origin.trim_end_matches('/')),
            OriginPolicy::SameOriginAndLocalhost => {
                let host = headers.get(HOST).and_then(|v| v.to_str().ok());
                is_localhost(authority(origin)) || host.is_some_and(|host| host.eq_ignore_ascii_case(authority(origin)))
            }
        }
    }
}
