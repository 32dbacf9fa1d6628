//! A job's window (how many of its tasks are admitted at once) counts the local runner only
//! when the fallback policy lets it run tasks: with `FallbackPolicy::Never` and one provider
//! of one worker (the gated executor), a job has twice that provider's room admitted, whatever
//! the local concurrency. And the window follows the cluster as the job runs: a job submitted
//! before any worker joined fills the workers that join later.

use crate::executor::{executor, runs};
use crate::support::{self, task};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::watch;
use wasimoff::{FallbackPolicy, Job, Limits, Wasimoff};

const WAIT: Duration = Duration::from_secs(30);

/// Asserts that the job's 50 tasks each answered `WORD INDEX` (the executor echoes its arguments).
fn assert_every_task_echoed(results: Vec<(usize, Result<wasimoff::TaskOutput, wasimoff::TaskError>)>, word: &str) {
    assert_eq!(results.len(), 50);
    for (index, result) in results {
        assert_eq!(result.expect("a task runs").stdout, format!("{word} {index}").as_bytes());
    }
}

/// The job's tasks the broker holds: queued, or given to a worker.
fn admitted(broker: &Wasimoff) -> usize {
    broker.cluster().jobs.iter().map(|job| job.queued + job.running).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_window_under_the_never_policy_counts_the_providers_only() {
    let limits = Limits { concurrency: 4, ..support::test_limits() };
    let broker = Wasimoff::builder().limits(limits).fallback(FallbackPolicy::Never).build().expect("build broker");
    support::upload_fixtures(&broker).await;
    let (open, gate) = watch::channel(false);
    let seen = executor(&broker, 1, gate);
    let tasks = (0..50).map(|i| task("echo", &["echo", "job", &i.to_string()])).collect();
    let job = tokio::spawn(broker.run_job_unordered(Job { parent: None, tasks }).collect::<Vec<_>>());

    let deadline = tokio::time::Instant::now() + WAIT;
    while runs(&seen).is_empty() || admitted(&broker) < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the executor holds a task and another waits");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        admitted(&broker),
        2,
        "twice the executor's one worker; the local concurrency of 4 would make it 10: {:?}",
        broker.cluster().jobs
    );

    open.send_replace(true);
    assert_every_task_echoed(job.await.expect("join"), "job");
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_submitted_before_its_workers_joined_fills_them_when_they_join() {
    let broker = Wasimoff::builder().limits(support::test_limits()).fallback(FallbackPolicy::Never).build().expect("build broker");
    support::upload_fixtures(&broker).await;
    let tasks = (0..50).map(|i| task("echo", &["echo", "early", &i.to_string()])).collect();
    let job = tokio::spawn(broker.run_job_unordered(Job { parent: None, tasks }).collect::<Vec<_>>());
    let deadline = tokio::time::Instant::now() + WAIT;
    while admitted(&broker) < 1 {
        assert!(tokio::time::Instant::now() < deadline, "the job's first task is queued");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(admitted(&broker), 1, "no worker anywhere: one task waits in the queue: {:?}", broker.cluster().jobs);

    let (open, gate) = watch::channel(false);
    let seen = executor(&broker, 4, gate);
    while runs(&seen).len() < 4 {
        assert!(tokio::time::Instant::now() < deadline, "all four workers get a task while the first is held: {:?}", runs(&seen));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    open.send_replace(true);
    assert_every_task_echoed(job.await.expect("join"), "early");
    broker.shutdown().await;
}
