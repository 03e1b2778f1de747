/**
 * Who works a PostgreSQL store: the workers that are alive (each registers
 * and heartbeats), runs recorded for the workers to drive (`weft run
 * --detach`), and runs that wait for a driver — never driven yet, or whose
 * owner's claim ran out — which a worker then claims through the store's
 * run ownership (`claimRun`) and drives by replaying their journal.
 *
 * @module
 */

import { ValidationError } from "../../core/errors.ts";
import { thisHost } from "../ownership.ts";
import type { PgClient } from "./connect.ts";

/** This process, as workers are listed. */
export interface ProcessId {
  /** A unique id: host, pid and a random part. */
  readonly id: string;
  /** Its pid. */
  readonly pid: number;
  /** Its host name. */
  readonly host: string;
}

/** A run waiting for a driver. */
export interface WaitingRun {
  readonly id: string;
  readonly entity: string;
  readonly inputsHash: string;
  readonly script: string;
}

/** A worker as `weft workers` lists it. */
export interface WorkerInfo {
  readonly id: string;
  readonly pid: number;
  readonly host: string;
  readonly queues: string;
  readonly script: string;
  readonly concurrency: number;
  readonly held: number;
  readonly startedAt: Date;
  readonly heartbeatAt: Date;
  readonly stopping: boolean;
  /** Runs it drives now. */
  readonly driving: number;
}

/**
 * This process, for the workers registry.
 *
 * @returns Its id, pid and host.
 */
export function thisProcess(): ProcessId {
  const host = thisHost();
  const rand = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
  return { id: `${host}:${Deno.pid}:${rand}`, pid: Deno.pid, host };
}

/** The server's clock, in ms since the epoch (as run ownership keeps it). */
const NOW = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/** Workers, detached runs and runs waiting for a driver. */
export class WorkerRegistry {
  readonly #sql: PgClient;
  readonly #s: string;
  /** This process. */
  readonly me: ProcessId;
  readonly #runsChannel: string;

  /**
   * @param sql The client.
   * @param schema The quoted schema.
   * @param me This process.
   * @param runsChannel Where runs waiting for a driver are announced.
   */
  constructor(sql: PgClient, schema: string, me: ProcessId, runsChannel: string) {
    this.#sql = sql;
    this.#s = schema;
    this.me = me;
    this.#runsChannel = runsChannel;
  }

