// The consent prompt shown before a page lends the visitor's CPU; the answer is remembered
// per broker in localStorage.

const STYLE = "position:fixed;bottom:1rem;right:1rem;z-index:2147483647;max-width:22rem;padding:1rem;" +
  "background:#fff;color:#222;border:1px solid #999;border-radius:.5rem;font:14px/1.4 system-ui,sans-serif;" +
  "box-shadow:0 .25rem 1rem rgba(0,0,0,.2)";

/** Resolves true if the visitor allows running tasks (now or earlier), false if declined. */
export function askConsent(broker) {
  const key = `wasimoff-consent ${broker}`;
  const remembered = localStorage.getItem(key);
  if (remembered) return Promise.resolve(remembered === "allow");
  return new Promise((resolve) => {
    const box = document.createElement("div");
    box.setAttribute("role", "dialog");
    box.style.cssText = STYLE;
    box.innerHTML =
      "<p style='margin:0 0 .75rem'>This site would like to use some of your idle processor time for " +
      "computations while the page is open.</p>" +
      "<button data-wasimoff-consent='allow'>Allow</button> <button data-wasimoff-consent='deny'>No thanks</button>";
    box.addEventListener("click", (event) => {
      const answer = event.target?.dataset?.wasimoffConsent;
      if (!answer) return;
      localStorage.setItem(key, answer);
      box.remove();
      resolve(answer === "allow");
    });
    const show = () => document.body.append(box);
    document.body ? show() : addEventListener("DOMContentLoaded", show, { once: true });
  });
}
