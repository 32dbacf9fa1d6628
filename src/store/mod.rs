//! Content-addressed file store with alias names.
//!
//! Files are immutable and addressed by [`Digest`]. An alias is a mutable name that points at
//! one digest; uploading under an existing alias moves it to the new content and reports the
//! digest it pointed at before. Tasks resolve names to digests when they are submitted, so a
//! queued or running task keeps the exact bytes it was submitted with, whatever happens to the
//! alias afterwards.
//!
//! The content stays within [`Limits::store_bytes`]: to make room for an upload, content that
//! no alias names and no task holds (a [`StorePin`]) is evicted, least recently used first;
//! an upload that cannot fit even then is refused with [`StoreError::Full`]. Aliases can be
//! deleted, which leaves their content evictable.

mod directory;
mod kind;
mod quota;

pub use kind::{FileKind, validate_wasm};
pub(crate) use kind::{NOT_WASM, NotACommand, check_command};

use crate::archive::ArchiveLimits;
use crate::backend::SharedFiles;
use crate::digest::{DIGEST_PREFIX, Digest};
use crate::limits::Limits;
use bytes::Bytes;
use directory::Directory;
use quota::Quota;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};

/// Where stored files live.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Storage {
    /// In memory; gone when the process ends. The default.
    #[default]
    Memory,
    /// In a directory on disk: files, aliases and compiled modules survive a restart.
    Directory(PathBuf),
}

/// A stored file's identity and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// Its content address.
    pub digest: Digest,
    /// What it is.
    pub kind: FileKind,
    /// Its size in bytes.
    pub size: u64,
    /// Whether it is a WebAssembly module that exports `_start` as a function without parameters
    /// or results: a WASI command, the only kind of module a task can run.
    pub wasi_command: bool,
}

/// What [`Store::put`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The stored file.
    pub file: FileInfo,
    /// Whether the content was new to the store.
    pub created: bool,
    /// Aliases that pointed at other content before and were moved, with their old digests.
    pub replaced: Vec<(String, Digest)>,
}

/// Options of an upload: the names to point at it and, optionally, the kind it must be.
///
/// ```
/// let upload = wasimoff::Upload::new().alias("tsp.wasm");
/// assert_eq!(upload.aliases, vec!["tsp.wasm".to_string()]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Upload {
    /// Alias names to point at the file.
    pub aliases: Vec<String>,
    /// The kind the file must have; a name ending in `.wasm` implies [`FileKind::Wasm`].
    pub kind: Option<FileKind>,
}

impl Upload {
    /// An upload with no alias and no declared kind.
    pub fn new() -> Upload {
        Upload::default()
    }

    /// Adds an alias name.
    pub fn alias(mut self, name: impl Into<String>) -> Upload {
        self.aliases.push(name.into());
        self
    }

    /// Requires the file to be of `kind`.
    pub fn kind(mut self, kind: FileKind) -> Upload {
        self.kind = Some(kind);
        self
    }
}

/// Why the store refused or could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The file is larger than [`Limits::upload_bytes`].
    #[error("file of {size} bytes exceeds the upload limit of {limit} bytes")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is not what it claims or needs to be (invalid wasm, unsafe zip, ...).
    #[error("{0}")]
    Invalid(String),
    /// An alias name is not acceptable.
    #[error("invalid alias {name:?}: {reason}")]
    InvalidAlias {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No file has this digest or alias.
    #[error("no stored file named {0:?}")]
    NotFound(String),
    /// The file does not fit within [`Limits::store_bytes`], even after evicting every file
    /// that no alias names and no task holds.
    #[error("file of {size} bytes does not fit in the store: {available} of its {limit} bytes are free or can be freed")]
    Full {
        /// The file's size.
        size: u64,
        /// Bytes free or held only by evictable content.
        available: u64,
        /// The store's quota.
        limit: u64,
    },
    /// The storage backend failed.
    #[error("storage failure: {0}")]
    Io(String),
    /// The shared backend ([`Backend::Redis`](crate::Backend::Redis)) cannot be reached now.
    #[error("{0}")]
    Unavailable(String),
}

