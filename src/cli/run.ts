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
import { ValidationError } from "../core/errors.ts";
import type { Permissions } from "../define/permissions.ts";
import { fromJsonTree, isPlainObject, toJsonTree } from "../core/values.ts";
import { type OptionSpec, parseCommandArgs, UsageError } from "./args.ts";
import { findExport } from "./exports.ts";
import type { ExportInfo, ScriptDescription } from "./protocol.ts";
import { childCwd, importFlags, loadScript, resolveScript, scriptConfig } from "./load.ts";
import type { Command } from "./command.ts";
import {
  describePlan,
  parseExtra,
  permissionFlags,
  type PermissionPlan,
  planPermissions,
} from "./plan.ts";
import { formatMs, type ProgressMode, type ProgressSnapshot, ProgressView } from "./progress.ts";
import { type ChildMessage, type ChildSpec, PROTOCOL } from "./protocol.ts";
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
  --store S             memory | sqlite:PATH (default sqlite:.weft/weft.db, or $WEFT_STORE)
  --run-id ID           run id; running a succeeded id returns its result, a failed one resumes
  --concurrency N       how many tasks run at once (default 8)
  --no-cache            ignore cached task results
  --isolate             run each task in a Worker with only its own permissions
  --allow-extra K=V     grant more (e.g. read=/tmp, net=example.com, env); shown in the plan (repeatable)
  --allow-import HOST   let the script import modules from HOST (repeatable)
  --json                write one JSON event per line to stdout instead, the last one the result
  --quiet               no progress, only errors
  --verbose             print stack traces with errors

Exit codes: 0 succeeded, 1 the run failed, 2 bad usage or input, 130 cancelled (Ctrl-C).
Ctrl-C once stops scheduling, aborts running tasks and records the run as
cancelled (resume it with --run-id); twice exits at once.`;

/** The options `weft run` (and `weft resume`) take. */
export const RUN_OPTIONS: Record<string, OptionSpec> = {
  input: { type: "string", multiple: true },
  inputs: { type: "string" },
  "inputs-json": { type: "string" },
  store: { type: "string" },
  "run-id": { type: "string" },
  concurrency: { type: "string" },
  "no-cache": { type: "boolean" },
  isolate: { type: "boolean" },
  "allow-extra": { type: "string", multiple: true },
  "allow-import": { type: "string", multiple: true },
  json: { type: "boolean" },
  quiet: { type: "boolean" },
  verbose: { type: "boolean" },
};

/** The `run` command. */
export const runCommand: Command = {
  summary: "run a workflow under exactly the permissions its tasks declare",
  help: HELP,
  run: runMain,
};

async function runMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("run", args, RUN_OPTIONS);
  if (positionals.length < 1 || positionals.length > 2) {
    throw new UsageError("run: give SCRIPT and optionally NAME (see weft run --help)");
  }
  const verbose = values.verbose === true;
  const json = values.json === true;
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
  const inputs = await readInputs(
    values.inputs as string | undefined,
    (values.input as string[] | undefined) ?? [],
  );
  if (values["inputs-json"] !== undefined) {
    // Tagged JSON (as weft resume writes it), so that dates, bigints and maps survive.
    const text = await Deno.readTextFile(values["inputs-json"] as string);
    Object.assign(inputs, fromJsonTree(JSON.parse(text)));
  }
  checkInputNames(described, selected, inputs);

  const baseDir = childCwd(url);
  const plan = planPermissions(described.dag, await reachable(described, selected.name), {
    baseDir,
    store: needs.permissions,
    extra,
  });
  const isolate = values.isolate === true;
  const moduleRead = isolate ? await moduleFiles(url, importHosts) : [];

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
    for (const line of describePlan(plan)) err(`weft: grant ${line}\n`);
    if (isolate) err(`weft: --isolate: each task runs in a Worker with only its own permissions\n`);
  }

  const spec: ChildSpec = {
    url: url.href,
    exportName: selected.export,
    inputs: toJsonTree(inputs) as Record<string, unknown>,
    store: needs.url,
    cache: values["no-cache"] !== true,
    events: json ? "all" : "progress",
    finishedLines: mode === "plain",
  };
  if (values["run-id"] !== undefined) spec.runId = values["run-id"] as string;
  if (concurrency !== undefined) spec.concurrency = concurrency;
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
    isolate,
    importHosts,
    mode,
    color,
    json,
    verbose,
    moduleRead,
  });
}

/** The tasks an entity reaches, as the loading child listed them (or, for a description cached without them, from the IR). */
async function reachable(described: ScriptDescription, name: string): Promise<string[]> {
  const listed = described.reachable;
  if (listed !== undefined && Object.hasOwn(listed, name)) return listed[name]!;
  return (await import("../ir/mod.ts")).reachableTasks(described.dag, name);
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

/**
 * Reads inputs from --inputs FILE and --input K=V flags.
 *
 * @param file A JSON or YAML file, if given.
 * @param pairs The K=V flags.
 * @returns The inputs by name.
 */
export async function readInputs(
  file: string | undefined,
  pairs: string[],
): Promise<Record<string, unknown>> {
  let inputs: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      throw new ValidationError(`Cannot read --inputs ${file}: ${(e as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = /\.json$/i.test(file)
        ? JSON.parse(text)
        : (await import("npm:yaml@2.8.1")).parse(text);
    } catch (e) {
      throw new ValidationError(
        `--inputs ${file} is not valid ${/\.json$/i.test(file) ? "JSON" : "YAML"}: ${
          (e as Error).message.split("\n")[0]
        }`,
      );
    }
    if (!isPlainObject(parsed)) {
      throw new ValidationError(
        `--inputs ${file} must hold an object keyed by input name, such as { "x": 1 }`,
      );
    }
    inputs = parsed;
  }
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`run: --input ${pair}: write NAME=VALUE`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: the string as given
    }
    inputs[key] = value;
  }
  return inputs;
}

