/**
 * The row layout the SQL stores share (SQLite and PostgreSQL write the same
 * columns): a node's inputs and outputs as JSON lists of hashes (with small
 * bodies inline), and how run, node and log rows read back as records. What
 * differs between the two is only how a boolean comes back (SQLite: 0 or 1,
 * PostgreSQL: true or false), which {@linkcode isTrue} reads either way.
 *
 * @module
 */

import type { WeftErrorJson } from "../core/errors.ts";
import { decodeValue } from "../core/values.ts";
import type { LogEntry, NodeSummary, NodeValue, TaskCounts, UseRow } from "./browse.ts";
import type { JournalEntry } from "./mod.ts";
import { splitErrorRecord } from "./provenance.ts";
import type { InputSource, NodeDetails, NodeStatus, RunStatus, RunSummary } from "./records.ts";

/** A row as a driver returns it (`node:sqlite` or postgres.js). */
export type SqlRow = Readonly<Record<string, unknown>>;

/** Output bodies up to this many characters are kept in the node's row rather than the values table. */
export const INLINE_MAX = 64;

/** An output as the `nodes.outputs` column keeps it. */
export interface StoredOutput {
  name: string;
  hash: string;
  /** The encoded value, when small enough to keep inline. */
  body?: string;
}

/** An input as the `nodes.inputs` column keeps it. */
export interface StoredInput {
  name: string;
  hash: string;
  /** The encoded value, when small enough to keep inline (and not taken from another node). */
  body?: string;
  sources?: readonly InputSource[];
}

/**
 * The outputs recorded in a node row.
 *
 * @param row The row.
 * @returns Each output's name, hash and, when small, body.
 */
export function nodeOutputs(row: SqlRow | undefined): StoredOutput[] {
  if (row === undefined || row.outputs === null || row.outputs === undefined) return [];
  return JSON.parse(row.outputs as string) as StoredOutput[];
}

/**
 * The inputs recorded in a node row.
 *
 * @param row The row.
 * @returns Each input's name, hash, body when small, and sources.
 */
export function nodeInputs(row: SqlRow | undefined): StoredInput[] {
  if (row === undefined || row.inputs === null || row.inputs === undefined) return [];
  return JSON.parse(row.inputs as string) as StoredInput[];
}

/**
 * A boolean column: SQLite returns 0 or 1 (a number or a bigint), PostgreSQL
 * true or false.
 *
 * @param v The column's value.
 * @returns Whether it is set.
 */
export function isTrue(v: unknown): boolean {
  return v === true || Number(v) === 1;
}

/** A nullable text column, with `undefined` for NULL. */
function text(v: unknown): string | undefined {
  return (v as string | null) ?? undefined;
}

/** A nullable number column, with `undefined` for NULL. */
function num(v: unknown): number | undefined {
  return v === null || v === undefined ? undefined : Number(v);
}

/**
 * A run row as `weft runs` lists it.
 *
 * @param row The row.
 * @returns The summary.
 */
export function summary(row: SqlRow): RunSummary {
  return {
    id: row.id as string,
    entity: row.entity as string,
    kind: row.kind as string,
    status: row.status as RunStatus,
    startedAt: Number(row.started_at),
    finishedAt: num(row.finished_at),
    wakeAt: num(row.wake_at),
    attempts: Number(row.attempts),
    script: text(row.script),
    weftVersion: row.weft_version as string,
  };
}

/**
 * The columns a node row's brief and its details share.
 *
 * @param r The row.
 * @returns Those fields.
 */
function brief(r: SqlRow) {
  return {
    id: r.id as string,
    parentId: text(r.parent_id),
    entity: r.entity as string,
    kind: r.kind as string,
    status: r.status as NodeStatus,
    attempts: Number(r.attempts),
    startedAt: num(r.started_at),
    finishedAt: num(r.finished_at),
    cachedFrom: text(r.cached_from),
    replayed: isTrue(r.replayed),
  };
}

/**
 * A node row as `weft show` shows it.
 *
 * @param n The row (all its columns).
 * @returns The node's details.
 */
export function details(n: SqlRow): NodeDetails {
  return {
    ...brief(n),
    runId: n.run_id as string,
    seq: Number(n.seq),
    version: text(n.version),
    error: n.error === null ? undefined : JSON.parse(n.error as string) as WeftErrorJson,
    call: n.call as string,
    inputs: nodeInputs(n).map((i) => ({ name: i.name, hash: i.hash, sources: i.sources ?? [] })),
    outputs: nodeOutputs(n).map((o) => ({ name: o.name, hash: o.hash })),
  };
}

/**
 * A node row in brief, as a drawing of its run needs it.
 *
 * @param r The row: the brief columns, `deps`, `inputs` (when `deps` is
 * NULL) and the error's message as `error_message`.
 * @returns The summary.
 */
export function nodeSummary(r: SqlRow): NodeSummary {
  let deps: string[];
  if (r.deps !== null) deps = JSON.parse(r.deps as string);
  else {
    // Rows written before deps were recorded: their inputs say where they came from.
    deps = [];
    for (const i of nodeInputs(r)) {
      for (const s of i.sources ?? []) if (!deps.includes(s.node)) deps.push(s.node);
    }
  }
  return { ...brief(r), deps, error: text(r.error_message) };
}

