/**
 * A run's session in the SQLite store: changes are queued, and the session
 * joins the store's group commit when someone is about to act on a result
 * (waiting for it), when the queue grows, and a few times a second; the end
 * of the run is written in the same commit as the last changes.
 *
 * @module
 */

import type { CommitMember, GroupCommit } from "../group_commit.ts";
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
import { type OpenedRun, SqlSession } from "../sql_session.ts";
import type { SqliteTime } from "./time.ts";
import { decodeValue } from "../../core/values.ts";
import type { SqliteBatch } from "./commit.ts";
import { INLINE_MAX } from "../rows.ts";
import type { Row } from "./rows.ts";
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
  /** Calls the session's `tick` soon (a few times a second). */
  soon(session: SqliteSession): void;
  /** Encodes and hashes a value for the values table. */
  valueRow(value: unknown): { hash: string; body: string };
  /** Hashes a value for a node's row: a small body stays inline, a larger one is returned as `stored`, for the values table. */
  storeValue(value: unknown): { hash: string; body?: string; stored?: string };
  /** The prepared statements. */
  readonly statements: Record<string, StatementSync>;
  /** Signals and sleeping runs. */
  readonly time: SqliteTime;
}

/** The largest key base whose node keys are exact as numbers (below 2^53). */
const MAX_NUMBER_KEY_BASE = 2 ** 53 - 2 ** 33;

/** A stored value's members in a row's JSON: `"hash":"…"` and, when inline, `"body":"…"`. */
function stored(v: { hash: string; body?: string }): string {
  return v.body === undefined
    ? `"hash":"${v.hash}"`
    : `"hash":"${v.hash}","body":${JSON.stringify(v.body)}`;
}

