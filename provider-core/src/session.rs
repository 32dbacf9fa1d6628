//! The provider's side of a broker session, free of I/O and of JavaScript types: frames in,
//! [`Action`]s out; results and events encoded as frames.

use crate::memory_limit;
use crate::module_cache::ModuleCache;
use crate::rootfs::{self, Entry};
use serde_bytes::ByteBuf;
use wasimoff_archive::ArchiveLimits;
use wasimoff_protocol::{
    Hello, MAX_FRAME_BYTES, Outcome, ProtocolError, ProviderId, ProviderKind, TaskErrorKind, ToBroker, ToProvider, VERSION, WireLimits,
    WireTask, decode, encode,
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
    /// Stop task `id`; no result is sent.
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
    /// Run a task.
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
}

/// What the executor behind the core leaves to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Said in `hello`.
    pub kind: ProviderKind,
    /// Modules kept at most; the least recently used goes first.
    pub cached_modules: usize,
    /// Rewrite each module so its `memory.grow` checks the task's limit ([`memory_limit`]):
    /// for browsers, which cannot cap a memory; wasmtime enforces limits itself.
    pub rewrite_memory: bool,
    /// Unpack the rootfs zip into [`RunTask::files`]; the wasmtime runner unpacks it itself.
    pub unpack_rootfs: bool,
}

impl Config {
    /// A browser provider's core: modules rewritten for memory limits, rootfs unpacked.
    pub fn browser(cached_modules: usize) -> Config {
        Config { kind: ProviderKind::Browser, cached_modules, rewrite_memory: true, unpack_rootfs: true }
    }

    /// A native (wasmtime) provider's core: modules and rootfs passed on as received.
    pub fn native(cached_modules: usize) -> Config {
        Config { kind: ProviderKind::Native, cached_modules, rewrite_memory: false, unpack_rootfs: false }
    }
}

/// One provider session's state.
#[derive(Debug)]
pub struct Core {
    config: Config,
    modules: ModuleCache,
    receive_limit: usize,
    send_limit: usize,
}

fn frame(message: &ToBroker) -> Vec<u8> {
    encode(message).expect("every ToBroker message encodes to MessagePack")
}

fn failure(kind: TaskErrorKind, message: String, stdout: Vec<u8>, stderr: Vec<u8>) -> Outcome {
    Outcome::Failed { kind, message, stdout: ByteBuf::from(stdout), stderr: ByteBuf::from(stderr) }
}

impl Core {
    /// A session configured by `config`. Until the broker's `welcome` names its frame limit,
    /// frames up to [`MAX_FRAME_BYTES`] are taken and sent.
    pub fn new(config: Config) -> Core {
        Core { modules: ModuleCache::new(config.cached_modules), config, receive_limit: MAX_FRAME_BYTES, send_limit: MAX_FRAME_BYTES }
    }

    /// The first frame: who this provider is and how many workers it has.
    pub fn hello(&self, name: &str, workers: u32) -> Vec<u8> {
        frame(&ToBroker::Hello(Hello { versions: vec![VERSION], kind: self.config.kind, name: name.into(), workers }))
    }

    /// The event frame announcing a new worker count.
    pub fn workers(count: u32) -> Vec<u8> {
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

    /// Handles one frame from the broker.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Vec<Action>, ProtocolError> {
        Ok(match decode::<ToProvider>(bytes, self.receive_limit)? {
            ToProvider::Welcome { provider_id, heartbeat_ms, max_frame_bytes, .. } => {
                self.send_limit = usize::try_from(max_frame_bytes).unwrap_or(usize::MAX);
                self.receive_limit = self.send_limit.max(MAX_FRAME_BYTES);
                vec![Action::Welcome { provider_id, heartbeat_ms }]
            }
            ToProvider::Refused { reason } => vec![Action::Refused { reason }],
            ToProvider::Ping { nonce } => vec![Action::Send(frame(&ToBroker::Pong { nonce }))],
            ToProvider::Cancel { id } => vec![Action::Cancel { id }],
            ToProvider::Run { id, task } => self.accept(id, task),
        })
    }

    fn accept(&mut self, id: u64, task: WireTask) -> Vec<Action> {
        let mut actions = Vec::new();
        match task.module_bytes {
            Some(bytes) => {
                let bytes = match self.config.rewrite_memory {
                    true => match memory_limit::instrument(&bytes) {
                        Ok(instrumented) => instrumented,
                        Err(error) => return vec![self.refuse(id, TaskErrorKind::InvalidModule, error.to_string())],
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
        })));
        actions
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
        let mut core = Core::new(Config::browser(4));
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
        let mut core = Core::new(Config::browser(4));
        let actions = core.receive(&run(7, "sha256:b", None, None)).expect("frame");
        assert_eq!(sent(&actions[0]), ToBroker::Evicted { digests: vec!["sha256:b".into()] });
        let ToBroker::Result { id: 7, outcome: Outcome::Failed { kind, .. } } = sent(&actions[1]) else { panic!("{actions:?}") };
        assert_eq!(kind, TaskErrorKind::Internal);
    }

