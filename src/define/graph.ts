/**
 * Static graphs: the model behind both the declarative `workflow(fn)` and the
 * imperative `Workflow` builder. A graph has typed inputs, nodes (an entity
 * and the bindings of its inputs) and outputs (bindings too).
 *
 * @module
 */

import { currentSite, ENTITY, noteEntity } from "../core/call_site.ts";
import {
  callerLocation,
  checkInputNames,
  describeEntity,
  type EntityDef,
  namedArgs,
  requireEntity,
  type SourceLocation,
} from "./entity.ts";
import { ValidationError } from "../core/errors.ts";
import { Handle, isHandle, isPlainObject, type RefSource, slotOf } from "./handle.ts";
import type { Param } from "./params.ts";
import { checkValue } from "../core/values.ts";
import { type InputType, inputType, type TypeSpec } from "./input_types.ts";
import { callDirect } from "../engine/direct.ts";
import { type DagDocument, toDag } from "../ir/mod.ts";

/**
 * How a node input or workflow output gets its value: a workflow input, a
 * node output, a constant, or an array or object of bindings.
 */
export type Binding =
  | { readonly input: string }
  | { readonly node: string; readonly output: string }
  | { readonly value: unknown }
  | { readonly array: readonly Binding[] }
  | { readonly object: { readonly [key: string]: Binding } };

/** An input of a static graph. */
export interface GraphInput {
  /** The input name. */
  readonly name: string;
  /** The declared type. */
  readonly type: InputType;
  /** Whether it may be left out. */
  readonly optional: boolean;
  /** The default, when it has one. */
  readonly default?: unknown;
}

/** A node of a static graph. */
export interface GraphNode {
  /** The node id: the entity name, then `name_2`, `name_3`… */
  readonly id: string;
  /** The entity the node calls. */
  readonly def: EntityDef;
  /** The bindings of its inputs. */
  readonly bindings: Readonly<Record<string, Binding>>;
  /** Its position in the graph's `nodes`. */
  readonly index: number;
}

/** The internal model of a static workflow. */
export class GraphDef implements EntityDef {
  /** Always `"workflow"`. */
  readonly kind = "workflow" as const;
  /** The workflow name. */
  readonly name: string;
  /** How a direct call passes inputs. */
  callStyle: "positional" | "object" = "object";
  /** Where it was defined. */
  readonly source: SourceLocation | undefined;
  /** Whether it came from a declarative `workflow(fn)`. */
  declarative = false;
  /** The inputs, in order. */
  readonly inputs: Map<string, GraphInput> = new Map();
  /** The nodes, in the order added (a topological order). */
  readonly nodes: GraphNode[] = [];
  /** The nodes by id. */
  readonly nodeIndex: Map<string, GraphNode> = new Map();
  /** The outputs, in order. */
  readonly outputBindings: Map<string, Binding> = new Map();
  #counters = new Map<string, number>();
  #sealed = false;
  /** Bumped by every change; `validate` remembers the version it passed (each run validates). */
  #version = 0;
  #validated: string | undefined = undefined;

  /**
   * Creates an empty graph.
   *
   * @param name The workflow name.
   * @param source Where it was defined.
   */
  constructor(name: string, source: SourceLocation | undefined) {
    this.name = name;
    this.source = source;
  }

  /** The inputs as parameters. */
  get params(): Param[] {
    return [...this.inputs.values()].map((i) => {
      const p: Param = { name: i.name, optional: i.optional };
      if ("default" in i) p.default = i.default;
      return p;
    });
  }

  /** The output names. */
  get outputs(): string[] {
    return [...this.outputBindings.keys()];
  }

  /** A single output is the whole value. */
  get bare(): boolean {
    return this.outputBindings.size === 1;
  }

  /** Stops further changes (a traced workflow is final). */
  seal(): void {
    this.#sealed = true;
  }

