//! The examples as a user runs them: real processes on real ports.

use crate::support::{client, fixture};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Lines of axum-host's start-up banner: four of the site, one heading, one per broker route,
/// the provider page and WebTransport.
pub const AXUM_HOST_BANNER: usize = 7 + wasimoff::ROUTES.len();

/// Lines of hyper-host's start-up banner.
pub const HYPER_HOST_BANNER: usize = 3 + wasimoff::ROUTES.len();

/// A running example, killed when dropped.
pub struct Example {
    child: Child,
    pub base: String,
    pub banner: Vec<String>,
}

impl Example {
    /// Sends the process a signal (`STOP`, `CONT`, …) with `kill`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status().expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts example `name` on a free port and reads its banner of `banner_lines` lines.
pub fn start(name: &str, banner_lines: usize, env: &[(&str, &str)]) -> Example {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join(name);
    let mut child = Command::new(&path)
        .env("WASIMOFF_LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a banner line").unwrap();
    let base = first.rsplit(' ').next().unwrap().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    let banner = std::iter::once(first).chain(lines.by_ref().take(banner_lines - 1).map(Result::unwrap)).collect();
    std::thread::spawn(move || lines.for_each(drop));
    Example { child, base, banner }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_host_serves_its_site_and_the_broker() {
    let host = start("axum-host", AXUM_HOST_BANNER, &[]);
    assert_eq!(host.banner[4], "broker mounted at /wasimoff:");
    assert_eq!(host.banner[5], "  GET  /wasimoff/api/broker/v1/healthz  seed: liveness, 200 OK");
    assert!(host.banner.iter().any(|line| line == "  GET  /wasimoff/api/v1/cluster  runners, busy workers, queue, tasks/s"));
    let address = host.base.trim_start_matches("http://");
    assert_eq!(host.banner[AXUM_HOST_BANNER - 1], format!("  UDP  {address}  WebTransport for providers (HTTP/3)"));
    let base = &host.base;
    let home = client().get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("<h1>Example Site</h1>"), "{home}");
    let hello: Value = client().get(format!("{base}/api/hello")).send().await.unwrap().json().await.unwrap();
    assert_eq!(hello, json!({"hello": "from the host app"}));

    let upload = client().post(format!("{base}/wasimoff/api/broker/v1/upload?name=tsp.wasm")).body(fixture("tsp")).send().await.unwrap();
    assert_eq!(upload.status(), StatusCode::OK);
    let config = json!({"bin": "tsp.wasm", "exec": [{"args": ["rand", "3"]}]});
    let results: Value =
        client().post(format!("{base}/wasimoff/api/broker/v1/run")).json(&config).send().await.unwrap().json().await.unwrap();
    assert_eq!(results[0]["result"]["stdout"], "cities: 3\nbest distance: 1584.42\nroute: Glenholt -> Juniper -> Saltash -> Glenholt\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_host_guards_client_routes_with_a_bearer_token() {
    let host = start("axum-host", AXUM_HOST_BANNER, &[("WASIMOFF_TOKEN", "s3cret")]);
    assert_eq!(host.banner[4], "broker mounted at /wasimoff (Authorization: Bearer <WASIMOFF_TOKEN>):");
    let cluster = format!("{}/wasimoff/api/v1/cluster", host.base);
    let denied = client().get(&cluster).send().await.unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(denied.headers()["www-authenticate"], "Bearer");
    assert_eq!(client().get(&cluster).bearer_auth("wrong").send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(client().get(&cluster).bearer_auth("s3cret").send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(client().get(format!("{}/about", host.base)).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_host_passes_other_paths_to_its_handler() {
    let host = start("hyper-host", HYPER_HOST_BANNER, &[]);
    let base = &host.base;
    assert_eq!(
        host.banner[HYPER_HOST_BANNER - 1],
        format!("  UDP  {}  WebTransport for providers (HTTP/3)", base.trim_start_matches("http://"))
    );
    let text = client().get(format!("{base}/some/page")).send().await.unwrap().text().await.unwrap();
    assert_eq!(text, "hello from plain hyper at /some/page\n");
    assert_eq!(client().get(format!("{base}/wasimoff/api/broker/v1/healthz")).send().await.unwrap().text().await.unwrap(), "OK");
    let task = json!({"binary": {"blob": crate::support::to_b64(&fixture("exit"))}, "args": ["exit", "9"]});
    let result: Value = client().post(format!("{base}/wasimoff/api/v1/tasks")).json(&task).send().await.unwrap().json().await.unwrap();
    assert_eq!(result["result"]["status"], 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_provider_binary_joins_and_runs_tasks() {
    let host = start("axum-host", AXUM_HOST_BANNER, &[]);
    let url = format!("{}/wasimoff/provider/ws", host.base.replace("http://", "ws://"));
    let mut provider = Command::new(env!("CARGO_BIN_EXE_wasimoff-provider"))
        .args([url.as_str(), "--workers", "2", "--name", "bin-test", "--transport", "webtransport"])
        .stderr(Stdio::null())
        .spawn()
        .expect("start wasimoff-provider");
    let cluster = format!("{}/wasimoff/api/v1/cluster", host.base);
    let mut joined = Value::Null;
    for _ in 0..100 {
        joined = client().get(&cluster).send().await.unwrap().json().await.unwrap();
        if joined["providers"].as_array().is_some_and(|p| !p.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(joined["providers"][0]["name"], "bin-test", "{joined}");
    assert_eq!(joined["providers"][0]["workers"], 2);
    assert_eq!(joined["providers"][0]["transport"], "webtransport", "the axum host offers WebTransport: {joined}");
    let id = joined["providers"][0]["id"].as_str().unwrap().to_string();
    let task = json!({"binary": {"blob": crate::support::to_b64(&fixture("echo"))}, "args": ["echo", "remote"]});
    let result: Value =
        client().post(format!("{}/wasimoff/api/v1/tasks", host.base)).json(&task).send().await.unwrap().json().await.unwrap();
    assert_eq!(result["result"]["stdout"], "argc=2\nargv[0]=echo\nargv[1]=remote\n");
    assert_eq!(result["result"]["ran_on"], id.as_str());
    let _ = provider.kill();
    let _ = provider.wait();
}

#[test]
fn the_native_provider_binary_explains_its_usage() {
    let output = Command::new(env!("CARGO_BIN_EXE_wasimoff-provider")).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "usage: wasimoff-provider URL [--workers N] [--name NAME] [--transport auto|websocket|webtransport] [--token TOKEN]\n"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_wasimoff-provider")).arg("http://127.0.0.1:4080/wasimoff").output().unwrap();
    assert_eq!(output.status.code(), Some(2), "a URL that is no WebSocket endpoint is an error, not a retry loop");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "URL must be the broker's WebSocket endpoint, such as ws://HOST:4080/wasimoff/provider/ws (wss:// over TLS), not \"http://127.0.0.1:4080/wasimoff\"\n"
    );
}
