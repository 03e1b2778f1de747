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

/**
 * What the layers above register here, so that the definition layer can call
 * into them without importing them: the engine's direct call site, and the
 * IR's describer. Per copy of weft (each copy registers its own).
 */
const registered: { direct: CallSite | undefined; describe: Describer | undefined } = {
  direct: undefined,
  describe: undefined,
};

/** Describes entities as a `weft.dag/v1` document (the IR registers it). */
export type Describer = (entities: readonly unknown[]) => unknown;

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
 * Registers where a call outside any trace or run goes: the engine runs it
 * as a run of its own.
 *
 * @param site The engine's direct call site.
 */
export function registerDirect(site: CallSite): void {
  registered.direct = site;
}

/**
 * The engine's direct call site.
 *
 * @returns The site that runs a call as a run of its own.
 * @throws {Error} When the engine is not loaded (weft was imported other than through mod.ts).
 */
export function directSite(): CallSite {
  const site = registered.direct;
  if (site === undefined) {
    throw new Error(
      "weft's engine is not loaded: import weft through its mod.ts (or @weft/weft), not a file under src/",
    );
  }
  return site;
}

/**
 * Calls an entity where the call lands now: recorded by a trace, scheduled
 * by a running frame, or run directly.
 *
 * @param def The entity's definition.
 * @param args Its inputs by name.
 * @returns The call's handle.
 */
export function callEntity(def: unknown, args: Record<string, unknown>): unknown {
  const traces = shared.traces;
  const site = traces.length > 0 ? traces[traces.length - 1]! : frames.getStore();
  return (site ?? directSite()).call(def, args);
}

/**
 * Registers the IR's describer, which gives workflows their `.graph`.
 *
 * @param describe Turns entities into a document.
 */
export function registerDescriber(describe: Describer): void {
  registered.describe = describe;
}

/**
 * Describes entities as a `weft.dag/v1` document.
 *
 * @param entities The entities.
 * @returns The document.
 * @throws {Error} When the IR is not loaded.
 */
export function describe(entities: readonly unknown[]): unknown {
  if (registered.describe === undefined) {
    throw new Error(
      "weft's IR is not loaded: import weft through its mod.ts (or @weft/weft), not a file under src/",
    );
  }
  return registered.describe(entities);
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

/**
 * The running frame a call lands in now, or undefined outside any run and
 * while a declarative workflow is being traced.
 *
 * @returns The frame's call site.
 */
export function currentFrame(): CallSite | undefined {
  return shared.traces.length > 0 ? undefined : frames.getStore();
}
