/**
 * Task attempts: a started task node's inputs are made durable, the cache is
 * asked, then the task runs (in this thread, deferred out of a flow body's
 * async context, or in an executor) with its timeout; a failure is retried
 * after a delay, or fails the node, and Deno's refusals become
 * `PermissionDeniedError`.
 *
 * @module
 */

import { frames } from "../core/call_site.ts";
import {
  describeCause,
  PermissionDeniedError,
  TimeoutError,
  ValidationError,
  WeftError,
} from "../core/errors.ts";
import { encodeValue, sha256 } from "../core/values.ts";
import type { TaskDef } from "../define/defs.ts";
import { delayAfter, mayRetry } from "../define/retry_policy.ts";
import type { CacheHit, RunSession } from "../store/mod.ts";
import { Context, type ContextRun } from "./context.ts";
import type { NodeEventFields, NodeEventType } from "./events.ts";
import {
  asTaskError,
  cancelledError,
  describeError,
  notGranted,
  permissionDenied,
} from "./failures.ts";
import type { Node, TaskNode } from "./node.ts";
import type { Scheduler } from "./scheduler.ts";
import { taskValue } from "./task_call.ts";
import type { TaskExecutor } from "./types.ts";

/** What attempts need of the run. */
export interface AttemptRun extends ContextRun {
  /** The store's session of the run. */
  readonly session: RunSession;
  /** Whether cached results are used. */
  readonly useCache: boolean;
  /** Whether anyone listens to events. */
  readonly listening: boolean;
  /** Why the run was cancelled, when it was. */
  readonly cancelReason: WeftError | undefined;
  /** Where attempts run, when not in this thread. */
  readonly executor: TaskExecutor | undefined;
  /** Tasks replaced for this run, with what runs instead. */
  readonly mocks: ReadonlyMap<TaskDef, (...args: never[]) => unknown> | undefined;
  /** The tasks the run was granted (`weft run`'s plan); undefined: no plan limits them. */
  readonly granted: ReadonlySet<string> | undefined;
  /** The run's root entity's name. */
  readonly rootName: string;
  /** `Date.now()`, one boxed number per millisecond. */
  now(): number;
  /** What a task waits for before it starts (its inputs durable); a promise only when it must wait. */
  beforeStart(node: TaskNode): Promise<void> | undefined;
  /** Emits a node event. */
  nodeEvent<T extends NodeEventType>(type: T, node: Node, fields: NodeEventFields<T>): void;
  /** A node succeeded. */
  succeed(node: Node, value: unknown): void;
  /** A node failed. */
  fail(node: Node, error: WeftError): void;
  /** A node was cancelled. */
  markCancelled(node: Node, reason: WeftError): void;
  /** A node's inputs are ready. */
  ready(node: Node): void;
}

/** Runs the attempts of started task nodes. */
export class Attempts {
  readonly #run: AttemptRun;
  readonly #scheduler: Scheduler;
  /** Task attempts called from flow bodies, waiting to start outside the frame: node, attempt, … */
  #deferred: (Node | number)[] = [];
  /** Resolves the promise whose reaction runs `#drain`; undefined until first needed. */
  #wake: (() => void) | undefined = undefined;
  /** Tasks waiting out a retry delay (or that did, until looked at). */
  readonly #delayed = new Set<TaskNode>();

  /**
   * @param run The run.
   * @param scheduler Its ready queue, whose slots attempts hold.
   */
  constructor(run: AttemptRun, scheduler: Scheduler) {
    this.#run = run;
    this.#scheduler = scheduler;
  }

  /** How many tasks wait out a retry delay. */
  get delayed(): number {
    for (const node of this.#delayed) {
      // A cancelled retry's timer was cleared: it no longer waits.
      if (node.status !== "ready" || node.timer === undefined) this.#delayed.delete(node);
    }
    return this.#delayed.size;
  }

