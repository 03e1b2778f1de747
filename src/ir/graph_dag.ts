/**
 * A static workflow as the `weft.dag/v1` IR writes it: inputs, nodes in a
 * topological order (calls, with what maps or overrides them and what they
 * run after; conditions, with their test and both branches), outputs, and
 * one edge per binding.
 *
 * @module
 */

import type {
  DagBinding,
  DagBranch,
  DagEdge,
  DagEntityRef,
  DagInput,
  DagMap,
  DagNode,
  DagOverrides,
  DagRetries,
  DagSource,
  DagTest,
  DagWorkflow,
} from "../core/dag_format.ts";
import { ValidationError } from "../core/errors.ts";
import { toJsonTree } from "../core/values.ts";
import type {
  Binding,
  Branch,
  EntityDef,
  GraphDef,
  GraphNode,
  RunControl,
  SourceLocation,
  Test,
} from "../define/defs.ts";
import { mappedEntity } from "../define/map.ts";
import { baseOf, callName } from "../define/overrides.ts";

/**
 * How a node refers to an entity: flows and workflows are both in
 * `workflows`; a map, by the entity it maps.
 *
 * @param def The entity.
 * @returns The reference.
 */
export function ref(def: EntityDef): DagEntityRef {
  if (def.kind === "sleep" || def.kind === "signal") {
    // Durable waits are made inside running flows; no graph refers to one.
    throw new ValidationError(`A flow's ${def.kind} cannot be a node of a static graph`);
  }
  const d = baseOf(mappedEntity(def));
  return { kind: d.kind === "flow" ? "workflow" : d.kind as DagEntityRef["kind"], name: d.name };
}

/**
 * A source location as the IR writes it: relative to the compiled script's directory.
 *
 * @param s The location.
 * @param base The script's URL.
 * @returns The location, or null.
 */
export function source(s: SourceLocation | undefined, base: string | undefined): DagSource | null {
  if (s === undefined) return null;
  let file = s.file;
  if (base !== undefined) {
    const dir = base.slice(0, base.lastIndexOf("/") + 1);
    if (file.startsWith(dir)) file = file.slice(dir.length);
  }
  return { file: flatString(file), line: s.line };
}

/**
 * A copy of `s` that is one plain string. Source paths are cut out of stack
 * traces, and V8's fast `JSON.stringify` gives up on such a slice and starts
 * over on its slow path: for a 100,000-node workflow, three times slower.
 */
function flatString(s: string): string {
  return s.split("").join("");
}

/**
 * A static workflow in the IR.
 *
 * @param g The workflow.
 * @param base The script's URL, for source paths.
 * @returns Its entry of `workflows`.
 */
export function graphToDag(g: GraphDef, base: string | undefined): DagWorkflow {
  const edges: DagEdge[] = [];
  const collect = (b: Binding, to: string, input: string): void => {
    if ("input" in b) edges.push({ from: "$inputs", output: b.input, to, input });
    else if ("node" in b) edges.push({ from: b.node, output: b.output, to, input });
    else if ("array" in b) b.array.forEach((x) => collect(x, to, input));
    else if ("object" in b) Object.values(b.object).forEach((x) => collect(x, to, input));
  };
  const nodeToDag = (n: GraphNode): DagNode => {
    const bindings: Record<string, DagBinding> = {};
    for (const key of Object.keys(n.bindings).sort()) {
      bindings[key] = bindingToDag(n.bindings[key]!);
      collect(n.bindings[key]!, n.id, key);
    }
    const def = n.def;
    if (def.kind === "condition") {
      // A branch's outputs feed the condition node's: edges `then.o0`, `else.o0`.
      const branch = (b: Branch, name: "then" | "else"): DagBranch => ({
        nodes: g.topological(b.nodes).map(nodeToDag),
        outputs: [...b.outputBindings].map(([o, binding]) => {
          collect(binding, n.id, `${name}.${o}`);
          return { name: o, binding: bindingToDag(binding) };
        }),
      });
      const node: DagNode = {
        id: n.id,
        bindings,
        if: {
          test: testToDag(def.test),
          then: branch(def.then, "then"),
          else: branch(def.else, "else"),
          outputs: [...def.outputs],
        },
      };
      if (n.after !== undefined) node.after = [...n.after];
      return node;
    }
    const node: DagNode = { id: n.id, entity: ref(def), bindings };
    const overrides = overridesToDag(mappedEntity(def));
    if (overrides !== undefined) node.overrides = overrides;
    if (n.after !== undefined) node.after = [...n.after];
    const map = mapToDag(def);
    if (map !== undefined) node.map = map;
    return node;
  };
  const nodes = g.topological().map(nodeToDag);
  const outputs = [...g.outputBindings].map(([name, b]) => {
    collect(b, "$outputs", name);
    return { name, binding: bindingToDag(b) };
  });
  return {
    name: g.name,
    kind: "static",
    inputs: [...g.inputs.values()].map((i) => {
      const input: DagInput = { name: i.name, type: i.type.text, optional: i.optional };
      if (i.type.schema !== undefined) input.schema = i.type.schema;
      if ("default" in i) input.default = toJsonTree(i.default);
      return input;
    }),
    outputs,
    nodes,
    edges,
    source: source(g.source, base),
    ...controlToDag(g.control),
  };
}

