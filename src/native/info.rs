//! What the broker offers providers, read from `GET {prefix}/provider/info` next to the
//! WebSocket endpoint. One request with hyper's own HTTP/1 client connection: the crate
//! already depends on hyper, and one GET needs no pool or extra crate.

use crate::providers::ProviderInfo;
use crate::{PROVIDER_INFO, PROVIDER_WEBSOCKET};
use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

/// The largest answer taken: a few certificate hashes and two paths.
const MAX_INFO_BYTES: usize = 64 * 1024;

/// `http://HOST/PREFIX/provider/info` for `ws://HOST/PREFIX/provider/ws`.
///
/// Only `ws://` URLs: the provider has no TLS client for `wss://`.
pub(super) fn info_url(websocket: &str) -> Result<Uri, String> {
    let uri: Uri = websocket.parse().map_err(|e| format!("{websocket:?} is not a URL: {e}"))?;
    let authority =
        uri.authority().filter(|_| uri.scheme_str() == Some("ws")).ok_or_else(|| format!("{websocket:?} is not a ws:// URL"))?;
    let prefix = uri
        .path()
        .strip_suffix(PROVIDER_WEBSOCKET)
        .ok_or_else(|| format!("{websocket:?} does not end with {PROVIDER_WEBSOCKET}: where is {PROVIDER_INFO}?"))?;
    format!("http://{authority}{prefix}{PROVIDER_INFO}").parse().map_err(|e| format!("{e}"))
}

/// Fetches and parses the broker's provider info.
pub(super) async fn fetch(uri: &Uri) -> Result<ProviderInfo, String> {
    let failed = |e: &dyn std::fmt::Display| format!("GET {uri}: {e}");
    let authority = uri.authority().ok_or_else(|| failed(&"no host"))?;
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    let stream = tokio::net::TcpStream::connect((host, authority.port_u16().unwrap_or(80))).await.map_err(|e| failed(&e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| failed(&e))?;
    let connection = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(connection));
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request =
        http::Request::get(path).header(http::header::HOST, authority.as_str()).body(Empty::<Bytes>::new()).map_err(|e| failed(&e))?;
    let response = sender.send_request(request).await.map_err(|e| failed(&e))?;
    if !response.status().is_success() {
        return Err(failed(&response.status()));
    }
    let body = Limited::new(response.into_body(), MAX_INFO_BYTES).collect().await.map_err(|e| failed(&e))?.to_bytes();
    drop(connection);
    serde_json::from_slice(&body).map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::info_url;

    #[test]
    fn the_info_url_sits_next_to_the_websocket_endpoint() {
        assert_eq!(info_url("ws://127.0.0.1:4080/wasimoff/provider/ws").unwrap(), "http://127.0.0.1:4080/wasimoff/provider/info");
        assert_eq!(info_url("ws://h/provider/ws").unwrap(), "http://h/provider/info");
        assert_eq!(info_url("wss://h/provider/ws").unwrap_err(), "\"wss://h/provider/ws\" is not a ws:// URL");
        assert_eq!(
            info_url("ws://h/somewhere").unwrap_err(),
            "\"ws://h/somewhere\" does not end with /provider/ws: where is /provider/info?"
        );
    }
}
