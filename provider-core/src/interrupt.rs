//! Interruption checks for modules that run in wasmtime, cheaper than fuel or epochs.
//!
//! A runner must be able to stop guest code that never returns. Wasmtime's fuel and epoch
//! checks can, but their slow path calls a runtime builtin, and around that call the hot loop
//! keeps its values on the stack instead of in registers (the TSP fixture runs 1.3–1.5× slower;
//! docs/BENCHMARKS.md; a check of our own whose slow path calls a host function costs the
//! same). [`instrument`] rewrites a module once, before it is compiled, with a check whose
//! slow path is a trap, at the top of every loop and at the entry of every function that calls
//! another one (a leaf function without loops ends by itself; unbounded recursion needs a call
//! in every function of the cycle):
//!
//! ```wat
//! global.get $slot          ;; this task's byte in the flags memory, set by the runner
//! i32.atomic.load8_u $flags ;; 1 once the runner wants the task stopped
//! if  unreachable  end      ;; the trap ends the task; the runner reports why it stopped it
//! ```
//!
//! `$flags` is a shared memory of one page imported as `"wasimoff" "interrupt_flags"` (one byte
//! per running task, written by another thread while the guest runs) and `$slot` an exported
//! mutable i32 global (`wasimoff_interrupt_slot`) the runner sets before `_start`. The check
//! keeps one value live for an instant and calls nothing: TSP runs at 1.05× native with it.
//!
//! The import is appended after the module's own, so defined memories shift up by one and
//! every reference to them is renumbered; the new global is appended after all others. DWARF
//! sections are dropped (their code offsets no longer match).

use crate::memory_limit::InstrumentError;
use wasm_encoder::reencode::{self, Reencode, utils};
use wasm_encoder::{
    CodeSection, ConstExpr, EntityType, ExportKind, ExportSection, GlobalSection, GlobalType, ImportSection, Instruction, MemArg,
    MemArgTarget, MemoryType, Module, SectionId, ValType,
};
use wasmparser::{Operator, Parser, Payload, TypeRef, Validator, WasmFeatures};

/// Module name of the import.
pub const IMPORT_MODULE: &str = "wasimoff";
/// Import name of the shared memory of flags (`(memory 1 1 shared)`).
pub const FLAGS_IMPORT: &str = "interrupt_flags";
/// Exported mutable i32 global: the byte of the flags memory this task checks.
pub const SLOT_EXPORT: &str = "wasimoff_interrupt_slot";

/// Rewrites `module` with interruption checks (see the module documentation).
///
/// The input is validated first with wasmparser's default features except threads: a module
/// with shared memories or atomics of its own is refused, as is an invalid one, one with a
/// start function (it would run before the runner sets `$slot`) or one that already uses one
/// of the names above; the caller then runs it with another mechanism.
pub fn instrument(module: &[u8]) -> Result<Vec<u8>, InstrumentError> {
    let features = WasmFeatures::default() - WasmFeatures::THREADS - WasmFeatures::SHARED_EVERYTHING_THREADS;
    let types = Validator::new_with_features(features).validate_all(module).map_err(|e| InstrumentError(e.to_string()))?;
    let types = types.as_ref();
    let mut imported_memories = 0;
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| InstrumentError(e.to_string()))?;
        if let Payload::StartSection { .. } = payload {
            return Err(InstrumentError("the module has a start function, which would run before its slot is set".into()));
        }
        if let Payload::ImportSection(section) = payload {
            for import in section.into_imports() {
                let import = import.map_err(|e| InstrumentError(e.to_string()))?;
                if import.module == IMPORT_MODULE && import.name == FLAGS_IMPORT {
                    return Err(InstrumentError(format!("the module already imports `{IMPORT_MODULE}` `{FLAGS_IMPORT}`")));
                }
                if let TypeRef::Memory(_) = import.ty {
                    imported_memories += 1;
                }
            }
        }
    }
    let mut instrumenter =
        Instrumenter { imported_memories, slot: types.global_count(), imports_added: false, globals_added: false, exports_added: false };
    let mut out = Module::new();
    instrumenter.parse_core_module(&mut out, Parser::new(0), module).map_err(|e| match e {
        reencode::Error::UserError(e) => e,
        reencode::Error::ParseError(e) => InstrumentError(e.to_string()),
        other => InstrumentError(other.to_string()),
    })?;
    Ok(out.finish())
}

