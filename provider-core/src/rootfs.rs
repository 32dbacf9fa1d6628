//! A task's filesystem as the browser worker builds it: the rootfs zip unpacked with the same
//! checks as every other runner ([`wasimoff_archive::visit`]), then the task's own files.

use wasimoff_archive::{ArchiveError, ArchiveLimits, EntryKind};

/// One entry of the task's `/`: a normalised relative path and its content, `None` for a folder.
pub type Entry = (String, Option<Vec<u8>>);

/// The entries of `rootfs` (if any) followed by `files`, in order.
///
/// ```
/// use wasimoff_archive::ArchiveLimits;
/// let zip = wasimoff_archive::pack([("data/", &b""[..]), ("data/a.txt", b"hi")]).unwrap();
/// let limits = ArchiveLimits { unpacked_bytes: 1 << 20, entries: 10 };
/// let entries = wasimoff_provider_core::rootfs::entries(Some(&zip), limits, vec![("b.txt".into(), b"yo".to_vec())]).unwrap();
/// assert_eq!(entries, vec![("data".to_string(), None), ("data/a.txt".to_string(), Some(b"hi".to_vec())), ("b.txt".to_string(), Some(b"yo".to_vec()))]);
/// ```
pub fn entries(rootfs: Option<&[u8]>, limits: ArchiveLimits, files: Vec<(String, Vec<u8>)>) -> Result<Vec<Entry>, ArchiveError> {
    let mut entries = Vec::new();
    if let Some(zip) = rootfs {
        wasimoff_archive::visit(zip, limits, |path, kind, content| {
            match kind {
                EntryKind::Directory => entries.push((path.to_string(), None)),
                EntryKind::File => {
                    let mut bytes = Vec::new();
                    content.read_to_end(&mut bytes)?;
                    entries.push((path.to_string(), Some(bytes)));
                }
            }
            Ok(())
        })?;
    }
    entries.extend(files.into_iter().map(|(path, bytes)| (path, Some(bytes))));
    Ok(entries)
}