/**
 * A workflow's or flow's control as the IR writes it: its failure policy,
 * and its onFailure handler and timeout when it has them.
 *
 * @param control The control.
 * @returns The fields to add to its entry of `workflows`.
 */
export function controlToDag(
  control: RunControl,
): Pick<DagWorkflow, "onFailure" | "failurePolicy" | "timeoutMs"> {
  const out: Pick<DagWorkflow, "onFailure" | "failurePolicy" | "timeoutMs"> = {
    failurePolicy: control.failurePolicy,
  };
  if (control.onFailure !== undefined) out.onFailure = ref(control.onFailure);
  if (control.timeoutMs !== undefined) out.timeoutMs = control.timeoutMs;
  return out;
}

function testToDag(t: Test): DagTest {
  switch (t.op) {
    case "and":
    case "or":
      return { op: t.op, args: t.args.map(testToDag) };
    case "not":
      return { op: "not", args: [testToDag(t.args[0])] };
    case "truthy":
      return { op: "truthy", args: [t.args[0]] };
    default:
      return { op: t.op, args: [t.args[0], t.args[1]] };
  }
}

/** How a map node maps, as the IR writes it. */
function mapToDag(def: EntityDef): DagMap | undefined {
  if (def.kind !== "map") return undefined;
  const m: DagMap = {
    over: [...def.over],
    concurrency: def.concurrency ?? null,
    minSuccessRatio: def.minSuccessRatio,
  };
  const name = callName(def);
  if (name !== `map_${def.target.name}`) m.name = name;
  const inner = mapToDag(def.target);
  if (inner !== undefined) m.map = inner;
  return m;
}

/**
 * Retries as the IR writes them: JSON has no Infinity.
 *
 * @param retries A count, or Infinity.
 * @returns The count, or `unlimited`.
 */
export function retriesToDag(retries: number): DagRetries {
  return retries === Infinity ? "unlimited" : retries;
}

/** What `.with({…})` changed for a node's call, as the IR writes it. */
function overridesToDag(def: EntityDef): DagOverrides | undefined {
  const o = def.call?.overrides;
  if (o === undefined) return undefined;
  const out: DagOverrides = {};
  if (o.name !== undefined) out.name = o.name;
  if (o.retries !== undefined) out.retries = retriesToDag(o.retries);
  if (o.timeoutMs !== undefined) out.timeoutMs = o.timeoutMs;
  if (o.cache !== undefined) out.cache = o.cache;
  if (o.queue !== undefined) out.queue = o.queue;
  return out;
}

/**
 * A binding as the IR writes it: constants as tagged JSON.
 *
 * @param b The binding.
 * @returns The IR's binding.
 */
export function bindingToDag(b: Binding): DagBinding {
  if ("value" in b) return { value: toJsonTree(b.value, true) };
  if ("input" in b) return { input: b.input };
  if ("node" in b) return { node: b.node, output: b.output };
  if ("array" in b) return { array: b.array.map(bindingToDag) };
  const object: Record<string, DagBinding> = {};
  for (const k of Object.keys(b.object)) object[k] = bindingToDag(b.object[k]!);
  return { object };
}
