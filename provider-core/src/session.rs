//! The provider's side of a broker session, free of I/O and of JavaScript types: frames in,
//! [`Action`]s out; results and events encoded as frames.
//!
//! The core also keeps the provider's own queue (bounded prefetch): the broker may send more
//! tasks than the executor has workers ([`Core::new`]'s `slots`); a task is handed over as
//! [`Action::Run`] only while a worker is free, the rest wait here in arrival order, and each
//! [`Core::finished`] starts the next. A `cancel` of a task still queued drops it here, and no
//! result is sent for it.
//!
//! In protocol version 2 a frame may hold several messages: the core reads every message of a
//! frame, and holds results back while every worker still has a task to go on with
//! ([`Core::queue_result`]), so that a busy provider answers with a batch of results, which the
//! broker answers with a batch of tasks — one WebSocket message each way instead of one per task.

use crate::module_cache::ModuleCache;
use crate::rootfs::{self, Entry};
use crate::{memory_import, memory_limit};
use serde_bytes::ByteBuf;
use std::collections::{HashSet, VecDeque};
use wasimoff_archive::ArchiveLimits;
use wasimoff_protocol::{
    BATCH_BYTES, Hello, MAX_FRAME_BYTES, Outcome, ProtocolError, ProviderId, ProviderKind, TaskErrorKind, ToBroker, ToProvider, VERSIONS,
    WireLimits, WireTask, batches, decode_all, encode,
};

/// What the driver (the browser glue or the native provider) must do after a frame from the
/// broker, in order.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// The session is open.
    Welcome {
        /// The id the broker gave this provider.
        provider_id: ProviderId,
        /// How often the broker pings.
        heartbeat_ms: u64,
    },
    /// The broker refused this provider and closes the connection.
    Refused {
        /// Why.
        reason: String,
    },
    /// Send this frame to the broker.
    Send(Vec<u8>),
    /// Stop running task `id`; no result is sent. (A task still queued in the core is dropped
    /// there without an action.)
    Cancel {
        /// The task's id.
        id: u64,
    },
    /// Drop these compiled modules: the cache is full (the broker has been told).
    Evict(Vec<String>),
    /// Compile and keep this module under its digest. With [`Config::rewrite_memory`] the bytes
    /// are instrumented (and so validated); without, they are the broker's bytes, unchecked.
    Module {
        /// The module's digest.
        digest: String,
        /// The module.
        bytes: Vec<u8>,
    },
    /// Run a task now, on a free worker; call [`Core::finished`] when it ends.
    Run(Box<RunTask>),
}

/// A task ready for an executor, its module handed over by an [`Action::Module`] now or
/// earlier.
#[derive(Debug, PartialEq)]
pub struct RunTask {
    /// The task's id.
    pub id: u64,
    /// The module's digest.
    pub module: String,
    /// argv.
    pub args: Vec<String>,
    /// Environment as `(key, value)`.
    pub envs: Vec<(String, String)>,
    /// Standard input.
    pub stdin: Vec<u8>,
    /// The rootfs zip, still to unpack under `files`; `None` when the core unpacked it
    /// ([`Config::unpack_rootfs`]) or the task has none.
    pub rootfs: Option<Vec<u8>>,
    /// The task's `/`, in order: the unpacked rootfs entries (if unpacked here), then the
    /// task's own files.
    pub files: Vec<Entry>,
    /// `(normalised, as requested)` artifact paths.
    pub artifacts: Vec<(String, String)>,
    /// The limits.
    pub limits: WireLimits,
    /// `Some(seed)`: run deterministically with this seed ([`WireTask::seed`]).
    pub seed: Option<u64>,
}

/// What the executor behind the core leaves to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Said in `hello`.
    pub kind: ProviderKind,
    /// Modules kept at most; the least recently used goes first.
    pub cached_modules: usize,
    /// Rewrite each module so its `memory.grow` checks the task's limit ([`memory_limit`]):
    /// for browsers, which cannot cap a memory; wasmtime enforces limits itself. Its memory is
    /// then imported ([`memory_import`]) so a browser worker can reuse one between tasks.
    pub rewrite_memory: bool,
    /// Unpack the rootfs zip into [`RunTask::files`]; the wasmtime runner unpacks it itself.
    pub unpack_rootfs: bool,
    /// Tasks per worker offered in `hello` to queue beyond the workers; the broker's
    /// `welcome` may grant fewer.
    pub prefetch: u32,
    /// Said in `hello` for the broker's admission hook (the native provider's `--token`).
    pub token: Option<String>,
}

