/**
 * `run(entity, inputs, options)`: runs a task, workflow, flow or launch plan
 * and resolves to the whole record of the run — status, outputs, errors and
 * the graph — rather than only its value.
 *
 * @module
 */

import { requireEntity } from "../define/entity.ts";
import { runEntity, type RunOptions, type RunResult } from "./run.ts";
// Registers the direct call site: a task called outside any run runs as a run of its own.
import "./direct.ts";
import type { Handle } from "../define/handle.ts";

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
  const def = requireEntity(entity, "run(entity, inputs)");
  return runEntity(def, inputs, options) as Promise<RunResult<R>>;
}
