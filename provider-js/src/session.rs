//! The provider's side of a broker session, free of JavaScript types so it is tested natively:
//! frames in, [`Action`]s out; results and events encoded as frames.

use crate::memory_limit;
use crate::module_cache::ModuleCache;
use crate::rootfs::{self, Entry};
use serde_bytes::ByteBuf;
use wasimoff_archive::ArchiveLimits;
use wasimoff_protocol::{
    Hello, Outcome, ProtocolError, ProviderKind, TaskErrorKind, ToBroker, ToProvider, VERSION, WireLimits, decode, encode,
};

/// What the JavaScript glue must do after a frame from the broker.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// The session is open.
    Welcome {
        /// The id the broker gave this provider.
        provider_id: String,
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
    /// Drop these compiled modules.
    Evict(Vec<String>),
    /// Compile and keep this module (instrumented for memory limits) under its digest.
    Module {
        /// The module's digest.
        digest: String,
        /// The instrumented module.
        bytes: Vec<u8>,
    },
    /// Run a task in a worker.
    Run(Box<RunTask>),
}

/// A task ready for a worker: rootfs unpacked, its module already handed over by an
/// [`Action::Module`] now or earlier.
#[derive(Debug, PartialEq)]
pub struct RunTask {
    /// The task's id.
    pub id: u64,
    /// The module's digest.
    pub module: String,
    /// argv.
    pub args: Vec<String>,
    /// Environment as `K=V`.
    pub envs: Vec<String>,
    /// Standard input.
    pub stdin: Vec<u8>,
    /// The task's `/`, in order.
    pub files: Vec<Entry>,
    /// `(normalised, as requested)` artifact paths.
    pub artifacts: Vec<(String, String)>,
    /// The limits.
    pub limits: WireLimits,
}

/// One provider session's state.
#[derive(Debug)]
pub struct Core {
    modules: ModuleCache,
    frame_limit: usize,
}

fn frame(message: &ToBroker) -> Vec<u8> {
    encode(message).expect("every ToBroker message encodes to MessagePack")
}

/// A [`ToBroker::Result`] frame for a task that did not run to an exit status.
pub fn failed(id: u64, kind: TaskErrorKind, message: String, stdout: Vec<u8>, stderr: Vec<u8>) -> Vec<u8> {
    let outcome = Outcome::Failed { kind, message, stdout: ByteBuf::from(stdout), stderr: ByteBuf::from(stderr) };
    frame(&ToBroker::Result { id, outcome })
}

impl Core {
    /// A session caching at most `cached_modules` modules.
    pub fn new(cached_modules: usize) -> Core {
        Core { modules: ModuleCache::new(cached_modules), frame_limit: wasimoff_protocol::MAX_FRAME_BYTES }
    }

    /// The first frame: who this provider is and how many workers it has.
    pub fn hello(name: &str, workers: u32) -> Vec<u8> {
        frame(&ToBroker::Hello(Hello { versions: vec![VERSION], kind: ProviderKind::Browser, name: name.into(), workers }))
    }

    /// The event frame announcing a new worker count.
    pub fn workers(count: u32) -> Vec<u8> {
        frame(&ToBroker::Workers { count })
    }

    /// Forgets a module the glue could not keep and returns the event frame telling the broker.
    pub fn forget(&mut self, digest: &str) -> Vec<u8> {
        self.modules.remove(digest);
        frame(&ToBroker::Evicted { digests: vec![digest.to_string()] })
    }

    /// How many modules are cached.
    pub fn modules_cached(&self) -> usize {
        self.modules.len()
    }

