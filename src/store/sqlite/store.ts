/**
 * The SQLite store (`sqlite:PATH`, the CLI's default): runs, node
 * executions, content-addressed values, the journal and the cache in one
 * file, on `node:sqlite` (built into Deno: no dependency, no flag).
 *
 * Writes are queued and committed when someone is about to act on a result
 * (a dependent task starts, a flow resumes), when the queue grows, and a few
 * times a second: a result is durable before anything depends on it, and at
 * most the step in flight is repeated after a crash. Commits are shared
 * (`../group_commit.ts`): everything any run of the process asks to make
 * durable in one turn of the event loop — results, run starts, run ends —
 * goes into one transaction.
 * WAL mode lets another process (`weft runs`) read while a run writes.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ValidationError } from "../../core/errors.ts";
import { keepAlive } from "../../core/timers.ts";
import { encodeValue, sha256 } from "../../core/values.ts";
import { lineageOf, type LineagePort, resolveHash } from "../lineage.ts";
import { lineagePort } from "./lineage_port.ts";
import * as owners from "./owners.ts";
import type {
  ClaimedOpen,
  ClaimResult,
  Lineage,
  LineageOptions,
  NodeDetails,
  PreviousRun,
  RenewResult,
  RunClaim,
  RunDetails,
  RunOwner,
  RunSession,
  RunStart,
  RunStatus,
  RunTakeover,
  Store,
} from "../mod.ts";
import { promised } from "../provenance.ts";
import { details, INLINE_MAX, summary } from "../rows.ts";
import { type Row, storeError } from "./rows.ts";
import { GroupCommit } from "../group_commit.ts";
import { resumable, RunStartMember, type SqliteBatch, sqliteWriter } from "./commit.ts";
import { openFile } from "./open_file.ts";
import { prepareAll } from "./schema.ts";
import { SqliteReads } from "./reads.ts";
import { SqliteBrowse, SqliteBrowseMethods } from "./browse.ts";
import { SqliteSession } from "./session.ts";
import { SqliteTime } from "./time.ts";

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
  /**
   * Open for reading only: nothing is written to the file (no migration of
   * an up-to-date store, no checkpoint), and a store on a read-only file
   * system is read as it is. Recording a run in it fails.
   * @default false
   */
  readOnly?: boolean;
}

/** A store in one SQLite file. */
export class SqliteStore extends SqliteBrowseMethods implements Store {
  /** How the store was opened. */
  readonly url: string;
  readonly #db: DatabaseSync;
  readonly #options: Required<SqliteStoreOptions>;
  readonly #s: Record<string, StatementSync>;
  readonly #owners: owners.OwnersPort;
  #closed = false;
  /** Open sessions by run id. */
  #sessions = new Map<string, SqliteSession>();
  readonly #group: GroupCommit<SqliteBatch>;
  /** The sessions that asked for a commit soon, and the one timer that ticks for them. */
  #ticking = new Set<SqliteSession>();
  #ticker: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Whether the timer keeps the process alive (it does while a session waits for it). */
  #tickerHeld = false;
  readonly #reads: SqliteReads;
  /** Signals, sleeping runs and schedule fires. @ignore */
  override readonly time: SqliteTime;
  /** What the web UI reads. @ignore */
  override readonly browse: SqliteBrowse;

  private constructor(path: string, db: DatabaseSync, options: Required<SqliteStoreOptions>) {
    super();
    this.url = `sqlite:${path}`;
    this.#db = db;
    this.#options = options;
    this.#s = prepareAll(db);
    this.#reads = new SqliteReads(this.#s);
    this.time = new SqliteTime(this.url, () => this.#s, (fn) => this.#tx(fn), () => this.#check());
    this.browse = new SqliteBrowse(db, this.#s, this.#reads, (fn) => this.#read(fn));
    this.#owners = {
      statements: () => this.#s,
      direct: (fn) => {
        this.#check();
        try {
          return fn();
        } catch (e) {
          throw storeError(path, e);
        }
      },
      immediate: (fn) => {
        this.#check();
        let out!: ReturnType<typeof fn>;
        this.#tx(() => (out = fn()), this.#s.beginImmediate!);
        return out;
      },
    };
    const s = this.#s;
    this.#group = new GroupCommit(
      sqliteWriter(
        path,
        // (Immediate: a commit only writes, so it takes the write lock, or waits for it, at once.)
        { begin: s.beginImmediate!, commit: s.commit!, rollback: s.rollback! },
        () => this.#check(),
      ),
      {
        onError: (e) =>
          console.error(`weft: could not write to ${this.url}: ${(e as Error)?.message ?? e}`),
      },
    );
  }

