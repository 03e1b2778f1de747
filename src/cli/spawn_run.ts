/**
 * The parent side of `weft run`'s child process: starts `deno run` of a
 * small entry module (a data: URL) with exactly the planned permissions —
 * never a grant on the store, which this process owns — sends it the spec,
 * serves its store requests (`run_host.ts`), reads its frames (progress,
 * events, the result) apart from the script's own output, forwards Ctrl-C
 * (once: stop cleanly; twice: kill) and cancel requests, and prints the
 * result.
 *
 * @module
 */

import { escapeJson, escapeText } from "../core/escape.ts";
import type { RunLease } from "../store/ownership.ts";
import { formatMs, type ProgressMode, type ProgressSnapshot, ProgressView } from "./progress.ts";
import {
  type ChildMessage,
  type ChildSpec,
  FRAME,
  type ParentMessage,
  PROTOCOL,
} from "./protocol.ts";
import type { StoreHost } from "./run_host.ts";
import { childCwd, scriptConfig } from "./script.ts";
import { isSpec, scriptModule } from "./spec_module.ts";
import { childArgs, childEntry, type ChildEntryMode } from "./child_args.ts";
import { takePrestarted } from "./prestart.ts";
import { PERMISSION_KINDS } from "../define/permissions.ts";

/** How the parent starts and watches the run child. */
export interface ChildOptions {
  /** The parent's claim on the run: renewed while the child runs (none for `weft replay`, which runs nothing). */
  lease?: RunLease;
  /** Serves the child's store requests. */
  host: StoreHost;
  /** The child's Deno flags (permissions, imports, fetching). */
  flags: string[];
  mode: ProgressMode;
  color: boolean;
  json: boolean;
  verbose: boolean;
}

/** What the IPC round trips of a run cost, for `WEFT_IPC_STATS` (the bench reads it). */
const ipc = { syncs: 0, syncMs: 0, flushes: 0 };

/**
 * Starts the run child with exactly the planned permissions, serves its
 * store, shows its progress, forwards Ctrl-C, and prints the result.
 *
 * @param url The script.
 * @param given What the child runs (its token is made here).
 * @param options The flags, the claim, the store host, progress.
 * @returns The exit code.
 */
