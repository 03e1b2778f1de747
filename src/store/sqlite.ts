/**
 * The SQLite store (`sqlite:PATH`, the CLI's default): runs, node
 * executions, content-addressed values, the journal and the cache in one
 * file, on `node:sqlite` (built into Deno: no dependency, no flag).
 *
 * Writes are queued and committed in one transaction when someone is about
 * to act on a result (a dependent task starts, a flow resumes), when the
 * queue grows, and a few times a second: a result is durable before anything
 * depends on it, and at most the step in flight is repeated after a crash.
 * WAL mode lets another process (`weft runs`) read while a run writes.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  describeCause,
  ValidationError,
  type WeftError,
  type WeftErrorJson,
} from "../core/errors.ts";
import {
  inputSources,
  nodeOutputs as outputsOf,
  preview,
  promised,
  wholeValue,
} from "./provenance.ts";
import type {
  CacheHit,
  InputSource,
  JournalEntry,
  Lineage,
  NodeDetails,
  NodeRecord,
  NodeStatus,
  PreviousRun,
  RunDetails,
  RunFinish,
  RunSession,
  RunStart,
  RunStatus,
  RunSummary,
  Store,
} from "./mod.ts";
import { decodeValue, encodeValue, sha256 } from "../core/values.ts";

/** The schema version this code writes. */
export const SCHEMA_VERSION = 2;

/** Options of {@linkcode SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * SQLite's `synchronous` setting: `normal` survives a crash of the process
   * (WAL), `full` also a loss of power, at a cost per commit.
   * @default "normal"
   */
  synchronous?: "normal" | "full";
  /**
   * How long to wait for another process's lock before failing, in ms.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * The most queued changes before a commit is forced.
   * @default 2000
   */
  maxQueued?: number;
  /**
   * The longest a change waits in the queue before a commit, in ms.
   * @default 100
   */
  flushIntervalMs?: number;
}

const MIGRATIONS: string[] = [
  // 1: the first schema
  `CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    entity TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    inputs_hash TEXT NOT NULL,
    inputs_digest TEXT NOT NULL,
    outputs_hash TEXT,
    errors TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 1,
    script TEXT,
    weft_version TEXT NOT NULL
  );
  CREATE INDEX runs_started ON runs(started_at);
  CREATE TABLE nodes (
    run_id TEXT NOT NULL,
    id TEXT NOT NULL,
    parent_id TEXT,
    seq INTEGER NOT NULL,
    entity TEXT NOT NULL,
    kind TEXT NOT NULL,
    version TEXT,
    bare INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    args_digest TEXT NOT NULL,
    call TEXT NOT NULL,
    inputs TEXT,
    outputs TEXT,
    error TEXT,
    cached_from TEXT,
    replayed INTEGER NOT NULL DEFAULT 0,
    added INTEGER NOT NULL,
    -- Keyed by the order nodes were added, so that a run's rows are appended
    -- (one page per commit) rather than spread by their ids.
    PRIMARY KEY (run_id, added)
  ) WITHOUT ROWID;
  CREATE TABLE "values" (
    hash TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    size INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE cache (
    key TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    version TEXT,
    value_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX cache_task ON cache(task);`,
  // 2: a node's key is its run's number and its order in the run, as one
  // integer (run << 32 | added): a run's nodes are one range of rowids, and a
  // durable step inserts into an integer-keyed table (3-6 µs less per step
  // than the composite text key of schema 1, for the same lookups).
  `ALTER TABLE runs ADD COLUMN key INTEGER;
  UPDATE runs SET key = rowid;
  CREATE UNIQUE INDEX runs_key ON runs(key);
  CREATE TABLE nodes_v2 (
    key INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    id TEXT NOT NULL,
    parent_id TEXT,
    seq INTEGER NOT NULL,
    entity TEXT NOT NULL,
    kind TEXT NOT NULL,
    version TEXT,
    bare INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    args_digest TEXT NOT NULL,
    call TEXT NOT NULL,
    inputs TEXT,
    outputs TEXT,
    error TEXT,
    cached_from TEXT,
    replayed INTEGER NOT NULL DEFAULT 0,
    added INTEGER NOT NULL
  );
  INSERT INTO nodes_v2 (key, run_id, id, parent_id, seq, entity, kind, version, bare, status, attempts, started_at, finished_at, args_digest, call, inputs, outputs, error, cached_from, replayed, added)
    SELECT (r.key << 32) + n.added, n.run_id, n.id, n.parent_id, n.seq, n.entity, n.kind, n.version, n.bare, n.status, n.attempts, n.started_at, n.finished_at, n.args_digest, n.call, n.inputs, n.outputs, n.error, n.cached_from, n.replayed, n.added FROM nodes AS n JOIN runs AS r ON r.id = n.run_id;
  DROP TABLE nodes;
  ALTER TABLE nodes_v2 RENAME TO nodes;`,
];

