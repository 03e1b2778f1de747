/**
 * `weft cancel RUN_ID`: asks a running run to stop, from any terminal (the
 * web UI's Cancel button runs the same code). The request goes to the run's
 * owner through its ownership record in the store; the owner sees it at its
 * next heartbeat (within 2 s), aborts the running tasks and records the run
 * as cancelled, still resumable.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { RunStatus, Store } from "../store/mod.ts";
import { parseDuration } from "../core/duration.ts";
import type { Command } from "./command.ts";
import { parseStoreArgs, STORE_HELP, withStore } from "./history.ts";

/** What {@linkcode cancelRun} saw. */
export interface CancelOutcome {
  /** The run's status when done waiting. */
  status: RunStatus;
  /** Whether the run stopped within the wait. */
  stopped: boolean;
  /** One line for people. */
  message: string;
}

/**
 * Asks a running run to stop and waits for it to.
 *
 * @param store The store the run is recorded in.
 * @param runId The run.
 * @param waitMs How long to wait for it to stop.
 * @returns How it ended up.
 * @throws {ValidationError} When there is no such run, or it is not running.
 */
export async function cancelRun(
  store: Store,
  runId: string,
  waitMs = 10_000,
): Promise<CancelOutcome> {
  const before = await store.getRun(runId, { nodes: false });
  if (before === undefined) {
    throw new ValidationError(`No run '${runId}' in ${store.url}; list runs with weft runs`);
  }
  // The request goes to the run's owner, which sees it at its next heartbeat.
  const owner = before.status === "running" ? await store.requestCancel(runId) : undefined;
  if (owner === undefined) {
    const now = (await store.getRun(runId, { nodes: false }))?.status ?? before.status;
    throw new ValidationError(
      now === "running"
        ? `Run '${runId}' is recorded as running, but no process owns it (it stopped without recording its end); resume it with weft resume ${runId}`
        : `Run '${runId}' is not running (it ${now}); there is nothing to cancel`,
    );
  }
  const deadline = Date.now() + waitMs;
  for (;;) {
    const run = await store.getRun(runId, { nodes: false });
    const status = run?.status ?? "running";
    if (status !== "running") {
      return {
        status,
        stopped: true,
        message: status === "cancelled"
          ? `Run ${runId} was cancelled; resume it with weft resume ${runId}`
          : `Run ${runId} ended as ${status} before it could be cancelled`,
      };
    }
    if (Date.now() >= deadline) {
      return {
        status,
        stopped: false,
        message: `Asked run ${runId} to stop, but it has not stopped within ${
          Math.round(waitMs / 1000)
        } s: its owner (pid ${owner.pid} on ${owner.host}) may be gone, then resume it with weft resume ${runId}; or it is still stopping a task`,
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `weft cancel`. */
export const cancelCommand: Command = {
  summary: "ask a running run to stop (it stays resumable)",
  help: `Usage: weft cancel RUN_ID [--wait D] [--store S]

Asks the process running RUN_ID (a weft run in any terminal) to stop: it
aborts the running tasks (their ctx.signal), records the run as cancelled and
exits 130. Resume it later with weft resume RUN_ID.

Options:
  --wait D    how long to wait for it to stop (default 10s)
${STORE_HELP}

Exit codes: 0 it stopped, 1 it did not stop in time, 2 no such run or not running.`,
  async run(args) {
    const { values, store: storeArg, operand } = parseStoreArgs("cancel", args, {
      wait: { type: "string" },
    }, "RUN_ID");
    const waitMs = values.wait === undefined ? 10_000 : parseDuration(values.wait, "--wait");
    return await withStore(storeArg, async (store) => {
      const outcome = await cancelRun(store, operand, waitMs);
      console.error(`weft: ${outcome.message}`);
      return outcome.stopped ? 0 : 1;
    }, { write: true });
  },
};
