/**
 * A flow's state, published under a name for whoever holds the store:
 * `publish("progress", { done: 3 })` is a call of its own, recorded in the
 * run like any other, and `queryRun(runId, "progress", { store })` (or
 * `weft query RUN_ID progress`) reads the latest value published under that
 * name — while the run goes on, while it sleeps holding no process, and
 * after it ended. Temporal's queries read a live workflow's memory; DBOS's
 * `setEvent`/`getEvent` publish durably: weft does the latter, so a query
 * never needs the run's process.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { type Task, task } from "./task.ts";
import { checkSignalName } from "./time.ts";

/**
 * Publishes a value of the run's state under a name, as a recorded call:
 * `queryRun` and `weft query` read the latest value of each name. Its value
 * is the value published, so `yield* wait(publish(…))` orders it before
 * what follows; a publish not waited for is recorded all the same.
 *
 * @example Publish progress, read it back
 * ```ts
 * import { flow, publish, queryRun, run, wait } from "@weft/weft";
 * import { MemoryStore } from "@weft/weft/store";
 * import assert from "node:assert/strict";
 *
 * const steps = flow(async function* steps() {
 *   yield* wait(publish("stage", "fetched"));
 *   yield* wait(publish("stage", "parsed"));
 *   return "done";
 * });
 * const store = new MemoryStore();
 * await run(steps, {}, { store, runId: "steps-1" });
 * assert.equal(await queryRun("steps-1", "stage", { store }), "parsed");
 * ```
 */
export const publish: Task<[name: string, value: unknown], unknown> = task(
  { name: "weft.publish" },
  function publish(name: string, value: unknown) {
    try {
      checkSignalName(name);
    } catch {
      throw new ValidationError(
        `publish() needs a name of 1 to 200 characters without control characters, such as "progress": current value is ${
          JSON.stringify(String(name)).slice(0, 60)
        }`,
      );
    }
    return value;
  },
);
