/**
 * What `weft resume` and `weft rerun` share: a recorded run's script, entity
 * and inputs, run again by `weft run`, either under the run's own id (resume:
 * its journal replays what completed) or as a new run (rerun: nothing is
 * replayed).
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { UsageError } from "./args.ts";
import { getRun, parseStoreArgs, withStore } from "./history.ts";

/** What each command calls its operand, the options of weft run it refuses, and its advice for a library call. */
const WORDS = {
  resume: {
    operand: "RUN_ID (see weft runs --status failed)",
    refused: ["input", "inputs", "run-id"],
    because: "a run resumes with its recorded inputs and id",
    library: "resume it with run(entity, inputs, { runId })",
  },
  rerun: {
    operand: "RUN_ID (see weft runs)",
    refused: ["input", "inputs"],
    because: "a rerun takes the recorded inputs",
    library: "run it again with run(entity, inputs)",
  },
} as const;

/**
 * Runs a recorded run again: RUN_ID, the store and weft run's options are read
 * from the arguments; `weft resume` keeps the run's id, `weft rerun` starts a
 * new run (its own `--run-id`, or a new id).
 *
 * @param command Which command.
 * @param args Its arguments.
 * @returns weft run's exit code.
 */
export async function runAgain(command: keyof typeof WORDS, args: string[]): Promise<number> {
  const words = WORDS[command];
  const { RUN_OPTIONS, runMain } = await import("./run.ts");
  const { values, store: storeArg, operand: runId } = parseStoreArgs(
    command,
    args,
    RUN_OPTIONS,
    words.operand,
  );
  for (const refused of words.refused) {
    if (values[refused] !== undefined) {
      throw new UsageError(`${command}: --${refused} cannot be given; ${words.because}`);
    }
  }
  if (command === "rerun" && values["run-id"] === runId) {
    throw new UsageError(
      `rerun: --run-id must be a new id; to go on with run ${runId}, use weft resume ${runId}`,
    );
  }
  const record = await withStore(storeArg, (store) => getRun(store, runId));
  if (record.script === undefined) {
    throw new ValidationError(
      `Run '${runId}' was not started from a script (it was a library call); ${words.library}`,
    );
  }
  const script = record.script.startsWith("file://")
    ? decodeURIComponent(new URL(record.script).pathname)
    : record.script;
  const rest = args.filter((a) => a !== runId);
  const id = command === "resume" ? ["--run-id", runId] : [];
  return await runMain([script, record.entity, ...id, ...rest], record.inputs);
}
