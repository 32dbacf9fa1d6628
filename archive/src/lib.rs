//! Zip archives for wasimoff runners: the checks every rootfs passes (no path may leave the
//! task's directory, no symlinks, bounded entry count and unpacked size) and the writer for
//! artifacts. Bytes in, bytes out, no file system: the broker's runner and the browser
//! provider (compiled to wasm32-unknown-unknown) use the same code.

use std::io::{Cursor, Read, Write};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

/// Bounds on what an archive may unpack to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Total bytes of all files once unpacked.
    pub unpacked_bytes: u64,
    /// Number of entries (files and folders).
    pub entries: u64,
}

/// Why an archive was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    /// The bytes are not a readable zip archive.
    #[error("not a readable zip archive: {0}")]
    Malformed(String),
    /// An entry's path is absolute, contains `..`, a backslash or a NUL byte.
    #[error("zip entry {name:?} is refused: {reason}")]
    UnsafePath {
        /// The entry's name as stored in the archive.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An entry is a symbolic link.
    #[error("zip entry {0:?} is a symbolic link; links are not allowed")]
    Symlink(String),
    /// An entry is encrypted.
    #[error("zip entry {0:?} is encrypted; encrypted entries are not supported")]
    Encrypted(String),
    /// More entries than allowed.
    #[error("zip has more than {limit} entries")]
    TooManyEntries {
        /// The limit that was crossed.
        limit: u64,
    },
    /// The files unpack to more bytes than allowed (a zip bomb, or just too big).
    #[error("zip unpacks to more than {limit} bytes")]
    TooLarge {
        /// The limit that was crossed.
        limit: u64,
    },
}

/// What an entry of an archive is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A folder.
    Directory,
    /// A regular file.
    File,
}

/// Turns a path given by an untrusted party into a normalised relative path (`a/b/c`), or says
/// why it is refused. A leading `/` is refused (absolute), as are `..`, backslashes and NUL
/// bytes; `.` and empty components are dropped.
///
/// ```
/// use wasimoff_archive::safe_relative_path;
/// assert_eq!(safe_relative_path("./data//in.csv").unwrap(), "data/in.csv");
/// assert!(safe_relative_path("../etc/passwd").is_err());
/// assert!(safe_relative_path("/etc/passwd").is_err());
/// ```
pub fn safe_relative_path(name: &str) -> Result<String, ArchiveError> {
    let refuse = |reason| ArchiveError::UnsafePath { name: name.to_string(), reason };
    if name.starts_with('/') {
        return Err(refuse("absolute paths are not allowed"));
    }
    if name.contains('\\') {
        return Err(refuse("backslashes are not allowed"));
    }
    if name.contains('\0') {
        return Err(refuse("NUL bytes are not allowed"));
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(refuse("`..` would leave the task directory")),
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(refuse("the path names no file"));
    }
    Ok(parts.join("/"))
}

/// Like [`safe_relative_path`], but also accepts one leading `/`: the task's root.
pub fn safe_task_path(path: &str) -> Result<String, ArchiveError> {
    safe_relative_path(path.strip_prefix('/').unwrap_or(path))
}

/// Whether `bytes` start like a zip archive (a local file header or an empty archive).
pub fn looks_like_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

fn open(bytes: &[u8]) -> Result<ZipArchive<Cursor<&[u8]>>, ArchiveError> {
    ZipArchive::new(Cursor::new(bytes)).map_err(|e| ArchiveError::Malformed(e.to_string()))
}

/// Checks an archive's directory without unpacking it: entry count, declared sizes, paths,
/// links and encryption. [`visit`] repeats these checks and also counts real bytes.
pub fn check(bytes: &[u8], limits: ArchiveLimits) -> Result<(), ArchiveError> {
    visit_entries(bytes, limits, None)
}

/// Unpacks an archive entry by entry, handing each checked, normalised path and its content
/// to `sink`. Stops at the first refused entry; real (not declared) sizes are counted, so a
/// zip bomb stops at the limit.
pub fn visit(
    bytes: &[u8],
    limits: ArchiveLimits,
    mut sink: impl FnMut(&str, EntryKind, &mut dyn Read) -> std::io::Result<()>,
) -> Result<(), ArchiveError> {
    visit_entries(bytes, limits, Some(&mut sink))
}

type EntrySink<'a> = &'a mut dyn FnMut(&str, EntryKind, &mut dyn Read) -> std::io::Result<()>;

