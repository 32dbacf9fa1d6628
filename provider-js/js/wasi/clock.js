// The clocks of the WASI layer in nanoseconds (BigInt), and a synchronous sleep.

const NS_PER_MS = 1e6;

/** Nanoseconds since the Unix epoch, with the sub-millisecond precision the platform gives. */
export function realtimeNs() {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * NS_PER_MS));
}

/** Nanoseconds since an arbitrary start, never decreasing. */
export function monotonicNs() {
  return BigInt(Math.round(performance.now() * NS_PER_MS));
}

const sleeper = typeof SharedArrayBuffer === "function" ? new Int32Array(new SharedArrayBuffer(4)) : null;

/** Blocks the calling thread until the monotonic clock reaches `deadlineNs`. */
export function sleepUntil(deadlineNs) {
  for (let left = deadlineNs - monotonicNs(); left > 0n; left = deadlineNs - monotonicNs()) {
    // Atomics.wait needs a SharedArrayBuffer (cross-origin isolated pages, node); else spin.
    if (sleeper) Atomics.wait(sleeper, 0, 0, Number(left) / NS_PER_MS);
  }
}
