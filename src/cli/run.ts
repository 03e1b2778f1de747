/**
 * `weft run SCRIPT [NAME]`: compiles the script with no permissions, prints
 * the permissions it is about to grant, then runs the selected workflow in a
 * child Deno process started with exactly those permissions — the union of
 * what the tasks the workflow reaches declare, plus the store file — and
 * never `-A`.
 *
 * stdout carries only the outputs as JSON (or, with `--json`, one event per
 * line, the last the result); everything else goes to stderr.
 *
 * @module
 */

// The parent of a run loads only what it needs to plan and watch it: no
// engine, no IR module, nothing that imports a `node:` module (which starts
// Deno's Node compatibility layer). tests/cli_run_test.ts checks the graph.
import { parseDuration } from "../core/duration.ts";
import { ValidationError } from "../core/errors.ts";
import { toJsonTree } from "../core/values.ts";
import { type OptionSpec, parseCommandArgs, UsageError } from "./args.ts";
import { checkRunId, newRunId } from "../core/run_id.ts";
import { runInChild } from "./spawn_run.ts";
import { ownRun } from "./run_owner.ts";
import type { Command } from "./command.ts";
import { type Reach, reachOf } from "../ir/reach.ts";
import { findExport } from "./exports.ts";
import { checkInputs, readInputs } from "./inputs.ts";
import { loadScript } from "./load.ts";
import { describePlan, describeReach, parseExtra, planPermissions } from "./plan.ts";
import type { ProgressMode } from "./progress.ts";
import type { ChildSpec, ExportInfo, ScriptDescription } from "./protocol.ts";
import { childCwd, moduleFiles, resolveScript } from "./script.ts";
import { defaultStoreUrl, storeNeeds } from "./store_url.ts";

const HELP = `Usage: weft run SCRIPT [NAME] [options]

Compiles SCRIPT with no permissions (as weft compile does), prints the
permissions it is about to grant, then runs the workflow, flow, launch plan or
task NAME (an export name or entity name; optional when the script exports
only one workflow or flow) in a child Deno process that has exactly:
  - the union of the permissions declared by the tasks NAME reaches (a static
    workflow: its nodes, recursively; a flow: the tasks in its 'tasks' option,
    else every task its module defines), relative paths resolved against the
    script's directory;
  - read and write on the store file;
  - whatever --allow-extra adds.
A task of another workflow in the same file lends nothing. A task that
reaches for an undeclared permission fails with PermissionDeniedError.

stdout gets only the outputs, as JSON; progress and messages go to stderr.

Options:
  --input K=V           an input; V is parsed as JSON when it parses, else taken as a string (repeatable)
  --inputs FILE         inputs from a JSON or YAML file (--input wins over it)
  --store S             memory | sqlite:PATH | postgres://USER:PASSWORD@HOST:PORT/DATABASE
                        (default sqlite:.weft/weft.db, or $WEFT_STORE)
  --run-id ID           run id; running a succeeded id returns its result, a failed one resumes
  --lease DURATION      how long this run's claim on its id holds without a heartbeat (default 30s):
                        another weft run or resume of the same id exits 2 ('run ID is running')
                        unless the owner's process is dead on this machine or its lease ran out
  --detach              (PostgreSQL store) record the run for the workers to drive (weft worker),
                        print its id as the last word on stdout, and exit
  --concurrency N       how many tasks run at once (default 8)
  --no-cache            ignore cached task results
  --isolate             run each task in a Worker with only its own permissions
  --allow-extra K=V     grant more (e.g. read=/tmp, net=example.com, env); shown in the plan (repeatable)
  --allow-import HOST   let the script import modules from HOST (repeatable)
  --json                write one JSON event per line to stdout instead, the last one the result
  --ui                  watch the run in the web UI: starts weft ui for the store (or reuses
                        the one serving it) and prints the run's page on stderr
  -q, --quiet           no progress, only errors
  --suspend D           once the run only waits on sleeps and signals whose next wake-up is at
                        least D off (0: any), record it as sleeping and exit 75; weft serve or
                        weft resume continues it (default: wait in this process)
  --verbose             print stack traces with errors

Exit codes: 0 succeeded, 1 the run failed, 2 bad usage or input, 75 the run is
sleeping (--suspend), 130 cancelled (Ctrl-C).
Ctrl-C once stops scheduling, aborts running tasks and records the run as
cancelled (resume it with --run-id); twice exits at once.`;

