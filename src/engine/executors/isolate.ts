/**
 * Per-task grants: each task that declares a permission runs in a Deno
 * Worker holding exactly its own grant (plus read on the script's module
 * files and import from its module hosts, which every Worker needs to load
 * it); tasks that declare nothing run in the engine's own thread. Workers
 * are pooled per distinct permission set (up to the number of cores each)
 * and reused, so the cost of starting one is paid once per set, not per
 * call.
 *
 * The executor talks to each Worker over a `MessagePort`. Who starts the
 * Workers is up to its owner: `weft run`'s engine runs in a Worker that
 * holds no permission itself (and so could not start a Worker with more),
 * so it asks the process's main thread (see `cli/run_child.ts`), which
 * starts only the permission sets the plan allowed. Without `spawn`, the
 * Workers are started here (needs `--unstable-worker-options`).
 *
 * @module
 */

import type { TaskExecutor } from "../types.ts";
import type { TaskDef } from "../../define/defs.ts";
import type { TaskContext } from "../../define/task.ts";
import { PERMISSION_KINDS, type Permissions } from "../../define/permissions.ts";

/** A Worker's permissions, as `new Worker(…, { deno: { permissions } })` takes them. */
export type WorkerPermissions = Record<(typeof PERMISSION_KINDS)[number], boolean | string[]>;

/** Options of {@linkcode IsolateExecutor}. */
export interface IsolateOptions {
  /** The script's URL: Workers import it to find their tasks. */
  url: string;
  /** Each task's own grant, by task name (paths resolved). A task with none runs in this thread. */
  perTask: Record<string, Permissions>;
  /** Read access every Worker needs (the module files). */
  moduleRead: string[];
  /** Hosts every Worker may import from (the module graph's). */
  importHosts: string[];
  /**
   * Run tasks that declare nothing in this thread (`weft run`'s driver,
   * which holds no permission itself); otherwise they run in a Worker
   * holding nothing but what loading the script needs.
   * @default false
   */
  inline?: boolean;
  /**
   * Starts Worker number `serial` for a permission set; it will talk over
   * `port`. If it crashes, tell {@linkcode IsolateExecutor.crashed}.
   * @default starts it in this thread
   */
  spawn?: (serial: number, set: number, permissions: WorkerPermissions, port: MessagePort) => void;
  /**
   * Workers per permission set at most.
   * @default navigator.hardwareConcurrency
   */
  poolSize?: number;
}

/**
 * The Worker permissions of a task: exactly its own grant, read on the
 * module files, import from the graph's hosts and from the hosts it may
 * reach anyway (its `import` and `net` grants).
 *
 * @param own The task's grant.
 * @param moduleRead The module files.
 * @param importHosts The graph's hosts.
 * @returns The permissions, in a fixed order (so that equal sets compare equal as JSON).
 */
export function workerPermissions(
  own: Permissions,
  moduleRead: readonly string[],
  importHosts: readonly string[],
): WorkerPermissions {
  const list = (v: true | string[] | undefined, extra: readonly string[] = []) =>
    v === true ? true : [...new Set([...(v ?? []), ...extra])].sort();
  const out = {} as WorkerPermissions;
  for (const kind of PERMISSION_KINDS) {
    const v = own[kind];
    if (kind === "read") out.read = list(v, moduleRead);
    else if (kind === "import") {
      const net = own.net;
      const hosts = v === true || net === true ? true : list(v, [...importHosts, ...(net ?? [])]);
      out.import = hosts === true ? true : hosts.length > 0 ? hosts : false;
    } else out[kind] = v === true ? true : v === undefined ? false : [...v].sort();
  }
  if (Array.isArray(out.read) && out.read.length === 0) out.read = false;
  return out;
}

/**
 * The distinct Worker permission sets of a plan, in a fixed order (the
 * numbers `spawn` receives), and each task's set.
 *
 * @param perTask Each task's own grant.
 * @param moduleRead The module files.
 * @param importHosts The graph's hosts.
 * @param inline Leave out tasks that declare nothing (they run in the engine's thread).
 * @returns The sets, and the set of each task that runs in a Worker.
 */
