//! What a stored file is, decided from its first bytes and checked before it is stored.

use crate::archive::{self, ArchiveLimits};
use serde::{Deserialize, Serialize};

/// The kind of a stored file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A valid WebAssembly module.
    Wasm,
    /// A zip archive whose entries passed the rootfs checks.
    Zip,
    /// Anything else: input data for tasks.
    Data,
}

impl FileKind {
    /// The kind `bytes` look like, from their magic number.
    pub fn sniff(bytes: &[u8]) -> FileKind {
        if bytes.starts_with(b"\0asm") {
            FileKind::Wasm
        } else if archive::looks_like_zip(bytes) {
            FileKind::Zip
        } else {
            FileKind::Data
        }
    }

    /// The conventional media type.
    pub fn media_type(self) -> &'static str {
        match self {
            FileKind::Wasm => "application/wasm",
            FileKind::Zip => "application/zip",
            FileKind::Data => "application/octet-stream",
        }
    }
}

/// Decides the kind of an upload and checks it: wasm must validate, zip must pass the archive
/// checks. `declared` is what the uploader says it is (for instance from a `.wasm` name).
pub(crate) fn classify(bytes: &[u8], declared: Option<FileKind>, limits: ArchiveLimits) -> Result<FileKind, String> {
    let sniffed = FileKind::sniff(bytes);
    let kind = match declared {
        Some(FileKind::Data) | None => sniffed,
        Some(declared) if declared == sniffed => declared,
        Some(FileKind::Wasm) => return Err("not a WebAssembly module: it does not start with \\0asm".into()),
        Some(FileKind::Zip) => return Err("not a zip archive: it does not start with PK".into()),
    };
    match kind {
        FileKind::Wasm => validate_wasm(bytes)?,
        FileKind::Zip => archive::check(bytes, limits).map_err(|e| e.to_string())?,
        FileKind::Data => {}
    }
    Ok(kind)
}

/// Validates a WebAssembly module with the features the runner supports.
pub fn validate_wasm(bytes: &[u8]) -> Result<(), String> {
    wasmparser::Validator::new().validate_all(bytes).map(|_| ()).map_err(|e| format!("invalid WebAssembly module: {e}"))
}
