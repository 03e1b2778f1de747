/**
 * The checks of a static workflow of a `weft.dag/v1` document that a JSON
 * Schema cannot make: node ids unique (branches included), bindings that
 * resolve to inputs and to nodes the binding may see (a branch's nodes are
 * seen only inside it), outputs that exist, maps over bound inputs,
 * conditions whose tests name their operands, no cycle (ordering edges and
 * branches included), and edges that list exactly what the bindings connect.
 *
 * @module
 */

import type {
  DagBinding,
  DagEntityRef,
  DagNode,
  DagTest,
  DagWorkflow,
} from "../core/dag_format.ts";
import { ValidationError } from "../core/errors.ts";
import { topologicalOrder } from "../core/order.ts";
import { everyNode, isConditionNode } from "./nodes.ts";

/** A signature as the document describes it. */
export interface Signature {
  /** The inputs. */
  params: { name: string; optional: boolean }[];
  /** The output names. */
  outputs: string[];
}

type StaticWorkflow = Extract<DagWorkflow, { kind: "static" }>;

/**
 * Checks one static workflow.
 *
 * @param wf The workflow.
 * @param signature The signature of what a node calls.
 * @throws {ValidationError} Saying what is wrong and where.
 */
export function checkStatic(wf: StaticWorkflow, signature: (ref: DagEntityRef) => Signature): void {
  const what = `workflow '${wf.name}'`;
  const all = everyNode(wf.nodes);
  unique(all.map((n) => n.id), `node ids of ${what}`);
  const inputs = new Set(wf.inputs.map((i) => i.name));
  const nodes = new Map(all.map((n) => [n.id, n]));
  // Where each node is: the branches around it, outermost first (`check.then`).
  const scopes = new Map<string, string[]>();
  const walk = (list: readonly DagNode[], scope: string[]): void => {
    for (const n of list) {
      scopes.set(n.id, scope);
      if (isConditionNode(n)) {
        walk(n.if.then.nodes, [...scope, `${n.id}.then`]);
        walk(n.if.else.nodes, [...scope, `${n.id}.else`]);
      }
    }
  };
  walk(wf.nodes, []);
  const visible = (id: string, from: readonly string[]): boolean => {
    const at = scopes.get(id)!;
    return at.length <= from.length && at.every((s, i) => from[i] === s);
  };
  const branchName = (scope: string) => {
    const [node, branch] = scope.split(".");
    return `the ${branch} branch of condition '${node}'`;
  };
  const outputsOf = (n: DagNode): string[] =>
    isConditionNode(n) ? n.if.outputs : signature(n.entity).outputs;
  const expected: string[] = [];
  const check = (
    b: DagBinding,
    where: string,
    to: string,
    input: string,
    scope: readonly string[],
  ): void => {
    if ("input" in b) {
      if (!inputs.has(b.input)) {
        throw new ValidationError(
          `${where} is bound to input '${b.input}' of ${what}, which has no such input; its inputs are ${
            list([...inputs])
          }`,
        );
      }
      expected.push(edgeKey("$inputs", b.input, to, input));
    } else if ("node" in b) {
      const from = nodes.get(b.node);
      if (from === undefined) {
        throw new ValidationError(
          `${where} is bound to node '${b.node}', which ${what} does not have; its nodes are ${
            list([...nodes.keys()])
          }`,
        );
      }
      if (!visible(b.node, scope)) {
        throw new ValidationError(
          `${where} is bound to node '${b.node}', which belongs to ${
            branchName(scopes.get(b.node)!.at(-1)!)
          }; only that branch can use it (outside it, use the condition's result)`,
        );
      }
      const outputs = outputsOf(from);
      if (!outputs.includes(b.output)) {
        throw new ValidationError(
          `${where} is bound to output '${b.output}' of node '${b.node}', but ${
            isConditionNode(from) ? `condition '${from.id}'` : describe(from.entity)
          } has outputs ${list(outputs)}`,
        );
      }
      expected.push(edgeKey(b.node, b.output, to, input));
    } else if ("array" in b) {
      b.array.forEach((x, i) => check(x, `${where}[${i}]`, to, input, scope));
    } else if ("object" in b) {
      for (const [k, x] of Object.entries(b.object)) check(x, `${where}.${k}`, to, input, scope);
    }
  };
  for (const node of all) {
    const where = `Node '${node.id}' of ${what}`;
    const scope = scopes.get(node.id)!;
    for (const id of node.after ?? []) {
      if (!nodes.has(id) || id === node.id) {
        throw new ValidationError(
          `${where} runs after ${
            id === node.id ? "itself" : `node '${id}', which ${what} does not have`
          }; 'after' lists other nodes of the same workflow (its nodes are ${
            list([...nodes.keys()])
          })`,
        );
      }
      if (!visible(id, scope)) {
        throw new ValidationError(
          `${where} runs after node '${id}', which belongs to ${
            branchName(scopes.get(id)!.at(-1)!)
          }; only that branch can use it`,
        );
      }
    }
    if (isConditionNode(node)) {
      checkCondition(node, where, scope, check);
      continue;
    }
    const sig = signature(node.entity);
    const params = new Set(sig.params.map((p) => p.name));
    for (let m = node.map; m !== undefined; m = m.map) {
      for (const o of m.over) {
        if (!(o in node.bindings)) {
          throw new ValidationError(
            `${where} maps over input '${o}', which it does not bind; bind '${o}' to a list (${
              describe(node.entity)
            } has inputs ${list([...params])})`,
          );
        }
      }
    }
    for (const key of Object.keys(node.bindings)) {
      if (!params.has(key)) {
        throw new ValidationError(
          `${where} binds input '${key}', but ${
            describe(node.entity)
          } has no input '${key}'; its inputs are ${list([...params])}`,
        );
      }
      check(
        node.bindings[key]!,
        `Input '${key}' of node '${node.id}' of ${what}`,
        node.id,
        key,
        scope,
      );
    }
    for (const p of sig.params) {
      if (!p.optional && !(p.name in node.bindings)) {
        throw new ValidationError(
          `${where} does not bind input '${p.name}' of ${
            describe(node.entity)
          }, which is required; bind it to a workflow input, a node output or a value`,
        );
      }
    }
  }
  for (const o of wf.outputs) {
    check(o.binding, `Output '${o.name}' of ${what}`, "$outputs", o.name, []);
  }
  const cycle = findCycle(all);
  if (cycle !== undefined) {
    throw new ValidationError(
      `${what[0]!.toUpperCase()}${what.slice(1)} has a cycle: ${
        cycle.join(" → ")
      }; a static workflow must be acyclic (write a flow for loops)`,
    );
  }
  const given = wf.edges.map((e) => edgeKey(e.from, e.output, e.to, e.input));
  const missing = difference(expected, given);
  const extra = difference(given, expected);
  if (missing.length > 0 || extra.length > 0) {
    const show = (k: string) => {
      const [from, output, to, input] = k.split("\u0000");
      return `${from}.${output} → ${to}.${input}`;
    };
    throw new ValidationError(
      `The edges of ${what} do not match its bindings: ${
        extra.length > 0
          ? `edge ${show(extra[0]!)} has no binding`
          : `the binding ${show(missing[0]!)} has no edge`
      }; edges must list exactly what the bindings connect (compile the script again)`,
    );
  }
}

