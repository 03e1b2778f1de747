/**
 * What drives a `weft run` inside its child: imports the script, runs the
 * selected entity on the engine with a store across the channel (the parent
 * owns the real one) and, in the per-task mode, an executor that sends each
 * task that declares a permission to a Worker holding exactly its own, and
 * reports progress, events and the result. The same code runs in the
 * child's main thread (`--no-isolate`) and in the driver Worker, which
 * holds no permission (the default).
 *
 * @module
 */

import { entityOf } from "../define/entity.ts";
import { runWith } from "../engine/mod.ts";
import type { EngineOptions, TaskExecutor } from "../engine/types.ts";
import { RunOwnedError, ValidationError, WeftError } from "../core/errors.ts";
import type { WeftEvent } from "../engine/events.ts";
import { fromJsonTree, toJsonTree } from "../core/values.ts";
import { RemoteStore, type StoreTransport } from "../store/remote.ts";
import { ChannelTransport } from "./channel_transport.ts";
import { ProgressModel } from "./progress.ts";
import type { ChildMessage, ChildSpec } from "./protocol.ts";

/** How the driver reaches the parent. */
export interface DriveIO {
  /** Sends a message to the parent (`urgent`: at once, the sender waits on it). */
  send(message: ChildMessage, urgent?: boolean): void;
  /** Aborted when the run must stop (Ctrl-C, the parent asks, the parent is gone). */
  signal: AbortSignal;
}

/**
 * Store requests over the channel to the parent.
 *
 * @param io The channel.
 * @returns The transport (`reply` and `wake` take the parent's messages).
 */
export function parentTransport(io: DriveIO): ChannelTransport {
  return new ChannelTransport((m, id) => {
    if (id === undefined) io.send({ t: "store", m });
    else io.send({ t: "store", id, m }, true);
  });
}

function jsonEvent(e: WeftEvent): unknown {
  if (e.type === "run started") return { ...e, inputs: toJsonTree(e.inputs) };
  if (e.type === "run finished") return { ...e, outputs: toJsonTree(e.outputs) };
  return e;
}

/**
 * Runs the selected entity of the script.
 *
 * @param spec What to run.
 * @param io The channel to the parent.
 * @param transport Store requests over it.
 * @param load Imports the script.
 * @param executor Where tasks that declare permissions run (the per-task mode).
 * @returns The exit code: 0 succeeded, 1 failed, 2 bad input, 130 cancelled.
 */
export async function drive(
  spec: ChildSpec,
  io: DriveIO,
  transport: StoreTransport,
  load: () => Promise<Record<string, unknown>>,
  executor?: TaskExecutor & { close(): void },
): Promise<number> {
  const fail = (code: number, e: unknown): number => {
    const error = e instanceof Error
      ? { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) }
      : { name: "Error", message: String(e) };
    io.send({ t: "error", code, error }, true);
    return code;
  };
  let mod: Record<string, unknown>;
  try {
    mod = await load();
  } catch (e) {
    return fail(2, new ValidationError(loadFailure(spec.url, e)));
  }
  const entity = mod[spec.exportName];
  if (entityOf(entity) === undefined) {
    return fail(2, new ValidationError(`${spec.url} no longer exports '${spec.exportName}'`));
  }
  // The parent owns the store and the run (it claimed the run id before starting this process).
  const store = new RemoteStore(transport, spec.owner, spec.durable);
  // A replay check runs nothing and writes nothing: it reads the run's record, through the parent.
  if (spec.replay === true) return await replay(spec, entity, store, io);

  const model = spec.events === "progress" ? new ProgressModel(spec.finishedLines) : undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  if (model !== undefined) {
    ticker = setInterval(() => {
      if (model.dirty) io.send({ t: "progress", s: model.snapshot() });
    }, 100);
  }
  const onEvent = model !== undefined
    ? (e: WeftEvent) => model.apply(e)
    : (e: WeftEvent) => io.send({ t: "event", e: jsonEvent(e) });

  const options: EngineOptions = {
    store,
    cache: spec.cache,
    signal: io.signal,
    onEvent,
    script: spec.url,
    runId: spec.runId,
  };
  if (spec.concurrency !== undefined) options.concurrency = spec.concurrency;
  if (spec.maxDepth !== undefined) options.maxDepth = spec.maxDepth;
  if (spec.suspend !== undefined) options.suspend = spec.suspend;
  if (executor !== undefined) options.executor = executor;
  // weft's own tasks (now, random) declare nothing, so they never need a grant.
  options.granted = Object.keys(spec.perTask);
  try {
    const result = await runWith(
      entity,
      fromJsonTree(spec.inputs) as Record<string, unknown>,
      options,
    );
    if (ticker !== undefined) clearInterval(ticker);
    if (model !== undefined) io.send({ t: "progress", s: model.snapshot() });
    io.send({
      t: "result",
      runId: result.runId,
      status: result.status,
      outputs: toJsonTree(result.outputs),
      errors: result.errors.map((e) => e.toJSON()),
      fromRecord: result.fromRecord,
      startedAt: result.startedAt.getTime(),
      ...(result.wakeAt === undefined ? {} : { wakeAt: result.wakeAt.getTime() }),
      ...(result.waitingFor === undefined ? {} : { waitingFor: result.waitingFor }),
    }, true);
    return exitCode(result.status);
  } catch (e) {
    if (ticker !== undefined) clearInterval(ticker);
    return fail(e instanceof ValidationError || e instanceof RunOwnedError ? 2 : 1, e);
  } finally {
    executor?.close();
  }
}

/**
 * The exit code of a run's status: 0 succeeded, 1 failed, 130 cancelled,
 * 75 sleeping (suspended until a timer or a signal; EX_TEMPFAIL).
 *
 * @param status The run's status.
 * @returns The code.
 */
export function exitCode(status: string): number {
  return status === "succeeded" ? 0 : status === "cancelled" ? 130 : status === "sleeping" ? 75 : 1;
}

/** `weft replay`: checks the script's code against the recorded run; 0 it replays, 1 it diverges. */
async function replay(
  spec: ChildSpec,
  entity: unknown,
  store: RemoteStore,
  io: DriveIO,
): Promise<number> {
  const { replayCheck } = await import("../engine/replay.ts");
  const base = {
    t: "result" as const,
    runId: spec.runId,
    errors: [] as unknown[],
    fromRecord: false,
    startedAt: Date.now(),
    replay: true,
  };
  try {
    const report = await replayCheck(entity, spec.runId, { store });
    io.send({ ...base, status: "succeeded", outputs: report }, true);
    return 0;
  } catch (e) {
    if (e instanceof ValidationError) {
      io.send({
        t: "error",
        code: 2,
        error: { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) },
      }, true);
      return 2;
    }
    const error = e instanceof WeftError ? e.toJSON() : { name: "Error", message: String(e) };
    io.send({ ...base, status: "failed", outputs: undefined, errors: [error] }, true);
    return 1;
  }
}

/** Why importing the script failed, saying what to change when Deno refused something. */
function loadFailure(url: string, e: unknown): string {
  const message = (e as Error)?.message ?? String(e);
  const denied = /Requires (\w+) access to "([^"]*)"/.exec(message);
  if (denied !== null) {
    return `The top-level code of ${url} wanted ${denied[1]} access to "${
      denied[2]
    }", which the code that drives a run never has (it runs with no permissions); top-level side effects belong in tasks (declare permissions: { ${
      denied[1]
    }: [${JSON.stringify(denied[2])}] } on the task that needs it)`;
  }
  return `Loading ${url} failed: ${message}`;
}
