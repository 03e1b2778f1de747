/**
 * The child side of `weft run`: runs inside a Deno process started with
 * exactly the planned permissions, imports the script, runs the selected
 * entity, and reports to the parent on stdout with marked lines (anything
 * else the script prints there is user output, which the parent moves to
 * stderr). It stops cleanly — leaving the run resumable — when the parent
 * asks (a `cancel` line on stdin), on SIGINT, or when the parent dies (EOF
 * on stdin, or a broken stdout).
 *
 * @module
 */

import { entityOf } from "../define/entity.ts";
import { type EngineOptions, runWith, type TaskExecutor } from "../engine/mod.ts";
import { RunOwnedError, ValidationError, WeftError } from "../core/errors.ts";
import type { WeftEvent } from "../engine/events.ts";
import { fromJsonTree, toJsonTree } from "../core/values.ts";
import { openStore } from "../store/open.ts";
import { underClaim } from "../store/ownership.ts";
import { ProgressModel } from "./progress.ts";

export { PROTOCOL } from "./protocol.ts";
export type { ChildMessage, ChildSpec } from "./protocol.ts";
import { type ChildMessage, type ChildSpec, PROTOCOL } from "./protocol.ts";

const encoder = new TextEncoder();

/** Buffers protocol lines and writes them in batches; a broken pipe means the parent is gone. */
class Channel {
  #buffer: string[] = [];
  #size = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  broken = false;
  onBroken: () => void = () => {};

  send(message: ChildMessage): void {
    if (this.broken) return;
    const line = `${PROTOCOL}${JSON.stringify(message)}\n`;
    this.#buffer.push(line);
    this.#size += line.length;
    if (this.#size > 1 << 16) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), 20);
  }

  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#buffer.length === 0 || this.broken) return;
    const data = encoder.encode(this.#buffer.join(""));
    this.#buffer = [];
    this.#size = 0;
    try {
      let written = 0;
      while (written < data.length) written += Deno.stdout.writeSync(data.subarray(written));
    } catch {
      // The parent is gone: a failing writer must never fail a task.
      this.broken = true;
      this.onBroken();
    }
  }
}

function jsonEvent(e: WeftEvent): unknown {
  if (e.type === "run started") return { ...e, inputs: toJsonTree(e.inputs) };
  if (e.type === "run finished") return { ...e, outputs: toJsonTree(e.outputs) };
  return e;
}

/**
 * Runs the selected entity of the script and exits. What to run (a
 * {@linkcode ChildSpec}) is the first line on stdin; later lines are commands.
 *
 * @param load Imports the script (a literal `import()` in the entry module, which needs no read permission).
 * @returns Never: the process exits with 0 (succeeded), 1 (failed), 2 (bad input) or 130 (cancelled).
 */
export async function runChild(load: () => Promise<Record<string, unknown>>): Promise<never> {
  const channel = new Channel();
  const controller = new AbortController();
  channel.onBroken = () => controller.abort();
  const fail = (code: number, e: unknown): never => {
    const error = e instanceof Error
      ? { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) }
      : { name: "Error", message: String(e) };
    channel.send({ t: "error", code, error });
    channel.flush();
    Deno.exit(code);
  };

  // Stop when the parent asks or dies, or on Ctrl-C.
  const spec = await watchParent(controller);
  if (spec === undefined) Deno.exit(130); // the parent went away before saying what to run
  try {
    Deno.addSignalListener("SIGINT", () => controller.abort());
  } catch {
    // signals are not available everywhere
  }

  const distributed = /^postgres(ql)?:\/\//.test(spec.store);
  if (distributed) (await import("./run_queue.ts")).collectEntities();
  let mod: Record<string, unknown>;
  try {
    mod = await load();
  } catch (e) {
    return fail(2, new ValidationError(`Loading ${spec.url} failed: ${(e as Error).message ?? e}`));
  }
  const entity = mod[spec.exportName];
  if (entityOf(entity) === undefined) {
    return fail(2, new ValidationError(`${spec.url} no longer exports '${spec.exportName}'`));
  }

  // Replay checking runs nothing and writes nothing: it holds no claim on the run.
  if (spec.replay === true) return await replayChild(spec, entity, channel);

  const model = spec.events === "progress" ? new ProgressModel(spec.finishedLines) : undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  if (model !== undefined) {
    ticker = setInterval(() => {
      if (model.dirty) channel.send({ t: "progress", s: model.snapshot() });
    }, 100);
  }
  const onEvent = model !== undefined
    ? (e: WeftEvent) => model.apply(e)
    : (e: WeftEvent) => channel.send({ t: "event", e: jsonEvent(e) });

