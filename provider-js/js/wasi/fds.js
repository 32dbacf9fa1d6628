// The descriptor table and its descriptors, numbered, flagged and given the rights that
// wasmtime-wasi's preview 1 adapter gives them (crates/wasi/src/p1.rs).

import { ALL_RIGHTS, ERRNO, FDFLAGS, FILETYPE, RIGHTS, fail } from "./constants.js";

/** Rights wasmtime reports for a preopened directory (base, and inheriting). */
const PREOPEN_BASE =
  RIGHTS.PATH_CREATE_DIRECTORY |
  RIGHTS.PATH_CREATE_FILE |
  RIGHTS.PATH_LINK_SOURCE |
  RIGHTS.PATH_LINK_TARGET |
  RIGHTS.PATH_OPEN |
  RIGHTS.FD_READDIR |
  RIGHTS.PATH_READLINK |
  RIGHTS.PATH_RENAME_SOURCE |
  RIGHTS.PATH_RENAME_TARGET |
  RIGHTS.PATH_SYMLINK |
  RIGHTS.PATH_REMOVE_DIRECTORY |
  RIGHTS.PATH_UNLINK_FILE |
  RIGHTS.PATH_FILESTAT_GET |
  RIGHTS.PATH_FILESTAT_SET_TIMES |
  RIGHTS.FD_FILESTAT_GET |
  RIGHTS.FD_FILESTAT_SET_TIMES;
const PREOPEN_INHERITING =
  PREOPEN_BASE |
  RIGHTS.FD_DATASYNC |
  RIGHTS.FD_READ |
  RIGHTS.FD_SEEK |
  RIGHTS.FD_FDSTAT_SET_FLAGS |
  RIGHTS.FD_SYNC |
  RIGHTS.FD_TELL |
  RIGHTS.FD_WRITE |
  RIGHTS.FD_ADVISE |
  RIGHTS.FD_ALLOCATE |
  RIGHTS.FD_FILESTAT_GET |
  RIGHTS.FD_FILESTAT_SET_SIZE |
  RIGHTS.FD_FILESTAT_SET_TIMES |
  RIGHTS.POLL_FD_READWRITE;
const NOT_FOR_DIRECTORIES = RIGHTS.FD_SEEK | RIGHTS.FD_FILESTAT_SET_SIZE | RIGHTS.PATH_FILESTAT_SET_SIZE | RIGHTS.FD_WRITE;

/** `fd_fdstat_get`'s answer. */
class Fdstat {
  constructor(filetype, flags, base, inheriting = base) {
    this.filetype = filetype;
    this.flags = flags;
    this.base = base;
    this.inheriting = inheriting;
  }
}

/** stdin. */
export class StdinDescriptor {
  constructor(stream) {
    this.stream = stream;
  }

  fdstat() {
    return new Fdstat(FILETYPE.UNKNOWN, 0, RIGHTS.FD_READ);
  }
}

/** stdout or stderr. */
export class OutputDescriptor {
  constructor(output) {
    this.output = output;
  }

  fdstat() {
    return new Fdstat(FILETYPE.UNKNOWN, 0, RIGHTS.FD_WRITE);
  }
}

/** An open regular file with its own position and flags. */
export class FileDescriptor {
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
}

/** An open directory; `preopen` is its name if the task was given it. */
export class DirectoryDescriptor {
  constructor(dir, preopen = null) {
    this.dir = dir;
    this.preopen = preopen;
  }

  fdstat() {
    if (this.preopen !== null) return new Fdstat(FILETYPE.DIRECTORY, 0, PREOPEN_BASE, PREOPEN_INHERITING);
    return new Fdstat(FILETYPE.DIRECTORY, 0, ALL_RIGHTS & ~NOT_FOR_DIRECTORIES);
  }
}

/**
 * Descriptor numbers as wasmtime gives them: a closed number is reused (the largest one
 * first), otherwise one past the largest number in use.
 */
export class DescriptorTable {
  constructor(descriptors) {
    this.used = new Map();
    this.free = [];
    for (const descriptor of descriptors) this.add(descriptor);
  }

  /** The descriptor `fd`, or EBADF. */
  get(fd) {
    const descriptor = this.used.get(fd);
    if (descriptor === undefined) fail(ERRNO.BADF);
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
      fd = this.used.size; // numbers in use and free ones always make up 0..n-1
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
}
