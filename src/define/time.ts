/**
 * Durable waits in flows: `yield* sleep("3d")`, `yield* sleepUntil(date)` and
 * `yield* signal<T>(name, { timeout })`. Each is a node of the run, journalled
 * like a call: a sleep records when it started (so a resumed run wakes at the
 * same time), a signal records the value it received (so a replay sees the
 * same value). The handle each returns also works in `race` and `all`.
 *
 * @module
 */

import { currentFrame } from "../core/call_site.ts";
import { type Duration, parseDuration } from "../core/duration.ts";
import { ValidationError } from "../core/errors.ts";
import type { WaitDef, WaitKind } from "./defs.ts";
import { Handle, slotOf } from "./handle.ts";
import { inputType, type TypeSpec } from "./input_types.ts";
import { type AwaitRequest, wait } from "./yields.ts";

/**
 * The handle of a durable wait: `yield*` it to wait (it is a one-step
 * generator, like `wait(h)`), or pass it to `race` and `all` like any handle.
 *
 * @typeParam T What waiting gives: nothing for a sleep, the value for a signal.
 */
export class WaitHandle<T> extends Handle<T> {
  /**
   * Waits for it: `yield* handle` gives its value, typed.
   *
   * @returns A one-step generator.
   */
  [Symbol.iterator](): Generator<AwaitRequest, T, unknown> {
    return wait<T>(this);
  }
}

function waitDef(kind: WaitKind, schema?: TypeSpec): WaitDef {
  return {
    kind,
    name: `weft.${kind}`,
    params: kind === "sleep"
      ? [{ name: "ms", optional: true }, { name: "until", optional: true }]
      : [{ name: "name", optional: false }, { name: "timeoutMs", optional: true }],
    outputs: ["o0"],
    bare: true,
    callStyle: "object",
    source: undefined,
    schema: schema === undefined ? undefined : inputType(schema, `a signal's value`),
  };
}

const SLEEP: WaitDef = waitDef("sleep");
const SIGNAL: WaitDef = waitDef("signal");

function callWait<T>(what: string, def: WaitDef, args: Record<string, unknown>): WaitHandle<T> {
  const site = currentFrame();
  if (site === undefined) {
    throw new ValidationError(
      `${what} waits durably only inside a running flow: write yield* ${what} in the body of flow(async function* …); a task waits with setTimeout, a declarative workflow cannot wait`,
    );
  }
  const handle = site.call(def, args) as Handle<T>;
  return new WaitHandle<T>(slotOf(handle).source);
}

/**
 * Sleeps durably in a flow: `yield* sleep("3d")`. The run records when the
 * sleep started; a sleeping run holds no process when it is suspended (see
 * `run`'s `suspend` option and `weft serve`), and whoever resumes it wakes at
 * the recorded time, at once if it has passed. In `race([sleep("1h"), h])`
 * the losing timer is cancelled; a flow that returns while a sleep is
 * pending does not wait for it.
 *
 * @example A reminder after a delay
 * ```ts
 * import { flow, run, sleep, task, wait } from "@weft/weft";
 * import { TestClock } from "@weft/weft/testing";
 * import assert from "node:assert/strict";
 *
 * const remind = task(function remind(who: string) { return `reminded ${who}`; });
 * const reminder = flow(async function* reminder(who: string) {
 *   yield* sleep("3d");
 *   return yield* wait(remind(who));
 * });
 * const result = await run(reminder, { who: "ada" }, { clock: new TestClock() });
 * assert.equal(result.outputs, "reminded ada");
 * ```
 *
 * @param duration How long: ms, or a string such as `"30s"`, `"1h"`, `"3d"`.
 * @returns A handle to `yield*` (or race).
 * @throws {ValidationError} Outside a flow, or for a duration that is not one.
 */
export function sleep(duration: Duration): WaitHandle<void> {
  const ms = duration === 0 ? 0 : parseDuration(duration, "sleep(duration)");
  return callWait<void>(`sleep(${JSON.stringify(duration)})`, SLEEP, { ms });
}

