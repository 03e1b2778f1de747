/**
 * The symbolic references of a static graph: a workflow input, and a node
 * (its whole value or one output). Handles made while building or tracing a
 * workflow hold one; binding them gives the graph's bindings.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { Binding, GraphNode } from "./defs.ts";
import { describeEntity } from "./entity.ts";
import type { RefSource } from "./handle.ts";

/** What a reference needs of its graph. */
export interface RefGraph {
  /** The workflow name. */
  readonly name: string;
  /** Makes a node run after others (`after`). */
  addOrdering(node: GraphNode, deps: readonly GraphNode[]): void;
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

/** What both references have: their graph, and no value while it is built. */
export abstract class GraphRef implements RefSource {
  /** The graph. */
  readonly graph: RefGraph;
  /** @param graph The graph. */
  constructor(graph: RefGraph) {
    this.graph = graph;
  }
  /** @returns How the reference reads in messages. */
  abstract describe(): string;
  /** @returns The output names of what it refers to. */
  abstract outputNames(): readonly string[];
  /** Symbolic references have no value yet. */
  settle(): void {
    throw new ValidationError(
      `Cannot await ${this.describe()} while building workflow '${this.graph.name}': nothing has run yet; a workflow body only wires tasks together. Use flow() to wait for values and branch on them`,
    );
  }
}

/** A symbolic reference to a graph input. */
export class InputRef extends GraphRef {
  /** The input name. */
  readonly name: string;
  /**
   * @param graph The graph.
   * @param name The input name.
   */
  constructor(graph: RefGraph, name: string) {
    super(graph);
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
}

/** A symbolic reference to a graph node. */
export class NodeRef extends GraphRef {
  /** The node. */
  readonly node: GraphNode;
  /**
   * @param graph The graph.
   * @param node The node.
   */
  constructor(graph: RefGraph, node: GraphNode) {
    super(graph);
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
  /**
   * Makes the node start after others (the graph's `addOrdering`).
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
