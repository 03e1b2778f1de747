/**
 * What a run recorded in the PostgreSQL store, as resuming it sees it: the
 * run's end and its journal (each node's state, and the value of each that
 * succeeded), read from the run's row and its node rows.
 *
 * @module
 */

import { ValidationError } from "../../core/errors.ts";
import { decodeValue } from "../../core/values.ts";
import type { JournalEntry, PreviousRun, RunStatus } from "../mod.ts";
import { wholeValue } from "../provenance.ts";
import { addJournalEntry, nodeOutputs, type StoredOutput } from "../rows.ts";
import type { Row } from "./rows.ts";

/** What the reads need of the store. */
export interface JournalReads {
  /** A value by hash (throws when the store has none). */
  value(hash: string): Promise<unknown>;
  /** The bodies of values by hash, from the values table. */
  bodies(hashes: string[]): Promise<Map<string, string>>;
}

/**
 * A run as it was recorded.
 *
 * @param store How to read values.
 * @param row The run's row.
 * @param nodes Its node rows, in the order they were added.
 * @returns What resuming it sees.
 */
export async function previousOf(
  store: JournalReads,
  row: Row,
  nodes: Row[],
): Promise<PreviousRun> {
  return {
    status: row.status as RunStatus,
    entity: row.entity as string,
    inputsDigest: row.inputs_digest as string,
    outputs: row.outputs_hash === null ? undefined : await store.value(row.outputs_hash),
    errors: row.errors === null ? [] : JSON.parse(row.errors as string),
    startedAt: Number(row.started_at),
    finishedAt: row.finished_at === null ? undefined : Number(row.finished_at),
    journal: await journalOf(store, nodes),
  };
}

async function journalOf(store: JournalReads, nodes: Row[]): Promise<Map<string, JournalEntry>> {
  const journal = new Map<string, JournalEntry>();
  const outside = new Set<string>();
  for (const n of nodes) {
    if (n.status !== "succeeded") continue;
    for (const o of nodeOutputs(n)) if (o.body === undefined) outside.add(o.hash);
  }
  const bodies = await store.bodies([...outside]);
  const outputValue = (o: StoredOutput): unknown => {
    const body = o.body ?? bodies.get(o.hash);
    if (body === undefined) throw new ValidationError(`The store has no value ${o.hash}`);
    return decodeValue(body);
  };
  const value = (bare: boolean, outputs: StoredOutput[]): unknown =>
    wholeValue(bare, outputs.map((o) => ({ name: o.name, value: outputValue(o) })));
  for (const n of nodes) {
    addJournalEntry(journal, n, value);
  }
  return journal;
}