/** The options `weft run` (and `weft resume`) take. */
export const RUN_OPTIONS: Record<string, OptionSpec> = {
  input: { type: "string", multiple: true },
  inputs: { type: "string" },
  store: { type: "string" },
  "run-id": { type: "string" },
  lease: { type: "string" },
  detach: { type: "boolean" },
  concurrency: { type: "string" },
  "no-cache": { type: "boolean" },
  isolate: { type: "boolean" },
  "allow-extra": { type: "string", multiple: true },
  "allow-import": { type: "string", multiple: true },
  json: { type: "boolean" },
  ui: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean" },
  suspend: { type: "string" },
};

/** The `run` command. */
export const runCommand: Command = {
  summary: "run a workflow under exactly the permissions its tasks declare",
  help: HELP,
  run: (args) => runMain(args),
};

/**
 * `weft run`, with the inputs given in-process (`weft resume` passes a
 * run's recorded inputs this way, values that JSON alone would not keep).
 *
 * @param args The arguments after `run`.
 * @param recorded Inputs to run with instead of `--input` and `--inputs`.
 * @returns The exit code.
 */
export async function runMain(args: string[], recorded?: Record<string, unknown>): Promise<number> {
  const { values, positionals } = parseCommandArgs("run", args, RUN_OPTIONS);
  if (positionals.length < 1 || positionals.length > 2) {
    throw new UsageError("run: give SCRIPT and optionally NAME (see weft run --help)");
  }
  const verbose = values.verbose === true;
  const json = values.json === true;
  const runId = (values["run-id"] as string | undefined) ?? newRunId();
  checkRunId(runId);
  const leaseMs = values.lease === undefined ? undefined : checkLease(values.lease as string);
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new UsageError(
      `run: --concurrency must be a positive integer, not '${values.concurrency}'`,
    );
  }
  const store = (values.store as string | undefined) ?? defaultStoreUrl();
  const needs = await storeNeeds(store);
  const extra = parseExtra((values["allow-extra"] as string[] | undefined) ?? []);
  const importHosts = (values["allow-import"] as string[] | undefined) ?? [];

  const url = resolveScript(positionals[0]!);
  const described = await loadScript(url, { allowImport: importHosts, verbose });
  const selected = selectRunnable(described, positionals[1]);
  const read = recorded !== undefined
    ? { inputs: recorded, flags: new Map<string, string>() }
    : await readInputs(
      values.inputs as string | undefined,
      (values.input as string[] | undefined) ?? [],
    );
  checkInputs(described, selected, read);
  const inputs = read.inputs;
  if (values.detach === true) {
    if (!/^postgres(ql)?:\/\//.test(needs.url)) {
      throw new UsageError(
        `run: --detach enqueues the run for workers, which share a PostgreSQL store; pass --store postgres://…`,
      );
    }
    const { detachRun } = await import("./run_detach.ts");
    return await detachRun(needs.url, {
      script: url.href,
      entity: selected.name,
      kind: selected.kind,
      inputs,
      runId,
      quiet: values.quiet === true,
    });
  }

  const baseDir = childCwd(url);
  const reach = reachOfExport(described, selected.name);
  const plan = planPermissions(described.dag, reach.tasks, {
    baseDir,
    store: needs.permissions,
    extra,
  });
  const isolate = values.isolate === true;
  const moduleRead = isolate ? await moduleFiles(url, importHosts) : [];

  // One owner per run: this process claims the run id before the child
  // starts, renews the claim while it runs and gives it up when it ends.
  const owned = await ownRun(needs.url, runId, leaseMs);
  try {
    const quiet = values.quiet === true;
    const mode: ProgressMode = json || quiet
      ? "quiet"
      : Deno.stderr.isTerminal() && !Deno.env.get("NO_COLOR")
      ? "live"
      : "plain";
    const color = mode === "live";
    const err = (text: string) => Deno.stderr.writeSync(new TextEncoder().encode(text));
    if (!json && !quiet) {
      err(`weft: running ${selected.kind} '${selected.name}' from ${positionals[0]}\n`);
      for (const line of describeReach(reach)) err(`weft: ${line}\n`);
      for (const line of describePlan(plan)) err(`weft: grant ${line}\n`);
      if (isolate) {
        err(`weft: --isolate: each task runs in a Worker with only its own permissions\n`);
      }
    }

    const spec: ChildSpec = {
      url: url.href,
      runId,
      ownerId: owned.lease.owner.ownerId,
      exportName: selected.export,
      inputs: toJsonTree(inputs) as Record<string, unknown>,
      store: needs.url,
      cache: values["no-cache"] !== true,
      events: json ? "all" : "progress",
      finishedLines: mode === "plain",
    };
    if (concurrency !== undefined) spec.concurrency = concurrency;
    if (values.suspend !== undefined) {
      const raw = values.suspend as string;
      spec.suspend = raw === "0" ? true : parseDuration(raw, "--suspend");
    }
    if (values.ui === true) {
      // Its id is chosen here, so the run's page can be printed before the run starts.
      const base = await (await import("./ui_link.ts")).ensureUi(needs.url);
      const page = new URL(`/runs/${encodeURIComponent(runId)}`, base);
      page.search = new URL(base).search;
      err(`weft: watch it at ${page.href}\n`);
    }
    if (isolate) {
      spec.isolate = {
        perTask: plan.perTask as ChildSpec["isolate"] extends infer I
          ? I extends { perTask: infer P } ? P : never
          : never,
        moduleRead,
        importHosts: [...importHosts, ...(url.protocol.startsWith("http") ? [url.host] : [])],
      };
    }
    return await runInChild(url, spec, plan, {
      lease: owned.lease,
      isolate,
      importHosts,
      mode,
      color,
      json,
      verbose,
      moduleRead,
    });
  } finally {
    await owned.release();
  }
}

