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
  /**
   * How to wait: one handle or a structure of them, or the first to settle;
   * `shield` enters (target 1) or leaves (target -1) a non-cancellable scope.
   *
   * @ignore
   */
  readonly [AWAIT]: "all" | "race" | "shield";
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
 * The one-step generator `wait`, `all` and `race` return: it yields the
 * request, then returns what the engine sends back.
 *
 * It is a plain object rather than a `function*` generator because it also
 * speaks the async iterator protocol: `yield*` in an async generator (a flow)
 * then delegates to it directly, instead of wrapping a sync generator in an
 * async-from-sync iterator, which costs several promise jobs per wait (about
 * half a microsecond). Its behaviour under `next`, `throw` and `return` is
 * that of the generator it replaces.
 */
class OneStep<T> {
  #request: AwaitRequest | undefined;
  /** 0 not started, 1 suspended at its yield, 2 done. */
  #state: 0 | 1 | 2 = 0;

  constructor(request: AwaitRequest) {
    this.#request = request;
  }

  next(value?: unknown): IteratorResult<AwaitRequest, T> {
    if (this.#state === 0) {
      this.#state = 1;
      return { value: this.#request!, done: false };
    }
    const done = this.#state === 1;
    this.#state = 2;
    this.#request = undefined;
    return { value: (done ? value : undefined) as T, done: true };
  }

  throw(error: unknown): IteratorResult<AwaitRequest, T> {
    this.#state = 2;
    this.#request = undefined;
    throw error;
  }

  return(value?: T): IteratorResult<AwaitRequest, T> {
    this.#state = 2;
    this.#request = undefined;
    return { value: value as T, done: true };
  }

  [Symbol.iterator](): this {
    return this;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  get [Symbol.toStringTag](): string {
    return "Generator";
  }
}

function oneStep<T>(mode: "all" | "race", target: unknown): Generator<AwaitRequest, T, unknown> {
  return new OneStep<T>({ [AWAIT]: mode, target }) as unknown as Generator<
    AwaitRequest,
    T,
    unknown
  >;
}

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
export function wait<T>(handle: Handle<T> | T): Generator<AwaitRequest, T, unknown> {
  return oneStep<T>("all", handle);
}

/**
 * Waits for every handle in an array or object (at any depth) in a flow:
 * `const [a, b] = yield* all([h1, h2])`. The first failure is thrown.
 *
 * @param handles An array or object holding handles.
 * @returns A generator to delegate to with `yield*`.
 */
export function all<const T extends readonly unknown[] | Record<string, unknown>>(
  handles: T,
): Generator<AwaitRequest, Resolved<T>, unknown> {
  return oneStep<Resolved<T>>("all", handles);
}

/**
 * Waits for the first of several handles to settle in a flow: its value, or
 * its failure thrown. The other tasks keep running; the losing sleeps and
 * signal waits are cancelled (make them in the race: `race([signal("ok"),
 * sleep("1h")])`).
 *
 * @param handles The handles.
 * @returns A generator to delegate to with `yield*`.
 */
export function race<H extends readonly unknown[]>(
  handles: H,
): Generator<AwaitRequest, Resolved<H[number]>, unknown> {
  return oneStep<Resolved<H[number]>>("race", handles);
}

/**
 * Runs a stretch of a flow that cancellation cannot interrupt: its calls are
 * scheduled and its waits resolve even when the flow (or the whole run) was
 * cancelled, so that a flow can clean up — call a task that releases what it
 * holds, record what happened — after catching `CancelledError`, and then
 * rethrow. Temporal's `CancellationScope.nonCancellable` in weft's shape.
 *
 * When to use: in the `catch` (or `finally`) of a flow that must act on its
 * cancellation. Outside a cancelled flow it changes nothing.
 *
 * Gotchas: only calls and waits made inside `body` are protected; keep the
 * cleanup short (a run waits for it before it ends as cancelled).
 *
 * @example Catch the cancellation, clean up, rethrow
 * ```ts
 * import { CancelledError, flow, nonCancellable, run, task, type TaskContext, wait } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const cleaned: string[] = [];
 * const work = task(async function work(ctx: TaskContext) {
 *   await new Promise((resolve, reject) => {
 *     const t = setTimeout(resolve, 5_000);
 *     ctx.signal.addEventListener("abort", () => { clearTimeout(t); reject(ctx.signal.reason); });
 *   });
 * });
 * const cleanup = task(function cleanup(what: string) { cleaned.push(what); });
 * const guarded = flow(async function* guarded() {
 *   try {
 *     yield* wait(work());
 *   } catch (e) {
 *     if (e instanceof CancelledError) {
 *       yield* nonCancellable(async function* () { yield* wait(cleanup("lock")); });
 *     }
 *     throw e;
 *   }
 * });
 * const controller = new AbortController();
 * setTimeout(() => controller.abort(), 20);
 * const result = await run(guarded, {}, { signal: controller.signal });
 * assert.equal(result.status, "cancelled");
 * assert.deepEqual(cleaned, ["lock"]);
 * ```
 *
 * @param body An async generator function: the cleanup, with `yield*` waits as in any flow.
 * @returns A generator to delegate to with `yield*`; it gives what `body` returns.
 */
export async function* nonCancellable<T>(
  body: () => AsyncGenerator<unknown, T, unknown>,
): AsyncGenerator<unknown, T, unknown> {
  yield { [AWAIT]: "shield", target: 1 } satisfies AwaitRequest;
  try {
    return yield* body();
  } finally {
    yield { [AWAIT]: "shield", target: -1 } satisfies AwaitRequest;
  }
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
