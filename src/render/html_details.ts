/**
 * The details panel of the IR's HTML page: for each box (an input, output,
 * node or flow), its task, bindings, options, declared permissions and
 * source line.
 *
 * @module
 */

import type {
  DagBinding,
  DagBranch,
  DagConditionNode,
  DagDocument,
  DagInput,
  DagMap,
  DagNode,
  DagWorkflow,
} from "../core/dag_format.ts";
import { unionPermissions } from "../define/permissions.ts";
import { everyNode, isConditionNode, reachableTasks } from "../ir/mod.ts";
import {
  type Box,
  describeBinding,
  describePermissions,
  describeRef,
  describeTest,
  overrideRows,
  type Tables,
  tables,
  taskOptions,
  type WorkflowView,
} from "./view.ts";

/** What the details panel shows for one box: a title and sections of rows. */
export interface PageDetails {
  /** The first line. */
  title: string;
  /** The second line. */
  subtitle: string;
  /** Headed tables of name and value. */
  sections: { heading: string; rows: [string, string][] }[];
}

type Details = PageDetails;

/**
 * The details panel of every box of the page, by box key.
 *
 * @param dag The document.
 * @param views The workflows as drawn.
 * @returns The details by box key.
 */
export function detailsOf(dag: DagDocument, views: WorkflowView[]): Record<string, Details> {
  const t = tables(dag);
  const out: Record<string, Details> = {};
  for (const view of views) {
    const wf = view.workflow;
    const nodes = wf.kind === "static" ? everyNode(wf.nodes) : [];
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
      case "handler": {
        const ref = wf.onFailure!;
        const task = ref.kind === "task" ? t.task(ref.name) : undefined;
        return {
          title: "onFailure",
          subtitle: where,
          sections: [
            {
              heading: "When it fails",
              rows: [
                ["runs", describeRef(ref, t)],
                ["with", "{ error: { name, message, nodeId, task, attempt }, inputs }"],
                [
                  "failure policy",
                  wf.failurePolicy ?? (wf.kind === "static" ? "finish-running" : "fail-fast"),
                ],
                ["timeout", wf.timeoutMs === undefined ? "none" : `${wf.timeoutMs} ms`],
              ],
            },
            ...(task === undefined ? [] : [{ heading: "Options", rows: taskOptions(task) }]),
          ],
        };
      }
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
    const found = nodes.find((x) => x.id === box.title)!;
    if (isConditionNode(found)) return conditionDetails(found, where);
    const node = found;
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
    if (node.map !== undefined) {
      const rows: [string, string][] = [];
      for (let m: DagMap | undefined = node.map, depth = 0; m !== undefined; m = m.map, depth++) {
        const at = depth === 0 ? "" : ` (level ${depth + 1})`;
        rows.push([`over${at}`, `${m.over.join(", ")} (one execution per element)`]);
        rows.push([
          `concurrency${at}`,
          m.concurrency === null ? "no limit of its own" : String(m.concurrency),
        ]);
        rows.push([`must succeed${at}`, `${Math.round(m.minSuccessRatio * 100)}%`]);
      }
      sections.push({ heading: "Map", rows });
    }
    if (node.after !== undefined) {
      sections.push({
        heading: "Runs after",
        rows: [["nodes", `${node.after.join(", ")} (no value passes)`]],
      });
    }
    if (node.overrides !== undefined) {
      sections.push({ heading: "Overrides (.with)", rows: overrideRows(node.overrides) });
    }
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

/** The details of a condition node: its test, its operands, its branches. */
function conditionDetails(node: DagConditionNode, where: string): Details {
  const branchRows = (b: DagBranch): [string, string][] => [
    ["nodes", b.nodes.map((n) => n.id).join(", ") || "none"],
    ...b.outputs.map((o): [string, string] => [`gives ${o.name}`, describeBinding(o.binding)]),
  ];
  return {
    title: node.id,
    subtitle: `ifElse in ${where}`,
    sections: [
      {
        heading: "Condition",
        rows: [["if", describeTest(node.if.test, node.bindings)], ["in", where]],
      },
      {
        heading: "Operands",
        rows: Object.entries(node.bindings).map(([k, b]) => [k, describeBinding(b)]),
      },
      { heading: "Then", rows: branchRows(node.if.then) },
      { heading: "Else (skipped when the condition holds)", rows: branchRows(node.if.else) },
      ...(node.after === undefined ? [] : [{
        heading: "Runs after",
        rows: [["nodes", node.after.join(", ")]] as [string, string][],
      }]),
    ],
  };
}
