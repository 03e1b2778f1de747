/**
 * `weft resume RUN_ID`: runs a recorded run again under its id and inputs.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { runAgain } from "./again.ts";
import { STORE_HELP } from "./history.ts";

/** `weft resume`. */
export const resumeCommand: Command = {
  summary: "resume a failed, cancelled or interrupted run from its journal",
  help: `Usage: weft resume RUN_ID [--store S] [run options]

Runs the recorded script and entity again under the same run id and inputs:
completed calls return their recorded values without running, and failures
the flow caught and went on from are thrown at it again as recorded; failed
calls nothing caught and interrupted ones run again. The same as weft run
SCRIPT NAME --run-id RUN_ID with the recorded inputs. Other options are those
of weft run (--isolate, --concurrency, --json, --quiet, --allow-extra,
--allow-import, --suspend).

A sleeping run (left by weft run --suspend) continues at once if its time has
passed or a signal it waits for has come, else it waits in this process; with
--suspend D it is left sleeping again (exit 75) when its next wake-up is at
least D off.

Options:
${STORE_HELP}`,
  run: (args) => runAgain("resume", args),
};
