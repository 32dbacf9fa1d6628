// js/wasi/constants.js
var ERRNO = Object.freeze({
  SUCCESS: 0,
  BADF: 8,
  BUSY: 10,
  EXIST: 20,
  FBIG: 22,
  ILSEQ: 25,
  INTR: 27,
  INVAL: 28,
  ISDIR: 31,
  LOOP: 32,
  NAMETOOLONG: 37,
  NOENT: 44,
  NOSPC: 51,
  NOTDIR: 54,
  NOTEMPTY: 55,
  NOTSOCK: 57,
  NOTSUP: 58,
  PERM: 63,
  SPIPE: 70
});
var WasiError = class extends Error {
  constructor(errno) {
    super(`WASI errno ${errno}`);
    this.errno = errno;
  }
};
function fail(errno) {
  throw new WasiError(errno);
}
var RIGHTS = Object.freeze({
  FD_DATASYNC: 1n << 0n,
  FD_READ: 1n << 1n,
  FD_SEEK: 1n << 2n,
  FD_FDSTAT_SET_FLAGS: 1n << 3n,
  FD_SYNC: 1n << 4n,
  FD_TELL: 1n << 5n,
  FD_WRITE: 1n << 6n,
  FD_ADVISE: 1n << 7n,
  FD_ALLOCATE: 1n << 8n,
  PATH_CREATE_DIRECTORY: 1n << 9n,
  PATH_CREATE_FILE: 1n << 10n,
  PATH_LINK_SOURCE: 1n << 11n,
  PATH_LINK_TARGET: 1n << 12n,
  PATH_OPEN: 1n << 13n,
  FD_READDIR: 1n << 14n,
  PATH_READLINK: 1n << 15n,
  PATH_RENAME_SOURCE: 1n << 16n,
  PATH_RENAME_TARGET: 1n << 17n,
  PATH_FILESTAT_GET: 1n << 18n,
  PATH_FILESTAT_SET_SIZE: 1n << 19n,
  PATH_FILESTAT_SET_TIMES: 1n << 20n,
  FD_FILESTAT_GET: 1n << 21n,
  FD_FILESTAT_SET_SIZE: 1n << 22n,
  FD_FILESTAT_SET_TIMES: 1n << 23n,
  PATH_SYMLINK: 1n << 24n,
  PATH_REMOVE_DIRECTORY: 1n << 25n,
  PATH_UNLINK_FILE: 1n << 26n,
  POLL_FD_READWRITE: 1n << 27n
});
var ALL_RIGHTS = (1n << 30n) - 1n;
var FILETYPE = Object.freeze({ UNKNOWN: 0, DIRECTORY: 3, REGULAR_FILE: 4, SYMBOLIC_LINK: 7 });
var FDFLAGS = Object.freeze({ APPEND: 1, DSYNC: 2, NONBLOCK: 4, RSYNC: 8, SYNC: 16, ALL: 31 });
var OFLAGS = Object.freeze({ CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8, ALL: 15 });
var LOOKUP_SYMLINK_FOLLOW = 1;
var FSTFLAGS = Object.freeze({ ATIM: 1, ATIM_NOW: 2, MTIM: 4, MTIM_NOW: 8, ALL: 15 });
var WHENCE = Object.freeze({ SET: 0, CUR: 1, END: 2 });
var CLOCK = Object.freeze({ REALTIME: 0, MONOTONIC: 1, PROCESS_CPUTIME: 2, THREAD_CPUTIME: 3 });
var EVENTTYPE = Object.freeze({ CLOCK: 0, FD_READ: 1, FD_WRITE: 2 });
var SUBSCRIPTION_CLOCK_ABSTIME = 1;
var EVENT_FD_READWRITE_HANGUP = 1;
var ADVICE_MAX = 5;
var RIFLAGS_ALL = 3;
var SDFLAGS_ALL = 3;

// js/wasi/clock.js
var NS_PER_MS = 1e6;
var U64_MAX = (1n << 64n) - 1n;
var REALTIME_START_NS = 946684800000000000n;
var CLOCK_STEP_NS = 1000n;
var virtualNs = null;
function useVirtualTime(on) {
  virtualNs = on ? 0n : null;
}
var isVirtual = () => virtualNs !== null;
var saturate = (value) => value > U64_MAX ? U64_MAX : value < 0n ? 0n : value;
var virtualNow = () => virtualNs;
function advanceVirtualTo(at) {
  if (at > virtualNs) virtualNs = at;
}
function realtimeNs() {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * NS_PER_MS));
}
function monotonicNs() {
  return BigInt(Math.round(performance.now() * NS_PER_MS));
}
function readClock(realtime) {
  if (virtualNs === null) return realtime ? realtimeNs() : monotonicNs();
  const now = virtualNs;
  virtualNs = saturate(virtualNs + CLOCK_STEP_NS);
  return realtime ? saturate(REALTIME_START_NS + now) : now;
}
function fileTimeNs() {
  return virtualNs === null ? realtimeNs() : REALTIME_START_NS;
}
var sleeper = typeof SharedArrayBuffer === "function" ? new Int32Array(new SharedArrayBuffer(4)) : null;
function sleepUntil(deadlineNs) {
  for (let left = deadlineNs - monotonicNs(); left > 0n; left = deadlineNs - monotonicNs()) {
    if (sleeper) Atomics.wait(sleeper, 0, 0, Number(left) / NS_PER_MS);
  }
}

// js/wasi/memory.js
var FILESTAT_BYTES = 64;
var ASCII_FAST_PATH = 64;
var encoder = new TextEncoder();
var decoder = new TextDecoder("utf-8", { fatal: true });
var GuestMemory = class {
  constructor() {
    this.memory = null;
    this.buffer = null;
    this.view = null;
    this.bytes = null;
  }
  bind(memory) {
    this.memory = memory;
  }
  /** Renews the views if the memory grew; call before using `view` or `slice`. */
  refresh() {
    if (this.memory.buffer !== this.buffer) {
      this.buffer = this.memory.buffer;
      this.view = new DataView(this.buffer);
      this.bytes = new Uint8Array(this.buffer);
    }
  }
  /** `len` bytes at `ptr` (a view). */
  slice(ptr, len) {
    return new Uint8Array(this.buffer, ptr >>> 0, len >>> 0);
  }
  /** The UTF-8 string at `ptr`; EILSEQ if it is not UTF-8 (wiggle). */
  text(ptr, len) {
    this.refresh();
    const raw = this.slice(ptr, len);
    if (raw.length <= ASCII_FAST_PATH) {
      let ascii = "";
      for (let i = 0; i < raw.length && raw[i] < 128; i++) ascii += String.fromCharCode(raw[i]);
      if (ascii.length === raw.length) return ascii;
    }
    try {
      return decoder.decode(raw);
    } catch {
      return fail(ERRNO.ILSEQ);
    }
  }
  /** wasmtime reads and writes only the first non-empty buffer of an iovec array. */
  firstBuffer(iovs, count) {
    this.refresh();
    for (let i = 0; i < count >>> 0; i++) {
      const at = (iovs >>> 0) + i * 8;
      const len = this.view.getUint32(at + 4, true);
      if (len !== 0) return this.slice(this.view.getUint32(at, true), len);
    }
    return this.slice(0, 0);
  }
  u32(ptr, value) {
    this.refresh();
    this.view.setUint32(ptr >>> 0, value, true);
  }
  u64(ptr, value) {
    this.refresh();
    this.view.setBigUint64(ptr >>> 0, value, true);
  }
  /** args_get/environ_get: NUL-terminated `strings` from `out`, their addresses at `pointers`. */
  strings(pointers, out, strings) {
    this.refresh();
    let at = out >>> 0;
    strings.forEach((string, i) => {
      this.view.setUint32((pointers >>> 0) + i * 4, at, true);
      const { written } = encoder.encodeInto(string, this.slice(at, this.buffer.byteLength - at));
      this.bytes[at + written] = 0;
      at += written + 1;
    });
  }
  /** A `filestat` of `node` (dev 1, ctim the birth time, as wasmtime); null: stdio, all zero. */
  filestat(ptr, node) {
    this.refresh();
    const at = ptr >>> 0;
    this.slice(at, FILESTAT_BYTES).fill(0);
    if (node === null) return;
    const view = this.view;
    view.setBigUint64(at, 1n, true);
    view.setBigUint64(at + 8, node.ino, true);
    view.setUint8(at + 16, node.filetype);
    view.setBigUint64(at + 24, node.nlink, true);
    view.setBigUint64(at + 32, node.byteSize, true);
    view.setBigUint64(at + 40, node.atim, true);
    view.setBigUint64(at + 48, node.mtim, true);
    view.setBigUint64(at + 56, node.birth, true);
  }
};

