//! Memory-limit instrumentation for modules that run in the browser.
//!
//! The local runner gives every task a memory limit: wasmtime's resource limiter refuses a
//! `memory.grow` past it (the instruction returns -1) and the task fails with the error kind
//! `memory_limit`. A browser can neither cap one WebAssembly memory's growth below the
//! module's own maximum nor tell us that a grow failed, so the browser provider rewrites each
//! module once, when it is cached, with [`instrument`]: every `memory.grow` on memory 0
//! checks a limit held in an exported global first, and a refused grow leaves a mark in a
//! second exported global. The worker sets [`LIMIT_PAGES_EXPORT`] before calling `_start`
//! and reads [`LIMIT_HIT_EXPORT`] when the task ends.
//!
//! The check mirrors wasmtime's: growing by 0 pages always succeeds, a grow the memory's
//! type cannot represent (past 65536 pages) fails without counting as a limit hit, and
//! otherwise a grow to more than the limit is refused and counted. The module's declared
//! maximum is still enforced by the engine after our check.
//!
//! Only new globals are appended (after all existing ones) and no function or type is added,
//! so no existing index shifts and everything but the rewritten grows is re-encoded as is.

use wasm_encoder::reencode::{self, Reencode, utils};
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, ExportKind, ExportSection, GlobalSection, GlobalType, Instruction, Module, SectionId, ValType,
};
use wasmparser::{Operator, Parser, Validator, WasmFeatures};

/// Exported mutable i32 global: the most pages memory 0 may grow to; the worker sets it before `_start`.
pub const LIMIT_PAGES_EXPORT: &str = "wasimoff_memory_limit_pages";
/// Exported mutable i32 global: 1 once a grow was refused for crossing the limit.
pub const LIMIT_HIT_EXPORT: &str = "wasimoff_memory_limit_hit";

/// Pages a 32-bit memory can have at most: the initial limit, which means "no limit".
const MAX_PAGES_32: i32 = 65536;

/// Why a module could not be instrumented (it is not valid wasm, for instance).
#[derive(Debug)]
pub struct InstrumentError(pub String);

impl std::fmt::Display for InstrumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InstrumentError {}

/// Rewrites `module` so that every `memory.grow` on memory 0 checks the limit first.
///
/// The result exports two new mutable i32 globals, [`LIMIT_PAGES_EXPORT`] (initially 65536,
/// no limit) and [`LIMIT_HIT_EXPORT`] (initially 0), plus an unexported scratch global. Grows
/// are rewritten only when the module has exactly one memory and it is a 32-bit memory with
/// 64 KiB pages; otherwise the globals are still added (so the worker can always set and
/// read them) but the limit has no effect. The input is validated first with wasmparser's
/// default features; an invalid module, or one that already exports one of the two names,
/// is an error.
pub fn instrument(module: &[u8]) -> Result<Vec<u8>, InstrumentError> {
    let types = Validator::new_with_features(WasmFeatures::default()).validate_all(module).map_err(|e| InstrumentError(e.to_string()))?;
    let types = types.as_ref();
    let rewrite = types.memory_count() == 1 && {
        let memory = types.memory_at(0);
        !memory.memory64 && memory.page_size_log2.is_none_or(|log2| log2 == 16)
    };
    let first = types.global_count();
    let mut instrumenter =
        Instrumenter { limit: first, hit: first + 1, delta: first + 2, rewrite, globals_added: false, exports_added: false };
    let mut out = Module::new();
    instrumenter.parse_core_module(&mut out, Parser::new(0), module).map_err(|e| match e {
        reencode::Error::UserError(e) => e,
        reencode::Error::ParseError(e) => InstrumentError(e.to_string()),
        other => InstrumentError(other.to_string()),
    })?;
    Ok(out.finish())
}

/// A re-encoder that copies a module, adding the limit globals and exports and rewriting grows.
struct Instrumenter {
    /// Index of `$limit`, the limit in pages.
    limit: u32,
    /// Index of `$hit`, set to 1 by a refused grow.
    hit: u32,
    /// Index of `$delta`, where a grow's operand waits while it is checked.
    delta: u32,
    /// Whether `memory.grow 0` is rewritten (one 32-bit memory with 64 KiB pages).
    rewrite: bool,
    globals_added: bool,
    exports_added: bool,
}

type Result<T, E = reencode::Error<InstrumentError>> = std::result::Result<T, E>;

