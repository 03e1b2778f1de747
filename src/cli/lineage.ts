/**
 * `weft lineage VALUE`: how a value came to be.
 *
 * @module
 */

import type { Lineage } from "../store/mod.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { STORE_HELP, withStore, write } from "./history.ts";

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
