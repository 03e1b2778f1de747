/**
 * The main thread of the process `weft worker` starts, in the default,
 * isolated mode. It holds the PostgreSQL store (the connection and its
 * credentials) and the union of the task grants (to start the task
 * Workers), and runs only weft's code: it never imports the script.
 *
 *   - The script is imported by the driver Worker (`worker_driver.ts`),
 *     which holds no permission: the script's top-level code and timers,
 *     and the workflow and flow bodies of the runs this worker drives, run
 *     there. Each driven run's records come here over the protocol `weft
 *     run`'s child speaks with its parent, served by a `StoreHost` per run
 *     (which trusts the driver no further than that one run); its task calls
 *     come here too and go on the queue (`QueueExecutor`), fenced and leased
 *     as before.
 *   - Claimed queue attempts run in Workers holding exactly their task's
 *     grant (`IsolateExecutor`); a task that declares nothing runs in a
 *     Worker holding nothing but read on the module files.
 *   - This thread claims the runs it drives (their ownership lease, renewed
 *     here) and tells the driver to stop one whose claim was lost.
 *
 * @module
 */

import type { Duration } from "../core/duration.ts";
import { RunOwnedError } from "../core/errors.ts";
import { decodeValue, fromJsonTree, toJsonTree } from "../core/values.ts";
import type { TaskDef } from "../define/defs.ts";
import type { TaskContext } from "../define/task.ts";
import { IsolateExecutor } from "../engine/executors/isolate.ts";
import { QueueExecutor } from "../engine/executors/queue.ts";
import { acquireRun, type RunLease } from "../store/ownership.ts";
import { driverWorker } from "./driver_worker.ts";
import { StoreHost } from "./run_host.ts";
import { openWorkerStore, say, WorkerLoop, type WorkerSpec } from "./worker_loop.ts";
import type { FromDriver, TaskInfo, ToDriver } from "./worker_driver.ts";

interface Hosted {
  runId: string;
  host: StoreHost;
  /** The driver's messages of this run, handled one after another, in order. */
  chain: Promise<void>;
  /** Task calls on the queue, by the driver's number. */
  calls: Map<number, AbortController>;
  end: (m: Extract<FromDriver, { t: "ended" }>) => void;
  /** Why nothing more of the run is recorded: the claim was lost, or the driver broke the protocol. */
  stopped?: Error;
}

/** A task as the queue needs it: its name, outputs and queue (its code runs in Workers). */
function taskStub(info: TaskInfo): TaskDef {
  return {
    kind: "task",
    name: info.name,
    outputs: info.outputs,
    bare: info.bare,
    namedOutputs: info.namedOutputs,
    queue: info.queue ?? undefined,
    concurrency: info.concurrency ?? undefined,
    timeoutMs: info.timeoutMs ?? undefined,
  } as unknown as TaskDef;
}

