// A pool of Web Workers, each running one task at a time (worker.js). Enforces the wall-clock
// timeout by terminating the worker and starting a fresh one; collects streamed output. Each
// worker keeps the error kinds and the modules it was sent, so a task's message carries the
// task alone, its buffers transferred.

const workerUrl = new URL("./provider-worker.js", import.meta.url);

/** One worker slot: its Worker, and the task it runs (or null). */
class Slot {
  constructor(pool, index) {
    this.pool = pool;
    this.index = index;
    this.task = null;
    this.retire = false;
    this.spawn();
  }

  spawn() {
    this.worker = new Worker(workerUrl, { type: "module", name: `wasimoff worker ${this.index}` });
    this.worker.onmessage = (event) => this.message(event.data);
    this.worker.onerror = (event) => this.finish({ type: "failed", kind: this.pool.kinds.Internal, message: `worker error: ${event.message}` });
    this.worker.postMessage({ type: "init", kinds: this.pool.kinds });
    /** Digests of the modules this worker holds. */
    this.modules = new Set();
  }

  run(task, module) {
    this.task = { id: task.id, artifacts: task.artifacts, limits: task.limits, stdout: [], stderr: [], timer: null };
    this.task.timer = setTimeout(() => this.timeout(), task.limits.timeoutMs);
    const sent = this.modules.has(task.module);
    this.modules.add(task.module);
    const message = {
      type: "run",
      id: task.id,
      digest: task.module,
      module: sent ? undefined : module,
      task: { args: task.args, envs: task.envs, stdin: task.stdin, files: task.files, artifacts: task.artifacts, limits: task.limits },
    };
    this.worker.postMessage(message, transferable(task));
  }

  /** Tells the worker to drop a module the provider no longer holds. */
  forget(digest) {
    if (this.modules.delete(digest)) this.worker.postMessage({ type: "forget", digest });
  }

  message(data) {
    if (!this.task || data.id !== this.task.id) return;
    if (data.type === "output") (data.stream === 1 ? this.task.stdout : this.task.stderr).push(data.data);
    else if (data.type === "result") this.finish(data.result);
  }

  timeout() {
    const ms = this.task.limits.timeoutMs;
    this.restart(`task ${this.task.id} passed its timeout`);
    this.finish({ type: "failed", kind: this.pool.kinds.Timeout, message: `the task ran longer than its timeout of ${ms} ms and was stopped` });
  }

  /** Stops whatever runs: the worker is terminated and replaced. */
  restart(why) {
    this.worker.terminate();
    this.pool.log(`worker ${this.index} replaced: ${why}`);
    this.pool.restarts += 1;
    this.spawn();
  }

  cancel() {
    if (!this.task) return;
    this.restart(`task ${this.task.id} was cancelled`);
    clearTimeout(this.task.timer);
    this.task = null;
    this.pool.changed();
  }

  finish(result) {
    const task = this.task;
    if (!task) return;
    clearTimeout(task.timer);
    this.task = null;
    this.pool.done(task, { ...result, stdout: concat(task.stdout), stderr: concat(task.stderr) });
  }
}

/** The task's own buffers (stdin, files), each once: moved to the worker, not copied. */
function transferable(task) {
  const views = [task.stdin, ...task.files.map((file) => file.data)].filter(Boolean);
  const whole = views.filter((view) => view.byteOffset === 0 && view.byteLength === view.buffer.byteLength);
  return [...new Set(whole.map((view) => view.buffer))];
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * Workers that run tasks; `ondone(task, result)` gets every finished task. `kinds` are the
 * core's task error kinds (`errorKinds()`), handed on to every worker.
 */
export class WorkerPool {
  constructor({ size, kinds, ondone, onlog, onchange }) {
    this.slots = [];
    this.kinds = kinds;
    this.restarts = 0;
    this.ondone = ondone;
    this.log = onlog;
    this.changed = onchange;
    this.resize(size);
  }

  /** Grows or shrinks to `size` workers; busy workers leave when their task is done. */
  resize(size) {
    for (const slot of this.slots) slot.retire = false;
    while (this.active().length < size) this.slots.push(new Slot(this, this.slots.length + 1));
    const extra = this.active().length - size;
    const idleFirst = [...this.active()].sort((a, b) => (a.task ? 1 : 0) - (b.task ? 1 : 0)).slice(0, extra);
    for (const slot of idleFirst) slot.retire = true;
    this.sweep();
  }

  active() {
    return this.slots.filter((slot) => !slot.retire);
  }

  sweep() {
    for (const slot of this.slots.filter((s) => s.retire && !s.task)) slot.worker.terminate();
    this.slots = this.slots.filter((s) => !s.retire || s.task);
    this.slots.forEach((slot, i) => (slot.index = i + 1));
    this.changed();
  }

  get size() {
    return this.active().length;
  }

  get busy() {
    return this.slots.filter((s) => s.task).length;
  }

  /** Runs `task` (a `run` action) with the compiled `module` on an idle worker. */
  run(task, module) {
    const slot = this.active().find((s) => !s.task);
    if (!slot) return false;
    slot.run(task, module);
    this.changed();
    return true;
  }

  cancel(id) {
    this.slots.find((s) => s.task?.id === id)?.cancel();
  }

  /** Every worker drops the module `digest`. */
  forget(digest) {
    for (const slot of this.slots) slot.forget(digest);
  }

  /** Stops every running task and every worker. */
  terminate() {
    for (const slot of this.slots) slot.worker.terminate();
    this.slots = [];
    this.changed();
  }

  done(task, result) {
    this.ondone(task, result);
    this.sweep();
  }

  /** Per worker: its number and the id of the task it runs, or null. */
  snapshot() {
    return this.slots.map((s) => ({ index: s.index, task: s.task ? s.task.id : null, leaving: s.retire }));
  }
}
