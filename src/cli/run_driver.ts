/**
 * The driver Worker of a `weft run` child (the default, per-task mode): it
 * holds no permission but read on the script's module files and import
 * from its module hosts, imports the script (so its top-level code, its
 * timers, workflow and flow bodies, and the tasks that declare nothing run
 * with nothing), and drives the run. Tasks that declare permissions run in
 * Workers the main thread starts with exactly their grant. It speaks with
 * the parent itself (stdin, and frames on stdout marked with the run's
 * token), so that a flush waits for one round trip between processes and
 * none between threads.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { IsolateExecutor } from "../engine/executors/isolate.ts";
import { ParentChannel, readParent } from "./parent_channel.ts";
import type { ChildMessage, ChildSpec, ParentMessage } from "./protocol.ts";
import { drive, type DriveIO, parentTransport } from "./run_drive.ts";

type FromMain =
  | { t: "start"; spec: ChildSpec; rest: string }
  | { t: "cancel" }
  | { t: "crashed"; serial: number; message: string };

// Captured before the script is imported (see parent_channel.ts): the
// channel's writer and its token live in this module only.
const controller = new AbortController();
const post = self.postMessage.bind(self);
let channel: ParentChannel | undefined;
const io: DriveIO = {
  send: (message: ChildMessage, urgent = false) => channel?.send(message, urgent),
  signal: controller.signal,
};
const transport = parentTransport(io);
let executor: IsolateExecutor | undefined;

self.onmessage = (event: MessageEvent<FromMain>) => {
  const m = event.data;
  if (m.t === "cancel") controller.abort();
  else if (m.t === "crashed") executor?.crashed(m.serial, m.message);
  else if (m.t === "start" && channel === undefined) start(m.spec, m.rest);
};

function onParent(m: ParentMessage): void {
  if (m.t === "reply") transport.reply(m.id, m.m);
  else if (m.t === "cancel") controller.abort();
  else if (m.t === "wake") transport.wake();
}

async function start(spec: ChildSpec, rest: string): Promise<void> {
  channel = new ParentChannel(spec.token);
  // The parent is gone: without its owner the run can record nothing.
  channel.onBroken = () => post({ t: "exit", code: 130 });
  readParent((m) => onParent(m as ParentMessage), () => post({ t: "exit", code: 130 }), rest);
  executor = new IsolateExecutor({
    url: spec.url,
    perTask: spec.perTask,
    moduleRead: spec.moduleRead,
    importHosts: spec.importHosts,
    // Tasks that declare nothing run here, with nothing.
    inline: true,
    // This Worker cannot start one with more than it holds: the main thread
    // does, with the permission set the plan made (it ignores anything else).
    spawn: (serial, set, _permissions, port) => post({ t: "spawn", serial, set, port }, [port]),
  });
  // The task Workers start loading the script while this one does.
  executor.warm();
  const code = await drive(spec, io, transport, () => import(spec.module ?? spec.url), executor);
  channel.flush();
  post({ t: "exit", code });
}
