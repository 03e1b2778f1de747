/**
 * `workflow(fn)`: a declarative workflow. Its body runs once, when it is
 * defined, with symbolic inputs; each task call records a node. The static
 * graph exists before anything runs.
 *
 * @module
 */

import { describe, REF, withTrace } from "../core/call_site.ts";
import type { DagDocument } from "../core/dag_format.ts";
import { ValidationError, WeftError } from "../core/errors.ts";
import { isPlainObject } from "../core/values.ts";
import type { EntityDef } from "./defs.ts";
import {
  entityForms,
  entityFunction,
  type EntityKind,
  type EntityStart,
  signatureOf,
} from "./factory.ts";
import { GraphModel, NodeRef } from "./graph.ts";
import { Handle, isHandle, slotOf } from "./handle.ts";
import { CONTROL_KEYS, type ControlOptions, controlOptions } from "./control.ts";
import type { TypeSpec } from "./input_types.ts";
import type { WorkflowCallOptions } from "./overrides.ts";
import type { AnyFunction, Inputs } from "./task.ts";
import type { Resolved } from "./yields.ts";

/** Options of {@linkcode workflow}: its name, input types and defaults, and what happens when it fails. */
export interface WorkflowOptions extends ControlOptions {
  /**
   * The workflow name.
   * @default the function's name
   */
  name?: string;
  /**
   * Input types by name: type strings, JSON Schemas or Standard Schema validators.
   * @default every input `unknown`
   */
  inputs?: Record<string, TypeSpec>;
  /**
   * Input defaults by name, for defaults that are not literals in the source.
   * @default the literal defaults of the function's parameters
   */
  defaults?: Record<string, unknown>;
  /**
   * The input names, for functions whose parameters cannot be read from source.
   * @default parsed from the function source
   */
  params?: string[];
}

/** How `workflow` is made: the keys of {@linkcode WorkflowOptions}, and how messages ask for a name. */
const WORKFLOW: EntityKind = {
  kind: "workflow",
  fnText: "a function",
  options: new Set(["name", "inputs", "defaults", "params", ...CONTROL_KEYS]),
  example: 'use a named function (workflow(function main(x) {…})) or pass { name: "main" }',
};

/**
 * A declarative workflow: call it with values (it runs) or, inside another
 * workflow or flow, with handles (it becomes a subworkflow node).
 *
 * @typeParam P The input types.
 * @typeParam R The output type.
 */
export interface DeclarativeWorkflow<P extends readonly unknown[], R> {
  /** Runs the workflow, or adds it as a node. */
  (...args: Inputs<P>): Handle<R>;
  /** The static graph, as a `weft.dag/v1` document. Nothing runs to make it. */
  readonly graph: DagDocument;
  /** The workflow name. */
  readonly name: string;
  /** The same workflow with a node name or a timeout of its own for the calls made through the result. */
  with(options: WorkflowCallOptions): DeclarativeWorkflow<P, R>;
}

/**
 * The decorator form on a static method.
 *
 * @param fn The method.
 * @param context The decorator context.
 * @returns The workflow, in place of the method.
 */
export function workflow<F extends AnyFunction, This = unknown>(
  fn: F,
  context: ClassMethodDecoratorContext<This, F>,
): F;
/**
 * Makes a declarative workflow of a function that wires tasks together.
 *
 * @example The regression seed
 * ```ts
 * import { task, workflow } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
 * const slope = task(function slope(x: number[], y: number[]) {
 *   const mx = mean(x), my = mean(y);
 *   let num = 0, den = 0;
 *   x.forEach((xi, i) => { num += (xi - mx) * (y[i]! - my); den += (xi - mx) ** 2; });
 *   return num / den;
 * });
 * const intercept = task(function intercept(x: number[], y: number[], slope: number) {
 *   return mean(y) - slope * mean(x);
 * });
 * const regression = workflow(function regression(x: number[], y: number[]) {
 *   return intercept(x, y, slope(x, y));
 * });
 * assert.equal(await regression([-3, 0, 3], [7, 4, -2]), 3);
 * assert.equal(regression.graph.workflows[0]!.name, "regression");
 * ```
 *
 * @param fn The body: called once with symbolic inputs. It may call tasks,
 * workflows and flows and return a handle, an object of handles, or nothing.
 * @returns The workflow.
 * @throws {ValidationError} When the body uses a symbolic value as a value (`x > 1`, `x.length`).
 */
export function workflow<F extends AnyFunction>(
  fn: F,
): DeclarativeWorkflow<Parameters<F>, Resolved<ReturnType<F>>>;
/**
 * Makes a declarative workflow, with options.
 *
 * @param options Name, input types, defaults.
 * @param fn The body.
 * @returns The workflow.
 */
export function workflow<F extends AnyFunction>(
  options: WorkflowOptions,
  fn: F,
): DeclarativeWorkflow<Parameters<F>, Resolved<ReturnType<F>>>;
/**
 * The decorator form with options.
 *
 * @param options Name, input types, defaults.
 * @returns A method decorator.
 */
export function workflow(
  options: WorkflowOptions,
): <F extends AnyFunction>(fn: F, context: ClassMethodDecoratorContext) => F;
export function workflow(a: unknown, b?: unknown): unknown {
  return entityForms(WORKFLOW, a, b, makeWorkflow);
}

