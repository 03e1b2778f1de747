/**
 * `weft query RUN_ID [NAME]`: what a run published with `publish(name,
 * value)`, as `queryRun(runId, name, { store })` reads it.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { toJsonTree } from "../core/values.ts";
import { checkSignalName } from "../define/time.ts";
import { queryRunState } from "../engine/mod.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { STORE_HELP, withStore, writeJson } from "./history.ts";

/** `weft query`. */
export const queryCommand: Command = {
  summary: "what a run published with publish(NAME, value): its latest value of each name",
  help: `Usage: weft query RUN_ID [NAME] [--store S]

Prints, as JSON on stdout, the latest value the run RUN_ID published under
NAME with yield* wait(publish(NAME, value)) in a flow; without NAME, an object
of every name it published with its latest value. Read from the store alone:
while the run goes on (in any process), while it sleeps, and after it ended.
Values JSON cannot hold are tagged as weft run's outputs are ({"$bigint": …}).

Options:
${STORE_HELP}

Exit codes: 0 printed, 2 no such run, or nothing published under NAME (yet).`,
  async run(args) {
    const { values, positionals } = parseCommandArgs("query", args, {
      store: { type: "string" },
    });
    if (positionals.length < 1 || positionals.length > 2) {
      throw new UsageError("query: give RUN_ID and optionally NAME (see weft query --help)");
    }
    const [runId, name] = positionals as [string, string | undefined];
    if (name !== undefined) checkSignalName(name);
    const store = values.store as string | undefined;
    return await withStore(store, async (opened) => {
      const state = await queryRunState(runId, opened);
      if (name === undefined) {
        const all: Record<string, unknown> = {};
        for (const [k, v] of state) {
          Object.defineProperty(all, k, { value: v.value, enumerable: true });
        }
        writeJson(`${JSON.stringify(toJsonTree(all), null, 2)}\n`);
        return 0;
      }
      const found = state.get(name);
      if (found === undefined) {
        const names = [...state.keys()];
        throw new ValidationError(
          `Run ${runId} has published nothing under '${name}' (yet); ${
            names.length === 0
              ? "it has published nothing: a flow publishes with yield* wait(publish(NAME, value))"
              : `it has published ${names.map((n) => `'${n}'`).join(", ")}`
          }`,
        );
      }
      writeJson(`${JSON.stringify(toJsonTree(found.value), null, 2)}\n`);
      return 0;
    });
  },
};
