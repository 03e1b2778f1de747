/**
 * How the PostgreSQL store reads its rows (laid out as `../rows.ts` says,
 * shared with the SQLite store).
 *
 * @module
 */

/** The columns node rows are read with. */
export const NODE_COLUMNS =
  "run_id, id, parent_id, seq, entity, kind, version, bare, status, attempts, started_at, finished_at, args_digest, call, inputs, outputs, error, cached_from, replayed, added";

/** A row as postgres.js returns it. */
// deno-lint-ignore no-explicit-any
export type Row = Record<string, any>;
