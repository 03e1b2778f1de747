/**
 * Conditionals in static graphs (Flyte's `conditional(…).if_(…).then(…)`):
 * `ifElse(condition, thenFn, elseFn?)` in declarative workflows and the
 * builder, with conditions built from `eq`, `ne`, `gt`, `ge`, `lt`, `le`,
 * `and`, `or` and `not` over workflow inputs, node outputs and constants.
 * Both branches are in the graph (and the IR) before anything runs; when it
 * runs, the branch the test chooses runs and the other is recorded as
 * skipped.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { checkValue, isPlainObject } from "../core/values.ts";
import type { Binding, ConditionDef, GraphNode, Test } from "./defs.ts";
import { callerLocation } from "./entity.ts";
import { GraphModel, InputRef, NodeRef } from "./graph.ts";
import { type Handle, isHandle, slotOf } from "./handle.ts";
import type { Resolved } from "./yields.ts";

/** The conditions made by this process's copies of weft (shared, as call sites are). */
const made: WeakSet<object> = ((globalThis as unknown as Record<symbol, WeakSet<object>>)[
  Symbol.for("weft.conditions.v1")
] ??= new WeakSet<object>());

/** The comparisons a condition can make. */
export type Comparison = "eq" | "ne" | "gt" | "ge" | "lt" | "le";

/**
 * A condition for {@linkcode ifElse}: made by `eq`, `ne`, `gt`, `ge`, `lt`,
 * `le`, `and`, `or` and `not`. It describes a test; it is not a boolean (in
 * a workflow body nothing has a value yet).
 */
export interface Condition {
  /** The operation. */
  readonly op: Comparison | "and" | "or" | "not";
  /** Its operands (handles or constants), or the conditions it combines. */
  readonly args: readonly unknown[];
}

/** An operand of a comparison: a workflow input, a node output, or a constant. */
export type Operand<T = unknown> = T | Handle<T>;

function condition(op: Condition["op"], args: unknown[]): Condition {
  const c: Condition = Object.freeze({ op, args: Object.freeze(args) });
  made.add(c);
  return c;
}

function isCondition(x: unknown): x is Condition {
  return typeof x === "object" && x !== null && made.has(x);
}

/**
 * A comparison of two operands, each a workflow input, a node output or a
 * constant: `eq(a, b)`, `gt(a, b)`…
 *
 * @typeParam T The operands' type.
 */
export type Compare = <T>(a: Operand<T>, b: Operand<T>) => Condition;

function comparison(op: Comparison): Compare {
  return (a, b) => condition(op, [a, b]);
}

/** `a` equals `b` (deep equality for lists and objects). */
export const eq: Compare = comparison("eq");
/** `a` differs from `b`. */
export const ne: Compare = comparison("ne");
/** `a > b` (numbers, bigints, strings or dates, both of one kind). */
export const gt: Compare = comparison("gt");
/** `a >= b`. */
export const ge: Compare = comparison("ge");
/** `a < b`. */
export const lt: Compare = comparison("lt");
/** `a <= b`. */
export const le: Compare = comparison("le");

/**
 * Every condition holds.
 *
 * @param conditions Two or more conditions (or handles, tested for truthiness).
 * @returns The condition.
 */
export function and(...conditions: (Condition | Handle<unknown>)[]): Condition {
  return combine("and", conditions);
}

/**
 * At least one condition holds.
 *
 * @param conditions Two or more conditions (or handles, tested for truthiness).
 * @returns The condition.
 */
export function or(...conditions: (Condition | Handle<unknown>)[]): Condition {
  return combine("or", conditions);
}

/**
 * The condition does not hold.
 *
 * @param c A condition (or a handle, tested for truthiness).
 * @returns The condition.
 */
export function not(c: Condition | Handle<unknown>): Condition {
  return combine("not", [c]);
}

function combine(op: "and" | "or" | "not", conditions: unknown[]): Condition {
  if (op !== "not" && conditions.length === 0) {
    throw new ValidationError(
      `${op}() needs at least one condition, such as ${op}(gt(x, 0), lt(x, 10))`,
    );
  }
  for (const c of conditions) {
    if (!isCondition(c) && !isHandle(c)) {
      throw new ValidationError(
        `${op}() combines conditions (eq, gt, …) or handles, but was given ${
          c === null ? "null" : typeof c
        }; compare a value first, such as ${op}(eq(x, 1), …)`,
      );
    }
  }
  return condition(op, conditions);
}

/** Options of {@linkcode ifElse}. */
export interface IfElseOptions {
  /**
   * The condition node's name (its id).
   * @default "ifElse"
   */
  name?: string;
}