/// A re-encoder that copies a module, adding the import, the slot global and the checks.
struct Instrumenter {
    /// Memories imported by the module; `$flags` gets this index.
    imported_memories: u32,
    /// Index of the new global `$slot`.
    slot: u32,
    imports_added: bool,
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

/// Whether executing `operator` can call another function.
fn calls(operator: &Operator) -> bool {
    matches!(
        operator,
        Operator::Call { .. }
            | Operator::CallIndirect { .. }
            | Operator::CallRef { .. }
            | Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::ReturnCallRef { .. }
    )
}

impl Instrumenter {
    fn add_imports(&mut self, imports: &mut ImportSection) {
        let flags = MemoryType { minimum: 1, maximum: Some(1), memory64: false, shared: true, page_size_log2: None };
        imports.import(IMPORT_MODULE, FLAGS_IMPORT, EntityType::Memory(flags));
        self.imports_added = true;
    }

    fn add_globals(&mut self, globals: &mut GlobalSection) {
        globals.global(GlobalType { val_type: ValType::I32, mutable: true, shared: false }, &ConstExpr::i32_const(0));
        self.globals_added = true;
    }

    fn add_exports(&mut self, exports: &mut ExportSection) {
        exports.export(SLOT_EXPORT, ExportKind::Global, self.slot);
        self.exports_added = true;
    }

    /// The check inserted at loop headers and function entries.
    fn check(&self) -> [Instruction<'static>; 5] {
        let flags = MemArg { offset: 0, align: 0, target: MemArgTarget::Memory(self.imported_memories), ordering: None };
        [
            Instruction::GlobalGet(self.slot),
            Instruction::I32AtomicLoad8U(flags),
            Instruction::If(wasm_encoder::BlockType::Empty),
            Instruction::Unreachable,
            Instruction::End,
        ]
    }
}

impl Reencode for Instrumenter {
    type Error = InstrumentError;

    fn memory_index(&mut self, memory: u32) -> Result<u32> {
        Ok(if memory >= self.imported_memories { memory + 1 } else { memory })
    }