// js/wasi/fds.js
var PREOPEN_BASE = RIGHTS.PATH_CREATE_DIRECTORY | RIGHTS.PATH_CREATE_FILE | RIGHTS.PATH_LINK_SOURCE | RIGHTS.PATH_LINK_TARGET | RIGHTS.PATH_OPEN | RIGHTS.FD_READDIR | RIGHTS.PATH_READLINK | RIGHTS.PATH_RENAME_SOURCE | RIGHTS.PATH_RENAME_TARGET | RIGHTS.PATH_SYMLINK | RIGHTS.PATH_REMOVE_DIRECTORY | RIGHTS.PATH_UNLINK_FILE | RIGHTS.PATH_FILESTAT_GET | RIGHTS.PATH_FILESTAT_SET_TIMES | RIGHTS.FD_FILESTAT_GET | RIGHTS.FD_FILESTAT_SET_TIMES;
var PREOPEN_INHERITING = PREOPEN_BASE | RIGHTS.FD_DATASYNC | RIGHTS.FD_READ | RIGHTS.FD_SEEK | RIGHTS.FD_FDSTAT_SET_FLAGS | RIGHTS.FD_SYNC | RIGHTS.FD_TELL | RIGHTS.FD_WRITE | RIGHTS.FD_ADVISE | RIGHTS.FD_ALLOCATE | RIGHTS.FD_FILESTAT_GET | RIGHTS.FD_FILESTAT_SET_SIZE | RIGHTS.FD_FILESTAT_SET_TIMES | RIGHTS.POLL_FD_READWRITE;
var NOT_FOR_DIRECTORIES = RIGHTS.FD_SEEK | RIGHTS.FD_FILESTAT_SET_SIZE | RIGHTS.PATH_FILESTAT_SET_SIZE | RIGHTS.FD_WRITE;
var Fdstat = class {
  constructor(filetype, flags, base, inheriting = base) {
    this.filetype = filetype;
    this.flags = flags;
    this.base = base;
    this.inheriting = inheriting;
  }
};
var StdinDescriptor = class {
  constructor(stream) {
    this.stream = stream;
  }
  fdstat() {
    return new Fdstat(FILETYPE.UNKNOWN, 0, RIGHTS.FD_READ);
  }
};
var OutputDescriptor = class {
  constructor(output) {
    this.output = output;
  }
  fdstat() {
    return new Fdstat(FILETYPE.UNKNOWN, 0, RIGHTS.FD_WRITE);
  }
};
var FileDescriptor = class {
  constructor(file, { readable, writable, append, nonblocking }) {
    this.file = file;
    this.position = 0;
    this.readable = readable;
    this.writable = writable;
    this.append = append;
    this.nonblocking = nonblocking;
  }
  fdstat() {
    let rights = ALL_RIGHTS;
    if (!this.readable) rights &= ~(RIGHTS.FD_READ | RIGHTS.FD_READDIR);
    if (!this.writable) rights &= ~RIGHTS.FD_WRITE;
    const flags = (this.append ? FDFLAGS.APPEND : 0) | (this.nonblocking ? FDFLAGS.NONBLOCK : 0);
    return new Fdstat(FILETYPE.REGULAR_FILE, flags, rights);
  }
};
var DirectoryDescriptor = class {
  constructor(dir, preopen = null) {
    this.dir = dir;
    this.preopen = preopen;
  }
  fdstat() {
    if (this.preopen !== null) return new Fdstat(FILETYPE.DIRECTORY, 0, PREOPEN_BASE, PREOPEN_INHERITING);
    return new Fdstat(FILETYPE.DIRECTORY, 0, ALL_RIGHTS & ~NOT_FOR_DIRECTORIES);
  }
};
var DescriptorTable = class {
  constructor(descriptors) {
    this.used = /* @__PURE__ */ new Map();
    this.free = [];
    for (const descriptor of descriptors) this.add(descriptor);
  }
  /** The descriptor `fd`, or EBADF. */
  get(fd) {
    const descriptor = this.used.get(fd);
    if (descriptor === void 0) fail(ERRNO.BADF);
    return descriptor;
  }
  /** Numbers `descriptor` and returns its number. */
  add(descriptor) {
    let fd;
    if (this.free.length > 0) {
      let at = 0;
      for (let i = 1; i < this.free.length; i++) if (this.free[i] > this.free[at]) at = i;
      fd = this.free[at];
      this.free.splice(at, 1);
    } else {
      fd = this.used.size;
    }
    this.used.set(fd, descriptor);
    return fd;
  }
  /** Closes `fd` (EBADF if it is not open). */
  close(fd) {
    this.get(fd);
    this.used.delete(fd);
    this.free.push(fd);
  }
  /** fd_renumber: `from` replaces `to`, which is closed. */
  renumber(from, to) {
    const descriptor = this.get(from);
    this.get(to);
    if (from === to) return;
    this.close(to);
    this.used.delete(from);
    this.free.push(from);
    this.free.splice(this.free.indexOf(to), 1);
    this.used.set(to, descriptor);
  }
};