/// The longest a driver may hold a result back ([`Core::queue_result`]): after this many ms
/// it sends what [`Core::flush_results`] returns. Long against a round trip's per-message cost
/// on a busy provider, short against any task's own time.
pub const RESULT_HOLD_MS: u64 = 2;

/// Tasks per worker both providers offer to queue: more than the broker's default (1), so the
/// broker's setting decides.
pub const PREFETCH_OFFERED: u32 = 4;

impl Config {
    /// A browser provider's core: modules rewritten for memory limits, rootfs unpacked.
    pub fn browser(cached_modules: usize) -> Config {
        Config {
            kind: ProviderKind::Browser,
            cached_modules,
            rewrite_memory: true,
            unpack_rootfs: true,
            prefetch: PREFETCH_OFFERED,
            token: None,
        }
    }

    /// A native (wasmtime) provider's core: modules and rootfs passed on as received.
    pub fn native(cached_modules: usize) -> Config {
        Config {
            kind: ProviderKind::Native,
            cached_modules,
            rewrite_memory: false,
            unpack_rootfs: false,
            prefetch: PREFETCH_OFFERED,
            token: None,
        }
    }
}

/// One provider session's state.
#[derive(Debug)]
pub struct Core {
    config: Config,
    modules: ModuleCache,
    receive_limit: usize,
    send_limit: usize,
    /// Workers of the executor: tasks handed over at once.
    slots: usize,
    /// Tasks handed over and not yet finished.
    running: HashSet<u64>,
    /// Tasks waiting for a worker, in arrival order.
    waiting: VecDeque<RunTask>,
    /// Tasks per worker the broker said it may send beyond the workers.
    prefetch: u32,
    /// The workers last announced (0 while paused).
    workers: usize,
    /// The protocol version the broker's `welcome` named (1 until then).
    version: u32,
    /// Result messages held back to go out in one frame (protocol version 2).
    held: Vec<u8>,
}

/// A module as a browser runs it: grows checked against the task's limit, memory imported.
fn browser_module(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let instrumented = memory_limit::instrument(bytes).map_err(|e| e.to_string())?;
    Ok(memory_import::import_memory(&instrumented).map_err(|e| e.to_string())?.unwrap_or(instrumented))
}

fn frame(message: &ToBroker) -> Vec<u8> {
    encode(message).expect("every ToBroker message encodes to MessagePack")
}

fn failure(kind: TaskErrorKind, message: String, stdout: Vec<u8>, stderr: Vec<u8>) -> Outcome {
    Outcome::Failed { kind, message, stdout: ByteBuf::from(stdout), stderr: ByteBuf::from(stderr) }
}

impl Core {
    /// A session configured by `config` for an executor with `slots` workers. Until the
    /// broker's `welcome` names its frame limit, frames up to [`MAX_FRAME_BYTES`] are taken and
    /// sent.
    pub fn new(config: Config, slots: usize) -> Core {
        Core {
            modules: ModuleCache::new(config.cached_modules),
            config,
            receive_limit: MAX_FRAME_BYTES,
            send_limit: MAX_FRAME_BYTES,
            slots,
            running: HashSet::new(),
            waiting: VecDeque::new(),
            prefetch: 0,
            workers: 0,
            version: 1,
            held: Vec::new(),
        }
    }

    /// The first frame: who this provider is, how many workers it announces (0 while paused)
    /// and how many tasks per worker it can queue.
    pub fn hello(&mut self, name: &str, workers: u32) -> Vec<u8> {
        self.workers = workers as usize;
        let hello = Hello {
            versions: VERSIONS.to_vec(),
            kind: self.config.kind,
            name: name.into(),
            workers,
            prefetch: self.config.prefetch,
            token: self.config.token.clone(),
        };
        frame(&ToBroker::Hello(hello))
    }

    /// The executor now has `slots` workers (announcing them is separate: [`Core::workers`]);
    /// returns the queued tasks that can start now.
    pub fn set_slots(&mut self, slots: usize) -> Vec<Action> {
        self.slots = slots;
        self.start_waiting()
    }

    /// Task `id` ended (its result is sent separately) or was stopped: its worker is free.
    /// Returns the next queued task to start, if any. Unknown ids change nothing.
    pub fn finished(&mut self, id: u64) -> Vec<Action> {
        if !self.running.remove(&id) {
            return Vec::new();
        }
        self.start_waiting()
    }

    /// Whether task `id` is handed over and neither finished nor cancelled.
    pub fn is_running(&self, id: u64) -> bool {
        self.running.contains(&id)
    }

