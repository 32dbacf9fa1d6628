//! Compiled modules cached by digest, ready to instantiate ([`InstancePre`]). A module is
//! compiled rewritten with the runner's interruption checks when it can be, else as it is on
//! the fuel engine (see `super::engine`). With a directory store, compiled code is also
//! serialised to disk so a restart does not compile again.

use super::determinism;
use super::execute::TaskState;
use crate::digest::Digest;
use crate::prepare::{ModuleSource, not_a_command};
use crate::store::{Store, check_command};
use crate::task::{TaskError, TaskErrorKind};
use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::sync::OnceCell;
use wasimoff_provider_core::interrupt;
use wasmtime::{Engine, InstancePre, Linker, Module, ModuleExport};

/// A compiled module and how to make it yield.
#[derive(Clone)]
pub(crate) struct Runnable {
    /// The module linked to WASI (and to the interruption imports when rewritten).
    pub(crate) pre: InstancePre<TaskState>,
    /// The same, linked to the deterministic versions of some WASI functions.
    pub(crate) deterministic: InstancePre<TaskState>,
    /// The slot global of a rewritten module; `None` for a module that runs on fuel.
    pub(crate) slot_global: Option<ModuleExport>,
}

type Compiled = Result<Runnable, TaskError>;

/// An engine with the linkers of its modules: WASI, and WASI for deterministic tasks.
pub(crate) struct Linked {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<TaskState>,
    deterministic: Linker<TaskState>,
    disk_tag: String,
}

impl Linked {
    pub(crate) fn new(engine: Engine, linker: Linker<TaskState>) -> Result<Linked, String> {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let mut deterministic = linker.clone();
        deterministic.allow_shadowing(true);
        determinism::shadow(&mut deterministic).map_err(|e| format!("cannot link the deterministic WASI functions: {e}"))?;
        Ok(Linked { engine, linker, deterministic, disk_tag: format!("{:016x}", hasher.finish()) })
    }

    /// `module` ready to instantiate with each linker.
    fn link(&self, module: &Module, slot_global: Option<ModuleExport>) -> Compiled {
        let link = |linker: &Linker<TaskState>| linker.instantiate_pre(module).map_err(|e| invalid(format!("cannot link the module: {e}")));
        Ok(Runnable { pre: link(&self.linker)?, deterministic: link(&self.deterministic)?, slot_global })
    }

    /// Where `digest` compiled by this engine is kept in `dir`.
    fn cached(&self, dir: Option<&Path>, digest: &Digest) -> Option<PathBuf> {
        dir.map(|dir| dir.join(format!("{}-{}.cwasm", digest.hex(), self.disk_tag)))
    }
}

/// The runner's two engines; the fuel engine is built when a module first needs it.
pub(crate) struct Engines {
    pub(crate) checked: Linked,
    fuel: OnceLock<Result<Linked, String>>,
    build_fuel: Box<dyn Fn() -> Result<Linked, String> + Send + Sync>,
}

impl Engines {
    pub(crate) fn new(checked: Linked, build_fuel: impl Fn() -> Result<Linked, String> + Send + Sync + 'static) -> Engines {
        Engines { checked, fuel: OnceLock::new(), build_fuel: Box::new(build_fuel) }
    }

    fn fuel(&self) -> Result<&Linked, TaskError> {
        self.fuel.get_or_init(&self.build_fuel).as_ref().map_err(|e| TaskError::new(TaskErrorKind::Internal, e.clone()))
    }
}

#[derive(Default)]
struct Entries {
    cells: HashMap<Digest, Arc<OnceCell<Compiled>>>,
    order: VecDeque<Digest>,
}

/// The module cache. Compilation of one digest happens once even when many tasks ask at once;
/// a module that fails to compile is remembered as failed.
pub(crate) struct ModuleCache {
    engines: Arc<Engines>,
    entries: Mutex<Entries>,
    capacity: usize,
    disk: Option<PathBuf>,
}

impl ModuleCache {
    pub(crate) fn new(engines: Engines, capacity: usize, disk: Option<PathBuf>) -> ModuleCache {
        ModuleCache { engines: Arc::new(engines), entries: Mutex::default(), capacity: capacity.max(1), disk }
    }