    #[test]
    fn a_full_cache_evicts_the_least_recently_used_module() {
        let mut core = Core::new(Config::browser(1));
        core.receive(&run(1, "sha256:a", Some(module()), None)).expect("frame");
        let actions = core.receive(&run(2, "sha256:b", Some(module()), None)).expect("frame");
        assert_eq!(sent(&actions[0]), ToBroker::Evicted { digests: vec!["sha256:a".into()] });
        assert_eq!(actions[1], Action::Evict(vec!["sha256:a".into()]));
    }

    #[test]
    fn a_rejected_rootfs_fails_the_task_but_keeps_the_module() {
        let mut core = Core::new(Config::browser(4));
        let zip = wasimoff_archive::pack([("a", &[0u8; 2000][..])]).expect("zip");
        let actions = core.receive(&run(3, "sha256:a", Some(module()), Some(zip))).expect("frame");
        assert!(matches!(actions[0], Action::Module { .. }));
        let ToBroker::Result { id: 3, outcome: Outcome::Failed { kind, message, .. } } = sent(&actions[1]) else { panic!("{actions:?}") };
        assert_eq!((kind.as_str(), message.as_str()), ("rootfs_rejected", "zip unpacks to more than 1024 bytes"));
        assert!(matches!(&core.receive(&run(4, "sha256:a", None, None)).expect("frame")[..], [Action::Run(_)]));
    }

    #[test]
    fn pings_are_answered_and_garbage_is_an_error() {
        let mut core = Core::new(Config::browser(4));
        let actions = core.receive(&encode(&ToProvider::Ping { nonce: 9 }).expect("encode")).expect("frame");
        assert_eq!(sent(&actions[0]), ToBroker::Pong { nonce: 9 });
        assert!(core.receive(b"\xc1 not msgpack").is_err());
    }

    #[test]
    fn artifacts_over_the_limit_turn_the_result_into_artifact_limit() {
        let core = Core::new(Config::browser(4));
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
        encode(&ToProvider::Welcome { version: VERSION, provider_id: ProviderId(3), heartbeat_ms: 5000, max_frame_bytes }).expect("encode")
    }

    #[test]
    fn the_least_recently_used_module_goes_first_and_the_broker_is_told() {
        let mut core = Core::new(Config::browser(2));
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
        let mut core = Core::new(Config::browser(2));
        core.receive(&run(1, "sha256:a", Some(module()), None)).expect("frame");
        let frame = core.forget("sha256:a");
        assert_eq!(decode::<ToBroker>(&frame, usize::MAX).expect("frame"), ToBroker::Evicted { digests: vec!["sha256:a".into()] });
        assert_eq!(core.modules_cached(), 0);
    }

    #[test]
    fn the_welcome_sets_the_frame_limits() {
        let mut core = Core::new(Config::native(2));
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
        let mut core = Core::new(Config::native(2));
        let error = core.receive(&vec![0u8; MAX_FRAME_BYTES + 1]).expect_err("too large");
        assert!(matches!(error, ProtocolError::TooLarge { size, limit: MAX_FRAME_BYTES } if size == MAX_FRAME_BYTES + 1));
    }

    #[test]
    fn without_rewriting_modules_and_the_rootfs_pass_through_as_received() {
        let mut core = Core::new(Config::native(4));
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
        let mut core = Core::new(Config::browser(4));
        let actions = core.receive(&run(1, "sha256:a", Some(module()), None)).expect("frame");
        let Action::Module { bytes, .. } = &actions[0] else { panic!("{actions:?}") };
        assert_ne!(bytes, &module());
        let export = memory_limit::LIMIT_HIT_EXPORT.as_bytes();
        assert!(bytes.windows(export.len()).any(|window| window == export), "the limit globals are exported");
        let actions = core.receive(&run(2, "sha256:b", Some(b"not wasm".to_vec()), None)).expect("frame");
        let ToBroker::Result { id: 2, outcome: Outcome::Failed { kind, .. } } = sent(&actions[0]) else { panic!("{actions:?}") };
        assert_eq!((kind, core.modules_cached()), (TaskErrorKind::InvalidModule, 1));
    }
}
