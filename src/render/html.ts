/**
 * HTML export of a `weft.dag/v1` document: one self-contained page (inline
 * SVG, CSS and script; a Content-Security-Policy that forbids every fetch)
 * showing each workflow laid out with dagre at export time, with a details
 * panel for the node under the pointer or clicked.
 *
 * Safety: every user string reaches the page either HTML-escaped in markup
 * or inside the JSON data block with `<`, `>`, `&` and line separators
 * escaped, and the page's script only ever sets `textContent`.
 *
 * @module
 */

import {
  type DagBinding,
  type DagDocument,
  type DagInput,
  type DagNode,
  type DagWorkflow,
  reachableTasks,
} from "../ir/mod.ts";
import {
  type Box,
  type BoxKind,
  clip,
  describeBinding,
  describePermissions,
  describeRef,
  type Tables,
  tables,
  taskOptions,
  viewsOf,
  type WorkflowView,
} from "./view.ts";
import { unionPermissions } from "../define/permissions.ts";

/** Options of {@linkcode toHtml}. */
export interface HtmlOptions {
  /**
   * The page title, such as the script's name.
   * @default "weft graph"
   */
  title?: string;
}

type Details = PageDetails;

interface Point {
  x: number;
  y: number;
}

interface Placed {
  box: Box;
  x: number;
  y: number;
  width: number;
  height: number;
  lines: string[];
}

interface PlacedArrow {
  label: string;
  points: Point[];
  labelAt: Point | undefined;
}

interface Laid {
  view: WorkflowView;
  width: number;
  height: number;
  boxes: Placed[];
  arrows: PlacedArrow[];
}

// Measured for 12px monospace (DejaVu Sans Mono, Liberation Mono: 0.6em).
const CHAR = 7.3;
const LINE = 16;
const PAD_X = 12;
const PAD_Y = 8;
const LABEL_CHAR = 6.2;
const HEADER = 30;
const GAP = 24;

/**
 * Escapes text for HTML markup and attribute values.
 *
 * @param text Any text.
 * @returns The text with `&`, `<`, `>`, `"` and `'` escaped.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Encodes data as JSON that is safe inside a `<script>` element: no `<`,
 * `>` or `&` (so no `</script>` or `<!--`), and no U+2028/U+2029.
 *
 * @param data JSON data.
 * @returns The JSON text.
 */
