// The provider page's panel: connection state, workers busy/idle with +/− controls, tasks
// done, tasks per second and a scrolling log, redrawn on every change of the provider.

const html = (strings, ...values) =>
  strings.reduce((out, s, i) => out + s + (i < values.length ? String(values[i]).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`) : ""), "");

/** Renders `provider`'s state into `element` and wires the controls. */
export function mountPanel(element, provider) {
  element.innerHTML = `
    <header><h1>wasimoff provider</h1><span class="state" data-field="connection"></span></header>
    <section class="stats">
      <div><b data-field="tasksDone">0</b><span>tasks done</span></div>
      <div><b data-field="rate">0</b><span>tasks/s</span></div>
      <div><b data-field="busy">0</b><span>busy</span></div>
      <div><b data-field="transport">–</b><span>transport</span></div>
    </section>
    <section class="workers">
      <h2>Workers <button data-action="remove" title="one worker less">−</button><button data-action="add" title="one worker more">+</button>
      <button data-action="pause">pause</button></h2>
      <ol data-field="workers"></ol>
    </section>
    <section class="log"><h2>Log</h2><pre data-field="log"></pre></section>`;
  const field = (name) => element.querySelector(`[data-field="${name}"]`);
  element.addEventListener("click", (event) => {
    const action = event.target?.dataset?.action;
    const size = provider.state().workers.filter((w) => !w.leaving).length;
    if (action === "add") provider.setWorkers(size + 1);
    if (action === "remove") provider.setWorkers(size - 1);
    if (action === "pause") provider.paused ? provider.resume() : provider.pause();
  });
  let scheduled = false;
  const draw = () => {
    scheduled = false;
    const s = provider.state();
    const connection = field("connection");
    connection.textContent = s.paused ? `${s.connection} (paused)` : s.connection;
    connection.dataset.state = s.connection;
    field("tasksDone").textContent = s.tasksDone;
    field("rate").textContent = s.tasksPerSecond.toFixed(1);
    field("busy").textContent = `${s.busy}/${s.workers.length}`;
    field("transport").textContent = s.transport ?? "–";
    element.querySelector('[data-action="pause"]').textContent = s.paused ? "resume" : "pause";
    field("workers").innerHTML = s.workers
      .map((w) => html`<li class="${w.task === null ? "idle" : "busy"}">worker ${w.index}: ${w.task === null ? "idle" : `task ${w.task}`}${w.leaving ? " (leaving)" : ""}</li>`)
      .join("");
    const log = field("log");
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 8;
    log.textContent = s.log.join("\n");
    if (atBottom) log.scrollTop = log.scrollHeight;
  };
  provider.addEventListener("change", () => {
    if (!scheduled) requestAnimationFrame(draw);
    scheduled = true;
  });
  setInterval(draw, 1000);
  draw();
}