    /// Handles one frame from the broker.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Vec<Action>, ProtocolError> {
        Ok(match decode::<ToProvider>(bytes, self.frame_limit)? {
            ToProvider::Welcome { provider_id, heartbeat_ms, max_frame_bytes, .. } => {
                self.frame_limit = usize::try_from(max_frame_bytes).unwrap_or(usize::MAX).max(self.frame_limit);
                vec![Action::Welcome { provider_id: provider_id.to_string(), heartbeat_ms }]
            }
            ToProvider::Refused { reason } => vec![Action::Refused { reason }],
            ToProvider::Ping { nonce } => vec![Action::Send(frame(&ToBroker::Pong { nonce }))],
            ToProvider::Cancel { id } => vec![Action::Cancel { id }],
            ToProvider::Run { id, task } => self.accept(id, task),
        })
    }

    fn accept(&mut self, id: u64, task: wasimoff_protocol::WireTask) -> Vec<Action> {
        let fail = |kind: TaskErrorKind, message: String| vec![Action::Send(failed(id, kind, message, Vec::new(), Vec::new()))];
        let mut actions = Vec::new();
        match task.module_bytes {
            Some(bytes) => match memory_limit::instrument(&bytes) {
                Ok(instrumented) => {
                    let evicted = self.modules.insert(&task.module);
                    if !evicted.is_empty() {
                        actions.push(Action::Send(frame(&ToBroker::Evicted { digests: evicted.clone() })));
                        actions.push(Action::Evict(evicted));
                    }
                    actions.push(Action::Module { digest: task.module.clone(), bytes: instrumented });
                }
                Err(error) => return fail(TaskErrorKind::InvalidModule, error.to_string()),
            },
            None if self.modules.touch(&task.module) => {}
            None => {
                let mut actions = vec![Action::Send(frame(&ToBroker::Evicted { digests: vec![task.module.clone()] }))];
                actions.extend(fail(TaskErrorKind::Internal, format!("module {} is not cached on this provider", task.module)));
                return actions;
            }
        }
        let limits = ArchiveLimits { unpacked_bytes: task.limits.rootfs_bytes, entries: task.limits.rootfs_entries };
        let files = task.files.into_iter().map(|(path, bytes)| (path, bytes.into_vec())).collect();
        let files = match rootfs::entries(task.rootfs.as_deref().map(|b| b.as_slice()), limits, files) {
            Ok(files) => files,
            Err(error) => {
                actions.extend(fail(TaskErrorKind::RootfsRejected, error.to_string()));
                return actions;
            }
        };
        actions.push(Action::Run(Box::new(RunTask {
            id,
            module: task.module,
            args: task.args,
            envs: task.envs.into_iter().map(|(key, value)| format!("{key}={value}")).collect(),
            stdin: task.stdin.into_vec(),
            files,
            artifacts: task.artifacts,
            limits: task.limits,
        })));
        actions
    }

    /// The result frame of a task that exited: artifacts zipped as on every runner; too many
    /// artifact bytes turn the result into an `artifact_limit` failure.
    #[allow(clippy::too_many_arguments)]
    pub fn exited(
        id: u64,
        status: i32,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
        artifacts: Option<Vec<(String, Option<Vec<u8>>)>>,
        missing_artifacts: Vec<String>,
        artifact_limit: u64,
        elapsed_us: u64,
    ) -> Vec<u8> {
        let artifacts = match artifacts.map(|entries| crate::artifacts::zip(entries, artifact_limit)).transpose() {
            Ok(zip) => zip.map(ByteBuf::from),
            Err(error @ wasimoff_archive::ArtifactError::TooLarge { .. }) => {
                return failed(id, TaskErrorKind::ArtifactLimit, error.to_string(), stdout, stderr);
            }
            Err(error) => return failed(id, TaskErrorKind::Internal, error.to_string(), stdout, stderr),
        };
        let outcome = Outcome::Exited {
            status,
            stdout: ByteBuf::from(stdout),
            stderr: ByteBuf::from(stderr),
            artifacts,
            missing_artifacts,
            elapsed_us,
        };
        frame(&ToBroker::Result { id, outcome })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasimoff_protocol::WireTask;

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
        let mut core = Core::new(4);
        let actions = core.receive(&run(1, "sha256:a", Some(module()), None)).expect("frame");
        assert!(matches!(&actions[0], Action::Module { digest, bytes } if digest == "sha256:a" && bytes.starts_with(b"\0asm")));
        let Action::Run(task) = &actions[1] else { panic!("expected run, got {actions:?}") };
        assert_eq!((task.id, task.envs.clone(), task.stdin.clone()), (1, vec!["K=V".to_string()], b"in".to_vec()));
        assert_eq!(task.files, vec![("f.txt".to_string(), Some(b"f".to_vec()))]);

        let actions = core.receive(&run(2, "sha256:a", None, None)).expect("frame");
        assert!(matches!(&actions[..], [Action::Run(task)] if task.id == 2));
        assert_eq!(core.modules_cached(), 1);
    }

    #[test]
    fn an_unknown_module_without_bytes_is_reported_evicted_and_the_task_fails() {
        let mut core = Core::new(4);
        let actions = core.receive(&run(7, "sha256:b", None, None)).expect("frame");
        assert_eq!(sent(&actions[0]), ToBroker::Evicted { digests: vec!["sha256:b".into()] });
        let ToBroker::Result { id: 7, outcome: Outcome::Failed { kind, .. } } = sent(&actions[1]) else { panic!("{actions:?}") };
        assert_eq!(kind, TaskErrorKind::Internal);
    }

    #[test]
    fn a_full_cache_evicts_the_least_recently_used_module() {
        let mut core = Core::new(1);
        core.receive(&run(1, "sha256:a", Some(module()), None)).expect("frame");
        let actions = core.receive(&run(2, "sha256:b", Some(module()), None)).expect("frame");
        assert_eq!(sent(&actions[0]), ToBroker::Evicted { digests: vec!["sha256:a".into()] });
        assert_eq!(actions[1], Action::Evict(vec!["sha256:a".into()]));
    }

    #[test]
    fn a_rejected_rootfs_fails_the_task_but_keeps_the_module() {
        let mut core = Core::new(4);
        let zip = wasimoff_archive::pack([("a", &[0u8; 2000][..])]).expect("zip");
        let actions = core.receive(&run(3, "sha256:a", Some(module()), Some(zip))).expect("frame");
        assert!(matches!(actions[0], Action::Module { .. }));
        let ToBroker::Result { id: 3, outcome: Outcome::Failed { kind, message, .. } } = sent(&actions[1]) else { panic!("{actions:?}") };
        assert_eq!((kind.as_str(), message.as_str()), ("rootfs_rejected", "zip unpacks to more than 1024 bytes"));
        assert!(matches!(&core.receive(&run(4, "sha256:a", None, None)).expect("frame")[..], [Action::Run(_)]));
    }

    #[test]
    fn pings_are_answered_and_garbage_is_an_error() {
        let mut core = Core::new(4);
        let actions = core.receive(&encode(&ToProvider::Ping { nonce: 9 }).expect("encode")).expect("frame");
        assert_eq!(sent(&actions[0]), ToBroker::Pong { nonce: 9 });
        assert!(core.receive(b"\xc1 not msgpack").is_err());
    }

    #[test]
    fn artifacts_over_the_limit_turn_the_result_into_artifact_limit() {
        let frame = Core::exited(5, 0, b"o".to_vec(), Vec::new(), Some(vec![("big".into(), Some(vec![1; 9]))]), vec![], 8, 10);
        let ToBroker::Result { id: 5, outcome: Outcome::Failed { kind, stdout, .. } } = decode(&frame, usize::MAX).expect("frame") else {
            panic!("expected a failure")
        };
        assert_eq!((kind.as_str(), stdout.as_slice()), ("artifact_limit", &b"o"[..]));
        let frame = Core::exited(6, 3, Vec::new(), Vec::new(), None, vec!["gone".into()], 8, 10);
        let ToBroker::Result { outcome: Outcome::Exited { status: 3, artifacts: None, missing_artifacts, .. }, .. } =
            decode(&frame, usize::MAX).expect("frame")
        else {
            panic!("expected an exit")
        };
        assert_eq!(missing_artifacts, vec!["gone".to_string()]);
    }
}
