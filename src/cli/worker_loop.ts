/**
 * What both modes of `weft worker` share (the isolated `worker_host.ts` and
 * the one-thread `worker_child.ts`): opening the PostgreSQL store, serving
 * its task queue with a heartbeat, finding the runs to drive (runs waiting
 * for a driver, sleeping runs that are due), and the graceful stop on
 * SIGTERM, SIGINT or the parent's end: no new claims, held attempts finish
 * within the grace or go back to the queue, and the runs driven here are
 * released for another process to adopt at once. How a run is driven is
 * each mode's own.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { TaskDef } from "../define/defs.ts";
import type { TaskExecutor } from "../engine/mod.ts";
import { QueueWorker } from "../engine/executors/queue_worker.ts";
import type { SleepingRun } from "../store/mod.ts";
import { PostgresStore } from "../store/postgres/mod.ts";
import type { WaitingRun } from "../store/postgres/workers.ts";

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

/** Writes a line of the worker's log (stderr). */
export function say(line: string): void {
  console.error(`weft worker: ${line}`);
}

/**
 * Opens the store and sets the queue limits the spec asks for.
 *
 * @param spec What to serve.
 * @returns The store; on failure the process exits (2 on bad input, else 1).
 */
export async function openWorkerStore(spec: WorkerSpec): Promise<PostgresStore> {
  try {
    const store = await PostgresStore.open(spec.store);
    for (const [queue, limit] of Object.entries(spec.queueLimits)) {
      await store.queue.setLimit(queue, limit);
    }
    return store;
  } catch (e) {
    say((e as Error).message);
    Deno.exit(e instanceof ValidationError ? 2 : 1);
  }
}

/** What a mode of the worker serves, and how it drives a run. */
export interface Serving {
  /** The script's tasks, for the queue's attempts. */
  tasks: Map<string, TaskDef>;
  /** Where claimed attempts run (by default, in this thread); closed last. */
  executor?: TaskExecutor & { close(): void };
  /** The names of the entities the script exports: the runs this worker may drive. */
  entities: ReadonlySet<string>;
  /** Drives a run that waits for a driver (claiming it: one claim wins among workers); a failure is logged. */
  drive(run: WaitingRun): Promise<void>;
  /** Drives a sleeping run this worker claimed the wake-up of. */
  wake(run: SleepingRun): Promise<void>;
  /** Called once held attempts are done, before the runs driven here are released. */
  stopped?(): void;
}

/** The queue worker, the search for runs to drive, and the stop of one `weft worker` process. */
export class WorkerLoop {
  readonly #spec: WorkerSpec;
  readonly #store: PostgresStore;
  #stopping = false;

  /**
   * @param spec What to serve.
   * @param store The store.
   */
  constructor(spec: WorkerSpec, store: PostgresStore) {
    this.#spec = spec;
    this.#store = store;
  }

  /** Whether the worker was told to stop (it claims nothing new). */
  get stopping(): boolean {
    return this.#stopping;
  }

  /**
   * Serves until told to stop.
   *
   * @param serving What to serve and how runs are driven.
   * @returns Never: the process exits 0 after the graceful stop.
   */
  async serve(serving: Serving): Promise<never> {
    const spec = this.#spec;
    const store = this.#store;
    const registry = store.workers;
    const { executor, entities } = serving;
    const worker = new QueueWorker({
      store,
      id: registry.me.id,
      tasks: serving.tasks,
      ...(spec.queues === undefined ? {} : { queues: spec.queues }),
      concurrency: spec.concurrency,
      leaseMs: spec.leaseMs,
      ...(executor === undefined ? {} : { executor }),
      log: say,
    });
    const queueNames = spec.queues?.join(",") ?? "*";
    const script = decodeURIComponent(new URL(spec.url).pathname);
    const scriptName = script.slice(script.lastIndexOf("/") + 1);
    const beat = () =>
      registry.heartbeat({
        queues: queueNames,
        script,
        concurrency: spec.concurrency,
        held: worker.held,
        stopping: this.#stopping,
        leaseMs: spec.leaseMs,
      }).catch((e) => say(`could not record a heartbeat: ${(e as Error).message}`));
    await beat();
    await worker.start();
    const beats = setInterval(beat, Math.max(200, spec.leaseMs / 3));

    // Runs waiting for a driver, and sleeping runs that are due: one at a time, driven here.
    const driving = new Map<string, Promise<void>>();
    const track = (id: string, driven: Promise<void>) =>
      driving.set(
        id,
        driven
          .catch((e) => say(`run ${id}: ${(e as Error).message}`))
          .finally(() => driving.delete(id)),
      );
    let adopting = false;
    const adopt = async () => {
      if (adopting || this.#stopping) return;
      adopting = true;
      try {
        for (const run of await registry.waiting([...entities], scriptName)) {
          if (this.#stopping) break;
          if (!driving.has(run.id)) track(run.id, serving.drive(run));
        }
        // Sleeping runs of this script that are due (their time has come, or a
        // signal they wait for): one worker claims each, as weft serve does.
        const now = Date.now();
        for (const sleeping of await store.sleepingRuns({ dueBy: now })) {
          if (this.#stopping) break;
          if (!entities.has(sleeping.entity) || driving.has(sleeping.id)) continue;
          if (!sameScript(sleeping.script, scriptName)) continue;
          if (!await store.claimWake(sleeping.id, now)) continue;
          say(`woke run ${sleeping.id}`);
          track(sleeping.id, serving.wake(sleeping));
        }
      } catch (e) {
        say(`could not look for runs to drive: ${(e as Error).message}`);
      } finally {
        adopting = false;
      }
    };
    const unlistenRuns = await store.listen(store.queue.runs, () => adopt(), () => adopt());
    const adoptions = setInterval(adopt, Math.max(200, spec.leaseMs / 2));
    adopt();

    let stopped: (() => void) | undefined;
    const done = new Promise<void>((resolve) => stopped = resolve);
    const stop = () => {
      if (this.#stopping) return;
      this.#stopping = true;
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
    serving.stopped?.();
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
