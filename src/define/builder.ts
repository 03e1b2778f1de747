/**
 * `new Workflow(name)`: a workflow built by code, as Flyte's
 * `ImperativeWorkflow` is: add inputs, entities and outputs, then execute it
 * or call it.
 *
 * @module
 */

import { describe, directSite, ENTITY } from "../core/call_site.ts";
import type { DagDocument } from "../core/dag_format.ts";
import { ValidationError } from "../core/errors.ts";
import { isPlainObject } from "../core/values.ts";
import { callerLocation, namedArgs, requireEntity } from "./entity.ts";
import { entityFunction } from "./factory.ts";
import { GraphModel } from "./graph.ts";
import { CONTROL_KEYS, type ControlOptions, controlOptions } from "./control.ts";
import type { Handle } from "./handle.ts";
import { after } from "./ordering.ts";
import type { TypeSpec } from "./input_types.ts";
import type { WorkflowCallOptions } from "./overrides.ts";

function graphOf(wf: Workflow): GraphModel {
  return (wf as unknown as Record<symbol, GraphModel>)[ENTITY]!;
}

/**
 * The model behind a builder workflow, for the IR reader (which adds nodes
 * with the ids a document gives them).
 *
 * @param wf The workflow.
 * @returns Its graph model.
 */
export function builderModel(wf: Workflow): GraphModel {
  return graphOf(wf);
}

/** The inputs of a builder workflow, as references: `wf.inputs.x`. */
export type WorkflowInputs = { readonly [name: string]: Handle<unknown> };

/** Options of {@linkcode Workflow.addEntity}. */
export interface AddEntityOptions {
  /**
   * Nodes the new node starts after, though it takes no value from them
   * (Flyte's `runs_before`, Argo's `dependencies`).
   * @default []
   */
  after?: readonly Handle<unknown>[];
}

/** Options of {@linkcode Workflow.addInput}. */
export interface AddInputOptions {
  /** A default value, which makes the input optional. */
  default?: unknown;
}

/**
 * A workflow built by code: add inputs, entities and outputs, then execute it
 * or call it. Like Flyte's `ImperativeWorkflow`.
 *
 * @example Build and run the regression seed
 * ```ts
 * import { task, Workflow } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const slope = task(function slope(x: number[], y: number[]) {
 *   const n = x.length, mx = x.reduce((a, b) => a + b) / n, my = y.reduce((a, b) => a + b) / n;
 *   let num = 0, den = 0;
 *   for (let i = 0; i < n; i++) { num += (x[i]! - mx) * (y[i]! - my); den += (x[i]! - mx) ** 2; }
 *   return num / den;
 * });
 * const intercept = task(function intercept(x: number[], y: number[], slope: number) {
 *   const n = x.length;
 *   return y.reduce((a, b) => a + b) / n - slope * x.reduce((a, b) => a + b) / n;
 * });
 *
 * const wf = new Workflow("imperative_workflow");
 * const x = wf.addInput("x", "number[]");
 * wf.addInput("y", "number[]");
 * const n1 = wf.addEntity(slope, { x, y: wf.inputs.y });
 * const n2 = wf.addEntity(intercept, { x, y: wf.inputs.y, slope: n1.outputs.o0 });
 * wf.addOutput("wf_output", n2.outputs.o0);
 * assert.equal(await wf.execute({ x: [-3, 0, 3], y: [7, 4, -2] }), 3);
 * ```
 */
export class Workflow extends Function {
  /**
   * Creates an empty workflow.
   *
   * @param name The workflow name, used in node ids and the IR.
   * @param options What runs when it fails (`onFailure`), how failures end it, its whole timeout.
   */
  constructor(name: string, options: ControlOptions = {}) {
    super();
    if (typeof name !== "string" || name === "") {
      throw new ValidationError('A Workflow needs a name: new Workflow("my_workflow")');
    }
    const def = new GraphModel(name, callerLocation());
    if (!isPlainObject(options) || Object.keys(options).some((k) => !CONTROL_KEYS.includes(k))) {
      throw new ValidationError(
        `new Workflow(name, options) takes options ${CONTROL_KEYS.join(", ")}`,
      );
    }
    def.control = controlOptions(options, `workflow '${name}'`, "finish-running");
    // The instance is the function itself, so that `wf(inputs)` works.
    const call = entityFunction(def, new.target.prototype);
    return call as unknown as Workflow;
  }

