/**
 * What the web UI asks of a PostgreSQL store (as `../sqlite/browse.ts` does
 * of SQLite): runs a page at a time, a run's nodes in brief and what changed
 * in them, task counts, a node's values, logs, where a value was used, and a
 * change count that grows with every commit of any process on any machine
 * (each commit notifies `weft_changes`; this store listens once asked).
 *
 * @module
 */

import type {
  LogEntry,
  NodeChanges,
  NodeDetails,
  NodeValue,
  RunFilter,
  RunSummary,
  TaskCounts,
  ValueUses,
} from "../mod.ts";
import { valueUsesOf } from "../browse.ts";
import type { PgClient } from "./connect.ts";
import {
  addTaskCount,
  details,
  logEntry,
  nodeSummary,
  nodeValuesOf,
  summary,
  useRow,
  valueLookups,
} from "../rows.ts";
import type { Row } from "./rows.ts";

/** The browsing half of the PostgreSQL store (a base class, as ownership is). */
export abstract class PgBrowsing {
  /** @internal The client pool. */
  abstract readonly sql: PgClient;
  /** The quoted schema name. */
  abstract readonly schema: string;
  /** @internal The group writer (its commit count counts this process's changes). */
  abstract readonly writer: { readonly changes: number };
  /**
   * Runs something when the store closes.
   *
   * @param fn What to run.
   */
  abstract onClose(fn: () => Promise<void> | void): void;
  /**
   * @internal The bodies of values by hash, from the values table.
   *
   * @param hashes The hashes.
   * @returns The bodies found.
   */
  abstract bodies(hashes: string[]): Promise<Map<string, string>>;
  #heard = 0;
  #listening: Promise<{ unlisten(): Promise<void> }> | undefined;