    /// Tasks handed over plus tasks waiting for a worker.
    pub fn pending(&self) -> usize {
        self.running.len() + self.waiting.len()
    }

    /// Tasks per worker the broker may send beyond the workers, as its `welcome` said.
    pub fn prefetch(&self) -> u32 {
        self.prefetch
    }

    /// Hands over waiting tasks while workers are free.
    fn start_waiting(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        while self.running.len() < self.slots {
            let Some(task) = self.waiting.pop_front() else { break };
            self.running.insert(task.id);
            actions.push(Action::Run(Box::new(task)));
        }
        actions
    }

    /// The event frame announcing a new worker count (0 while paused).
    pub fn workers(&mut self, count: u32) -> Vec<u8> {
        self.workers = count as usize;
        frame(&ToBroker::Workers { count })
    }

    /// Forgets a module the executor could not keep (it did not compile) and returns the
    /// event frame telling the broker.
    pub fn forget(&mut self, digest: &str) -> Vec<u8> {
        self.modules.remove(digest);
        frame(&ToBroker::Evicted { digests: vec![digest.to_string()] })
    }

    /// How many modules are cached.
    pub fn modules_cached(&self) -> usize {
        self.modules.len()
    }

    /// The largest frame taken from the broker: [`MAX_FRAME_BYTES`], or the broker's own
    /// limit once welcomed if that is larger. Transports may refuse longer frames unread.
    pub fn receive_limit(&self) -> usize {
        self.receive_limit
    }