/** Unknown and missing inputs, checked against the IR before anything starts. */
function checkInputNames(
  described: ScriptDescription,
  selected: ExportInfo,
  inputs: Record<string, unknown>,
): void {
  const dag = described.dag;
  let params: { name: string; optional: boolean }[] | undefined;
  let fixed: string[] = [];
  if (selected.kind === "task") params = dag.tasks.find((t) => t.name === selected.name)?.params;
  else if (selected.kind === "launchPlan") {
    const lp = dag.launchPlans.find((l) => l.name === selected.name);
    if (lp === undefined) return;
    fixed = Object.keys(lp.fixed);
    const target = lp.entity.kind === "task"
      ? dag.tasks.find((t) => t.name === lp.entity.name)?.params
      : dag.workflows.find((w) => w.name === lp.entity.name)?.inputs;
    params = target?.filter((p) => !fixed.includes(p.name)).map((p) => ({
      ...p,
      optional: p.optional || p.name in lp.defaults,
    }));
  } else params = dag.workflows.find((w) => w.name === selected.name)?.inputs;
  if (params === undefined) return;
  const names = params.map((p) => p.name);
  for (const key of Object.keys(inputs)) {
    if (fixed.includes(key)) {
      throw new ValidationError(
        `Input '${key}' of launch plan '${selected.name}' is fixed and cannot be given`,
      );
    }
    if (!names.includes(key)) {
      throw new ValidationError(
        `${selected.kind} '${selected.name}' has no input '${key}'; its inputs are ${
          params.map((p) => `${p.name}${p.optional ? "?" : ""}`).join(", ") || "none"
        }`,
      );
    }
  }
  for (const p of params) {
    if (!p.optional && !(p.name in inputs)) {
      throw new ValidationError(
        `Missing input '${p.name}' of ${selected.kind} '${selected.name}'; pass it with --input ${p.name}=VALUE or --inputs FILE`,
      );
    }
  }
}

