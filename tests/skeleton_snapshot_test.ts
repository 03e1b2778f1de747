// The skeleton of every flow of every example, checked in: a change to the
// extractor (or to an example) that changes what a reader would see shows up
// here. To accept a change, run with WEFT_UPDATE_SNAPSHOTS=1 and review the diff.

import assert from "node:assert/strict";
import { loadScript } from "../src/cli/load.ts";
import { ROOT } from "./_helpers.ts";

const SNAPSHOT = `${ROOT}/tests/fixtures/skeleton/examples.snapshot.json`;

Deno.test("the skeleton of every example's flows matches the checked-in snapshot", async () => {
  const scripts: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}/examples`)) {
    if (e.isFile && e.name.endsWith(".ts")) scripts.push(`examples/${e.name}`);
  }
  const now: Record<string, Record<string, unknown>> = {};
  for (const script of scripts.sort()) {
    const { dag } = await loadScript(new URL(`file://${ROOT}/${script}`), { cache: false });
    const flows: Record<string, unknown> = {};
    for (const wf of dag.workflows) {
      if (wf.kind !== "dynamic") continue;
      flows[wf.name] = { callsFrom: wf.callsFrom, calls: wf.calls, skeleton: wf.skeleton };
    }
    now[script] = flows;
  }
  const text = `${JSON.stringify(now, null, 2)}\n`;
  if (Deno.env.get("WEFT_UPDATE_SNAPSHOTS") === "1") await Deno.writeTextFile(SNAPSHOT, text);
  assert.deepEqual(now, JSON.parse(await Deno.readTextFile(SNAPSHOT)));
  assert.ok(Object.keys(now["examples/aiida_flows.ts"] ?? {}).length === 3);
});
