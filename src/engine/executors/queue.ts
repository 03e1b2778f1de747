/**
 * The driver's side of the PostgreSQL task queue: instead of calling a task,
 * a run hands each attempt to the queue — in the same commit as the node's
 * running state — and waits for a worker's completion, which writes the
 * result to the journal itself. Completions are announced by NOTIFY (one per
 * statement, naming the runs); a poll every second covers notifications
 * lost while a connection was down.
 *
 * @module
 */

import { decodeValue, encodeValue } from "../../core/values.ts";
import type { TaskDef } from "../../define/defs.ts";
import type { TaskContext } from "../../define/task.ts";
import type { NodeRecord } from "../../store/mod.ts";
import type { PostgresStore } from "../../store/postgres/mod.ts";
import type { TaskRow } from "../../store/postgres/queue.ts";
import { wholeValue } from "../../store/provenance.ts";
import type { StoredOutput } from "../../store/rows.ts";
import type { TaskExecutor } from "../types.ts";

/** Options of {@linkcode QueueExecutor}. */
export interface QueueExecutorOptions {
  /**
   * The queue of tasks that name none.
   * @default "default"
   */
  defaultQueue?: string;
  /**
   * How often to look for completions when no notification came, in ms.
   * @default 1000
   */
  pollMs?: number;
}

interface Waiter {
  runId: string;
  node: NodeRecord;
  attempt: number;
  /** Whether the commit that enqueued it is durable (before, the journal still shows an earlier attempt). */
  enqueued: boolean;
  /** Its queue row, to hand it to the queue again if it is withdrawn under it. */
  row: TaskRow;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** Runs task attempts on whichever worker claims them from the store's queue. */
export class QueueExecutor implements TaskExecutor {
  readonly #store: PostgresStore;
  readonly #defaultQueue: string;
  readonly #pollMs: number;
  /** Waiters by run, then node id. */
  readonly #waiting = new Map<string, Map<string, Waiter>>();
  readonly #dirty = new Set<string>();
  #fetching = false;
  #poll: ReturnType<typeof setInterval> | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  #listening: Promise<void> | undefined;

  /**
   * @param store The PostgreSQL store the runs record in.
   * @param options The default queue, the poll interval.
   */
  constructor(store: PostgresStore, options: QueueExecutorOptions = {}) {
    this.#store = store;
    this.#defaultQueue = options.defaultQueue ?? "default";
    this.#pollMs = options.pollMs ?? 1000;
  }

