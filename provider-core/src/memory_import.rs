//! Memory imported instead of defined, so a browser worker can reuse one memory across tasks.
//!
//! V8 reserves a large virtual region (with guard pages) for every new `WebAssembly.Memory`
//! and frees its buffer only on a garbage collection, so a memory per task costs far more than
//! the task itself for a small module. The browser provider therefore rewrites each module once,
//! when it is cached, with [`import_memory`]: a module that defines exactly one plain memory
//! (32-bit, not shared, 64 KiB pages, none imported) imports it as [`IMPORT_MODULE`].[`IMPORT_NAME`]
//! instead. The worker then hands each task a memory of the declared type, reused from an
//! earlier task when it has not grown (and zeroed), and still exports it under the module's
//! own export name, so the WASI layer finds it where it did.
//!
//! An imported memory takes memory index 0 as the defined one had, so no index changes: every
//! section but the import and memory sections is copied byte for byte. The memory's type is
//! written to a custom section, [`TYPE_SECTION`], as JSON `{"initial":pages,"maximum":pages|null}`,
//! because a browser cannot read an import's type from a compiled module.

use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{CustomSection, EntityType, ImportSection, MemoryType, Module, RawSection};
use wasmparser::{Encoding, Parser, Payload, TypeRef};

/// The import module name of the rewritten memory.
pub const IMPORT_MODULE: &str = "wasimoff";
/// The import field name of the rewritten memory.
pub const IMPORT_NAME: &str = "memory";
/// The custom section holding the imported memory's type as JSON.
pub const TYPE_SECTION: &str = "wasimoff.memory";

/// The ids of the sections that may precede the import section.
const CUSTOM_ID: u8 = 0;
const TYPE_ID: u8 = 1;

/// Why a module could not be rewritten: it does not parse.
#[derive(Debug)]
pub struct MemoryImportError(pub String);

impl std::fmt::Display for MemoryImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MemoryImportError {}

impl From<wasmparser::BinaryReaderError> for MemoryImportError {
    fn from(error: wasmparser::BinaryReaderError) -> MemoryImportError {
        MemoryImportError(error.to_string())
    }
}

/// `module` with its one defined memory imported as `wasimoff`.`memory`, or `None` when the
/// module does not qualify: it imports a memory or anything from `wasimoff`, defines no memory
/// or several, or its memory is 64-bit, shared or has custom page sizes.
///
/// The input should be valid (the browser provider instruments, and so validates, it first);
/// bytes that do not parse are an error.
pub fn import_memory(module: &[u8]) -> Result<Option<Vec<u8>>, MemoryImportError> {
    let Some(memory) = sole_plain_memory(module)? else { return Ok(None) };
    let mut out = Module::new();
    let mut imported = false;
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload?;
        let Some((id, range)) = payload.as_section() else { continue };
        match payload {
            Payload::ImportSection(section) => {
                let mut imports = ImportSection::new();
                RoundtripReencoder.parse_import_section(&mut imports, section).map_err(|e| MemoryImportError(e.to_string()))?;
                imports.import(IMPORT_MODULE, IMPORT_NAME, EntityType::Memory(memory));
                out.section(&imports);
                imported = true;
            }
            Payload::MemorySection(_) => {}
            _ => {
                if !imported && id != CUSTOM_ID && id != TYPE_ID {
                    let mut imports = ImportSection::new();
                    imports.import(IMPORT_MODULE, IMPORT_NAME, EntityType::Memory(memory));
                    out.section(&imports);
                    imported = true;
                }
                let data = usize::try_from(range.start).ok().zip(usize::try_from(range.end).ok()).and_then(|(s, e)| module.get(s..e));
                let data = data.ok_or_else(|| MemoryImportError("a section lies outside the module".into()))?;
                out.section(&RawSection { id, data });
            }
        }
    }
    let maximum = memory.maximum.map_or("null".to_string(), |pages| pages.to_string());
    let description = format!(r#"{{"initial":{},"maximum":{maximum}}}"#, memory.minimum);
    out.section(&CustomSection { name: TYPE_SECTION.into(), data: description.as_bytes().into() });
    Ok(Some(out.finish()))
}

