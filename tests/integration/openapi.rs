//! The OpenAPI document at `{prefix}/api/v1/openapi.json`: every client route is described
//! with its method, path and summary, and every example in it validates against its schema
//! (JSON Schema 2020-12, checked with the `jsonschema` crate).

use crate::support::{self, client};
use serde_json::{Value, json};

/// `path` without its query, with every `{…}` placeholder written `{}`.
fn shape(path: &str) -> String {
    let path = path.split_once('?').map_or(path, |(path, _query)| path);
    let mut shape = String::new();
    let mut inside = false;
    for character in path.chars() {
        match character {
            '{' => (inside, shape) = (true, shape + "{}"),
            '}' => inside = false,
            _ if inside => {}
            other => shape.push(other),
        }
    }
    shape
}

async fn document() -> Value {
    let broker = wasimoff::Wasimoff::builder().prefix("/compute").build().unwrap();
    let base = support::serve(support::host_app(&broker)).await;
    let response = client().get(format!("{base}/compute/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_route_is_described() {
    let document = document().await;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["servers"], json!([{"url": "/compute"}]));
    let paths = document["paths"].as_object().unwrap();
    for (method, path, description) in wasimoff::ROUTES {
        let item = paths.iter().find(|(documented, _)| shape(documented) == shape(path)).map(|(_, item)| item);
        let operation = item.and_then(|item| item.get(method.to_lowercase())).unwrap_or_else(|| panic!("{method} {path} is not described"));
        assert_eq!(operation["summary"], *description, "{method} {path}");
        assert!(operation["responses"].as_object().is_some_and(|responses| !responses.is_empty()), "{method} {path}");
    }
    let tasks = &paths["/api/v1/tasks"]["post"];
    assert_eq!(tasks["requestBody"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/TaskRequest");
    assert_eq!(tasks["responses"]["200"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/TaskResult");
    assert_eq!(tasks["responses"]["429"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody");
    let files = &paths["/api/v1/files/{name}"];
    assert_eq!(files["get"]["parameters"][0]["name"], "name");
    assert!(files["delete"]["responses"]["204"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_examples_validate_against_their_schemas() {
    let document = document().await;
    let components = &document["components"];
    let mut checked = Vec::new();
    for (name, schema) in components["schemas"].as_object().unwrap() {
        let examples: Vec<&Value> = match (schema.get("example"), schema.get("examples")) {
            (Some(example), _) => vec![example],
            (None, Some(Value::Array(examples))) => examples.iter().collect(),
            _ => continue,
        };
        let root = json!({"$ref": format!("#/components/schemas/{name}"), "components": components});
        let validator = jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("the schema of {name} compiles: {e}"));
        for example in examples {
            let errors: Vec<String> = validator.iter_errors(example).map(|error| error.to_string()).collect();
            assert!(errors.is_empty(), "the example of {name} does not validate: {errors:?}");
            checked.push(name.as_str());
        }
        assert!(!validator.is_valid(&json!(["not", "an", "object"])), "the schema of {name} accepts anything");
    }
    checked.sort();
    assert_eq!(checked, ["ClusterView", "ErrorBody", "IndexedResult", "JobRequest", "TaskRequest", "TaskResult", "Uploaded"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schemas_reject_what_the_broker_rejects() {
    let document = document().await;
    let components = &document["components"];
    let validator =
        |name: &str| jsonschema::validator_for(&json!({"$ref": format!("#/components/schemas/{name}"), "components": components})).unwrap();
    let task = validator("TaskRequest");
    assert!(task.is_valid(&json!({"binary": {"ref": "tsp.wasm"}, "args": ["tsp"], "priority": 10, "verify": {"replicas": 2}})));
    assert!(!task.is_valid(&json!({"binary": {"ref": "echo.wasm"}, "argv": ["echo"]})), "unknown fields are refused");
    assert!(!task.is_valid(&json!({"binary": {"ref": "echo.wasm"}, "priority": "high"})));
    let result = validator("TaskResult");
    assert!(result.is_valid(&json!({"error": {"kind": "timeout", "message": "…", "stdout": "spinning\n", "stderr": ""}})));
    assert!(!result.is_valid(&json!({"result": {"stdout": ""}})), "an exit has a status");
}
