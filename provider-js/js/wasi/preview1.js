// The `wasi_snapshot_preview1` imports: each call decodes its arguments from guest memory
// (DataView, little-endian), acts on the descriptor table and the in-memory file system, and
// answers an errno the way wasmtime-wasi's preview 1 adapter does (crates/wasi/src/p1.rs):
// the same argument checks in the same order, and the same quirks (one iovec per read or
// write, `.`/`..` first in fd_readdir, nbytes 1 for a lone relative sleep in poll_oneoff).
// Out-of-bounds pointers throw a RangeError, which traps the guest as wasmtime does.

import {
  ADVICE_MAX,
  CLOCK,
  ERRNO,
  EVENT_FD_READWRITE_HANGUP,
  EVENTTYPE,
  FDFLAGS,
  FSTFLAGS,
  LOOKUP_SYMLINK_FOLLOW,
  OFLAGS,
  ALL_RIGHTS,
  RIGHTS,
  RIFLAGS_ALL,
  SDFLAGS_ALL,
  SUBSCRIPTION_CLOCK_ABSTIME,
  WHENCE,
  WasiError,
  fail,
} from "./constants.js";
import { monotonicNs, realtimeNs, sleepUntil } from "./clock.js";
import { Directory, File } from "./fs.js";
import { existing, lookup, parentAndName, statAt, stripTrailingSlashes } from "./paths.js";
import { makeDirectory, makeHardLink, makeSymlink, readSymlink, removeDirectory, rename, unlinkFile } from "./dirops.js";
import { DirectoryDescriptor, FileDescriptor, OutputDescriptor, StdinDescriptor } from "./fds.js";

/** Thrown by proc_exit; `code` is the guest's status as an unsigned number. */
export class ProcExit extends Error {
  constructor(code) {
    super(`exit with status ${code}`);
    this.code = code;
  }
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;
const FILESTAT_BYTES = 64;
const DIRENT_BYTES = 24;
const SUBSCRIPTION_BYTES = 48;
const EVENT_BYTES = 32;
const SIGNAL_MAX = 30;
/** Paths up to this length that are all ASCII skip the TextDecoder. */
const ASCII_FAST_PATH = 64;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Wiggle checks flags and enum arguments before the call runs: an unknown value traps the
 * guest (inside a struct in memory, such as a subscription, it is EINVAL instead).
 */
function checkArgument(name, value, valid) {
  if (!valid) throw new Error(`invalid value for the WASI argument \`${name}\`: ${value}`);
}
const checkFlags = (name, value, all) => checkArgument(name, value, (value & ~all) === 0);
const checkEnum = (name, value, max) => checkArgument(name, value, value >>> 0 <= max);
const NOT_RIGHTS = ~ALL_RIGHTS;
const checkRights = (name, value) => checkArgument(name, value, (value & NOT_RIGHTS) === 0n);

/** wasmtime's systimespec: a time and "now" for the same field is EINVAL. */
function newTime(flags, set, now, value) {
  if (flags & set && flags & now) fail(ERRNO.INVAL);
  if (flags & set) return value;
  if (flags & now) return realtimeNs();
  return null;
}

/**
 * The imports for one task. `table` is its DescriptorTable; `args` and `envs` its argv and
 * environment strings (`KEY=value`). Call `bind(memory)` with the instance's memory before
 * the guest runs.
 */
export function preview1(table, args, envs) {
  let memory = null;
  let buffer = null;
  let view = null;
  let bytes = null;
  /** The current views of guest memory (renewed after the memory grew). */
  const refresh = () => {
    if (memory.buffer !== buffer) {
      buffer = memory.buffer;
      view = new DataView(buffer);
      bytes = new Uint8Array(buffer);
    }
  };
  const slice = (ptr, len) => new Uint8Array(buffer, ptr >>> 0, len >>> 0);
  const text = (ptr, len) => {
    refresh();
    const raw = slice(ptr, len);
    if (raw.length <= ASCII_FAST_PATH) {
      let ascii = "";
      for (let i = 0; i < raw.length && raw[i] < 0x80; i++) ascii += String.fromCharCode(raw[i]);
      if (ascii.length === raw.length) return ascii;
    }
    try {
      return decoder.decode(raw);
    } catch {
      return fail(ERRNO.ILSEQ);
    }
  };
  /** wasmtime reads and writes only the first non-empty buffer of an iovec array. */
  const firstBuffer = (iovs, count) => {
    refresh();
    for (let i = 0; i < count >>> 0; i++) {
      const at = (iovs >>> 0) + i * 8;
      const len = view.getUint32(at + 4, true);
      if (len !== 0) return slice(view.getUint32(at, true), len);
    }
    return slice(0, 0);
  };
  const writeU32 = (ptr, value) => {
    refresh();
    view.setUint32(ptr >>> 0, value, true);
  };
  const writeU64 = (ptr, value) => {
    refresh();
    view.setBigUint64(ptr >>> 0, value, true);
  };
  const writeStrings = (pointers, out, strings) => {
    refresh();
    let at = out >>> 0;
    strings.forEach((string, i) => {
      view.setUint32((pointers >>> 0) + i * 4, at, true);
      const { written } = encoder.encodeInto(string, slice(at, buffer.byteLength - at));
      bytes[at + written] = 0;
      at += written + 1;
    });
  };
  const encodedSize = (strings) => strings.reduce((n, s) => n + encoder.encode(s).length + 1, 0);
  const writeFilestat = (ptr, node) => {
    refresh();
    const at = ptr >>> 0;
    slice(at, FILESTAT_BYTES).fill(0);
    if (node === null) return; // stdio: all zero, type unknown
    view.setBigUint64(at, 1n, true);
    view.setBigUint64(at + 8, node.ino, true);
    view.setUint8(at + 16, node.filetype);
    view.setBigUint64(at + 24, node.nlink, true);
    view.setBigUint64(at + 32, node.byteSize, true);
    view.setBigUint64(at + 40, node.atim, true);
    view.setBigUint64(at + 48, node.mtim, true);
    view.setBigUint64(at + 56, node.birth, true);
  };

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
  /** A File or Directory descriptor's inode; stdio is EBADF. */
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
  const offsetOf = (value) => (value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value));

