/**
 * `weft run … --store postgres://… --detach`: records the run for the
 * workers to drive and prints its id, without running anything here.
 *
 * @module
 */

import { encodeValue, sha256 } from "../core/values.ts";
import { WEFT_VERSION } from "../core/version.ts";
import { PostgresStore } from "../store/postgres/mod.ts";
import { write } from "./history.ts";

/**
 * Enqueues a run for the workers of a PostgreSQL store.
 *
 * @param store The store URL.
 * @param run The script, the entity, the inputs, the run id if given.
 * @returns The exit code (0).
 */
export async function detachRun(
  store: string,
  run: {
    script: string;
    entity: string;
    kind: string;
    inputs: Record<string, unknown>;
    runId: string;
    quiet: boolean;
  },
): Promise<number> {
  const pg = await PostgresStore.open(store);
  try {
    const runId = run.runId;
    await pg.workers.enqueue({
      runId,
      entity: run.entity,
      kind: run.kind,
      inputsHash: sha256(encodeValue(run.inputs, true)),
      inputsBody: encodeValue(run.inputs),
      // The first driver checks the inputs (with their defaults) and records their digest.
      inputsDigest: "",
      script: run.script,
      weftVersion: WEFT_VERSION,
    });
    if (!run.quiet) {
      console.error(
        `weft: run ${runId} of ${run.kind} '${run.entity}' is enqueued in ${pg.url}; a worker (weft worker SCRIPT --store …) drives it; follow it with weft show ${runId}`,
      );
    }
    write(`${runId}\n`);
    return 0;
  } finally {
    await pg.close();
  }
}
