/**
 * The provenance graph of one run, for `weft export`: executions and the
 * values they took and made, as plain data (`weft.provenance/v1`) and as
 * Graphviz DOT, and as an HTML page.
 *
 * @module
 */

import type { PageDetails } from "./html.ts";
import type { RunOverlay } from "./skeleton_overlay.ts";
import { type Arrow, type Box, recordView } from "./view.ts";
import { preview } from "../store/provenance.ts";
import type { RunDetails, Store } from "../store/mod.ts";

/** An execution in the provenance graph. */
export interface ProvenanceExecution {
  /** The node id. */
  id: string;
  /** The entity name. */
  entity: string;
  /** The entity kind. */
  kind: string;
  /** How it ended. */
  status: string;
  /** Attempts made. */
  attempts: number;
  /** The calling flow or workflow node. */
  parentId?: string;
  /** The run and node whose cached result it reused. */
  cachedFrom?: string;
  /** Its error message, when it failed. */
  error?: string;
}

/** A value in the provenance graph. */
export interface ProvenanceValue {
  /** Its SHA-256. */
  hash: string;
  /** A short preview. */
  preview: string;
}

/** An edge: a value used as an input, or made as an output. */
export interface ProvenanceEdge {
  /**
   * `input`: value → execution; `output`: execution → value; `call`: flow →
   * node; `part`: a node's output → an input value assembled from several
   * handles (an array or object of them).
   */
  kind: "input" | "output" | "call" | "part";
  /** A value hash or execution id. */
  from: string;
  /** A value hash or execution id. */
  to: string;
  /** The input or output name. */
  label: string;
}

/** The provenance of one run. */
export interface ProvenanceGraph {
  /** Always `weft.provenance/v1`. */
  format: "weft.provenance/v1";
  /** The run. */
  run: { id: string; entity: string; status: string; startedAt: number; finishedAt?: number };
  /** The executions, in the order they were added. */
  executions: ProvenanceExecution[];
  /** The values, each once. */
  values: ProvenanceValue[];
  /** The edges. */
  edges: ProvenanceEdge[];
}

/**
 * Builds the provenance graph of a run.
 *
 * @param store The store holding it.
 * @param run The run.
 * @returns The graph.
 */
export async function provenanceGraph(store: Store, run: RunDetails): Promise<ProvenanceGraph> {
  const hashes = new Set<string>();
  const executions: ProvenanceExecution[] = [];
  const edges: ProvenanceEdge[] = [];
  for (const n of run.nodes) {
    const e: ProvenanceExecution = {
      id: n.id,
      entity: n.entity,
      kind: n.kind,
      status: n.status,
      attempts: n.attempts,
    };
    if (n.parentId !== undefined) {
      e.parentId = n.parentId;
      edges.push({ kind: "call", from: n.parentId, to: n.id, label: "calls" });
    }
    if (n.cachedFrom !== undefined) e.cachedFrom = n.cachedFrom;
    if (n.error !== undefined) e.error = n.error.message;
    executions.push(e);
    for (const i of n.inputs) {
      hashes.add(i.hash);
      edges.push({ kind: "input", from: i.hash, to: n.id, label: i.name });
      for (const src of i.sources) {
        const producer = run.nodes.find((m) => m.id === src.node);
        const out = src.output === undefined
          ? producer?.outputs[0]
          : producer?.outputs.find((o) => o.name === src.output);
        if (out !== undefined && out.hash !== i.hash) {
          hashes.add(out.hash);
          edges.push({ kind: "part", from: out.hash, to: i.hash, label: "part of" });
        }
      }
    }
    for (const o of n.outputs) {
      hashes.add(o.hash);
      edges.push({ kind: "output", from: n.id, to: o.hash, label: o.name });
    }
  }
  const values: ProvenanceValue[] = [];
  for (const hash of hashes) {
    const stored = await store.getValue(hash);
    values.push({ hash, preview: stored === undefined ? "?" : preview(stored.value, 40) });
  }
  const r: ProvenanceGraph["run"] = {
    id: run.id,
    entity: run.entity,
    status: run.status,
    startedAt: run.startedAt,
  };
  if (run.finishedAt !== undefined) r.finishedAt = run.finishedAt;
  return { format: "weft.provenance/v1", run: r, executions, values, edges };
}

