//! Runs the conformance table (`tests/conformance/cases.json`) against the local runner and a
//! native provider over both transports.
//! Every case runs at the same time, hostile ones among the rest, and every mismatch is
//! reported before the test fails.

use crate::support::{self, RawEntry};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::Deserialize;
use std::collections::BTreeMap;
use wasimoff::native::{NativeProvider, TransportChoice};
use wasimoff::{FileSource, Task, TaskLimits, Wasimoff};

#[derive(Deserialize)]
struct Table {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// What the case checks and which answers are wasmtime's own; shown with its mismatches.
    about: Option<String>,
    binary: Option<String>,
    binary_base64: Option<String>,
    args: Option<Vec<String>>,
    envs: Option<Vec<String>>,
    stdin: Option<String>,
    stdin_base64: Option<String>,
    rootfs: Option<Vec<ZipEntry>>,
    files: Option<BTreeMap<String, String>>,
    artifacts: Option<Vec<String>>,
    limits: Option<TaskLimits>,
    deterministic: Option<bool>,
    seed: Option<u64>,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ZipEntry {
    path: String,
    content: Option<String>,
    dir: Option<bool>,
    symlink: Option<String>,
    zeros: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    status: Option<i32>,
    error: Option<String>,
    stdout: Option<String>,
    stdout_base64: Option<String>,
    stdout_bytes: Option<usize>,
    stdout_prefix: Option<String>,
    stderr: Option<String>,
    artifacts: Option<BTreeMap<String, String>>,
    missing_artifacts: Option<Vec<String>>,
}

fn load_cases() -> Vec<Case> {
    let text = include_str!("../conformance/cases.json");
    serde_json::from_str::<Table>(text).expect("cases.json parses").cases
}

fn decode(text: &str) -> Bytes {
    STANDARD.decode(text).expect("valid base64 in cases.json").into()
}

fn build_task(case: &Case) -> Task {
    let binary = match (&case.binary, &case.binary_base64) {
        (Some(name), None) => FileSource::reference(format!("{name}.wasm")),
        (None, Some(bytes)) => FileSource::blob(decode(bytes)),
        _ => panic!("case {}: give exactly one of binary and binary_base64", case.name),
    };
    let mut task = Task::new(binary);
    task.args = case.args.clone();
    task.envs = case.envs.clone();
    task.stdin = case.stdin.clone().map(Bytes::from).or_else(|| case.stdin_base64.as_deref().map(decode));
    task.artifacts = case.artifacts.clone();
    task.limits = case.limits.clone();
    task.deterministic = case.deterministic;
    task.seed = case.seed;
    if let Some(entries) = &case.rootfs {
        let raw: Vec<RawEntry<'_>> = entries
            .iter()
            .map(|e| match (&e.content, e.dir, &e.symlink, e.zeros) {
                (Some(content), None, None, None) => RawEntry::File(&e.path, content.as_bytes()),
                (None, Some(true), None, None) => RawEntry::Dir(&e.path),
                (None, None, Some(target), None) => RawEntry::Symlink(&e.path, target),
                (None, None, None, Some(count)) => RawEntry::Zeros(&e.path, count),
                _ => panic!("case {}: rootfs entry {} needs one of content, dir, symlink, zeros", case.name, e.path),
            })
            .collect();
        task.rootfs = Some(FileSource::blob(support::raw_zip(&raw)));
    }
    for (path, content) in case.files.iter().flatten() {
        task = task.file(path.clone(), FileSource::blob(content.clone()));
    }
    task
}

fn check_text(problems: &mut Vec<String>, what: &str, expected: &Option<String>, actual: &[u8]) {
    if let Some(expected) = expected
        && expected.as_bytes() != actual
    {
        problems.push(format!("{what}: expected {expected:?}, got {:?}", String::from_utf8_lossy(actual)));
    }
}

async fn run_case(broker: Wasimoff, case: Case, runner: String) -> Vec<String> {
    let result = broker.run(build_task(&case)).await;
    let expect = &case.expect;
    let mut problems = Vec::new();
    let (stdout, stderr) = match &result {
        Ok(output) => {
            if expect.error.is_some() {
                problems.push(format!("expected error {:?}, got exit status {}", expect.error, output.status));
            }
            if let Some(status) = expect.status
                && status != output.status
            {
                problems.push(format!("status: expected {status}, got {}", output.status));
            }
            if let Some(expected) = &expect.artifacts {
                let actual: BTreeMap<String, String> = support::unzip(output.artifacts.as_deref().unwrap_or_default())
                    .into_iter()
                    .map(|(name, content)| (name, String::from_utf8_lossy(&content).into_owned()))
                    .collect();
                if &actual != expected {
                    problems.push(format!("artifacts: expected {expected:?}, got {actual:?}"));
                }
            }
            if output.ran_on != runner {
                problems.push(format!("ran on {}, not on {runner}", output.ran_on));
            }
            if let Some(expected) = &expect.missing_artifacts
                && expected != &output.missing_artifacts
            {
                problems.push(format!("missing artifacts: expected {expected:?}, got {:?}", output.missing_artifacts));
            }
            (output.stdout.clone(), output.stderr.clone())
        }
        Err(error) => {
            if expect.error.as_deref() != Some(error.kind.as_str()) {
                problems.push(format!("expected {:?} / status {:?}, got error {error}", expect.error, expect.status));
            }
            (error.stdout.clone(), error.stderr.clone())
        }
    };
    check_text(&mut problems, "stdout", &expect.stdout, &stdout);
    check_text(&mut problems, "stderr", &expect.stderr, &stderr);
    if let Some(expected) = &expect.stdout_base64
        && decode(expected) != stdout
    {
        problems.push(format!("stdout: expected base64 {expected}, got {:?}", STANDARD.encode(&stdout)));
    }
    if let Some(expected) = expect.stdout_bytes
        && expected != stdout.len()
    {
        problems.push(format!("stdout length: expected {expected}, got {}", stdout.len()));
    }
    if let Some(prefix) = &expect.stdout_prefix
        && !stdout.starts_with(prefix.as_bytes())
    {
        problems.push(format!("stdout should start with {prefix:?}"));
    }
    if let Some(about) = case.about.as_deref().filter(|_| !problems.is_empty()) {
        problems.push(format!("(this case: {about})"));
    }
    problems.into_iter().map(|p| format!("{}: {p}", case.name)).collect()
}

/// Runs every case at once on `broker`, expecting each result from `runner`.
pub async fn run_table(broker: Wasimoff, runner: &str) {
    let cases = load_cases();
    let count = cases.len();
    let runs = cases.into_iter().map(|case| tokio::spawn(run_case(broker.clone(), case, runner.to_string())));
    let mut problems = Vec::new();
    for run in runs.collect::<Vec<_>>() {
        problems.extend(run.await.expect("case task"));
    }
    assert!(problems.is_empty(), "{} of {count} cases differ on {runner}:\n{}", problems.len(), problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_table_on_the_local_runner() {
    run_table(support::broker().await, wasimoff::LOCAL).await;
}

/// Runs the table on a native provider joined to the broker at `base` over `transport`.
async fn run_table_on_a_native_provider(broker: Wasimoff, base: &str, transport: TransportChoice) {
    let url = format!("{}/wasimoff/provider/ws", base.replace("http://", "ws://"));
    let provider = tokio::spawn(NativeProvider::new(url).workers(2).name("conformance").transport(transport).run());
    let state = crate::providers::wait_for_providers(base, 1).await;
    assert_eq!(state["providers"][0]["transport"], transport.as_str(), "{state}");
    let id = state["providers"][0]["id"].as_str().unwrap().to_string();
    run_table(broker, &id).await;
    provider.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_table_on_a_native_provider() {
    let (broker, base) = support::http_broker().await;
    run_table_on_a_native_provider(broker, &base, TransportChoice::WebSocket).await;
}

#[cfg(feature = "webtransport")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_table_on_a_native_provider_over_webtransport() {
    let (broker, base) = support::http_broker().await;
    broker.start_webtransport(base.trim_start_matches("http://").parse().expect("an address")).expect("start WebTransport");
    run_table_on_a_native_provider(broker, &base, TransportChoice::WebTransport).await;
}
