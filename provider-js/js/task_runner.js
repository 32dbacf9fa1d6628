// Runs one WASI preview 1 task with @bjorn3/browser_wasi_shim so that its stdout, stderr, exit
// status and artifacts are exactly those of the broker's wasmtime runner (src/runner/execute.rs,
// output.rs, sandbox.rs). No DOM or Worker APIs: worker.js calls it, and node tests import it.

import { WASI, WASIProcExit, Fd, File, Directory, OpenFile, OpenDirectory, PreopenDirectory, wasi } from "@bjorn3/browser_wasi_shim";

const PAGE_BYTES = 65536;
const MAX_PAGES = 65536; // a wasm32 memory never has more
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Thrown from a write that crosses the output cap; it unwinds the guest at once. */
class OutputLimitExceeded extends Error {}

/** stdout or stderr: hands what fits under the cap to `onOutput`, throws past it (output.rs). */
class CappedOutput extends Fd {
  constructor(stream, limit, onOutput) {
    super();
    this.stream = stream;
    this.limit = limit;
    this.room = limit;
    this.onOutput = onOutput;
  }

  fd_write(data) {
    // A copy of its own: the callee may transfer it, and the shim still reads `data` afterwards.
    const kept = data.slice(0, this.room);
    const truncated = kept.length < data.length;
    this.room -= kept.length;
    if (kept.length > 0) this.onOutput(this.stream, kept);
    if (truncated) {
      const name = this.stream === 1 ? "stdout" : "stderr";
      throw new OutputLimitExceeded(`${name} exceeded the output limit of ${this.limit} bytes; the output is truncated`);
    }
    return { ret: wasi.ERRNO_SUCCESS, nwritten: data.length };
  }

  // wasmtime describes a stdio stream that is no terminal as type "unknown", writable only.
  fd_fdstat_get() {
    const fdstat = new wasi.Fdstat(wasi.FILETYPE_UNKNOWN, 0);
    fdstat.fs_rights_base = fdstat.fs_rights_inherited = BigInt(wasi.RIGHTS_FD_WRITE);
    return { ret: wasi.ERRNO_SUCCESS, fdstat };
  }

  fd_filestat_get() {
    return { ret: wasi.ERRNO_SUCCESS, filestat: new wasi.Filestat(0n, wasi.FILETYPE_UNKNOWN, 0n) };
  }
}

const parts = (path) => path.split("/").filter(Boolean);

/** The task's `/`: `files` applied in order, parents made as needed (Sandbox::create). */
function buildRoot(files) {
  const root = new Directory(new Map());
  const subdirectory = (dir, name, path) => {
    let entry = dir.contents.get(name);
    if (entry === undefined) dir.contents.set(name, (entry = new Directory(new Map())));
    if (!(entry instanceof Directory)) throw new Error(`task directory: ${path}: ${name} is a file`);
    return entry;
  };
  for (const { path, data } of files) {
    const names = parts(path);
    const last = names.pop();
    const parent = names.reduce((dir, name) => subdirectory(dir, name, path), root);
    if (last === undefined) continue; // the root itself
    if (data === null) subdirectory(parent, last, path);
    else if (parent.contents.get(last) instanceof Directory) throw new Error(`task directory: ${path} is a directory`);
    else parent.contents.set(last, new File(data)); // File copies `data`
  }
  return root;
}

/** Adds `entry` at `path` to `found` like Sandbox::collect: a directory as `path/` and all below it. */
function addArtifact(found, path, entry) {
  if (entry instanceof Directory) {
    found.push({ path: `${path}/`, data: null });
    for (const [name, child] of entry.contents) addArtifact(found, `${path}/${name}`, child);
  } else if (entry instanceof File) {
    found.push({ path, data: entry.data.slice() });
  } else {
    return false;
  }
  return true;
}

function collect(root, artifacts) {
  const found = [];
  const missing = [];
  for (const [path, requested] of artifacts) {
    let entry = root;
    for (const name of parts(path)) entry = entry instanceof Directory ? entry.contents.get(name) : undefined;
    if (!addArtifact(found, path, entry)) missing.push(requested);
  }
  return { artifacts: found, missing };
}

