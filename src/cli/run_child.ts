/**
 * The child process of `weft run`. It holds no grant on the store (the
 * parent owns it: the child sends it the run's records and waits where a
 * result must be durable), and reports on stdout in frames marked with the
 * run's token (anything else the script prints there is its own output,
 * which the parent moves to stderr).
 *
 * In the default, per-task mode (`runTasksChild`) the main thread runs only
 * weft's code and never imports the script: it starts the driver Worker,
 * which holds no permission, and, when the driver asks, a Worker per
 * permission set the plan made, holding exactly that set; it relays
 * between the driver and the parent. With `--no-isolate` (`runSharedChild`)
 * the script runs in this thread, which holds the union of the grants.
 *
 * The child stops when the parent asks (a cancel line), on SIGINT, and at
 * once when the parent is gone (EOF on stdin): without its owner the run can
 * record nothing, and the owner's death left it resumable.
 *
 * @module
 */

import { IsolateExecutor, permissionSets, startTaskWorker } from "../engine/executors/isolate.ts";
import type { StoreReply } from "../store/remote.ts";
import { driverWorker } from "./driver_worker.ts";
import { ParentChannel, readFirstLine, readParent } from "./parent_channel.ts";
import type { ChildMessage, ChildSpec, ParentMessage } from "./protocol.ts";

export { PROTOCOL } from "./protocol.ts";
export type { ChildMessage, ChildSpec } from "./protocol.ts";

/** Reads the spec (the first line on stdin), then hands later lines to `onMessage`. */
function start(onMessage: (m: ParentMessage) => void): Promise<ChildSpec> {
  return new Promise((resolve) => {
    let spec: ChildSpec | undefined;
    readParent(
      (m) => {
        if (spec === undefined) resolve(spec = m as ChildSpec);
        else onMessage(m as ParentMessage);
      },
      // The parent is gone: nothing can be recorded any more.
      () => Deno.exit(130),
    );
  });
}

function onSigint(fn: () => void): void {
  try {
    Deno.addSignalListener("SIGINT", fn);
  } catch {
    // signals are not available everywhere
  }
}

/**
 * The per-task mode: starts the driver Worker (which then talks to the
 * parent itself: it reads stdin and writes the run's frames) and the task
 * Workers it asks for. Never imports the script.
 *
 * @returns Never: the process exits with the run's code.
 */
export async function runTasksChild(): Promise<never> {
  const read = await readFirstLine().catch(() => undefined);
  // The parent is gone: nothing can be recorded any more.
  if (read === undefined) Deno.exit(130);
  const spec = read.first as ChildSpec;
  // The permission sets the plan allows, in the order the driver numbers them.
  const { sets } = permissionSets(spec.perTask, spec.moduleRead, spec.importHosts, true);
  const workers: Worker[] = [];
  const driver = driverWorker(
    new URL("./run_driver.ts", import.meta.url),
    spec.moduleRead,
    spec.importHosts,
  );
  const exit = (code: number): never => {
    for (const w of workers) w.terminate();
    Deno.exit(code);
  };
  driver.onmessage = (event: MessageEvent) => {
    const m = event.data as
      | { t: "spawn"; serial: number; set: number; port: MessagePort }
      | { t: "exit"; code: number };
    if (m.t === "spawn") {
      // Only the sets the plan made: the driver runs the script's code, which may ask for more.
      const permissions = Number.isInteger(m.set) ? sets[m.set] : undefined;
      if (permissions === undefined || !(m.port instanceof MessagePort)) return;
      workers.push(
        startTaskWorker(
          spec.module ?? spec.url,
          m.set,
          permissions,
          m.port,
          (message) => driver.postMessage({ t: "crashed", serial: m.serial, message }),
        ),
      );
    } else if (m.t === "exit") exit(Number.isInteger(m.code) ? m.code : 1);
  };
  driver.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    const channel = new ParentChannel(spec.token);
    channel.send({
      t: "error",
      code: 1,
      error: { name: "Error", message: `the run's driver stopped: ${event.message}` },
    }, true);
    exit(1);
  };
  onSigint(() => driver.postMessage({ t: "cancel" }));
  // The driver gets the token, and stdin from here on: it speaks with the parent directly.
  driver.postMessage({ t: "start", spec, rest: read.rest });
  // The process ends with exit().
  return await new Promise<never>(() => {});
}