function dotString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/**
 * The provenance graph as Graphviz DOT: executions as boxes, values as ellipses.
 *
 * @param g The graph.
 * @returns DOT text.
 */
export function provenanceDot(g: ProvenanceGraph): string {
  const ids = new Map<string, string>();
  const key = (k: string) => {
    let id = ids.get(k);
    if (id === undefined) ids.set(k, id = `n${ids.size}`);
    return id;
  };
  const lines = [
    `digraph provenance {`,
    `  label=${dotString(`run ${g.run.id}: ${g.run.entity} (${g.run.status})`)};`,
    `  labelloc=t; rankdir=LR; node [fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=10];`,
  ];
  for (const e of g.executions) {
    const color = e.status === "succeeded"
      ? "#2e7d32"
      : e.status === "failed"
      ? "#c62828"
      : "#9e9e9e";
    const note = e.cachedFrom ? "\ncached" : e.error ? `\n${e.error.slice(0, 40)}` : "";
    lines.push(
      `  ${key(`x:${e.id}`)} [shape=box, style="rounded,filled", fillcolor="#eef3fb", color=${
        dotString(color)
      }, label=${dotString(`${e.id}\n${e.entity} · ${e.status}${note}`)}];`,
    );
  }
  for (const v of g.values) {
    lines.push(
      `  ${key(`v:${v.hash}`)} [shape=ellipse, style=filled, fillcolor="#fff8e1", label=${
        dotString(`${v.preview}\n${v.hash.slice(0, 12)}`)
      }];`,
    );
  }
  for (const e of g.edges) {
    const from = e.kind === "input" || e.kind === "part" ? key(`v:${e.from}`) : key(`x:${e.from}`);
    const to = e.kind === "output" || e.kind === "part" ? key(`v:${e.to}`) : key(`x:${e.to}`);
    const style = e.kind === "call" || e.kind === "part" ? ', style=dashed, color="#9e9e9e"' : "";
    lines.push(`  ${from} -> ${to} [label=${dotString(e.label)}${style}];`);
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

/** Options of {@linkcode provenanceHtml}. */
export interface ProvenanceHtmlOptions {
  /** The run laid over its flow's skeleton (see `runOverlay`), drawn under the graph. */
  overlay?: RunOverlay;
  /** Lines shown under the summary: why there is no overlay, or why part of it is matched by name. */
  notes?: string[];
}

/**
 * The provenance graph as a self-contained HTML page: executions and values
 * laid out with dagre, details on hover or click, no network; and, for a
 * run of a flow, its skeleton with what the run did there.
 *
 * @param g The graph.
 * @param options The run over its flow's skeleton; notes.
 * @returns The HTML text.
 */
export async function provenanceHtml(
  g: ProvenanceGraph,
  options: ProvenanceHtmlOptions = {},
): Promise<string> {
  const { renderPage } = await import("./html.ts");
  const { skeletonDetails } = await import("./skeleton_html.ts");
  const { overlay } = options;
  const keys = new Map<string, string>();
  const key = (k: string) => {
    let id = keys.get(k);
    if (id === undefined) keys.set(k, id = `p${keys.size}`);
    return id;
  };
  const boxes: Box[] = [];
  const details: Record<string, PageDetails> = {};
  for (const e of g.executions) {
    const k = key(`x:${e.id}`);
    boxes.push({
      key: k,
      kind: e.status === "failed"
        ? "failed"
        : e.kind === "task"
        ? "task"
        : e.kind === "flow"
        ? "flow"
        : "workflow",
      title: e.id,
      subtitle: `${e.entity} · ${e.status}`,
      extra: e.cachedFrom ? [`cached from ${e.cachedFrom}`] : e.error ? [e.error.slice(0, 44)] : [],
    });
    const rows: [string, string][] = [
      ["node", e.id],
      [e.kind, e.entity],
      ["status", e.status],
      ["attempts", String(e.attempts)],
    ];
    if (e.parentId) rows.push(["called by", e.parentId]);
    if (e.cachedFrom) rows.push(["cached from", e.cachedFrom]);
    if (e.error) rows.push(["error", e.error]);
    const ins = g.edges.filter((x) => x.kind === "input" && x.to === e.id).map((x) =>
      [x.label, x.from.slice(0, 12)] as [string, string]
    );
    const outs = g.edges.filter((x) => x.kind === "output" && x.from === e.id).map((x) =>
      [x.label, x.to.slice(0, 12)] as [string, string]
    );
    details[k] = {
      title: `${e.kind} ${e.entity}`,
      subtitle: `node ${e.id} of run ${g.run.id}`,
      sections: [
        { heading: "Execution", rows },
        ...(ins.length ? [{ heading: "Inputs (value hashes)", rows: ins }] : []),
        ...(outs.length ? [{ heading: "Outputs (value hashes)", rows: outs }] : []),
      ],
    };
  }
  for (const v of g.values) {
    const k = key(`v:${v.hash}`);
    boxes.push({
      key: k,
      kind: "value",
      title: v.preview.slice(0, 40),
      subtitle: v.hash.slice(0, 12),
      extra: [],
    });
    details[k] = {
      title: "value",
      subtitle: v.hash,
      sections: [{ heading: "Value", rows: [["preview", v.preview], ["sha-256", v.hash]] }],
    };
  }
  const arrows: Arrow[] = g.edges.filter((e) => e.kind !== "call").map((e) => ({
    from: e.kind === "input" || e.kind === "part" ? key(`v:${e.from}`) : key(`x:${e.from}`),
    to: e.kind === "output" || e.kind === "part" ? key(`v:${e.to}`) : key(`x:${e.to}`),
    label: e.label,
  }));
  const view = recordView("w0", `run ${g.run.id}: ${g.run.entity}`, g.run.entity, boxes, arrows);
  if (overlay !== undefined) Object.assign(details, skeletonDetails(overlay.graph, overlay.marks));
  const loops = overlay === undefined ? [] : overlay.graph.groups.flatMap((grp) => {
    const iterations = overlay.marks.groups[grp.key]?.iterations;
    return grp.kind === "loop" && grp.flow === overlay.flow && iterations !== undefined
      ? [`${grp.label.split(" ")[0]}: ${iterations} iteration${iterations === 1 ? "" : "s"}`]
      : [];
  });
  return await renderPage({
    title: `run ${g.run.id}`,
    generator: "weft.provenance/v1",
    summary:
      `weft.provenance/v1 · ${g.run.entity} · ${g.run.status} · ${g.executions.length} executions · ${g.values.length} values`,
    legend: [["task", "task execution"], ["flow", "flow"], ["workflow", "workflow"], [
      "failed",
      "failed",
    ], ["value", "value"]],
    hint: overlay === undefined
      ? "Hover over an execution or a value to see its details; click to keep them."
      : `Hover over an execution or a value to see its details; click to keep them. Below, the run laid over the skeleton of flow ${overlay.flow}: what it skipped or never reached is greyed.`,
    views: [view],
    details,
    ...(overlay === undefined ? {} : {
      skeletons: [{
        graph: overlay.graph,
        title: `flow ${overlay.flow} in run ${g.run.id}${
          loops.length ? ` (${loops.join(", ")})` : ""
        }`,
        marks: overlay.marks,
      }],
    }),
    notes: [...(overlay?.notes ?? []), ...(options.notes ?? [])],
  });
}
