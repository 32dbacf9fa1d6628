// The memories a worker hands its tasks. The Rust core rewrites a module's one memory into an
// import (`wasimoff`.`memory`, provider-core/src/memory_import.rs) and records its type in the
// custom section `wasimoff.memory`; the worker keeps one WebAssembly.Memory per type and reuses
// it for the next task when it still has the declared initial size, zeroed, because a new
// memory per task costs V8 a fresh guarded reservation and a garbage collection to free it.
// A memory that grew is never reused: `memory.size` must start at the module's minimum.

const PAGE_BYTES = 65536;
const TYPE_SECTION = "wasimoff.memory";
const KEPT = 4; // memory types kept per worker, the least recently used dropped first

const decoder = new TextDecoder();
const types = new WeakMap(); // WebAssembly.Module → {initial, maximum} | null
const kept = new Map(); // "initial/maximum" → WebAssembly.Memory, least recently used first

/** The type `{initial, maximum}` (pages, `maximum` null for none) of the memory `module` imports, or null when it defines its own. */
export function importedMemoryType(module) {
  if (!types.has(module)) {
    const [section] = WebAssembly.Module.customSections(module, TYPE_SECTION);
    types.set(module, section ? JSON.parse(decoder.decode(section)) : null);
  }
  return types.get(module);
}

/** A memory of `type` as a new one would be: the kept one, zeroed, unless it grew; else a new one (then kept). */
export function memoryFor({ initial, maximum }) {
  const key = `${initial}/${maximum}`;
  let memory = kept.get(key);
  kept.delete(key);
  if (memory?.buffer.byteLength === initial * PAGE_BYTES) {
    new Uint8Array(memory.buffer).fill(0);
  } else {
    memory = new WebAssembly.Memory(maximum == null ? { initial } : { initial, maximum });
  }
  kept.set(key, memory);
  if (kept.size > KEPT) kept.delete(kept.keys().next().value);
  return memory;
}
