/**
 * `weft compile SCRIPT`: prints the static graph of a script's workflows
 * without running anything.
 *
 * @module
 */

import { type DagDocument, subDocument } from "../ir/mod.ts";
import { DAG_FORMATS, renderDag } from "../render/mod.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { findExport, requireEntities } from "./exports.ts";
import type { ScriptDescription } from "./protocol.ts";
import { LOAD_OPTIONS, loadOptionsOf, loadScript } from "./load.ts";
import { escapeJson, escapeText } from "../core/escape.ts";
import { resolveScript } from "./script.ts";
import type { Command } from "./command.ts";

/** The `compile` command. */
export const compileCommand: Command = {
  summary: "print the static graph (weft.dag/v1) of a script's workflows, running nothing",
  help: `Usage: weft compile SCRIPT [options]

Fetches SCRIPT's static module graph (printing what it downloads), then
imports SCRIPT in a child process with no permissions at all, fetching off
and imports allowed only from the graph's hosts (only its own modules are
loaded), collects the workflows, builder workflows, flows, launch plans and
tasks it exports, and prints their IR. Nothing runs: a script whose
top-level code tries to read, write, reach the network, read env, start a
process or import a module outside its graph fails to compile, and the
refused action never happens. A load that takes longer than the load
timeout is stopped (exit 2). SCRIPT may be a workflow document
(pipeline.yaml or .json, format weft.workflow/v1; see the README) whose tasks
are ./module.ts#exportName, each mistake reported with its line.

The IR is weft.dag/v1 (weft schema prints its JSON Schema). Static workflows
appear with their nodes and edges; flows appear as kind "dynamic" with the
tasks they may call (their tasks: option, else every task of the module).
The same script always compiles to the same bytes, in every format: json and
yaml are the document; dot is Graphviz (dot -Tsvg), mermaid a flowchart, and
html one self-contained page with the laid-out graph and node details.

Options:
  --workflow NAME      only this workflow (export name or workflow name) and what it uses
  --format FORMAT      ${DAG_FORMATS.join(" | ")} (default json)
  --out FILE           write to FILE instead of stdout
  --allow-import HOST  let the script's static imports come from HOST (repeatable)
  --load-timeout D     stop loading after D (default 30s, or $WEFT_LOAD_TIMEOUT)
  --verbose            print the stack of a load error

Examples:
  weft compile examples/regression.ts
  weft compile examples/regression.ts --workflow regression --format yaml
  weft compile examples/regression.ts --format html --out regression.html
  weft compile examples/pipeline.yaml --format mermaid`,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseCommandArgs("compile", args, {
      workflow: { type: "string" },
      format: { type: "string" },
      out: { type: "string" },
      ...LOAD_OPTIONS,
    });
    if (positionals.length !== 1) {
      throw new UsageError("compile: give exactly one SCRIPT (see weft compile --help)");
    }
    const format = (values.format as string | undefined) ?? "json";
    if (!(DAG_FORMATS as readonly string[]).includes(format)) {
      throw new UsageError(
        `compile: unknown format '${format}'; use one of ${DAG_FORMATS.join(", ")}`,
      );
    }
    const url = resolveScript(positionals[0]!);
    const described = await loadScript(url, loadOptionsOf(values));
    requireEntities(described, positionals[0]!);
    const name = values.workflow as string | undefined;
    const dag = name === undefined ? described.dag : selectDocument(described, name);
    const script = positionals[0]!;
    const text = await renderDag(dag, format, {
      title: name === undefined ? script : `${script} · ${name}`,
    });
    const out = values.out as string | undefined;
    if (out !== undefined) await Deno.writeTextFile(out, text);
    else {
      // JSON keeps its meaning with C1 and bidi controls escaped; other
      // formats are only escaped when a terminal would act on them.
      const safe = format === "json"
        ? escapeJson(text)
        : Deno.stdout.isTerminal()
        ? escapeText(text)
        : text;
      await Deno.stdout.write(new TextEncoder().encode(safe));
    }
    return 0;
  },
};

function selectDocument(described: ScriptDescription, name: string): DagDocument {
  const found = findExport(described, name);
  return subDocument(described.dag, found.name);
}
