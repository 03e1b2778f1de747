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
import { describeCause, ValidationError, type WeftError, type WeftErrorJson } from "./errors.ts";
import { inputSources, nodeOutputs, preview, promised, wholeValue } from "./provenance.ts";
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
} from "./store.ts";
import { decodeValue, encodeValue, sha256 } from "./values.ts";

/** The schema version this code writes. */
export const SCHEMA_VERSION = 1;

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
    error TEXT,
    cached_from TEXT,
    replayed INTEGER NOT NULL DEFAULT 0,
    added INTEGER NOT NULL,
    PRIMARY KEY (run_id, id)
  );
  CREATE INDEX nodes_entity ON nodes(entity);
  CREATE TABLE node_inputs (
    run_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value_hash TEXT NOT NULL,
    sources TEXT,
    PRIMARY KEY (run_id, node_id, name)
  );
  CREATE INDEX node_inputs_value ON node_inputs(value_hash);
  CREATE TABLE node_outputs (
    run_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    value_hash TEXT NOT NULL,
    PRIMARY KEY (run_id, node_id, name)
  );
  CREATE INDEX node_outputs_value ON node_outputs(value_hash);
  CREATE TABLE "values" (
    hash TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    size INTEGER NOT NULL
  );
  CREATE TABLE cache (
    key TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    version TEXT,
    value_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX cache_task ON cache(task);`,
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
    const session = new SqliteSession(this, start.runId, previous);
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

  /** @internal */
  statements(): Record<string, StatementSync> {
    return this.#s;
  }

  #value(hash: string): unknown {
    const row = this.#s.getValue!.get(hash) as Row | undefined;
    if (row === undefined) throw new ValidationError(`The store has no value ${hash}`);
    return decodeValue(row.body as string);
  }

  #journal(runId: string): Map<string, JournalEntry> {
    const journal = new Map<string, JournalEntry>();
    const outputs = new Map<string, { name: string; value: unknown }[]>();
    for (const o of this.#s.runOutputs!.all(runId) as Row[]) {
      const list = outputs.get(o.node_id as string) ?? [];
      list.push({ name: o.name as string, value: decodeValue(o.body as string) });
      outputs.set(o.node_id as string, list);
    }
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
          ? { value: wholeValue(Number(n.bare) === 1, outputs.get(n.id as string) ?? []) }
          : {}),
      };
      journal.set(`${(n.parent_id as string | null) ?? ""}#${n.seq}`, entry);
    }
    return journal;
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
    const inputs = (this.#s.nodeInputs!.all(runId, id) as Row[]).map((i) => ({
      name: i.name as string,
      hash: i.value_hash as string,
      sources: i.sources === null ? [] : JSON.parse(i.sources as string) as InputSource[],
    }));
    const outputs = (this.#s.nodeOutputs!.all(runId, id) as Row[]).map((o) => ({
      name: o.name as string,
      hash: o.value_hash as string,
    }));
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
    if (ref.length === 64) return this.#s.getValue!.get(ref) === undefined ? undefined : ref;
    const rows = this.#s.valuePrefix!.all(`${ref}%`) as Row[];
    if (rows.length > 1) {
      throw new ValidationError(
        `The value prefix ${ref} is ambiguous (${rows.length} values); give more digits`,
      );
    }
    return rows[0]?.hash as string | undefined;
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
      const outputs = this.#s.runOutputs!.all(runId!) as Row[];
      // The node id may itself hold slashes (inner/add): try the longest node id first.
      for (let cut = rest.length; cut >= 1; cut--) {
        const nodeId = rest.slice(0, cut).join("/");
        const output = rest.slice(cut).join("/");
        const mine = outputs.filter((o) => o.node_id === nodeId);
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
        return chosen.value_hash as string;
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
    const body = this.#s.getValue!.get(hash) as Row | undefined;
    const text = body === undefined ? "?" : preview(decodeValue(body.body as string));
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
      inputs: (this.#s.nodeInputs!.all(runId, nodeId) as Row[]).map((i) => ({
        name: i.name as string,
        lineage: this.#lineage(i.value_hash as string, depth - 1, seen, {
          runId,
          sources: i.sources === null ? [] : JSON.parse(i.sources as string) as InputSource[],
        }),
      })),
    });
    let producedBy = (this.#s.producers!.all(hash) as Row[]).map((p) =>
      step(
        p.run_id as string,
        p.node_id as string,
        p.entity as string,
        p.name as string,
        p.status as NodeStatus,
      )
    );
    if (producedBy.length === 0 && from !== undefined) {
      // A value assembled from several node outputs (an array or object of handles): follow each.
      producedBy = from.sources.flatMap((src) => {
        const node = this.#s.getNode!.get(from.runId, src.node) as Row | undefined;
        if (node === undefined) return [];
        const outputs = this.#s.nodeOutputs!.all(from.runId, src.node) as Row[];
        const output = src.output ?? (outputs[0]?.name as string | undefined) ?? "o0";
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
  #queue = new Set<NodeRecord>();
  #cachePuts: [string, NodeRecord][] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #order = 0;
  /** Output hashes of nodes already written, so that their consumers reuse them. */
  #outputHashes = new WeakMap<NodeRecord, Map<string, string>>();
  #inputsWritten = new WeakSet<NodeRecord>();
  #added = new WeakMap<NodeRecord, number>();

  constructor(store: SqliteStore, runId: string, previous: PreviousRun | undefined) {
    this.#store = store;
    this.#runId = runId;
    this.previous = previous;
    this.#order = previous === undefined ? 0 : previous.journal.size;
  }

  added(node: NodeRecord): void {
    this.#added.set(node, this.#order++);
    this.#enqueue(node);
  }

  changed(node: NodeRecord): void {
    this.#enqueue(node);
  }

  #enqueue(node: NodeRecord): void {
    this.#queue.add(node);
    if (this.#queue.size >= this.#store.options.maxQueued) this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, this.#store.options.flushIntervalMs);
    }
  }

  pending(node: NodeRecord): boolean {
    return this.#queue.has(node);
  }

  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#queue.size === 0 && this.#cachePuts.length === 0) return;
    const queue = this.#queue;
    const puts = this.#cachePuts;
    this.#queue = new Set();
    this.#cachePuts = [];
    try {
      this.#store.tx(() => {
        for (const node of queue) this.#write(node);
        for (const [key, node] of puts) this.#writeCache(key, node);
      });
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
    const s = this.#store.statements();
    const error = node.error === undefined ? null : JSON.stringify(errorJson(node.error));
    s.upsertNode!.run(
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
      error,
      node.cachedFrom ?? null,
      this.#added.get(node) ?? 0,
    );
    if (node.inputs !== undefined && !this.#inputsWritten.has(node)) {
      this.#inputsWritten.add(node);
      const sources = inputSources(node.args);
      for (const name of Object.keys(node.inputs)) {
        const from = sources.get(name);
        const hash = this.#inputHash(node, name, from);
        s.putInput!.run(
          this.#runId,
          node.id,
          name,
          hash,
          from === undefined ? null : JSON.stringify(from),
        );
      }
    }
    if (node.status === "succeeded") {
      const hashes = new Map<string, string>();
      nodeOutputs(node).forEach((o, i) => {
        const hash = this.#store.putValue(o.value);
        hashes.set(o.name, hash);
        s.putOutput!.run(this.#runId, node.id, o.name, i, hash);
      });
      this.#outputHashes.set(node, hashes);
    }
  }

  /** An input taken whole from one node output reuses that output's hash. */
  #inputHash(node: NodeRecord, name: string, from: InputSource[] | undefined): string {
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
        if (hash !== undefined) return hash;
      }
    }
    return this.#store.putValue(node.inputs![name]);
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
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, this.#store.options.flushIntervalMs);
    }
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

