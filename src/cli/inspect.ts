/**
 * `weft inspect SCRIPT`: a summary of a script for a person, made without
 * running it: each workflow with its inputs and outputs, its tasks in
 * topological order and the permissions each declares, flows with what they
 * may call, and the union of the permissions at the end.
 *
 * @module
 */

import {
  describeBinding,
  describePermissions,
  describeRef,
  describeTest,
  type Tables,
  tables,
} from "../render/view.ts";
import {
  type DagDocument,
  type DagWorkflow,
  everyNode,
  isConditionNode,
  reachableTasks,
  subDocument,
} from "../ir/mod.ts";
import { type Permissions, unionPermissions } from "../define/permissions.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { findExport, requireEntities } from "./exports.ts";
import type { ExportInfo } from "./describe.ts";
import { LOAD_OPTIONS, loadOptionsOf, loadScript } from "./load.ts";
import { describeGraph, projectRoot } from "./module_graph.ts";
import { escapeText } from "../core/escape.ts";
import { skeletonOutline } from "../render/skeleton_outline.ts";
import { resolveScript } from "./script.ts";
import type { Command } from "./command.ts";

/** The `inspect` command. */
export const inspectCommand: Command = {
  summary: "summarise a script's workflows, tasks and permissions, running nothing",
  help: `Usage: weft inspect SCRIPT [options]

Loads SCRIPT the way weft compile does (in a child process with no
permissions, running nothing) and prints, for each exported workflow and
flow: its inputs (with types and defaults) and outputs, its tasks in
topological order with the permissions each declares, and the union of
those permissions; flows list the tasks they may call. The last line is the
union over everything shown.

Options:
  --workflow NAME      only this workflow (export name or workflow name) and what it uses
  --allow-import HOST  let the script's static imports come from HOST (repeatable)
  --load-timeout D     stop loading after D (default 30s, or $WEFT_LOAD_TIMEOUT)
  --verbose            print the stack of a load error

Examples:
  weft inspect examples/regression.ts
  weft inspect examples/aiida_flows.ts --workflow keepDoubling`,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseCommandArgs("inspect", args, {
      workflow: { type: "string" },
      ...LOAD_OPTIONS,
    });
    if (positionals.length !== 1) {
      throw new UsageError("inspect: give exactly one SCRIPT (see weft inspect --help)");
    }
    const script = positionals[0]!;
    const url = resolveScript(script);
    const described = await loadScript(url, loadOptionsOf(values));
    requireEntities(described, script);
    const name = values.workflow as string | undefined;
    const dag = name === undefined
      ? described.dag
      : subDocument(described.dag, findExport(described, name).name);
    let text = formatInspection(dag, { title: script, exports: described.exports });
    const graph = described.graph === undefined
      ? []
      : describeGraph(described.graph, projectRoot(url));
    if (graph.length > 0) {
      text += `\nmodule graph (fetched before loading; nothing else is fetched):\n${
        graph.map((l) => `  ${l}\n`).join("")
      }`;
    }
    // Names, defaults and paths come from the script: no terminal controls pass.
    await Deno.stdout.write(new TextEncoder().encode(escapeText(text)));
    return 0;
  },
};

/** Options of {@linkcode formatInspection}. */
export interface InspectionOptions {
  /** The first line, such as the script's path. */
  title?: string;
  /** The script's exports, to show export names that differ from entity names. */
  exports?: readonly ExportInfo[];
}

/**
 * Writes the summary `weft inspect` prints.
 *
 * @param dag The document.
 * @param options A title and the script's exports.
 * @returns The text, ending with a newline.
 */
