/**
 * Direct calls: a task, workflow or flow called outside any run runs as a run
 * of its own and its handle resolves to the value (or rejects with the
 * failure).
 *
 * @module
 */

import type { EntityDef } from "../define/entity.ts";
import { Handle, type RefSource } from "../define/handle.ts";
import { executeEntity } from "./run.ts";

/** The source of a handle returned by a direct call. */
class DirectCall implements RefSource {
  readonly #def: EntityDef;
  readonly #promise: Promise<unknown>;
  constructor(def: EntityDef, promise: Promise<unknown>) {
    this.#def = def;
    this.#promise = promise;
  }
  describe(): string {
    return `the direct call of ${this.#def.kind} '${this.#def.name}'`;
  }
  outputNames(): readonly string[] {
    return this.#def.outputs;
  }
  settle(
    output: string | undefined,
    onValue: (v: unknown) => void,
    onError: (e: unknown) => void,
  ): void {
    const def = this.#def;
    this.#promise.then((v) => onValue(selectOutput(def, v, output)), onError);
  }
}

/**
 * Runs `def` with `inputs` as a run of its own.
 *
 * @param def The entity.
 * @param inputs The inputs by name.
 * @returns A handle that resolves to the entity's value.
 */
export function callDirect(def: EntityDef, inputs: Record<string, unknown>): Handle<unknown> {
  return new Handle(new DirectCall(def, executeEntity(def, inputs)));
}

/**
 * Picks one output out of a node's whole value.
 *
 * @param def The entity.
 * @param value The whole value.
 * @param output The output name, or undefined for the whole value.
 * @returns The selected value.
 */
export function selectOutput(def: EntityDef, value: unknown, output: string | undefined): unknown {
  if (output === undefined || def.bare) return value;
  return (value as Record<string, unknown> | undefined)?.[output];
}
