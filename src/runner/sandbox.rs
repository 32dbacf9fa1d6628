//! The task's private directory: taken empty from a pool, filled from the rootfs zip and the
//! extra files, preopened as the task's `/`, searched for artifacts after exit, and given
//! back when dropped — reused if the task left it empty, removed in the background otherwise.
//! Nothing outside it is reachable from the task.

use crate::archive::{self, ArchiveLimits, ArtifactError, EntryKind};
use crate::task::{TaskError, TaskErrorKind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tempfile::TempDir;

/// Empty task directories under one private parent, which is removed with the pool.
pub(crate) struct TaskDirs {
    parent: TempDir,
    created: SystemTime,
    free: Mutex<Vec<PathBuf>>,
    next: AtomicU64,
    keep: usize,
}

impl TaskDirs {
    /// A pool keeping up to `keep` empty directories for reuse.
    pub(crate) fn new(keep: usize) -> std::io::Result<TaskDirs> {
        // File systems stamp times from a coarse clock, up to a few milliseconds behind.
        let created = SystemTime::now() - Duration::from_secs(1);
        let parent = tempfile::Builder::new().prefix("wasimoff-tasks-").tempdir()?;
        Ok(TaskDirs { parent, created, free: Mutex::default(), next: AtomicU64::new(0), keep })
    }

    fn take(&self) -> std::io::Result<PathBuf> {
        if let Some(dir) = self.free.lock().unwrap_or_else(PoisonError::into_inner).pop() {
            return Ok(dir);
        }
        let dir = self.parent.path().join(self.next.fetch_add(1, Ordering::Relaxed).to_string());
        std::fs::create_dir(&dir)?;
        Ok(dir)
    }

    fn give_back(&self, dir: PathBuf) {
        let empty = std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_none());
        if empty {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            if free.len() < self.keep {
                free.push(dir);
                return;
            }
        }
        let remove = move || {
            if let Err(error) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), %error, "could not remove a task directory");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(remove)),
            Err(_) => remove(),
        }
    }
}

/// A task's root directory, given back to its pool on drop.
pub(crate) struct Sandbox {
    dir: PathBuf,
    pool: Arc<TaskDirs>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.dir));
    }
}

fn internal(error: std::io::Error) -> TaskError {
    TaskError::new(TaskErrorKind::Internal, format!("task directory: {error}"))
}

impl Sandbox {
    /// Takes a directory from `pool`, unpacks `rootfs` into it, then writes `files`.
    pub(crate) fn create(
        pool: &Arc<TaskDirs>,
        rootfs: Option<&[u8]>,
        limits: ArchiveLimits,
        files: &[(String, bytes::Bytes)],
    ) -> Result<Sandbox, TaskError> {
        let sandbox = Sandbox { dir: pool.take().map_err(internal)?, pool: pool.clone() };
        if let Some(zip) = rootfs {
            let root = sandbox.root();
            archive::visit(zip, limits, |path, kind, content| {
                let target = root.join(path);
                match kind {
                    EntryKind::Directory => std::fs::create_dir_all(&target),
                    EntryKind::File => {
                        if let Some(parent) = target.parent() {
                            std::fs::create_dir_all(parent)?;
                        }
                        std::io::copy(content, &mut std::fs::File::create(&target)?).map(|_| ())
                    }
                }
            })
            .map_err(|e| TaskError::new(TaskErrorKind::RootfsRejected, e.to_string()))?;
        }
        for (path, bytes) in files {
            let target = sandbox.root().join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(internal)?;
            }
            std::fs::write(&target, bytes).map_err(internal)?;
        }
        Ok(sandbox)
    }

    /// A host time before this directory and everything in it were made: file times from then
    /// on came from the host's clock.
    pub(crate) fn host_clock_since(&self) -> SystemTime {
        self.pool.created
    }

    /// The host path preopened as the task's `/`.
    pub(crate) fn root(&self) -> &Path {
        &self.dir
    }

    /// Zips the requested `(normalised path, as requested)` artifacts. Paths that are missing
    /// or are links are returned as missing; links are never followed.
    pub(crate) fn collect(&self, requested: &[(String, String)], limit: u64) -> Result<(Vec<u8>, Vec<String>), TaskError> {
        let mut found: Vec<(String, PathBuf, bool)> = Vec::new();
        let mut missing = Vec::new();
        for (path, as_requested) in requested {
            let host = self.root().join(path);
            match std::fs::symlink_metadata(&host) {
                Ok(meta) if meta.is_dir() => {
                    found.push((format!("{path}/"), host.clone(), true));
                    walk(&host, path, &mut found).map_err(internal)?;
                }
                Ok(meta) if meta.is_file() => found.push((path.clone(), host, false)),
                _ => missing.push(as_requested.clone()),
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.dedup_by(|a, b| a.0 == b.0);
        let mut total: u64 = 0;
        for (_, host, is_dir) in &found {
            if !*is_dir {
                total += std::fs::symlink_metadata(host).map_err(internal)?.len();
            }
        }
        let too_large = |limit| TaskError::new(TaskErrorKind::ArtifactLimit, ArtifactError::TooLarge { limit }.to_string());
        if total > limit {
            return Err(too_large(limit));
        }
        let mut contents = Vec::with_capacity(found.len());
        for (name, host, is_dir) in found {
            contents.push((name, if is_dir { Vec::new() } else { std::fs::read(host).map_err(internal)? }));
        }
        let zip = archive::pack_artifacts(contents, limit).map_err(|error| match error {
            ArtifactError::TooLarge { limit } => too_large(limit),
            ArtifactError::Zip(error) => internal(error),
        })?;
        Ok((zip, missing))
    }
}

fn walk(dir: &Path, prefix: &str, found: &mut Vec<(String, PathBuf, bool)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        let meta = entry.path().symlink_metadata()?;
        let path = format!("{prefix}/{name}");
        if meta.is_dir() {
            found.push((format!("{path}/"), entry.path(), true));
            walk(&entry.path(), &path, found)?;
        } else if meta.is_file() {
            found.push((path, entry.path(), false));
        }
    }
    Ok(())
}