// js/wasi/poll.js
var SUBSCRIPTION_BYTES = 48;
var EVENT_BYTES = 32;
function subscription(view, at) {
  const tag = view.getUint8(at + 8);
  if (tag === EVENTTYPE.CLOCK) {
    const id = view.getUint32(at + 16, true);
    if (id > CLOCK.THREAD_CPUTIME) fail(ERRNO.INVAL);
    const timeout = view.getBigUint64(at + 24, true);
    const flags = view.getUint16(at + 40, true);
    if (flags & ~SUBSCRIPTION_CLOCK_ABSTIME) fail(ERRNO.INVAL);
    return { tag, id, timeout, absolute: (flags & SUBSCRIPTION_CLOCK_ABSTIME) !== 0 };
  }
  if (tag === EVENTTYPE.FD_READ || tag === EVENTTYPE.FD_WRITE) return { tag, fd: view.getUint32(at + 16, true) };
  return fail(ERRNO.INVAL);
}
function deadline({ id, timeout, absolute }) {
  if (id === CLOCK.MONOTONIC) return absolute ? timeout : monotonicNs() + timeout;
  if (id !== CLOCK.REALTIME) fail(ERRNO.INVAL);
  if (!absolute) return monotonicNs() + timeout;
  const left = timeout - realtimeNs();
  return monotonicNs() + (left > 0n ? left : 0n);
}
function writeEvent(view, at, userdata, type, nbytes, flags) {
  view.setBigUint64(at, userdata, true);
  view.setUint16(at + 8, ERRNO.SUCCESS, true);
  view.setUint8(at + 10, type);
  view.setBigUint64(at + 16, nbytes, true);
  view.setUint16(at + 24, flags, true);
}
function pollVirtual(mem, at, userdata, events, n, used) {
  const clocks = [];
  for (let i = 0; i < n; i++) {
    const view = mem.view;
    const flags = view.getUint16(at(i) + 40, true);
    const id = view.getUint32(at(i) + 16, true);
    if (view.getUint8(at(i) + 8) !== EVENTTYPE.CLOCK || flags & ~SUBSCRIPTION_CLOCK_ABSTIME) return false;
    if (id !== CLOCK.REALTIME && id !== CLOCK.MONOTONIC) return false;
    const timeout = view.getBigUint64(at(i) + 24, true);
    const relative = (flags & SUBSCRIPTION_CLOCK_ABSTIME) === 0;
    let deadline2 = timeout;
    if (relative) deadline2 = saturate(virtualNow() + timeout);
    else if (id === CLOCK.REALTIME) deadline2 = saturate(timeout - REALTIME_START_NS);
    clocks.push({ userdata: userdata(i), deadline: deadline2, relative });
  }
  const loneSleep = n === 1 && clocks[0].relative;
  advanceVirtualTo(clocks.reduce((a, c) => c.deadline < a ? c.deadline : a, clocks[0].deadline));
  const now = virtualNow();
  let written = 0;
  for (const clock of clocks) {
    if (clock.deadline > now) continue;
    const event = (events >>> 0) + written++ * EVENT_BYTES;
    writeEvent(mem.view, event, clock.userdata, EVENTTYPE.CLOCK, loneSleep ? 1n : 0n, 0);
  }
  mem.u32(used, written);
  return true;
}
function pollOneoff(mem, table, subscriptions, events, count, used) {
  const n = count >>> 0;
  if (n === 0) fail(ERRNO.INVAL);
  mem.refresh();
  const at = (i) => (subscriptions >>> 0) + i * SUBSCRIPTION_BYTES;
  const userdata = (i) => mem.view.getBigUint64(at(i), true);
  if (isVirtual() && pollVirtual(mem, at, userdata, events, n, used)) return;
  if (n === 1) {
    const sub = subscription(mem.view, at(0));
    if (sub.tag === EVENTTYPE.CLOCK && !sub.absolute) {
      sleepUntil(monotonicNs() + sub.timeout);
      mem.refresh();
      writeEvent(mem.view, events >>> 0, userdata(0), EVENTTYPE.CLOCK, 1n, 0);
      mem.u32(used, 1);
      return;
    }
  }
  const subs = [];
  const ready = [];
  for (let i = 0; i < n; i++) {
    const sub = subscription(mem.view, at(i));
    subs.push(sub);
    if (sub.tag === EVENTTYPE.CLOCK) {
      ready.push(deadline(sub));
      continue;
    }
    const d = table.get(sub.fd);
    const fits = sub.tag === EVENTTYPE.FD_READ ? d instanceof StdinDescriptor : d instanceof OutputDescriptor;
    if (!fits && !(d instanceof FileDescriptor)) fail(ERRNO.BADF);
    ready.push(0n);
  }
  sleepUntil(ready.reduce((a, b) => b < a ? b : a));
  const now = monotonicNs();
  mem.refresh();
  let written = 0;
  subs.forEach((sub, i) => {
    if (ready[i] > now) return;
    const event = (events >>> 0) + written++ * EVENT_BYTES;
    if (sub.tag === EVENTTYPE.CLOCK) return writeEvent(mem.view, event, userdata(i), EVENTTYPE.CLOCK, 0n, 0);
    const d = table.get(sub.fd);
    const atEnd = sub.tag === EVENTTYPE.FD_READ && d instanceof FileDescriptor && d.file.size <= d.position;
    writeEvent(mem.view, event, userdata(i), sub.tag, 1n, atEnd ? EVENT_FD_READWRITE_HANGUP : 0);
  });
  mem.u32(used, written);
}

// js/wasi/fs.js
var MAX_FILE_BYTES = 2 ** 44 - 4096;
var DIRECTORY_BYTES = 4096n;
var RELATIME_NS = 24n * 3600n * 1000000000n;
var lastIno = 0x2f4a1c0n;
var Inode = class {
  constructor() {
    const now = fileTimeNs();
    this.ino = ++lastIno;
    this.atim = now;
    this.mtim = now;
    this.birth = now;
    this.atimFromClock = true;
  }
  /** Marks a read: relatime refreshes atime if it is not newer than mtime, or a day old. */
  accessed() {
    if (this.atim > this.mtim && (this.atimFromClock || fileTimeNs() - this.atim < RELATIME_NS)) return;
    this.atim = fileTimeNs();
    this.atimFromClock = true;
  }
  /** Marks a change of the contents. */
  modified() {
    this.mtim = fileTimeNs();
  }
  /** utimensat: sets the times given (null leaves one as it is). */
  setTimes(atim, mtim) {
    if (atim !== null) {
      this.atim = atim;
      this.atimFromClock = false;
    }
    if (mtim !== null) this.mtim = mtim;
  }
};
var File = class extends Inode {
  constructor(data = new Uint8Array()) {
    super();
    this.bytes = data.slice();
    this.size = data.length;
    this.links = 0;
  }
  get filetype() {
    return FILETYPE.REGULAR_FILE;
  }
  get nlink() {
    return BigInt(this.links);
  }
  get byteSize() {
    return BigInt(this.size);
  }
  /** The contents, without spare room (a view). */
  contents() {
    return this.bytes.subarray(0, this.size);
  }
  /** Up to `length` bytes from `offset` (a view). */
  read(offset, length) {
    if (offset >= this.size) return this.bytes.subarray(0, 0);
    return this.bytes.subarray(offset, Math.min(this.size, offset + length));
  }
  /** Writes `data` at `offset`, zero-filling a gap; returns the bytes written. */
  write(offset, data) {
    if (data.length === 0) return 0;
    const end = offset + data.length;
    this.reserve(end);
    this.bytes.set(data, offset);
    if (end > this.size) this.size = end;
    this.modified();
    return data.length;
  }
  /** Truncates or zero-extends to `size` bytes (ftruncate). */
  resize(size) {
    if (size > this.size) this.reserve(size);
    else this.bytes.fill(0, size, this.size);
    this.size = size;
    this.modified();
  }
  reserve(size) {
    if (size > MAX_FILE_BYTES) fail(ERRNO.FBIG);
    if (size <= this.bytes.length) return;
    let grown;
    try {
      grown = new Uint8Array(Math.max(size, Math.min(this.bytes.length * 2, MAX_FILE_BYTES)));
    } catch {
      fail(ERRNO.NOSPC);
    }
    grown.set(this.bytes.subarray(0, this.size));
    this.bytes = grown;
  }
};
var Directory = class _Directory extends Inode {
  constructor(parent = null) {
    super();
    this.entries = /* @__PURE__ */ new Map();
    this.parent = parent ?? this;
    this.removed = false;
  }
  get filetype() {
    return FILETYPE.DIRECTORY;
  }
  /** Linux: `.`, the entry in the parent, and each subdirectory's `..`. */
  get nlink() {
    if (this.removed) return 0n;
    let subdirectories = 0n;
    for (const entry of this.entries.values()) if (entry instanceof _Directory) subdirectories++;
    return 2n + subdirectories;
  }
  get byteSize() {
    return DIRECTORY_BYTES;
  }
  /** Adds `node` as `name` (the caller checked that `name` is free). */
  attach(name, node) {
    this.entries.set(name, node);
    if (node instanceof _Directory) node.parent = this;
    else node.links = (node.links ?? 0) + 1;
    this.modified();
  }
  /** Removes the entry `name`; `removing` when the name goes away with its directory. */
  detach(name, removing = false) {
    const node = this.entries.get(name);
    this.entries.delete(name);
    if (!(node instanceof _Directory)) node.links--;
    else if (removing) node.removed = true;
    this.modified();
  }
  /** Fails with ENOENT where Linux does: a new name in a directory that was removed. */
  checkLive() {
    if (this.removed) fail(ERRNO.NOENT);
  }
};
var Symlink = class extends Inode {
  constructor(target) {
    super();
    this.target = target;
    this.targetBytes = new TextEncoder().encode(target).length;
    this.links = 0;
  }
  get filetype() {
    return FILETYPE.SYMBOLIC_LINK;
  }
  get nlink() {
    return BigInt(this.links);
  }
  get byteSize() {
    return BigInt(this.targetBytes);
  }
};

