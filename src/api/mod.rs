//! The broker's HTTP API: routing below the mount prefix to the seed-compatible handlers
//! (`/api/broker/v1/…`, [`seed`]) and the modern ones (`/api/v1/…`, [`v1`]).
//! Documented in docs/API.md.

mod assets;
mod metrics;
mod reply;

pub(crate) use reply::problem;
mod request;
mod seed;
mod v1;

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

/// Every route of the client API: method, path below the prefix, what it does.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/api/broker/v1/healthz", "seed: liveness, 200 OK"),
    ("POST", "/api/broker/v1/upload?name=NAME", "seed: store the raw body under NAME"),
    ("POST", "/api/broker/v1/run", "seed: run a run configuration, results in order"),
    ("POST", "/api/v1/files?alias=NAME", "store the raw body, answer its sha256 ref"),
    ("GET", "/api/v1/files", "list aliases"),
    ("GET", "/api/v1/files/{ref-or-alias}", "download a file"),
    ("POST", "/api/v1/tasks", "run one task"),
    ("POST", "/api/v1/jobs", "run a job; Accept: application/x-ndjson streams results"),
    ("GET", "/api/v1/cluster", "runners, busy workers, queue, tasks/s"),
    ("GET", "/api/v1/metrics", "the same and task counters for Prometheus"),
];

/// The request path below the mount prefix, carried to the client routes.
#[derive(Clone, Debug)]
struct ApiPath(String);

/// Answers a request whose path below the prefix is `path`.
pub(crate) async fn respond(broker: Wasimoff, path: String, mut request: Request<Body>) -> Response<Body> {
    if path == "/api" || path.starts_with("/api/") {
        request.extensions_mut().insert(ApiPath(path));
        let routes = broker.client_routes();
        return match routes.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    if path == PROVIDER_INFO {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return reply::method_not_allowed(&[Method::GET, Method::HEAD]);
        }
        return provider_info(&broker, &request);
    }
    if path == PROVIDER_WEBSOCKET {
        if request.method() != Method::GET {
            return reply::method_not_allowed(&[Method::GET]);
        }
        return crate::providers::upgrade(broker, request);
    }
    if let Some(response) = assets::respond(&path, &request) {
        return response;
    }
    reply::problem(StatusCode::NOT_FOUND, "not_found", format!("no broker route at {path}"))
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
        async move { Ok(route(broker, request).await) }.boxed()
    }
}

enum Route {
    SeedHealthz,
    SeedUpload,
    SeedRun,
    Files,
    File(String),
    Tasks,
    Jobs,
    Cluster,
    Metrics,
}

impl Route {
    fn find(path: &str) -> Option<Route> {
        Some(match path {
            "/api/broker/v1/healthz" => Route::SeedHealthz,
            "/api/broker/v1/upload" => Route::SeedUpload,
            "/api/broker/v1/run" => Route::SeedRun,
            "/api/v1/files" => Route::Files,
            "/api/v1/tasks" => Route::Tasks,
            "/api/v1/jobs" => Route::Jobs,
            "/api/v1/cluster" => Route::Cluster,
            "/api/v1/metrics" => Route::Metrics,
            path => Route::File(path.strip_prefix("/api/v1/files/").filter(|name| !name.is_empty())?.to_string()),
        })
    }

    fn methods(&self) -> &'static [Method] {
        match self {
            Route::SeedHealthz | Route::File(_) | Route::Cluster | Route::Metrics => &[Method::GET, Method::HEAD],
            Route::Files => &[Method::GET, Method::HEAD, Method::POST],
            Route::SeedUpload | Route::SeedRun | Route::Tasks | Route::Jobs => &[Method::POST],
        }
    }
}

async fn route(broker: Wasimoff, request: Request<Body>) -> Response<Body> {
    let path = request.extensions().get::<ApiPath>().map(|p| p.0.clone()).unwrap_or_else(|| request.uri().path().to_string());
    let Some(route) = Route::find(&path) else {
        return reply::problem(StatusCode::NOT_FOUND, "not_found", format!("no API route at {path}"));
    };
    if !route.methods().contains(request.method()) {
        return reply::method_not_allowed(route.methods());
    }
    match (route, request.method() == Method::POST) {
        (Route::SeedHealthz, _) => seed::healthz(),
        (Route::SeedUpload, _) => seed::upload(&broker, request).await,
        (Route::SeedRun, _) => seed::run(&broker, request).await,
        (Route::Files, true) => v1::upload(&broker, request).await,
        (Route::Files, false) => v1::list_files(&broker),
        (Route::File(name), _) => v1::download(&broker, &name).await,
        (Route::Tasks, _) => v1::run_task(&broker, request).await,
        (Route::Jobs, _) => v1::run_job(&broker, request).await,
        (Route::Cluster, _) => reply::json(StatusCode::OK, &broker.cluster()),
        (Route::Metrics, _) => metrics::metrics(&broker),
    }
}