/**
 * A conditional in a declarative workflow or a builder workflow. Both
 * branches are traced (or built) now, so the graph holds them before
 * anything runs; when the workflow runs, the branch the condition chooses
 * runs and the other is recorded as skipped. In a flow, write `if` on
 * `yield* wait(…)` instead.
 *
 * A branch function calls tasks (or `wf.addEntity`) and returns what the
 * conditional gives: a handle, a constant, or an array or object of these
 * (when both branches return objects with the same keys, those are the
 * conditional's named outputs). Nodes made in a branch can be used only in
 * it; outside, use the conditional's result.
 *
 * @example Flyte's fractions conditional
 * ```ts
 * import { and, ge, ifElse, le, task, workflow } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const double = task(function double(n: number) { return n * 2; });
 * const square = task(function square(n: number) { return n * n; });
 * const multiplier = workflow(function multiplier(myInput: number) {
 *   return ifElse(
 *     and(ge(myInput, 0.1), le(myInput, 1.0)),
 *     () => double(myInput),
 *     () => square(myInput),
 *   );
 * });
 * assert.equal(await multiplier(0.5), 1);
 * assert.equal(await multiplier(2), 4);
 * ```
 *
 * @param test A condition (`gt(x, 0)`, `and(…)`), or a handle tested for truthiness.
 * @param thenFn Builds the branch that runs when it holds.
 * @param elseFn Builds the branch that runs otherwise; without it the conditional gives `undefined` then.
 * @param options The node's name.
 * @returns The handle of the conditional's result.
 * @throws {ValidationError} When the condition refers to nothing of a workflow, or mixes workflows, or is used in a flow.
 */
export function ifElse<T>(
  test: Condition | Handle<unknown>,
  thenFn: () => T,
): Handle<Resolved<T> | undefined>;
/**
 * A conditional with both branches (see above). A branch that gives nothing
 * (one that fails the workflow) adds nothing to the result's type.
 *
 * @param test A condition, or a handle tested for truthiness.
 * @param thenFn Builds the branch that runs when it holds.
 * @param elseFn Builds the branch that runs otherwise.
 * @param options The node's name.
 * @returns The handle of the conditional's result.
 */
export function ifElse<T, E>(
  test: Condition | Handle<unknown>,
  thenFn: () => T,
  elseFn: () => E,
  options?: IfElseOptions,
): Handle<Exclude<Resolved<T> | Resolved<E>, void> | (T | E extends void ? undefined : never)>;
export function ifElse(
  test: Condition | Handle<unknown>,
  thenFn: () => unknown,
  elseFn?: () => unknown,
  options: IfElseOptions = {},
): Handle<unknown> {
  if (!isCondition(test) && !isHandle(test)) {
    throw new ValidationError(
      `ifElse(condition, then, else) takes a condition made by eq, ne, gt, ge, lt, le, and, or or not (or a handle tested for truthiness), but was given ${
        test === null ? "null" : typeof test
      }`,
    );
  }
  if (typeof thenFn !== "function" || (elseFn !== undefined && typeof elseFn !== "function")) {
    throw new ValidationError(
      "ifElse(condition, then, else) takes its branches as functions, such as () => double(x), so that each can be traced",
    );
  }
  const name = options.name ?? "ifElse";
  const graph = graphOf(test, name);
  const operands: Record<string, unknown> = {};
  const tree = toTest(test, operands);
  return addCondition(graph, { test: tree, operands, then: thenFn, else: elseFn, name });
}

/** What {@linkcode addCondition} adds. */
export interface ConditionSpec {
  /** The test, over the operands' names. */
  test: Test;
  /** The operands: handles of the graph, or constants. */
  operands: Record<string, unknown>;
  /** Builds the branch that runs when the test holds; returns its result. */
  then: () => unknown;
  /** Builds the other branch, if there is one. */
  else: (() => unknown) | undefined;
  /** The node's name. */
  name: string;
  /** The node's id, when it is given (a document loaded back keeps its ids). */
  id?: string;
}

/**
 * Adds a condition node to a graph: builds both branches, then the node.
 *
 * @param graph The graph.
 * @param spec The test, operands, branches and name.
 * @returns The handle of the condition's result.
 */
