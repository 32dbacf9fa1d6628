// The memories a worker hands its tasks. The Rust core rewrites a module's one memory into an
// import (`wasimoff`.`memory`, provider-core/src/memory_import.rs) and records its type in the
// custom section `wasimoff.memory`; the worker keeps one WebAssembly.Memory per type and reuses
// it for the next task, because a new memory per task costs V8 a fresh guarded reservation and
// a garbage collection to free it. A memory that grew is never reused: `memory.size` must start
// at the module's minimum. Zeroing a used memory (or replacing a grown one) is done by
// `prepareMemories()` once a task's result is posted, off the next task's path; a task that
// finds its memory not yet prepared does it itself.

const PAGE_BYTES = 65536;
const TYPE_SECTION = "wasimoff.memory";
const KEPT = 4; // memory types kept per worker, the least recently used dropped first

const decoder = new TextDecoder();
const types = new WeakMap(); // WebAssembly.Module → {initial, maximum} | null
/** "initial/maximum" → {type, memory, ready: zeroed and never handed out since}, least recently used first. */
const kept = new Map();

/** The type `{initial, maximum}` (pages, `maximum` null for none) of the memory `module` imports, or null when it defines its own. */
export function importedMemoryType(module) {
  if (!types.has(module)) {
    const [section] = WebAssembly.Module.customSections(module, TYPE_SECTION);
    types.set(module, section ? JSON.parse(decoder.decode(section)) : null);
  }
  return types.get(module);
}

/** Makes `entry.memory` as a new memory of its type would be: zeroed if it kept its size, else replaced. */
function prepare(entry) {
  const { initial, maximum } = entry.type;
  if (entry.memory?.buffer.byteLength === initial * PAGE_BYTES) {
    new Uint8Array(entry.memory.buffer).fill(0);
  } else {
    entry.memory = new WebAssembly.Memory(maximum == null ? { initial } : { initial, maximum });
  }
  entry.ready = true;
}

/** A memory of `type` as a new one would be, kept for the next task of that type. */
export function memoryFor(type) {
  const key = `${type.initial}/${type.maximum}`;
  const entry = kept.get(key) ?? { type, memory: null, ready: false };
  kept.delete(key);
  kept.set(key, entry);
  if (kept.size > KEPT) kept.delete(kept.keys().next().value);
  if (!entry.ready) prepare(entry);
  entry.ready = false;
  return entry.memory;
}

/** Prepares every memory handed out since, for the next task; call when no task runs. */
export function prepareMemories() {
  for (const entry of kept.values()) if (!entry.ready) prepare(entry);
}
