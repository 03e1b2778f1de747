/**
 * A run's session in the PostgreSQL store: node changes are queued and
 * handed to the store's group writer when someone is about to act on a
 * result, when the queue grows, and a few times a second.
 *
 * @module
 */

import { errorRecord, nodeErrorRecord, nodeOutputs as outputsOf } from "../provenance.ts";
import type {
  CacheHit,
  InputSource,
  LogEntry,
  NodeRecord,
  RunFinish,
  RunSession,
  RunSuspend,
  SignalMessage,
} from "../mod.ts";
import type { StoredInput, StoredOutput } from "../rows.ts";
import { type OpenedRun, SqlSession } from "../sql_session.ts";
import type { GroupWriter, NodeRow } from "./writer.ts";
import type { PgTime } from "./time.ts";

/** What a session needs of its store. */
export interface PgSessionStore {
  /** How the store was opened (password hidden). */
  readonly url: string;
  /** The group writer. */
  readonly writer: GroupWriter;
  /** Its commit settings. */
  readonly options: { readonly maxQueued: number; readonly flushIntervalMs: number };
  /** Hashes a value for a node's row, queueing a large body for the values table. */
  storeValue(value: unknown): { hash: string; body?: string };
  /** Queues a value for the values table; returns its hash. */
  putValue(value: unknown): string;
  /** Looks a cache entry up. */
  cacheGet(key: string): Promise<CacheHit | undefined>;
  /** The session ended. */
  forget(session: PgSession): void;
  /** Signals and sleeping runs. */
  readonly time: PgTime;
}