  #mutable(what: string): void {
    this.#version++;
    if (this.#sealed) {
      throw new ValidationError(
        `Cannot ${what} workflow '${this.name}': a declarative workflow is fixed once traced; build a new Workflow instead`,
      );
    }
  }

  /**
   * Adds an input.
   *
   * @param name The input name.
   * @param type Its type.
   * @param options A default, which makes it optional.
   * @returns A reference to the input.
   */
  addInput(
    name: string,
    type: TypeSpec | undefined,
    options: { default?: unknown; optional?: boolean } = {},
  ): Handle<unknown> {
    this.#mutable("add an input to");
    checkName(name, `input of workflow '${this.name}'`);
    if (this.inputs.has(name)) {
      throw new ValidationError(
        `Workflow '${this.name}' already has an input named '${name}'; input names must be unique`,
      );
    }
    const input: { name: string; type: InputType; optional: boolean; default?: unknown } = {
      name,
      type: inputType(type, `input '${name}' of workflow '${this.name}'`),
      optional: options.optional === true || "default" in options,
    };
    if ("default" in options) {
      checkValue(
        options.default,
        () => `the default of input '${name}' of workflow '${this.name}'`,
      );
      input.default = options.default;
    }
    this.inputs.set(name, input);
    return new Handle(new InputRef(this, name));
  }

  /**
   * A reference to an input.
   *
   * @param name The input name.
   * @returns The reference.
   * @throws {ValidationError} When there is no such input.
   */
  inputRef(name: string): Handle<unknown> {
    if (!this.inputs.has(name)) {
      throw new ValidationError(
        `Workflow '${this.name}' has no input '${name}'; its inputs are ${
          listOr([...this.inputs.keys()], "none yet (add one with addInput)")
        }`,
      );
    }
    return new Handle(new InputRef(this, name));
  }

  /**
   * Adds a node.
   *
   * @param def The entity.
   * @param inputs Its inputs by name: values, references, or arrays and objects of these.
   * @param fixedId The node id to use (a loaded IR keeps its ids), instead of the next one for the entity.
   * @returns A reference to the node's value.
   */
  addNode(def: EntityDef, inputs: Record<string, unknown>, fixedId?: string): Handle<unknown> {
    this.#mutable("add a node to");
    let [id, n] = this.#nextId(def.name);
    if (fixedId !== undefined) {
      checkName(fixedId, `node of workflow '${this.name}'`);
      if (this.nodeIndex.has(fixedId)) {
        throw new ValidationError(
          `Workflow '${this.name}' already has a node '${fixedId}'; node ids must be unique`,
        );
      }
      id = fixedId;
      n = this.#counters.get(def.name) ?? 0;
    }
    const where = `node '${id}' of workflow '${this.name}'`;
    if (def === (this as EntityDef)) {
      throw new ValidationError(`${where}: workflow '${this.name}' cannot contain itself`);
    }
    checkInputNames(def, inputs, where);
    const bindings: Record<string, Binding> = {};
    for (const key of Object.keys(inputs)) {
      bindings[key] = this.#bind(inputs[key], `input '${key}' of ${where}`);
    }
    const node: GraphNode = { id, def, bindings, index: this.nodes.length };
    this.#counters.set(def.name, n);
    this.nodes.push(node);
    this.nodeIndex.set(id, node);
    return new Handle(new NodeRef(this, node));
  }

  /**
   * Adds an output.
   *
   * @param name The output name.
   * @param value A reference, constant, or array or object of these.
   */
  addOutput(name: string, value: unknown): void {
    this.#mutable("add an output to");
    checkName(name, `output of workflow '${this.name}'`);
    if (this.outputBindings.has(name)) {
      throw new ValidationError(
        `Workflow '${this.name}' already has an output named '${name}'; output names must be unique`,
      );
    }
    this.outputBindings.set(
      name,
      this.toBinding(value, `output '${name}' of workflow '${this.name}'`),
    );
  }

  /**
   * Turns a user value into a binding of this graph.
   *
   * @param value A reference, a constant, or arrays and plain objects of these.
   * @param where Names the place in messages.
   * @returns The binding.
   */
  toBinding(value: unknown, where: string): Binding {
    return this.#bind(value, where);
  }

  /** `toBinding`, naming the places inside arrays and objects only when something is wrong (a fan-in binds many handles). */
  #bind(value: unknown, place: string | (() => string)): Binding {
    if (isHandle(value)) {
      const { source, output } = slotOf(value);
      if (source instanceof InputRef) {
        if (source.graph !== this) {
          throw new ValidationError(
            `${
              placeText(place)
            } refers to input '${source.name}' of workflow '${source.graph.name}', not of '${this.name}'`,
          );
        }
        if (output !== undefined) {
          throw new ValidationError(
            `${placeText(place)}: input '${source.name}' has no outputs; bind the input itself`,
          );
        }
        return { input: source.name };
      }
      if (source instanceof NodeRef) {
        if (source.graph !== this) {
          throw new ValidationError(
            `${
              placeText(place)
            } refers to node '${source.node.id}' of workflow '${source.graph.name}', not of '${this.name}'`,
          );
        }
        return source.binding(output);
      }
      throw new ValidationError(
        `${
          placeText(place)
        } is bound to ${source.describe()}, a handle of a running flow or a direct call; a static workflow can only bind its own inputs, node outputs and constants`,
      );
    }
    if (Array.isArray(value)) {
      const items = value.map((v, i) => this.#bind(v, () => `${placeText(place)}[${i}]`));
      return items.every((b) => "value" in b) ? { value } : { array: items };
    }
    if (isPlainObject(value)) {
      const entries: Record<string, Binding> = {};
      let constant = true;
      for (const key of Object.keys(value)) {
        const b = this.#bind(value[key], () => `${placeText(place)}.${key}`);
        entries[key] = b;
        if (!("value" in b)) constant = false;
      }
      return constant ? { value } : { object: entries };
    }
    checkValue(value, typeof place === "string" ? () => place : place);
    return { value };
  }

  /** The next id for `name` and the counter value that gives it (committed once the node is added). */
  #nextId(name: string): [string, number] {
    let n = this.#counters.get(name) ?? 0;
    let id: string;
    do {
      n++;
      id = n === 1 ? name : `${name}_${n}`;
    } while (this.nodeIndex.has(id));
    return [id, n];
  }

  /**
   * Checks what can only be checked once the graph is complete: every input
   * is used.
   *
   * @throws {ValidationError} Naming an unused input.
   */
  validate(): void {
    const stamp =
      `${this.#version}:${this.nodes.length}:${this.inputs.size}:${this.outputBindings.size}`;
    if (this.#validated === stamp) return;
    const used = new Set<string>();
    const visit = (b: Binding) => {
      if ("input" in b) used.add(b.input);
      else if ("array" in b) b.array.forEach(visit);
      else if ("object" in b) Object.values(b.object).forEach(visit);
    };
    for (const node of this.nodes) Object.values(node.bindings).forEach(visit);
    for (const b of this.outputBindings.values()) visit(b);
    for (const name of this.inputs.keys()) {
      if (!used.has(name)) {
        throw new ValidationError(
          `Input '${name}' of workflow '${this.name}' is not used by any node or output; bind it to a node input or remove it`,
        );
      }
    }
    this.#validated = stamp;
  }
}

