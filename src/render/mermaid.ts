/**
 * Mermaid `flowchart` export of a `weft.dag/v1` document: one subgraph per
 * workflow, inputs as parallelograms, nodes as rounded boxes (subworkflows
 * as subroutines, launch plans as hexagons), outputs as reversed
 * parallelograms, edges labelled `output → input`. Ids are generated; every
 * label is quoted with Mermaid's entity codes for the characters that would
 * end or change it.
 *
 * @module
 */

import type { DagDocument } from "../ir/mod.ts";
import { type Box, clip, mermaidString, viewsOf, viewTitle } from "./view.ts";

export { mermaidString };
import { skeletonGraph } from "./skeleton_view.ts";
import { skeletonMermaid } from "./skeleton_text.ts";

const SHAPES: Record<Box["kind"], [string, string]> = {
  input: ["[/", "/]"],
  output: ["[\\", "\\]"],
  task: ["(", ")"],
  workflow: ["[[", "]]"],
  launchPlan: ["{{", "}}"],
  flow: ["[", "]"],
  map: ["[/", "\\]"],
  condition: ["{", "}"],
  merge: ["((", "))"],
  handler: [">", "]"],
  value: ["([", "])"],
  failed: ["(", ")"],
};

/**
 * Writes a document as a Mermaid flowchart.
 *
 * @example Export a workflow as Mermaid
 * ```ts
 * import { task, workflow } from "@weft/weft";
 * import { renderDag } from "@weft/weft/ir";
 * import assert from "node:assert/strict";
 *
 * const inc = task(function inc(x: number) { return x + 1; });
 * const twice = workflow(function twice(x: number) { return inc(inc(x)); });
 * const text = await renderDag(twice.graph, "mermaid");
 * assert.match(text, /^flowchart LR$/m);
 * assert.match(text, /w0_n0\("inc<br>task inc"\)/);
 * ```
 *
 * @param dag The document.
 * @returns The flowchart text, ending with a newline.
 */
export function toMermaid(dag: DagDocument): string {
  const lines = ["%% weft.dag/v1 as a Mermaid flowchart", "flowchart LR"];
  const classes: Record<string, string[]> = {};
  for (const view of viewsOf(dag)) {
    lines.push(
      `  subgraph ${view.key}[${mermaidString(viewTitle(view))}]`,
      "    direction LR",
    );
    for (const box of view.boxes) {
      const [open, close] = SHAPES[box.kind];
      const label = [box.title, box.subtitle, ...box.extra].map((l) => clip(l, 60)).join("\n");
      lines.push(`    ${box.key}${open}${mermaidString(label)}${close}`);
      (classes[box.kind] ??= []).push(box.key);
    }
    const skeleton = view.kind === "dynamic"
      ? skeletonGraph(dag, view.name, { prefix: `${view.key}s` })
      : undefined;
    const skeletonEdges: string[] = [];
    if (skeleton !== undefined) {
      const drawn = skeletonMermaid(skeleton, "    ");
      lines.push(...drawn.nodes);
      skeletonEdges.push(...drawn.edges.map((e) => e.slice(2)));
      const first = skeleton.boxes.find((b) => b.flow === view.name && b.kind !== "join");
      if (first !== undefined) skeletonEdges.push(`  ${view.key}_flow -.->|"runs"| ${first.key}`);
    }
    lines.push("  end");
    lines.push(...skeletonEdges);
    for (const a of view.arrows) {
      const arrow = a.style !== undefined ? "-.->" : "-->";
      lines.push(
        `  ${a.from} ${arrow}${a.label === "" ? "" : `|${mermaidString(a.label)}|`} ${a.to}`,
      );
    }
  }
  lines.push(
    "  classDef input fill:#dbeafe,stroke:#2563eb",
    "  classDef output fill:#dcfce7,stroke:#16a34a",
    "  classDef task fill:#f8fafc,stroke:#334155",
    "  classDef workflow fill:#fef9c3,stroke:#a16207",
    "  classDef launchPlan fill:#fae8ff,stroke:#a21caf",
    "  classDef flow fill:#ffedd5,stroke:#c2410c",
    "  classDef map fill:#e0f2fe,stroke:#0369a1",
    "  classDef condition fill:#fef3c7,stroke:#b45309",
    "  classDef merge fill:#fef3c7,stroke:#b45309",
    "  classDef handler fill:#fee2e2,stroke:#b91c1c,stroke-dasharray: 4 3",
  );
  for (const kind of Object.keys(classes)) {
    lines.push(`  class ${classes[kind]!.join(",")} ${kind}`);
  }
  lines.push("");
  return lines.join("\n");
}
