/**
 * The styles and script of weft's HTML pages (the IR export and the
 * provenance page): inline in each page, which opens with no network.
 *
 * @module
 */

/** The page's styles. */
export const CSS = `
:root { color-scheme: light; --ink: #0f172a; --muted: #64748b; --line: #cbd5e1; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f1f5f9; }
header { padding: 12px 20px; background: #fff; border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 20px; }
h1 { font-size: 18px; margin: 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.summary { margin: 0; color: var(--muted); }
.note { margin: 0; flex-basis: 100%; color: #92400e; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 12px; margin: 0; padding: 0; color: var(--muted); font-size: 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 4px; vertical-align: -1px; border: 1px solid; }
main { display: flex; gap: 16px; padding: 16px; align-items: flex-start; }
#weft-canvas { flex: 0 1 auto; min-width: 0; overflow: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
#weft-details { flex: 0 0 320px; position: sticky; top: 16px; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; max-height: calc(100vh - 32px); overflow: auto; }
#weft-details h2 { font: 600 15px/1.3 ui-monospace, "DejaVu Sans Mono", monospace; margin: 0; overflow-wrap: anywhere; }
#weft-details .sub { color: var(--muted); margin: 2px 0 8px; overflow-wrap: anywhere; }
#weft-details h3 { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 12px 0 4px; }
#weft-details dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 0; }
#weft-details dt { color: var(--muted); }
#weft-details dd { margin: 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; overflow-wrap: anywhere; white-space: pre-wrap; }
.hint { color: var(--muted); margin: 0; }
svg text { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 12px; fill: var(--ink); }
.frame { fill: #f8fafc; stroke: var(--line); }
.workflow-group.dynamic .frame { stroke-dasharray: 6 4; }
.workflow-title { font-weight: 600; font-size: 13px; }
.workflow-title .kind { fill: var(--muted); font-weight: 400; }
.edge { fill: none; stroke: #475569; stroke-width: 1.3; }
.edge.order { stroke-dasharray: 5 4; }
.edge-label { font-size: 10.5px; fill: #334155; text-anchor: middle; }
.edge-label-bg { fill: #f8fafc; fill-opacity: .9; }
.node { cursor: pointer; outline: none; }
.node .shape { stroke-width: 1.4; }
.node .inner { fill: none; stroke: #a16207; stroke-width: 1; }
.node text .title { font-weight: 600; }
.node text tspan:not(.title) { fill: #475569; }
.node:hover .shape, .node:focus .shape { stroke-width: 2.6; }
.node.selected .shape { stroke-width: 3; stroke: #dc2626; }
.input .shape, .swatch.input { fill: #dbeafe; stroke: #2563eb; background: #dbeafe; border-color: #2563eb; }
.output .shape, .swatch.output { fill: #dcfce7; stroke: #16a34a; background: #dcfce7; border-color: #16a34a; }
.task .shape, .swatch.task { fill: #fff; stroke: #334155; background: #fff; border-color: #334155; }
.node.workflow .shape, .swatch.workflow { fill: #fef9c3; stroke: #a16207; background: #fef9c3; border-color: #a16207; }
.launchPlan .shape, .swatch.launchPlan { fill: #fae8ff; stroke: #a21caf; background: #fae8ff; border-color: #a21caf; }
.condition .shape, .merge .shape, .swatch.condition { fill: #fef3c7; stroke: #b45309; background: #fef3c7; border-color: #b45309; }
.handler .shape, .swatch.handler { fill: #fee2e2; stroke: #b91c1c; stroke-dasharray: 4 3; background: #fee2e2; border-color: #b91c1c; }
.edge.branch { stroke-dasharray: 3 3; stroke: #b45309; }
.map .shape, .swatch.map { fill: #e0f2fe; stroke: #0369a1; background: #e0f2fe; border-color: #0369a1; }
.flow .shape, .swatch.flow { fill: #ffedd5; stroke: #c2410c; background: #ffedd5; border-color: #c2410c; }
.value .shape, .swatch.value { fill: #fff8e1; stroke: #b45309; background: #fff8e1; border-color: #b45309; }
.node.failed .shape, .swatch.failed { fill: #fee2e2; stroke: #b91c1c; background: #fee2e2; border-color: #b91c1c; }
`;

// The page's only script: shows details with textContent, never as markup.
/** The page's script: the details panel, pointer and keyboard. */
export const SCRIPT = `
(() => {
  const data = JSON.parse(document.getElementById("weft-data").textContent);
  const panel = document.getElementById("weft-details");
  const hint = panel.firstElementChild.cloneNode(true);
  let pinned = null;
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function show(key) {
    const d = data[key];
    panel.replaceChildren();
    if (!d) { panel.append(hint.cloneNode(true)); return; }
    panel.append(el("h2", d.title), el("p", d.subtitle, "sub"));
    for (const s of d.sections) {
      panel.append(el("h3", s.heading));
      const dl = el("dl");
      for (const [k, v] of s.rows) dl.append(el("dt", k), el("dd", v));
      panel.append(dl);
    }
    panel.dataset.key = key;
  }
  function select(g) {
    const key = g.getAttribute("data-key");
    for (const s of document.querySelectorAll(".node.selected")) s.classList.remove("selected");
    if (pinned === key) { pinned = null; return; }
    pinned = key;
    g.classList.add("selected");
    show(key);
  }
  for (const g of document.querySelectorAll(".node")) {
    const key = g.getAttribute("data-key");
    g.addEventListener("mouseenter", () => show(key));
    g.addEventListener("focus", () => show(key));
    g.addEventListener("mouseleave", () => { if (pinned) show(pinned); });
    g.addEventListener("click", () => select(g));
    g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(g); } });
  }
})();
`;
