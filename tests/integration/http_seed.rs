//! The seed-compatible client API over real TCP: a client of the original broker only changes
//! its base URL.

use crate::support::{self, b64, client, fixture};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn upload(base: &str, name: &str, bytes: impl Into<reqwest::Body>) -> reqwest::Response {
    client().post(format!("{base}/wasimoff/api/broker/v1/upload?name={name}")).body(bytes).send().await.unwrap()
}

async fn run(base: &str, config: Value) -> (StatusCode, Value) {
    let response = client().post(format!("{base}/wasimoff/api/broker/v1/run")).json(&config).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_ok() {
    let (_broker, base) = support::http_broker().await;
    let response = client().get(format!("{base}/wasimoff/api/broker/v1/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tsp_parameter_sweep_runs_in_order() {
    let broker = wasimoff::Wasimoff::builder().limits(support::test_limits()).build().unwrap();
    let base = support::serve(support::host_app(&broker)).await;
    let response = upload(&base, "tsp.wasm", fixture("tsp")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let stored: Value = response.json().await.unwrap();
    assert_eq!(stored["name"], "tsp.wasm");
    assert_eq!(stored["kind"], "wasm");
    assert!(stored["ref"].as_str().unwrap().starts_with("sha256:"));

    let config = json!({
        "bin": "tsp.wasm",
        "exec": [
            {"args": ["rand", "3"]},
            {"args": ["rand", "4", "7"]},
            {"args": ["read"], "stdin": "0,0,Origin\n3,0,East\n3,4,NorthEast\n0,4,North\n"},
            {"args": ["nonsense"]}
        ]
    });
    let (status, results) = run(&base, config).await;
    assert_eq!(status, StatusCode::OK);
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["result"]["status"], 0);
    assert_eq!(results[0]["result"]["stdout"], "cities: 3\nbest distance: 1584.42\nroute: Glenholt -> Juniper -> Saltash -> Glenholt\n");
    assert_eq!(results[1]["result"]["stdout"].as_str().unwrap().lines().next(), Some("cities: 4"));
    assert_eq!(
        results[2]["result"],
        json!({"status": 0, "stdout": "cities: 4\nbest distance: 14.00\nroute: Origin -> East -> NorthEast -> North -> Origin\n", "stderr": ""})
    );
    assert_eq!(results[3]["result"]["status"], 2, "a non-zero exit is still a result");
    assert_eq!(results[3]["result"]["stderr"], "usage: tsp rand N [SEED] | tsp read < cities.csv\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envs_put_the_task_first_then_the_global_ones() {
    let (_broker, base) = support::http_broker().await;
    let config = json!({"bin": "echo.wasm", "envs": ["GLOBAL=1"], "exec": [{"args": ["a"], "envs": ["LOCAL=2"]}]});
    let (_, results) = run(&base, config).await;
    assert_eq!(results[0]["result"]["stdout"], "argc=2\nargv[0]=echo.wasm\nargv[1]=a\nenv LOCAL=2\nenv GLOBAL=1\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadfs_mounts_files_and_datafile_comes_back_base64() {
    let (_broker, base) = support::http_broker().await;
    assert_eq!(upload(&base, "words.txt", "alpha\nbeta\n").await.status(), StatusCode::OK);
    let config = json!({
        "bin": "files.wasm",
        "exec": [
            {"args": ["read", "/words.txt"], "loadfs": ["words.txt"]},
            {"args": ["write", "/result.csv", "1,2,3"], "datafile": "result.csv"},
            {"args": ["ls", "/"], "loadfs": ["words.txt"]}
        ]
    });
    let (status, results) = run(&base, config).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(results[0]["result"]["stdout"], "alpha\nbeta\n");
    assert_eq!(results[1]["result"]["stdout"], "wrote 5 bytes to /result.csv\n");
    assert_eq!(b64(results[1]["result"]["datafile"].as_str().unwrap()), b"1,2,3");
    assert_eq!(results[2]["result"]["stdout"], "/words.txt 11\n");
    assert!(results[0]["result"].get("datafile").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_adds_timestamps() {
    let (_broker, base) = support::http_broker().await;
    let (_, results) = run(&base, json!({"bin": "echo.wasm", "trace": true, "exec": [{}]})).await;
    let trace = results[0]["result"]["trace"].as_array().unwrap();
    let events: Vec<&str> = trace.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["received", "started", "finished"]);
    let times: Vec<u128> = trace.iter().map(|e| e["unixnano"].as_u64().unwrap() as u128).collect();
    assert!(times[0] <= times[1] && times[1] <= times[2], "{times:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_per_entry_or_per_request() {
    let (_broker, base) = support::http_broker().await;
    let (status, results) = run(&base, json!({"bin": "missing.wasm", "exec": [{}, {}]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        results,
        json!([{"error": "not_found: no stored file named \"missing.wasm\""}, {"error": "not_found: no stored file named \"missing.wasm\""}])
    );

    let (_, results) = run(&base, json!({"bin": "trap.wasm", "exec": [{}]})).await;
    assert_eq!(results, json!([{"error": "trap: wasm trap: wasm `unreachable` instruction executed"}]));

    let response = client().post(format!("{base}/wasimoff/api/broker/v1/run")).body("{\"bin\": 3}").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "bad_request");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("invalid JSON: invalid type: integer `3`, expected a string"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_refuses_missing_names_and_invalid_wasm() {
    let (_broker, base) = support::http_broker().await;
    let response = client().post(format!("{base}/wasimoff/api/broker/v1/upload")).body("x").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["message"], "missing query parameter ?name=");
    let response = upload(&base, "broken.wasm", "definitely not wasm").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        json!({"kind": "invalid_file", "message": "not a WebAssembly module: it does not start with \\0asm"})
    );
}
