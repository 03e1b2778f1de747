/**
 * `weft export RUN_ID`: a run's provenance graph as JSON, DOT or HTML.
 *
 * @module
 */

import { parseCommandArgs, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { getRun, STORE_HELP, withStore, write } from "./history.ts";

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
