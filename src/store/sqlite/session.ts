/**
 * A run's session in the SQLite store: changes are queued and committed in
 * one transaction when someone is about to act on a result, when the queue
 * grows, and a few times a second.
 *
 * @module
 */

import { ValidationError } from "../../core/errors.ts";
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
import type { Row, StoredInput, StoredOutput } from "./rows.ts";
import type { StatementSync } from "node:sqlite";

/** What a session needs of its store (the `SqliteStore` provides it). */
export interface SessionStore {
  /** How the store was opened. */
  readonly url: string;
  /** Its commit settings. */
  readonly options: { readonly maxQueued: number; readonly flushIntervalMs: number };
  /** The session ended. */
  forget(session: SqliteSession): void;
  /** Runs `fn` with each statement committing on its own. */
  direct(fn: () => void): void;
  /** Runs `fn` in a transaction. */
  tx(fn: () => void): void;
  /** Stores a value once; returns its hash. */
  putValue(value: unknown): string;
  /** Hashes a value for a node's row, storing a large body in the values table. */
  storeValue(value: unknown): { hash: string; body?: string };
  /** The prepared statements. */
  statements(): Record<string, StatementSync>;
}

/** The queue and journal of one run in a SQLite store. */
export class SqliteSession implements RunSession {
  readonly previous: PreviousRun | undefined;
  readonly #store: SessionStore;
  readonly #runId: string;
  /** The run's number << 32: a node's key is this plus its order in the run. */
  readonly #keyBase: bigint;
  #queue = new Set<NodeRecord>();
  #cachePuts: [string, NodeRecord][] = [];
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
    this.#runId = runId;
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
    if (this.#queue.size >= this.#store.options.maxQueued) this.flush();
    else this.#arm();
  }

  /**
   * Makes sure a timer will flush the queue soon. The timer is not reset by
   * each flush (that would cost two timer calls per step): when it fires
   * with nothing queued, it simply stops.
   */
  #arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#queue.size > 0 || this.#cachePuts.length > 0) {
        try {
          this.flush();
        } catch (e) {
          console.error(`weft: could not write to ${this.#store.url}: ${(e as Error).message}`);
        }
      }
    }, this.#store.options.flushIntervalMs);
  }

  pending(node: NodeRecord): boolean {
    return this.#queue.has(node);
  }

  flush(): void {
    if (this.#queue.size === 0 && this.#cachePuts.length === 0) return;
    const queue = this.#queue;
    const puts = this.#cachePuts;
    this.#queue = new Set();
    this.#cachePuts = [];
    try {
      if (queue.size === 1 && puts.length === 0) {
        // One node: its statements commit on their own (a large value first, then the row that
        // refers to it), which is what a transaction would add up to, for less.
        this.#store.direct(() => {
          for (const node of queue) this.#write(node);
        });
      } else {
        this.#store.tx(() => {
          for (const node of queue) this.#write(node);
          for (const [key, node] of puts) this.#writeCache(key, node);
        });
      }
    } catch (e) {
      // Keep what could not be written for the next attempt.
      for (const node of queue) this.#queue.add(node);
      this.#cachePuts.push(...puts);
      throw e;
    }
  }

  #write(node: NodeRecord): void {
    // A replayed node's record is the one written when it first ran.
    if (node.replayed) return;
    const error = node.error === undefined ? null : JSON.stringify(errorRecord(node.error));
    let inputs: string | null = null;
    // (Read once: a node may build its inputs on each read.)
    const values = this.#inputsWritten.has(node) ? undefined : node.inputs;
    if (values !== undefined) {
      // Inputs are written once, when first known; later upserts keep them.
      this.#inputsWritten.add(node);
      const sources = node.inputSources();
      const list: StoredInput[] = [];
      for (const name of Object.keys(values)) {
        const from = sources.get(name);
        const entry: StoredInput = this.#input(node, values, name, from);
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
        const out: StoredOutput = { name: o.name, ...this.#store.storeValue(o.value) };
        hashes.set(o.name, out.hash);
        stored.push(out);
      }
      this.#outputHashes.set(node.id, hashes);
      outputs = JSON.stringify(stored);
    }
    const added = this.#added.get(node) ?? 0;
    if (added > 0xffffffff) {
      throw new ValidationError(
        `Run '${this.#runId}' has more than 4,294,967,295 nodes, the most a run can record; split the work into several runs`,
      );
    }
    this.#store.statements().upsertNode!.run(
      this.#keyBase + BigInt(added),
      this.#runId,
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
    );
  }

  /** An input: one taken whole from a node output reuses that output's hash (its body is with the producer). */
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

  cacheGet(key: string): CacheHit | undefined {
    const s = this.#store.statements();
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

  #writeCache(key: string, node: NodeRecord): void {
    const hash = this.#store.putValue(node.value);
    this.#store.statements().putCache!.run(
      key,
      node.entity,
      node.version ?? null,
      hash,
      `${this.#runId}/${node.id}`,
      Date.now(),
    );
  }

  abandon(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = new Set();
    this.#cachePuts = [];
    this.#store.forget(this);
  }

  finish(result: RunFinish): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.flush();
    this.#store.tx(() => {
      const outputsHash = result.status === "succeeded"
        ? this.#store.putValue(result.outputs)
        : null;
      this.#store.statements().finishRun!.run(
        result.status,
        outputsHash,
        result.errors.length === 0 ? null : JSON.stringify(result.errors.map(errorRecord)),
        result.finishedAt,
        this.#runId,
      );
    });
    this.#store.forget(this);
  }
}