/// The type of the module's only memory if it is defined (not imported), 32-bit, unshared and
/// has 64 KiB pages, and nothing is imported from [`IMPORT_MODULE`].
fn sole_plain_memory(module: &[u8]) -> Result<Option<MemoryType>, MemoryImportError> {
    let mut defined = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        match payload? {
            Payload::Version { encoding: Encoding::Component, .. } => return Err(MemoryImportError("a component, not a module".into())),
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import?;
                    if import.module == IMPORT_MODULE || matches!(import.ty, TypeRef::Memory(_)) {
                        return Ok(None);
                    }
                }
            }
            Payload::MemorySection(section) => {
                for memory in section {
                    defined.push(memory?);
                }
            }
            _ => {}
        }
    }
    let [memory] = defined[..] else { return Ok(None) };
    if memory.memory64 || memory.shared || memory.page_size_log2.is_some_and(|log2| log2 != 16) {
        return Ok(None);
    }
    Ok(Some(MemoryType { minimum: memory.initial, maximum: memory.maximum, memory64: false, shared: false, page_size_log2: None }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory_limit;
    use wasmparser::{ExternalKind, Validator, WasmFeatures};

    fn validate(bytes: &[u8]) {
        Validator::new_with_features(WasmFeatures::default()).validate_all(bytes).expect("rewritten module validates");
    }

    /// Imports as `(module, name, type)`, memories defined, exports and custom sections.
    struct Inspection {
        imports: Vec<(String, String, TypeRef)>,
        memories: usize,
        exports: Vec<(String, ExternalKind, u32)>,
        customs: Vec<(String, Vec<u8>)>,
    }

    fn inspect(bytes: &[u8]) -> Inspection {
        let mut inspection = Inspection { imports: vec![], memories: 0, exports: vec![], customs: vec![] };
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.expect("parses") {
                Payload::ImportSection(section) => {
                    for import in section.into_imports() {
                        let import = import.expect("import");
                        inspection.imports.push((import.module.into(), import.name.into(), import.ty));
                    }
                }
                Payload::MemorySection(section) => inspection.memories += section.count() as usize,
                Payload::ExportSection(section) => {
                    for export in section {
                        let export = export.expect("export");
                        inspection.exports.push((export.name.into(), export.kind, export.index));
                    }
                }
                Payload::CustomSection(section) => inspection.customs.push((section.name().into(), section.data().to_vec())),
                _ => {}
            }
        }
        inspection
    }

    /// Rewrites `wat`, validates the result and checks the memory import, exports and type.
    fn rewritten(wat: &str, expected_type: &str) -> Inspection {
        let original = wat::parse_str(wat).expect("wat");
        let out = import_memory(&original).expect("parses").expect("rewritten");
        validate(&out);
        let (before, after) = (inspect(&original), inspect(&out));
        assert_eq!(after.memories, 0, "no memory defined any more");
        let memories: Vec<_> = after.imports.iter().filter(|(_, _, ty)| matches!(ty, TypeRef::Memory(_))).collect();
        assert!(matches!(&memories[..], [(m, n, _)] if m == IMPORT_MODULE && n == IMPORT_NAME), "{memories:?}");
        assert_eq!(after.imports[..before.imports.len()], before.imports[..], "existing imports first and unchanged");
        assert_eq!(after.exports, before.exports, "exports unchanged");
        let description = after.customs.iter().find(|(name, _)| name == TYPE_SECTION).expect("type section");
        assert_eq!(std::str::from_utf8(&description.1).expect("utf-8"), expected_type);
        after
    }

    #[test]
    fn a_defined_memory_becomes_an_import_and_keeps_its_export() {
        let after = rewritten(
            r#"(module
                (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                (memory (export "memory") 17)
                (func (export "_start") (call $exit (i32.add (memory.size) (i32.load8_u (i32.const 100)))))
                (data (i32.const 100) "\07"))"#,
            r#"{"initial":17,"maximum":null}"#,
        );
        assert!(after.exports.contains(&("memory".into(), ExternalKind::Memory, 0)));
        assert_eq!(after.imports.len(), 2);
    }

    #[test]
    fn without_imports_the_section_is_added_and_the_maximum_kept() {
        let after = rewritten(
            r#"(module (type (func)) (memory 2 5) (export "mem" (memory 0)) (func (type 0) (drop (memory.grow (i32.const 1)))) (start 0))"#,
            r#"{"initial":2,"maximum":5}"#,
        );
        assert!(after.exports.contains(&("mem".into(), ExternalKind::Memory, 0)), "its own export name");
        let original = wat::parse_str("(module (memory 0))").expect("wat");
        validate(&import_memory(&original).expect("parses").expect("rewritten"));
    }

    #[test]
    fn runs_after_the_memory_limit_instrumentation_and_keeps_names() {
        let original =
            wat::parse_str(r#"(module $m (memory 1) (func $grow (export "_start") (drop (memory.grow (i32.const 1)))))"#).expect("wat");
        let instrumented = memory_limit::instrument(&original).expect("instruments");
        let out = import_memory(&instrumented).expect("parses").expect("rewritten");
        validate(&out);
        let after = inspect(&out);
        assert!(after.exports.iter().any(|(name, kind, _)| name == memory_limit::LIMIT_HIT_EXPORT && *kind == ExternalKind::Global));
        assert!(after.customs.iter().any(|(name, _)| name == "name"), "the name section is kept");
    }

    #[test]
    fn other_modules_are_left_alone() {
        for wat in [
            r#"(module (func (export "_start")))"#,
            r#"(module (import "env" "memory" (memory 1)) (func (export "_start")))"#,
            r#"(module (import "wasimoff" "g" (global i32)) (memory 1))"#,
            r#"(module (memory i64 1))"#,
            r#"(module (memory 1 1 shared))"#,
            r#"(module (memory 1) (memory 1))"#,
            r#"(module (memory 1 (pagesize 1)))"#,
        ] {
            let original = wat::parse_str(wat).expect("wat");
            assert!(import_memory(&original).expect("parses").is_none(), "{wat}");
        }
    }

    #[test]
    fn bytes_that_do_not_parse_are_an_error() {
        for bytes in [&b"not wasm at all"[..], &b"\0asm\x01\0\0\0\x05\x09"[..]] {
            assert!(!import_memory(bytes).expect_err("does not parse").to_string().is_empty());
        }
    }

    #[test]
    fn rewrites_the_fixtures() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/target/wasm32-wasip1/release");
        for name in ["echo.wasm", "membomb.wasm", "tsp.wasm"] {
            let Ok(original) = std::fs::read(dir.join(name)) else {
                eprintln!("skipping {name}: fixture not built");
                continue;
            };
            let instrumented = memory_limit::instrument(&original).expect("instruments");
            let out = import_memory(&instrumented).expect("parses").expect("rewritten");
            validate(&out);
            assert!(inspect(&out).exports.contains(&("memory".into(), ExternalKind::Memory, 0)), "{name} exports its memory");
        }
    }
}