function describe(e: unknown): { name: string; message: string; stack?: string } {
  if (e instanceof Error) {
    return { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
  }
  return { name: "Error", message: String(e) };
}

/**
 * Runs the worker, isolated, until it is told to stop.
 *
 * @param spec What to serve (`spec.isolate` is set).
 * @returns Never: the process exits 0 after a graceful stop, 2 on bad input.
 */
export async function workerHost(spec: WorkerSpec): Promise<never> {
  const isolate = spec.isolate!;
  const url = spec.module ?? spec.url;
  const driver = driverWorker(
    new URL("./worker_driver.ts", import.meta.url),
    isolate.moduleRead,
    isolate.importHosts,
  );
  const tell = (m: ToDriver) => driver.postMessage(m);
  const hosted = new Map<string, Hosted>();
  let loaded: ((m: FromDriver) => void) | undefined;
  const loading = new Promise<FromDriver>((resolve) => loaded = resolve);
  driver.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    say(`the driver stopped: ${event.message}`);
    Deno.exit(1);
  };
  driver.onmessage = (event: MessageEvent<FromDriver>) => onDriver(event.data);
  tell({ t: "load", url });

  const store = await openWorkerStore(spec);
  const got = await loading;
  if (got.t !== "loaded") {
    say(`loading ${spec.url} failed: ${got.t === "loadFailed" ? got.message : "?"}`);
    Deno.exit(2);
  }
  const tasks = new Map<string, TaskDef>();
  for (const info of got.tasks) tasks.set(info.name, taskStub(info));
  const entities = new Set(got.entities);

  const loop = new WorkerLoop(spec, store);
  const drivers = new QueueExecutor(store);

  function onDriver(m: FromDriver): void {
    if (m.t === "loaded" || m.t === "loadFailed") {
      loaded?.(m);
      loaded = undefined;
      return;
    }
    const h = hosted.get(m.run);
    if (h === undefined) return;
    if (m.t === "ended") h.end(m);
    else if (m.t === "store") {
      h.chain = h.chain.then(async () => {
        if (h.stopped !== undefined) return;
        try {
          const reply = await h.host.handle(m.m);
          if (typeof m.id === "number" && reply !== undefined) {
            tell({ t: "reply", run: h.runId, id: m.id, m: reply });
          }
        } catch (e) {
          stopRun(h, new Error(`weft worker stopped run ${h.runId}: ${(e as Error).message}`));
        }
      });
    } else if (m.t === "exec") h.chain = h.chain.then(() => call(h, m));
    else if (m.t === "abort") h.calls.get(m.call)?.abort(new Error("the call was withdrawn"));
  }

  /** Nothing more of the run is recorded; its driver stops it. */
  function stopRun(h: Hosted, error: Error): void {
    if (h.stopped !== undefined) return;
    h.stopped = error;
    h.host.abandon();
    tell({ t: "lost", run: h.runId, message: error.message });
  }

  /** Puts one task call of a driven run on the queue (in the same commit as its node's running state). */
  function call(h: Hosted, m: Extract<FromDriver, { t: "exec" }>): void {
    if (h.stopped !== undefined) return;
    const def = tasks.get(m.task);
    const node = h.host.node(m.nodeId);
    if (
      def === undefined || node === undefined || node.kind !== "task" || node.entity !== m.task ||
      node.status !== "running" || node.attempt !== m.attempt
    ) {
      // (An attempt that ended meanwhile, or a forged call: nothing is queued.)
      tell({
        t: "fail",
        run: h.runId,
        call: m.call,
        error: { name: "Error", message: `'${m.nodeId}' is no running call of task '${m.task}'` },
      });
      return;
    }
    const controller = new AbortController();
    h.calls.set(m.call, controller);
    const ctx: TaskContext = {
      signal: controller.signal,
      attempt: m.attempt,
      runId: h.runId,
      nodeId: m.nodeId,
      log: () => {},
    };
    Promise.resolve()
      .then(() =>
        drivers.execute(def, fromJsonTree(m.inputs) as Record<string, unknown>, ctx, node)
      )
      .then(
        (value) => tell({ t: "done", run: h.runId, call: m.call, value: toJsonTree(value) }),
        (e) => tell({ t: "fail", run: h.runId, call: m.call, error: describe(e) }),
      )
      .finally(() => h.calls.delete(m.call));
  }

  /** Claims a run and has the driver drive it; resolves when it ended here. */
  async function hostRun(
    runId: string,
    entity: string,
    inputs: Record<string, unknown>,
    script: string,
    suspend?: Duration,
  ): Promise<void> {
    let lease: RunLease;
    try {
      lease = await acquireRun(store, runId, { leaseMs: spec.leaseMs });
    } catch (e) {
      // Another worker claimed it first: nothing to say.
      if (!(e instanceof RunOwnedError)) say(`run ${runId}: ${(e as Error).message}`);
      return;
    }
    const host = new StoreHost({ store, runId, script });
    let end!: (m: Extract<FromDriver, { t: "ended" }>) => void;
    const ended = new Promise<Extract<FromDriver, { t: "ended" }>>((resolve) => end = resolve);
    const h: Hosted = { runId, host, chain: Promise.resolve(), calls: new Map(), end };
    hosted.set(runId, h);
    host.onWake = () => tell({ t: "wake", run: runId });
    lease.watch({
      cancel: () => tell({ t: "cancel", run: runId }),
      lost: (error) => stopRun(h, error),
    });
    try {
      tell({
        t: "drive",
        run: runId,
        entity,
        inputs: toJsonTree(inputs),
        owner: lease.owner,
        script,
        ...(suspend === undefined ? {} : { suspend }),
      });
      const result = await ended;
      await h.chain;
      if (h.stopped === undefined) await host.flush();
      if (!loop.stopping || result.status !== undefined) {
        say(`run ${runId} ${result.status ?? `: ${h.stopped?.message ?? result.error}`}`);
      }
    } catch (e) {
      if (!loop.stopping) say(`run ${runId}: ${(e as Error).message}`);
    } finally {
      hosted.delete(runId);
      for (const c of h.calls.values()) c.abort(new Error("the run ended"));
      await lease.release().catch(() => {});
    }
  }

  // Runs waiting for a driver, and sleeping runs that are due: claimed here, driven by the driver.
  return await loop.serve({
    tasks,
    executor: new IsolateExecutor({ url, ...isolate }),
    entities,
    drive: async (run) => {
      const body = (await store.bodies([run.inputsHash])).get(run.inputsHash);
      if (body === undefined) {
        say(`run ${run.id}: the inputs of run ${run.id} are missing`);
        return;
      }
      await hostRun(run.id, run.entity, decodeValue(body) as Record<string, unknown>, run.script);
    },
    wake: async (sleeping) => {
      const details = await store.getRun(sleeping.id, { nodes: false });
      if (details === undefined) return;
      const script = sleeping.script ?? decodeURIComponent(new URL(spec.url).pathname);
      await hostRun(sleeping.id, sleeping.entity, { ...details.inputs }, script, "1m");
    },
    stopped: () => {
      // The runs driven here stop being recorded from here (they are released next).
      driver.terminate();
      for (const h of hosted.values()) h.host.abandon();
    },
  });
}