export function permissionSets(
  perTask: Record<string, Permissions>,
  moduleRead: readonly string[],
  importHosts: readonly string[],
  inline = true,
): { sets: WorkerPermissions[]; setOf: Map<string, number> } {
  const sets: WorkerPermissions[] = [];
  const setOf = new Map<string, number>();
  const keys = new Map<string, number>();
  for (const [task, own] of Object.entries(perTask)) {
    if (inline && !declares(own)) continue;
    const p = workerPermissions(own, moduleRead, importHosts);
    const key = JSON.stringify(p);
    let set = keys.get(key);
    if (set === undefined) {
      keys.set(key, set = sets.length);
      sets.push(p);
    }
    setOf.set(task, set);
  }
  return { sets, setOf };
}

/** Whether a grant declares anything. */
function declares(p: Permissions | undefined): boolean {
  return p !== undefined && PERMISSION_KINDS.some((k) => p[k] !== undefined);
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  ctx: TaskContext;
}

interface PooledWorker {
  port: MessagePort;
  busy: number;
  pending: Map<number, Pending>;
  worker?: Worker;
}

/** Runs the attempts of tasks that declare permissions in Workers holding exactly those. */
export class IsolateExecutor implements TaskExecutor {
  readonly #options: IsolateOptions;
  /** The distinct permission sets, and each task's set. */
  readonly #sets: WorkerPermissions[];
  readonly #setOf: Map<string, number>;
  readonly #pools = new Map<number, PooledWorker[]>();
  readonly #bySerial = new Map<number, PooledWorker>();
  #nextId = 0;
  readonly #poolSize: number;

  /**
   * @param options The script, the grants, how Workers start.
   */
  constructor(options: IsolateOptions) {
    this.#options = options;
    this.#poolSize = options.poolSize ?? Math.max(1, navigator.hardwareConcurrency || 1);
    const { sets, setOf } = permissionSets(
      options.perTask,
      options.moduleRead,
      options.importHosts,
      options.inline ?? false,
    );
    this.#sets = sets;
    this.#setOf = setOf;
  }