// js/wasi/paths.js
var MAX_SYMLINK_HOPS = 40;
var NAME_MAX = 255;
var PATH_MAX = 4096;
var encoder2 = new TextEncoder();
var utf8Length = (text) => text.length * 3 <= NAME_MAX ? text.length : encoder2.encode(text).length;
function checkPath(path) {
  if (path === "") fail(ERRNO.NOENT);
  if (path.includes("\0")) fail(ERRNO.INVAL);
  if (path.length >= PATH_MAX / 3 && encoder2.encode(path).length >= PATH_MAX) fail(ERRNO.NAMETOOLONG);
}
function checkName(name) {
  if (name.length > NAME_MAX / 3 && utf8Length(name) > NAME_MAX) fail(ERRNO.NAMETOOLONG);
}
var Found = class {
  constructor(parent, name, node, mustBeDirectory) {
    this.parent = parent;
    this.name = name;
    this.node = node;
    this.mustBeDirectory = mustBeDirectory;
  }
};
function lookup(start, path, follow, hops = { count: 0 }, floor = start) {
  checkPath(path);
  if (path.startsWith("/")) fail(ERRNO.PERM);
  const mustBeDirectory = path.endsWith("/");
  const names = path.includes("/") ? path.split("/").filter((name) => name !== "") : [path];
  let dir = start;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const last = i === names.length - 1;
    if (name === ".") {
      if (last) return new Found(dir, null, dir, mustBeDirectory);
      continue;
    }
    if (name === "..") {
      if (dir === floor) fail(ERRNO.PERM);
      dir = dir.parent;
      if (last) return new Found(dir, null, dir, mustBeDirectory);
      continue;
    }
    checkName(name);
    let node = dir.entries.get(name);
    if (node instanceof Symlink && (!last || follow || mustBeDirectory)) {
      const target = followLink(dir, node, hops, floor);
      if (last) {
        if (mustBeDirectory && target.node !== void 0 && !(target.node instanceof Directory)) fail(ERRNO.NOTDIR);
        return new Found(target.parent, target.name, target.node, mustBeDirectory || target.mustBeDirectory);
      }
      node = target.node;
    }
    if (last) {
      if (mustBeDirectory && node !== void 0 && !(node instanceof Directory)) fail(ERRNO.NOTDIR);
      return new Found(dir, name, node, mustBeDirectory);
    }
    if (node === void 0) fail(ERRNO.NOENT);
    if (!(node instanceof Directory)) fail(ERRNO.NOTDIR);
    dir = node;
  }
  return new Found(dir, null, dir, mustBeDirectory);
}
function followLink(dir, link, hops, floor) {
  if (++hops.count > MAX_SYMLINK_HOPS) fail(ERRNO.LOOP);
  link.accessed();
  return lookup(dir, link.target, true, hops, floor);
}
function existing(start, path, follow) {
  const found = lookup(start, path, follow);
  if (found.node === void 0) fail(ERRNO.NOENT);
  return found.node;
}
function statAt(start, path, follow) {
  checkPath(path);
  if (!follow && !path.startsWith("/") && !path.startsWith("./") && path !== ".") {
    const names = path.split("/").filter((name) => name !== "" && name !== ".");
    if (names.length === 1 && names[0] !== "..") {
      checkName(names[0]);
      const node = start.entries.get(names[0]);
      if (node === void 0) fail(ERRNO.NOENT);
      return node;
    }
  }
  return existing(start, path, follow);
}
function openDirectory(start, path) {
  const node = existing(start, path, true);
  if (!(node instanceof Directory)) fail(ERRNO.NOTDIR);
  return node;
}
function parentAndName(start, path) {
  checkPath(path);
  if (path === "." || path.endsWith("/") || path.endsWith("/.")) {
    return { dir: path === "." ? start : openDirectory(start, path), name: "." };
  }
  const slash = path.lastIndexOf("/");
  const name = path.slice(slash + 1);
  if (name === "..") return { dir: openDirectory(start, path), name: "." };
  checkName(name);
  const dirPath = slash < 0 ? "" : path.slice(0, slash) || "/";
  return { dir: dirPath === "" ? start : openDirectory(start, dirPath), name };
}
function stripTrailingSlashes(path) {
  const stripped = path.replace(/\/+$/, "");
  return stripped === "" && path !== "" ? "/" : stripped;
}

// js/wasi/dirops.js
function makeDirectory(dir, name) {
  if (name === "." || dir.entries.has(name)) fail(ERRNO.EXIST);
  dir.checkLive();
  dir.attach(name, new Directory(dir));
}
function unlinkFile(dir, name) {
  if (name === ".") fail(ERRNO.ISDIR);
  const node = dir.entries.get(name);
  if (node === void 0) fail(ERRNO.NOENT);
  if (node instanceof Directory) fail(ERRNO.ISDIR);
  dir.detach(name);
}
function removeDirectory(dir, name) {
  if (name === ".") fail(ERRNO.INVAL);
  const node = dir.entries.get(name);
  if (node === void 0) fail(ERRNO.NOENT);
  if (!(node instanceof Directory)) fail(ERRNO.NOTDIR);
  if (node.entries.size > 0) fail(ERRNO.NOTEMPTY);
  dir.detach(name, true);
}
function makeSymlink(target, dir, name) {
  if (target === "") fail(ERRNO.NOENT);
  if (name === "." || dir.entries.has(name)) fail(ERRNO.EXIST);
  dir.checkLive();
  dir.attach(name, new Symlink(target));
}
function makeHardLink(oldDir, oldName, newDir, newName) {
  const node = oldName === "." ? oldDir : oldDir.entries.get(oldName);
  if (node === void 0) fail(ERRNO.NOENT);
  if (newName === "." || newDir.entries.has(newName)) fail(ERRNO.EXIST);
  newDir.checkLive();
  if (node instanceof Directory) fail(ERRNO.PERM);
  newDir.attach(newName, node);
}
function readSymlink(dir, name) {
  const node = name === "." ? dir : dir.entries.get(name);
  if (node === void 0) fail(ERRNO.NOENT);
  if (!(node instanceof Symlink)) fail(ERRNO.INVAL);
  node.accessed();
  return node.target;
}
var isWithin = (node, ancestor) => {
  for (let dir = node; ; dir = dir.parent) {
    if (dir === ancestor) return true;
    if (dir.parent === dir) return false;
  }
};
function rename(oldDir, oldName, newDir, newName, mustBeDirectory) {
  if (oldName === "." || newName === ".") fail(ERRNO.BUSY);
  const node = oldDir.entries.get(oldName);
  if (node === void 0) fail(ERRNO.NOENT);
  newDir.checkLive();
  const isDirectory = node instanceof Directory;
  if (!isDirectory && mustBeDirectory) fail(ERRNO.NOTDIR);
  if (isDirectory && isWithin(newDir, node)) fail(ERRNO.INVAL);
  const victim = newDir.entries.get(newName);
  if (victim instanceof Directory && isWithin(oldDir, victim)) fail(ERRNO.NOTEMPTY);
  if (victim === node) return;
  if (victim !== void 0) {
    if (isDirectory && !(victim instanceof Directory)) fail(ERRNO.NOTDIR);
    if (!isDirectory && victim instanceof Directory) fail(ERRNO.ISDIR);
    if (victim instanceof Directory && victim.entries.size > 0) fail(ERRNO.NOTEMPTY);
    newDir.detach(newName, true);
  }
  oldDir.detach(oldName);
  newDir.attach(newName, node);
}

