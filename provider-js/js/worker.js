// The Web Worker (module worker) that runs tasks, one at a time, with task_runner.js. It keeps
// what does not change between tasks: the core's error kinds, and each compiled module it was
// sent, so that a task's message carries only the task.
// In:  {type: "init", kinds: the core's errorKinds()}, once, first;
//      {type: "run", id, digest, module: WebAssembly.Module | undefined (already sent), task};
//      {type: "forget", digest}: the provider dropped that module.
// Out: {type: "output", id, stream: 1|2, data: Uint8Array} per write, then exactly one
//      {type: "result", id, result} with runTask's result. Buffers are transferred, not copied.
// Each task gets its memory from memories.js, reused between tasks where it can be and made
// ready for the next task after the result is posted.
// Timeouts are the main thread's job: it terminates this worker.

import { runTask } from "./task_runner.js";
import { prepareMemories } from "./memories.js";

let kinds = null;
const modules = new Map();

function postResult(id, result) {
  const buffers = result.type === "exited" ? result.artifacts.filter((a) => a.data).map((a) => a.data.buffer) : [];
  self.postMessage({ type: "result", id, result }, buffers);
}

function run({ id, digest, module, task }) {
  if (module) modules.set(digest, module);
  try {
    const compiled = modules.get(digest);
    if (!compiled) throw new Error(`module ${digest} was never sent to this worker`);
    postResult(id, runTask(compiled, task, kinds, (stream, data) => self.postMessage({ type: "output", id, stream, data }, [data.buffer])));
  } catch (error) {
    postResult(id, { type: "failed", kind: kinds.Internal, message: error instanceof Error ? error.message : String(error) });
  }
  prepareMemories();
}

self.onmessage = ({ data: message }) => {
  switch (message?.type) {
    case "init":
      kinds = message.kinds;
      return;
    case "forget":
      modules.delete(message.digest);
      return;
    case "run":
      return run(message);
  }
};
