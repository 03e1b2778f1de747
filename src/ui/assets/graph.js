// The graph component: boxes and arrows in SVG, drawn as the HTML export
// draws them (the same shapes, classes and styles: graph.css is the
// export's stylesheet), kept up to date box by box as a run grows.

import { BENCH, el, formatMs, svg, visible } from "/assets/dom.js";

const LINE = 16;
const PAD_X = 12;
const PAD_Y = 8;
const LABEL_CHAR = 6.2;

/** Paint times, for the benchmark: [nodeKey, state, ms since the epoch]. */
export const paints = [];
if (BENCH) globalThis.weftPaints = paints;

/** The kinds of box the export draws (src/render/view.ts BoxKind); others are drawn as tasks. */
const KINDS = [
  "input",
  "output",
  "task",
  "workflow",
  "launchPlan",
  "flow",
  "map",
  "condition",
  "merge",
  "handler",
  "value",
  "failed",
];

function kindClass(kind) {
  return KINDS.includes(kind) ? kind : "task";
}

/** The shape of a box, as the export draws it. */
function shape(kind, x, y, w, h) {
  switch (kind) {
    case "input":
      return [svg("path", {
        class: "shape",
        d: `M${x},${y} L${x + w - 12},${y} L${x + w},${y + h / 2} L${x + w - 12},${y + h} L${x},${
          y + h
        } z`,
      })];
    case "output":
    case "value":
      return [svg("rect", { class: "shape", x, y, width: w, height: h, rx: h / 2 })];
    case "condition": {
      const cx = x + w / 2;
      const cy = y + h / 2;
      return [svg("path", {
        class: "shape",
        d: `M${x - 8},${cy} L${cx},${y - 6} L${x + w + 8},${cy} L${cx},${y + h + 6} z`,
      })];
    }
    case "merge":
      return [svg("path", {
        class: "shape",
        d: `M${x},${y} L${x + w},${y} L${x + w - 10},${y + h} L${x + 10},${y + h} z`,
      })];
    case "map":
      // A stack: one box per element, when it runs.
      return [
        svg("rect", { class: "shape back", x: x + 4, y: y - 4, width: w, height: h, rx: 6 }),
        svg("rect", { class: "shape", x, y, width: w, height: h, rx: 6 }),
      ];
    case "workflow":
      return [
        svg("rect", { class: "shape", x, y, width: w, height: h, rx: 2 }),
        svg("rect", { class: "inner", x: x + 3, y: y + 3, width: w - 6, height: h - 6, rx: 1 }),
      ];
    default:
      return [svg("rect", { class: "shape", x, y, width: w, height: h, rx: 6 })];
  }
}

function textLines(lines, x, y) {
  return svg(
    "text",
    {},
    lines.map((line, i) =>
      svg("tspan", {
        x: x + PAD_X,
        y: y + PAD_Y + 12 + i * LINE,
        class: i === 0 ? "title" : undefined,
      }, line)
    ),
  );
}

const STATE_ORDER = ["succeeded", "cached", "running", "pending", "failed", "cancelled", "skipped"];

/** A box of a run: a node, or a summary of repeated calls. */
function runBox(u) {
  const kind = kindClass(u.kind);
  const g = svg("g", {
    class: `node ${kind}${u.group ? " group" : ""}`,
    "data-key": u.key,
    "data-state": u.state,
    tabindex: 0,
    role: "button",
  });
  if (u.nodeId !== undefined) g.setAttribute("data-node-id", u.nodeId);
  if (u.group) {
    g.setAttribute("data-group", u.group.entity);
    g.setAttribute("data-size", String(u.group.size));
  }
  const parts = [];
  if (u.group) {
    // A stack of cards.
    parts.push(
      svg("rect", { class: "stack", x: u.x + 6, y: u.y - 6, width: u.w, height: u.h, rx: 6 }),
      svg("rect", { class: "stack", x: u.x + 3, y: u.y - 3, width: u.w, height: u.h, rx: 6 }),
    );
  }
  parts.push(...shape(kind, u.x, u.y, u.w, u.h), textLines(u.lines, u.x, u.y));
  if (u.group) {
    let at = u.x + 6;
    const width = u.w - 12;
    for (const s of STATE_ORDER) {
      const c = u.group.counts[s] ?? 0;
      if (c === 0) continue;
      const w = (width * c) / u.group.size;
      parts.push(
        svg("rect", {
          class: `bar ${s}`,
          x: at,
          y: u.y + u.h - 6,
          width: Math.max(w, 0.5),
          height: 3,
        }),
      );
      at += w;
    }
  }
  parts.push(svg("title", {}, tipOf(u)));
  g.append(...parts);
  g.setAttribute("aria-label", visible(`${u.lines.join(": ")} (${u.state})`));
  return g;
}

