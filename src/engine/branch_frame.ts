/**
 * The frame of a condition node (`ifElse`): evaluates its test on its
 * operands, adds the chosen branch's nodes as its children
 * (`check/double`…), records the other branch's nodes as skipped, and gives
 * the chosen branch's outputs. Branch nodes may use the enclosing workflow's
 * inputs and nodes: the frame asks the frame around it for those.
 *
 * @module
 */

import { ValidationError, WeftError } from "../core/errors.ts";
import { encodeValue } from "../core/values.ts";
import type { Binding, Branch, ConditionDef, GraphDef, Test } from "../define/defs.ts";
import { Handle } from "../define/handle.ts";
import { asWeftError, cancelledError, frameError } from "./failures.ts";
import { Frame } from "./frames.ts";
import { slotOf } from "./handles.ts";
import { type Node, resolveValue } from "./node.ts";

/** A frame that can give the values of a graph's bindings: a static workflow's, or a branch's. */
export interface BindingScope {
  /** The workflow the bindings belong to. */
  readonly graph: GraphDef;
  /** A binding's value: a constant, an input, or a node's handle. */
  materialize(b: Binding): unknown;
}

function isScope(x: unknown): x is BindingScope {
  return typeof (x as BindingScope | undefined)?.materialize === "function";
}

/** The frame of a condition node. */
export class ConditionFrame extends Frame implements BindingScope {
  #def!: ConditionDef;
  #parent!: BindingScope;
  #branch: Branch | undefined = undefined;
  /** Why the branch could not be laid out, when it could not. */
  #error: WeftError | undefined = undefined;
  /** The chosen branch's nodes by graph id, or their shared handles. */
  #nodes = new Map<string, Node | Handle<unknown>>();

  /** The workflow the condition is part of. */
  get graph(): GraphDef {
    return this.#parent.graph;
  }

