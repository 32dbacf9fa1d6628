//! The on-disk layout of a directory store:
//! `blobs/<hex>` (file content), `aliases/<hex of name>` (a digest as text) and
//! `compiled/` (serialised compiled modules, owned by the runner). Every write goes to a
//! temporary file first and is renamed into place, so a crash never leaves a torn file.

use super::kind::check_command_in;
use super::{FileInfo, FileKind};
use crate::digest::Digest;
use bytes::Bytes;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

pub(super) struct Directory {
    root: PathBuf,
}

impl Directory {
    pub(super) fn open(root: &Path) -> std::io::Result<Directory> {
        for sub in ["blobs", "aliases", "compiled", "tmp"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(Directory { root: root.to_path_buf() })
    }

    pub(super) fn compiled_dir(&self) -> PathBuf {
        self.root.join("compiled")
    }

    /// Indexes the stored blobs, least recently modified first; names that are not digests
    /// are ignored.
    pub(super) fn files(&self) -> std::io::Result<Vec<FileInfo>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(self.root.join("blobs"))? {
            let entry = entry?;
            let Some(digest) = entry.file_name().to_str().and_then(|hex| format!("sha256:{hex}").parse::<Digest>().ok()) else {
                continue;
            };
            let mut head = [0u8; 4];
            let mut file = std::fs::File::open(entry.path())?;
            let read = file.read(&mut head)?;
            let kind = FileKind::sniff(&head[..read]);
            let wasi_command = kind == FileKind::Wasm && check_command_in((&head[..read]).chain(file))?.is_ok();
            let metadata = entry.metadata()?;
            files.push((metadata.modified()?, FileInfo { digest, kind, size: metadata.len(), wasi_command }));
        }
        files.sort_by_key(|(modified, _)| *modified);
        Ok(files.into_iter().map(|(_, file)| file).collect())
    }

    pub(super) fn aliases(&self) -> std::io::Result<HashMap<String, Digest>> {
        let mut aliases = HashMap::new();
        for entry in std::fs::read_dir(self.root.join("aliases"))? {
            let entry = entry?;
            let name = entry.file_name().to_str().and_then(|hex| hex::decode(hex).ok()).and_then(|b| String::from_utf8(b).ok());
            let digest = std::fs::read_to_string(entry.path())?.trim().parse::<Digest>().ok();
            if let (Some(name), Some(digest)) = (name, digest) {
                aliases.insert(name, digest);
            }
        }
        Ok(aliases)
    }

    pub(super) async fn put_blob(&self, digest: &Digest, bytes: Bytes) -> std::io::Result<()> {
        let target = self.root.join("blobs").join(digest.hex());
        if tokio::fs::try_exists(&target).await? {
            return Ok(());
        }
        self.write_atomically(target, bytes).await
    }

    pub(super) async fn get_blob(&self, digest: &Digest) -> std::io::Result<Bytes> {
        tokio::fs::read(self.root.join("blobs").join(digest.hex())).await.map(Bytes::from)
    }

    /// Deletes a blob and the modules compiled from it (`compiled/<hex>-*.cwasm`).
    pub(super) fn delete_blob(&self, digest: &Digest) -> std::io::Result<()> {
        let hex = digest.hex();
        for entry in std::fs::read_dir(self.compiled_dir())? {
            let entry = entry?;
            if entry.file_name().to_str().is_some_and(|name| name.starts_with(&format!("{hex}-"))) {
                std::fs::remove_file(entry.path())?;
            }
        }
        match std::fs::remove_file(self.root.join("blobs").join(hex)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    pub(super) async fn delete_alias(&self, name: &str) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.root.join("aliases").join(hex::encode(name))).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    pub(super) async fn put_alias(&self, name: &str, digest: &Digest) -> std::io::Result<()> {
        let target = self.root.join("aliases").join(hex::encode(name));
        self.write_atomically(target, Bytes::from(digest.to_string())).await
    }

    async fn write_atomically(&self, target: PathBuf, bytes: Bytes) -> std::io::Result<()> {
        let tmp = self.root.join("tmp");
        tokio::task::spawn_blocking(move || {
            let mut file = tempfile::NamedTempFile::new_in(tmp)?;
            std::io::Write::write_all(&mut file, &bytes)?;
            file.as_file().sync_data()?;
            file.persist(target).map(|_| ()).map_err(|e| e.error)
        })
        .await
        .map_err(std::io::Error::other)?
    }
}