/// Where a section goes in a module; `SectionId`'s numbers are not the canonical order.
fn rank(id: SectionId) -> u8 {
    match id {
        SectionId::Custom => 0,
        SectionId::Type => 1,
        SectionId::Import => 2,
        SectionId::Function => 3,
        SectionId::Table => 4,
        SectionId::Memory => 5,
        SectionId::Tag => 6,
        SectionId::Global => 7,
        SectionId::Export => 8,
        SectionId::Start => 9,
        SectionId::Element => 10,
        SectionId::DataCount => 11,
        SectionId::Code => 12,
        SectionId::Data => 13,
    }
}

impl Instrumenter {
    fn add_globals(&mut self, globals: &mut GlobalSection) {
        let ty = GlobalType { val_type: ValType::I32, mutable: true, shared: false };
        globals.global(ty, &ConstExpr::i32_const(MAX_PAGES_32));
        globals.global(ty, &ConstExpr::i32_const(0));
        globals.global(ty, &ConstExpr::i32_const(0));
        self.globals_added = true;
    }

    fn add_exports(&mut self, exports: &mut ExportSection) {
        exports.export(LIMIT_PAGES_EXPORT, ExportKind::Global, self.limit);
        exports.export(LIMIT_HIT_EXPORT, ExportKind::Global, self.hit);
        self.exports_added = true;
    }

    /// What replaces `memory.grow 0`: with `new = memory.size + delta` computed in i64,
    /// refuse (set `$hit`, push -1) iff `delta != 0 && new > $limit && new <= 65536`
    /// (unsigned), else grow as before.
    fn checked_grow(&self) -> [Instruction<'static>; 29] {
        use Instruction::*;
        let (limit, hit, delta) = (self.limit, self.hit, self.delta);
        [
            GlobalSet(delta),
            // delta != 0
            GlobalGet(delta),
            I32Const(0),
            I32Ne,
            // && new > limit
            MemorySize(0),
            I64ExtendI32U,
            GlobalGet(delta),
            I64ExtendI32U,
            I64Add,
            GlobalGet(limit),
            I64ExtendI32U,
            I64GtU,
            I32And,
            // && new <= 65536
            MemorySize(0),
            I64ExtendI32U,
            GlobalGet(delta),
            I64ExtendI32U,
            I64Add,
            I64Const(MAX_PAGES_32 as i64),
            I64LeU,
            I32And,
            If(BlockType::Result(ValType::I32)),
            I32Const(1),
            GlobalSet(hit),
            I32Const(-1),
            Else,
            GlobalGet(delta),
            MemoryGrow(0),
            End,
        ]
    }
}

impl Reencode for Instrumenter {
    type Error = InstrumentError;

    /// Adds a global or export section of our own where the module has none.
    fn intersperse_section_hook(&mut self, module: &mut Module, _after: Option<SectionId>, before: Option<SectionId>) -> Result<()> {
        let passed = |id| before.is_none_or(|next| rank(next) > rank(id));
        if !self.globals_added && passed(SectionId::Global) {
            let mut globals = GlobalSection::new();
            self.add_globals(&mut globals);
            module.section(&globals);
        }
        if !self.exports_added && passed(SectionId::Export) {
            let mut exports = ExportSection::new();
            self.add_exports(&mut exports);
            module.section(&exports);
        }
        Ok(())
    }

    fn parse_global_section(&mut self, globals: &mut GlobalSection, section: wasmparser::GlobalSectionReader<'_>) -> Result<()> {
        utils::parse_global_section(self, globals, section)?;
        self.add_globals(globals);
        Ok(())
    }

    fn parse_export_section(&mut self, exports: &mut ExportSection, section: wasmparser::ExportSectionReader<'_>) -> Result<()> {
        utils::parse_export_section(self, exports, section)?;
        self.add_exports(exports);
        Ok(())
    }

    fn parse_export(&mut self, exports: &mut ExportSection, export: wasmparser::Export<'_>) -> Result<()> {
        if export.name == LIMIT_PAGES_EXPORT || export.name == LIMIT_HIT_EXPORT {
            let message = format!("the module already exports `{}` (instrumented twice?)", export.name);
            return Err(reencode::Error::UserError(InstrumentError(message)));
        }
        utils::parse_export(self, exports, export)
    }

    /// Drops DWARF sections: their code offsets no longer match the rewritten bodies.
    fn parse_custom_section(&mut self, module: &mut Module, section: wasmparser::CustomSectionReader<'_>) -> Result<()> {
        if section.name().starts_with(".debug_") {
            return Ok(());
        }
        utils::parse_custom_section(self, module, section)
    }

