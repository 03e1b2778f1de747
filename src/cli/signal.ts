/**
 * `weft signal RUN_ID NAME [VALUE]`: sends a signal to a run, as
 * `sendSignal(runId, name, value, { store })` does.
 *
 * @module
 */

import { checkValue } from "../core/values.ts";
import { checkSignalName } from "../define/time.ts";
import { sendSignal } from "../engine/mod.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { STORE_HELP, withStore } from "./history.ts";

/** `weft signal`. */
export const signalCommand: Command = {
  summary: "send a signal to a run (a flow waiting with yield* signal(NAME))",
  help: `Usage: weft signal RUN_ID NAME [VALUE] [--store S]

Sends the signal NAME to the run RUN_ID: a flow waiting with
yield* signal(NAME) receives VALUE (parsed as JSON when it parses, else taken
as a string; true when left out). A signal sent before the flow waits for it
is kept; a run left sleeping that waits for it becomes due (weft serve wakes
it); a run waiting in a process notices it within 0.2 s.

Options:
${STORE_HELP}

Exit codes: 0 sent, 2 no such run, the run has succeeded, or a bad name or value.`,
  async run(args) {
    const { values, positionals } = parseCommandArgs("signal", args, {
      store: { type: "string" },
    });
    if (positionals.length < 2 || positionals.length > 3) {
      throw new UsageError(
        "signal: give RUN_ID, NAME and optionally VALUE (see weft signal --help)",
      );
    }
    const [runId, name, raw] = positionals as [string, string, string | undefined];
    checkSignalName(name);
    let value: unknown = true;
    if (raw !== undefined) {
      try {
        value = JSON.parse(raw);
      } catch {
        value = raw;
      }
    }
    checkValue(value, () => `The value of signal '${name}'`);
    return await withStore(values.store as string | undefined, async (store) => {
      // The same call as the library's and the web UI's button.
      const seq = await sendSignal(runId, name, value, { store });
      console.error(`weft: sent signal '${name}' to run ${runId} (its signal #${seq})`);
      return 0;
    }, { write: true });
  },
};