type Row = Record<string, string | number | bigint | null | Uint8Array>;

/** A store in one SQLite file. */
export class SqliteStore implements Store {
  /** How the store was opened. */
  readonly url: string;
  readonly #db: DatabaseSync;
  readonly #options: Required<SqliteStoreOptions>;
  readonly #s: Record<string, StatementSync>;
  #closed = false;
  #sessions = new Set<SqliteSession>();

  private constructor(path: string, db: DatabaseSync, options: Required<SqliteStoreOptions>) {
    this.url = `sqlite:${path}`;
    this.#db = db;
    this.#options = options;
    this.#s = prepareAll(db);
  }

  /**
   * Opens (and if needed creates or migrates) a store file.
   *
   * @param path The file; its directory must exist.
   * @param options Durability and locking.
   * @returns The store.
   * @throws {ValidationError} For a file that is not a weft store, one written by a newer weft, or one locked too long.
   */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const opts: Required<SqliteStoreOptions> = {
      synchronous: options.synchronous ?? "normal",
      busyTimeoutMs: options.busyTimeoutMs ?? 5000,
      maxQueued: options.maxQueued ?? 2000,
      flushIntervalMs: options.flushIntervalMs ?? 100,
    };
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (e) {
      throw storeError(path, e);
    }
    try {
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs))}`);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(`PRAGMA synchronous = ${opts.synchronous === "full" ? "FULL" : "NORMAL"}`);
      migrate(db, path);
    } catch (e) {
      db.close();
      throw storeError(path, e);
    }
    return new SqliteStore(path, db, opts);
  }

  /**
   * Starts or resumes recording a run.
   *
   * @param start The run.
   * @returns Its session, with what was recorded before under the id.
   */
  openRun(start: RunStart): RunSession {
    this.#check();
    const s = this.#s;
    const row = s.getRun!.get(start.runId) as Row | undefined;
    let previous: PreviousRun | undefined;
    if (row !== undefined) {
      previous = {
        status: row.status as RunStatus,
        entity: row.entity as string,
        inputsDigest: row.inputs_digest as string,
        outputs: row.outputs_hash === null ? undefined : this.#value(row.outputs_hash as string),
        errors: row.errors === null ? [] : JSON.parse(row.errors as string),
        startedAt: Number(row.started_at),
        finishedAt: row.finished_at === null ? undefined : Number(row.finished_at),
        journal: row.status === "succeeded" ? new Map() : this.#journal(start.runId),
      };
      if (
        row.status !== "succeeded" && previous.entity === start.entity &&
        previous.inputsDigest === start.inputsDigest
      ) {
        s.resumeRun!.run(start.weftVersion, start.runId);
      }
    } else {
      this.#tx(() => {
        const inputsHash = this.#putValue(start.inputs);
        s.insertRun!.run(
          start.runId,
          start.entity,
          start.kind,
          "running",
          inputsHash,
          start.inputsDigest,
          start.startedAt,
          start.script ?? null,
          start.weftVersion,
        );
      });
    }
    // Nodes run again in a resumed run update their earlier rows.
    const order = new Map<string, number>();
    if (previous !== undefined) {
      for (const r of s.nodeOrder!.all(start.runId) as Row[]) {
        order.set(r.id as string, Number(r.added));
      }
    }
    const key = (s.runKey!.get(start.runId) as Row).key as number;
    const session = new SqliteSession(this, start.runId, BigInt(key) << 32n, previous, order);
    this.#sessions.add(session);
    return session;
  }

  /** Closes the file (after committing what is queued). */
  close(): void {
    if (this.#closed) return;
    for (const session of this.#sessions) session.flush();
    this.#closed = true;
    this.#db.close();
  }

  // --- used by sessions ------------------------------------------------------

  /** @internal */
  get options(): Required<SqliteStoreOptions> {
    return this.#options;
  }

  /** @internal */
  forget(session: SqliteSession): void {
    this.#sessions.delete(session);
  }

  /** @internal Runs `fn` without a transaction of its own (each statement commits), mapping errors. */
  direct(fn: () => void): void {
    this.#check();
    try {
      fn();
    } catch (e) {
      throw storeError(this.url.slice("sqlite:".length), e);
    }
  }

  /** @internal Runs `fn` in a transaction. */
  tx(fn: () => void): void {
    this.#check();
    this.#tx(fn);
  }

  #tx(fn: () => void): void {
    const s = this.#s;
    try {
      s.begin!.run();
    } catch (e) {
      throw storeError(this.url.slice("sqlite:".length), e);
    }
    try {
      fn();
      s.commit!.run();
    } catch (e) {
      try {
        s.rollback!.run();
      } catch {
        // the transaction is already gone
      }
      throw storeError(this.url.slice("sqlite:".length), e);
    }
  }

  /** @internal Stores a value once; returns its hash. */
  putValue(value: unknown): string {
    return this.#putValue(value);
  }

  #putValue(value: unknown): string {
    const body = encodeValue(value);
    const canonical = encodeValue(value, true);
    const hash = sha256(canonical);
    this.#s.putValue!.run(hash, body, body.length);
    return hash;
  }

  /**
   * @internal Hashes a value for a node's row: a small body stays inline there, a larger one goes to the
   * values table, once.
   */
  storeValue(value: unknown): { hash: string; body?: string } {
    const canonical = encodeValue(value, true);
    // Only objects can differ between the faithful and the canonical (key-sorted) encoding.
    const body = typeof value === "object" && value !== null ? encodeValue(value) : canonical;
    const hash = sha256(canonical);
    if (body.length <= INLINE_MAX) return { hash, body };
    this.#s.putValue!.run(hash, body, body.length);
    return { hash };
  }

  /** @internal */
  statements(): Record<string, StatementSync> {
    return this.#s;
  }

  #value(hash: string): unknown {
    const body = this.#body(hash);
    if (body === undefined) throw new ValidationError(`The store has no value ${hash}`);
    return decodeValue(body);
  }

  #journal(runId: string): Map<string, JournalEntry> {
    const journal = new Map<string, JournalEntry>();
    for (const n of this.#s.runNodes!.all(runId) as Row[]) {
      const status = n.status as NodeStatus;
      const entry: JournalEntry = {
        nodeId: n.id as string,
        entity: n.entity as string,
        argsDigest: n.args_digest as string,
        call: n.call as string,
        status,
        attempt: Number(n.attempts),
        startedAt: n.started_at === null ? undefined : Number(n.started_at),
        finishedAt: n.finished_at === null ? undefined : Number(n.finished_at),
        cachedFrom: (n.cached_from as string | null) ?? undefined,
        ...(status === "succeeded"
          ? {
            value: wholeValue(
              Number(n.bare) === 1,
              nodeOutputs(n).map((o) => ({ name: o.name, value: this.#outputValue(o) })),
            ),
          }
          : {}),
      };
      journal.set(`${(n.parent_id as string | null) ?? ""}#${n.seq}`, entry);
    }
    return journal;
  }

  #outputValue(o: StoredOutput): unknown {
    return o.body !== undefined ? decodeValue(o.body) : this.#value(o.hash);
  }

  /** A value's body by hash: from the values table, or inline in a node's outputs. */
  #body(hash: string): string | undefined {
    const row = this.#s.getValue!.get(hash) as Row | undefined;
    if (row !== undefined) return row.body as string;
    for (const n of this.#s.nodesWithText!.all(hash) as Row[]) {
      const found = [...nodeOutputs(n), ...nodeInputs(n)].find((o) =>
        o.hash === hash && o.body !== undefined
      );
      if (found?.body !== undefined) return found.body;
    }
    return undefined;
  }

  #check(): void {
    if (this.#closed) throw new ValidationError(`The store ${this.url} is closed`);
  }

  // --- queries ---------------------------------------------------------------

  /**
   * Runs, newest first.
   *
   * @param filter By status and entity; at most `limit` (default 50).
   * @returns The runs.
   */
  listRuns(
    filter: { status?: RunStatus; entity?: string; limit?: number } = {},
  ): Promise<RunSummary[]> {
    return promised(() => {
      this.#check();
      const rows = this.#s.listRuns!.all(
        filter.status ?? null,
        filter.status ?? null,
        filter.entity ?? null,
        filter.entity ?? null,
        filter.limit ?? 50,
      ) as Row[];
      return (rows.map(summary));
    });
  }

  /**
   * A run with its nodes and values.
   *
   * @param runId The run id.
   * @returns The run, or undefined.
   */
  getRun(runId: string): Promise<RunDetails | undefined> {
    return promised(() => {
      this.#check();
      const row = this.#s.getRun!.get(runId) as Row | undefined;
      if (row === undefined) return undefined;
      const nodes = (this.#s.runNodes!.all(runId) as Row[]).map((n) => this.#details(n));
      return ({
        ...summary(row),
        inputs: this.#value(row.inputs_hash as string) as Record<string, unknown>,
        outputs: row.outputs_hash === null ? undefined : this.#value(row.outputs_hash as string),
        outputsHash: (row.outputs_hash as string | null) ?? undefined,
        errors: row.errors === null ? [] : JSON.parse(row.errors as string),
        nodes,
      });
    });
  }

  #details(n: Row): NodeDetails {
    const runId = n.run_id as string;
    const id = n.id as string;
    const inputs = nodeInputs(n).map((i) => ({
      name: i.name,
      hash: i.hash,
      sources: i.sources ?? [],
    }));
    const outputs = nodeOutputs(n).map((o) => ({ name: o.name, hash: o.hash }));
    return {
      runId,
      id,
      parentId: (n.parent_id as string | null) ?? undefined,
      seq: Number(n.seq),
      entity: n.entity as string,
      kind: n.kind as string,
      version: (n.version as string | null) ?? undefined,
      status: n.status as NodeStatus,
      attempts: Number(n.attempts),
      startedAt: n.started_at === null ? undefined : Number(n.started_at),
      finishedAt: n.finished_at === null ? undefined : Number(n.finished_at),
      error: n.error === null ? undefined : JSON.parse(n.error as string) as WeftErrorJson,
      cachedFrom: (n.cached_from as string | null) ?? undefined,
      replayed: Number(n.replayed) === 1,
      call: n.call as string,
      inputs,
      outputs,
    };
  }

  /**
   * A stored value.
   *
   * @param hash Its hash, or a unique prefix of at least 8 hex digits.
   * @returns The value, or undefined.
   */
  getValue(hash: string): Promise<{ hash: string; value: unknown } | undefined> {
    return promised(() => {
      this.#check();
      const full = this.#resolveHash(hash);
      if (full === undefined) return undefined;
      return ({ hash: full, value: this.#value(full) });
    });
  }

  #resolveHash(ref: string): string | undefined {
    if (!/^[0-9a-f]{8,64}$/.test(ref)) return undefined;
    if (ref.length === 64) return this.#body(ref) === undefined ? undefined : ref;
    const found = new Set<string>();
    for (const r of this.#s.valuePrefix!.all(`${ref}%`) as Row[]) found.add(r.hash as string);
    for (const n of this.#s.nodesWithText!.all(ref) as Row[]) {
      for (const o of nodeOutputs(n)) if (o.hash.startsWith(ref)) found.add(o.hash);
      for (const i of nodeInputs(n)) {
        if (i.hash.startsWith(ref) && this.#body(i.hash) !== undefined) found.add(i.hash);
      }
    }
    if (found.size > 1) {
      throw new ValidationError(
        `The value prefix ${ref} is ambiguous (${found.size} values); give more digits`,
      );
    }
    return [...found][0];
  }

  /**
   * The lineage of a value: the executions that produced it and, recursively, from what.
   *
   * @param ref A value hash (or prefix), or `RUN_ID/NODE_ID[/OUTPUT]`.
   * @param depth How many producing steps to follow back (default 10).
   * @returns The lineage tree.
   * @throws {ValidationError} When the reference matches nothing.
   */
  lineage(ref: string, depth = 10): Promise<Lineage> {
    return promised(() => {
      this.#check();
      const hash = this.#refToHash(ref);
      return (this.#lineage(hash, depth, new Set()));
    });
  }

  #refToHash(ref: string): string {
    if (ref.includes("/")) {
      const [runId, ...rest] = ref.split("/");
      const run = this.#s.getRun!.get(runId!) as Row | undefined;
      if (run === undefined) {
        throw new ValidationError(`No run '${runId}' in ${this.url}; list runs with weft runs`);
      }
      // The node id may itself hold slashes (inner/add): try the longest node id first.
      for (let cut = rest.length; cut >= 1; cut--) {
        const nodeId = rest.slice(0, cut).join("/");
        const output = rest.slice(cut).join("/");
        const mine = nodeOutputs(this.#s.getNode!.get(runId!, nodeId) as Row | undefined);
        if (mine.length === 0) continue;
        const chosen = output === ""
          ? (mine.length === 1 ? mine[0] : undefined)
          : mine.find((o) => o.name === output);
        if (chosen === undefined) {
          throw new ValidationError(
            `Node '${nodeId}' of run '${runId}' has outputs ${
              mine.map((o) => o.name).join(", ")
            }; name one: ${runId}/${nodeId}/${mine[0]!.name}`,
          );
        }
        return chosen.hash;
      }
      throw new ValidationError(
        `Run '${runId}' has no node '${
          rest.join("/")
        }' with a recorded output; see weft show ${runId}`,
      );
    }
    const hash = this.#resolveHash(ref);
    if (hash === undefined) {
      throw new ValidationError(
        `No value ${ref} in ${this.url}; give a value hash (or 8+ digit prefix) or RUN_ID/NODE_ID/OUTPUT`,
      );
    }
    return hash;
  }

  #lineage(
    hash: string,
    depth: number,
    seen: Set<string>,
    from?: { runId: string; sources: InputSource[] },
  ): Lineage {
    const body = this.#body(hash);
    const text = body === undefined ? "?" : preview(decodeValue(body));
    const runInputOf = (this.#s.runsWithInputs!.all(hash) as Row[]).map((r) => r.id as string);
    if (depth <= 0 || seen.has(hash)) {
      return { hash, preview: text, producedBy: [], runInputOf, truncated: true };
    }
    seen.add(hash);
    const step = (
      runId: string,
      nodeId: string,
      entity: string,
      output: string,
      status: NodeStatus,
    ) => ({
      runId,
      nodeId,
      entity,
      output,
      status,
      inputs: nodeInputs(this.#s.getNode!.get(runId, nodeId) as Row | undefined).map((i) => ({
        name: i.name,
        lineage: this.#lineage(i.hash, depth - 1, seen, { runId, sources: i.sources ?? [] }),
      })),
    });
    let producedBy = (this.#s.nodesWithText!.all(hash) as Row[]).flatMap((n) =>
      nodeOutputs(n).filter((o) => o.hash === hash && n.status === "succeeded").map((o) =>
        step(n.run_id as string, n.id as string, n.entity as string, o.name, n.status as NodeStatus)
      )
    ).slice(0, 20);
    if (producedBy.length === 0 && from !== undefined) {
      // A value assembled from several node outputs (an array or object of handles): follow each.
      producedBy = from.sources.flatMap((src) => {
        const node = this.#s.getNode!.get(from.runId, src.node) as Row | undefined;
        if (node === undefined) return [];
        const output = src.output ?? nodeOutputs(node)[0]?.name ?? "o0";
        return [
          step(from.runId, src.node, node.entity as string, output, node.status as NodeStatus),
        ];
      });
    }
    seen.delete(hash);
    return { hash, preview: text, producedBy, runInputOf, truncated: false };
  }

  /**
   * Every recorded execution of a task, newest first.
   *
   * @param task The task name.
   * @returns The executions.
   */
  executions(task: string): Promise<NodeDetails[]> {
    return promised(() => {
      this.#check();
      return ((this.#s.executions!.all(task) as Row[]).map((n) => this.#details(n)));
    });
  }

  /**
   * Empties the cache.
   *
   * @param task Only this task's entries.
   * @returns How many entries were removed.
   */
  clearCache(task?: string): Promise<number> {
    return promised(() => {
      this.#check();
      const result = task === undefined
        ? this.#s.clearCache!.run()
        : this.#s.clearCacheTask!.run(task);
      return (Number(result.changes));
    });
  }
}

/** The queue and journal of one run in a SQLite store. */
class SqliteSession implements RunSession {
  readonly previous: PreviousRun | undefined;
  readonly #store: SqliteStore;
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
  #outputHashes = new Map<NodeRecord, Map<string, string>>();
  #inputsWritten = new Set<NodeRecord>();
  #added = new Map<NodeRecord, number>();
  readonly #earlier: Map<string, number>;

  constructor(
    store: SqliteStore,
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
    const error = node.error === undefined ? null : JSON.stringify(errorJson(node.error));
    let inputs: string | null = null;
    // (Read once: a node may build its inputs on each read.)
    const values = this.#inputsWritten.has(node) ? undefined : node.inputs;
    if (values !== undefined) {
      // Inputs are written once, when first known; later upserts keep them.
      this.#inputsWritten.add(node);
      const sources = inputSources(node.args);
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
      this.#outputHashes.set(node, hashes);
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
    from: InputSource[] | undefined,
  ): StoredInput {
    const arg = node.args[name];
    if (from !== undefined && from.length === 1 && typeof arg === "object" && arg !== null) {
      const slot =
        (arg as { [k: symbol]: { source: NodeRecord; output: string | undefined } | undefined })[
          Symbol.for("weft.ref")
        ];
      if (slot !== undefined) {
        const producer = slot.source;
        const hashes = this.#outputHashes.get(producer);
        const key = slot.output ?? producer.outputNames()[0];
        const hash = key === undefined || (slot.output === undefined && !producer.bare)
          ? undefined
          : hashes?.get(key);
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
        result.errors.length === 0 ? null : JSON.stringify(result.errors.map(errorJson)),
        result.finishedAt,
        this.#runId,
      );
    });
    this.#store.forget(this);
  }
}

/** Output bodies up to this many characters are kept in the node's row rather than the values table. */
const INLINE_MAX = 64;

/** An output as the `nodes.outputs` column keeps it. */
interface StoredOutput {
  name: string;
  hash: string;
  /** The encoded value, when small enough to keep inline. */
  body?: string;
}

function nodeOutputs(row: Row | undefined): StoredOutput[] {
  if (row === undefined || row.outputs === null || row.outputs === undefined) return [];
  return JSON.parse(row.outputs as string) as StoredOutput[];
}

/** An input as the `nodes.inputs` column keeps it. */
interface StoredInput {
  name: string;
  hash: string;
  /** The encoded value, when small enough to keep inline (and not taken from another node). */
  body?: string;
  sources?: InputSource[];
}

function nodeInputs(row: Row | undefined): StoredInput[] {
  if (row === undefined || row.inputs === null || row.inputs === undefined) return [];
  return JSON.parse(row.inputs as string) as StoredInput[];
}

function errorJson(e: WeftError): WeftErrorJson {
  const json = e.toJSON();
  if (json.cause === undefined && e.cause !== undefined) json.cause = describeCause(e.cause);
  return json;
}

function summary(row: Row): RunSummary {
  return {
    id: row.id as string,
    entity: row.entity as string,
    kind: row.kind as string,
    status: row.status as RunStatus,
    startedAt: Number(row.started_at),
    finishedAt: row.finished_at === null ? undefined : Number(row.finished_at),
    attempts: Number(row.attempts),
    script: (row.script as string | null) ?? undefined,
    weftVersion: row.weft_version as string,
  };
}

function migrate(db: DatabaseSync, path: string): void {
  db.exec("CREATE TABLE IF NOT EXISTS weft_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const row = db.prepare("SELECT value FROM weft_meta WHERE key = 'schema_version'").get() as
    | Row
    | undefined;
  const current = row === undefined ? 0 : Number(row.value);
  if (current > SCHEMA_VERSION) {
    throw new ValidationError(
      `The store ${path} was written by a newer weft (schema ${current}; this weft reads up to ${SCHEMA_VERSION}); upgrade weft or use another store`,
    );
  }
  if (current === SCHEMA_VERSION) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    // Another process may have migrated while this one waited for the lock.
    const again = db.prepare("SELECT value FROM weft_meta WHERE key = 'schema_version'").get() as
      | Row
      | undefined;
    for (let v = again === undefined ? 0 : Number(again.value); v < SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v]!);
    }
    db.prepare("INSERT OR REPLACE INTO weft_meta (key, value) VALUES ('schema_version', ?)").run(
      String(SCHEMA_VERSION),
    );
    db.exec("COMMIT");
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}

/**
 * The node columns rows are read with: every one but \`key\`, which can exceed
 * what a JavaScript number holds exactly.
 */
const NODE_COLUMNS =
  "run_id, id, parent_id, seq, entity, kind, version, bare, status, attempts, started_at, finished_at, args_digest, call, inputs, outputs, error, cached_from, replayed, added";

/** The rows of run \`?1\`: its keys run from its number << 32 to the next number's. */
const RUN_RANGE =
  "key BETWEEN (SELECT key FROM runs WHERE id = ?1) << 32 AND ((SELECT key FROM runs WHERE id = ?1) << 32) + 4294967295";

function prepareAll(db: DatabaseSync): Record<string, StatementSync> {
  const sql: Record<string, string> = {
    begin: "BEGIN",
    commit: "COMMIT",
    rollback: "ROLLBACK",
    getRun: "SELECT * FROM runs WHERE id = ?",
    insertRun:
      "INSERT INTO runs (id, entity, kind, status, inputs_hash, inputs_digest, started_at, script, weft_version, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(key), 0) + 1 FROM runs))",
    runKey: "SELECT key FROM runs WHERE id = ?",
    resumeRun:
      "UPDATE runs SET status = 'running', finished_at = NULL, errors = NULL, attempts = attempts + 1, weft_version = ? WHERE id = ?",
    finishRun:
      "UPDATE runs SET status = ?, outputs_hash = ?, errors = ?, finished_at = ? WHERE id = ?",
    listRuns:
      "SELECT * FROM runs WHERE (? IS NULL OR status = ?) AND (? IS NULL OR entity = ?) ORDER BY started_at DESC, id DESC LIMIT ?",
    upsertNode:
      `INSERT INTO nodes (key, run_id, id, parent_id, seq, entity, kind, version, bare, status, attempts, started_at,
        finished_at, args_digest, call, inputs, outputs, error, cached_from, added)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET id = excluded.id, parent_id = excluded.parent_id, seq = excluded.seq, entity = excluded.entity,
        kind = excluded.kind, version = excluded.version, bare = excluded.bare, status = excluded.status,
        attempts = excluded.attempts, started_at = excluded.started_at, finished_at = excluded.finished_at,
        args_digest = excluded.args_digest, call = excluded.call,
        inputs = COALESCE(excluded.inputs, nodes.inputs), outputs = excluded.outputs, error = excluded.error,
        cached_from = excluded.cached_from, replayed = 0`,
    runNodes: `SELECT ${NODE_COLUMNS} FROM nodes WHERE ${RUN_RANGE} ORDER BY key`,
    getNode: `SELECT ${NODE_COLUMNS} FROM nodes WHERE ${RUN_RANGE} AND id = ?2`,
    nodeOrder: `SELECT id, added FROM nodes WHERE ${RUN_RANGE}`,
    nodesWithText:
      `SELECT ${NODE_COLUMNS} FROM nodes WHERE instr(outputs, ?1) > 0 OR instr(inputs, ?1) > 0 ORDER BY started_at DESC LIMIT 200`,
    putValue: 'INSERT OR IGNORE INTO "values" (hash, body, size) VALUES (?, ?, ?)',
    getValue: 'SELECT body FROM "values" WHERE hash = ?',
    valuePrefix: 'SELECT hash FROM "values" WHERE hash LIKE ? LIMIT 2',
    runsWithInputs: "SELECT id FROM runs WHERE inputs_hash = ? ORDER BY started_at DESC LIMIT 20",
    executions:
      `SELECT ${NODE_COLUMNS} FROM nodes WHERE entity = ? AND kind = 'task' ORDER BY started_at DESC, added DESC`,
    getCache: "SELECT value_hash, source FROM cache WHERE key = ?",
    putCache:
      "INSERT OR REPLACE INTO cache (key, task, version, value_hash, source, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    clearCache: "DELETE FROM cache",
    clearCacheTask: "DELETE FROM cache WHERE task = ?",
  };
  const out: Record<string, StatementSync> = {};
  for (const [name, text] of Object.entries(sql)) out[name] = db.prepare(text);
  return out;
}

/** Turns SQLite's errors into ones that say what to do. */
function storeError(path: string, e: unknown): Error {
  if (e instanceof ValidationError) return e;
  const message = (e as Error)?.message ?? String(e);
  if (/file is not a database|malformed|disk image is malformed/i.test(message)) {
    return new ValidationError(
      `${path} is not a weft store (or it is corrupt): ${message}; point --store at another file, or move this one away`,
    );
  }
  if (/database is locked|SQLITE_BUSY/i.test(message)) {
    return new ValidationError(
      `The store ${path} is locked by another process that holds it too long; wait for it to finish or use another store`,
    );
  }
  if (/unable to open|Requires (read|write) access/i.test(message)) {
    return new ValidationError(`Cannot open the store ${path}: ${message}`);
  }
  return e instanceof Error ? e : new Error(message);
}
