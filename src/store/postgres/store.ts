/**
 * The PostgreSQL store (`postgres://…`): the same data model as the SQLite
 * store — runs, node executions (the journal), content-addressed values and
 * the cache — in a PostgreSQL schema, so that many processes on many
 * machines can record, resume and share runs. Writes of every run go
 * through one group writer: one statement, one commit, for everything that
 * is ready.
 *
 * @module
 */

import { ValidationError } from "../../core/errors.ts";
import { decodeValue, encodeValue, sha256 } from "../../core/values.ts";
import { lineageOf, type LineagePort, resolveHash } from "../lineage.ts";
import type {
  CacheHit,
  ClaimedOpen,
  Lineage,
  LineageOptions,
  NodeDetails,
  PreviousRun,
  RunClaim,
  RunDetails,
  RunOwner,
  RunSession,
  RunStart,
  ScheduleFire,
  ScheduleRecord,
  SignalRecord,
  SleepingRun,
  Store,
} from "../mod.ts";
import { details, INLINE_MAX, nodeInputs, nodeOutputs, summary } from "../rows.ts";
import { connect, type PgClient, type PgTarget } from "./connect.ts";
import { openError } from "./errors.ts";
import { pgLineagePort } from "./lineage_port.ts";
import { previousOf } from "./journal.ts";
import { PgOwnership } from "./owners.ts";
import { NODE_COLUMNS, type Row } from "./rows.ts";
import { TaskQueue } from "./queue.ts";
import { migrate, quoteIdent } from "./schema.ts";
import { PgSession } from "./session.ts";
import { GroupWriter, type StartResult } from "./writer.ts";
import { type PostgresStoreOptions, storeOptions } from "./options.ts";
import { PgTime } from "./time.ts";
import { thisProcess, WorkerRegistry } from "./workers.ts";

/** A store in a PostgreSQL database. */
export class PostgresStore extends PgOwnership implements Store {
  /** How the store was opened (the password hidden). */
  readonly url: string;
  /** Where it points. */
  readonly target: PgTarget;
  /** The quoted schema name. */
  readonly schema: string;
  /** @internal The client pool. */
  readonly sql: PgClient;
  /** @internal The group writer every session commits through. */
  readonly writer: GroupWriter;
  /** @internal Signals, sleeping runs and schedule fires. */
  readonly time: PgTime;
  /** @internal The task queue. */
  readonly queue: TaskQueue;
  /** @internal Runs waiting for a driver, detached runs, and the workers registry. */
  readonly workers: WorkerRegistry;
  /** Its settings. */
  readonly options: Required<Omit<PostgresStoreOptions, "schema">>;
  #closed = false;
  #sessions = new Map<string, PgSession>();
  /** Closers of parts added to the store (queue listeners, heartbeats). */
  readonly #onClose: (() => Promise<void> | void)[] = [];

  private constructor(
    sql: PgClient,
    target: PgTarget,
    schema: string,
    options: Required<Omit<PostgresStoreOptions, "schema">>,
  ) {
    super();
    this.sql = sql;
    this.target = target;
    this.url = target.display;
    this.schema = quoteIdent(schema);
    this.options = options;
    this.writer = new GroupWriter(sql, this.schema, options.retryMs);
    this.time = new PgTime(sql, this.schema, this.url, this.writer);
    this.queue = new TaskQueue(sql, this.schema, this.writer);
    this.workers = new WorkerRegistry(sql, this.schema, thisProcess(), this.queue.runs);
  }

  /**
   * Connects to a database, creating or migrating weft's schema there.
   *
   * @param url `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (`?schema=NAME` picks the schema).
   * @param options Schema, pool size, commit settings.
   * @returns The store.
   * @throws {ValidationError} When the server cannot be reached or refuses, or the schema was written by a newer weft.
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const { schema, clean, opts } = storeOptions(url, options);
    const { sql, target } = await connect(clean, { max: opts.poolSize });
    try {
      await migrate(sql, schema, target.display);
    } catch (e) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw openError(target.display, e);
    }
    return new PostgresStore(sql, target, schema, opts);
  }

  /**
   * Runs something when the store closes (before the connections end).
   *
   * @param fn What to run.
   */
  onClose(fn: () => Promise<void> | void): void {
    this.#onClose.push(fn);
  }