  /**
   * Runs waiting for a driver that this process can drive: running, of an
   * entity its script defines, and owned by no one or by an owner whose
   * lease ran out. Claiming one is `claimRun`'s business (several workers
   * may see the same run; one claim wins).
   *
   * @param entities The entity names the worker's script defines.
   * @param scriptName The script's file name (runs of other scripts are left alone).
   * @param limit At most this many.
   * @returns The runs, oldest first.
   */
  async waiting(
    entities: readonly string[],
    scriptName: string,
    limit = 8,
  ): Promise<WaitingRun[]> {
    const s = this.#s;
    const rows = await this.#sql.unsafe(
      `SELECT r.id, r.entity, r.inputs_hash, r.script FROM ${s}.runs AS r
         LEFT JOIN ${s}.run_owners AS o ON o.run_id = r.id
       WHERE r.status = 'running' AND r.entity IN (SELECT json_array_elements_text($1::json))
         AND (r.script = $2 OR right(r.script, length($2) + 1) = '/' || $2)
         AND (o.run_id IS NULL OR o.heartbeat_at + o.lease_ms < ${NOW})
       ORDER BY r.started_at LIMIT $3`,
      [entities as unknown as string, scriptName, limit] as never[],
    );
    return rows.map((r) => ({
      id: r.id,
      entity: r.entity,
      inputsHash: r.inputs_hash,
      script: r.script,
    }));
  }

  /**
   * Records a run for the workers to drive (`weft run --detach`) and announces it.
   *
   * @param run The run: id, entity, kind, inputs (hash and encoded body), digest, script, version.
   * @throws {ValidationError} When the run id exists.
   */
  async enqueue(run: {
    runId: string;
    entity: string;
    kind: string;
    inputsHash: string;
    inputsBody: string;
    inputsDigest: string;
    script: string;
    weftVersion: string;
  }): Promise<void> {
    const s = this.#s;
    const rows = await this.#sql.unsafe(
      `WITH v AS (INSERT INTO ${s}."values" (hash, body, size) VALUES ($4, $9, length($9))
         ON CONFLICT (hash) DO NOTHING),
       r AS (INSERT INTO ${s}.runs (id, entity, kind, status, inputs_hash, inputs_digest, started_at,
           script, weft_version)
         VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING id)
       SELECT id, pg_notify('${this.#runsChannel}', id) FROM r`,
      [
        run.runId,
        run.entity,
        run.kind,
        run.inputsHash,
        run.inputsDigest,
        Date.now(),
        run.script,
        run.weftVersion,
        run.inputsBody,
      ] as never[],
    );
    if (rows.length === 0) {
      throw new ValidationError(
        `Run '${run.runId}' exists already; resume it with weft resume ${run.runId}, or choose another --run-id`,
      );
    }
  }

  /**
   * Gives up the runs this process owns without finishing them (a worker
   * stopping), and announces them: another worker claims them at once and
   * replays their journal.
   *
   * @returns The runs given up.
   */
  async releaseMine(): Promise<string[]> {
    const rows = await this.#sql.unsafe(
      `WITH d AS (DELETE FROM ${this.#s}.run_owners WHERE pid = $1 AND host = $2 RETURNING run_id)
       SELECT run_id, pg_notify('${this.#runsChannel}', run_id) FROM d`,
      [this.me.pid, this.me.host] as never[],
    );
    return rows.map((r) => r.run_id as string);
  }

  /**
   * Registers this process as a worker (or refreshes its row).
   *
   * @param info Queues served, script, concurrency, calls held, whether stopping, lease.
   */
  async heartbeat(
    info: {
      queues: string;
      script: string;
      concurrency: number;
      held: number;
      stopping: boolean;
      leaseMs: number;
    },
  ): Promise<void> {
    await this.#sql.unsafe(
      `INSERT INTO ${this.#s}.workers (id, pid, host, queues, script, concurrency, held, stopping, lease_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), held = excluded.held,
         stopping = excluded.stopping`,
      [
        this.me.id,
        this.me.pid,
        this.me.host,
        info.queues,
        info.script,
        info.concurrency,
        info.held,
        info.stopping,
        info.leaseMs,
      ] as never[],
    );
  }

  /** Removes this process from the workers, and workers silent for an hour (retention). */
  async unregister(): Promise<void> {
    await this.#sql.unsafe(
      `DELETE FROM ${this.#s}.workers WHERE id = $1 OR heartbeat_at < now() - interval '1 hour'`,
      [this.me.id],
    );
  }

  /**
   * The workers that are alive: heard from within three leases.
   *
   * @returns Them, oldest first.
   */
  async workers(): Promise<WorkerInfo[]> {
    const s = this.#s;
    const rows = await this.#sql.unsafe(
      `SELECT w.*, (SELECT count(*)::int FROM ${s}.run_owners AS o
           WHERE o.pid = w.pid AND o.host = w.host) AS driving
       FROM ${s}.workers AS w
       WHERE w.heartbeat_at > now() - make_interval(secs => 3 * w.lease_ms / 1000.0)
       ORDER BY w.started_at, w.id`,
    );
    return rows.map((r) => ({
      id: r.id,
      pid: r.pid,
      host: r.host,
      queues: r.queues,
      script: r.script,
      concurrency: r.concurrency,
      held: r.held,
      startedAt: new Date(r.started_at),
      heartbeatAt: new Date(r.heartbeat_at),
      stopping: r.stopping,
      driving: r.driving,
    }));
  }
}
