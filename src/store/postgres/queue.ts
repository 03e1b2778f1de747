/**
 * The task queue of the PostgreSQL store: ready task attempts wait in a
 * small hot table (unfinished work only), workers claim them with
 * `FOR UPDATE SKIP LOCKED` and get a lease token and a deadline from the
 * database clock, renew the lease while a task runs, and complete in one
 * statement that deletes the claim *fenced by its token* and writes the
 * result to the journal — a completion whose lease was lost changes nothing
 * and is reported. A reaper returns expired leases. Workers are woken by
 * LISTEN/NOTIFY (one notification per statement) and poll as a fallback.
 *
 * Queue and task concurrency limits hold across workers: claims of limited
 * work take one advisory lock and count what is claimed under it, since
 * SKIP LOCKED alone only keeps two workers off the same row.
 *
 * @module
 */

import { encodeValue, sha256 } from "../../core/values.ts";
import { INLINE_MAX, type StoredOutput } from "../rows.ts";
import type { PgClient } from "./connect.ts";
import type { BatchExtension, GroupWriter } from "./writer.ts";

/** A task attempt handed to the queue by a driver. */
export interface TaskRow {
  run_id: string;
  node_id: string;
  attempt: number;
  queue: string;
  task: string;
  concurrency: number | null;
  timeout_ms: number | null;
  inputs: string;
}

/** A claimed task attempt. */
export interface Claim {
  /** The queue row. */
  readonly id: string;
  /** Its lease token: completions and renewals must show it. */
  readonly token: string;
  readonly runId: string;
  readonly nodeId: string;
  readonly attempt: number;
  readonly queue: string;
  readonly task: string;
  readonly timeoutMs: number | undefined;
  /** The encoded inputs. */
  readonly inputs: string;
  /** How many times the row was claimed (more than 1: an earlier lease expired or was given back). */
  readonly claims: number;
}

/** The outcome of a claimed attempt. */
export type Completion =
  | { claim: Claim; ok: true; outputs: StoredOutput[]; values: [string, string][] }
  | { claim: Claim; ok: false; error: string };

/** What a worker asks to claim. */
export interface ClaimFilter {
  /** Queues served (undefined: every queue). */
  readonly queues: readonly string[] | undefined;
  /** Task names the worker can run. */
  readonly tasks: readonly string[];
  /** Only this run's tasks (a `weft run` process working its own run). */
  readonly runId?: string;
}

/**
 * A channel name for this store's schema.
 *
 * @param schema The quoted schema.
 * @param what `ready`, `done` or `runs`.
 * @returns The channel.
 */
export function channel(schema: string, what: string): string {
  let h = 2166136261;
  for (let i = 0; i < schema.length; i++) h = Math.imul(h ^ schema.charCodeAt(i), 16777619);
  return `weft_${(h >>> 0).toString(36)}_${what}`;
}

/**
 * A node's outputs as a row keeps them: small bodies inline, larger ones
 * listed for the values table.
 *
 * @param values The outputs by name.
 * @returns The stored outputs and the values to write.
 */
export function storedOutputs(
  values: { name: string; value: unknown }[],
): { outputs: StoredOutput[]; bodies: [string, string][] } {
  const outputs: StoredOutput[] = [];
  const bodies: [string, string][] = [];
  for (const o of values) {
    const canonical = encodeValue(o.value, true);
    const body = typeof o.value === "object" && o.value !== null ? encodeValue(o.value) : canonical;
    const hash = sha256(canonical);
    if (body.length <= INLINE_MAX) outputs.push({ name: o.name, hash, body });
    else {
      outputs.push({ name: o.name, hash });
      bodies.push([hash, body]);
    }
  }
  return { outputs, bodies };
}

/** The queue operations of one store. */
export class TaskQueue {
  readonly #sql: PgClient;
  readonly #s: string;
  readonly #writer: GroupWriter;
  #enqueued: TaskRow[] = [];
  #cancelled: { run_id: string; node_id: string; attempt: number }[] = [];
  /** Channels. */
  readonly ready: string;
  readonly done: string;
  readonly runs: string;

