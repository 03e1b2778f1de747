/**
 * The driver Worker of `weft worker` (the default, isolated mode): it holds
 * no permission but read on the script's module files and import from its
 * module hosts, imports the script (so its top-level code and timers run
 * with nothing), and drives the runs the worker's main thread claimed for
 * it — their workflow and flow bodies run here, with nothing. It never sees
 * the store: each run's records go to the main thread over the same
 * protocol `weft run`'s child speaks with its parent (`store/remote.ts`,
 * served by `run_host.ts`), and each task call is handed to the main
 * thread, which puts it on the PostgreSQL queue in the same commit as the
 * node's running state and answers with the value a worker computed (in a
 * Worker holding exactly that task's grant).
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { Duration } from "../core/duration.ts";
import type { TaskDef } from "../define/defs.ts";
import type { TaskContext } from "../define/task.ts";
import { entityOf } from "../define/entity.ts";
import { fromJsonTree, toJsonTree } from "../core/values.ts";
import { runWith, type TaskExecutor } from "../engine/mod.ts";
import type { NodeRecord, RunOwner } from "../store/mod.ts";
import { RemoteStore, type StoreReply, type StoreRequest } from "../store/remote.ts";
import { ChannelTransport } from "./channel_transport.ts";

/** A task as the main thread needs to know it (to queue calls and store results). */
export interface TaskInfo {
  name: string;
  outputs: string[];
  bare: boolean;
  namedOutputs: boolean;
  queue: string | null;
  concurrency: number | null;
  timeoutMs: number | null;
}

/** What the main thread tells the driver. */
export type ToDriver =
  | { t: "load"; url: string }
  | {
    t: "drive";
    run: string;
    entity: string;
    inputs: unknown;
    owner: RunOwner;
    script: string;
    suspend?: Duration;
  }
  | { t: "reply"; run: string; id: number; m: StoreReply }
  | { t: "wake"; run: string }
  | { t: "done"; run: string; call: number; value: unknown }
  | {
    t: "fail";
    run: string;
    call: number;
    error: { name: string; message: string; stack?: string };
  }
  | { t: "cancel"; run: string }
  | { t: "lost"; run: string; message: string };

/** What the driver tells the main thread. */
export type FromDriver =
  | { t: "loaded"; tasks: TaskInfo[]; entities: string[] }
  | { t: "loadFailed"; message: string }
  | { t: "store"; run: string; id?: number; m: StoreRequest }
  | {
    t: "exec";
    run: string;
    call: number;
    task: string;
    nodeId: string;
    attempt: number;
    inputs: unknown;
  }
  | { t: "abort"; run: string; call: number }
  | { t: "ended"; run: string; status?: string; error?: string };

const COLLECT = Symbol.for("weft.collect.v1");
// Captured before the script is imported: its code may replace them.
const post = self.postMessage.bind(self) as (m: FromDriver) => void;
const entities = new Map<string, unknown>();

/** One run driven here: its channel to the main thread and its task calls. */
class DrivenRun extends ChannelTransport {
  readonly id: string;
  readonly controller = new AbortController();
  readonly calls = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();

  constructor(id: string) {
    super((m, request) =>
      post({ t: "store", run: id, ...(request === undefined ? {} : { id: request }), m })
    );
    this.id = id;
  }

  /** The claim on the run was lost: nothing it sends is recorded any more. */
  override lose(error: Error): void {
    super.lose(error);
    this.controller.abort(error);
    for (const call of this.calls.values()) call.reject(error);
    this.calls.clear();
  }
}

const runs = new Map<string, DrivenRun>();

/** Hands each task call of a run to the main thread (the queue). */
class HostExecutor implements TaskExecutor {
  readonly #run: DrivenRun;
  readonly #store: RemoteStore;
  #next = 1;
  #batch: Extract<FromDriver, { t: "exec" }>[] = [];

  constructor(run: DrivenRun, store: RemoteStore) {
    this.#run = run;
    this.#store = store;
  }