  /**
   * The workflow inputs, by name: `wf.inputs.x` is the same reference
   * `addInput("x")` returned. An unknown name throws a `ValidationError`.
   */
  get inputs(): WorkflowInputs {
    const def = graphOf(this);
    return new Proxy({}, {
      get: (_t, key) => typeof key === "string" ? def.inputRef(key) : undefined,
      has: (_t, key) => typeof key === "string" && def.inputs.has(key),
      ownKeys: () => [...def.inputs.keys()],
      getOwnPropertyDescriptor: (_t, key) =>
        typeof key === "string" && def.inputs.has(key)
          ? { enumerable: true, configurable: true, value: def.inputRef(key) }
          : undefined,
    });
  }

  /**
   * Adds an input.
   *
   * @param name The input name.
   * @param type A type string (`"number[]"`), a JSON Schema, or a Standard Schema validator.
   * @param options A default, which makes the input optional.
   * @returns The reference to the input, the same as `inputs[name]`.
   */
  addInput(name: string, type?: TypeSpec, options?: AddInputOptions): Handle<unknown> {
    return graphOf(this).addInput(name, type, options ?? {});
  }

  /**
   * Adds a node that calls a task, workflow, `Workflow`, flow or launch plan.
   *
   * @param entity What the node calls.
   * @param bindings Its inputs by name: workflow inputs, node outputs, constants, or arrays and objects of these.
   * @param options `after`: nodes this one starts after, though it takes nothing from them.
   * @returns A handle to the node's value; `.outputs.NAME` references one output. Its type is `any`:
   * a builder cannot know what the entity returns (names are checked when the workflow is built).
   */
  addEntity(
    entity: unknown,
    bindings: Record<string, unknown> = {},
    options: AddEntityOptions = {},
    // deno-lint-ignore no-explicit-any
  ): Handle<any> {
    const def = requireEntity(entity, "addEntity(entity, bindings)");
    if (!isPlainObject(bindings)) {
      throw new ValidationError(
        `addEntity(${def.name}, bindings) takes its bindings as an object keyed by input name, such as { x: wf.inputs.x }`,
      );
    }
    if (!isPlainObject(options) || Object.keys(options).some((k) => k !== "after")) {
      throw new ValidationError(
        `addEntity(${def.name}, bindings, options) takes options { after: [node, …] }`,
      );
    }
    const node = graphOf(this).addNode(def, bindings);
    if (options.after !== undefined) {
      after(node, ...(Array.isArray(options.after) ? options.after : [options.after]));
    }
    return node;
  }

  /**
   * Adds an output.
   *
   * @param name The output name.
   * @param value A node output, workflow input, constant, or an array or object of these.
   */
  addOutput(name: string, value: unknown): void {
    graphOf(this).addOutput(name, value);
  }

  /**
   * Runs the workflow and resolves to its outputs: nothing when it has none,
   * the value when it has one, an object by output name when it has several.
   *
   * @param inputs The inputs by name.
   * @returns The outputs.
   * @throws {ValidationError} On missing, unknown or ill-typed inputs.
   * @throws {TaskFailedError} When a node fails.
   */
  async execute(inputs: Record<string, unknown> = {}): Promise<unknown> {
    const def = graphOf(this);
    return await (directSite().call(def, namedArgs(def, [inputs])) as PromiseLike<unknown>);
  }

  /** The number of nodes. */
  get size(): number {
    return graphOf(this).nodes.length;
  }

  /** The graph as a `weft.dag/v1` document, with every entity it uses. */
  get graph(): DagDocument {
    return describe([graphOf(this)]) as DagDocument;
  }
}

/** A builder workflow is callable with an inputs object, as `execute` is. */
export interface Workflow {
  /** Runs the workflow, or adds it as a subworkflow node inside another workflow or flow. */
  (inputs?: Record<string, unknown>): Handle<unknown>;
  /**
   * The same workflow with a node name or a timeout of its own for the calls
   * made through the result (the result is callable and usable in `addEntity`).
   */
  with(options: WorkflowCallOptions): (inputs?: Record<string, unknown>) => Handle<unknown>;
}
