/**
 * A flow's skeleton as SVG for the HTML pages (the compile export, the run
 * export, and the web UI): laid out with dagre as a compound graph (each
 * group a cluster), zones drawn as nested rounded frames whose label and
 * `<title>` (shown on hover) carry the condition and the source line, boxes
 * marked with `data-key`, and, when a run is laid over it, each box and
 * group with what happened (`data-state`, counts, "3 iterations", the arm
 * not taken greyed).
 *
 * The interface: {@linkcode layoutSkeleton} then {@linkcode drawSkeleton}.
 *
 * @module
 */

import type { SkeletonGraph } from "./skeleton_view.ts";

/**
 * What a run did at a box of a skeleton: `state` is how its calls ended
 * (`succeeded`, `failed`, `cached`, `running`, `pending`, `cancelled`,
 * `skipped`) for a call that ran; `reached` for a wait, exit, loop or branch
 * head the run went through (`failed` for the wait where the flow failed);
 * `skipped` when the run took another way (a branch's other arm, a loop that
 * went round no time); `not-reached` when the run ended before it;
 * `undecided` where the run's calls do not decide whether it went (inside
 * an arm they do not decide, say).
 */
export interface BoxMark {
  /** See above. */
  state: string;
  /** How many calls it made. */
  count: number;
  /** The ids of the nodes it made. */
  nodes: string[];
  /** What happened there, for people. */
  note: string;
}

/** How a zone of a skeleton fared in a run. */
export type ZoneState = "ran" | "skipped" | "not-reached" | "undecided";

/** What a run did in a zone (a group) of a skeleton. */
export interface ZoneMark {
  /**
   * `ran`; `skipped` (an arm not taken, or inside one); `not-reached` (the
   * run ended before); `undecided` (the run's calls fit paths that take it and
   * paths that do not, such as an arm whose only statement is `continue`).
   */
  state: ZoneState;
  /** What happened there (`3 iterations`, `taken`, `not taken`), or empty. */
  note: string;
  /** For a loop that ran: the rounds it made (absent when its calls do not tell). */
  iterations?: number;
}

/** What a run did at each box and group of a skeleton (see `skeleton_overlay.ts`). */
export interface SkeletonMarks {
  /** By box key. */
  boxes: Record<string, BoxMark>;
  /** By group key. */
  groups: Record<string, ZoneMark>;
}

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A laid-out skeleton. */
export interface LaidSkeleton {
  /** The graph. */
  graph: SkeletonGraph;
  /** Its size. */
  width: number;
  /** Its size. */
  height: number;
  /** Where each box is, with its text lines. */
  boxes: Map<string, Rect & { lines: string[] }>;
  /** Where each group is. */
  groups: Map<string, Rect>;
  /** The layout's edges, with their points. */
  edges: {
    from: string;
    to: string;
    kind: string;
    label: string;
    points: { x: number; y: number }[];
  }[];
}

const CHAR = 7.3;
const LINE = 16;
const PAD_X = 10;
const PAD_Y = 6;

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

function n(x: number): string {
  return String(Math.round(x * 10) / 10);
}

/**
 * Lays a skeleton out (top to bottom, groups as clusters). Back edges and
 * data edges are left out of the layout and drawn over it.
 *
 * @param graph The skeleton graph.
 * @returns The positions.
 */
