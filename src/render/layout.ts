/**
 * Where the drawn graphs put their boxes: the sizes of boxes (text measured
 * for 12px monospace), the dagre layout of whole workflows that the HTML
 * export and the web UI's static and lineage views share, and the curves
 * their arrows follow. One visual language for every page weft draws.
 *
 * @module
 */

import { type Arrow, type Box, clip, type WorkflowView } from "./view.ts";

/** A point in the drawing. */
export interface Point {
  /** Pixels from the left. */
  x: number;
  /** Pixels from the top. */
  y: number;
}

/** A box with its place and the lines it shows. */
export interface PlacedBox {
  /** The box. */
  box: Box;
  /** Its left edge. */
  x: number;
  /** Its top edge. */
  y: number;
  /** Its width. */
  width: number;
  /** Its height. */
  height: number;
  /** The lines of text it shows (clipped). */
  lines: string[];
}

/** An arrow with its route. */
export interface PlacedArrow {
  /** The key of the box it starts at. */
  from: string;
  /** The key of the box it ends at. */
  to: string;
  /** Its label, or empty. */
  label: string;
  /** How it is drawn: see `Arrow.style`. */
  style: Arrow["style"];
  /** The points it passes through, from start to end. */
  points: Point[];
  /** Where its label sits, when it has one. */
  labelAt: Point | undefined;
}

/** One workflow, laid out. */
export interface LaidView {
  /** The workflow. */
  view: WorkflowView;
  /** The width of its drawing. */
  width: number;
  /** The height of its drawing (without the title). */
  height: number;
  /** Its boxes. */
  boxes: PlacedBox[];
  /** Its arrows. */
  arrows: PlacedArrow[];
}

/** The measures of drawn graphs, in pixels. */
export const MEASURES: {
  readonly char: number;
  readonly line: number;
  readonly padX: number;
  readonly padY: number;
  readonly labelChar: number;
  readonly header: number;
  readonly gap: number;
  readonly rankSep: number;
  readonly nodeSep: number;
  readonly maxChars: number;
} = {
  // Measured for 12px monospace (DejaVu Sans Mono, Liberation Mono: 0.6em).
  char: 7.3,
  line: 16,
  padX: 12,
  padY: 8,
  labelChar: 6.2,
  /** The title line above each workflow's frame. */
  header: 30,
  /** The space between two workflows. */
  gap: 24,
  /** dagre's `ranksep`: between columns. */
  rankSep: 56,
  /** dagre's `nodesep`: between boxes of one column. */
  nodeSep: 20,
  /** The longest line a box shows. */
  maxChars: 44,
};

/**
 * The lines a box shows and the size they need.
 *
 * @param box The box.
 * @returns Its clipped lines, width and height.
 */
export function measureBox(box: Box): { width: number; height: number; lines: string[] } {
  const lines = [box.title, box.subtitle, ...box.extra].map((l) => clip(l, MEASURES.maxChars));
  const longest = Math.max(...lines.map((l) => [...l].length));
  return {
    width: Math.ceil(longest * MEASURES.char + 2 * MEASURES.padX + (box.kind === "input" ? 16 : 0)),
    height: lines.length * MEASURES.line + 2 * MEASURES.padY,
    lines,
  };
}

/**
 * Lays out each workflow with dagre, left to right.
 *
 * @param views The workflows.
 * @returns Each laid out, in order.
 */
export async function layoutViews(views: WorkflowView[]): Promise<LaidView[]> {
  if (views.length === 0) return [];
  // dagre is loaded only when a graph is drawn: the core has no dependency.
  const dagre = (await import("npm:@dagrejs/dagre@3.1.3")).default;
  return views.map((view) => {
    const g = new dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({
      rankdir: "LR",
      nodesep: MEASURES.nodeSep,
      ranksep: MEASURES.rankSep,
      edgesep: 12,
      marginx: 12,
      marginy: 12,
    });
    const sizes = new Map<string, { width: number; height: number; lines: string[] }>();
    for (const box of view.boxes) {
      const size = measureBox(box);
      sizes.set(box.key, size);
      g.setNode(box.key, { width: size.width, height: size.height });
    }
    view.arrows.forEach((a, i) => {
      const label = a.label === "" ? {} : {
        width: Math.ceil([...a.label].length * MEASURES.labelChar) + 8,
        height: 14,
        labelpos: "c",
      };
      g.setEdge(a.from, a.to, { ...label, minlen: 1 }, `e${i}`);
    });
    dagre.layout(g);
    const boxes: PlacedBox[] = view.boxes.map((box) => {
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
        from: a.from,
        to: a.to,
        label: a.label,
        style: a.style,
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

/**
 * Rounds a coordinate for SVG text: one decimal.
 *
 * @param x The number.
 * @returns Its text.
 */
export function n(x: number): string {
  return String(Math.round(x * 10) / 10);
}

/**
 * An SVG path through points: Catmull-Rom as cubic Béziers, so that the
 * curve passes through every point, label positions included.
 *
 * @param points The points, in order.
 * @returns The path's `d` attribute.
 */
export function curvePath(points: Point[]): string {
  if (points.length === 0) return "";
  const at = (i: number) => points[Math.max(0, Math.min(points.length - 1, i))]!;
  let d = `M${n(at(0).x)},${n(at(0).y)}`;
  for (let i = 0; i < points.length - 1; i++) {
    const [a, b, c, e] = [at(i - 1), at(i), at(i + 1), at(i + 2)];
    d += ` C${n(b.x + (c.x - a.x) / 6)},${n(b.y + (c.y - a.y) / 6)} ${n(c.x - (e.x - b.x) / 6)},${
      n(c.y - (e.y - b.y) / 6)
    } ${n(c.x)},${n(c.y)}`;
  }
  return d;
}
