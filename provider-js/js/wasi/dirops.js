// The system calls that act on one name in a directory (mkdirat, unlinkat, symlinkat,
// linkat, renameat, readlinkat), with the errors Linux gives and in its order. `name` is a
// single path component or `.` (see paths.parentAndName).

import { ERRNO, fail } from "./constants.js";
import { Directory, Symlink } from "./fs.js";

/** mkdirat: a new empty directory. */
export function makeDirectory(dir, name) {
  if (name === "." || dir.entries.has(name)) fail(ERRNO.EXIST);
  dir.checkLive();
  dir.attach(name, new Directory(dir));
}

/** unlinkat without AT_REMOVEDIR: removes a file or a link, never a directory. */
export function unlinkFile(dir, name) {
  if (name === ".") fail(ERRNO.ISDIR);
  const node = dir.entries.get(name);
  if (node === undefined) fail(ERRNO.NOENT);
  if (node instanceof Directory) fail(ERRNO.ISDIR);
  dir.detach(name);
}

/** unlinkat with AT_REMOVEDIR: removes an empty directory. */
export function removeDirectory(dir, name) {
  if (name === ".") fail(ERRNO.INVAL);
  const node = dir.entries.get(name);
  if (node === undefined) fail(ERRNO.NOENT);
  if (!(node instanceof Directory)) fail(ERRNO.NOTDIR);
  if (node.entries.size > 0) fail(ERRNO.NOTEMPTY);
  dir.detach(name, true);
}

/** symlinkat: a link to `target`, which is not looked at. */
export function makeSymlink(target, dir, name) {
  if (target === "") fail(ERRNO.NOENT);
  if (name === "." || dir.entries.has(name)) fail(ERRNO.EXIST);
  dir.checkLive();
  dir.attach(name, new Symlink(target));
}

/** linkat without AT_SYMLINK_FOLLOW: a second name for a file or a link. */
export function makeHardLink(oldDir, oldName, newDir, newName) {
  const node = oldName === "." ? oldDir : oldDir.entries.get(oldName);
  if (node === undefined) fail(ERRNO.NOENT);
  if (newName === "." || newDir.entries.has(newName)) fail(ERRNO.EXIST);
  newDir.checkLive();
  if (node instanceof Directory) fail(ERRNO.PERM);
  newDir.attach(newName, node);
}

/** readlinkat: a link's target. */
export function readSymlink(dir, name) {
  const node = name === "." ? dir : dir.entries.get(name);
  if (node === undefined) fail(ERRNO.NOENT);
  if (!(node instanceof Symlink)) fail(ERRNO.INVAL);
  node.accessed();
  return node.target;
}

const isWithin = (node, ancestor) => {
  for (let dir = node; ; dir = dir.parent) {
    if (dir === ancestor) return true;
    if (dir.parent === dir) return false;
  }
};

/** renameat; `mustBeDirectory` when either path ended in `/` (cap-std passes `old/`). */
export function rename(oldDir, oldName, newDir, newName, mustBeDirectory) {
  if (oldName === "." || newName === ".") fail(ERRNO.BUSY);
  const node = oldDir.entries.get(oldName);
  if (node === undefined) fail(ERRNO.NOENT);
  newDir.checkLive();
  const isDirectory = node instanceof Directory;
  if (!isDirectory && mustBeDirectory) fail(ERRNO.NOTDIR);
  if (isDirectory && isWithin(newDir, node)) fail(ERRNO.INVAL);
  const victim = newDir.entries.get(newName);
  if (victim instanceof Directory && isWithin(oldDir, victim)) fail(ERRNO.NOTEMPTY);
  if (victim === node) return;
  if (victim !== undefined) {
    if (isDirectory && !(victim instanceof Directory)) fail(ERRNO.NOTDIR);
    if (!isDirectory && victim instanceof Directory) fail(ERRNO.ISDIR);
    if (victim instanceof Directory && victim.entries.size > 0) fail(ERRNO.NOTEMPTY);
    newDir.detach(newName, true);
  }
  oldDir.detach(oldName);
  newDir.attach(newName, node);
}