struct Index {
    files: HashMap<Digest, FileInfo>,
    aliases: HashMap<String, Digest>,
    quota: Quota,
}

impl Index {
    /// Reserves room for `size` new bytes, removing the content evicted for it from the index.
    fn reserve(&mut self, size: u64) -> Result<Vec<Digest>, StoreError> {
        let aliased: HashSet<Digest> = self.aliases.values().copied().collect();
        let stored = self.files.values().map(|file| (file.digest, file.size));
        let evicted = self.quota.reserve(size, stored, &aliased).map_err(|refused| StoreError::Full {
            size,
            available: refused.available,
            limit: refused.limit,
        })?;
        for digest in &evicted {
            self.files.remove(digest);
        }
        Ok(evicted)
    }
}

enum Blobs {
    Memory(RwLock<HashMap<Digest, Bytes>>),
    Directory(Directory),
}

struct Inner {
    index: RwLock<Index>,
    blobs: Blobs,
    /// The tier shared with other replicas, with [`Backend::Redis`](crate::Backend::Redis):
    /// this store is then a cache in front of it.
    shared: OnceLock<SharedFiles>,
    upload_bytes: u64,
    archive_limits: ArchiveLimits,
}

/// The file store. Cheap to clone; all clones share the same files.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let index = read(&self.inner.index);
        f.debug_struct("Store").field("files", &index.files.len()).field("aliases", &index.aliases.len()).finish()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Checks an alias name: 1 to 255 bytes, no `/`, `\`, control characters or leading
/// `sha256:`, and not `.` or `..`.
pub fn check_alias(name: &str) -> Result<(), StoreError> {
    let refuse = |reason| Err(StoreError::InvalidAlias { name: name.to_string(), reason });
    if name.is_empty() || name.len() > 255 {
        return refuse("must be 1 to 255 bytes long");
    }
    if name.starts_with(DIGEST_PREFIX) {
        return refuse("must not start with sha256:");
    }
    if name.contains(['/', '\\']) || name.chars().any(char::is_control) {
        return refuse("must not contain slashes or control characters");
    }
    if name == "." || name == ".." {
        return refuse("must not be . or ..");
    }
    Ok(())
}

impl Store {
    /// Opens a store; a directory store is created if missing and its files are indexed
    /// (oldest first for eviction, and evicted down to the quota if it was lowered).
    pub fn open(storage: &Storage, limits: &Limits) -> std::io::Result<Store> {
        let mut index = Index { files: HashMap::new(), aliases: HashMap::new(), quota: Quota::new(limits.store_bytes) };
        let blobs = match storage {
            Storage::Memory => Blobs::Memory(RwLock::default()),
            Storage::Directory(root) => {
                let directory = Directory::open(root)?;
                for file in directory.files()? {
                    index.quota.add_existing(file.digest, file.size);
                    index.files.insert(file.digest, file);
                }
                index.aliases = directory.aliases()?;
                index.aliases.retain(|_, digest| index.files.contains_key(digest));
                Blobs::Directory(directory)
            }
        };
        if let Ok(evicted) = index.reserve(0) {
            blobs.delete(&evicted);
        }
        Ok(Store {
            inner: Arc::new(Inner {
                index: RwLock::new(index),
                blobs,
                shared: OnceLock::new(),
                upload_bytes: limits.upload_bytes,
                archive_limits: ArchiveLimits { unpacked_bytes: limits.rootfs_bytes, entries: limits.rootfs_entries },
            }),
        })
    }

    /// Makes this store a cache in front of `files`, shared with other replicas.
    pub(crate) fn share(&self, files: SharedFiles) {
        let _ = self.inner.shared.set(files);
    }

    /// Stores `bytes` after checking them (size, wasm validity, zip safety) and points the
    /// upload's aliases at them. Storing the same content again is a no-op. With a shared
    /// backend the content and aliases go there first.
    pub async fn put(&self, bytes: Bytes, upload: Upload) -> Result<Stored, StoreError> {
        let file = self.check(&bytes, &upload).await?;
        let shared_replaced = match self.inner.shared.get() {
            Some(shared) => Some(shared.put(&file.digest, &bytes, &upload.aliases).await?),
            None => None,
        };
        let stored = self.insert(file, bytes, &upload.aliases).await?;
        Ok(match shared_replaced {
            Some((created, replaced)) => Stored { created, replaced, ..stored },
            None => stored,
        })
    }

    /// Checks an upload: its size, its aliases, and that it is the kind it must be.
    async fn check(&self, bytes: &Bytes, upload: &Upload) -> Result<FileInfo, StoreError> {
        let size = bytes.len() as u64;
        if size > self.inner.upload_bytes {
            return Err(StoreError::TooLarge { size, limit: self.inner.upload_bytes });
        }
        for alias in &upload.aliases {
            check_alias(alias)?;
        }
        let declared = upload.kind.or_else(|| upload.aliases.iter().any(|a| a.ends_with(".wasm")).then_some(FileKind::Wasm));
        let limits = self.inner.archive_limits;
        let checked = bytes.clone();
        let (digest, kind, wasi_command) = tokio::task::spawn_blocking(move || {
            let kind = kind::classify(&checked, declared, limits)?;
            let wasi_command = kind == FileKind::Wasm && kind::check_command(&checked).is_ok();
            Ok::<_, String>((Digest::of(&checked), kind, wasi_command))
        })
        .await
        .map_err(|e| StoreError::Io(e.to_string()))?
        .map_err(StoreError::Invalid)?;
        Ok(FileInfo { digest, kind, size, wasi_command })
    }

    /// Stores checked content locally and points `aliases` at it.
    async fn insert(&self, file: FileInfo, bytes: Bytes, aliases: &[String]) -> Result<Stored, StoreError> {
        let (digest, size) = (file.digest, file.size);
        let known = {
            let mut index = write(&self.inner.index);
            let known = index.files.contains_key(&digest);
            if known {
                index.quota.touch(digest);
            } else {
                let evicted = index.reserve(size)?;
                self.inner.blobs.delete(&evicted);
            }
            known
        };
        if !known {
            let written = match &self.inner.blobs {
                Blobs::Memory(blobs) => {
                    write(blobs).insert(digest, bytes);
                    Ok(())
                }
                Blobs::Directory(directory) => directory.put_blob(&digest, bytes).await.map_err(io_error),
            };
            let mut index = write(&self.inner.index);
            if written.is_err() || index.files.contains_key(&digest) {
                index.quota.release(size);
            } else {
                index.files.insert(digest, file);
                index.quota.touch(digest);
            }
            written?;
        }
        let mut replaced = Vec::new();
        for alias in aliases {
            if let Blobs::Directory(directory) = &self.inner.blobs {
                directory.put_alias(alias, &digest).await.map_err(io_error)?;
            }
            if let Some(previous) = write(&self.inner.index).aliases.insert(alias.clone(), digest)
                && previous != digest
            {
                replaced.push((alias.clone(), previous));
            }
        }
        Ok(Stored { file, created: !known, replaced })
    }

    /// With a shared backend, brings `reference` up to date before [`Store::resolve`]: an
    /// alias is looked up in the shared tier (it may have moved on another replica), and
    /// content not cached here is fetched. Without one, does nothing.
    pub(crate) async fn pull(&self, reference: &str) -> Result<(), StoreError> {
        let Some(shared) = self.inner.shared.get() else { return Ok(()) };
        if reference.starts_with(DIGEST_PREFIX) {
            let digest = reference.parse::<Digest>().map_err(|e| StoreError::Invalid(e.to_string()))?;
            return self.cache(shared, &digest).await;
        }
        match shared.alias(reference).await? {
            Some(digest) => {
                self.cache(shared, &digest).await?;
                if read(&self.inner.index).files.contains_key(&digest) {
                    write(&self.inner.index).aliases.insert(reference.to_string(), digest);
                }
            }
            None => {
                write(&self.inner.index).aliases.remove(reference);
            }
        }
        Ok(())
    }

    /// Fetches `digest` from the shared tier into this store unless it is here already; content
    /// the shared tier lacks is left missing.
    async fn cache(&self, shared: &SharedFiles, digest: &Digest) -> Result<(), StoreError> {
        if read(&self.inner.index).files.contains_key(digest) {
            return Ok(());
        }
        let Some(bytes) = shared.blob(digest).await? else { return Ok(()) };
        if Digest::of(&bytes) != *digest {
            return Err(StoreError::Io(format!("the shared store's content of {digest} does not match its digest")));
        }
        let file = self.check(&bytes, &Upload::new()).await?;
        self.insert(file, bytes, &[]).await.map(|_| ())
    }

    /// Looks up a reference: a `sha256:<hex>` digest or an alias name. Counts as a use of the
    /// content for eviction.
    pub fn resolve(&self, reference: &str) -> Result<FileInfo, StoreError> {
        Self::resolve_in(&mut write(&self.inner.index), reference)
    }

    fn resolve_in(index: &mut Index, reference: &str) -> Result<FileInfo, StoreError> {
        let digest = if reference.starts_with(DIGEST_PREFIX) {
            reference.parse::<Digest>().map_err(|e| StoreError::Invalid(e.to_string()))?
        } else {
            *index.aliases.get(reference).ok_or_else(|| StoreError::NotFound(reference.to_string()))?
        };
        let file = index.files.get(&digest).copied().ok_or_else(|| StoreError::NotFound(reference.to_string()))?;
        index.quota.touch(digest);
        Ok(file)
    }

    /// Looks up a reference like [`Store::resolve`] and holds its content against eviction
    /// until the returned pin (and every clone of it) is dropped.
    pub(crate) fn resolve_pinned(&self, reference: &str) -> Result<(FileInfo, StorePin), StoreError> {
        let mut index = write(&self.inner.index);
        let file = Self::resolve_in(&mut index, reference)?;
        index.quota.pin(file.digest);
        Ok((file, StorePin { inner: self.inner.clone(), digest: file.digest }))
    }

    /// Deletes an alias (not the content it names, which becomes evictable unless another
    /// alias names it or a task holds it); answers the digest it pointed at.
    pub async fn delete_alias(&self, name: &str) -> Result<Digest, StoreError> {
        check_alias(name)?;
        if let Some(shared) = self.inner.shared.get() {
            let digest = shared.delete_alias(name).await?.ok_or_else(|| StoreError::NotFound(name.to_string()))?;
            self.delete_local_alias(name).await?;
            return Ok(digest);
        }
        self.delete_local_alias(name).await?.ok_or_else(|| StoreError::NotFound(name.to_string()))
    }

    /// Deletes an alias from this store only; answers the digest it pointed at, if any.
    async fn delete_local_alias(&self, name: &str) -> Result<Option<Digest>, StoreError> {
        let Some(digest) = read(&self.inner.index).aliases.get(name).copied() else { return Ok(None) };
        if let Blobs::Directory(directory) = &self.inner.blobs {
            directory.delete_alias(name).await.map_err(io_error)?;
        }
        let mut index = write(&self.inner.index);
        match index.aliases.get(name) {
            Some(current) if *current == digest => {
                index.aliases.remove(name);
                Ok(Some(digest))
            }
            _ => Ok(None),
        }
    }

    /// Bytes the stored content takes, and the quota.
    pub fn usage(&self) -> StoreUsage {
        let index = read(&self.inner.index);
        StoreUsage { used_bytes: index.quota.used(), limit_bytes: index.quota.limit(), files: index.files.len() }
    }

    /// The content of a stored file; with a shared backend, fetched from it (and cached) if
    /// this store lacks it.
    pub async fn get(&self, digest: &Digest) -> Result<Bytes, StoreError> {
        let local = self.get_local(digest).await;
        match (&local, self.inner.shared.get()) {
            (Err(StoreError::NotFound(_)), Some(shared)) => {
                self.cache(shared, digest).await?;
                self.get_local(digest).await
            }
            _ => local,
        }
    }

    /// The content of a file stored here.
    async fn get_local(&self, digest: &Digest) -> Result<Bytes, StoreError> {
        let missing = || StoreError::NotFound(digest.to_string());
        match &self.inner.blobs {
            Blobs::Memory(blobs) => read(blobs).get(digest).cloned().ok_or_else(missing),
            Blobs::Directory(directory) => match directory.get_blob(digest).await {
                Ok(bytes) => Ok(bytes),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(missing()),
                Err(e) => Err(io_error(e)),
            },
        }
    }

    /// All alias names and the digests they point at, sorted by name; with a shared backend,
    /// every replica's.
    pub(crate) async fn list_aliases(&self) -> Result<Vec<(String, Digest)>, StoreError> {
        match self.inner.shared.get() {
            Some(shared) => shared.aliases().await,
            None => Ok(self.aliases()),
        }
    }

    /// All alias names and the digests they point at in this store, sorted by name.
    pub fn aliases(&self) -> Vec<(String, Digest)> {
        let mut aliases: Vec<_> = read(&self.inner.index).aliases.iter().map(|(a, d)| (a.clone(), *d)).collect();
        aliases.sort();
        aliases
    }

    /// Where compiled modules are kept across restarts (directory stores only).
    pub(crate) fn compiled_modules_dir(&self) -> Option<PathBuf> {
        match &self.inner.blobs {
            Blobs::Memory(_) => None,
            Blobs::Directory(directory) => Some(directory.compiled_dir()),
        }
    }
}

impl Blobs {
    /// Deletes evicted content (and, in a directory, what was compiled from it); a file that
    /// cannot be deleted is only logged, it is no longer indexed.
    fn delete(&self, evicted: &[Digest]) {
        match self {
            Blobs::Memory(blobs) => {
                let mut blobs = write(blobs);
                for digest in evicted {
                    blobs.remove(digest);
                }
            }
            Blobs::Directory(directory) => {
                for digest in evicted {
                    if let Err(error) = directory.delete_blob(digest) {
                        tracing::warn!(%digest, %error, "could not delete an evicted file");
                    }
                }
            }
        }
    }
}

/// How full the store is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoreUsage {
    /// Bytes the stored content takes.
    pub used_bytes: u64,
    /// The quota, [`Limits::store_bytes`].
    pub limit_bytes: u64,
    /// Stored files.
    pub files: usize,
}

/// Holds a stored file's content against eviction while a task that needs it waits, runs or
/// is kept; cloning it holds the content once more. Not part of a serialised task: a queue
/// shared by several hosts holds its references in the shared backend instead.
pub(crate) struct StorePin {
    inner: Arc<Inner>,
    digest: Digest,
}

impl Clone for StorePin {
    fn clone(&self) -> StorePin {
        write(&self.inner.index).quota.pin(self.digest);
        StorePin { inner: self.inner.clone(), digest: self.digest }
    }
}

impl Drop for StorePin {
    fn drop(&mut self) {
        write(&self.inner.index).quota.unpin(self.digest);
    }
}

impl std::fmt::Debug for StorePin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StorePin").field(&self.digest).finish()
    }
}

/// Pins are equal when they hold the same content.
impl PartialEq for StorePin {
    fn eq(&self, other: &StorePin) -> bool {
        self.digest == other.digest
    }
}

impl Eq for StorePin {}

fn io_error(error: std::io::Error) -> StoreError {
    StoreError::Io(error.to_string())
}
