/**
 * `weft run --isolate`: each task runs in a Deno Worker that carries only
 * the permissions its own task declares, so that one task cannot use a
 * sibling's grant. Workers are pooled per task (up to the number of cores),
 * import the script once, and run attempts sent to them by message.
 *
 * Needs `--unstable-worker-options` in the process, and read access to the
 * script's modules for every Worker.
 *
 * @module
 */

import type { TaskExecutor } from "../types.ts";
import type { TaskDef } from "../../define/defs.ts";
import type { TaskContext } from "../../define/task.ts";

/** Options of {@linkcode IsolateExecutor}. */
export interface IsolateOptions {
  /** The script's URL: Workers import it to find their task. */
  url: string;
  /** Each task's permissions, by task name. */
  perTask: Record<string, Record<string, true | string[]>>;
  /** Read access every Worker needs (the module files). */
  moduleRead: string[];
  /** Hosts every Worker may import from. */
  importHosts: string[];
  /**
   * Workers per task at most.
   * @default navigator.hardwareConcurrency
   */
  poolSize?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  ctx: TaskContext;
}

interface PooledWorker {
  worker: Worker;
  busy: number;
  pending: Map<number, Pending>;
}

/** Runs task attempts in per-task Workers. */
export class IsolateExecutor implements TaskExecutor {
  readonly #options: IsolateOptions;
  readonly #pools = new Map<string, PooledWorker[]>();
  #nextId = 0;
  readonly #poolSize: number;

  /**
   * @param options The script, the permissions, the pool size.
   */
  constructor(options: IsolateOptions) {
    this.#options = options;
    this.#poolSize = options.poolSize ?? Math.max(1, navigator.hardwareConcurrency || 1);
  }

  /**
   * Runs one attempt of a task in one of its Workers.
   *
   * @param def The task.
   * @param inputs Its inputs.
   * @param ctx Its context; aborting `ctx.signal` aborts the attempt in the Worker.
   * @returns A promise of the task's value.
   */
  execute(def: TaskDef, inputs: Record<string, unknown>, ctx: TaskContext): Promise<unknown> {
    const pooled = this.#pick(def.name);
    const id = this.#nextId++;
    pooled.busy++;
    return new Promise((resolve, reject) => {
      pooled.pending.set(id, {
        resolve: (v) => {
          pooled.busy--;
          resolve(v);
        },
        reject: (e) => {
          pooled.busy--;
          reject(e);
        },
        ctx,
      });
      const onAbort = () =>
        pooled.worker.postMessage({
          t: "abort",
          id,
          reason: String(ctx.signal.reason?.message ?? "aborted"),
        });
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener("abort", onAbort, { once: true });
      pooled.worker.postMessage({
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

  /** Terminates every Worker. */
  close(): void {
    for (const pool of this.#pools.values()) for (const p of pool) p.worker.terminate();
    this.#pools.clear();
  }

  #pick(task: string): PooledWorker {
    let pool = this.#pools.get(task);
    if (pool === undefined) this.#pools.set(task, pool = []);
    const idle = pool.find((p) => p.busy === 0);
    if (idle !== undefined) return idle;
    if (pool.length < this.#poolSize) {
      const p: PooledWorker = {
        worker: undefined as unknown as Worker,
        busy: 0,
        pending: new Map(),
      };
      p.worker = this.#spawn(task, p.pending);
      pool.push(p);
      return p;
    }
    return pool.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  #spawn(task: string, pending: Map<number, Pending>): Worker {
    const own = this.#options.perTask[task] ?? {};
    const read = own.read === true
      ? true
      : [...new Set([...(own.read ?? []), ...this.#options.moduleRead])];
    const importHosts = own.import === true
      ? true
      : [...new Set([...(own.import ?? []), ...this.#options.importHosts])];
    const permissions = {
      read,
      write: own.write ?? false,
      net: own.net ?? false,
      env: own.env ?? false,
      run: own.run ?? false,
      ffi: own.ffi ?? false,
      sys: own.sys ?? false,
      import: importHosts === true ? true : importHosts.length > 0 ? importHosts : false,
    };
    const worker = new Worker(new URL("./isolate_worker.ts", import.meta.url), {
      type: "module",
      name: `weft:${task}`,
      // deno-lint-ignore no-explicit-any
      deno: { permissions } as any,
    } as WorkerOptions);
    worker.postMessage({ t: "init", url: this.#options.url, task });
    worker.onmessage = (event: MessageEvent) => {
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
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      const error = new Error(`the Worker of task '${task}' crashed: ${event.message}`);
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(error);
      }
    };
    return worker;
  }
}

function rebuild(e: { name: string; message: string; stack?: string }): Error {
  const error = new Error(e.message);
  error.name = e.name;
  if (e.stack !== undefined) error.stack = e.stack;
  return error;
}