export async function layoutSkeleton(graph: SkeletonGraph): Promise<LaidSkeleton> {
  const dagre = (await import("npm:@dagrejs/dagre@3.1.3")).default;
  const g = new dagre.graphlib.Graph({ compound: true, multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 18, ranksep: 26, marginx: 10, marginy: 10 });
  const sizes = new Map<string, { width: number; height: number; lines: string[] }>();
  for (const grp of graph.groups) {
    g.setNode(grp.key, { label: grp.label, paddingTop: 24, paddingLeft: 10, paddingRight: 10 });
    if (grp.parent !== null) g.setParent(grp.key, grp.parent);
  }
  for (const b of graph.boxes) {
    const lines = b.kind === "join"
      ? []
      : [b.label, b.subtitle].filter((l) => l !== "").map((l) => clip(l, 40));
    const longest = Math.max(0, ...lines.map((l) => [...l].length));
    const size = b.kind === "join" ? { width: 8, height: 8, lines } : {
      width: Math.ceil(longest * CHAR + 2 * PAD_X + (b.kind === "branch" ? 36 : 0)),
      height: lines.length * LINE + 2 * PAD_Y + (b.kind === "branch" ? 16 : 0),
      lines,
    };
    sizes.set(b.key, size);
    g.setNode(b.key, { width: size.width, height: size.height });
    g.setParent(b.key, b.group);
  }
  const laidOut = graph.arrows.filter((a) => a.kind !== "back" && a.kind !== "data");
  laidOut.forEach((a, i) => g.setEdge(a.from, a.to, { minlen: 1 }, `e${i}`));
  dagre.layout(g);
  const boxes = new Map<string, Rect & { lines: string[] }>();
  for (const b of graph.boxes) {
    const at = g.node(b.key) as { x: number; y: number };
    const s = sizes.get(b.key)!;
    boxes.set(b.key, {
      x: at.x - s.width / 2,
      y: at.y - s.height / 2,
      width: s.width,
      height: s.height,
      lines: s.lines,
    });
  }
  const groups = new Map<string, Rect>();
  for (const grp of graph.groups) {
    const at = g.node(grp.key) as { x: number; y: number; width: number; height: number };
    groups.set(grp.key, {
      x: at.x - at.width / 2,
      y: at.y - at.height / 2,
      width: at.width,
      height: at.height,
    });
  }
  const edges: LaidSkeleton["edges"] = laidOut.map((a, i) => ({
    ...a,
    points:
      (g.edge({ v: a.from, w: a.to, name: `e${i}` }) as { points: { x: number; y: number }[] })
        .points,
  }));
  for (const a of graph.arrows.filter((x) => x.kind === "back" || x.kind === "data")) {
    const p = boxes.get(a.from)!;
    const q = boxes.get(a.to)!;
    // Drawn around the right of the boxes, so that they do not cross the flow.
    const right = Math.max(p.x + p.width, q.x + q.width) + (a.kind === "back" ? 26 : 14);
    edges.push({
      ...a,
      points: [
        { x: p.x + p.width, y: p.y + p.height / 2 },
        { x: right, y: p.y + p.height / 2 },
        { x: right, y: q.y + q.height / 2 },
        { x: q.x + q.width, y: q.y + q.height / 2 },
      ],
    });
  }
  const graphSize = g.graph() as { width?: number; height?: number };
  const width = Math.max(
    graphSize.width ?? 0,
    ...edges.flatMap((e) => e.points.map((p) => p.x + 40)),
    200,
  );
  // Everything down by the room the outermost label needs.
  for (const r of [...boxes.values(), ...groups.values()]) r.y += 16 * depthOf(graph);
  for (const e of edges) for (const p of e.points) p.y += 16 * depthOf(graph);
  return {
    graph,
    width,
    height: (graphSize.height ?? 0) + 16 * depthOf(graph),
    boxes,
    groups,
    edges,
  };
}

/** How deep groups nest (each level needs room for its label above it). */
function depthOf(graph: SkeletonGraph): number {
  return graph.groups.some((g) => g.parent === null) ? 1 : 0;
}

/**
 * Draws a laid-out skeleton as an SVG group.
 *
 * @param laid The layout.
 * @param top Where its top is on the page.
 * @param marks What a run did, to lay over it.
 * @returns The SVG markup (a `<g>`).
 */
