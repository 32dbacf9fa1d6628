//! The client API described as an OpenAPI 3.1 document, served at
//! `{prefix}/api/v1/openapi.json`: the schemas come from the shared types in
//! [`wasimoff_protocol::api`], the operations from the route table ([`super::ROUTES`]), each
//! with the bodies it takes and answers.

use super::ROUTES;
use utoipa::OpenApi as _;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::server::Server;
use utoipa::openapi::{ContentBuilder, InfoBuilder, OpenApi, PathsBuilder, Ref, Required, ResponseBuilder};
use wasimoff_protocol::api;

/// The schemas of the client API (everything they refer to is collected with them).
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    api::ErrorBody,
    api::TaskRequest,
    api::JobRequest,
    api::TaskResult,
    api::JobResults,
    api::IndexedResult,
    api::Uploaded,
    api::SeedUploaded,
    api::FileList,
    api::RunConfiguration,
    api::SeedResult,
    api::JobAccepted,
    api::JobStatus,
    api::JobList,
    api::ClusterView,
)))]
struct Schemas;

/// The media type of JSON.
const JSON: &str = "application/json";
/// The media type of streamed results.
const NDJSON: &str = "application/x-ndjson";

/// A body of `media` type that is a `schema` (a name in the components), or, for `None`, any
/// bytes.
#[derive(Clone, Copy)]
struct Body {
    media: &'static str,
    schema: Option<&'static str>,
}

const fn json_of(schema: &'static str) -> Body {
    Body { media: JSON, schema: Some(schema) }
}

const BYTES: Body = Body { media: "application/octet-stream", schema: None };
const TEXT: Body = Body { media: "text/plain", schema: None };
const PROMETHEUS: Body = Body { media: "text/plain; version=0.0.4", schema: None };
const ERROR: Body = json_of("ErrorBody");

/// How one route is called and what it answers.
struct Operation {
    /// The path in OpenAPI form (one name for a path parameter, no query).
    path: &'static str,
    /// Query parameters: name, required, description.
    query: &'static [(&'static str, bool, &'static str)],
    /// The request body.
    request: Option<Body>,
    /// Answers: status, description, body.
    responses: &'static [(u16, &'static str, Option<Body>)],
}

