/**
 * What the drawn exports (DOT, Mermaid, HTML) share: a `weft.dag/v1`
 * document reduced to boxes and arrows. Each workflow becomes a group of
 * input, node and output boxes; a flow (dynamic) becomes one box that lists
 * what it may call. Box keys are generated (`w0_n1`), so that no user string
 * ever has to be an identifier in another language.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import {
  type DagBinding,
  type DagDocument,
  type DagEntityRef,
  type DagLaunchPlan,
  type DagMap,
  type DagNode,
  type DagOverrides,
  type DagTask,
  type DagTest,
  type DagWorkflow,
  everyNode,
  isConditionNode,
} from "../ir/mod.ts";
import { PERMISSION_KINDS, type Permissions } from "../define/permissions.ts";

/** The kinds of box. */
export type BoxKind =
  | "input"
  | "output"
  | "task"
  | "workflow"
  | "launchPlan"
  | "flow"
  | "map"
  | "condition"
  | "merge"
  | "handler"
  | "value"
  | "failed";

/** A box of a drawn workflow. */
export interface Box {
  /** A generated key, unique in the document: letters, digits and `_` only. */
  key: string;
  /** What it stands for. */
  kind: BoxKind;
  /** The first line: a node id, an input or output name, or a flow name. */
  title: string;
  /** The second line: what the node calls, or an input's type. */
  subtitle: string;
  /** Further lines (a flow's possible calls). */
  extra: string[];
}

/** An arrow between two boxes. */
export interface Arrow {
  /** The key of the box it starts at. */
  from: string;
  /** The key of the box it ends at. */
  to: string;
  /** `output → input`, or empty. */
  label: string;
  /**
   * `order`: an ordering edge (`after`), which carries no value; `branch`: a
   * condition's test leading into a branch. Both drawn dashed.
   */
  style?: "order" | "branch";
}

/** One workflow, ready to draw. */
export interface WorkflowView {
  /** A generated key (`w0`). */
  key: string;
  /** The workflow name. */
  name: string;
  /** Static or dynamic. */
  kind: "static" | "dynamic";
  /** The workflow's entry in the document. */
  workflow: DagWorkflow;
  /** Its boxes: inputs, nodes (in topological order), outputs. */
  boxes: Box[];
  /** Its arrows. */
  arrows: Arrow[];
}

/**
 * A view drawn from records rather than from a document (a run's
 * provenance, a value's lineage): its workflow entry is an empty static one.
 *
 * @param key The view's key.
 * @param name Its title.
 * @param entity The workflow entry's name.
 * @param boxes Its boxes.
 * @param arrows Its arrows.
 * @returns The view.
 */
export function recordView(
  key: string,
  name: string,
  entity: string,
  boxes: Box[],
  arrows: Arrow[],
): WorkflowView {
  const workflow: DagWorkflow = {
    name: entity,
    kind: "static",
    inputs: [],
    outputs: [],
    nodes: [],
    edges: [],
    source: null,
  };
  return { key, name, kind: "static", workflow, boxes, arrows };
}

/**
 * Reduces a document to boxes and arrows.
 *
 * @param dag The document.
 * @returns One view per workflow, in document order.
 * @throws {ValidationError} When an edge names a node the workflow does not have.
 */
