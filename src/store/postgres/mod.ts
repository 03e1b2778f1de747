/**
 * The PostgreSQL store (`postgres://…`): runs, the journal, values and the
 * cache in a PostgreSQL schema, shared by processes on many machines. It
 * loads postgres.js (`npm:postgres`) only when a store is opened.
 *
 * @module
 */

export { PostgresStore } from "./store.ts";
export { PgOwnership } from "./owners.ts";
export { PgBrowsing } from "./browse.ts";
export type { PostgresStoreOptions } from "./options.ts";
export { PG_SCHEMA_VERSION } from "./schema.ts";
export { isPostgresUrl, parsePgUrl, PG_ENV, redact } from "./connect.ts";
export type { PgTarget } from "./connect.ts";
