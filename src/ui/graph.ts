/**
 * Laid-out graphs as the page's graph component draws them: the static view
 * of a script and the lineage of a value, laid out with the HTML export's
 * dagre code (or, for very large workflows, in columns by depth).
 *
 * @module
 */

import type { DagDocument } from "../ir/mod.ts";
import { type Box, viewsOf, viewTitle, type WorkflowView } from "../render/view.ts";
import { detailsOf, type PageDetails } from "../render/html_details.ts";
import {
  curvePath,
  type LaidView,
  layoutViews,
  measureBox,
  MEASURES,
  type PlacedArrow,
  type PlacedBox,
} from "../render/layout.ts";

/** A box of a drawn graph. */
export interface GraphBox {
  /** Its key in the graph. */
  key: string;
  /** What it stands for (`task`, `input`, `value`…): its shape and colour. */
  kind: string;
  /** Its lines of text. */
  lines: string[];
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  w: number;
  /** Height. */
  h: number;
  /** The node id, for a box that stands for a node. */
  nodeId?: string;
  /** The state it shows, for a box that stands for a node. */
  state?: string;
  /** Whether it is what the graph is about (the value whose lineage is shown). */
  focus?: true;
  /** What clicking it opens (a node of a run, a value). */
  ref?: { runId?: string; nodeId?: string; hash?: string; more?: number };
}

/** An arrow of a drawn graph. */
export interface GraphArrow {
  /** The box it starts at. */
  from: string;
  /** The box it ends at. */
  to: string;
  /** Its SVG path. */
  d: string;
  /** Its label, if any. */
  label?: string;
  /** Where the label sits. */
  lx?: number;
  /** Where the label sits. */
  ly?: number;
}

/** A framed group of boxes (one workflow), with its title. */
export interface GraphFrame {
  /** The title. */
  title: string;
  /** The word before it (`workflow`, `flow`). */
  kind: string;
  /** Whether it is a dynamic flow (drawn dashed). */
  dynamic: boolean;
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  w: number;
  /** Height, title included. */
  h: number;
}

/** A drawn graph. */
export interface GraphData {
  /** The drawing's size. */
  width: number;
  /** The drawing's size. */
  height: number;
  /** Frames, behind everything. */
  frames: GraphFrame[];
  /** The boxes. */
  boxes: GraphBox[];
  /** The arrows. */
  arrows: GraphArrow[];
  /** What the details panel shows for each box key. */
  details: Record<string, PageDetails>;
}

/** Beyond this many boxes in one workflow, dagre is too slow: columns by depth instead. */
export const DAGRE_MAX = 1500;

/**
 * The static view of a script: each workflow laid out as the HTML export lays it out.
 *
 * @param dag The script's IR.
 * @returns The graph, with the export's details for each box.
 */
export async function staticGraph(dag: DagDocument): Promise<GraphData> {
  const views = viewsOf(dag);
  const details = detailsOf(dag, views);
  const laid = await laidOut(views);
  const graph = stack(laid, (v) => ({
    // The name, and what the workflow says about failures and time, as the export titles it.
    title: viewTitle(v).replace(/^(workflow|flow) /, ""),
    kind: v.kind === "static" ? "workflow" : "flow",
    dynamic: v.kind === "dynamic",
  }));
  graph.details = details;
  for (const b of graph.boxes) {
    // viewsOf keys a static workflow's nodes `w<i>_n<j>`, in the order of the IR's nodes.
    const m = /^w(\d+)_n(\d+)$/.exec(b.key);
    const wf = m === null ? undefined : views[Number(m[1])]?.workflow;
    const node = wf?.kind === "static" ? wf.nodes[Number(m![2])] : undefined;
    if (node !== undefined) {
      b.nodeId = node.id;
      b.state = "pending";
    }
  }
  return graph;
}

/**
 * Lays views out: dagre when they are small enough, columns by depth when not.
 *
 * @param views The views.
 * @returns Each laid out.
 */
export async function laidOut(views: WorkflowView[]): Promise<LaidView[]> {
  const small = views.filter((v) => v.boxes.length <= DAGRE_MAX);
  const byDagre = await layoutViews(small);
  return views.map((v) => byDagre[small.indexOf(v)] ?? columns(v));
}