function placeText(place: string | (() => string)): string {
  return typeof place === "string" ? place : place();
}

function nodeBinding(node: GraphNode, output: string | undefined): Binding {
  if (output !== undefined) return { node: node.id, output };
  const def = node.def;
  if (def.bare) return { node: node.id, output: def.outputs[0]! };
  if (def.outputs.length === 0) {
    throw new ValidationError(`Node '${node.id}' (${describeEntity(def)}) has no outputs to bind`);
  }
  const object: Record<string, Binding> = {};
  for (const o of def.outputs) object[o] = { node: node.id, output: o };
  return { object };
}

/** A symbolic reference to a graph input. */
export class InputRef implements RefSource {
  /** The graph. */
  readonly graph: GraphDef;
  /** The input name. */
  readonly name: string;
  /**
   * @param graph The graph.
   * @param name The input name.
   */
  constructor(graph: GraphDef, name: string) {
    this.graph = graph;
    this.name = name;
  }
  /** @returns How the reference reads in messages. */
  describe(): string {
    return `input '${this.name}' of workflow '${this.graph.name}'`;
  }
  /** @returns No outputs: an input is a value. */
  outputNames(): readonly string[] {
    return [];
  }
  /** Symbolic references have no value yet. */
  settle(): void {
    throw symbolicAwait(this.describe(), this.graph.name);
  }
}

