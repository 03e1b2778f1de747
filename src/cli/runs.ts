/**
 * `weft runs`: the recorded runs, newest first.
 *
 * @module
 */

import { UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { parseStoreArgs, STORE_HELP, table, when, withStore, write, writeJson } from "./history.ts";
import { formatMs } from "./progress.ts";

/** `weft runs`. */
export const runsCommand: Command = {
  summary: "list recorded runs",
  help: `Usage: weft runs [--status S] [--limit N] [--json] [--store S]

Lists runs, newest first: id, entity, status, start time, duration.

Options:
  --status S  only runs with this status (running, sleeping, succeeded, failed, cancelled)
  --limit N   at most N runs (default 20)
  --json      one JSON object per run
${STORE_HELP}`,
  async run(args) {
    const { values, store: storeArg } = parseStoreArgs("runs", args, {
      status: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
    });
    const status = values.status as string | undefined;
    if (
      status !== undefined &&
      !["running", "sleeping", "succeeded", "failed", "cancelled"].includes(status)
    ) {
      throw new UsageError(
        `runs: --status must be running, sleeping, succeeded, failed or cancelled, not '${status}'`,
      );
    }
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) {
      throw new UsageError(`runs: --limit must be a positive integer, not '${values.limit}'`);
    }
    return await withStore(storeArg, async (store) => {
      const runs = await store.listRuns({ ...(status ? { status: status as never } : {}), limit });
      if (values.json) {
        for (const r of runs) writeJson(`${JSON.stringify(r)}\n`);
        return 0;
      }
      if (runs.length === 0) {
        console.error("weft: no runs recorded");
        return 0;
      }
      const rows = [["ID", "ENTITY", "STATUS", "STARTED", "DURATION"]];
      for (const r of runs) {
        rows.push([
          r.id,
          r.entity,
          `${r.status}${r.wakeAt === undefined ? "" : ` until ${when(r.wakeAt)}`}${
            r.attempts > 1 ? ` (${r.attempts} attempts)` : ""
          }`,
          when(r.startedAt),
          r.finishedAt === undefined ? "-" : formatMs(r.finishedAt - r.startedAt),
        ]);
      }
      write(table(rows));
      return 0;
    });
  },
};