function prepareAll(db: DatabaseSync): Record<string, StatementSync> {
  const sql: Record<string, string> = {
    begin: "BEGIN",
    commit: "COMMIT",
    rollback: "ROLLBACK",
    getRun: "SELECT * FROM runs WHERE id = ?",
    insertRun:
      "INSERT INTO runs (id, entity, kind, status, inputs_hash, inputs_digest, started_at, script, weft_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    resumeRun:
      "UPDATE runs SET status = 'running', finished_at = NULL, errors = NULL, attempts = attempts + 1, weft_version = ? WHERE id = ?",
    finishRun:
      "UPDATE runs SET status = ?, outputs_hash = ?, errors = ?, finished_at = ? WHERE id = ?",
    listRuns:
      "SELECT * FROM runs WHERE (? IS NULL OR status = ?) AND (? IS NULL OR entity = ?) ORDER BY started_at DESC, id DESC LIMIT ?",
    upsertNode:
      `INSERT INTO nodes (run_id, id, parent_id, seq, entity, kind, version, bare, status, attempts, started_at,
        finished_at, args_digest, call, error, cached_from, added)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (run_id, id) DO UPDATE SET parent_id = excluded.parent_id, seq = excluded.seq, entity = excluded.entity,
        kind = excluded.kind, version = excluded.version, bare = excluded.bare, status = excluded.status,
        attempts = excluded.attempts, started_at = excluded.started_at, finished_at = excluded.finished_at,
        args_digest = excluded.args_digest, call = excluded.call, error = excluded.error,
        cached_from = excluded.cached_from, replayed = 0`,
    runNodes: "SELECT * FROM nodes WHERE run_id = ? ORDER BY added, rowid",
    getNode: "SELECT * FROM nodes WHERE run_id = ? AND id = ?",
    runOutputs:
      'SELECT o.node_id, o.name, o.value_hash, v.body FROM node_outputs o JOIN "values" v ON v.hash = o.value_hash WHERE o.run_id = ? ORDER BY o.node_id, o.position',
    nodeInputs: "SELECT * FROM node_inputs WHERE run_id = ? AND node_id = ? ORDER BY rowid",
    nodeOutputs: "SELECT * FROM node_outputs WHERE run_id = ? AND node_id = ? ORDER BY position",
    putInput:
      "INSERT OR REPLACE INTO node_inputs (run_id, node_id, name, value_hash, sources) VALUES (?, ?, ?, ?, ?)",
    putOutput:
      "INSERT OR REPLACE INTO node_outputs (run_id, node_id, name, position, value_hash) VALUES (?, ?, ?, ?, ?)",
    putValue: 'INSERT OR IGNORE INTO "values" (hash, body, size) VALUES (?, ?, ?)',
    getValue: 'SELECT body FROM "values" WHERE hash = ?',
    valuePrefix: 'SELECT hash FROM "values" WHERE hash LIKE ? LIMIT 2',
    producers:
      "SELECT o.run_id, o.node_id, o.name, n.entity, n.status FROM node_outputs o JOIN nodes n ON n.run_id = o.run_id AND n.id = o.node_id WHERE o.value_hash = ? ORDER BY n.started_at DESC LIMIT 20",
    runsWithInputs: "SELECT id FROM runs WHERE inputs_hash = ? ORDER BY started_at DESC LIMIT 20",
    executions:
      "SELECT * FROM nodes WHERE entity = ? AND kind = 'task' ORDER BY started_at DESC, rowid DESC",
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