fn visit_entries(bytes: &[u8], limits: ArchiveLimits, mut sink: Option<EntrySink<'_>>) -> Result<(), ArchiveError> {
    let mut archive = open(bytes)?;
    if archive.len() as u64 > limits.entries {
        return Err(ArchiveError::TooManyEntries { limit: limits.entries });
    }
    let mut declared: u64 = 0;
    let mut unpacked: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(|e| ArchiveError::Malformed(e.to_string()))?;
        let raw_name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        if entry.encrypted() {
            return Err(ArchiveError::Encrypted(raw_name));
        }
        if entry.is_symlink() {
            return Err(ArchiveError::Symlink(raw_name));
        }
        let kind = if entry.is_dir() { EntryKind::Directory } else { EntryKind::File };
        let path = match safe_relative_path(&raw_name) {
            Ok(path) => path,
            Err(_) if kind == EntryKind::Directory && raw_name.trim_matches(['.', '/']).is_empty() => continue,
            Err(error) => return Err(error),
        };
        declared = declared.saturating_add(entry.size());
        if declared > limits.unpacked_bytes {
            return Err(ArchiveError::TooLarge { limit: limits.unpacked_bytes });
        }
        let Some(sink) = sink.as_deref_mut() else { continue };
        let remaining = limits.unpacked_bytes - unpacked;
        let mut counted = CountingReader { inner: entry.take(remaining + 1), count: 0 };
        sink(&path, kind, &mut counted).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                ArchiveError::Malformed(format!("entry {raw_name:?}: {e}"))
            }
            _ => ArchiveError::Malformed(format!("entry {raw_name:?} could not be unpacked: {e}")),
        })?;
        std::io::copy(&mut counted, &mut std::io::sink()).map_err(|e| ArchiveError::Malformed(format!("entry {raw_name:?}: {e}")))?;
        unpacked += counted.count;
        if unpacked > limits.unpacked_bytes {
            return Err(ArchiveError::TooLarge { limit: limits.unpacked_bytes });
        }
    }
    Ok(())
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// The content of the file at `path` (normalised like [`safe_task_path`]) in a zip, if present.
pub fn read_file(zip: &[u8], path: &str) -> Option<Vec<u8>> {
    let wanted = safe_task_path(path).ok()?;
    let mut archive = open(zip).ok()?;
    let mut entry = archive.by_name(&wanted).ok()?;
    let mut content = Vec::new();
    entry.read_to_end(&mut content).ok()?;
    Some(content)
}

/// Writes a deterministic zip (entries in the given order, fixed timestamps, deflated) of
/// `(path, content)` pairs; a path ending in `/` is a folder.
///
/// ```
/// let zip = wasimoff_archive::pack([("out/", &b""[..]), ("out/a.txt", b"hi")]).unwrap();
/// assert!(wasimoff_archive::looks_like_zip(&zip));
/// ```
pub fn pack<'a>(entries: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> std::io::Result<Vec<u8>> {
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated).last_modified_time(DateTime::default());
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (path, content) in entries {
        if path.ends_with('/') {
            writer.add_directory(path, options).map_err(std::io::Error::other)?;
        } else {
            writer.start_file(path, options).map_err(std::io::Error::other)?;
            writer.write_all(content)?;
        }
    }
    Ok(writer.finish().map_err(std::io::Error::other)?.into_inner())
}

/// Why a task's artifacts could not be zipped.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The files together are larger than the limit.
    #[error("artifacts exceed the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// Writing the zip failed.
    #[error("artifacts could not be zipped: {0}")]
    Zip(#[from] std::io::Error),
}

/// Zips collected artifacts the same way on every runner: `(path, content)` pairs, folders as
/// `path/` with no content, sorted by path with duplicates dropped, refused when the files
/// add up to more than `limit` bytes.
///
/// ```
/// let entries = vec![("out/b.txt".to_string(), b"b".to_vec()), ("out/".to_string(), Vec::new()), ("out/b.txt".to_string(), b"b".to_vec())];
/// let zip = wasimoff_archive::pack_artifacts(entries, 10).unwrap();
/// assert_eq!(wasimoff_archive::read_file(&zip, "out/b.txt").unwrap(), b"b");
/// assert!(wasimoff_archive::pack_artifacts(vec![("big".to_string(), vec![0; 11])], 10).is_err());
/// ```
pub fn pack_artifacts(mut entries: Vec<(String, Vec<u8>)>, limit: u64) -> Result<Vec<u8>, ArtifactError> {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|a, b| a.0 == b.0);
    let total: u64 = entries.iter().map(|(_, content)| content.len() as u64).sum();
    if total > limit {
        return Err(ArtifactError::TooLarge { limit });
    }
    Ok(pack(entries.iter().map(|(path, content)| (path.as_str(), content.as_slice())))?)
}