// The path arguments of the shim's path imports, as [dir fd index, path pointer index] (the length follows).
const PATH_ARGS = {
  path_create_directory: [[0, 1]],
  path_filestat_get: [[0, 2]],
  path_link: [[0, 2], [4, 5]],
  path_open: [[0, 2]],
  path_remove_directory: [[0, 1]],
  path_rename: [[0, 1], [3, 4]],
  path_unlink_file: [[0, 1]],
};

/**
 * What wasmtime answers for `path` below `dir` before its last `..`, or 0. The shim drops
 * `name/..` without looking, so `missing/../x` or `file/../x` would succeed; and for a path that
 * leaves `dir` (absolute, or `..` above it) it answers ENOTCAPABLE where wasmtime answers EPERM
 * (Rust: PermissionDenied). Past the last `..` the shim's own lookup agrees with wasmtime.
 */
function walkErrno(dir, path) {
  if (path.startsWith("/")) return wasi.ERRNO_PERM;
  const names = path.split("/");
  const stack = [dir];
  for (const name of names.slice(0, names.lastIndexOf("..") + 1)) {
    const top = stack[stack.length - 1];
    if (!(top instanceof Directory)) return wasi.ERRNO_NOTDIR;
    if (name === "..") {
      if (stack.length === 1) return wasi.ERRNO_PERM;
      stack.pop();
    } else if (name !== "" && name !== ".") {
      const child = top.contents.get(name);
      if (child === undefined) return wasi.ERRNO_NOENT;
      stack.push(child);
    }
  }
  return wasi.ERRNO_SUCCESS;
}

/** The shim's imports, corrected where they answer differently from wasmtime. */
function importsFor(shim, args) {
  const imports = { ...shim.wasiImport };
  const memory = () => shim.inst.exports.memory.buffer;
  const text = (ptr, len) => decoder.decode(new Uint8Array(memory(), ptr, len));
  const lookup = (fd, ptr, len) => {
    const dir = shim.fds[fd];
    return dir instanceof OpenDirectory ? dir.path_lookup(text(ptr, len), 0).inode_obj : null;
  };
  const { path_create_directory: createDirectory, path_open: open } = imports;
  // mkdir of an existing path: wasmtime answers EEXIST; the shim succeeds (or ENOTDIR for a file).
  imports.path_create_directory = (fd, ptr, len) => (lookup(fd, ptr, len) ? wasi.ERRNO_EXIST : createDirectory(fd, ptr, len));
  // Opening a directory for writing (not as a directory): wasmtime answers EISDIR; the shim opens it.
  imports.path_open = (fd, dirflags, ptr, len, oflags, rights, ...rest) => {
    const writes = oflags & (wasi.OFLAGS_CREAT | wasi.OFLAGS_TRUNC) || (rights & BigInt(wasi.RIGHTS_FD_WRITE)) !== 0n;
    const exclusive = oflags & wasi.OFLAGS_CREAT && oflags & wasi.OFLAGS_EXCL; // EEXIST, as the shim says
    if (writes && !exclusive && !(oflags & wasi.OFLAGS_DIRECTORY) && lookup(fd, ptr, len) instanceof Directory) return wasi.ERRNO_ISDIR;
    return open(fd, dirflags, ptr, len, oflags, rights, ...rest);
  };
  // Checked first, so the corrections above only see paths that stay inside their directory.
  for (const [name, paths] of Object.entries(PATH_ARGS)) {
    const call = imports[name];
    imports[name] = (...a) => {
      for (const [fd, ptr] of paths) {
        const dir = shim.fds[a[fd]];
        const errno = dir instanceof OpenDirectory ? walkErrno(dir.dir, text(a[ptr], a[ptr + 1])) : wasi.ERRNO_SUCCESS;
        if (errno !== wasi.ERRNO_SUCCESS) return errno;
      }
      return call(...a);
    };
  }
  // The shim writes a filestat's times at offsets 38/46/52 instead of 40/48/56, leaving the last
  // 4 bytes of ctim as whatever the guest had there; its times are all 0, so zero ctim fully.
  for (const [name, at] of [["fd_filestat_get", 1], ["path_filestat_get", 4]]) {
    const call = imports[name];
    imports[name] = (...a) => {
      const errno = call(...a);
      if (errno === wasi.ERRNO_SUCCESS) new DataView(memory()).setBigUint64(a[at] + 56, 0n, true);
      return errno;
    };
  }
  // Tasks have no sockets: the shim throws on every socket call, wasmtime answers EBADF for a
  // descriptor that is not open and ENOTSOCK for any other.
  for (const name of ["sock_accept", "sock_recv", "sock_send", "sock_shutdown"]) {
    imports[name] = (fd) => (shim.fds[fd] === undefined ? wasi.ERRNO_BADF : wasi.ERRNO_NOTSOCK);
  }
  // The shim sizes argv in UTF-16 units but writes UTF-8; count UTF-8 bytes like wasmtime.
  imports.args_sizes_get = (argc, bufSize) => {
    const view = new DataView(memory());
    view.setUint32(argc, args.length, true);
    view.setUint32(bufSize, args.reduce((n, arg) => n + encoder.encode(arg).length + 1, 0), true);
    return wasi.ERRNO_SUCCESS;
  };
  return imports;
}

