//! The store quota on the Redis backend's shared tier: brokers in this process on one real
//! `redis-server`. The blobs in Redis stay within `Limits::store_bytes` over a long upload
//! loop, a module that a queued task needs is not evicted (and the task runs with it on
//! another replica), an upload that cannot fit is refused with `507 store_full`, and the pins
//! of a replica killed with tasks queued lapse within its claim timeout.

use crate::redis_backend::echoed;
use crate::redis_support::RedisServer;
use crate::support::{self, client, fixture, host_app, serve};
use bytes::Bytes;
use serde_json::Value;
use std::time::Duration;
use wasimoff::{Backend, FallbackPolicy, FileSource, Limits, StoreError, Task, Upload, Wasimoff};

const WAIT: Duration = Duration::from_secs(30);

/// A replica on `redis` whose blobs stay within `store_bytes`, running tasks as `fallback` says.
fn replica(redis: &RedisServer, store_bytes: u64, fallback: FallbackPolicy) -> Wasimoff {
    let limits = Limits { store_bytes, concurrency: 2, ..support::test_limits() };
    Wasimoff::builder().limits(limits).fallback(fallback).backend(Backend::Redis(redis.url())).build().expect("build replica")
}

/// `size` bytes of data that differ by `seed`.
fn data(seed: u32, size: usize) -> Bytes {
    let mut bytes = vec![b'.'; size];
    bytes[..4].copy_from_slice(&seed.to_le_bytes());
    Bytes::from(bytes)
}

fn connection(redis: &RedisServer) -> redis::Connection {
    redis::Client::open(redis.url()).expect("a Redis URL").get_connection().expect("connect to Redis")
}

/// The bytes of every blob Redis holds (their `STRLEN`s) and the broker's own count of them.
fn blob_bytes(redis: &RedisServer) -> (u64, u64) {
    let mut connection = connection(redis);
    let keys: Vec<String> = redis::cmd("KEYS").arg("wasimoff:blob:*").query(&mut connection).expect("KEYS");
    let real = keys.iter().map(|key| redis::cmd("STRLEN").arg(key).query::<u64>(&mut connection).expect("STRLEN")).sum();
    let counted: Option<u64> = redis::cmd("GET").arg("wasimoff:blob_bytes").query(&mut connection).expect("GET");
    (real, counted.unwrap_or_default())
}

