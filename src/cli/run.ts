/**
 * `weft run SCRIPT [NAME]`: compiles the script with no permissions, claims
 * the run id in the store (which this process owns: the child never gets a
 * grant on it), prints the permissions it is about to grant, then runs the
 * selected workflow in a child Deno process: by default its workflow and
 * flow code runs with no permission and each task that declares some in a
 * Worker holding exactly its own (`--no-isolate`: one process with their
 * union) — never `-A`.
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
import { type Command, importLater } from "./command.ts";
import { type Reach, reachOf } from "../ir/reach.ts";
import { findExport } from "./exports.ts";
import { checkInputs, readInputs } from "./inputs.ts";
import { loadScript, loadTimeoutMs } from "./load.ts";
import {
  describeDurability,
  describeMode,
  describeModules,
  describePlan,
  describeReach,
  parseExtra,
  planPermissions,
  runFlags,
} from "./plan.ts";
import { escapeText } from "../core/escape.ts";
import { modulePlan } from "./module_graph.ts";
import { StoreHost } from "./run_host.ts";
import { findEscapingLinks, refuseEscapingLinks, WALK_LIMIT } from "./symlinks.ts";
import type { ProgressMode } from "./progress.ts";
import type { ChildSpec, ExportInfo, RunMode, ScriptDescription } from "./protocol.ts";
import { childCwd, resolveScript } from "./script.ts";
import { defaultStoreUrl, storeNeeds } from "./store_url.ts";

const HELP = `Usage: weft run SCRIPT [NAME] [options]

Compiles SCRIPT with no permissions (as weft compile does), claims the run id
in the store, prints the permissions it is about to grant, then runs the
workflow, flow, launch plan or task NAME (an export name or entity name;
optional when the script exports only one workflow or flow) in a child Deno
process that never holds a grant on the store (this process records the run):
  - by default, the workflow and flow code, the script's top-level code and
    the tasks that declare nothing run with no permissions; each task that
    declares permissions runs in a Worker holding exactly its own (Workers
    pooled per distinct set); relative paths resolve against the script's
    directory; --allow-extra adds to every task;
  - with --no-isolate, one process holds the union of what the tasks NAME
    reaches declare, and everything runs there.
A task of another workflow in the same file lends nothing. A task that
reaches for an undeclared permission fails with PermissionDeniedError; so does
I/O in a workflow or flow body (move it into a task). Modules load as they
were fetched before the run; a dynamic import outside that graph needs a task
that declares import (or net) for its host. SCRIPT may be a workflow
document (pipeline.yaml or .json, format weft.workflow/v1) whose tasks are
./module.ts#exportName: it is read here, each mistake reported with its line,
and built with the Workflow builder.

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
                        print its id as the last word on stdout, and exit; the options that
                        shape how a process drives a run (--concurrency, --max-depth, --no-cache,
                        --no-isolate, --allow-extra, --lease, --suspend, --json, --ui) are
                        refused with it: the worker that drives the run uses its own
  --concurrency N       how many tasks run at once (default 8)
  --max-depth N         how deep workflows and flows may call each other (default 100): a
                        recursion that does not end fails with the chain of calls
  --no-cache            ignore cached task results
  --no-isolate          one process with the union of the grants (trusted scripts; fastest)
  --isolate             per-task grants: the default, accepted for scripts that say so
  --allow-extra K=V     grant more (e.g. read=/tmp, net=example.com, env); shown in the plan (repeatable)
  --allow-import HOST   let the script's static imports come from HOST (repeatable)
  --load-timeout D      stop loading the script after D (default 30s, or $WEFT_LOAD_TIMEOUT)
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
  "max-depth": { type: "string" },
  "no-cache": { type: "boolean" },
  isolate: { type: "boolean" },
  "no-isolate": { type: "boolean" },
  "allow-extra": { type: "string", multiple: true },
  "allow-import": { type: "string", multiple: true },
  "load-timeout": { type: "string" },
  json: { type: "boolean" },
  ui: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean" },
  suspend: { type: "string" },
};

/**
 * Options that shape how this process drives a run, which a detached run
 * (driven later by whichever worker adopts it, with that worker's settings)
 * would silently lose.
 */
const DRIVER_ONLY = [
  "concurrency",
  "max-depth",
  "no-cache",
  "no-isolate",
  "allow-extra",
  "lease",
  "suspend",
  "json",
  "ui",
] as const;

