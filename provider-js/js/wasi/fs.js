// The in-memory file system of one task: files, directories and symbolic links with the
// metadata wasmtime reports from a Linux (ext4, relatime) task directory, and the changes
// the *at system calls make to a directory's entries.

import { ERRNO, FILETYPE, fail } from "./constants.js";
import { fileTimeNs } from "./clock.js";

/** ext4's largest file: writes past it answer EFBIG. */
const MAX_FILE_BYTES = 2 ** 44 - 4096;
/** ext4's size of a directory with few entries. */
const DIRECTORY_BYTES = 4096n;
/** relatime: an access time older than this is refreshed on every access. */
const RELATIME_NS = 24n * 3600n * 1_000_000_000n;

let lastIno = 0x2f4a1c0n;

/** What every inode has: an identity and its times (ns since the epoch). */
class Inode {
  constructor() {
    const now = fileTimeNs();
    this.ino = ++lastIno;
    this.atim = now;
    this.mtim = now;
    // wasmtime reports the birth time as `ctim` (Metadata::created), so it never changes.
    this.birth = now;
    // An access time taken from the clock during the task cannot be a day old yet.
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
}

/** A regular file; `bytes` may be longer than `size` (room to grow). */
export class File extends Inode {
  constructor(data = new Uint8Array()) {
    super();
    this.bytes = data.slice();
    this.size = data.length;
    this.links = 0; // counted by Directory.attach
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
      fail(ERRNO.NOSPC); // the page cannot hold it; Linux would store a sparse file
    }
    grown.set(this.bytes.subarray(0, this.size));
    this.bytes = grown;
  }
}

/** A directory: named entries, and its one parent (itself for the root). */
export class Directory extends Inode {
  constructor(parent = null) {
    super();
    this.entries = new Map();
    this.parent = parent ?? this;
    // Removed while a descriptor still holds it: Linux lets nothing new be made in it.
    this.removed = false;
  }

  get filetype() {
    return FILETYPE.DIRECTORY;
  }

  /** Linux: `.`, the entry in the parent, and each subdirectory's `..`. */
  get nlink() {
    if (this.removed) return 0n;
    let subdirectories = 0n;
    for (const entry of this.entries.values()) if (entry instanceof Directory) subdirectories++;
    return 2n + subdirectories;
  }

  get byteSize() {
    return DIRECTORY_BYTES;
  }

  /** Adds `node` as `name` (the caller checked that `name` is free). */
  attach(name, node) {
    this.entries.set(name, node);
    if (node instanceof Directory) node.parent = this;
    else node.links = (node.links ?? 0) + 1;
    this.modified();
  }

  /** Removes the entry `name`; `removing` when the name goes away with its directory. */
  detach(name, removing = false) {
    const node = this.entries.get(name);
    this.entries.delete(name);
    if (!(node instanceof Directory)) node.links--;
    else if (removing) node.removed = true;
    this.modified();
  }

  /** Fails with ENOENT where Linux does: a new name in a directory that was removed. */
  checkLive() {
    if (this.removed) fail(ERRNO.NOENT);
  }
}

/** A symbolic link; its size is the length of its target in bytes. */
export class Symlink extends Inode {
  constructor(target) {
    super();
    this.target = target;
    this.targetBytes = new TextEncoder().encode(target).length;
    this.links = 0; // counted by Directory.attach
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
}
