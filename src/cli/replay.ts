/**
 * `weft replay RUN_ID [SCRIPT]`: checks a script's current code against the
 * journal of a recorded run without running anything (Temporal's replay
 * testing), and reports the `NonDeterminismError` a resume would hit.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { findExport } from "./exports.ts";
import { getRun, STORE_HELP, withStore } from "./history.ts";
import { loadScript } from "./load.ts";
import { planPermissions, runFlags } from "./plan.ts";
import { modulePlan } from "./module_graph.ts";
import { StoreHost } from "./run_host.ts";
import type { ChildSpec } from "./protocol.ts";
import { childCwd, resolveScript } from "./script.ts";
import { runInChild } from "./spawn_run.ts";
import { defaultStoreUrl, storeNeeds } from "./store_url.ts";

/** `weft replay`. */
export const replayCommand: Command = {
  summary: "check a script's code against a recorded run, running nothing",
  help: `Usage: weft replay RUN_ID [SCRIPT] [--store S] [--allow-import HOST]

Replays the journal of run RUN_ID against the code of SCRIPT (default: the
script the run was started from), executing no task: every call the code
makes must find the call recorded at the same position, and a finished run's
calls must all be made again. Reports the NonDeterminismError a resume of the
run would hit, before you deploy the new code. The code runs in a child
process that holds no permission at all; this process reads the run's record
for it.

stdout gets the report as JSON: how many calls replayed, how many the code
made past the recorded history, whether the flow finished within it.

Options:
${STORE_HELP}
  --allow-import HOST   let the script import modules from HOST (repeatable)
  --verbose             print stack traces with errors

Exit codes: 0 the code replays the run, 1 it diverges, 2 bad usage or no such run.`,
  async run(args) {
    const { values, positionals } = parseCommandArgs("replay", args, {
      store: { type: "string" },
      "allow-import": { type: "string", multiple: true },
      verbose: { type: "boolean" },
    });
    if (positionals.length < 1 || positionals.length > 2) {
      throw new UsageError("replay: give RUN_ID and optionally SCRIPT (see weft replay --help)");
    }
    const runId = positionals[0]!;
    const storeArg = (values.store as string | undefined) ?? defaultStoreUrl();
    const record = await withStore(storeArg, (store) => getRun(store, runId));
    const given = positionals[1];
    if (given === undefined && record.script === undefined) {
      throw new ValidationError(
        `Run '${runId}' was not started from a script (it was a library call); name the SCRIPT to check, or use replayCheck() from @weft/weft/testing`,
      );
    }
    const url = given !== undefined ? resolveScript(given) : new URL(record.script!);
    const importHosts = (values["allow-import"] as string[] | undefined) ?? [];
    const verbose = values.verbose === true;
    const described = await loadScript(url, { allowImport: importHosts, verbose });
    const selected = findExport(described, record.entity, ["workflow", "flow", "launchPlan"]);
    const needs = await storeNeeds(storeArg);
    // Replay runs no task: the child holds no permission at all (not even on
    // the store: this process reads the run's record for it, and nothing else).
    const plan = planPermissions(described.dag, [], { baseDir: childCwd(url) });
    const modules = await modulePlan(described.graph, url, importHosts);
    const spec: Omit<ChildSpec, "token"> = {
      url: url.href,
      exportName: selected.export,
      inputs: {},
      cache: false,
      events: "all",
      finishedLines: false,
      runId,
      // (Replay claims nothing: the child only reads the run's record, through this process.)
      owner: {
        runId,
        ownerId: "",
        pid: 0,
        host: "",
        since: 0,
        heartbeatAt: 0,
        leaseMs: 0,
        cancelRequestedAt: undefined,
      },
      replay: true,
      durable: false,
      mode: "tasks",
      perTask: {},
      moduleRead: modules.moduleRead,
      importHosts: modules.graphHosts,
    };
    const { openStore } = await import("../store/open.ts");
    const store = await openStore(needs.url);
    try {
      return await runInChild(url, spec, {
        host: new StoreHost({ store, runId, script: url.href, replay: true }),
        flags: runFlags(plan, "tasks", modules).flags,
        mode: "plain",
        color: false,
        json: false,
        verbose,
      });
    } finally {
      await store.close();
    }
  },
};
