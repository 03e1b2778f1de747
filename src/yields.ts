/**
 * What a flow yields to wait: `wait(h)`, `all(x)` and `race(x)` each yield a
 * request the engine resolves and sends back, so that `yield*` gives the
 * exact type of the result.
 *
 * @module
 */

import type { Handle } from "./handle.ts";

/** The brand of a wait request, shared by every copy of weft in the process. */
export const AWAIT: unique symbol = Symbol.for("weft.await") as never;

/** A request to the engine from a flow. */
export interface AwaitRequest {
  /** How to wait: one handle or a structure of them, or the first to settle. */
  readonly [AWAIT]: "all" | "race";
  /** What to wait for. */
  readonly target: unknown;
}

/** The value of `T` once every handle in it is resolved, at any depth. */
export type Resolved<T> = T extends Handle<infer U> ? U
  : T extends Date | Map<unknown, unknown> | Set<unknown> | Uint8Array ? T
  : T extends readonly unknown[] ? { -readonly [K in keyof T]: Resolved<T[K]> }
  : T extends Record<string, unknown> ? { -readonly [K in keyof T]: Resolved<T[K]> }
  : T;

/**
 * Waits for one handle in a flow: `const v = yield* wait(h)` gives `v` the
 * handle's exact type.
 *
 * @example Wait in a loop
 * ```ts
 * import { flow, task, wait } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const add = task(function add(x: number, y: number) { return x + y; });
 * const count = flow(async function* count(n: number) {
 *   let total = add(0, 0);
 *   while ((yield* wait(total)) < n) total = add(total, 1);
 *   return total;
 * });
 * assert.equal(await count(3), 3);
 * ```
 *
 * @param handle The handle (or any value, which comes back as it is).
 * @returns A generator to delegate to with `yield*`.
 */
export function* wait<T>(handle: Handle<T> | T): Generator<AwaitRequest, T, unknown> {
  return (yield { [AWAIT]: "all", target: handle }) as T;
}

/**
 * Waits for every handle in an array or object (at any depth) in a flow:
 * `const [a, b] = yield* all([h1, h2])`. The first failure is thrown.
 *
 * @param handles An array or object holding handles.
 * @returns A generator to delegate to with `yield*`.
 */
export function* all<const T extends readonly unknown[] | Record<string, unknown>>(
  handles: T,
): Generator<AwaitRequest, Resolved<T>, unknown> {
  return (yield { [AWAIT]: "all", target: handles }) as Resolved<T>;
}

/**
 * Waits for the first of several handles to settle in a flow: its value, or
 * its failure thrown. The others keep running.
 *
 * @param handles The handles.
 * @returns A generator to delegate to with `yield*`.
 */
export function* race<T>(
  handles: readonly (Handle<T> | T)[],
): Generator<AwaitRequest, T, unknown> {
  return (yield { [AWAIT]: "race", target: handles }) as T;
}

/**
 * Whether a yielded value is a wait request.
 *
 * @param x The yielded value.
 * @returns True for requests made by `wait`, `all` and `race`.
 */
export function isAwaitRequest(x: unknown): x is AwaitRequest {
  return typeof x === "object" && x !== null && (x as { [AWAIT]?: unknown })[AWAIT] !== undefined;
}
