/**
 * How the SQLite store commits: a batch is the list of statements the
 * members of one group commit collected, run in one transaction — or alone,
 * when there is only one, since a statement commits on its own for less.
 * Statements run in the order they were collected, so a value's row is
 * always written before (or with) the row that refers to it.
 *
 * @module
 */

import type { StatementResultingChanges, StatementSync } from "node:sqlite";
import type { CommitMember, CommitWriter } from "../group_commit.ts";
import type { ClaimResult, RunClaim, RunStart } from "../mod.ts";
import { claimWith } from "./owners.ts";
import { INLINE_MAX } from "../rows.ts";
import { type Row, storeError } from "./rows.ts";

/** The placeholders of a step of code in a batch's statement lists. */
const NO_STATEMENT = null as unknown as StatementSync;
const NO_ARGS: SqlValue[] = [];

/** The SQL values a statement takes. */
export type SqlValue = string | number | bigint | null;

/** One group commit's statements, in order. */
export class SqliteBatch {
  /** The statements. */
  readonly statements: StatementSync[] = [];
  /** Their arguments, one list per statement. */
  readonly args: SqlValue[][] = [];
  /** For statements whose result someone reads: what to call with what running it changed. */
  returns: Map<number, (result: StatementResultingChanges) => void> | undefined = undefined;
  /** Steps that are code rather than one statement (a claim reads, decides, then writes). */
  calls: Map<number, () => void> | undefined = undefined;

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
    if (this.returns !== undefined) {
      for (const i of this.returns.keys()) if (i >= size) this.returns.delete(i);
      if (this.returns.size === 0) this.returns = undefined;
    }
    if (this.calls !== undefined) {
      for (const i of this.calls.keys()) if (i >= size) this.calls.delete(i);
      if (this.calls.size === 0) this.calls = undefined;
    }
  }

  /**
   * Adds a step that runs code in the transaction. It must only run
   * statements: an error fails the whole commit.
   *
   * @param fn The code.
   */
  call(fn: () => void): void {
    (this.calls ??= new Map()).set(this.statements.length, fn);
    this.statements.push(NO_STATEMENT);
    this.args.push(NO_ARGS);
  }

  /**
   * Adds a statement.
   *
   * @param statement The prepared statement.
   * @param args Its arguments.
   * @param returned Called with what the statement changed (rows, last rowid), once run.
   */
  add(
    statement: StatementSync,
    args: SqlValue[],
    returned?: (result: StatementResultingChanges) => void,
  ): void {
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
    // (One statement commits on its own for less; a step of code may run several.)
    if (n === 1 && batch.calls === undefined) {
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
  const call = batch.calls?.get(i);
  if (call !== undefined) return call();
  const result = batch.statements[i]!.run(...batch.args[i]!);
  batch.returns?.get(i)?.(result);
}

/** What a run start needs of the store. */
export interface StartStore {
  /** Encodes and hashes a value for the values table. */
  valueRow(value: unknown): { hash: string; body: string };
  /** The prepared statements. */
  readonly statements: Record<string, StatementSync>;
}

/**
 * Whether a recorded run is resumed by a start: not succeeded, and of the
 * same entity and inputs (a succeeded run is returned as recorded, another
 * entity or other inputs are refused).
 *
 * @param row The run's row.
 * @param start The start.
 * @returns Whether to mark it running again.
 */
export function resumable(row: Row, start: RunStart): boolean {
  return row.status !== "succeeded" && row.entity === start.entity &&
    row.inputs_digest === start.inputsDigest;
}

/** The number of the run an insert wrote (its rowid), or undefined when another start of the id was there first. */
function inserted(result: StatementResultingChanges): number | undefined {
  return Number(result.changes) === 0 ? undefined : Number(result.lastInsertRowid);
}

/** A run's inputs as its row keeps them. */
interface RunInputs {
  readonly hash: string;
  /** The body, when small enough for the run's row. */
  readonly inline: string | null;
  /** The body, when it goes to the values table. */
  readonly stored: string | undefined;
}

/**
 * A run's start as a member of a group commit: its row (a new run), or its
 * row marked running again (a resumed one) — with a claim, only once the
 * claim is granted, in the same transaction.
 */
export class RunStartMember implements CommitMember<SqliteBatch> {
  readonly #store: StartStore;
  readonly #start: RunStart;
  readonly #claim: RunClaim | undefined;
  readonly #resume: boolean;
  /** The run's number, once a new row is written (undefined: another start of the same id won). */
  key: number | undefined = undefined;
  /** With a claim: what it got, once committed. */
  claim: ClaimResult | undefined = undefined;
  /** With a claim: the run's row as the claim found it (undefined for a new run). */
  row: Row | undefined = undefined;

  /**
   * @param store The store.
   * @param start The run.
   * @param claim Claim it first (then whether its row exists is found in the transaction).
   * @param resume Without a claim: its row exists, mark it running again.
   */
  constructor(store: StartStore, start: RunStart, claim: RunClaim | undefined, resume = false) {
    this.#store = store;
    this.#start = start;
    this.#claim = claim;
    this.#resume = resume;
  }

  collect(batch: SqliteBatch): void {
    const start = this.#start;
    const s = this.#store.statements;
    const claim = this.#claim;
    if (claim === undefined) {
      if (this.#resume) batch.add(s.resumeRun!, [start.weftVersion, start.runId]);
      else this.#insert(batch, this.#inputs());
      return;
    }
    const inputs = this.#inputs();
    // In the transaction: the claim, then the run's row as the claim finds it.
    batch.call(() => {
      this.claim = claimWith(s, claim, Date.now());
      if (!this.claim.claimed) return;
      // A new run's row is written at once, without a read first (its insert does nothing
      // when the id is there already, which is then read).
      this.key = inserted(s.insertRun!.run(...this.#runRow(inputs)));
      if (this.key !== undefined) {
        if (inputs.stored !== undefined) {
          s.putValue!.run(inputs.hash, inputs.stored, inputs.stored.length);
        }
        return;
      }
      const row = this.row = s.getRun!.get(start.runId) as Row;
      if (resumable(row, start)) s.resumeRun!.run(start.weftVersion, start.runId);
    });
  }

  /** The inputs' hash and body: small ones stay in the run's row, larger ones go to the values table, once. */
  #inputs(): RunInputs {
    const v = this.#store.valueRow(this.#start.inputs);
    return v.body.length <= INLINE_MAX
      ? { hash: v.hash, inline: v.body, stored: undefined }
      : { hash: v.hash, inline: null, stored: v.body };
  }

  #insert(batch: SqliteBatch, inputs: RunInputs): void {
    const s = this.#store.statements;
    if (inputs.stored !== undefined) {
      batch.add(s.putValue!, [inputs.hash, inputs.stored, inputs.stored.length]);
    }
    batch.add(s.insertRun!, this.#runRow(inputs), (result) => {
      this.key = inserted(result);
    });
  }

  #runRow(inputs: RunInputs): SqlValue[] {
    const start = this.#start;
    return [
      start.runId,
      start.entity,
      start.kind,
      "running",
      inputs.hash,
      inputs.inline,
      start.inputsDigest,
      start.startedAt,
      start.script ?? null,
      start.weftVersion,
    ];
  }
}