// js/wasi/preview1.js
var ProcExit = class extends Error {
  constructor(code) {
    super(`exit with status ${code}`);
    this.code = code;
  }
};
var U64_MAX2 = (1n << 64n) - 1n;
var u64 = (value) => BigInt.asUintN(64, value);
var I64_MAX = (1n << 63n) - 1n;
var DIRENT_BYTES = 24;
var PREAD_MAX_BYTES = 65536;
var SIGNAL_MAX = 30;
var encoder3 = new TextEncoder();
function checkArgument(name, value, valid) {
  if (!valid) throw new Error(`invalid value for the WASI argument \`${name}\`: ${value}`);
}
var checkFlags = (name, value, all) => checkArgument(name, value, (value & ~all) === 0);
var checkEnum = (name, value, max) => checkArgument(name, value, value >>> 0 <= max);
var NOT_RIGHTS = ~ALL_RIGHTS;
var checkRights = (name, value) => checkArgument(name, value, (value & NOT_RIGHTS) === 0n);
function checkEnd(offset, length) {
  if (length > 0 && offset + BigInt(length) > I64_MAX) fail(ERRNO.INVAL);
}
function newTime(flags, set, now, value) {
  if (flags & set && flags & now) fail(ERRNO.INVAL);
  if (flags & set) return value;
  if (flags & now) return fileTimeNs();
  return null;
}
function preview1(table, args, envs, random = null) {
  const mem = new GuestMemory();
  const encodedSize = (strings) => strings.reduce((n, s) => n + encoder3.encode(s).length + 1, 0);
  const descriptor = (fd) => table.get(fd >>> 0);
  const fileOf = (fd) => {
    const d = table.used.get(fd >>> 0);
    if (!(d instanceof FileDescriptor)) fail(ERRNO.BADF);
    return d;
  };
  const dirOf = (fd) => {
    const d = table.used.get(fd >>> 0);
    if (!(d instanceof DirectoryDescriptor)) fail(ERRNO.BADF);
    return d.dir;
  };
  const nodeOf = (fd) => {
    const d = descriptor(fd);
    if (d instanceof FileDescriptor) return d.file;
    if (d instanceof DirectoryDescriptor) return d.dir;
    return fail(ERRNO.BADF);
  };
  const seekable = (fd) => {
    const d = descriptor(fd);
    if (d instanceof FileDescriptor) return d;
    if (d instanceof StdinDescriptor || d instanceof OutputDescriptor) fail(ERRNO.SPIPE);
    return fail(ERRNO.BADF);
  };
  const offsetOf = (value) => value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
  const writeFile = (d, data, at) => {
    if (!d.writable) fail(ERRNO.BADF);
    if (d.append) return d.file.write(d.file.size, data);
    return d.file.write(at, data);
  };
  const readFile = (d, target, at) => {
    if (!d.readable) fail(ERRNO.BADF);
    const chunk = d.file.read(at, target.length);
    target.set(chunk);
    if (target.length > 0) d.file.accessed();
    return chunk.length;
  };
  const open = (start, path, follow, oflags, writable) => {
    const creating = (oflags & OFLAGS.CREAT) !== 0;
    if (creating && path.endsWith("/")) {
      lookup(start, stripTrailingSlashes(path), false);
      fail(ERRNO.ISDIR);
    }
    const exclusive = creating && (oflags & OFLAGS.EXCL) !== 0;
    const found = lookup(start, path, follow && !exclusive);
    let node = found.node;
    if (node === void 0) {
      if (!creating) fail(ERRNO.NOENT);
      found.parent.checkLive();
      node = new File();
      found.parent.attach(found.name, node);
    } else {
      if (exclusive) fail(ERRNO.EXIST);
      if (node instanceof Directory) {
        if (creating || writable) fail(ERRNO.ISDIR);
      } else if (!(node instanceof File)) {
        fail(ERRNO.LOOP);
      } else if (oflags & OFLAGS.TRUNC) {
        node.resize(0);
      }
    }
    if (oflags & OFLAGS.DIRECTORY && !(node instanceof Directory)) fail(ERRNO.NOTDIR);
    return node;
  };
  const calls = {
    args_get: (argv, argvBuf) => mem.strings(argv, argvBuf, args),
    args_sizes_get: (count, size) => {
      mem.u32(count, args.length);
      mem.u32(size, encodedSize(args));
    },
    environ_get: (environ, environBuf) => mem.strings(environ, environBuf, envs),
    environ_sizes_get: (count, size) => {
      mem.u32(count, envs.length);
      mem.u32(size, encodedSize(envs));
    },
    clock_res_get: (id, out) => {
      checkEnum("clockid", id, CLOCK.THREAD_CPUTIME);
      if (id >= CLOCK.PROCESS_CPUTIME) fail(ERRNO.BADF);
      mem.u64(out, 1n);
    },
    clock_time_get: (id, _precision, out) => {
      checkEnum("clockid", id, CLOCK.THREAD_CPUTIME);
      if (id >= CLOCK.PROCESS_CPUTIME) fail(ERRNO.BADF);
      mem.u64(out, readClock(id === CLOCK.REALTIME));
    },
    fd_advise: (fd, _offset, len, advice) => {
      checkEnum("advice", advice, ADVICE_MAX);
      fileOf(fd);
      if (u64(len) > I64_MAX) fail(ERRNO.INVAL);
    },
    fd_allocate: (fd) => {
      fileOf(fd);
      fail(ERRNO.NOTSUP);
    },
    fd_close: (fd) => table.close(fd >>> 0),
    fd_datasync: (fd) => void fileOf(fd),
    fd_sync: (fd) => void fileOf(fd),
    fd_fdstat_get: (fd, out) => {
      const stat = descriptor(fd).fdstat();
      mem.refresh();
      const at = out >>> 0;
      mem.slice(at, 24).fill(0);
      mem.view.setUint8(at, stat.filetype);
      mem.view.setUint16(at + 2, stat.flags, true);
      mem.view.setBigUint64(at + 8, stat.base, true);
      mem.view.setBigUint64(at + 16, stat.inheriting, true);
    },
    fd_fdstat_set_flags: (fd, flags) => {
      checkFlags("fdflags", flags, FDFLAGS.ALL);
      const d = fileOf(fd);
      if (flags & (FDFLAGS.DSYNC | FDFLAGS.SYNC | FDFLAGS.RSYNC)) fail(ERRNO.INVAL);
      d.append = (flags & FDFLAGS.APPEND) !== 0;
      d.nonblocking = (flags & FDFLAGS.NONBLOCK) !== 0;
    },
    fd_fdstat_set_rights: (fd, base, inheriting) => {
      checkRights("fs_rights_base", base);
      checkRights("fs_rights_inheriting", inheriting);
      nodeOf(fd);
      fail(ERRNO.NOTSUP);
    },
    fd_filestat_get: (fd, out) => {
      const d = descriptor(fd);
      if (d instanceof FileDescriptor) mem.filestat(out, d.file);
      else if (d instanceof DirectoryDescriptor) mem.filestat(out, d.dir);
      else mem.filestat(out, null);
    },
    fd_filestat_set_size: (fd, signedSize) => {
      const size = u64(signedSize);
      const d = fileOf(fd);
      if (!d.writable || size > I64_MAX) fail(ERRNO.INVAL);
      d.file.resize(offsetOf(size));
    },
    fd_filestat_set_times: (fd, atim, mtim, flags) => {
      checkFlags("fstflags", flags, FSTFLAGS.ALL);
      const a = newTime(flags, FSTFLAGS.ATIM, FSTFLAGS.ATIM_NOW, atim);
      const m = newTime(flags, FSTFLAGS.MTIM, FSTFLAGS.MTIM_NOW, mtim);
      const d = descriptor(fd);
      const nothing = a === null && m === null;
      if (d instanceof DirectoryDescriptor && d.preopen !== null && !nothing) fail(ERRNO.BADF);
      nodeOf(fd).setTimes(a, m);
    },
    fd_pread: (fd, iovs, count, signedOffset, out) => {
      const offset = u64(signedOffset);
      const target = mem.firstBuffer(iovs, count).subarray(0, PREAD_MAX_BYTES);
      const d = descriptor(fd);
      if (d instanceof StdinDescriptor) fail(ERRNO.SPIPE);
      if (!(d instanceof FileDescriptor)) fail(ERRNO.BADF);
      if (offset > I64_MAX) fail(ERRNO.INVAL);
      if (!d.readable) fail(ERRNO.BADF);
      checkEnd(offset, target.length);
      mem.u32(out, readFile(d, target, offsetOf(offset)));
    },
    fd_pwrite: (fd, iovs, count, signedOffset, out) => {
      const offset = u64(signedOffset);
      const data = mem.firstBuffer(iovs, count);
      const d = descriptor(fd);
      if (d instanceof OutputDescriptor) fail(ERRNO.SPIPE);
      if (!(d instanceof FileDescriptor)) fail(ERRNO.BADF);
      if (!d.append) {
        if (offset > I64_MAX) fail(ERRNO.INVAL);
        if (!d.writable) fail(ERRNO.BADF);
        checkEnd(offset, data.length);
      }
      mem.u32(out, writeFile(d, data, offsetOf(offset)));
    },
    fd_read: (fd, iovs, count, out) => {
      const target = mem.firstBuffer(iovs, count);
      const d = descriptor(fd);
      let n;
      if (d instanceof FileDescriptor) {
        n = readFile(d, target, d.position);
        d.position += n;
      } else if (d instanceof StdinDescriptor) {
        n = d.stream.read(target);
      } else {
        fail(ERRNO.BADF);
      }
      mem.u32(out, n);
    },
    fd_write: (fd, iovs, count, out) => {
      const data = mem.firstBuffer(iovs, count);
      const d = descriptor(fd);
      let n;
      if (d instanceof OutputDescriptor) {
        n = d.output.write(data);
      } else if (d instanceof FileDescriptor) {
        n = writeFile(d, data, d.position);
        d.position = d.append ? d.file.size : d.position + n;
      } else {
        fail(ERRNO.BADF);
      }
      mem.u32(out, n);
    },
    fd_prestat_get: (fd, out) => {
      const d = descriptor(fd);
      if (!(d instanceof DirectoryDescriptor) || d.preopen === null) fail(ERRNO.BADF);
      mem.refresh();
      mem.view.setUint32(out >>> 0, 0, true);
      mem.view.setUint32((out >>> 0) + 4, encoder3.encode(d.preopen).length, true);
    },
    fd_prestat_dir_name: (fd, out, len) => {
      const d = descriptor(fd);
      if (!(d instanceof DirectoryDescriptor) || d.preopen === null) fail(ERRNO.NOTDIR);
      const name = encoder3.encode(d.preopen);
      if (name.length > len >>> 0) fail(ERRNO.NAMETOOLONG);
      mem.refresh();
      mem.slice(out, name.length).set(name);
    },
    fd_readdir: (fd, out, len, signedCookie, used) => {
      const cookie = u64(signedCookie);
      const dir = dirOf(fd);
      const entries = [
        [".", dir],
        ["..", dir],
        // wasmtime gives `..` the inode number of the directory itself
        ...dir.entries
      ];
      mem.refresh();
      let at = out >>> 0;
      let room = len >>> 0;
      const header = new DataView(new ArrayBuffer(DIRENT_BYTES));
      for (let i = cookie > BigInt(entries.length) ? entries.length : Number(cookie); i < entries.length && room > 0; i++) {
        const [name, node] = entries[i];
        const encoded = encoder3.encode(name);
        header.setBigUint64(0, BigInt(i + 1), true);
        header.setBigUint64(8, node.ino, true);
        header.setUint32(16, encoded.length, true);
        header.setUint8(20, node.filetype);
        const headerBytes = new Uint8Array(header.buffer, 0, Math.min(room, DIRENT_BYTES));
        mem.slice(at, headerBytes.length).set(headerBytes);
        at += headerBytes.length;
        room -= headerBytes.length;
        const nameBytes = encoded.subarray(0, room);
        mem.slice(at, nameBytes.length).set(nameBytes);
        at += nameBytes.length;
        room -= nameBytes.length;
      }
      dir.accessed();
      mem.u32(used, (len >>> 0) - room);
    },
    fd_renumber: (from, to) => table.renumber(from >>> 0, to >>> 0),
    fd_seek: (fd, offset, whence, out) => {
      checkEnum("whence", whence, WHENCE.END);
      const d = seekable(fd);
      const base = whence === WHENCE.SET ? 0n : whence === WHENCE.CUR ? BigInt(d.position) : BigInt(d.file.size);
      if (whence === WHENCE.SET && offset < 0n) fail(ERRNO.INVAL);
      const position = base + offset;
      if (position < 0n || position > U64_MAX2) fail(ERRNO.INVAL);
      d.position = offsetOf(position);
      mem.u64(out, position);
    },
    fd_tell: (fd, out) => mem.u64(out, BigInt(seekable(fd).position)),
    path_create_directory: (fd, ptr, len) => {
      const start = dirOf(fd);
      const { dir, name } = parentAndName(start, stripTrailingSlashes(mem.text(ptr, len)));
      makeDirectory(dir, name);
    },
    path_filestat_get: (fd, flags, ptr, len, out) => {
      checkFlags("lookupflags", flags, LOOKUP_SYMLINK_FOLLOW);
      const start = dirOf(fd);
      mem.filestat(out, statAt(start, mem.text(ptr, len), (flags & LOOKUP_SYMLINK_FOLLOW) !== 0));
    },
    path_filestat_set_times: (fd, flags, ptr, len, atim, mtim, fstFlags) => {
      checkFlags("lookupflags", flags, LOOKUP_SYMLINK_FOLLOW);
      checkFlags("fstflags", fstFlags, FSTFLAGS.ALL);
      const a = newTime(fstFlags, FSTFLAGS.ATIM, FSTFLAGS.ATIM_NOW, atim);
      const m = newTime(fstFlags, FSTFLAGS.MTIM, FSTFLAGS.MTIM_NOW, mtim);
      const start = dirOf(fd);
      const path = mem.text(ptr, len);
      if (flags & LOOKUP_SYMLINK_FOLLOW) {
        existing(start, path, true).setTimes(a, m);
      } else {
        const { dir, name } = parentAndName(start, path);
        if (a === null && m === null) return;
        const node = name === "." ? dir : dir.entries.get(name);
        if (node === void 0) fail(ERRNO.NOENT);
        node.setTimes(a, m);
      }
    },
    path_link: (oldFd, oldFlags, oldPtr, oldLen, newFd, newPtr, newLen) => {
      checkFlags("lookupflags", oldFlags, LOOKUP_SYMLINK_FOLLOW);
      const oldStart = dirOf(oldFd);
      const newStart = dirOf(newFd);
      const oldPath = mem.text(oldPtr, oldLen);
      const newPath = mem.text(newPtr, newLen);
      if (oldFlags & LOOKUP_SYMLINK_FOLLOW) fail(ERRNO.INVAL);
      const from = parentAndName(oldStart, oldPath);
      const to = parentAndName(newStart, newPath);
      makeHardLink(from.dir, from.name, to.dir, to.name);
    },
    path_open: (fd, dirflags, ptr, len, oflags, base, inheriting, fdflags, out) => {
      checkFlags("lookupflags", dirflags, LOOKUP_SYMLINK_FOLLOW);
      checkFlags("oflags", oflags, OFLAGS.ALL);
      checkRights("fs_rights_base", base);
      checkRights("fs_rights_inheriting", inheriting);
      checkFlags("fdflags", fdflags, FDFLAGS.ALL);
      const path = mem.text(ptr, len);
      const d = descriptor(fd);
      if (d instanceof FileDescriptor) fail(ERRNO.NOTDIR);
      if (!(d instanceof DirectoryDescriptor)) fail(ERRNO.BADF);
      if (fdflags & (FDFLAGS.DSYNC | FDFLAGS.RSYNC | FDFLAGS.SYNC)) fail(ERRNO.NOTSUP);
      if (oflags & OFLAGS.DIRECTORY && oflags & (OFLAGS.CREAT | OFLAGS.EXCL | OFLAGS.TRUNC)) fail(ERRNO.INVAL);
      const wantsWrite = (base & RIGHTS.FD_WRITE) !== 0n;
      const writable = wantsWrite || (oflags & (OFLAGS.CREAT | OFLAGS.TRUNC)) !== 0;
      const readable = (base & RIGHTS.FD_READ) !== 0n || !wantsWrite;
      const node = open(d.dir, path, (dirflags & LOOKUP_SYMLINK_FOLLOW) !== 0, oflags, writable);
      const opened = node instanceof Directory ? new DirectoryDescriptor(node) : new FileDescriptor(node, {
        readable,
        writable,
        append: (fdflags & FDFLAGS.APPEND) !== 0,
        nonblocking: (fdflags & FDFLAGS.NONBLOCK) !== 0
      });
      mem.u32(out, table.add(opened));
    },
    path_readlink: (fd, ptr, len, out, outLen, used) => {
      const start = dirOf(fd);
      const { dir, name } = parentAndName(start, mem.text(ptr, len));
      const target = readSymlink(dir, name);
      if (target.startsWith("/")) fail(ERRNO.PERM);
      const encoded = encoder3.encode(target).subarray(0, outLen >>> 0);
      mem.refresh();
      mem.slice(out, encoded.length).set(encoded);
      mem.u32(used, encoded.length);
    },
    path_remove_directory: (fd, ptr, len) => {
      const start = dirOf(fd);
      const { dir, name } = parentAndName(start, mem.text(ptr, len));
      removeDirectory(dir, name);
    },
    path_rename: (oldFd, oldPtr, oldLen, newFd, newPtr, newLen) => {
      const oldStart = dirOf(oldFd);
      const newStart = dirOf(newFd);
      const oldPath = mem.text(oldPtr, oldLen);
      const newPath = mem.text(newPtr, newLen);
      const mustBeDirectory = oldPath.endsWith("/") || newPath.endsWith("/");
      const from = parentAndName(oldStart, stripTrailingSlashes(oldPath));
      const to = parentAndName(newStart, stripTrailingSlashes(newPath));
      rename(from.dir, from.name, to.dir, to.name, mustBeDirectory);
    },
    path_symlink: (oldPtr, oldLen, fd, newPtr, newLen) => {
      const start = dirOf(fd);
      const target = mem.text(oldPtr, oldLen);
      const path = mem.text(newPtr, newLen);
      if (target.startsWith("/")) fail(ERRNO.PERM);
      const { dir, name } = parentAndName(start, path);
      makeSymlink(target, dir, name);
    },
    path_unlink_file: (fd, ptr, len) => {
      const start = dirOf(fd);
      const { dir, name } = parentAndName(start, mem.text(ptr, len));
      unlinkFile(dir, name);
    },
    poll_oneoff: (subscriptions, events, count, used) => pollOneoff(mem, table, subscriptions, events, count, used),
    proc_exit: (code) => {
      throw new ProcExit(code >>> 0);
    },
    proc_raise: (signal) => {
      checkEnum("signal", signal, SIGNAL_MAX);
      fail(ERRNO.NOTSUP);
    },
    sched_yield: () => {
    },
    random_get: (ptr, len) => {
      mem.refresh();
      const target = mem.slice(ptr, len);
      if (random) return random.fill(target);
      for (let i = 0; i < target.length; i += 65536) crypto.getRandomValues(target.subarray(i, i + 65536));
    },
    // Tasks have no sockets: EBADF for a number that is not open, ENOTSOCK for any other.
    sock_accept: (fd, flags) => {
      checkFlags("fdflags", flags, FDFLAGS.ALL);
      descriptor(fd);
      fail(ERRNO.NOTSOCK);
    },
    sock_recv: (fd, _data, _count, flags) => {
      checkFlags("riflags", flags, RIFLAGS_ALL);
      descriptor(fd);
      fail(ERRNO.NOTSOCK);
    },
    sock_send: (fd) => {
      descriptor(fd);
      fail(ERRNO.NOTSOCK);
    },
    sock_shutdown: (fd, how) => {
      checkFlags("sdflags", how, SDFLAGS_ALL);
      descriptor(fd);
      fail(ERRNO.NOTSOCK);
    }
  };
  const imports = {};
  for (const [name, call] of Object.entries(calls)) {
    imports[name] = (a, b, c, d, e, f, g, h, i) => {
      try {
        call(a, b, c, d, e, f, g, h, i);
        return ERRNO.SUCCESS;
      } catch (error) {
        if (error instanceof WasiError) return error.errno;
        throw error;
      }
    };
  }
  return {
    imports,
    bind: (memory) => mem.bind(memory)
  };
}

