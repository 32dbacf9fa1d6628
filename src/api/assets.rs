//! The browser provider's files (built by `provider-js/build.sh`, embedded at compile time):
//! the provider page at the prefix root, `provider.js` and its worker, core and style sheet.
//! Each answer (bodies of `HEAD` answers are dropped by hyper) carries its content type and an
//! `ETag`; `Cache-Control: no-cache` makes browsers revalidate, which costs a `304` once the
//! bundle is cached. Clients that accept gzip get the files compressed (the core shrinks from
//! about 2 MB to about 0.55 MB); `build.rs` compresses and hashes them at compile time.

use super::{ApiError, reply};
use crate::layers::Body;
use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, ETAG, IF_NONE_MATCH, LOCATION, VARY, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

/// One way to send an asset: its bytes and their `ETag`.
struct Encoded {
    bytes: &'static [u8],
    etag: &'static str,
}

/// One embedded file: its path below the prefix, content type, and bytes as is and gzipped.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    plain: Encoded,
    gzipped: Encoded,
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:literal) => {
        Asset {
            path: $path,
            content_type: $type,
            plain: Encoded {
                bytes: include_bytes!(concat!("../../assets/provider/", $file)),
                etag: include_str!(concat!(env!("OUT_DIR"), "/", $file, ".etag")),
            },
            gzipped: Encoded {
                bytes: include_bytes!(concat!(env!("OUT_DIR"), "/", $file, ".gz")),
                etag: include_str!(concat!(env!("OUT_DIR"), "/", $file, ".gz.etag")),
            },
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("/", "index.html", "text/html; charset=utf-8"),
    asset!("/provider.js", "provider.js", "text/javascript; charset=utf-8"),
    asset!("/provider-worker.js", "provider-worker.js", "text/javascript; charset=utf-8"),
    asset!("/provider-core.wasm", "provider-core.wasm", "application/wasm"),
    asset!("/provider.css", "provider.css", "text/css; charset=utf-8"),
];

/// Whether the client takes gzip (`Accept-Encoding: gzip` without `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0)));
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

/// The asset at `path` below the prefix, if there is one. The page is served at the prefix
/// with a trailing slash, so that its relative links resolve below the prefix.
pub(super) fn respond(path: &str, request: &Request<Body>) -> Option<Response<Body>> {
    let index = ASSETS.iter().position(|asset| asset.path == path)?;
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Some(ApiError::method_not_allowed(vec![Method::GET, Method::HEAD]).into_response());
    }
    let uri_path = request.uri().path();
    if path == "/" && !uri_path.ends_with('/') {
        let mut response = reply::with_type(StatusCode::PERMANENT_REDIRECT, "text/plain; charset=utf-8", "");
        if let Ok(location) = HeaderValue::from_str(&format!("{uri_path}/")) {
            response.headers_mut().insert(LOCATION, location);
        }
        return Some(response);
    }
    let asset = &ASSETS[index];
    let gzip = accepts_gzip(request.headers()) && asset.gzipped.bytes.len() < asset.plain.bytes.len();
    let chosen = if gzip { &asset.gzipped } else { &asset.plain };
    let fresh = request
        .headers()
        .get_all(IF_NONE_MATCH)
        .iter()
        .any(|v| v.as_bytes().split(|b| *b == b',').any(|t| t.trim_ascii() == chosen.etag.as_bytes()));
    let bytes = if fresh { Bytes::new() } else { Bytes::from_static(chosen.bytes) };
    let status = if fresh { StatusCode::NOT_MODIFIED } else { StatusCode::OK };
    let mut response = reply::with_type(status, asset.content_type, bytes);
    let headers = response.headers_mut();
    headers.insert(ETAG, HeaderValue::from_static(chosen.etag));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Some(response)
}
