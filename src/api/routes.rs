//! The client routes as one table: the public [`ROUTES`] list and the routing are both read
//! from it. A path names a route by its text below the prefix (the part before `?` documents
//! the query); a final `{…}` segment takes the rest of the path, a `{…}` segment followed by
//! more path takes one segment, and a path that routes of both kinds match goes to the latter.

use super::error::{ApiError, ApiErrorKind};
use super::reply::json;
use super::{dashboard, jobs, metrics, openapi, seed, v1};
use crate::Wasimoff;
use crate::layers::Body;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use http::{Method, Request, Response, StatusCode};

/// How a route is called.
#[derive(Clone, Copy)]
enum Verb {
    /// `GET`, which also answers `HEAD`.
    Get,
    /// `POST`.
    Post,
    /// `DELETE`.
    Delete,
}

impl Verb {
    const fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Delete => "DELETE",
        }
    }

    fn allows(self, method: &Method) -> bool {
        match self {
            Verb::Get => method == Method::GET || method == Method::HEAD,
            Verb::Post => method == Method::POST,
            Verb::Delete => method == Method::DELETE,
        }
    }
}

/// What a handler is given: the broker, the request, and the part of the path that a final
/// `{…}` segment took (empty for routes without one).
struct Call {
    broker: Wasimoff,
    request: Request<Body>,
    tail: String,
}

/// A route's handler.
type Handler = fn(Call) -> BoxFuture<'static, Result<Response<Body>, ApiError>>;

/// One client route.
struct Route {
    verb: Verb,
    path: &'static str,
    description: &'static str,
    handler: Handler,
}

impl Route {
    const fn get(path: &'static str, description: &'static str, handler: Handler) -> Route {
        Route { verb: Verb::Get, path, description, handler }
    }

    const fn post(path: &'static str, description: &'static str, handler: Handler) -> Route {
        Route { verb: Verb::Post, path, description, handler }
    }

    const fn delete(path: &'static str, description: &'static str, handler: Handler) -> Route {
        Route { verb: Verb::Delete, path, description, handler }
    }

    fn pattern(&self) -> &'static str {
        self.path.split_once('?').map_or(self.path, |(pattern, _query)| pattern)
    }

    /// The path after the `{…}` segment, empty if it is final (or there is none).
    fn suffix(&self) -> &'static str {
        self.pattern().split_once('}').map_or("", |(_, suffix)| suffix)
    }

    /// Whether `path` is this route's; if so, the part its `{…}` segment takes.
    fn tail<'p>(&self, path: &'p str) -> Option<&'p str> {
        let pattern = self.pattern();
        match pattern.split_once('{') {
            Some((prefix, _placeholder)) => {
                let tail = path.strip_prefix(prefix).filter(|tail| !tail.is_empty())?;
                match self.suffix() {
                    "" => Some(tail),
                    suffix => tail.strip_suffix(suffix).filter(|segment| !segment.is_empty() && !segment.contains('/')),
                }
            }
            None => (path == pattern).then_some(""),
        }
    }
}

/// Every client route, in the order they are listed.
const TABLE: [Route; 18] = [
    Route::get("/api/broker/v1/healthz", "seed: liveness, 200 OK", |_| async { Ok(seed::healthz()) }.boxed()),
    Route::post("/api/broker/v1/upload?name=NAME", "seed: store the raw body under NAME", |call| {
        async move { seed::upload(&call.broker, call.request).await }.boxed()
    }),
    Route::post("/api/broker/v1/run", "seed: run a run configuration, results in order", |call| {
        async move { seed::run(&call.broker, call.request).await }.boxed()
    }),
    Route::post("/api/v1/files?alias=NAME", "store the raw body, answer its sha256 ref", |call| {
        async move { v1::upload(&call.broker, call.request).await }.boxed()
    }),
    Route::get("/api/v1/files", "list aliases and the store's usage", |call| async move { v1::list_files(&call.broker).await }.boxed()),
    Route::get("/api/v1/files/{ref-or-alias}", "download a file", |call| {
        async move { v1::download(&call.broker, &call.tail).await }.boxed()
    }),
    Route::delete("/api/v1/files/{alias}", "delete an alias; its content becomes evictable", |call| {
        async move { v1::delete_alias(&call.broker, &call.tail).await }.boxed()
    }),
    Route::post("/api/v1/tasks", "run one task", |call| async move { v1::run_task(&call.broker, call.request).await }.boxed()),
    Route::post("/api/v1/jobs", "run a job; Accept: application/x-ndjson streams results, Prefer: respond-async detaches it", |call| {
        async move { v1::run_job(&call.broker, call.request).await }.boxed()
    }),
    Route::get("/api/v1/jobs", "list the detached jobs kept, with their progress", |call| {
        async move { jobs::list(&call.broker).await }.boxed()
    }),
    Route::get("/api/v1/jobs/{id}", "a detached job's status and results so far", |call| {
        async move { jobs::status(&call.broker, &call.tail).await }.boxed()
    }),
    Route::get("/api/v1/jobs/{id}/results", "a detached job's results; NDJSON replays, then follows", |call| {
        let streamed = super::v1::wants_stream(&call.request);
        async move { jobs::results(&call.broker, &call.tail, streamed).await }.boxed()
    }),
    Route::delete("/api/v1/jobs/{id}", "cancel a detached job's unfinished tasks", |call| {
        async move { jobs::cancel(&call.broker, &call.tail).await }.boxed()
    }),
    Route::get("/api/v1/cluster", "runners, busy workers, queue, tasks/s", |call| {
        async move { Ok(json(StatusCode::OK, &call.broker.cluster())) }.boxed()
    }),
    Route::get("/api/v1/cluster/events", "the cluster view and the detached jobs once a second (server-sent events)", |call| {
        async move { Ok(dashboard::events(&call.broker)) }.boxed()
    }),
    Route::get("/api/v1/metrics", "the same and task counters for Prometheus", |call| {
        async move { Ok(metrics::metrics(&call.broker)) }.boxed()
    }),
    Route::get("/api/v1/openapi.json", "this API as an OpenAPI 3.1 document", |call| {
        async move { Ok(json(StatusCode::OK, &openapi::document(call.broker.prefix()))) }.boxed()
    }),
    Route::get("/dashboard", "the operator dashboard (HTML): providers, queue, throughput, jobs", |_| {
        async { Ok(dashboard::page()) }.boxed()
    }),
];

