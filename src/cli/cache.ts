/**
 * `weft cache clear [TASK]`: empties the result cache.
 *
 * @module
 */

import { parseCommandArgs, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { STORE_HELP, withStore } from "./history.ts";

/** `weft cache`. */
export const cacheCommand: Command = {
  summary: "manage the result cache: weft cache clear [TASK]",
  help: `Usage: weft cache clear [TASK] [--store S]

Removes cached results (of one task, or all). Runs keep their records.

Options:
${STORE_HELP}`,
  async run(args) {
    const { values, positionals } = parseCommandArgs("cache", args, { store: { type: "string" } });
    if (positionals[0] !== "clear" || positionals.length > 2) {
      throw new UsageError("cache: the only subcommand is 'clear [TASK]' (see weft cache --help)");
    }
    return await withStore(values.store as string | undefined, async (store) => {
      const n = await store.clearCache(positionals[1]);
      console.error(
        `weft: removed ${n} cached result${n === 1 ? "" : "s"}${
          positionals[1] ? ` of task '${positionals[1]}'` : ""
        }`,
      );
      return 0;
    }, { write: true });
  },
};