/** A box of a static or lineage graph. */
function plainBox(b) {
  const kind = kindClass(b.kind);
  const g = svg("g", { class: `node ${kind}`, "data-key": b.key, tabindex: 0, role: "button" });
  if (b.nodeId !== undefined) g.setAttribute("data-node-id", b.nodeId);
  if (b.state !== undefined) g.setAttribute("data-state", b.state);
  if (b.focus) g.classList.add("focus");
  // A lineage box names the execution or value it stands for.
  if (b.ref?.nodeId !== undefined) {
    g.setAttribute("data-ref-node", `${b.ref.runId}/${b.ref.nodeId}`);
  }
  if (b.ref?.hash !== undefined) g.setAttribute("data-ref-value", b.ref.hash);
  g.append(
    ...shape(kind, b.x, b.y, b.w, b.h),
    textLines(b.lines, b.x, b.y),
    svg("title", {}, b.lines.join("\n")),
  );
  g.setAttribute("aria-label", visible(b.lines.join(": ")));
  return g;
}

/** The tooltip of a run's box. */
function tipOf(u) {
  const tip = [...u.lines, u.state];
  if (u.startedAt !== undefined) {
    tip.push(
      `took ${formatMs((u.finishedAt ?? Date.now()) - u.startedAt)}${
        u.finishedAt === undefined ? " so far" : ""
      }`,
    );
  }
  if (u.attempts > 1) tip.push(`${u.attempts} attempts`);
  if (u.cachedFrom) tip.push(`cached from ${u.cachedFrom}`);
  if (u.error) tip.push(u.error);
  return tip.join("\n");
}

/** Whether two versions of a box look the same but for their state. */
function sameBox(a, b) {
  return a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h && !a.group && !b.group &&
    a.lines.length === b.lines.length && a.lines.every((l, i) => l === b.lines[i]);
}

