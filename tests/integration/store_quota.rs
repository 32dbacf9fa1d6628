//! The store's quota (`Limits::store_bytes`): least-recently-used eviction of content that no
//! alias names and no task holds, `507 store_full` past the quota, deleting aliases, and
//! memory that stays flat over a long upload loop.

use crate::support::{self, client, fixture};
use bytes::Bytes;
use serde_json::Value;
use std::time::Duration;
use wasimoff::{FallbackPolicy, FileSource, Limits, Storage, Store, StoreError, StoreUsage, Task, Upload, Wasimoff};

/// `size` bytes of data that differ by `seed`.
fn data(seed: u32, size: usize) -> Bytes {
    let mut bytes = vec![b'.'; size];
    bytes[..4].copy_from_slice(&seed.to_le_bytes());
    Bytes::from(bytes)
}

fn store_of(bytes: u64) -> Store {
    Store::open(&Storage::Memory, &Limits { store_bytes: bytes, ..Limits::default() }).unwrap()
}

async fn put(store: &Store, seed: u32) -> wasimoff::Digest {
    store.put(data(seed, 1000), Upload::new()).await.unwrap().file.digest
}

fn present(store: &Store, digest: &wasimoff::Digest) -> bool {
    store.resolve(&digest.to_string()).is_ok()
}

#[tokio::test]
async fn the_least_recently_used_content_is_evicted_first() {
    let store = store_of(3000);
    let (a, b, c) = (put(&store, 1).await, put(&store, 2).await, put(&store, 3).await);
    assert_eq!(store.usage(), StoreUsage { used_bytes: 3000, limit_bytes: 3000, files: 3 });
    store.resolve(&a.to_string()).unwrap();
    let d = put(&store, 4).await;
    assert_eq!([present(&store, &a), present(&store, &b), present(&store, &c), present(&store, &d)], [true, false, true, true]);
    assert!(matches!(store.get(&b).await, Err(StoreError::NotFound(_))), "evicted content is gone");
    let e = store.put(data(5, 2000), Upload::new()).await.unwrap().file.digest;
    assert_eq!([present(&store, &a), present(&store, &c), present(&store, &d), present(&store, &e)], [false, false, true, true]);
    assert_eq!(store.usage(), StoreUsage { used_bytes: 3000, limit_bytes: 3000, files: 2 });
}

#[tokio::test]
async fn aliased_content_stays_until_its_alias_is_deleted() {
    let store = store_of(2000);
    let named = store.put(data(1, 1000), Upload::new().alias("keep.csv")).await.unwrap().file.digest;
    put(&store, 2).await;
    put(&store, 3).await;
    assert!(present(&store, &named));
    let error = store.put(data(4, 1001), Upload::new()).await.unwrap_err();
    assert_eq!(error, StoreError::Full { size: 1001, available: 1000, limit: 2000 });
    assert_eq!(error.to_string(), "file of 1001 bytes does not fit in the store: 1000 of its 2000 bytes are free or can be freed");

    assert_eq!(store.delete_alias("keep.csv").await, Ok(named));
    assert!(matches!(store.delete_alias("keep.csv").await, Err(StoreError::NotFound(_))));
    store.put(data(4, 1001), Upload::new()).await.unwrap();
    assert!(!present(&store, &named), "once unnamed, the older content is evicted");
}

#[tokio::test]
async fn a_module_that_a_waiting_task_needs_is_never_evicted() {
    let echo = fixture("echo");
    let limits = Limits { store_bytes: echo.len() as u64 + 1000, ..support::test_limits() };
    let broker = Wasimoff::builder().limits(limits).fallback(FallbackPolicy::Never).build().unwrap();
    let module = broker.store().put(echo.clone(), Upload::new().alias("echo.wasm")).await.unwrap().file.digest;
    let waiting = support::spawn_run(&broker, Task::new(FileSource::reference("echo.wasm")).args(["echo", "hi"]));
    while broker.cluster().queued == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    broker.store().delete_alias("echo.wasm").await.unwrap();
    let error = broker.store().put(data(1, 2000), Upload::new()).await.unwrap_err();
    assert!(matches!(error, StoreError::Full { size: 2000, available: 1000, .. }), "{error:?}");
    assert!(present(broker.store(), &module), "the queued task's module must stay");

    waiting.abort();
    let _ = waiting.await;
    while broker.cluster().queued != 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    broker.store().put(data(1, 2000), Upload::new()).await.unwrap();
    assert!(!present(broker.store(), &module), "with the task gone, its module is evictable");
}

