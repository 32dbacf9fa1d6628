// The guest's linear memory as the WASI calls read and write it: little-endian through a
// DataView, renewed when the memory grew. Out-of-bounds pointers throw a RangeError, which
// traps the guest as wasmtime does.

import { ERRNO, fail } from "./constants.js";

const FILESTAT_BYTES = 64;
/** Strings up to this length that are all ASCII skip the TextDecoder. */
const ASCII_FAST_PATH = 64;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Views of one instance's memory; `bind` it before the guest runs. */
export class GuestMemory {
  constructor() {
    this.memory = null;
    this.buffer = null;
    this.view = null;
    this.bytes = null;
  }

  bind(memory) {
    this.memory = memory;
  }

  /** Renews the views if the memory grew; call before using `view` or `slice`. */
  refresh() {
    if (this.memory.buffer !== this.buffer) {
      this.buffer = this.memory.buffer;
      this.view = new DataView(this.buffer);
      this.bytes = new Uint8Array(this.buffer);
    }
  }

  /** `len` bytes at `ptr` (a view). */
  slice(ptr, len) {
    return new Uint8Array(this.buffer, ptr >>> 0, len >>> 0);
  }

  /** The UTF-8 string at `ptr`; EILSEQ if it is not UTF-8 (wiggle). */
  text(ptr, len) {
    this.refresh();
    const raw = this.slice(ptr, len);
    if (raw.length <= ASCII_FAST_PATH) {
      let ascii = "";
      for (let i = 0; i < raw.length && raw[i] < 0x80; i++) ascii += String.fromCharCode(raw[i]);
      if (ascii.length === raw.length) return ascii;
    }
    try {
      return decoder.decode(raw);
    } catch {
      return fail(ERRNO.ILSEQ);
    }
  }

  /** wasmtime reads and writes only the first non-empty buffer of an iovec array. */
  firstBuffer(iovs, count) {
    this.refresh();
    for (let i = 0; i < count >>> 0; i++) {
      const at = (iovs >>> 0) + i * 8;
      const len = this.view.getUint32(at + 4, true);
      if (len !== 0) return this.slice(this.view.getUint32(at, true), len);
    }
    return this.slice(0, 0);
  }

  u32(ptr, value) {
    this.refresh();
    this.view.setUint32(ptr >>> 0, value, true);
  }

  u64(ptr, value) {
    this.refresh();
    this.view.setBigUint64(ptr >>> 0, value, true);
  }

  /** args_get/environ_get: NUL-terminated `strings` from `out`, their addresses at `pointers`. */
  strings(pointers, out, strings) {
    this.refresh();
    let at = out >>> 0;
    strings.forEach((string, i) => {
      this.view.setUint32((pointers >>> 0) + i * 4, at, true);
      const { written } = encoder.encodeInto(string, this.slice(at, this.buffer.byteLength - at));
      this.bytes[at + written] = 0;
      at += written + 1;
    });
  }

  /** A `filestat` of `node` (dev 1, ctim the birth time, as wasmtime); null: stdio, all zero. */
  filestat(ptr, node) {
    this.refresh();
    const at = ptr >>> 0;
    this.slice(at, FILESTAT_BYTES).fill(0);
    if (node === null) return;
    const view = this.view;
    view.setBigUint64(at, 1n, true);
    view.setBigUint64(at + 8, node.ino, true);
    view.setUint8(at + 16, node.filetype);
    view.setBigUint64(at + 24, node.nlink, true);
    view.setBigUint64(at + 32, node.byteSize, true);
    view.setBigUint64(at + 40, node.atim, true);
    view.setBigUint64(at + 48, node.mtim, true);
    view.setBigUint64(at + 56, node.birth, true);
  }
}
