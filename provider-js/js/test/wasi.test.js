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

test("the deterministic generator is the ChaCha20 keystream keyed with the seed (RFC 8439 A.1, as determinism.rs)", async () => {
  const { ChaCha20Words } = await import("../wasi/random.js");
  const zero = new ChaCha20Words("0000000000000000");
  const words = Array.from({ length: 32 }, () => zero.nextWord());
  const keystream = Buffer.from(new Uint32Array(words).buffer).toString("hex");
  assert.equal(
    keystream.slice(0, 128),
    "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586",
  );
  assert.equal(
    keystream.slice(128),
    "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f",
  );
  // random_get takes one word's low byte per byte; the same vector as determinism.rs's test.
  const bytes = new Uint8Array(16);
  new ChaCha20Words("0123456789abcdef").fill(bytes);
  assert.equal(Buffer.from(bytes).toString("hex"), "810cfb77c76716afc0a8322ba5857d1c");
});

test("virtual clocks step on every read, sleep without sleeping, and file times read as the start", async () => {
  const { useVirtualTime, REALTIME_START_NS, CLOCK_STEP_NS } = await import("../wasi/clock.js");
  useVirtualTime(true);
  try {
    const { view, call, stat } = task();
    call("clock_time_get", 1, 1n, OUT);
    assert.equal(view.getBigUint64(OUT, true), 0n);
    call("clock_time_get", 0, 1n, OUT);
    assert.equal(view.getBigUint64(OUT, true), REALTIME_START_NS + CLOCK_STEP_NS);
    // A lone relative monotonic sleep of 5 s: subscription at DATA, event at STAT.
    view.setBigUint64(DATA, 7n, true);
    view.setUint8(DATA + 8, 0);
    view.setUint32(DATA + 16, 1, true);
    view.setBigUint64(DATA + 24, 5_000_000_000n, true);
    view.setUint16(DATA + 40, 0, true);
    const started = performance.now();
    call("poll_oneoff", DATA, STAT, 1, OUT);
    assert.ok(performance.now() - started < 1000, "no real sleep");
    assert.equal(view.getUint32(OUT, true), 1);
    assert.equal(view.getBigUint64(STAT, true), 7n);
    call("clock_time_get", 1, 1n, OUT);
    assert.equal(view.getBigUint64(OUT, true), 2n * CLOCK_STEP_NS + 5_000_000_000n);
    assert.deepEqual(stat(3), { atim: REALTIME_START_NS, mtim: REALTIME_START_NS, ctim: REALTIME_START_NS });
  } finally {
    useVirtualTime(false);
  }
});

test("a link's `..` may climb to the directory the lookup started from, not above it (openat2 RESOLVE_BENEATH)", async () => {
  const { lookup } = await import("../wasi/paths.js");
  const { makeDirectory, makeSymlink } = await import("../wasi/dirops.js");
  const { WasiError } = await import("../wasi/constants.js");
  const root = buildRoot([{ path: "top.txt", data: new Uint8Array([1]) }]);
  makeDirectory(root, "dir");
  const dir = root.entries.get("dir");
  makeSymlink("../top.txt", dir, "up");
  assert.equal(lookup(root, "dir/up", true).node, root.entries.get("top.txt"), "below the preopen: allowed");
  assert.throws(() => lookup(dir, "up", true), (e) => e instanceof WasiError && e.errno === 63, "above a directory descriptor: EPERM");
});

test("a removed directory still open takes no new names (ENOENT) and has no links", async () => {
  const { makeDirectory, makeSymlink, removeDirectory } = await import("../wasi/dirops.js");
  const { WasiError } = await import("../wasi/constants.js");
  const root = buildRoot([]);
  makeDirectory(root, "gone");
  const gone = root.entries.get("gone");
  removeDirectory(root, "gone");
  assert.equal(gone.nlink, 0n);
  const enoent = (e) => e instanceof WasiError && e.errno === 44;
  assert.throws(() => makeDirectory(gone, "sub"), enoent);
  assert.throws(() => makeSymlink("x", gone, "link"), enoent);
  makeDirectory(root, "gone");
  assert.equal(root.entries.get("gone").nlink, 2n, "a new directory of the same name is a live one");
});

test("fd_pread moves at most 64 KiB per call, fd_read the whole buffer (wasmtime)", () => {
  const { memory, call } = task();
  memory.grow(2); // room for the 100 000 bytes at DATA
  const view = new DataView(memory.buffer);
  new Uint8Array(memory.buffer).set(new TextEncoder().encode("f.txt"), PATH);
  call("path_open", 3, 0, PATH, 5, O_CREAT, RIGHTS_READ_WRITE, 0n, 0, OUT);
  const fd = view.getUint32(OUT, true);
  const size = 100_000;
  view.setUint32(IOV, DATA, true);
  view.setUint32(IOV + 4, size, true);
  call("fd_pwrite", fd, IOV, 1, 0n, OUT);
  assert.equal(view.getUint32(OUT, true), size);
  call("fd_pread", fd, IOV, 1, 0n, OUT);
  assert.equal(view.getUint32(OUT, true), 65536);
  call("fd_read", fd, IOV, 1, OUT);
  assert.equal(view.getUint32(OUT, true), size);
});