export function drawSkeleton(laid: LaidSkeleton, top: number, marks?: SkeletonMarks): string {
  const out = [`<g class="skeleton" transform="translate(0,${n(top)})">`];
  const depth = (key: string): number => {
    let d = 0;
    for (let g = laid.graph.groups.find((x) => x.key === key); g?.parent; d++) {
      g = laid.graph.groups.find((x) => x.key === g!.parent);
    }
    return d;
  };
  const ordered = [...laid.graph.groups].sort((a, b) => depth(a.key) - depth(b.key));
  for (const grp of ordered) {
    // Room above the cluster's content for its label (dagre does not leave any).
    const at = laid.groups.get(grp.key)!;
    const r = { x: at.x, y: at.y - 16, width: at.width, height: at.height + 16 };
    const mark = marks?.groups[grp.key];
    const note = mark?.note ? ` — ${mark.note}` : "";
    // A loop that ran says how often in its label (`while: 3 iterations`); its head box has the
    // condition. What the run's calls do not decide is a `?` (the note says why on hover).
    const label = grp.kind === "loop" && mark?.state === "ran"
      ? `${grp.label.replace(/ \(.*$/s, "")}: ${
        mark.iterations === undefined ? "? iterations" : mark.note
      }`
      : mark?.state === "undecided"
      ? `${grp.label} — ?`
      : `${grp.label}${note}`;
    out.push(
      `<g class="zone ${grp.kind}${mark === undefined ? "" : ` ${mark.state}`}" data-zone="${
        esc(grp.kind)
      }"${grp.line === null ? "" : ` data-line="${grp.line}"`}${
        mark === undefined ? "" : ` data-state="${mark.state}"`
      }${mark?.iterations === undefined ? "" : ` data-iterations="${mark.iterations}"`}><title>${
        esc(`${grp.title}${note}`)
      }</title><rect x="${n(r.x)}" y="${n(r.y)}" width="${n(r.width)}" height="${
        n(r.height)
      }" rx="8"/><text class="zone-label" x="${n(r.x + 8)}" y="${n(r.y + 15)}">${
        esc(clip(label, Math.max(8, Math.floor(r.width / 6.6))))
      }</text></g>`,
    );
  }
  for (const e of laid.edges) {
    const d = e.points.map((p, i) => `${i === 0 ? "M" : "L"}${n(p.x)},${n(p.y)}`).join(" ");
    // An arrow into what the run skipped or never reached is greyed with it.
    const into = marks?.boxes[e.to]?.state;
    const greyed = into === "skipped" || into === "not-reached" ? ` ${into}` : "";
    out.push(`<path class="sk-edge ${e.kind}${greyed}" d="${d}" marker-end="url(#weft-arrow)"/>`);
    if (e.label !== "" && e.points.length > 1) {
      const mid = e.points[Math.floor((e.points.length - 1) / 2)]!;
      const next = e.points[Math.floor((e.points.length - 1) / 2) + 1]!;
      out.push(
        `<text class="sk-edge-label ${e.kind}" x="${n((mid.x + next.x) / 2 + 4)}" y="${
          n((mid.y + next.y) / 2)
        }">${esc(clip(e.label, 36))}</text>`,
      );
    }
  }
  for (const b of laid.graph.boxes) {
    const r = laid.boxes.get(b.key)!;
    const mark = marks?.boxes[b.key];
    const state = mark?.state ?? "";
    const x = n(r.x);
    const y = n(r.y);
    let shape: string;
    if (b.kind === "branch") {
      const cx = r.x + r.width / 2;
      const cy = r.y + r.height / 2;
      shape = `<path class="shape" d="M${n(cx)},${y} L${n(r.x + r.width)},${n(cy)} L${n(cx)},${
        n(r.y + r.height)
      } L${x},${n(cy)} z"/>`;
    } else if (b.kind === "join") {
      shape = `<circle class="shape" cx="${n(r.x + 4)}" cy="${n(r.y + 4)}" r="4"/>`;
    } else {
      const rx = b.kind === "wait" ? r.height / 2 : b.kind === "loop" ? 2 : 6;
      shape = `<rect class="shape" x="${x}" y="${y}" width="${n(r.width)}" height="${
        n(r.height)
      }" rx="${n(rx)}"/>`;
    }
    const text = r.lines.map((line, i) =>
      `<tspan x="${n(r.x + (b.kind === "branch" ? 18 + PAD_X : PAD_X))}" y="${
        n(r.y + PAD_Y + 12 + i * LINE + (b.kind === "branch" ? 8 : 0))
      }"${i === 0 ? ' class="title"' : ""}>${esc(line)}</tspan>`
    ).join("");
    const badge = mark !== undefined && mark.count > 1
      ? `<text class="badge" x="${n(r.x + r.width - 4)}" y="${n(r.y - 3)}">×${mark.count}</text>`
      : "";
    const hover = `${b.title}${mark?.note ? ` — ${mark.note}` : ""}`;
    out.push(
      `<g class="node sk ${b.kind}${state ? ` ${state}` : ""}" data-key="${b.key}"${
        state ? ` data-state="${esc(state)}"` : ""
      }${b.line === null ? "" : ` data-line="${b.line}"`} tabindex="0" role="button" aria-label="${
        esc(hover || "join")
      }"><title>${esc(hover)}</title>${shape}<text>${text}</text>${badge}</g>`,
    );
  }
  out.push("</g>");
  return out.join("\n");
}