  get #sql(): PgClient {
    return this.sql;
  }

  get #s(): string {
    return this.schema;
  }

  #summary(row: Row): RunSummary {
    return summary(row);
  }

  /**
   * Where a resumed run's change counter and log go on from.
   *
   * @param runId The run.
   * @returns Its highest node rev and log line number.
   */
  async resumeCounters(runId: string): Promise<{ rev: number; logSeq: number }> {
    const [r] = await this.sql.unsafe(
      `SELECT (SELECT COALESCE(MAX(rev), 0) FROM ${this.schema}.nodes WHERE run_id = $1) AS rev,
         (SELECT COALESCE(MAX(seq), -1) FROM ${this.schema}.logs WHERE run_id = $1) AS seq`,
      [runId],
    );
    return { rev: Number(r!.rev), logSeq: Number(r!.seq) };
  }

  /** Runs, newest first, by the indexes on (status | entity, started_at, id). */
  async listRuns(filter: RunFilter = {}): Promise<RunSummary[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => {
      args.push(v);
      return `$${args.length}`;
    };
    if (filter.status !== undefined) where.push(`status = ${arg(filter.status)}`);
    if (filter.entity !== undefined) where.push(`entity = ${arg(filter.entity)}`);
    if (filter.search !== undefined && filter.search !== "") {
      where.push(`strpos(id, ${arg(filter.search)}) > 0`);
    }
    if (filter.before !== undefined) {
      where.push(
        `(started_at, id) < (${arg(filter.before.startedAt)}::bigint, ${arg(filter.before.id)})`,
      );
    }
    const rows = await this.#sql.unsafe(
      `SELECT * FROM ${this.#s}.runs${where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`}
       ORDER BY started_at DESC, id DESC LIMIT ${arg(filter.limit ?? 50)}`,
      args as never[],
    );
    return rows.map((r) => this.#summary(r as Row));
  }

  /** The entities that have runs. */
  async runEntities(): Promise<string[]> {
    const rows = await this.#sql.unsafe(`SELECT DISTINCT entity FROM ${this.#s}.runs ORDER BY 1`);
    return rows.map((r) => r.entity as string);
  }

  /** Task nodes by status, per run. */
  async taskCounts(runIds: readonly string[]): Promise<Map<string, TaskCounts>> {
    const out = new Map<string, TaskCounts>();
    if (runIds.length === 0) return out;
    const ids = [...runIds];
    const known = await this.#sql.unsafe(
      `SELECT id FROM ${this.#s}.runs WHERE id IN (SELECT json_array_elements_text($1::json))`,
      [ids],
    );
    for (const r of known) out.set(r.id as string, {});
    const rows = await this.#sql.unsafe(
      `SELECT run_id, status, cached_from IS NOT NULL AS cached, count(*) AS n FROM ${this.#s}.nodes
        WHERE run_id IN (SELECT json_array_elements_text($1::json)) AND kind = 'task'
        GROUP BY 1, 2, 3`,
      [ids],
    );
    for (const r of rows) {
      const counts = out.get(r.run_id as string);
      if (counts !== undefined) addTaskCount(counts, r as Row);
    }
    return out;
  }

  /** A run's nodes in brief, all or those changed since a cursor (`rev:attempts`). */
  async runNodes(runId: string, since?: string): Promise<NodeChanges | undefined> {
    const run = (await this.#sql.unsafe(`SELECT * FROM ${this.#s}.runs WHERE id = $1`, [runId]))[0];
    if (run === undefined) return undefined;
    const summary = this.#summary(run as Row);
    const [rev, attempts] = (since ?? "-1:0").split(":").map(Number);
    // A resumed run rewrites nodes that had ended: read them all again.
    const from = attempts === summary.attempts ? rev! : -1;
    const rows = await this.#sql.unsafe(
      `SELECT id, parent_id, entity, kind, status, attempts, started_at, finished_at, cached_from,
          replayed, deps, CASE WHEN deps IS NULL THEN inputs END AS inputs,
          (error::json)->>'message' AS error_message, rev
        FROM ${this.#s}.nodes WHERE run_id = $1 AND rev > $2 ORDER BY added`,
      [runId, from],
    );
    let max = Math.max(rev!, -1);
    const nodes = rows.map((r) => {
      max = Math.max(max, Number(r.rev));
      return nodeSummary(r as Row);
    });
    return { run: summary, nodes, cursor: `${max}:${summary.attempts}` };
  }

  /**
   * One node of a run.
   *
   * @param runId The run.
   * @param nodeId The node.
   * @returns It, or undefined.
   */
  async getNode(runId: string, nodeId: string): Promise<NodeDetails | undefined> {
    const row = await this.#node(runId, nodeId);
    return row === undefined ? undefined : details(row);
  }

  async #node(runId: string, nodeId: string): Promise<Row | undefined> {
    return (await this.#sql.unsafe(
      `SELECT * FROM ${this.#s}.nodes WHERE run_id = $1 AND id = $2`,
      [runId, nodeId],
    ))[0] as Row | undefined;
  }

  /**
   * The values a node took and made: small ones inline in its row, others
   * from the values table or, for an input taken whole from another node,
   * from that node's row.
   *
   * @param runId The run.
   * @param nodeId The node.
   * @returns Its inputs and outputs, or undefined.
   */
  async nodeValues(
    runId: string,
    nodeId: string,
  ): Promise<{ inputs: NodeValue[]; outputs: NodeValue[] } | undefined> {
    const row = await this.#node(runId, nodeId);
    if (row === undefined) return undefined;
    const wanted = valueLookups(row);
    const [bodies, producers] = await Promise.all([
      this.bodies(wanted.hashes),
      wanted.producers.length === 0 ? [] : this.#sql.unsafe(
        `SELECT id, outputs FROM ${this.#s}.nodes
          WHERE run_id = $1 AND id IN (SELECT json_array_elements_text($2::json))`,
        [runId, wanted.producers],
      ),
    ]);
    const byId = new Map(producers.map((r) => [r.id as string, r as Row]));
    return nodeValuesOf(row, (hash) => bodies.get(hash), (id) => byId.get(id));
  }

  /** A run's log lines and retried attempts, in order. */
  async logs(runId: string, nodeId?: string): Promise<LogEntry[]> {
    const rows = nodeId === undefined
      ? await this.#sql.unsafe(`SELECT * FROM ${this.#s}.logs WHERE run_id = $1 ORDER BY seq`, [
        runId,
      ])
      : await this.#sql.unsafe(
        `SELECT * FROM ${this.#s}.logs WHERE run_id = $1 AND node_id = $2 ORDER BY seq`,
        [runId, nodeId],
      );
    return rows.map(logEntry);
  }

  /** Where a value was made and used, newest first. */
  async valueUses(hash: string, limit = 200): Promise<ValueUses> {
    const rows = await this.#sql.unsafe(
      `SELECT run_id, id, status, replayed, inputs, outputs FROM ${this.#s}.nodes
        WHERE strpos(outputs, $1) > 0 OR strpos(inputs, $1) > 0 ORDER BY started_at DESC LIMIT 200`,
      [hash],
    );
    return valueUsesOf(rows.map(useRow), hash, limit);
  }

  /**
   * A number that grows with every commit: this process's, and those of any
   * process on any machine, notified on `weft_changes` (the first call
   * starts listening; the store stops when it closes).
   *
   * @returns The count.
   */
  changeCount(): number {
    if (this.#listening === undefined) {
      const listening = this.#sql.listen("weft_changes", (payload: string) => {
        if (payload === this.#s) this.#heard++;
      }) as unknown as Promise<{ unlisten(): Promise<void> }>;
      this.#listening = listening;
      listening.catch(() => {
        if (this.#listening === listening) this.#listening = undefined;
      });
      this.onClose(async () => {
        this.#listening = undefined;
        await (await listening.catch(() => undefined))?.unlisten();
      });
    }
    return this.#heard + this.writer.changes;
  }
}