  /**
   * Evaluates the test and runs the chosen branch.
   *
   * @param def The condition.
   * @param inputs Its operands' values.
   */
  start(def: ConditionDef, inputs: Record<string, unknown>): void {
    this.#def = def;
    const parent = this.node?.frame;
    if (!isScope(parent)) {
      this.finished = true;
      const error = new ValidationError(
        `ifElse '${def.name}' can only run inside a static workflow`,
      );
      return this.done(undefined, error, [error]);
    }
    this.#parent = parent;
    let holds: boolean;
    try {
      holds = evaluate(def.test, inputs);
    } catch (e) {
      this.finished = true;
      const error = asWeftError(e, this.node, this.run.rootName);
      return this.done(undefined, error, [error]);
    }
    const taken = holds ? def.then : def.else;
    const other = holds ? def.else : def.then;
    this.#branch = taken;
    const skipped = new WeftError(
      `Not run: the condition of ifElse '${this.node!.id}' ${
        holds ? "held" : "did not hold"
      }, so the ${holds ? "then" : "else"} branch ran`,
      { nodeId: this.node!.id, task: def.name },
    );
    const run = this.run;
    run.held++;
    try {
      for (const gn of this.graph.topological(taken.nodes)) {
        const args: Record<string, unknown> = { ...gn.bindings };
        for (const key in args) args[key] = this.materialize(args[key] as Binding);
        const after = gn.after?.map((id) => nodeOf(this.#handleOf(id)));
        this.#nodes.set(gn.id, this.add(gn.def, args, gn.id, after));
      }
      // The branch not taken is in the record, as skipped.
      for (const gn of other.nodes) this.add(gn.def, {}, gn.id, undefined, skipped);
    } catch (e) {
      // (A binding the document got wrong: the branch stops, and the condition fails.)
      run.held--;
      this.#error = asWeftError(e, this.node, run.rootName);
      for (const child of this.children) run.cancelNode(child, this.#error);
      this.endBody();
      return;
    }
    run.held--;
    run.pump();
    this.endBody();
  }

  /**
   * A binding's value in the branch: its own nodes, else what the enclosing
   * frame gives (the workflow's inputs and nodes, an outer branch's nodes).
   *
   * @param b The binding.
   * @returns The value, with handles where nodes give values.
   */
  materialize(b: Binding): unknown {
    if ("value" in b) return b.value;
    if ("node" in b) {
      if (!this.#nodes.has(b.node)) return this.#parent.materialize(b);
      const entry = this.#handleOf(b.node);
      const node = nodeOf(entry);
      return node.def.bare ? entry : new Handle(node, b.output);
    }
    if ("input" in b) return this.#parent.materialize(b);
    if ("array" in b) return b.array.map((x) => this.materialize(x));
    const out: Record<string, unknown> = {};
    for (const k in b.object) out[k] = this.materialize(b.object[k]!);
    return out;
  }

  /** A node of the branch, as the one handle its whole-value bindings share. */
  #handleOf(id: string): Node | Handle<unknown> {
    const entry = this.#nodes.get(id);
    if (entry === undefined) {
      const node = this.#parent.materialize({ node: id, output: "o0" });
      if (node === undefined) {
        throw new ValidationError(
          `ifElse '${this.#def.name}' uses node '${id}', which does not exist`,
        );
      }
      return node as Handle<unknown>;
    }
    if (entry instanceof Handle || !entry.def.bare) return entry;
    const handle = new Handle(entry);
    this.#nodes.set(id, handle);
    return handle;
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const run = this.run;
    if (this.#error !== undefined) return this.done(undefined, this.#error, [this.#error]);
    if (this.cancelled) {
      return this.done(undefined, this.cancelReason ?? run.cancelReason ?? cancelledError(run.id));
    }
    const causes = this.unhandled();
    if (causes.length > 0) return this.done(undefined, frameError(this.node, causes), causes);
    try {
      const outputs = this.#branch!.outputBindings;
      const values: Record<string, unknown> = {};
      for (const o of this.#def.outputs) {
        const b = outputs.get(o);
        values[o] = b === undefined ? undefined : resolveValue(this.materialize(b));
      }
      this.done(this.#def.bare ? values.o0 : values, undefined);
    } catch (e) {
      this.done(undefined, asWeftError(e, this.node, run.rootName));
    }
  }
}

function nodeOf(entry: Node | Handle<unknown>): Node {
  return entry instanceof Handle ? slotOf(entry)!.source as Node : entry;
}

/**
 * Whether a condition's test holds for its operands' values.
 *
 * @param test The test.
 * @param values The operands' values, by name.
 * @returns True when it holds.
 * @throws {ValidationError} When a comparison mixes kinds of values.
 */
export function evaluate(test: Test, values: Record<string, unknown>): boolean {
  switch (test.op) {
    case "and":
      return test.args.every((t) => evaluate(t, values));
    case "or":
      return test.args.some((t) => evaluate(t, values));
    case "not":
      return !evaluate(test.args[0], values);
    case "truthy":
      return Boolean(values[test.args[0]]);
    default: {
      const a = values[test.args[0]];
      const b = values[test.args[1]];
      if (test.op === "eq") return same(a, b);
      if (test.op === "ne") return !same(a, b);
      const [x, y] = comparable(a, b, test.op);
      switch (test.op) {
        case "gt":
          return x > y;
        case "ge":
          return x >= y;
        case "lt":
          return x < y;
        case "le":
          return x <= y;
      }
    }
  }
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return encodeValue(a, true) === encodeValue(b, true);
}

function comparable(
  a: unknown,
  b: unknown,
  op: string,
): [number | bigint | string, number | bigint | string] {
  const numeric = (x: unknown) => typeof x === "number" || typeof x === "bigint";
  if (numeric(a) && numeric(b)) return [a as number, b as number];
  if (typeof a === "string" && typeof b === "string") return [a, b];
  if (a instanceof Date && b instanceof Date) return [a.getTime(), b.getTime()];
  const kind = (x: unknown) =>
    x === null ? "null" : x instanceof Date ? "a date" : Array.isArray(x) ? "a list" : typeof x;
  throw new ValidationError(
    `Cannot compare ${kind(a)} with ${
      kind(b)
    } (${op}): a condition orders numbers, bigints, strings or dates, both of one kind`,
  );
}
