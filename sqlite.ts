/**
 * The SQLite store (`sqlite:PATH`, the CLI's default): runs, node executions,
 * content-addressed values, the journal and the cache in one file, on
 * `node:sqlite` (built into Deno). `run(entity, inputs, { store:
 * "sqlite:PATH" })` opens one for a run; open it yourself to keep it, or to
 * read its history.
 *
 * @example Record a run in a file and read it back
 * ```ts
 * import { run, task } from "@weft/weft";
 * import { SqliteStore } from "@weft/weft/sqlite";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const store = SqliteStore.open(`${dir}/weft.db`);
 * const add = task(function add(x: number, y: number) { return x + y; });
 * const { runId } = await run(add, { x: 1, y: 2 }, { store });
 * assert.equal((await store.getRun(runId))?.outputs, 3);
 * store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export { SCHEMA_VERSION, SqliteStore } from "./src/store/sqlite/mod.ts";
export type { SqliteStoreOptions } from "./src/store/sqlite/mod.ts";
export { SqliteTime, SqliteTimeMethods } from "./src/store/sqlite/time.ts";
export { SqliteBrowse, SqliteBrowseMethods } from "./src/store/sqlite/browse.ts";
