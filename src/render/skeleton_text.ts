/**
 * A flow's skeleton in the text formats: Graphviz DOT and Mermaid, as nested
 * clusters (a loop a box whose back edge is labelled by its condition, a
 * branch a diamond with its arms, try, catch and finally blocks, helpers and
 * the flows it calls). Used by `dot.ts` and `mermaid.ts` inside a flow's
 * cluster.
 *
 * @module
 */

import { clip, mermaidString } from "./view.ts";
import type { SkeletonBox, SkeletonGraph, SkeletonGroup } from "./skeleton_view.ts";

/** Quoting for DOT (the same rules as `dotString` in `dot.ts`). */
function dq(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\r\n|\r|\n/g, "\\n")}"`;
}

const DOT_BOX: Record<SkeletonBox["kind"], string> = {
  call: 'shape=box, style="rounded,filled", fillcolor="#ffffff", color="#334155"',
  wait: 'shape=ellipse, style=filled, fillcolor="#e0f2fe", color="#0369a1", fontsize=10',
  exit: 'shape=cds, style=filled, fillcolor="#f1f5f9", color="#64748b", fontsize=10',
  unknown: 'shape=box, style="dashed,filled", fillcolor="#fef2f2", color="#b91c1c"',
  loop: 'shape=hexagon, style=filled, fillcolor="#ffedd5", color="#c2410c"',
  branch: 'shape=diamond, style=filled, fillcolor="#fef9c3", color="#a16207"',
  try: 'shape=box, style="filled", fillcolor="#f5f3ff", color="#6d28d9"',
  join: 'shape=point, width=0.08, color="#64748b"',
};

const DOT_GROUP: Record<SkeletonGroup["kind"], string> = {
  flow: 'style="rounded,filled"; fillcolor="#fff7ed"; color="#c2410c"',
  loop: 'style="rounded,bold"; color="#c2410c"',
  then: 'style="rounded,dashed"; color="#15803d"',
  else: 'style="rounded,dashed"; color="#64748b"',
  case: 'style="rounded,dashed"; color="#a16207"',
  try: 'style="rounded"; color="#6d28d9"',
  catch: 'style="rounded,dashed"; color="#b91c1c"',
  finally: 'style="rounded,dashed"; color="#6d28d9"',
  helper: 'style="rounded,dotted"; color="#334155"',
};

const DOT_ARROW: Record<string, string> = {
  next: 'color="#475569"',
  back: 'color="#c2410c", style=bold, constraint=false, fontcolor="#c2410c"',
  arm: 'color="#a16207", fontcolor="#a16207"',
  data: 'color="#2563eb", style=dashed, constraint=false, arrowsize=0.6',
  nested: 'color="#c2410c", style=dotted',
};

/**
 * A skeleton as DOT statements: nested clusters, boxes and arrows.
 *
 * @param graph The skeleton graph.
 * @param indent The indentation of the enclosing cluster.
 * @returns The lines.
 */
export function skeletonDot(graph: SkeletonGraph, indent: string): string[] {
  const lines: string[] = [];
  const drawGroup = (g: SkeletonGroup, pad: string) => {
    lines.push(
      `${pad}subgraph cluster_${g.key} {`,
      `${pad}  label=${dq(clip(g.label, 60))}; tooltip=${dq(g.title)}; ${DOT_GROUP[g.kind]};`,
    );
    for (const b of graph.boxes.filter((x) => x.group === g.key)) {
      const label = b.kind === "join"
        ? ""
        : [b.label, b.subtitle].filter((l) => l !== "").map((l) => clip(l, 48)).join("\n");
      lines.push(
        `${pad}  ${b.key} [label=${dq(label)}, tooltip=${dq(b.title || " ")}, ${DOT_BOX[b.kind]}];`,
      );
    }
    for (const inner of graph.groups.filter((x) => x.parent === g.key)) {
      drawGroup(inner, `${pad}  `);
    }
    lines.push(`${pad}}`);
  };
  for (const g of graph.groups.filter((x) => x.parent === null)) drawGroup(g, indent);
  for (const a of graph.arrows) {
    const label = a.label === "" ? "" : `label=${dq(clip(a.label, 40))}, `;
    lines.push(`${indent}${a.from} -> ${a.to} [${label}${DOT_ARROW[a.kind]}];`);
  }
  return lines;
}

const MERMAID_SHAPE: Record<SkeletonBox["kind"], [string, string]> = {
  call: ["(", ")"],
  wait: ["([", "])"],
  exit: ["[/", "\\]"],
  unknown: ["[/", "/]"],
  loop: ["{{", "}}"],
  branch: ["{", "}"],
  try: ["[[", "]]"],
  join: ["((", "))"],
};

/**
 * A skeleton as Mermaid flowchart statements: nested subgraphs, nodes, edges.
 *
 * @param graph The skeleton graph.
 * @param indent The indentation of the enclosing subgraph.
 * @returns The node and subgraph lines, and the edge lines (to write after every subgraph).
 */
export function skeletonMermaid(
  graph: SkeletonGraph,
  indent: string,
): { nodes: string[]; edges: string[] } {
  const nodes: string[] = [];
  const drawGroup = (g: SkeletonGroup, pad: string) => {
    nodes.push(
      `${pad}subgraph ${g.key}[${mermaidString(clip(g.label, 60))}]`,
      `${pad}  direction TB`,
    );
    for (const b of graph.boxes.filter((x) => x.group === g.key)) {
      const [open, close] = MERMAID_SHAPE[b.kind];
      const label = b.kind === "join"
        ? " "
        : [b.label, b.subtitle].filter((l) => l !== "").map((l) => clip(l, 48)).join("\n");
      nodes.push(`${pad}  ${b.key}${open}${mermaidString(label)}${close}`);
    }
    for (const inner of graph.groups.filter((x) => x.parent === g.key)) {
      drawGroup(inner, `${pad}  `);
    }
    nodes.push(`${pad}end`);
  };
  for (const g of graph.groups.filter((x) => x.parent === null)) drawGroup(g, indent);
  const edges = graph.arrows.map((a) => {
    const arrow = a.kind === "data" || a.kind === "nested"
      ? "-.->"
      : a.kind === "back"
      ? "==>"
      : "-->";
    return `${indent}${a.from} ${arrow}${
      a.label === "" ? "" : `|${mermaidString(clip(a.label, 40))}|`
    } ${a.to}`;
  });
  return { nodes, edges };
}