// js/wasi/stdio.js
var OutputLimitExceeded = class extends Error {
};
var InputStream = class {
  constructor(bytes) {
    this.bytes = bytes;
    this.offset = 0;
  }
  /** Reads into `buffer`; 0 at the end; EINTR for an empty read before the end (wasmtime). */
  read(buffer) {
    const left = this.bytes.length - this.offset;
    if (left === 0) return 0;
    if (buffer.length === 0) fail(ERRNO.INTR);
    const n = Math.min(left, buffer.length);
    buffer.set(this.bytes.subarray(this.offset, this.offset + n));
    this.offset += n;
    return n;
  }
};
var CappedOutput = class {
  constructor(stream, limit, onOutput) {
    this.stream = stream;
    this.limit = limit;
    this.room = limit;
    this.onOutput = onOutput;
  }
  /** Writes `data` (a view of guest memory); `onOutput` gets a copy of its own. */
  write(data) {
    const kept2 = data.slice(0, this.room);
    const truncated = kept2.length < data.length;
    this.room -= kept2.length;
    if (kept2.length > 0) this.onOutput(this.stream, kept2);
    if (truncated) {
      const name = this.stream === 1 ? "stdout" : "stderr";
      throw new OutputLimitExceeded(`${name} exceeded the output limit of ${this.limit} bytes; the output is truncated`);
    }
    return data.length;
  }
};