/** The queue and journal of one run in a SQLite store. */
export class SqliteSession extends SqlSession<SignalMessage | undefined>
  implements RunSession, CommitMember<SqliteBatch> {
  readonly #store: SessionStore;
  /** The run's number << 32: a node's key is this plus its order in the run. */
  readonly #keyBase: bigint;
  /** The same as a number (exact while the run's number is below 2^21). */
  readonly #keyNumber: number;
  #queue = new Set<NodeRecord>();
  #finish: RunFinish | undefined = undefined;
  /** The claim the end of the run gives up, if any. */
  #release: string | undefined = undefined;
  /** What the commit being written took, to take back if it fails. */
  #taken: Set<NodeRecord> | undefined = undefined;
  #takenPuts: [string, NodeRecord][] = [];
  /** Nodes whose inputs it holds (inputs are written once). */
  #takenInputs: NodeRecord[] = [];
  #takenFinish: RunFinish | undefined = undefined;
  /** An emptied queue, to take the queue's place when it is taken. */
  #spare: Set<NodeRecord> | undefined = undefined;
  /** Whether the store's timer will tick for this session. */
  #armed = false;
  /** Log lines waiting for the next commit, and those a commit took. */
  #logs: LogEntry[] = [];
  #takenLogs: LogEntry[] = [];

  /**
   * @param store The store.
   * @param keyBase The run's number << 32.
   * @param run The run, and what was recorded under its id before.
   */
  constructor(store: SessionStore, keyBase: bigint, run: OpenedRun) {
    super(run, 0xffffffff, store.time);
    this.#store = store;
    this.#keyBase = keyBase;
    this.#keyNumber = Number(keyBase);
  }

  changed(node: NodeRecord): void {
    this.enqueue(node);
  }

  protected enqueue(node: NodeRecord): void {
    // A replayed node's record is the one written when it first ran: nothing to write or wait for.
    if (node.replayed) return;
    this.#queue.add(node);
    if (this.#queue.size >= this.#store.options.maxQueued) {
      // A large queue is written now (with whatever else waits), not at the end of the turn.
      this.#store.group.note(this);
      this.#store.group.commitNow();
    } else this.arm();
  }

  /**
   * Makes sure the queue is committed soon: the store's one timer (not one
   * per run) ticks a few times a second for the sessions that asked. The
   * request is not renewed by each commit (that would cost a call per step):
   * a tick that finds nothing queued simply drops it.
   */
  protected arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    this.#store.soon(this);
  }

  /** The store's timer ticked: commit what is queued (without waiting). */
  tick(): void {
    this.#armed = false;
    if (this.#queue.size > 0 || this.cachePuts.length > 0 || this.#logs.length > 0) {
      this.#store.group.note(this);
    }
  }

  pending(node: NodeRecord): boolean {
    // (A replayed node was queued when added, before the journal replayed it: its record is durable.)
    return this.#queue.has(node) && !node.replayed;
  }

  /**
   * Joins the next group commit when anything is queued.
   *
   * @returns Resolves when the commit holding the queued changes is durable; undefined when
   * nothing is queued or it was committed at once.
   */
  flush(): Promise<void> | undefined {
    if (this.#queue.size === 0 && this.cachePuts.length === 0 && this.#logs.length === 0) {
      return undefined;
    }
    return this.#store.group.request(this);
  }

  /** Moves the queued changes (and the end of the run) into a commit's statements. */
  collect(batch: SqliteBatch): void {
    const nodes = this.#queue;
    const puts = this.cachePuts;
    const finish = this.#finish;
    const logs = this.#logs;
    const inputs: NodeRecord[] = [];
    const mark = batch.size;
    const logSeq = this.logSeq;
    try {
      for (const node of nodes) this.#row(node, batch, inputs);
      for (let i = 0; i < puts.length; i++) this.#cacheRow(puts[i]![0], puts[i]![1], batch);
      for (let i = 0; i < logs.length; i++) this.#logRow(logs[i]!, batch);
      if (finish !== undefined) this.#finishRow(finish, batch);
    } catch (e) {
      // Nothing was taken: everything stays queued.
      batch.truncate(mark);
      for (const node of inputs) this.untakeInputs(node);
      this.logSeq = logSeq;
      throw e;
    }
    // (The queue's two sets take turns: one is taken while the other fills.)
    this.#queue = this.#spare ?? new Set();
    this.#spare = undefined;
    if (puts.length > 0) this.cachePuts = [];
    if (logs.length > 0) this.#logs = [];
    this.#takenLogs = logs;
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
    this.#takenLogs = [];
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
    for (const node of this.#takenInputs) this.untakeInputs(node);
    for (const node of this.#queue) nodes.add(node);
    this.#queue = nodes;
    if (this.#takenPuts.length > 0) this.cachePuts = [...this.#takenPuts, ...this.cachePuts];
    if (this.#takenLogs.length > 0) {
      this.logSeq -= this.#takenLogs.length;
      this.#logs = [...this.#takenLogs, ...this.#logs];
      this.#takenLogs = [];
    }
    this.#finish ??= this.#takenFinish;
    this.#takenFinish = undefined;
  }

  /** A node's row (and the values too large to keep in it). */
  #row(node: NodeRecord, batch: SqliteBatch, inputsTaken: NodeRecord[]): void {
    // A replayed node's record is the one written when it first ran.
    if (node.replayed) return;
    const s = this.#store.statements;
    const error = node.error === undefined ? null : JSON.stringify(nodeErrorRecord(node));
    let inputs: string | null = null;
    const values = this.takeInputs(node);
    if (values !== undefined) {
      inputsTaken.push(node);
      const sources = node.inputSources();
      // (The JSON of a StoredInput[] written as text: a step writes one per node, and
      // objects built only to be stringified cost more than the text.)
      inputs = "[";
      for (const name in values) {
        const from = sources.get(name);
        if (inputs.length > 1) inputs += ",";
        inputs += `{"name":${JSON.stringify(name)},${this.#input(node, values, name, from, batch)}`;
        if (from !== undefined) inputs += `,"sources":${JSON.stringify(from)}`;
        inputs += "}";
      }
      inputs += "]";
    }
    let outputs: string | null = null;
    if (node.status === "succeeded") {
      const names = node.outputNames();
      if (node.bare && names.length === 1) {
        // One output, the whole value: its hash alone is kept for consumers.
        const v = this.#value(node.value, batch);
        this.outputsWritten(node.id, v.hash);
        outputs = `[{"name":${JSON.stringify(names[0]!)},${stored(v)}}]`;
      } else {
        const hashes = new Map<string, string>();
        outputs = "[";
        for (const o of outputsOf(node)) {
          const v = this.#value(o.value, batch);
          hashes.set(o.name, v.hash);
          if (outputs.length > 1) outputs += ",";
          outputs += `{"name":${JSON.stringify(o.name)},${stored(v)}}`;
        }
        outputs += "]";
        this.outputsWritten(node.id, hashes);
      }
    }
    const deps = inputs === null ? this.depsOf(node) : null;
    const added = this.orderOf(node);
    batch.add(s.upsertNode!, [
      // (A number while it is exact: a BigInt for each row costs an allocation.)
      this.#keyNumber < MAX_NUMBER_KEY_BASE
        ? this.#keyNumber + added
        : this.#keyBase + BigInt(added),
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
      ++this.rev,
      deps,
    ]);
  }

  protected queueLog(entry: LogEntry): void {
    this.#logs.push(entry);
    this.arm();
  }

  #logRow(entry: LogEntry, batch: SqliteBatch): void {
    if (this.logSeq >= 0xffffffff) return;
    this.logSeq++;
    batch.add(this.#store.statements.insertLog!, [
      this.#keyBase + BigInt(this.logSeq),
      entry.nodeId,
      entry.attempt,
      entry.time,
      entry.kind,
      entry.message,
      entry.error === undefined ? null : JSON.stringify(entry.error),
    ]);
  }

  /** A value of a node's row: its hash, and its body inline or, when large, in the values table. */
  #value(value: unknown, batch: SqliteBatch): { hash: string; body?: string } {
    const v = this.#store.storeValue(value);
    if (v.stored === undefined) return v;
    batch.add(this.#store.statements.putValue!, [v.hash, v.stored, v.stored.length]);
    return { hash: v.hash };
  }

  /**
   * An input's hash and body, as JSON members: one taken whole from a node
   * output reuses that output's hash (its body is with the producer).
   */
  #input(
    node: NodeRecord,
    values: Readonly<Record<string, unknown>>,
    name: string,
    from: readonly InputSource[] | undefined,
    batch: SqliteBatch,
  ): string {
    const hash = this.reusedHash(node, name, from);
    if (hash !== undefined) return `"hash":"${hash}"`;
    return stored(this.#value(values[name], batch));
  }

  cacheGet(key: string): CacheHit | undefined {
    const s = this.#store.statements;
    const row = s.getCache!.get(key) as Row | undefined;
    if (row === undefined) return undefined;
    const value = s.getValue!.get(row.value_hash as string) as Row | undefined;
    if (value === undefined) return undefined;
    return { value: decodeValue(value.body as string), from: row.source as string };
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
    this.#logs = [];
    this.#queue = new Set();
    this.cachePuts = [];
    this.#finish = undefined;
    this.#store.forget(this);
  }

  #finishRow(result: RunFinish, batch: SqliteBatch): void {
    const s = this.#store.statements;
    let outputsHash: string | null = null;
    let outputs: string | null = null;
    if (result.status === "succeeded") {
      const v = this.#store.valueRow(result.outputs);
      // Small outputs stay in the run's row; larger ones go to the values table, once.
      if (v.body.length <= INLINE_MAX) outputs = v.body;
      else batch.add(s.putValue!, [v.hash, v.body, v.body.length]);
      outputsHash = v.hash;
    }
    if (this.#release !== undefined) batch.add(s.releaseOwner!, [this.runId, this.#release]);
    batch.add(s.finishRun!, [
      result.status,
      outputsHash,
      outputs,
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
    this.#finish = result;
    return this.#store.group.request(this);
  }

  /**
   * Records the end of the run and gives up its claim, in the same commit.
   *
   * @param result How the run ended.
   * @param ownerId The claim to give up.
   * @returns Once it is durable.
   */
  finishAndRelease(result: RunFinish, ownerId: string): Promise<void> | undefined {
    this.#release = ownerId;
    return this.finish(result);
  }

  /**
   * Records the run as sleeping once its queued changes are durable; the session ends.
   *
   * @param info When it wakes and what it waits for.
   * @returns Once it is recorded.
   */
  async suspend(info: RunSuspend): Promise<void> {
    await this.flush();
    this.#store.time.suspend(this.runId, info);
    this.#store.forget(this);
  }
}
