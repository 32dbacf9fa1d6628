//! The JavaScript face of the core: [`Session`] turns frames into plain JS objects the glue
//! acts on, and results into frames; [`error_kinds`] names every task error kind.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use std::collections::BTreeMap;
use wasimoff_provider_core::{Action, Config, Core, RESULT_HOLD_MS, RunTask, TaskErrorKind};
use wasm_bindgen::prelude::*;

/// An [`Action`] as `provider.js` reads it: `{type: "run", id, module, …}`.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
enum JsAction {
    Welcome { provider_id: String, heartbeat_ms: u64 },
    Refused { reason: String },
    Send { frame: ByteBuf },
    Cancel { id: u64 },
    Evict { digests: Vec<String> },
    Module { digest: String, bytes: ByteBuf },
    Run(JsTask),
}

/// A [`RunTask`] for a worker: `envs` as `K=V`, `files` as `{path, data}` with `data` null
/// for a folder.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsTask {
    id: u64,
    module: String,
    args: Vec<String>,
    envs: Vec<String>,
    stdin: ByteBuf,
    files: Vec<JsEntry>,
    artifacts: Vec<(String, String)>,
    limits: JsLimits,
    /// The seed of a deterministic run as 16 hex digits (a u64 does not fit a JS number), or
    /// null.
    seed: Option<String>,
}

/// A file or folder of a task's `/`, or of its artifacts.
#[derive(Serialize, Deserialize)]
struct JsEntry {
    path: String,
    data: Option<ByteBuf>,
}

/// The limits the worker and its pool enforce.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsLimits {
    timeout_ms: u64,
    memory_bytes: u64,
    output_bytes: u64,
    artifact_bytes: u64,
}

impl From<RunTask> for JsTask {
    fn from(task: RunTask) -> JsTask {
        JsTask {
            id: task.id,
            module: task.module,
            args: task.args,
            envs: task.envs.into_iter().map(|(key, value)| format!("{key}={value}")).collect(),
            stdin: ByteBuf::from(task.stdin),
            files: task.files.into_iter().map(|(path, data)| JsEntry { path, data: data.map(ByteBuf::from) }).collect(),
            artifacts: task.artifacts,
            limits: JsLimits {
                timeout_ms: task.limits.timeout_ms,
                memory_bytes: task.limits.memory_bytes,
                output_bytes: task.limits.output_bytes,
                artifact_bytes: task.limits.artifact_bytes,
            },
            seed: task.seed.map(|seed| format!("{seed:016x}")),
        }
    }
}

impl From<Action> for JsAction {
    fn from(action: Action) -> JsAction {
        match action {
            Action::Welcome { provider_id, heartbeat_ms } => JsAction::Welcome { provider_id: provider_id.to_string(), heartbeat_ms },
            Action::Refused { reason } => JsAction::Refused { reason },
            Action::Send(frame) => JsAction::Send { frame: ByteBuf::from(frame) },
            Action::Cancel { id } => JsAction::Cancel { id },
            Action::Evict(digests) => JsAction::Evict { digests },
            Action::Module { digest, bytes } => JsAction::Module { digest, bytes: ByteBuf::from(bytes) },
            Action::Run(task) => JsAction::Run(JsTask::from(*task)),
        }
    }
}

/// Values as `provider.js` expects them: `null` for none, `Uint8Array` for bytes, objects for
/// maps; ids and limits as numbers (an id past 2^53 is an error, not a rounded number).
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true).serialize_maps_as_objects(true);
    value.serialize(&serializer).map_err(|e| JsError::new(&e.to_string()))
}

/// Actions as the array `provider.js` carries out in order.
fn actions(actions: Vec<Action>) -> Result<JsValue, JsError> {
    to_js(&actions.into_iter().map(JsAction::from).collect::<Vec<_>>())
}

/// Task ids travel as JS numbers: the broker counts them up from 1, far below 2^53.
fn task_id(id: f64) -> u64 {
    id as u64
}

/// Every task error kind, as a frozen object from its Rust name to its wire name:
/// `{Trap: "trap", MemoryLimit: "memory_limit", …}`.
#[wasm_bindgen(js_name = errorKinds)]
pub fn error_kinds() -> Result<JsValue, JsError> {
    let kinds: BTreeMap<String, &str> = TaskErrorKind::ALL.into_iter().map(|kind| (format!("{kind:?}"), kind.as_str())).collect();
    let object = to_js(&kinds)?;
    Ok(js_sys::Object::freeze(&object.into()).into())
}

/// One provider session, for `provider.js`.
#[wasm_bindgen]
pub struct Session {
    core: Core,
}

