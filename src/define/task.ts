/**
 * `task(fn)`: a function that becomes a node when called inside a workflow or
 * flow, and runs directly (resolving to its value) anywhere else.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { type Duration, parseDuration } from "../core/duration.ts";
import type { TaskDef } from "./defs.ts";
import {
  callShape,
  entityForms,
  entityFunction,
  type EntityKind,
  type EntityStart,
} from "./factory.ts";
import type { Handle } from "./handle.ts";
import { checkPermissions, type Permissions } from "./permissions.ts";
import { type RetryOptions, retryPolicy } from "./retry_policy.ts";
import { queueOption } from "./overrides.ts";

/** What a running task receives as the argument after its inputs. */
export interface TaskContext {
  /** Aborted when the task times out or the run is cancelled: pass it to `fetch` and friends. */
  readonly signal: AbortSignal;
  /** The attempt number, from 1. */
  readonly attempt: number;
  /** The id of the run. */
  readonly runId: string;
  /** The id of the node, such as `add_2` or `inner/add`. */
  readonly nodeId: string;
  /** Logs a line for this node: an event for `onEvent`, else a line on stderr. */
  log(...args: unknown[]): void;
}

/** Options of {@linkcode task}: its name and signature, retry policy, timeout, cache, limits, permissions. */
export interface TaskOptions extends RetryOptions {
  /**
   * The task name, used in node ids, cache keys and the IR.
   * @default the function's name
   */
  name?: string;
  /**
   * The input names, for functions whose parameters cannot be read from source.
   * @default parsed from the function source
   */
  params?: string[];
  /**
   * Names of the fields of the returned object (or elements of a returned array) that are outputs.
   * @default one output, `o0`, the whole return value
   */
  outputs?: string[];
  /**
   * How long one attempt may run before its signal aborts and it fails.
   * @default no limit
   */
  timeout?: Duration;
  /**
   * How many calls of this task may run at once in a run; on a PostgreSQL
   * store with workers, across all workers.
   * @default the run's limit
   */
  concurrency?: number;
  /**
   * Reuse results across runs, keyed on name, version and inputs; `{ ignore: ["input"] }`
   * caches too, leaving those inputs out of the key (Flyte's `cache_ignore_input_vars`).
   * @default false
   */
  cache?: boolean | { ignore?: string[] };
  /**
   * The version of the task's code: changing it invalidates cached results.
   * @default undefined
   */
  version?: string;
  /**
   * The Deno permissions the task needs, such as `{ net: ["example.com"] }`.
   * @default {}
   */
  permissions?: Permissions;
  /**
   * The queue its calls are placed on, for workers (`weft worker --queue Q`).
   * @default the default queue
   */
  queue?: string;
}

/** How `task` is made: the keys of {@linkcode TaskOptions}, and how messages ask for a name. */
const TASK: EntityKind = {
  kind: "task",
  fnText: "a function",
  options: new Set([
    "name",
    "params",
    "outputs",
    "retries",
    "retryDelay",
    "backoff",
    "maxRetryDelay",
    "jitter",
    "retryDeadline",
    "retryIf",
    "nonRetryable",
    "timeout",
    "concurrency",
    "cache",
    "version",
    "permissions",
    "queue",
  ]),
  example: 'use a named function (task(function add(x, y) {…})) or pass { name: "add" }',
};

/** What `task.with({…})` may change for one call (Flyte's `with_overrides`). */
export interface TaskCallOptions {
  /** The node id to use instead of the task's name. */
  name?: string;
  /** Retries after a failure. */
  retries?: number;
  /** One attempt's timeout. */
  timeout?: Duration;
  /** Whether results are cached. */
  cache?: boolean;
  /** The queue the call is placed on, for workers. */
  queue?: string;
}

/** A value, or a handle to one, or arrays and plain objects mixing these at any depth. */
export type Input<T> =
  | T
  | Handle<T>
  | (T extends
    Date | Map<unknown, unknown> | Set<unknown> | Uint8Array | ((...a: never[]) => unknown) ? never
    : T extends readonly (infer E)[] ? ReadonlyArray<Input<E>>
    : T extends object ? { [K in keyof T]: Input<T[K]> }
    : never);

/** Maps a parameter list to what a call accepts: each a value or a handle. */
export type Inputs<P extends readonly unknown[]> = { [K in keyof P]: Input<P[K]> };

/** The parameters of `F`, without a final {@linkcode TaskContext}. */
export type TaskParams<F extends (...args: never[]) => unknown> = Parameters<F> extends
  [...infer Head, infer Last] ? ([Last] extends [TaskContext] ? Head : Parameters<F>)
  : Parameters<F>;

/**
 * A task: call it with values or handles. Inside a workflow or flow the call
 * becomes a node and returns its handle; elsewhere it runs and the handle
 * resolves to the value.
 *
 * @typeParam P The input types.
 * @typeParam R The (awaited) return type.
 */