export function viewsOf(dag: DagDocument): WorkflowView[] {
  const t = tables(dag);
  return dag.workflows.map((wf, i) => {
    const key = `w${i}`;
    const boxes: Box[] = [];
    const arrows: Arrow[] = [];
    const inputKeys = new Map<string, string>();
    wf.inputs.forEach((input, j) => {
      const k = `${key}_in${j}`;
      inputKeys.set(input.name, k);
      boxes.push({
        key: k,
        kind: "input",
        title: input.name,
        subtitle: `${input.type}${input.optional ? " (optional)" : ""}`,
        extra: [],
      });
    });
    const outputKeys = new Map<string, string>();
    const outputBoxes: Box[] = wf.outputs.map((output, j) => {
      const k = `${key}_out${j}`;
      outputKeys.set(output.name, k);
      return { key: k, kind: "output", title: output.name, subtitle: "output", extra: [] };
    });
    if (wf.kind === "static") {
      staticBoxes(wf, key, t, inputKeys, outputKeys, boxes, arrows);
    } else {
      const k = `${key}_flow`;
      boxes.push({
        key: k,
        kind: "flow",
        title: wf.name,
        subtitle: "flow: its graph grows at run time",
        extra: wf.calls.length === 0
          ? ["may call: nothing known"]
          : wrap(`may call: ${wf.calls.map((c) => c.name).join(", ")}`, 40),
      });
      for (const input of wf.inputs) {
        arrows.push({ from: inputKeys.get(input.name)!, to: k, label: input.name });
      }
      for (const output of outputBoxes) arrows.push({ from: k, to: output.key, label: "" });
    }
    boxes.push(...outputBoxes);
    if (wf.onFailure !== undefined) {
      // Flyte's on_failure, Argo's exit handler: it runs only when the workflow fails.
      boxes.push({
        key: `${key}_onfail`,
        kind: "handler",
        title: "onFailure",
        subtitle: describeRef(wf.onFailure, t),
        extra: ["runs with { error, inputs } when it fails"],
      });
    }
    return { key, name: wf.name, kind: wf.kind, workflow: wf, boxes, arrows };
  });
}

/**
 * The boxes and arrows of a static workflow's nodes. A condition node is
 * two boxes: its test (`if …`), which its operands feed and whose arrows,
 * dashed, lead into its branches' first nodes; and its result, which the
 * branches' outputs feed and whose value the nodes after it use. Branch
 * nodes are boxes like any, saying which branch they are in.
 */
function staticBoxes(
  wf: Extract<DagWorkflow, { kind: "static" }>,
  key: string,
  t: Tables,
  inputKeys: Map<string, string>,
  outputKeys: Map<string, string>,
  boxes: Box[],
  arrows: Arrow[],
): void {
  const nodeKeys = new Map<string, string>();
  const testKeys = new Map<string, string>();
  const branchOf = new Map<string, string>();
  const all = everyNode(wf.nodes);
  for (const node of all) {
    if (!isConditionNode(node)) continue;
    for (const [name, branch] of [["then", node.if.then], ["else", node.if.else]] as const) {
      for (const n of branch.nodes) branchOf.set(n.id, `${name} of ${node.id}`);
    }
  }
  all.forEach((node, j) => {
    const k = `${key}_n${j}`;
    nodeKeys.set(node.id, k);
    const where = branchOf.get(node.id);
    const inBranch = where === undefined ? [] : [`in ${where}`];
    if (isConditionNode(node)) {
      testKeys.set(node.id, `${k}_if`);
      boxes.push({
        key: `${k}_if`,
        kind: "condition",
        title: node.id,
        subtitle: `if ${describeTest(node.if.test, node.bindings)}`,
        extra: inBranch,
      });
      boxes.push({
        key: k,
        kind: "merge",
        title: node.id,
        subtitle: `the result of then or else`,
        extra: [],
      });
      return;
    }
    const isFlow = node.entity.kind === "workflow" &&
      t.workflow(node.entity.name)?.kind === "dynamic";
    const overrides = node.overrides === undefined
      ? ""
      : overrideRows(node.overrides).filter(([k]) => k !== "name").map(([k, v]) => `${k} ${v}`)
        .join(", ");
    boxes.push({
      key: k,
      kind: node.map !== undefined ? "map" : isFlow ? "flow" : node.entity.kind,
      title: node.id,
      subtitle: node.map === undefined
        ? describeRef(node.entity, t)
        : `map ${describeRef(node.entity, t)} over ${node.map.over.join(", ")}`,
      extra: [
        ...(node.map === undefined ? [] : mapLines(node.map)),
        ...(overrides === "" ? [] : [`with ${overrides}`]),
        ...inBranch,
      ],
    });
  });
  const find = (table: Map<string, string>, name: string, what: string): string => {
    const k = table.get(name);
    if (k === undefined) {
      throw new ValidationError(
        `An edge of workflow '${wf.name}' names ${what} '${name}', which the workflow does not have; fix the document or compile the script again`,
      );
    }
    return k;
  };
  for (const e of wf.edges) {
    // Into a condition: its operands feed the test, its branches' outputs the result.
    const intoTest = testKeys.has(e.to) && !/^(then|else)\./.test(e.input);
    arrows.push({
      from: e.from === "$inputs"
        ? find(inputKeys, e.output, "input")
        : find(nodeKeys, e.from, "node"),
      to: e.to === "$outputs"
        ? find(outputKeys, e.input, "output")
        : intoTest
        ? testKeys.get(e.to)!
        : find(nodeKeys, e.to, "node"),
      label: `${e.output} → ${e.input}`,
    });
  }
  for (const node of all) {
    for (const dep of node.after ?? []) {
      arrows.push({
        from: find(nodeKeys, dep, "node"),
        to: isConditionNode(node) ? testKeys.get(node.id)! : find(nodeKeys, node.id, "node"),
        label: "after",
        style: "order",
      });
    }
    if (!isConditionNode(node)) continue;
    for (const [name, branch] of [["then", node.if.then], ["else", node.if.else]] as const) {
      const inside = new Set(branch.nodes.map((n) => n.id));
      // The test leads into the branch's first nodes (those that wait for none of the branch).
      const first = branch.nodes.filter((n) =>
        !dependsOnAny(n, inside) && !(n.after ?? []).some((id) => inside.has(id))
      );
      const targets = first.length > 0
        ? first.map((n) => nodeKeys.get(n.id)!)
        : [nodeKeys.get(node.id)!];
      for (const to of targets) {
        arrows.push({ from: testKeys.get(node.id)!, to, label: name, style: "branch" });
      }
    }
  }
}

