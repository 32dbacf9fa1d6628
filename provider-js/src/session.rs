//! The provider's side of a broker session, free of JavaScript types so it is tested natively:
//! frames in, [`Action`]s out; results and events encoded as frames.

use crate::memory_limit;
use crate::module_cache::ModuleCache;
use crate::rootfs::{self, Entry};
use serde_bytes::ByteBuf;
use wasimoff_archive::ArchiveLimits;
use wasimoff_protocol::{Hello, Outcome, ProtocolError, ProviderKind, ToBroker, ToProvider, VERSION, WireLimits, decode, encode};

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
pub fn failed(id: u64, kind: &str, message: String, stdout: Vec<u8>, stderr: Vec<u8>) -> Vec<u8> {
    let outcome = Outcome::Failed { kind: kind.into(), message, stdout: ByteBuf::from(stdout), stderr: ByteBuf::from(stderr) };
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
                vec![Action::Welcome { provider_id, heartbeat_ms }]
            }
            ToProvider::Refused { reason } => vec![Action::Refused { reason }],
            ToProvider::Ping { nonce } => vec![Action::Send(frame(&ToBroker::Pong { nonce }))],
            ToProvider::Cancel { id } => vec![Action::Cancel { id }],
            ToProvider::Run { id, task } => self.accept(id, task),
        })
    }

    fn accept(&mut self, id: u64, task: wasimoff_protocol::WireTask) -> Vec<Action> {
        let fail = |kind: &str, message: String| vec![Action::Send(failed(id, kind, message, Vec::new(), Vec::new()))];
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
                Err(error) => return fail("invalid_module", error.to_string()),
            },
            None if self.modules.touch(&task.module) => {}
            None => {
                let mut actions = vec![Action::Send(frame(&ToBroker::Evicted { digests: vec![task.module.clone()] }))];
                actions.extend(fail("internal", format!("module {} is not cached on this provider", task.module)));
                return actions;
            }
        }
        let limits = ArchiveLimits { unpacked_bytes: task.limits.rootfs_bytes, entries: task.limits.rootfs_entries };
        let files = task.files.into_iter().map(|(path, bytes)| (path, bytes.into_vec())).collect();
        let files = match rootfs::entries(task.rootfs.as_deref().map(|b| b.as_slice()), limits, files) {
            Ok(files) => files,
            Err(error) => {
                actions.extend(fail("rootfs_rejected", error.to_string()));
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
                return failed(id, "artifact_limit", error.to_string(), stdout, stderr);
            }
            Err(error) => return failed(id, "internal", error.to_string(), stdout, stderr),
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
