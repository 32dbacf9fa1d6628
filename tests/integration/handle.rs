//! The in-process handle: jobs with a parent, invalid tasks, the queue limit, cancellation,
//! hostile tasks beside healthy ones, and graceful shutdown.

use crate::support::{self, task};
use std::time::Duration;
use wasimoff::{FileSource, Job, Limits, Task, TaskErrorKind, TaskLimits};

fn timeout(ms: u64) -> TaskLimits {
    TaskLimits { timeout_ms: Some(ms), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_inherits_from_its_parent_and_keeps_order() {
    let broker = support::broker().await;
    let job = Job {
        parent: Some(Task::new(FileSource::reference("echo.wasm")).args(["echo", "parent"]).envs(["FROM=parent"])),
        tasks: vec![
            Task::default(),
            Task::default().args(["echo", "own"]),
            Task::default().envs(["FROM=task"]),
            Task::new(FileSource::reference("exit.wasm")).args(["exit", "4"]),
        ],
    };
    let results = broker.run_job(job).await;
    let stdout: Vec<String> = results.iter().map(|r| String::from_utf8_lossy(&r.as_ref().unwrap().stdout).into_owned()).collect();
    assert_eq!(stdout[0], "argc=2\nargv[0]=echo\nargv[1]=parent\nenv FROM=parent\n");
    assert_eq!(stdout[1], "argc=2\nargv[0]=echo\nargv[1]=own\nenv FROM=parent\n");
    assert_eq!(stdout[2], "argc=2\nargv[0]=echo\nargv[1]=parent\nenv FROM=task\n");
    assert_eq!(stdout[3], "exiting with 4\n");
    assert_eq!(results[3].as_ref().unwrap().status, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tsp_sweep_runs_as_a_job() {
    let broker = support::broker().await;
    let job = Job {
        parent: Some(Task::new(FileSource::reference("tsp.wasm"))),
        tasks: (3..=7).map(|n| Task::default().args(["tsp".to_string(), "rand".into(), n.to_string()])).collect(),
    };
    let results = broker.run_job(job).await;
    let firsts: Vec<String> = results
        .iter()
        .map(|r| String::from_utf8_lossy(&r.as_ref().unwrap().stdout).lines().next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(firsts, ["cities: 3", "cities: 4", "cities: 5", "cities: 6", "cities: 7"]);
}

#[tokio::test]
async fn invalid_tasks_are_refused_with_the_reason() {
    let broker = support::broker().await;
    let cases = [
        (Task::default(), "the task names no binary"),
        (task("echo", &["echo"]).envs(["NOEQUALS"]), "environment entry \"NOEQUALS\" is not KEY=VALUE"),
        (task("echo", &["echo"]).envs(["=value"]), "environment entry \"=value\" is not KEY=VALUE"),
        (task("echo", &["a\0b"]), "arguments and environment must not contain NUL bytes"),
        (task("echo", &["echo"]).limits(timeout(3_600_000)), "limit timeout_ms=3600000 exceeds the broker's maximum of 20000"),
        (task("echo", &["echo"]).limits(timeout(0)), "limit timeout_ms must be greater than 0"),
        (task("echo", &["echo"]).artifacts(["../up"]), "zip entry \"../up\" is refused: `..` would leave the task directory"),
        (task("echo", &["echo"]).file("/", FileSource::blob("x")), "zip entry \"\" is refused: the path names no file"),
        (task("echo", &[&"x".repeat(70_000)]), "arguments and environment take 70001 bytes; the limit is 65536"),
    ];
    for (task, message) in cases {
        let error = broker.run(task).await.unwrap_err();
        assert_eq!((error.kind, error.message.as_str()), (TaskErrorKind::InvalidTask, message));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_with_queue_full() {
    let limits = Limits { concurrency: 1, queue_length: 1, ..support::test_limits() };
    let broker = support::broker_with(limits).await;
    let running: Vec<_> = (0..2).map(|_| support::spawn_run(&broker, task("spin", &["spin"]).limits(timeout(300)))).collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let error = broker.run(task("echo", &["echo"])).await.unwrap_err();
    assert_eq!(error.kind, TaskErrorKind::QueueFull);
    assert_eq!(error.message, "the queue is full (1 tasks waiting); try again later");
    for run in running {
        assert_eq!(run.await.unwrap().unwrap_err().kind, TaskErrorKind::Timeout);
    }
    assert_eq!(broker.run(task("echo", &["echo"])).await.unwrap().status, 0, "slots are free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_future_cancels_the_running_task() {
    let limits = Limits { concurrency: 1, ..support::test_limits() };
    let broker = support::broker_with(limits).await;
    let abandoned = tokio::time::timeout(Duration::from_millis(200), broker.run(task("spin", &["spin"]))).await;
    assert!(abandoned.is_err(), "the spinning task cannot finish in 200 ms");
    let next = tokio::time::timeout(Duration::from_secs(5), broker.run(task("echo", &["echo", "next"]))).await;
    let output = next.expect("the only slot was freed by the cancellation").unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "argc=2\nargv[0]=echo\nargv[1]=next\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_tasks_do_not_disturb_healthy_ones() {
    let broker = support::broker().await;
    let hostile =
        [task("spin", &["spin"]).limits(timeout(500)), task("membomb", &["membomb"]), task("flood", &["flood"]), task("trap", &["trap"])];
    let hostile_runs: Vec<_> = hostile.into_iter().map(|t| support::spawn_run(&broker, t)).collect();
    for i in 0..20 {
        let arg = i.to_string();
        let output = broker.run(task("echo", &["echo", &arg])).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), format!("argc=2\nargv[0]=echo\nargv[1]={i}\n"));
    }
    let kinds: Vec<TaskErrorKind> =
        futures_util::future::join_all(hostile_runs).await.into_iter().map(|r| r.unwrap().unwrap_err().kind).collect();
    assert_eq!(kinds, [TaskErrorKind::Timeout, TaskErrorKind::MemoryLimit, TaskErrorKind::OutputLimit, TaskErrorKind::Trap]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_messages_name_the_limit() {
    let broker = support::broker().await;
    let error = broker.run(task("spin", &["spin"]).limits(timeout(200))).await.unwrap_err();
    assert_eq!(error.message, "the task ran longer than its timeout of 200 ms and was stopped");
    let memory = TaskLimits { memory_bytes: Some(16 << 20), ..Default::default() };
    let error = broker.run(task("membomb", &["membomb"]).limits(memory)).await.unwrap_err();
    assert_eq!(error.message, "the task tried to grow its memory past the limit of 16777216 bytes");
    let output = TaskLimits { output_bytes: Some(100), ..Default::default() };
    let error = broker.run(task("flood", &["flood"]).limits(output)).await.unwrap_err();
    assert_eq!(error.message, "stdout exceeded the output limit of 100 bytes; the output is truncated");
    assert_eq!(error.stdout.len(), 100);
    let error = broker.run(task("trap", &["trap"])).await.unwrap_err();
    assert_eq!(error.message, "wasm trap: wasm `unreachable` instruction executed");
    let error = broker.run(Task::new(FileSource::blob(&b"\0asm\x01\0\0\0"[..]))).await.unwrap_err();
    assert_eq!(error.message, "the module exports no `_start` function: it is not a WASI command");
    let error = broker.run(Task::new(FileSource::blob(&b"not wasm"[..]))).await.unwrap_err();
    assert_eq!(error.message, "not a WebAssembly module: it does not start with \\0asm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_over_the_limit_are_an_error() {
    let broker = support::broker().await;
    let limits = TaskLimits { artifact_bytes: Some(10), ..Default::default() };
    let error = broker
        .run(task("files", &["files", "write", "/out.txt", "more than ten bytes"]).artifacts(["out.txt"]).limits(limits))
        .await
        .unwrap_err();
    assert_eq!(error.kind, TaskErrorKind::ArtifactLimit);
    assert_eq!(error.message, "artifacts exceed the limit of 10 bytes");
    assert_eq!(String::from_utf8_lossy(&error.stdout), "wrote 19 bytes to /out.txt\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_running_tasks_and_refuses_new_ones() {
    let broker = support::broker().await;
    let running = support::spawn_run(&broker, task("tsp", &["tsp", "rand", "10"]));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(broker.cluster().local.busy, 1, "the task is running when shutdown starts");
    broker.shutdown().await;
    assert_eq!(broker.cluster().local.busy, 0, "shutdown returned before the running task finished");
    let output = running.await.unwrap().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().next(), Some("cities: 10"));
    let error = broker.run(task("echo", &["echo"])).await.unwrap_err();
    assert_eq!(error.kind, TaskErrorKind::ShuttingDown);
}
