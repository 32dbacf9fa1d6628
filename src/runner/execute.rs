//! Runs one prepared task: a fresh wasmtime `Store` with WASI preview 1, its own directory as
//! `/`, capped output, a memory limit and a wall-clock deadline; then sorts the outcome into
//! an exit status or a [`TaskError`]. The wall-clock timeout is kept twice: the deadline thread
//! raises the task's interruption flag (a rewritten guest traps at its next check, see
//! `super::interrupt`), and a tokio timeout wraps the whole call for time spent waiting in
//! host calls. A module on the fuel engine yields every few milliseconds of fuel instead, so
//! the tokio timeout stops it too.

use super::determinism::Determinism;
use super::engine::YIELD_INTERVAL_FUEL;
use super::interrupt::{Armed, Stop};
use super::modules::Runnable;
use super::output::{CappedPipe, OutputLimitExceeded};
use super::sandbox::Sandbox;
use crate::prepare::PreparedTask;
use crate::task::{TaskError, TaskErrorKind, TaskOutput};
use std::time::Instant;
use wasmtime::{Extern, ResourceLimiter, Store, Trap, Val};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

/// Table elements a task may grow its tables to.
const TABLE_ELEMENTS_LIMIT: usize = 100_000;

/// The per-task state inside a wasmtime `Store`.
pub(crate) struct TaskState {
    wasi: WasiP1Ctx,
    limiter: MemoryLimiter,
    determinism: Option<Determinism>,
}

impl TaskState {
    /// A state with no task, for the store that linker definitions need.
    pub(crate) fn empty() -> TaskState {
        TaskState { wasi: WasiCtxBuilder::new().build_p1(), limiter: MemoryLimiter { limit: 0, exceeded: false }, determinism: None }
    }

    pub(crate) fn wasi(&mut self) -> &mut WasiP1Ctx {
        &mut self.wasi
    }

    /// The virtual time and file times of a deterministic task.
    pub(crate) fn determinism(&self) -> Option<&Determinism> {
        self.determinism.as_ref()
    }
}

/// Refuses memory growth past the limit and remembers that it did.
struct MemoryLimiter {
    limit: usize,
    exceeded: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_ELEMENTS_LIMIT)
    }
}

fn internal(error: impl std::fmt::Display) -> TaskError {
    TaskError::new(TaskErrorKind::Internal, error.to_string())
}

/// Runs `task` to its end in `sandbox`; `stop` ends it early.
pub(crate) async fn execute(stop: &Stop, runnable: &Runnable, task: &PreparedTask, sandbox: &Sandbox) -> Result<TaskOutput, TaskError> {
    let limits = &task.limits;
    let stdout = CappedPipe::new("stdout", limits.output_bytes);
    let stderr = CappedPipe::new("stderr", limits.output_bytes);
    let mut wasi = WasiCtxBuilder::new();
    wasi.args(&task.args)
        .envs(&task.envs)
        .stdin(MemoryInputPipe::new(task.stdin.clone()))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_blocking_current_thread(true);
    wasi.preopened_dir(sandbox.root(), "/", FsPerms::ReadWrite).map_err(internal)?;
    let determinism = task.deterministic.map(|seed| Determinism::configure(&mut wasi, seed, sandbox.host_clock_since()));
    let limiter = MemoryLimiter { limit: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX), exceeded: false };
    let pre = if determinism.is_some() { &runnable.deterministic } else { &runnable.pre };
    let mut store = Store::new(pre.module().engine(), TaskState { wasi: wasi.build_p1(), limiter, determinism });
    store.limiter(|state| &mut state.limiter);
    let armed: Option<Armed> = match runnable.slot_global {
        Some(_) => Some(stop.arm(limits.timeout).ok_or_else(|| internal("the task was stopped before it started"))?),
        None => {
            store.set_fuel(u64::MAX).map_err(internal)?;
            store.fuel_async_yield_interval(Some(YIELD_INTERVAL_FUEL)).map_err(internal)?;
            None
        }
    };
    let started = Instant::now();
    let run = async {
        let instance = pre.instantiate_async(&mut store).await?;
        if let (Some(slot_global), Some(armed)) = (&runnable.slot_global, &armed)
            && let Some(Extern::Global(global)) = instance.get_module_export(&mut store, slot_global)
        {
            global.set(&mut store, Val::I32(i32::try_from(armed.slot())?))?;
        }
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        start.call_async(&mut store, ()).await
    };
    let outcome = tokio::time::timeout(limits.timeout, run).await;
    let elapsed = started.elapsed();
    let failed = |kind, message: String| TaskError { kind, message, stdout: stdout.contents(), stderr: stderr.contents() };
    let status = match outcome {
        Err(_) => return Err(failed(TaskErrorKind::Timeout, timeout_message(limits.timeout))),
        Ok(Ok(())) => 0,
        Ok(Err(_)) if armed.as_ref().is_some_and(Armed::raised) => {
            return Err(failed(TaskErrorKind::Timeout, timeout_message(limits.timeout)));
        }
        Ok(Err(error)) => {
            if let Some(exit) = error.downcast_ref::<I32Exit>() {
                exit.0
            } else if let Some(exceeded) = error.downcast_ref::<OutputLimitExceeded>() {
                return Err(failed(TaskErrorKind::OutputLimit, exceeded.to_string()));
            } else if store.data().limiter.exceeded {
                let message = format!("the task tried to grow its memory past the limit of {} bytes", limits.memory_bytes);
                return Err(failed(TaskErrorKind::MemoryLimit, message));
            } else if let Some(trap) = error.downcast_ref::<Trap>() {
                return Err(failed(TaskErrorKind::Trap, trap.to_string()));
            } else {
                return Err(failed(TaskErrorKind::Trap, format!("{error:#}")));
            }
        }
    };
    let (artifacts, missing_artifacts) = if task.artifacts.is_empty() {
        (None, Vec::new())
    } else {
        let (zip, missing) = sandbox.collect(&task.artifacts, limits.artifact_bytes).map_err(|e| TaskError {
            stdout: stdout.contents(),
            stderr: stderr.contents(),
            ..e
        })?;
        (Some(zip.into()), missing)
    };
    Ok(TaskOutput {
        status,
        stdout: stdout.contents(),
        stderr: stderr.contents(),
        artifacts,
        missing_artifacts,
        elapsed,
        ran_on: crate::task::LOCAL.to_string(),
        verified_by: Vec::new(),
    })
}

fn timeout_message(timeout: std::time::Duration) -> String {
    format!("the task ran longer than its timeout of {} ms and was stopped", timeout.as_millis())
}
