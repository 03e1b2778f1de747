/**
 * `weft worker SCRIPT --store postgres://…`: compiles the script with no
 * permissions (as `weft run` does), then starts a process that serves the
 * store's task queue and drives runs waiting for a driver. By default that
 * process's main thread holds the store and never imports the script: the
 * script's code runs in a driver Worker holding no permission, each claimed
 * attempt in a Worker holding only its task's permissions (see
 * `worker_host.ts`); `--no-isolate` runs everything in one thread holding
 * the union of the grants and the store (`worker_child.ts`). SIGTERM or
 * Ctrl-C stops it gracefully.
 *
 * @module
 */

import { parseDuration } from "../core/duration.ts";
import type { Permissions } from "../define/permissions.ts";
import { type OptionSpec, parseCommandArgs, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { loadScript } from "./load.ts";
import { describePlan, permissionFlags, planPermissions } from "./plan.ts";
import { childCwd, importFlags, moduleFiles, resolveScript, scriptConfig } from "./script.ts";
import { isSpec, scriptModule } from "./spec_module.ts";
import { defaultStoreUrl, storeNeeds } from "./store_url.ts";
import type { WorkerSpec } from "./worker_loop.ts";

const HELP = `Usage: weft worker SCRIPT --store postgres://… [options]

Serves the task queue of a PostgreSQL store: claims ready calls of the tasks
SCRIPT defines (on any machine that reaches the database), runs each in a
Worker that holds only the permissions its task declares, and writes the
results back. It also drives runs waiting for a driver: those started with
weft run --detach, and those whose driver died (its lease ran out), by
replaying their journal; and it wakes the sleeping runs of SCRIPT that are
due (their time has come, or a signal they wait for arrived).

SCRIPT is compiled with no permissions first, as weft run does. The store
connection (and its password) is held by a thread that never runs SCRIPT's
code: SCRIPT's top-level code, timers and workflow and flow bodies run in a
Worker with no permission, and each task (one that declares nothing too) in
a Worker holding only what it declares. With --no-isolate one thread holds
the union of what SCRIPT's tasks declare plus the store, and runs it all.

Options:
  --store S                  postgres://USER:PASSWORD@HOST:PORT/DATABASE (or $WEFT_STORE)
  --queue Q                  serve queue Q (repeatable; default: every queue)
  --queue-concurrency Q=N    at most N calls of queue Q run at once, across all workers
  --concurrency N            calls this worker runs at once (default 8)
  --lease D                  the lease of a claimed call or a driven run, renewed every
                             third of it; another worker takes the work over once it
                             runs out (default 15s)
  --grace D                  on SIGTERM, how long running calls may take to finish
                             before they go back to the queue (default: the lease)
  --no-isolate               run SCRIPT's code (tasks, flows, top level) in the thread that
                             holds the store and the union of the grants (trusted scripts)
  --allow-import HOST        let the script import modules from HOST (repeatable)
  --verbose                  print stack traces with errors

SIGTERM or Ctrl-C: stop claiming, let running calls finish (or give them back),
hand the runs it drives to other workers, and exit 0.`;

const OPTIONS: Record<string, OptionSpec> = {
  store: { type: "string" },
  queue: { type: "string", multiple: true },
  "queue-concurrency": { type: "string", multiple: true },
  concurrency: { type: "string" },
  lease: { type: "string" },
  grace: { type: "string" },
  "no-isolate": { type: "boolean" },
  "allow-import": { type: "string", multiple: true },
  verbose: { type: "boolean" },
};

/** `weft worker`. */
export const workerCommand: Command = {
  summary: "serve a PostgreSQL store's task queue (many machines)",
  help: HELP,
  run: workerMain,
};

/**
 * Parses a lease or grace duration.
 *
 * @param text Such as `30s`, `500ms`, or a number of ms.
 * @param what The option, for messages.
 * @returns Milliseconds.
 */
export function parseLease(text: string, what: string): number {
  let ms: number;
  try {
    ms = parseDuration(/^\d+$/.test(text) ? Number(text) : text, what);
  } catch {
    throw new UsageError(`${what} must be a duration such as 30s or 500ms, not '${text}'`);
  }
  if (ms < 300) throw new UsageError(`${what} must be at least 300ms, not '${text}'`);
  return ms;
}

async function workerMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("worker", args, OPTIONS);
  if (positionals.length !== 1) {
    throw new UsageError("worker: give exactly one SCRIPT (see weft worker --help)");
  }
  const storeUrl = (values.store as string | undefined) ?? defaultStoreUrl();
  if (!/^postgres(ql)?:\/\//.test(storeUrl)) {
    throw new UsageError(
      `worker: workers share work through a PostgreSQL store; pass --store postgres://USER:PASSWORD@HOST:PORT/DATABASE (not ${storeUrl})`,
    );
  }
  const concurrency = values.concurrency === undefined ? 8 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new UsageError(
      `worker: --concurrency must be a positive integer, not '${values.concurrency}'`,
    );
  }
  const leaseMs = values.lease === undefined
    ? 15_000
    : parseLease(values.lease as string, "worker: --lease");
  const graceMs = values.grace === undefined
    ? leaseMs
    : parseLease(values.grace as string, "worker: --grace");
  const queueLimits: Record<string, number> = {};
  for (const pair of (values["queue-concurrency"] as string[] | undefined) ?? []) {
    const m = /^([\w.:-]{1,64})=(\d+)$/.exec(pair);
    if (m === null || Number(m[2]) < 1) {
      throw new UsageError(`worker: --queue-concurrency ${pair}: write QUEUE=N with N ≥ 1`);
    }
    queueLimits[m[1]!] = Number(m[2]);
  }
  const queues = values.queue as string[] | undefined;
  const importHosts = (values["allow-import"] as string[] | undefined) ?? [];
  const isolate = values["no-isolate"] !== true;

  const needs = await storeNeeds(storeUrl);
  const url = resolveScript(positionals[0]!);
  const described = await loadScript(url, {
    allowImport: importHosts,
    verbose: values.verbose === true,
  });
  const taskNames = described.dag.tasks.map((t) => t.name);
  const plan = planPermissions(described.dag, taskNames, {
    baseDir: childCwd(url),
    store: needs.permissions,
  });
  const moduleRead = isolate ? await moduleFiles(url, importHosts) : [];
  const err = (text: string) => Deno.stderr.writeSync(new TextEncoder().encode(text));
  err(
    `weft: worker for ${positionals[0]} (${taskNames.length} tasks), queues: ${
      queues?.join(", ") ?? "all"
    }, ${concurrency} at once, lease ${leaseMs} ms\n`,
  );
  for (const line of describePlan(plan)) err(`weft: grant ${line}\n`);
  err(
    isolate
      ? `weft: mode per-task (the default): the store's connection is held by a thread that never runs the script; top-level code, timers, workflow and flow code run in a Worker with no permission; each task (one that declares nothing too) runs in a Worker with only its own\n`
      : `weft: mode --no-isolate: one thread holds the store's connection and the union below; every task, workflow and flow code and top-level code can use all of it\n`,
  );

  const spec: WorkerSpec = {
    url: url.href,
    ...(isSpec(url) ? { module: await scriptModule(url) } : {}),
    store: needs.url,
    queueLimits,
    concurrency,
    leaseMs,
    graceMs,
    ...(queues === undefined ? {} : { queues }),
    ...(isolate
      ? {
        isolate: {
          perTask: plan.perTask as Record<string, Record<string, true | string[]>>,
          moduleRead,
          importHosts: [...importHosts, ...(url.protocol.startsWith("http") ? [url.host] : [])],
        },
      }
      : {}),
  };
  let flags = [...plan.flags];
  if (isolate) {
    flags = permissionFlags(withRead(plan.permissions, moduleRead));
    flags.push("--unstable-worker-options");
  }
  // Isolated, the entry never imports the script: the driver Worker does.
  const entry = isolate
    ? `import { workerHost } from ${
      JSON.stringify(new URL("./worker_host.ts", import.meta.url).href)
    };\nawait workerHost(${JSON.stringify(spec)});\n`
    : `import { workerChild } from ${
      JSON.stringify(new URL("./worker_child.ts", import.meta.url).href)
    };\n` +
      `await workerChild(${JSON.stringify(spec)}, () => import(${
        JSON.stringify(spec.module ?? url.href)
      }));\n`;
  const tmp = Deno.makeTempDirSync({ prefix: "weft-worker-" });
  Deno.writeTextFileSync(`${tmp}/entry.ts`, entry);
  const config = scriptConfig(url);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      ...flags,
      ...importFlags(url, importHosts),
      ...(config === undefined ? [] : [`--config=${config}`]),
      `file://${tmp}/entry.ts`,
    ],
    cwd: childCwd(url),
    stdin: "piped",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // The child stops gracefully on SIGTERM; pass ours on (and Ctrl-C).
  const forward = (signal: "SIGTERM" | "SIGINT") => () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    void signal;
  };
  const handlers = [["SIGTERM", forward("SIGTERM")], ["SIGINT", forward("SIGINT")]] as const;
  for (const [signal, fn] of handlers) Deno.addSignalListener(signal, fn);
  try {
    const status = await child.status;
    return status.code;
  } finally {
    for (const [signal, fn] of handlers) Deno.removeSignalListener(signal, fn);
    await child.stdin.close().catch(() => {});
    Deno.removeSync(tmp, { recursive: true });
  }
}

function withRead(p: Permissions, read: string[]): Permissions {
  if (p.read === true) return p;
  return { ...p, read: [...new Set([...(p.read ?? []), ...read])].sort() };
}
