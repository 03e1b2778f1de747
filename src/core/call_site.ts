/**
 * Process-wide state: where a call of a task, workflow or flow lands. A call
 * is recorded as a node while a declarative workflow is being traced, is
 * scheduled by the engine inside a running flow, and otherwise runs
 * directly.
 *
 * The state lives on `globalThis` under `Symbol.for` keys, so that two copies
 * of weft in one process (a script importing weft by one URL, a runner by
 * another) still see the same current flow.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";

/** Something that can receive a call of an entity: a tracer or a running frame. */
export interface CallSite {
  /** Records or schedules `def` called with `args`; returns its handle. */
  call(def: unknown, args: unknown): unknown;
}

interface Shared {
  /** The running flow or workflow frame, found across `await` and `yield`. */
  frames: AsyncLocalStorage<CallSite | undefined>;
  /** The declarative workflows being traced (synchronous, so a stack does). */
  traces: CallSite[];
}

const KEY = Symbol.for("weft.context.v1");
const g = globalThis as unknown as Record<symbol, Shared | undefined>;
const shared: Shared = g[KEY] ??= {
  frames: new AsyncLocalStorage<CallSite | undefined>(),
  traces: [],
};

/** The AsyncLocalStorage that holds the running frame. */
export const frames: AsyncLocalStorage<CallSite | undefined> = shared.frames;

/**
 * The place a call made now lands: the innermost trace, else the running
 * frame, else undefined (a direct call).
 *
 * @returns The call site, or undefined outside any run.
 */
export function currentSite(): CallSite | undefined {
  const traces = shared.traces;
  if (traces.length > 0) return traces[traces.length - 1];
  return frames.getStore();
}

/**
 * Runs `fn` with `site` receiving every call made synchronously inside it.
 *
 * @param site The tracer.
 * @param fn The traced body.
 * @returns What `fn` returns.
 */
export function withTrace<T>(site: CallSite, fn: () => T): T {
  shared.traces.push(site);
  try {
    // A trace must not see the frame of a flow that happens to define it.
    return frames.run(undefined, fn);
  } finally {
    shared.traces.pop();
  }
}

/** Brands shared by every copy of weft in the process. */
export const ENTITY: unique symbol = Symbol.for("weft.entity") as never;
/** The brand and internal slot of a handle. */
export const REF: unique symbol = Symbol.for("weft.ref") as never;

const COLLECT = Symbol.for("weft.collect.v1");

/**
 * Notes a newly defined entity, when a loader is collecting them (`weft
 * compile` lists the tasks a module defines, exported or not).
 *
 * @param def The entity's definition.
 */
export function noteEntity(def: unknown): void {
  const list = (globalThis as unknown as Record<symbol, unknown[] | undefined>)[COLLECT];
  if (list !== undefined) list.push(def);
}
