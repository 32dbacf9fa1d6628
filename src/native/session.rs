//! One session with the broker, driven by the provider core: frames from the link go through
//! [`Core::receive`]; its actions are carried out here, tasks run on the local runner.

use super::ProviderError;
use super::link::Link;
use crate::digest::Digest;
use crate::prepare::PreparedTask;
use crate::runner::LocalRunner;
use crate::scheduler::{from_wire, result_to_outcome};
use crate::task::TaskError;
use bytes::Bytes;
use serde_bytes::ByteBuf;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;
use wasimoff_protocol::{Outcome, TaskErrorKind, WireTask};
use wasimoff_provider_core::{Action, Config, Core, RESULT_HOLD_MS, RunTask};

/// Heartbeat periods without any frame after which the broker is taken for gone (a restarted
/// broker never answers an old QUIC connection), as in the browser provider.
const SILENT_HEARTBEATS: f64 = 2.5;

/// A task on the runner; dropping it stops the task.
struct Running {
    _task: AbortOnDropHandle<()>,
    module: String,
}

struct Session {
    core: Core,
    runner: LocalRunner,
    /// The bytes of every module the core holds, by digest: the runner compiles from them.
    modules: HashMap<String, Bytes>,
    running: HashMap<u64, Running>,
    finished: mpsc::UnboundedSender<(u64, Outcome)>,
    silence: Option<Duration>,
    /// When the results the core holds back must go out ([`RESULT_HOLD_MS`] after the first).
    flush_at: Option<Instant>,
}

fn lost(error: impl std::fmt::Display) -> ProviderError {
    ProviderError::Connection(error.to_string())
}

/// Says hello on `link` and serves the broker until it ends the session; then leaves.
pub(super) async fn run(mut link: Link, runner: LocalRunner, config: Config, name: &str, workers: u32) -> Result<(), ProviderError> {
    let (finished, results) = mpsc::unbounded_channel();
    let mut session = Session {
        core: Core::new(config, workers as usize),
        runner,
        modules: HashMap::new(),
        running: HashMap::new(),
        finished,
        silence: None,
        flush_at: None,
    };
    let result = session.serve(&mut link, name, workers, results).await;
    drop(session);
    link.close().await;
    result
}

impl Session {
    async fn serve(
        &mut self,
        link: &mut Link,
        name: &str,
        workers: u32,
        mut results: mpsc::UnboundedReceiver<(u64, Outcome)>,
    ) -> Result<(), ProviderError> {
        link.send(self.core.hello(name, workers)).await.map_err(lost)?;
        let mut last_frame = Instant::now();
        loop {
            let silent_until = self.silence.map(|silence| last_frame + silence);
            tokio::select! {
                frame = link.next() => {
                    let frame = match frame {
                        None => return Ok(()),
                        Some(frame) => frame.map_err(lost)?,
                    };
                    last_frame = Instant::now();
                    let actions = self.core.receive(&frame).map_err(lost)?;
                    self.act_all(actions, link).await?;
                }
                Some((id, outcome)) = results.recv() => self.finish(id, outcome, link).await?,
                () = sleep_until(self.flush_at) => {
                    self.flush_at = None;
                    if let Some(frame) = self.core.flush_results() {
                        link.send(frame).await.map_err(lost)?;
                    }
                }
                () = sleep_until(silent_until) => {
                    let silence = self.silence.unwrap_or_default();
                    return Err(lost(format!("no frame from the broker for {} ms", silence.as_millis())));
                }
            }
        }
    }

    /// Carries out the core's actions in order.
    async fn act_all(&mut self, actions: Vec<Action>, link: &mut Link) -> Result<(), ProviderError> {
        for action in actions {
            self.act(action, link).await?;
        }
        Ok(())
    }

    async fn act(&mut self, action: Action, link: &mut Link) -> Result<(), ProviderError> {
        match action {
            Action::Welcome { provider_id, heartbeat_ms } => {
                tracing::info!(%provider_id, transport = %link.transport(), "joined the broker");
                self.silence = Some(Duration::from_millis(heartbeat_ms).mul_f64(SILENT_HEARTBEATS));
            }
            Action::Refused { reason } => return Err(ProviderError::Refused(reason)),
            Action::Send(frame) => link.send(frame).await.map_err(lost)?,
            Action::Cancel { id } => {
                self.running.remove(&id);
            }
            Action::Evict(digests) => digests.iter().for_each(|digest| self.drop_module(digest)),
            Action::Module { digest, bytes } => {
                self.modules.insert(digest, Bytes::from(bytes));
            }
            Action::Run(task) => self.start(*task),
        }
        Ok(())
    }

    /// Starts a task on the runner, which compiles its module on its own threads first.
    fn start(&mut self, task: RunTask) {
        let id = task.id;
        let module = task.module.clone();
        let prepared = self.prepare(task);
        let runner = self.runner.clone();
        let finished = self.finished.clone();
        let handle = tokio::spawn(async move {
            let result = match prepared {
                Ok(prepared) => runner.run(prepared).await,
                Err(error) => Err(error),
            };
            let _ = finished.send((id, result_to_outcome(result)));
        });
        self.running.insert(id, Running { _task: AbortOnDropHandle::new(handle), module });
    }

    /// The task as the runner takes it, its module's bytes inline.
    fn prepare(&self, task: RunTask) -> Result<PreparedTask, TaskError> {
        let inline = self.modules.get(&task.module).cloned();
        let wire = WireTask {
            module: task.module,
            module_bytes: None,
            args: task.args,
            envs: task.envs,
            stdin: ByteBuf::from(task.stdin),
            rootfs: task.rootfs.map(ByteBuf::from),
            files: task.files.into_iter().map(|(path, bytes)| (path, ByteBuf::from(bytes.unwrap_or_default()))).collect(),
            artifacts: task.artifacts,
            limits: task.limits,
            seed: task.seed,
        };
        let mut prepared = from_wire(wire)?;
        prepared.module.inline = inline;
        Ok(prepared)
    }

    /// Starts the next queued task on the freed worker, then sends the finished task's result,
    /// unless it was cancelled. A module that did not compile is forgotten, and the broker
    /// told, as the browser provider does.
    async fn finish(&mut self, id: u64, outcome: Outcome, link: &mut Link) -> Result<(), ProviderError> {
        let Some(running) = self.running.remove(&id) else { return Ok(()) };
        let next = self.core.finished(id);
        self.act_all(next, link).await?;
        if matches!(outcome, Outcome::Failed { kind: TaskErrorKind::InvalidModule, .. }) && self.modules.contains_key(&running.module) {
            self.drop_module(&running.module);
            link.send(self.core.forget(&running.module)).await.map_err(lost)?;
        }
        let result = self.core.result(id, outcome);
        let now = self.core.queue_result(result);
        if !self.core.holding() {
            self.flush_at = None;
        } else if self.flush_at.is_none() {
            self.flush_at = Some(Instant::now() + Duration::from_millis(RESULT_HOLD_MS));
        }
        for frame in now {
            link.send(frame).await.map_err(lost)?;
        }
        Ok(())
    }

    /// Drops a module's bytes and its compiled code.
    fn drop_module(&mut self, digest: &str) {
        self.modules.remove(digest);
        if let Ok(digest) = digest.parse::<Digest>() {
            self.runner.forget(&digest);
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