/**
 * Counts a row of a run's task nodes grouped by status: a cache hit that
 * succeeded counts as `cached`, apart from `succeeded`.
 *
 * @param counts The run's counts (updated).
 * @param r The row (`status`, `cached` as a boolean, the count `n`).
 */
export function addTaskCount(counts: TaskCounts, r: SqlRow): void {
  const key = isTrue(r.cached) && r.status === "succeeded" ? "cached" : r.status as NodeStatus;
  counts[key] = (counts[key] ?? 0) + Number(r.n);
}

/**
 * A value a node took or made, as the UI shows it.
 *
 * @param name The input's or output's name.
 * @param hash The value's hash.
 * @param text Its encoded body, when the store has it.
 * @returns The value, decoded.
 */
function nodeValue(name: string, hash: string, text: string | undefined): NodeValue {
  return text === undefined
    ? { name, hash, stored: false, value: undefined }
    : { name, hash, stored: true, value: decodeValue(text) };
}

/**
 * The body a producer's row keeps inline for an output (an input taken
 * whole from a node's output keeps its body with the producer).
 *
 * @param producer The producing node's row (its `outputs` at least).
 * @param hash The value's hash.
 * @returns The body, or undefined.
 */
function producerBody(producer: SqlRow | undefined, hash: string): string | undefined {
  return nodeOutputs(producer).find((o) => o.hash === hash)?.body;
}

/**
 * The values a node took and made, as the UI shows them: a body inline in
 * its row, else the values table's, else (for an input taken whole from
 * another node's output) the one inline in the producer's row.
 *
 * @param row The node's row (its `inputs` and `outputs`).
 * @param body A body in the values table by hash.
 * @param node Another node of the same run by id (its `outputs` at least).
 * @returns Its inputs and outputs.
 */
export function nodeValuesOf(
  row: SqlRow,
  body: (hash: string) => string | undefined,
  node: (id: string) => SqlRow | undefined,
): { inputs: NodeValue[]; outputs: NodeValue[] } {
  const value = (v: StoredInput): NodeValue => {
    let text = v.body ?? body(v.hash);
    for (const src of text === undefined ? v.sources ?? [] : []) {
      text = producerBody(node(src.node), v.hash);
      if (text !== undefined) break;
    }
    return nodeValue(v.name, v.hash, text);
  };
  return { inputs: nodeInputs(row).map(value), outputs: nodeOutputs(row).map(value) };
}

/**
 * What {@linkcode nodeValuesOf} may look up for a node, so that a store
 * can read it all at once first.
 *
 * @param row The node's row.
 * @returns The hashes of values not inline in it, and the nodes the inputs
 * among them were taken from.
 */
export function valueLookups(row: SqlRow): { hashes: string[]; producers: string[] } {
  const hashes = new Set<string>();
  const producers = new Set<string>();
  for (const v of [...nodeInputs(row), ...nodeOutputs(row)] as StoredInput[]) {
    if (v.body !== undefined) continue;
    hashes.add(v.hash);
    for (const src of v.sources ?? []) producers.add(src.node);
  }
  return { hashes: [...hashes], producers: [...producers] };
}

/**
 * A log row as a {@linkcode LogEntry}.
 *
 * @param r The row.
 * @returns The entry.
 */
export function logEntry(r: SqlRow): LogEntry {
  return {
    nodeId: r.node_id as string,
    attempt: Number(r.attempt),
    time: Number(r.time),
    kind: r.kind === "retry" ? "retry" : "log",
    message: r.message as string,
    ...(r.error === null ? {} : { error: JSON.parse(r.error as string) }),
  };
}

/**
 * A node row as where a value was made and used reads it.
 *
 * @param n The row (`run_id, id, status, replayed, inputs, outputs`).
 * @returns The row for `valueUsesOf`.
 */
export function useRow(n: SqlRow): UseRow {
  return {
    runId: n.run_id as string,
    nodeId: n.id as string,
    made: n.status === "succeeded" && !isTrue(n.replayed),
    outputs: nodeOutputs(n),
    inputs: nodeInputs(n),
  };
}

/**
 * Adds a node row to the journal of a resumed run, under its position
 * (`parentId#seq`).
 *
 * @param journal The journal.
 * @param n The row.
 * @param value The value of a succeeded node, from its outputs (called only then).
 */
export function addJournalEntry(
  journal: Map<string, JournalEntry>,
  n: SqlRow,
  value: (bare: boolean, outputs: StoredOutput[]) => unknown,
): void {
  const status = n.status as NodeStatus;
  const entry: JournalEntry = {
    nodeId: n.id as string,
    entity: n.entity as string,
    argsDigest: n.args_digest as string,
    call: n.call as string,
    status,
    attempt: Number(n.attempts),
    startedAt: num(n.started_at),
    finishedAt: num(n.finished_at),
    cachedFrom: text(n.cached_from),
    ...(status === "succeeded"
      ? { value: value(isTrue(n.bare), nodeOutputs(n)) }
      : status === "failed" && n.error !== null
      ? splitErrorRecord(JSON.parse(n.error as string))
      : {}),
  };
  journal.set(`${(n.parent_id as string | null) ?? ""}#${n.seq}`, entry);
}
