/**
 * Testing helpers for weft: a clock that skips time, tasks replaced for a
 * run, and replay checking of new code against recorded runs.
 *
 * @example A week of sleep, skipped
 * ```ts
 * import { flow, run, sleep } from "@weft/weft";
 * import { TestClock } from "@weft/weft/testing";
 * import assert from "node:assert/strict";
 *
 * const week = flow(async function* week() {
 *   yield* sleep("7d");
 *   return "done";
 * });
 * const clock = new TestClock({ start: "2026-01-01T00:00:00Z" });
 * assert.equal((await run(week, {}, { clock })).outputs, "done");
 * assert.equal(new Date(clock.now()).toISOString(), "2026-01-08T00:00:00.000Z");
 * ```
 *
 * @module
 */

export { TestClock } from "./src/core/test_clock.ts";
export type { TestClockOptions } from "./src/core/test_clock.ts";
export type { Clock } from "./src/core/clock.ts";
export { mockTask } from "./src/engine/mocks.ts";
export type { MockContext } from "./src/engine/mocks.ts";
export { replayCheck } from "./src/engine/replay.ts";
export type { ReplayReport } from "./src/engine/replay.ts";
export type { TaskMock } from "./src/engine/types.ts";
