/**
 * `weft run` on a PostgreSQL store: the run child drives the run and hands
 * every task call to the store's queue, where any worker (`weft worker`) may
 * claim it; the child itself also works its own run's calls, so a run needs
 * no worker to finish. The child owns the run with a lease it renews: if it
 * dies, a worker or `weft resume` takes the run over once the lease runs out.
 *
 * @module
 */

import type { EntityDef, TaskDef } from "../define/defs.ts";
import { QueueExecutor } from "../engine/executors/queue.ts";
import { QueueWorker } from "../engine/executors/queue_worker.ts";
import type { TaskExecutor } from "../engine/types.ts";
import type { Store } from "../store/mod.ts";
import { PostgresStore } from "../store/postgres/mod.ts";

/** A run distributed through the store's queue. */
export interface Distributed {
  /** Hands task calls to the queue. */
  executor: QueueExecutor;
  /** Stops the local worker (the store is closed by its opener). */
  close(): Promise<void>;
}

const COLLECT = Symbol.for("weft.collect.v1");

/** Starts collecting the entities the script defines (before it is imported). */
export function collectEntities(): void {
  const g = globalThis as unknown as Record<symbol, unknown[] | undefined>;
  g[COLLECT] ??= [];
}

/**
 * Starts the local worker of a run and the executor that hands its calls to the queue.
 *
 * @param store The opened store (a PostgreSQL store).
 * @param options Run id, concurrency, where attempts run.
 * @returns The run's queue side.
 */
export async function distribute(
  store: Store,
  options: {
    runId: string;
    concurrency: number | undefined;
    executor: TaskExecutor | undefined;
  },
): Promise<Distributed> {
  if (!(store instanceof PostgresStore)) throw new TypeError("distribute() needs a PostgresStore");
  const tasks = new Map<string, TaskDef>();
  const collected = (globalThis as unknown as Record<symbol, EntityDef[] | undefined>)[COLLECT];
  for (const d of collected ?? []) {
    if (d.kind === "task" && !tasks.has(d.name)) tasks.set(d.name, d);
  }
  const worker = new QueueWorker({
    store,
    id: `${store.workers.me.id}:run`,
    tasks,
    runId: options.runId,
    concurrency: options.concurrency ?? 8,
    leaseMs: 15_000,
    ...(options.executor === undefined ? {} : { executor: options.executor }),
  });
  await worker.start();
  const executor = new QueueExecutor(store);
  return {
    executor,
    close: async () => {
      await worker.stop(0);
      await executor.close();
    },
  };
}