export function scriptJson(data: unknown): string {
  return JSON.stringify(data).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * Writes a document as a self-contained HTML page.
 *
 * @param dag The document.
 * @param options The page title.
 * @returns The HTML text, ending with a newline.
 */
export async function toHtml(dag: DagDocument, options: HtmlOptions = {}): Promise<string> {
  const views = viewsOf(dag);
  const summary = `${dag.workflows.length} workflow${
    dag.workflows.length === 1 ? "" : "s"
  } · ${dag.tasks.length} task${
    dag.tasks.length === 1 ? "" : "s"
  } · ${dag.launchPlans.length} launch plan${dag.launchPlans.length === 1 ? "" : "s"}`;
  return await renderPage({
    title: options.title ?? "weft graph",
    generator: "weft.dag/v1",
    summary: `weft.dag/v1 · ${summary}`,
    legend: [
      ["input", "input"],
      ["task", "task"],
      ["workflow", "subworkflow"],
      ["launchPlan", "launch plan"],
      ["flow", "flow (dynamic)"],
      ["output", "output"],
    ],
    hint: "Hover over a node to see its task, bindings, options and permissions; click to keep it.",
    views,
    details: detailsOf(dag, views),
  });
}

/** What {@linkcode renderPage} draws. */
export interface PageContent {
  /** The page title. */
  title: string;
  /** The format named in the page's generator tag. */
  generator: string;
  /** The line under the title. */
  summary: string;
  /** The legend: box kind and its label. */
  legend: [BoxKind, string][];
  /** The hint shown before a box is chosen. */
  hint: string;
  /** The graphs to draw, one group each. */
  views: WorkflowView[];
  /** What the details panel shows for each box key. */
  details: Record<string, PageDetails>;
}

/** What the details panel shows for one box: a title and sections of rows. */
export interface PageDetails {
  /** The first line. */
  title: string;
  /** The second line. */
  subtitle: string;
  /** Headed tables of name and value. */
  sections: { heading: string; rows: [string, string][] }[];
}

/**
 * Draws boxes and arrows as one self-contained HTML page: laid out with
 * dagre, inline SVG, CSS and script, no network, every user string escaped.
 *
 * @param content The title, legend, graphs and details.
 * @returns The HTML text, ending with a newline.
 */
export async function renderPage(content: PageContent): Promise<string> {
  const { title } = content;
  const laid = await layout(content.views);
  let y = 0;
  let width = 320;
  const groups: string[] = [];
  for (const l of laid) {
    groups.push(drawWorkflow(l, y));
    y += HEADER + l.height + GAP;
    width = Math.max(width, l.width);
  }
  const height = Math.max(y - GAP, 40);
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" id="weft-graph" role="img" aria-label="${
      escapeHtml(`The graph of ${title}`)
    }" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}">`,
    "<defs>",
    '<marker id="weft-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#475569"/></marker>',
    "</defs>",
    ...groups,
    laid.length === 0 ? '<text x="12" y="24" class="empty">Nothing to draw.</text>' : "",
    "</svg>",
  ].join("\n");
  const legend = content.legend.map(([kind, label]) =>
    `<li><span class="swatch ${kind}"></span>${escapeHtml(label)}</li>`
  ).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="weft (${escapeHtml(content.generator)})">
<title>${escapeHtml(title)} · weft</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="summary">${escapeHtml(content.summary)}</p>
<ul class="legend">
${legend}
</ul>
</header>
<main>
<div id="weft-canvas">
${svg}
</div>
<aside id="weft-details" aria-live="polite">
<p class="hint">${escapeHtml(content.hint)}</p>
</aside>
</main>
<script type="application/json" id="weft-data">${scriptJson(content.details)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function n(x: number): string {
  return String(Math.round(x * 10) / 10);
}

function linesOf(box: Box): string[] {
  return [box.title, box.subtitle, ...box.extra].map((l) => clip(l, 44));
}

async function layout(views: WorkflowView[]): Promise<Laid[]> {
  if (views.length === 0) return [];
  // dagre is loaded only when an HTML page is made: the core has no dependency.
  const dagre = (await import("npm:@dagrejs/dagre@3.1.3")).default;
  return views.map((view) => {
    const g = new dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: "LR", nodesep: 20, ranksep: 56, edgesep: 12, marginx: 12, marginy: 12 });
    const sizes = new Map<string, { width: number; height: number; lines: string[] }>();
    for (const box of view.boxes) {
      const lines = linesOf(box);
      const longest = Math.max(...lines.map((l) => [...l].length));
      const size = {
        width: Math.ceil(longest * CHAR + 2 * PAD_X + (box.kind === "input" ? 16 : 0)),
        height: lines.length * LINE + 2 * PAD_Y,
        lines,
      };
      sizes.set(box.key, size);
      g.setNode(box.key, { width: size.width, height: size.height });
    }
    view.arrows.forEach((a, i) => {
      const label = a.label === "" ? {} : {
        width: Math.ceil([...a.label].length * LABEL_CHAR) + 8,
        height: 14,
        labelpos: "c",
      };
      g.setEdge(a.from, a.to, { ...label, minlen: 1 }, `e${i}`);
    });
    dagre.layout(g);
    const boxes: Placed[] = view.boxes.map((box) => {
      const at = g.node(box.key) as { x: number; y: number };
      const size = sizes.get(box.key)!;
      return {
        box,
        x: at.x - size.width / 2,
        y: at.y - size.height / 2,
        width: size.width,
        height: size.height,
        lines: size.lines,
      };
    });
    const arrows: PlacedArrow[] = view.arrows.map((a, i) => {
      const e = g.edge({ v: a.from, w: a.to, name: `e${i}` }) as {
        points: Point[];
        x?: number;
        y?: number;
      };
      return {
        label: a.label,
        points: e.points,
        labelAt: a.label === "" || e.x === undefined || e.y === undefined
          ? undefined
          : { x: e.x, y: e.y },
      };
    });
    const graph = g.graph() as { width?: number; height?: number };
    return {
      view,
      width: Math.max(graph.width ?? 0, 200),
      height: graph.height ?? 0,
      boxes,
      arrows,
    };
  });
}

function path(points: Point[]): string {
  if (points.length === 0) return "";
  const at = (i: number) => points[Math.max(0, Math.min(points.length - 1, i))]!;
  let d = `M${n(at(0).x)},${n(at(0).y)}`;
  // Catmull-Rom through dagre's points, as cubic Béziers: the curve passes
  // through every point, label positions included.
  for (let i = 0; i < points.length - 1; i++) {
    const [a, b, c, e] = [at(i - 1), at(i), at(i + 1), at(i + 2)];
    d += ` C${n(b.x + (c.x - a.x) / 6)},${n(b.y + (c.y - a.y) / 6)} ${n(c.x - (e.x - b.x) / 6)},${
      n(c.y - (e.y - b.y) / 6)
    } ${n(c.x)},${n(c.y)}`;
  }
  return d;
}

function drawWorkflow(l: Laid, top: number): string {
  const kind = l.view.kind === "static" ? "workflow" : "flow";
  const out = [
    `<g class="workflow-group ${l.view.kind}" transform="translate(0,${n(top)})">`,
    `<rect class="frame" x="0.5" y="0.5" width="${n(l.width - 1)}" height="${
      n(HEADER + l.height - 1)
    }" rx="8"/>`,
    `<text class="workflow-title" x="12" y="20"><tspan class="kind">${kind}</tspan> ${
      escapeHtml(l.view.name)
    }${l.view.kind === "dynamic" ? ' <tspan class="kind">(dynamic)</tspan>' : ""}</text>`,
    `<g transform="translate(0,${HEADER})">`,
  ];
  for (const a of l.arrows) {
    out.push(`<path class="edge" d="${path(a.points)}" marker-end="url(#weft-arrow)"/>`);
  }
  for (const a of l.arrows) {
    if (a.labelAt === undefined) continue;
    const w = [...a.label].length * LABEL_CHAR + 6;
    out.push(
      `<rect class="edge-label-bg" x="${n(a.labelAt.x - w / 2)}" y="${n(a.labelAt.y - 7)}" width="${
        n(w)
      }" height="14" rx="3"/>`,
      `<text class="edge-label" x="${n(a.labelAt.x)}" y="${n(a.labelAt.y + 4)}">${
        escapeHtml(a.label)
      }</text>`,
    );
  }
  for (const p of l.boxes) out.push(drawBox(p));
  out.push("</g>", "</g>");
  return out.join("\n");
}

