/**
 * Group commit for the PostgreSQL store: every change any run's session
 * hands over while the event loop turns, or while a commit is in flight,
 * goes into one statement (one transaction, one round trip) — node rows,
 * values, cache entries and finished runs as JSON record sets — and each
 * waiter resumes when the commit holding its changes is durable. The
 * statement only upserts, so when the connection drops mid-commit it is
 * simply sent again once the server answers.
 *
 * @module
 */

import type { PgClient } from "./connect.ts";
import { isConnectionError, sleep } from "./errors.ts";

/** A node row as the writer sends it. */
export interface NodeRow {
  run_id: string;
  id: string;
  parent_id: string | null;
  seq: number;
  entity: string;
  kind: string;
  version: string | null;
  bare: boolean;
  status: string;
  attempts: number;
  started_at: number | null;
  finished_at: number | null;
  args_digest: string;
  call: string;
  inputs: string | null;
  outputs: string | null;
  error: string | null;
  cached_from: string | null;
  added: number;
  /** The run's change counter at this write. */
  rev: number;
  /** The nodes it takes data from, while its inputs are not yet known (JSON). */
  deps: string | null;
}

/** A task's log line (or retried attempt) as the writer sends it. */
export interface LogRow {
  run_id: string;
  seq: number;
  node_id: string;
  attempt: number;
  time: number;
  kind: string;
  message: string;
  error: string | null;
}

/** A cache entry as the writer sends it. */
export interface CacheRow {
  key: string;
  task: string;
  version: string | null;
  value_hash: string;
  source: string;
  created_at: number;
}

/** A finished run as the writer sends it. */
export interface FinishRow {
  id: string;
  status: string;
  outputs_hash: string | null;
  errors: string | null;
  finished_at: number;
}

/** Extra rows another part of the store adds to the same commit (the task queue). */
export interface BatchExtension {
  /** Its JSON parameter for this commit, or null when it has nothing. */
  take(): unknown[] | null;
  /** The SQL of its CTEs, given the numbers of its parameters. */
  sql(params: number[]): string;
  /** How many parameters it takes. */
  readonly params: number;
  /**
   * An expression the statement selects, so that a CTE that only selects
   * (a NOTIFY) runs: PostgreSQL skips CTEs nothing refers to, unless they modify data.
   */
  readonly select?: string;
  /** Called after the commit, with whether it succeeded. */
  settled?(ok: boolean): void;
}