    fn parse_function_body(&mut self, code: &mut CodeSection, func: wasmparser::FunctionBody<'_>) -> Result<()> {
        let mut function = self.new_function_with_parsed_locals(&func)?;
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            match reader.read()? {
                Operator::MemoryGrow { mem: 0 } if self.rewrite => {
                    for instruction in &self.checked_grow() {
                        function.instruction(instruction);
                    }
                }
                operator => {
                    function.instruction(&self.instruction(operator)?);
                }
            }
        }
        code.function(&function);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::{ExternalKind, Payload, TypeRef};

    /// What a module looks like to the tests: exports, grow counts and the ops before each grow.
    struct Inspection {
        exports: Vec<(String, ExternalKind, u32)>,
        globals: Vec<wasmparser::GlobalType>,
        grows: usize,
        /// For each `memory.grow`, whether it ends our sequence (`else; global.get $delta`).
        checked: Vec<bool>,
        section_order: Vec<u8>,
    }

    fn validate(bytes: &[u8]) {
        Validator::new_with_features(WasmFeatures::default()).validate_all(bytes).expect("instrumented module validates");
    }

    fn inspect(bytes: &[u8]) -> Inspection {
        let mut inspection = Inspection { exports: vec![], globals: vec![], grows: 0, checked: vec![], section_order: vec![] };
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload.expect("parses");
            if let Some((id, _)) = payload.as_section()
                && id != 0
            {
                inspection.section_order.push(id);
            }
            match payload {
                Payload::ImportSection(section) => {
                    for import in section.into_imports() {
                        if let TypeRef::Global(ty) = import.expect("import").ty {
                            inspection.globals.push(ty);
                        }
                    }
                }
                Payload::GlobalSection(section) => {
                    for global in section {
                        inspection.globals.push(global.expect("global").ty);
                    }
                }
                Payload::ExportSection(section) => {
                    for export in section {
                        let export = export.expect("export");
                        inspection.exports.push((export.name.to_string(), export.kind, export.index));
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let ops: Vec<Operator> =
                        body.get_operators_reader().expect("operators").into_iter().collect::<Result<_, _>>().expect("operators parse");
                    for (i, op) in ops.iter().enumerate() {
                        if matches!(op, Operator::MemoryGrow { .. }) {
                            inspection.grows += 1;
                            let checked =
                                i >= 2 && matches!(ops[i - 2], Operator::Else) && matches!(ops[i - 1], Operator::GlobalGet { .. });
                            inspection.checked.push(checked);
                        }
                    }
                }
                _ => {}
            }
        }
        inspection
    }

    /// Instruments `original`, validates the result and checks the exports and the grows.
    fn check(original: &[u8], expect_rewrite: bool) -> Inspection {
        let before = inspect(original);
        let out = instrument(original).expect("instruments");
        validate(&out);
        let after = inspect(&out);
        for (name, kind, index) in &before.exports {
            assert!(after.exports.contains(&(name.clone(), *kind, *index)), "export {name} kept");
        }
        for name in [LIMIT_PAGES_EXPORT, LIMIT_HIT_EXPORT] {
            let (_, kind, index) = after.exports.iter().find(|e| e.0 == name).expect("limit export present");
            assert_eq!(*kind, ExternalKind::Global);
            let ty = after.globals[*index as usize];
            assert!(ty.mutable && ty.content_type == wasmparser::ValType::I32, "{name} is a mutable i32");
            assert!(*index as usize >= before.globals.len(), "{name} appended after existing globals");
        }
        assert_eq!(after.globals[..before.globals.len()], before.globals[..], "existing globals unchanged");
        assert_eq!(after.grows, before.grows, "same number of memory.grow");
        assert!(after.checked.iter().all(|c| *c == expect_rewrite), "every grow checked: {expect_rewrite}");
        assert!(after.section_order.windows(2).all(|w| rank_of(w[0]) < rank_of(w[1])), "sections in order");
        after
    }

    fn rank_of(id: u8) -> u8 {
        let id = match id {
            1 => SectionId::Type,
            2 => SectionId::Import,
            3 => SectionId::Function,
            4 => SectionId::Table,
            5 => SectionId::Memory,
            6 => SectionId::Global,
            7 => SectionId::Export,
            8 => SectionId::Start,
            9 => SectionId::Element,
            10 => SectionId::Code,
            11 => SectionId::Data,
            12 => SectionId::DataCount,
            13 => SectionId::Tag,
            other => panic!("unexpected section {other}"),
        };
        rank(id)
    }

