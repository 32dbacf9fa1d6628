// provider.js — lends this browser's cores to a wasimoff broker. One line in any page starts it:
//   <script type="module" src="/wasimoff/provider.js"></script>
// Options as data attributes on that tag (data-broker, data-workers, data-paused, data-consent,
// data-autostart="false") or through `start({...})` when imported. See docs/API.md.

import initCore, { Session, errorKinds } from "../pkg/wasimoff_provider_core.js";
import { connectWebSocket, connectWebTransport, hasWebTransport } from "./transport.js";
import { WorkerPool } from "./pool.js";
import { askConsent } from "./consent.js";
export { mountPanel } from "./panel.js";

const CACHED_MODULES = 64;
const BACKOFF_MS = { first: 500, max: 15000 };
const RATE_WINDOW_MS = 10000;
const LOG_LINES = 200;
const WEBTRANSPORT_TIMEOUT_MS = 3000;
/** Heartbeat periods without any frame after which the broker is taken for gone. */
const SILENT_HEARTBEATS = 2.5;
const NO_OUTPUT = new Uint8Array();
/**
 * `change` events are coalesced: at most one per this many ms, so that a busy provider does not
 * redraw its panel per task (each redraw costs the page's main thread, its compositor and the GPU
 * process CPU that the workers could use).
 */
const CHANGE_EVERY_MS = 500;

let coreReady = null;
function loadCore() {
  coreReady ??= initCore({ module_or_path: new URL("./provider-core.wasm", import.meta.url) });
  return coreReady;
}

/** The broker's mount URL: the folder provider.js is served from, unless given. */
function defaultBroker() {
  return new URL(".", import.meta.url).href.replace(/\/$/, "");
}

/**
 * A browser provider. Emits `change` events when its state (see `state()`) changes, at most
 * one per 500 ms.
 * Options: `broker` (mount URL, default: where provider.js came from), `workers` (default:
 * navigator.hardwareConcurrency), `paused` (connect with no workers), `consent` (ask first),
 * `transport` (`auto`: WebTransport when both sides have it, else WebSocket; or `websocket`).
 */
export class Provider extends EventTarget {
  constructor(options = {}) {
    super();
    this.broker = (options.broker ?? defaultBroker()).replace(/\/$/, "");
    this.wanted = Math.max(1, Number(options.workers) || navigator.hardwareConcurrency || 2);
    this.paused = Boolean(options.paused);
    this.consent = Boolean(options.consent);
    this.transportChoice = options.transport === "websocket" ? "websocket" : "auto";
    this.connection = "starting";
    this.transport = null;
    this.providerId = null;
    this.tasksDone = 0;
    this.finishedAt = [];
    this.lines = [];
    /** Compiling or compiled modules by digest (promises), shared by every worker. */
    this.modules = new Map();
    /** The compiled ones, so that a task of a known module starts without waiting a turn. */
    this.compiled = new Map();
    this.stopping = false;
    this.pool = null;
    this.socket = null;
    this.attempt = 0;
    /** The timer that sends the results the core holds back, or null. */
    this.flushTimer = null;
  }

  /** Connects and serves tasks until `stop()`; resolves once it is running. */
  async start() {
    if (this.consent && !(await askConsent(this.broker))) return this.set("declined", "the visitor declined");
    if (navigator.locks) await this.takeLock();
    await loadCore();
    this.kinds = errorKinds();
    this.pool = new WorkerPool({
      size: this.wanted,
      kinds: this.kinds,
      ondone: (task, result) => this.finished(task, result),
      onlog: (line) => this.log(line),
      onchange: () => this.emit(),
    });
    this.session = new Session(CACHED_MODULES, this.pool.capacity);
    addEventListener("pagehide", () => {
      this.flushResults();
      this.socket?.close(1001, "page closed");
    });
    this.connect();
  }

