//! Compiled modules cached by digest, ready to instantiate ([`InstancePre`]). With a directory
//! store, compiled code is also serialised to disk so a restart does not compile again.

use super::execute::TaskState;
use crate::digest::Digest;
use crate::prepare::{ModuleSource, not_a_command};
use crate::store::{Store, check_command};
use crate::task::{TaskError, TaskErrorKind};
use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OnceCell;
use wasmtime::{Engine, InstancePre, Linker, Module};

type Compiled = Result<InstancePre<TaskState>, TaskError>;

#[derive(Default)]
struct Entries {
    cells: HashMap<Digest, Arc<OnceCell<Compiled>>>,
    order: VecDeque<Digest>,
}

/// The module cache. Compilation of one digest happens once even when many tasks ask at once;
/// a module that fails to compile is remembered as failed.
pub(crate) struct ModuleCache {
    engine: Engine,
    linker: Arc<Linker<TaskState>>,
    entries: Mutex<Entries>,
    capacity: usize,
    disk: Option<PathBuf>,
    disk_tag: String,
}

impl ModuleCache {
    pub(crate) fn new(engine: Engine, linker: Linker<TaskState>, capacity: usize, disk: Option<PathBuf>) -> ModuleCache {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ModuleCache {
            engine,
            linker: Arc::new(linker),
            entries: Mutex::default(),
            capacity: capacity.max(1),
            disk,
            disk_tag: format!("{:016x}", hasher.finish()),
        }
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
                let engine = self.engine.clone();
                let linker = self.linker.clone();
                let cached = self.disk.as_ref().map(|dir| dir.join(format!("{}-{}.cwasm", source.digest.hex(), self.disk_tag)));
                tokio::task::spawn_blocking(move || Ok(compile(&engine, &linker, &bytes, cached)))
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

/// Compiles `bytes` (or loads them compiled from `cached`) once they are known to be a WASI
/// command: a module without a runnable `_start` is refused before any compilation.
fn compile(engine: &Engine, linker: &Linker<TaskState>, bytes: &[u8], cached: Option<PathBuf>) -> Compiled {
    if !bytes.starts_with(b"\0asm") {
        return Err(invalid(crate::store::NOT_WASM.into()));
    }
    check_command(bytes).map_err(not_a_command)?;
    // SAFETY: the file was written by `serialize` below into the store's own directory, and
    // `deserialize_file` checks it was produced by a compatible engine; on any error we compile.
    let loaded = cached.as_ref().filter(|path| path.exists()).and_then(|path| unsafe { Module::deserialize_file(engine, path) }.ok());
    let module = match loaded {
        Some(module) => module,
        None => {
            let module = Module::new(engine, bytes).map_err(|e| invalid(format!("invalid WebAssembly module: {e}")))?;
            if let Some(path) = cached {
                save(&module, &path);
            }
            module
        }
    };
    linker.instantiate_pre(&module).map_err(|e| invalid(format!("cannot link the module: {e}")))
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
