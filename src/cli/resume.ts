/**
 * `weft resume RUN_ID`: runs a recorded run again under its id and inputs.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { getRun, parseStoreArgs, STORE_HELP, withStore } from "./history.ts";

/** `weft resume`. */
export const resumeCommand: Command = {
  summary: "resume a failed, cancelled or interrupted run from its journal",
  help: `Usage: weft resume RUN_ID [--store S] [run options]

Runs the recorded script and entity again under the same run id and inputs:
completed calls return their recorded values without running, failed and
interrupted ones run again. The same as weft run SCRIPT NAME --run-id RUN_ID
with the recorded inputs. Other options are those of weft run (--isolate,
--concurrency, --json, --quiet, --allow-extra, --allow-import, --suspend).

A sleeping run (left by weft run --suspend) continues at once if its time has
passed or a signal it waits for has come, else it waits in this process; with
--suspend D it is left sleeping again (exit 75) when its next wake-up is at
least D off.

Options:
${STORE_HELP}`,
  async run(args) {
    const { RUN_OPTIONS, runMain } = await import("./run.ts");
    const { values, store: storeArg, operand: runId } = parseStoreArgs(
      "resume",
      args,
      RUN_OPTIONS,
      "RUN_ID (see weft runs --status failed)",
    );
    for (const forbidden of ["input", "inputs", "run-id"]) {
      if (values[forbidden] !== undefined) {
        throw new UsageError(
          `resume: --${forbidden} cannot be given; a run resumes with its recorded inputs and id`,
        );
      }
    }
    const record = await withStore(storeArg, (store) => getRun(store, runId));
    if (record.script === undefined) {
      throw new ValidationError(
        `Run '${runId}' was not started from a script (it was a library call); resume it with run(entity, inputs, { runId })`,
      );
    }
    const script = record.script.startsWith("file://")
      ? decodeURIComponent(new URL(record.script).pathname)
      : record.script;
    const rest = args.filter((a) => a !== runId);
    return await runMain([script, record.entity, "--run-id", runId, ...rest], record.inputs);
  },
};
