/**
 * Group commit for the PostgreSQL store: every change any run's session
 * hands over while the event loop turns, or while a commit is in flight —
 * node rows, values, cache entries, log lines, run starts with their claims,
 * run ends with the release of their claims, the task queue's rows — goes
 * into one statement (one transaction, one round trip; see batch.ts), and
 * each waiter resumes when the commit holding its changes is durable. The
 * statement only upserts, so when the connection drops mid-commit it is
 * simply sent again once the server answers.
 *
 * @module
 */

import { type CommitMember, GroupCommit } from "../group_commit.ts";
import type { PgClient } from "./connect.ts";
import { isConnectionError, sleep } from "./errors.ts";
import {
  Batch,
  type BatchExtension,
  batchStatement,
  type CacheRow,
  type FinishRow,
  type LogRow,
  type NodeRow,
  type StartResult,
  startResults,
  type StartRow,
} from "./batch.ts";

export type {
  BatchExtension,
  CacheRow,
  FinishRow,
  LogRow,
  NodeRow,
  StartResult,
  StartRow,
} from "./batch.ts";

interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(e: unknown): void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  // A commit nobody waits for must not be an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** Whether a commit that failed whole is worth sending again at once. */
function isTransient(e: unknown): boolean {
  // 40P01 deadlock detected, 40001 serialization failure: nothing was written.
  const code = (e as { code?: string } | undefined)?.code;
  return code === "40P01" || code === "40001";
}

/** One commit as the group commit builds it: the rows, the run starts' waiters, the other parts' rows. */
interface PgCommit {
  batch: Batch;
  starts: Map<string, Deferred<StartResult>>;
  taken: { ext: BatchExtension; params: unknown[] | null }[];
}

/**
 * Collects changes and commits them together, through the store-wide
 * {@linkcode GroupCommit} the SQLite store uses too: a commit starts at once
 * when one run is open and nothing is in flight (a sequential step waits for
 * nothing but its own commit), else at the end of the turn or when the commit
 * in flight ends, with everything queued by then. The writer's queue is the
 * one member of every commit (what callers queue between commits goes into
 * the next); runs' sessions are registered as open, so that while several
 * are, a commit waits for the rest of the turn to join it.
 */
