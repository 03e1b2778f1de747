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

import type { DagDocument } from "../core/dag_format.ts";
import { type BoxKind, viewsOf, type WorkflowView } from "./view.ts";
import { curvePath, type LaidView, layoutViews, MEASURES, n, type PlacedBox } from "./layout.ts";
import { CSS, SCRIPT } from "./html_assets.ts";
import { detailsOf, type PageDetails } from "./html_details.ts";

export type { PageDetails };
import { type SkeletonGraph, skeletonGraph } from "./skeleton_view.ts";
import {
  SKELETON_CSS,
  skeletonDetails,
  type SkeletonMarks,
  skeletonSection,
} from "./skeleton_html.ts";

/** Options of {@linkcode toHtml}. */
export interface HtmlOptions {
  /**
   * The page title, such as the script's name.
   * @default "weft graph"
   */
  title?: string;
}

type Details = PageDetails;

type Placed = PlacedBox;
type Laid = LaidView;

const { line: LINE, padX: PAD_X, padY: PAD_Y, labelChar: LABEL_CHAR, header: HEADER, gap: GAP } =
  MEASURES;

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
  const skeletons = dag.workflows.flatMap((wf, i) => {
    const graph = wf.kind === "dynamic"
      ? skeletonGraph(dag, wf.name, { prefix: `s${i}` })
      : undefined;
    return graph === undefined
      ? []
      : [{ graph, title: `skeleton of flow ${wf.name} (hover a zone for its condition and line)` }];
  });
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
      ["map", "map (one run per element)"],
      ["condition", "condition (ifElse)"],
      ["handler", "onFailure handler"],
      ["output", "output"],
    ],
    hint: "Hover over a node to see its task, bindings, options and permissions; click to keep it.",
    views,
    details: {
      ...detailsOf(dag, views),
      ...Object.assign({}, ...skeletons.map((s) => skeletonDetails(s.graph))),
    },
    skeletons,
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
  /** Flows' skeletons to draw after the graphs, with a title, and what a run did there. */
  skeletons?: { graph: SkeletonGraph; title: string; marks?: SkeletonMarks }[];
  /** Lines shown under the summary (why part of the page is missing, say). */
  notes?: string[];
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
  const laid = await layoutViews(content.views);
  let y = 0;
  let width = 320;
  const groups: string[] = [];
  for (const l of laid) {
    groups.push(drawWorkflow(l, y));
    y += HEADER + l.height + GAP;
    width = Math.max(width, l.width);
  }
  for (const s of content.skeletons ?? []) {
    const section = await skeletonSection(s.graph, s.title, y, s.marks);
    groups.push(section.svg);
    y += section.height + GAP;
    width = Math.max(width, section.width);
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
<style>${CSS}${content.skeletons?.length ? SKELETON_CSS : ""}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="summary">${escapeHtml(content.summary)}</p>
${
    (content.notes ?? []).map((t) => `<p class="note">${escapeHtml(t)}</p>\n`).join("")
  }<ul class="legend">
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
    out.push(
      `<path class="edge${a.style === undefined ? "" : ` ${a.style}`}" d="${
        curvePath(a.points)
      }" marker-end="url(#weft-arrow)"/>`,
    );
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
    case "condition": {
      const cx = p.x + p.width / 2;
      const cy = p.y + p.height / 2;
      shape = `<path class="shape" d="M${n(p.x - 8)},${n(cy)} L${n(cx)},${n(p.y - 6)} L${
        n(p.x + p.width + 8)
      },${n(cy)} L${n(cx)},${n(p.y + p.height + 6)} z"/>`;
      break;
    }
    case "merge":
      shape = `<path class="shape" d="M${x},${y} L${n(p.x + p.width)},${y} L${
        n(p.x + p.width - 10)
      },${n(p.y + p.height)} L${n(p.x + 10)},${n(p.y + p.height)} z"/>`;
      break;
    case "map":
      // A stack: one box per element, when it runs.
      shape =
        `<rect class="shape back" x="${n(p.x + 4)}" y="${
          n(p.y - 4)
        }" width="${w}" height="${h}" rx="6"/>` +
        `<rect class="shape" x="${x}" y="${y}" width="${w}" height="${h}" rx="6"/>`;
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
