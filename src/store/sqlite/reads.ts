/**
 * Reading what the SQLite store recorded: values by hash (from the values
 * table, or inline in a node's or a run's row), and a run's journal.
 *
 * @module
 */

import type { StatementSync } from "node:sqlite";
import { ValidationError } from "../../core/errors.ts";
import { decodeValue } from "../../core/values.ts";
import type { JournalEntry } from "../mod.ts";
import { wholeValue } from "../provenance.ts";
import { addJournalEntry, nodeInputs, nodeOutputs, type StoredOutput } from "../rows.ts";
import type { Row } from "./rows.ts";

/** Reads of one store file, over its prepared statements. */
export class SqliteReads {
  readonly #s: Record<string, StatementSync>;

  /**
   * @param statements The store's prepared statements.
   */
  constructor(statements: Record<string, StatementSync>) {
    this.#s = statements;
  }

  /** A stored value by its full hash. */
  value(hash: string): unknown {
    const body = this.body(hash);
    if (body === undefined) throw new ValidationError(`The store has no value ${hash}`);
    return decodeValue(body);
  }

  /** A run's journal: its recorded calls by position (`parentId#seq`). */
  journal(runId: string): Map<string, JournalEntry> {
    const journal = new Map<string, JournalEntry>();
    const value = (bare: boolean, outputs: StoredOutput[]): unknown =>
      wholeValue(bare, outputs.map((o) => ({ name: o.name, value: this.#outputValue(o) })));
    for (const n of this.#s.runNodes!.all(runId) as Row[]) {
      addJournalEntry(journal, n, value);
    }
    return journal;
  }

  #outputValue(o: StoredOutput): unknown {
    return o.body !== undefined ? decodeValue(o.body) : this.value(o.hash);
  }

  /** A value's body by hash: from the values table, or inline in a node's or a run's row. */
  body(hash: string): string | undefined {
    const row = this.#s.getValue!.get(hash) as Row | undefined;
    if (row !== undefined) return row.body as string;
    for (const n of this.#s.nodesWithText!.all(hash) as Row[]) {
      const found = [...nodeOutputs(n), ...nodeInputs(n)].find((o) =>
        o.hash === hash && o.body !== undefined
      );
      if (found?.body !== undefined) return found.body;
    }
    // Small run inputs and outputs are kept in the run's row.
    const run = this.#s.runBody!.get(hash) as Row | undefined;
    return run === undefined ? undefined : run.body as string;
  }

  /** A run's inputs or outputs: in its row when small, else in the values table. */
  runValue(body: unknown, hash: unknown): unknown {
    if (typeof body === "string") return decodeValue(body);
    return hash === null ? undefined : this.value(hash as string);
  }
}