/// The operation of the route `method path` of [`ROUTES`], `None` for a route this module
/// does not describe (a test keeps that from happening).
fn operation(method: &str, path: &str) -> Option<Operation> {
    let pattern = placeholders_as_braces(path.split_once('?').map_or(path, |(pattern, _query)| pattern));
    let operation = match (method, pattern.as_str()) {
        ("GET", "/api/broker/v1/healthz") => {
            Operation { path: "/api/broker/v1/healthz", query: &[], request: None, responses: &[(200, "`OK`", Some(TEXT))] }
        }
        ("POST", "/api/broker/v1/upload") => Operation {
            path: "/api/broker/v1/upload",
            query: &[("name", true, "the alias to store the body under")],
            request: Some(BYTES),
            responses: const { &[(200, "stored", Some(json_of("SeedUploaded"))), (400, "invalid file or no name", Some(ERROR))] },
        },
        ("POST", "/api/broker/v1/run") => Operation {
            path: "/api/broker/v1/run",
            query: &[],
            request: Some(json_of("RunConfiguration")),
            responses: &[(200, "one result per `exec` entry, in order", Some(SEED_RESULTS)), (400, "malformed configuration", Some(ERROR))],
        },
        ("POST", "/api/v1/files") => Operation {
            path: "/api/v1/files",
            query: &[("alias", false, "an alias to store the body under (repeatable)"), ("kind", false, "`wasm`, `zip` or `data`")],
            request: Some(BYTES),
            responses: const {
                &[
                    (201, "new content stored", Some(json_of("Uploaded"))),
                    (200, "the content was stored already", Some(json_of("Uploaded"))),
                    (400, "invalid file or alias", Some(ERROR)),
                    (413, "over the upload limit", Some(ERROR)),
                    (507, "does not fit within the store's quota", Some(ERROR)),
                ]
            },
        },
        ("GET", "/api/v1/files") => Operation {
            path: "/api/v1/files",
            query: &[],
            request: None,
            responses: const { &[(200, "every alias and the store's usage", Some(json_of("FileList")))] },
        },
        ("GET", "/api/v1/files/{}") => Operation {
            path: "/api/v1/files/{name}",
            query: &[],
            request: None,
            responses: &[(200, "the content, with its media type and ETag", Some(BYTES)), (404, "no such file", Some(ERROR))],
        },
        ("DELETE", "/api/v1/files/{}") => Operation {
            path: "/api/v1/files/{name}",
            query: &[],
            request: None,
            responses: &[(204, "the alias is deleted", None), (404, "no such alias", Some(ERROR))],
        },
        ("POST", "/api/v1/tasks") => Operation {
            path: "/api/v1/tasks",
            query: &[],
            request: Some(json_of("TaskRequest")),
            responses: const {
                &[
                    (200, "the task's result: it exited, or it failed while running", Some(json_of("TaskResult"))),
                    (400, "malformed or invalid task", Some(ERROR)),
                    (404, "a file it names is not stored", Some(ERROR)),
                    (429, "the queue is full; Retry-After", Some(ERROR)),
                    (503, "the broker is shutting down", Some(ERROR)),
                ]
            },
        },
        ("POST", "/api/v1/jobs") => Operation {
            path: "/api/v1/jobs",
            query: &[("stream", false, "`ndjson`: stream results as with Accept: application/x-ndjson")],
            request: Some(json_of("JobRequest")),
            responses: const {
                &[
                    (
                        200,
                        "results in order; with Accept: application/x-ndjson one IndexedResult line per task as each finishes",
                        Some(json_of("JobResults")),
                    ),
                    (202, "detached (Prefer: respond-async): where its status is", Some(json_of("JobAccepted"))),
                    (400, "malformed job", Some(ERROR)),
                    (429, "the queue is full; Retry-After", Some(ERROR)),
                ]
            },
        },
        ("GET", "/api/v1/jobs") => Operation {
            path: "/api/v1/jobs",
            query: &[],
            request: None,
            responses: const { &[(200, "the detached jobs kept, without their results", Some(json_of("JobList")))] },
        },
        ("GET", "/api/v1/cluster/events") => Operation {
            path: "/api/v1/cluster/events",
            query: &[],
            request: None,
            responses: &[(
                200,
                "server-sent events: `event: cluster`, one ClusterView a second",
                Some(Body { media: "text/event-stream", schema: None }),
            )],
        },
        ("GET", "/dashboard") => Operation {
            path: "/dashboard",
            query: &[],
            request: None,
            responses: &[(200, "the operator dashboard", Some(Body { media: "text/html", schema: None }))],
        },
        ("GET", "/api/v1/jobs/{}") => Operation {
            path: "/api/v1/jobs/{id}",
            query: &[],
            request: None,
            responses: const {
                &[(200, "a detached job's progress and results so far", Some(json_of("JobStatus"))), (404, "no such job", Some(ERROR))]
            },
        },
        ("DELETE", "/api/v1/jobs/{}") => Operation {
            path: "/api/v1/jobs/{id}",
            query: &[],
            request: None,
            responses: const { &[(200, "cancelled", Some(json_of("JobStatus"))), (404, "no such job", Some(ERROR))] },
        },
        ("GET", "/api/v1/jobs/{}/results") => Operation {
            path: "/api/v1/jobs/{id}/results",
            query: &[],
            request: None,
            responses: &[(200, "one IndexedResult line per finished task", Some(Body { media: NDJSON, schema: Some("IndexedResult") }))],
        },
        ("GET", "/api/v1/cluster") => Operation {
            path: "/api/v1/cluster",
            query: &[],
            request: None,
            responses: const { &[(200, "runners, the queue, jobs, the task rate", Some(json_of("ClusterView")))] },
        },
        ("GET", "/api/v1/metrics") => Operation {
            path: "/api/v1/metrics",
            query: &[],
            request: None,
            responses: &[(200, "Prometheus text format", Some(PROMETHEUS))],
        },
        ("GET", "/api/v1/openapi.json") => Operation {
            path: "/api/v1/openapi.json",
            query: &[],
            request: None,
            responses: &[(200, "this document", Some(Body { media: JSON, schema: None }))],
        },
        _ => return None,
    };
    Some(operation)
}

