/**
 * What a run's session does the same in the SQL stores (SQLite and
 * PostgreSQL): the run's bookkeeping (node order, change counter, log
 * numbers and kept lines), inputs written once, the reuse of an output's hash
 * for an input taken whole from it, cache entries queued, and signals asked
 * of the store. How the queue reaches the database is each store's own.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { InputSource, LogEntry, NodeRecord, PreviousRun, SignalMessage } from "./mod.ts";

/** The most `ctx.log` lines kept per node and attempt. */
const MAX_LOG_LINES = 10_000;
const LINES_CUT = `(${MAX_LOG_LINES - 1} lines kept; later lines of this attempt are not recorded)`;

/** The longest `ctx.log` line kept. */
const MAX_LOG_CHARS = 16_384;

/** The store's signals, as a session takes and watches them for its run. */
export interface RunSignals<Taken> {
  /** Takes the signal a node of the run receives. */
  takeSignal(runId: string, name: string, nodeId: string): Taken;
  /** Calls `wake` when a signal may have arrived for the run; returns a stop. */
  watchSignals(runId: string, wake: () => void): () => void;
}

/** A run as its store opens a session for it: the id, and what was recorded under it before. */
export interface OpenedRun {
  /** The run id. */
  readonly runId: string;
  /** The run as recorded before, when its id existed. */
  readonly previous: PreviousRun | undefined;
  /** The recorded nodes' orders by id (a resumed run's; empty for a new run). */
  readonly earlier: ReadonlyMap<string, number>;
  /**
   * Where a resumed run's change counter and log stand.
   *
   * @default {{ rev: 0, logSeq: -1 }}
   */
  readonly counters?: { readonly rev: number; readonly logSeq: number } | undefined;
}

/**
 * The part of a run's session the SQL stores share. A subclass queues what
 * it is told to (a node's row: {@linkcode SqlSession.enqueue}, a log line:
 * {@linkcode SqlSession.queueLog}) and makes sure that what is queued is
 * written soon ({@linkcode SqlSession.arm}); its row writer asks this class
 * for the bookkeeping columns.
 */
export abstract class SqlSession<
  Taken extends SignalMessage | undefined | Promise<SignalMessage | undefined>,
