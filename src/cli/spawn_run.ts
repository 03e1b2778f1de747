/**
 * The parent side of `weft run`'s child process: starts `deno run` of a
 * small entry module (a data: URL) with exactly the planned permissions, reads the
 * protocol lines (progress, events, the result) and the script's own output,
 * forwards Ctrl-C (once: stop cleanly; twice: kill), and prints the result.
 *
 * @module
 */

import type { Permissions } from "../define/permissions.ts";
import { escapeJson, escapeText } from "../core/escape.ts";
import type { RunLease } from "../store/ownership.ts";
import { permissionFlags, type PermissionPlan } from "./plan.ts";
import { formatMs, type ProgressMode, type ProgressSnapshot, ProgressView } from "./progress.ts";
import { type ChildMessage, type ChildSpec, PROTOCOL } from "./protocol.ts";
import { childCwd, importFlags, scriptConfig } from "./script.ts";

/** How the parent watches the run child. */
export interface ChildOptions {
  /** The parent's claim on the run: renewed while the child runs. */
  /** The parent's claim on the run (none for `weft replay`, which runs nothing). */
  lease?: RunLease;
  isolate: boolean;
  importHosts: string[];
  mode: ProgressMode;
  color: boolean;
  json: boolean;
  verbose: boolean;
  moduleRead: string[];
}

/**
 * Starts the run child with exactly the planned permissions, shows its
 * progress, forwards Ctrl-C, and prints the result.
 *
 * @param url The script.
 * @param spec What the child runs.
 * @param plan The permissions it gets.
 * @param options Progress mode, isolation, import hosts.
 * @returns The exit code.
 */
export async function runInChild(
  url: URL,
  spec: ChildSpec,
  plan: PermissionPlan,
  options: ChildOptions,
): Promise<number> {
  const runnerUrl = new URL("./run_child.ts", import.meta.url).href;
  // The entry is a data: URL, so that nothing is written to disk (and
  // nothing is left behind when this process is killed); the spec follows
  // on stdin, which then stays open as the command channel (a `cancel`
  // line; EOF when this process dies). Loading the main module and literal
  // imports need no read permission.
  const entry = `data:application/typescript,${
    encodeURIComponent(
      `import { runChild } from ${JSON.stringify(runnerUrl)};\n` +
        `await runChild(() => import(${JSON.stringify(url.href)}));\n`,
    )
  }`;
  const flags = [...plan.flags];
  if (options.isolate) {
    // Workers need read on the module files; the process must hold what its Workers get.
    const read: Permissions = { read: options.moduleRead };
    flags.splice(0, flags.length, ...permissionFlags(mergeRead(plan.permissions, read)));
    flags.push("--unstable-worker-options");
  }
  const weftHost = new URL("../", import.meta.url);
  const hosts = [...options.importHosts];
  if (weftHost.protocol.startsWith("http")) hosts.push(weftHost.host);
  const config = scriptConfig(url);
  const args = [
    "run",
    "--quiet",
    "--no-prompt",
    ...flags,
    ...importFlags(url, hosts),
    ...(config === undefined ? [] : [`--config=${config}`]),
    entry,
  ];
  // Tasks run in the script's directory, where their relative paths (in code
  // and in permission declarations) resolve.
  const cwd = childCwd(url);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const encoder = new TextEncoder();
  const stdin = child.stdin.getWriter();
  stdin.write(encoder.encode(`${JSON.stringify(spec)}\n`)).catch(() => {});

  const view = new ProgressView(
    options.mode,
    options.color,
    (t) => Deno.stderr.writeSync(encoder.encode(t)),
  );
  let result: Extract<ChildMessage, { t: "result" }> | undefined;
  let failure: Extract<ChildMessage, { t: "error" }> | undefined;
  let last: ProgressSnapshot | undefined;

  // Ctrl-C: the first asks the child to stop cleanly, the second kills it.
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      view.print("weft: stopping (Ctrl-C again to exit at once)…\n");
      stdin.write(encoder.encode("cancel\n")).catch(() => {});
    } else {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      view.finish([]);
      Deno.exit(130);
    }
  };
  Deno.addSignalListener("SIGINT", onSigint);
  // A cancel request from elsewhere (weft ui, requestCancel) acts as a first
  // Ctrl-C; a lost claim (another process took the run over) stops the child
  // at once, so that no step runs twice.
  let lost: Error | undefined;
  options.lease?.watch({
    cancel: () => {
      if (interrupts > 0) return;
      interrupts = 1;
      view.print("weft: cancel requested; stopping…\n");
      stdin.write(encoder.encode("cancel\n")).catch(() => {});
    },
    lost: (error) => {
      lost = error;
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    },
  });
  try {
    const decoder = new TextDecoder();
    let buffer = "";
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
    const handle = (line: string) => {
      if (!line.startsWith(PROTOCOL)) {
        // The script's own console output goes to stderr.
        view.print(`${line}\n`);
        return;
      }
      const m = JSON.parse(line.slice(PROTOCOL.length)) as ChildMessage;
      if (m.t === "event") out(`${escapeJson(JSON.stringify(m.e))}\n`);
      else if (m.t === "progress") {
        last = m.s as ProgressSnapshot;
        view.update(last);
      } else if (m.t === "result") result = m;
      else if (m.t === "error") failure = m;
    };
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        handle(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
    }
    if (buffer !== "") handle(buffer);
    const status = await child.status;
    if (lost !== undefined) {
      view.finish([]);
      console.error(`weft: ${escapeText(lost.message)}`);
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
        })`,
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
          waits.join(" or ")
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

function mergeRead(p: Permissions, extra: Permissions): Permissions {
  if (p.read === true) return p;
  return {
    ...p,
    read: [...new Set([...(p.read ?? []), ...((extra.read as string[] | undefined) ?? [])])].sort(),
  };
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
