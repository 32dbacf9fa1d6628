// Per-call cost of the WASI layer, measured by hand: `node js/bench/wasi_calls.js` in provider-js.
// Calls the imports directly from JavaScript (no guest), so it measures the layer alone:
// fd_write of 64 bytes to stdout, path_open + fd_close of a file, fd_read of 64 bytes of a file.

import { pathToFileURL } from "node:url";
import { preview1 } from "../wasi/preview1.js";
import { DescriptorTable, DirectoryDescriptor, OutputDescriptor, StdinDescriptor } from "../wasi/fds.js";
import { CappedOutput, InputStream } from "../wasi/stdio.js";
import { buildRoot } from "../wasi/sandbox.js";

const ROUNDS = 200_000;
const FILE_BYTES = 1 << 20;

/** Nanoseconds per call of `call`, the best of 5 runs of ROUNDS calls after a warm-up. */
function nsPerCall(call) {
  for (let i = 0; i < ROUNDS; i++) call();
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < ROUNDS; i++) call();
    best = Math.min(best, Number(process.hrtime.bigint() - started) / ROUNDS);
  }
  return best;
}

/**
 * Measures the imports `makeImports(memory, file)` gives: fd 1 is stdout, fd 3 the preopened
 * `/` holding `f.txt` with the bytes `file`. Prints one line per call.
 */
export function measureAll(name, makeImports) {
  const memory = new WebAssembly.Memory({ initial: 2 });
  const imports = makeImports(memory, new Uint8Array(FILE_BYTES).fill(7));
  const view = new DataView(memory.buffer);
  const IOV = 0, OUT = 16, PATH = 32, BUF = 1024;
  new Uint8Array(memory.buffer).set(new TextEncoder().encode("f.txt"), PATH);
  view.setUint32(IOV, BUF, true);
  view.setUint32(IOV + 4, 64, true);
  const expectOk = (errno, what) => {
    if (errno !== 0) throw new Error(`${name}: ${what} answered errno ${errno}`);
  };
  const open = () => {
    expectOk(imports.path_open(3, 1, PATH, 5, 0, 0x2n, 0n, 0, OUT), "path_open");
    return view.getUint32(OUT, true);
  };
  const write = nsPerCall(() => expectOk(imports.fd_write(1, IOV, 1, OUT), "fd_write"));
  const openClose = nsPerCall(() => expectOk(imports.fd_close(open()), "fd_close"));
  const fd = open();
  let offset = 0;
  const read = nsPerCall(() => {
    if ((offset += 64) > FILE_BYTES) {
      expectOk(imports.fd_seek(fd, 0n, 0, OUT), "fd_seek");
      offset = 64;
    }
    expectOk(imports.fd_read(fd, IOV, 1, OUT), "fd_read");
  });
  const format = (ns) => `${ns.toFixed(0)} ns`;
  console.log(`${name}: fd_write(stdout, 64 B) ${format(write)}, path_open+fd_close ${format(openClose)}, fd_read(file, 64 B) ${format(read)}`);
}

/** The imports runTask gives a task, with stdout going nowhere. */
function ourLayer(memory, file) {
  const stdout = new OutputDescriptor(new CappedOutput(1, Infinity, () => {}));
  const root = new DirectoryDescriptor(buildRoot([{ path: "f.txt", data: file }]), "/");
  const table = new DescriptorTable([new StdinDescriptor(new InputStream(new Uint8Array())), stdout, stdout, root]);
  const wasi = preview1(table, [], []);
  wasi.bind(memory);
  return wasi.imports;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) measureAll("provider-js/js/wasi", ourLayer);
