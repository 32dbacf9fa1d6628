//! A fleet of fake providers over real WebSockets, for the many-providers benchmark and its
//! integration test: each speaks the provider protocol — `hello`, waits for `welcome`, answers
//! every `ping` with its `pong` and every `run` at once with a canned result (exit 0, the
//! task's arguments after argv\[0\] joined by spaces as stdout) — and runs nothing.
//! Small socket buffers keep a fleet of thousands light.

use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use wasimoff::protocol::{Hello, Outcome, ProviderKind, ToBroker, ToProvider, VERSION, decode, encode};

/// Workers each fake provider announces.
pub const WORKERS: u32 = 4;

/// Tasks per worker each fake provider asks to queue beyond its workers.
pub const PREFETCH: u32 = 1;

/// Connected fake providers; dropping the fleet disconnects them all.
#[derive(Default)]
pub struct Fleet {
    providers: Vec<JoinHandle<()>>,
    counts: Arc<Counts>,
}

/// What a fleet's providers received.
#[derive(Default)]
struct Counts {
    answered: AtomicU64,
    modules: AtomicU64,
}

impl Fleet {
    /// How many are connected (or were, until the broker dropped them).
    pub fn len(&self) -> usize {
        self.providers.len()
    }

    /// Runs answered by all of them so far.
    pub fn answered(&self) -> u64 {
        self.counts.answered.load(Ordering::Relaxed)
    }

    /// Modules sent to all of them so far (each provider is sent a module once: it never
    /// evicts).
    pub fn modules(&self) -> u64 {
        self.counts.modules.load(Ordering::Relaxed)
    }

    /// Connects providers at `url` (`ws://…/provider/ws`), `parallel` handshakes at a time,
    /// until `total` are welcomed.
    pub async fn grow(&mut self, url: &str, total: usize, parallel: usize) {
        let start = self.providers.len();
        let joined: Vec<_> = futures_util::stream::iter(start..total.max(start))
            .map(|index| connect(url.to_string(), format!("fleet-{index}"), self.counts.clone()))
            .buffered(parallel.max(1))
            .collect()
            .await;
        self.providers.extend(joined);
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for provider in &self.providers {
            provider.abort();
        }
    }
}

/// The canned outcome of `run`: exit 0, the arguments after argv\[0\] as stdout.
fn canned(args: &[String]) -> Outcome {
    Outcome::Exited {
        status: 0,
        stdout: args.get(1..).unwrap_or_default().join(" ").into_bytes().into(),
        stderr: Default::default(),
        artifacts: None,
        missing_artifacts: vec![],
        elapsed_us: 0,
    }
}

fn frame(message: &ToBroker) -> Message {
    Message::Binary(encode(message).expect("encode a provider message").into())
}

/// Connects one provider and waits for its `welcome`; the returned task then serves it.
async fn connect(url: String, name: String, counts: Arc<Counts>) -> JoinHandle<()> {
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), true).await.expect("connect a provider");
    let hello = Hello { versions: vec![VERSION], kind: ProviderKind::Native, name, workers: WORKERS, prefetch: PREFETCH };
    socket.send(frame(&ToBroker::Hello(hello))).await.expect("send hello");
    match socket.next().await {
        Some(Ok(Message::Binary(bytes))) => match decode::<ToProvider>(&bytes, usize::MAX) {
            Ok(ToProvider::Welcome { .. }) => {}
            other => panic!("expected welcome, got {other:?}"),
        },
        other => panic!("expected welcome, got {other:?}"),
    }
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            let Message::Binary(bytes) = message else { continue };
            let reply = match decode::<ToProvider>(&bytes, usize::MAX) {
                Ok(ToProvider::Ping { nonce }) => ToBroker::Pong { nonce },
                Ok(ToProvider::Run { id, task }) => {
                    counts.answered.fetch_add(1, Ordering::Relaxed);
                    if task.module_bytes.is_some() {
                        counts.modules.fetch_add(1, Ordering::Relaxed);
                    }
                    ToBroker::Result { id, outcome: canned(&task.args) }
                }
                _ => continue,
            };
            if socket.send(frame(&reply)).await.is_err() {
                return;
            }
        }
    })
}
