//! Unit tests of the provider core's session: frames in, actions out, the queue and batching.

use super::*;
use wasimoff_protocol::{VERSION, decode};

const LIMITS: WireLimits =
    WireLimits { timeout_ms: 1000, memory_bytes: 1 << 20, output_bytes: 1024, artifact_bytes: 8, rootfs_bytes: 1024, rootfs_entries: 4 };

fn module() -> Vec<u8> {
    wat::parse_str(r#"(module (memory 1) (func (export "_start")))"#).expect("valid wat")
}

fn run(id: u64, digest: &str, module_bytes: Option<Vec<u8>>, rootfs: Option<Vec<u8>>) -> Vec<u8> {
    let task = WireTask {
        module: digest.into(),
        module_bytes: module_bytes.map(ByteBuf::from),
        args: vec!["m".into()],
        envs: vec![("K".into(), "V".into())],
        stdin: ByteBuf::from(b"in".to_vec()),
        rootfs: rootfs.map(ByteBuf::from),
        files: vec![("f.txt".into(), ByteBuf::from(b"f".to_vec()))],
        artifacts: vec![],
        limits: LIMITS,
        seed: None,
    };
    encode(&ToProvider::Run { id, task }).expect("encode")
}

fn sent(action: &Action) -> ToBroker {
    match action {
        Action::Send(frame) => decode(frame, usize::MAX).expect("a broker frame"),
        other => panic!("expected a frame to send, got {other:?}"),
    }
}

#[test]
fn a_new_module_is_handed_over_once_then_tasks_refer_to_it() {
    let mut core = Core::new(Config::browser(4), 8);
    let actions = core.receive(&run(1, "sha256:a", Some(module()), None)).expect("frame");
    assert!(matches!(&actions[0], Action::Module { digest, bytes } if digest == "sha256:a" && bytes.starts_with(b"\0asm")));
    let Action::Run(task) = &actions[1] else { panic!("expected run, got {actions:?}") };
    assert_eq!((task.id, task.envs.clone(), task.stdin.clone()), (1, vec![("K".to_string(), "V".to_string())], b"in".to_vec()));
    assert_eq!(task.files, vec![("f.txt".to_string(), Some(b"f".to_vec()))]);

    let actions = core.receive(&run(2, "sha256:a", None, None)).expect("frame");
    assert!(matches!(&actions[..], [Action::Run(task)] if task.id == 2));
    assert_eq!(core.modules_cached(), 1);
}

#[test]
fn an_unknown_module_without_bytes_is_reported_evicted_and_the_task_fails() {
    let mut core = Core::new(Config::browser(4), 8);
    let actions = core.receive(&run(7, "sha256:b", None, None)).expect("frame");
    assert_eq!(sent(&actions[0]), ToBroker::Evicted { digests: vec!["sha256:b".into()] });
    let ToBroker::Result { id: 7, outcome: Outcome::Failed { kind, .. } } = sent(&actions[1]) else { panic!("{actions:?}") };
    assert_eq!(kind, TaskErrorKind::Internal);
}

#[test]
fn a_full_cache_evicts_the_least_recently_used_module() {
    let mut core = Core::new(Config::browser(1), 8);
    core.receive(&run(1, "sha256:a", Some(module()), None)).expect("frame");
    let actions = core.receive(&run(2, "sha256:b", Some(module()), None)).expect("frame");
    assert_eq!(sent(&actions[0]), ToBroker::Evicted { digests: vec!["sha256:a".into()] });
    assert_eq!(actions[1], Action::Evict(vec!["sha256:a".into()]));
}

#[test]
fn a_rejected_rootfs_fails_the_task_but_keeps_the_module() {
    let mut core = Core::new(Config::browser(4), 8);
    let zip = wasimoff_archive::pack([("a", &[0u8; 2000][..])]).expect("zip");
    let actions = core.receive(&run(3, "sha256:a", Some(module()), Some(zip))).expect("frame");
    assert!(matches!(actions[0], Action::Module { .. }));
    let ToBroker::Result { id: 3, outcome: Outcome::Failed { kind, message, .. } } = sent(&actions[1]) else { panic!("{actions:?}") };
    assert_eq!((kind.as_str(), message.as_str()), ("rootfs_rejected", "zip unpacks to more than 1024 bytes"));
    assert!(matches!(&core.receive(&run(4, "sha256:a", None, None)).expect("frame")[..], [Action::Run(_)]));
}

#[test]
fn pings_are_answered_and_garbage_is_an_error() {
    let mut core = Core::new(Config::browser(4), 8);
    let actions = core.receive(&encode(&ToProvider::Ping { nonce: 9 }).expect("encode")).expect("frame");
    assert_eq!(sent(&actions[0]), ToBroker::Pong { nonce: 9 });
    assert!(core.receive(b"\xc1 not msgpack").is_err());
}

#[test]
fn artifacts_over_the_limit_turn_the_result_into_artifact_limit() {
    let core = Core::new(Config::browser(4), 8);
    let frame = core.exited(5, 0, b"o".to_vec(), Vec::new(), Some(vec![("big".into(), Some(vec![1; 9]))]), vec![], 8, 10);
    let ToBroker::Result { id: 5, outcome: Outcome::Failed { kind, stdout, .. } } = decode(&frame, usize::MAX).expect("frame") else {
        panic!("expected a failure")
    };
    assert_eq!((kind.as_str(), stdout.as_slice()), ("artifact_limit", &b"o"[..]));
    let frame = core.exited(6, 3, Vec::new(), Vec::new(), None, vec!["gone".into()], 8, 10);
    let ToBroker::Result { outcome: Outcome::Exited { status: 3, artifacts: None, missing_artifacts, .. }, .. } =
        decode(&frame, usize::MAX).expect("frame")
    else {
        panic!("expected an exit")
    };
    assert_eq!(missing_artifacts, vec!["gone".to_string()]);
}

fn welcome(max_frame_bytes: u64) -> Vec<u8> {
    welcome_version(VERSION, max_frame_bytes)
}

fn welcome_version(version: u32, max_frame_bytes: u64) -> Vec<u8> {
    encode(&ToProvider::Welcome { version, provider_id: ProviderId(3), heartbeat_ms: 5000, max_frame_bytes, prefetch: 1 }).expect("encode")
}

fn ids(frame: &[u8]) -> Vec<u64> {
    let messages = decode_all::<ToBroker>(frame, usize::MAX).expect("a frame of results");
    messages.iter().map(|message| if let ToBroker::Result { id, .. } = message { *id } else { panic!("{message:?}") }).collect()
}

/// A native core of 2 workers holding tasks 1 and 2 running and 3 and 4 queued, all sent
/// in one frame, after a `welcome` of protocol `version`.
fn busy_core(version: u32) -> Core {
    let mut core = Core::new(Config::native(4), 2);
    core.hello("n", 2);
    core.receive(&welcome_version(version, 1 << 20)).expect("welcome");
    let mut frame = run(1, "sha256:a", Some(module()), None);
    for id in [2, 3, 4] {
        frame.extend(run(id, "sha256:a", None, None));
    }
    assert_eq!(started(&core.receive(&frame).expect("a frame of four runs")), [1, 2]);
    core
}

#[test]
fn a_busy_provider_holds_results_until_its_workers_need_more_tasks() {
    let mut core = busy_core(VERSION);
    assert_eq!(started(&core.finished(1)), [3]);
    let result = core.exited(1, 0, Vec::new(), Vec::new(), None, vec![], 0, 1);
    assert!(core.queue_result(result).is_empty(), "3 tasks held for 2 workers: the broker's answer can wait");
    assert!(core.holding());
    assert_eq!(started(&core.finished(2)), [4]);
    let result = core.exited(2, 0, Vec::new(), Vec::new(), None, vec![], 0, 1);
    let now = core.queue_result(result);
    assert_eq!(now.iter().map(|frame| ids(frame)).collect::<Vec<_>>(), [vec![1, 2]], "one frame, both results");
    assert!(!core.holding() && core.flush_results().is_none());

    core.finished(3);
    let result = core.failed(3, TaskErrorKind::Trap, "trap".into(), Vec::new(), Vec::new());
    assert_eq!(core.queue_result(result).len(), 1, "a worker without a next task: sent at once");
}

#[test]
fn held_results_go_out_when_flushed() {
    let mut core = busy_core(VERSION);
    core.finished(1);
    let result = core.exited(1, 0, Vec::new(), Vec::new(), None, vec![], 0, 1);
    assert!(core.queue_result(result).is_empty());
    let frame = core.flush_results().expect("the held result");
    assert_eq!(ids(&frame), [1]);
    assert!(core.flush_results().is_none());
}

#[test]
fn a_broker_of_version_1_gets_each_result_at_once() {
    let mut core = busy_core(1);
    core.finished(1);
    let result = core.exited(1, 0, Vec::new(), Vec::new(), None, vec![], 0, 1);
    let now = core.queue_result(result);
    assert_eq!(now.iter().map(|frame| ids(frame)).collect::<Vec<_>>(), [vec![1]]);
    assert!(!core.holding());
    let hello = decode::<ToBroker>(&Core::new(Config::native(1), 1).hello("n", 1), usize::MAX).expect("hello");
    assert!(matches!(hello, ToBroker::Hello(Hello { versions, .. }) if versions == VERSIONS), "both versions offered");
}

#[test]
fn the_least_recently_used_module_goes_first_and_the_broker_is_told() {
    let mut core = Core::new(Config::browser(2), 8);
    core.receive(&run(1, "sha256:a", Some(module()), None)).expect("frame");
    core.receive(&run(2, "sha256:b", Some(module()), None)).expect("frame");
    assert!(matches!(&core.receive(&run(3, "sha256:a", None, None)).expect("frame")[..], [Action::Run(_)]));
    let actions = core.receive(&run(4, "sha256:c", Some(module()), None)).expect("frame");
    assert_eq!(sent(&actions[0]), ToBroker::Evicted { digests: vec!["sha256:b".into()] });
    assert_eq!(actions[1], Action::Evict(vec!["sha256:b".into()]));
    assert!(matches!(&actions[2], Action::Module { digest, .. } if digest == "sha256:c"));
    assert_eq!(core.modules_cached(), 2);
    let actions = core.receive(&run(5, "sha256:b", None, None)).expect("frame");
    assert_eq!(sent(&actions[0]), ToBroker::Evicted { digests: vec!["sha256:b".into()] });
}

#[test]
fn a_forgotten_module_is_reported_evicted() {
    let mut core = Core::new(Config::browser(2), 8);
    core.receive(&run(1, "sha256:a", Some(module()), None)).expect("frame");
    let frame = core.forget("sha256:a");
    assert_eq!(decode::<ToBroker>(&frame, usize::MAX).expect("frame"), ToBroker::Evicted { digests: vec!["sha256:a".into()] });
    assert_eq!(core.modules_cached(), 0);
}

#[test]
fn the_welcome_sets_the_frame_limits() {
    let mut core = Core::new(Config::native(2), 8);
    let actions = core.receive(&welcome(300)).expect("frame");
    assert_eq!(actions, vec![Action::Welcome { provider_id: ProviderId(3), heartbeat_ms: 5000 }]);
    assert_eq!(core.receive_limit(), MAX_FRAME_BYTES, "the provider still takes frames up to its own default");

    let small = core.exited(1, 0, vec![b'x'; 100], Vec::new(), None, vec![], 0, 7);
    assert!(matches!(decode(&small, usize::MAX).expect("frame"), ToBroker::Result { id: 1, outcome: Outcome::Exited { .. } }));
    let large = core.exited(2, 0, vec![b'x'; 400], Vec::new(), None, vec![], 0, 7);
    assert!(large.len() <= 300);
    let ToBroker::Result { id: 2, outcome: Outcome::Failed { kind, message, stdout, .. } } = decode(&large, usize::MAX).expect("frame")
    else {
        panic!("expected a failure")
    };
    assert_eq!(kind, TaskErrorKind::Internal);
    assert_eq!(message, "the result of 510 bytes exceeds the broker's frame limit of 300 bytes");
    assert!(stdout.is_empty());

    core.receive(&welcome(2 * MAX_FRAME_BYTES as u64)).expect("frame");
    assert_eq!(core.receive_limit(), 2 * MAX_FRAME_BYTES);
}

#[test]
fn a_frame_over_the_receive_limit_is_refused_unparsed() {
    let mut core = Core::new(Config::native(2), 8);
    let error = core.receive(&vec![0u8; MAX_FRAME_BYTES + 1]).expect_err("too large");
    assert!(matches!(error, ProtocolError::TooLarge { size, limit: MAX_FRAME_BYTES } if size == MAX_FRAME_BYTES + 1));
}

#[test]
fn without_rewriting_modules_and_the_rootfs_pass_through_as_received() {
    let mut core = Core::new(Config::native(4), 8);
    let hello = decode::<ToBroker>(&core.hello("n", 2), usize::MAX).expect("frame");
    assert!(matches!(hello, ToBroker::Hello(Hello { kind: ProviderKind::Native, workers: 2, .. })));
    let zip = wasimoff_archive::pack([("a", &[0u8; 2000][..])]).expect("zip");
    let actions = core.receive(&run(1, "sha256:a", Some(b"not even wasm".to_vec()), Some(zip.clone()))).expect("frame");
    assert_eq!(actions[0], Action::Module { digest: "sha256:a".into(), bytes: b"not even wasm".to_vec() });
    let Action::Run(task) = &actions[1] else { panic!("expected run, got {actions:?}") };
    assert_eq!(task.rootfs.as_deref(), Some(&zip[..]), "the runner checks and unpacks the rootfs");
    assert_eq!(task.files, vec![("f.txt".to_string(), Some(b"f".to_vec()))]);
}

#[test]
fn with_rewriting_the_module_is_instrumented_and_an_invalid_one_fails() {
    let mut core = Core::new(Config::browser(4), 8);
    let actions = core.receive(&run(1, "sha256:a", Some(module()), None)).expect("frame");
    let Action::Module { bytes, .. } = &actions[0] else { panic!("{actions:?}") };
    assert_ne!(bytes, &module());
    let export = memory_limit::LIMIT_HIT_EXPORT.as_bytes();
    assert!(bytes.windows(export.len()).any(|window| window == export), "the limit globals are exported");
    let section = memory_import::TYPE_SECTION.as_bytes();
    assert!(bytes.windows(section.len()).any(|window| window == section), "the memory is imported");
    let actions = core.receive(&run(2, "sha256:b", Some(b"not wasm".to_vec()), None)).expect("frame");
    let ToBroker::Result { id: 2, outcome: Outcome::Failed { kind, .. } } = sent(&actions[0]) else { panic!("{actions:?}") };
    assert_eq!((kind, core.modules_cached()), (TaskErrorKind::InvalidModule, 1));
}

fn started(actions: &[Action]) -> Vec<u64> {
    actions.iter().filter_map(|action| if let Action::Run(task) = action { Some(task.id) } else { None }).collect()
}

#[test]
fn tasks_beyond_the_workers_wait_and_start_as_workers_finish() {
    let mut core = Core::new(Config::native(4), 1);
    let hello = decode::<ToBroker>(&core.hello("n", 1), usize::MAX).expect("frame");
    assert!(matches!(hello, ToBroker::Hello(Hello { workers: 1, prefetch: PREFETCH_OFFERED, .. })), "{hello:?}");
    core.receive(&welcome(1 << 20)).expect("frame");
    assert_eq!(core.prefetch(), 1);
    assert_eq!(started(&core.receive(&run(1, "sha256:a", Some(module()), None)).expect("frame")), [1]);
    let actions = core.receive(&run(2, "sha256:b", Some(module()), None)).expect("frame");
    assert!(matches!(&actions[..], [Action::Module { digest, .. }] if digest == "sha256:b"), "the module now, the task later: {actions:?}");
    assert!(core.receive(&run(3, "sha256:a", None, None)).expect("frame").is_empty());
    assert_eq!((core.pending(), core.is_running(1), core.is_running(2)), (3, true, false));
    assert_eq!(started(&core.finished(1)), [2]);
    assert!(core.finished(1).is_empty(), "a task finishes once");
    assert_eq!(started(&core.finished(2)), [3]);
    assert!(core.finished(3).is_empty());
    assert_eq!(core.pending(), 0);
}

#[test]
fn a_cancelled_waiting_task_is_dropped_and_a_cancelled_running_one_frees_its_worker() {
    let mut core = Core::new(Config::browser(4), 1);
    core.receive(&run(1, "sha256:a", Some(module()), None)).expect("frame");
    for id in [2, 3, 4] {
        core.receive(&run(id, "sha256:a", None, None)).expect("frame");
    }
    assert!(
        core.receive(&encode(&ToProvider::Cancel { id: 3 }).expect("encode")).expect("frame").is_empty(),
        "no action for a waiting task"
    );
    let actions = core.receive(&encode(&ToProvider::Cancel { id: 1 }).expect("encode")).expect("frame");
    assert_eq!((actions[0] == Action::Cancel { id: 1 }, started(&actions[1..])), (true, vec![2]));
    assert!(core.finished(1).is_empty(), "the cancelled task's worker was already given the next task");
    assert_eq!(started(&core.finished(2)), [4], "task 3 never starts");
    assert_eq!(core.pending(), 1);
}

#[test]
fn more_slots_start_waiting_tasks_and_refused_tasks_take_no_worker() {
    let mut core = Core::new(Config::native(4), 0);
    let actions = core.receive(&run(1, "sha256:x", None, None)).expect("frame");
    assert!(matches!(sent(&actions[1]), ToBroker::Result { id: 1, outcome: Outcome::Failed { .. } }), "{actions:?}");
    core.receive(&run(2, "sha256:a", Some(module()), None)).expect("frame");
    core.receive(&run(3, "sha256:a", None, None)).expect("frame");
    assert_eq!(core.pending(), 2);
    assert_eq!(started(&core.set_slots(4)), [2, 3]);
    assert!(core.set_slots(1).is_empty());
    assert_eq!(started(&core.receive(&run(4, "sha256:a", None, None)).expect("frame")), Vec::<u64>::new());
    core.finished(2);
    assert!(core.finished(3).iter().any(|action| matches!(action, Action::Run(task) if task.id == 4)));
}
