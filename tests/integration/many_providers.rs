//! Many providers on real WebSockets: 250 fake providers (the benchmark's fleet) connect to
//! one broker, a job of one task per worker spreads over all of them, and every task's
//! result arrives exactly once.

use crate::support;
use std::collections::BTreeMap;
use wasimoff::{FallbackPolicy, FileSource, Job, Limits, Task, Upload, Wasimoff};

#[path = "../../benches/support/fleet.rs"]
#[allow(dead_code, reason = "the benchmark uses the rest of the fleet")]
mod fleet;

const PROVIDERS: usize = 250;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_spreads_over_250_websocket_providers_and_every_result_arrives_once() {
    let limits = Limits { max_providers: PROVIDERS, ..support::test_limits() };
    let broker = Wasimoff::builder().limits(limits).fallback(FallbackPolicy::Never).build().expect("build broker");
    let module = wat::parse_str(r#"(module (func (export "_start")))"#).expect("wat");
    broker.store().put(module.into(), Upload::new().alias("noop.wasm")).await.expect("upload");
    let base = support::serve(support::host_app(&broker)).await;
    let url = format!("{}/wasimoff/provider/ws", base.replace("http://", "ws://"));

    // Nobody answers until every worker holds a task: idle workers come first, so each
    // provider gets exactly one task per worker.
    let tasks = PROVIDERS * fleet::WORKERS as usize;
    let mut fleet = fleet::Fleet::holding(tasks as u64);
    fleet.grow(&url, PROVIDERS, 32).await;
    assert_eq!(broker.cluster().providers.len(), PROVIDERS);

    let job = Job {
        parent: Some(Task::new(FileSource::reference("noop.wasm"))),
        tasks: (0..tasks).map(|index| Task::default().args(["noop".to_string(), index.to_string()])).collect(),
    };
    let results = broker.run_job(job).await;
    let mut per_provider = BTreeMap::<String, usize>::new();
    for (index, result) in results.into_iter().enumerate() {
        let output = result.unwrap_or_else(|error| panic!("task {index} failed: {error}"));
        assert_eq!(String::from_utf8_lossy(&output.stdout), index.to_string());
        *per_provider.entry(output.ran_on).or_default() += 1;
    }
    assert_eq!(per_provider.len(), PROVIDERS, "every provider ran tasks");
    assert!(per_provider.values().all(|&count| count == fleet::WORKERS as usize), "{per_provider:?}");
    assert_eq!(fleet.answered(), tasks as u64, "no task ran twice");
    let cluster = broker.cluster();
    assert_eq!(cluster.providers.iter().map(|provider| provider.tasks_done).sum::<u64>(), tasks as u64);
}
