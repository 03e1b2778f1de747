/**
 * What a run waits for, for its page: the sleeps and signal waits of its
 * flows that have not ended (with when each wakes), and the signals sent to
 * it that no wait has taken yet. A run page shows them and offers to send
 * a signal the run waits for.
 *
 * @module
 */

import type { Store } from "../store/mod.ts";
import { prettyValue } from "./pretty.ts";

/** One pending durable wait of a run. */
export interface RunWait {
  /** The wait's node. */
  nodeId: string;
  /** `sleep` or `signal`. */
  kind: "sleep" | "signal";
  /** For a signal wait: the signal's name. */
  signal: string | null;
  /** When it wakes: a sleep's end, a signal wait's timeout; null when only a signal can end it. */
  wakeAt: number | null;
  /** When it started waiting. */
  since: number | null;
}

/** A signal sent to a run that no wait has taken yet. */
export interface SentSignal {
  /** Its name. */
  name: string;
  /** Its order among the run's signals. */
  seq: number;
  /** When it was sent. */
  sentAt: number;
  /** Its value, readable. */
  value: string;
}

/** What a run waits for. */
export interface RunWaits {
  /** The run's status. */
  status: string;
  /** Its pending waits, in the order they started. */
  waits: RunWait[];
  /** The earliest time one of them wakes, or null. */
  wakeAt: number | null;
  /** Signals sent and not yet taken, in the order sent. */
  sent: SentSignal[];
}

/**
 * What a run waits for now. Only a running or sleeping run waits; for any
 * other the list is empty.
 *
 * @param store The store.
 * @param runId The run.
 * @returns Its waits, or undefined when the store has no such run.
 */
export async function runWaits(store: Store, runId: string): Promise<RunWaits | undefined> {
  const changes = await store.runNodes(runId);
  if (changes === undefined) return undefined;
  const status = changes.run.status;
  if (status !== "running" && status !== "sleeping") {
    return { status, waits: [], wakeAt: null, sent: [] };
  }
  const open = changes.nodes.filter((n) =>
    (n.kind === "sleep" || n.kind === "signal") &&
    (n.status === "running" || n.status === "pending" || n.status === "ready")
  );
  const waits = await Promise.all(open.map(async (n): Promise<RunWait> => {
    const values = await store.nodeValues(runId, n.id);
    const arg = (name: string): unknown =>
      values?.inputs.find((v) => v.name === name && v.stored)?.value;
    const since = n.startedAt ?? null;
    let wakeAt: number | null = null;
    if (n.kind === "sleep") {
      const until = arg("until");
      const ms = arg("ms");
      if (until instanceof Date) wakeAt = until.getTime();
      else if (typeof until === "number") wakeAt = until;
      else if (typeof ms === "number" && since !== null) wakeAt = since + ms;
    } else {
      const timeout = arg("timeoutMs");
      if (typeof timeout === "number" && since !== null) wakeAt = since + timeout;
    }
    const name = arg("name");
    return {
      nodeId: n.id,
      kind: n.kind as "sleep" | "signal",
      signal: n.kind === "signal" && typeof name === "string" ? name : null,
      wakeAt,
      since,
    };
  }));
  const times = waits.map((w) => w.wakeAt).filter((t): t is number => t !== null);
  const sent = (await store.listSignals(runId))
    .filter((s) => s.takenBy === undefined)
    .map((s) => ({
      name: s.name,
      seq: s.seq,
      sentAt: s.sentAt,
      value: prettyValue(s.value, 200).text,
    }));
  return {
    status,
    waits,
    wakeAt: times.length === 0 ? null : Math.min(...times),
    sent,
  };
}