/** A `--lease` value: milliseconds, or a duration such as `30s`. */
function checkLease(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  const ms = m === null
    ? NaN
    : Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "ms"]!);
  if (!(ms >= 100)) {
    throw new UsageError(
      `run: --lease must be a duration of at least 100ms, such as 30s or 2m, not '${value}'`,
    );
  }
  return ms;
}

/** What an entity reaches, as the loading child found it (else from the document, saying what is wrong). */
function reachOfExport(described: ScriptDescription, name: string): Reach {
  const listed = described.reach;
  if (listed !== undefined && Object.hasOwn(listed, name)) return listed[name]!;
  return reachOf(described.dag, name);
}

function selectRunnable(described: ScriptDescription, name: string | undefined): ExportInfo {
  if (name !== undefined) return findExport(described, name);
  const runnable = described.exports.filter((e) =>
    e.kind === "workflow" || e.kind === "flow" || e.kind === "launchPlan"
  );
  if (runnable.length === 1) return runnable[0]!;
  const script = described.url.replace(/^file:\/\//, "");
  if (runnable.length === 0) {
    const tasks = described.exports.filter((e) => e.kind === "task").map((e) => e.export);
    throw new ValidationError(
      `${script} exports no workflow or flow${
        tasks.length ? `; name a task to run one: ${tasks.join(", ")}` : ""
      }`,
    );
  }
  throw new ValidationError(
    `${script} exports several workflows; name one: ${
      runnable.map((e) => e.export === e.name ? e.name : `${e.export} (${e.name})`).join(", ")
    }`,
  );
}
