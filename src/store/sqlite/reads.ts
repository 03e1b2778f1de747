/**
 * Reading what the SQLite store recorded: values by hash (from the values
 * table, or inline in a node's or a run's row), a run's journal, and a
 * node's details.
 *
 * @module
 */

import type { StatementSync } from "node:sqlite";
import { ValidationError, type WeftErrorJson } from "../../core/errors.ts";
import { decodeValue } from "../../core/values.ts";
import type { JournalEntry, NodeDetails, NodeStatus } from "../mod.ts";
import { wholeValue } from "../provenance.ts";
import { nodeInputs, nodeOutputs, type Row, type StoredOutput } from "./rows.ts";

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
    for (const n of this.#s.runNodes!.all(runId) as Row[]) {
      const status = n.status as NodeStatus;
      const entry: JournalEntry = {
        nodeId: n.id as string,
        entity: n.entity as string,
        argsDigest: n.args_digest as string,
        call: n.call as string,
        status,
        attempt: Number(n.attempts),
        startedAt: n.started_at === null ? undefined : Number(n.started_at),
        finishedAt: n.finished_at === null ? undefined : Number(n.finished_at),
        cachedFrom: (n.cached_from as string | null) ?? undefined,
        ...(status === "succeeded"
          ? {
            value: wholeValue(
              Number(n.bare) === 1,
              nodeOutputs(n).map((o) => ({ name: o.name, value: this.#outputValue(o) })),
            ),
          }
          : {}),
      };
      journal.set(`${(n.parent_id as string | null) ?? ""}#${n.seq}`, entry);
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

  /** A node row as the queries return it. */
  details(n: Row): NodeDetails {
    const runId = n.run_id as string;
    const id = n.id as string;
    const inputs = nodeInputs(n).map((i) => ({
      name: i.name,
      hash: i.hash,
      sources: i.sources ?? [],
    }));
    const outputs = nodeOutputs(n).map((o) => ({ name: o.name, hash: o.hash }));
    return {
      runId,
      id,
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
      replayed: Number(n.replayed) === 1,
      call: n.call as string,
      inputs,
      outputs,
    };
  }
}
