// A pool of Web Workers, each running one task at a time (worker.js). Each worker may also
// hold the next task, posted while the current one runs (`DEPTH`): it starts the moment the
// current one ends, without waiting for the page's main thread. Enforces the wall-clock
// timeout by terminating the worker and starting a fresh one (the task behind is posted again
// to the fresh one), with one timer per worker re-armed at most about once a second while
// tasks keep coming (not set and cleared per task); collects streamed output. Each worker
// keeps the error kinds and the modules it was sent, so a task's message carries the task
// alone.

const workerUrl = new URL("./provider-worker.js", import.meta.url);

/** Tasks a worker holds at once: the one it runs and the next. */
export const DEPTH = 2;

/**
 * A task that starts re-arms its worker's deadline timer when the armed time is this much
 * earlier than its own deadline (at most once per this many ms while tasks keep coming), so
 * that the timer is nearly always set from a message handler: timers set from timer callbacks
 * form chains, which Chrome throttles to one wake-up a minute in pages hidden for 5 minutes.
 */
const REARM_AFTER_MS = 1000;

/**
 * One worker slot: its Worker and the tasks posted to it, in order; the first runs. A task
 * cancelled while it waits behind another is dropped when its turn comes.
 */
class Slot {
  constructor(pool, index) {
    this.pool = pool;
    this.index = index;
    this.queue = [];
    this.retire = false;
    /** The timer that checks the running task's deadline, or null. */
    this.timer = null;
    this.timerAt = 0;
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

  /** The running task, or null. */
  get task() {
    return this.queue[0] ?? null;
  }

  /** Tasks posted and not cancelled. */
  get load() {
    return this.queue.filter((entry) => !entry.cancelled).length;
  }

  run(task, module) {
    const entry = { id: task.id, artifacts: task.artifacts, limits: task.limits, stdout: [], stderr: [], deadline: 0, cancelled: false };
    entry.post = { task, module };
    const first = this.queue.length === 0;
    this.queue.push(entry);
    // The first task's buffers move to the worker; one behind keeps its own until it starts,
    // in case a timeout replaces the worker and it must be posted again.
    this.post(entry, first);
    if (first) this.started(entry);
  }

  post(entry, transfer) {
    const { task, module } = entry.post;
    const sent = this.modules.has(task.module);
    this.modules.add(task.module);
    const message = {
      type: "run",
      id: task.id,
      digest: task.module,
      module: sent ? undefined : module,
      task: { args: task.args, envs: task.envs, stdin: task.stdin, files: task.files, artifacts: task.artifacts, limits: task.limits, seed: task.seed },
    };
    this.worker.postMessage(message, transfer ? transferable(task) : []);
    if (transfer) entry.post = null;
  }

  /** `entry` runs now: its timeout counts from here. */
  started(entry) {
    entry.deadline = performance.now() + entry.limits.timeoutMs;
    if (this.timer === null || this.timerAt > entry.deadline || entry.deadline - this.timerAt > REARM_AFTER_MS) this.arm(entry.deadline);
  }

  /** (Re-)arms the timer to fire at `deadline`. */
  arm(deadline) {
    clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(() => this.check(), Math.max(0, deadline - performance.now()));
  }

  /** The timer fired: the running task is stopped if it passed its deadline, else checked again at it. */
  check() {
    this.timer = null;
    const task = this.task;
    if (!task) return;
    if (task.deadline <= performance.now()) this.timeout();
    else this.arm(task.deadline);
  }

  /** Stops the deadline checks (the worker is gone). */
  stopTimer() {
    clearTimeout(this.timer);
    this.timer = null;
  }

  /** Tells the worker to drop a module the provider no longer holds. */
  forget(digest) {
    if (this.modules.delete(digest)) this.worker.postMessage({ type: "forget", digest });
  }

  message(data) {
    const task = this.task;
    if (!task || data.id !== task.id) return;
    if (data.type === "output") (data.stream === 1 ? task.stdout : task.stderr).push(data.data);
    else if (data.type === "result") this.finish(data.result);
  }

  timeout() {
    const task = this.queue.shift();
    this.restart(`task ${task.id} passed its timeout`);
    const message = `the task ran longer than its timeout of ${task.limits.timeoutMs} ms and was stopped`;
    this.report(task, { type: "failed", kind: this.pool.kinds.Timeout, message });
  }

  /**
   * Stops whatever runs: the worker is terminated and replaced; the tasks behind are posted
   * again and the first of them starts.
   */
  restart(why) {
    this.worker.terminate();
    this.pool.log(`worker ${this.index} replaced: ${why}`);
    this.pool.restarts += 1;
    this.spawn();
    this.queue = this.queue.filter((entry) => !entry.cancelled);
    for (const entry of this.queue) this.post(entry, false);
    if (this.task) this.started(this.task);
  }

  /** Stops task `id`: at once if it runs, else when its turn comes. */
  cancel(id) {
    const entry = this.queue.find((e) => e.id === id);
    if (!entry) return;
    entry.cancelled = true;
    if (entry === this.task) {
      this.queue.shift();
      this.restart(`task ${id} was cancelled`);
    }
    this.pool.changed();
  }

  /** The running task ended: reported, and the next starts (or, if cancelled, the worker is replaced). */
  finish(result) {
    const task = this.queue.shift();
    if (!task) return;
    if (this.task?.cancelled) this.restart(`task ${this.task.id} was cancelled`);
    else if (this.task) this.started(this.task);
    this.report(task, result);
  }

  report(task, result) {
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
    for (const slot of this.slots.filter((s) => s.retire && !s.task)) {
      slot.stopTimer();
      slot.worker.terminate();
    }
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

  /** Tasks the pool holds at once: `DEPTH` per worker. */
  get capacity() {
    return this.size * DEPTH;
  }

  /**
   * Runs `task` (a `run` action) with the compiled `module`: on an idle worker, else behind the
   * task of a worker that holds only one.
   */
  run(task, module) {
    const active = this.active();
    const slot = active.find((s) => s.load === 0) ?? active.find((s) => s.load < DEPTH);
    if (!slot) return false;
    slot.run(task, module);
    this.changed();
    return true;
  }

  cancel(id) {
    this.slots.find((s) => s.queue.some((entry) => entry.id === id))?.cancel(id);
  }

  /** Every worker drops the module `digest`. */
  forget(digest) {
    for (const slot of this.slots) slot.forget(digest);
  }

  /** Stops every running task and every worker. */
  terminate() {
    for (const slot of this.slots) {
      slot.stopTimer();
      slot.worker.terminate();
    }
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
