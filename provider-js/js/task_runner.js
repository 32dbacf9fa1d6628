// Runs one WASI preview 1 task with our own WASI layer (wasi/) so that its stdout, stderr,
// exit status and artifacts are exactly those of the broker's wasmtime runner
// (src/runner/execute.rs, output.rs, sandbox.rs). No DOM or Worker APIs: worker.js calls it,
// and node tests import it.

import { preview1, ProcExit } from "./wasi/preview1.js";
import { DescriptorTable, DirectoryDescriptor, OutputDescriptor, StdinDescriptor } from "./wasi/fds.js";
import { CappedOutput, InputStream, OutputLimitExceeded } from "./wasi/stdio.js";
import { buildRoot, collectArtifacts } from "./wasi/sandbox.js";
import { useVirtualTime } from "./wasi/clock.js";
import { ChaCha20Words } from "./wasi/random.js";
import { importedMemoryType, memoryFor } from "./memories.js";

const PAGE_BYTES = 65536;
const MAX_PAGES = 65536; // a wasm32 memory never has more

/** Whether each module seen exports a `_start` function, asked once per module. */
const starts = new WeakMap();
function hasStart(module) {
  if (!starts.has(module)) starts.set(module, WebAssembly.Module.exports(module).some((e) => e.name === "_start" && e.kind === "function"));
  return starts.get(module);
}

const failed = (kind, message) => ({ type: "failed", kind, message });
const memoryLimit = (kinds, bytes) => failed(kinds.MemoryLimit, `the task tried to grow its memory past the limit of ${bytes} bytes`);

/** Sorts an exception out of instantiation or `_start` in execute.rs's order. */
function failure(kinds, error, limitHit, memoryBytes) {
  if (error instanceof OutputLimitExceeded) return failed(kinds.OutputLimit, error.message);
  if (limitHit?.value === 1) return memoryLimit(kinds, memoryBytes);
  if (error instanceof WebAssembly.LinkError) return failed(kinds.Internal, `cannot link the module: ${error.message}`);
  // wasmtime's proc_exit refuses statuses outside [0, 126) with an error, not an exit.
  if (error instanceof ProcExit) return failed(kinds.Trap, "exit with invalid exit status outside of [0..126)");
  return failed(kinds.Trap, error instanceof Error ? error.message : String(error));
}

/**
 * Runs `task` with the compiled `module`, synchronously, and returns its result (a task with a
 * `seed`, 16 hex digits, runs deterministically: see wasi/clock.js and wasi/random.js):
 * `{type: "exited", status, artifacts: [{path, data: Uint8Array|null}], missing: [requested], elapsedUs}`
 * or `{type: "failed", kind, message}` with `kind` one of `kinds` (the core's `errorKinds()`):
 * Trap, OutputLimit, MemoryLimit, MissingStart or Internal.
 * `onOutput(stream, bytes)` (stream 1 or 2) gets every write's kept bytes as a fresh copy, as it
 * happens; empty writes are not reported.
 */
export function runTask(module, task, kinds, onOutput) {
  useVirtualTime(task.seed != null);
  try {
    return run(module, task, kinds, onOutput);
  } finally {
    useVirtualTime(false);
  }
}

function run(module, task, kinds, onOutput) {
  const { args, envs, stdin, files, artifacts, limits, seed } = task;
  if (!hasStart(module)) {
    return failed(kinds.MissingStart, "the module exports no `_start` function: it is not a WASI command");
  }
  let root;
  try {
    root = buildRoot(files);
  } catch (error) {
    return failed(kinds.Internal, error.message);
  }
  const table = new DescriptorTable([
    new StdinDescriptor(new InputStream(stdin)),
    new OutputDescriptor(new CappedOutput(1, limits.outputBytes, onOutput)),
    new OutputDescriptor(new CappedOutput(2, limits.outputBytes, onOutput)),
    new DirectoryDescriptor(root, "/"),
  ]);
  const wasi = preview1(table, args, envs, seed != null ? new ChaCha20Words(seed) : null);
  const started = performance.now();
  let limitHit = null;
  let status = 0;
  try {
    const imports = { wasi_snapshot_preview1: wasi.imports };
    const memoryType = importedMemoryType(module);
    if (memoryType) {
      if (memoryType.initial * PAGE_BYTES > limits.memoryBytes) return memoryLimit(kinds, limits.memoryBytes);
      imports.wasimoff = { memory: memoryFor(memoryType) };
    }
    const instance = new WebAssembly.Instance(module, imports);
    const { memory, wasimoff_memory_limit_pages: limitPages, wasimoff_memory_limit_hit: hit } = instance.exports;
    if (memory instanceof WebAssembly.Memory && memory.buffer.byteLength > limits.memoryBytes) return memoryLimit(kinds, limits.memoryBytes);
    // Instrumented by the Rust core: its memory.grow fails past `limitPages` and sets `hit`.
    if (limitPages instanceof WebAssembly.Global && hit instanceof WebAssembly.Global) {
      limitPages.value = Math.min(Math.floor(limits.memoryBytes / PAGE_BYTES), MAX_PAGES);
      limitHit = hit;
    }
    wasi.bind(memory);
    instance.exports._start();
  } catch (error) {
    if (!(error instanceof ProcExit) || error.code >= 126) return failure(kinds, error, limitHit, limits.memoryBytes);
    status = error.code;
  }
  const elapsedUs = Math.round((performance.now() - started) * 1000);
  return { type: "exited", status, ...collectArtifacts(root, artifacts), elapsedUs };
}