  /** Writes `data` to an open file at its position, or at its end in append mode. */
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

  /** path_open's open_at: the lookup and the checks of openat2 on Linux. */
  const open = (start, path, follow, oflags, writable) => {
    const creating = (oflags & OFLAGS.CREAT) !== 0;
    if (creating && path.endsWith("/")) {
      lookup(start, stripTrailingSlashes(path), false);
      fail(ERRNO.ISDIR);
    }
    const exclusive = creating && (oflags & OFLAGS.EXCL) !== 0;
    const found = lookup(start, path, follow && !exclusive);
    let node = found.node;
    if (node === undefined) {
      if (!creating) fail(ERRNO.NOENT);
      node = new File();
      found.parent.attach(found.name, node);
    } else {
      if (exclusive) fail(ERRNO.EXIST);
      if (node instanceof Directory) {
        if (creating || writable) fail(ERRNO.ISDIR);
      } else if (!(node instanceof File)) {
        fail(ERRNO.LOOP); // a link not to be followed
      } else if (oflags & OFLAGS.TRUNC) {
        node.resize(0);
      }
    }
    if (oflags & OFLAGS.DIRECTORY && !(node instanceof Directory)) fail(ERRNO.NOTDIR);
    return node;
  };

  /** poll_oneoff's decoding of one subscription: a deadline (monotonic ns) or an fd check. */
  const subscription = (at) => {
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
  };
  const deadline = ({ id, timeout, absolute }) => {
    if (id === CLOCK.MONOTONIC) return absolute ? timeout : monotonicNs() + timeout;
    if (id !== CLOCK.REALTIME) fail(ERRNO.INVAL);
    if (!absolute) return monotonicNs() + timeout;
    const left = timeout - realtimeNs();
    return monotonicNs() + (left > 0n ? left : 0n);
  };
  const writeEvent = (at, userdata, type, nbytes, flags) => {
    view.setBigUint64(at, userdata, true);
    view.setUint16(at + 8, ERRNO.SUCCESS, true);
    view.setUint8(at + 10, type);
    view.setBigUint64(at + 16, nbytes, true);
    view.setUint16(at + 24, flags, true);
  };