    fn cell(&self, digest: Digest) -> Arc<OnceCell<Compiled>> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cell) = entries.cells.get(&digest) {
            return cell.clone();
        }
        while entries.order.len() >= self.capacity {
            let Some(oldest) = entries.order.pop_front() else { break };
            entries.cells.remove(&oldest);
        }
        let cell = Arc::new(OnceCell::new());
        entries.cells.insert(digest, cell.clone());
        entries.order.push_back(digest);
        cell
    }

    /// Drops the compiled module of `digest`; tasks already holding it finish with it.
    pub(crate) fn remove(&self, digest: &Digest) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.cells.remove(digest);
        entries.order.retain(|d| d != digest);
    }

    /// The module ready to instantiate, compiling (or loading from disk) on first use.
    pub(crate) async fn get(&self, source: &ModuleSource, store: &Store) -> Compiled {
        let cell = self.cell(source.digest);
        let compiled = cell
            .get_or_try_init(|| async {
                let bytes = match &source.inline {
                    Some(bytes) => bytes.clone(),
                    None => store.get(&source.digest).await.map_err(|e| TaskError::new(TaskErrorKind::NotFound, e.to_string()))?,
                };
                let engines = self.engines.clone();
                let (disk, digest) = (self.disk.clone(), source.digest);
                tokio::task::spawn_blocking(move || Ok(compile(&engines, &bytes, disk.as_deref(), &digest)))
                    .await
                    .map_err(|e| TaskError::new(TaskErrorKind::Internal, format!("compiler task failed: {e}")))?
            })
            .await?;
        compiled.clone()
    }
}

fn invalid(message: String) -> TaskError {
    TaskError::new(TaskErrorKind::InvalidModule, message)
}

/// Compiles `bytes` once they are known to be a WASI command (a module without a runnable
/// `_start` is refused before any compilation): rewritten with interruption checks on the
/// checked engine when the rewrite and its compilation succeed, else as they are on the fuel
/// engine, which also gives an invalid module its error message.
fn compile(engines: &Engines, bytes: &[u8], disk: Option<&Path>, digest: &Digest) -> Compiled {
    if !bytes.starts_with(b"\0asm") {
        return Err(invalid(crate::store::NOT_WASM.into()));
    }
    check_command(bytes).map_err(not_a_command)?;
    let checked = &engines.checked;
    let module = load(checked, disk, digest)
        .or_else(|| interrupt::instrument(bytes).ok().and_then(|rewritten| compile_and_save(checked, &rewritten, disk, digest).ok()));
    if let Some(module) = module {
        return checked.link(&module, module.get_export_index(interrupt::SLOT_EXPORT));
    }
    let fuel = engines.fuel()?;
    let module = match load(fuel, disk, digest) {
        Some(module) => module,
        None => compile_and_save(fuel, bytes, disk, digest).map_err(|e| invalid(format!("invalid WebAssembly module: {e}")))?,
    };
    fuel.link(&module, None)
}

/// The module compiled earlier by this engine, if the store's directory has it.
fn load(linked: &Linked, disk: Option<&Path>, digest: &Digest) -> Option<Module> {
    let path = linked.cached(disk, digest).filter(|path| path.exists())?;
    // SAFETY: the file was written by `save` below into the store's own directory, and
    // `deserialize_file` checks it was produced by a compatible engine; on any error we compile.
    unsafe { Module::deserialize_file(&linked.engine, path) }.ok()
}

fn compile_and_save(linked: &Linked, bytes: &[u8], disk: Option<&Path>, digest: &Digest) -> wasmtime::Result<Module> {
    let module = Module::new(&linked.engine, bytes)?;
    if let Some(path) = linked.cached(disk, digest) {
        save(&module, &path);
    }
    Ok(module)
}

/// Writes the compiled module next to its final name, then renames it into place. A failure
/// only costs a compilation after the next restart, so it is logged, not returned.
fn save(module: &Module, path: &std::path::Path) {
    let result = module.serialize().map_err(|e| std::io::Error::other(e.to_string())).and_then(|bytes| {
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut file, &bytes)?;
        file.persist(path).map(|_| ()).map_err(|e| e.error)
    });
    if let Err(error) = result {
        tracing::warn!(path = %path.display(), %error, "could not save compiled module");
    }
}
