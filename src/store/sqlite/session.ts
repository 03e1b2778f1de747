/**
 * A run's session in the SQLite store: changes are queued, and the session
 * joins the store's group commit when someone is about to act on a result
 * (waiting for it), when the queue grows, and a few times a second; the end
 * of the run is written in the same commit as the last changes.
 *
 * @module
 */

import { ValidationError } from "../../core/errors.ts";
import type { CommitMember, GroupCommit } from "../group_commit.ts";
import { errorRecord, nodeOutputs as outputsOf } from "../provenance.ts";
import type {
  CacheHit,
  InputSource,
  NodeRecord,
  PreviousRun,
  RunFinish,
  RunSession,
} from "../mod.ts";
import { decodeValue } from "../../core/values.ts";
import type { SqliteBatch } from "./commit.ts";
import type { Row, StoredInput, StoredOutput } from "./rows.ts";
import type { StatementSync } from "node:sqlite";

/** What a session needs of its store (the `SqliteStore` provides it). */
export interface SessionStore {
  /** How the store was opened. */
  readonly url: string;
  /** Its commit settings. */
  readonly options: { readonly maxQueued: number; readonly flushIntervalMs: number };
  /** The store's group commit. */
  readonly group: GroupCommit<SqliteBatch>;
  /** The session ended. */
  forget(session: SqliteSession): void;
  /** Encodes and hashes a value for the values table. */
  valueRow(value: unknown): { hash: string; body: string };
  /** Hashes a value for a node's row: a small body stays inline, a larger one is returned as `stored`, for the values table. */
  storeValue(value: unknown): { hash: string; body?: string; stored?: string };
  /** The prepared statements. */
  readonly statements: Record<string, StatementSync>;
}

/** The queue and journal of one run in a SQLite store. */
export class SqliteSession implements RunSession, CommitMember<SqliteBatch> {
  readonly previous: PreviousRun | undefined;
  readonly #store: SessionStore;
  /** The run id. */
  readonly runId: string;
  /** The run's number << 32: a node's key is this plus its order in the run. */
  readonly #keyBase: bigint;
  #queue = new Set<NodeRecord>();
  #cachePuts: [string, NodeRecord][] = [];
  #finish: RunFinish | undefined = undefined;
  /** What the commit being written took, to take back if it fails. */
  #taken: Set<NodeRecord> | undefined = undefined;
  #takenPuts: [string, NodeRecord][] = [];
  /** Nodes whose inputs it holds (inputs are written once). */
  #takenInputs: NodeRecord[] = [];
  #takenFinish: RunFinish | undefined = undefined;
  /** An emptied queue, to take the queue's place when it is taken. */
  #spare: Set<NodeRecord> | undefined = undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #order = 0;
  /** Output hashes of nodes already written, so that their consumers reuse them. */
  // (Maps rather than weak ones: the session lasts as long as the run, which
  // holds its nodes anyway, and a WeakMap costs more per entry to set and to
  // collect.)
  #outputHashes = new Map<string, Map<string, string>>();
  #inputsWritten = new Set<NodeRecord>();
  #added = new Map<NodeRecord, number>();
  readonly #earlier: Map<string, number>;

  constructor(
    store: SessionStore,
    runId: string,
    keyBase: bigint,
    previous: PreviousRun | undefined,
    earlier: Map<string, number>,
  ) {
    this.#store = store;
    this.runId = runId;
    this.#keyBase = keyBase;
    this.previous = previous;
    this.#earlier = earlier;
    let max = -1;
    for (const v of earlier.values()) if (v > max) max = v;
    this.#order = max + 1;
  }

  added(node: NodeRecord): void {
    this.#added.set(node, this.#earlier.get(node.id) ?? this.#order++);
    this.#enqueue(node);
  }

  changed(node: NodeRecord): void {
    this.#enqueue(node);
  }