  /**
   * @param sql The client.
   * @param schema The quoted schema.
   * @param writer The store's group writer, whose commits carry enqueued tasks.
   */
  constructor(sql: PgClient, schema: string, writer: GroupWriter) {
    this.#sql = sql;
    this.#s = schema;
    this.#writer = writer;
    this.ready = channel(schema, "ready");
    this.done = channel(schema, "done");
    this.runs = channel(schema, "runs");
    writer.extend(this.#extension());
  }

  /**
   * Queues a task attempt for the next commit (which also writes its node's
   * running state: the caller hands the node row to the writer first).
   *
   * @param row The attempt.
   */
  enqueue(row: TaskRow): void {
    this.#enqueued.push(row);
  }

  /**
   * Withdraws a task attempt at the next commit (its timeout passed or its
   * run was cancelled): a worker holding it loses its lease, and its
   * completion is refused.
   *
   * @param runId The run.
   * @param nodeId The node.
   * @param attempt The attempt.
   */
  cancel(runId: string, nodeId: string, attempt: number): void {
    this.#cancelled.push({ run_id: runId, node_id: nodeId, attempt });
  }

  #extension(): BatchExtension {
    const s = this.#s;
    return {
      params: 3,
      select: "(SELECT count(*) FROM qn)",
      take: () => {
        if (this.#enqueued.length === 0 && this.#cancelled.length === 0) return null;
        const rows = this.#enqueued;
        // A withdrawal of an attempt enqueued again in the same commit is moot.
        const again = new Set(rows.map((r) => `${r.run_id}\u0000${r.node_id}`));
        const cancelled = this.#cancelled.filter((c) =>
          !again.has(`${c.run_id}\u0000${c.node_id}`)
        );
        this.#enqueued = [];
        this.#cancelled = [];
        const queues = [...new Set(rows.map((r) => r.queue))].join(",");
        return [
          rows.length === 0 ? null : rows,
          cancelled.length === 0 ? null : cancelled,
          rows.length === 0 ? null : queues,
        ];
      },
      sql: ([rows, cancelled, queues]) =>
        `q AS (INSERT INTO ${s}.tasks (run_id, node_id, attempt, queue, task, concurrency, timeout_ms, inputs)
          SELECT x.run_id, x.node_id, x.attempt, x.queue, x.task, x.concurrency, x.timeout_ms, x.inputs
          FROM json_to_recordset($${rows}::json) AS x(run_id text, node_id text, attempt integer,
            queue text, task text, concurrency integer, timeout_ms integer, inputs text)
          -- Completed since the driver read the journal: its result is there to read.
          WHERE NOT EXISTS (SELECT 1 FROM ${s}.nodes AS n WHERE n.run_id = x.run_id
            AND n.id = x.node_id AND n.status = 'succeeded')
          ON CONFLICT (run_id, node_id) DO UPDATE SET attempt = excluded.attempt,
            queue = excluded.queue, task = excluded.task, concurrency = excluded.concurrency,
            timeout_ms = excluded.timeout_ms, inputs = excluded.inputs, lease_token = NULL,
            lease_until = NULL, worker = NULL, enqueued_at = now()
          -- A driver that took a run over enqueues its running calls again: a
          -- worker still holding the same or a later attempt keeps it.
          WHERE tasks.attempt < excluded.attempt),
        qx AS (DELETE FROM ${s}.tasks AS t USING json_to_recordset($${cancelled}::json)
            AS x(run_id text, node_id text, attempt integer)
          WHERE t.run_id = x.run_id AND t.node_id = x.node_id AND t.attempt = x.attempt),
        qn AS (SELECT pg_notify('${this.ready}', $${queues}::text) WHERE $${queues}::text IS NOT NULL)`,
    };
  }

