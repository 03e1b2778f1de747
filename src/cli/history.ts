/**
 * The CLI's view of the store: `weft runs`, `weft show`, `weft lineage`,
 * `weft export`, `weft cache clear` and `weft resume`.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { Lineage, NodeDetails, RunDetails, Store } from "../store/mod.ts";
import { openStore } from "../store/open.ts";
import { preview } from "../store/provenance.ts";
import { toJsonTree } from "../core/values.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import type { Command } from "./main.ts";
import { formatMs } from "./progress.ts";
import { defaultStoreUrl } from "./run.ts";

const STORE_HELP =
  `  --store S   memory | sqlite:PATH (default sqlite:.weft/weft.db, or $WEFT_STORE)`;

async function withStore<T>(url: string | undefined, fn: (store: Store) => Promise<T>): Promise<T> {
  const target = url ?? defaultStoreUrl();
  if (target.startsWith("sqlite:")) {
    const path = target.slice("sqlite:".length);
    try {
      await Deno.stat(path);
    } catch {
      throw new ValidationError(
        `There is no store at ${path} yet (nothing has run with it); run a workflow first, or pass --store`,
      );
    }
  }
  const store = await openStore(target);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function write(text: string): void {
  const data = new TextEncoder().encode(text);
  let written = 0;
  while (written < data.length) written += Deno.stdout.writeSync(data.subarray(written));
}

function when(ms: number | undefined): string {
  if (ms === undefined) return "-";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${
    pad(d.getMinutes())
  }:${pad(d.getSeconds())}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()
  ).join("\n") + "\n";
}

async function getRun(store: Store, runId: string): Promise<RunDetails> {
  const run = await store.getRun(runId);
  if (run === undefined) {
    throw new ValidationError(
      `No run '${runId}' in ${store.url}; list runs with weft runs${
        store.url === "memory" ? "" : ` --store ${store.url}`
      }`,
    );
  }
  return run;
}

/** `weft runs`. */
export const runsCommand: Command = {
  summary: "list recorded runs",
  help: `Usage: weft runs [--status S] [--limit N] [--json] [--store S]

Lists runs, newest first: id, entity, status, start time, duration.

Options:
  --status S  only runs with this status (running, succeeded, failed, cancelled)
  --limit N   at most N runs (default 20)
  --json      one JSON object per run
${STORE_HELP}`,
  async run(args) {
    const { values, positionals } = parseCommandArgs("runs", args, {
      status: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
      store: { type: "string" },
    });
    if (positionals.length > 0) {
      throw new UsageError(`runs: unexpected argument '${positionals[0]}'`);
    }
    const status = values.status as string | undefined;
    if (status !== undefined && !["running", "succeeded", "failed", "cancelled"].includes(status)) {
      throw new UsageError(
        `runs: --status must be running, succeeded, failed or cancelled, not '${status}'`,
      );
    }
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) {
      throw new UsageError(`runs: --limit must be a positive integer`);
    }
    return await withStore(values.store as string | undefined, async (store) => {
      const runs = await store.listRuns({ ...(status ? { status: status as never } : {}), limit });
      if (values.json) {
        for (const r of runs) write(`${JSON.stringify(r)}\n`);
        return 0;
      }
      if (runs.length === 0) {
        console.error("weft: no runs recorded");
        return 0;
      }
      const rows = [["ID", "ENTITY", "STATUS", "STARTED", "DURATION"]];
      for (const r of runs) {
        rows.push([
          r.id,
          r.entity,
          r.attempts > 1 ? `${r.status} (${r.attempts} attempts)` : r.status,
          when(r.startedAt),
          r.finishedAt === undefined ? "-" : formatMs(r.finishedAt - r.startedAt),
        ]);
      }
      write(table(rows));
      return 0;
    });
  },
};