    /// Handles one frame from the broker: the actions of its messages, in order.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Vec<Action>, ProtocolError> {
        let mut actions = Vec::new();
        for message in decode_all::<ToProvider>(bytes, self.receive_limit)? {
            actions.extend(self.handle(message));
        }
        Ok(actions)
    }

    fn handle(&mut self, message: ToProvider) -> Vec<Action> {
        match message {
            ToProvider::Welcome { version, provider_id, heartbeat_ms, max_frame_bytes, prefetch } => {
                self.version = version;
                self.prefetch = prefetch;
                self.send_limit = usize::try_from(max_frame_bytes).unwrap_or(usize::MAX);
                self.receive_limit = self.send_limit.max(MAX_FRAME_BYTES);
                vec![Action::Welcome { provider_id, heartbeat_ms }]
            }
            ToProvider::Refused { reason } => vec![Action::Refused { reason }],
            ToProvider::Ping { nonce } => vec![Action::Send(frame(&ToBroker::Pong { nonce }))],
            ToProvider::Cancel { id } => self.cancel(id),
            ToProvider::Run { id, task } => {
                let mut actions = self.accept(id, task);
                if let Some(Action::Run(task)) = actions.pop_if(|action| matches!(action, Action::Run(_))) {
                    self.waiting.push_back(*task);
                    actions.extend(self.start_waiting());
                }
                actions
            }
        }
    }

    /// A waiting task is dropped here; a running one is stopped by the driver, and its worker
    /// takes the next waiting task.
    fn cancel(&mut self, id: u64) -> Vec<Action> {
        if let Some(at) = self.waiting.iter().position(|task| task.id == id) {
            self.waiting.remove(at);
            return Vec::new();
        }
        let mut actions = vec![Action::Cancel { id }];
        if self.running.remove(&id) {
            actions.extend(self.start_waiting());
        }
        actions
    }

    fn accept(&mut self, id: u64, task: WireTask) -> Vec<Action> {
        let mut actions = Vec::new();
        match task.module_bytes {
            Some(bytes) => {
                let bytes = match self.config.rewrite_memory {
                    true => match browser_module(&bytes) {
                        Ok(rewritten) => rewritten,
                        Err(error) => return vec![self.refuse(id, TaskErrorKind::InvalidModule, error)],
                    },
                    false => bytes.into_vec(),
                };
                let evicted = self.modules.insert(&task.module);
                if !evicted.is_empty() {
                    actions.push(Action::Send(frame(&ToBroker::Evicted { digests: evicted.clone() })));
                    actions.push(Action::Evict(evicted));
                }
                actions.push(Action::Module { digest: task.module.clone(), bytes });
            }
            None if self.modules.touch(&task.module) => {}
            None => {
                return vec![
                    Action::Send(frame(&ToBroker::Evicted { digests: vec![task.module.clone()] })),
                    self.refuse(id, TaskErrorKind::Internal, format!("module {} is not cached on this provider", task.module)),
                ];
            }
        }
        let files: Vec<(String, Vec<u8>)> = task.files.into_iter().map(|(path, bytes)| (path, bytes.into_vec())).collect();
        let (rootfs, files) = match (task.rootfs, self.config.unpack_rootfs) {
            (Some(zip), true) => {
                let limits = ArchiveLimits { unpacked_bytes: task.limits.rootfs_bytes, entries: task.limits.rootfs_entries };
                match rootfs::entries(Some(&zip), limits, files) {
                    Ok(files) => (None, files),
                    Err(error) => {
                        actions.push(self.refuse(id, TaskErrorKind::RootfsRejected, error.to_string()));
                        return actions;
                    }
                }
            }
            (zip, _) => (zip.map(ByteBuf::into_vec), files.into_iter().map(|(path, bytes)| (path, Some(bytes))).collect()),
        };
        actions.push(Action::Run(Box::new(RunTask {
            id,
            module: task.module,
            args: task.args,
            envs: task.envs,
            stdin: task.stdin.into_vec(),
            rootfs,
            files,
            artifacts: task.artifacts,
            limits: task.limits,
            seed: task.seed,
        })));
        actions
    }

    /// Takes a result frame ([`Core::result`], [`Core::exited`], [`Core::failed`]) and returns
    /// the frames to send now. In protocol version 2 the result is held back while the tasks
    /// the provider still holds outnumber its workers (each worker has a task to go on with,
    /// so the broker's answer is not needed yet), up to [`BATCH_BYTES`] of results; held
    /// results go out with the next result that is sent, or within [`RESULT_HOLD_MS`] from
    /// [`Core::flush_results`], which the driver must then call. Call after
    /// [`Core::finished`] for the task.
    pub fn queue_result(&mut self, result: Vec<u8>) -> Vec<Vec<u8>> {
        if !batches(self.version) {
            return vec![result];
        }
        let mut now = Vec::new();
        if self.held.len() + result.len() > self.send_limit {
            now.extend(self.flush_results());
        }
        self.held.extend(result);
        if self.pending() <= self.workers || self.held.len() >= BATCH_BYTES {
            now.extend(self.flush_results());
        }
        now
    }

    /// Whether results are held back ([`Core::queue_result`]).
    pub fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// The results held back, as one frame, if any.
    pub fn flush_results(&mut self) -> Option<Vec<u8>> {
        (!self.held.is_empty()).then(|| std::mem::take(&mut self.held))
    }

    fn refuse(&self, id: u64, kind: TaskErrorKind, message: String) -> Action {
        Action::Send(self.failed(id, kind, message, Vec::new(), Vec::new()))
    }

    /// The result frame of task `id`. A result larger than the broker takes (its `welcome`'s
    /// `max_frame_bytes`) would close the session, so it becomes an `internal` failure.
    pub fn result(&self, id: u64, outcome: Outcome) -> Vec<u8> {
        let encoded = frame(&ToBroker::Result { id, outcome });
        if encoded.len() <= self.send_limit {
            return encoded;
        }
        let message = format!("the result of {} bytes exceeds the broker's frame limit of {} bytes", encoded.len(), self.send_limit);
        frame(&ToBroker::Result { id, outcome: failure(TaskErrorKind::Internal, message, Vec::new(), Vec::new()) })
    }

    /// The result frame of a task that did not run to an exit status.
    pub fn failed(&self, id: u64, kind: TaskErrorKind, message: String, stdout: Vec<u8>, stderr: Vec<u8>) -> Vec<u8> {
        self.result(id, failure(kind, message, stdout, stderr))
    }

    /// The result frame of a task that exited: artifacts zipped as on every runner; too many
    /// artifact bytes turn the result into an `artifact_limit` failure.
    #[allow(clippy::too_many_arguments)]
    pub fn exited(
        &self,
        id: u64,
        status: i32,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
        artifacts: Option<Vec<Entry>>,
        missing_artifacts: Vec<String>,
        artifact_limit: u64,
        elapsed_us: u64,
    ) -> Vec<u8> {
        let artifacts = match artifacts.map(|entries| crate::artifacts::zip(entries, artifact_limit)).transpose() {
            Ok(zip) => zip.map(ByteBuf::from),
            Err(error @ wasimoff_archive::ArtifactError::TooLarge { .. }) => {
                return self.failed(id, TaskErrorKind::ArtifactLimit, error.to_string(), stdout, stderr);
            }
            Err(error) => return self.failed(id, TaskErrorKind::Internal, error.to_string(), stdout, stderr),
        };
        let outcome = Outcome::Exited {
            status,
            stdout: ByteBuf::from(stdout),
            stderr: ByteBuf::from(stderr),
            artifacts,
            missing_artifacts,
            elapsed_us,
        };
        self.result(id, outcome)
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