export class GroupWriter {
  readonly #sql: PgClient;
  readonly #s: string;
  #batch = new Batch();
  /** The waiters of the run starts queued. */
  #startWaiters = new Map<string, Deferred<StartResult>>();
  /** Run ids whose start is queued or in flight. */
  readonly #starting = new Set<string>();
  #closed = false;
  /** How long a commit keeps retrying while the server is unreachable, in ms. */
  readonly retryMs: number;
  readonly #extensions: BatchExtension[] = [];
  /** Commits made (for benchmarks: commits per task). */
  commits = 0;
  #noted = 0;
  readonly #group: GroupCommit<PgCommit>;
  /** What is queued, as the group commit's member: moved into each commit. */
  readonly #queued: CommitMember<PgCommit> = {
    collect: (commit) => {
      commit.batch = this.#batch;
      commit.starts = this.#startWaiters;
      this.#batch = new Batch();
      this.#startWaiters = new Map();
      commit.taken = this.#extensions.map((ext) => ({ ext, params: ext.take() }));
    },
  };
  /** Stand-ins for the open runs' sessions in the group commit. */
  readonly #open = new Map<object, CommitMember<PgCommit>>();

  /**
   * @param sql The client.
   * @param schema The quoted schema name.
   * @param retryMs How long to retry a commit while the server is unreachable.
   */
  constructor(sql: PgClient, schema: string, retryMs: number) {
    this.#sql = sql;
    this.#s = schema;
    this.retryMs = retryMs;
    this.#group = new GroupCommit<PgCommit>({
      open: () => ({ batch: new Batch(), starts: new Map(), taken: [] }),
      write: (commit) => this.#commit(commit),
    });
  }

  /**
   * A number that grows with every change this process wrote: its commits,
   * and the completions its workers wrote (for the web UI).
   */
  get changes(): number {
    return this.commits + this.#noted;
  }

  /** Counts a change written outside the group commit (a worker's completion). */
  noteChange(): void {
    this.#noted++;
  }

  /**
   * A run's session is open: while others are too, commits wait for the
   * rest of the turn.
   *
   * @param session The session.
   */
  opened(session: object): void {
    if (this.#open.has(session)) return;
    const member: CommitMember<PgCommit> = { collect: () => {} };
    this.#open.set(session, member);
    this.#group.opened(member);
  }

  /**
   * A run's session ended.
   *
   * @param session The session.
   */
  closed(session: object): void {
    const member = this.#open.get(session);
    if (member === undefined) return;
    this.#open.delete(session);
    this.#group.closed(member);
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

  /** Queues a run's end (and the release of its claim, when the row names one). */
  finish(row: FinishRow): void {
    this.#batch.finishes.set(row.id, row);
  }

  /** Queues a log line. */
  log(row: LogRow): void {
    this.#batch.logs.push(row);
  }

  /**
   * Queues a run's start: its claim and, where the claim is granted, its
   * row, in the next commit (with every other run's changes and starts).
   *
   * @param row The start.
   * @returns What the start got, once durable; undefined when a start of the
   * same run id is already queued or in flight (the caller claims the slow way).
   */
  start(row: StartRow): Promise<StartResult> | undefined {
    if (this.#starting.has(row.run_id)) return undefined;
    this.#starting.add(row.run_id);
    this.#batch.starts.set(row.run_id, row);
    const waiter = deferred<StartResult>();
    this.#startWaiters.set(row.run_id, waiter);
    this.commit();
    return waiter.promise;
  }

  /**
   * Commits everything queued so far, with whatever else is queued before
   * the commit is built: at once when nothing could share it (one run open,
   * no commit in flight), else at the end of this turn of the event loop or
   * when the commit in flight ends.
   *
   * @param session The run's session that asks, if any: when it is the only
   * one open and nothing is in flight, the commit starts at once (a
   * sequential step does not wait for a turn of the event loop).
   * @returns A promise that resolves when it is durable.
   */
  commit(session?: object): Promise<void> {
    const on = session === undefined ? undefined : this.#open.get(session);
    const done = this.#group.request(this.#queued, on ?? this.#queued) ?? Promise.resolve();
    // A commit nobody waits for must not be an unhandled rejection.
    done.catch(() => {});
    return done;
  }

  /** Writes one commit: its statement, then what its run starts got. */
  async #commit(commit: PgCommit): Promise<void> {
    const { batch, starts, taken } = commit;
    try {
      let row: Record<string, unknown> | undefined;
      if (!batch.empty || taken.some((x) => x.params !== null)) {
        row = await this.#write(batch, taken);
      }
      for (const { ext } of taken) ext.settled?.(true);
      if (starts.size > 0) {
        const got = startResults(row as Parameters<typeof startResults>[0]);
        for (const [runId, w] of starts) {
          this.#starting.delete(runId);
          w.resolve(got.get(runId) ?? { owned: false, since: 0, created: false });
        }
      }
    } catch (e) {
      for (const { ext } of taken) ext.settled?.(false);
      for (const [runId, w] of starts) {
        this.#starting.delete(runId);
        w.reject(e);
      }
      throw e;
    }
  }

  async #write(
    batch: Batch,
    taken: { ext: BatchExtension; params: unknown[] | null }[],
  ): Promise<Record<string, unknown> | undefined> {
    const { text, params } = batchStatement(this.#s, batch, taken);
    for (let attempt = 0;; attempt++) {
      try {
        const rows = await this.run(() => this.#sql.unsafe(text, params as never[]));
        this.commits++;
        return rows[0] as Record<string, unknown> | undefined;
      } catch (e) {
        // Rolled back whole: send it again (a few times).
        if (this.#closed || !isTransient(e) || attempt >= 4) throw e;
        await sleep(5 * 2 ** attempt);
      }
    }
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
