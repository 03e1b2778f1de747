/**
 * Graphviz DOT export of a `weft.dag/v1` document: one cluster per
 * workflow; inputs (`invhouse`), nodes (boxes labelled with the node id and
 * the task it calls) and outputs (`house`); edges labelled `output → input`.
 * Render it with `dot -Tsvg`.
 *
 * @module
 */

import type { DagDocument } from "../ir/mod.ts";
import { type Box, clip, viewsOf, viewTitle } from "./view.ts";
import { skeletonGraph } from "./skeleton_view.ts";
import { skeletonDot } from "./skeleton_text.ts";

const STYLE: Record<Box["kind"], string> = {
  input: 'shape=cds, style=filled, fillcolor="#dbeafe", color="#2563eb"',
  output: 'shape=ellipse, style=filled, fillcolor="#dcfce7", color="#16a34a"',
  task: 'shape=box, style="rounded,filled", fillcolor="#f8fafc", color="#334155"',
  workflow: 'shape=box3d, style=filled, fillcolor="#fef9c3", color="#a16207"',
  launchPlan: 'shape=component, style=filled, fillcolor="#fae8ff", color="#a21caf"',
  flow: 'shape=note, style=filled, fillcolor="#ffedd5", color="#c2410c"',
  map: 'shape=box, style="rounded,filled", peripheries=2, fillcolor="#e0f2fe", color="#0369a1"',
  condition: 'shape=diamond, style=filled, fillcolor="#fef3c7", color="#b45309"',
  merge: 'shape=invtrapezium, style=filled, fillcolor="#fef3c7", color="#b45309"',
  handler: 'shape=box, style="rounded,dashed,filled", fillcolor="#fee2e2", color="#b91c1c"',
  value: 'shape=ellipse, style=filled, fillcolor="#fff8e1", color="#b45309"',
  failed: 'shape=box, style="rounded,filled", fillcolor="#fee2e2", color="#b91c1c"',
};

/**
 * Quotes a string for DOT: backslashes and quotes escaped, newlines as `\n`.
 *
 * @param text Any text.
 * @returns A DOT quoted string.
 */
export function dotString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\r\n|\r|\n/g, "\\n")}"`;
}

/**
 * Writes a document as a Graphviz digraph.
 *
 * @example Export a workflow and look at its clusters
 * ```ts
 * import { task, workflow } from "@weft/weft";
 * import { renderDag } from "@weft/weft/ir";
 * import assert from "node:assert/strict";
 *
 * const inc = task(function inc(x: number) { return x + 1; });
 * const twice = workflow(function twice(x: number) { return inc(inc(x)); });
 * const dot = await renderDag(twice.graph, "dot");
 * assert.match(dot, /^digraph weft \{$/m);
 * assert.match(dot, /subgraph cluster_w0/);
 * ```
 *
 * @param dag The document.
 * @param title A graph label.
 * @returns The DOT text, ending with a newline.
 */
export function toDot(dag: DagDocument, title = "weft.dag/v1"): string {
  const lines = [
    "// weft.dag/v1 as Graphviz DOT; render with: dot -Tsvg",
    "digraph weft {",
    `  graph [rankdir=LR, fontname="Helvetica", fontsize=12, labelloc=t, label=${
      dotString(title)
    }, nodesep=0.3, ranksep=0.5];`,
    '  node [fontname="Helvetica", fontsize=11, margin="0.15,0.06"];',
    '  edge [fontname="Helvetica", fontsize=9, color="#475569", fontcolor="#334155"];',
  ];
  for (const view of viewsOf(dag)) {
    lines.push(
      "",
      `  subgraph cluster_${view.key} {`,
      `    label=${dotString(viewTitle(view))};`,
      '    style="rounded,dashed"; color="#94a3b8"; fontcolor="#0f172a";',
    );
    for (const box of view.boxes) {
      const label = [box.title, box.subtitle, ...box.extra].map((l) => clip(l, 60)).join("\n");
      const tooltip = [box.title, box.subtitle, ...box.extra].join("\n");
      lines.push(
        `    ${box.key} [label=${dotString(label)}, tooltip=${dotString(tooltip)}, ${
          STYLE[box.kind]
        }];`,
      );
    }
    for (const a of view.arrows) {
      lines.push(
        `    ${a.from} -> ${a.to}${
          a.style !== undefined
            ? ` [label=${dotString(a.label)}, style=dashed]`
            : a.label === ""
            ? ""
            : ` [label=${dotString(a.label)}]`
        };`,
      );
    }
    const skeleton = view.kind === "dynamic"
      ? skeletonGraph(dag, view.name, { prefix: `${view.key}s` })
      : undefined;
    if (skeleton !== undefined) {
      lines.push(...skeletonDot(skeleton, "    "));
      const first = skeleton.boxes.find((b) => b.flow === view.name && b.kind !== "join");
      if (first !== undefined) {
        lines.push(
          `    ${view.key}_flow -> ${first.key} [label="runs", style=dotted, color="#c2410c"];`,
        );
      }
    }
    lines.push("  }");
  }
  lines.push("}", "");
  return lines.join("\n");
}
