/**
 * `flow(async function* …)`: imperative flows whose graph grows while plain
 * TypeScript runs. Each call of a task, workflow or flow inside the body is
 * scheduled at once and returns a handle; each `yield` marks an await point.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { FlowDef } from "./defs.ts";
import { requireEntity } from "./entity.ts";
import {
  callShape,
  entityForms,
  entityFunction,
  type EntityKind,
  type EntityStart,
} from "./factory.ts";
import { CONTROL_KEYS, type ControlOptions, controlOptions } from "./control.ts";
import type { Handle } from "./handle.ts";
import type { WorkflowCallOptions } from "./overrides.ts";
import type { Inputs } from "./task.ts";
import type { Resolved } from "./yields.ts";

/** Options of {@linkcode flow}: its name and signature, what it calls, and what happens when it fails. */
export interface FlowOptions extends ControlOptions {
  /**
   * The flow name, used in node ids and the IR.
   * @default the generator function's name
   */
  name?: string;
  /**
   * The input names, for functions whose parameters cannot be read from source.
   * @default parsed from the function source
   */
  params?: string[];
  /**
   * Names of the keys of the returned object, so that a builder can check
   * `addEntity(flow).outputs.NAME` before anything runs.
   * @default one output, `o0`, the whole return value
   */
  outputs?: string[];
  /**
   * The tasks (and workflows, flows) the flow may call: `weft compile` lists
   * them and `weft run` grants exactly their permissions.
   * @default every task of the flow's module
   */
  tasks?: unknown[];
}

/** How `flow` is made: the keys of {@linkcode FlowOptions}, and how messages ask for a name. */
const FLOW: EntityKind = {
  kind: "flow",
  fnText: "an async generator function",
  options: new Set(["name", "params", "outputs", "tasks", ...CONTROL_KEYS]),
  example: 'use a named generator (flow(async function* main(x) {…})) or pass { name: "main" }',
};

/**
 * A flow: call it like a task. Inside a workflow or flow the call becomes a
 * node; elsewhere it runs and the handle resolves to its result.
 *
 * @typeParam P The input types.
 * @typeParam R The resolved result type.
 */
export interface Flow<P extends readonly unknown[], R> {
  /** Calls the flow. */
  (...args: Inputs<P>): Handle<R>;
  /** The flow name. */
  readonly name: string;
  /**
   * The same flow with a node name or a timeout of its own for the calls
   * made through the result: `child.with({ name: "eu", timeout: "5m" })(x)`.
   */
  with(options: WorkflowCallOptions): Flow<P, R>;
}

/** Any async generator function: what `flow` accepts. */
// deno-lint-ignore no-explicit-any
export type AnyGeneratorFunction = (...args: any[]) => AsyncGenerator<unknown, unknown, any>;

/** The resolved return type of a flow's generator function. */
// deno-lint-ignore no-explicit-any
export type FlowResult<F extends (...args: any[]) => AsyncGenerator<unknown, unknown, any>> =
  ReturnType<F> extends AsyncGenerator<unknown, infer R, unknown> ? Resolved<R>
    : never;

/**
 * The decorator form on a static async generator method.
 *
 * @param fn The method.
 * @param context The decorator context.
 * @returns The flow, in place of the method.
 */
export function flow<F extends AnyGeneratorFunction, This = unknown>(
  fn: F,
  context: ClassMethodDecoratorContext<This, F>,
): F;
/**
 * Makes a flow of an async generator function.
 *
 * @example The seed flow: double until at least 10
 * ```ts
 * import { flow, task, wait } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const add = task(function add(x: number, y: number) { return x + y; });
 * const multiply = task(function multiply(x: number, y: number) { return x * y; });
 * const keepDoubling = flow(async function* keepDoubling(x: number, y: number) {
 *   let out = add(x, y);
 *   while ((yield* wait(out)) < 10) out = multiply(add(out, 1), 2);
 *   return { sum: out };
 * });
 * assert.deepEqual(await keepDoubling(3, 4), { sum: 16 });
 * ```
 *
 * @param fn The generator function: its parameters are the inputs.
 * @returns The flow.
 */
export function flow<F extends AnyGeneratorFunction>(fn: F): Flow<Parameters<F>, FlowResult<F>>;
/**
 * Makes a flow with options.
 *
 * @param options Name, outputs, the tasks it calls.
 * @param fn The generator function.
 * @returns The flow.
 */
export function flow<F extends AnyGeneratorFunction>(
  options: FlowOptions,
  fn: F,
): Flow<Parameters<F>, FlowResult<F>>;
/**
 * The decorator form with options.
 *
 * @param options Name, outputs, the tasks it calls.
 * @returns A method decorator.
 */
export function flow(
  options: FlowOptions,
): <F extends AnyGeneratorFunction>(fn: F, context: ClassMethodDecoratorContext) => F;
export function flow(a: unknown, b?: unknown): unknown {
  return entityForms(FLOW, a, b, makeFlow);
}

function makeFlow(options: FlowOptions, fn: AnyGeneratorFunction, start: EntityStart): unknown {
  const kind = Object.getPrototypeOf(fn)?.constructor?.name;
  if (kind !== "AsyncGeneratorFunction") {
    throw new ValidationError(
      `${start.what} must be an async generator function: write flow(async function* ${start.name}(…) { … }) and mark await points with yield`,
    );
  }
  const shape = callShape(options, fn, start);
  const tasks = options.tasks?.map((t, i) =>
    requireEntity(t, `The 'tasks' option of ${start.what} (item ${i + 1})`)
  );
  const def: FlowDef = {
    kind: "flow",
    name: start.name,
    ...shape,
    fn,
    tasks,
    control: controlOptions(options, start.what, "fail-fast"),
  };
  return entityFunction(def);
}