export function addCondition(graph: GraphModel, spec: ConditionSpec): Handle<unknown> {
  const { name, operands } = spec;
  const id = spec.id ?? graph.reserveId(name);
  const tree = spec.test;
  const thenFn = spec.then;
  const elseFn = spec.else;
  const label = (branch: string) => `the ${branch} branch of ifElse '${name}'`;
  const then = buildBranch(graph, label("then"), thenFn);
  const otherwise = elseFn === undefined
    ? { nodes: [] as GraphNode[], result: undefined, binding: undefined }
    : buildBranch(graph, label("else"), elseFn);
  const outputs = outputNames(then.result, otherwise.result);
  const def: ConditionDef = {
    kind: "condition",
    name,
    params: Object.keys(operands).map((p) => ({ name: p, optional: false })),
    outputs,
    bare: outputs.length === 1 && outputs[0] === "o0",
    callStyle: "object",
    source: callerLocation(),
    test: tree,
    then: { nodes: then.nodes, outputBindings: split(then.binding, outputs) },
    else: { nodes: otherwise.nodes, outputBindings: split(otherwise.binding, outputs) },
  };
  return graph.addNode(def, operands, id);
}

/**
 * Runs a branch function with its nodes going to a branch of the graph, and
 * binds what it returns there (it may use the branch's nodes).
 */
function buildBranch(
  graph: GraphModel,
  label: string,
  fn: () => unknown,
): { nodes: GraphNode[]; result: unknown; binding: Binding | undefined } {
  const nodes = graph.beginBranch(label);
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new ValidationError(`${label} returned a promise; a branch only wires tasks together`);
    }
    const binding = result === undefined
      ? undefined
      : graph.toBinding(result, `the result of ${label}`);
    return { nodes, result, binding };
  } finally {
    graph.endBranch();
  }
}

/** The conditional's outputs: the keys both branches return as objects, else one, `o0`. */
function outputNames(a: unknown, b: unknown): string[] {
  const keys = (x: unknown) =>
    isPlainObject(x) && !isHandle(x) ? Object.keys(x).sort().join("\u0000") : undefined;
  const ka = keys(a);
  if (ka !== undefined && ka !== "" && (b === undefined || keys(b) === ka)) {
    return Object.keys(a as Record<string, unknown>).sort();
  }
  return ["o0"];
}

/** A branch's result as the conditional's outputs: whole as `o0`, or split by key. */
function split(binding: Binding | undefined, outputs: readonly string[]): Map<string, Binding> {
  const out = new Map<string, Binding>();
  if (binding === undefined) return out;
  if (outputs.length === 1 && outputs[0] === "o0") {
    out.set("o0", binding);
    return out;
  }
  for (const o of outputs) {
    if ("object" in binding) out.set(o, binding.object[o]!);
    else if ("value" in binding) {
      out.set(o, { value: (binding.value as Record<string, unknown>)[o] });
    }
  }
  return out;
}

/** The graph the condition's handles belong to. */
function graphOf(test: unknown, name: string): GraphModel {
  let graph: GraphModel | undefined;
  const visit = (x: unknown): void => {
    if (isCondition(x)) return x.args.forEach(visit);
    if (!isHandle(x)) return;
    const source = slotOf(x).source;
    // (The references of a graph's nodes and inputs belong to a GraphModel.)
    const g = source instanceof NodeRef || source instanceof InputRef
      ? source.graph as GraphModel
      : undefined;
    if (g === undefined) {
      throw new ValidationError(
        `ifElse '${name}' was given ${source.describe()}: ifElse builds a conditional in a declarative workflow or a builder; in a flow, branch with if on a value (if ((yield* wait(h)) > 0) …)`,
      );
    }
    if (graph !== undefined && g !== graph) {
      throw new ValidationError(
        `ifElse '${name}' compares values of two workflows ('${graph.name}' and '${g.name}'); a condition uses one workflow's inputs and nodes`,
      );
    }
    graph = g;
  };
  visit(test);
  if (graph === undefined) {
    throw new ValidationError(
      `The condition of ifElse '${name}' uses only constants, so it is decided already; compare a workflow input or a node output, or write the branch you mean directly`,
    );
  }
  return graph;
}

/** The test as the node keeps it, its operands named `c0`, `c1`, … in `operands`. */
function toTest(x: unknown, operands: Record<string, unknown>): Test {
  const operand = (v: unknown): string => {
    if (!isHandle(v)) checkValue(v, () => "a constant of a condition");
    const name = `c${Object.keys(operands).length}`;
    operands[name] = v;
    return name;
  };
  if (!isCondition(x)) return { op: "truthy", args: [operand(x)] };
  switch (x.op) {
    case "and":
    case "or":
      return { op: x.op, args: x.args.map((c) => toTest(c, operands)) };
    case "not":
      return { op: "not", args: [toTest(x.args[0], operands)] };
    default:
      return { op: x.op, args: [operand(x.args[0]), operand(x.args[1])] };
  }
}
