/**
 * `weft show RUN_ID`: a run's inputs, outputs and every node.
 *
 * @module
 */

import type { LogEntry, NodeDetails } from "../store/mod.ts";
import { preview } from "../store/provenance.ts";
import { toJsonTree } from "../core/values.ts";
import type { Command } from "./command.ts";
import {
  getRun,
  parseStoreArgs,
  STORE_HELP,
  table,
  when,
  withStore,
  write,
  writeJson,
} from "./history.ts";
import { formatMs } from "./progress.ts";

/** `weft show`. */
export const showCommand: Command = {
  summary: "show a run: inputs, outputs, every node with status, attempts, timings and errors",
  help: `Usage: weft show RUN_ID [--json] [--store S]

Options:
  --json      the whole record as JSON
${STORE_HELP}`,
  async run(args) {
    const { values, store: storeArg, operand } = parseStoreArgs("show", args, {
      json: { type: "boolean" },
    }, "RUN_ID (see weft runs)");
    return await withStore(storeArg, async (store) => {
      const run = await getRun(store, operand);
      const logs = await store.logs(run.id);
      if (values.json) {
        const owner = await store.runOwner(run.id);
        const takeovers = await store.takeovers(run.id);
        writeJson(
          `${
            JSON.stringify(
              {
                ...run,
                inputs: toJsonTree(run.inputs),
                outputs: toJsonTree(run.outputs),
                owner: owner ?? null,
                takeovers,
                logs,
              },
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
      const owner = await store.runOwner(run.id);
      if (owner !== undefined) {
        lines.push(
          `owner     pid ${owner.pid} on ${owner.host} since ${when(owner.since)}, last heartbeat ${
            formatMs(Math.max(0, Date.now() - owner.heartbeatAt))
          } ago${owner.cancelRequestedAt === undefined ? "" : ", asked to cancel"}`,
        );
      } else if (run.status === "running") {
        lines.push(
          `owner     none: the process that ran it stopped; weft resume ${run.id} goes on`,
        );
      }
      for (const t of await store.takeovers(run.id)) {
        lines.push(
          `takeover  ${
            when(t.at)
          }: pid ${t.by.pid} on ${t.by.host} took it over from pid ${t.from.pid} on ${t.from.host} (${t.reason})`,
        );
      }
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
      if (logs.length > 0) write(`\n${logLines(logs).join("\n")}\n`);
      return 0;
    });
  },
};

/**
 * The `ctx.log` lines and retried attempts of a run, for a terminal: each
 * under its node, with control characters shown escaped.
 *
 * @param logs The entries, in order.
 * @returns The lines.
 */
export function logLines(logs: readonly LogEntry[]): string[] {
  const out = [`logs (${logs.length})`];
  const width = Math.min(32, Math.max(...logs.map((l) => [...printable(l.nodeId)].length)));
  const start = new Map<string, number>();
  for (const l of logs) if (!start.has(l.nodeId)) start.set(l.nodeId, l.time);
  for (const l of logs) {
    const head = `  ${printable(l.nodeId).padEnd(width)}  +${
      formatMs(l.time - start.get(l.nodeId)!).padEnd(6)
    }${l.attempt > 1 ? ` #${l.attempt}` : ""}  `;
    const text = l.kind === "retry"
      ? `✗ attempt ${l.attempt} failed, tried again: ${l.message}`
      : l.message;
    const [first, ...rest] = printable(text).split("\n");
    out.push(`${head}${first}`, ...rest.map((r) => `${" ".repeat([...head].length)}${r}`));
  }
  return out;
}

/**
 * Text as a terminal should show it: control characters (terminal escapes
 * included) written as `\x1b`, so that a log line cannot move the cursor or
 * recolour the screen; line breaks and tabs kept.
 *
 * @param text Any text.
 * @returns The text, safe to print.
 */
export function printable(text: string): string {
  return text.replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

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
