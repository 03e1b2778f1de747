/**
 * Working with entities (tasks, workflows, flows and launch plans): finding
 * the definition behind a callable, binding a call's arguments to inputs,
 * naming entities in messages, and picking an output out of a value.
 *
 * @module
 */

import { ENTITY } from "../core/call_site.ts";
import { ValidationError } from "../core/errors.ts";
import type { EntityBase, EntityDef, SourceLocation, UserEntityDef } from "./defs.ts";

/**
 * The entity behind a task function, workflow, flow or launch plan.
 *
 * @param x Anything.
 * @returns Its definition, or undefined when `x` is not an entity.
 */
export function entityOf(x: unknown): UserEntityDef | undefined {
  if ((typeof x === "function" || typeof x === "object") && x !== null) {
    return (x as { [ENTITY]?: UserEntityDef })[ENTITY];
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
export function requireEntity(x: unknown, where: string): UserEntityDef {
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
export function namedArgs(def: EntityBase, args: readonly unknown[]): Record<string, unknown> {
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
      if (def.kind === "launchPlan" && key in def.fixed) {
        const fixed = def.fixed;
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
export function describeEntity(def: EntityBase): string {
  const kind = def.kind === "launchPlan" ? "launch plan" : def.kind;
  return `${kind} '${def.name}'`;
}

/**
 * Lists an entity's inputs for messages, marking optional ones with `?`.
 *
 * @param def The entity.
 * @returns Such as `x, y?` or `no inputs`.
 */
export function inputList(def: EntityBase): string {
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

/**
 * Picks one output out of a node's whole value.
 *
 * @param def The entity.
 * @param value The whole value.
 * @param output The output name, or undefined for the whole value.
 * @returns The selected value.
 */
export function selectOutput(def: EntityBase, value: unknown, output: string | undefined): unknown {
  if (output === undefined || def.bare) return value;
  return (value as Record<string, unknown> | undefined)?.[output];
}
