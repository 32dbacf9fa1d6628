// The WASI layer's timestamps, called directly (no guest): writes move mtime, reads move
// atime as relatime does on the wasmtime runner's ext4, and set_times values stay exact.
// Run: cd provider-js && node --test js/test/

import { test } from "node:test";
import assert from "node:assert/strict";
import { preview1 } from "../wasi/preview1.js";
import { DescriptorTable, DirectoryDescriptor, OutputDescriptor, StdinDescriptor } from "../wasi/fds.js";
import { CappedOutput, InputStream } from "../wasi/stdio.js";
import { buildRoot } from "../wasi/sandbox.js";
import { monotonicNs } from "../wasi/clock.js";

const RIGHTS_READ_WRITE = (1n << 1n) | (1n << 6n);
const O_CREAT = 1;
const PATH = 0, IOV = 64, OUT = 80, STAT = 128, DATA = 256;

/** The imports of a task with an empty `/`, over a fresh memory. */
function task() {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const stdout = new OutputDescriptor(new CappedOutput(1, 1024, () => {}));
  const table = new DescriptorTable([new StdinDescriptor(new InputStream(new Uint8Array())), stdout, stdout, new DirectoryDescriptor(buildRoot([]), "/")]);
  const wasi = preview1(table, [], []);
  wasi.bind(memory);
  const view = new DataView(memory.buffer);
  const call = (name, ...args) => assert.equal(wasi.imports[name](...args), 0, `${name} failed`);
  const stat = (fd) => {
    call("fd_filestat_get", fd, STAT);
    return { atim: view.getBigUint64(STAT + 40, true), mtim: view.getBigUint64(STAT + 48, true), ctim: view.getBigUint64(STAT + 56, true) };
  };
  const buffer = (length) => {
    view.setUint32(IOV, DATA, true);
    view.setUint32(IOV + 4, length, true);
  };
  return { memory, view, call, stat, buffer };
}

/** Lets the realtime clock move on. */
const tick = () => {
  const until = monotonicNs() + 2_000_000n;
  while (monotonicNs() < until);
};

test("writes move mtime; the first read after a write moves atime, the next does not", () => {
  const { memory, view, call, stat, buffer } = task();
  new Uint8Array(memory.buffer).set(new TextEncoder().encode("f.txt"), PATH);
  call("path_open", 3, 0, PATH, 5, O_CREAT, RIGHTS_READ_WRITE, 0n, 0, OUT);
  const fd = view.getUint32(OUT, true);
  const created = stat(fd);
  assert.ok(created.mtim > 1_600_000_000_000_000_000n, "a real time in ns since the epoch");
  tick();
  buffer(4);
  call("fd_write", fd, IOV, 1, OUT);
  const written = stat(fd);
  assert.ok(written.mtim > created.mtim);
  assert.equal(written.atim, created.atim);
  assert.equal(written.ctim, created.ctim, "ctim is the birth time, as wasmtime reports it");
  tick();
  call("fd_seek", fd, 0n, 0, OUT);
  call("fd_read", fd, IOV, 1, OUT);
  const read = stat(fd);
  assert.ok(read.atim > written.mtim);
  tick();
  call("fd_seek", fd, 0n, 0, OUT);
  call("fd_read", fd, IOV, 1, OUT);
  assert.equal(stat(fd).atim, read.atim, "relatime: atime newer than mtime stays");
});

test("set_times keeps the nanoseconds it is given", () => {
  const { memory, view, call, stat } = task();
  new Uint8Array(memory.buffer).set(new TextEncoder().encode("f.txt"), PATH);
  call("path_open", 3, 0, PATH, 5, O_CREAT, RIGHTS_READ_WRITE, 0n, 0, OUT);
  const fd = view.getUint32(OUT, true);
  call("fd_filestat_set_times", fd, 1_234_567_890_123_456_789n, 987_654_321_987_654_321n, 1 | 4);
  const { atim, mtim } = stat(fd);
  assert.deepEqual([atim, mtim], [1_234_567_890_123_456_789n, 987_654_321_987_654_321n]);
});
