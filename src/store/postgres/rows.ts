/**
 * How the PostgreSQL store reads its rows: run summaries and node details
 * (the same layout as the SQLite store's rows).
 *
 * @module
 */

import type { WeftErrorJson } from "../../core/errors.ts";
import type { NodeDetails, NodeStatus, RunStatus, RunSummary } from "../mod.ts";
import {
  nodeInputs as inputsOfRow,
  nodeOutputs as outputsOfRow,
  type StoredInput,
  type StoredOutput,
} from "../sqlite/rows.ts";

/** The columns node rows are read with. */
export const NODE_COLUMNS =
  "run_id, id, parent_id, seq, entity, kind, version, bare, status, attempts, started_at, finished_at, args_digest, call, inputs, outputs, error, cached_from, replayed, added";

/** A row as postgres.js returns it. */
// deno-lint-ignore no-explicit-any
export type Row = Record<string, any>;

/** The outputs recorded in a node row. */
export function nodeOutputs(row: Row | undefined): StoredOutput[] {
  return outputsOfRow(row as Parameters<typeof outputsOfRow>[0]);
}

/** The inputs recorded in a node row. */
export function nodeInputs(row: Row | undefined): StoredInput[] {
  return inputsOfRow(row as Parameters<typeof inputsOfRow>[0]);
}

/** A run row as `weft runs` lists it. */
export function summary(row: Row): RunSummary {
  return {
    id: row.id as string,
    entity: row.entity as string,
    kind: row.kind as string,
    status: row.status as RunStatus,
    startedAt: Number(row.started_at),
    finishedAt: row.finished_at === null ? undefined : Number(row.finished_at),
    wakeAt: row.wake_at === null || row.wake_at === undefined ? undefined : Number(row.wake_at),
    attempts: Number(row.attempts),
    script: (row.script as string | null) ?? undefined,
    weftVersion: row.weft_version as string,
  };
}

/** A node row as `weft show` shows it. */
export function details(n: Row): NodeDetails {
  return {
    runId: n.run_id as string,
    id: n.id as string,
    parentId: (n.parent_id as string | null) ?? undefined,
    seq: Number(n.seq),
    entity: n.entity as string,
    kind: n.kind as string,
    version: (n.version as string | null) ?? undefined,
    status: n.status as NodeStatus,
    attempts: Number(n.attempts),
    startedAt: n.started_at === null ? undefined : Number(n.started_at),
    finishedAt: n.finished_at === null ? undefined : Number(n.finished_at),
    error: n.error === null ? undefined : JSON.parse(n.error as string) as WeftErrorJson,
    cachedFrom: (n.cached_from as string | null) ?? undefined,
    replayed: n.replayed === true,
    call: n.call as string,
    inputs: nodeInputs(n).map((i) => ({ name: i.name, hash: i.hash, sources: i.sources ?? [] })),
    outputs: nodeOutputs(n).map((o) => ({ name: o.name, hash: o.hash })),
  };
}
