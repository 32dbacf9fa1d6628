// The task's standard streams: stdin as a non-seekable stream over the task's bytes, and
// stdout/stderr capped like the local runner's CappedPipe (src/runner/output.rs).

import { ERRNO, fail } from "./constants.js";

/** Thrown from a write that crosses the output cap; it unwinds the guest at once. */
export class OutputLimitExceeded extends Error {}

/** stdin: wasmtime's MemoryInputPipe. */
export class InputStream {
  constructor(bytes) {
    this.bytes = bytes;
    this.offset = 0;
  }

  /** Reads into `buffer`; 0 at the end; EINTR for an empty read before the end (wasmtime). */
  read(buffer) {
    const left = this.bytes.length - this.offset;
    if (left === 0) return 0;
    if (buffer.length === 0) fail(ERRNO.INTR);
    const n = Math.min(left, buffer.length);
    buffer.set(this.bytes.subarray(this.offset, this.offset + n));
    this.offset += n;
    return n;
  }
}

/** stdout or stderr: hands what fits under the cap to `onOutput`, throws past it. */
export class CappedOutput {
  constructor(stream, limit, onOutput) {
    this.stream = stream;
    this.limit = limit;
    this.room = limit;
    this.onOutput = onOutput;
  }

  /** Writes `data` (a view of guest memory); `onOutput` gets a copy of its own. */
  write(data) {
    const kept = data.slice(0, this.room);
    const truncated = kept.length < data.length; // before onOutput, which may transfer `kept`
    this.room -= kept.length;
    if (kept.length > 0) this.onOutput(this.stream, kept);
    if (truncated) {
      const name = this.stream === 1 ? "stdout" : "stderr";
      throw new OutputLimitExceeded(`${name} exceeded the output limit of ${this.limit} bytes; the output is truncated`);
    }
    return data.length;
  }
}
