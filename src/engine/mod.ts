/**
 * The engine's face: `run(entity, inputs, options)` runs a task, workflow,
 * flow or launch plan and resolves to the whole record of the run — status,
 * outputs, errors and the graph — rather than only its value. It resolves a
 * store given by URL (`"memory"`, `"sqlite:PATH"`) to a `Store`; the engine
 * itself only ever sees a `Store`.
 *
 * Loading this module registers the direct call site: a task, workflow or
 * flow called outside any run runs as a run of its own.
 *
 * @module
 */

import { type Clock, REAL_CLOCK } from "../core/clock.ts";
import { checkValue } from "../core/values.ts";
import { ValidationError } from "../core/errors.ts";
import type { Handle } from "../define/handle.ts";
import { checkSignalName } from "../define/time.ts";
import { requireEntity } from "../define/entity.ts";
import type { Store } from "../store/mod.ts";
import { defaultStore, openStore } from "../store/open.ts";
import "./direct.ts";
import { runEntity } from "./execute.ts";
import type { EngineOptions, RunOptions, RunResult } from "./types.ts";

export type {
  EngineOptions,
  RunGraph,
  RunGraphEdge,
  RunGraphNode,
  RunOptions,
  RunResult,
  TaskExecutor,
  TaskMock,
} from "./types.ts";

/**
 * Runs an entity.
 *
 * @example Run a flow and read the record
 * ```ts
 * import { flow, run, task, wait } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const add = task(function add(x: number, y: number) { return x + y; });
 * const twice = flow(async function* twice(x: number) {
 *   const a = add(x, x);
 *   return { sum: yield* wait(add(a, a)) };
 * });
 * const result = await run(twice, { x: 2 });
 * assert.equal(result.status, "succeeded");
 * assert.deepEqual(result.outputs, { sum: 8 });
 * assert.deepEqual(result.graph.nodes.map((n) => n.id), ["add", "add_2"]);
 * ```
 *
 * @param entity A task, workflow, `Workflow`, flow or launch plan.
 * @param inputs The inputs by name.
 * @param options Store, concurrency, run id, cache, cancellation, events.
 * @returns The run's record; a failed run resolves with `status: "failed"` and its errors.
 * @throws {ValidationError} When the inputs are wrong: nothing has run.
 */
export function run<R>(
  // deno-lint-ignore no-explicit-any
  entity: (...args: any[]) => Handle<R>,
  inputs: Record<string, unknown> = {},
  options: RunOptions = {},
): Promise<RunResult<R>> {
  return runWith(entity, inputs, options) as Promise<RunResult<R>>;
}

/**
 * `run()` with the engine's own options too (an executor for task attempts):
 * what the CLI's run child calls.
 *
 * @param entity A task, workflow, `Workflow`, flow or launch plan.
 * @param inputs The inputs by name.
 * @param options Run options, and where task attempts run.
 * @returns The run's record.
 * @throws {ValidationError} When the inputs are wrong: nothing has run.
 */
export async function runWith(
  entity: unknown,
  inputs: Record<string, unknown>,
  options: EngineOptions,
): Promise<RunResult> {
  const def = requireEntity(entity, "run(entity, inputs)");
  return await withStore(
    options.store,
    async (store) => await runEntity(def, inputs, store, options),
  );
}

/**
 * Runs `fn` with the store an option names: a `Store` as given, the process's
 * memory store by default, or one opened by URL (and closed after).
 */
async function withStore<T>(
  given: string | Store | undefined,
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  const owned = typeof given === "string" && given !== "memory";
  const store: Store = typeof given === "object"
    ? given
    : given === undefined
    ? defaultStore()
    : await openStore(given);
  try {
    return await fn(store);
  } finally {
    if (owned) await store.close();
  }
}

/** Options of {@linkcode sendSignal}. */
export interface SendSignalOptions {
  /**
   * The store holding the run: `"memory"`, `"sqlite:PATH"`, or a `Store`.
   * @default "memory" (the process's memory store)
   */
  store?: string | Store;
  /**
   * The clock that dates the signal (a run left sleeping that waits for it
   * becomes due at that time): the run's `TestClock` in tests.
   * @default wall time
   */
  clock?: Clock;
}

/**
 * Sends a signal to a run: the flow waiting with `yield* signal(name)`
 * receives `value` — now, if it waits in a process that watches the store,
 * or when it next runs. A signal sent before the flow waits for it is kept;
 * a run left sleeping that waits for it becomes due, and `weft serve` wakes
 * it. The same as `weft signal RUN_ID NAME [VALUE]`.
 *
 * @param runId The run.
 * @param name The signal's name.
 * @param value The value (JSON plus Date, bigint, Map, Set, Uint8Array); `true` when left out.
 * @param options The store; the clock that dates the signal.
 * @returns The signal's order among the run's signals, from 1.
 * @throws {ValidationError} For an unknown run, one that succeeded, a bad name or a value that cannot be stored.
 */
export async function sendSignal(
  runId: string,
  name: string,
  value: unknown = true,
  options: SendSignalOptions = {},
): Promise<number> {
  checkSignalName(name);
  checkValue(value, () => `The value of signal '${name}'`);
  return await withStore(
    options.store,
    (store) => store.putSignal(runId, name, value, (options.clock ?? REAL_CLOCK).now()),
  );
}

/** Options of {@linkcode queryRun}. */
export interface QueryRunOptions {
  /**
   * The store holding the run: `"memory"`, `"sqlite:PATH"`, `"postgres://…"`, or a `Store`.
   * @default "memory" (the process's memory store)
   */
  store?: string | Store;
}

/**
 * Reads the latest value a run published under a name with
 * `publish(name, value)` (Temporal's queries, DBOS's `getEvent`): while the
 * run goes on, while it sleeps, and after it ended, from the store alone.
 * The same as `weft query RUN_ID NAME`.
 *
 * @param runId The run.
 * @param name The name the flow published under.
 * @param options The store.
 * @returns The value, or undefined when the run has published nothing under that name yet.
 * @throws {ValidationError} For an unknown run or a bad name.
 */
export async function queryRun(
  runId: string,
  name: string,
  options: QueryRunOptions = {},
): Promise<unknown> {
  return (await queryRunState(runId, options.store)).get(name)?.value;
}

/**
 * Every name a run published, with its latest value and when and where it was published.
 *
 * @param runId The run.
 * @param given The store.
 * @returns The names, each with its latest value (the most recently published name last).
 * @throws {ValidationError} For an unknown run.
 */
export async function queryRunState(
  runId: string,
  given: string | Store | undefined,
): Promise<Map<string, { value: unknown; at: number | undefined; nodeId: string }>> {
  return await withStore(given, async (store) => {
    const details = await store.getRun(runId);
    if (details === undefined) {
      throw new ValidationError(
        `No run '${runId}' in the store${
          typeof given === "string" ? ` ${given}` : ""
        }; check the run id (weft runs lists them) and the store`,
      );
    }
    const out = new Map<string, { value: unknown; at: number | undefined; nodeId: string }>();
    // Recorded in the order the run made them: a later publish of a name wins.
    const published = details.nodes
      .filter((n) => n.entity === "weft.publish" && n.status === "succeeded")
      .sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    for (const n of published) {
      const values = await store.nodeValues(runId, n.id);
      const name = values?.inputs.find((i) => i.name === "name")?.value;
      const value = values?.outputs[0];
      if (typeof name !== "string" || value === undefined || !value.stored) continue;
      out.delete(name);
      out.set(name, { value: value.value, at: n.finishedAt, nodeId: n.id });
    }
    return out;
  });
}
