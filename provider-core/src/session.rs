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
mod tests {
    use super::*;
    use wasimoff_protocol::{VERSION, decode};

    const LIMITS: WireLimits = WireLimits {
        timeout_ms: 1000,
        memory_bytes: 1 << 20,
        output_bytes: 1024,
        artifact_bytes: 8,
        rootfs_bytes: 1024,
        rootfs_entries: 4,
    };

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
        encode(&ToProvider::Welcome { version, provider_id: ProviderId(3), heartbeat_ms: 5000, max_frame_bytes, prefetch: 1 })
            .expect("encode")
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
        assert!(
            matches!(&actions[..], [Action::Module { digest, .. }] if digest == "sha256:b"),
            "the module now, the task later: {actions:?}"
        );
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
}
