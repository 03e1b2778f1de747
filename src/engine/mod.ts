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

import type { Handle } from "../define/handle.ts";
import { requireEntity } from "../define/entity.ts";
import type { Store } from "../store/mod.ts";
import { defaultStore, openStore } from "../store/open.ts";
import "./direct.ts";
import { runEntity } from "./execute.ts";
import type { EngineOptions, RunOptions, RunResult } from "./types.ts";

export type {
  RunGraph,
  RunGraphEdge,
  RunGraphNode,
  RunOptions,
  RunResult,
  TaskExecutor,
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
  const given = options.store;
  const owned = typeof given === "string" && given !== "memory";
  const store: Store = typeof given === "object"
    ? given
    : given === undefined
    ? defaultStore()
    : await openStore(given);
  try {
    return await runEntity(def, inputs, store, options);
  } finally {
    if (owned) await store.close();
  }
}
