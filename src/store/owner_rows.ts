/**
 * How the SQL stores' ownership rows read and write (SQLite and PostgreSQL
 * keep the same columns in `run_owners` and `run_takeovers`).
 *
 * @module
 */

import type { RunOwner, RunTakeover } from "./mod.ts";
import type { SqlRow } from "./rows.ts";

/**
 * An owner row as a record.
 *
 * @param row The row.
 * @returns The owner.
 */
export function ownerOf(row: SqlRow): RunOwner {
  return {
    runId: row.run_id as string,
    ownerId: row.owner_id as string,
    pid: Number(row.pid),
    host: row.host as string,
    since: Number(row.since),
    heartbeatAt: Number(row.heartbeat_at),
    leaseMs: Number(row.lease_ms),
    cancelRequestedAt: row.cancel_requested_at === null
      ? undefined
      : Number(row.cancel_requested_at),
  };
}

/**
 * A takeover row as a record.
 *
 * @param r The row.
 * @returns The takeover.
 */
export function takeoverOf(r: SqlRow): RunTakeover {
  return {
    runId: r.run_id as string,
    at: Number(r.at),
    by: { ownerId: r.owner_id as string, pid: Number(r.pid), host: r.host as string },
    from: {
      ownerId: r.from_owner_id as string,
      pid: Number(r.from_pid),
      host: r.from_host as string,
      since: Number(r.from_since),
      heartbeatAt: Number(r.from_heartbeat_at),
    },
    reason: r.reason as string,
  };
}

/**
 * A takeover's values in the order of the columns it is inserted with:
 * `run_id, at, owner_id, pid, host, from_owner_id, from_pid, from_host,
 * from_since, from_heartbeat_at, reason`.
 *
 * @param t The takeover.
 * @returns The values.
 */
export function takeoverValues(t: RunTakeover): [
  string,
  number,
  string,
  number,
  string,
  string,
  number,
  string,
  number,
  number,
  string,
] {
  return [
    t.runId,
    t.at,
    t.by.ownerId,
    t.by.pid,
    t.by.host,
    t.from.ownerId,
    t.from.pid,
    t.from.host,
    t.from.since,
    t.from.heartbeatAt,
    t.reason,
  ];
}
