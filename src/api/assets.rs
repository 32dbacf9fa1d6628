//! The browser provider's files (built by `provider-js/build.sh`, embedded at compile time):
//! the provider page at the prefix root, `provider.js` and its worker, core and style sheet.
//! Each answer (bodies of `HEAD` answers are dropped by hyper) carries its content type and an `ETag`; `Cache-Control: no-cache` makes
//! browsers revalidate, which costs a `304` once the bundle is cached.

use super::reply;
use crate::layers::Body;
use http::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH, LOCATION, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// One embedded file: its path below the prefix, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:literal) => {
        Asset { path: $path, content_type: $type, bytes: include_bytes!(concat!("../../provider-js/dist/", $file)) }
    };
}

const ASSETS: &[Asset] = &[
    asset!("/", "index.html", "text/html; charset=utf-8"),
    asset!("/provider.js", "provider.js", "text/javascript; charset=utf-8"),
    asset!("/provider-worker.js", "provider-worker.js", "text/javascript; charset=utf-8"),
    asset!("/provider-core.wasm", "provider-core.wasm", "application/wasm"),
    asset!("/provider.css", "provider.css", "text/css; charset=utf-8"),
];

static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let digest = hex::encode(&Sha256::digest(asset.bytes)[..12]);
            HeaderValue::from_str(&format!("\"{digest}\"")).unwrap_or(HeaderValue::from_static("\"\""))
        })
        .collect()
});

/// The asset at `path` below the prefix, if there is one. The page is served at the prefix
/// with a trailing slash, so that its relative links resolve below the prefix.
pub(super) fn respond(path: &str, request: &Request<Body>) -> Option<Response<Body>> {
    let index = ASSETS.iter().position(|asset| asset.path == path)?;
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Some(reply::method_not_allowed(&[Method::GET, Method::HEAD]));
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
    let etag = &ETAGS[index];
    let fresh = request.headers().get_all(IF_NONE_MATCH).iter().any(|v| v.as_bytes().split(|b| *b == b',').any(|t| t.trim_ascii() == etag.as_bytes()));
    let (status, bytes) = if fresh { (StatusCode::NOT_MODIFIED, &b""[..]) } else { (StatusCode::OK, asset.bytes) };
    let mut response = reply::with_type(status, asset.content_type, bytes);
    let headers = response.headers_mut();
    headers.insert(ETAG, etag.clone());
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Some(response)
}