// js/wasi/sandbox.js
var parts = (path) => path.split("/").filter(Boolean);
function buildRoot(files) {
  const root = new Directory();
  const subdirectory = (dir, name, path) => {
    let entry = dir.entries.get(name);
    if (entry === void 0) dir.attach(name, entry = new Directory(dir));
    if (!(entry instanceof Directory)) throw new Error(`task directory: ${path}: ${name} is a file`);
    return entry;
  };
  for (const { path, data } of files) {
    const names = parts(path);
    const last = names.pop();
    const parent = names.reduce((dir, name) => subdirectory(dir, name, path), root);
    if (last === void 0) continue;
    if (data === null) {
      subdirectory(parent, last, path);
      continue;
    }
    const existing2 = parent.entries.get(last);
    if (existing2 instanceof Directory) throw new Error(`task directory: ${path} is a directory`);
    if (existing2 !== void 0) parent.detach(last);
    parent.attach(last, new File(data));
  }
  return root;
}
function addArtifact(found, path, entry) {
  if (entry instanceof Directory) {
    found.push({ path: `${path}/`, data: null });
    for (const [name, child] of entry.entries) addArtifact(found, `${path}/${name}`, child);
  } else if (entry instanceof File) {
    found.push({ path, data: entry.contents().slice() });
  } else {
    return false;
  }
  return true;
}
function collectArtifacts(root, artifacts) {
  const found = [];
  const missing = [];
  for (const [path, requested] of artifacts) {
    let entry = root;
    for (const name of parts(path)) entry = entry instanceof Directory ? entry.entries.get(name) : void 0;
    if (!addArtifact(found, path, entry)) missing.push(requested);
  }
  return { artifacts: found, missing };
}