/**
 * The per-task mode when no task declares a permission: this process holds
 * what the driver Worker would (read on the module files, import from the
 * graph's hosts), so the driver's work (see `run_driver.ts`) runs in this
 * thread, without the Worker that would cost a start-up and a copy of the
 * engine. The engine loads while the spec is on its way (the parent may
 * have started this process before it knew the run: see `prestart.ts`).
 * Errors nothing catches end the run as they end the driver Worker.
 *
 * @returns Never: the process exits with the run's code.
 */
export async function runInlineChild(): Promise<never> {
  const loading = import("./run_drive.ts");
  loading.catch(() => {}); // (awaited below, where a failure to load is thrown)
  const read = await readFirstLine().catch(() => undefined);
  // The parent is gone: nothing can be recorded any more.
  if (read === undefined) Deno.exit(130);
  const spec = read.first as ChildSpec;
  const channel = new ParentChannel(spec.token);
  const stopped = (message: string): never => {
    channel.send({
      t: "error",
      code: 1,
      error: { name: "Error", message: `the run's driver stopped: ${message}` },
    }, true);
    channel.flush();
    Deno.exit(1);
  };
  if (permissionSets(spec.perTask, spec.moduleRead, spec.importHosts, true).sets.length > 0) {
    stopped("a task declares permissions, which need the driver Worker");
  }
  const { parentTransport, drive } = await loading;
  const rest = read.rest;
  const controller = new AbortController();
  // The parent is gone: without its owner the run can record nothing.
  channel.onBroken = () => Deno.exit(130);
  const io = {
    send: (message: ChildMessage, urgent = false) => channel.send(message, urgent),
    signal: controller.signal,
  };
  const transport = parentTransport(io);
  readParent(
    (m) => {
      const message = m as ParentMessage;
      if (message.t === "reply") transport.reply(message.id, message.m as StoreReply);
      else if (message.t === "cancel") controller.abort();
      else if (message.t === "wake") transport.wake();
    },
    () => Deno.exit(130),
    rest,
  );
  onSigint(() => controller.abort());
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    stopped(event.message);
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    const reason = event.reason;
    stopped(
      reason instanceof Error
        ? `Uncaught (in promise) ${reason.name}: ${reason.message}`
        : `Uncaught (in promise) ${String(reason)}`,
    );
  });
  const executor = new IsolateExecutor({
    url: spec.url,
    perTask: spec.perTask,
    moduleRead: spec.moduleRead,
    importHosts: spec.importHosts,
    // Every task declares nothing: each runs here, with nothing.
    inline: true,
  });
  const code = await drive(spec, io, transport, () => import(spec.module ?? spec.url), executor);
  channel.flush();
  Deno.exit(code);
}

/**
 * `--no-isolate`: the script runs in this thread, which holds the union of
 * the grants (read on the store never among them).
 *
 * @param load Imports the script (a literal `import()` in the entry module, which needs no read permission).
 * @returns Never: the process exits with the run's code.
 */
export async function runSharedChild(load: () => Promise<Record<string, unknown>>): Promise<never> {
  const { parentTransport, drive } = await import("./run_drive.ts");
  const controller = new AbortController();
  const box: { transport?: ReturnType<typeof parentTransport> } = {};
  const spec = await start((m) => {
    if (m.t === "cancel") controller.abort();
    else if (m.t === "reply") box.transport?.reply(m.id, m.m as StoreReply);
    else if (m.t === "wake") box.transport?.wake();
  });
  const channel = new ParentChannel(spec.token);
  channel.onBroken = () => Deno.exit(130);
  onSigint(() => controller.abort());
  const io = {
    send: (message: ChildMessage, urgent = false) => channel.send(message, urgent),
    signal: controller.signal,
  };
  const transport = box.transport = parentTransport(io);
  const code = await drive(spec, io, transport, load);
  channel.flush();
  Deno.exit(code);
}
