/**
 * The `weft run` parent's claim on its run: the parent owns the run id in
 * the store for as long as its child executes the run (renewing the claim,
 * passing on a cancel request, stopping the child if the claim is lost), so
 * that no second `weft run` or `weft resume` of the same id can execute it
 * meanwhile.
 *
 * @module
 */

import { importLater } from "./command.ts";
import type { Store } from "../store/mod.ts";
import { acquireRun, type RunLease } from "../store/ownership.ts";

/** A claimed run, with the store it is claimed in. */
export interface OwnedRun {
  /** The store (opened by this process). */
  readonly store: Store;
  /** The claim. */
  readonly lease: RunLease;
  /** Gives the run up and closes the store. */
  release(): Promise<void>;
}

/**
 * Claims a run id in a store.
 *
 * @param storeUrl The store (`memory` or `sqlite:ABSOLUTE_PATH`).
 * @param runId The run.
 * @param leaseMs How long the claim holds without a heartbeat.
 * @returns The claim.
 * @throws {RunOwnedError} When a live process owns the run.
 */
export async function ownRun(
  storeUrl: string,
  runId: string,
  leaseMs: number | undefined,
): Promise<OwnedRun> {
  // (Loaded here, not at start-up: the store's modules are only needed once a run is planned.)
  const { openStore } = await importLater<typeof import("../store/open.ts")>(
    new URL("../store/open.ts", import.meta.url),
  );
  const store = await openStore(storeUrl);
  let lease: RunLease;
  try {
    lease = await acquireRun(store, runId, leaseMs === undefined ? {} : { leaseMs });
  } catch (e) {
    await store.close();
    throw e;
  }
  return {
    store,
    lease,
    async release() {
      await lease.release();
      await store.close();
    },
  };
}
