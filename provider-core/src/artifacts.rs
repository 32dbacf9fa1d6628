//! A task's artifacts as the browser worker returns them, zipped exactly as the local runner
//! zips them ([`wasimoff_archive::pack_artifacts`]).

pub use wasimoff_archive::ArtifactError;

/// Zips `(path, content)` entries collected by the worker; a folder is `path/` without content.
///
/// ```
/// let zip = wasimoff_provider_core::artifacts::zip(vec![("out/".into(), None), ("out/a".into(), Some(b"a".to_vec()))], 10).unwrap();
/// assert_eq!(wasimoff_archive::read_file(&zip, "out/a").unwrap(), b"a");
/// ```
pub fn zip(entries: Vec<(String, Option<Vec<u8>>)>, limit: u64) -> Result<Vec<u8>, ArtifactError> {
    wasimoff_archive::pack_artifacts(entries.into_iter().map(|(path, content)| (path, content.unwrap_or_default())).collect(), limit)
}
