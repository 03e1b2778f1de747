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
import { QueueWorker } from "../engine/executors/queue_worker.ts";
import { PostgresStore } from "../store/postgres/mod.ts";

/** What the parent tells the worker process. */
export interface WorkerSpec {
  /** The script's URL (a workflow spec's own path). */
  url: string;
  /** The module that builds a workflow spec's workflow (see `spec_module.ts`), which is imported instead. */
  module?: string;
  /** The store URL. */
  store: string;
  /** Queues served; undefined: every queue. */
  queues?: string[];
  /** Queue limits to set, by queue. */
  queueLimits: Record<string, number>;
  /** Attempts at once. */
  concurrency: number;
  /** The lease, in ms. */
  leaseMs: number;
  /** How long held attempts may take to finish on SIGTERM, in ms. */
  graceMs: number;
  /** Per-task Workers, when tasks run isolated. */
  isolate?: {
    perTask: Record<string, Record<string, true | string[]>>;
    moduleRead: string[];
    importHosts: string[];
  };
}

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
  const say = (line: string) => console.error(`weft worker: ${line}`);
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

  let store: PostgresStore;
  try {
    store = await PostgresStore.open(spec.store);
    for (const [queue, limit] of Object.entries(spec.queueLimits)) {
      await store.queue.setLimit(queue, limit);
    }
  } catch (e) {
    say((e as Error).message);
    Deno.exit(e instanceof ValidationError ? 2 : 1);
  }
  const registry = store.workers;
  let executor: (TaskExecutor & { close(): void }) | undefined;
  if (spec.isolate !== undefined) {
    const { IsolateExecutor } = await import("../engine/executors/isolate.ts");
    executor = new IsolateExecutor({ url: spec.module ?? spec.url, ...spec.isolate });
  }
  const worker = new QueueWorker({
    store,
    id: registry.me.id,
    tasks,
    ...(spec.queues === undefined ? {} : { queues: spec.queues }),
    concurrency: spec.concurrency,
    leaseMs: spec.leaseMs,
    ...(executor === undefined ? {} : { executor }),
    log: say,
  });
  const queueNames = spec.queues?.join(",") ?? "*";
  const script = decodeURIComponent(new URL(spec.url).pathname);
  const scriptName = script.slice(script.lastIndexOf("/") + 1);
  let stopping = false;
  const beat = () =>
    registry.heartbeat({
      queues: queueNames,
      script,
      concurrency: spec.concurrency,
      held: worker.held,
      stopping,
      leaseMs: spec.leaseMs,
    }).catch((e) => say(`could not record a heartbeat: ${(e as Error).message}`));
  await beat();
  await worker.start();
  const beats = setInterval(beat, Math.max(200, spec.leaseMs / 3));

  // Runs waiting for a driver: adopted one at a time, driven here.
  const driving = new Map<string, Promise<void>>();
  const drivers = new QueueExecutor(store);
  let adopting = false;
  const adopt = async () => {
    if (adopting || stopping) return;
    adopting = true;
    try {
      for (const run of await registry.waiting([...entities.keys()], scriptName)) {
        if (stopping) break;
        if (!driving.has(run.id)) driving.set(run.id, drive(run));
      }
      // Sleeping runs of this script that are due (their time has come, or a
      // signal they wait for): one worker claims each, as weft serve does.
      const now = Date.now();
      for (const sleeping of await store.sleepingRuns({ dueBy: now })) {
        if (stopping) break;
        if (!entities.has(sleeping.entity) || driving.has(sleeping.id)) continue;
        if (!sameScript(sleeping.script, scriptName)) continue;
        if (!await store.claimWake(sleeping.id, now)) continue;
        say(`woke run ${sleeping.id}`);
        driving.set(sleeping.id, wake(sleeping.id, sleeping.entity, sleeping.script));
      }
    } catch (e) {
      say(`could not look for runs to drive: ${(e as Error).message}`);
    } finally {
      adopting = false;
    }
  };
  const drive = async (run: { id: string; entity: string; inputsHash: string; script: string }) => {
    try {
      const body = (await store.bodies([run.inputsHash])).get(run.inputsHash);
      if (body === undefined) throw new ValidationError(`the inputs of run ${run.id} are missing`);
      // run() claims the run (one claim wins among workers that saw it waiting).
      const result = await runWith(
        entities.get(run.entity),
        decodeValue(body) as Record<string, unknown>,
        { store, runId: run.id, executor: drivers, script: run.script, lease: spec.leaseMs },
      );
      say(`run ${run.id} ${result.status}`);
    } catch (e) {
      // Another worker claimed it first: nothing to say.
      if (!stopping && !(e instanceof RunOwnedError)) say(`run ${run.id}: ${(e as Error).message}`);
    } finally {
      driving.delete(run.id);
    }
  };
  // A woken run goes on from its journal, and sleeps again (holding nothing)
  // when its next wake-up is at least a minute off, as under weft serve.
  const wake = async (id: string, entity: string, script: string | undefined) => {
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
      if (!stopping && !(e instanceof RunOwnedError)) say(`run ${id}: ${(e as Error).message}`);
    } finally {
      driving.delete(id);
    }
  };
  const unlistenRuns = await store.listen(store.queue.runs, () => adopt(), () => adopt());
  const adoptions = setInterval(adopt, Math.max(200, spec.leaseMs / 2));
  adopt();

  let stopped: (() => void) | undefined;
  const done = new Promise<void>((resolve) => stopped = resolve);
  const stop = () => {
    if (stopping) return;
    stopping = true;
    say(`stopping: no new claims; waiting up to ${spec.graceMs} ms for ${worker.held} tasks`);
    stopped!();
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    try {
      Deno.addSignalListener(signal, stop);
    } catch {
      // not on this platform
    }
  }
  watchParent(stop);
  await done;
  clearInterval(adoptions);
  await unlistenRuns().catch(() => {});
  await beat();
  await worker.stop(spec.graceMs);
  clearInterval(beats);
  // Runs driven here go to another process now, which replays their journal.
  await registry.releaseMine().catch(() => {});
  await registry.unregister().catch(() => {});
  executor?.close();
  const s = worker.stats;
  say(
    `stopped: ${s.completed} completed, ${s.refused} refused (lease lost), ${s.released} given back`,
  );
  Deno.exit(0);
}

/** Stops when the parent goes away (EOF on stdin). */
function watchParent(stop: () => void): void {
  (async () => {
    const buffer = new Uint8Array(256);
    try {
      while (await Deno.stdin.read(buffer) !== null) {
        // nothing is sent: EOF is the message
      }
    } catch {
      // a read error: the parent is gone
    }
    stop();
  })();
}

/** Whether a run's recorded script is the one this worker serves (by file name, as runs are found). */
function sameScript(script: string | undefined, scriptName: string): boolean {
  if (script === undefined) return false;
  return script === scriptName || script.endsWith(`/${scriptName}`);
}