// js/wasi/random.js
var SIGMA = [1634760805, 857760878, 2036477234, 1797285236];
var rotl = (x, n) => x << n | x >>> 32 - n;
function quarterRound(s, a, b, c, d) {
  s[a] = s[a] + s[b] | 0;
  s[d] = rotl(s[d] ^ s[a], 16);
  s[c] = s[c] + s[d] | 0;
  s[b] = rotl(s[b] ^ s[c], 12);
  s[a] = s[a] + s[b] | 0;
  s[d] = rotl(s[d] ^ s[a], 8);
  s[c] = s[c] + s[d] | 0;
  s[b] = rotl(s[b] ^ s[c], 7);
}
var ChaCha20Words = class {
  constructor(seedHex) {
    const seed = BigInt(`0x${seedHex}`);
    this.input = new Uint32Array(16);
    this.input.set(SIGMA);
    this.input[4] = Number(seed & 0xffffffffn);
    this.input[5] = Number(seed >> 32n);
    this.block = new Uint32Array(16);
    this.work = new Uint32Array(16);
    this.index = 16;
  }
  /** Computes the next 64-byte block and steps the 64-bit counter (words 12 and 13). */
  refill() {
    const { input, work, block } = this;
    work.set(input);
    for (let round = 0; round < 10; round++) {
      quarterRound(work, 0, 4, 8, 12);
      quarterRound(work, 1, 5, 9, 13);
      quarterRound(work, 2, 6, 10, 14);
      quarterRound(work, 3, 7, 11, 15);
      quarterRound(work, 0, 5, 10, 15);
      quarterRound(work, 1, 6, 11, 12);
      quarterRound(work, 2, 7, 8, 13);
      quarterRound(work, 3, 4, 9, 14);
    }
    for (let i = 0; i < 16; i++) block[i] = work[i] + input[i];
    input[12] = input[12] + 1;
    if (input[12] === 0) input[13] = input[13] + 1;
    this.index = 0;
  }
  /** The next 32-bit word of the keystream (little-endian bytes). */
  nextWord() {
    if (this.index === 16) this.refill();
    return this.block[this.index++];
  }
  /** random_get: one word's low byte per byte of `target`. */
  fill(target) {
    for (let i = 0; i < target.length; i++) target[i] = this.nextWord() & 255;
  }
};

// js/memories.js
var PAGE_BYTES = 65536;
var TYPE_SECTION = "wasimoff.memory";
var KEPT = 4;
var decoder2 = new TextDecoder();
var types = /* @__PURE__ */ new WeakMap();
var kept = /* @__PURE__ */ new Map();
function importedMemoryType(module) {
  if (!types.has(module)) {
    const [section] = WebAssembly.Module.customSections(module, TYPE_SECTION);
    types.set(module, section ? JSON.parse(decoder2.decode(section)) : null);
  }
  return types.get(module);
}
function prepare(entry) {
  const { initial, maximum } = entry.type;
  if (entry.memory?.buffer.byteLength === initial * PAGE_BYTES) {
    new Uint8Array(entry.memory.buffer).fill(0);
  } else {
    entry.memory = new WebAssembly.Memory(maximum == null ? { initial } : { initial, maximum });
  }
  entry.ready = true;
}
function memoryFor(type) {
  const key = `${type.initial}/${type.maximum}`;
  const entry = kept.get(key) ?? { type, memory: null, ready: false };
  kept.delete(key);
  kept.set(key, entry);
  if (kept.size > KEPT) kept.delete(kept.keys().next().value);
  if (!entry.ready) prepare(entry);
  entry.ready = false;
  return entry.memory;
}
function prepareMemories() {
  for (const entry of kept.values()) if (!entry.ready) prepare(entry);
}

// js/task_runner.js
var PAGE_BYTES2 = 65536;
var MAX_PAGES = 65536;
var starts = /* @__PURE__ */ new WeakMap();
function hasStart(module) {
  if (!starts.has(module)) starts.set(module, WebAssembly.Module.exports(module).some((e) => e.name === "_start" && e.kind === "function"));
  return starts.get(module);
}
var failed = (kind, message) => ({ type: "failed", kind, message });
var memoryLimit = (kinds2, bytes) => failed(kinds2.MemoryLimit, `the task tried to grow its memory past the limit of ${bytes} bytes`);
function failure(kinds2, error, limitHit, memoryBytes) {
  if (error instanceof OutputLimitExceeded) return failed(kinds2.OutputLimit, error.message);
  if (limitHit?.value === 1) return memoryLimit(kinds2, memoryBytes);
  if (error instanceof WebAssembly.LinkError) return failed(kinds2.Internal, `cannot link the module: ${error.message}`);
  if (error instanceof ProcExit) return failed(kinds2.Trap, "exit with invalid exit status outside of [0..126)");
  return failed(kinds2.Trap, error instanceof Error ? error.message : String(error));
}
function runTask(module, task, kinds2, onOutput) {
  useVirtualTime(task.seed != null);
  try {
    return run(module, task, kinds2, onOutput);
  } finally {
    useVirtualTime(false);
  }
}
function run(module, task, kinds2, onOutput) {
  const { args, envs, stdin, files, artifacts, limits, seed } = task;
  if (!hasStart(module)) {
    return failed(kinds2.MissingStart, "the module exports no `_start` function: it is not a WASI command");
  }
  let root;
  try {
    root = buildRoot(files);
  } catch (error) {
    return failed(kinds2.Internal, error.message);
  }
  const table = new DescriptorTable([
    new StdinDescriptor(new InputStream(stdin)),
    new OutputDescriptor(new CappedOutput(1, limits.outputBytes, onOutput)),
    new OutputDescriptor(new CappedOutput(2, limits.outputBytes, onOutput)),
    new DirectoryDescriptor(root, "/")
  ]);
  const wasi = preview1(table, args, envs, seed != null ? new ChaCha20Words(seed) : null);
  const started = performance.now();
  let limitHit = null;
  let status = 0;
  try {
    const imports = { wasi_snapshot_preview1: wasi.imports };
    const memoryType = importedMemoryType(module);
    if (memoryType) {
      if (memoryType.initial * PAGE_BYTES2 > limits.memoryBytes) return memoryLimit(kinds2, limits.memoryBytes);
      imports.wasimoff = { memory: memoryFor(memoryType) };
    }
    const instance = new WebAssembly.Instance(module, imports);
    const { memory, wasimoff_memory_limit_pages: limitPages, wasimoff_memory_limit_hit: hit } = instance.exports;
    if (memory instanceof WebAssembly.Memory && memory.buffer.byteLength > limits.memoryBytes) return memoryLimit(kinds2, limits.memoryBytes);
    if (limitPages instanceof WebAssembly.Global && hit instanceof WebAssembly.Global) {
      limitPages.value = Math.min(Math.floor(limits.memoryBytes / PAGE_BYTES2), MAX_PAGES);
      limitHit = hit;
    }
    wasi.bind(memory);
    instance.exports._start();
  } catch (error) {
    if (!(error instanceof ProcExit) || error.code >= 126) return failure(kinds2, error, limitHit, limits.memoryBytes);
    status = error.code;
  }
  const elapsedUs = Math.round((performance.now() - started) * 1e3);
  return { type: "exited", status, ...collectArtifacts(root, artifacts), elapsedUs };
}

// js/worker.js
var kinds = null;
var modules = /* @__PURE__ */ new Map();
function postResult(id, result) {
  const buffers = result.type === "exited" ? result.artifacts.filter((a) => a.data).map((a) => a.data.buffer) : [];
  self.postMessage({ type: "result", id, result }, buffers);
}
function run2({ id, digest, module, task }) {
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
      return run2(message);
  }
};
