/**
 * The frame of a static workflow (declarative or built): adds every node of
 * the graph at once (a task starts when its inputs are ready), then
 * resolves the outputs. Under `failurePolicy: "fail-fast"` the first failure
 * stops what still runs; by default what does not depend on it finishes.
 *
 * @module
 */

import { CancelledError, ValidationError } from "../core/errors.ts";
import type { Binding, GraphDef } from "../define/defs.ts";
import { Handle } from "../define/handle.ts";
import { ControlledFrame } from "./control_frame.ts";
import { asWeftError, cancelledError, frameError } from "./failures.ts";
import { slotOf } from "./handles.ts";
import { isFinal, Node, resolveValue } from "./node.ts";

/** The frame of a static workflow: adds every node of the graph, then resolves the outputs. */
export class StaticFrame extends ControlledFrame {
  #graph!: GraphDef;
  #inputs!: Record<string, unknown>;
  /**
   * The nodes by position in the graph; once a node is bound as a whole, its
   * one shared handle. (An array: a map by id would cost an insertion per node per run.)
   */
  #nodes: (Node | Handle<unknown>)[] = [];
  /** Whether a failure stopped the rest (fail-fast). */
  #stopping = false;

  start(graph: GraphDef, inputs: Record<string, unknown>): void {
    this.#graph = graph;
    this.#inputs = inputs;
    this.startControl(graph, inputs, "Workflow");
    const run = this.run;
    run.held++;
    try {
      const nodes = graph.topological();
      for (let i = 0; i < nodes.length; i++) {
        const gn = nodes[i]!;
        // A copy of the bindings has the arguments' keys in order; its values are then replaced.
        const args: Record<string, unknown> = { ...gn.bindings };
        for (const key in args) args[key] = this.materialize(args[key] as Binding);
        const after = gn.after?.map((id) => this.#nodeAt(id));
        this.#nodes[gn.index] = this.add(gn.def, args, gn.id, after);
      }
    } finally {
      run.held--;
    }
    run.pump();
    this.endBody();
  }

  /** The node of this frame that runs graph node `id`. */
  #nodeAt(id: string): Node {
    const position = this.#graph.nodeIndex.get(id)?.index;
    const entry = position === undefined ? undefined : this.#nodes[position];
    if (entry === undefined) {
      throw new ValidationError(
        `Workflow '${this.#graph.name}' orders a node after '${id}', which does not exist`,
      );
    }
    return entry instanceof Handle ? slotOf(entry)!.source as Node : entry;
  }

  /** The graph this frame runs. */
  get graph(): GraphDef {
    return this.#graph;
  }

  /**
   * A binding's value in this frame: a constant, an input, or the handle of
   * a node (the frames of the graph's conditions ask for the nodes and
   * inputs their branches use).
   *
   * @param b The binding.
   * @returns The value, with handles where nodes give values.
   */
  materialize(b: Binding): unknown {
    if ("value" in b) return b.value;
    if ("input" in b) return this.#inputs[b.input];
    if ("node" in b) {
      const gn = this.#graph.nodeIndex.get(b.node);
      // (A branch's node has an index in its branch: only the graph's own are here.)
      const position = gn !== undefined && this.#graph.nodes[gn.index] === gn
        ? gn.index
        : undefined;
      const entry = position === undefined ? undefined : this.#nodes[position];
      if (entry === undefined) {
        throw new ValidationError(
          `Workflow '${this.#graph.name}' binds node '${b.node}', which does not exist`,
        );
      }
      if (entry instanceof Handle) return entry;
      if (!entry.def.bare) return new Handle(entry, b.output);
      // Every binding of a bare node is the same reference: one handle serves them all.
      const handle = new Handle(entry);
      this.#nodes[position!] = handle;
      return handle;
    }
    if ("array" in b) return b.array.map((x) => this.materialize(x));
    const out: Record<string, unknown> = {};
    for (const k in b.object) out[k] = this.materialize(b.object[k]!);
    return out;
  }

  /** Under fail-fast, the first failure stops what still runs. */
  override childSettled(node: Node): void {
    if (
      node.status === "failed" && !this.#stopping &&
      this.#graph.control.failurePolicy === "fail-fast"
    ) {
      this.#stopping = true;
      const reason = new CancelledError(
        `Cancelled because ${node.describe()} failed (workflow '${this.#graph.name}' is fail-fast)`,
      );
      for (const child of this.children) {
        if (child !== node && !isFinal(child.status)) this.run.cancelNode(child, reason);
      }
    }
    super.childSettled(node);
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timedOut !== undefined) return this.conclude(undefined, this.timedOut);
    if (this.cancelled) {
      return this.done(
        undefined,
        this.cancelReason ?? this.run.cancelReason ?? cancelledError(this.run.id),
      );
    }
    const causes = this.unhandled();
    if (causes.length > 0) return this.conclude(undefined, frameError(this.node, causes), causes);
    try {
      const outputs = this.#graph.outputBindings;
      if (outputs.size === 0) return this.conclude(undefined, undefined);
      const values: Record<string, unknown> = {};
      for (const [name, b] of outputs) values[name] = resolveValue(this.materialize(b));
      this.conclude(this.#graph.bare ? values[this.#graph.outputs[0]!] : values, undefined);
    } catch (e) {
      this.conclude(undefined, asWeftError(e, this.node, this.run.rootName));
    }
  }
}