/// Every route of the client API: method, path below the prefix, what it does.
pub const ROUTES: &[(&str, &str, &str)] = &listing();

const fn listing() -> [(&'static str, &'static str, &'static str); TABLE.len()] {
    let mut listing = [("", "", ""); TABLE.len()];
    let mut index = 0;
    while index < TABLE.len() {
        let route = &TABLE[index];
        listing[index] = (route.verb.as_str(), route.path, route.description);
        index += 1;
    }
    listing
}

/// Answers a request for a client route at `path` below the prefix: `404` for a path no route
/// has, `405` with `Allow` for a method the path's routes do not take.
pub(super) async fn route(broker: Wasimoff, path: &str, request: Request<Body>) -> Response<Body> {
    let mut matching: Vec<(&Route, &str)> = TABLE.iter().filter_map(|route| Some((route, route.tail(path)?))).collect();
    if matching.iter().any(|(route, _)| !route.suffix().is_empty()) {
        matching.retain(|(route, _)| !route.suffix().is_empty());
    }
    if matching.is_empty() {
        return ApiError::new(ApiErrorKind::NotFound, format!("no API route at {path}")).into_response();
    }
    let Some((route, tail)) = matching.iter().find(|(route, _)| route.verb.allows(request.method())) else {
        let allowed = [Method::GET, Method::HEAD, Method::POST, Method::DELETE]
            .into_iter()
            .filter(|method| matching.iter().any(|(route, _)| route.verb.allows(method)));
        return ApiError::method_not_allowed(allowed.collect()).into_response();
    };
    let call = Call { broker, request, tail: tail.to_string() };
    (route.handler)(call).await.unwrap_or_else(ApiError::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(path: &str) -> Vec<(&'static str, &str)> {
        TABLE.iter().filter_map(|route| Some((route.path, route.tail(path)?))).collect()
    }

    #[test]
    fn paths_find_their_routes_and_placeholders_take_the_rest() {
        assert_eq!(find("/api/v1/tasks"), [("/api/v1/tasks", "")]);
        assert_eq!(find("/api/broker/v1/upload"), [("/api/broker/v1/upload?name=NAME", "")]);
        assert_eq!(find("/api/v1/files"), [("/api/v1/files?alias=NAME", ""), ("/api/v1/files", "")]);
        assert_eq!(find("/api/v1/files/a%20b/c"), [("/api/v1/files/{ref-or-alias}", "a%20b/c"), ("/api/v1/files/{alias}", "a%20b/c")]);
        assert!(find("/api/v1/files/").is_empty());
        assert_eq!(find("/api/v1/jobs/abc"), [("/api/v1/jobs/{id}", "abc"), ("/api/v1/jobs/{id}", "abc")]);
        assert_eq!(
            find("/api/v1/jobs/abc/results"),
            [("/api/v1/jobs/{id}", "abc/results"), ("/api/v1/jobs/{id}/results", "abc"), ("/api/v1/jobs/{id}", "abc/results")]
        );
        assert!(find("/api/v1/jobs/a/b/results").iter().all(|(path, _)| *path == "/api/v1/jobs/{id}"));
        assert!(find("/api/v1/task").is_empty());
    }

    #[test]
    fn the_public_list_is_the_table() {
        assert_eq!(ROUTES.len(), TABLE.len());
        assert_eq!(ROUTES[0], ("GET", "/api/broker/v1/healthz", "seed: liveness, 200 OK"));
        assert_eq!(ROUTES[6], ("DELETE", "/api/v1/files/{alias}", "delete an alias; its content becomes evictable"));
        assert_eq!(ROUTES[7], ("POST", "/api/v1/tasks", "run one task"));
    }
}
