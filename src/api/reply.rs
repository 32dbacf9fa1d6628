//! Building responses: bodies, a content type, JSON.

use crate::layers::Body;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::Serialize;

/// The media type of JSON answers.
const JSON: &str = "application/json";

/// A body of `bytes`, sent in one piece.
pub(super) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A response of `status` with `body` of `content_type`.
pub(super) fn with_type(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `value` as a JSON response of `status`. The answers are derived `Serialize` types whose
/// keys are strings, which serde_json always encodes; should one fail, the client gets a `500`
/// with the reason as text rather than a truncated document.
pub(super) fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => with_type(status, JSON, bytes),
        Err(error) => {
            with_type(StatusCode::INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", format!("cannot encode the answer: {error}"))
        }
    }
}
