/**
 * The Worker side of `--isolate`: imports the script once, finds its task by
 * name, and runs the attempts it is sent, under only that task's permissions.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { TaskDef } from "../../define/defs.ts";

const COLLECT = Symbol.for("weft.collect.v1");

type Message =
  | { t: "init"; url: string; task: string }
  | {
    t: "run";
    id: number;
    task: string;
    inputs: Record<string, unknown>;
    attempt: number;
    runId: string;
    nodeId: string;
  }
  | { t: "abort"; id: number; reason: string };

let ready: Promise<TaskDef> | undefined;
const controllers = new Map<number, AbortController>();

function describe(e: unknown): { name: string; message: string; stack?: string } {
  if (e instanceof Error) {
    return { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
  }
  return { name: "Error", message: String(e) };
}

async function init(url: string, task: string): Promise<TaskDef> {
  (globalThis as unknown as Record<symbol, unknown[]>)[COLLECT] = [];
  await import(url);
  const defs = ((globalThis as unknown as Record<symbol, unknown[]>)[COLLECT] as TaskDef[])
    .filter((d) => d.kind === "task" && d.name === task);
  if (defs.length === 0) throw new Error(`the script defines no task named '${task}'`);
  return defs[0]!;
}

self.onmessage = async (event: MessageEvent<Message>) => {
  const m = event.data;
  if (m.t === "init") {
    ready = init(m.url, m.task);
    ready.catch((e) => self.postMessage({ t: "fatal", error: describe(e) }));
    return;
  }
  if (m.t === "abort") {
    controllers.get(m.id)?.abort(new Error(m.reason));
    return;
  }
  const controller = new AbortController();
  controllers.set(m.id, controller);
  try {
    const def = await ready!;
    const ctx = {
      signal: controller.signal,
      attempt: m.attempt,
      runId: m.runId,
      nodeId: m.nodeId,
      log: (...args: unknown[]) =>
        self.postMessage({
          t: "log",
          id: m.id,
          args: args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" "),
        }),
    };
    const fn = def.fn as (...a: unknown[]) => unknown;
    const value = def.style === "object"
      ? await fn(m.inputs, ctx)
      : await fn(...def.params.map((p) => m.inputs[p.name]), ctx);
    self.postMessage({ t: "done", id: m.id, value });
  } catch (e) {
    self.postMessage({ t: "fail", id: m.id, error: describe(e) });
  } finally {
    controllers.delete(m.id);
  }
};