function drawBox(p: Placed): string {
  const { box } = p;
  const x = n(p.x);
  const y = n(p.y);
  const w = n(p.width);
  const h = n(p.height);
  let shape: string;
  switch (box.kind) {
    case "input": {
      // A tag pointing into the graph.
      const r = p.x + p.width;
      const m = p.y + p.height / 2;
      shape = `<path class="shape" d="M${x},${y} L${n(r - 12)},${y} L${n(r)},${n(m)} L${
        n(r - 12)
      },${n(p.y + p.height)} L${x},${n(p.y + p.height)} z"/>`;
      break;
    }
    case "output":
    case "value":
      shape = `<rect class="shape" x="${x}" y="${y}" width="${w}" height="${h}" rx="${
        n(p.height / 2)
      }"/>`;
      break;
    case "workflow":
      shape = `<rect class="shape" x="${x}" y="${y}" width="${w}" height="${h}" rx="2"/>` +
        `<rect class="inner" x="${n(p.x + 3)}" y="${n(p.y + 3)}" width="${
          n(p.width - 6)
        }" height="${n(p.height - 6)}" rx="1"/>`;
      break;
    default:
      shape = `<rect class="shape" x="${x}" y="${y}" width="${w}" height="${h}" rx="6"/>`;
  }
  const text = p.lines.map((line, i) =>
    `<tspan x="${n(p.x + PAD_X)}" y="${n(p.y + PAD_Y + 12 + i * LINE)}"${
      i === 0 ? ' class="title"' : ""
    }>${escapeHtml(line)}</tspan>`
  ).join("");
  return `<g class="node ${box.kind}" data-key="${box.key}" tabindex="0" role="button" aria-label="${
    escapeHtml(`${box.title}: ${box.subtitle}`)
  }">${shape}<text>${text}</text></g>`;
}

