/**
 * The map frame: runs a map node (`mapTask`) as one child per element of its
 * lists, `map_square/0`, `map_square/1`, …, in order, each a call of the
 * mapped entity journaled, cached and retried like any call. Children are
 * added as slots free under the map's own concurrency limit, so a long list
 * costs only what runs; the map's value is the children's values in order.
 *
 * @module
 */

import {
  CancelledError,
  TaskFailedError,
  ValidationError,
  type WeftError,
} from "../core/errors.ts";
import type { MapDef } from "../define/defs.ts";
import { describeEntity } from "../define/entity.ts";
import { callName } from "../define/overrides.ts";
import { cancelledError, frameError } from "./failures.ts";
import { Frame } from "./frames.ts";
import { isFinal, type Node } from "./node.ts";

/** The frame of a map node. */
export class MapFrame extends Frame {
  #def!: MapDef;
  #inputs!: Record<string, unknown>;
  #lists: unknown[][] = [];
  /** How many elements there are, and the next to add. */
  #n = 0;
  #next = 0;
  /** Children added and not yet settled. */
  #inFlight = 0;
  #limit = Infinity;
  /** How many executions may fail while the map can still succeed. */
  #allowed = 0;
  #failed = 0;
  /** Whether the map stopped adding children (it can no longer succeed). */
  #stopped = false;
  #filling = false;
  /** Children are `NODE/0`, `NODE/1`…; a map run as the root names them after itself. */
  #idPrefix = "";

  /**
   * Starts the map: checks its lists, then adds children as slots free.
   *
   * @param def The map.
   * @param inputs Its inputs: lists for its `over` inputs.
   */
  start(def: MapDef, inputs: Record<string, unknown>): void {
    this.#def = def;
    this.#inputs = inputs;
    let n: number | undefined;
    for (const name of def.over) {
      const list = inputs[name];
      if (!Array.isArray(list)) {
        return this.#refuse(
          `${this.#what()} maps over input '${name}', which must be a list; it is ${
            list === null ? "null" : typeof list
          }`,
        );
      }
      if (n !== undefined && list.length !== n) {
        return this.#refuse(
          `${this.#what()} maps over ${
            def.over.map((o) => `'${o}' (${(inputs[o] as unknown[]).length})`).join(", ")
          }, which must be lists of the same length`,
        );
      }
      n = list.length;
      this.#lists.push(list);
    }
    this.#n = n ?? 0;
    this.#limit = def.concurrency ?? Infinity;
    if (this.node === undefined) this.#idPrefix = `${callName(def)}/`;
    this.#allowed = Math.floor(this.#n * (1 - def.minSuccessRatio) + 1e-9);
    this.#fill();
  }

  #what(): string {
    return `${describeEntity(this.#def)}${this.node ? ` (node '${this.node.id}')` : ""}`;
  }

  #refuse(message: string): void {
    this.finished = true;
    const error = new ValidationError(message, {
      nodeId: this.node?.id ?? this.#def.name,
      task: this.#def.name,
    });
    this.done(undefined, error, [error]);
  }

  /** Adds children while the limit allows; the last one added ends the body. */
  #fill(): void {
    // A child that settles while being added (replayed from the journal) comes
    // back here: the loop below goes on, so a long replay does not recurse.
    if (this.#filling) return;
    this.#filling = true;
    const run = this.run;
    run.held++;
    try {
      while (
        this.#next < this.#n && this.#inFlight < this.#limit && !this.#stopped && !this.cancelled
      ) {
        const i = this.#next++;
        this.#inFlight++;
        this.add(this.#def.target, this.#argsAt(i), `${this.#idPrefix}${i}`);
      }
    } finally {
      run.held--;
      this.#filling = false;
    }
    run.pump();
    if ((this.#next === this.#n || this.#stopped || this.cancelled) && !this.bodyDone) {
      this.endBody();
    }
  }

  /** The arguments of the execution of element `i`: its elements, and the other inputs as given. */
  #argsAt(i: number): Record<string, unknown> {
    const args: Record<string, unknown> = {};
    const over = this.#def.over;
    for (const p of this.#def.params) {
      const k = over.indexOf(p.name);
      if (k >= 0) args[p.name] = this.#lists[k]![i];
      else if (p.name in this.#inputs) args[p.name] = this.#inputs[p.name];
    }
    return args;
  }

  override childSettled(node: Node): void {
    this.#inFlight--;
    if (node.status === "failed" && ++this.#failed > this.#allowed && !this.#stopped) {
      this.#stop(node);
    }
    this.#fill();
    super.childSettled(node);
  }

  /** Too many failed: stop adding, and stop what still runs. */
  #stop(failed: Node): void {
    this.#stopped = true;
    const reason = new CancelledError(
      `Cancelled because ${this.#what()} can no longer succeed: ${failed.describe()} failed (${this.#failed} of ${this.#n} failed${
        this.#allowed > 0
          ? `; minSuccessRatio ${this.#def.minSuccessRatio} allows ${this.#allowed}`
          : ""
      })`,
    );
    for (const child of this.children) {
      if (!isFinal(child.status)) this.run.cancelNode(child, reason);
    }
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const run = this.run;
    if (this.cancelled) {
      return this.done(undefined, this.cancelReason ?? run.cancelReason ?? cancelledError(run.id));
    }
    if (this.#failed > this.#allowed) {
      const causes = this.unhandled();
      const first = causes[0]!;
      const error = this.node === undefined && this.#allowed === 0
        ? first
        : this.#allowed === 0
        ? frameError(this.node, causes)
        : new TaskFailedError(
          `${this.#what()} failed: ${this.#failed} of ${this.#n} executions failed, more than its minSuccessRatio ${this.#def.minSuccessRatio} allows (${this.#allowed}); the first: ${first.message}`,
          { nodeId: this.node?.id ?? this.#def.name, task: this.#def.name, cause: first },
        );
      return this.done(undefined, error, causes);
    }
    const children = this.children;
    const values = new Array(this.#n);
    for (let i = 0; i < this.#n; i++) {
      const child = children[i]!;
      if (child.status === "succeeded") values[i] = child.value;
      else {
        // A failure the map's ratio allows: the element's result is null.
        if (child.error !== undefined) run.handled.add(child.error);
        values[i] = null;
      }
    }
    const def = this.#def;
    if (def.bare) return this.done(values, undefined);
    const out: Record<string, unknown[]> = {};
    for (const o of def.outputs) {
      out[o] = values.map((v) => v === null ? null : (v as Record<string, unknown>)[o]);
    }
    this.done(out, undefined);
  }

  protected override onCancel(_reason: WeftError): void {
    if (!this.bodyDone) this.endBody();
  }
}