/** Whether a node's bindings (or a condition's branches) use any of `ids`. */
function dependsOnAny(node: DagNode, ids: ReadonlySet<string>): boolean {
  let found = false;
  const visit = (b: DagBinding): void => {
    if ("node" in b) found ||= ids.has(b.node);
    else if ("array" in b) b.array.forEach(visit);
    else if ("object" in b) Object.values(b.object).forEach(visit);
  };
  Object.values(node.bindings).forEach(visit);
  if (isConditionNode(node)) {
    for (const n of [...node.if.then.nodes, ...node.if.else.nodes]) {
      if (dependsOnAny(n, ids)) return true;
    }
    for (const o of [...node.if.then.outputs, ...node.if.else.outputs]) visit(o.binding);
  }
  return found;
}

/**
 * Writes a condition's test as a person reads it: `input x > 0.5 and stats.min ≤ 0`.
 *
 * @param test The test.
 * @param operands The condition node's bindings, by operand name.
 * @returns The text.
 */
export function describeTest(test: DagTest, operands: { [name: string]: DagBinding }): string {
  const operand = (name: string) => {
    const b = operands[name];
    return b === undefined ? name : describeBinding(b);
  };
  const SIGNS = { eq: "=", ne: "≠", gt: ">", ge: "≥", lt: "<", le: "≤" } as const;
  const inner = (t: DagTest): string =>
    t.op === "and" || t.op === "or" ? `(${describeTest(t, operands)})` : describeTest(t, operands);
  switch (test.op) {
    case "and":
    case "or":
      return test.args.map(inner).join(` ${test.op} `);
    case "not":
      return `not ${inner(test.args[0])}`;
    case "truthy":
      return operand(test.args[0]);
    default:
      return `${operand(test.args[0])} ${SIGNS[test.op]} ${operand(test.args[1])}`;
  }
}