function detailsOf(dag: DagDocument, views: WorkflowView[]): Record<string, Details> {
  const t = tables(dag);
  const out: Record<string, Details> = {};
  for (const view of views) {
    const wf = view.workflow;
    const nodes = wf.kind === "static" ? wf.nodes : [];
    for (const box of view.boxes) {
      out[box.key] = boxDetails(box, wf, nodes, t);
    }
  }
  return out;

  function boxDetails(
    box: Box,
    wf: DagWorkflow,
    nodes: DagNode[],
    t: Tables,
  ): Details {
    const where = `${wf.kind === "static" ? "workflow" : "flow"} ${wf.name}`;
    switch (box.kind) {
      case "input": {
        const input = wf.inputs.find((i) => i.name === box.title)!;
        return {
          title: `input ${input.name}`,
          subtitle: where,
          sections: [{ heading: "Input", rows: inputRows(input) }],
        };
      }
      case "output": {
        const output = wf.outputs.find((o) => o.name === box.title)!;
        const rows: [string, string][] = [["name", output.name]];
        if ("binding" in output) {
          rows.push(["value", describeBinding((output as { binding: DagBinding }).binding)]);
        }
        return {
          title: `output ${output.name}`,
          subtitle: where,
          sections: [{ heading: "Output", rows }],
        };
      }
      case "flow": {
        if (wf.kind !== "dynamic") break;
        const calls = wf.calls.map((c) => {
          const task = c.kind === "task" ? t.task(c.name) : undefined;
          return [
            describeRef(c, t),
            task === undefined ? "" : `permissions: ${describePermissions(task.permissions)}`,
          ] as [string, string];
        });
        const union = unionPermissions(
          wf.calls.flatMap((c) => {
            const task = c.kind === "task" ? t.task(c.name) : undefined;
            return task === undefined ? [] : [task.permissions];
          }),
        );
        return {
          title: `flow ${wf.name}`,
          subtitle: "dynamic: its graph grows while it runs",
          sections: [
            {
              heading: "Inputs",
              rows: wf.inputs.map((i) => [i.name, i.type] as [string, string]),
            },
            { heading: "May call", rows: calls.length ? calls : [["nothing known", ""]] },
            { heading: "Permissions (union)", rows: [["", describePermissions(union)]] },
            ...sourceSection(wf.source),
          ],
        };
      }
      default:
        break;
    }
    const node = nodes.find((x) => x.id === box.title)!;
    const sections: Details["sections"] = [
      {
        heading: "Node",
        rows: [["id", node.id], ["calls", describeRef(node.entity, t)], ["in", where]],
      },
      {
        heading: "Bindings",
        rows: Object.keys(node.bindings).length === 0
          ? [["", "no inputs"]]
          : Object.entries(node.bindings).map(([k, b]) => [k, describeBinding(b)]),
      },
    ];
    if (node.entity.kind === "task") {
      const task = t.task(node.entity.name);
      if (task !== undefined) {
        sections.push(
          { heading: "Options", rows: taskOptions(task) },
          {
            heading: "Permissions",
            rows: Object.keys(task.permissions).length === 0
              ? [["", "none"]]
              : Object.entries(task.permissions).map(([k, v]) =>
                [k, v === true ? "all" : (v as string[]).join(", ")] as [string, string]
              ),
          },
          ...sourceSection(task.source),
        );
      }
    } else if (node.entity.kind === "launchPlan") {
      const lp = t.launchPlan(node.entity.name);
      if (lp !== undefined) {
        sections.push({
          heading: "Launch plan",
          rows: [
            ["launches", describeRef(lp.entity, t)],
            ...Object.entries(lp.defaults).map(([k, v]) =>
              [`default ${k}`, JSON.stringify(v)] as [string, string]
            ),
            ...Object.entries(lp.fixed).map(([k, v]) =>
              [`fixed ${k}`, JSON.stringify(v)] as [string, string]
            ),
          ],
        });
      }
    } else {
      const sub = t.workflow(node.entity.name);
      if (sub !== undefined) {
        sections.push({
          heading: sub.kind === "static" ? "Subworkflow" : "Flow",
          rows: [
            ["kind", sub.kind],
            ["inputs", sub.inputs.map((i) => i.name).join(", ") || "none"],
            ["outputs", sub.outputs.map((o) => o.name).join(", ") || "none"],
          ],
        }, ...sourceSection(sub.source));
      }
    }
    if (node.entity.kind !== "task") {
      const reached = unionPermissions(
        reachableTasks(dag, node.entity.name).map((name) => t.task(name)?.permissions ?? {}),
      );
      sections.push({
        heading: "Permissions (of the tasks it reaches)",
        rows: [["", describePermissions(reached)]],
      });
    }
    return { title: node.id, subtitle: describeRef(node.entity, t), sections };
  }
}

function inputRows(input: DagInput): [string, string][] {
  const rows: [string, string][] = [["name", input.name], ["type", input.type]];
  rows.push(["optional", input.optional ? "yes" : "no"]);
  if ("default" in input) rows.push(["default", JSON.stringify(input.default)]);
  if (input.schema !== undefined) rows.push(["JSON Schema", JSON.stringify(input.schema)]);
  return rows;
}

function sourceSection(
  source: { file: string; line: number } | null,
): Details["sections"] {
  return source === null
    ? []
    : [{ heading: "Source", rows: [["", `${source.file}:${source.line}`]] }];
}

const CSS = `
:root { color-scheme: light; --ink: #0f172a; --muted: #64748b; --line: #cbd5e1; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f1f5f9; }
header { padding: 12px 20px; background: #fff; border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 20px; }
h1 { font-size: 18px; margin: 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.summary { margin: 0; color: var(--muted); }
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
.flow .shape, .swatch.flow { fill: #ffedd5; stroke: #c2410c; background: #ffedd5; border-color: #c2410c; }
.value .shape, .swatch.value { fill: #fff8e1; stroke: #b45309; background: #fff8e1; border-color: #b45309; }
.node.failed .shape, .swatch.failed { fill: #fee2e2; stroke: #b91c1c; background: #fee2e2; border-color: #b91c1c; }
`;

// The page's only script: shows details with textContent, never as markup.
const SCRIPT = `
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