export async function runInChild(
  url: URL,
  given: Omit<ChildSpec, "token">,
  options: ChildOptions,
): Promise<number> {
  // A workflow spec is imported as the module that builds it; the run records the spec's path.
  const spec = isSpec(url) ? { ...given, module: await scriptModule(url) } : given;
  // The entry is a data: URL, so that nothing is written to disk; the spec
  // follows on stdin, which then stays open as the command channel (EOF
  // when this process dies). In the per-task mode the entry does not import
  // the script at all: the driver Worker does, or, when no task declares a
  // permission, the child's own thread, which then holds only what the
  // driver would.
  const mode: ChildEntryMode = spec.mode === "shared"
    ? "shared"
    : Object.values(spec.perTask).every((p) => !PERMISSION_KINDS.some((k) => p[k] !== undefined))
    ? "inline"
    : "tasks";
  const config = scriptConfig(url);
  const script = spec.module ?? url.href;
  const args = childArgs(options.flags, config, childEntry(mode, script));
  // The token that marks the child's frames: only its main thread learns it.
  const token = [...crypto.getRandomValues(new Uint8Array(18))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  // Tasks run in the script's directory, where their relative paths (in code
  // and in permission declarations) resolve. The child may have been started
  // already, with these very arguments (prestart.ts).
  const cwd = childCwd(url);
  const child = await takePrestarted(script, args, cwd) ??
    new Deno.Command(Deno.execPath(), {
      args,
      cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  const encoder = new TextEncoder();
  const stdin = child.stdin.getWriter();
  const tell = (m: ChildSpec | ParentMessage) =>
    stdin.write(encoder.encode(`${JSON.stringify(m)}\n`)).catch(() => {});
  tell({ ...spec, token } as ChildSpec);
  options.host.onWake = () => tell({ t: "wake" });

  const view = new ProgressView(
    options.mode,
    options.color,
    (t) => Deno.stderr.writeSync(encoder.encode(t)),
  );
  let result: Extract<ChildMessage, { t: "result" }> | undefined;
  let failure: Extract<ChildMessage, { t: "error" }> | undefined;
  let broken: Error | undefined;
  let last: ProgressSnapshot | undefined;
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };

  // Ctrl-C: the first asks the child to stop cleanly, the second kills it.
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      view.print("weft: stopping (Ctrl-C again to exit at once)…\n");
      tell({ t: "cancel" });
    } else {
      kill();
      view.finish([]);
      Deno.exit(130);
    }
  };
  Deno.addSignalListener("SIGINT", onSigint);
  // A cancel request from elsewhere (weft ui, requestCancel) acts as a first
  // Ctrl-C; a lost claim (another process took the run over) stops the child
  // at once and drops what it sent since the last commit, so that nothing is
  // recorded twice.
  let lost: Error | undefined;
  options.lease?.watch({
    cancel: () => {
      if (interrupts > 0) return;
      interrupts = 1;
      view.print("weft: cancel requested; stopping…\n");
      tell({ t: "cancel" });
    },
    lost: (error) => {
      lost = error;
      options.host.abandon();
      kill();
    },
  });

  // The child's store requests, one after another, in the order sent. The
  // requests that arrive together (one read of the child's output) are
  // served together: their node records make one commit, and the answers go
  // back in one write once it is durable.
  let served: Promise<void> = Promise.resolve();
  const stats = Deno.env.get("WEFT_IPC_STATS") !== undefined;
  let replies = "";
  const sendReplies = () => {
    const text = replies;
    replies = "";
    if (text !== "") stdin.write(encoder.encode(text)).catch(() => {});
  };
  const serve = (batch: Extract<ChildMessage, { t: "store" }>[]) => {
    const received = stats ? performance.now() : 0;
    served = served.then(async () => {
      if (broken !== undefined || lost !== undefined) return;
      try {
        const flushes = await options.host.handleMany(batch, (id, reply) => {
          if (replies === "") queueMicrotask(sendReplies);
          replies += `${JSON.stringify({ t: "reply", id, m: reply } satisfies ParentMessage)}\n`;
          if (stats && reply.t === "synced") {
            ipc.syncs++;
            ipc.syncMs += performance.now() - received;
          }
        });
        if (stats) ipc.flushes += flushes;
      } catch (e) {
        broken = e as Error;
        kill();
      }
    });
  };
  let requests: Extract<ChildMessage, { t: "store" }>[] = [];

  try {
    const decoder = new TextDecoder();
    const marker = `${FRAME}${token}`;
    let buffer = "";
    let parts = "";
    let user = "";
    let stdoutGone = false;
    const out = (text: string) => {
      if (stdoutGone) return;
      try {
        const data = encoder.encode(text);
        let written = 0;
        while (written < data.length) written += Deno.stdout.writeSync(data.subarray(written));
      } catch (e) {
        // A reader that went away (`| head`) is not the run's failure.
        if (e instanceof Deno.errors.BrokenPipe) stdoutGone = true;
        else throw e;
      }
    };
    // The script's own output goes to stderr, a line at a time.
    const userText = (text: string) => {
      user += text;
      const nl = user.lastIndexOf("\n");
      if (nl < 0) return;
      view.print(user.slice(0, nl + 1));
      user = user.slice(nl + 1);
    };
    const handle = (m: ChildMessage) => {
      if (m.t === "store") requests.push(m);
      else if (m.t === "event") out(`${escapeJson(JSON.stringify(m.e))}\n`);
      else if (m.t === "progress") {
        last = m.s as ProgressSnapshot;
        view.update(last);
      } else if (m.t === "result") result = m;
      else if (m.t === "error") failure = m;
    };
    const frame = (line: string) => {
      if (
        !line.startsWith(marker) || (line[marker.length] !== ":" && line[marker.length] !== "+")
      ) {
        // Marked, but not with this run's token: the script's own output.
        userText(`${line}\n`);
        return;
      }
      parts += line.slice(marker.length + 1);
      if (line[marker.length] === "+") return;
      const text = parts;
      parts = "";
      let m: ChildMessage;
      try {
        m = JSON.parse(text);
      } catch {
        broken = new Error("a frame that is not JSON");
        kill();
        return;
      }
      handle(m);
    };
    const scan = () => {
      for (;;) {
        const at = buffer.indexOf(PROTOCOL);
        if (at < 0) {
          // Keep what could be the start of a frame.
          let keep = 0;
          for (let k = Math.min(PROTOCOL.length - 1, buffer.length); k > 0; k--) {
            if (PROTOCOL.startsWith(buffer.slice(buffer.length - k))) {
              keep = k;
              break;
            }
          }
          if (buffer.length > keep) userText(buffer.slice(0, buffer.length - keep));
          buffer = buffer.slice(buffer.length - keep);
          return;
        }
        if (at > 0) userText(buffer.slice(0, at));
        const nl = buffer.indexOf("\n", at);
        if (nl < 0) {
          buffer = buffer.slice(at);
          return;
        }
        frame(buffer.slice(at, nl));
        buffer = buffer.slice(nl + 1);
      }
    };
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      scan();
      if (requests.length > 0) {
        serve(requests);
        requests = [];
      }
    }
    if (buffer !== "") userText(buffer);
    if (user !== "") view.print(`${user}\n`);
    const status = await child.status;
    await served;
    if (stats) {
      console.error(
        `weft: ipc ${ipc.syncs} syncs in ${ipc.flushes} commits, ${
          ipc.syncs === 0 ? 0 : (ipc.syncMs * 1000 / ipc.syncs).toFixed(0)
        } µs per sync in this process`,
      );
    }
    if (lost !== undefined) {
      view.finish([]);
      console.error(`weft: ${escapeText(lost.message)}`);
      return 1;
    }
    // What the child reported before it ended is kept (the run stays resumable).
    if (!options.host.finished) await options.host.flush().catch(() => {});
    if (broken !== undefined) {
      view.finish([]);
      console.error(
        `weft: the run process broke weft's protocol (${
          escapeText(broken.message)
        }) and was stopped; the run is left as recorded, resumable with --run-id ${spec.runId}`,
      );
      return 1;
    }
    if (failure !== undefined) {
      view.finish([]);
      console.error(`weft: ${escapeText(failure.error.message.split("\n")[0]!)}`);
      if (options.verbose && failure.error.stack) console.error(escapeText(failure.error.stack));
      return failure.code;
    }
    if (result === undefined) {
      view.finish([]);
      console.error(
        `weft: the run process ended without a result (exit code ${status.code}${
          status.signal ? `, ${status.signal}` : ""
        }); the run is left as recorded, resumable with --run-id ${spec.runId}`,
      );
      return status.code === 0 ? 1 : status.code;
    }
    view.finish(summary(result, last));
    // That nothing ran is worth saying even to --quiet: the outputs are an earlier run's.
    if (result.fromRecord && options.mode === "quiet" && !options.json) {
      console.error(summary(result, last)[0]);
    }
    if (!options.json && result.status === "succeeded") {
      out(`${escapeJson(JSON.stringify(result.outputs ?? null, null, 2))}\n`);
    }
    // A run that had succeeded ran nothing, so no event came: the stream still
    // ends with the result, marked as the recorded one.
    if (options.json && result.fromRecord) {
      const finished = {
        type: "run finished",
        runId: result.runId,
        time: Date.now(),
        status: result.status,
        outputs: result.outputs,
        errors: [],
        durationMs: 0,
        fromRecord: true,
      };
      out(`${escapeJson(JSON.stringify(finished))}\n`);
    }
    if (result.status !== "succeeded" && options.mode === "quiet" && !options.json) {
      for (const e of result.errors as { message: string }[]) {
        console.error(`weft: ${escapeText(e.message)}`);
      }
    }
    if (result.status === "sleeping" && !options.json) {
      const waits = [
        ...(result.wakeAt === undefined ? [] : [`until ${new Date(result.wakeAt).toISOString()}`]),
        ...(result.waitingFor?.length
          ? [`for signal${result.waitingFor.length > 1 ? "s" : ""} ${result.waitingFor.join(", ")}`]
          : []),
      ];
      console.error(
        `weft: run ${result.runId} is sleeping ${
          escapeText(waits.join(" or "))
        }; weft serve wakes it, or weft resume ${result.runId}`,
      );
    }
    return result.status === "succeeded"
      ? 0
      : result.status === "cancelled"
      ? 130
      : result.status === "sleeping"
      ? 75
      : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    await stdin.close().catch(() => {});
  }
}