  let executor: (TaskExecutor & { close(): void }) | undefined;
  if (spec.isolate !== undefined) {
    const { IsolateExecutor } = await import("../engine/executors/isolate.ts");
    executor = new IsolateExecutor({ url: spec.url, ...spec.isolate });
  }
  // The parent owns the run id (it claimed it before starting this process).
  const opened = await openStore(spec.store);
  const store = underClaim(opened, spec.runId, spec.ownerId);
  const options: EngineOptions = {
    store,
    cache: spec.cache,
    signal: controller.signal,
    onEvent,
    script: spec.url,
  };
  options.runId = spec.runId;
  if (spec.concurrency !== undefined) options.concurrency = spec.concurrency;
  if (spec.suspend !== undefined) options.suspend = spec.suspend;
  if (executor !== undefined) options.executor = executor;
  let queue: Awaited<ReturnType<typeof import("./run_queue.ts").distribute>> | undefined;
  let code: number;
  try {
    if (distributed) {
      // Task calls go through the store's queue (this process works them too).
      queue = await (await import("./run_queue.ts")).distribute(opened, {
        runId: spec.runId,
        concurrency: spec.concurrency,
        executor,
      });
      options.executor = queue.executor;
    }
    const result = await runWith(
      entity,
      fromJsonTree(spec.inputs) as Record<string, unknown>,
      options,
    );
    if (ticker !== undefined) clearInterval(ticker);
    if (model !== undefined) channel.send({ t: "progress", s: model.snapshot() });
    channel.send({
      t: "result",
      runId: result.runId,
      status: result.status,
      outputs: toJsonTree(result.outputs),
      errors: result.errors.map((e) => e.toJSON()),
      fromRecord: result.fromRecord,
      startedAt: result.startedAt.getTime(),
      ...(result.wakeAt === undefined ? {} : { wakeAt: result.wakeAt.getTime() }),
      ...(result.waitingFor === undefined ? {} : { waitingFor: result.waitingFor }),
    });
    code = exitCode(result.status);
    await queue?.close();
  } catch (e) {
    if (ticker !== undefined) clearInterval(ticker);
    await queue?.close().catch(() => {});
    executor?.close();
    await store.close();
    return fail(e instanceof ValidationError || e instanceof RunOwnedError ? 2 : 1, e);
  }
  executor?.close();
  await store.close();
  channel.flush();
  Deno.exit(code);
}

/**
 * Reads the parent's stdin: the spec (the first line), then commands; EOF
 * means the parent died.
 *
 * @returns The spec, or undefined when stdin ended before it.
 */
function watchParent(controller: AbortController): Promise<ChildSpec | undefined> {
  let resolveSpec: (spec: ChildSpec | undefined) => void = () => {};
  const spec = new Promise<ChildSpec | undefined>((resolve) => resolveSpec = resolve);
  (async () => {
    // Deno.stdin.read, not Deno.stdin.readable: the first web stream a
    // process makes costs a few milliseconds to set up, and nothing else in
    // the run needs one.
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(1 << 16);
    let text = "";
    let first = true;
    try {
      for (let n = await Deno.stdin.read(buffer); n !== null; n = await Deno.stdin.read(buffer)) {
        text += decoder.decode(buffer.subarray(0, n), { stream: true });
        let nl: number;
        while ((nl = text.indexOf("\n")) >= 0) {
          const line = text.slice(0, nl).trim();
          text = text.slice(nl + 1);
          if (first) {
            first = false;
            resolveSpec(JSON.parse(line) as ChildSpec);
          } else if (line === "cancel") controller.abort();
        }
      }
    } catch {
      // treat a read error as the parent going away
    }
    resolveSpec(undefined);
    controller.abort();
  })();
  return spec;
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

/** `weft replay`: checks the script's code against the recorded run, and exits 0 (it replays) or 1. */
async function replayChild(spec: ChildSpec, entity: unknown, channel: Channel): Promise<never> {
  const { replayCheck } = await import("../engine/replay.ts");
  const store = await openStore(spec.store);
  let code = 0;
  try {
    const report = await replayCheck(entity, spec.runId!, { store });
    channel.send({
      t: "result",
      runId: spec.runId!,
      status: "succeeded",
      outputs: report,
      errors: [],
      fromRecord: false,
      startedAt: Date.now(),
      replay: true,
    });
  } catch (e) {
    if (e instanceof ValidationError) {
      channel.send({
        t: "error",
        code: 2,
        error: { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) },
      });
      code = 2;
    } else {
      const error = e instanceof WeftError ? e.toJSON() : { name: "Error", message: String(e) };
      channel.send({
        t: "result",
        runId: spec.runId!,
        status: "failed",
        outputs: undefined,
        errors: [error],
        fromRecord: false,
        startedAt: Date.now(),
        replay: true,
      });
      code = 1;
    }
  }
  await store.close();
  channel.flush();
  Deno.exit(code);
}
