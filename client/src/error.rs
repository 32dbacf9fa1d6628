//! [`Error`]: why a call to the broker did not give its answer.

use reqwest::StatusCode;
use wasimoff_protocol::api::ErrorBody;

/// Why a call did not give its answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The broker refused the request: its `{"error": {"kind", "message"}}`, or for an
    /// answer without that body (such as a host's `401`) a kind named after the status.
    #[error("{kind}: {message}")]
    Broker {
        /// The HTTP status.
        status: StatusCode,
        /// The error's kind: `not_found`, `bad_request`, `queue_full`, `unauthorized`, …
        kind: String,
        /// The broker's explanation.
        message: String,
    },
    /// The broker could not be reached, or the connection broke.
    #[error("connection: {0}")]
    Connection(#[from] reqwest::Error),
    /// The broker answered something this client does not understand.
    #[error("unexpected_answer: {0}")]
    Unexpected(String),
}

impl Error {
    /// The broker's error kind, when the broker refused the request.
    pub fn kind(&self) -> Option<&str> {
        match self {
            Error::Broker { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// The error of an answer with status `status` and body `body`.
    pub(crate) fn from_answer(status: StatusCode, body: &[u8]) -> Error {
        if let Ok(ErrorBody { error }) = serde_json::from_slice::<ErrorBody>(body) {
            return Error::Broker { status, kind: error.kind, message: error.message };
        }
        let kind = status.canonical_reason().unwrap_or("error").to_lowercase().replace([' ', '-'], "_");
        let text = String::from_utf8_lossy(body);
        let message = match (status, text.trim()) {
            (StatusCode::UNAUTHORIZED, "") => {
                format!("the broker refused the request ({status}): give a valid token with --token or WASIMOFF_TOKEN")
            }
            (_, "") => format!("the broker answered {status}"),
            (_, text) => format!("the broker answered {status}: {text}"),
        };
        Error::Broker { status, kind, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broker_error_keeps_its_kind_and_message() {
        let error =
            Error::from_answer(StatusCode::NOT_FOUND, br#"{"error": {"kind": "not_found", "message": "no stored file named \"x\""}}"#);
        assert_eq!(error.to_string(), r#"not_found: no stored file named "x""#);
        assert_eq!(error.kind(), Some("not_found"));
    }

    #[test]
    fn an_answer_without_an_error_body_is_named_after_its_status() {
        let error = Error::from_answer(StatusCode::UNAUTHORIZED, b"");
        assert_eq!(
            error.to_string(),
            "unauthorized: the broker refused the request (401 Unauthorized): give a valid token with --token or WASIMOFF_TOKEN"
        );
        let error = Error::from_answer(StatusCode::BAD_GATEWAY, b"upstream down\n");
        assert_eq!(error.to_string(), "bad_gateway: the broker answered 502 Bad Gateway: upstream down");
    }
}
