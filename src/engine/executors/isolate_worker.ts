/**
 * A task Worker (see `isolate.ts`): holds exactly one permission set,
 * imports the script once to find its tasks by name, and runs the attempts
 * it is sent over its port. Importing the script runs its top-level code
 * here too, under this Worker's grant; timers that code leaves behind are
 * cancelled once the import is done, so that nothing of it runs later with
 * the grant (the script's real top-level run is in the engine's thread,
 * which holds no permission).
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { TaskDef } from "../../define/defs.ts";

const COLLECT = Symbol.for("weft.collect.v1");

type Message =
  | {
    t: "run";
    id: number;
    task: string;
    inputs: Record<string, unknown>;
    attempt: number;
    runId: string;
    nodeId: string;
  }
  | { t: "abort"; id: number; reason: string }
  | { t: "close" };

let tasks: Promise<Map<string, TaskDef>> | undefined;
const controllers = new Map<number, AbortController>();

function describe(e: unknown): { name: string; message: string; stack?: string } {
  if (e instanceof Error) {
    return { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
  }
  return { name: "Error", message: String(e) };
}

/** Imports the script, cancelling the timers its top-level code leaves behind. */
async function load(url: string): Promise<Map<string, TaskDef>> {
  const g = globalThis as unknown as Record<string | symbol, unknown>;
  g[COLLECT] = [];
  const setTimeoutOf = globalThis.setTimeout;
  const setIntervalOf = globalThis.setInterval;
  const timers: number[] = [];
  g.setTimeout = (...args: Parameters<typeof setTimeout>) => {
    const id = setTimeoutOf(...args);
    timers.push(id);
    return id;
  };
  g.setInterval = (...args: Parameters<typeof setInterval>) => {
    const id = setIntervalOf(...args);
    timers.push(id);
    return id;
  };
  try {
    await import(url);
  } finally {
    g.setTimeout = setTimeoutOf;
    g.setInterval = setIntervalOf;
    for (const id of timers) clearTimeout(id);
  }
  const defs = new Map<string, TaskDef>();
  for (const d of g[COLLECT] as TaskDef[]) if (d.kind === "task") defs.set(d.name, d);
  return defs;
}

async function run(port: MessagePort, m: Extract<Message, { t: "run" }>): Promise<void> {
  const controller = new AbortController();
  controllers.set(m.id, controller);
  try {
    const def = (await tasks!).get(m.task);
    if (def === undefined) throw new Error(`the script defines no task named '${m.task}'`);
    const ctx = {
      signal: controller.signal,
      attempt: m.attempt,
      runId: m.runId,
      nodeId: m.nodeId,
      log: (...args: unknown[]) =>
        port.postMessage({
          t: "log",
          id: m.id,
          args: args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" "),
        }),
    };
    const fn = def.fn as (...a: unknown[]) => unknown;
    const value = def.style === "object"
      ? await fn(m.inputs, ctx)
      : await fn(...def.params.map((p) => m.inputs[p.name]), ctx);
    port.postMessage({ t: "done", id: m.id, value });
  } catch (e) {
    port.postMessage({ t: "fail", id: m.id, error: describe(e) });
  } finally {
    controllers.delete(m.id);
  }
}

self.onmessage = (event: MessageEvent<{ t: "init"; url: string; port: MessagePort }>) => {
  const { url, port } = event.data;
  if (event.data.t !== "init" || tasks !== undefined) return;
  tasks = load(url);
  tasks.catch((e) => port.postMessage({ t: "fatal", error: describe(e) }));
  port.onmessage = (e: MessageEvent<Message>) => {
    const m = e.data;
    if (m.t === "abort") controllers.get(m.id)?.abort(new Error(m.reason));
    else if (m.t === "close") self.close();
    else if (m.t === "run") run(port, m);
  };
};
