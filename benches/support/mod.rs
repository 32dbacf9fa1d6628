#![allow(dead_code)] // each benchmark uses a part of this module
//! Shared by the benchmarks: the TSP fixture, a fleet of fake WebSocket providers (`fleet.rs`),
//! and CPU time per thread group read from `/proc` (load-independent enough to split where a
//! run's time went on a shared machine).

pub mod fleet;

use std::collections::BTreeMap;
use std::time::Duration;

/// Builds the fixtures (quietly; a no-op when they are fresh) and returns `tsp.wasm`.
pub fn tsp_wasm() -> bytes::Bytes {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip1", "--manifest-path"])
        .arg(root.join("fixtures/Cargo.toml"))
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the fixtures failed");
    std::fs::read(root.join("fixtures/target/wasm32-wasip1/release/tsp.wasm")).expect("tsp.wasm").into()
}

/// Serves `broker` in an axum host app on a fresh loopback port; returns the WebSocket URL
/// providers connect to.
pub async fn serve(broker: &wasimoff::Wasimoff) -> String {
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let address = listener.local_addr().expect("address");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "host home" })).layer(broker.layer());
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("ws://{address}/wasimoff/provider/ws")
}

/// CPU time (user + system) this process has used so far.
pub fn process_cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value; `usage` is writable for the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let time = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// CPU time each thread of this process has run so far, summed by thread name (Linux
/// truncates names to 15 bytes: tokio's workers show as `tokio-runtime-w`). Threads that
/// ended are not counted, so take snapshots while the threads of interest are alive.
pub fn cpu_by_thread_name() -> BTreeMap<String, Duration> {
    let mut groups = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return groups };
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default().trim().to_string();
        let schedstat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        let nanos: u64 = schedstat.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
        *groups.entry(name).or_insert(Duration::ZERO) += Duration::from_nanos(nanos);
    }
    groups
}

#[repr(C)]
struct Timespec {
    seconds: i64,
    nanoseconds: i64,
}

/// `CLOCK_THREAD_CPUTIME_ID` on Linux.
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

unsafe extern "C" {
    fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
}

/// CPU time the calling thread has run so far, to the nanosecond (`/proc`'s schedstat of a
/// running thread is only brought up to date at scheduler ticks).
pub fn thread_cpu() -> Duration {
    let mut time = Timespec { seconds: 0, nanoseconds: 0 };
    // SAFETY: `time` is a valid, writable timespec (64-bit Linux layout) for the call.
    let status = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut time) };
    assert_eq!(status, 0, "clock_gettime failed");
    Duration::new(u64::try_from(time.seconds).unwrap_or(0), u32::try_from(time.nanoseconds).unwrap_or(0))
}

/// The CPU time each thread group spent between two snapshots.
pub fn cpu_spent(before: &BTreeMap<String, Duration>, after: &BTreeMap<String, Duration>) -> BTreeMap<String, Duration> {
    after.iter().map(|(name, total)| (name.clone(), total.saturating_sub(before.get(name).copied().unwrap_or_default()))).collect()
}