  /**
   * Starts one Worker for each permission set now, so that the first task
   * of each finds its Worker loaded (the script imported) instead of
   * waiting for it.
   */
  warm(): void {
    for (let set = 0; set < this.#sets.length; set++) {
      if (!this.#pools.has(set)) this.#pools.set(set, [this.#start(set)]);
    }
  }

  /** The distinct permission sets, indexed as `spawn` receives them. */
  get sets(): readonly WorkerPermissions[] {
    return this.#sets;
  }

  /**
   * Whether a task runs in the engine's thread: one that declares nothing,
   * when the executor was made with `inline`.
   *
   * @param def The task.
   * @returns True when it runs here.
   */
  inline(def: TaskDef): boolean {
    return (this.#options.inline ?? false) && !this.#setOf.has(def.name);
  }

  /**
   * Whether the engine's thread holds no permission: `inline` is only for
   * such a thread (else the tasks that declare nothing would run with its
   * grants), so the run may act on their results before they are durable
   * (see {@linkcode TaskExecutor.contained}).
   */
  get contained(): boolean {
    return this.#options.inline ?? false;
  }

  /**
   * Runs one attempt of a task in a Worker of its permission set.
   *
   * @param def The task.
   * @param inputs Its inputs.
   * @param ctx Its context; aborting `ctx.signal` aborts the attempt in the Worker.
   * @returns A promise of the task's value.
   */
  execute(def: TaskDef, inputs: Record<string, unknown>, ctx: TaskContext): Promise<unknown> {
    const set = this.#setOf.get(def.name);
    if (set === undefined) {
      return Promise.reject(
        new Error(`task '${def.name}' is not one this run planned (no Worker runs it)`),
      );
    }
    const pooled = this.#pick(set);
    const id = this.#nextId++;
    pooled.busy++;
    return new Promise((resolve, reject) => {
      const onAbort = () =>
        pooled.port.postMessage({
          t: "abort",
          id,
          reason: String(ctx.signal.reason?.message ?? "aborted"),
        });
      const settle = () => {
        pooled.busy--;
        ctx.signal.removeEventListener("abort", onAbort);
      };
      pooled.pending.set(id, {
        resolve: (v) => {
          settle();
          resolve(v);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
        ctx,
      });
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener("abort", onAbort, { once: true });
      pooled.port.postMessage({
        t: "run",
        id,
        task: def.name,
        inputs,
        attempt: ctx.attempt,
        runId: ctx.runId,
        nodeId: ctx.nodeId,
      });
    });
  }

  /**
   * A Worker crashed: its attempts fail.
   *
   * @param serial The Worker's number (as `spawn` was given it).
   * @param message What happened.
   */
  crashed(serial: number, message: string): void {
    const pooled = this.#bySerial.get(serial);
    if (pooled === undefined) return;
    for (const [id, p] of pooled.pending) {
      pooled.pending.delete(id);
      p.reject(new Error(`a task Worker crashed: ${message}`));
    }
  }

  /** Stops every Worker. */
  close(): void {
    for (const pool of this.#pools.values()) {
      for (const p of pool) {
        p.port.postMessage({ t: "close" });
        p.port.close();
        p.worker?.terminate();
      }
    }
    this.#pools.clear();
  }

  #pick(set: number): PooledWorker {
    let pool = this.#pools.get(set);
    if (pool === undefined) this.#pools.set(set, pool = []);
    const idle = pool.find((p) => p.busy === 0);
    if (idle !== undefined) return idle;
    if (pool.length < this.#poolSize) {
      const p = this.#start(set);
      pool.push(p);
      return p;
    }
    return pool.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  #start(set: number): PooledWorker {
    const { port1, port2 } = new MessageChannel();
    const pooled: PooledWorker = { port: port1, busy: 0, pending: new Map() };
    const permissions = this.#sets[set]!;
    const serial = this.#bySerial.size;
    this.#bySerial.set(serial, pooled);
    if (this.#options.spawn !== undefined) this.#options.spawn(serial, set, permissions, port2);
    else {
      pooled.worker = startTaskWorker(
        this.#options.url,
        set,
        permissions,
        port2,
        (message) => this.crashed(serial, message),
      );
    }
    const pending = pooled.pending;
    port1.onmessage = (event: MessageEvent) => {
      const m = event.data as
        | { t: "done"; id: number; value: unknown }
        | { t: "fail"; id: number; error: { name: string; message: string; stack?: string } }
        | { t: "log"; id: number; args: string }
        | { t: "fatal"; error: { name: string; message: string } };
      if (m.t === "fatal") {
        for (const [id, p] of pending) {
          pending.delete(id);
          p.reject(rebuild(m.error));
        }
        return;
      }
      const p = pending.get(m.id);
      if (p === undefined) return;
      if (m.t === "log") {
        p.ctx.log(m.args);
        return;
      }
      pending.delete(m.id);
      if (m.t === "done") p.resolve(m.value);
      else p.reject(rebuild(m.error));
    };
    return pooled;
  }
}

/**
 * Starts a task Worker with exactly `permissions`, talking over `port`.
 *
 * @param url The script.
 * @param set The permission set's number (names the Worker).
 * @param permissions Its permissions.
 * @param port Its end of the channel to the executor.
 * @param onCrash Told when the Worker dies of an uncaught error.
 * @returns The Worker.
 */
export function startTaskWorker(
  url: string,
  set: number,
  permissions: WorkerPermissions,
  port: MessagePort,
  onCrash: (message: string) => void,
): Worker {
  const worker = new Worker(new URL("./isolate_worker.ts", import.meta.url), {
    type: "module",
    name: `weft:tasks:${set}`,
    // deno-lint-ignore no-explicit-any
    deno: { permissions } as any,
  } as WorkerOptions);
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    onCrash(event.message);
  };
  worker.postMessage({ t: "init", url, port }, [port]);
  return worker;
}

function rebuild(e: { name: string; message: string; stack?: string }): Error {
  const error = new Error(e.message);
  error.name = e.name;
  if (e.stack !== undefined) error.stack = e.stack;
  return error;
}
