/**
 * Run ownership in the SQLite store: one row per owned run in `run_owners`,
 * claimed in an immediate transaction (the write lock is taken before the
 * row is read, so that two processes claiming at once are serialised and
 * exactly one wins), and takeovers kept in `run_takeovers`.
 *
 * @module
 */

import type { StatementSync } from "node:sqlite";
import { claimedOwner, decideClaim, takeoverRecord } from "../ownership.ts";
import type { ClaimResult, RenewResult, RunClaim, RunOwner, RunTakeover } from "../mod.ts";
import { ownerOf, takeoverOf, takeoverValues } from "../owner_rows.ts";
import type { Row } from "./rows.ts";

/** What ownership needs of the store. */
export interface OwnersPort {
  /** The prepared statements. */
  statements(): Record<string, StatementSync>;
  /** Runs `fn` in an immediate transaction (the write lock first), mapping errors. */
  immediate<T>(fn: () => T): T;
  /** Runs `fn` (each statement commits on its own), mapping errors. */
  direct<T>(fn: () => T): T;
}

/**
 * Claims a run.
 *
 * @param port The store.
 * @param claim Who claims.
 * @returns The owner now, and whether it is the claimant.
 */
export function claimRun(port: OwnersPort, claim: RunClaim): ClaimResult {
  return port.immediate(() => claimWith(port.statements(), claim, Date.now()));
}

/**
 * Claims a run inside a transaction that holds the write lock (an immediate
 * one, or a group commit's), so that the owner read is still the owner when
 * the claim is written.
 *
 * @param s The prepared statements.
 * @param claim Who claims.
 * @param now The store's clock.
 * @returns The owner now, and whether it is the claimant.
 */
export function claimWith(
  s: Record<string, StatementSync>,
  claim: RunClaim,
  now: number,
): ClaimResult {
  // The owner row's columns: the same for the insert and for a takeover.
  const row = [
    claim.runId,
    claim.ownerId,
    claim.pid,
    claim.host,
    now,
    now,
    Math.round(claim.leaseMs),
  ] as const;
  // A run no one holds (a new one, nearly always) is claimed by the insert alone.
  const free = s.claimFree!.run(...row);
  if (Number(free.changes) === 1) return { claimed: true, owner: claimedOwner(claim, now) };
  const found = s.getOwner!.get(claim.runId) as Row | undefined;
  const current = found === undefined ? undefined : ownerOf(found);
  const decision = decideClaim(current, claim, now);
  if (!decision.take) return { claimed: false, owner: current! };
  s.putOwner!.run(...row);
  const owner = claimedOwner(claim, now);
  if (current === undefined || decision.takeover === undefined) return { claimed: true, owner };
  const t = takeoverRecord(current, claim, now, decision.takeover);
  s.putTakeover!.run(...takeoverValues(t));
  return { claimed: true, owner, tookOver: t };
}

/**
 * Renews a claim.
 *
 * @param port The store.
 * @param runId The run.
 * @param ownerId The claim.
 * @returns Whether it still holds, and whether a cancel was requested.
 */
export function renewRun(port: OwnersPort, runId: string, ownerId: string): RenewResult {
  return port.direct(() => {
    const row = port.statements().renewOwner!.get(Date.now(), runId, ownerId) as Row | undefined;
    if (row === undefined) return { owned: false, cancelRequested: false };
    return { owned: true, cancelRequested: row.cancel_requested_at !== null };
  });
}

/**
 * Gives a run up.
 *
 * @param port The store.
 * @param runId The run.
 * @param ownerId The claim.
 */
export function releaseRun(port: OwnersPort, runId: string, ownerId: string): void {
  port.direct(() => port.statements().releaseOwner!.run(runId, ownerId));
}

/**
 * The owner of a run.
 *
 * @param port The store.
 * @param runId The run.
 * @returns The owner, or undefined.
 */
export function runOwner(port: OwnersPort, runId: string): RunOwner | undefined {
  return port.direct(() => {
    const row = port.statements().getOwner!.get(runId) as Row | undefined;
    return row === undefined ? undefined : ownerOf(row);
  });
}

/**
 * Asks the owner of a run to cancel it.
 *
 * @param port The store.
 * @param runId The run.
 * @returns The owner asked, or undefined.
 */
export function requestCancel(port: OwnersPort, runId: string): RunOwner | undefined {
  return port.direct(() => {
    const row = port.statements().cancelOwner!.get(Date.now(), runId) as Row | undefined;
    return row === undefined ? undefined : ownerOf(row);
  });
}

/**
 * The takeovers of a run.
 *
 * @param port The store.
 * @param runId The run.
 * @returns The takeovers, oldest first.
 */
export function takeovers(port: OwnersPort, runId: string): RunTakeover[] {
  return port.direct(() => (port.statements().takeovers!.all(runId) as Row[]).map(takeoverOf));
}
