//! What a stored file is, decided from its first bytes and checked before it is stored.

use crate::archive::{self, ArchiveLimits};
use serde::{Deserialize, Serialize};
use std::io::Read;
use wasmparser::{Chunk, CompositeInnerType, Encoding, ExternalKind, Parser, Payload, TypeRef};

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

/// Why bytes said to be a module are refused before parsing them.
pub(crate) const NOT_WASM: &str = "not a WebAssembly module: it does not start with \\0asm";

/// Decides the kind of an upload and checks it: wasm must validate, zip must pass the archive
/// checks. `declared` is what the uploader says it is (for instance from a `.wasm` name).
pub(crate) fn classify(bytes: &[u8], declared: Option<FileKind>, limits: ArchiveLimits) -> Result<FileKind, String> {
    let sniffed = FileKind::sniff(bytes);
    let kind = match declared {
        Some(FileKind::Data) | None => sniffed,
        Some(declared) if declared == sniffed => declared,
        Some(FileKind::Wasm) => return Err(NOT_WASM.into()),
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

/// Why a WebAssembly module cannot run as a WASI command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NotACommand {
    /// The module's sections before its code do not parse.
    Invalid(String),
    /// The module exports no `_start` function, or one that takes or returns values.
    NoStart(String),
}

/// How many bytes to read at a time when looking for `_start` in a file.
const READ_CHUNK: usize = 64 << 10;

/// Checks that `bytes` are a WASI command: a core module exporting `_start: () -> ()`. Only the
/// sections before the code are read, so this takes microseconds even for a module of many
/// megabytes; function bodies are left to validation or compilation.
pub(crate) fn check_command(bytes: &[u8]) -> Result<(), NotACommand> {
    if FileKind::sniff(bytes) != FileKind::Wasm {
        return Err(NotACommand::Invalid(NOT_WASM.into()));
    }
    let mut exports = StartSearch::default();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(invalid)?;
        if exports.take(payload)? {
            break;
        }
    }
    exports.verdict()
}

/// Like [`check_command`], reading only as much of `reader` as the sections before the code take.
pub(crate) fn check_command_in(mut reader: impl Read) -> std::io::Result<Result<(), NotACommand>> {
    let mut parser = Parser::new(0);
    let mut exports = StartSearch::default();
    let mut buffer = Vec::new();
    let mut eof = false;
    loop {
        let (consumed, done) = match parser.parse(&buffer, eof) {
            Err(error) => return Ok(Err(invalid(error))),
            Ok(Chunk::NeedMoreData(_)) => {
                let filled = buffer.len();
                buffer.resize(filled + READ_CHUNK, 0);
                let read = reader.read(&mut buffer[filled..])?;
                buffer.truncate(filled + read);
                eof = read == 0;
                continue;
            }
            Ok(Chunk::Parsed { consumed, payload }) => match exports.take(payload) {
                Ok(done) => (consumed, done),
                Err(error) => return Ok(Err(error)),
            },
        };
        if done {
            return Ok(exports.verdict());
        }
        buffer.drain(..consumed);
    }
}

fn invalid(error: wasmparser::BinaryReaderError) -> NotACommand {
    NotACommand::Invalid(format!("invalid WebAssembly module: {error}"))
}

/// What the sections before the code say about `_start`.
#[derive(Default)]
struct StartSearch {
    /// For each type index: whether it is a function type without parameters and results.
    types: Vec<bool>,
    /// The type index of each function, imported ones first.
    functions: Vec<u32>,
    /// The function index `_start` is exported as, if it is exported as a function.
    start: Option<u32>,
    /// Whether an export named `_start` is something other than a function.
    start_not_a_function: bool,
}

