// Runs the conformance table (tests/conformance/cases.json) through runTask in node and checks
// each result like tests/integration/conformance.rs; then a few behaviours checked against the
// wasmtime runner by hand, the memory-limit contract, and worker.js's message protocol.
// Run: cd provider-js && node --test js/test/ (after build.sh, which builds the core into pkg/)

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runTask } from "../task_runner.js";
import { importedMemoryType, memoryFor, prepareMemories } from "../memories.js";
import { initSync, errorKinds } from "../../pkg/wasimoff_provider_core.js";

const repo = new URL("../../../", import.meta.url);
// Seeds are u64: read them as strings, a JS number would round those past 2^53.
const table = readFileSync(new URL("tests/conformance/cases.json", repo), "utf8").replace(/"seed": (\d+)/g, '"seed": "$1"');
const { cases } = JSON.parse(table);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MIB = 1 << 20;

initSync({ module: readFileSync(new URL("../../pkg/wasimoff_provider_core_bg.wasm", import.meta.url)) });
const kinds = errorKinds();

const fixture = (name) => WebAssembly.compile(readFileSync(new URL(`fixtures/target/wasm32-wasip1/release/${name}.wasm`, repo)));
const base64 = (text) => new Uint8Array(Buffer.from(text, "base64"));
// Like archive::safe_task_path for the table's (valid) paths.
const normalise = (path) => path.replace(/^\//, "").split("/").filter((p) => p !== "" && p !== ".").join("/");

function buildTask(c) {
  const files = [
    ...(c.rootfs ?? []).map((e) => ({ path: normalise(e.path), data: e.dir ? null : encoder.encode(e.content) })),
    ...Object.entries(c.files ?? {}).map(([path, content]) => ({ path: normalise(path), data: encoder.encode(content) })),
  ];
  return {
    args: c.args ?? [c.binary ? `${c.binary}.wasm` : "main.wasm"],
    envs: c.envs ?? [],
    stdin: c.stdin !== undefined ? encoder.encode(c.stdin) : c.stdin_base64 !== undefined ? base64(c.stdin_base64) : new Uint8Array(),
    files,
    artifacts: (c.artifacts ?? []).map((requested) => [normalise(requested), requested]),
    limits: { memoryBytes: c.limits?.memory_bytes ?? 256 * MIB, outputBytes: c.limits?.output_bytes ?? MIB },
    // As the core hands it over: 16 hex digits, or null.
    seed: c.deterministic ? BigInt(c.seed ?? 0).toString(16).padStart(16, "0") : null,
  };
}

/** Runs `task` and gathers its output the way a worker's main thread would. */
function run(module, task) {
  const chunks = { 1: [], 2: [] };
  const result = runTask(module, task, kinds, (stream, bytes) => chunks[stream].push(bytes));
  const join = (parts) => Buffer.concat(parts);
  return { result, stdout: join(chunks[1]), stderr: join(chunks[2]) };
}

/** Every way `outcome` differs from `expect` (conformance.rs run_case). */
function problems(expect, { result, stdout, stderr }) {
  const found = [];
  if (result.type === "exited") {
    if (expect.error !== undefined) found.push(`expected error ${expect.error}, got exit status ${result.status}`);
    if (expect.status !== undefined && expect.status !== result.status) found.push(`status: expected ${expect.status}, got ${result.status}`);
    if (expect.artifacts !== undefined) {
      const actual = Object.fromEntries(result.artifacts.map(({ path, data }) => [path, data ? decoder.decode(data) : ""]));
      const sorted = (map) => JSON.stringify(Object.entries(map).sort());
      if (sorted(actual) !== sorted(expect.artifacts)) found.push(`artifacts: expected ${sorted(expect.artifacts)}, got ${sorted(actual)}`);
    }
    if (expect.missing_artifacts !== undefined && JSON.stringify(expect.missing_artifacts) !== JSON.stringify(result.missing)) {
      found.push(`missing artifacts: expected ${JSON.stringify(expect.missing_artifacts)}, got ${JSON.stringify(result.missing)}`);
    }
  } else if (expect.error !== result.kind) {
    found.push(`expected ${expect.error ?? `status ${expect.status}`}, got ${result.kind}: ${result.message}`);
  }
  for (const [name, actual] of [["stdout", stdout], ["stderr", stderr]]) {
    if (expect[name] !== undefined && !Buffer.from(expect[name]).equals(actual)) {
      found.push(`${name}: expected ${JSON.stringify(expect[name])}, got ${JSON.stringify(decoder.decode(actual))}`);
    }
  }
  if (expect.stdout_base64 !== undefined && !Buffer.from(expect.stdout_base64, "base64").equals(stdout)) {
    found.push(`stdout: expected base64 ${expect.stdout_base64}, got ${stdout.toString("base64")}`);
  }
  if (expect.stdout_bytes !== undefined && expect.stdout_bytes !== stdout.length) found.push(`stdout length: expected ${expect.stdout_bytes}, got ${stdout.length}`);
  if (expect.stdout_prefix !== undefined && !stdout.subarray(0, expect.stdout_prefix.length).equals(Buffer.from(expect.stdout_prefix))) {
    found.push(`stdout should start with ${JSON.stringify(expect.stdout_prefix)}`);
  }
  return found;
}

/** Why the broker's main thread, not runTask, answers `c`, or null. */
function handledElsewhere(c) {
  if (c.expect.error === "rootfs_rejected") return "the broker checks the rootfs zip before dispatch";
  if (c.expect.error === "timeout") return "the main thread enforces timeouts by terminating the worker";
  return null;
}

for (const c of cases) {
  const skip = handledElsewhere(c);
  test(`conformance: ${c.name}`, { skip: skip ?? false }, async (t) => {
    let module;
    try {
      module = c.binary !== undefined ? await fixture(c.binary) : await WebAssembly.compile(base64(c.binary_base64));
    } catch (error) {
      // The broker rejects a module that does not compile before dispatch.
      assert.equal(c.expect.error, "invalid_module", `${c.name} does not compile: ${error.message}`);
      return;
    }
    if (c.expect.error === "missing_start" && WebAssembly.Module.exports(module).some((e) => e.name === "_start")) {
      t.skip("runTask cannot see a function's type: the broker refuses a mistyped _start before dispatch");
      return;
    }
    const expect = { ...c.expect };
    const task = buildTask(c);
    let outcome;
    if (c.name === "memory-bomb" && !WebAssembly.Module.exports(module).some((e) => e.name === "wasimoff_memory_limit_hit")) {
      // NOTE: the fixture is not instrumented (the Rust core's instrumenter is not built here),
      // so runTask cannot tell a refused growth from any trap. V8's own page cap stands in for
      // the limit (else it grows to 4 GiB): same output as wasmtime, but kind `trap`.
      expect.error = "trap";
      setFlagsFromString(`--wasm-max-mem-pages=${task.limits.memoryBytes / 65536}`);
      try {
        outcome = run(module, task);
      } finally {
        setFlagsFromString("--wasm-max-mem-pages=65536"); // V8's default: 4 GiB
      }
    } else {
      outcome = run(module, task);
    }
    const found = problems(expect, outcome);
    assert.deepEqual(found, [], `${c.name} differs:\n${found.join("\n")}`);
  });
}

// Outcomes observed on the wasmtime runner (POST /api/v1/tasks on the axum-host example).
const observed = [
  {
    name: "non-ASCII argv and env",
    binary: "echo",
    args: ["echo", "Zürich ☃ 😀"],
    envs: ["CITY=Zürich"],
    expect: { status: 0, stdout: "argc=2\nargv[0]=echo\nargv[1]=Zürich ☃ 😀\nenv CITY=Zürich\n", stderr: "" },
  },
  { name: "exit 125", binary: "exit", args: ["exit", "125"], expect: { status: 125, stdout: "exiting with 125\n" } },
  { name: "exit 126 is refused", binary: "exit", args: ["exit", "126"], expect: { error: "trap", stdout: "exiting with 126\n", stderr: "status 126\n" } },
  { name: "exit -1 is refused", binary: "exit", args: ["exit", "-1"], expect: { error: "trap", stdout: "exiting with -1\n" } },
  {
    name: "`..` is resolved step by step",
    binary: "files",
    args: ["files", "probe", "/", "x/../inside.txt", "inside.txt/", "nodir/../inside.txt", "/inside.txt/..", "sub/../../x", "."],
    files: { "inside.txt": "ok", "sub/a": "ok" },
    expect: {
      status: 0,
      stdout:
        "/: Uncategorized\nx/../inside.txt: NotFound\ninside.txt/: NotADirectory\nnodir/../inside.txt: NotFound\n" +
        "/inside.txt/..: NotADirectory\nsub/../../x: PermissionDenied\n.: Uncategorized\n",
    },
  },
  { name: "ls of a missing folder", binary: "files", args: ["files", "ls", "/nope"], expect: { status: 0, stdout: "/nope: NotFound\n" } },
  { name: "ls of a file", binary: "files", args: ["files", "ls", "/f"], files: { f: "ok" }, expect: { status: 0, stdout: "/f: NotADirectory\n" } },
  {
    name: "write below a file",
    binary: "files",
    args: ["files", "write", "/f/x", "hi"],
    files: { f: "ok" },
    expect: { status: 1, stdout: "", stderr: "files: cannot write /f/x: NotADirectory\n" },
  },
  {
    name: "write over a folder",
    binary: "files",
    args: ["files", "write", "/d", "hi"],
    files: { "d/x": "ok" },
    expect: { status: 1, stdout: "", stderr: "files: cannot write /d: IsADirectory\n" },
  },
  {
    name: "read a folder",
    binary: "files",
    args: ["files", "read", "/d"],
    files: { "d/x": "ok" },
    expect: { status: 1, stdout: "", stderr: "files: cannot read /d: Uncategorized\n" },
  },
  {
    name: "overlapping and missing artifacts",
    binary: "files",
    args: ["files", "write", "/a/b/c.txt", "hi"],
    artifacts: ["/a/", "a/b/c.txt", "a/b/c.txt/x"],
    expect: { status: 0, artifacts: { "a/": "", "a/b/": "", "a/b/c.txt": "hi" }, missing_artifacts: ["a/b/c.txt/x"] },
  },
];

for (const c of observed) {
  test(`as wasmtime: ${c.name}`, async () => {
    const found = problems(c.expect, run(await fixture(c.binary), buildTask(c)));
    assert.deepEqual(found, [], found.join("\n"));
  });
}

/**
 * A module instrumented like the Rust core does it: exports `memory` (`pages` pages) and the
 * two limit globals; its `_start` copies the limit into `..._hit`, then traps. So with a limit
 * of one page it reports the limit as hit, which shows runTask set the limit first.
 */
function instrumented(pages) {
  const name = (s) => [s.length, ...encoder.encode(s)];
  const section = (id, bytes) => [id, bytes.length, ...bytes];
  const exports = [[...name("_start"), 0, 0], [...name("memory"), 2, 0], [...name("wasimoff_memory_limit_pages"), 3, 0], [...name("wasimoff_memory_limit_hit"), 3, 1]];
  const mutableI32 = [0x7f, 0x01, 0x41, 0x00, 0x0b];
  const body = [0x00, 0x23, 0x00, 0x24, 0x01, 0x00, 0x0b]; // global.get 0; global.set 1; unreachable
  return new WebAssembly.Module(
    new Uint8Array([
      ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
      ...section(1, [1, 0x60, 0, 0]),
      ...section(3, [1, 0]),
      ...section(5, [1, 0x00, pages]),
      ...section(6, [2, ...mutableI32, ...mutableI32]),
      ...section(7, [exports.length, ...exports.flat()]),
      ...section(10, [1, body.length, ...body]),
    ]),
  );
}

test("memory limit contract", () => {
  const task = (memoryBytes) => ({ args: [], envs: [], stdin: new Uint8Array(), files: [], artifacts: [], limits: { memoryBytes, outputBytes: MIB } });
  const message = "the task tried to grow its memory past the limit of 65536 bytes";
  assert.deepEqual(run(instrumented(1), task(65536)).result, { type: "failed", kind: "memory_limit", message });
  assert.equal(run(instrumented(1), task(2 * 65536)).result.kind, "trap", "a limit of 2 pages is not `hit === 1`");
  assert.deepEqual(run(instrumented(2), task(65536)).result, { type: "failed", kind: "memory_limit", message }, "initial memory above the limit");
});

/**
 * A module as the Rust core rewrites it (provider-core/src/memory_import.rs): it imports
 * `wasimoff`.`memory` (`pages`, no maximum), exports it as `memory` and describes it in the
 * custom section `wasimoff.memory`. Its `_start` exits with `16 × memory.size + byte 100`,
 * then leaves 7 at byte 100 and, with `grow`, grows its memory by a page.
 */
function importingMemory(pages, grow) {
  const name = (s) => [s.length, ...encoder.encode(s)];
  const section = (id, bytes) => [id, bytes.length, ...bytes];
  const imports = [[...name("wasi_snapshot_preview1"), ...name("proc_exit"), 0x00, 0], [...name("wasimoff"), ...name("memory"), 0x02, 0x00, pages]];
  const exports = [[...name("_start"), 0x00, 1], [...name("memory"), 0x02, 0]];
  const status = [0x3f, 0x00, 0x41, 16, 0x6c, 0x41, 0xe4, 0x00, 0x2d, 0x00, 0x00, 0x6a]; // memory.size × 16 + load8_u(100)
  const mark = [0x41, 0xe4, 0x00, 0x41, 7, 0x3a, 0x00, 0x00]; // store8(100, 7)
  const body = [0x00, ...status, ...mark, ...(grow ? [0x41, 1, 0x40, 0x00, 0x1a] : []), 0x10, 0x00, 0x0b]; // …; proc_exit
  return new WebAssembly.Module(
    new Uint8Array([
      ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
      ...section(1, [2, 0x60, 1, 0x7f, 0, 0x60, 0, 0]),
      ...section(2, [imports.length, ...imports.flat()]),
      ...section(3, [1, 1]),
      ...section(7, [exports.length, ...exports.flat()]),
      ...section(10, [1, body.length, ...body]),
      ...section(0, [...name("wasimoff.memory"), ...encoder.encode(`{"initial":${pages},"maximum":null}`)]),
    ]),
  );
}

test("an imported memory starts every task at its initial size, zeroed, even after a task grew it", () => {
  const task = { args: [], envs: [], stdin: new Uint8Array(), files: [], artifacts: [], limits: { memoryBytes: MIB, outputBytes: MIB } };
  const [growing, steady] = [importingMemory(1, true), importingMemory(1, false)];
  const modules = [growing, growing, steady, steady, steady, growing, steady, steady];
  // As a worker runs them (memories prepared after each result) and back to back (prepared by the next task).
  const statuses = modules.map((module) => [run(module, task).result.status, prepareMemories()][0]);
  assert.deepEqual(statuses, [16, 16, 16, 16, 16, 16, 16, 16], "one page and byte 100 zero every time");
  assert.deepEqual(modules.map((module) => run(module, task).result.status), statuses);
  assert.deepEqual(run(importingMemory(17, false), task).result, {
    type: "failed",
    kind: "memory_limit",
    message: `the task tried to grow its memory past the limit of ${MIB} bytes`,
  });
});

test("a worker reuses a memory of the same type unless it grew", () => {
  const type = importedMemoryType(importingMemory(3, false));
  assert.deepEqual(type, { initial: 3, maximum: null });
  assert.equal(importedMemoryType(instrumented(1)), null, "a module that defines its memory");
  const first = memoryFor(type);
  new Uint8Array(first.buffer)[5] = 1;
  assert.equal(memoryFor(type), first, "reused");
  assert.equal(new Uint8Array(first.buffer)[5], 0, "zeroed when taken");
  new Uint8Array(first.buffer)[6] = 1;
  prepareMemories();
  assert.equal(new Uint8Array(first.buffer)[6], 0, "zeroed after the task");
  assert.equal(memoryFor(type), first, "and handed out again");
  assert.notEqual(memoryFor({ initial: 3, maximum: 4 }), first, "another type");
  first.grow(1);
  assert.notEqual(memoryFor(type), first, "a grown memory is not reused");
  const second = memoryFor(type);
  second.grow(1);
  prepareMemories();
  const third = memoryFor(type);
  assert.notEqual(third, second, "nor one that grew before it was prepared");
  assert.equal(third.buffer.byteLength, 3 * 65536);
});

test("stderr has its own cap and the message names it", async () => {
  const task = { ...buildTask({ binary: "exit", args: ["exit", "3"] }), limits: { memoryBytes: 256 * MIB, outputBytes: 4 } };
  const { result, stdout, stderr } = run(await fixture("exit"), task);
  assert.deepEqual(result, { type: "failed", kind: "output_limit", message: "stdout exceeded the output limit of 4 bytes; the output is truncated" });
  assert.equal(stdout.toString(), "exit");
  assert.equal(stderr.length, 0);
});

test("worker protocol: kinds once, each module once, outputs, then one result, buffers transferred", async () => {
  const posted = [];
  globalThis.self = { postMessage: (message, transfer) => posted.push(structuredClone(message, { transfer })) };
  await import("../worker.js");
  const c = cases.find((k) => k.name === "files-write-artifacts");
  self.onmessage({ data: { type: "init", kinds } });
  self.onmessage({ data: { type: "run", id: 7, digest: "sha256:files", module: await fixture("files"), task: buildTask(c) } });
  self.onmessage({ data: { type: "run", id: 8, digest: "sha256:files", task: null } });
  const outputs = posted.slice(0, -2);
  assert.deepEqual(posted.slice(-2).map((m) => [m.type, m.id]), [["result", 7], ["result", 8]]);
  assert.ok(outputs.every((m) => m.type === "output" && m.id === 7 && m.stream === 1));
  assert.equal(Buffer.concat(outputs.map((m) => m.data)).toString(), "wrote 15 bytes to /out/result.txt\n");
  const { result } = posted.at(-2);
  assert.equal(result.type, "exited");
  assert.deepEqual(result.artifacts.map((a) => [a.path, a.data && decoder.decode(a.data)]), [["out/", null], ["out/result.txt", "hello artifacts"]]);
  assert.deepEqual(result.missing, ["missing.txt"]);
  assert.equal(posted.at(-1).result.type, "failed");
  assert.equal(posted.at(-1).result.kind, "internal");
});

test("the core names every error kind, frozen, and refuses an unknown one", async () => {
  const { Session } = await import("../../pkg/wasimoff_provider_core.js");
  assert.ok(Object.isFrozen(kinds));
  assert.equal(kinds.MemoryLimit, "memory_limit");
  assert.equal(Object.keys(kinds).length, 16);
  assert.equal(kinds.Cancelled, "cancelled");
  assert.equal(kinds.BackendUnavailable, "backend_unavailable");
  const session = new Session(4);
  const frames = session.failed(1, kinds.Timeout, "late", new Uint8Array(), new Uint8Array());
  assert.equal(frames.length, 1, "no welcome yet, so protocol version 1: the result goes out at once");
  assert.ok(frames[0] instanceof Uint8Array);
  assert.throws(() => session.failed(1, "sleepy", "?", new Uint8Array(), new Uint8Array()), /unknown task error kind "sleepy"/);
});