/** The local module files of the script, which every --isolate Worker must read. */
async function moduleFiles(url: URL, importHosts: string[]): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", ...importFlags(url, importHosts), url.href],
    cwd: childCwd(url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new ValidationError(
      `Cannot list the modules of ${url.href}: ${
        new TextDecoder().decode(out.stderr).trim().split("\n")[0]
      }`,
    );
  }
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; local?: string }[];
  };
  const files = new Set<string>();
  for (const m of info.modules) {
    if (m.specifier.startsWith("file://") && m.local) files.add(m.local);
  }
  // The Worker entry of weft itself, and everything it imports.
  const weftDir = decodeURIComponent(new URL("../", import.meta.url).pathname);
  if (new URL("../", import.meta.url).protocol === "file:") files.add(weftDir.replace(/\/$/, ""));
  return [...files].sort();
}

interface ChildOptions {
  isolate: boolean;
  importHosts: string[];
  mode: ProgressMode;
  color: boolean;
  json: boolean;
  verbose: boolean;
  moduleRead: string[];
}

async function runInChild(
  url: URL,
  spec: ChildSpec,
  plan: PermissionPlan,
  options: ChildOptions,
): Promise<number> {
  const runnerUrl = new URL("./runner.ts", import.meta.url).href;
  // The entry goes in a file, not stdin: stdin stays open as the command
  // channel (a `cancel` line; EOF when this process dies). Loading the main
  // module and literal imports need no read permission. Synchronous file
  // operations: the asynchronous ones cost more to start than to do this.
  const tmp = Deno.makeTempDirSync({ prefix: "weft-run-" });
  const removeTmp = () => {
    try {
      Deno.removeSync(tmp, { recursive: true });
    } catch {
      // already gone
    }
  };
  const entryPath = `${tmp}/entry.ts`;
  try {
    Deno.writeFileSync(
      entryPath,
      new TextEncoder().encode(
        [
          `import { runChild } from ${JSON.stringify(runnerUrl)};`,
          `await runChild(${JSON.stringify(spec)}, () => import(${JSON.stringify(url.href)}));`,
        ].join("\n"),
      ),
    );
  } catch (e) {
    removeTmp();
    throw e;
  }
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
    `file://${entryPath}`,
  ];
  // Tasks run in the script's directory, where their relative paths (in code
  // and in permission declarations) resolve.
  const cwd = childCwd(url);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(Deno.execPath(), {
      args,
      cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  } catch (e) {
    removeTmp();
    throw e;
  }
  const encoder = new TextEncoder();
  const stdin = child.stdin.getWriter();

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
      if (m.t === "event") out(`${JSON.stringify(m.e)}\n`);
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
    if (failure !== undefined) {
      view.finish([]);
      console.error(`weft: ${failure.error.message.split("\n")[0]}`);
      if (options.verbose && failure.error.stack) console.error(failure.error.stack);
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
    if (!options.json && result.status === "succeeded") {
      out(`${JSON.stringify(result.outputs ?? null, null, 2)}\n`);
    }
    if (result.status !== "succeeded" && options.mode === "quiet" && !options.json) {
      for (const e of result.errors as { message: string }[]) console.error(`weft: ${e.message}`);
    }
    return result.status === "succeeded" ? 0 : result.status === "cancelled" ? 130 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    await stdin.close().catch(() => {});
    removeTmp();
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
  const took = s === undefined ? "" : ` in ${formatMs(s.time - s.startedAt)}`;
  const counts = s === undefined
    ? ""
    : ` — ${s.succeeded} task${s.succeeded === 1 ? "" : "s"} done${
      s.cached ? ` (${s.cached} cached or replayed)` : ""
    }${s.retries ? `, ${s.retries} retr${s.retries === 1 ? "y" : "ies"}` : ""}${
      s.failed ? `, ${s.failed} failed` : ""
    }${s.skipped ? `, ${s.skipped} skipped` : ""}`;
  const lines = [`weft: run ${result.runId} ${result.status}${took}${counts}`];
  for (
    const e of result.errors as { message: string; cause?: { name: string; message: string } }[]
  ) {
    lines.push(`weft: ✗ ${e.message}`);
  }
  return lines;
}
