/**
 * What tasks, workflows, flows and launch plans have in common: an entity
 * has a name, inputs and outputs, and can be a node of a graph.
 *
 * @module
 */

import { ENTITY } from "../core/call_site.ts";
import { ValidationError } from "../core/errors.ts";
import type { Param } from "./params.ts";

/** The four kinds of entity. */
export type EntityKind = "task" | "workflow" | "flow" | "launchPlan";

/** Where an entity was defined. */
export interface SourceLocation {
  /** The module URL or path. */
  file: string;
  /** The 1-based line. */
  line: number;
}

/** The internal description of an entity, shared by the builder, tracer and engine. */
export interface EntityDef {
  /** Which kind of entity this is. */
  readonly kind: EntityKind;
  /** The name: node ids, cache keys and the IR use it. */
  readonly name: string;
  /** The inputs, in positional order. */
  readonly params: readonly Param[];
  /** The output names. */
  readonly outputs: readonly string[];
  /**
   * Whether a node's whole value is its single output (a task without named
   * outputs, a workflow with one output); else the whole value is an object
   * keyed by output name.
   */
  readonly bare: boolean;
  /** How a direct call passes inputs: as arguments, or as one object. */
  readonly callStyle: "positional" | "object";
  /** Where the entity was defined, when known. */
  readonly source: SourceLocation | undefined;
}

/**
 * The entity behind a task function, workflow, flow or launch plan.
 *
 * @param x Anything.
 * @returns Its definition, or undefined when `x` is not an entity.
 */
export function entityOf(x: unknown): EntityDef | undefined {
  if ((typeof x === "function" || typeof x === "object") && x !== null) {
    return (x as { [ENTITY]?: EntityDef })[ENTITY];
  }
  return undefined;
}

/**
 * Like {@linkcode entityOf}, but throws for anything else.
 *
 * @param x The value given where an entity is expected.
 * @param where Names the place in the message.
 * @returns The definition.
 * @throws {ValidationError} When `x` is not an entity.
 */
export function requireEntity(x: unknown, where: string): EntityDef {
  const def = entityOf(x);
  if (def === undefined) {
    const shown = typeof x === "function"
      ? `the plain function ${x.name || "(anonymous)"}`
      : typeof x;
    throw new ValidationError(
      `${where} expects a task, workflow, Workflow, flow or launch plan, but got ${shown}; wrap a function with task() first`,
    );
  }
  return def;
}

/**
 * Maps the arguments of a direct call to named inputs.
 *
 * @param def The entity called.
 * @param args The call's arguments.
 * @returns The inputs by name (unbound optional inputs are absent).
 * @throws {ValidationError} On too many arguments or a non-object inputs argument.
 */
export function namedArgs(def: EntityDef, args: readonly unknown[]): Record<string, unknown> {
  if (def.callStyle === "object") {
    if (args.length > 1) {
      throw new ValidationError(
        `${describeEntity(def)} takes one inputs object (${
          inputList(def)
        }) but was called with ${args.length} arguments`,
      );
    }
    const inputs = args[0] ?? {};
    if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) {
      throw new ValidationError(
        `${describeEntity(def)} takes one inputs object (${
          inputList(def)
        }) but was called with ${typeof inputs}`,
      );
    }
    return inputs as Record<string, unknown>;
  }
  const params = def.params;
  if (args.length > params.length) {
    throw new ValidationError(
      `${describeEntity(def)} takes ${params.length} input${params.length === 1 ? "" : "s"} (${
        inputList(def)
      }) but was called with ${args.length} arguments`,
    );
  }
  const out: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== undefined || !params[i]!.optional) out[params[i]!.name] = args[i];
  }
  return out;
}

/**
 * Checks that named inputs fit an entity: no unknown names, no missing
 * required ones.
 *
 * @param def The entity.
 * @param inputs The inputs by name.
 * @param where Names the call site in messages (such as `node 'add_2'`).
 * @throws {ValidationError} Naming the unknown or missing input.
 */
export function checkInputNames(
  def: EntityDef,
  inputs: Record<string, unknown>,
  where: string,
): void {
  const params = def.params;
  for (const key in inputs) {
    let known = false;
    for (let i = 0; i < params.length; i++) {
      if (params[i]!.name === key) {
        known = true;
        break;
      }
    }
    if (!known) {
      const fixed = (def as { fixed?: Record<string, unknown> }).fixed;
      if (def.kind === "launchPlan" && fixed !== undefined && key in fixed) {
        throw new ValidationError(
          `${where}: input '${key}' of launch plan '${def.name}' is fixed to ${
            JSON.stringify(fixed[key])
          } and cannot be overridden; leave it out, or make another launch plan`,
        );
      }
      throw new ValidationError(
        `${where}: ${describeEntity(def)} has no input '${key}'; its inputs are ${inputList(def)}`,
      );
    }
  }
  for (let i = 0; i < params.length; i++) {
    const p = params[i]!;
    if (!p.optional && !(p.name in inputs)) {
      throw new ValidationError(
        `${where}: missing input '${p.name}' of ${describeEntity(def)}; its inputs are ${
          inputList(def)
        }`,
      );
    }
  }
}

/**
 * Names an entity in messages: `task 'add'`, `workflow 'regression'`…
 *
 * @param def The entity.
 * @returns Its kind and name.
 */
export function describeEntity(def: EntityDef): string {
  const kind = def.kind === "launchPlan" ? "launch plan" : def.kind;
  return `${kind} '${def.name}'`;
}

/**
 * Lists an entity's inputs for messages, marking optional ones with `?`.
 *
 * @param def The entity.
 * @returns Such as `x, y?` or `no inputs`.
 */
export function inputList(def: EntityDef): string {
  return def.params.length === 0
    ? "none"
    : def.params.map((p) => `${p.name}${p.optional ? "?" : ""}`).join(", ");
}

const OWN_FILES = /^(?:src\/(?:[a-z_]+\/)*[a-z_]+|mod)\.ts$/;

/**
 * Where the caller of a weft definition function is: the first stack frame
 * outside weft's own files.
 *
 * @returns The module and line, or undefined.
 */
export function callerLocation(): SourceLocation | undefined {
  const stack = new Error().stack?.split("\n") ?? [];
  const weftRoot = new URL("../../", import.meta.url).href;
  for (const line of stack.slice(1)) {
    const m = /\(?((?:file|https?|data|blob):[^\s)]+?|\/[^\s)]+?):(\d+):\d+\)?\s*$/.exec(line);
    if (!m) continue;
    const file = m[1]!;
    if (file.startsWith(weftRoot) && OWN_FILES.test(file.slice(weftRoot.length))) continue;
    return { file, line: Number(m[2]) };
  }
  return undefined;
}