  #enqueue(node: NodeRecord): void {
    this.#queue.add(node);
    if (this.#queue.size >= this.#store.options.maxQueued) {
      // A large queue is written now (with whatever else waits), not at the end of the turn.
      this.#store.group.note(this);
      this.#store.group.commitNow();
    } else this.#arm();
  }

  /**
   * Makes sure a timer will commit the queue soon. The timer is not reset by
   * each commit (that would cost two timer calls per step): when it fires
   * with nothing queued, it simply stops.
   */
  #arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#queue.size > 0 || this.#cachePuts.length > 0) this.#store.group.note(this);
    }, this.#store.options.flushIntervalMs);
  }

  pending(node: NodeRecord): boolean {
    return this.#queue.has(node);
  }

  /**
   * Joins the next group commit when anything is queued.
   *
   * @returns Resolves when the commit holding the queued changes is durable; undefined when
   * nothing is queued or it was committed at once.
   */
  flush(): Promise<void> | undefined {
    if (this.#queue.size === 0 && this.#cachePuts.length === 0) return undefined;
    return this.#store.group.request(this);
  }

  /** Moves the queued changes (and the end of the run) into a commit's statements. */
  collect(batch: SqliteBatch): void {
    const nodes = this.#queue;
    const puts = this.#cachePuts;
    const finish = this.#finish;
    const inputs: NodeRecord[] = [];
    const mark = batch.size;
    try {
      for (const node of nodes) this.#row(node, batch, inputs);
      for (let i = 0; i < puts.length; i++) this.#cacheRow(puts[i]![0], puts[i]![1], batch);
      if (finish !== undefined) this.#finishRow(finish, batch);
    } catch (e) {
      // Nothing was taken: everything stays queued.
      batch.truncate(mark);
      for (const node of inputs) this.#inputsWritten.delete(node);
      throw e;
    }
    // (The queue's two sets take turns: one is taken while the other fills.)
    this.#queue = this.#spare ?? new Set();
    this.#spare = undefined;
    if (puts.length > 0) this.#cachePuts = [];
    this.#finish = undefined;
    this.#taken = nodes;
    this.#takenPuts = puts;
    this.#takenInputs = inputs;
    this.#takenFinish = finish;
  }

  committed(): void {
    const nodes = this.#taken;
    if (nodes === undefined) return;
    this.#taken = undefined;
    nodes.clear();
    this.#spare = nodes;
    if (this.#takenFinish !== undefined) this.#store.forget(this);
    this.#takenFinish = undefined;
  }

  failed(): void {
    const nodes = this.#taken;
    if (nodes === undefined) return;
    this.#taken = undefined;
    // Taken back in front of anything queued since, for the next commit.
    for (const node of this.#takenInputs) this.#inputsWritten.delete(node);
    for (const node of this.#queue) nodes.add(node);
    this.#queue = nodes;
    if (this.#takenPuts.length > 0) this.#cachePuts = [...this.#takenPuts, ...this.#cachePuts];
    this.#finish ??= this.#takenFinish;
    this.#takenFinish = undefined;
  }

  /** A node's row (and the values too large to keep in it). */
  #row(node: NodeRecord, batch: SqliteBatch, inputsTaken: NodeRecord[]): void {
    // A replayed node's record is the one written when it first ran.
    if (node.replayed) return;
    const s = this.#store.statements;
    const error = node.error === undefined ? null : JSON.stringify(errorRecord(node.error));
    let inputs: string | null = null;
    // (Read once: a node may build its inputs on each read.)
    const values = this.#inputsWritten.has(node) ? undefined : node.inputs;
    if (values !== undefined) {
      // Inputs are written once, when first known; later upserts keep them.
      this.#inputsWritten.add(node);
      inputsTaken.push(node);
      const sources = node.inputSources();
      const list: StoredInput[] = [];
      for (const name of Object.keys(values)) {
        const from = sources.get(name);
        const entry: StoredInput = this.#input(node, values, name, from, batch);
        if (from !== undefined) entry.sources = from;
        list.push(entry);
      }
      inputs = JSON.stringify(list);
    }
    let outputs: string | null = null;
    if (node.status === "succeeded") {
      const hashes = new Map<string, string>();
      const stored: StoredOutput[] = [];
      for (const o of outputsOf(node)) {
        const out: StoredOutput = { name: o.name, ...this.#value(o.value, batch) };
        hashes.set(o.name, out.hash);
        stored.push(out);
      }
      this.#outputHashes.set(node.id, hashes);
      outputs = JSON.stringify(stored);
    }
    const added = this.#added.get(node) ?? 0;
    if (added > 0xffffffff) {
      throw new ValidationError(
        `Run '${this.runId}' has more than 4,294,967,295 nodes, the most a run can record; split the work into several runs`,
      );
    }
    batch.add(s.upsertNode!, [
      this.#keyBase + BigInt(added),
      this.runId,
      node.id,
      node.parentId ?? null,
      node.seq,
      node.entity,
      node.kind,
      node.version ?? null,
      node.bare ? 1 : 0,
      node.status,
      node.attempt,
      node.startedAt ?? null,
      node.finishedAt ?? null,
      node.argsDigest(),
      node.describeCall(),
      inputs,
      outputs,
      error,
      node.cachedFrom ?? null,
      added,
    ]);
  }

  /** A value of a node's row: its hash, and its body inline or, when large, in the values table. */
  #value(value: unknown, batch: SqliteBatch): { hash: string; body?: string } {
    const v = this.#store.storeValue(value);
    if (v.stored === undefined) return v;
    batch.add(this.#store.statements.putValue!, [v.hash, v.stored, v.stored.length]);
    return { hash: v.hash };
  }

  /** An input: one taken whole from a node output reuses that output's hash (its body is with the producer). */
  #input(
    node: NodeRecord,
    values: Readonly<Record<string, unknown>>,
    name: string,
    from: readonly InputSource[] | undefined,
    batch: SqliteBatch,
  ): StoredInput {
    if (from !== undefined && from.length === 1) {
      const whole = node.wholeSource(name);
      if (whole !== undefined) {
        const hash = this.#outputHashes.get(whole.node)?.get(whole.output);
        if (hash !== undefined) return { name, hash };
      }
    }
    return { name, ...this.#value(values[name], batch) };
  }

  cacheGet(key: string): CacheHit | undefined {
    const s = this.#store.statements;
    const row = s.getCache!.get(key) as Row | undefined;
    if (row === undefined) return undefined;
    const value = s.getValue!.get(row.value_hash as string) as Row | undefined;
    if (value === undefined) return undefined;
    return { value: decodeValue(value.body as string), from: row.source as string };
  }

  cachePut(key: string, node: NodeRecord): void {
    this.#cachePuts.push([key, node]);
    this.#arm();
  }

  #cacheRow(key: string, node: NodeRecord, batch: SqliteBatch): void {
    const s = this.#store.statements;
    const v = this.#store.valueRow(node.value);
    batch.add(s.putValue!, [v.hash, v.body, v.body.length]);
    batch.add(s.putCache!, [
      key,
      node.entity,
      node.version ?? null,
      v.hash,
      `${this.runId}/${node.id}`,
      Date.now(),
    ]);
  }

  abandon(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = new Set();
    this.#cachePuts = [];
    this.#finish = undefined;
    this.#store.forget(this);
  }

  #finishRow(result: RunFinish, batch: SqliteBatch): void {
    const s = this.#store.statements;
    let outputsHash: string | null = null;
    if (result.status === "succeeded") {
      const v = this.#store.valueRow(result.outputs);
      batch.add(s.putValue!, [v.hash, v.body, v.body.length]);
      outputsHash = v.hash;
    }
    batch.add(s.finishRun!, [
      result.status,
      outputsHash,
      result.errors.length === 0 ? null : JSON.stringify(result.errors.map(errorRecord)),
      result.finishedAt,
      this.runId,
    ]);
  }

  /**
   * Records the end of the run: written with the last queued changes, in the next group commit.
   *
   * @param result How the run ended.
   * @returns Once it is durable.
   */
  finish(result: RunFinish): Promise<void> | undefined {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#finish = result;
    return this.#store.group.request(this);
  }
}
