/**
 * Static graphs: the model behind both the declarative `workflow(fn)` and the
 * imperative `Workflow` builder. A graph has typed inputs, nodes (an entity
 * and the bindings of its inputs) and outputs (bindings too).
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { checkValue, isPlainObject } from "../core/values.ts";
import type {
  Binding,
  EntityDef,
  GraphDef,
  GraphInput,
  GraphNode,
  SourceLocation,
} from "./defs.ts";
import { checkInputNames, describeEntity } from "./entity.ts";
import { baseOf, callName } from "./overrides.ts";
import { Handle, isHandle, type RefSource, slotOf } from "./handle.ts";
import { type InputType, inputType, type TypeSpec } from "./input_types.ts";
import type { Param } from "./params.ts";

/** The model of a static workflow, declarative or built: it grows by `addInput`, `addNode` and `addOutput`. */
export class GraphModel implements GraphDef {
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
  /** Whether some node runs after a node added later (then `nodes` is not a topological order). */
  #forward = false;
  #ordered: { version: number; nodes: GraphNode[] } | undefined = undefined;
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
    const name = callName(def);
    let [id, n] = this.#nextId(name);
    if (fixedId !== undefined) {
      checkName(fixedId, `node of workflow '${this.name}'`);
      if (this.nodeIndex.has(fixedId)) {
        throw new ValidationError(
          `Workflow '${this.name}' already has a node '${fixedId}'; node ids must be unique`,
        );
      }
      id = fixedId;
      n = this.#counters.get(name) ?? 0;
    }
    const where = `node '${id}' of workflow '${this.name}'`;
    if (baseOf(def) === (this as unknown as EntityDef)) {
      throw new ValidationError(`${where}: workflow '${this.name}' cannot contain itself`);
    }
    checkInputNames(def, inputs, where);
    const bindings: Record<string, Binding> = {};
    for (const key of Object.keys(inputs)) {
      bindings[key] = this.#bind(inputs[key], `input '${key}' of ${where}`);
    }
    const node: GraphNode = { id, def, bindings, index: this.nodes.length };
    this.#counters.set(name, n);
    this.nodes.push(node);
    this.nodeIndex.set(id, node);
    return new Handle(new NodeRef(this, node));
  }

  /**
   * Makes a node start only after others have succeeded, though no value
   * passes (Flyte's `runs_before`, Argo's `dependencies`).
   *
   * @param node The node that waits.
   * @param deps The nodes it waits for.
   * @throws {ValidationError} When a node would wait for itself, or the order makes a cycle.
   */
  addOrdering(node: GraphNode, deps: readonly GraphNode[]): void {
    this.#mutable("order the nodes of");
    const after = [...(node.after ?? [])];
    for (const dep of deps) {
      if (dep === node) {
        throw new ValidationError(
          `Node '${node.id}' of workflow '${this.name}' cannot run after itself`,
        );
      }
      const path = this.#pathBetween(node, dep);
      if (path !== undefined) {
        throw new ValidationError(
          `Node '${node.id}' of workflow '${this.name}' cannot run after '${dep.id}', which depends on it (${
            path.join(" → ")
          }): that would be a cycle`,
        );
      }
      if (!after.includes(dep.id)) after.push(dep.id);
      if (dep.index > node.index) this.#forward = true;
    }
    (node as { after?: readonly string[] }).after = after;
  }

  /** The ids from `from` to `to` along the edges a node depends on, if `to` depends on `from`. */
  #pathBetween(from: GraphNode, to: GraphNode): string[] | undefined {
    const seen = new Set<GraphNode>();
    const walk = (n: GraphNode): string[] | undefined => {
      if (n === from) return [from.id];
      if (seen.has(n)) return undefined;
      seen.add(n);
      for (const id of upstreamOf(n)) {
        const up = this.nodeIndex.get(id);
        const found = up === undefined ? undefined : walk(up);
        if (found !== undefined) return [...found, n.id];
      }
      return undefined;
    };
    return walk(to);
  }

  /**
   * The nodes in an order where each comes after those it takes values from
   * and those it runs after: `nodes` itself unless an ordering edge points
   * forward (to a node added later).
   *
   * @returns The nodes.
   */
  topological(): readonly GraphNode[] {
    if (!this.#forward) return this.nodes;
    if (this.#ordered?.version === this.#version) return this.#ordered.nodes;
    const placed = new Set<string>();
    const out: GraphNode[] = [];
    const pending = [...this.nodes];
    while (pending.length > 0) {
      // addOrdering refuses cycles, so some node is always ready.
      const i = pending.findIndex((n) => upstreamOf(n).every((id) => placed.has(id)));
      const [next] = pending.splice(i, 1);
      placed.add(next!.id);
      out.push(next!);
    }
    this.#ordered = { version: this.#version, nodes: out };
    return out;
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

/** The ids of the nodes a node takes values from or runs after. */
export function upstreamOf(node: GraphNode): string[] {
  const out: string[] = [];
  const visit = (b: Binding): void => {
    if ("node" in b) out.push(b.node);
    else if ("array" in b) b.array.forEach(visit);
    else if ("object" in b) Object.values(b.object).forEach(visit);
  };
  for (const key in node.bindings) visit(node.bindings[key]!);
  if (node.after !== undefined) out.push(...node.after);
  return out;
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
  readonly graph: GraphModel;
  /** The input name. */
  readonly name: string;
  /**
   * @param graph The graph.
   * @param name The input name.
   */
  constructor(graph: GraphModel, name: string) {
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
  readonly graph: GraphModel;
  /** The node. */
  readonly node: GraphNode;
  /**
   * @param graph The graph.
   * @param node The node.
   */
  constructor(graph: GraphModel, node: GraphNode) {
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
  /**
   * Makes the node start after others (see {@linkcode GraphModel.addOrdering}).
   *
   * @param deps The sources of the handles it waits for.
   */
  orderAfter(deps: readonly RefSource[]): void {
    const nodes = deps.map((d) => {
      if (d instanceof NodeRef && d.graph === this.graph) return d.node;
      throw new ValidationError(
        `after(${this.describe()}, …) was given ${d.describe()}; a node of a workflow can only run after other nodes of the same workflow${
          d instanceof InputRef ? " (an input is known before anything runs)" : ""
        }`,
      );
    });
    this.graph.addOrdering(this.node, nodes);
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
