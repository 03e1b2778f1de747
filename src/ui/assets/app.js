// The weft UI: a page per route, drawn from the JSON API and kept live by
// server-sent events.

import { appLink, el, getJson } from "/assets/dom.js";
import { runsPage } from "/assets/runs_page.js";
import { runPage } from "/assets/run_page.js";
import { staticPage } from "/assets/static_page.js";

const root = document.getElementById("app");
let info = { store: "", script: null, actions: {} };
let cleanup = () => {};

function header() {
  return el(
    "header",
    { class: "top" },
    appLink("/", el("span", { class: "logo" }, "weft")),
    el(
      "nav",
      {},
      appLink("/", "Runs"),
      info.script === null ? null : appLink("/script", "Script"),
    ),
    el("span", { class: "store", title: "the store this server shows" }, info.store),
  );
}

function render() {
  cleanup();
  cleanup = () => {};
  const path = location.pathname;
  const main = el("main", { class: "page" });
  root.replaceChildren(header(), main);
  const run = /^\/runs\/([^/]+)$/.exec(path);
  if (run !== null) cleanup = runPage(main, decodeURIComponent(run[1]), info);
  else if (path === "/script") cleanup = staticPage(main, info);
  else cleanup = runsPage(main, info);
}

addEventListener("popstate", render);
addEventListener("weft-navigate", render);

try {
  info = await getJson("/api/info");
} catch (e) {
  root.replaceChildren(el("p", { class: "error" }, `Cannot reach the weft server: ${e.message}`));
  throw e;
}
render();