/**
 * Sleeps durably in a flow until a time: `yield* sleepUntil(new Date("…"))`.
 *
 * @param date When to wake: a Date, or ms since the epoch.
 * @returns A handle to `yield*` (or race).
 * @throws {ValidationError} Outside a flow, or for something that is not a time.
 */
export function sleepUntil(date: Date | number): WaitHandle<void> {
  const at = date instanceof Date ? date.getTime() : date;
  if (typeof at !== "number" || !Number.isFinite(at)) {
    throw new ValidationError(
      `sleepUntil(date) needs a Date or a number of ms since the epoch: current value is ${
        String(date)
      }`,
    );
  }
  return callWait<void>("sleepUntil(date)", SLEEP, { until: new Date(at) });
}

/** Options of {@linkcode signal}. */
export interface SignalOptions {
  /**
   * Give up after this long: the wait then gives `undefined`.
   * @default no timeout
   */
  timeout?: Duration;
  /**
   * The type the value must have (a type string, JSON Schema or Standard
   * Schema); a value that does not fit fails the wait with a `ValidationError`.
   * @default any value
   */
  schema?: TypeSpec;
}

/**
 * Waits in a flow for a named value sent from outside: by
 * `sendSignal(runId, name, value, { store })` or `weft signal RUN_ID NAME
 * [VALUE]`. A signal sent before the flow waits for it is kept; several of
 * one name are received in the order sent, each once. The value received is
 * journalled, so a replay sees the same value.
 *
 * @example An approval
 * ```ts
 * import { flow, run, sendSignal, signal } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const approval = flow(async function* approval() {
 *   const ok = yield* signal<boolean>("approve");
 *   return ok ? "approved" : "rejected";
 * });
 * const pending = run(approval, {}, { runId: "order-42" });
 * await new Promise((r) => setTimeout(r, 10));
 * await sendSignal("order-42", "approve", true);
 * assert.equal((await pending).outputs, "approved");
 * ```
 *
 * @typeParam T The value's type.
 * @param name The signal's name.
 * @param options A timeout (the wait then may give `undefined`) and a schema.
 * @returns A handle to `yield*` (or race).
 * @throws {ValidationError} Outside a flow, or for a bad name or option.
 */
export function signal<T = unknown>(
  name: string,
  options: SignalOptions & { timeout: Duration },
): WaitHandle<T | undefined>;
/**
 * Waits in a flow for a named value sent from outside, with no timeout: the
 * wait gives the value (see the form with a timeout for the details).
 *
 * @typeParam T The value's type.
 * @param name The signal's name.
 * @param options A schema.
 * @returns A handle to `yield*` (or race).
 * @throws {ValidationError} Outside a flow, or for a bad name or option.
 */
export function signal<T = unknown>(name: string, options?: SignalOptions): WaitHandle<T>;
export function signal<T = unknown>(
  name: string,
  options: SignalOptions = {},
): WaitHandle<T | undefined> {
  checkSignalName(name);
  const args: Record<string, unknown> = { name };
  if (options.timeout !== undefined) {
    args.timeoutMs = options.timeout === 0
      ? 0
      : parseDuration(options.timeout, `the timeout of signal('${name}')`);
  }
  const def = options.schema === undefined ? SIGNAL : waitDef("signal", options.schema);
  return callWait<T>(`signal(${JSON.stringify(name)})`, def, args);
}

/**
 * Checks a signal name: 1 to 200 characters, no control characters.
 *
 * @param name The name.
 * @throws {ValidationError} For another name.
 */
export function checkSignalName(name: unknown): asserts name is string {
  if (
    typeof name !== "string" || name.length === 0 || name.length > 200 ||
    [...name].some((c) => c.charCodeAt(0) < 32)
  ) {
    throw new ValidationError(
      `A signal name must be a string of 1 to 200 characters without control characters: current value is ${
        JSON.stringify(name)
      }`,
    );
  }
}
