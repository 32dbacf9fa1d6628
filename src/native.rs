//! The native provider: a server joins a broker as a provider over the same protocol and runs
//! tasks with the same wasmtime runner the broker uses locally.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wasimoff::native::ProviderError> {
//! wasimoff::native::NativeProvider::new("ws://127.0.0.1:4080/wasimoff/provider/ws").workers(4).run().await
//! # }
//! ```

use crate::Limits;
use crate::prepare::PreparedTask;
use crate::runner::LocalRunner;
use crate::scheduler::{from_wire, result_to_outcome};
use crate::store::{FileKind, Storage, Store, Upload};
use crate::task::{TaskError, TaskErrorKind};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use wasimoff_protocol::{Hello, Outcome, ProviderKind, ToBroker, ToProvider, VERSION, WireTask, decode, encode};

/// Why a provider session ended or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The broker could not be reached.
    #[error("cannot connect to the broker: {0}")]
    Connect(String),
    /// The broker refused the provider.
    #[error("the broker refused this provider: {0}")]
    Refused(String),
    /// The connection broke or the broker sent something unexpected.
    #[error("connection lost: {0}")]
    Connection(String),
    /// The local runner could not start.
    #[error("cannot start the runner: {0}")]
    Runner(String),
}

/// A native provider. See the module documentation.
#[derive(Clone, Debug)]
pub struct NativeProvider {
    url: String,
    workers: usize,
    name: String,
    limits: Limits,
}

impl NativeProvider {
    /// A provider for the broker's WebSocket URL (`ws://HOST/wasimoff/provider/ws`), with one
    /// worker per core.
    pub fn new(url: impl Into<String>) -> NativeProvider {
        let limits = Limits::default();
        let name = std::env::var("HOSTNAME").unwrap_or_else(|_| "native".into());
        NativeProvider { url: url.into(), workers: limits.concurrency, name, limits }
    }

    /// Sets the number of workers (tasks run at once).
    pub fn workers(mut self, workers: usize) -> NativeProvider {
        self.workers = workers.max(1);
        self
    }

    /// Sets the name shown in the broker's cluster view.
    pub fn name(mut self, name: impl Into<String>) -> NativeProvider {
        self.name = name.into();
        self
    }

    /// Connects, says hello, and runs tasks until the broker closes the connection.
    pub async fn run(self) -> Result<(), ProviderError> {
        let limits = Limits { concurrency: self.workers, ..self.limits };
        let store = Store::open(&Storage::Memory, &limits).map_err(|e| ProviderError::Runner(e.to_string()))?;
        let runner = LocalRunner::start(&limits, store.clone()).map_err(ProviderError::Runner)?;
        let frame_limit = usize::try_from(limits.provider_frame_bytes).unwrap_or(usize::MAX);
        let config = WebSocketConfig::default().max_message_size(Some(frame_limit)).max_frame_size(Some(frame_limit));
        let (mut socket, _) = tokio_tungstenite::connect_async_with_config(self.url.as_str(), Some(config), false)
            .await
            .map_err(|e| ProviderError::Connect(e.to_string()))?;
        let hello = ToBroker::Hello(Hello {
            versions: vec![VERSION],
            kind: ProviderKind::Native,
            name: self.name,
            workers: u32::try_from(self.workers).unwrap_or(u32::MAX),
        });
        let lost = |e: &dyn std::fmt::Display| ProviderError::Connection(e.to_string());
        let frame = encode(&hello).map_err(|e| lost(&e))?;
        socket.send(Message::Binary(frame.into())).await.map_err(|e| lost(&e))?;

        let (results, mut finished) = mpsc::unbounded_channel::<(u64, Outcome)>();
        let mut running: HashMap<u64, tokio::task::AbortHandle> = HashMap::new();
        let mut welcomed = false;
        loop {
            let outgoing = tokio::select! {
                frame = socket.next() => {
                    let bytes = match frame {
                        None | Some(Ok(Message::Close(_))) => return Ok(()),
                        Some(Ok(Message::Binary(bytes))) => bytes,
                        Some(Ok(_)) => continue,
                        Some(Err(error)) => return Err(lost(&error)),
                    };
                    match decode::<ToProvider>(&bytes, frame_limit).map_err(|e| lost(&e))? {
                        ToProvider::Welcome { .. } if !welcomed => {
                            welcomed = true;
                            continue;
                        }
                        ToProvider::Refused { reason } => return Err(ProviderError::Refused(reason)),
                        ToProvider::Ping { nonce } => ToBroker::Pong { nonce },
                        ToProvider::Cancel { id } => {
                            if let Some(task) = running.remove(&id) {
                                task.abort();
                            }
                            continue;
                        }
                        ToProvider::Run { id, task } => {
                            let prepared = accept(&store, task).await;
                            let runner = runner.clone();
                            let results = results.clone();
                            let handle = tokio::spawn(async move {
                                let result = match prepared {
                                    Ok(prepared) => runner.run(prepared).await,
                                    Err(error) => Err(error),
                                };
                                let _ = results.send((id, result_to_outcome(result)));
                            });
                            running.insert(id, handle.abort_handle());
                            continue;
                        }
                        ToProvider::Welcome { .. } => return Err(ProviderError::Connection("welcomed twice".into())),
                    }
                }
                Some((id, outcome)) = finished.recv() => {
                    if running.remove(&id).is_none() {
                        continue;
                    }
                    ToBroker::Result { id, outcome }
                }
            };
            let frame = encode(&outgoing).map_err(|e| lost(&e))?;
            socket.send(Message::Binary(frame.into())).await.map_err(|e| lost(&e))?;
        }
    }
}

/// Stores a task's module if it came along, and turns the task into one the runner takes.
async fn accept(store: &Store, mut task: WireTask) -> Result<PreparedTask, TaskError> {
    if let Some(module) = task.module_bytes.take() {
        store
            .put(Bytes::from(module.into_vec()), Upload::new().kind(FileKind::Wasm))
            .await
            .map_err(|e| TaskError::new(TaskErrorKind::InvalidModule, e.to_string()))?;
    }
    from_wire(task)
}