> {
  /** The run id. */
  readonly runId: string;
  /** The run as recorded before, when its id existed. */
  readonly previous: PreviousRun | undefined;
  /** The run's change counter: each node row written takes the next value. */
  protected rev: number;
  /** The number of the run's last log line. */
  protected logSeq: number;
  /** Cache entries waiting to be written: the key and the node whose value it keeps. */
  protected cachePuts: [string, NodeRecord][] = [];
  /** Recorded nodes' orders by id (a resumed run's): such a node keeps its order. */
  readonly #earlier: ReadonlyMap<string, number>;
  /** Orders of the nodes added to the run (the `added` column). */
  readonly #orders = new Map<NodeRecord, number>();
  /** The order a new node takes: the next after all recorded. */
  #nextOrder: number;
  /** The largest order the store's `added` column holds. */
  readonly #most: number;
  readonly #signals: RunSignals<Taken>;
  /** Log lines seen per node and attempt. */
  readonly #logCounts = new Map<string, number>();
  /**
   * Output hashes of nodes already written, so that their consumers reuse
   * them: a node with one output, its whole value, keeps the hash alone.
   */
  // (Maps rather than weak ones: the session lasts as long as the run, which
  // holds its nodes anyway, and a WeakMap costs more per entry to set and to
  // collect.)
  readonly #outputHashes = new Map<string, string | Map<string, string>>();
  /** Nodes whose inputs were written (inputs are written once, when first known). */
  readonly #inputsWritten = new Set<NodeRecord>();

  /**
   * @param run The run, and what was recorded under its id before.
   * @param most The largest node order the store's `added` column holds.
   * @param signals The store's signals.
   */
  constructor(run: OpenedRun, most: number, signals: RunSignals<Taken>) {
    this.runId = run.runId;
    this.previous = run.previous;
    this.rev = run.counters?.rev ?? 0;
    this.logSeq = run.counters?.logSeq ?? -1;
    this.#earlier = run.earlier;
    let max = -1;
    for (const v of run.earlier.values()) if (v > max) max = v;
    this.#nextOrder = max + 1;
    this.#most = most;
    this.#signals = signals;
  }

  /** Queues a node's row. */
  protected abstract enqueue(node: NodeRecord): void;

  /** Makes sure what is queued is written soon. */
  protected abstract arm(): void;

  /** Queues a log line kept by {@linkcode SqlSession.log}. */
  protected abstract queueLog(entry: LogEntry): void;

  /**
   * Records a new node: it takes the next order in the run (or the one it
   * had, in a resumed run).
   *
   * @param node The node.
   */
  added(node: NodeRecord): void {
    this.#orders.set(node, this.#earlier.get(node.id) ?? this.#nextOrder++);
    this.enqueue(node);
  }

  /**
   * Records a result in the cache, with the next write.
   *
   * @param key The cache key.
   * @param node The node whose value it keeps.
   */
  cachePut(key: string, node: NodeRecord): void {
    this.cachePuts.push([key, node]);
    this.arm();
  }

  /**
   * Records a task's `ctx.log` line, or a failed attempt that is tried again:
   * at most 10,000 lines per node and attempt (the last says so) of at most
   * 16,384 characters each are kept, so that a runaway logger does not fill
   * the store.
   *
   * @param line The line.
   */
  log(line: LogEntry): void {
    const entry = this.#kept(line);
    if (entry !== undefined) this.queueLog(entry);
  }

  /**
   * Takes the signal a node of this run receives.
   *
   * @param name The signal's name.
   * @param nodeId The receiving node.
   * @returns The signal, or undefined when none is there.
   */
  takeSignal(name: string, nodeId: string): Taken {
    return this.#signals.takeSignal(this.runId, name, nodeId);
  }

  /**
   * Calls `wake` when a signal may have arrived for this run.
   *
   * @param wake What to call.
   * @returns Stops watching.
   */
  watchSignals(wake: () => void): () => void {
    return this.#signals.watchSignals(this.runId, wake);
  }

  /**
   * A node's order for its row (`added`; 0 for one never added).
   *
   * @throws {ValidationError} When the run has more nodes than the column holds.
   */
  protected orderOf(node: NodeRecord): number {
    const added = this.#orders.get(node) ?? 0;
    if (added > this.#most) {
      throw new ValidationError(
        `Run '${this.runId}' has more than ${
          this.#most.toLocaleString("en-US")
        } nodes, the most a run can record; split the work into several runs`,
      );
    }
    return added;
  }

  /**
   * The inputs to write with a node's row: they are written once, when first
   * known (later upserts keep them).
   *
   * @returns The inputs, or undefined when they are written or not known yet.
   */
  protected takeInputs(node: NodeRecord): Readonly<Record<string, unknown>> | undefined {
    if (this.#inputsWritten.has(node)) return undefined;
    // (Read once: a node may build its inputs on each read.)
    const values = node.inputs;
    if (values !== undefined) this.#inputsWritten.add(node);
    return values;
  }

  /** The write that held a node's inputs failed: they are taken again with its next row. */
  protected untakeInputs(node: NodeRecord): void {
    this.#inputsWritten.delete(node);
  }

  /**
   * The `deps` column of a row written without inputs: while a node waits for
   * its inputs, the nodes it takes data from, so that a drawing of the run
   * links it at once (once its inputs are written, their sources say the same).
   *
   * @returns The ids as JSON, or null when it takes nothing or its inputs are written.
   */
  protected depsOf(node: NodeRecord): string | null {
    if (this.#inputsWritten.has(node)) return null;
    const ids: string[] = [];
    for (const list of node.inputSources().values()) {
      for (const src of list) if (!ids.includes(src.node)) ids.push(src.node);
    }
    return ids.length > 0 ? JSON.stringify(ids) : null;
  }

  /**
   * A node's outputs were written: its consumers reuse their hashes.
   *
   * @param nodeId The node.
   * @param hashes The hashes by output name, or the hash alone of a node
   * with one output, its whole value.
   */
  protected outputsWritten(nodeId: string, hashes: string | Map<string, string>): void {
    this.#outputHashes.set(nodeId, hashes);
  }

  /**
   * The hash of an input taken whole from a node output already written (its
   * body is with the producer), to reuse rather than hash the value again.
   *
   * @returns The hash, or undefined.
   */
  protected reusedHash(
    node: NodeRecord,
    name: string,
    from: readonly InputSource[] | undefined,
  ): string | undefined {
    if (from === undefined || from.length !== 1) return undefined;
    const whole = node.wholeSource(name);
    if (whole === undefined) return undefined;
    const known = this.#outputHashes.get(whole.node);
    return typeof known === "string" ? known : known?.get(whole.output);
  }

  /** What is kept of a log line: the line, a cut line, or nothing. */
  #kept(line: LogEntry): LogEntry | undefined {
    const key = `${line.attempt}#${line.nodeId}`;
    const count = (this.#logCounts.get(key) ?? 0) + 1;
    this.#logCounts.set(key, count);
    if (count > MAX_LOG_LINES) return undefined;
    if (count === MAX_LOG_LINES) return { ...line, kind: "log", message: LINES_CUT };
    if (line.message.length <= MAX_LOG_CHARS) return line;
    return {
      ...line,
      message: `${line.message.slice(0, MAX_LOG_CHARS)}… (cut at ${MAX_LOG_CHARS} characters)`,
    };
  }
}