  /**
   * Hands one attempt to the queue and waits for its completion.
   *
   * @param def The task.
   * @param inputs Its inputs.
   * @param ctx Its context: aborting its signal withdraws the attempt.
   * @param node The node, whose running state goes in the same commit.
   * @returns A promise of the value a worker computed.
   */
  execute(
    def: TaskDef,
    inputs: Record<string, unknown>,
    ctx: TaskContext,
    node?: NodeRecord,
  ): Promise<unknown> {
    if (node === undefined) throw new TypeError("QueueExecutor needs the node of each attempt");
    const store = this.#store;
    const runId = ctx.runId;
    const attempt = ctx.attempt;
    const session = store.session(runId);
    this.#listen();
    return new Promise((resolve, reject) => {
      let settled = false;
      const row: TaskRow = {
        run_id: runId,
        node_id: node.id,
        attempt,
        queue: def.queue ?? this.#defaultQueue,
        task: def.name,
        concurrency: def.concurrency ?? null,
        timeout_ms: def.timeoutMs ?? null,
        inputs: encodeValue(inputs),
      };
      const waiter: Waiter = {
        runId,
        node,
        attempt,
        enqueued: false,
        row,
        resolve: (v) => {
          if (settled) return;
          settled = true;
          ctx.signal.removeEventListener("abort", onAbort);
          resolve(v);
        },
        reject: (e) => {
          if (settled) return;
          settled = true;
          ctx.signal.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        this.#forget(waiter);
        // A driver whose claim on the run was lost withdraws nothing: the
        // process that took the run over may have enqueued the same call.
        if (session !== undefined && !session.abandoned) {
          store.queue.cancel(runId, node.id, attempt);
          store.writer.commit().catch(() => {});
        }
        waiter.reject(ctx.signal.reason);
      };
      if (ctx.signal.aborted) return reject(ctx.signal.reason);
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      let runs = this.#waiting.get(runId);
      if (runs === undefined) this.#waiting.set(runId, runs = new Map());
      runs.set(node.id, waiter);
      this.#arm();
      try {
        store.queue.enqueue(row);
      } catch (e) {
        this.#forget(waiter);
        return waiter.reject(e);
      }
      // The node's running row and the queue row: one commit.
      (session === undefined ? store.writer.commit() : session.stage()).then(() => {
        waiter.enqueued = true;
      }, (e) => {
        this.#forget(waiter);
        waiter.reject(e);
      });
    });
  }

  /** Stops listening and polling; waiting attempts are left to their runs' cancellation. */
  async close(): Promise<void> {
    if (this.#poll !== undefined) clearInterval(this.#poll);
    this.#poll = undefined;
    await this.#listening?.catch(() => {});
    await this.#unlisten?.().catch(() => {});
    this.#unlisten = undefined;
  }

  #listen(): void {
    this.#listening ??= this.#store.listen(this.#store.queue.done, (payload) => {
      for (const runId of payload.split(",")) if (this.#waiting.has(runId)) this.#dirty.add(runId);
      this.#fetch();
    }, () => {
      // (Re)connected: anything may have completed meanwhile.
      for (const runId of this.#waiting.keys()) this.#dirty.add(runId);
      this.#fetch();
    }).then((stop) => {
      this.#unlisten = stop;
    });
  }

  #arm(): void {
    if (this.#poll !== undefined) return;
    this.#poll = setInterval(() => {
      if (this.#waiting.size === 0) {
        clearInterval(this.#poll);
        this.#poll = undefined;
        return;
      }
      for (const runId of this.#waiting.keys()) this.#dirty.add(runId);
      this.#fetch();
    }, this.#pollMs);
  }

  #forget(waiter: Waiter): void {
    const runs = this.#waiting.get(waiter.runId);
    if (runs?.get(waiter.node.id) === waiter) runs.delete(waiter.node.id);
    if (runs?.size === 0) this.#waiting.delete(waiter.runId);
  }

  /** Reads the completions of the runs notified (one query per run). */
  async #fetch(): Promise<void> {
    if (this.#fetching) return;
    this.#fetching = true;
    try {
      while (this.#dirty.size > 0) {
        const runId = this.#dirty.values().next().value!;
        this.#dirty.delete(runId);
        const runs = this.#waiting.get(runId);
        if (runs === undefined) continue;
        const ids = [...runs.values()].filter((w) => w.enqueued).map((w) => w.node.id);
        if (ids.length === 0) continue;
        let rows;
        try {
          rows = await this.#store.writer.run(() => this.#store.queue.results(runId, ids));
        } catch (e) {
          console.error(
            `weft: could not read task results from ${this.#store.url}: ${(e as Error).message}`,
          );
          continue;
        }
        const outside = new Set<string>();
        const parsed = rows.map((r) => {
          const outputs = r.outputs === null ? [] : JSON.parse(r.outputs) as StoredOutput[];
          for (const o of outputs) if (o.body === undefined) outside.add(o.hash);
          return { ...r, outputs };
        });
        const bodies = outside.size === 0 ? new Map() : await this.#store.bodies([...outside]);
        for (const r of parsed) {
          const waiter = runs.get(r.id);
          if (waiter === undefined || !waiter.enqueued) continue;
          if (r.status !== "succeeded" && r.status !== "failed") {
            // Withdrawn under it (by a process that drove the run before): enqueue it again.
            this.#store.queue.enqueue(waiter.row);
            this.#store.writer.commit().catch(() => {});
            continue;
          }
          this.#forget(waiter);
          if (r.status === "succeeded") {
            try {
              const value = wholeValue(
                waiter.node.bare,
                r.outputs.map((o) => ({
                  name: o.name,
                  value: decodeValue(o.body ?? bodies.get(o.hash)!),
                })),
              );
              // The worker's completion wrote this state: no second write for it.
              this.#store.session(runId)?.writtenElsewhere(
                waiter.node,
                "succeeded",
                waiter.attempt,
                new Map(r.outputs.map((o) => [o.name, o.hash])),
              );
              waiter.resolve(value);
            } catch (e) {
              waiter.reject(e);
            }
          } else waiter.reject(remoteError(r.error));
        }
      }
    } finally {
      this.#fetching = false;
    }
  }
}

/** The error a worker recorded, as the driver's attempt rejects with it. */
function remoteError(text: string | null): Error {
  let record: {
    name?: string;
    message?: string;
    stack?: string;
    cause?: { name?: string; message?: string };
  } = {};
  try {
    record = text === null ? {} : JSON.parse(text);
  } catch {
    record = { message: text ?? "" };
  }
  const cause = record.cause ?? record;
  const error = new Error(cause.message ?? "the task failed on a worker");
  error.name = cause.name ?? "Error";
  if (record.stack !== undefined) error.stack = record.stack;
  return error;
}