#[tokio::test]
async fn a_directory_store_deletes_evicted_files_and_shrinks_to_a_lowered_quota() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Directory(dir.path().to_path_buf());
    let blobs = || std::fs::read_dir(dir.path().join("blobs")).unwrap().count();
    {
        let store = Store::open(&storage, &Limits { store_bytes: 3000, ..Limits::default() }).unwrap();
        for seed in 1..=5 {
            put(&store, seed).await;
        }
        assert_eq!((blobs(), store.usage().used_bytes), (3, 3000));
    }
    let store = Store::open(&storage, &Limits { store_bytes: 1000, ..Limits::default() }).unwrap();
    assert_eq!((blobs(), store.usage().files), (1, 1));
}

#[tokio::test]
async fn over_http_a_full_store_answers_507_and_aliases_can_be_deleted() {
    let fixtures: u64 = support::FIXTURES.iter().map(|name| fixture(name).len() as u64).sum();
    let (_broker, base) = support::http_broker_with(Limits { store_bytes: fixtures + 1000, ..support::test_limits() }).await;
    let http = client();

    let response = http.post(format!("{base}/wasimoff/api/v1/files")).body(vec![b'x'; 2000]).send().await.unwrap();
    assert_eq!(response.status(), 507);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "store_full");
    assert_eq!(
        body["error"]["message"],
        format!("file of 2000 bytes does not fit in the store: 1000 of its {} bytes are free or can be freed", fixtures + 1000)
    );

    let listing: Value = http.get(format!("{base}/wasimoff/api/v1/files")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listing["store"]["used_bytes"], fixtures);
    assert_eq!(listing["store"]["limit_bytes"], fixtures + 1000);
    assert_eq!(listing["store"]["files"], support::FIXTURES.len());

    let deleted = http.delete(format!("{base}/wasimoff/api/v1/files/flood.wasm")).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    let again = http.delete(format!("{base}/wasimoff/api/v1/files/flood.wasm")).send().await.unwrap();
    assert_eq!(again.status(), 404);
    assert_eq!(again.json::<Value>().await.unwrap()["error"]["kind"], "not_found");
    let by_digest = http.delete(format!("{base}/wasimoff/api/v1/files/sha256:{}", "0".repeat(64))).send().await.unwrap();
    assert_eq!(by_digest.status(), 400);
    assert_eq!(by_digest.json::<Value>().await.unwrap()["error"]["kind"], "invalid_file");

    let flood = fixture("flood").len() as u64;
    let fits = http.post(format!("{base}/wasimoff/api/v1/files")).body(vec![b'x'; 1000 + flood as usize]).send().await.unwrap();
    assert_eq!(fits.status(), 201, "the unnamed module made room");
    let run = http
        .post(format!("{base}/wasimoff/api/v1/tasks"))
        .json(&serde_json::json!({"binary": {"ref": "echo.wasm"}, "args": ["echo", "still"]}))
        .send()
        .await;
    let result: Value = run.unwrap().json().await.unwrap();
    assert_eq!(result["result"]["stdout"], "argc=2\nargv[0]=echo\nargv[1]=still\n", "named modules were kept: {result}");
}

/// Resident memory of this process in bytes (each test runs in its own process).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[tokio::test]
async fn memory_stays_flat_over_a_long_upload_loop() {
    const MIB: usize = 1 << 20;
    let (broker, base) = support::http_broker_with(Limits { store_bytes: 16 * MIB as u64, ..support::test_limits() }).await;
    let http = client();
    let upload = |seed: u32| {
        let http = http.clone();
        let url = format!("{base}/wasimoff/api/v1/files");
        async move {
            let response = http.post(url).body(data(seed, MIB)).send().await.unwrap();
            assert_eq!(response.status(), 201);
        }
    };
    for seed in 0..32 {
        upload(seed).await;
    }
    let before = resident_bytes();
    for seed in 32..512 {
        upload(seed).await;
    }
    let grown = resident_bytes().saturating_sub(before);
    println!("480 MiB uploaded through a 16 MiB store: resident memory grew by {:.1} MiB", grown as f64 / MIB as f64);
    assert!(broker.store().usage().used_bytes <= 16 * MIB as u64);
    assert!(grown < 48 * MIB as u64, "resident memory grew by {grown} bytes over 480 MiB of uploads");
}