/** `weft show`. */
export const showCommand: Command = {
  summary: "show a run: inputs, outputs, every node with status, attempts, timings and errors",
  help: `Usage: weft show RUN_ID [--json] [--store S]

Options:
  --json      the whole record as JSON
${STORE_HELP}`,
  async run(args) {
    const { values, positionals } = parseCommandArgs("show", args, {
      json: { type: "boolean" },
      store: { type: "string" },
    });
    if (positionals.length !== 1) {
      throw new UsageError("show: give exactly one RUN_ID (see weft runs)");
    }
    return await withStore(values.store as string | undefined, async (store) => {
      const run = await getRun(store, positionals[0]!);
      if (values.json) {
        write(
          `${
            JSON.stringify(
              { ...run, inputs: toJsonTree(run.inputs), outputs: toJsonTree(run.outputs) },
              null,
              2,
            )
          }\n`,
        );
        return 0;
      }
      const lines = [
        `run       ${run.id}`,
        `entity    ${run.entity} (${run.kind})${run.script ? ` from ${run.script}` : ""}`,
        `status    ${run.status}${run.attempts > 1 ? ` after ${run.attempts} attempts` : ""}`,
        `started   ${when(run.startedAt)}${
          run.finishedAt === undefined ? "" : `, took ${formatMs(run.finishedAt - run.startedAt)}`
        }`,
        `inputs    ${preview(run.inputs, 200)}`,
      ];
      if (run.status === "succeeded") {
        lines.push(
          `outputs   ${preview(run.outputs, 200)}${
            run.outputsHash ? `  (${run.outputsHash.slice(0, 12)})` : ""
          }`,
        );
      }
      for (const e of run.errors) lines.push(`error     ${e.message}`);
      lines.push("", `nodes (${run.nodes.length})`);
      const rows = [["ID", "ENTITY", "STATUS", "ATTEMPTS", "TOOK", "OUTPUT", "NOTE"]];
      for (const n of run.nodes) rows.push(nodeRow(n));
      write(`${lines.join("\n")}\n${table(rows)}`);
      const failed = run.nodes.filter((n) => n.status === "failed" && n.error);
      for (const n of failed) {
        write(
          `\n✗ ${n.id}: ${n.error!.message}${
            n.error!.cause ? `\n  cause: ${n.error!.cause.name}: ${n.error!.cause.message}` : ""
          }\n`,
        );
      }
      return 0;
    });
  },
};

function nodeRow(n: NodeDetails): string[] {
  const took = n.startedAt !== undefined && n.finishedAt !== undefined
    ? formatMs(n.finishedAt - n.startedAt)
    : "-";
  const output = n.outputs.map((o) =>
    `${n.outputs.length > 1 ? `${o.name}=` : ""}${o.hash.slice(0, 12)}`
  ).join(" ");
  const note = n.cachedFrom
    ? `cached from ${n.cachedFrom}`
    : n.replayed
    ? "replayed"
    : n.status === "failed"
    ? (n.error?.message ?? "").slice(0, 60)
    : "";
  return [n.id, n.entity, n.status, String(n.attempts), took, output || "-", note];
}

/** `weft lineage`. */
export const lineageCommand: Command = {
  summary: "how a value came to be: the executions that made it, and from what",
  help: `Usage: weft lineage VALUE_HASH | RUN_ID/NODE_ID[/OUTPUT] [--depth N] [--json] [--store S]

Walks back from a value (a hash or 8+ digit prefix, as weft show prints, or
an output named by run, node and output) through the executions that
produced it and their inputs.

Options:
  --depth N   how many steps back (default 10)
  --json      the lineage tree as JSON
${STORE_HELP}`,
  async run(args) {
    const { values, positionals } = parseCommandArgs("lineage", args, {
      depth: { type: "string" },
      json: { type: "boolean" },
      store: { type: "string" },
    });
    if (positionals.length !== 1) {
      throw new UsageError("lineage: give one VALUE_HASH or RUN_ID/NODE_ID/OUTPUT");
    }
    const depth = values.depth === undefined ? 10 : Number(values.depth);
    if (!Number.isInteger(depth) || depth < 0) {
      throw new UsageError("lineage: --depth must be a non-negative integer");
    }
    return await withStore(values.store as string | undefined, async (store) => {
      const tree = await store.lineage(positionals[0]!, depth);
      if (values.json) write(`${JSON.stringify(tree, null, 2)}\n`);
      else write(renderLineage(tree, ""));
      return 0;
    });
  },
};

function renderLineage(l: Lineage, indent: string): string {
  let out = `${indent}${l.hash.slice(0, 12)}  ${l.preview}${
    l.runInputOf.length ? `  (input of run ${l.runInputOf.join(", ")})` : ""
  }${l.truncated && l.producedBy.length === 0 && indent !== "" ? "  …" : ""}\n`;
  for (const p of l.producedBy) {
    out += `${indent}  ← ${p.output} of ${p.entity} (run ${p.runId}, node ${p.nodeId})\n`;
    for (const i of p.inputs) {
      out += `${indent}    ${i.name}:\n${renderLineage(i.lineage, `${indent}      `)}`;
    }
  }
  return out;
}

