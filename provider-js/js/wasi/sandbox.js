// The task's `/` in memory: built from the task's files like Sandbox::create, and searched
// for artifacts like Sandbox::collect (src/runner/sandbox.rs): links are never followed.

import { Directory, File } from "./fs.js";

const parts = (path) => path.split("/").filter(Boolean);

/** The task's root directory: `files` ({path, data: Uint8Array|null for a folder}) in order. */
export function buildRoot(files) {
  const root = new Directory();
  const subdirectory = (dir, name, path) => {
    let entry = dir.entries.get(name);
    if (entry === undefined) dir.attach(name, (entry = new Directory(dir)));
    if (!(entry instanceof Directory)) throw new Error(`task directory: ${path}: ${name} is a file`);
    return entry;
  };
  for (const { path, data } of files) {
    const names = parts(path);
    const last = names.pop();
    const parent = names.reduce((dir, name) => subdirectory(dir, name, path), root);
    if (last === undefined) continue; // the root itself
    if (data === null) {
      subdirectory(parent, last, path);
      continue;
    }
    const existing = parent.entries.get(last);
    if (existing instanceof Directory) throw new Error(`task directory: ${path} is a directory`);
    if (existing !== undefined) parent.detach(last);
    parent.attach(last, new File(data));
  }
  return root;
}

/** Adds `entry` at `path` to `found`: a directory as `path/` and all below it. */
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

/** The `artifacts` ([normalised path, as requested]) below `root`, and those missing. */
export function collectArtifacts(root, artifacts) {
  const found = [];
  const missing = [];
  for (const [path, requested] of artifacts) {
    let entry = root;
    for (const name of parts(path)) entry = entry instanceof Directory ? entry.entries.get(name) : undefined;
    if (!addArtifact(found, path, entry)) missing.push(requested);
  }
  return { artifacts: found, missing };
}
