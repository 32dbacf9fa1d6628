//! Round trips, size limits, malformed frames and version negotiation.

use serde_bytes::ByteBuf;
use wasimoff_protocol::*;

fn task() -> WireTask {
    WireTask {
        module: "sha256:00".into(),
        module_bytes: Some(ByteBuf::from(vec![0, 97, 115, 109, 1, 0, 0, 0])),
        args: vec!["tsp".into(), "rand".into(), "8".into()],
        envs: vec![("A".into(), "b".into())],
        stdin: ByteBuf::from(vec![0, 255, 10]),
        rootfs: None,
        files: vec![("data/x".into(), ByteBuf::from(b"x".to_vec()))],
        artifacts: vec![("out".into(), "/out".into())],
        limits: WireLimits {
            timeout_ms: 1000,
            memory_bytes: 1 << 20,
            output_bytes: 100,
            artifact_bytes: 100,
            rootfs_bytes: 100,
            rootfs_entries: 10,
        },
        seed: Some(u64::MAX),
    }
}

#[test]
fn every_message_round_trips() {
    let to_provider = [
        ToProvider::Welcome { version: VERSION, provider_id: ProviderId(1), heartbeat_ms: 5000, max_frame_bytes: 1 << 20, prefetch: 1 },
        ToProvider::Refused { reason: "no".into() },
        ToProvider::Run { id: 7, task: task() },
        ToProvider::Cancel { id: 7 },
        ToProvider::Ping { nonce: 3 },
    ];
    for message in to_provider {
        assert_eq!(decode::<ToProvider>(&encode(&message).unwrap(), MAX_FRAME_BYTES).unwrap(), message);
    }
    let to_broker = [
        ToBroker::Hello(Hello { versions: vec![1], kind: ProviderKind::Browser, name: "b".into(), workers: 4, prefetch: 2, token: None }),
        ToBroker::Workers { count: 2 },
        ToBroker::Result {
            id: 7,
            outcome: Outcome::Exited {
                status: 3,
                stdout: ByteBuf::from(b"out".to_vec()),
                stderr: ByteBuf::new(),
                artifacts: None,
                missing_artifacts: vec!["x".into()],
                elapsed_us: 12,
            },
        },
        ToBroker::Result {
            id: 8,
            outcome: Outcome::Failed { kind: TaskErrorKind::Trap, message: "boom".into(), stdout: ByteBuf::new(), stderr: ByteBuf::new() },
        },
        ToBroker::Evicted { digests: vec!["sha256:00".into()] },
        ToBroker::Pong { nonce: 3 },
    ];
    for message in to_broker {
        assert_eq!(decode::<ToBroker>(&encode(&message).unwrap(), MAX_FRAME_BYTES).unwrap(), message);
    }
}

/// The frames of a provider and a broker from before prefetch, field by field as they sent them.
#[derive(serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BeforePrefetch {
    Hello { versions: Vec<u32>, kind: ProviderKind, name: String, workers: u32 },
    Welcome { version: u32, provider_id: ProviderId, heartbeat_ms: u64, max_frame_bytes: u64 },
}

#[test]
fn frames_without_prefetch_mean_no_prefetch() {
    let hello = BeforePrefetch::Hello { versions: vec![1], kind: ProviderKind::Native, name: "old".into(), workers: 3 };
    let ToBroker::Hello(hello) = decode::<ToBroker>(&encode(&hello).unwrap(), MAX_FRAME_BYTES).unwrap() else { panic!("a hello") };
    assert_eq!((hello.workers, hello.prefetch), (3, 0));
    let welcome = BeforePrefetch::Welcome { version: 1, provider_id: ProviderId(4), heartbeat_ms: 5000, max_frame_bytes: 1024 };
    let welcome = decode::<ToProvider>(&encode(&welcome).unwrap(), MAX_FRAME_BYTES).unwrap();
    assert!(matches!(welcome, ToProvider::Welcome { provider_id: ProviderId(4), prefetch: 0, .. }), "{welcome:?}");
}

