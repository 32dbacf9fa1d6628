//! A fleet of fake providers over real WebSockets, for the many-providers benchmark and its
//! integration test: each speaks the provider protocol — `hello`, waits for `welcome`, answers
//! every `ping` with its `pong` and every `run` with a canned result (exit 0, the task's
//! arguments after argv\[0\] joined by spaces as stdout) — and runs nothing. It counts the
//! runs it answered and the modules it was sent. Small socket buffers keep a fleet of
//! thousands light.

use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use wasimoff::protocol::{Hello, Outcome, ProviderKind, ToBroker, ToProvider, decode, encode};

/// Workers each fake provider announces.
pub const WORKERS: u32 = 4;

/// Tasks per worker each fake provider asks to queue beyond its workers.
pub const PREFETCH: u32 = 1;

/// Connected fake providers; dropping the fleet disconnects them all.
pub struct Fleet {
    providers: Vec<JoinHandle<()>>,
    counts: Arc<Counts>,
}

/// What a fleet's providers received, and whether they may answer runs yet.
struct Counts {
    answered: AtomicU64,
    modules: AtomicU64,
    received: AtomicU64,
    hold: u64,
    released: watch::Sender<bool>,
}

impl Default for Fleet {
    /// A fleet that answers every run at once.
    fn default() -> Fleet {
        Fleet::holding(0)
    }
}

impl Fleet {
    /// A fleet whose providers hold every run until the fleet as a whole has been sent
    /// `runs` of them, then answer those and every later one at once.
    pub fn holding(runs: u64) -> Fleet {
        let counts = Counts {
            answered: AtomicU64::new(0),
            modules: AtomicU64::new(0),
            received: AtomicU64::new(0),
            hold: runs,
            released: watch::Sender::new(runs == 0),
        };
        Fleet { providers: Vec::new(), counts: Arc::new(counts) }
    }

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
    // Version 1: one message per frame, as this fleet reads them.
    let hello = Hello { versions: vec![1], kind: ProviderKind::Native, name, workers: WORKERS, prefetch: PREFETCH, token: None };
    socket.send(frame(&ToBroker::Hello(hello))).await.expect("send hello");
    match socket.next().await {
        Some(Ok(Message::Binary(bytes))) => match decode::<ToProvider>(&bytes, usize::MAX) {
            Ok(ToProvider::Welcome { .. }) => {}
            other => panic!("expected welcome, got {other:?}"),
        },
        other => panic!("expected welcome, got {other:?}"),
    }
    tokio::spawn(async move {
        let mut released = counts.released.subscribe();
        let mut held = Vec::new();
        loop {
            tokio::select! {
                message = socket.next() => {
                    let bytes = match message {
                        Some(Ok(Message::Binary(bytes))) => bytes,
                        Some(Ok(_)) => continue,
                        None | Some(Err(_)) => return,
                    };
                    match decode::<ToProvider>(&bytes, usize::MAX) {
                        Ok(ToProvider::Ping { nonce }) if socket.send(frame(&ToBroker::Pong { nonce })).await.is_err() => return,
                        Ok(ToProvider::Run { id, task }) => {
                            if task.module_bytes.is_some() {
                                counts.modules.fetch_add(1, Ordering::Relaxed);
                            }
                            held.push(ToBroker::Result { id, outcome: canned(&task.args) });
                            if counts.received.fetch_add(1, Ordering::Relaxed) + 1 >= counts.hold {
                                counts.released.send_replace(true);
                            }
                        }
                        _ => {}
                    }
                }
                Ok(_) = released.changed(), if !*released.borrow() => {}
            }
            if *released.borrow() {
                for result in held.drain(..) {
                    counts.answered.fetch_add(1, Ordering::Relaxed);
                    if socket.send(frame(&result)).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
}
