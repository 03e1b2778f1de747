/**
 * Time and randomness for a flow's control flow, journalled so that a replay
 * sees the values the first run saw: `yield* wait(now())` and
 * `yield* wait(random())`. Outside a run they simply resolve to the current
 * time and a random number.
 *
 * @module
 */

import { type Task, task } from "./task.ts";

/**
 * The current time in ms since the epoch, as a journalled call: a replayed
 * flow gets the recorded time, so its branches stay the same.
 *
 * @example Branch on time, replay-safe
 * ```ts
 * import { flow, now, wait } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const stamp = flow(async function* stamp() {
 *   const t = yield* wait(now());
 *   return t > 0 ? "after 1970" : "before";
 * });
 * assert.equal(await stamp(), "after 1970");
 * ```
 */
export const now: Task<[], number> = task({ name: "weft.now" }, function now() {
  return Date.now();
});

/** A random number in [0, 1), as a journalled call: a replayed flow gets the recorded number. */
export const random: Task<[], number> = task({ name: "weft.random" }, function random() {
  return Math.random();
});
