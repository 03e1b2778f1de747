/**
 * What the web UI asks of a SQLite store: runs a page at a time (by run
 * number, the rowid, so that the 90,000th run costs what the first does), a
 * run's nodes in brief and what changed in them since the last read, task
 * counts, a node's values, logs, where a value was used, and a number that
 * grows with every commit.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import type {
  LogEntry,
  NodeChanges,
  NodeDetails,
  NodeSummary,
  NodeValue,
  RunFilter,
  RunSummary,
  TaskCounts,
  ValueUses,
} from "../mod.ts";
import { valueUsesOf } from "../browse.ts";
import {
  addTaskCount,
  details,
  logEntry,
  nodeSummary,
  nodeValuesOf,
  summary,
  useRow,
} from "../rows.ts";
import type { Row } from "./rows.ts";
import type { SqliteReads } from "./reads.ts";
import { SqliteTimeMethods } from "./time.ts";

/** Where a read of a run's nodes left off. */
interface Cursor {
  /** The highest change counter seen. */
  rev: number;
  /** The first node (by order added) that was not final: earlier ones do not change. */
  from: number;
  /** The run's attempts: a resumed run may change any node. */
  attempts: number;
}

/** The UI's queries on one SQLite file. */
export class SqliteBrowse {
  readonly #db: DatabaseSync;
  readonly #s: Record<string, StatementSync>;
  readonly #reads: SqliteReads;
  readonly #listings = new Map<string, StatementSync>();
  /** Runs a read once the store is known to be open, its faults named as the store's. */
  readonly read: <T>(fn: () => T) => Promise<T>;

  /**
   * Answers for one store.
   *
   * @param db The open file.
   * @param statements The store's prepared statements.
   * @param reads The store's reads of values and node rows.
   * @param read How the store runs a read.
   */
  constructor(
    db: DatabaseSync,
    statements: Record<string, StatementSync>,
    reads: SqliteReads,
    read: <T>(fn: () => T) => Promise<T>,
  ) {
    this.#db = db;
    this.#s = statements;
    this.#reads = reads;
    this.read = read;
  }

