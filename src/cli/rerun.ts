/**
 * `weft rerun RUN_ID`: a new run of a recorded run's script, entity and
 * inputs (the web UI's Re-run button runs the same code).
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { getRun, parseStoreArgs, STORE_HELP, withStore } from "./history.ts";

/** `weft rerun`. */
export const rerunCommand: Command = {
  summary: "start a new run of a recorded run's script, entity and inputs",
  help: `Usage: weft rerun RUN_ID [--run-id NEW_ID] [--store S] [run options]

Runs the recorded script and entity again with the recorded inputs, as a new
run (a new id, or --run-id NEW_ID): the same as weft run SCRIPT NAME with
those inputs. Nothing is replayed: every task runs (or is found in the cache).
Other options are those of weft run (--isolate, --concurrency, --json,
--quiet, --ui, --allow-extra, --allow-import).

Options:
${STORE_HELP}`,
  async run(args) {
    const { RUN_OPTIONS, runMain } = await import("./run.ts");
    const { values, store: storeArg, operand: runId } = parseStoreArgs(
      "rerun",
      args,
      RUN_OPTIONS,
      "RUN_ID (see weft runs)",
    );
    for (const forbidden of ["input", "inputs"]) {
      if (values[forbidden] !== undefined) {
        throw new UsageError(
          `rerun: --${forbidden} cannot be given; a rerun takes the recorded inputs`,
        );
      }
    }
    if (values["run-id"] === runId) {
      throw new UsageError(
        `rerun: --run-id must be a new id; to go on with run ${runId}, use weft resume ${runId}`,
      );
    }
    const record = await withStore(
      storeArg,
      (store) => getRun(store, runId),
    );
    if (record.script === undefined) {
      throw new ValidationError(
        `Run '${runId}' was not started from a script (it was a library call); run it again with run(entity, inputs)`,
      );
    }
    const script = record.script.startsWith("file://")
      ? decodeURIComponent(new URL(record.script).pathname)
      : record.script;
    const rest = args.filter((a) => a !== runId);
    return await runMain([script, record.entity, ...rest], record.inputs);
  },
};