/**
 * Stacks laid-out views top to bottom, each in a frame with a title (as the export does).
 *
 * @param laid The views.
 * @param frameOf The frame's title and kind for a view; undefined for no frame.
 * @returns The graph (without details).
 */
export function stack(
  laid: LaidView[],
  frameOf: (v: WorkflowView) => Omit<GraphFrame, "x" | "y" | "w" | "h"> | undefined,
): GraphData {
  const frames: GraphFrame[] = [];
  const boxes: GraphBox[] = [];
  const arrows: GraphArrow[] = [];
  let top = 0;
  let width = 320;
  for (const l of laid) {
    const frame = frameOf(l.view);
    const header = frame === undefined ? 0 : MEASURES.header;
    if (frame !== undefined) {
      frames.push({ ...frame, x: 0, y: top, w: l.width, h: header + l.height });
    }
    const dy = top + header;
    for (const b of l.boxes) boxes.push(graphBox(b, dy));
    for (const a of l.arrows) arrows.push(graphArrow(a, dy));
    top += header + l.height + MEASURES.gap;
    width = Math.max(width, l.width);
  }
  return {
    width,
    height: Math.max(top - MEASURES.gap, 40),
    frames,
    boxes,
    arrows,
    details: {},
  };
}

function graphBox(p: PlacedBox, dy: number): GraphBox {
  return {
    key: p.box.key,
    kind: p.box.kind,
    lines: p.lines,
    x: round(p.x),
    y: round(p.y + dy),
    w: round(p.width),
    h: round(p.height),
  };
}

function graphArrow(a: PlacedArrow, dy: number): GraphArrow {
  const out: GraphArrow = {
    from: a.from,
    to: a.to,
    d: curvePath(a.points.map((p) => ({ x: p.x, y: p.y + dy }))),
  };
  if (a.label !== "" && a.labelAt !== undefined) {
    out.label = a.label;
    out.lx = round(a.labelAt.x);
    out.ly = round(a.labelAt.y + dy);
  }
  return out;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Columns by longest path from the sources, boxes stacked in each: for views too large for dagre. */
function columns(view: WorkflowView): LaidView {
  const rank = new Map<string, number>();
  const incoming = new Map<string, string[]>();
  for (const a of view.arrows) {
    let list = incoming.get(a.to);
    if (list === undefined) incoming.set(a.to, list = []);
    list.push(a.from);
  }
  // Boxes come in topological order (inputs, nodes, outputs), so one pass finds each depth.
  for (const b of view.boxes) {
    let r = 0;
    for (const from of incoming.get(b.key) ?? []) r = Math.max(r, (rank.get(from) ?? 0) + 1);
    rank.set(b.key, r);
  }
  const cols: { x: number; w: number; bottom: number }[] = [];
  const sizes = new Map<string, ReturnType<typeof measureBox>>();
  for (const b of view.boxes) {
    const size = measureBox(b);
    sizes.set(b.key, size);
    const r = rank.get(b.key)!;
    while (cols.length <= r) cols.push({ x: 0, w: 0, bottom: 12 });
    cols[r]!.w = Math.max(cols[r]!.w, size.width);
  }
  let x = 12;
  for (const c of cols) {
    c.x = x;
    x += c.w + MEASURES.rankSep;
  }
  const placed = new Map<string, PlacedBox>();
  const boxes: PlacedBox[] = view.boxes.map((box: Box) => {
    const size = sizes.get(box.key)!;
    const c = cols[rank.get(box.key)!]!;
    const p: PlacedBox = {
      box,
      x: c.x,
      y: c.bottom,
      width: size.width,
      height: size.height,
      lines: size.lines,
    };
    c.bottom += size.height + MEASURES.nodeSep;
    placed.set(box.key, p);
    return p;
  });
  const arrows: PlacedArrow[] = view.arrows.map((a) => {
    const f = placed.get(a.from)!;
    const t = placed.get(a.to)!;
    return {
      from: a.from,
      to: a.to,
      label: "",
      style: a.style,
      points: [
        { x: f.x + f.width, y: f.y + f.height / 2 },
        { x: t.x, y: t.y + t.height / 2 },
      ],
      labelAt: undefined,
    };
  });
  return {
    view,
    width: x - MEASURES.rankSep + 12,
    height: Math.max(...cols.map((c) => c.bottom)) + 12,
    boxes,
    arrows,
  };
}