  /**
   * Runs, newest first, by run number (the rowid: a page after a run starts
   * at that run, whatever the page's depth); one statement per combination of
   * filters. Filters read runs newest first until the page is full.
   */
  listRuns(filter: RunFilter): RunSummary[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.status !== undefined) {
      where.push("status = ?");
      args.push(filter.status);
    }
    if (filter.entity !== undefined) {
      where.push("entity = ?");
      args.push(filter.entity);
    }
    if (filter.search !== undefined && filter.search !== "") {
      where.push("instr(id, ?) > 0");
      args.push(filter.search);
    }
    if (filter.before !== undefined) {
      // Runs are listed by number (their rowid), newest first, as `weft runs` lists them.
      where.push("key < (SELECT key FROM runs WHERE id = ?)");
      args.push(filter.before.id);
    }
    const sql = `SELECT * FROM runs${
      where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`
    } ORDER BY key DESC LIMIT ?`;
    let statement = this.#listings.get(sql);
    if (statement === undefined) this.#listings.set(sql, statement = this.#db.prepare(sql));
    return (statement.all(...args, filter.limit ?? 50) as Row[]).map(summary);
  }

  /** The entities that have runs. */
  runEntities(): string[] {
    return (this.#s.runEntities!.all() as Row[]).map((r) => r.entity as string);
  }

  /** Task nodes by status, per run. */
  taskCounts(runIds: readonly string[]): Map<string, TaskCounts> {
    const out = new Map<string, TaskCounts>();
    for (const id of runIds) {
      if (this.#s.getRun!.get(id) === undefined) continue;
      const counts: TaskCounts = {};
      for (const r of this.#s.taskCounts!.all(id) as Row[]) addTaskCount(counts, r);
      out.set(id, counts);
    }
    return out;
  }

  /** A run's nodes in brief, all or those changed since a cursor. */
  runNodes(runId: string, since: string | undefined): NodeChanges | undefined {
    const row = this.#s.getRun!.get(runId) as Row | undefined;
    if (row === undefined) return undefined;
    const run = summary(row);
    let cursor: Cursor = { rev: -1, from: 0, attempts: run.attempts };
    if (since !== undefined) {
      const [rev, from, attempts] = since.split(":").map(Number);
      // A resumed run rewrites nodes that had ended: read them all again.
      cursor = attempts === run.attempts
        ? { rev: rev!, from: from!, attempts: attempts! }
        : { rev: rev!, from: 0, attempts: run.attempts };
    }
    const nodes: NodeSummary[] = [];
    let rev = cursor.rev;
    let last = cursor.from - 1;
    for (const r of this.#s.nodeSummaries!.all(runId, cursor.from, cursor.rev) as Row[]) {
      rev = Math.max(rev, Number(r.rev));
      last = Math.max(last, Number(r.added));
      nodes.push(nodeSummary(r));
    }
    const open = this.#s.firstOpen!.get(runId, cursor.from) as Row;
    const from = open.added === null ? Math.max(cursor.from, last + 1) : Number(open.added);
    return { run, nodes, cursor: `${rev}:${from}:${run.attempts}` };
  }

  /** One node of a run. */
  getNode(runId: string, nodeId: string): NodeDetails | undefined {
    const row = this.#s.getNode!.get(runId, nodeId) as Row | undefined;
    return row === undefined ? undefined : details(row);
  }

  /** The values a node took and made: small ones inline, others from the values table or their producer. */
  nodeValues(
    runId: string,
    nodeId: string,
  ): { inputs: NodeValue[]; outputs: NodeValue[] } | undefined {
    const row = this.#s.getNode!.get(runId, nodeId) as Row | undefined;
    if (row === undefined) return undefined;
    return nodeValuesOf(
      row,
      (hash) => this.#reads.body(hash),
      (id) => this.#s.getNode!.get(runId, id) as Row | undefined,
    );
  }

  /** A run's log lines and retried attempts, in order. */
  logs(runId: string, nodeId: string | undefined): LogEntry[] {
    const rows = nodeId === undefined
      ? this.#s.runLogs!.all(runId) as Row[]
      : this.#s.nodeLogs!.all(runId, nodeId) as Row[];
    return rows.map(logEntry);
  }

  /** Where a value was made and used, newest first. */
  valueUses(hash: string, limit: number): ValueUses {
    return valueUsesOf((this.#s.nodesWithText!.all(hash) as Row[]).map(useRow), hash, limit);
  }

  /**
   * Grows whenever something was committed: SQLite's `data_version` counts
   * the commits of other connections, `total_changes()` the rows this one wrote.
   */
  changeCount(): number {
    return Number((this.#s.changeCount!.get() as Row).n);
  }
}

/**
 * The `StoreBrowse` methods of the SQLite store, answered by its
 * {@linkcode SqliteBrowse} (a base class, as the time methods are, so that the
 * store's own file keeps to its runs, nodes, values and queries).
 */
export abstract class SqliteBrowseMethods extends SqliteTimeMethods {
  /** What the web UI reads. @ignore */
  abstract readonly browse: SqliteBrowse;

  /**
   * Runs, newest first.
   *
   * @param filter By status, entity and id; after a run (the next page); at most `limit` (default 50).
   * @returns The runs.
   */
  listRuns(filter: RunFilter = {}): Promise<RunSummary[]> {
    return this.browse.read(() => this.browse.listRuns(filter));
  }
  /** The entities that have runs, sorted. */
  runEntities(): Promise<string[]> {
    return this.browse.read(() => this.browse.runEntities());
  }
  /** The task nodes of runs by status (`StoreBrowse.taskCounts`). */
  taskCounts(runIds: readonly string[]): Promise<Map<string, TaskCounts>> {
    return this.browse.read(() => this.browse.taskCounts(runIds));
  }
  /** A run's nodes in brief, all or those changed since a cursor (`StoreBrowse.runNodes`). */
  runNodes(runId: string, since?: string): Promise<NodeChanges | undefined> {
    return this.browse.read(() => this.browse.runNodes(runId, since));
  }
  /** One node of a run (`StoreBrowse.getNode`). */
  getNode(runId: string, nodeId: string): Promise<NodeDetails | undefined> {
    return this.browse.read(() => this.browse.getNode(runId, nodeId));
  }
  /** The values a node took and made (`StoreBrowse.nodeValues`). */
  nodeValues(
    runId: string,
    nodeId: string,
  ): Promise<{ inputs: NodeValue[]; outputs: NodeValue[] } | undefined> {
    return this.browse.read(() => this.browse.nodeValues(runId, nodeId));
  }
  /** A run's `ctx.log` lines and retried attempts (`StoreBrowse.logs`). */
  logs(runId: string, nodeId?: string): Promise<LogEntry[]> {
    return this.browse.read(() => this.browse.logs(runId, nodeId));
  }
  /** The executions that made a value and those that took it (`StoreBrowse.valueUses`). */
  valueUses(hash: string, limit = 200): Promise<ValueUses> {
    return this.browse.read(() => this.browse.valueUses(hash, limit));
  }
  /** A number that grows whenever anything was committed, here or elsewhere. */
  changeCount(): number {
    this.time.check();
    return this.browse.changeCount();
  }
}