/** `weft export`. */
export const exportCommand: Command = {
  summary: "export a run's provenance graph (values and executions) as JSON, DOT or HTML",
  help: `Usage: weft export RUN_ID [--format json|dot|html] [--out FILE] [--store S]

The provenance graph of a run: executions (boxes) and the values they took
and made (ellipses, by hash), with input and output names on the edges.

Options:
  --format F  json (default), dot or html (a self-contained page)
  --out FILE  write to FILE instead of stdout
${STORE_HELP}`,
  async run(args) {
    const { values, positionals } = parseCommandArgs("export", args, {
      format: { type: "string" },
      out: { type: "string" },
      store: { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError("export: give exactly one RUN_ID");
    const format = (values.format as string | undefined) ?? "json";
    if (!["json", "dot", "html"].includes(format)) {
      throw new UsageError(`export: unknown format '${format}'; use json, dot or html`);
    }
    return await withStore(values.store as string | undefined, async (store) => {
      const run = await getRun(store, positionals[0]!);
      const { provenanceGraph, provenanceDot, provenanceHtml } = await import(
        "../render/provenance.ts"
      );
      const graph = await provenanceGraph(store, run);
      const text = format === "json"
        ? `${JSON.stringify(graph, null, 2)}\n`
        : format === "dot"
        ? provenanceDot(graph)
        : await provenanceHtml(graph);
      if (values.out !== undefined) await Deno.writeTextFile(values.out as string, text);
      else write(text);
      return 0;
    });
  },
};

/** `weft cache`. */
export const cacheCommand: Command = {
  summary: "manage the result cache: weft cache clear [TASK]",
  help: `Usage: weft cache clear [TASK] [--store S]

Removes cached results (of one task, or all). Runs keep their records.

Options:
${STORE_HELP}`,
  async run(args) {
    const { values, positionals } = parseCommandArgs("cache", args, { store: { type: "string" } });
    if (positionals[0] !== "clear" || positionals.length > 2) {
      throw new UsageError("cache: the only subcommand is 'clear [TASK]' (see weft cache --help)");
    }
    return await withStore(values.store as string | undefined, async (store) => {
      const n = await store.clearCache(positionals[1]);
      console.error(
        `weft: removed ${n} cached result${n === 1 ? "" : "s"}${
          positionals[1] ? ` of task '${positionals[1]}'` : ""
        }`,
      );
      return 0;
    });
  },
};

/** `weft resume`. */
export const resumeCommand: Command = {
  summary: "resume a failed, cancelled or interrupted run from its journal",
  help: `Usage: weft resume RUN_ID [--store S] [run options]

Runs the recorded script and entity again under the same run id and inputs:
completed calls return their recorded values without running, failed and
interrupted ones run again. The same as weft run SCRIPT NAME --run-id RUN_ID
with the recorded inputs. Other options are those of weft run (--isolate,
--concurrency, --json, --quiet, --allow-extra, --allow-import).

Options:
${STORE_HELP}`,
  async run(args) {
    const { RUN_OPTIONS, runCommand } = await import("./run.ts");
    const { values, positionals } = parseCommandArgs("resume", args, RUN_OPTIONS);
    if (positionals.length !== 1) {
      throw new UsageError("resume: give exactly one RUN_ID (see weft runs --status failed)");
    }
    for (const forbidden of ["input", "inputs", "inputs-json", "run-id"]) {
      if (values[forbidden] !== undefined) {
        throw new UsageError(
          `resume: --${forbidden} cannot be given; a run resumes with its recorded inputs and id`,
        );
      }
    }
    const runId = positionals[0]!;
    const storeArg = values.store as string | undefined;
    const record = await withStore(storeArg, (store) => getRun(store, runId));
    if (record.script === undefined) {
      throw new ValidationError(
        `Run '${runId}' was not started from a script (it was a library call); resume it with run(entity, inputs, { runId })`,
      );
    }
    if (record.status === "succeeded") {
      console.error(`weft: run ${runId} already succeeded; its recorded outputs:`);
    }
    const tmp = await Deno.makeTempFile({ prefix: "weft-resume-", suffix: ".json" });
    await Deno.writeTextFile(tmp, JSON.stringify(toJsonTree(record.inputs)));
    try {
      const script = record.script.startsWith("file://")
        ? decodeURIComponent(new URL(record.script).pathname)
        : record.script;
      const rest = args.filter((a) => a !== runId);
      return await runCommand.run([
        script,
        record.entity,
        "--inputs-json",
        tmp,
        "--run-id",
        runId,
        ...rest,
      ]);
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
  },
};
