// One `weft compile SCRIPT` as a fresh process does it, with or without
// flows' skeletons: list the module graph, load the script in the
// no-permission child (no compile cache), render the document as JSON,
// escape it and print it. The skeleton workload times whole runs of this
// program, so that what the skeleton adds outside the child (reading its
// larger report, rendering and printing the larger document, each in a
// process that has not run them before) is counted too.
//
// Usage: deno run -A bench/workloads/skeleton_compile.ts SCRIPT on|off

import { loadScript } from "../../src/cli/load.ts";
import { renderDag } from "../../src/render/mod.ts";
import { escapeJson } from "../../src/core/escape.ts";

const [script, skeletons] = Deno.args;
if (script === undefined || (skeletons !== "on" && skeletons !== "off")) {
  throw new Error("usage: skeleton_compile.ts SCRIPT on|off");
}
const described = await loadScript(new URL(`file://${script}`), {
  cache: false,
  skeletons: skeletons === "on",
});
const text = await renderDag(described.dag, "json");
await Deno.stdout.write(new TextEncoder().encode(escapeJson(text)));
