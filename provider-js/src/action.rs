//! The JavaScript face of the core: [`Session`] turns frames into plain JS objects the glue
//! acts on, and results into frames.

use crate::session::{Action, Core, RunTask};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in fields {
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object.into()
}

fn bytes(bytes: &[u8]) -> JsValue {
    Uint8Array::from(bytes).into()
}

fn strings(items: &[String]) -> JsValue {
    items.iter().map(|s| JsValue::from_str(s)).collect::<Array>().into()
}

fn run_task(task: RunTask) -> JsValue {
    let files: Array = task
        .files
        .iter()
        .map(|(path, data)| object(&[("path", path.into()), ("data", data.as_deref().map_or(JsValue::NULL, bytes))]))
        .collect();
    let artifacts: Array = task.artifacts.iter().map(|(path, requested)| Array::of2(&path.into(), &requested.into())).collect();
    let limits = object(&[
        ("timeoutMs", (task.limits.timeout_ms as f64).into()),
        ("memoryBytes", (task.limits.memory_bytes as f64).into()),
        ("outputBytes", (task.limits.output_bytes as f64).into()),
        ("artifactBytes", (task.limits.artifact_bytes as f64).into()),
    ]);
    object(&[
        ("type", "run".into()),
        ("id", (task.id as f64).into()),
        ("module", task.module.as_str().into()),
        ("args", strings(&task.args)),
        ("envs", strings(&task.envs)),
        ("stdin", bytes(&task.stdin)),
        ("files", files.into()),
        ("artifacts", artifacts.into()),
        ("limits", limits),
    ])
}

fn action(action: Action) -> JsValue {
    match action {
        Action::Welcome { provider_id, heartbeat_ms } => object(&[
            ("type", "welcome".into()),
            ("providerId", provider_id.as_str().into()),
            ("heartbeatMs", (heartbeat_ms as f64).into()),
        ]),
        Action::Refused { reason } => object(&[("type", "refused".into()), ("reason", reason.as_str().into())]),
        Action::Send(frame) => object(&[("type", "send".into()), ("frame", bytes(&frame))]),
        Action::Cancel { id } => object(&[("type", "cancel".into()), ("id", (id as f64).into())]),
        Action::Evict(digests) => object(&[("type", "evict".into()), ("digests", strings(&digests))]),
        Action::Module { digest, bytes: module } => {
            object(&[("type", "module".into()), ("digest", digest.as_str().into()), ("bytes", bytes(&module))])
        }
        Action::Run(task) => run_task(*task),
    }
}

/// Task ids travel as JS numbers: the broker counts them up from 1, far below 2^53.
fn task_id(id: f64) -> u64 {
    id as u64
}

/// One provider session, for `provider.js`.
#[wasm_bindgen]
pub struct Session {
    core: Core,
}

#[wasm_bindgen]
impl Session {
    /// A session that keeps at most `cached_modules` compiled modules.
    #[wasm_bindgen(constructor)]
    pub fn new(cached_modules: u32) -> Session {
        Session { core: Core::new(cached_modules as usize) }
    }

    /// The hello frame.
    pub fn hello(name: &str, workers: u32) -> Vec<u8> {
        Core::hello(name, workers)
    }

    /// The frame announcing `count` workers.
    pub fn workers(count: u32) -> Vec<u8> {
        Core::workers(count)
    }

    /// Handles a frame from the broker: an array of actions
    /// (`welcome`, `refused`, `send`, `cancel`, `evict`, `module`, `run`) to carry out in order.
    pub fn receive(&mut self, frame: &[u8]) -> Result<Array, JsError> {
        let actions = self.core.receive(frame).map_err(|e| JsError::new(&e.to_string()))?;
        Ok(actions.into_iter().map(action).collect())
    }

    /// Forgets a module (it failed to compile) and returns the frame telling the broker.
    pub fn forget(&mut self, digest: &str) -> Vec<u8> {
        self.core.forget(digest)
    }

    /// The result frame of a task that exited. `artifacts` is `null` when none were requested,
    /// else an array of `{path, data}` (`data` null for a folder).
    #[allow(clippy::too_many_arguments)]
    pub fn exited(
        id: f64,
        status: i32,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
        artifacts: JsValue,
        missing: Vec<String>,
        artifact_limit: f64,
        elapsed_us: f64,
    ) -> Vec<u8> {
        let artifacts = Array::is_array(&artifacts).then(|| {
            Array::from(&artifacts)
                .iter()
                .map(|entry| {
                    let path = Reflect::get(&entry, &"path".into()).ok().and_then(|p| p.as_string()).unwrap_or_default();
                    let data = Reflect::get(&entry, &"data".into()).ok().filter(|d| !d.is_null() && !d.is_undefined());
                    (path, data.map(|d| Uint8Array::new(&d).to_vec()))
                })
                .collect()
        });
        Core::exited(task_id(id), status, stdout, stderr, artifacts, missing, artifact_limit as u64, elapsed_us as u64)
    }

    /// The result frame of a task that did not run to an exit status; `kind` is a broker error
    /// kind such as `timeout` or `trap`.
    pub fn failed(id: f64, kind: &str, message: &str, stdout: Vec<u8>, stderr: Vec<u8>) -> Result<Vec<u8>, JsError> {
        let kind = kind.parse().map_err(|e: String| JsError::new(&e))?;
        Ok(crate::session::failed(task_id(id), kind, message.to_string(), stdout, stderr))
    }
}
