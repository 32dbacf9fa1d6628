// The clocks of the WASI layer in nanoseconds (BigInt), and a synchronous sleep. While a
// deterministic task runs (useVirtualTime), clock_time_get, poll_oneoff and file times see the
// virtual clock of src/runner/determinism.rs instead: it starts at 0 (realtime at
// REALTIME_START_NS), steps by CLOCK_STEP_NS after every read, and moves forward instead of
// sleeping; file times the host would take from its clock are REALTIME_START_NS.

const NS_PER_MS = 1e6;
const U64_MAX = (1n << 64n) - 1n;

/** The virtual realtime clock's start: 2000-01-01T00:00:00Z. */
export const REALTIME_START_NS = 946_684_800_000_000_000n;
/** How far the virtual clock moves on every read. */
export const CLOCK_STEP_NS = 1_000n;

/** The virtual time (BigInt) while a deterministic task runs, else null. */
let virtualNs = null;

/** Switches the virtual clock on (from 0) or off; a worker runs one task at a time. */
export function useVirtualTime(on) {
  virtualNs = on ? 0n : null;
}

/** Whether the running task sees the virtual clock. */
export const isVirtual = () => virtualNs !== null;

/** u64 arithmetic saturates, as in Rust. */
export const saturate = (value) => (value > U64_MAX ? U64_MAX : value < 0n ? 0n : value);

/** The virtual time now, without a step. */
export const virtualNow = () => virtualNs;

/** Moves the virtual time forward to `at` (never back). */
export function advanceVirtualTo(at) {
  if (at > virtualNs) virtualNs = at;
}

/** Nanoseconds since the Unix epoch, with the sub-millisecond precision the platform gives. */
export function realtimeNs() {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * NS_PER_MS));
}

/** Nanoseconds since an arbitrary start, never decreasing. */
export function monotonicNs() {
  return BigInt(Math.round(performance.now() * NS_PER_MS));
}

/** clock_time_get of the realtime (`realtime` true) or monotonic clock. */
export function readClock(realtime) {
  if (virtualNs === null) return realtime ? realtimeNs() : monotonicNs();
  const now = virtualNs;
  virtualNs = saturate(virtualNs + CLOCK_STEP_NS);
  return realtime ? saturate(REALTIME_START_NS + now) : now;
}

/** The time the file system stamps on a creation, write, read or "now". */
export function fileTimeNs() {
  return virtualNs === null ? realtimeNs() : REALTIME_START_NS;
}

const sleeper = typeof SharedArrayBuffer === "function" ? new Int32Array(new SharedArrayBuffer(4)) : null;

/** Blocks the calling thread until the monotonic clock reaches `deadlineNs`. */
export function sleepUntil(deadlineNs) {
  for (let left = deadlineNs - monotonicNs(); left > 0n; left = deadlineNs - monotonicNs()) {
    // Atomics.wait needs a SharedArrayBuffer (cross-origin isolated pages, node); else spin.
    if (sleeper) Atomics.wait(sleeper, 0, 0, Number(left) / NS_PER_MS);
  }
}