/** The CSS the drawing needs (added to a page's style sheet). */
export const SKELETON_CSS = `
.skeleton .zone rect { fill: #fff; fill-opacity: .55; stroke: #94a3b8; stroke-width: 1.2; }
.skeleton .zone.flow rect { fill: #fff7ed; stroke: #c2410c; }
.skeleton .zone.loop rect { stroke: #c2410c; stroke-width: 1.8; }
.skeleton .zone.then rect { stroke: #15803d; stroke-dasharray: 5 3; }
.skeleton .zone.else rect, .skeleton .zone.case rect { stroke: #64748b; stroke-dasharray: 5 3; }
.skeleton .zone.try rect, .skeleton .zone.finally rect { stroke: #6d28d9; }
.skeleton .zone.catch rect { stroke: #b91c1c; stroke-dasharray: 5 3; }
.skeleton .zone.helper rect { stroke: #334155; stroke-dasharray: 2 3; }
.skeleton .zone-label { font-size: 11px; fill: #475569; }
.skeleton .sk-edge { fill: none; stroke: #475569; stroke-width: 1.2; }
.skeleton .sk-edge.back { stroke: #c2410c; stroke-width: 1.8; }
.skeleton .sk-edge.arm { stroke: #a16207; }
.skeleton .sk-edge.data { stroke: #2563eb; stroke-dasharray: 4 3; stroke-width: 1; }
.skeleton .sk-edge.nested { stroke: #c2410c; stroke-dasharray: 2 3; }
.skeleton .sk-edge-label { font-size: 10px; fill: #334155; }
.skeleton .sk-edge-label.back { fill: #c2410c; }
.skeleton .node.call .shape { fill: #fff; stroke: #334155; }
.skeleton .node.wait .shape { fill: #e0f2fe; stroke: #0369a1; }
.skeleton .node.exit .shape { fill: #f1f5f9; stroke: #64748b; }
.skeleton .node.unknown .shape { fill: #fef2f2; stroke: #b91c1c; stroke-dasharray: 4 3; }
.skeleton .node.loop .shape { fill: #ffedd5; stroke: #c2410c; }
.skeleton .node.branch .shape { fill: #fef9c3; stroke: #a16207; }
.skeleton .node.try .shape { fill: #f5f3ff; stroke: #6d28d9; }
.skeleton .node.join .shape { fill: #64748b; stroke: none; }
.skeleton .node.succeeded .shape { fill: #dcfce7; stroke: #16a34a; }
.skeleton .node.failed .shape { fill: #fee2e2; stroke: #b91c1c; }
.skeleton .node.cached .shape { fill: #ecfccb; stroke: #4d7c0f; }
.skeleton .node.pending .shape, .skeleton .node.running .shape { fill: #e0f2fe; stroke: #0369a1; }
.skeleton .node.cancelled .shape { fill: #f1f5f9; stroke: #475569; }
.skeleton .node.reached .shape { stroke-width: 2; }
.skeleton .node.reached.wait .shape { fill: #bae6fd; }
.skeleton .node.failed.wait .shape { fill: #fee2e2; stroke: #b91c1c; }
.skeleton .zone.ran > .zone-label { fill: #0f172a; font-weight: 600; }
.skeleton .zone.skipped, .skeleton .node.skipped { opacity: .38; }
.skeleton .zone.skipped rect { fill: #e2e8f0; fill-opacity: .7; stroke: #94a3b8; stroke-dasharray: 3 3; }
.skeleton .node.skipped .shape { fill: #e2e8f0; stroke: #94a3b8; stroke-dasharray: 3 3; }
.skeleton .zone.not-reached, .skeleton .node.not-reached { opacity: .5; }
.skeleton .sk-edge.skipped, .skeleton .sk-edge.not-reached { opacity: .3; }
.skeleton .zone.undecided rect { stroke: #7c3aed; stroke-dasharray: 2 2; }
.skeleton .node.undecided .shape { stroke: #7c3aed; stroke-dasharray: 2 2; }
.skeleton .node.not-reached .shape { fill: #f8fafc; stroke: #94a3b8; stroke-dasharray: 1 3; }
.skeleton .badge { font-size: 11px; font-weight: 600; fill: #0f172a; text-anchor: end; }
`;