/// The seed's run answer: an array of results (a marker the content builder expands).
const SEED_RESULTS: Body = Body { media: JSON, schema: Some("[SeedResult]") };

/// `path` with every `{…}` placeholder written `{}`, to compare paths by shape.
pub(crate) fn placeholders_as_braces(path: &str) -> String {
    let mut shape = String::with_capacity(path.len());
    let mut inside = false;
    for character in path.chars() {
        match character {
            '{' => {
                inside = true;
                shape.push_str("{}");
            }
            '}' => inside = false,
            _ if inside => {}
            other => shape.push(other),
        }
    }
    shape
}

fn content(body: Body) -> utoipa::openapi::Content {
    let builder = ContentBuilder::new();
    let builder = match body.schema {
        Some(array) if array.starts_with('[') => builder.schema(Some(
            utoipa::openapi::schema::ArrayBuilder::new().items(Ref::from_schema_name(array.trim_matches(['[', ']']))).build(),
        )),
        Some(name) => builder.schema(Some(Ref::from_schema_name(name))),
        None if body.media == JSON => builder.schema(Some(ObjectBuilder::new().schema_type(Type::Object).build())),
        None => builder.schema(Some(ObjectBuilder::new().schema_type(Type::String).build())),
    };
    builder.build()
}

fn method(name: &str) -> Option<HttpMethod> {
    match name {
        "GET" => Some(HttpMethod::Get),
        "POST" => Some(HttpMethod::Post),
        "DELETE" => Some(HttpMethod::Delete),
        _ => None,
    }
}

/// The document for a broker mounted at `prefix`.
pub(crate) fn document(prefix: &str) -> OpenApi {
    let mut paths = PathsBuilder::new();
    for (verb, route, description) in ROUTES {
        let (Some(http_method), Some(operation)) = (method(verb), operation(verb, route)) else { continue };
        let mut builder = OperationBuilder::new().summary(Some(*description));
        if let Some((name, _)) = operation.path.split_once('{').and_then(|(_, rest)| rest.split_once('}')) {
            builder = builder.parameter(ParameterBuilder::new().name(name).parameter_in(ParameterIn::Path).required(Required::True));
        }
        for (name, required, about) in operation.query {
            let required = if *required { Required::True } else { Required::False };
            builder = builder.parameter(
                ParameterBuilder::new().name(*name).parameter_in(ParameterIn::Query).required(required).description(Some(*about)),
            );
        }
        if let Some(body) = operation.request {
            builder = builder
                .request_body(Some(RequestBodyBuilder::new().content(body.media, content(body)).required(Some(Required::True)).build()));
        }
        for (status, about, body) in operation.responses {
            let mut response = ResponseBuilder::new().description(*about);
            if let Some(body) = body {
                response = response.content(body.media, content(*body));
            }
            builder = builder.response(status.to_string(), response.build());
        }
        paths = paths.path(operation.path, PathItem::new(http_method, builder.build()));
    }
    let mut document = Schemas::openapi();
    document.info = InfoBuilder::new()
        .title("wasimoff broker client API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some("Upload WebAssembly (WASI preview 1) modules and files, run tasks and jobs, watch the cluster. See docs/API.md."))
        .build();
    document.servers = Some(vec![Server::new(prefix)]);
    document.paths = paths.build();
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_compare_by_shape() {
        assert_eq!(placeholders_as_braces("/api/v1/files/{ref-or-alias}"), "/api/v1/files/{}");
        assert_eq!(placeholders_as_braces("/api/v1/jobs/{id}/results"), "/api/v1/jobs/{}/results");
        assert_eq!(placeholders_as_braces("/api/v1/tasks"), "/api/v1/tasks");
    }

    #[test]
    fn every_route_has_an_operation() {
        for (verb, path, _) in ROUTES {
            assert!(operation(verb, path).is_some(), "{verb} {path} is not described");
        }
    }
}
