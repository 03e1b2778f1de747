/**
 * A run's session in the PostgreSQL store: node changes are queued and
 * handed to the store's group writer when someone is about to act on a
 * result, when the queue grows, and a few times a second.
 *
 * @module
 */

import { ValidationError } from "../../core/errors.ts";
import { errorRecord, nodeErrorRecord, nodeOutputs as outputsOf } from "../provenance.ts";
import type {
  CacheHit,
  InputSource,
  LogEntry,
  NodeRecord,
  PreviousRun,
  RunFinish,
  RunSession,
  RunSuspend,
  SignalMessage,
} from "../mod.ts";
import { depsColumn, keptLog, NodeOrder, type StoredInput, type StoredOutput } from "../rows.ts";
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
export class PgSession implements RunSession {
  readonly previous: PreviousRun | undefined;
  readonly runId: string;
  #abandoned = false;
  readonly #store: PgSessionStore;
  #queue = new Set<NodeRecord>();
  /** Nodes handed to a commit that has not finished yet. */
  #writing = new Set<NodeRecord>();
  #cachePuts: [string, NodeRecord][] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #outputHashes = new Map<string, Map<string, string>>();
  #inputsWritten = new Set<NodeRecord>();
  readonly #order: NodeOrder;
  /**
   * Nodes whose current state another process already wrote (a worker's
   * fenced completion): recording it again would cost a commit for nothing.
   */
  readonly #writtenElsewhere = new Map<NodeRecord, string>();
  /** The run's change counter: each node row written takes the next value. */
  #rev: number;
  /** The number of the run's last log line, and lines kept per node and attempt. */
  #logSeq: number;
  #logCounts = new Map<string, number>();
  #logged = false;

  constructor(
    store: PgSessionStore,
    runId: string,
    previous: PreviousRun | undefined,
    earlier: Map<string, number>,
    counters: { rev: number; logSeq: number } = { rev: 0, logSeq: -1 },
  ) {
    this.#store = store;
    this.runId = runId;
    this.previous = previous;
    this.#rev = counters.rev;
    this.#logSeq = counters.logSeq;
    this.#order = new NodeOrder(earlier);
  }

  added(node: NodeRecord): void {
    this.#order.add(node);
    this.#enqueue(node);
  }

  changed(node: NodeRecord): void {
    const elsewhere = this.#writtenElsewhere.get(node);
    if (elsewhere !== undefined) {
      this.#writtenElsewhere.delete(node);
      // (A worker writes a failure, never the mark that a flow caught it.)
      if (elsewhere === `${node.status}#${node.attempt}` && !node.caught) return;
    }
    this.#enqueue(node);
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
    if (outputs !== undefined) this.#outputHashes.set(node.id, outputs);
  }

  /** Whether the run's claim was lost: nothing more is written (nor withdrawn from the queue). */
  get abandoned(): boolean {
    return this.#abandoned;
  }

  /** The run's claim was taken over: drops what is queued and writes nothing more. */
  abandon(): void {
    this.#abandoned = true;
    this.#queue.clear();
    this.#cachePuts = [];
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#store.forget(this);
  }

  #enqueue(node: NodeRecord): void {
    if (this.#abandoned) return;
    this.#queue.add(node);
    if (this.#queue.size >= this.#store.options.maxQueued) {
      this.flush().catch((e) => this.#report(e));
    } else this.#arm();
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#queue.size > 0 || this.#cachePuts.length > 0) {
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

  /** The node's order in its run. */
  order(node: NodeRecord): number {
    return this.#order.of(node);
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
    if (this.#queue.size === 0 && this.#cachePuts.length === 0) {
      // Nothing of ours is queued, but a commit may still hold our nodes.
      return this.#writing.size === 0 && !always
        ? Promise.resolve()
        : this.#store.writer.commit(asker);
    }
    const queue = this.#queue;
    const puts = this.#cachePuts;
    this.#queue = new Set();
    this.#cachePuts = [];
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
      this.#cachePuts.push(...puts);
      return Promise.reject(e);
    }
    return writer.commit(asker).then(() => {
      for (const node of queue) this.#writing.delete(node);
    }, (e) => {
      for (const node of queue) {
        this.#writing.delete(node);
        this.#queue.add(node);
      }
      this.#cachePuts.push(...puts);
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
    const values = this.#inputsWritten.has(node) ? undefined : node.inputs;
    if (values !== undefined) {
      this.#inputsWritten.add(node);
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
    if (node.status === "succeeded") {
      const { stored, hashes } = this.outputs(node.id, outputsOf(node));
      this.#outputHashes.set(node.id, hashes);
      outputs = JSON.stringify(stored);
    }
    const deps = inputs === null && !this.#inputsWritten.has(node) ? depsColumn(node) : null;
    const added = this.#order.of(node);
    if (added > 0x7fffffff) {
      throw new ValidationError(
        `Run '${this.runId}' has more than 2,147,483,647 nodes, the most a run can record; split the work into several runs`,
      );
    }
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
      rev: ++this.#rev,
      deps,
    };
  }

  log(line: LogEntry): void {
    const entry = keptLog(this.#logCounts, line);
    if (entry === undefined) return;
    this.#store.writer.log({
      run_id: this.runId,
      seq: ++this.#logSeq,
      node_id: entry.nodeId,
      attempt: entry.attempt,
      time: entry.time,
      kind: entry.kind,
      message: entry.message,
      error: entry.error === undefined ? null : JSON.stringify(entry.error),
    });
    this.#logged = true;
    this.#arm();
  }

  /**
   * A node's outputs as its row keeps them.
   *
   * @param _nodeId The node.
   * @param values Its outputs by name.
   * @returns The stored list and the hashes by name.
   */
  outputs(
    _nodeId: string,
    values: { name: string; value: unknown }[],
  ): { stored: StoredOutput[]; hashes: Map<string, string> } {
    const hashes = new Map<string, string>();
    const stored: StoredOutput[] = [];
    for (const o of values) {
      const out: StoredOutput = { name: o.name, ...this.#store.storeValue(o.value) };
      hashes.set(o.name, out.hash);
      stored.push(out);
    }
    return { stored, hashes };
  }

  #input(
    node: NodeRecord,
    values: Readonly<Record<string, unknown>>,
    name: string,
    from: readonly InputSource[] | undefined,
  ): StoredInput {
    if (from !== undefined && from.length === 1) {
      const whole = node.wholeSource(name);
      if (whole !== undefined) {
        const hash = this.#outputHashes.get(whole.node)?.get(whole.output);
        if (hash !== undefined) return { name, hash };
      }
    }
    return { name, ...this.#store.storeValue(values[name]) };
  }

  cacheGet(key: string): Promise<CacheHit | undefined> {
    return this.#store.cacheGet(key);
  }

  cachePut(key: string, node: NodeRecord): void {
    this.#cachePuts.push([key, node]);
    this.#arm();
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

  takeSignal(name: string, nodeId: string): Promise<SignalMessage | undefined> {
    return this.#store.time.takeSignal(this.runId, name, nodeId);
  }

  watchSignals(wake: () => void): () => void {
    return this.#store.time.watchSignals(this.runId, wake);
  }
}
