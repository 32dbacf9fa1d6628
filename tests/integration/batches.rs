//! Protocol version 2 over a real WebSocket: a frame may hold several messages. A provider
//! that answers a batch of results in one frame gets the tasks that refill its workers in one
//! frame; a provider of version 1 still gets one message per frame.

use crate::providers::{Socket, connect, hello, say};
use crate::scheduler::{exited, http_broker_with_policy};
use crate::support::{self, task};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use wasimoff::protocol::{MAX_FRAME_BYTES, ToBroker, ToProvider, VERSION, decode_all, encode};
use wasimoff::{FallbackPolicy, Wasimoff};

/// The messages of the next frame, answering pings on the way.
async fn next_frame(socket: &mut Socket) -> Vec<ToProvider> {
    loop {
        let Message::Binary(frame) = socket.next().await.expect("a frame").expect("no error") else { continue };
        let messages: Vec<ToProvider> = decode_all(&frame, MAX_FRAME_BYTES).expect("messages");
        if let [ToProvider::Ping { nonce }] = messages[..] {
            say(socket, &ToBroker::Pong { nonce }).await;
            continue;
        }
        return messages;
    }
}

/// The ids of `count` runs, from as many frames as they come in.
async fn runs(socket: &mut Socket, count: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    while ids.len() < count {
        ids.extend(next_frame(socket).await.iter().map(run_id));
    }
    ids
}

fn run_id(message: &ToProvider) -> u64 {
    match message {
        ToProvider::Run { id, .. } => *id,
        other => panic!("expected run, got {other:?}"),
    }
}

/// One frame answering every task in `ids`.
async fn answer_in_one_frame(socket: &mut Socket, ids: &[u64]) {
    let frame: Vec<u8> =
        ids.iter().flat_map(|&id| encode(&ToBroker::Result { id, outcome: exited(&format!("{id}\n")) }).unwrap()).collect();
    socket.send(Message::Binary(frame.into())).await.unwrap();
}

type Running = tokio::task::JoinHandle<Result<wasimoff::TaskOutput, wasimoff::TaskError>>;

/// A session with a provider of 2 workers (no prefetch) and 6 tasks submitted for it.
struct Setup {
    broker: Wasimoff,
    base: String,
    socket: Socket,
    /// The version the provider was welcomed with.
    version: u32,
    tasks: Vec<Running>,
}

/// A broker and a provider speaking `versions`, with 6 tasks submitted for it.
async fn provider_with_six_tasks(versions: Vec<u32>) -> Setup {
    let (broker, base) = http_broker_with_policy(FallbackPolicy::Never).await;
    let mut socket = connect(&base, None).await.unwrap();
    say(&mut socket, &hello(versions, 2)).await;
    let [ToProvider::Welcome { version, .. }] = &next_frame(&mut socket).await[..] else { panic!("expected welcome") };
    let version = *version;
    let tasks = (0..6).map(|i| support::spawn_run(&broker, task("echo", &["echo", &i.to_string()]))).collect();
    Setup { broker, base, socket, version, tasks }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_results_is_answered_with_a_batch_of_tasks() {
    let Setup { broker, base, mut socket, version, tasks } = provider_with_six_tasks(vec![1, VERSION]).await;
    assert_eq!(version, VERSION);
    let first = runs(&mut socket, 2).await;
    answer_in_one_frame(&mut socket, &first).await;
    let refill = next_frame(&mut socket).await;
    assert_eq!(refill.len(), 2, "both freed workers refilled by one frame: {refill:?}");
    let second: Vec<u64> = refill.iter().map(run_id).collect();
    answer_in_one_frame(&mut socket, &second).await;
    let third = runs(&mut socket, 2).await;
    answer_in_one_frame(&mut socket, &third).await;
    let mut answered: Vec<u64> = [first, second, third].concat();
    answered.sort();
    answered.dedup();
    assert_eq!(answered.len(), 6, "six different tasks");
    for task in tasks {
        let output = task.await.unwrap().expect("answered by the provider");
        assert!(answered.iter().any(|id| output.stdout == format!("{id}\n")), "{output:?}");
    }
    let traffic = broker.provider_traffic();
    assert_eq!((traffic.frames_received, traffic.messages_received), (4, 7), "the hello, then three frames of two results");
    assert_eq!(traffic.messages_sent, 7, "the welcome and six runs");
    assert!(traffic.frames_sent <= 6, "the refill came in one frame: {traffic:?}");
    let metrics = support::client().get(format!("{base}/wasimoff/api/v1/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("wasimoff_provider_frames_total{direction=\"received\"} 4\n"), "{metrics}");
    assert!(metrics.contains("wasimoff_provider_messages_total{direction=\"received\"} 7\n"), "{metrics}");
    assert!(metrics.contains("wasimoff_provider_messages_total{direction=\"sent\"} 7\n"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_of_version_1_gets_one_message_per_frame() {
    let Setup { broker, mut socket, version, tasks, .. } = provider_with_six_tasks(vec![1]).await;
    assert_eq!(version, 1);
    for _ in 0..3 {
        let mut ids = Vec::new();
        for _ in 0..2 {
            let frame = next_frame(&mut socket).await;
            assert_eq!(frame.len(), 1, "one message per frame: {frame:?}");
            ids.push(run_id(&frame[0]));
        }
        answer_in_one_frame(&mut socket, &ids).await;
    }
    for task in tasks {
        task.await.unwrap().expect("answered by the provider");
    }
    let traffic = broker.provider_traffic();
    assert_eq!((traffic.frames_sent, traffic.messages_sent), (7, 7), "the welcome and six runs, one per frame");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hello_comes_alone_in_the_first_frame() {
    let (broker, base) = http_broker_with_policy(FallbackPolicy::Never).await;
    let mut socket = connect(&base, None).await.unwrap();
    let mut frame = encode(&hello(vec![1, VERSION], 2)).unwrap();
    frame.extend(encode(&ToBroker::Workers { count: 3 }).unwrap());
    socket.send(Message::Binary(frame.into())).await.unwrap();
    let refused = next_frame(&mut socket).await;
    assert_eq!(refused, [ToProvider::Refused { reason: "the first frame must hold the hello alone".into() }]);
    assert!(broker.cluster().providers.is_empty());
}