  /** Holds the browser-wide lock for this broker until `stop()`: one provider per browser. */
  takeLock() {
    const name = `wasimoff-provider ${this.broker}`;
    const hold = () => new Promise((release) => (this.releaseLock = release));
    return new Promise((acquired) => {
      navigator.locks.request(name, { ifAvailable: true }, (lock) => {
        if (lock) return acquired(), hold();
        this.set("standby", "standby: another tab of this browser is the provider");
        navigator.locks.request(name, () => (acquired(), hold()));
      });
    });
  }

  /** What the broker offers (`{prefix}/provider/info`), or null if it does not say. */
  async offers() {
    try {
      const response = await fetch(`${this.broker}/provider/info`, { cache: "no-store" });
      return response.ok ? await response.json() : null;
    } catch {
      return null;
    }
  }

  /** WebTransport if the browser and the broker have it, else (or if it fails) WebSocket. */
  async open() {
    const offers = this.transportChoice === "auto" && hasWebTransport ? await this.offers() : null;
    const webtransport = offers?.webtransport;
    if (webtransport) {
      const url = `https://${new URL(this.broker).hostname}:${webtransport.port}${webtransport.path}`;
      try {
        this.log(`connecting to ${url} (WebTransport)`);
        return await connectWebTransport(url, webtransport.certificate_hashes, WEBTRANSPORT_TIMEOUT_MS);
      } catch (error) {
        this.log(`WebTransport failed (${error.message}); falling back to WebSocket`);
      }
    }
    const url = `${this.broker.replace(/^http/, "ws")}/provider/ws`;
    this.log(`connecting to ${url}`);
    return connectWebSocket(url);
  }

  async connect() {
    this.set(this.attempt ? "reconnecting" : "connecting", "connecting");
    try {
      this.socket = await this.open();
    } catch (error) {
      return this.retry(error.message);
    }
    const socket = this.socket;
    this.transport = socket.name;
    this.lastFrame = performance.now();
    socket.onframe = (frame) => {
      this.lastFrame = performance.now();
      this.receive(frame);
    };
    socket.onclose = (reason) => socket === this.socket && this.closed(reason);
    this.send(this.session.hello(navigator.userAgent, this.announced()));
  }