export function formatInspection(dag: DagDocument, options: InspectionOptions = {}): string {
  const t = tables(dag);
  const out: string[] = [];
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  const statics = dag.workflows.filter((w) => w.kind === "static").length;
  const flows = dag.workflows.length - statics;
  out.push(
    `${options.title ?? "weft.dag/v1"}: ${
      [
        statics || !flows ? count(statics, "workflow") : "",
        flows ? count(flows, "flow") : "",
        count(dag.tasks.length, "task"),
        dag.launchPlans.length ? count(dag.launchPlans.length, "launch plan") : "",
      ].filter((s) => s !== "").join(", ")
    }`,
  );
  const exportName = (kinds: string[], name: string): string | undefined =>
    options.exports?.find((e) => kinds.includes(e.kind) && e.name === name && e.export !== name)
      ?.export;
  const permissionsOf = (name: string) =>
    unionPermissions(reachableTasks(dag, name).map((n) => t.task(n)?.permissions ?? {}));

  for (const wf of dag.workflows) {
    out.push("");
    const notes: string[] = [wf.kind];
    const alias = exportName(["workflow", "flow"], wf.name);
    if (alias !== undefined) notes.push(`export ${alias}`);
    if (wf.source !== null) notes.push(`${wf.source.file}:${wf.source.line}`);
    out.push(`${wf.kind === "static" ? "workflow" : "flow"} ${wf.name} (${notes.join("; ")})`);
    out.push("  inputs:");
    if (wf.inputs.length === 0) out.push("    none");
    for (const i of wf.inputs) {
      out.push(
        `    ${i.name}: ${i.type}${"default" in i ? ` = ${JSON.stringify(i.default)}` : ""}${
          i.optional && !("default" in i) ? " (optional)" : ""
        }`,
      );
    }
    out.push("  outputs:");
    if (wf.outputs.length === 0) out.push("    none");
    for (const o of wf.outputs) {
      out.push(`    ${o.name}${"binding" in o ? ` ← ${describeBinding(o.binding)}` : ""}`);
    }
    out.push(...steps(wf, t, permissionsOf));
    out.push(`  permissions needed: ${describePermissions(permissionsOf(wf.name))}`);
  }

  for (const lp of dag.launchPlans) {
    out.push("", `launch plan ${lp.name} → ${describeRef(lp.entity, t)}`);
    for (const [k, v] of Object.entries(lp.defaults)) {
      out.push(`  default ${k} = ${JSON.stringify(v)}`);
    }
    for (const [k, v] of Object.entries(lp.fixed)) out.push(`  fixed ${k} = ${JSON.stringify(v)}`);
    out.push(`  permissions needed: ${describePermissions(permissionsOf(lp.name))}`);
  }

  if (dag.workflows.length === 0 && dag.launchPlans.length === 0 && dag.tasks.length > 0) {
    // Only tasks: each can be run on its own (weft run SCRIPT TASK).
    out.push("", "tasks (weft run SCRIPT TASK runs one):");
    const params = dag.tasks.map((task) =>
      `(${task.params.map((p) => `${p.name}${p.optional ? "?" : ""}`).join(", ")})`
    );
    const width = Math.max(...dag.tasks.map((task) => task.name.length));
    const paramsWidth = Math.max(...params.map((p) => p.length));
    dag.tasks.forEach((task, i) => {
      out.push(
        `  ${task.name.padEnd(width)}  ${params[i]!.padEnd(paramsWidth)}  permissions: ${
          describePermissions(task.permissions)
        }${task.source === null ? "" : `  ${task.source.file}:${task.source.line}`}`,
      );
    });
  }

  const all = unionPermissions(dag.tasks.map((task) => task.permissions));
  out.push(
    "",
    `permissions of all ${count(dag.tasks.length, "task")} (union): ${describePermissions(all)}`,
    "",
  );
  return out.join("\n");
}

function steps(
  wf: DagWorkflow,
  t: Tables,
  reached: (name: string) => Permissions,
): string[] {
  const out: string[] = [];
  const rows: [string, string, string][] = [];
  if (wf.kind === "static") {
    out.push("  tasks, in topological order:");
    everyNode(wf.nodes).forEach((node, i) => {
      if (isConditionNode(node)) {
        const ids = (nodes: readonly { id: string }[]) =>
          nodes.map((n) => n.id).join(", ") || "none";
        rows.push([
          `${i + 1}. ${node.id}`,
          `if ${describeTest(node.if.test, node.bindings)}`,
          `then: ${ids(node.if.then.nodes)}; else: ${ids(node.if.else.nodes)}`,
        ]);
        return;
      }
      const task = node.entity.kind === "task" ? t.task(node.entity.name) : undefined;
      rows.push([
        `${i + 1}. ${node.id}`,
        node.map === undefined
          ? describeRef(node.entity, t)
          : `map ${describeRef(node.entity, t)} over ${node.map.over.join(", ")}`,
        task === undefined
          ? `permissions: ${describePermissions(reached(node.entity.name))} (of its tasks)`
          : `permissions: ${describePermissions(task.permissions)}`,
      ]);
    });
    if (wf.nodes.length === 0) out.push("    none");
  } else {
    if (wf.skeleton !== undefined) {
      out.push("  skeleton (from its source; its graph grows at run time):");
      const lines = skeletonOutline(wf.skeleton, {
        kindOf: (name, kind) =>
          kind === "workflow" ? (t.workflow(name)?.kind === "dynamic" ? "flow" : "workflow") : kind,
      });
      out.push(...(lines.length === 0 ? ["nothing"] : lines).map((l) => `    ${l}`));
      out.push(
        wf.callsFrom === "tasks"
          ? "  it may call (its tasks: option):"
          : wf.callsFrom === "module"
          ? "  it may call (its skeleton has an unknown call: every task of its module):"
          : "  it calls:",
      );
    } else out.push("  its graph grows at run time; it may call:");
    for (const c of wf.calls) {
      const task = c.kind === "task" ? t.task(c.name) : undefined;
      rows.push([
        c.name,
        describeRef(c, t),
        task === undefined
          ? `permissions: ${describePermissions(reached(c.name))} (of its tasks)`
          : `permissions: ${describePermissions(task.permissions)}`,
      ]);
    }
    if (wf.calls.length === 0) out.push("    nothing known");
  }
  const w0 = Math.max(0, ...rows.map((r) => [...r[0]].length));
  const w1 = Math.max(0, ...rows.map((r) => [...r[1]].length));
  for (const [a, b, c] of rows) {
    out.push(`    ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
  }
  return out;
}
