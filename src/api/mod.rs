//! The broker's HTTP API: routing below the mount prefix to the client routes (the
//! seed-compatible `/api/broker/v1/…`, [`seed`], and the modern `/api/v1/…`, [`v1`] with
//! detached jobs in [`jobs`], in one table, [`routes`], with the operator [`dashboard`]), the provider endpoints and the browser
//! provider's files.
//! Documented in docs/API.md.

mod assets;
mod dashboard;
mod error;
mod jobs;
mod metrics;
mod openapi;
mod reply;
mod request;
mod results;
#[cfg(test)]
mod roundtrip;
mod routes;
mod seed;
mod v1;

pub(crate) use error::{ApiError, ApiErrorKind};
pub use routes::ROUTES;

use crate::Wasimoff;
use crate::layers::Body;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, ORIGIN, VARY};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::task::{Context, Poll};
use tower::{Service, ServiceExt};

/// The client routes as one boxed service, so a host can wrap them in its own layers (for
/// example authentication) with [`Builder::client_layer`](crate::Builder::client_layer).
pub type ClientRoutes = tower::util::BoxCloneService<Request<Body>, Response<Body>, Infallible>;

/// The request path below the mount prefix, carried to the client routes.
#[derive(Clone, Debug)]
struct ApiPath(String);

/// Answers a request whose path below the prefix is `path`.
pub(crate) async fn respond(broker: Wasimoff, path: String, mut request: Request<Body>) -> Response<Body> {
    if path == "/api" || path.starts_with("/api/") || path == dashboard::DASHBOARD {
        request.extensions_mut().insert(ApiPath(path));
        let routes = broker.client_routes();
        return match routes.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    if path == PROVIDER_INFO {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return ApiError::method_not_allowed(vec![Method::GET, Method::HEAD]).into_response();
        }
        return provider_info(&broker, &request);
    }
    if path == PROVIDER_WEBSOCKET {
        if request.method() != Method::GET {
            return ApiError::method_not_allowed(vec![Method::GET]).into_response();
        }
        return crate::providers::upgrade(broker, request);
    }
    if let Some(response) = assets::respond(&path, &request) {
        return response;
    }
    ApiError::new(ApiErrorKind::NotFound, format!("no broker route at {path}")).into_response()
}

/// Where providers connect over WebSocket, below the prefix. Not a client route: a host's
/// client layer does not apply to it.
pub const PROVIDER_WEBSOCKET: &str = "/provider/ws";

/// The path of the WebTransport CONNECT request below the prefix (on the UDP port).
pub const PROVIDER_WEBTRANSPORT: &str = "/provider/wt";

/// Where providers learn how to connect ([`ProviderInfo`](crate::ProviderInfo) as JSON),
/// below the prefix. Not a client route: a host's client layer does not apply to it.
pub const PROVIDER_INFO: &str = "/provider/info";

/// `GET {prefix}/provider/info`: never cached (certificate hashes change); readable by
/// pages of the origins allowed to connect providers.
fn provider_info(broker: &Wasimoff, request: &Request<Body>) -> Response<Body> {
    let mut response = reply::json(StatusCode::OK, &broker.provider_info());
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = request.headers().get(ORIGIN)
        && broker.origin_policy().allows(request.headers())
    {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    response
}

/// The unwrapped client routes.
#[derive(Clone)]
pub(crate) struct ClientApi {
    pub(crate) broker: Wasimoff,
}

impl Service<Request<Body>> for ClientApi {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let broker = self.broker.clone();
        let path = request.extensions().get::<ApiPath>().map_or_else(|| request.uri().path().to_string(), |path| path.0.clone());
        async move { Ok(routes::route(broker, &path, request).await) }.boxed()
    }
}