/** A condition: its test names its operands, its branches give its outputs. */
function checkCondition(
  node: Extract<DagNode, { if: unknown }>,
  where: string,
  scope: readonly string[],
  check: (
    b: DagBinding,
    where: string,
    to: string,
    input: string,
    scope: readonly string[],
  ) => void,
): void {
  const operands = new Set(Object.keys(node.bindings));
  const used = new Set<string>();
  const visit = (t: DagTest): void => {
    if (t.op === "and" || t.op === "or" || t.op === "not") {
      return (t.args as DagTest[]).forEach(visit);
    }
    for (const a of t.args as string[]) {
      if (!operands.has(a)) {
        throw new ValidationError(
          `${where} tests operand '${a}', which it does not bind; its operands are ${
            list([...operands])
          }`,
        );
      }
      used.add(a);
    }
  };
  visit(node.if.test);
  for (const [key, b] of Object.entries(node.bindings)) {
    if (!used.has(key)) {
      throw new ValidationError(`${where} binds operand '${key}', which its test does not use`);
    }
    check(b, `Operand '${key}' of condition '${node.id}'`, node.id, key, scope);
  }
  unique(node.if.outputs, `outputs of condition '${node.id}'`);
  for (const branch of ["then", "else"] as const) {
    const b = node.if[branch];
    for (const o of b.outputs) {
      if (!node.if.outputs.includes(o.name)) {
        throw new ValidationError(
          `The ${branch} branch of ${where} gives output '${o.name}', but the condition's outputs are ${
            list(node.if.outputs)
          }`,
        );
      }
      check(
        o.binding,
        `Output '${o.name}' of the ${branch} branch of condition '${node.id}'`,
        node.id,
        `${branch}.${o.name}`,
        [...scope, `${node.id}.${branch}`],
      );
    }
  }
}