  /**
   * Notices a broker that vanished without closing the connection (a restarted broker never
   * answers an old QUIC connection): silence past a few heartbeats counts as a lost connection.
   */
  watch(heartbeatMs) {
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => {
      const socket = this.socket;
      if (!socket || performance.now() - this.lastFrame < SILENT_HEARTBEATS * heartbeatMs) return;
      clearInterval(this.watchdog);
      socket.close(1001, "no heartbeat from the broker");
      this.closed(`no heartbeat for ${Math.round(SILENT_HEARTBEATS * heartbeatMs)} ms`);
    }, heartbeatMs);
  }

  retry(reason) {
    this.socket = null;
    if (this.stopping) return;
    const delay = Math.min(BACKOFF_MS.max, BACKOFF_MS.first * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    this.set("reconnecting", `${reason}; retrying in ${Math.round(delay)} ms`);
    setTimeout(() => this.connect(), delay);
  }

  /**
   * The connection is gone: its tasks, running and queued, are the broker's to requeue, so the
   * workers start afresh.
   */
  closed(reason) {
    clearInterval(this.watchdog);
    this.socket = null;
    this.providerId = null;
    this.modules.clear();
    this.compiled.clear();
    this.pool.terminate();
    clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.session = new Session(CACHED_MODULES, 0);
    if (this.stopping) return this.set("stopped", `disconnected: ${reason}`);
    this.pool.resize(this.wanted);
    this.session.setSlots(this.pool.capacity);
    this.retry(`connection lost: ${reason}`);
  }

  send(frame) {
    this.socket?.send(frame);
  }

  /** Workers the broker may use now. */
  announced() {
    return this.paused || this.stopping ? 0 : this.pool.size;
  }

  receive(frame) {
    let actions;
    try {
      actions = this.session.receive(frame);
    } catch (error) {
      this.log(`bad frame from the broker: ${error.message}`);
      return this.socket?.close(1002, "malformed frame");
    }
    for (const action of actions) this.act(action);
  }

  act(action) {
    switch (action.type) {
      case "welcome":
        this.attempt = 0;
        this.providerId = action.providerId;
        this.watch(action.heartbeatMs);
        return this.set("connected", `connected over ${this.transport} as ${action.providerId}`);
      case "refused":
        this.stopping = true;
        return this.set("refused", `the broker refused this provider: ${action.reason}`);
      case "send":
        return this.send(action.frame);
      case "cancel":
        this.pool.cancel(action.id);
        return this.checkDrained();
      case "evict":
        return action.digests.forEach((digest) => this.forgetModule(digest));
      case "module":
        return this.compile(action.digest, action.bytes);
      case "run":
        return this.run(action);
    }
  }

  /** Compiles a module once for every worker; tasks of it wait for the promise. */
  compile(digest, bytes) {
    const compiling = WebAssembly.compile(bytes);
    this.modules.set(digest, compiling);
    compiling.then(
      (module) => this.modules.get(digest) === compiling && this.compiled.set(digest, module),
      () => {},
    );
  }

  forgetModule(digest) {
    this.modules.delete(digest);
    this.compiled.delete(digest);
    this.pool.forget(digest);
  }

  /**
   * Runs a task the core handed over (it has a free worker for it) once its module is compiled:
   * at once if it is, else after the compile, unless the task was cancelled meanwhile.
   */
  async run(task) {
    const compiled = this.compiled.get(task.module);
    if (compiled) return this.dispatch(task, compiled);
    const session = this.session;
    const compiling = this.modules.get(task.module);
    if (!compiling) return this.fail(task.id, this.kinds.Internal, `module ${task.module} is not cached`);
    let module;
    try {
      module = await compiling;
    } catch (error) {
      if (session !== this.session) return;
      if (this.modules.get(task.module) === compiling) {
        this.forgetModule(task.module);
        this.send(this.session.forget(task.module));
      }
      return this.fail(task.id, this.kinds.InvalidModule, error.message);
    }
    if (session === this.session && session.isRunning(task.id)) this.dispatch(task, module);
  }

  dispatch(task, module) {
    if (!this.pool.run(task, module)) this.fail(task.id, this.kinds.Internal, "no idle worker on this provider");
  }

  /** Answers a task that did not reach a worker, and gives its place to the next. */
  fail(id, kind, message) {
    this.next(id);
    this.sendResult(this.session.failed(id, kind, message, NO_OUTPUT, NO_OUTPUT));
  }

  /**
   * Sends the frames the core gives for a result. While every worker still has a task to go on
   * with, the core holds results back to send several in one frame (protocol version 2); what
   * it holds goes out with the next result sent, or from a timer after `resultHoldMs`.
   */
  sendResult(frames) {
    for (const frame of frames) this.send(frame);
    if (!this.session.holding || this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.flushResults(), this.session.resultHoldMs);
  }

  /** Sends the results the core holds back, if any. */
  flushResults() {
    clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const frame = this.session?.flush();
    if (frame) this.send(frame);
  }

  /** Task `id` no longer holds a worker: the core hands over the next waiting task, if any. */
  next(id) {
    for (const action of this.session.finished(id)) this.act(action);
    this.checkDrained();
  }

  /** While stopping: resolves `stop()`'s wait once no task runs or waits. */
  checkDrained() {
    if (this.stopping && this.session.pending() === 0) this.drained?.();
  }

  finished(task, result) {
    this.next(task.id);
    const frames =
      result.type === "exited"
        ? this.session.exited(task.id, result.status, result.stdout, result.stderr, task.artifacts.length ? result.artifacts : null,
            result.missing, task.limits.artifactBytes, result.elapsedUs)
        : this.session.failed(task.id, result.kind, result.message, result.stdout, result.stderr);
    this.sendResult(frames);
    this.log(`task ${task.id}: ${result.type === "exited" ? `exit ${result.status}` : result.kind}`);
    this.tasksDone += 1;
    this.finishedAt.push(performance.now());
    this.forgetOldFinishes();
  }

  /** Sets the number of workers (at least one). */
  setWorkers(count) {
    this.wanted = Math.max(1, Math.floor(count));
    if (this.pool) {
      this.pool.resize(this.wanted);
      for (const action of this.session.setSlots(this.pool.capacity)) this.act(action);
    }
    this.send(this.session.workers(this.announced()));
    this.log(`workers: ${this.wanted}`);
  }

  /** Stops taking tasks; running tasks finish. */
  pause() {
    this.paused = true;
    this.send(this.session.workers(0));
    this.set(this.connection, "paused");
  }

  /** Takes tasks again after `pause()`. */
  resume() {
    this.paused = false;
    this.send(this.session.workers(this.announced()));
    this.set(this.connection, "resumed");
  }

  /** Stops taking tasks, lets running and queued tasks finish, then disconnects. */
  async stop() {
    this.stopping = true;
    this.send(this.session.workers(0));
    if (this.session?.pending()) {
      this.log(`draining ${this.session.pending()} running or queued task(s)`);
      await new Promise((resolve) => (this.drained = resolve));
    }
    this.socket?.close(1000, "provider stopped");
    this.pool?.terminate();
    this.releaseLock?.();
    this.set("stopped", "stopped");
  }

  /** Keeps only the finishing times inside the rate window (oldest first). */
  forgetOldFinishes() {
    const since = performance.now() - RATE_WINDOW_MS;
    const old = this.finishedAt.findIndex((t) => t >= since);
    this.finishedAt.splice(0, old === -1 ? this.finishedAt.length : old);
  }

  /** A snapshot for displays and tests. */
  state() {
    this.forgetOldFinishes();
    return {
      connection: this.connection,
      transport: this.transport,
      providerId: this.providerId,
      paused: this.paused,
      workers: this.pool ? this.pool.snapshot() : [],
      busy: this.pool ? this.pool.busy : 0,
      queued: this.session ? this.session.pending() - (this.pool ? this.pool.busy : 0) : 0,
      restarts: this.pool ? this.pool.restarts : 0,
      modulesCached: this.modules.size,
      tasksDone: this.tasksDone,
      tasksPerSecond: this.finishedAt.length / (RATE_WINDOW_MS / 1000),
      log: this.lines,
    };
  }

  set(connection, line) {
    this.connection = connection;
    this.log(line);
  }

  log(line) {
    this.lines.push(`${this.clock()} ${line}`);
    if (this.lines.length > LOG_LINES) this.lines.splice(0, this.lines.length - LOG_LINES);
    this.emit();
  }

  /** The local time of day, formatted once per second. */
  clock() {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.clockSecond) [this.clockSecond, this.clockText] = [second, new Date().toLocaleTimeString()];
    return this.clockText;
  }

  /** Announces a change; several within `CHANGE_EVERY_MS` make one `change` event. */
  emit() {
    if (this.changeTimer) return;
    this.changeTimer = setTimeout(() => {
      this.changeTimer = null;
      this.dispatchEvent(new Event("change"));
    }, CHANGE_EVERY_MS);
  }
}

/** Creates and starts a provider; see `Provider` for the options. */
export function start(options = {}) {
  const provider = new Provider(options);
  provider.start();
  return provider;
}

/** The `<script src=".../provider.js">` tag that loaded this module, if any. */
function ownScriptTag() {
  return [...document.querySelectorAll("script[src]")].find((s) => s.src === import.meta.url) ?? null;
}

function autostart() {
  const tag = ownScriptTag();
  if (!tag || tag.dataset.autostart === "false") return;
  const d = tag.dataset;
  window.wasimoffProvider = start({
    broker: d.broker,
    workers: d.workers,
    paused: d.paused !== undefined && d.paused !== "false",
    transport: d.transport,
    consent: d.consent !== "false",
  });
}

autostart();
