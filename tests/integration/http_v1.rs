//! The modern client API over real TCP: files, tasks, jobs, streaming, cluster, status codes,
//! pass-through of the host's own routes, and client-route authentication.

use crate::support::{self, RawEntry, b64, client, fixture, to_b64};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use wasimoff::{Digest, Limits, Wasimoff};

async fn post_json(url: String, body: Value) -> (StatusCode, Value) {
    let response = client().post(url).json(&body).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_upload_with_aliases_download_and_list() {
    let (_broker, base) = support::http_broker().await;
    let url = format!("{base}/wasimoff/api/v1/files");
    let data = b"x,y\n1,2\n".to_vec();
    let digest = Digest::of(&data).to_string();
    let response = client().post(format!("{url}?alias=table.csv&alias=latest")).body(data.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"ref": digest, "kind": "data", "size": 8, "aliases": ["table.csv", "latest"], "replaced": {}}));

    let again = client().post(&url).body(data.clone()).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK, "known content is not created again");

    let moved: Value = client().post(format!("{url}?alias=latest")).body("new").send().await.unwrap().json().await.unwrap();
    assert_eq!(moved["replaced"], json!({"latest": digest}));

    for name in ["table.csv", digest.as_str()] {
        let response = client().get(format!("{url}/{name}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/octet-stream");
        assert_eq!(response.headers()["etag"], format!("\"{digest}\"").as_str());
        let cache = if name == digest { "public, max-age=31536000, immutable" } else { "no-cache" };
        assert_eq!(response.headers()["cache-control"], cache);
        assert_eq!(response.bytes().await.unwrap(), data);
    }
    let wasm = client().get(format!("{url}/echo.wasm")).send().await.unwrap();
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
    assert_eq!(wasm.bytes().await.unwrap(), fixture("echo"));

    let missing = client().get(format!("{url}/nothing-here")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["error"],
        json!({"kind": "not_found", "message": "no stored file named \"nothing-here\""})
    );

    let list: Value = client().get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["aliases"]["table.csv"], digest);
    assert_eq!(list["aliases"]["latest"], Digest::of(b"new").to_string());

    let bad = client().post(format!("{url}?kind=wasm")).body("nope").send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let slip = support::raw_zip(&[RawEntry::File("../x", b"x")]);
    let bad = client().post(&url).body(slip.to_vec()).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"]["message"],
        "zip entry \"../x\" is refused: `..` would leave the task directory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_returns_its_result_with_binary_safe_output() {
    let (_broker, base) = support::http_broker().await;
    let url = format!("{base}/wasimoff/api/v1/tasks");
    let (status, body) = post_json(url.clone(), json!({"binary": {"ref": "exit.wasm"}, "args": ["exit", "7"]})).await;
    assert_eq!(status, StatusCode::OK);
    let result = &body["result"];
    assert_eq!((&result["status"], &result["stdout"], &result["stderr"]), (&json!(7), &json!("exiting with 7\n"), &json!("status 7\n")));
    assert!(result["elapsed_ms"].as_f64().unwrap() > 0.0);

    let binary = [0u8, 159, 146, 150, 255, 10];
    let (_, body) = post_json(url.clone(), json!({"binary": {"ref": "cat.wasm"}, "args": ["cat"], "stdin": to_b64(&binary)})).await;
    assert!(body["result"].get("stdout").is_none());
    assert_eq!(b64(body["result"]["stdout_base64"].as_str().unwrap()), binary);
    assert_eq!(body["result"]["stderr"], "cat: 6 bytes\n");

    let (_, body) = post_json(url.clone(), json!({"binary": {"blob": to_b64(&fixture("echo"))}, "envs": ["A=b"]})).await;
    assert_eq!(body["result"]["stdout"], "argc=1\nargv[0]=main.wasm\nenv A=b\n");

    let (status, body) = post_json(url.clone(), json!({"binary": {"ref": "trap.wasm"}})).await;
    assert_eq!(status, StatusCode::OK, "a task that ran and failed is a 200 with an error");
    assert_eq!(
        body["error"],
        json!({"kind": "trap", "message": "wasm trap: wasm `unreachable` instruction executed", "stdout": "about to trap\n", "stderr": ""})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_errors_have_their_status_codes() {
    let (_broker, base) = support::http_broker_with(Limits { request_bytes: 2000, ..support::test_limits() }).await;
    let url = format!("{base}/wasimoff/api/v1/tasks");
    let (status, body) = post_json(url.clone(), json!({"binary": {"ref": "nope.wasm"}})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["kind"], "not_found");
    let (status, body) = post_json(url.clone(), json!({"args": ["x"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!({"kind": "invalid_task", "message": "the task names no binary", "stdout": "", "stderr": ""}));
    let (status, body) = post_json(url.clone(), json!({"binary": {"ref": "echo.wasm"}, "argz": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().starts_with("invalid JSON: unknown field `argz`"), "{body}");
    let big = json!({"binary": {"ref": "echo.wasm"}, "args": ["x".repeat(3000)]});
    let (status, body) = post_json(url.clone(), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"], json!({"kind": "too_large", "message": "the request body exceeds the limit of 2000 bytes"}));
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    let response = client().get(format!("{base}/wasimoff/api/v2/nothing")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["message"], "no API route at /api/v2/nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_limit_get_413() {
    let (_broker, base) = support::http_broker_with(Limits { upload_bytes: 1_000_000, ..support::test_limits() }).await;
    let response = client().post(format!("{base}/wasimoff/api/v1/files")).body(vec![1u8; 1_000_001]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let response = client().post(format!("{base}/wasimoff/api/broker/v1/upload?name=big")).body(vec![1u8; 1_500_000]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_with_rootfs_and_artifacts_returns_results_in_order() {
    let (_broker, base) = support::http_broker().await;
    let rootfs = support::raw_zip(&[RawEntry::Dir("data/"), RawEntry::File("data/in.txt", b"from the rootfs")]);
    let stored: Value = client()
        .post(format!("{base}/wasimoff/api/v1/files?alias=root.zip"))
        .body(rootfs.to_vec())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["kind"], "zip");
    let job = json!({
        "parent": {"binary": {"ref": "files.wasm"}, "rootfs": {"ref": "root.zip"}, "artifacts": ["/out"]},
        "tasks": [
            {"args": ["files", "read", "/data/in.txt"], "artifacts": []},
            {"args": ["files", "write", "/out/a.txt", "A"]},
            {"args": ["files", "write", "/out/sub/b.txt", "BB"]},
            {"args": ["files", "ls", "/"], "rootfs": {"blob": to_b64(&support::raw_zip(&[RawEntry::File("other.txt", b"o")]))}, "artifacts": []}
        ]
    });
    let (status, body) = post_json(format!("{base}/wasimoff/api/v1/jobs"), job).await;
    assert_eq!(status, StatusCode::OK);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["result"]["stdout"], "from the rootfs");
    assert!(results[0]["result"].get("artifacts").is_none());
    let files = |i: usize| -> Vec<(String, Vec<u8>)> { support::unzip(&b64(results[i]["result"]["artifacts"].as_str().unwrap())) };
    assert_eq!(files(1), vec![("out/".to_string(), vec![]), ("out/a.txt".to_string(), b"A".to_vec())]);
    assert_eq!(
        files(2),
        vec![("out/".to_string(), vec![]), ("out/sub/".to_string(), vec![]), ("out/sub/b.txt".to_string(), b"BB".to_vec())]
    );
    assert_eq!(results[3]["result"]["stdout"], "/other.txt 1\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_job_sends_one_line_per_finished_task() {
    let (_broker, base) = support::http_broker().await;
    let tasks: Vec<Value> = (3..=8).map(|n| json!({"args": ["tsp", "rand", n.to_string()]})).collect();
    let job = json!({"parent": {"binary": {"ref": "tsp.wasm"}}, "tasks": tasks});
    let mut response =
        client().post(format!("{base}/wasimoff/api/v1/jobs")).header("accept", "application/x-ndjson").json(&job).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut text = String::new();
    let mut chunks = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        chunks += 1;
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), 6);
    assert!(chunks >= 2, "results arrive as they finish, not in one piece");
    let mut indices: Vec<u64> = lines.iter().map(|line| line["index"].as_u64().unwrap()).collect();
    indices.sort();
    assert_eq!(indices, [0, 1, 2, 3, 4, 5]);
    for line in &lines {
        let n = line["index"].as_u64().unwrap() + 3;
        assert_eq!(line["result"]["stdout"].as_str().unwrap().lines().next().unwrap(), format!("cities: {n}"));
    }
    let query: Value = client()
        .post(format!("{base}/wasimoff/api/v1/jobs?stream=ndjson"))
        .json(&json!({"tasks": [{"binary": {"ref": "exit.wasm"}, "args": ["exit", "1"]}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|text| serde_json::from_str(text.trim()).unwrap())
        .unwrap();
    assert_eq!(query["index"], 0);
    assert_eq!(query["result"]["status"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_view_counts_tasks() {
    let (_broker, base) = support::http_broker().await;
    let url = format!("{base}/wasimoff/api/v1/cluster");
    let before: Value = client().get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(before["providers"], json!([]));
    assert_eq!(before["local"]["busy"], 0);
    assert_eq!(before["queued"], 0);
    assert_eq!(before["queue_capacity"], 1024);
    for _ in 0..3 {
        post_json(format!("{base}/wasimoff/api/v1/tasks"), json!({"binary": {"ref": "echo.wasm"}})).await;
    }
    let after: Value = client().get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(after["local"]["tasks_done"].as_u64().unwrap(), before["local"]["tasks_done"].as_u64().unwrap() + 3);
    assert!(after["tasks_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(after["local"]["workers"], support::test_limits().concurrency);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_with_retry_after() {
    let (broker, base) = support::http_broker_with(Limits { concurrency: 1, queue_length: 0, ..support::test_limits() }).await;
    let spin = wasimoff::TaskLimits { timeout_ms: Some(1500), ..Default::default() };
    let busy = tokio::spawn(async move { broker.run(support::task("spin", &["spin"]).limits(spin)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let requests = [
        ("/wasimoff/api/v1/tasks", json!({"binary": {"ref": "echo.wasm"}})),
        ("/wasimoff/api/v1/jobs", json!({"tasks": [{"binary": {"ref": "echo.wasm"}}]})),
        ("/wasimoff/api/broker/v1/run", json!({"bin": "echo.wasm", "exec": [{}]})),
    ];
    for (path, body) in requests {
        let response = client().post(format!("{base}{path}")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert_eq!(response.headers()["retry-after"], "1", "{path}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["kind"], "queue_full", "{path}");
    }
    assert_eq!(busy.await.unwrap().unwrap_err().kind, wasimoff::TaskErrorKind::Timeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_cancels_its_task() {
    let (broker, base) = support::http_broker_with(Limits { concurrency: 1, ..support::test_limits() }).await;
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let gave_up = impatient.post(format!("{base}/wasimoff/api/v1/tasks")).json(&json!({"binary": {"ref": "spin.wasm"}})).send().await;
    assert!(gave_up.unwrap_err().is_timeout());
    let mut freed = false;
    for _ in 0..50 {
        if broker.cluster().local.busy == 0 {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(freed, "the spinning task still holds the only slot after the client left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_routes_pass_through_untouched() {
    let broker = Wasimoff::builder().build().unwrap();
    let router = axum::Router::new()
        .route("/", axum::routing::get(|| async { "host home" }))
        .route("/wasimoffice", axum::routing::get(|| async { "not the broker" }))
        .route("/api/hello", axum::routing::post(|body: String| async move { format!("host got {body}") }));
    let with_router_layer = support::serve(router.clone().layer(broker.layer())).await;
    let around_whole_router = support::serve_with_hyper(tower::Layer::layer(&broker.layer(), router.clone())).await;
    let nested = support::serve(router.clone().nest_service("/wasimoff", broker.service())).await;
    for base in [with_router_layer, around_whole_router, nested] {
        assert_eq!(client().get(format!("{base}/")).send().await.unwrap().text().await.unwrap(), "host home");
        assert_eq!(client().get(format!("{base}/wasimoffice")).send().await.unwrap().text().await.unwrap(), "not the broker");
        let echoed = client().post(format!("{base}/api/hello")).body("a body").send().await.unwrap();
        assert_eq!(echoed.text().await.unwrap(), "host got a body");
        assert_eq!(client().get(format!("{base}/missing")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
        let health = client().get(format!("{base}/wasimoff/api/broker/v1/healthz")).send().await.unwrap();
        assert_eq!(health.text().await.unwrap(), "OK", "{base}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_layer_guards_client_routes_only() {
    use http::{Request, Response};
    use wasimoff::layers::Body;
    let guard = tower_http::validate_request::ValidateRequestHeaderLayer::custom(|request: &mut Request<Body>| {
        match request.headers().get("authorization") {
            Some(value) if value == "Bearer let-me-in" => Ok(()),
            _ => {
                let mut denied = Response::new(Body::default());
                *denied.status_mut() = StatusCode::UNAUTHORIZED;
                Err(denied)
            }
        }
    });
    let broker = Wasimoff::builder().client_layer(guard).build().unwrap();
    let base = support::serve(support::host_app(&broker)).await;
    let url = format!("{base}/wasimoff/api/v1/cluster");
    assert_eq!(client().get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let allowed = client().get(&url).bearer_auth("let-me-in").send().await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(client().get(format!("{base}/")).send().await.unwrap().text().await.unwrap(), "host home");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_for_prometheus() {
    let (_broker, base) = support::http_broker().await;
    for binary in ["echo.wasm", "echo.wasm", "trap.wasm"] {
        post_json(format!("{base}/wasimoff/api/v1/tasks"), json!({"binary": {"ref": binary}})).await;
    }
    let response = client().get(format!("{base}/wasimoff/api/v1/metrics")).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let text = response.text().await.unwrap();
    for line in [
        "# TYPE wasimoff_tasks_total counter",
        "wasimoff_tasks_total{outcome=\"exited\"} 2",
        "wasimoff_tasks_total{outcome=\"trap\"} 1",
        "wasimoff_tasks_total{outcome=\"timeout\"} 0",
        "wasimoff_queued_tasks 0",
        "wasimoff_providers 0",
        "wasimoff_workers{runner=\"local\"} 2",
        "wasimoff_busy_workers{runner=\"providers\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
}
