//! The broker's own answer types (borrowing, for speed) and the shared owned ones in
//! [`wasimoff_protocol::api`] that clients read must write the same JSON: each test renders
//! a server value, reads it back as the shared type and renders that again.

use super::error::{ApiError, ApiErrorKind};
use super::results::{IndexedResult, JobResults, TaskResult};
use crate::ThroughputHistory;
use crate::cluster::{ClusterState, JobState, LocalState, ProviderState, VerificationStats};
use crate::task::{FileSource, Job, Task, TaskError, TaskErrorKind, TaskOutput};
use crate::trust::Trust;
use crate::{TaskLimits, Verify};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use wasimoff_protocol::api;
use wasimoff_protocol::{ProviderId, ProviderKind, Transport};

/// Asserts that `value`'s JSON reads as `T` and renders back identically.
fn same_json<T: Serialize + DeserializeOwned>(value: &impl Serialize) {
    let server = serde_json::to_string(value).expect("render the server's value");
    let shared: T = serde_json::from_str(&server).unwrap_or_else(|e| panic!("read {server} as the shared type: {e}"));
    assert_eq!(serde_json::to_string(&shared).expect("render the shared value"), server);
}

fn exited() -> Result<TaskOutput, TaskError> {
    Ok(TaskOutput {
        status: 3,
        stdout: Bytes::from_static(b"out\n"),
        stderr: Bytes::from_static(&[0xff, 0x00]),
        artifacts: Some(Bytes::from_static(b"PK")),
        missing_artifacts: vec!["/gone".into()],
        elapsed: Duration::from_micros(1500),
        ran_on: "p3".into(),
        verified_by: vec!["p3".into(), "local".into()],
    })
}

fn failed() -> Result<TaskOutput, TaskError> {
    Err(TaskError { stdout: Bytes::from_static(b"about to trap\n"), ..TaskError::new(TaskErrorKind::Trap, "wasm trap") })
}

#[test]
fn task_results_and_result_lines() {
    for result in [exited(), failed()] {
        same_json::<api::TaskResult>(&TaskResult::new(&result));
        same_json::<api::IndexedResult>(&IndexedResult { index: 7, result: TaskResult::new(&result) });
    }
    let (a, b) = (exited(), failed());
    same_json::<api::JobResults>(&JobResults { results: vec![TaskResult::new(&a), TaskResult::new(&b)] });
}

#[tokio::test]
async fn error_bodies() {
    let errors = [
        ApiError::new(ApiErrorKind::NotFound, "no stored file named \"x\""),
        ApiError::queue_full(),
        ApiError::from(TaskError::new(TaskErrorKind::InvalidTask, "the task names no binary")),
    ];
    for error in errors {
        let bytes = error.into_response().into_body().collect().await.expect("read the body").to_bytes();
        let shared: api::ErrorBody = serde_json::from_slice(&bytes).expect("read as the shared type");
        assert_eq!(serde_json::to_vec(&shared).expect("render the shared value"), bytes);
    }
}

#[test]
fn the_cluster_view() {
    let provider = ProviderState {
        id: ProviderId(4),
        kind: ProviderKind::Browser,
        name: "Firefox".into(),
        transport: Transport::WebTransport,
        workers: 4,
        busy: 2,
        tasks_done: 10,
        modules_cached: 1,
        trust: Trust::Untrusted,
        verified: 3,
        strikes: 1,
        quarantined: false,
        replica: Some("a1".into()),
    };
    let cluster = ClusterState {
        providers: vec![provider, provider_of()],
        local: LocalState { workers: 2, busy: 1, tasks_done: 9 },
        queued: 5,
        jobs: vec![
            JobState { job: 1, priority: -2, queued: 5, running: 1, replica: None },
            JobState { job: 2, priority: 0, queued: 3, running: 0, replica: Some("a1".into()) },
        ],
        queue_capacity: 1024,
        tasks_per_second: 12.5,
        throughput: ThroughputHistory { exited: vec![3, 0, 7], failed: vec![0, 1, 0] },
        verification: VerificationStats { verified: 1, disagreements: 2, unverified: 3, spot_checks: 4, strikes: 5, quarantines: 6 },
    };
    same_json::<api::ClusterView>(&cluster);
}

fn provider_of() -> ProviderState {
    ProviderState {
        id: ProviderId(9),
        kind: ProviderKind::Native,
        name: "host".into(),
        transport: Transport::InProcess,
        workers: 1,
        busy: 0,
        tasks_done: 0,
        modules_cached: 0,
        trust: Trust::Trusted,
        verified: 0,
        strikes: 0,
        quarantined: true,
        replica: None,
    }
}

#[test]
fn task_and_job_requests() {
    let full = Task::new(FileSource::reference("files.wasm"))
        .args(["files", "write", "/out/x", "hi"])
        .envs(["MODE=fast"])
        .stdin("input")
        .rootfs(FileSource::blob(Bytes::from_static(b"PK\x03\x04")))
        .file("/data/c.csv", FileSource::reference("c.csv"))
        .artifacts(["/out"])
        .limits(TaskLimits { timeout_ms: Some(5000), memory_bytes: Some(1 << 20), output_bytes: Some(99), artifact_bytes: Some(7) })
        .priority(-3)
        .deterministic(true)
        .seed(42);
    same_json::<api::TaskRequest>(&full);
    same_json::<api::TaskRequest>(&full.clone().verify(Verify::replicas(3).quorum(2)));
    same_json::<api::TaskRequest>(&full.clone().verify(Verify::spot_check(0.25)));
    same_json::<api::JobRequest>(&Job { parent: Some(full), tasks: vec![Task::default().args(["a"]), Task::default()] });
    // And the other way: what a client sends is what the broker reads.
    let sent = api::TaskRequest {
        binary: Some(api::FileSource::Ref("tsp.wasm".into())),
        verify: Some(api::Verify::Replicas { replicas: 2, quorum: None, max_replicas: Some(4), trusted_alone: None }),
        ..api::TaskRequest::default()
    };
    let read: Task = serde_json::from_str(&serde_json::to_string(&sent).expect("render")).expect("the broker reads the client's task");
    assert_eq!(read.binary, Some(FileSource::reference("tsp.wasm")));
}
