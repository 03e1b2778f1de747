/**
 * `task(fn)`: a function that becomes a node when called inside a workflow or
 * flow, and runs directly (resolving to its value) anywhere else.
 *
 * @module
 */

import { currentSite, ENTITY, noteEntity } from "../core/call_site.ts";
import { callerLocation, type EntityDef, namedArgs, type SourceLocation } from "./entity.ts";
import { ValidationError } from "../core/errors.ts";
import { type Duration, parseDuration } from "../core/duration.ts";
import type { Handle } from "./handle.ts";
import { type Param, parseParams } from "./params.ts";
import { checkPermissions, type Permissions } from "./permissions.ts";
import { callDirect } from "../engine/direct.ts";

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

/** Options of {@linkcode task}. */
export interface TaskOptions {
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
   * How many times to retry after a failure.
   * @default 0
   */
  retries?: number;
  /**
   * The first retry delay; each retry doubles it, with jitter, capped at 30 s.
   * @default 100
   */
  retryDelay?: Duration;
  /**
   * How long one attempt may run before its signal aborts and it fails.
   * @default no limit
   */
  timeout?: Duration;
  /**
   * How many calls of this task may run at once in a run.
   * @default the run's limit
   */
  concurrency?: number;
  /**
   * Reuse results across runs, keyed on name, version and inputs.
   * @default false
   */
  cache?: boolean;
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
}

/** The internal definition of a task. */
export interface TaskDef extends EntityDef {
  /** Always `"task"`. */
  readonly kind: "task";
  /** The user's function. */
  readonly fn: (...args: never[]) => unknown;
  /** How inputs are passed to `fn`. */
  readonly style: "positional" | "object";
  /** Retries after a failure. */
  readonly retries: number;
  /** The first retry delay in ms. */
  readonly retryDelayMs: number;
  /** The per-attempt timeout in ms, if any. */
  readonly timeoutMs: number | undefined;
  /** The per-task concurrency limit, if any. */
  readonly concurrency: number | undefined;
  /** Whether results are cached. */
  readonly cache: boolean;
  /** The code version. */
  readonly version: string | undefined;
  /** The declared permissions. */
  readonly permissions: Permissions;
  /** Whether `outputs` was given (the return value is an object or array of outputs). */
  readonly namedOutputs: boolean;
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
  if (typeof a === "function") {
    if (isDecoratorContext(b)) {
      return makeTask({}, a as AnyFunction, String(b.name), callerLocation());
    }
    if (b !== undefined) {
      throw new ValidationError(
        "task(fn) takes one function; to pass options write task(options, fn)",
      );
    }
    return makeTask({}, a as AnyFunction, undefined, callerLocation());
  }
  if (typeof a === "object" && a !== null && !Array.isArray(a)) {
    const options = a as TaskOptions;
    if (typeof b === "function") {
      return makeTask(options, b as AnyFunction, undefined, callerLocation());
    }
    if (b === undefined) {
      const location = callerLocation();
      return (fn: AnyFunction, context: ClassMethodDecoratorContext) => {
        if (!isDecoratorContext(context)) {
          throw new ValidationError(
            "task(options) returns a method decorator; to wrap a function write task(options, fn)",
          );
        }
        return makeTask(options, fn, String(context.name), location);
      };
    }
  }
  throw new ValidationError(
    `task() takes a function, or options and a function; got ${typeof a}${
      b === undefined ? "" : ` and ${typeof b}`
    }`,
  );
}

/**
 * Whether `x` is a TC39 decorator context for a method.
 *
 * @param x The second argument of a call.
 * @returns True for a method decorator context.
 */
export function isDecoratorContext(x: unknown): x is ClassMethodDecoratorContext {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "method" &&
    "name" in x;
}

const OPTION_KEYS = new Set([
  "name",
  "params",
  "outputs",
  "retries",
  "retryDelay",
  "timeout",
  "concurrency",
  "cache",
  "version",
  "permissions",
]);

function makeTask(
  options: TaskOptions,
  fn: AnyFunction,
  decoratedName: string | undefined,
  source: SourceLocation | undefined,
): unknown {
  const name = options.name ?? (fn.name || decoratedName);
  if (!name) {
    throw new ValidationError(
      'A task needs a name: use a named function (task(function add(x, y) {…})) or pass { name: "add" }',
    );
  }
  const what = `task '${name}'`;
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw new ValidationError(
        `Unknown option '${key}' of ${what}; the options are ${[...OPTION_KEYS].join(", ")}`,
      );
    }
  }
  let params: Param[];
  let style: "positional" | "object" = "positional";
  if (options.params !== undefined) {
    if (
      !Array.isArray(options.params) ||
      options.params.some((p) => typeof p !== "string" || p === "")
    ) {
      throw new ValidationError(`The 'params' option of ${what} must be a list of input names`);
    }
    params = options.params.map((p) => ({ name: p, optional: false }));
  } else {
    const sig = parseParams(fn, what, { context: true });
    params = sig.params;
    style = sig.style;
  }
  checkUnique(params.map((p) => p.name), `input names of ${what}`);
  let outputs = ["o0"];
  if (options.outputs !== undefined) {
    if (
      !Array.isArray(options.outputs) ||
      options.outputs.some((o) => typeof o !== "string" || o === "")
    ) {
      throw new ValidationError(`The 'outputs' option of ${what} must be a list of output names`);
    }
    checkUnique(options.outputs, `output names of ${what}`);
    outputs = [...options.outputs];
  }
  const retries = options.retries ?? 0;
  if (!Number.isInteger(retries) || retries < 0) {
    throw new ValidationError(
      `Cannot retry ${what} as 'retries' must be a non-negative integer: current value is ${retries}`,
    );
  }
  const concurrency = options.concurrency;
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new ValidationError(
      `Cannot limit ${what} as 'concurrency' must be a positive integer: current value is ${concurrency}`,
    );
  }
  if (options.cache !== undefined && typeof options.cache !== "boolean") {
    throw new ValidationError(`The 'cache' option of ${what} must be true or false`);
  }
  if (options.version !== undefined && typeof options.version !== "string") {
    throw new ValidationError(
      `The 'version' option of ${what} must be a string, such as "1" or "2024-06-01"`,
    );
  }
  const def: TaskDef = {
    kind: "task",
    name,
    params,
    outputs,
    bare: options.outputs === undefined,
    namedOutputs: options.outputs !== undefined,
    callStyle: style,
    style,
    source,
    fn,
    retries,
    retryDelayMs: options.retryDelay === undefined
      ? 100
      : parseDuration(options.retryDelay, `the retryDelay of ${what}`),
    timeoutMs: options.timeout === undefined
      ? undefined
      : parseDuration(options.timeout, `the timeout of ${what}`),
    concurrency,
    cache: options.cache ?? false,
    version: options.version,
    permissions: checkPermissions(options.permissions ?? {}, what),
  };
  const call = function (this: unknown, ...args: unknown[]): unknown {
    const site = currentSite();
    if (site !== undefined) return site.call(def, namedArgs(def, args));
    return callDirect(def, namedArgs(def, args));
  };
  Object.defineProperty(call, "name", { value: name });
  Object.defineProperty(call, ENTITY, { value: def });
  noteEntity(def);
  return call;
}

/**
 * Throws when a list of names has a duplicate.
 *
 * @param names The names.
 * @param what Names the list in the message.
 * @throws {ValidationError} Naming the duplicate.
 */
export function checkUnique(names: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new ValidationError(`Duplicate name '${n}' in the ${what}`);
    seen.add(n);
  }
}
