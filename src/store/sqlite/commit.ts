/**
 * How the SQLite store commits: a batch is the list of statements the
 * members of one group commit collected, run in one transaction — or alone,
 * when there is only one, since a statement commits on its own for less.
 * Statements run in the order they were collected, so a value's row is
 * always written before (or with) the row that refers to it.
 *
 * @module
 */

import type { StatementSync } from "node:sqlite";
import type { CommitMember, CommitWriter } from "../group_commit.ts";
import type { RunStart } from "../mod.ts";
import { type Row, storeError } from "./rows.ts";

/** The SQL values a statement takes. */
export type SqlValue = string | number | bigint | null;

/** One group commit's statements, in order. */
export class SqliteBatch {
  /** The statements. */
  readonly statements: StatementSync[] = [];
  /** Their arguments, one list per statement. */
  readonly args: SqlValue[][] = [];
  /** For statements whose result someone reads: what to call with the returned row. */
  returns: Map<number, (row: Row | undefined) => void> | undefined = undefined;

  /** How many statements it holds. */
  get size(): number {
    return this.statements.length;
  }

  /**
   * Drops the statements added after the first `size` (a member that could not collect).
   *
   * @param size How many to keep.
   */
  truncate(size: number): void {
    this.statements.length = size;
    this.args.length = size;
    if (this.returns === undefined) return;
    for (const i of this.returns.keys()) if (i >= size) this.returns.delete(i);
    if (this.returns.size === 0) this.returns = undefined;
  }

  /**
   * Adds a statement.
   *
   * @param statement The prepared statement.
   * @param args Its arguments.
   * @param returned Called with the row the statement returns, once run.
   */
  add(statement: StatementSync, args: SqlValue[], returned?: (row: Row | undefined) => void): void {
    if (returned !== undefined) (this.returns ??= new Map()).set(this.statements.length, returned);
    this.statements.push(statement);
    this.args.push(args);
  }
}

/** What the writer needs of the store. */
export interface CommitStatements {
  readonly begin: StatementSync;
  readonly commit: StatementSync;
  readonly rollback: StatementSync;
}

/**
 * The SQLite store's writer: runs a batch's statements in one transaction.
 *
 * @param path The store file, for messages.
 * @param s The transaction statements.
 * @param check Throws when the store is closed.
 * @returns The writer.
 */
export function sqliteWriter(
  path: string,
  s: CommitStatements,
  check: () => void,
): CommitWriter<SqliteBatch> {
  // One batch serves every commit: a synchronous writer is done with it before the next opens.
  let spare: SqliteBatch | undefined = new SqliteBatch();
  return {
    open() {
      const batch = spare ?? new SqliteBatch();
      spare = undefined;
      return batch;
    },
    write(batch) {
      try {
        writeBatch(batch);
      } finally {
        batch.truncate(0);
        spare = batch;
      }
    },
  };

  function writeBatch(batch: SqliteBatch): void {
    check();
    const n = batch.statements.length;
    if (n === 0) return;
    if (n === 1) {
      try {
        runOne(batch, 0);
      } catch (e) {
        throw storeError(path, e);
      }
      return;
    }
    try {
      s.begin.run();
    } catch (e) {
      throw storeError(path, e);
    }
    try {
      for (let i = 0; i < n; i++) runOne(batch, i);
      s.commit.run();
    } catch (e) {
      try {
        s.rollback.run();
      } catch {
        // the transaction is already gone
      }
      throw storeError(path, e);
    }
  }
}

function runOne(batch: SqliteBatch, i: number): void {
  const returned = batch.returns?.get(i);
  if (returned === undefined) batch.statements[i]!.run(...batch.args[i]!);
  else returned(batch.statements[i]!.get(...batch.args[i]!) as Row | undefined);
}

/** What a run start needs of the store. */
export interface StartStore {
  /** Encodes and hashes a value for the values table. */
  valueRow(value: unknown): { hash: string; body: string };
  /** The prepared statements. */
  readonly statements: Record<string, StatementSync>;
}

/**
 * A run's start as a member of a group commit: its inputs and its row (a new
 * run), or its row marked running again (a resumed one).
 */
export class RunStartMember implements CommitMember<SqliteBatch> {
  readonly #store: StartStore;
  readonly #start: RunStart;
  readonly #resume: boolean;
  /** The run's number, once its row is written (undefined: another start of the same id won). */
  key: number | undefined = undefined;

  /**
   * @param store The store.
   * @param start The run.
   * @param resume Whether its row exists (then it is marked running again).
   */
  constructor(store: StartStore, start: RunStart, resume: boolean) {
    this.#store = store;
    this.#start = start;
    this.#resume = resume;
  }

  collect(batch: SqliteBatch): void {
    const start = this.#start;
    const s = this.#store.statements;
    if (this.#resume) {
      batch.add(s.resumeRun!, [start.weftVersion, start.runId]);
      return;
    }
    const inputs = this.#store.valueRow(start.inputs);
    batch.add(s.putValue!, [inputs.hash, inputs.body, inputs.body.length]);
    batch.add(
      s.insertRun!,
      [
        start.runId,
        start.entity,
        start.kind,
        "running",
        inputs.hash,
        start.inputsDigest,
        start.startedAt,
        start.script ?? null,
        start.weftVersion,
      ],
      (row) => {
        this.key = row === undefined ? undefined : Number(row.key);
      },
    );
  }
}