/** The queue and journal of one run in a PostgreSQL store. */
export class PgSession extends SqlSession<Promise<SignalMessage | undefined>>
  implements RunSession {
  #abandoned = false;
  readonly #store: PgSessionStore;
  #queue = new Set<NodeRecord>();
  /** Nodes handed to a commit that has not finished yet. */
  #writing = new Set<NodeRecord>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Nodes whose current state another process already wrote (a worker's
   * fenced completion): recording it again would cost a commit for nothing.
   */
  readonly #writtenElsewhere = new Map<NodeRecord, string>();
  /** Log lines went to the writer: the timer commits them even when no node is queued. */
  #logged = false;

  /**
   * @param store The store.
   * @param run The run, and what was recorded under its id before.
   */
  constructor(store: PgSessionStore, run: OpenedRun) {
    super(run, 0x7fffffff, store.time);
    this.#store = store;
  }

  changed(node: NodeRecord): void {
    const elsewhere = this.#writtenElsewhere.get(node);
    if (elsewhere !== undefined) {
      this.#writtenElsewhere.delete(node);
      // (A worker writes a failure, never the mark that a flow caught it.)
      if (elsewhere === `${node.status}#${node.attempt}` && !node.caught) return;
    }
    this.enqueue(node);
  }

  /**
   * Says that a node's state (`status` at `attempt`) was written by another
   * process, so that the next change to exactly that state is not written again.
   *
   * @param node The node.
   * @param status The status written.
   * @param attempt The attempt written.
   * @param outputs The output hashes written, by name.
   */
  writtenElsewhere(
    node: NodeRecord,
    status: string,
    attempt: number,
    outputs: Map<string, string> | undefined,
  ): void {
    this.#writtenElsewhere.set(node, `${status}#${attempt}`);
    if (outputs !== undefined) this.outputsWritten(node.id, outputs);
  }

  /** Whether the run's claim was lost: nothing more is written (nor withdrawn from the queue). */
  get abandoned(): boolean {
    return this.#abandoned;
  }

  /** The run's claim was taken over: drops what is queued and writes nothing more. */
  abandon(): void {
    this.#abandoned = true;
    this.#queue.clear();
    this.cachePuts = [];
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#store.forget(this);
  }

  protected enqueue(node: NodeRecord): void {
    if (this.#abandoned) return;
    this.#queue.add(node);
    if (this.#queue.size >= this.#store.options.maxQueued) {
      this.flush().catch((e) => this.#report(e));
    } else this.arm();
  }

  protected arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#queue.size > 0 || this.cachePuts.length > 0) {
        this.flush().catch((e) => this.#report(e));
      } else if (this.#logged) {
        this.#logged = false;
        this.#store.writer.commit(this).catch((e) => this.#report(e));
      }
    }, this.#store.options.flushIntervalMs);
  }

  #report(e: unknown): void {
    console.error(`weft: could not write to ${this.#store.url}: ${(e as Error).message}`);
  }

  pending(node: NodeRecord): boolean {
    return this.#queue.has(node) || this.#writing.has(node);
  }

  /**
   * Commits what is queued together with what the caller queued in the
   * writer before (a task queue's row), even when nothing of the run's is.
   * The commit waits for the rest of the turn, so that the other calls of a
   * fan-out, enqueued one by one, share it.
   *
   * @returns A promise that resolves when that commit is durable.
   */
  stage(): Promise<void> {
    return this.flush(true, true);
  }

  /**
   * Commits what is queued.
   *
   * @param always Commit even when nothing of the run's is queued (for what
   * the caller queued in the writer).
   * @param join Let the rest of this turn join the commit; else, when this
   * run is the only one open and no commit is in flight, it starts at once
   * (someone is about to act on a result).
   * @returns A promise that resolves when the commit is durable.
   */
  flush(always = false, join = false): Promise<void> {
    const asker = join ? undefined : this;
    if (this.#queue.size === 0 && this.cachePuts.length === 0) {
      // Nothing of ours is queued, but a commit may still hold our nodes.
      return this.#writing.size === 0 && !always
        ? Promise.resolve()
        : this.#store.writer.commit(asker);
    }
    const queue = this.#queue;
    const puts = this.cachePuts;
    this.#queue = new Set();
    this.cachePuts = [];
    const writer = this.#store.writer;
    try {
      for (const node of queue) {
        const row = this.row(node);
        if (row !== undefined) writer.node(row);
        this.#writing.add(node);
      }
      for (const [key, node] of puts) {
        writer.cache({
          key,
          task: node.entity,
          version: node.version ?? null,
          value_hash: this.#store.putValue(node.value),
          source: `${this.runId}/${node.id}`,
          created_at: Date.now(),
        });
      }
    } catch (e) {
      for (const node of queue) this.#queue.add(node);
      this.cachePuts.push(...puts);
      return Promise.reject(e);
    }
    return writer.commit(asker).then(() => {
      for (const node of queue) this.#writing.delete(node);
    }, (e) => {
      for (const node of queue) {
        this.#writing.delete(node);
        this.#queue.add(node);
      }
      this.cachePuts.push(...puts);
      throw e;
    });
  }

  /**
   * A node's row as it is now (undefined for a replayed node: its record is
   * the one written when it first ran).
   *
   * @param node The node.
   * @returns The row.
   */
  row(node: NodeRecord): NodeRow | undefined {
    if (node.replayed) return undefined;
    const error = node.error === undefined ? null : JSON.stringify(nodeErrorRecord(node));
    let inputs: string | null = null;
    const values = this.takeInputs(node);
    if (values !== undefined) {
      const sources = node.inputSources();
      const list: StoredInput[] = [];
      for (const name of Object.keys(values)) {
        const from = sources.get(name);
        const entry = this.#input(node, values, name, from);
        if (from !== undefined) entry.sources = from;
        list.push(entry);
      }
      inputs = JSON.stringify(list);
    }
    let outputs: string | null = null;
    if (node.status === "succeeded") outputs = this.#outputs(node);
    const deps = inputs === null ? this.depsOf(node) : null;
    const added = this.orderOf(node);
    return {
      run_id: this.runId,
      id: node.id,
      parent_id: node.parentId ?? null,
      seq: node.seq,
      entity: node.entity,
      kind: node.kind,
      version: node.version ?? null,
      bare: node.bare,
      status: node.status,
      attempts: node.attempt,
      started_at: node.startedAt ?? null,
      finished_at: node.finishedAt ?? null,
      args_digest: node.argsDigest(),
      call: node.describeCall(),
      inputs,
      outputs,
      error,
      cached_from: node.cachedFrom ?? null,
      added,
      rev: ++this.rev,
      deps,
    };
  }

  protected queueLog(entry: LogEntry): void {
    this.#store.writer.log({
      run_id: this.runId,
      seq: ++this.logSeq,
      node_id: entry.nodeId,
      attempt: entry.attempt,
      time: entry.time,
      kind: entry.kind,
      message: entry.message,
      error: entry.error === undefined ? null : JSON.stringify(entry.error),
    });
    this.#logged = true;
    this.arm();
  }

  /** A succeeded node's `outputs` column; its consumers will reuse the hashes. */
  #outputs(node: NodeRecord): string {
    const stored: StoredOutput[] = [];
    for (const o of outputsOf(node)) {
      stored.push({ name: o.name, ...this.#store.storeValue(o.value) });
    }
    if (node.bare && stored.length === 1) {
      // One output, the whole value: its hash alone is kept.
      this.outputsWritten(node.id, stored[0]!.hash);
    } else {
      const hashes = new Map<string, string>();
      for (const o of stored) hashes.set(o.name, o.hash);
      this.outputsWritten(node.id, hashes);
    }
    return JSON.stringify(stored);
  }

  #input(
    node: NodeRecord,
    values: Readonly<Record<string, unknown>>,
    name: string,
    from: readonly InputSource[] | undefined,
  ): StoredInput {
    const hash = this.reusedHash(node, name, from);
    if (hash !== undefined) return { name, hash };
    return { name, ...this.#store.storeValue(values[name]) };
  }

  cacheGet(key: string): Promise<CacheHit | undefined> {
    return this.#store.cacheGet(key);
  }

  finish(result: RunFinish): Promise<void> {
    return this.#finish(result, null);
  }

  /**
   * Records the end of the run and gives its claim up, in the same commit
   * (shared with whatever else commits then).
   *
   * @param result How the run ended.
   * @param ownerId The claim to give up.
   * @returns Once it is durable.
   */
  finishAndRelease(result: RunFinish, ownerId: string): Promise<void> {
    return this.#finish(result, ownerId);
  }

  async #finish(result: RunFinish, ownerId: string | null): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const writer = this.#store.writer;
    try {
      writer.finish({
        id: this.runId,
        status: result.status,
        outputs_hash: result.status === "succeeded" ? this.#store.putValue(result.outputs) : null,
        errors: result.errors.length === 0 ? null : JSON.stringify(result.errors.map(errorRecord)),
        finished_at: result.finishedAt,
        owner_id: ownerId,
      });
      // The run's last changes and its end go in the same commit.
      await this.flush(true);
    } finally {
      this.#store.forget(this);
    }
  }

  async suspend(info: RunSuspend): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      await this.flush(true);
      await this.#store.time.suspend(this.runId, info);
    } finally {
      this.#store.forget(this);
    }
  }
}