function summary(
  result: Extract<ChildMessage, { t: "result" }>,
  s: ProgressSnapshot | undefined,
): string[] {
  if (result.fromRecord) {
    const d = new Date(result.startedAt);
    const pad = (n: number) => String(n).padStart(2, "0");
    const at = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${
      pad(d.getHours())
    }:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return [
      `weft: run ${result.runId} already succeeded (started ${at}); its recorded result was returned and nothing ran (a new run needs a new --run-id)`,
    ];
  }
  const took = s === undefined ? "" : ` in ${formatMs(s.time - s.startedAt)}`;
  const counts = s === undefined
    ? ""
    : ` — ${s.succeeded} task${s.succeeded === 1 ? "" : "s"} done${
      s.cached ? ` (${s.cached} cached or replayed)` : ""
    }${s.retries ? `, ${s.retries} retr${s.retries === 1 ? "y" : "ies"}` : ""}${
      s.failed ? `, ${s.failed} failed` : ""
    }${s.skipped ? `, ${s.skipped} skipped` : ""}`;
  const lines = result.replay === true
    ? [
      `weft: replay of run ${result.runId} ${
        result.status === "succeeded" ? "matches its journal" : "diverged from its journal"
      }`,
    ]
    : [`weft: run ${result.runId} ${result.status}${took}${counts}`];
  for (
    const e of result.errors as { message: string; cause?: { name: string; message: string } }[]
  ) {
    lines.push(`weft: ✗ ${e.message}`);
  }
  return lines;
}