function refuseDetachedOptions(values: Record<string, unknown>): void {
  const given = DRIVER_ONLY.filter((name) => values[name] !== undefined);
  if (given.length === 0) return;
  const list = given.map((name) => `--${name}`).join(", ");
  throw new UsageError(
    `run: ${list} ${
      given.length === 1 ? "does" : "do"
    } nothing with --detach: a detached run is driven by a weft worker, with the worker's own settings (see weft worker --help); remove ${
      given.length === 1 ? "it" : "them"
    }, or drive the run here without --detach`,
  );
}

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
  const maxDepth = values["max-depth"] === undefined ? undefined : Number(values["max-depth"]);
  if (maxDepth !== undefined && (!Number.isInteger(maxDepth) || maxDepth < 1)) {
    throw new UsageError(
      `run: --max-depth must be a positive integer, not '${values["max-depth"]}'`,
    );
  }
  // Checked before anything is loaded or printed, like every other option.
  const suspend = values.suspend === undefined
    ? undefined
    : values.suspend === "0"
    ? true
    : parseDuration(values.suspend as string, "--suspend");
  const store = (values.store as string | undefined) ?? defaultStoreUrl();
  const needs = await storeNeeds(store);
  const extra = parseExtra((values["allow-extra"] as string[] | undefined) ?? []);
  const importHosts = (values["allow-import"] as string[] | undefined) ?? [];

  if (values.isolate === true && values["no-isolate"] === true) {
    throw new UsageError("run: --isolate and --no-isolate contradict each other; give one");
  }
  const mode: RunMode = values["no-isolate"] === true ? "shared" : "tasks";
  if (values.detach === true) refuseDetachedOptions(values);

  const url = resolveScript(positionals[0]!);
  const described = await loadScript(url, {
    allowImport: importHosts,
    verbose,
    timeoutMs: loadTimeoutMs(values["load-timeout"] as string | undefined),
  });
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
    const { detachRun } = await importLater<typeof import("./run_detach.ts")>(
      new URL("./run_detach.ts", import.meta.url),
    );
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
  const plan = planPermissions(described.dag, reach.tasks, { baseDir, extra });
  // Deno checks grants against paths as written: links that lead out of a granted tree refuse the run.
  const links = findEscapingLinks(plan.perTask);
  refuseEscapingLinks(links);
  const modules = await modulePlan(described.graph, url, importHosts);
  const flags = runFlags(plan, mode, modules);

  // One owner per run: this process claims the run id before the child
  // starts, renews the claim while it runs and gives it up when it ends; it
  // owns the store, and records what the child reports.
  const owned = await ownRun(needs.url, runId, leaseMs);
  try {
    const quiet = values.quiet === true;
    const progress: ProgressMode = json || quiet
      ? "quiet"
      : Deno.stderr.isTerminal() && !Deno.env.get("NO_COLOR")
      ? "live"
      : "plain";
    const color = progress === "live";
    if (!json && !quiet) {
      const lines = [
        `running ${selected.kind} '${selected.name}' from ${positionals[0]}`,
        ...describeReach(reach),
        describeMode(plan, mode),
        ...(needs.url === "memory" ? [] : [describeDurability(mode)]),
        ...describePlan(plan).map((l) => `grant ${l}`),
        ...links.aliases.map((a) => `note   ${a.path} is a symlink to ${a.target}`),
        ...links.unchecked.map((p) =>
          `note   ${p} holds more than ${WALK_LIMIT} entries and was not checked for symlinks that leave it`
        ),
        ...describeModules(modules, flags),
      ];
      // Names and paths come from the script: no terminal controls pass.
      Deno.stderr.writeSync(
        new TextEncoder().encode(lines.map((l) => `weft: ${escapeText(l)}\n`).join("")),
      );
    }
    const spec: Omit<ChildSpec, "token"> = {
      url: url.href,
      runId,
      owner: owned.lease.owner,
      exportName: selected.export,
      inputs: toJsonTree(inputs) as Record<string, unknown>,
      cache: values["no-cache"] !== true,
      events: json ? "all" : "progress",
      finishedLines: progress === "plain",
      durable: needs.url !== "memory",
      mode,
      perTask: plan.perTask,
      moduleRead: modules.moduleRead,
      importHosts: modules.graphHosts,
    };
    if (concurrency !== undefined) spec.concurrency = concurrency;
    if (maxDepth !== undefined) spec.maxDepth = maxDepth;
    if (suspend !== undefined) spec.suspend = suspend;
    if (values.ui === true) {
      // Its id is chosen here, so the run's page can be printed before the run starts.
      const ui = await importLater<typeof import("./ui_link.ts")>(
        new URL("./ui_link.ts", import.meta.url),
      );
      const base = await ui.ensureUi(needs.url);
      const page = new URL(`/runs/${encodeURIComponent(runId)}`, base);
      page.search = new URL(base).search;
      Deno.stderr.writeSync(new TextEncoder().encode(`weft: watch it at ${page.href}\n`));
    }
    const host = new StoreHost({ store: owned.store, runId, script: url.href });
    return await runInChild(url, spec, {
      lease: owned.lease,
      host,
      flags: flags.flags,
      mode: progress,
      color,
      json,
      verbose,
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
