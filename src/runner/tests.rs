//! The runner's interruption through the public API: modules rewritten with checks and modules
//! that fall back to fuel are both stopped at their timeout, the rewrite keeps what the module
//! computes, and modules the runner refused before are refused the same way.

use crate::{FileSource, Task, TaskErrorKind, TaskLimits, Wasimoff};

const TIMEOUT_MESSAGE: &str = "the task ran longer than its timeout of 200 ms and was stopped";

fn broker() -> Wasimoff {
    Wasimoff::builder().build().expect("build broker")
}

fn task(wat: &str) -> Task {
    let wasm = wat::parse_str(wat).expect("wat");
    Task::new(FileSource::blob(wasm)).limits(TaskLimits { timeout_ms: Some(200), ..Default::default() })
}

async fn assert_times_out(broker: &Wasimoff, wat: &str) {
    let error = broker.run(task(wat)).await.expect_err("the task cannot end by itself");
    assert_eq!((error.kind, error.message.as_str()), (TaskErrorKind::Timeout, TIMEOUT_MESSAGE), "{wat}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_stops_endless_loops_and_tail_calls_with_checks_or_fuel() {
    let broker = broker();
    let cases = [
        // A loop: rewritten, the check at the loop header traps once the deadline passed.
        r#"(module (memory 1) (func (export "_start") (loop (i32.store (i32.const 0) (i32.const 1)) (br 0))))"#,
        // A loop without memory access after a check at function entry: the loop's own check
        // must read the flag again (an atomic load, which the compiler cannot merge with the first).
        r#"(module (func $g) (func (export "_start") (call $g) (loop (br 0))))"#,
        // No loop, endless tail calls: the check at the entry of a function that calls.
        r#"(module (func $f (export "_start") (return_call $f)))"#,
        // A start function: not rewritten, runs on the fuel engine.
        r#"(module (func $init) (start $init) (func (export "_start") (loop (br 0))))"#,
    ];
    for wat in cases {
        assert_times_out(&broker, wat).await;
    }
    let output = broker.run(task(r#"(module (func (export "_start")))"#)).await.expect("the runner still runs tasks");
    assert_eq!(output.status, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_keeps_the_module_memory_apart_from_the_flags_in_rewritten_modules() {
    let broker = broker();
    // The module's memory becomes memory 1 in the rewrite (the flags are memory 0); WASI reads
    // the exported memory, so stdout is right only if the guest's stores reached it too.
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "flags apart\n")
        (func $iovec (param $at i32) (param $len i32)
            (i32.store (local.get $at) (i32.const 16))
            (i32.store (i32.add (local.get $at) (i32.const 4)) (local.get $len)))
        (func (export "_start")
            (local $i i32)
            (loop $again
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $again (i32.lt_u (local.get $i) (i32.const 1000))))
            (call $iovec (i32.const 0) (i32.const 12))
            (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
            (call $exit (i32.load8_u (i32.const 8)))))"#;
    let output = broker.run(task(wat)).await.expect("runs");
    assert_eq!((output.status, String::from_utf8_lossy(&output.stdout).as_ref()), (12, "flags apart\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_refuses_shared_or_several_memories_as_before() {
    let broker = broker();
    let shared = r#"(module (memory 1 1 shared) (func (export "_start")))"#;
    let error = broker.run(task(shared)).await.expect_err("threads are off");
    assert_eq!(error.kind, TaskErrorKind::InvalidModule, "{}", error.message);
    let two = r#"(module (memory 1) (memory 1) (func (export "_start")))"#;
    let error = broker.run(task(two)).await.expect_err("one memory per instance");
    assert_eq!(
        (error.kind, error.message.as_str()),
        (TaskErrorKind::InvalidModule, "invalid WebAssembly module: module memory does not fit in pooling allocator requirements")
    );
}

/// Writes 8 bytes of random_get, then the realtime clock as 8 little-endian bytes, to stdout;
/// `$init` is a start function when `start` is given (which puts the module on the fuel engine).
fn random_and_clock(start: &str) -> String {
    format!(
        r#"(module
        (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (func $init) {start}
        (func (export "_start")
            (drop (call $random (i32.const 16) (i32.const 8)))
            (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 24)))
            (i32.store (i32.const 0) (i32.const 16))
            (i32.store (i32.const 4) (i32.const 16))
            (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deterministic_tasks_repeat_their_seeded_output_and_others_do_not() {
    use super::determinism::{REALTIME_START_NS, generator};
    use chacha20::rand_core::Rng;
    let broker = broker();
    for start in ["", "(start $init)"] {
        let plain = task(&random_and_clock(start));
        let run = |task: Task| async { broker.run(task).await.expect("runs").stdout };
        let seeded = run(plain.clone().deterministic(true).seed(7)).await;
        let mut expected_random = generator(7);
        let mut expected: Vec<u8> = (0..8).map(|_| expected_random.next_u32() as u8).collect();
        expected.extend(REALTIME_START_NS.to_le_bytes());
        assert_eq!(seeded, expected, "{start}");
        assert_eq!(run(plain.clone().deterministic(true).seed(7)).await, seeded, "{start}");
        assert_ne!(run(plain.clone().deterministic(true).seed(8)).await[..8], seeded[..8], "{start}");
        let (first, second) = (run(plain.clone()).await, run(plain.clone()).await);
        assert_ne!(first[..8], second[..8], "{start}: random bytes from the host");
        let realtime = u64::from_le_bytes(first[8..16].try_into().expect("8 bytes"));
        assert!(realtime > 1_577_836_800_000_000_000, "{start}: the host's clock, after 2020: {realtime}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_without_deterministic_is_an_invalid_task() {
    let error = broker().run(task(&random_and_clock("")).seed(1)).await.expect_err("refused");
    assert_eq!((error.kind, error.message.as_str()), (TaskErrorKind::InvalidTask, "a seed needs \"deterministic\": true"));
}