impl StartSearch {
    /// Takes in one payload; true once the exports are known (the code or the end is reached).
    fn take(&mut self, payload: Payload<'_>) -> Result<bool, NotACommand> {
        match payload {
            Payload::Version { encoding: Encoding::Component, .. } => {
                return Err(NotACommand::Invalid("a WebAssembly component, not a core module: it cannot run as a WASI command".into()));
            }
            Payload::TypeSection(reader) => {
                for group in reader {
                    for ty in group.map_err(invalid)?.types() {
                        let unit = matches!(&ty.composite_type.inner, CompositeInnerType::Func(f) if f.params().is_empty() && f.results().is_empty());
                        self.types.push(unit);
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(ty) | TypeRef::FuncExact(ty) = import.map_err(invalid)?.ty {
                        self.functions.push(ty);
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    self.functions.push(ty.map_err(invalid)?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(invalid)?;
                    if export.name == "_start" {
                        match export.kind {
                            ExternalKind::Func | ExternalKind::FuncExact => self.start = Some(export.index),
                            _ => self.start_not_a_function = true,
                        }
                    }
                }
            }
            Payload::CodeSectionStart { .. } | Payload::End(_) => return Ok(true),
            _ => {}
        }
        Ok(false)
    }

    fn verdict(&self) -> Result<(), NotACommand> {
        let Some(function) = self.start else {
            let what = if self.start_not_a_function { "exports `_start`, but not as a function" } else { "exports no `_start` function" };
            return Err(NotACommand::NoStart(format!("the module {what}: it is not a WASI command")));
        };
        let ty = self.functions.get(function as usize).and_then(|ty| self.types.get(*ty as usize));
        match ty {
            Some(true) => Ok(()),
            Some(false) => Err(NotACommand::NoStart(
                "the module's `_start` takes or returns values; a WASI command's `_start` takes and returns nothing".into(),
            )),
            None => Err(NotACommand::Invalid("invalid WebAssembly module: `_start` names a function that does not exist".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(text: &str) -> Vec<u8> {
        wat::parse_str(text).expect("valid WAT")
    }

    fn no_start(text: &str) -> bool {
        matches!(check_command(&module(text)), Err(NotACommand::NoStart(_)))
    }

    /// Hands out at most one byte per read, so that the parser has to ask for more every time.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            let count = self.0.len().min(buffer.len()).min(1);
            buffer[..count].copy_from_slice(&self.0[..count]);
            self.0 = &self.0[count..];
            Ok(count)
        }
    }

    #[test]
    fn a_start_without_parameters_or_results_is_a_command() {
        assert_eq!(check_command(&module(r#"(module (func (export "_start")))"#)), Ok(()));
        let imported =
            r#"(module (type (func (param i32))) (import "m" "f" (func (type 0))) (import "m" "g" (func)) (export "_start" (func 1)))"#;
        assert_eq!(check_command(&module(imported)), Ok(()), "function indices count imports first");
    }

    #[test]
    fn a_missing_or_mistyped_start_is_not_a_command() {
        assert!(no_start("(module)"));
        assert!(no_start(
            r#"(module (memory (export "memory") 1) (func (export "_initialize")) (func (export "add") (param i32 i32) (result i32) local.get 0))"#
        ));
        assert!(no_start(r#"(module (func (export "_start") (param i32)))"#));
        assert!(no_start(r#"(module (func (export "_start") (result i32) i32.const 0))"#));
        assert!(no_start(r#"(module (memory (export "_start") 1))"#));
    }

    #[test]
    fn bytes_that_do_not_parse_before_the_code_are_invalid() {
        assert!(matches!(check_command(b"not wasm at all"), Err(NotACommand::Invalid(_))));
        assert!(matches!(check_command(b"\0asm\x01\0\0\0\x01\x04"), Err(NotACommand::Invalid(_))));
        assert!(matches!(check_command(&module("(component)")), Err(NotACommand::Invalid(_))));
    }

    #[test]
    fn reading_stops_at_the_code_section() {
        let bodies = "(func (result i32) i32.const 7) ".repeat(60_000);
        let reactor = module(&format!(r#"(module (func (export "_initialize")) {bodies})"#));
        let mut rest: &[u8] = &reactor;
        assert!(matches!(check_command_in(&mut rest).expect("read"), Err(NotACommand::NoStart(_))));
        let read = reactor.len() - rest.len();
        assert!(read <= READ_CHUNK && reactor.len() > 4 * READ_CHUNK, "read {read} of {} bytes", reactor.len());

        let command = module(r#"(module (type (func (param i64))) (func (export "_start")) (func (type 0)))"#);
        assert_eq!(check_command_in(Trickle(&command)).expect("read"), Ok(()));
        let cut = check_command_in(Trickle(&command[..command.len() - 3])).expect("read");
        assert_eq!(cut, Ok(()), "function bodies are left to the compiler");
        assert!(matches!(check_command_in(Trickle(b"\0asm\x01\0\0\0\x01\x04")).expect("read"), Err(NotACommand::Invalid(_))));
    }
}