/** A skeleton drawn as one framed section of a page. */
export interface SkeletonSection {
  /** The SVG markup (a `<g>` placed at the given top). */
  svg: string;
  /** Its width. */
  width: number;
  /** Its height, frame and title included. */
  height: number;
}

/**
 * Lays out and draws a skeleton in a frame with a title, for a page.
 *
 * @param graph The skeleton graph.
 * @param title The frame's title (`skeleton of flow keepDoubling`).
 * @param top Where the frame's top is on the page.
 * @param marks What a run did, to lay over it.
 * @returns The markup and its size.
 */
export async function skeletonSection(
  graph: SkeletonGraph,
  title: string,
  top: number,
  marks?: SkeletonMarks,
): Promise<SkeletonSection> {
  const laid = await layoutSkeleton(graph);
  const header = 30;
  const svg = [
    `<g class="workflow-group skeleton-section" data-flow="${
      esc(graph.flow)
    }" transform="translate(0,${n(top)})">`,
    `<rect class="frame" x="0.5" y="0.5" width="${n(laid.width - 1)}" height="${
      n(header + laid.height - 1)
    }" rx="8"/>`,
    `<text class="workflow-title" x="12" y="20">${esc(title)}</text>`,
    drawSkeleton(laid, header, marks),
    "</g>",
  ].join("\n");
  return { svg, width: laid.width, height: header + laid.height };
}

/**
 * What the details panel shows for each box of a skeleton.
 *
 * @param graph The skeleton graph.
 * @param marks What a run did there.
 * @returns Details by box key.
 */
export function skeletonDetails(
  graph: SkeletonGraph,
  marks?: SkeletonMarks,
): Record<
  string,
  { title: string; subtitle: string; sections: { heading: string; rows: [string, string][] }[] }
> {
  const out: ReturnType<typeof skeletonDetails> = {};
  for (const b of graph.boxes) {
    if (b.kind === "join") continue;
    const rows: [string, string][] = [["kind", b.kind], ["flow", b.flow]];
    if (b.line !== null) rows.push(["line", String(b.line)]);
    const z = b.zone;
    if (z?.kind === "call") {
      rows.push(["calls", `${b.subtitle} ${z.entity.name}`], ["id", z.id]);
      if (z.from.length > 0) rows.push(["takes handles of", z.from.join(", ")]);
    } else if (z?.kind === "unknown") rows.push(["why unknown", z.reason], ["source", z.source]);
    else if (z?.kind === "loop") {
      rows.push(["condition", z.condition]);
      if (z.carries.length > 0) rows.push(["carries", z.carries.join(", ")]);
      if (z.waits.length > 0) rows.push(["waits on", z.waits.join(", ")]);
    } else if (z?.kind === "branch" || z?.kind === "switch") rows.push(["condition", z.condition]);
    else if (z?.kind === "wait") rows.push(["waits on", z.on.join(", ") || "—"]);
    const sections = [{ heading: "Skeleton", rows }];
    const mark = marks?.boxes[b.key];
    if (mark !== undefined) sections.push({ heading: "In this run", rows: [["", mark.note]] });
    out[b.key] = { title: b.label, subtitle: b.title, sections };
  }
  return out;
}