  const calls = {
    args_get: (argv, argvBuf) => writeStrings(argv, argvBuf, args),
    args_sizes_get: (count, size) => {
      writeU32(count, args.length);
      writeU32(size, encodedSize(args));
    },
    environ_get: (environ, environBuf) => writeStrings(environ, environBuf, envs),
    environ_sizes_get: (count, size) => {
      writeU32(count, envs.length);
      writeU32(size, encodedSize(envs));
    },
    clock_res_get: (id, out) => {
      checkEnum("clockid", id, CLOCK.THREAD_CPUTIME);
      if (id >= CLOCK.PROCESS_CPUTIME) fail(ERRNO.BADF);
      writeU64(out, 1n);
    },
    clock_time_get: (id, _precision, out) => {
      checkEnum("clockid", id, CLOCK.THREAD_CPUTIME);
      if (id >= CLOCK.PROCESS_CPUTIME) fail(ERRNO.BADF);
      writeU64(out, id === CLOCK.REALTIME ? realtimeNs() : monotonicNs());
    },
    fd_advise: (fd, _offset, _len, advice) => {
      checkEnum("advice", advice, ADVICE_MAX);
      fileOf(fd);
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
      refresh();
      const at = out >>> 0;
      slice(at, 24).fill(0);
      view.setUint8(at, stat.filetype);
      view.setUint16(at + 2, stat.flags, true);
      view.setBigUint64(at + 8, stat.base, true);
      view.setBigUint64(at + 16, stat.inheriting, true);
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
      if (d instanceof FileDescriptor) writeFilestat(out, d.file);
      else if (d instanceof DirectoryDescriptor) writeFilestat(out, d.dir);
      else writeFilestat(out, null);
    },
    fd_filestat_set_size: (fd, size) => {
      const d = fileOf(fd);
      if (!d.writable || size > I64_MAX) fail(ERRNO.INVAL);
      d.file.resize(offsetOf(size));
    },
    fd_filestat_set_times: (fd, atim, mtim, flags) => {
      checkFlags("fstflags", flags, FSTFLAGS.ALL);
      const a = newTime(flags, FSTFLAGS.ATIM, FSTFLAGS.ATIM_NOW, atim);
      const m = newTime(flags, FSTFLAGS.MTIM, FSTFLAGS.MTIM_NOW, mtim);
      const d = descriptor(fd);
      // The preopened directory is an O_PATH handle in wasmtime: futimens answers EBADF.
      if (d instanceof DirectoryDescriptor && d.preopen !== null) fail(ERRNO.BADF);
      nodeOf(fd).setTimes(a, m);
    },
    fd_pread: (fd, iovs, count, offset, out) => {
      const target = firstBuffer(iovs, count);
      const d = descriptor(fd);
      if (d instanceof StdinDescriptor) fail(ERRNO.SPIPE);
      if (!(d instanceof FileDescriptor)) fail(ERRNO.BADF);
      writeU32(out, readFile(d, target, offsetOf(offset)));
    },
    fd_pwrite: (fd, iovs, count, offset, out) => {
      const data = firstBuffer(iovs, count);
      const d = descriptor(fd);
      if (d instanceof OutputDescriptor) fail(ERRNO.SPIPE);
      if (!(d instanceof FileDescriptor)) fail(ERRNO.BADF);
      writeU32(out, writeFile(d, data, offsetOf(offset)));
    },
    fd_read: (fd, iovs, count, out) => {
      const target = firstBuffer(iovs, count);
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
      writeU32(out, n);
    },
    fd_write: (fd, iovs, count, out) => {
      const data = firstBuffer(iovs, count);
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
      writeU32(out, n);
    },
    fd_prestat_get: (fd, out) => {
      const d = descriptor(fd);
      if (!(d instanceof DirectoryDescriptor) || d.preopen === null) fail(ERRNO.BADF);
      refresh();
      view.setUint32(out >>> 0, 0, true); // tag 0: a directory
      view.setUint32((out >>> 0) + 4, encoder.encode(d.preopen).length, true);
    },
    fd_prestat_dir_name: (fd, out, len) => {
      const d = descriptor(fd);
      if (!(d instanceof DirectoryDescriptor) || d.preopen === null) fail(ERRNO.NOTDIR);
      const name = encoder.encode(d.preopen);
      if (name.length > len >>> 0) fail(ERRNO.NAMETOOLONG);
      refresh();
      slice(out, name.length).set(name);
    },
    fd_readdir: (fd, out, len, cookie, used) => {
      const dir = dirOf(fd);
      const entries = [
        [".", dir],
        ["..", dir], // wasmtime gives `..` the inode number of the directory itself
        ...dir.entries,
      ];
      refresh();
      let at = out >>> 0;
      let room = len >>> 0;
      const header = new DataView(new ArrayBuffer(DIRENT_BYTES));
      for (let i = cookie > BigInt(entries.length) ? entries.length : Number(cookie); i < entries.length && room > 0; i++) {
        const [name, node] = entries[i];
        const encoded = encoder.encode(name);
        header.setBigUint64(0, BigInt(i + 1), true);
        header.setBigUint64(8, node.ino, true);
        header.setUint32(16, encoded.length, true);
        header.setUint8(20, node.filetype);
        const headerBytes = new Uint8Array(header.buffer, 0, Math.min(room, DIRENT_BYTES));
        slice(at, headerBytes.length).set(headerBytes);
        at += headerBytes.length;
        room -= headerBytes.length;
        const nameBytes = encoded.subarray(0, room);
        slice(at, nameBytes.length).set(nameBytes);
        at += nameBytes.length;
        room -= nameBytes.length;
      }
      dir.accessed();
      writeU32(used, (len >>> 0) - room);
    },
    fd_renumber: (from, to) => table.renumber(from >>> 0, to >>> 0),
    fd_seek: (fd, offset, whence, out) => {
      checkEnum("whence", whence, WHENCE.END);
      const d = seekable(fd);
      const base = whence === WHENCE.SET ? 0n : whence === WHENCE.CUR ? BigInt(d.position) : BigInt(d.file.size);
      if (whence === WHENCE.SET && offset < 0n) fail(ERRNO.INVAL);
      const position = base + offset;
      if (position < 0n || position > U64_MAX) fail(ERRNO.INVAL);
      d.position = offsetOf(position);
      writeU64(out, position);
    },
    fd_tell: (fd, out) => writeU64(out, BigInt(seekable(fd).position)),
    path_create_directory: (fd, ptr, len) => {
      const start = dirOf(fd);
      const { dir, name } = parentAndName(start, stripTrailingSlashes(text(ptr, len)));
      makeDirectory(dir, name);
    },
    path_filestat_get: (fd, flags, ptr, len, out) => {
      checkFlags("lookupflags", flags, LOOKUP_SYMLINK_FOLLOW);
      const start = dirOf(fd);
      writeFilestat(out, statAt(start, text(ptr, len), (flags & LOOKUP_SYMLINK_FOLLOW) !== 0));
    },
    path_filestat_set_times: (fd, flags, ptr, len, atim, mtim, fstFlags) => {
      checkFlags("lookupflags", flags, LOOKUP_SYMLINK_FOLLOW);
      checkFlags("fstflags", fstFlags, FSTFLAGS.ALL);
      const a = newTime(fstFlags, FSTFLAGS.ATIM, FSTFLAGS.ATIM_NOW, atim);
      const m = newTime(fstFlags, FSTFLAGS.MTIM, FSTFLAGS.MTIM_NOW, mtim);
      const start = dirOf(fd);
      const path = text(ptr, len);
      if (flags & LOOKUP_SYMLINK_FOLLOW) {
        existing(start, path, true).setTimes(a, m);
      } else {
        const { dir, name } = parentAndName(start, path);
        const node = name === "." ? dir : dir.entries.get(name);
        if (node === undefined) fail(ERRNO.NOENT);
        node.setTimes(a, m);
      }
    },
    path_link: (oldFd, oldFlags, oldPtr, oldLen, newFd, newPtr, newLen) => {
      checkFlags("lookupflags", oldFlags, LOOKUP_SYMLINK_FOLLOW);
      const oldStart = dirOf(oldFd);
      const newStart = dirOf(newFd);
      const oldPath = text(oldPtr, oldLen);
      const newPath = text(newPtr, newLen);
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
      const path = text(ptr, len);
      const d = descriptor(fd);
      if (d instanceof FileDescriptor) fail(ERRNO.NOTDIR);
      if (!(d instanceof DirectoryDescriptor)) fail(ERRNO.BADF);
      if (fdflags & (FDFLAGS.DSYNC | FDFLAGS.RSYNC | FDFLAGS.SYNC)) fail(ERRNO.NOTSUP);
      if (oflags & OFLAGS.DIRECTORY && oflags & (OFLAGS.CREAT | OFLAGS.EXCL | OFLAGS.TRUNC)) fail(ERRNO.INVAL);
      const wantsWrite = (base & RIGHTS.FD_WRITE) !== 0n;
      const writable = wantsWrite || (oflags & (OFLAGS.CREAT | OFLAGS.TRUNC)) !== 0;
      const readable = (base & RIGHTS.FD_READ) !== 0n || !wantsWrite;
      const node = open(d.dir, path, (dirflags & LOOKUP_SYMLINK_FOLLOW) !== 0, oflags, writable);
      const opened =
        node instanceof Directory
          ? new DirectoryDescriptor(node)
          : new FileDescriptor(node, {
              readable,
              writable,
              append: (fdflags & FDFLAGS.APPEND) !== 0,
              nonblocking: (fdflags & FDFLAGS.NONBLOCK) !== 0,
            });
      writeU32(out, table.add(opened));
    },
    path_readlink: (fd, ptr, len, out, outLen, used) => {
      const start = dirOf(fd);
      const { dir, name } = parentAndName(start, text(ptr, len));
      const target = readSymlink(dir, name);
      if (target.startsWith("/")) fail(ERRNO.PERM);
      const encoded = encoder.encode(target).subarray(0, outLen >>> 0);
      refresh();
      slice(out, encoded.length).set(encoded);
      writeU32(used, encoded.length);
    },
    path_remove_directory: (fd, ptr, len) => {
      const start = dirOf(fd);
      const { dir, name } = parentAndName(start, text(ptr, len));
      removeDirectory(dir, name);
    },
    path_rename: (oldFd, oldPtr, oldLen, newFd, newPtr, newLen) => {
      const oldStart = dirOf(oldFd);
      const newStart = dirOf(newFd);
      const oldPath = text(oldPtr, oldLen);
      const newPath = text(newPtr, newLen);
      const mustBeDirectory = oldPath.endsWith("/") || newPath.endsWith("/");
      const from = parentAndName(oldStart, stripTrailingSlashes(oldPath));
      const to = parentAndName(newStart, stripTrailingSlashes(newPath));
      rename(from.dir, from.name, to.dir, to.name, mustBeDirectory);
    },
    path_symlink: (oldPtr, oldLen, fd, newPtr, newLen) => {
      const start = dirOf(fd);
      const target = text(oldPtr, oldLen);
      const path = text(newPtr, newLen);
      if (target.startsWith("/")) fail(ERRNO.PERM);
      const { dir, name } = parentAndName(start, path);
      makeSymlink(target, dir, name);
    },
    path_unlink_file: (fd, ptr, len) => {
      const start = dirOf(fd);
      const { dir, name } = parentAndName(start, text(ptr, len));
      unlinkFile(dir, name);
    },
    poll_oneoff: (subscriptions, events, count, used) => {
      const n = count >>> 0;
      if (n === 0) fail(ERRNO.INVAL);
      refresh();
      const at = (i) => (subscriptions >>> 0) + i * SUBSCRIPTION_BYTES;
      const userdata = (i) => view.getBigUint64(at(i), true);
      if (n === 1) {
        const sub = subscription(at(0));
        if (sub.tag === EVENTTYPE.CLOCK && !sub.absolute) {
          // wasmtime sleeps the thread for a lone relative clock and reports nbytes 1.
          sleepUntil(monotonicNs() + sub.timeout);
          refresh();
          writeEvent(events >>> 0, userdata(0), EVENTTYPE.CLOCK, 1n, 0);
          writeU32(used, 1);
          return;
        }
      }
      const subs = [];
      const ready = [];
      for (let i = 0; i < n; i++) {
        const sub = subscription(at(i));
        subs.push(sub);
        if (sub.tag === EVENTTYPE.CLOCK) {
          ready.push(deadline(sub));
          continue;
        }
        const d = descriptor(sub.fd);
        const fits = sub.tag === EVENTTYPE.FD_READ ? d instanceof StdinDescriptor : d instanceof OutputDescriptor;
        if (!fits && !(d instanceof FileDescriptor)) fail(ERRNO.BADF);
        ready.push(0n); // streams in memory are always ready
      }
      const first = ready.reduce((a, b) => (b < a ? b : a));
      sleepUntil(first);
      const now = monotonicNs();
      refresh();
      let written = 0;
      subs.forEach((sub, i) => {
        if (ready[i] > now) return;
        const at = (events >>> 0) + written++ * EVENT_BYTES;
        if (sub.tag === EVENTTYPE.CLOCK) return writeEvent(at, userdata(i), EVENTTYPE.CLOCK, 0n, 0);
        const d = descriptor(sub.fd);
        const atEnd = sub.tag === EVENTTYPE.FD_READ && d instanceof FileDescriptor && d.file.size <= d.position;
        writeEvent(at, userdata(i), sub.tag, 1n, atEnd ? EVENT_FD_READWRITE_HANGUP : 0);
      });
      writeU32(used, written);
    },
    proc_exit: (code) => {
      throw new ProcExit(code >>> 0);
    },
    proc_raise: (signal) => {
      checkEnum("signal", signal, SIGNAL_MAX);
      fail(ERRNO.NOTSUP);
    },
    sched_yield: () => {},
    random_get: (ptr, len) => {
      refresh();
      const target = slice(ptr, len);
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
    },
  };

  const imports = {};
  for (const [name, call] of Object.entries(calls)) {
    // Fixed parameters (path_open has the most, 9): cheaper than rest and spread.
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
    bind: (instanceMemory) => {
      memory = instanceMemory;
    },
  };
}
