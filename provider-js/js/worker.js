// The Web Worker (module worker) that runs tasks, one at a time, with task_runner.js.
// In:  {type: "run", id, module: WebAssembly.Module, kinds: the core's errorKinds(), task}
// Out: {type: "output", id, stream: 1|2, data: Uint8Array} per write, then exactly one
//      {type: "result", id, result} with runTask's result. Buffers are transferred, not copied.
// Timeouts are the main thread's job: it terminates this worker.

import { runTask } from "./task_runner.js";

function postResult(id, result) {
  const buffers = result.type === "exited" ? result.artifacts.filter((a) => a.data).map((a) => a.data.buffer) : [];
  self.postMessage({ type: "result", id, result }, buffers);
}

self.onmessage = ({ data: message }) => {
  if (message?.type !== "run") return;
  const { id, module, kinds, task } = message;
  try {
    postResult(id, runTask(module, task, kinds, (stream, data) => self.postMessage({ type: "output", id, stream, data }, [data.buffer])));
  } catch (error) {
    postResult(id, { type: "failed", kind: kinds.Internal, message: error instanceof Error ? error.message : String(error) });
  }
};