function curve(a, b) {
  const x1 = a.x + a.w;
  const y1 = a.y + a.h / 2;
  const x2 = b.x;
  const y2 = b.y + b.h / 2;
  const dx = Math.max(24, Math.abs(x2 - x1) / 2);
  return `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
}

/**
 * The component. `onSelect(item)` gets the unit (run) or box (static)
 * clicked, or null.
 */
export class GraphView {
  constructor(container, { onSelect = () => {}, live = false } = {}) {
    this.onSelect = onSelect;
    this.scale = 1;
    this.width = 320;
    this.height = 80;
    this.units = new Map();
    this.edges = new Map();
    this.edgesOf = new Map();
    this.selected = null;
    this.follow = live;
    this.live = live;
    /** Task nodes by state. */
    this.counts = {};
    /** Whether the current change is drawn inside an animation frame. */
    this.inFrame = false;
    this.root = el("div", { class: live ? "graph-view states" : "graph-view" });
    const followBox = el("input", {
      type: "checkbox",
      onchange: (e) => (this.follow = e.target.checked),
    });
    followBox.checked = this.follow;
    this.toolbar = el(
      "div",
      { class: "toolbar" },
      el("button", { title: "zoom out", onclick: () => this.zoom(1 / 1.25) }, "−"),
      el("button", { title: "zoom in", onclick: () => this.zoom(1.25) }, "+"),
      el("button", { title: "fit the graph in view", onclick: () => this.fit() }, "fit"),
      el("button", { title: "actual size", onclick: () => this.setScale(1) }, "1:1"),
      live
        ? el("label", { title: "scroll to new nodes as they appear" }, followBox, " follow")
        : null,
      this.info = el("span", { class: "info" }),
    );
    this.canvas = el("div", { class: "canvas" });
    this.svg = svg("svg", { id: "weft-graph", role: "img", "aria-label": "graph" });
    this.svg.append(
      svg(
        "defs",
        {},
        svg(
          "marker",
          {
            id: "weft-arrow",
            viewBox: "0 0 10 10",
            refX: 9,
            refY: 5,
            markerWidth: 7,
            markerHeight: 7,
            orient: "auto-start-reverse",
          },
          svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#475569" }),
        ),
      ),
    );
    this.layer = svg("g", {});
    this.frameLayer = svg("g", { class: "frames" });
    this.edgeLayer = svg("g", { class: "edges" });
    this.labelLayer = svg("g", { class: "labels" });
    this.nodeLayer = svg("g", { class: "nodes" });
    this.layer.append(this.frameLayer, this.edgeLayer, this.labelLayer, this.nodeLayer);
    this.svg.append(this.layer);
    this.canvas.append(this.svg);
    this.root.append(this.toolbar, this.canvas);
    container.append(this.root);
    this.canvas.addEventListener("click", (e) => {
      const g = e.target.closest?.(".node");
      if (g) this.#pick(g.getAttribute("data-key"));
    });
    this.canvas.addEventListener("keydown", (e) => {
      const g = e.target.closest?.(".node");
      if (g && (e.key === "Enter" || e.key === " ")) {
        e.preventDefault();
        this.#pick(g.getAttribute("data-key"));
      }
    });
    this.canvas.addEventListener("wheel", (e) => {
      if (!e.ctrlKey && !e.metaKey) return;
      e.preventDefault();
      this.zoom(e.deltaY < 0 ? 1.1 : 1 / 1.1);
    }, { passive: false });
    this.#dragToPan();
    this.#resize();
  }

  #dragToPan() {
    let from = null;
    this.canvas.addEventListener("pointerdown", (e) => {
      if (e.target.closest?.(".node") || e.button !== 0) return;
      from = {
        x: e.clientX,
        y: e.clientY,
        left: this.canvas.scrollLeft,
        top: this.canvas.scrollTop,
      };
      this.canvas.classList.add("panning");
    });
    addEventListener("pointermove", (e) => {
      if (from === null) return;
      this.canvas.scrollLeft = from.left - (e.clientX - from.x);
      this.canvas.scrollTop = from.top - (e.clientY - from.y);
    });
    addEventListener("pointerup", () => {
      from = null;
      this.canvas.classList.remove("panning");
    });
  }

  #pick(key) {
    const item = this.units.get(key)?.item;
    this.select(key);
    this.onSelect(item ?? null);
  }

  /** Marks a box as chosen. */
  select(key) {
    if (this.selected !== null) this.units.get(this.selected)?.g.classList.remove("selected");
    this.selected = key;
    if (key !== null) this.units.get(key)?.g.classList.add("selected");
  }

  #resize() {
    // A growing run grows its drawing in steps, not at every new box: each
    // resize lays the whole drawing out again.
    const step = this.live ? 1200 : 1;
    const width = Math.ceil(this.width / step) * step;
    const height = Math.ceil(this.height / (this.live ? 400 : 1)) * (this.live ? 400 : 1);
    if (
      width === this.drawnWidth && height === this.drawnHeight && this.scale === this.drawnScale
    ) {
      return;
    }
    this.drawnWidth = width;
    this.drawnHeight = height;
    this.drawnScale = this.scale;
    this.#setSize(width, height);
  }

  #setSize(width, height) {
    const w = Math.ceil(width * this.scale);
    const h = Math.ceil(height * this.scale);
    this.svg.setAttribute("width", String(w));
    this.svg.setAttribute("height", String(h));
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  }

  setScale(s) {
    const cx = (this.canvas.scrollLeft + this.canvas.clientWidth / 2) / this.scale;
    const cy = (this.canvas.scrollTop + this.canvas.clientHeight / 2) / this.scale;
    this.scale = Math.min(2, Math.max(0.05, s));
    this.#resize();
    this.canvas.scrollLeft = cx * this.scale - this.canvas.clientWidth / 2;
    this.canvas.scrollTop = cy * this.scale - this.canvas.clientHeight / 2;
  }

  zoom(f) {
    this.setScale(this.scale * f);
  }

  fit() {
    const w = this.canvas.clientWidth - 8;
    const h = this.canvas.clientHeight - 8;
    this.setScale(Math.min(1, w / this.width, h / this.height));
  }

  /** Brings a box into view. */
  reveal(key) {
    const u = this.units.get(key)?.item;
    if (!u) return;
    const s = this.scale;
    const c = this.canvas;
    const x = u.x * s;
    const y = u.y * s;
    const inX = x >= c.scrollLeft && (x + u.w * s) <= c.scrollLeft + c.clientWidth;
    const inY = y >= c.scrollTop && (y + u.h * s) <= c.scrollTop + c.clientHeight;
    if (!inX || !inY) {
      c.scrollTo({ left: x - c.clientWidth / 2, top: y - c.clientHeight / 2 });
    }
  }

  #clear() {
    this.counts = {};
    this.units.clear();
    this.edges.clear();
    this.edgesOf.clear();
    this.frameLayer.replaceChildren();
    this.edgeLayer.replaceChildren();
    this.labelLayer.replaceChildren();
    this.nodeLayer.replaceChildren();
  }

  // --- a run -------------------------------------------------------------

  /** Draws a run's snapshot. */
  reset(snapshot) {
    const keep = this.selected;
    this.#clear();
    this.width = snapshot.width;
    this.height = snapshot.height;
    const frag = document.createDocumentFragment();
    for (const u of snapshot.units) frag.append(this.#unit(u));
    this.nodeLayer.append(frag);
    const edges = document.createDocumentFragment();
    for (const e of snapshot.edges) {
      const p = this.#edge(e);
      if (p) edges.append(p);
    }
    this.edgeLayer.append(edges);
    this.#resize();
    this.select(this.units.has(keep) ? keep : null);
    this.#painted(snapshot.units);
    this.info.textContent = snapshot.mode === "groups"
      ? `${snapshot.total.toLocaleString("en-US")} nodes: repeated calls grouped (click a group)`
      : `${snapshot.total.toLocaleString("en-US")} nodes`;
  }

  /** Applies a delta; returns the keys of boxes that changed. */
  apply(delta) {
    let last = null;
    for (const u of delta.units) {
      const had = this.units.get(u.key);
      if (had && sameBox(had.item, u)) {
        // Only its state and details changed: touch two attributes, not the whole box.
        this.#count(had.item, -1);
        this.#count(u, 1);
        had.item = u;
        had.g.setAttribute("data-state", u.state);
        had.g.querySelector("title").textContent = visible(tipOf(u));
        continue;
      }
      const g = this.#unit(u);
      if (had) {
        had.g.replaceWith(g);
        if (had.item.x !== u.x || had.item.y !== u.y) this.#moveEdges(u.key);
      } else {
        this.nodeLayer.append(g);
        last = u.key;
      }
      if (this.selected === u.key) g.classList.add("selected");
    }
    for (const e of delta.edges) {
      const p = this.#edge(e);
      if (p) this.edgeLayer.append(p);
    }
    if (delta.width !== this.width || delta.height !== this.height) {
      this.width = delta.width;
      this.height = delta.height;
      this.#resize();
    }
    this.#painted(delta.units);
    if (this.follow && last !== null) this.reveal(last);
    const grouped = this.info.textContent.includes("grouped");
    this.info.textContent = `${delta.total.toLocaleString("en-US")} nodes${
      grouped ? ": repeated calls grouped (click a group)" : ""
    }`;
  }

  /** Records when boxes are painted: in the frame being drawn, or the next one. */
  #painted(units) {
    if (!BENCH || units.length === 0) return;
    const seen = units.map((u) => [u.key, u.state]);
    const record = () => {
      const t = performance.timeOrigin + performance.now();
      for (const [k, s] of seen) paints.push([k, s, t]);
    };
    if (this.inFrame) record();
    else requestAnimationFrame(record);
  }

  #unit(u) {
    const had = this.units.get(u.key)?.item;
    if (had) this.#count(had, -1);
    this.#count(u, 1);
    const g = runBox(u);
    this.units.set(u.key, { g, item: u });
    return g;
  }

  /** Keeps the task counts by state as boxes come and change (the header shows them). */
  #count(u, sign) {
    if (u.group) {
      for (const [s, n] of Object.entries(u.group.counts)) {
        this.counts[s] = (this.counts[s] ?? 0) + sign * n;
      }
    } else if (u.kind === "task") this.counts[u.state] = (this.counts[u.state] ?? 0) + sign;
  }

  #edge(e) {
    const id = `${e.from}\u0001${e.to}`;
    if (this.edges.has(id)) return null;
    const a = this.units.get(e.from)?.item;
    const b = this.units.get(e.to)?.item;
    if (!a || !b) return null;
    const p = svg("path", {
      class: `edge${e.call ? " call" : e.seq ? " seq" : ""}`,
      d: curve(a, b),
      "marker-end": "url(#weft-arrow)",
    });
    this.edges.set(id, { p, e });
    for (const k of [e.from, e.to]) {
      let list = this.edgesOf.get(k);
      if (!list) this.edgesOf.set(k, list = []);
      list.push(id);
    }
    return p;
  }

  #moveEdges(key) {
    for (const id of this.edgesOf.get(key) ?? []) {
      const { p, e } = this.edges.get(id);
      const a = this.units.get(e.from)?.item;
      const b = this.units.get(e.to)?.item;
      if (a && b) p.setAttribute("d", curve(a, b));
    }
  }

  /** The boxes drawn, for counting states. */
  items() {
    return [...this.units.values()].map((x) => x.item);
  }

  // --- a laid-out graph (static view, lineage) ---------------------------

  /** Draws a laid-out graph. */
  show(graph) {
    this.#clear();
    this.width = graph.width;
    this.height = graph.height;
    for (const f of graph.frames) {
      this.frameLayer.append(
        svg(
          "g",
          {
            class: `workflow-group ${f.dynamic ? "dynamic" : "static"}`,
            transform: `translate(${f.x},${f.y})`,
          },
          svg("rect", { class: "frame", x: 0.5, y: 0.5, width: f.w - 1, height: f.h - 1, rx: 8 }),
          svg(
            "text",
            { class: "workflow-title", x: 12, y: 20 },
            svg("tspan", { class: "kind" }, f.kind),
            ` ${f.title}`,
            f.dynamic ? svg("tspan", { class: "kind" }, " (dynamic)") : null,
          ),
        ),
      );
    }
    for (const a of graph.arrows) {
      this.edgeLayer.append(
        svg("path", { class: "edge", d: a.d, "marker-end": "url(#weft-arrow)" }),
      );
      if (a.label !== undefined) {
        const w = [...a.label].length * LABEL_CHAR + 6;
        this.labelLayer.append(
          svg("rect", {
            class: "edge-label-bg",
            x: a.lx - w / 2,
            y: a.ly - 7,
            width: w,
            height: 14,
            rx: 3,
          }),
          svg("text", { class: "edge-label", x: a.lx, y: a.ly + 4 }, a.label),
        );
      }
    }
    for (const b of graph.boxes) {
      const g = plainBox(b);
      this.units.set(b.key, { g, item: b });
      this.nodeLayer.append(g);
    }
    this.#resize();
    this.info.textContent = "";
  }
}
