/**
 * The SQLite store (`sqlite:PATH`, the CLI's default): runs, node
 * executions, content-addressed values, the journal and the cache in one
 * file, on `node:sqlite` (built into Deno: no dependency, no flag).
 *
 * @module
 */

export { SqliteStore } from "./store.ts";
export type { SqliteStoreOptions } from "./store.ts";
export { SCHEMA_VERSION } from "./schema.ts";