/** A symbolic reference to a graph node. */
export class NodeRef implements RefSource {
  /** The graph. */
  readonly graph: GraphDef;
  /** The node. */
  readonly node: GraphNode;
  /**
   * @param graph The graph.
   * @param node The node.
   */
  constructor(graph: GraphDef, node: GraphNode) {
    this.graph = graph;
    this.node = node;
  }
  /** @returns How the reference reads in messages. */
  describe(): string {
    return `node '${this.node.id}' of workflow '${this.graph.name}'`;
  }
  /** @returns The node's output names. */
  outputNames(): readonly string[] {
    return this.node.def.outputs;
  }
  #whole: Binding | undefined = undefined;
  /**
   * The binding of an output of the node, or of its whole value. Bindings are
   * immutable, so every use of the whole value shares one.
   *
   * @param output The output name, or undefined for the whole value.
   * @returns The binding.
   */
  binding(output: string | undefined): Binding {
    if (output !== undefined) return { node: this.node.id, output };
    return this.#whole ??= nodeBinding(this.node, undefined);
  }
  /** Symbolic references have no value yet. */
  settle(): void {
    throw symbolicAwait(this.describe(), this.graph.name);
  }
}

function symbolicAwait(what: string, workflow: string): ValidationError {
  return new ValidationError(
    `Cannot await ${what} while building workflow '${workflow}': nothing has run yet; a workflow body only wires tasks together. Use flow() to wait for values and branch on them`,
  );
}

function checkName(name: unknown, what: string): void {
  if (typeof name !== "string" || !/^[A-Za-z_$][\w$.-]*$/.test(name)) {
    throw new ValidationError(
      `Cannot name an ${what} ${
        JSON.stringify(name)
      }: use letters, digits, '_', '$', '.' or '-', starting with a letter or '_'`,
    );
  }
}

function listOr(names: string[], empty: string): string {
  return names.length === 0 ? empty : names.map((n) => `'${n}'`).join(", ");
}

function graphOf(wf: Workflow): GraphDef {
  return (wf as unknown as Record<symbol, GraphDef>)[ENTITY]!;
}

/** The inputs of a builder workflow, as references: `wf.inputs.x`. */
export type WorkflowInputs = { readonly [name: string]: Handle<unknown> };

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
   */
  constructor(name: string) {
    super();
    if (typeof name !== "string" || name === "") {
      throw new ValidationError('A Workflow needs a name: new Workflow("my_workflow")');
    }
    const def = new GraphDef(name, callerLocation());
    const call = function (inputs?: Record<string, unknown>): unknown {
      const named = namedArgs(def, inputs === undefined ? [] : [inputs]);
      const site = currentSite();
      if (site !== undefined) return site.call(def, named);
      return callDirect(def, named);
    };
    // The instance is the function itself, so that `wf(inputs)` works.
    Object.setPrototypeOf(call, new.target.prototype);
    Object.defineProperty(call, "name", { value: name });
    Object.defineProperty(call, ENTITY, { value: def });
    noteEntity(def);
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
   * @returns A handle to the node's value; `.outputs.NAME` references one output. Its type is `any`:
   * a builder cannot know what the entity returns (names are checked when the workflow is built).
   */
  // deno-lint-ignore no-explicit-any
  addEntity(entity: unknown, bindings: Record<string, unknown> = {}): Handle<any> {
    const def = requireEntity(entity, "addEntity(entity, bindings)");
    if (!isPlainObject(bindings)) {
      throw new ValidationError(
        `addEntity(${def.name}, bindings) takes its bindings as an object keyed by input name, such as { x: wf.inputs.x }`,
      );
    }
    return graphOf(this).addNode(def, bindings);
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
    return await callDirect(graphOf(this), namedArgs(graphOf(this), [inputs]));
  }

  /** The number of nodes. */
  get size(): number {
    return graphOf(this).nodes.length;
  }

  /** The graph as a `weft.dag/v1` document, with every entity it uses. */
  get graph(): DagDocument {
    return toDag([graphOf(this)]);
  }
}

/** A builder workflow is callable with an inputs object, as `execute` is. */
export interface Workflow {
  /** Runs the workflow, or adds it as a subworkflow node inside another workflow or flow. */
  (inputs?: Record<string, unknown>): Handle<unknown>;
}
