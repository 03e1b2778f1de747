// DOM helpers for the weft UI. Every user string reaches the page as text
// (textContent, createTextNode, setAttribute), never as markup.

const SVG_NS = "http://www.w3.org/2000/svg";

/** The token of this page (from ?token=), kept for API calls and links. */
const TOKEN = new URLSearchParams(location.search).get("token") ??
  sessionStorage.getItem("weft-token") ?? "";
if (TOKEN !== "") sessionStorage.setItem("weft-token", TOKEN);

/** Whether this page records paint times (bench/ui_bench.ts). */
export const BENCH = new URLSearchParams(location.search).has("bench");

/**
 * Makes control characters visible: a name or log line with terminal
 * escapes shows them as \x1b… instead of acting on them or vanishing.
 */
export function visible(text) {
  return String(text).replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** An HTML element: attributes (class, data-*, on*), then children (strings become text). */
export function el(tag, attrs = {}, ...children) {
  return filled(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function svg(tag, attrs = {}, ...children) {
  return filled(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Sets an element's attributes and appends its children. */
function filled(e, attrs, children) {
  setAttrs(e, attrs);
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(
      typeof c === "string" || typeof c === "number" ? document.createTextNode(visible(c)) : c,
    );
  }
  return e;
}

function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = visible(v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
}

/** A path of this server with the token, for links and EventSource. */
export function withToken(path) {
  if (TOKEN === "") return path;
  return `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(TOKEN)}`;
}

function headers() {
  return TOKEN === "" ? {} : { authorization: `Bearer ${TOKEN}` };
}

/** GETs JSON from the API; throws an Error with the server's message. */
export async function getJson(path) {
  const res = await fetch(path, { headers: headers() });
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) {
    throw Object.assign(new Error(body.error ?? `HTTP ${res.status}`), { status: res.status });
  }
  return body;
}

/** POSTs to the API, with a JSON body. */
export async function postJson(path, body = {}) {
  const res = await fetch(path, {
    method: "POST",
    headers: { ...headers(), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const reply = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new Error(reply.error ?? `HTTP ${res.status}`);
  return reply;
}

/** Opens an event stream; returns a function that closes it. */
export function listen(path, handlers) {
  const source = new EventSource(withToken(path));
  for (const [event, fn] of Object.entries(handlers)) {
    source.addEventListener(event, (e) => fn(JSON.parse(e.data)));
  }
  return () => source.close();
}

/**
 * Loads a view's data again when its run changes, at most once a second
 * (counted from the last load): `now()` loads at once, `soon()` asks for a
 * load (one at most is waiting), `stop()` drops the waiting one.
 */
export function throttled(load) {
  let timer = null;
  let last = 0;
  const now = () => {
    last = Date.now();
    return load();
  };
  return {
    now,
    soon() {
      if (timer !== null) return;
      timer = setTimeout(() => {
        timer = null;
        now();
      }, Math.max(0, last + 1000 - Date.now()));
    },
    stop() {
      clearTimeout(timer);
    },
  };
}

/** A duration for people: 840ms, 3.2s, 4m 05s, 2h 03m. */
export function formatMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

/** A local date and time to the second. */
export function formatTime(ms) {
  if (ms === null || ms === undefined) return "-";
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}

/** Navigates inside the app. */
export function navigate(path) {
  history.pushState(null, "", withToken(path));
  dispatchEvent(new Event("weft-navigate"));
}

/** A link inside the app. */
export function appLink(path, ...children) {
  return el("a", {
    href: withToken(path),
    onclick: (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      navigate(path);
    },
  }, ...children);
}

/** A state badge. */
export function badge(state) {
  return el("span", { class: `badge ${state}` }, state);
}

/**
 * Asks before acting, in the page (an HTML dialog, not window.confirm).
 * Resolves true when confirmed.
 */
export function confirmAction(title, text, verb) {
  return new Promise((resolve) => {
    const dialog = el(
      "dialog",
      { class: "confirm", "data-confirm": "" },
      el("h2", {}, title),
      el("p", {}, text),
      el(
        "div",
        { class: "buttons" },
        el(
          "button",
          { class: "secondary", value: "no", onclick: () => dialog.close("no") },
          "Keep it",
        ),
        el("button", {
          class: "primary",
          value: "yes",
          "data-confirm-yes": "",
          onclick: () => dialog.close("yes"),
        }, verb),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "yes");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A short message at the bottom of the page. */
export function toast(text, kind = "info") {
  const t = el("div", { class: `toast ${kind}`, role: "status" }, text);
  document.body.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}
