// The static view of a script (`weft ui SCRIPT`): its compiled IR, drawn as
// the HTML export draws it, with the export's details of each box. Nothing
// runs.

import { el, getJson } from "/assets/dom.js";
import { GraphView } from "/assets/graph.js";
import { detailsPanel, hint } from "/assets/panel.js";

export function staticPage(main) {
  const head = el(
    "section",
    { class: "run-head" },
    el("h1", {}, "Script"),
    el("p", { class: "muted" }, "compiling…"),
  );
  const view = el("div", { class: "view" });
  const panel = el("aside", { class: "panel", "aria-live": "polite" });
  main.append(head, el("div", { class: "run-body" }, view, panel));
  hint(panel, "Click a node to see its task, bindings, options and permissions. Nothing has run.");
  let details = {};
  const graph = new GraphView(view, {
    onSelect: (b) => {
      if (b === null) return;
      detailsPanel(panel, details[b.key], b);
    },
  });
  getJson("/api/script").then((s) => {
    details = s.graph.details;
    head.replaceChildren(
      el("h1", {}, s.url.replace(/^file:\/\//, "")),
      el("p", { class: "muted" }, "the compiled IR (weft.dag/v1) of the script: nothing runs"),
    );
    graph.show(s.graph);
  }).catch((e) => {
    head.replaceChildren(el("h1", {}, "Script"), el("p", { class: "error-message" }, e.message));
  });
  return () => {};
}