  /**
   * Opens (and if needed creates or migrates) a store file.
   *
   * @param path The file; its directory must exist. A new file is made readable and writable by its owner only (0600).
   * @param options Durability, locking, read-only.
   * @returns The store.
   * @throws {ValidationError} For a file that cannot be created or (unless read-only) written, an empty file, a file that is not a weft store or is damaged, one written by a newer weft, or one locked too long.
   */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const opts: Required<SqliteStoreOptions> = {
      synchronous: options.synchronous ?? "normal",
      busyTimeoutMs: options.busyTimeoutMs ?? 5000,
      maxQueued: options.maxQueued ?? 2000,
      flushIntervalMs: options.flushIntervalMs ?? 100,
      readOnly: options.readOnly ?? false,
    };
    const db = openFile(path, {
      readOnly: opts.readOnly,
      busyTimeoutMs: opts.busyTimeoutMs,
      synchronous: opts.synchronous,
    });
    return new SqliteStore(path, db, opts);
  }

  /**
   * Starts or resumes recording a run. Its row is written in the next group
   * commit, with the other runs that start in the same turn.
   *
   * @param start The run.
   * @returns Its session, with what was recorded before under the id.
   * @throws {ValidationError} When another start of the same new run id was written first.
   */
  openRun(start: RunStart): RunSession | Promise<RunSession> {
    this.#check();
    this.#notOpen(start.runId);
    const row = this.#s.getRun!.get(start.runId) as Row | undefined;
    if (row === undefined) {
      const starting = new RunStartMember(this, start, undefined);
      return this.#starting(starting, () => this.#started(start, starting));
    }
    if (!resumable(row, start)) return this.#opened(start, row);
    // (The journal is read once the run is marked running again.)
    const starting = new RunStartMember(this, start, undefined, true);
    return this.#starting(starting, () => this.#opened(start, row));
  }

  /**
   * Commits a start, then makes its session. While it waits, the start
   * counts as open, so that starts made in the same turn share its commit.
   */
  #starting<T>(starting: RunStartMember, then: () => T): T | Promise<T> {
    const group = this.#group;
    group.opened(starting);
    let written: Promise<void> | undefined;
    try {
      written = group.request(starting);
    } finally {
      if (written === undefined) group.closed(starting);
    }
    if (written === undefined) return then();
    return written.then(() => {
      group.closed(starting);
      return then();
    }, (e) => {
      group.closed(starting);
      throw e;
    });
  }

  /**
   * Claims a run id and starts or resumes recording it, in one commit with
   * whatever else is committed then.
   *
   * @param start The run.
   * @param claim Who claims it.
   * @returns The claim and, when granted, the session.
   */
  async openClaimed(start: RunStart, claim: RunClaim): Promise<ClaimedOpen> {
    this.#check();
    // (A run open here holds its claim: the claim says who, as for any other owner.)
    const starting = new RunStartMember(this, start, claim);
    return await this.#starting(starting, (): ClaimedOpen => {
      const got = starting.claim!;
      if (!got.claimed) return got;
      this.#notOpen(start.runId);
      const row = starting.row;
      const session = row === undefined ? this.#started(start, starting) : this.#opened(start, row);
      return { ...got, session };
    });
  }

  #notOpen(runId: string): void {
    if (this.#sessions.has(runId)) {
      throw new ValidationError(
        `Run '${runId}' is running in this process; wait for it to end or use another run id`,
      );
    }
  }

  /** The session of a run whose row a start just wrote. */
  #started(start: RunStart, starting: RunStartMember): SqliteSession {
    if (starting.key === undefined) {
      throw new ValidationError(
        `Run '${start.runId}' is running: another start of the same run id was recorded first; wait for it to end or use another run id`,
      );
    }
    return this.#session(start.runId, starting.key, undefined, new Map());
  }

  /** The session of a run recorded before: a succeeded one, one refused, or one resumed. */
  #previous(row: Row, withJournal: boolean): PreviousRun {
    return {
      status: row.status as RunStatus,
      entity: row.entity as string,
      inputsDigest: row.inputs_digest as string,
      outputs: this.#reads.runValue(row.outputs, row.outputs_hash),
      errors: row.errors === null ? [] : JSON.parse(row.errors as string),
      startedAt: Number(row.started_at),
      finishedAt: row.finished_at === null ? undefined : Number(row.finished_at),
      journal: withJournal ? this.#reads.journal(row.id as string) : new Map(),
    };
  }

  /**
   * What a run recorded, as resuming it would see it, without touching it.
   *
   * @param runId The run id.
   * @returns Its journal and outcome, or undefined.
   */
  readJournal(runId: string): Promise<PreviousRun | undefined> {
    return promised(() => {
      this.#check();
      const row = this.#s.getRun!.get(runId) as Row | undefined;
      return row === undefined ? undefined : this.#previous(row, true);
    });
  }

  #opened(start: RunStart, row: Row): SqliteSession {
    const previous = this.#previous(row, row.status !== "succeeded");
    const key = Number(row.key);
    // A succeeded run is returned as recorded, and a run of another entity or
    // other inputs is refused: nothing was written.
    if (!resumable(row, start)) {
      const run = { runId: start.runId, previous, earlier: new Map() };
      return new SqliteSession(this, BigInt(key) << 32n, run);
    }
    // Nodes run again in a resumed run update their earlier rows.
    const order = new Map<string, number>();
    for (const r of this.#s.nodeOrder!.all(start.runId) as Row[]) {
      order.set(r.id as string, Number(r.added));
    }
    // A resumed run continues its change counter and its log.
    const counters = {
      rev: Number((this.#s.maxRev!.get(start.runId) as Row).rev),
      logSeq: Number((this.#s.lastLog!.get(start.runId) as Row).seq),
    };
    return this.#session(start.runId, key, previous, order, counters);
  }

  #session(
    runId: string,
    key: number,
    previous: PreviousRun | undefined,
    order: Map<string, number>,
    counters?: { rev: number; logSeq: number },
  ): SqliteSession {
    const run = { runId, previous, earlier: order, counters };
    const session = new SqliteSession(this, BigInt(key) << 32n, run);
    this.#sessions.set(runId, session);
    this.#group.opened(session);
    return session;
  }

  /** Closes the file (after committing what is queued). */
  close(): void {
    if (this.#closed) return;
    for (const session of this.#sessions.values()) this.#group.note(session);
    this.#group.commitNow();
    if (this.#ticker !== undefined) clearTimeout(this.#ticker);
    this.#ticker = undefined;
    this.#closed = true;
    this.#db.close();
  }

  // --- used by sessions ------------------------------------------------------

  /** @internal */
  get options(): Required<SqliteStoreOptions> {
    return this.#options;
  }

  /** @internal The group commit every session and run start joins. */
  get group(): GroupCommit<SqliteBatch> {
    return this.#group;
  }

  /** @internal Calls the session's `tick` within `flushIntervalMs`, from one timer for all sessions. */
  soon(session: SqliteSession): void {
    this.#ticking.add(session);
    if (this.#ticker === undefined) {
      this.#ticker = setTimeout(() => {
        this.#ticker = undefined;
        this.#tickerHeld = false;
        const due = this.#ticking;
        this.#ticking = new Set();
        if (this.#closed) return;
        for (const s of due) s.tick();
      }, this.#options.flushIntervalMs);
      this.#tickerHeld = true;
    } else if (!this.#tickerHeld) {
      keepAlive(this.#ticker, true);
      this.#tickerHeld = true;
    }
  }

  /** @internal */
  forget(session: SqliteSession): void {
    // Nothing left to tick for: the timer no longer keeps the process up (left set, it
    // serves the next run, which asks a moment later, without a timer of its own).
    if (
      this.#ticking.delete(session) && this.#ticking.size === 0 && this.#ticker !== undefined &&
      this.#tickerHeld
    ) {
      keepAlive(this.#ticker, false);
      this.#tickerHeld = false;
    }
    if (this.#sessions.get(session.runId) === session) this.#sessions.delete(session.runId);
    this.#group.closed(session);
  }

  /** Runs `fn` in a transaction of its own (ownership claims, in an immediate one). */
  #tx(fn: () => void, begin: StatementSync = this.#s.begin!): void {
    const s = this.#s;
    try {
      begin.run();
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

  /** @internal Encodes and hashes a value for the values table. */
  valueRow(value: unknown): { hash: string; body: string } {
    const body = encodeValue(value);
    // Only objects can differ between the faithful and the canonical (key-sorted) encoding.
    const canonical = typeof value === "object" && value !== null ? encodeValue(value, true) : body;
    return { hash: sha256(canonical), body };
  }

  /**
   * @internal Hashes a value for a node's row: a small body stays inline there, a larger one is
   * returned as `stored`, for the values table.
   */
  storeValue(value: unknown): { hash: string; body?: string; stored?: string } {
    const canonical = encodeValue(value, true);
    // Only objects can differ between the faithful and the canonical (key-sorted) encoding.
    const body = typeof value === "object" && value !== null ? encodeValue(value) : canonical;
    const hash = sha256(canonical);
    if (body.length <= INLINE_MAX) return { hash, body };
    return { hash, stored: body };
  }

  /** @internal */
  get statements(): Record<string, StatementSync> {
    return this.#s;
  }

  #check(): void {
    if (this.#closed) throw new ValidationError(`The store ${this.url} is closed`);
  }

  /** Runs a query, with SQLite's errors (a damaged file…) turned into ones that say what to do. */
  #read<T>(fn: () => T): Promise<T> {
    return promised(() => {
      this.#check();
      try {
        return fn();
      } catch (e) {
        throw storeError(this.#path, e);
      }
    });
  }

  get #path(): string {
    return this.url.slice("sqlite:".length);
  }

  // --- ownership: see RunOwnership in ../mod.ts, and ./owners.ts -------------

  /** Claims a run id, in an immediate transaction (see `RunOwnership.claimRun`). */
  claimRun(claim: RunClaim): Promise<ClaimResult> {
    return promised(() => owners.claimRun(this.#owners, claim));
  }
  /** Renews a claim (see `RunOwnership.renewRun`). */
  renewRun(runId: string, ownerId: string): Promise<RenewResult> {
    return promised(() => owners.renewRun(this.#owners, runId, ownerId));
  }
  /** Gives a run up (see `RunOwnership.releaseRun`). */
  releaseRun(runId: string, ownerId: string): Promise<void> {
    return promised(() => owners.releaseRun(this.#owners, runId, ownerId));
  }
  /** The owner of a run (see `RunOwnership.runOwner`). */
  runOwner(runId: string): Promise<RunOwner | undefined> {
    return promised(() => owners.runOwner(this.#owners, runId));
  }
  /** Asks the owner of a run to cancel it (see `RunOwnership.requestCancel`). */
  requestCancel(runId: string): Promise<RunOwner | undefined> {
    return promised(() => owners.requestCancel(this.#owners, runId));
  }
  /** The takeovers of a run, oldest first (see `RunOwnership.takeovers`). */
  takeovers(runId: string): Promise<RunTakeover[]> {
    return promised(() => owners.takeovers(this.#owners, runId));
  }

  // --- queries ---------------------------------------------------------------

  /**
   * A run with its nodes and values.
   *
   * @param runId The run id.
   * @param options `nodes: false` for the run's record alone.
   * @returns The run, or undefined.
   */
  getRun(runId: string, options: { nodes?: boolean } = {}): Promise<RunDetails | undefined> {
    return this.#read(() => {
      const row = this.#s.getRun!.get(runId) as Row | undefined;
      if (row === undefined) return undefined;
      const nodes = options.nodes === false
        ? []
        : (this.#s.runNodes!.all(runId) as Row[]).map(details);
      return ({
        ...summary(row),
        inputs: this.#reads.runValue(row.inputs, row.inputs_hash) as Record<string, unknown>,
        outputs: this.#reads.runValue(row.outputs, row.outputs_hash),
        outputsHash: (row.outputs_hash as string | null) ?? undefined,
        errors: row.errors === null ? [] : JSON.parse(row.errors as string),
        nodes,
      });
    });
  }

  /**
   * A stored value.
   *
   * @param hash Its hash, or a unique prefix of at least 8 hex digits.
   * @returns The value, or undefined.
   */
  async getValue(hash: string): Promise<{ hash: string; value: unknown } | undefined> {
    this.#check();
    try {
      const full = await resolveHash(this.#lineagePort(), hash);
      if (full === undefined) return undefined;
      return { hash: full, value: this.#reads.value(full) };
    } catch (e) {
      throw storeError(this.#path, e);
    }
  }

  /**
   * The lineage of a value: within its run, unless `acrossRuns`.
   *
   * @param ref A value hash (or prefix), or `RUN_ID/NODE_ID[/OUTPUT]`.
   * @param options Depth (default 10), whether to follow values into other runs, the most executions to expand.
   * @returns The executions that led to the value, each listed once.
   * @throws {ValidationError} When the reference matches nothing.
   */
  async lineage(ref: string, options: LineageOptions = {}): Promise<Lineage> {
    this.#check();
    try {
      return await lineageOf(this.#lineagePort(), ref, options);
    } catch (e) {
      throw storeError(this.#path, e);
    }
  }

  #lineagePort(): LineagePort {
    return lineagePort(this.url, this.#s, (hash) => this.#reads.body(hash));
  }

  /**
   * Every recorded execution of a task, newest first.
   *
   * @param task The task name.
   * @returns The executions.
   */
  executions(task: string): Promise<NodeDetails[]> {
    return this.#read(() => {
      return ((this.#s.executions!.all(task) as Row[]).map(details));
    });
  }

  /**
   * Empties the cache.
   *
   * @param task Only this task's entries.
   * @returns How many entries were removed.
   */
  clearCache(task?: string): Promise<number> {
    return this.#read(() => {
      const result = task === undefined
        ? this.#s.clearCache!.run()
        : this.#s.clearCacheTask!.run(task);
      return (Number(result.changes));
    });
  }
}