  execute(
    def: TaskDef,
    inputs: Record<string, unknown>,
    ctx: TaskContext,
    node?: NodeRecord,
  ): Promise<unknown> {
    const run = this.#run;
    if (node === undefined) return Promise.reject(new TypeError("a task call without its node"));
    if (run.lost !== undefined) return Promise.reject(run.lost);
    const call = this.#next++;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        // Not sent yet: it never will be.
        const at = this.#batch.findIndex((m) => m.call === call);
        if (at >= 0) {
          this.#batch.splice(at, 1);
          run.calls.get(call)?.reject(ctx.signal.reason);
          run.calls.delete(call);
        } else post({ t: "abort", run: run.id, call });
      };
      run.calls.set(call, {
        resolve: (v) => {
          ctx.signal.removeEventListener("abort", onAbort);
          // The worker's completion wrote the result: it is durable already.
          this.#store.writtenElsewhere(node, "succeeded", ctx.attempt);
          resolve(v);
        },
        reject: (e) => {
          ctx.signal.removeEventListener("abort", onAbort);
          reject(e);
        },
      });
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      this.#send({
        t: "exec",
        run: run.id,
        call,
        task: def.name,
        nodeId: node.id,
        attempt: ctx.attempt,
        inputs: toJsonTree(inputs),
      });
    });
  }

  /**
   * Sends a call after the run's changes: the node's running state must
   * reach the main thread first (the queue row and that state go in one
   * commit there). The calls a turn makes go together, after one batch of
   * changes.
   */
  #send(m: Extract<FromDriver, { t: "exec" }>): void {
    this.#batch.push(m);
    if (this.#batch.length > 1) return;
    queueMicrotask(() => {
      const batch = this.#batch;
      this.#batch = [];
      this.#store.push();
      for (const exec of batch) post(exec);
    });
  }
}

async function load(url: string): Promise<void> {
  const g = globalThis as unknown as Record<symbol, unknown>;
  g[COLLECT] = [];
  let mod: Record<string, unknown>;
  try {
    mod = await import(url);
  } catch (e) {
    post({ t: "loadFailed", message: (e as Error)?.message ?? String(e) });
    return;
  }
  const tasks = new Map<string, TaskInfo>();
  for (const d of (g[COLLECT] ?? []) as TaskDef[]) {
    if (d.kind !== "task" || tasks.has(d.name)) continue;
    tasks.set(d.name, {
      name: d.name,
      outputs: [...d.outputs],
      bare: d.bare,
      namedOutputs: d.namedOutputs,
      queue: d.queue ?? null,
      concurrency: d.concurrency ?? null,
      timeoutMs: d.timeoutMs ?? null,
    });
  }
  for (const value of Object.values(mod)) {
    const def = entityOf(value);
    if (def !== undefined && !entities.has(def.name)) entities.set(def.name, value);
  }
  post({ t: "loaded", tasks: [...tasks.values()], entities: [...entities.keys()] });
}

async function drive(m: Extract<ToDriver, { t: "drive" }>): Promise<void> {
  const run = new DrivenRun(m.run);
  runs.set(m.run, run);
  try {
    const entity = entities.get(m.entity);
    if (entity === undefined) throw new Error(`the script exports no '${m.entity}'`);
    const store = new RemoteStore(run, m.owner);
    const result = await runWith(entity, fromJsonTree(m.inputs) as Record<string, unknown>, {
      store,
      runId: m.run,
      executor: new HostExecutor(run, store),
      script: m.script,
      signal: run.controller.signal,
      ...(m.suspend === undefined ? {} : { suspend: m.suspend }),
    });
    post({ t: "ended", run: m.run, status: result.status });
  } catch (e) {
    post({ t: "ended", run: m.run, error: (e as Error)?.message ?? String(e) });
  } finally {
    runs.delete(m.run);
  }
}

function rebuild(e: { name: string; message: string; stack?: string }): Error {
  const error = new Error(e.message);
  error.name = e.name;
  if (e.stack !== undefined) error.stack = e.stack;
  return error;
}

self.onmessage = (event: MessageEvent<ToDriver>) => {
  const m = event.data;
  if (m.t === "load") {
    load(m.url);
    return;
  }
  if (m.t === "drive") {
    if (!runs.has(m.run)) drive(m);
    return;
  }
  const run = runs.get(m.run);
  if (run === undefined) return;
  if (m.t === "reply") run.reply(m.id, m.m);
  else if (m.t === "wake") run.wake();
  else if (m.t === "cancel") run.controller.abort();
  else if (m.t === "lost") run.lose(new Error(m.message));
  else if (m.t === "done" || m.t === "fail") {
    const call = run.calls.get(m.call);
    run.calls.delete(m.call);
    if (m.t === "done") call?.resolve(fromJsonTree(m.value));
    else call?.reject(rebuild(m.error));
  }
};
