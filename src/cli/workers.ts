/**
 * `weft workers`: the workers of a PostgreSQL store that are alive.
 *
 * @module
 */

import { UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { parseStoreArgs, STORE_HELP, table, when, withStore, write } from "./history.ts";

/** `weft workers`. */
export const workersCommand: Command = {
  summary: "list the live workers of a PostgreSQL store",
  help: `Usage: weft workers [--json] [--store S]

Lists the workers heard from within three of their leases: id, pid, host,
queues, calls held (of how many at once), runs driven, start and last
heartbeat.

Options:
  --json      one JSON object per worker
${STORE_HELP}`,
  async run(args) {
    const { values, store: storeArg } = parseStoreArgs("workers", args, {
      json: { type: "boolean" },
    });
    return await withStore(storeArg, async (store) => {
      const { PostgresStore } = await import("../store/postgres/mod.ts");
      if (!(store instanceof PostgresStore)) {
        throw new UsageError(
          `workers: workers share a PostgreSQL store; pass --store postgres://… (not ${store.url})`,
        );
      }
      const workers = await store.workers.workers();
      if (values.json) {
        for (const w of workers) write(`${JSON.stringify(w)}\n`);
        return 0;
      }
      if (workers.length === 0) {
        console.error(`weft: no live workers in ${store.url}`);
        return 0;
      }
      const rows = [["ID", "PID", "HOST", "QUEUES", "HELD", "DRIVING", "STARTED", "HEARTBEAT"]];
      for (const w of workers) {
        rows.push([
          w.id,
          String(w.pid),
          w.host,
          w.queues === "*" ? "all" : w.queues,
          `${w.held}/${w.concurrency}${w.stopping ? " (stopping)" : ""}`,
          String(w.driving),
          when(w.startedAt.getTime()),
          when(w.heartbeatAt.getTime()),
        ]);
      }
      write(table(rows));
      return 0;
    });
  },
};
