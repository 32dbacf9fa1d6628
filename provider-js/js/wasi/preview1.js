// The `wasi_snapshot_preview1` imports: each call decodes its arguments from guest memory
// (memory.js), acts on the descriptor table and the in-memory file system, and answers an
// errno the way wasmtime-wasi's preview 1 adapter does (crates/wasi/src/p1.rs): the same
// argument checks in the same order, and the same quirks (one iovec per read or write,
// `.`/`..` first in fd_readdir; poll_oneoff in poll.js).

import {
  ADVICE_MAX,
  ALL_RIGHTS,
  CLOCK,
  ERRNO,
  FDFLAGS,
  FSTFLAGS,
  LOOKUP_SYMLINK_FOLLOW,
  OFLAGS,
  RIFLAGS_ALL,
  RIGHTS,
  SDFLAGS_ALL,
  WHENCE,
  WasiError,
  fail,
} from "./constants.js";
import { fileTimeNs, readClock } from "./clock.js";
import { GuestMemory } from "./memory.js";
import { pollOneoff } from "./poll.js";
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
/** A u64 argument: the guest's i64 arrives as a signed BigInt. */
const u64 = (value) => BigInt.asUintN(64, value);
const I64_MAX = (1n << 63n) - 1n;
const DIRENT_BYTES = 24;
/** wasmtime's fd_pread reads at most this much per call (its fd_read, the whole buffer). */
const PREAD_MAX_BYTES = 65536;
const SIGNAL_MAX = 30;
const encoder = new TextEncoder();

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

/** Linux's rw_verify_area: a positioned read or write may not end past the largest offset. */
function checkEnd(offset, length) {
  if (length > 0 && offset + BigInt(length) > I64_MAX) fail(ERRNO.INVAL);
}

/** wasmtime's systimespec: a time and "now" for the same field is EINVAL. */
function newTime(flags, set, now, value) {
  if (flags & set && flags & now) fail(ERRNO.INVAL);
  if (flags & set) return value;
  if (flags & now) return fileTimeNs();
  return null;
}

/**
 * The imports for one task. `table` is its DescriptorTable; `args` and `envs` its argv and
 * environment strings (`KEY=value`); `random` a deterministic task's ChaCha20Words (random.js),
 * else null for the platform's generator. Call `bind(memory)` with the instance's memory before
 * the guest runs.
 */
export function preview1(table, args, envs, random = null) {
  const mem = new GuestMemory();
  const encodedSize = (strings) => strings.reduce((n, s) => n + encoder.encode(s).length + 1, 0);

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
      found.parent.checkLive();
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
      if (u64(len) > I64_MAX) fail(ERRNO.INVAL); // wasmtime takes the length as an i64, not the offset
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
      // The preopened directory is an O_PATH handle in wasmtime: futimens answers EBADF, unless
      // both times are left alone (Linux then returns before looking at the descriptor).
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
        // In append mode the offset is not looked at: the bytes go to the end.
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
      mem.view.setUint32(out >>> 0, 0, true); // tag 0: a directory
      mem.view.setUint32((out >>> 0) + 4, encoder.encode(d.preopen).length, true);
    },
    fd_prestat_dir_name: (fd, out, len) => {
      const d = descriptor(fd);
      if (!(d instanceof DirectoryDescriptor) || d.preopen === null) fail(ERRNO.NOTDIR);
      const name = encoder.encode(d.preopen);
      if (name.length > len >>> 0) fail(ERRNO.NAMETOOLONG);
      mem.refresh();
      mem.slice(out, name.length).set(name);
    },
    fd_readdir: (fd, out, len, signedCookie, used) => {
      const cookie = u64(signedCookie);
      const dir = dirOf(fd);
      const entries = [
        [".", dir],
        ["..", dir], // wasmtime gives `..` the inode number of the directory itself
        ...dir.entries,
      ];
      mem.refresh();
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
      if (position < 0n || position > U64_MAX) fail(ERRNO.INVAL);
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
        // utimensat with both times left alone returns before it looks the name up.
        if (a === null && m === null) return;
        const node = name === "." ? dir : dir.entries.get(name);
        if (node === undefined) fail(ERRNO.NOENT);
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
      const opened =
        node instanceof Directory
          ? new DirectoryDescriptor(node)
          : new FileDescriptor(node, {
              readable,
              writable,
              append: (fdflags & FDFLAGS.APPEND) !== 0,
              nonblocking: (fdflags & FDFLAGS.NONBLOCK) !== 0,
            });
      mem.u32(out, table.add(opened));
    },
    path_readlink: (fd, ptr, len, out, outLen, used) => {
      const start = dirOf(fd);
      const { dir, name } = parentAndName(start, mem.text(ptr, len));
      const target = readSymlink(dir, name);
      if (target.startsWith("/")) fail(ERRNO.PERM);
      const encoded = encoder.encode(target).subarray(0, outLen >>> 0);
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
    sched_yield: () => {},
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
    bind: (memory) => mem.bind(memory),
  };
}
