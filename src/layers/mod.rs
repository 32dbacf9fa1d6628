//! Tower glue: the [`WasimoffLayer`] that serves the broker under its prefix inside any
//! hyper or axum app, and the [`ApiService`] for `Router::nest_service`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let (layer, broker) = wasimoff::Wasimoff::builder().build_layer()?;
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "my site" }))
//!     .layer(layer);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:4080").await?;
//! axum::serve(listener, app).await?;
//! # drop(broker); Ok(()) }
//! ```

mod body;
mod future;
mod service;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use service::{ApiService, WasimoffLayer, WasimoffService};

/// Any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error of a [`Body`]: a boxed error under a concrete name (as `axum::Error` is), which
/// keeps futures that hold bodies free of higher-ranked lifetime trouble.
#[derive(Debug)]
pub struct BodyError(BoxError);

impl BodyError {
    /// Wraps any error.
    pub fn new(error: impl Into<BoxError>) -> BodyError {
        BodyError(error.into())
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// The body type of the broker's own requests and responses.
pub type Body = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, BodyError>;

/// The part of `path` below `prefix`, if `path` is at or below it: `/wasimoff/api/x` below
/// `/wasimoff` is `/api/x`; `/wasimoff` itself is `/`; `/wasimoffx` is not below it.
///
/// ```
/// use wasimoff::layers::below_prefix;
/// assert_eq!(below_prefix("/wasimoff", "/wasimoff/api/v1/cluster"), Some("/api/v1/cluster"));
/// assert_eq!(below_prefix("/wasimoff", "/wasimoff"), Some("/"));
/// assert_eq!(below_prefix("/wasimoff", "/wasimoffx"), None);
/// ```
pub fn below_prefix<'a>(prefix: &str, path: &'a str) -> Option<&'a str> {
    let prefix = prefix.trim_end_matches('/');
    let rest = path.strip_prefix(prefix)?;
    match rest {
        "" => Some("/"),
        rest if rest.starts_with('/') => Some(rest),
        _ => None,
    }
}