class Batch {
  values = new Map<string, string>();
  nodes = new Map<string, NodeRow>();
  cache = new Map<string, CacheRow>();
  finishes = new Map<string, FinishRow>();
  logs: LogRow[] = [];
  get empty(): boolean {
    return this.values.size === 0 && this.nodes.size === 0 && this.cache.size === 0 &&
      this.finishes.size === 0 && this.logs.length === 0;
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((a, b) => {
    resolve = a;
    reject = b;
  });
  // A commit nobody waits for must not be an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** Collects changes and commits them together. */
export class GroupWriter {
  readonly #sql: PgClient;
  readonly #s: string;
  #batch = new Batch();
  #done: Deferred | undefined;
  #writing = false;
  #closed = false;
  /** How long a commit keeps retrying while the server is unreachable, in ms. */
  readonly retryMs: number;
  readonly #extensions: BatchExtension[] = [];
  /** Commits made (for benchmarks: commits per task). */
  commits = 0;

  /**
   * @param sql The client.
   * @param schema The quoted schema name.
   * @param retryMs How long to retry a commit while the server is unreachable.
   */
  constructor(sql: PgClient, schema: string, retryMs: number) {
    this.#sql = sql;
    this.#s = schema;
    this.retryMs = retryMs;
  }

  /** Adds rows of another part of the store to every commit. */
  extend(extension: BatchExtension): void {
    this.#extensions.push(extension);
  }

  /** Queues a value body. */
  value(hash: string, body: string): void {
    this.#batch.values.set(hash, body);
  }

  /** Queues a node row (a later row of the same node replaces it). */
  node(row: NodeRow): void {
    this.#batch.nodes.set(`${row.run_id}\u0000${row.id}`, row);
  }

  /** Queues a cache entry. */
  cache(row: CacheRow): void {
    this.#batch.cache.set(row.key, row);
  }

  /** Queues a run's end. */
  finish(row: FinishRow): void {
    this.#batch.finishes.set(row.id, row);
  }

  /** Queues a log line. */
  log(row: LogRow): void {
    this.#batch.logs.push(row);
  }

  /**
   * Commits everything queued so far (together with whatever else is queued
   * before the commit starts).
   *
   * @returns A promise that resolves when it is durable.
   */
  commit(): Promise<void> {
    const done = this.#done ??= deferred();
    if (!this.#writing) {
      this.#writing = true;
      // Let the rest of this turn's flushes join.
      queueMicrotask(() => this.#loop());
    }
    return done.promise;
  }

  async #loop(): Promise<void> {
    while (this.#done !== undefined) {
      const done = this.#done;
      const batch = this.#batch;
      this.#done = undefined;
      this.#batch = new Batch();
      const extra = this.#extensions.map((e) => e.take());
      try {
        if (!batch.empty || extra.some((x) => x !== null)) await this.#write(batch, extra);
        for (const e of this.#extensions) e.settled?.(true);
        done.resolve();
      } catch (e) {
        for (const x of this.#extensions) x.settled?.(false);
        done.reject(e);
      }
    }
    this.#writing = false;
  }

  async #write(batch: Batch, extra: (unknown[] | null)[]): Promise<void> {
    const s = this.#s;
    // (postgres.js sends a json parameter as JSON.stringify of the value given.)
    const params: unknown[] = [
      batch.values.size === 0 ? null : [...batch.values].map(([hash, body]) => ({ hash, body })),
      batch.nodes.size === 0 ? null : [...batch.nodes.values()],
      batch.cache.size === 0 ? null : [...batch.cache.values()],
      batch.finishes.size === 0 ? null : [...batch.finishes.values()],
      batch.logs.length === 0 ? null : batch.logs,
    ];
    const ctes: string[] = [
      `v AS (INSERT INTO ${s}."values" (hash, body, size)
        SELECT x.hash, x.body, length(x.body) FROM json_to_recordset($1::json) AS x(hash text, body text)
        ON CONFLICT (hash) DO NOTHING)`,
      `n AS (INSERT INTO ${s}.nodes (run_id, id, parent_id, seq, entity, kind, version, bare, status,
          attempts, started_at, finished_at, args_digest, call, inputs, outputs, error, cached_from, added,
          rev, deps)
        SELECT x.run_id, x.id, x.parent_id, x.seq, x.entity, x.kind, x.version, x.bare, x.status,
          x.attempts, x.started_at, x.finished_at, x.args_digest, x.call, x.inputs, x.outputs, x.error,
          x.cached_from, x.added, x.rev, x.deps
        FROM json_to_recordset($2::json) AS x(run_id text, id text, parent_id text, seq integer,
          entity text, kind text, version text, bare boolean, status text, attempts integer,
          started_at bigint, finished_at bigint, args_digest text, call text, inputs text,
          outputs text, error text, cached_from text, added integer, rev bigint, deps text)
        ON CONFLICT (run_id, id) DO UPDATE SET parent_id = excluded.parent_id, seq = excluded.seq,
          entity = excluded.entity, kind = excluded.kind, version = excluded.version,
          bare = excluded.bare, status = excluded.status, attempts = excluded.attempts,
          started_at = excluded.started_at, finished_at = excluded.finished_at,
          args_digest = excluded.args_digest, call = excluded.call,
          inputs = COALESCE(excluded.inputs, nodes.inputs), outputs = excluded.outputs,
          error = excluded.error, cached_from = excluded.cached_from, replayed = false,
          rev = excluded.rev, deps = COALESCE(nodes.deps, excluded.deps)
        -- A result in the journal stays: a driver that took a run over may still
        -- hold a node as running that a worker completed since it read the journal.
        WHERE nodes.status <> 'succeeded' OR excluded.status = 'succeeded')`,
      `c AS (INSERT INTO ${s}.cache (key, task, version, value_hash, source, created_at)
        SELECT * FROM json_to_recordset($3::json) AS x(key text, task text, version text,
          value_hash text, source text, created_at bigint)
        ON CONFLICT (key) DO UPDATE SET task = excluded.task, version = excluded.version,
          value_hash = excluded.value_hash, source = excluded.source, created_at = excluded.created_at)`,
      `f AS (UPDATE ${s}.runs AS r SET status = x.status, outputs_hash = x.outputs_hash,
          errors = x.errors, finished_at = x.finished_at
        FROM json_to_recordset($4::json) AS x(id text, status text, outputs_hash text, errors text,
          finished_at bigint)
        WHERE r.id = x.id)`,
      `l AS (INSERT INTO ${s}.logs (run_id, seq, node_id, attempt, time, kind, message, error)
        SELECT * FROM json_to_recordset($5::json) AS x(run_id text, seq bigint, node_id text,
          attempt integer, time bigint, kind text, message text, error text)
        ON CONFLICT (run_id, seq) DO NOTHING)`,
    ];
    let next = params.length + 1;
    for (let i = 0; i < this.#extensions.length; i++) {
      const ext = this.#extensions[i]!;
      const numbers = Array.from({ length: ext.params }, () => next++);
      const values = extra[i] ?? Array.from({ length: ext.params }, () => null);
      params.push(...values);
      ctes.push(ext.sql(numbers));
    }
    const selects = this.#extensions.map((e) => e.select).filter((x) => x !== undefined);
    // Pages watching the store (the web UI, on any machine) hear of each commit.
    params.push(this.#s);
    const text = `WITH ${ctes.join(",\n")} SELECT ${
      [`pg_notify('weft_changes', $${params.length})`, ...selects].join(", ")
    }`;
    await this.run(() => this.#sql.unsafe(text, params as never[]));
    this.commits++;
  }

  /**
   * Runs an idempotent statement, retrying while the server is unreachable
   * (a restart, a failover) for up to {@linkcode retryMs}.
   *
   * @param fn The statement.
   * @returns Its result.
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.retryMs;
    for (let attempt = 0;; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (this.#closed || !isConnectionError(e) || Date.now() > deadline) throw e;
        await sleep(Math.min(1000, 50 * 2 ** attempt));
      }
    }
  }

  /** Stops retrying (the store is closing). */
  close(): void {
    this.#closed = true;
  }
}
