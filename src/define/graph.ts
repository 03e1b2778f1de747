/**
 * Static graphs: the model behind both the declarative `workflow(fn)` and the
 * imperative `Workflow` builder. A graph has typed inputs, nodes (an entity
 * and the bindings of its inputs) and outputs (bindings too).
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { topologicalOrder } from "../core/order.ts";
import { checkValue, isPlainObject } from "../core/values.ts";
import type {
  Binding,
  EntityDef,
  GraphDef,
  GraphInput,
  GraphNode,
  RunControl,
  SourceLocation,
} from "./defs.ts";
import { checkInputNames } from "./entity.ts";
import { GraphRef, InputRef, NodeRef } from "./graph_refs.ts";

export { InputRef, NodeRef } from "./graph_refs.ts";
import { baseOf, callName } from "./overrides.ts";
import { Handle, isHandle, slotOf } from "./handle.ts";
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
  /** Where it was defined (a workflow built from a spec: the spec's file and line). */
  source: SourceLocation | undefined;
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
  /** What runs when the workflow fails, how failures end it, its whole timeout. */
  control: RunControl = {
    onFailure: undefined,
    failurePolicy: "finish-running",
    timeoutMs: undefined,
  };
  #counters = new Map<string, number>();
  #sealed = false;
  /** The lists (`nodes`, a branch's) where some node runs after one added later: not topological. */
  #forward = new Set<readonly GraphNode[]>();
  #ordered = new WeakMap<readonly GraphNode[], { version: number; nodes: GraphNode[] }>();
  /** The branches being built (`ifElse`), innermost last. */
  #scopes: Scope[] = [];
  /** The branch each branch node belongs to. */
  #scopeOf = new Map<GraphNode, Scope>();
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
    const scope = this.#scopes.at(-1);
    const list = scope?.nodes ?? this.nodes;
    const node: GraphNode = { id, def, bindings, index: list.length };
    this.#counters.set(name, n);
    list.push(node);
    this.nodeIndex.set(id, node);
    if (scope !== undefined) this.#scopeOf.set(node, scope);
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
      const scope = this.#scopeOf.get(dep);
      if (scope !== undefined && !this.#visible(scope, this.#scopeOf.get(node))) {
        throw new ValidationError(
          `Node '${node.id}' of workflow '${this.name}' cannot run after '${dep.id}', which belongs to ${scope.label}`,
        );
      }
      if (!after.includes(dep.id)) after.push(dep.id);
      if (scope === this.#scopeOf.get(node) && dep.index > node.index) {
        this.#forward.add(scope?.nodes ?? this.nodes);
      }
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
  topological(nodes: readonly GraphNode[] = this.nodes): readonly GraphNode[] {
    if (!this.#forward.has(nodes)) return nodes;
    const cached = this.#ordered.get(nodes);
    if (cached?.version === this.#version) return cached.nodes;
    // (addOrdering refuses cycles.)
    const out = topologicalOrder(nodes, upstreamOf);
    this.#ordered.set(nodes, { version: this.#version, nodes: out });
    return out;
  }

  /**
   * Opens a branch (of an `ifElse`): nodes added until {@linkcode endBranch}
   * belong to it, and may use what the enclosing scopes have; nothing
   * outside may use them.
   *
   * @param label How messages name the branch (`the then branch of ifElse 'check'`).
   * @returns The list the branch's nodes go to.
   */
  beginBranch(label: string): GraphNode[] {
    this.#mutable("add a branch to");
    const scope: Scope = { nodes: [], parent: this.#scopes.at(-1), label };
    this.#scopes.push(scope);
    return scope.nodes;
  }

  /** Closes the innermost branch. */
  endBranch(): void {
    this.#scopes.pop();
  }

  /** Whether what `scope` holds can be used from `from` (an enclosing scope, or the same). */
  #visible(scope: Scope, from: Scope | undefined): boolean {
    for (let s = from; s !== undefined; s = s.parent) if (s === scope) return true;
    return false;
  }

  /**
   * Adds an output.
   *
   * @param name The output name.
   * @param value A reference, constant, or array or object of these.
   */
  addOutput(name: string, value: unknown): void {
    this.#mutable("add an output to");
    if (this.#scopes.length > 0) {
      throw new ValidationError(
        `Cannot add output '${name}' to workflow '${this.name}' inside ${
          this.#scopes.at(-1)!.label
        }; return the value from the branch function, and add the ifElse's result as an output`,
      );
    }
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
      if (source instanceof GraphRef && source.graph !== this) {
        throw new ValidationError(
          `${placeText(place)} refers to ${source.describe()}, not of '${this.name}'`,
        );
      }
      if (source instanceof InputRef) {
        if (output !== undefined) {
          throw new ValidationError(
            `${placeText(place)}: input '${source.name}' has no outputs; bind the input itself`,
          );
        }
        return { input: source.name };
      }
      if (source instanceof NodeRef) {
        const scope = this.#scopeOf.get(source.node);
        if (scope !== undefined && !this.#visible(scope, this.#scopes.at(-1))) {
          throw new ValidationError(
            `${
              placeText(place)
            } refers to node '${source.node.id}', which belongs to ${scope.label}; outside that branch use the ifElse's result instead`,
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

  /**
   * Takes the next id for `name` now, for a node added later with it (a
   * condition takes its id before its branches' nodes take theirs, so that
   * ids count from the outside in).
   *
   * @param name The node name.
   * @returns The id.
   */
  reserveId(name: string): string {
    const [id, n] = this.#nextId(name);
    this.#counters.set(name, n);
    return id;
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
    const visitNodes = (nodes: readonly GraphNode[]): void => {
      for (const node of nodes) {
        Object.values(node.bindings).forEach(visit);
        const def = node.def;
        if (def.kind === "condition") {
          for (const branch of [def.then, def.else]) {
            visitNodes(branch.nodes);
            branch.outputBindings.forEach(visit);
          }
        }
      }
    };
    visitNodes(this.nodes);
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

/**
 * The ids of the nodes a node takes values from or runs after (for a
 * condition node, also those its branches use).
 */
export function upstreamOf(node: GraphNode): string[] {
  const out: string[] = [];
  const visit = (b: Binding): void => {
    if ("node" in b) out.push(b.node);
    else if ("array" in b) b.array.forEach(visit);
    else if ("object" in b) Object.values(b.object).forEach(visit);
  };
  for (const key in node.bindings) visit(node.bindings[key]!);
  if (node.after !== undefined) out.push(...node.after);
  const def = node.def;
  if (def.kind === "condition") {
    for (const branch of [def.then, def.else]) {
      for (const n of branch.nodes) out.push(...upstreamOf(n));
      branch.outputBindings.forEach(visit);
    }
  }
  return out;
}

/** A branch being built: its nodes, and the scope it sits in. */
interface Scope {
  nodes: GraphNode[];
  parent: Scope | undefined;
  label: string;
}

function placeText(place: string | (() => string)): string {
  return typeof place === "string" ? place : place();
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