function makeWorkflow(options: WorkflowOptions, fn: AnyFunction, start: EntityStart): unknown {
  const kind = Object.getPrototypeOf(fn)?.constructor?.name;
  if (kind !== "Function") {
    throw new ValidationError(
      `The body of ${start.what} is ${
        kind === "AsyncFunction" ? "async" : "a generator"
      }; a declarative workflow body is traced once and cannot await. Write a plain function that wires tasks together, or use flow(async function* …) to wait for values`,
    );
  }
  const graph = trace(options, fn, start);
  const call = entityFunction(graph);
  let dag: DagDocument | undefined;
  Object.defineProperty(call, "graph", {
    get: () => dag ??= describe([graph]) as DagDocument,
    enumerable: true,
  });
  return call;
}

function trace(options: WorkflowOptions, fn: AnyFunction, start: EntityStart): GraphModel {
  const { name, what, source } = start;
  const sig = signatureOf(options.params, fn, what);
  const graph = new GraphModel(name, source);
  graph.declarative = true;
  graph.control = controlOptions(options, what, "finish-running");
  graph.callStyle = sig.style;
  const known = new Set(sig.params.map((p) => p.name));
  for (
    const key of [...Object.keys(options.inputs ?? {}), ...Object.keys(options.defaults ?? {})]
  ) {
    if (!known.has(key)) {
      throw new ValidationError(
        `The options of ${what} name input '${key}', but its inputs are ${
          [...known].join(", ") || "none"
        }`,
      );
    }
  }
  const refs: Record<string, Handle<unknown>> = {};
  for (const p of sig.params) {
    const inputOptions: { default?: unknown; optional?: boolean } = {};
    if (options.defaults !== undefined && p.name in options.defaults) {
      inputOptions.default = options.defaults[p.name];
    } else if ("default" in p) inputOptions.default = p.default;
    else if (p.defaultSource !== undefined) {
      throw new ValidationError(
        `The default of input '${p.name}' of ${what} (${p.defaultSource}) is not a literal, so it cannot be known before the workflow runs; give it with workflow({ defaults: { ${p.name}: … } }, fn) or use a literal`,
      );
    } else if (p.optional) inputOptions.optional = true;
    refs[p.name] = tracing(graph.addInput(p.name, options.inputs?.[p.name], inputOptions), name);
  }
  const tracer = {
    call(def: unknown, inputs: unknown): unknown {
      return tracing(graph.addNode(def as EntityDef, inputs as Record<string, unknown>), name);
    },
  };
  let result: unknown;
  try {
    result = withTrace(
      tracer,
      () => sig.style === "object" ? fn(refs) : fn(...sig.params.map((p) => refs[p.name])),
    );
  } catch (e) {
    if (e instanceof WeftError) throw e;
    throw new ValidationError(
      `Tracing ${what} failed: ${
        (e as Error)?.message ?? e
      }. A workflow body runs once, when it is defined, with symbolic inputs: it may only call tasks, workflows and flows and pass their handles on. Use flow() for logic on values`,
      { cause: e },
    );
  }
  if (result instanceof Promise) {
    throw new ValidationError(
      `The body of ${what} returned a promise; a workflow body cannot await. Use flow() instead`,
    );
  }
  if (result !== undefined) {
    if (isHandle(result)) {
      const { source: src, output } = slotOf(result);
      if (src instanceof NodeRef && output === undefined && !src.node.def.bare) {
        // Returning a node with several outputs forwards each of them.
        for (const o of src.node.def.outputs) graph.addOutput(o, new Handle(src, o));
      } else graph.addOutput("o0", result);
    } else if (isPlainObject(result)) {
      for (const key of Object.keys(result)) graph.addOutput(key, result[key]);
    } else graph.addOutput("o0", result);
  }
  graph.seal();
  return graph;
}

/** Wraps a symbolic handle so that using it as a value fails with advice. */
function tracing<T>(handle: Handle<T>, workflow: string): Handle<T> {
  const misuse = (what: string) =>
    new ValidationError(
      `Cannot use ${
        slotOf(handle).source.describe()
      } as a value (${what}) while tracing workflow '${workflow}': nothing has run yet, so its value is unknown. A workflow body only wires tasks together; branch, loop and compute on values in a task, or use flow() for control flow`,
    );
  return new Proxy(handle, {
    get(target, key) {
      if (key === REF) return target[REF];
      if (key === Symbol.toPrimitive) {
        return () => {
          throw misuse("comparing, adding or printing it");
        };
      }
      if (typeof key === "symbol") return Reflect.get(target, key);
      if (key === "outputs") {
        const outputs = target.outputs as unknown as Record<string, Handle<unknown>>;
        return new Proxy(outputs, {
          get: (o, k) => typeof k === "string" ? tracing(o[k]!, workflow) : Reflect.get(o, k),
        });
      }
      if (key === "constructor") return Handle;
      if (key === "then") throw misuse("awaiting it");
      throw misuse(`reading .${key}`);
    },
    set(_target, key) {
      throw misuse(`setting .${String(key)}`);
    },
    has(_target, key) {
      if (typeof key === "symbol") return key === REF;
      throw misuse(`checking '${key}' in it`);
    },
  });
}
