/**
 * How the SQLite store lays values out in rows: a node's inputs and outputs
 * as JSON lists of hashes (with small bodies inline), run summaries, and
 * SQLite's errors turned into ones that say what to do.
 *
 * @module
 */

import { ValidationError } from "../../core/errors.ts";
import type { InputSource, RunStatus, RunSummary } from "../mod.ts";

/** A row as `node:sqlite` returns it. */
export type Row = Record<string, string | number | bigint | null | Uint8Array>;

/** Output bodies up to this many characters are kept in the node's row rather than the values table. */
export const INLINE_MAX = 64;

/** An output as the `nodes.outputs` column keeps it. */
export interface StoredOutput {
  name: string;
  hash: string;
  /** The encoded value, when small enough to keep inline. */
  body?: string;
}

/**
 * The outputs recorded in a node row.
 *
 * @param row The row.
 * @returns Each output's name, hash and, when small, body.
 */
export function nodeOutputs(row: Row | undefined): StoredOutput[] {
  if (row === undefined || row.outputs === null || row.outputs === undefined) return [];
  return JSON.parse(row.outputs as string) as StoredOutput[];
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
 * The inputs recorded in a node row.
 *
 * @param row The row.
 * @returns Each input's name, hash, body when small, and sources.
 */
export function nodeInputs(row: Row | undefined): StoredInput[] {
  if (row === undefined || row.inputs === null || row.inputs === undefined) return [];
  return JSON.parse(row.inputs as string) as StoredInput[];
}

/**
 * A run row as `weft runs` lists it.
 *
 * @param row The row.
 * @returns The summary.
 */
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

/**
 * Turns SQLite's errors into ones that say what to do.
 *
 * @param path The store file.
 * @param e The error.
 * @returns A `ValidationError` for what a user can fix, else the error.
 */
export function storeError(path: string, e: unknown): Error {
  if (e instanceof ValidationError) return e;
  const message = (e as Error)?.message ?? String(e);
  if (/malformed|corrupt/i.test(message)) {
    return new ValidationError(
      `The store ${path} is damaged (SQLite: ${message}); weft has not changed it. Keep a copy, then recover what is readable with sqlite3 ${path} .recover, or move it away and start a new store (--store)`,
    );
  }
  if (/file is not a database/i.test(message)) {
    return new ValidationError(
      `${path} is not a weft store (SQLite: ${message}); point --store at another file, or move this one away`,
    );
  }
  if (/database is locked|SQLITE_BUSY/i.test(message)) {
    return new ValidationError(
      `The store ${path} is locked by another process that holds it too long; wait for it to finish or use another store`,
    );
  }
  if (/readonly database|read-only file system|os error 30/i.test(message)) {
    return new ValidationError(
      `The store ${path} cannot be written here (${message}); pass --store sqlite:PATH in a writable place, or set WEFT_STORE`,
    );
  }
  if (/unable to open|Requires (read|write) access/i.test(message)) {
    return new ValidationError(`Cannot open the store ${path}: ${message}`);
  }
  return e instanceof Error ? e : new Error(message);
}
