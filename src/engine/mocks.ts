/**
 * Replacing tasks for a run: `mockTask(task, impl)` gives what
 * `run(…, { mocks: [...] })` takes. The run records the task's node as
 * usual (its inputs, value, journal position), but calls `impl`.
 *
 * @module
 */

import type { TaskDef } from "../define/defs.ts";
import type { TaskContext } from "../define/task.ts";
import { requireEntity } from "../define/entity.ts";
import { ValidationError } from "../core/errors.ts";
import type { TaskMock } from "./types.ts";

/**
 * Replaces a task for a run.
 *
 * @example Mock a task that would send mail
 * ```ts
 * import { flow, run, task, wait } from "@weft/weft";
 * import { mockTask } from "@weft/weft/testing";
 * import assert from "node:assert/strict";
 *
 * const sendEmail = task(function sendEmail(to: string): string {
 *   throw new Error("no mail server in tests");
 * });
 * const welcome = flow(async function* welcome(to: string) {
 *   return yield* wait(sendEmail(to));
 * });
 * const sent: string[] = [];
 * const mock = mockTask(sendEmail, (to: string) => (sent.push(to), "queued"));
 * const result = await run(welcome, { to: "ada@example.com" }, { mocks: [mock] });
 * assert.equal(result.outputs, "queued");
 * assert.deepEqual(sent, ["ada@example.com"]);
 * ```
 *
 * @param task The task to replace.
 * @param impl What runs instead: called with the task's inputs, then its context.
 * @returns The mock, for `run`'s `mocks` option.
 * @throws {ValidationError} When `task` is not a task.
 */
export function mockTask(
  task: unknown,
  // deno-lint-ignore no-explicit-any
  impl: (...args: any[]) => unknown,
): TaskMock {
  const def = requireEntity(task, "mockTask(task, impl)");
  if (def.kind !== "task") {
    throw new ValidationError(
      `mockTask(task, impl) replaces tasks; ${def.kind} '${def.name}' is not one (mock the tasks it calls)`,
    );
  }
  if (typeof impl !== "function") {
    throw new ValidationError(`mockTask(${def.name}, impl) needs a function to run instead`);
  }
  const mock: TaskMock = { task: def.name, impl: impl as (...args: never[]) => unknown };
  MOCKED.set(mock, def);
  return mock;
}

/** The task each mock replaces (kept apart: task definitions are internal). */
const MOCKED = new WeakMap<TaskMock, TaskDef>();

/**
 * The task a mock replaces.
 *
 * @param mock A mock made by {@linkcode mockTask}.
 * @returns Its task's definition.
 * @throws {ValidationError} For an object `mockTask` did not make.
 */
export function mockedTask(mock: TaskMock): TaskDef {
  const def = MOCKED.get(mock);
  if (def === undefined) {
    throw new ValidationError(
      "run(…, { mocks }) takes mocks made by mockTask(task, impl) from @weft/weft/testing",
    );
  }
  return def;
}

/** The context a mock receives (the task's). */
export type MockContext = TaskContext;
