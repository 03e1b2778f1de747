/**
 * Run ownership in the PostgreSQL store: one row per owned run in
 * `run_owners`, claimed in a transaction that first takes an advisory lock
 * on the run id (two claims of one id on any machines are serialised, and
 * exactly one wins), with times on the server's clock so that owners on
 * machines whose clocks differ are judged alike; takeovers in
 * `run_takeovers`.
 *
 * @module
 */

import { claimedOwner, decideClaim, takeoverRecord } from "../ownership.ts";
import { ownerOf, takeoverOf, takeoverValues } from "../owner_rows.ts";
import type {
  ClaimResult,
  RenewResult,
  RunClaim,
  RunOwner,
  RunOwnership,
  RunTakeover,
} from "../mod.ts";
import type { PgClient } from "./connect.ts";
import { PgBrowsing } from "./browse.ts";

// deno-lint-ignore no-explicit-any
type Row = Record<string, any>;

/** The server's clock, in ms since the epoch. */
const NOW = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/** The ownership half of the PostgreSQL store (its base class). */
export abstract class PgOwnership extends PgBrowsing implements RunOwnership {
  /** @internal The client pool. */
  abstract override readonly sql: PgClient;
  /** The quoted schema name. */
  abstract override readonly schema: string;

  /**
   * Claims a run id (see `RunOwnership.claimRun`).
   *
   * @param claim Who claims.
   * @returns The owner now, and whether it is the claimant.
   */
  async claimRun(claim: RunClaim): Promise<ClaimResult> {
    for (;;) {
      const result = await this.#claimOnce(claim);
      if (result !== undefined) return result;
      // The owner changed between the read and the write (a run start in a
      // group commit takes no advisory lock): decide again on what is there now.
    }
  }

  async #claimOnce(claim: RunClaim): Promise<ClaimResult | undefined> {
    const s = this.schema;
    const prepare = { prepare: true };
    return await this.sql.begin(async (tx) => {
      // The lock, the clock and the owner: one round trip.
      const rows = await tx.unsafe(
        `SELECT o.*, ${NOW} AS now FROM (SELECT pg_advisory_xact_lock(hashtext($2))) AS locked
           LEFT JOIN ${s}.run_owners AS o ON o.run_id = $1`,
        [claim.runId, `weft:run:${claim.runId}`],
        prepare,
      ) as Row[];
      const now = Number(rows[0]!.now);
      const current = rows[0]!.run_id === null ? undefined : ownerOf(rows[0]!);
      const decision = decideClaim(current, claim, now);
      if (!decision.take) return { claimed: false, owner: current! } as ClaimResult;
      const leaseMs = Math.round(claim.leaseMs);
      // Only over the owner read above (or none): compare and set.
      const written = await tx.unsafe(
        `INSERT INTO ${s}.run_owners (run_id, owner_id, pid, host, since, heartbeat_at, lease_ms, cancel_requested_at)
         VALUES ($1, $2, $3, $4, $5, $5, $6, NULL)
         ON CONFLICT (run_id) DO UPDATE SET owner_id = excluded.owner_id, pid = excluded.pid,
           host = excluded.host, since = excluded.since, heartbeat_at = excluded.heartbeat_at,
           lease_ms = excluded.lease_ms, cancel_requested_at = NULL
         WHERE run_owners.owner_id = $7::text
         RETURNING run_id`,
        [claim.runId, claim.ownerId, claim.pid, claim.host, now, leaseMs, current?.ownerId ?? null],
        prepare,
      );
      if (written.length === 0) return undefined;
      const owner = claimedOwner(claim, now);
      if (current === undefined || decision.takeover === undefined) {
        return { claimed: true, owner } as ClaimResult;
      }
      const t = takeoverRecord(current, claim, now, decision.takeover);
      await tx.unsafe(
        `INSERT INTO ${s}.run_takeovers (run_id, at, owner_id, pid, host, from_owner_id, from_pid,
           from_host, from_since, from_heartbeat_at, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        takeoverValues(t),
      );
      return { claimed: true, owner, tookOver: t } as ClaimResult;
    });
  }

  /**
   * Renews a claim (see `RunOwnership.renewRun`).
   *
   * @param runId The run.
   * @param ownerId The claim.
   * @returns Whether it still holds, and whether a cancel was requested.
   */
  async renewRun(runId: string, ownerId: string): Promise<RenewResult> {
    const rows = await this.sql.unsafe(
      `UPDATE ${this.schema}.run_owners SET heartbeat_at = ${NOW}
       WHERE run_id = $1 AND owner_id = $2 RETURNING cancel_requested_at`,
      [runId, ownerId],
    ) as Row[];
    if (rows.length === 0) return { owned: false, cancelRequested: false };
    return { owned: true, cancelRequested: rows[0]!.cancel_requested_at !== null };
  }

  /**
   * Gives a run up (see `RunOwnership.releaseRun`).
   *
   * @param runId The run.
   * @param ownerId The claim.
   */
  async releaseRun(runId: string, ownerId: string): Promise<void> {
    await this.sql.unsafe(
      `DELETE FROM ${this.schema}.run_owners WHERE run_id = $1 AND owner_id = $2`,
      [runId, ownerId],
    );
  }

  /**
   * The owner of a run (see `RunOwnership.runOwner`).
   *
   * @param runId The run.
   * @returns The owner, or undefined.
   */
  async runOwner(runId: string): Promise<RunOwner | undefined> {
    const rows = await this.sql.unsafe(
      `SELECT * FROM ${this.schema}.run_owners WHERE run_id = $1`,
      [runId],
    ) as Row[];
    return rows.length === 0 ? undefined : ownerOf(rows[0]!);
  }

  /**
   * Asks the owner of a run to cancel it (see `RunOwnership.requestCancel`).
   *
   * @param runId The run.
   * @returns The owner asked, or undefined.
   */
  async requestCancel(runId: string): Promise<RunOwner | undefined> {
    const rows = await this.sql.unsafe(
      `UPDATE ${this.schema}.run_owners SET cancel_requested_at = COALESCE(cancel_requested_at, ${NOW})
       WHERE run_id = $1 RETURNING *`,
      [runId],
    ) as Row[];
    return rows.length === 0 ? undefined : ownerOf(rows[0]!);
  }

  /**
   * The takeovers of a run, oldest first (see `RunOwnership.takeovers`).
   *
   * @param runId The run.
   * @returns The takeovers.
   */
  async takeovers(runId: string): Promise<RunTakeover[]> {
    const rows = await this.sql.unsafe(
      `SELECT * FROM ${this.schema}.run_takeovers WHERE run_id = $1 ORDER BY at`,
      [runId],
    ) as Row[];
    return rows.map(takeoverOf);
  }
}
