/**
 * Inside the process `weft worker` starts: imports the script, then serves
 * the PostgreSQL store's task queue — each claimed attempt runs in a Worker
 * holding only its task's declared permissions — and drives the runs that
 * wait for a driver (enqueued with `weft run --detach`, or whose driver's
 * lease ran out) by replaying their journal. SIGTERM (or SIGINT, or the
 * parent's end) stops it gracefully: no new claims, held attempts finish
 * within the grace or go back to the queue, and the runs it drives are
 * released for another process to adopt at once.
 *
 * @module
 */

import { RunOwnedError, ValidationError } from "../core/errors.ts";
import { decodeValue } from "../core/values.ts";
import type { EntityDef, TaskDef } from "../define/defs.ts";
import { entityOf } from "../define/entity.ts";
import { runWith, type TaskExecutor } from "../engine/mod.ts";
import { QueueExecutor } from "../engine/executors/queue.ts";
import { openWorkerStore, say, WorkerLoop, type WorkerSpec } from "./worker_loop.ts";

const COLLECT = Symbol.for("weft.collect.v1");

/**
 * Runs the worker until it is told to stop.
 *
 * @param spec What to serve.
 * @param load Imports the script.
 * @returns Never: the process exits 0 after a graceful stop, 2 on bad input.
 */
export async function workerChild(
  spec: WorkerSpec,
  load: () => Promise<Record<string, unknown>>,
): Promise<never> {
  (globalThis as unknown as Record<symbol, unknown[]>)[COLLECT] = [];
  let mod: Record<string, unknown>;
  try {
    mod = await load();
  } catch (e) {
    say(`loading ${spec.url} failed: ${(e as Error).message}`);
    Deno.exit(2);
  }
  const collected = (globalThis as unknown as Record<symbol, EntityDef[]>)[COLLECT] ?? [];
  const tasks = new Map<string, TaskDef>();
  for (const d of collected) if (d.kind === "task" && !tasks.has(d.name)) tasks.set(d.name, d);
  const entities = new Map<string, unknown>();
  for (const value of Object.values(mod)) {
    const def = entityOf(value);
    if (def !== undefined && !entities.has(def.name)) entities.set(def.name, value);
  }

  const store = await openWorkerStore(spec);
  let executor: (TaskExecutor & { close(): void }) | undefined;
  if (spec.isolate !== undefined) {
    const { IsolateExecutor } = await import("../engine/executors/isolate.ts");
    executor = new IsolateExecutor({ url: spec.module ?? spec.url, ...spec.isolate });
  }
  const loop = new WorkerLoop(spec, store);
  // Runs are driven here, in this thread; their task calls go on the queue.
  const drivers = new QueueExecutor(store);
  return await loop.serve({
    tasks,
    ...(executor === undefined ? {} : { executor }),
    entities: new Set(entities.keys()),
    drive: async (run) => {
      try {
        const body = (await store.bodies([run.inputsHash])).get(run.inputsHash);
        if (body === undefined) {
          throw new ValidationError(`the inputs of run ${run.id} are missing`);
        }
        // run() claims the run (one claim wins among workers that saw it waiting).
        const result = await runWith(
          entities.get(run.entity),
          decodeValue(body) as Record<string, unknown>,
          { store, runId: run.id, executor: drivers, script: run.script, lease: spec.leaseMs },
        );
        say(`run ${run.id} ${result.status}`);
      } catch (e) {
        // Another worker claimed it first: nothing to say.
        if (!loop.stopping && !(e instanceof RunOwnedError)) {
          say(`run ${run.id}: ${(e as Error).message}`);
        }
      }
    },
    // A woken run goes on from its journal, and sleeps again (holding nothing)
    // when its next wake-up is at least a minute off, as under weft serve.
    wake: async ({ id, entity, script }) => {
      try {
        const details = await store.getRun(id, { nodes: false });
        if (details === undefined) throw new ValidationError(`run ${id} is gone`);
        const result = await runWith(
          entities.get(entity),
          { ...details.inputs },
          {
            store,
            runId: id,
            executor: drivers,
            lease: spec.leaseMs,
            suspend: "1m",
            ...(script === undefined ? {} : { script }),
          },
        );
        say(`run ${id} ${result.status}`);
      } catch (e) {
        if (!loop.stopping && !(e instanceof RunOwnedError)) {
          say(`run ${id}: ${(e as Error).message}`);
        }
      }
    },
  });
}
