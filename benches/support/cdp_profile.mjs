// Samples the JavaScript CPU profile of a running provider page (or of its Web Workers) while
// `cargo bench --bench browser` runs, through the DevTools protocol of the bench's own Chromium.
//   node --experimental-websocket benches/support/cdp_profile.mjs [browser] [seconds] [page|worker]
// `browser`: index of the bench's Chromium by pid (0: the WebSocket page's, 1: the WebTransport
// page's). Prints self time per function, per task the page finished in the window (sampled
// every 100 µs: wall time, so a thread waiting on another inside a call, such as
// WebSocket.send, is charged to that call). Long runs help: BENCH_RUNS=5000 for echo,
// BENCH_TASKS=5000 for TSP; the profiler itself slows the page.
import fs from "node:fs";

const [which = "0", seconds = "5", mode = "page"] = process.argv.slice(2);

/** The DevTools URL of every Chromium started with a `--user-data-dir`, by pid. */
function browsers() {
  const found = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let cmdline;
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "latin1");
    } catch {
      continue;
    }
    const profile = cmdline.match(/--user-data-dir=(\S+?)[\s\0]/);
    if (!profile || /--type=/.test(cmdline)) continue;
    try {
      const [port, path] = fs.readFileSync(`${profile[1]}/DevToolsActivePort`, "utf8").split("\n");
      found.push({ pid: Number(pid), url: `ws://127.0.0.1:${port}${path}` });
    } catch {
      // Not a DevTools-enabled Chromium.
    }
  }
  return found.sort((a, b) => a.pid - b.pid);
}

const socket = new WebSocket(browsers()[Number(which)].url);
let lastId = 0;
const pending = new Map();
const events = [];
socket.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (pending.has(message.id)) pending.get(message.id)(message.result);
  else events.push(message);
};
const call = (method, params = {}, sessionId = undefined) =>
  new Promise((resolve) => {
    pending.set(++lastId, resolve);
    socket.send(JSON.stringify({ id: lastId, method, params, sessionId }));
  });
await new Promise((resolve) => (socket.onopen = resolve));

const { targetInfos } = await call("Target.getTargets");
const page = targetInfos.find((t) => t.type === "page" && t.url.includes("/wasimoff/"));
const { sessionId } = await call("Target.attachToTarget", { targetId: page.targetId, flatten: true });
let sessions = [sessionId];
if (mode === "worker") {
  await call("Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: false, flatten: true }, sessionId);
  await new Promise((resolve) => setTimeout(resolve, 300));
  sessions = events.filter((e) => e.method === "Target.attachedToTarget" && e.params.targetInfo.type === "worker").map((e) => e.params.sessionId);
}
const tasksDone = async () =>
  (await call("Runtime.evaluate", { expression: "window.wasimoffProvider.tasksDone", returnByValue: true }, sessionId)).result.value;
const doneBefore = await tasksDone();
for (const session of sessions) {
  await call("Profiler.enable", {}, session);
  await call("Profiler.setSamplingInterval", { interval: 100 }, session);
  await call("Profiler.start", {}, session);
}
await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
const tasks = (await tasksDone()) - doneBefore;
console.log(`${tasks} tasks finished in ${seconds} s`);
for (const session of sessions) {
  const { profile } = await call("Profiler.stop", {}, session);
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  profile.samples.forEach((id, i) => {
    const frame = nodes.get(id).callFrame;
    const key = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").pop()}:${frame.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  });
  const span = profile.endTime - profile.startTime;
  console.log(`${mode} ${session}: ${(span / 1e6).toFixed(2)} s sampled`);
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`${(us / Math.max(tasks, 1)).toFixed(1).padStart(8)} µs/task ${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / span).toFixed(1).padStart(5)} %  ${key}`);
  }
}
process.exit(0);