  /**
   * Starts or resumes recording a run.
   *
   * @param start The run.
   * @returns Its session, with what was recorded before under the id.
   */
  async openRun(start: RunStart): Promise<RunSession> {
    this.#check();
    const s = this.schema;
    const body = encodeValue(start.inputs);
    const inputsHash = sha256(encodeValue(start.inputs, true));
    // The inputs value and the run row: one statement, one commit.
    const inserted = await this.writer.run(() =>
      this.sql.unsafe(
        `WITH v AS (INSERT INTO ${s}."values" (hash, body, size) VALUES ($4, $9, length($9))
           ON CONFLICT (hash) DO NOTHING)
         INSERT INTO ${s}.runs (id, entity, kind, status, inputs_hash, inputs_digest, started_at, script, weft_version)
         VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [
          start.runId,
          start.entity,
          start.kind,
          inputsHash,
          start.inputsDigest,
          start.startedAt,
          start.script ?? null,
          start.weftVersion,
          body,
        ],
      )
    );
    if (inserted.length === 0) return await this.#reopen(start);
    return this.#newSession(start.runId);
  }

  /**
   * Claims a run id and starts recording it in the next group commit, shared
   * with every other run's changes: the claim, the run's row and its inputs
   * in one statement, the run's row written only where the claim was granted
   * (no one held the run id). A run id someone holds — to be taken over, or
   * refused — goes the way of {@linkcode claimRun} then {@linkcode openRun}.
   *
   * @param start The run.
   * @param claim Who claims it.
   * @returns The claim and, when granted, the session.
   */
  async openClaimed(start: RunStart, claim: RunClaim): Promise<ClaimedOpen> {
    this.#check();
    const starting = claim.replace === undefined ? this.#startRow(start, claim) : undefined;
    if (starting !== undefined) {
      const got = await starting;
      if (got.owned) {
        const owner: RunOwner = {
          runId: claim.runId,
          ownerId: claim.ownerId,
          pid: claim.pid,
          host: claim.host,
          since: got.since,
          heartbeatAt: got.since,
          leaseMs: Math.round(claim.leaseMs),
          cancelRequestedAt: undefined,
        };
        try {
          const session = got.created ? this.#newSession(start.runId) : await this.#reopen(start);
          return { claimed: true, owner, session };
        } catch (e) {
          await this.releaseRun(claim.runId, claim.ownerId).catch(() => {});
          throw e;
        }
      }
    }
    const result = await this.claimRun(claim);
    if (!result.claimed) return result;
    try {
      return { ...result, session: await this.openRun(start) };
    } catch (e) {
      await this.releaseRun(claim.runId, claim.ownerId).catch(() => {});
      throw e;
    }
  }

  /** Queues a run's start with its claim (undefined when one of the same id is already on its way). */
  #startRow(start: RunStart, claim: RunClaim): Promise<StartResult> | undefined {
    const inputsHash = this.putValue(start.inputs);
    return this.writer.start({
      run_id: start.runId,
      entity: start.entity,
      kind: start.kind,
      inputs_hash: inputsHash,
      inputs_digest: start.inputsDigest,
      started_at: start.startedAt,
      script: start.script ?? null,
      weft_version: start.weftVersion,
      owner_id: claim.ownerId,
      pid: claim.pid,
      host: claim.host,
      lease_ms: Math.round(claim.leaseMs),
    });
  }

  /** The session of a run whose row was just written. */
  #newSession(runId: string): PgSession {
    const session = new PgSession(this, { runId, previous: undefined, earlier: new Map() });
    this.#sessions.set(runId, session);
    this.writer.opened(session);
    return session;
  }

  /**
   * The session of a run id recorded before: what it recorded, and, when it
   * is resumed (same entity and inputs, not succeeded), the run marked running again.
   */
  async #reopen(start: RunStart): Promise<PgSession> {
    const s = this.schema;
    const row = (await this.sql.unsafe(`SELECT * FROM ${s}.runs WHERE id = $1`, [start.runId]))[
      0
    ] as Row;
    const nodes = row.status === "succeeded" ? [] : await this.sql.unsafe(
      `SELECT ${NODE_COLUMNS} FROM ${s}.nodes WHERE run_id = $1 ORDER BY added`,
      [start.runId],
    ) as unknown as Row[];
    let previous = await this.#previous(row, nodes);
    // (Empty for a run enqueued by weft run --detach: its first driver checks the inputs.)
    if (row.inputs_digest === "") previous = { ...previous, inputsDigest: start.inputsDigest };
    const order = new Map<string, number>();
    for (const n of nodes) order.set(n.id as string, Number(n.added));
    if (
      row.status !== "succeeded" && previous.entity === start.entity &&
      previous.inputsDigest === start.inputsDigest
    ) {
      await this.writer.run(() =>
        this.sql.unsafe(
          // (A run enqueued by weft run --detach, driven the first time: not a new attempt.)
          `UPDATE ${s}.runs SET status = 'running', finished_at = NULL, errors = NULL,
             attempts = attempts + (CASE WHEN inputs_digest = '' THEN 0 ELSE 1 END),
             inputs_digest = (CASE WHEN inputs_digest = '' THEN $3 ELSE inputs_digest END),
             weft_version = $1, wake_at = NULL, waiting_for = NULL
           WHERE id = $2`,
          [start.weftVersion, start.runId, start.inputsDigest],
        )
      );
    }
    // A resumed run continues its change counter and its log.
    const counters = await this.resumeCounters(start.runId);
    const run = { runId: start.runId, previous, earlier: order, counters };
    const session = new PgSession(this, run);
    this.#sessions.set(start.runId, session);
    this.writer.opened(session);
    return session;
  }

  /**
   * @internal The session of a run this process drives.
   *
   * @param runId The run.
   * @returns Its session, or undefined.
   */
  session(runId: string): PgSession | undefined {
    return this.#sessions.get(runId);
  }

  /**
   * Listens on a channel (one connection for all of a store's listeners).
   *
   * @param channel The channel.
   * @param fn Receives each payload.
   * @param onListen Called on every (re)connection: notifications sent while disconnected are lost.
   * @returns A function that stops listening.
   */
  async listen(
    channel: string,
    fn: (payload: string) => void,
    onListen?: () => void,
  ): Promise<() => Promise<void>> {
    const { unlisten } = await this.sql.listen(channel, fn, onListen);
    return unlisten;
  }

  #previous(row: Row, nodes: Row[]): Promise<PreviousRun> {
    return previousOf({ value: (h) => this.#value(h), bodies: (h) => this.bodies(h) }, row, nodes);
  }

  /** What a run recorded, as resuming it would see it, without touching it. */
  async readJournal(runId: string): Promise<PreviousRun | undefined> {
    this.#check();
    const s = this.schema;
    const row = (await this.sql.unsafe(`SELECT * FROM ${s}.runs WHERE id = $1`, [runId]))[0];
    if (row === undefined) return undefined;
    const nodes = await this.sql.unsafe(
      `SELECT ${NODE_COLUMNS} FROM ${s}.nodes WHERE run_id = $1 ORDER BY added`,
      [runId],
    ) as unknown as Row[];
    return await this.#previous(row as Row, nodes);
  }

  // --- time (see PgTime) -------------------------------------------------------

  /** Keeps a signal for a run. */
  putSignal(runId: string, name: string, value: unknown, sentAt: number): Promise<number> {
    this.#check();
    return this.time.putSignal(runId, name, value, sentAt);
  }
  /** The signals sent to a run, in order. */
  listSignals(runId: string): Promise<SignalRecord[]> {
    return this.time.listSignals(runId);
  }
  /** Suspended runs, earliest wake-up first. */
  sleepingRuns(filter: { dueBy?: number; limit?: number } = {}): Promise<SleepingRun[]> {
    return this.time.sleepingRuns(filter);
  }
  /** Takes a due suspended run. */
  claimWake(runId: string, now: number): Promise<boolean> {
    return this.time.claimWake(runId, now);
  }
  /** Records a fire of a schedule once. */
  claimFire(fire: ScheduleFire): Promise<boolean> {
    return this.time.claimFire(fire);
  }
  /** Changes a recorded fire. */
  updateFire(fire: ScheduleFire): Promise<void> {
    return this.time.updateFire(fire);
  }
  /** The fires of a schedule, newest first. */
  listFires(
    schedule: string,
    filter: { status?: ScheduleFire["status"]; limit?: number } = {},
  ): Promise<ScheduleFire[]> {
    return this.time.listFires(schedule, filter);
  }
  /** Records a schedule a server serves. */
  putSchedule(schedule: ScheduleRecord): Promise<void> {
    return this.time.putSchedule(schedule);
  }
  /** The schedules servers recorded, by name. */
  listSchedules(): Promise<ScheduleRecord[]> {
    return this.time.listSchedules();
  }

  /** Commits what is queued, stops the store's own loops and closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const fn of this.#onClose.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // closing goes on
      }
    }
    try {
      for (const session of this.#sessions.values()) await session.flush();
      await this.writer.commit();
    } finally {
      this.#closed = true;
      this.writer.close();
      await this.sql.end({ timeout: 5 });
    }
  }

  // --- used by sessions ------------------------------------------------------

  /** @internal */
  forget(session: PgSession): void {
    this.writer.closed(session);
    if (this.#sessions.get(session.runId) === session) this.#sessions.delete(session.runId);
  }

  /** @internal Queues a value for the values table; returns its hash. */
  putValue(value: unknown): string {
    const body = encodeValue(value);
    const hash = sha256(encodeValue(value, true));
    this.writer.value(hash, body);
    return hash;
  }

  /** @internal Hashes a value for a node's row: small bodies stay inline, larger ones go to the values table. */
  storeValue(value: unknown): { hash: string; body?: string } {
    const canonical = encodeValue(value, true);
    const body = typeof value === "object" && value !== null ? encodeValue(value) : canonical;
    const hash = sha256(canonical);
    if (body.length <= INLINE_MAX) return { hash, body };
    this.writer.value(hash, body);
    return { hash };
  }

  /** @internal */
  async cacheGet(key: string): Promise<CacheHit | undefined> {
    const rows = await this.sql.unsafe(
      `SELECT v.body, c.source FROM ${this.schema}.cache AS c JOIN ${this.schema}."values" AS v
         ON v.hash = c.value_hash WHERE c.key = $1`,
      [key],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return { value: decodeValue(row.body as string), from: row.source as string };
  }

  async #value(hash: string): Promise<unknown> {
    const body = await this.#body(hash);
    if (body === undefined) throw new ValidationError(`The store has no value ${hash}`);
    return decodeValue(body);
  }

  /**
   * @internal The bodies of values by hash, from the values table.
   *
   * @param hashes The hashes.
   * @returns The bodies found.
   */
  async bodies(hashes: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (hashes.length === 0) return found;
    const rows = await this.sql.unsafe(
      `SELECT hash, body FROM ${this.schema}."values" WHERE hash IN (SELECT json_array_elements_text($1::json))`,
      [hashes],
    );
    for (const r of rows) found.set(r.hash as string, r.body as string);
    return found;
  }

  /** A value's body: from the values table, or inline in a node's outputs or inputs. */
  async #body(hash: string): Promise<string | undefined> {
    const found = (await this.bodies([hash])).get(hash);
    if (found !== undefined) return found;
    for (const n of await this.#nodesWithText(hash)) {
      const inline = [...nodeOutputs(n), ...nodeInputs(n)].find((o) =>
        o.hash === hash && o.body !== undefined
      );
      if (inline?.body !== undefined) return inline.body;
    }
    return undefined;
  }

  async #nodesWithText(text: string): Promise<Row[]> {
    return await this.sql.unsafe(
      `SELECT ${NODE_COLUMNS} FROM ${this.schema}.nodes
        WHERE strpos(outputs, $1) > 0 OR strpos(inputs, $1) > 0
        ORDER BY started_at DESC,
          (SELECT r.recorded FROM ${this.schema}.runs AS r WHERE r.id = nodes.run_id) DESC,
          added DESC
        LIMIT 200`,
      [text],
    ) as unknown as Row[];
  }

  #check(): void {
    if (this.#closed) throw new ValidationError(`The store ${this.url} is closed`);
  }

  // --- queries ---------------------------------------------------------------

  /**
   * A run with its nodes and values.
   *
   * @param runId The run id.
   * @param options `nodes: false` for the run's record alone.
   * @returns The run, or undefined.
   */
  async getRun(
    runId: string,
    options: { nodes?: boolean } = {},
  ): Promise<RunDetails | undefined> {
    this.#check();
    const row = (await this.sql.unsafe(`SELECT * FROM ${this.schema}.runs WHERE id = $1`, [runId]))[
      0
    ] as Row | undefined;
    if (row === undefined) return undefined;
    const nodes = options.nodes === false ? [] : await this.sql.unsafe(
      `SELECT ${NODE_COLUMNS} FROM ${this.schema}.nodes WHERE run_id = $1 ORDER BY added`,
      [runId],
    ) as unknown as Row[];
    return {
      ...summary(row),
      inputs: await this.#value(row.inputs_hash as string) as Record<string, unknown>,
      outputs: row.outputs_hash === null
        ? undefined
        : await this.#value(row.outputs_hash as string),
      outputsHash: (row.outputs_hash as string | null) ?? undefined,
      errors: row.errors === null ? [] : JSON.parse(row.errors as string),
      nodes: nodes.map(details),
    };
  }

  /** What lineage asks of this store, for one walk (see lineage_port.ts). */
  #lineagePort(): LineagePort {
    return pgLineagePort({
      url: this.url,
      sql: this.sql,
      schema: this.schema,
      value: (hash) => this.#value(hash),
      body: (hash) => this.#body(hash),
      nodesWithText: (text) => this.#nodesWithText(text),
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
    const full = await resolveHash(this.#lineagePort(), hash);
    if (full === undefined) return undefined;
    return { hash: full, value: await this.#value(full) };
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
    return await lineageOf(this.#lineagePort(), ref, options);
  }

  /**
   * Every recorded execution of a task, newest first.
   *
   * @param task The task name.
   * @returns The executions.
   */
  async executions(task: string): Promise<NodeDetails[]> {
    this.#check();
    const rows = await this.sql.unsafe(
      `SELECT ${NODE_COLUMNS} FROM ${this.schema}.nodes WHERE entity = $1 AND kind = 'task'
         ORDER BY started_at DESC, added DESC`,
      [task],
    );
    return rows.map((r) => details(r as Row));
  }

  /**
   * Empties the cache.
   *
   * @param task Only this task's entries.
   * @returns How many entries were removed.
   */
  async clearCache(task?: string): Promise<number> {
    this.#check();
    const result = task === undefined
      ? await this.sql.unsafe(`DELETE FROM ${this.schema}.cache`)
      : await this.sql.unsafe(`DELETE FROM ${this.schema}.cache WHERE task = $1`, [task]);
    return result.count;
  }
}