export interface Task<P extends readonly unknown[], R> {
  /** Calls the task. */
  (...args: Inputs<P>): Handle<R>;
  /** The task name. */
  readonly name: string;
  /**
   * The same task with some options changed for the calls made through the
   * result: `fetch.with({ name: "fetch_eu", retries: 5 })(url)`. The node id
   * takes the given name; the task itself is unchanged.
   */
  with(options: TaskCallOptions): Task<P, R>;
}

/** Any function: what `task` and `workflow` accept. */
// deno-lint-ignore no-explicit-any
export type AnyFunction = (...args: any[]) => unknown;

/**
 * The decorator form on a static method: `@task static add(x, y) {…}`. The
 * method's declared type cannot change, so prefer `task(fn)` for exact types.
 *
 * @param fn The method.
 * @param context The decorator context.
 * @returns The task, in place of the method.
 */
export function task<F extends AnyFunction, This = unknown>(
  fn: F,
  context: ClassMethodDecoratorContext<This, F>,
): F;
/**
 * Makes a task of a function.
 *
 * @example Define and call a task
 * ```ts
 * import { task } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const add = task(function add(x: number, y: number) { return x + y; });
 * assert.equal(await add(1, 2), 3);
 * ```
 *
 * @param fn The function. Its parameters are the inputs; a final parameter
 * named `ctx` receives the {@linkcode TaskContext}.
 * @returns The task.
 */
export function task<F extends AnyFunction>(fn: F): Task<TaskParams<F>, Awaited<ReturnType<F>>>;
/**
 * Makes a task of a function, with options.
 *
 * @param options Name, retries, timeout, cache, permissions…
 * @param fn The function.
 * @returns The task.
 */
export function task<F extends AnyFunction>(
  options: TaskOptions,
  fn: F,
): Task<TaskParams<F>, Awaited<ReturnType<F>>>;
/**
 * The decorator form with options: `@task({ retries: 2 }) static fetch(url) {…}`.
 *
 * @param options Name, retries, timeout, cache, permissions…
 * @returns A method decorator.
 */
export function task(
  options: TaskOptions,
): <F extends AnyFunction>(fn: F, context: ClassMethodDecoratorContext) => F;
export function task(a: unknown, b?: unknown): unknown {
  return entityForms(TASK, a, b, makeTask);
}

function makeTask(options: TaskOptions, fn: AnyFunction, start: EntityStart): unknown {
  const { name, what } = start;
  const shape = callShape(options, fn, start, true);
  const policy = retryPolicy(options, what);
  const concurrency = options.concurrency;
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new ValidationError(
      `Cannot limit ${what} as 'concurrency' must be a positive integer: current value is ${concurrency}`,
    );
  }
  const cacheIgnore = cacheOption(options.cache, shape.params.map((p) => p.name), what);
  const queue = queueOption(options.queue, what);
  if (options.version !== undefined && typeof options.version !== "string") {
    throw new ValidationError(
      `The 'version' option of ${what} must be a string, such as "1" or "2024-06-01"`,
    );
  }
  const def: TaskDef = {
    kind: "task",
    name,
    ...shape,
    fn,
    ...policy,
    timeoutMs: options.timeout === undefined
      ? undefined
      : parseDuration(options.timeout, `the timeout of ${what}`),
    concurrency,
    cache: options.cache !== undefined && options.cache !== false,
    cacheIgnore,
    queue,
    version: options.version,
    permissions: checkPermissions(options.permissions ?? {}, what),
  };
  return entityFunction(def);
}

/**
 * Checks a `cache` option.
 *
 * @param cache The option as given.
 * @param inputs The task's input names.
 * @param what The task in messages.
 * @returns The inputs left out of the cache key.
 * @throws {ValidationError} On a malformed option or an unknown input name.
 */
function cacheOption(cache: unknown, inputs: readonly string[], what: string): string[] {
  if (cache === undefined || typeof cache === "boolean") return [];
  const ignore = (cache as { ignore?: unknown }).ignore;
  const keys = typeof cache === "object" && cache !== null ? Object.keys(cache) : [];
  if (
    typeof cache !== "object" || cache === null || keys.some((k) => k !== "ignore") ||
    (ignore !== undefined && (!Array.isArray(ignore) || ignore.some((i) => typeof i !== "string")))
  ) {
    throw new ValidationError(
      `The 'cache' option of ${what} must be true, false or { ignore: ["inputName", …] }`,
    );
  }
  for (const name of (ignore ?? []) as string[]) {
    if (!inputs.includes(name)) {
      throw new ValidationError(
        `The cache of ${what} ignores input '${name}', but its inputs are ${
          inputs.join(", ") || "none"
        }`,
      );
    }
  }
  return [...new Set((ignore ?? []) as string[])].sort();
}