const failed = (kind, message) => ({ type: "failed", kind, message });
const memoryLimit = (kinds, bytes) => failed(kinds.MemoryLimit, `the task tried to grow its memory past the limit of ${bytes} bytes`);

/** Sorts an exception out of instantiation or `_start` in execute.rs's order. */
function failure(kinds, error, limitHit, memoryBytes) {
  if (error instanceof OutputLimitExceeded) return failed(kinds.OutputLimit, error.message);
  if (limitHit?.value === 1) return memoryLimit(kinds, memoryBytes);
  if (error instanceof WebAssembly.LinkError) return failed(kinds.Internal, `cannot link the module: ${error.message}`);
  // wasmtime's proc_exit refuses statuses outside [0, 126) with an error, not an exit.
  if (error instanceof WASIProcExit) return failed(kinds.Trap, "exit with invalid exit status outside of [0..126)");
  return failed(kinds.Trap, error instanceof Error ? error.message : String(error));
}

/**
 * Runs `task` with the compiled `module`, synchronously, and returns its result:
 * `{type: "exited", status, artifacts: [{path, data: Uint8Array|null}], missing: [requested], elapsedUs}`
 * or `{type: "failed", kind, message}` with `kind` one of `kinds` (the core's `errorKinds()`):
 * Trap, OutputLimit, MemoryLimit, MissingStart or Internal.
 * `onOutput(stream, bytes)` (stream 1 or 2) gets every write's kept bytes as a fresh copy, as it
 * happens; empty writes are not reported.
 */
export function runTask(module, task, kinds, onOutput) {
  const { args, envs, stdin, files, artifacts, limits } = task;
  if (!WebAssembly.Module.exports(module).some((e) => e.name === "_start" && e.kind === "function")) {
    return failed(kinds.MissingStart, "the module exports no `_start` function: it is not a WASI command");
  }
  let root;
  try {
    root = new PreopenDirectory("/", buildRoot(files).contents);
  } catch (error) {
    return failed(kinds.Internal, error.message);
  }
  const fds = [
    new OpenFile(new File(stdin, { readonly: true })),
    new CappedOutput(1, limits.outputBytes, onOutput),
    new CappedOutput(2, limits.outputBytes, onOutput),
    root,
  ];
  const shim = new WASI(args, envs, fds, { debug: false });
  const started = performance.now();
  let limitHit = null;
  let status = 0;
  try {
    const instance = new WebAssembly.Instance(module, { wasi_snapshot_preview1: importsFor(shim, args) });
    const { memory, wasimoff_memory_limit_pages: limitPages, wasimoff_memory_limit_hit: hit } = instance.exports;
    if (memory instanceof WebAssembly.Memory && memory.buffer.byteLength > limits.memoryBytes) return memoryLimit(kinds, limits.memoryBytes);
    // Instrumented by the Rust core: its memory.grow fails past `limitPages` and sets `hit`.
    if (limitPages instanceof WebAssembly.Global && hit instanceof WebAssembly.Global) {
      limitPages.value = Math.min(Math.floor(limits.memoryBytes / PAGE_BYTES), MAX_PAGES);
      limitHit = hit;
    }
    shim.inst = instance;
    instance.exports._start();
  } catch (error) {
    if (!(error instanceof WASIProcExit) || error.code >>> 0 >= 126) return failure(kinds, error, limitHit, limits.memoryBytes);
    status = error.code;
  }
  const elapsedUs = Math.round((performance.now() - started) * 1000);
  return { type: "exited", status, ...collect(root.dir, artifacts), elapsedUs };
}