  /**
   * Starts a task node that took a slot: its inputs are durable, then the
   * cache is asked, then it runs.
   *
   * @param node The node.
   */
  start(node: TaskNode): void {
    node.status = "running";
    node.startedAt ??= this.#run.now();
    // (Every node it depends on has succeeded: a failed one skips it instead.)
    node.inputsKnown();
    const def = node.def;
    // A result is durable before a task that depends on it starts.
    const flushed = this.#run.beforeStart(node);
    if (flushed !== undefined) {
      flushed.then(() => this.#lookupCache(node, def), (e) => {
        this.#scheduler.release(node);
        this.#run.fail(node, asTaskError(node, e));
      });
      return;
    }
    this.#lookupCache(node, def);
  }

  #lookupCache(node: TaskNode, def: TaskDef): void {
    if (!(def.cache && this.#run.useCache)) return this.#attempt(node);
    const key = cacheKey(def, node.inputs!);
    let hit: CacheHit | undefined | Promise<CacheHit | undefined>;
    try {
      hit = this.#run.session.cacheGet(key);
    } catch (e) {
      this.#scheduler.release(node);
      return this.#run.fail(node, asTaskError(node, e));
    }
    const use = (h: CacheHit | undefined) => {
      if (h === undefined) return this.#attempt(node);
      node.cachedFrom = h.from;
      this.#scheduler.release(node);
      if (this.#run.listening) this.#run.nodeEvent("node cached", node, { from: h.from });
      this.#run.succeed(node, h.value);
    };
    if (hit instanceof Promise) {
      hit.then(use, (e) => {
        this.#scheduler.release(node);
        this.#run.fail(node, asTaskError(node, e));
      });
    } else use(hit);
  }

  #attempt(node: TaskNode): void {
    if (node.status !== "running") {
      this.#scheduler.release(node);
      return;
    }
    const def = node.def;
    const attempt = ++node.attempt;
    node.controller = undefined;
    if (def.timeoutMs !== undefined) {
      const controller = node.controller = new AbortController();
      node.timer = setTimeout(() => {
        if (node.attempt !== attempt || node.status !== "running") return;
        const error = new TimeoutError(
          `Task '${def.name}' (node '${node.id}') timed out after ${def.timeoutMs} ms on attempt ${attempt}; raise its 'timeout' or make it faster`,
          { nodeId: node.id, task: def.name, attempt },
        );
        controller.abort(error);
        this.#attemptFailed(node, attempt, error);
      }, def.timeoutMs);
    }
    const run = this.#run;
    run.session.changed(node);
    if (run.listening) run.nodeEvent("node started", node, { attempt });
    if (!elsewhere(run.executor, def) && frames.getStore() !== undefined) {
      // Called from a flow body: the task must run outside the flow's frame,
      // so that a task calling a task runs it directly. Entering another async
      // context costs about 1.3 µs in Deno 2.9 (more than the rest of a task
      // call), so the call is handed to a microtask subscribed outside any
      // frame instead: the body's calls up to its next await point start
      // together, in order, right after it.
      this.#deferred.push(node, attempt);
      if (this.#deferred.length === 2) this.#kick();
      return;
    }
    this.#invoke(node, attempt);
  }

  /** Wakes the microtask that starts deferred calls; armed, the first time, outside any frame. */
  #kick(): void {
    if (this.#wake === undefined) frames.run(undefined, this.#arm);
    this.#wake!();
  }

  /** Subscribes the next drain; runs outside any frame (first from `#kick`, then from the drain). */
  readonly #arm = (): void => {
    new Promise<void>((resolve) => this.#wake = resolve).then(this.#drain);
  };

  /**
   * Makes a node called by a flow body ready once the body reaches its next
   * await point, outside the flow's frame (see `#drain`): until then the
   * body may still order it after others (`after`).
   *
   * @param node A pending node whose inputs are ready.
   */
  readyLater(node: Node): void {
    this.#deferred.push(node, 0);
    if (this.#deferred.length === 2) this.#kick();
  }

  /** Starts the calls deferred by flow bodies, in the order they were made. */
  readonly #drain = (): void => {
    const batch = this.#deferred;
    this.#deferred = [];
    this.#arm();
    for (let i = 0; i < batch.length; i += 2) {
      const attempt = batch[i + 1] as number;
      if (attempt === 0) {
        const called = batch[i] as Node;
        // (Ordered after another meanwhile, skipped or cancelled: it waits, or it is done.)
        if (called.status === "pending" && called.waiting === 0) this.#run.ready(called);
        continue;
      }
      const node = batch[i] as TaskNode;
      // A timeout or a cancellation may have ended the attempt meanwhile (and freed its slot).
      if (node.attempt !== attempt || node.status !== "running") continue;
      if (node.stopped) {
        this.#attemptFailed(node, attempt, node.stopReason ?? this.#run.cancelReason);
      } else this.#invoke(node, attempt);
    }
  };

  /** Calls the task's function (or hands it to the executor) for one attempt. */
  #invoke(node: TaskNode, attempt: number): void {
    const def = node.def;
    const ctx = new Context(node, this.#run);
    let result: unknown;
    try {
      const executor = this.#run.executor;
      const mock = this.#run.mocks?.get(def);
      const granted = this.#run.granted;
      if (mock === undefined && granted !== undefined && !granted.has(def.name)) {
        // Deno would refuse what it declares, with a message that blames the declaration.
        const refused = notGranted(node, this.#run.rootName);
        if (refused !== undefined) throw refused;
      }
      if (mock === undefined && elsewhere(executor, def)) {
        result = executor!.execute(def, node.inputs!, ctx, node);
      } else {
        const fn = (mock ?? def.fn) as (...a: unknown[]) => unknown;
        // (`this` is null for the object style and undefined for the positional one, as it was.)
        if (def.style === "object") result = Reflect.apply(fn, null, [node.inputs!, ctx]);
        else {
          const params = def.params;
          const n = params.length;
          if (n <= 2) {
            result = n === 0
              ? fn(ctx)
              : n === 1
              ? fn(node.input(params[0]!.name), ctx)
              : fn(node.input(params[0]!.name), node.input(params[1]!.name), ctx);
          } else {
            const args = new Array(n + 1);
            for (let i = 0; i < n; i++) args[i] = node.input(params[i]!.name);
            args[n] = ctx;
            result = Reflect.apply(fn, undefined, args);
          }
        }
      }
    } catch (e) {
      return this.#attemptFailed(node, attempt, e);
    }
    if (
      typeof result === "object" && result !== null &&
      typeof (result as PromiseLike<unknown>).then === "function"
    ) {
      (result as PromiseLike<unknown>).then(
        (v) => this.#attemptDone(node, attempt, v),
        (e) => this.#attemptFailed(node, attempt, e),
      );
    } else this.#attemptDone(node, attempt, result);
  }

  #attemptDone(node: TaskNode, attempt: number, result: unknown): void {
    if (node.attempt !== attempt || node.status !== "running") return;
    if (node.timer !== undefined) clearTimeout(node.timer);
    node.timer = undefined;
    const def = node.def;
    let value: unknown;
    try {
      value = taskValue(def, node.id, result);
    } catch (e) {
      this.#scheduler.release(node);
      return this.#run.fail(node, asTaskError(node, e));
    }
    this.#scheduler.release(node);
    if (def.cache && this.#run.useCache) {
      node.value = value;
      try {
        this.#run.session.cachePut(cacheKey(def, node.inputs!), node);
      } catch (e) {
        console.error(
          `weft: could not cache the result of node '${node.id}': ${describeCause(e).message}`,
        );
      }
    }
    this.#run.succeed(node, value);
  }

  #attemptFailed(node: TaskNode, attempt: number, e: unknown): void {
    if (node.attempt !== attempt || node.status !== "running") return;
    if (node.timer !== undefined) clearTimeout(node.timer);
    node.timer = undefined;
    const def = node.def;
    const run = this.#run;
    const denied = permissionDenied(node, e);
    const retryable = denied === undefined && !(e instanceof ValidationError) &&
      !(e instanceof PermissionDeniedError) && !node.stopped &&
      attempt <= def.retries && mayRetry(def, e);
    let why: string | undefined;
    if (retryable) {
      const delayMs = delayAfter(def, attempt, Math.random());
      const deadline = def.retryDeadlineMs;
      if (deadline !== undefined && Date.now() + delayMs - node.startedAt! > deadline) {
        why = `; its retryDeadline of ${deadline} ms leaves no time for another attempt`;
      } else {
        this.#retry(node, attempt, delayMs, e);
        return;
      }
    }
    this.#scheduler.release(node);
    if (node.stopped) {
      run.markCancelled(
        node,
        node.stopReason ?? run.cancelReason ?? cancelledError(run.id),
      );
      return;
    }
    run.fail(node, denied ?? asTaskError(node, e, why ?? ""));
  }

  /** Schedules the next attempt after a delay; the slot is free meanwhile. */
  #retry(node: TaskNode, attempt: number, delayMs: number, e: unknown): void {
    const run = this.#run;
    const error = describeError(e);
    try {
      // The store keeps each failed attempt with its stack, for the web UI and weft show.
      run.session.log({
        nodeId: node.id,
        attempt,
        time: Date.now(),
        kind: "retry",
        message: error.message,
        error: e instanceof WeftError ? e.toJSON() : { ...describeCause(e) },
      });
    } catch {
      // a record that cannot be written must not change how the task is retried
    }
    if (run.listening) run.nodeEvent("node retrying", node, { attempt, delayMs, error });
    this.#scheduler.release(node);
    node.status = "ready";
    if (delayMs === 0) {
      // An immediate retry queues again at once (behind what is already ready).
      this.#scheduler.push(node);
      return;
    }
    this.#delayed.add(node);
    node.timer = setTimeout(() => {
      node.timer = undefined;
      this.#delayed.delete(node);
      if (node.status !== "ready") return;
      this.#scheduler.push(node);
    }, delayMs);
    this.#scheduler.pump();
  }
}

/** Whether a task's attempts run in an executor rather than in this thread. */
function elsewhere(executor: TaskExecutor | undefined, def: TaskDef): boolean {
  return executor !== undefined && !(executor.inline?.(def) ?? false);
}

/**
 * The cache key of a call: task name, version and canonical inputs, without
 * the inputs the task's cache ignores.
 */
function cacheKey(def: TaskDef, inputs: Record<string, unknown>): string {
  let keyed = inputs;
  if (def.cacheIgnore.length > 0) {
    keyed = { ...inputs };
    for (const name of def.cacheIgnore) delete keyed[name];
  }
  return sha256(`${def.name}\u0000${def.version ?? ""}\u0000${encodeValue(keyed, true)}`);
}
