/**
 * Direct calls: a task, workflow or flow called outside any run runs as a run
 * of its own, in the process's memory store, and its handle resolves to the
 * value (or rejects with the failure). Loading this module registers it as the direct call site, so that
 * the definition layer reaches the engine without importing it.
 *
 * @module
 */

import { registerDirect } from "../core/call_site.ts";
import type { EntityDef } from "../define/defs.ts";
import { selectOutput } from "../define/entity.ts";
import { Handle, type RefSource } from "../define/handle.ts";
import { defaultStore } from "../store/open.ts";
import { runEntity, valueOf } from "./execute.ts";

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
  return new Handle(new DirectCall(def, runEntity(def, inputs, defaultStore()).then(valueOf)));
}

registerDirect({
  call: (def, args) => callDirect(def as EntityDef, args as Record<string, unknown>),
});
