// The timeline of a run (a Gantt chart on a canvas: thousands of bars draw
// in a few milliseconds, and text on a canvas is never markup), and the
// lineage of a value.

import { el, formatMs, getJson, throttled, visible } from "/assets/dom.js";
import { GraphView } from "/assets/graph.js";

const ROW = 16;
const LABEL = 220;
const COLORS = {
  pending: "#cbd5e1",
  running: "#3b82f6",
  succeeded: "#22c55e",
  cached: "#14b8a6",
  failed: "#ef4444",
  cancelled: "#f97316",
  skipped: "#94a3b8",
};

export function timelineView(box, runId, { onSelect }) {
  const legend = el(
    "div",
    { class: "legend" },
    ...Object.entries(COLORS).map(([s, c]) => {
      const sw = el("span", { class: "swatch" });
      sw.style.background = c;
      return el("span", {}, sw, s);
    }),
  );
  const scroller = el("div", { class: "timeline-scroll" });
  const spacer = el("div", { class: "timeline-spacer" });
  const canvas = el("canvas", { class: "timeline", "data-timeline": "" });
  const tip = el("div", { class: "tip", hidden: true });
  scroller.append(spacer, canvas);
  box.append(legend, scroller, tip);
  let rows = [];
  let visibleNow = false;
  let start = 0;
  let end = 1;
  const fetches = throttled(fetchRows);

  async function fetchRows() {
    try {
      rows = await getJson(`/api/runs/${encodeURIComponent(runId)}/timeline`);
    } catch {
      rows = [];
    }
    start = Infinity;
    end = 0;
    for (const r of rows) {
      if (r.startedAt !== null) start = Math.min(start, r.startedAt);
      end = Math.max(end, r.finishedAt ?? (r.startedAt !== null ? Date.now() : 0));
    }
    if (!Number.isFinite(start)) start = Date.now();
    if (end <= start) end = start + 1;
    draw();
  }

  function draw() {
    if (!visibleNow) return;
    const width = scroller.clientWidth;
    const height = scroller.clientHeight;
    spacer.style.height = `${rows.length * ROW + 24}px`;
    const dpr = devicePixelRatio || 1;
    canvas.width = width * dpr;
    canvas.height = height * dpr;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    canvas.style.top = `${scroller.scrollTop}px`;
    const ctx = canvas.getContext("2d");
    ctx.scale(dpr, dpr);
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px ui-monospace, 'DejaVu Sans Mono', monospace";
    const span = end - start;
    const plot = Math.max(50, width - LABEL - 12);
    // The axis.
    ctx.fillStyle = "#64748b";
    for (let i = 0; i <= 4; i++) {
      const x = LABEL + (plot * i) / 4;
      ctx.fillRect(x, 18, 1, height);
      ctx.fillText(`+${formatMs((span * i) / 4)}`, Math.min(x + 2, width - 60), 12);
    }
    const first = Math.floor(scroller.scrollTop / ROW);
    const count = Math.ceil(height / ROW) + 1;
    for (let i = first; i < Math.min(rows.length, first + count); i++) {
      const r = rows[i];
      const y = 20 + (i - first) * ROW - (scroller.scrollTop % ROW);
      ctx.fillStyle = "#0f172a";
      const label = visible(r.id);
      ctx.fillText(label.length > 30 ? `${label.slice(0, 29)}…` : label, 4, y + 11);
      if (r.startedAt === null) continue;
      const x0 = LABEL + ((r.startedAt - start) / span) * plot;
      const x1 = LABEL + (((r.finishedAt ?? Date.now()) - start) / span) * plot;
      ctx.fillStyle = COLORS[r.state] ?? "#94a3b8";
      ctx.fillRect(x0, y + 3, Math.max(2, x1 - x0), ROW - 6);
    }
  }

  function rowAt(e) {
    const rect = canvas.getBoundingClientRect();
    const y = e.clientY - rect.top + (scroller.scrollTop % ROW) - 20;
    const i = Math.floor(scroller.scrollTop / ROW) + Math.floor(y / ROW);
    return y < 0 ? undefined : rows[i];
  }
  canvas.addEventListener("mousemove", (e) => {
    const r = rowAt(e);
    if (!r) {
      tip.hidden = true;
      return;
    }
    tip.hidden = false;
    tip.textContent = visible(
      `${r.id} · ${r.entity} · ${r.state}${
        r.startedAt !== null ? ` · ${formatMs((r.finishedAt ?? Date.now()) - r.startedAt)}` : ""
      }${r.attempts > 1 ? ` · ${r.attempts} attempts` : ""}${r.error ? `\n${r.error}` : ""}`,
    );
    tip.style.left = `${e.clientX + 12}px`;
    tip.style.top = `${e.clientY + 12}px`;
  });
  canvas.addEventListener("mouseleave", () => (tip.hidden = true));
  canvas.addEventListener("click", (e) => {
    const r = rowAt(e);
    if (r) onSelect(r.id);
  });
  scroller.addEventListener("scroll", draw);
  addEventListener("resize", draw);

  return {
    show() {
      visibleNow = true;
      fetches.now();
    },
    hide() {
      visibleNow = false;
    },
    /** The run changed: fetch again, at most once a second, while shown. */
    changed() {
      if (visibleNow) fetches.soon();
    },
    close() {
      fetches.stop();
      removeEventListener("resize", draw);
    },
  };
}

/** The lineage of a value: producers to the left, consumers to the right. */
export function lineageView(box, { onNode, onValue }) {
  const title = el(
    "p",
    { class: "muted" },
    "Choose “lineage” next to an input or output in a node's panel.",
  );
  const across = el("input", { type: "checkbox", "data-across": "" });
  const depth = el(
    "select",
    {},
    ...[1, 2, 3, 5, 8].map((d) => el("option", { value: d }, `depth ${d}`)),
  );
  depth.value = "3";
  const controls = el(
    "div",
    { class: "lineage-controls" },
    el("label", {}, across, " across runs"),
    depth,
  );
  const graphBox = el("div", { class: "lineage-graph" });
  box.append(title, controls, graphBox);
  const graph = new GraphView(graphBox, {
    onSelect: (b) => {
      if (b?.ref?.nodeId !== undefined) onNode(b.ref.runId, b.ref.nodeId);
      else if (b?.ref?.hash !== undefined) {
        onValue({ ...current, hash: b.ref.hash, label: b.lines[0] });
      }
    },
  });
  let current = null;
  async function load(ref) {
    current = ref;
    title.textContent = visible(`Lineage of ${ref.label ?? ref.hash.slice(0, 12)}`);
    const q = new URLSearchParams({ hash: ref.hash, depth: depth.value });
    if (ref.runId && !across.checked) q.set("run", ref.runId);
    try {
      const g = await getJson(`/api/lineage?${q}`);
      graph.show(g);
      graph.fit();
      if (graph.scale < 0.6) {
        graph.setScale(0.8);
        const focus = g.boxes.find((b) => b.focus);
        if (focus) graph.reveal(focus.key);
      }
    } catch (e) {
      title.textContent = visible(`Lineage: ${e.message}`);
    }
  }
  across.addEventListener("change", () => current && load(current));
  depth.addEventListener("change", () => current && load(current));
  return { load };
}
