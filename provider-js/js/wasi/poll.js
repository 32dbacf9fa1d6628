// poll_oneoff as wasmtime's preview 1 adapter answers it: a lone relative clock sleeps and
// reports nbytes 1; otherwise every subscription is checked first (EINVAL, EBADF), streams in
// memory are always ready, clocks when their deadline passed, and the ready ones are reported
// in order (clocks with nbytes 0, fds with nbytes 1, a file read at its end with HANGUP).

import { CLOCK, ERRNO, EVENT_FD_READWRITE_HANGUP, EVENTTYPE, SUBSCRIPTION_CLOCK_ABSTIME, fail } from "./constants.js";
import { REALTIME_START_NS, advanceVirtualTo, isVirtual, monotonicNs, realtimeNs, saturate, sleepUntil, virtualNow } from "./clock.js";
import { FileDescriptor, OutputDescriptor, StdinDescriptor } from "./fds.js";

const SUBSCRIPTION_BYTES = 48;
const EVENT_BYTES = 32;

/** One subscription decoded (an invalid value in memory is EINVAL, not a trap). */
function subscription(view, at) {
  const tag = view.getUint8(at + 8);
  if (tag === EVENTTYPE.CLOCK) {
    const id = view.getUint32(at + 16, true);
    if (id > CLOCK.THREAD_CPUTIME) fail(ERRNO.INVAL);
    const timeout = view.getBigUint64(at + 24, true);
    const flags = view.getUint16(at + 40, true);
    if (flags & ~SUBSCRIPTION_CLOCK_ABSTIME) fail(ERRNO.INVAL);
    return { tag, id, timeout, absolute: (flags & SUBSCRIPTION_CLOCK_ABSTIME) !== 0 };
  }
  if (tag === EVENTTYPE.FD_READ || tag === EVENTTYPE.FD_WRITE) return { tag, fd: view.getUint32(at + 16, true) };
  return fail(ERRNO.INVAL);
}

/** When a clock subscription fires, on the monotonic clock. */
function deadline({ id, timeout, absolute }) {
  if (id === CLOCK.MONOTONIC) return absolute ? timeout : monotonicNs() + timeout;
  if (id !== CLOCK.REALTIME) fail(ERRNO.INVAL);
  if (!absolute) return monotonicNs() + timeout;
  const left = timeout - realtimeNs();
  return monotonicNs() + (left > 0n ? left : 0n);
}

function writeEvent(view, at, userdata, type, nbytes, flags) {
  view.setBigUint64(at, userdata, true);
  view.setUint16(at + 8, ERRNO.SUCCESS, true);
  view.setUint8(at + 10, type);
  view.setBigUint64(at + 16, nbytes, true);
  view.setUint16(at + 24, flags, true);
}

/**
 * A deterministic task's poll of realtime and monotonic clocks only, as poll_virtual in
 * src/runner/determinism.rs: no sleep, the virtual clock moves to the earliest deadline and
 * every clock due then fires (a lone relative clock with nbytes 1). False for anything else.
 */
function pollVirtual(mem, at, userdata, events, n, used) {
  const clocks = [];
  for (let i = 0; i < n; i++) {
    const view = mem.view;
    const flags = view.getUint16(at(i) + 40, true);
    const id = view.getUint32(at(i) + 16, true);
    if (view.getUint8(at(i) + 8) !== EVENTTYPE.CLOCK || flags & ~SUBSCRIPTION_CLOCK_ABSTIME) return false;
    if (id !== CLOCK.REALTIME && id !== CLOCK.MONOTONIC) return false;
    const timeout = view.getBigUint64(at(i) + 24, true);
    const relative = (flags & SUBSCRIPTION_CLOCK_ABSTIME) === 0;
    let deadline = timeout;
    if (relative) deadline = saturate(virtualNow() + timeout);
    else if (id === CLOCK.REALTIME) deadline = saturate(timeout - REALTIME_START_NS);
    clocks.push({ userdata: userdata(i), deadline, relative });
  }
  const loneSleep = n === 1 && clocks[0].relative;
  advanceVirtualTo(clocks.reduce((a, c) => (c.deadline < a ? c.deadline : a), clocks[0].deadline));
  const now = virtualNow();
  let written = 0;
  for (const clock of clocks) {
    if (clock.deadline > now) continue;
    const event = (events >>> 0) + written++ * EVENT_BYTES;
    writeEvent(mem.view, event, clock.userdata, EVENTTYPE.CLOCK, loneSleep ? 1n : 0n, 0);
  }
  mem.u32(used, written);
  return true;
}

/** poll_oneoff(subscriptions, events, count) → the number of events, written to `used`. */
export function pollOneoff(mem, table, subscriptions, events, count, used) {
  const n = count >>> 0;
  if (n === 0) fail(ERRNO.INVAL);
  mem.refresh();
  const at = (i) => (subscriptions >>> 0) + i * SUBSCRIPTION_BYTES;
  const userdata = (i) => mem.view.getBigUint64(at(i), true);
  if (isVirtual() && pollVirtual(mem, at, userdata, events, n, used)) return;
  if (n === 1) {
    const sub = subscription(mem.view, at(0));
    if (sub.tag === EVENTTYPE.CLOCK && !sub.absolute) {
      sleepUntil(monotonicNs() + sub.timeout);
      mem.refresh();
      writeEvent(mem.view, events >>> 0, userdata(0), EVENTTYPE.CLOCK, 1n, 0);
      mem.u32(used, 1);
      return;
    }
  }
  const subs = [];
  const ready = [];
  for (let i = 0; i < n; i++) {
    const sub = subscription(mem.view, at(i));
    subs.push(sub);
    if (sub.tag === EVENTTYPE.CLOCK) {
      ready.push(deadline(sub));
      continue;
    }
    const d = table.get(sub.fd);
    const fits = sub.tag === EVENTTYPE.FD_READ ? d instanceof StdinDescriptor : d instanceof OutputDescriptor;
    if (!fits && !(d instanceof FileDescriptor)) fail(ERRNO.BADF);
    ready.push(0n);
  }
  sleepUntil(ready.reduce((a, b) => (b < a ? b : a)));
  const now = monotonicNs();
  mem.refresh();
  let written = 0;
  subs.forEach((sub, i) => {
    if (ready[i] > now) return;
    const event = (events >>> 0) + written++ * EVENT_BYTES;
    if (sub.tag === EVENTTYPE.CLOCK) return writeEvent(mem.view, event, userdata(i), EVENTTYPE.CLOCK, 0n, 0);
    const d = table.get(sub.fd);
    const atEnd = sub.tag === EVENTTYPE.FD_READ && d instanceof FileDescriptor && d.file.size <= d.position;
    writeEvent(mem.view, event, userdata(i), sub.tag, 1n, atEnd ? EVENT_FD_READWRITE_HANGUP : 0);
  });
  mem.u32(used, written);
}