/**
 * Names what a node calls: `task slope`, `workflow inner`, `flow loop`,
 * `launch plan daily`.
 *
 * @param ref The reference.
 * @param t The document's tables, to tell flows from static workflows.
 * @returns The text.
 */
export function describeRef(ref: DagEntityRef, t?: Tables): string {
  if (ref.kind === "workflow" && t?.workflow(ref.name)?.kind === "dynamic") {
    return `flow ${ref.name}`;
  }
  return `${ref.kind === "launchPlan" ? "launch plan" : ref.kind} ${ref.name}`;
}

/**
 * Writes a binding as a person reads it: `input x`, `slope.o0`, `[1, 2]`.
 *
 * @param b The binding.
 * @returns The text.
 */
export function describeBinding(b: DagBinding): string {
  if ("input" in b) return `input ${b.input}`;
  if ("node" in b) return `${b.node}.${b.output}`;
  if ("value" in b) return JSON.stringify(b.value) ?? "undefined";
  if ("array" in b) return `[${b.array.map(describeBinding).join(", ")}]`;
  return `{ ${
    Object.entries(b.object).map(([k, v]) => `${k}: ${describeBinding(v)}`).join(", ")
  } }`;
}

/**
 * Writes a permission declaration: `net: example.com; read: ./data`, `env: all`, `none`.
 *
 * @param p The declaration.
 * @returns The text.
 */
export function describePermissions(p: Permissions): string {
  const parts = PERMISSION_KINDS.filter((kind) => p[kind] !== undefined).map((kind) => {
    const v = p[kind]!;
    return `${kind}: ${v === true ? "all" : v.join(", ")}`;
  });
  return parts.length === 0 ? "none" : parts.join("; ");
}

/**
 * Writes a task's run options: retries, timeout, cache…
 *
 * @param t The task.
 * @returns Label and value pairs, only for options that are set.
 */
export function taskOptions(t: DagTask): [string, string][] {
  const rows: [string, string][] = [];
  if (t.retries === 0) rows.push(["retries", "0"]);
  else {
    const backoff = t.backoff ?? 2;
    rows.push([
      "retries",
      `${t.retries} (first after ${t.retryDelayMs} ms${
        backoff === 1 ? "" : `, then ×${backoff}`
      } up to ${t.maxRetryDelayMs ?? 30_000} ms)`,
    ]);
    if (t.retryDeadlineMs !== undefined && t.retryDeadlineMs !== null) {
      rows.push(["retry deadline", `${t.retryDeadlineMs} ms`]);
    }
    const never = [...(t.nonRetryable ?? []), ...(t.retryIf ? ["when retryIf says no"] : [])];
    if (never.length > 0) rows.push(["not retried", never.join(", ")]);
  }
  rows.push(["timeout", t.timeoutMs === null ? "none" : `${t.timeoutMs} ms`]);
  if (t.concurrency !== null) rows.push(["concurrency", String(t.concurrency)]);
  rows.push([
    "cache",
    t.cache
      ? `yes${t.version === null ? "" : ` (version ${t.version})`}${
        t.cacheIgnore?.length ? `, ignoring ${t.cacheIgnore.join(", ")}` : ""
      }`
      : "no",
  ]);
  if (!t.cache && t.version !== null) rows.push(["version", t.version]);
  if (t.queue !== undefined && t.queue !== null) rows.push(["queue", t.queue]);
  return rows;
}

/**
 * A workflow's title as the drawings show it: its kind and name, and what
 * it says about failures and time when that is not the default.
 *
 * @param view The workflow as drawn.
 * @returns Such as `workflow etl (fail-fast, timeout 30000 ms)`.
 */
export function viewTitle(view: WorkflowView): string {
  const wf = view.workflow;
  const notes: string[] = [];
  const policy = wf.failurePolicy;
  if (policy !== undefined && policy !== (wf.kind === "static" ? "finish-running" : "fail-fast")) {
    notes.push(policy);
  }
  if (wf.timeoutMs !== undefined) notes.push(`timeout ${wf.timeoutMs} ms`);
  const title = `${view.kind === "static" ? "workflow" : "flow"} ${view.name}`;
  return notes.length === 0 ? title : `${title} (${notes.join(", ")})`;
}

