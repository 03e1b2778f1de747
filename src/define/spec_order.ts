/**
 * The references of a workflow spec: every `$node` and `after:` names a
 * node it may see (one of its own scope or of a scope around it, never one
 * inside another node's branch), every `$inputs.x` an input, every input is
 * used, and the nodes of each scope are put in an order where each comes
 * after the nodes it uses (a document may list them in any order; a cycle
 * is an error).
 *
 * @module
 */

import type { SpecBranch, SpecNode, SpecTest, SpecValue, WorkflowSpec } from "./spec_types.ts";

type Fail = (line: number, message: string) => never;

/** Where a reference is: the scope it sees from, and the nodes around it (outermost first). */
interface Place {
  readonly scope: string;
  readonly chain: readonly string[];
}

interface Known {
  readonly node: SpecNode;
  readonly scope: string;
  /** The `if` nodes around it, outermost first. */
  readonly around: readonly string[];
}

/**
 * Checks a spec's references and orders its nodes (in place).
 *
 * @param spec The spec as read, in document order.
 * @param fail Reports a mistake at a line.
 */
export function orderNodes(
  spec: { nodes: readonly SpecNode[] } & Pick<WorkflowSpec, "inputs" | "outputs">,
  fail: Fail,
): void {
  const known = new Map<string, Known>();
  const collect = (nodes: readonly SpecNode[], scope: string, around: readonly string[]) => {
    for (const node of nodes) {
      const seen = known.get(node.id);
      if (seen !== undefined) {
        fail(node.line, `node '${node.id}' is defined twice (first on line ${seen.node.line})`);
      }
      known.set(node.id, { node, scope, around });
      if (node.kind === "if") {
        collect(node.then.nodes, `${scope}/${node.id}.then`, [...around, node.id]);
        if (node.else !== undefined) {
          collect(node.else.nodes, `${scope}/${node.id}.else`, [...around, node.id]);
        }
      }
    }
  };
  collect(spec.nodes, "", []);

  const inputs = new Map(spec.inputs.map((i) => [i.name, i.line]));
  const used = new Set<string>();
  /** For each node, the nodes of its own scope it must come after. */
  const deps = new Map<string, Set<string>>();

  const refer = (target: string, line: number, place: Place) => {
    const found = known.get(target);
    if (found === undefined) {
      const visible = [...known].filter(([, k]) => sees(place.scope, k.scope)).map(([id]) => id);
      fail(
        line,
        `there is no node '${target}'${
          visible.length ? `; the nodes here are ${visible.join(", ")}` : ""
        }`,
      );
    }
    if (place.chain.includes(target)) {
      const last = place.chain[place.chain.length - 1];
      fail(
        line,
        last === target
          ? `node '${target}' cannot use itself`
          : `'${last}' is inside the branches of '${target}' and cannot use its result`,
      );
    }
    if (!sees(place.scope, found.scope)) {
      const owner = found.around[found.around.length - 1]!;
      const branch = found.scope.slice(found.scope.lastIndexOf(".") + 1);
      fail(
        line,
        `node '${target}' is inside the ${branch} branch of '${owner}' and can only be used there; outside, use the result of '${owner}'`,
      );
    }
    const owner = place.chain.find((id) => known.get(id)!.scope === found.scope);
    if (owner !== undefined) deps.get(owner)?.add(target) ?? deps.set(owner, new Set([target]));
  };
  const value = (v: SpecValue, place: Place): void => {
    if ("input" in v) {
      if (!inputs.has(v.input)) {
        const names = [...inputs.keys()];
        fail(
          v.line,
          `there is no input '${v.input}'${
            names.length ? `; the inputs are ${names.join(", ")}` : "; declare it under inputs:"
          }`,
        );
      }
      used.add(v.input);
    } else if ("node" in v) refer(v.node, v.line, place);
    else if ("array" in v) v.array.forEach((x) => value(x, place));
    else if ("object" in v) v.object.forEach(([, x]) => value(x, place));
  };
  const test = (t: SpecTest, place: Place): void => {
    if (t.op === "and" || t.op === "or" || t.op === "not") {
      (t.args as readonly SpecTest[]).forEach((x) => test(x, place));
    } else (t.args as readonly SpecValue[]).forEach((x) => value(x, place));
  };
  const visit = (nodes: readonly SpecNode[]) => {
    for (const node of nodes) {
      const k = known.get(node.id)!;
      const place = { scope: k.scope, chain: [...k.around, node.id] };
      for (const a of node.after) refer(a.node, a.line, place);
      if (node.kind === "call") {
        for (const b of node.with) value(b.value, place);
        continue;
      }
      test(node.test, place);
      for (const [name, branch] of [["then", node.then], ["else", node.else]] as const) {
        if (branch === undefined) continue;
        visit(branch.nodes);
        if (branch.result !== undefined) {
          value(branch.result, { scope: `${k.scope}/${node.id}.${name}`, chain: place.chain });
        }
      }
    }
  };
  visit(spec.nodes);
  for (const o of spec.outputs) value(o.value, { scope: "", chain: [] });
  for (const [name, line] of inputs) {
    if (!used.has(name)) {
      fail(
        line,
        `input '${name}' is not used by any node or output; bind it to a node input or remove it`,
      );
    }
  }

  const sortScope = (nodes: readonly SpecNode[]): SpecNode[] => {
    const inScope = nodes.map((n) =>
      n.kind === "call" ? n : { ...n, then: sortBranch(n.then), else: n.else && sortBranch(n.else) }
    );
    return topological(inScope, deps, fail);
  };
  const sortBranch = (b: SpecBranch): SpecBranch => ({ ...b, nodes: sortScope(b.nodes) });
  spec.nodes = sortScope(spec.nodes);
}

/** Whether a place in scope `from` sees the nodes of scope `target` (its own, or one around it). */
function sees(from: string, target: string): boolean {
  return target === "" || from === target || from.startsWith(`${target}/`);
}

/** The nodes of one scope, each after those it depends on, else in document order. */
function topological(
  nodes: readonly SpecNode[],
  deps: ReadonlyMap<string, ReadonlySet<string>>,
  fail: Fail,
): SpecNode[] {
  const done = new Set<string>();
  const out: SpecNode[] = [];
  let left = [...nodes];
  while (left.length > 0) {
    const ready = left.filter((n) => [...deps.get(n.id) ?? []].every((d) => done.has(d)));
    if (ready.length === 0) {
      // Follow the dependencies of the first node left until one repeats.
      const path: string[] = [];
      let at = left[0]!.id;
      while (!path.includes(at)) {
        path.push(at);
        at = [...deps.get(at)!].find((d) => !done.has(d))!;
      }
      const cycle = [...path.slice(path.indexOf(at)), at];
      const first = nodes.find((n) => n.id === cycle[0])!;
      fail(first.line, `nodes ${cycle.join(" → ")} depend on each other (a cycle)`);
    }
    const first = ready[0]!;
    out.push(first);
    done.add(first.id);
    left = left.filter((n) => n !== first);
  }
  return out;
}
