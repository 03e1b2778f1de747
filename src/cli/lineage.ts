/**
 * `weft lineage VALUE`: how a value came to be.
 *
 * @module
 */

import type { Lineage, LineageSource, LineageValue } from "../store/mod.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { STORE_HELP, withStore, write, writeJson } from "./history.ts";

/** `weft lineage`. */
export const lineageCommand: Command = {
  summary: "how a value came to be: the executions that made it, and from what",
  help:
    `Usage: weft lineage VALUE_HASH | RUN_ID/NODE_ID[/OUTPUT] [--depth N] [--across-runs] [--limit N] [--json] [--store S]

Walks back from a value (a hash or 8+ digit prefix, as weft show prints, or
an output named by run, node and output) through the executions that
produced it and their inputs. It stays within the value's run: an input
leads to the node output the run recorded it came from (a handle passed as
an argument); a constant, a run input or a value a flow body awaited and
passed on ends the walk. A value given by hash is followed in the newest
run that produced it. The output lists the value and where it came from,
then each execution once, nearest first, with its inputs and where each
came from (NODE.OUTPUT, or an input of the run).

Options:
  --depth N       how many steps back (default 10)
  --across-runs   follow values the run did not produce (its inputs, constants)
                  into the runs that did, and a hash into every run that made it
  --limit N       the most executions to expand (default 1000)
  --json          the lineage as JSON: the value, and every execution by RUN/NODE
${STORE_HELP}`,
  async run(args) {
    const { values, positionals } = parseCommandArgs("lineage", args, {
      depth: { type: "string" },
      "across-runs": { type: "boolean" },
      limit: { type: "string" },
      json: { type: "boolean" },
      store: { type: "string" },
    });
    if (positionals.length !== 1) {
      throw new UsageError("lineage: give one VALUE_HASH or RUN_ID/NODE_ID/OUTPUT");
    }
    const depth = count("depth", values.depth as string | undefined, 10);
    const limit = count("limit", values.limit as string | undefined, 1000);
    const acrossRuns = values["across-runs"] === true;
    return await withStore(values.store as string | undefined, async (store) => {
      const lineage = await store.lineage(positionals[0]!, { depth, limit, acrossRuns });
      if (values.json) writeJson(`${JSON.stringify(lineage, null, 2)}\n`);
      else write(renderLineage(lineage, { depth, limit, acrossRuns }));
      return 0;
    });
  },
};

function count(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(n) || n < 0) {
    throw new UsageError(`lineage: --${name} must be a non-negative integer, not '${raw}'`);
  }
  return n;
}

/** At most this many sources are named on one line; the JSON has them all. */
const MAX_NAMED = 6;

/**
 * The lineage as text: the value and where it came from, then each
 * execution once, nearest first, with its inputs and where each came from.
 * A listing rather than an indented tree, so that a run of 10,000 steps
 * prints 10,000 short blocks, not lines indented 10,000 deep.
 *
 * @param lineage The lineage.
 * @param asked The options it was made with, for the closing notes.
 * @returns The text.
 */
export function renderLineage(
  lineage: Lineage,
  asked: { depth: number; limit: number; acrossRuns: boolean },
): string {
  const home = lineage.runs[0];
  const ref = (source: LineageSource): string => {
    const step = lineage.steps[source.step]!;
    const where = step.runId === home ? "" : ` (run ${step.runId})`;
    return `${step.nodeId}.${source.output}${where}`;
  };
  const origin = (v: LineageValue): string => {
    const parts: string[] = [];
    if (v.from.length > 0) {
      const named = v.from.slice(0, MAX_NAMED).map(ref).join(", ");
      const more = v.from.length > MAX_NAMED ? `, … ${v.from.length - MAX_NAMED} more` : "";
      parts.push(`from ${named}${more}`);
    }
    for (const r of v.runInputOf) {
      parts.push(
        r.runId === home ? `input ${r.input} of the run` : `input ${r.input} of run ${r.runId}`,
      );
    }
    return parts.join("; ");
  };
  const lines = [
    `${lineage.value.hash.slice(0, 12)}  ${lineage.value.preview}`,
    ...(origin(lineage.value) === "" ? [] : [`  ${origin(lineage.value)}`]),
  ];
  const pending: string[] = [];
  for (const step of Object.values(lineage.steps)) {
    if (!step.expanded) {
      pending.push(step.nodeId);
      continue;
    }
    const about = [step.entity];
    if (step.runId !== home) about.push(`run ${step.runId}`);
    if (step.cachedFrom !== undefined) about.push(`cached from ${step.cachedFrom}`);
    if (step.status !== "succeeded") about.push(step.status);
    lines.push("", `${step.nodeId}  (${about.join(", ")})`);
    const width = Math.max(0, ...step.inputs.map((i) => i.name.length));
    for (const input of step.inputs) {
      const from = origin(input);
      lines.push(
        `  ${input.name.padEnd(width)}  ${input.hash.slice(0, 12)}  ${input.preview}${
          from === "" ? "" : `  ${from}`
        }`,
      );
    }
  }
  if (pending.length > 0) {
    const expanded = Object.values(lineage.steps).length - pending.length;
    const why = expanded >= asked.limit
      ? `after ${asked.limit} executions (--limit N for more)`
      : `${asked.depth} steps back (--depth N to go further)`;
    const names = pending.slice(0, MAX_NAMED).join(", ") +
      (pending.length > MAX_NAMED ? `, … ${pending.length - MAX_NAMED} more` : "");
    lines.push("", `not followed, ${why}: ${names}`);
  } else if (lineage.truncated) {
    lines.push("", `not all followed (--depth N, --limit N or --across-runs went no further)`);
  }
  if (home !== undefined && !asked.acrossRuns) {
    lines.push(`(within run ${home}; --across-runs follows values into other runs)`);
  }
  return `${lines.join("\n")}\n`;
}
