/**
 * `weft rerun RUN_ID`: a new run of a recorded run's script, entity and
 * inputs (the web UI's Re-run button runs the same code).
 *
 * @module
 */

import type { Command } from "./command.ts";
import { runAgain } from "./again.ts";
import { STORE_HELP } from "./history.ts";

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
  run: (args) => runAgain("rerun", args),
};