/**
 * Writes how a map node maps, beyond what it maps over: its limit and the
 * share that must succeed, and the inner map of a map of maps.
 *
 * @param m The node's map.
 * @returns Lines, none when every setting is the default.
 */
export function mapLines(m: DagMap): string[] {
  const parts: string[] = [];
  if (m.concurrency !== null) parts.push(`${m.concurrency} at a time`);
  if (m.minSuccessRatio !== 1) parts.push(`${Math.round(m.minSuccessRatio * 100)}% must succeed`);
  const lines = parts.length === 0 ? [] : [parts.join(", ")];
  if (m.map !== undefined) lines.push(`each maps over ${m.map.over.join(", ")}`);
  return lines;
}

/**
 * Writes what `.with({…})` changed for a node's call.
 *
 * @param o The node's overrides.
 * @returns Label and value pairs.
 */
export function overrideRows(o: DagOverrides): [string, string][] {
  const rows: [string, string][] = [];
  if (o.name !== undefined) rows.push(["name", o.name]);
  if (o.retries !== undefined) rows.push(["retries", String(o.retries)]);
  if (o.timeoutMs !== undefined) rows.push(["timeout", `${o.timeoutMs} ms`]);
  if (o.cache !== undefined) rows.push(["cache", o.cache ? "yes" : "no"]);
  if (o.queue !== undefined) rows.push(["queue", o.queue]);
  return rows;
}

/** Lookups in a document's tables by name. */
export interface Tables {
  /** A task of the task table. */
  task(name: string): DagTask | undefined;
  /** A workflow or flow. */
  workflow(name: string): DagWorkflow | undefined;
  /** A launch plan. */
  launchPlan(name: string): DagLaunchPlan | undefined;
}

/**
 * Finds an entry of a document's tables by name.
 *
 * @param dag The document.
 * @returns Lookups for tasks, workflows and launch plans.
 */
export function tables(dag: DagDocument): Tables {
  const tasks = new Map(dag.tasks.map((t) => [t.name, t]));
  const workflows = new Map(dag.workflows.map((w) => [w.name, w]));
  const plans = new Map(dag.launchPlans.map((l) => [l.name, l]));
  return {
    task: (name) => tasks.get(name),
    workflow: (name) => workflows.get(name),
    launchPlan: (name) => plans.get(name),
  };
}

/**
 * Shortens a line for drawing (the full text stays in details and tooltips).
 *
 * @param text The line.
 * @param max The most characters to keep.
 * @returns The line, or its start and `…`.
 */
export function clip(text: string, max = 48): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

/** Breaks a comma-separated line after commas, into lines of about `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const part of text.split(/(?<=, )/)) {
    if (line !== "" && [...line].length + [...part].length > width) {
      lines.push(line.trimEnd());
      line = "";
    }
    line += part;
  }
  if (line !== "") lines.push(line);
  return lines;
}

const MERMAID_ENTITIES: Record<string, string> = {
  "#": "#35;",
  '"': "#quot;",
  "&": "#amp;",
  "<": "#lt;",
  ">": "#gt;",
  "`": "#96;",
  "|": "#124;",
};

/**
 * Quotes text for a Mermaid label: `#`, quotes, `&`, `<`, `>`, backticks and
 * `|` become entity codes, so user text can neither end the label nor
 * become markup.
 *
 * @param text Any text; line breaks become `<br>`.
 * @returns A quoted Mermaid string.
 */
export function mermaidString(text: string): string {
  const lines = text.split(/\r\n|\r|\n/).map((l) =>
    l.replace(/[#"&<>`|]/g, (c) => MERMAID_ENTITIES[c]!)
  );
  return `"${lines.join("<br>")}"`;
}