fn holds(redis: &RedisServer, digest: &wasimoff::Digest) -> bool {
    redis::cmd("EXISTS").arg(format!("wasimoff:blob:{digest}")).query(&mut connection(redis)).expect("EXISTS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_blobs_stay_within_the_quota_and_keep_what_a_queued_task_needs() {
    const LIMIT: u64 = 200_000;
    const UPLOAD: usize = 16_000;
    let redis = RedisServer::start(false);
    let a = replica(&redis, LIMIT, FallbackPolicy::Never);
    let module = a.store().put(fixture("echo"), Upload::new()).await.expect("upload the module").file.digest;
    let task = Task::new(FileSource::reference(module.to_string())).args(["echo", "kept"]);
    let waiting = tokio::spawn({
        let a = a.clone();
        async move { a.run(task).await }
    });
    let deadline = tokio::time::Instant::now() + WAIT;
    while redis::cmd("XLEN").arg("wasimoff:tasks").query::<usize>(&mut connection(&redis)).expect("XLEN") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the task is queued in Redis");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let before = blob_bytes(&redis);
    let mut most = before.0;
    for seed in 0..300 {
        let stored = a.store().put(data(seed, UPLOAD), Upload::new()).await;
        assert!(stored.is_ok_and(|stored| stored.created), "upload {seed} fits by evicting older uploads");
        let (real, counted) = blob_bytes(&redis);
        assert_eq!(counted, real, "after upload {seed}, the count matches the blobs in Redis");
        assert!(real <= LIMIT, "after upload {seed}, Redis holds {real} blob bytes, over the quota of {LIMIT}");
        most = most.max(real);
    }
    let after = blob_bytes(&redis);
    eprintln!("blob bytes in Redis: {} before, {} after 300 uploads of {UPLOAD} bytes (at most {most}; quota {LIMIT})", before.0, after.0);
    assert!(holds(&redis, &module), "the module a queued task needs is not evicted");

    let too_big = LIMIT as usize - fixture("echo").len() + 1;
    match a.store().put(data(9999, too_big), Upload::new()).await {
        Err(StoreError::Full { size, available, limit }) => {
            assert_eq!((size, available, limit), (too_big as u64, too_big as u64 - 1, LIMIT), "all but the pinned module can go");
        }
        other => panic!("an upload that fits only by evicting the pinned module is refused: {other:?}"),
    }
    assert_eq!(blob_bytes(&redis), after, "a refused upload evicts nothing");

    let b = replica(&redis, LIMIT, FallbackPolicy::Always);
    let output = tokio::time::timeout(WAIT, waiting).await.expect("B runs the task").expect("join").expect("the task runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout), echoed(&["echo", "kept"]));
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_does_not_fit_in_the_shared_tier_is_refused_with_store_full() {
    const LIMIT: u64 = 300_000;
    let redis = RedisServer::start(false);
    let a = replica(&redis, LIMIT, FallbackPolicy::Never);
    a.store().put(data(1, 200_000), Upload::new().alias("big")).await.expect("A uploads an aliased file");
    let b = replica(&redis, LIMIT, FallbackPolicy::Never);
    let base = serve(host_app(&b)).await;
    let http = client();

    let refused = http.post(format!("{base}/wasimoff/api/v1/files")).body(data(2, 150_000)).send().await.expect("B answers");
    assert_eq!(refused.status(), 507, "B's own store is empty: Redis refuses");
    let body: Value = refused.json().await.expect("an error body");
    assert_eq!(body["error"]["kind"], "store_full", "{body}");
    assert_eq!(
        body["error"]["message"],
        "file of 150000 bytes does not fit in the store: 100000 of its 300000 bytes are free or can be freed"
    );
    assert_eq!(blob_bytes(&redis), (200_000, 200_000));

    let deleted = http.delete(format!("{base}/wasimoff/api/v1/files/big")).send().await.expect("B answers");
    assert_eq!(deleted.status(), 204);
    let fits = http.post(format!("{base}/wasimoff/api/v1/files")).body(data(2, 150_000)).send().await.expect("B answers");
    assert_eq!(fits.status(), 201, "the unnamed content is evicted for it");
    assert_eq!(blob_bytes(&redis), (150_000, 150_000));
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pins_of_a_killed_replica_lapse_within_its_claim_timeout() {
    const LIMIT: u64 = 200_000;
    let redis = RedisServer::start(false);
    let settings = [("WASIMOFF_FALLBACK", "never"), ("WASIMOFF_CLAIM_TIMEOUT_MS", "1000"), ("WASIMOFF_STORE_BYTES", "200000")];
    let a = crate::redis_backend::replica(&redis, &settings);
    let upload = client().post(format!("{}/wasimoff/api/v1/files", a.base)).body(fixture("echo")).send().await.expect("A answers");
    assert_eq!(upload.status(), 201);
    let module = wasimoff::Digest::of(&fixture("echo"));
    let task = serde_json::json!({"binary": {"ref": module.to_string()}, "args": ["echo", "orphan"]});
    let request = client().post(format!("{}/wasimoff/api/v1/tasks", a.base)).json(&task).send();
    let waiting = tokio::spawn(request);
    let deadline = tokio::time::Instant::now() + WAIT;
    while redis::cmd("XLEN").arg("wasimoff:tasks").query::<usize>(&mut connection(&redis)).expect("XLEN") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the task is queued in Redis");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.signal("KILL");
    let _ = waiting.await;

    let b = replica(&redis, LIMIT, FallbackPolicy::Never);
    let mut seed = 0;
    while holds(&redis, &module) {
        assert!(tokio::time::Instant::now() < deadline, "the dead replica's pin lapses and its module is evicted");
        b.store().put(data(seed, 16_000), Upload::new()).await.expect("an upload fits");
        seed += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (real, counted) = blob_bytes(&redis);
    eprintln!("the module was evicted after {seed} uploads; {real} blob bytes in Redis");
    assert!(real == counted && real <= LIMIT, "{real} bytes, {counted} counted");
    b.shutdown().await;
}
