//! Reading requests: bodies with a size limit, JSON, query parameters.

use super::error::{ApiError, ApiErrorKind};
use crate::layers::Body;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

/// Reads the whole body, refusing more than `limit` bytes with `413 too_large`.
pub(super) async fn body(request: Request<Body>, limit: u64) -> Result<Bytes, ApiError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::new(ApiErrorKind::TooLarge, format!("the request body exceeds the limit of {limit} bytes")))
        }
        Err(error) => Err(ApiError::new(ApiErrorKind::BadRequest, format!("cannot read the request body: {error}"))),
    }
}

/// Reads and parses a JSON body, refusing malformed JSON with `400 bad_request` and the
/// parser's reason.
pub(super) async fn json<T: DeserializeOwned>(request: Request<Body>, limit: u64) -> Result<T, ApiError> {
    let bytes = body(request, limit).await?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// All values of query parameter `name`, percent-decoded.
pub(super) fn query_values(request: &Request<Body>, name: &str) -> Vec<String> {
    let query = request.uri().query().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes()).filter(|(key, _)| key == name).map(|(_, value)| value.into_owned()).collect()
}