  /**
   * Claims up to `limit` ready attempts, leased for `leaseMs`.
   *
   * @param worker The worker's id.
   * @param filter Queues, task names, run.
   * @param limit At most this many.
   * @param leaseMs The lease.
   * @returns The claims (possibly none).
   */
  async claim(
    worker: string,
    filter: ClaimFilter,
    limit: number,
    leaseMs: number,
  ): Promise<Claim[]> {
    if (limit <= 0) return [];
    const s = this.#s;
    const claims = await this.#sql.unsafe(
      `WITH c AS (
         SELECT t.id FROM ${s}.tasks AS t
         WHERE t.lease_token IS NULL AND t.concurrency IS NULL
           AND ($1::json IS NULL OR t.queue IN (SELECT json_array_elements_text($1::json)))
           AND t.task IN (SELECT json_array_elements_text($2::json))
           AND ($3::text IS NULL OR t.run_id = $3)
           AND NOT EXISTS (SELECT 1 FROM ${s}.queues AS q WHERE q.name = t.queue AND q.concurrency IS NOT NULL)
         ORDER BY t.id LIMIT $4 FOR UPDATE SKIP LOCKED)
       UPDATE ${s}.tasks AS t SET lease_token = gen_random_uuid(),
         lease_until = clock_timestamp() + make_interval(secs => $5::float8 / 1000), worker = $6,
         claims = t.claims + 1
       FROM c WHERE t.id = c.id
       RETURNING t.id, t.lease_token, t.run_id, t.node_id, t.attempt, t.queue, t.task, t.timeout_ms,
         t.inputs, t.claims`,
      [
        filter.queues === undefined ? null : filter.queues as unknown as string,
        filter.tasks as unknown as string,
        filter.runId ?? null,
        limit,
        leaseMs,
        worker,
      ] as never[],
    );
    const out = claims.map(toClaim);
    if (out.length < limit) {
      out.push(...await this.#claimLimited(worker, filter, limit - out.length, leaseMs));
    }
    return out;
  }