#[test]
fn module_bytes_travel_as_binary_not_base64() {
    let module = vec![0xABu8; 4096];
    let mut wire = task();
    wire.module_bytes = Some(ByteBuf::from(module));
    let frame = encode(&ToProvider::Run { id: 1, task: wire }).unwrap();
    assert!(frame.len() < 4096 + 400, "frame of {} bytes for a 4096-byte module", frame.len());
    assert!(frame.windows(64).any(|w| w.iter().all(|&b| b == 0xAB)), "the bytes appear verbatim");
}

#[test]
fn oversized_frames_are_refused_before_parsing() {
    let frame = encode(&ToBroker::Workers { count: 1 }).unwrap();
    let error = decode::<ToBroker>(&frame, frame.len() - 1).unwrap_err();
    assert_eq!(error.to_string(), format!("frame of {} bytes exceeds the limit of {} bytes", frame.len(), frame.len() - 1));
}

#[test]
fn malformed_frames_are_an_error() {
    assert!(matches!(decode::<ToBroker>(b"\xc1garbage", MAX_FRAME_BYTES), Err(ProtocolError::Malformed(_))));
    let wrong_type = encode(&ToProvider::Ping { nonce: 1 }).unwrap();
    assert!(matches!(decode::<ToBroker>(&wrong_type, MAX_FRAME_BYTES), Err(ProtocolError::Malformed(_))));
}

#[test]
fn versions_are_negotiated_or_refused_with_a_reason() {
    assert_eq!(negotiate(&[VERSION]), Ok(VERSION));
    assert_eq!(negotiate(&[0, VERSION, 99]), Ok(VERSION));
    assert_eq!(negotiate(&[1, 2]), Ok(2), "the newest both speak");
    assert_eq!(negotiate(&[1]), Ok(1), "a provider of version 1 gets one message per frame");
    assert!(!batches(1) && batches(VERSION));
    assert_eq!(negotiate(&[99]), Err("incompatible protocol: the broker speaks versions [1, 2], the provider offered [99]".to_string()));
}

#[test]
fn a_frame_may_hold_several_messages_and_decode_takes_exactly_one() {
    let results = [ToBroker::Pong { nonce: 1 }, ToBroker::Workers { count: 3 }, ToBroker::Evicted { digests: vec!["sha256:a".into()] }];
    let frame: Vec<u8> = results.iter().flat_map(|message| encode(message).unwrap()).collect();
    assert_eq!(decode_all::<ToBroker>(&frame, MAX_FRAME_BYTES).unwrap(), results);
    let error = decode::<ToBroker>(&frame, MAX_FRAME_BYTES).unwrap_err();
    assert_eq!(error.to_string(), "malformed frame: 3 messages in a frame that holds one");
    assert!(
        matches!(decode_all::<ToBroker>(&frame[..frame.len() - 1], MAX_FRAME_BYTES), Err(ProtocolError::Malformed(_))),
        "a cut message"
    );
    assert_eq!(decode_all::<ToBroker>(&[], MAX_FRAME_BYTES).unwrap_err().to_string(), "malformed frame: an empty frame");
    assert!(matches!(decode_all::<ToBroker>(&frame, frame.len() - 1), Err(ProtocolError::TooLarge { .. })));
}

#[test]
fn run_frames_without_a_seed_are_not_deterministic_and_stay_as_they_were() {
    let mut plain = task();
    plain.seed = None;
    let frame = encode(&ToProvider::Run { id: 2, task: plain.clone() }).unwrap();
    assert!(!frame.windows(4).any(|w| w == b"seed"), "an absent seed is not sent");
    assert_eq!(decode::<ToProvider>(&frame, MAX_FRAME_BYTES).unwrap(), ToProvider::Run { id: 2, task: plain });
    let seeded = encode(&ToProvider::Run { id: 3, task: task() }).unwrap();
    let ToProvider::Run { task, .. } = decode::<ToProvider>(&seeded, MAX_FRAME_BYTES).unwrap() else { panic!("a run frame") };
    assert_eq!(task.seed, Some(u64::MAX));
}