    #[test]
    fn rewrites_grows_and_exports_the_globals() {
        let wat = r#"(module
            (global $g (mut i32) (i32.const 7))
            (memory 1)
            (func $grow (param i32) (result i32) (memory.grow (local.get 0)))
            (func (export "_start")
                (drop (call $grow (i32.const 1)))
                (drop (memory.grow (i32.const 2)))
                (global.set $g (i32.const 1)))
            (data (i32.const 0) "hi"))"#;
        let original = wat::parse_str(wat).expect("wat");
        let after = check(&original, true);
        assert_eq!(after.grows, 2);
        assert_eq!(after.globals.len(), 4);
    }

    #[test]
    fn adds_global_and_export_sections_when_missing() {
        let wat = r#"(module
            (memory (import "env" "memory") 1)
            (func $f (drop (memory.grow (i32.const 1))))
            (start $f))"#;
        let original = wat::parse_str(wat).expect("wat");
        let before = inspect(&original);
        assert!(before.exports.is_empty() && before.globals.is_empty());
        let after = check(&original, true);
        assert_eq!(after.exports.len(), 2);
        assert_eq!(after.globals.len(), 3);
    }

    #[test]
    fn keeps_imported_global_indices() {
        let wat = r#"(module
            (import "env" "g" (global $g i32))
            (memory 1 10)
            (func (export "_start") (result i32) (global.get $g) (memory.grow (i32.const 1)) (i32.add)))"#;
        let original = wat::parse_str(wat).expect("wat");
        let after = check(&original, true);
        let limit = after.exports.iter().find(|e| e.0 == LIMIT_PAGES_EXPORT).expect("limit");
        assert_eq!(limit.2, 1, "first new global follows the imported one");
    }

    #[test]
    fn module_without_memory_only_gets_the_globals() {
        let original = wat::parse_str(r#"(module (func (export "_start")))"#).expect("wat");
        let after = check(&original, false);
        assert_eq!(after.exports.len(), 3);
        let empty = wat::parse_str("(module)").expect("wat");
        check(&empty, false);
    }

    #[test]
    fn memory64_and_multi_memory_are_not_rewritten() {
        let memory64 = r#"(module (memory i64 1) (func (export "_start") (drop (memory.grow (i64.const 1)))))"#;
        let multi = r#"(module (memory 1) (memory 1)
            (func (export "_start") (drop (memory.grow 0 (i32.const 1))) (drop (memory.grow 1 (i32.const 1)))))"#;
        for wat in [memory64, multi] {
            let original = wat::parse_str(wat).expect("wat");
            check(&original, false);
        }
    }

    #[test]
    fn keeps_the_name_section() {
        let original = wat::parse_str(r#"(module $m (memory 1) (func $named (drop (memory.grow (i32.const 1)))))"#).expect("wat");
        let out = instrument(&original).expect("instruments");
        let has_names =
            Parser::new(0).parse_all(&out).any(|p| matches!(p, Ok(Payload::CustomSection(ref section)) if section.name() == "name"));
        assert!(has_names);
    }

    #[test]
    fn invalid_input_is_an_error() {
        for bytes in [&b"not wasm at all"[..], &b"\0asm\x01\0\0\0\x01\x05"[..], &[][..]] {
            let error = instrument(bytes).expect_err("invalid");
            assert!(!error.to_string().is_empty());
        }
        // Well-formed but invalid: memory.grow without a memory.
        let invalid = wat::parse_str(r#"(module (func (drop (memory.grow (i32.const 1)))))"#).expect("wat");
        assert!(instrument(&invalid).is_err());
    }

    #[test]
    fn instrumenting_twice_is_an_error() {
        let original = wat::parse_str(r#"(module (memory 1) (func (drop (memory.grow (i32.const 1)))))"#).expect("wat");
        let once = instrument(&original).expect("instruments");
        let error = instrument(&once).expect_err("already instrumented");
        assert!(error.to_string().contains(LIMIT_PAGES_EXPORT));
    }

    #[test]
    fn instruments_the_fixtures() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/target/wasm32-wasip1/release");
        for name in ["membomb.wasm", "tsp.wasm"] {
            let Ok(original) = std::fs::read(dir.join(name)) else {
                eprintln!("skipping {name}: fixture not built");
                continue;
            };
            let after = check(&original, true);
            assert!(after.grows > 0, "{name} grows its memory");
        }
    }
}