  /** Claims of work under a queue or task limit: counted under one advisory lock. */
  async #claimLimited(
    worker: string,
    filter: ClaimFilter,
    limit: number,
    leaseMs: number,
  ): Promise<Claim[]> {
    const s = this.#s;
    // Cheap test first: most stores have no limited work at all.
    const any = await this.#sql.unsafe(
      `SELECT 1 FROM ${s}.tasks AS t WHERE t.lease_token IS NULL
         AND ($1::json IS NULL OR t.queue IN (SELECT json_array_elements_text($1::json)))
         AND t.task IN (SELECT json_array_elements_text($2::json))
         AND ($3::text IS NULL OR t.run_id = $3)
         AND (t.concurrency IS NOT NULL OR EXISTS (SELECT 1 FROM ${s}.queues AS q
           WHERE q.name = t.queue AND q.concurrency IS NOT NULL)) LIMIT 1`,
      [
        filter.queues === undefined ? null : filter.queues as unknown as string,
        filter.tasks as unknown as string,
        filter.runId ?? null,
      ] as never[],
    );
    if (any.length === 0) return [];
    return await this.#sql.begin(async (tx) => {
      await tx.unsafe(`SELECT pg_advisory_xact_lock(hashtext('weft-limits:' || $1::text))`, [s]);
      // What is claimed now, by queue and by task (expired leases still count until reaped).
      const held = await tx.unsafe(
        `SELECT queue, task, count(*)::int AS n FROM ${s}.tasks WHERE lease_token IS NOT NULL
           GROUP BY queue, task`,
      );
      const byQueue = new Map<string, number>();
      const byTask = new Map<string, number>();
      for (const h of held) {
        byQueue.set(h.queue, (byQueue.get(h.queue) ?? 0) + h.n);
        byTask.set(h.task, (byTask.get(h.task) ?? 0) + h.n);
      }
      const limits = new Map<string, number>();
      for (
        const q of await tx.unsafe(
          `SELECT name, concurrency FROM ${s}.queues WHERE concurrency IS NOT NULL`,
        )
      ) {
        limits.set(q.name, q.concurrency);
      }
      const ready = await tx.unsafe(
        `SELECT t.id, t.queue, t.task, t.concurrency FROM ${s}.tasks AS t WHERE t.lease_token IS NULL
           AND ($1::json IS NULL OR t.queue IN (SELECT json_array_elements_text($1::json)))
           AND t.task IN (SELECT json_array_elements_text($2::json))
           AND ($3::text IS NULL OR t.run_id = $3)
           AND (t.concurrency IS NOT NULL OR t.queue IN (SELECT name FROM ${s}.queues WHERE concurrency IS NOT NULL))
         ORDER BY t.id LIMIT 200 FOR UPDATE SKIP LOCKED`,
        [
          filter.queues === undefined ? null : filter.queues as unknown as string,
          filter.tasks as unknown as string,
          filter.runId ?? null,
        ] as never[],
      );
      const chosen: string[] = [];
      for (const r of ready) {
        if (chosen.length >= limit) break;
        const ql = limits.get(r.queue);
        const q = byQueue.get(r.queue) ?? 0;
        const t = byTask.get(r.task) ?? 0;
        if (ql !== undefined && q >= ql) continue;
        if (r.concurrency !== null && t >= r.concurrency) continue;
        byQueue.set(r.queue, q + 1);
        byTask.set(r.task, t + 1);
        chosen.push(String(r.id));
      }
      if (chosen.length === 0) return [];
      const rows = await tx.unsafe(
        `UPDATE ${s}.tasks AS t SET lease_token = gen_random_uuid(),
           lease_until = clock_timestamp() + make_interval(secs => $2::float8 / 1000), worker = $3,
           claims = t.claims + 1
         WHERE t.id IN (SELECT json_array_elements_text($1::json)::bigint)
         RETURNING t.id, t.lease_token, t.run_id, t.node_id, t.attempt, t.queue, t.task, t.timeout_ms,
           t.inputs, t.claims`,
        [chosen as unknown as string, leaseMs, worker] as never[],
      );
      return rows.map(toClaim);
    });
  }

  /**
   * Completes claimed attempts in one statement: each claim's row is
   * deleted only if it still carries the claim's token, and only then is its
   * result written to the journal (the node row) and its driver notified.
   *
   * @param done The outcomes.
   * @returns The claims whose completion was refused (the lease was lost).
   */
  async complete(done: readonly Completion[]): Promise<Claim[]> {
    if (done.length === 0) return [];
    const s = this.#s;
    const rows = done.map((d) => ({
      id: d.claim.id,
      token: d.claim.token,
      status: d.ok ? "succeeded" : "failed",
      outputs: d.ok ? JSON.stringify(d.outputs) : null,
      error: d.ok ? null : d.error,
      finished_at: Date.now(),
    }));
    const values = done.flatMap((d) =>
      d.ok ? d.values.map(([hash, body]) => ({ hash, body })) : []
    );
    const applied = await this.#writer.run(() =>
      this.#sql.unsafe(
        `WITH x AS (SELECT * FROM json_to_recordset($1::json) AS x(id bigint, token uuid, status text,
             outputs text, error text, finished_at bigint)),
         v AS (INSERT INTO ${s}."values" (hash, body, size)
           SELECT y.hash, y.body, length(y.body) FROM json_to_recordset($2::json) AS y(hash text, body text)
           ON CONFLICT (hash) DO NOTHING),
         d AS (DELETE FROM ${s}.tasks AS t USING x WHERE t.id = x.id AND t.lease_token = x.token
           RETURNING t.id, t.run_id, t.node_id, t.attempt),
         n AS (UPDATE ${s}.nodes AS n SET status = x.status, outputs = x.outputs, error = x.error,
             finished_at = x.finished_at, attempts = d.attempt
           FROM d JOIN x ON x.id = d.id WHERE n.run_id = d.run_id AND n.id = d.node_id),
         w AS (SELECT pg_notify('${this.done}', string_agg(DISTINCT d.run_id, ',')),
             -- Pages watching the store (the web UI, in any process) hear of it at once.
             pg_notify('weft_changes', $3) FROM d HAVING count(*) > 0)
         SELECT d.id FROM d, (SELECT count(*) FROM w) AS notified`,
        [
          rows as unknown as string,
          (values.length === 0 ? null : values) as unknown as string,
          s,
        ] as never[],
      )
    );
    if (applied.length > 0) this.#writer.noteChange();
    const ok = new Set(applied.map((r) => String(r.id)));
    return done.filter((d) => !ok.has(d.claim.id)).map((d) => d.claim);
  }

  /**
   * Renews leases.
   *
   * @param tokens The tokens held.
   * @param leaseMs The new lease, from now.
   * @returns The tokens still held (the others were lost: expired and taken, or withdrawn).
   */
  async renew(tokens: readonly string[], leaseMs: number): Promise<Set<string>> {
    if (tokens.length === 0) return new Set();
    const rows = await this.#sql.unsafe(
      `UPDATE ${this.#s}.tasks SET lease_until = clock_timestamp() + make_interval(secs => $2::float8 / 1000)
       WHERE lease_token IN (SELECT json_array_elements_text($1::json)::uuid) RETURNING lease_token`,
      [tokens as unknown as string, leaseMs] as never[],
    );
    return new Set(rows.map((r) => r.lease_token as string));
  }

  /**
   * Gives claims back to the queue (a worker stopping without finishing them).
   *
   * @param claims The claims.
   */
  async release(claims: readonly Claim[]): Promise<void> {
    if (claims.length === 0) return;
    await this.#sql.unsafe(
      `WITH r AS (UPDATE ${this.#s}.tasks SET lease_token = NULL, lease_until = NULL, worker = NULL
         WHERE lease_token IN (SELECT json_array_elements_text($1::json)::uuid) RETURNING queue)
       SELECT pg_notify('${this.ready}', string_agg(DISTINCT queue, ',')) FROM r HAVING count(*) > 0`,
      [claims.map((c) => c.token) as unknown as string] as never[],
    );
  }

  /**
   * Returns expired leases to the queue, and drops queue rows of runs that
   * are no longer running (retention: the hot table keeps unfinished work only).
   *
   * @returns How many leases were returned.
   */
  async reap(): Promise<number> {
    const s = this.#s;
    const rows = await this.#sql.unsafe(
      `WITH r AS (UPDATE ${s}.tasks SET lease_token = NULL, lease_until = NULL, worker = NULL
         WHERE lease_token IS NOT NULL AND lease_until < clock_timestamp() RETURNING queue),
       o AS (DELETE FROM ${s}.tasks AS t USING ${s}.runs AS r
         WHERE r.id = t.run_id AND r.status <> 'running'
           AND t.enqueued_at < clock_timestamp() - interval '1 minute'),
       n AS (SELECT pg_notify('${this.ready}', string_agg(DISTINCT queue, ',')) FROM r HAVING count(*) > 0)
       SELECT (SELECT count(*)::int FROM r) AS n, (SELECT count(*) FROM n) AS notified`,
    );
    return rows[0]?.n ?? 0;
  }

  /**
   * Sets (or with `undefined` removes) a queue's limit across all workers.
   *
   * @param name The queue.
   * @param concurrency Its limit.
   */
  async setLimit(name: string, concurrency: number | undefined): Promise<void> {
    await this.#sql.unsafe(
      `INSERT INTO ${this.#s}.queues (name, concurrency) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency, updated_at = now()`,
      [name, concurrency ?? null],
    );
  }

  /**
   * The calls of a run whose queue row is gone: completed (the journal row
   * is final) or withdrawn (it is not: a process that no longer drives the
   * run withdrew it, and its driver must hand it to the queue again).
   *
   * @param runId The run.
   * @param nodeIds The nodes waited for.
   * @returns Their rows: id, status, outputs, error.
   */
  async results(
    runId: string,
    nodeIds: readonly string[],
  ): Promise<{ id: string; status: string; outputs: string | null; error: string | null }[]> {
    return await this.#sql.unsafe(
      `SELECT n.id, n.status, n.outputs, n.error FROM ${this.#s}.nodes AS n
       WHERE n.run_id = $1 AND n.id IN (SELECT json_array_elements_text($2::json))
         AND NOT EXISTS (SELECT 1 FROM ${this.#s}.tasks AS t WHERE t.run_id = n.run_id AND t.node_id = n.id)`,
      [runId, nodeIds as unknown as string] as never[],
    ) as unknown as { id: string; status: string; outputs: string | null; error: string | null }[];
  }
}

// deno-lint-ignore no-explicit-any
function toClaim(r: Record<string, any>): Claim {
  return {
    id: String(r.id),
    token: r.lease_token as string,
    runId: r.run_id as string,
    nodeId: r.node_id as string,
    attempt: Number(r.attempt),
    queue: r.queue as string,
    task: r.task as string,
    timeoutMs: r.timeout_ms === null ? undefined : Number(r.timeout_ms),
    inputs: r.inputs as string,
    claims: Number(r.claims),
  };
}