function edgeKey(from: string, output: string, to: string, input: string): string {
  return [from, output, to, input].join("\u0000");
}

/** The items of `a` left after removing one match in `b` for each (a multiset difference). */
function difference(a: string[], b: string[]): string[] {
  const counts = new Map<string, number>();
  for (const x of b) counts.set(x, (counts.get(x) ?? 0) + 1);
  return a.filter((x) => {
    const c = counts.get(x) ?? 0;
    if (c === 0) return true;
    counts.set(x, c - 1);
    return false;
  });
}

/**
 * The node ids a node depends on: its bindings', those it runs after, and
 * for a condition its branches' nodes (it ends when they have).
 */
function dependencies(node: DagNode): string[] {
  const out: string[] = [];
  const visit = (b: DagBinding): void => {
    if ("node" in b) out.push(b.node);
    else if ("array" in b) b.array.forEach(visit);
    else if ("object" in b) Object.values(b.object).forEach(visit);
  };
  const bindings = node.bindings;
  Object.keys(bindings).sort().forEach((k) => visit(bindings[k]!));
  if (node.after !== undefined) out.push(...node.after);
  if (isConditionNode(node)) {
    for (const b of [node.if.then, node.if.else]) {
      for (const n of b.nodes) out.push(n.id);
      for (const o of b.outputs) visit(o.binding);
    }
  }
  return out;
}

/** A cycle among nodes, as ids from a node back to itself. */
function findCycle(all: readonly DagNode[]): string[] | undefined {
  const deps = new Map(all.map((n) => [n.id, dependencies(n)]));
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const s = state.get(id);
    if (s === "done") return undefined;
    // Reversed, so that arrows follow the data: producer → consumer.
    if (s === "open") return [...stack.slice(stack.indexOf(id)), id].reverse();
    state.set(id, "open");
    stack.push(id);
    for (const d of deps.get(id) ?? []) {
      const found = visit(d);
      if (found !== undefined) return found;
    }
    stack.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const n of all) {
    const found = visit(n.id);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Nodes of a list (a workflow's, or a branch's) in a topological order,
 * keeping the document's order where it already is one; nodes outside the
 * list count as placed.
 *
 * @param nodes The list.
 * @returns The nodes, ordered.
 */
export function topological<N extends DagNode>(nodes: readonly N[]): N[] {
  // (checkDocument has ruled out cycles.)
  return topologicalOrder(nodes, dependencies);
}

/**
 * Throws when a list of names has a duplicate.
 *
 * @param names The names.
 * @param what Names the list in the message.
 * @throws {ValidationError} Naming the duplicate.
 */
export function unique(names: string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) {
      throw new ValidationError(
        `The document lists '${n}' twice among its ${what}; names must be unique`,
      );
    }
    seen.add(n);
  }
}

/**
 * Names an entity reference in messages.
 *
 * @param ref The reference.
 * @returns Such as `task 'add'`.
 */
export function describe(ref: DagEntityRef): string {
  return `${ref.kind === "launchPlan" ? "launch plan" : ref.kind} '${ref.name}'`;
}

/**
 * Lists names for messages.
 *
 * @param names The names.
 * @returns Such as `'a', 'b'`, or `none`.
 */
export function list(names: readonly string[]): string {
  return names.length === 0 ? "none" : names.map((n) => `'${n}'`).join(", ");
}
