// Path resolution below a directory descriptor, as wasmtime does it on Linux: openat2 with
// RESOLVE_BENEATH for opens and lookups, and cap-std's "open the parent, then act on the
// last name" for the other path calls. Absolute paths, absolute link targets and `..` above
// the starting directory answer EPERM (cap-std's escape error); more than 40 links, ELOOP.

import { ERRNO, fail } from "./constants.js";
import { Directory, Symlink } from "./fs.js";

const MAX_SYMLINK_HOPS = 40;
const NAME_MAX = 255;
const PATH_MAX = 4096;
const encoder = new TextEncoder();

const utf8Length = (text) => (text.length * 3 <= NAME_MAX ? text.length : encoder.encode(text).length);

function checkPath(path) {
  if (path === "") fail(ERRNO.NOENT);
  if (path.includes("\0")) fail(ERRNO.INVAL);
  if (path.length >= PATH_MAX / 3 && encoder.encode(path).length >= PATH_MAX) fail(ERRNO.NAMETOOLONG);
}

/** Fails with ENAMETOOLONG for a name longer than ext4 allows. */
export function checkName(name) {
  if (name.length > NAME_MAX / 3 && utf8Length(name) > NAME_MAX) fail(ERRNO.NAMETOOLONG);
}

/**
 * The result of a lookup: the directory holding the last name, the name (null for `.` and
 * `..`), and the inode it names (undefined when missing); `mustBeDirectory` when the path
 * ended in `/`.
 */
class Found {
  constructor(parent, name, node, mustBeDirectory) {
    this.parent = parent;
    this.name = name;
    this.node = node;
    this.mustBeDirectory = mustBeDirectory;
  }
}

/**
 * Looks `path` up below `start` like openat2(RESOLVE_BENEATH). Links on the way are
 * followed; the last one when `follow` or when the path ends in `/`. A missing last name is
 * no error here (its parent exists); a missing or non-directory name on the way is. `..` may
 * not climb above `floor`: the directory descriptor the whole lookup started from, also while
 * a link's target is resolved from the link's own directory.
 */
export function lookup(start, path, follow, hops = { count: 0 }, floor = start) {
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
        if (mustBeDirectory && target.node !== undefined && !(target.node instanceof Directory)) fail(ERRNO.NOTDIR);
        return new Found(target.parent, target.name, target.node, mustBeDirectory || target.mustBeDirectory);
      }
      node = target.node;
    }
    if (last) {
      if (mustBeDirectory && node !== undefined && !(node instanceof Directory)) fail(ERRNO.NOTDIR);
      return new Found(dir, name, node, mustBeDirectory);
    }
    if (node === undefined) fail(ERRNO.NOENT);
    if (!(node instanceof Directory)) fail(ERRNO.NOTDIR);
    dir = node;
  }
  return new Found(dir, null, dir, mustBeDirectory); // "" was refused: only slashes and dots
}

function followLink(dir, link, hops, floor) {
  if (++hops.count > MAX_SYMLINK_HOPS) fail(ERRNO.LOOP);
  link.accessed();
  return lookup(dir, link.target, true, hops, floor);
}

/** The existing inode `path` names below `start` (see lookup). */
export function existing(start, path, follow) {
  const found = lookup(start, path, follow);
  if (found.node === undefined) fail(ERRNO.NOENT);
  return found.node;
}

/**
 * The inode path_filestat_get describes. wasmtime on Linux stats a lone name (as Rust's Path
 * sees it: trailing `/` and `.` dropped) directly with AT_SYMLINK_NOFOLLOW, so `link/` is the
 * link itself; other paths are opened with O_PATH (a lookup).
 */
export function statAt(start, path, follow) {
  checkPath(path);
  if (!follow && !path.startsWith("/") && !path.startsWith("./") && path !== ".") {
    const names = path.split("/").filter((name) => name !== "" && name !== ".");
    if (names.length === 1 && names[0] !== "..") {
      checkName(names[0]);
      const node = start.entries.get(names[0]);
      if (node === undefined) fail(ERRNO.NOENT);
      return node;
    }
  }
  return existing(start, path, follow);
}

/** Opens `path` as a directory (cap-std open_dir: links followed, ENOTDIR for others). */
export function openDirectory(start, path) {
  const node = existing(start, path, true);
  if (!(node instanceof Directory)) fail(ERRNO.NOTDIR);
  return node;
}

/**
 * cap-std's split of `path` for the calls that act on a name in a directory (mkdirat,
 * unlinkat, symlinkat, linkat, renameat, readlinkat, utimensat): the directory (opened
 * with openDirectory) and the last name. A path ending in `/`, `/.` or `..` names `.` in
 * the directory the whole path opens.
 */
export function parentAndName(start, path) {
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

/** cap-std's strip_dir_suffix: trailing slashes off, unless that leaves nothing. */
export function stripTrailingSlashes(path) {
  const stripped = path.replace(/\/+$/, "");
  return stripped === "" && path !== "" ? "/" : stripped;
}