#[wasm_bindgen]
impl Session {
    /// A session that keeps at most `cached_modules` compiled modules, for `slots` workers:
    /// tasks beyond them wait in the core until [`Session::finished`] frees a worker.
    #[wasm_bindgen(constructor)]
    pub fn new(cached_modules: u32, slots: u32) -> Session {
        Session { core: Core::new(Config::browser(cached_modules as usize), slots as usize) }
    }

    /// The pool now has `slots` workers: the actions (`run`) of waiting tasks that start now.
    #[wasm_bindgen(js_name = setSlots)]
    pub fn set_slots(&mut self, slots: u32) -> Result<JsValue, JsError> {
        actions(self.core.set_slots(slots as usize))
    }

    /// Task `id` ended or was stopped: the actions (`run`) of the next waiting task, if any.
    pub fn finished(&mut self, id: f64) -> Result<JsValue, JsError> {
        actions(self.core.finished(task_id(id)))
    }

    /// Whether task `id` was handed over as `run` and is neither finished nor cancelled.
    #[wasm_bindgen(js_name = isRunning)]
    pub fn is_running(&self, id: f64) -> bool {
        self.core.is_running(task_id(id))
    }

    /// Tasks running plus tasks waiting for a worker.
    pub fn pending(&self) -> u32 {
        u32::try_from(self.core.pending()).unwrap_or(u32::MAX)
    }

    /// The hello frame.
    pub fn hello(&mut self, name: &str, workers: u32) -> Vec<u8> {
        self.core.hello(name, workers)
    }

    /// The frame announcing `count` workers (0 while paused).
    pub fn workers(&mut self, count: u32) -> Vec<u8> {
        self.core.workers(count)
    }

    /// The longest a result may be held back: call [`Session::flush`] this many ms after
    /// [`Session::exited`] or [`Session::failed`] sent nothing.
    #[wasm_bindgen(getter = resultHoldMs)]
    pub fn result_hold_ms(&self) -> u32 {
        RESULT_HOLD_MS as u32
    }

    /// Whether results are held back, to go out with the next or from [`Session::flush`].
    #[wasm_bindgen(getter)]
    pub fn holding(&self) -> bool {
        self.core.holding()
    }

    /// The results held back, as one frame to send, or `undefined`.
    pub fn flush(&mut self) -> Option<Vec<u8>> {
        self.core.flush_results()
    }

    /// Handles a frame from the broker: an array of actions
    /// (`welcome`, `refused`, `send`, `cancel`, `evict`, `module`, `run`) to carry out in order.
    pub fn receive(&mut self, frame: &[u8]) -> Result<JsValue, JsError> {
        actions(self.core.receive(frame).map_err(|e| JsError::new(&e.to_string()))?)
    }

    /// Forgets a module (it failed to compile) and returns the frame telling the broker.
    pub fn forget(&mut self, digest: &str) -> Vec<u8> {
        self.core.forget(digest)
    }

    /// A task exited: the frames to send now (an array, empty while the result is held back
    /// with others, see [`Session::flush`]). `artifacts` is `null` when none were requested,
    /// else an array of `{path, data}` (`data` null for a folder). Call after
    /// [`Session::finished`] for the task.
    #[allow(clippy::too_many_arguments)]
    pub fn exited(
        &mut self,
        id: f64,
        status: i32,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
        artifacts: JsValue,
        missing: Vec<String>,
        artifact_limit: f64,
        elapsed_us: f64,
    ) -> Result<JsValue, JsError> {
        let artifacts: Option<Vec<JsEntry>> = serde_wasm_bindgen::from_value(artifacts).map_err(|e| JsError::new(&e.to_string()))?;
        let artifacts = artifacts.map(|entries| entries.into_iter().map(|entry| (entry.path, entry.data.map(ByteBuf::into_vec))).collect());
        let result = self.core.exited(task_id(id), status, stdout, stderr, artifacts, missing, artifact_limit as u64, elapsed_us as u64);
        self.queue(result)
    }

    /// A task did not run to an exit status: the frames to send now, as [`Session::exited`];
    /// `kind` is one of [`error_kinds`]' values, anything else is an error.
    pub fn failed(&mut self, id: f64, kind: &str, message: &str, stdout: Vec<u8>, stderr: Vec<u8>) -> Result<JsValue, JsError> {
        let kind = kind.parse().map_err(|e: String| JsError::new(&e))?;
        let result = self.core.failed(task_id(id), kind, message.to_string(), stdout, stderr);
        self.queue(result)
    }

    /// A result frame through the core's batching: the frames to send now, as an array.
    fn queue(&mut self, result: Vec<u8>) -> Result<JsValue, JsError> {
        let now: Vec<ByteBuf> = self.core.queue_result(result).into_iter().map(ByteBuf::from).collect();
        to_js(&now)
    }
}