    /// Adds a section of our own where the module has none.
    fn intersperse_section_hook(&mut self, module: &mut Module, _after: Option<SectionId>, before: Option<SectionId>) -> Result<()> {
        let passed = |id| before.is_none_or(|next| rank(next) > rank(id));
        if !self.imports_added && passed(SectionId::Import) {
            let mut imports = ImportSection::new();
            self.add_imports(&mut imports);
            module.section(&imports);
        }
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

    fn parse_import_section(&mut self, imports: &mut ImportSection, section: wasmparser::ImportSectionReader<'_>) -> Result<()> {
        utils::parse_import_section(self, imports, section)?;
        self.add_imports(imports);
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
        if export.name == SLOT_EXPORT {
            return Err(reencode::Error::UserError(InstrumentError(format!("the module already exports `{SLOT_EXPORT}`"))));
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
        let mut scan = func.get_operators_reader()?;
        let mut calls_out = false;
        while !scan.eof() {
            calls_out |= calls(&scan.read()?);
        }
        let check = self.check();
        if calls_out {
            check.iter().for_each(|instruction| _ = function.instruction(instruction));
        }
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            let operator = reader.read()?;
            let is_loop = matches!(operator, Operator::Loop { .. });
            function.instruction(&self.instruction(operator)?);
            if is_loop {
                check.iter().for_each(|instruction| _ = function.instruction(instruction));
            }
        }
        code.function(&function);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::ExternalKind;

    /// The instrumented module's imports, exports and the operators of each function body.
    struct Inspection {
        imports: Vec<(String, String, TypeRef)>,
        exports: Vec<(String, ExternalKind, u32)>,
        bodies: Vec<Vec<String>>,
    }

    fn instrumented(wat: &str) -> Inspection {
        let out = instrument(&wat::parse_str(wat).expect("wat")).expect("instruments");
        Validator::new_with_features(WasmFeatures::default()).validate_all(&out).expect("the result validates");
        let mut inspection = Inspection { imports: vec![], exports: vec![], bodies: vec![] };
        for payload in Parser::new(0).parse_all(&out) {
            match payload.expect("parses") {
                Payload::ImportSection(section) => {
                    for import in section.into_imports() {
                        let import = import.expect("import");
                        inspection.imports.push((import.module.to_string(), import.name.to_string(), import.ty));
                    }
                }
                Payload::ExportSection(section) => {
                    for export in section {
                        let export = export.expect("export");
                        inspection.exports.push((export.name.to_string(), export.kind, export.index));
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let ops = body.get_operators_reader().expect("operators").into_iter().map(|op| format!("{:?}", op.expect("op")));
                    inspection.bodies.push(ops.collect());
                }
                _ => {}
            }
        }
        inspection
    }

    /// How many checks a body holds (each has the only `unreachable` of these bodies).
    fn checks(body: &[String]) -> usize {
        body.iter().filter(|op| *op == "Unreachable").count()
    }

    #[test]
    fn checks_loops_and_functions_that_call_but_not_leaves() {
        let wat = r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func $leaf (result i32) (i32.const 1))
            (func $looping (loop (br 0)))
            (func (export "_start") (drop (call $leaf)) (call $looping) (loop (loop (br 1))) (call $exit (i32.const 0))))"#;
        let inspection = instrumented(wat);
        let flags = &inspection.imports[1];
        assert_eq!((flags.0.as_str(), flags.1.as_str()), (IMPORT_MODULE, FLAGS_IMPORT));
        assert!(matches!(flags.2, TypeRef::Memory(ty) if ty.shared && ty.initial == 1 && ty.maximum == Some(1)));
        let counts: Vec<usize> = inspection.bodies.iter().map(|body| checks(body)).collect();
        assert_eq!(counts, [0, 1, 3], "leaf: none; one loop; entry and two loops");
        let start = &inspection.bodies[2];
        let check = ["GlobalGet { global_index: 0 }", "I32AtomicLoad8U", "If { blockty: Empty }", "Unreachable", "End"];
        assert!(start.iter().zip(check).all(|(op, expected)| op.starts_with(expected)), "entry check first: {start:?}");
        assert!(start[1].contains("target: Memory(0)"), "the flags memory is the first memory: {start:?}");
        let exports: Vec<_> = inspection.exports.iter().map(|(name, kind, index)| (name.as_str(), *kind, *index)).collect();
        assert_eq!(
            exports,
            [("memory", ExternalKind::Memory, 1), ("_start", ExternalKind::Func, 3), (SLOT_EXPORT, ExternalKind::Global, 0)]
        );
    }

    #[test]
    fn memories_after_the_imported_ones_shift_by_one() {
        let wat = r#"(module
            (import "env" "shared" (memory 1))
            (memory 1) (memory 2)
            (global $g (mut i32) (i32.const 0))
            (data (memory 2) (i32.const 0) "x")
            (func (export "_start") (i32.store8 2 (i32.const 0) (i32.load8_u 0 (i32.const 0)))))"#;
        let inspection = instrumented(wat);
        let body = &inspection.bodies[0];
        assert!(body.iter().any(|op| op.starts_with("I32Load8U") && op.contains("target: Memory(0)")), "imported memory stays 0: {body:?}");
        assert!(body.iter().any(|op| op.starts_with("I32Store8") && op.contains("target: Memory(3)")), "memory 2 becomes 3: {body:?}");
        assert!(inspection.exports.contains(&(SLOT_EXPORT.to_string(), ExternalKind::Global, 1)), "slot follows the global");
    }

    #[test]
    fn adds_the_sections_a_module_lacks() {
        let inspection = instrumented(r#"(module (func (export "_start")))"#);
        assert_eq!(inspection.imports.len(), 1);
        assert_eq!(inspection.bodies, [vec!["End".to_string()]]);
        instrumented("(module)");
    }

    #[test]
    fn refuses_what_it_cannot_rewrite() {
        let cases = [
            r#"(module (memory 1 1 shared) (func (export "_start")))"#,
            r#"(module (func $s) (start $s) (func (export "_start")))"#,
            r#"(module (import "wasimoff" "interrupt_flags" (memory 1)) (func (export "_start")))"#,
            r#"(module (global (export "wasimoff_interrupt_slot") i32 (i32.const 0)) (func (export "_start")))"#,
        ];
        for wat in cases {
            assert!(instrument(&wat::parse_str(wat).expect("wat")).is_err(), "{wat}");
        }
        assert!(instrument(b"\0asm\x01\0\0\0\xff").is_err(), "invalid module");
    }
}
