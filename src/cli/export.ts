/**
 * `weft export RUN_ID`: a run's provenance graph as JSON, DOT or HTML. The
 * HTML page of a run of a flow also lays the run over the flow's skeleton,
 * from the script the run recorded, loaded the way `weft compile` loads it.
 *
 * @module
 */

import { UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { getRun, parseStoreArgs, STORE_HELP, withStore, write, writeJson } from "./history.ts";
import { loadScript } from "./load.ts";
import type { RunDetails } from "../store/mod.ts";
import type { RunOverlay } from "../render/skeleton_overlay.ts";

/** `weft export`. */
export const exportCommand: Command = {
  summary: "export a run's provenance graph (values and executions) as JSON, DOT or HTML",
  help: `Usage: weft export RUN_ID [--format json|dot|html] [--out FILE] [--store S]

The provenance graph of a run: executions (boxes) and the values they took
and made (ellipses, by hash), with input and output names on the edges.

For a run of a flow, the HTML page also draws the flow's skeleton with the
run laid over it: how many times each loop went round, the arms of each
branch taken and those skipped (greyed), and what a failed run never
reached. The skeleton comes from the script the run recorded, loaded as
weft compile loads it (with no permissions, from the compile cache when it is
unchanged); when the script is gone or no longer has the flow, the page says
so in a line and shows the rest.

Options:
  --format F           json (default), dot or html (a self-contained page)
  --out FILE           write to FILE instead of stdout
  --allow-import HOST  let the run's script import modules from HOST (repeatable)
${STORE_HELP}`,
  async run(args) {
    const { values, store: storeArg, operand } = parseStoreArgs("export", args, {
      format: { type: "string" },
      out: { type: "string" },
      "allow-import": { type: "string", multiple: true },
    }, "RUN_ID");
    const format = (values.format as string | undefined) ?? "json";
    if (!["json", "dot", "html"].includes(format)) {
      throw new UsageError(`export: unknown format '${format}'; use json, dot or html`);
    }
    return await withStore(storeArg, async (store) => {
      const run = await getRun(store, operand);
      const { provenanceGraph, provenanceDot, provenanceHtml } = await import(
        "../render/provenance.ts"
      );
      const graph = await provenanceGraph(store, run);
      let text: string;
      if (format === "html") {
        const found = await skeletonOverlay(run, {
          allowImport: (values["allow-import"] as string[] | undefined) ?? [],
        });
        text = await provenanceHtml(
          graph,
          found === undefined
            ? {}
            : "missing" in found
            ? { notes: [`The flow's skeleton is not shown: ${found.missing}.`] }
            : { overlay: found },
        );
      } else {text = format === "json"
          ? `${JSON.stringify(graph, null, 2)}\n`
          : provenanceDot(graph);}
      if (values.out !== undefined) await Deno.writeTextFile(values.out as string, text);
      else if (format === "json") writeJson(text);
      else write(text);
      return 0;
    });
  },
};

/** Options of {@linkcode skeletonOverlay}. */
export interface SkeletonOverlayOptions {
  /** Extra hosts the script may import modules from. */
  allowImport?: string[];
}

/**
 * A run laid over the skeleton of its flow, from the script the run recorded
 * (loaded as `weft compile` loads it, compile cache included).
 *
 * @param run The run.
 * @param options Extra import hosts.
 * @returns The overlay; `{ missing }`, a sentence saying why there is none;
 *   undefined for a run that is not of a flow (nothing to lay over).
 */
export async function skeletonOverlay(
  run: RunDetails,
  options: SkeletonOverlayOptions = {},
): Promise<RunOverlay | { missing: string } | undefined> {
  if (run.kind !== "flow" && run.kind !== "launchPlan") return undefined;
  if (run.script === undefined) {
    return {
      missing: `run ${run.id} records no script (it was started from code, not by weft run)`,
    };
  }
  let url: URL;
  try {
    url = new URL(run.script);
  } catch {
    return { missing: `run ${run.id} records its script as '${run.script}', which is not a URL` };
  }
  const script = shown(url);
  if (url.protocol === "file:") {
    try {
      await Deno.stat(url);
    } catch {
      return { missing: `its script ${script} no longer exists` };
    }
  }
  let dag;
  try {
    dag = (await loadScript(url, { allowImport: options.allowImport ?? [] })).dag;
  } catch (e) {
    const message = e instanceof Error ? e.message.split("\n")[0]! : String(e);
    return { missing: `its script ${script} does not load now (${message.replace(/\.$/, "")})` };
  }
  const { runOverlay } = await import("../render/skeleton_overlay.ts");
  const found = runOverlay(dag, run);
  if (found !== undefined && "missing" in found) {
    return { missing: `its script ${script} ${found.missing}` };
  }
  return found;
}

/** A local script as a path (relative to here when it is below), else its URL. */
function shown(url: URL): string {
  if (url.protocol !== "file:") return url.href;
  const path = decodeURIComponent(url.pathname);
  const cwd = `${Deno.cwd()}/`;
  return path.startsWith(cwd) ? path.slice(cwd.length) : path;
}
