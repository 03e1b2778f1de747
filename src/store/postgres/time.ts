/**
 * The PostgreSQL store's signals, suspended runs and schedule fires (the
 * `TimeStore` part of the contract). Each change is one statement (or one
 * short transaction), so that many processes on many machines agree: a
 * signal is taken by one node (`FOR UPDATE SKIP LOCKED`), a due run is
 * claimed by one server, a fire is recorded once (`ON CONFLICT DO NOTHING`).
 *
 * @module
 */

import { encodeValue } from "../../core/values.ts";
import type {
  RunSuspend,
  ScheduleFire,
  ScheduleRecord,
  SignalMessage,
  SignalRecord,
  SleepingRun,
} from "../mod.ts";
import { checkSignalTarget } from "../time.ts";
import * as timeRows from "../time_rows.ts";
import type { PgClient } from "./connect.ts";
import type { GroupWriter } from "./writer.ts";

/** How often a run waiting for a signal looks for one sent by another process. */
const SIGNAL_POLL_MS = 200;

// deno-lint-ignore no-explicit-any
type Row = Record<string, any>;

/** The time-related queries of one PostgreSQL store. */
export class PgTime {
  readonly #sql: PgClient;
  readonly #s: string;
  readonly #url: string;
  readonly #writer: GroupWriter;
  readonly #watchers = new timeRows.SignalWatchers();

  /**
   * Answers for one store.
   *
   * @param sql The client pool.
   * @param schema The quoted schema name.
   * @param url The store's URL, for messages.
   * @param writer The group writer (its retries cover a server restart).
   */
  constructor(sql: PgClient, schema: string, url: string, writer: GroupWriter) {
    this.#sql = sql;
    this.#s = schema;
    this.#url = url;
    this.#writer = writer;
  }

  /** Records a run as sleeping (its session has committed). */
  async suspend(runId: string, info: RunSuspend): Promise<void> {
    const s = this.#s;
    await this.#writer.run(() =>
      this.#sql.unsafe(
        `UPDATE ${s}.runs SET status = 'sleeping', finished_at = NULL, waiting_for = $3::text,
           wake_at = LEAST($2::bigint, (SELECT MIN(sent_at) FROM ${s}.signals WHERE run_id = $1
             AND taken_by IS NULL AND name IN (SELECT json_array_elements_text($4::json))))
         WHERE id = $1`,
        [runId, info.wakeAt ?? null, JSON.stringify(info.signals), JSON.stringify(info.signals)],
      )
    );
  }

  /** Keeps a signal (see `TimeStore.putSignal`). */
  async putSignal(runId: string, name: string, value: unknown, sentAt: number): Promise<number> {
    const s = this.#s;
    const body = encodeValue(value);
    const seq = await this.#writer.run(() =>
      this.#sql.begin(async (tx) => {
        // The run's row, locked, orders the signals sent to it at once.
        const run = (await tx.unsafe(
          `SELECT status, waiting_for FROM ${s}.runs WHERE id = $1 FOR UPDATE`,
          [runId],
        ))[0] as Row | undefined;
        checkSignalTarget(runId, run?.status, this.#url);
        const next = (await tx.unsafe(
          `INSERT INTO ${s}.signals (run_id, seq, name, body, sent_at)
           SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM ${s}.signals WHERE run_id = $1
           RETURNING seq`,
          [runId, name, body, sentAt],
        ))[0] as Row;
        if (timeRows.wakesFor(run!, name)) {
          await tx.unsafe(
            `UPDATE ${s}.runs SET wake_at = LEAST(COALESCE(wake_at, $2), $2) WHERE id = $1`,
            [runId, sentAt],
          );
        }
        return Number(next.seq);
      })
    );
    this.#watchers.wake(runId);
    return seq;
  }

  /** The signal a node receives: the one it took before, else the earliest free one of its name. */
  async takeSignal(
    runId: string,
    name: string,
    nodeId: string,
  ): Promise<SignalMessage | undefined> {
    const s = this.#s;
    const rows = await this.#writer.run(() =>
      this.#sql.unsafe(
        `WITH prior AS (
           SELECT seq, body, sent_at FROM ${s}.signals WHERE run_id = $1 AND taken_by = $3
         ), taken AS (
           UPDATE ${s}.signals SET taken_by = $3 WHERE run_id = $1 AND NOT EXISTS (SELECT 1 FROM prior)
             AND seq = (SELECT seq FROM ${s}.signals WHERE run_id = $1 AND name = $2
               AND taken_by IS NULL ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING seq, body, sent_at
         )
         SELECT * FROM prior UNION ALL SELECT * FROM taken LIMIT 1`,
        [runId, name, nodeId],
      )
    );
    const row = rows[0] as Row | undefined;
    if (row === undefined) return undefined;
    return timeRows.signalMessage(row);
  }

  /** Calls `wake` when a signal may have come: at once from this store, by polling from others. */
  watchSignals(runId: string, wake: () => void): () => void {
    const stop = this.#watchers.add(runId, wake);
    let last: number | undefined;
    let busy = false;
    const look = async () => {
      if (busy) return;
      busy = true;
      try {
        const now = Number(
          (await this.#sql.unsafe(
            `SELECT COALESCE(MAX(seq), 0) AS seq FROM ${this.#s}.signals WHERE run_id = $1`,
            [runId],
          ))[0]!.seq,
        );
        if (last !== undefined && now !== last) wake();
        last = now;
      } catch {
        // the store closed or the server is away: the next look tries again
      } finally {
        busy = false;
      }
    };
    look();
    const timer = setInterval(look, SIGNAL_POLL_MS);
    return () => {
      clearInterval(timer);
      stop();
    };
  }

  /** The signals sent to a run, in order. */
  async listSignals(runId: string): Promise<SignalRecord[]> {
    const rows = await this.#sql.unsafe(
      `SELECT seq, name, body, sent_at, taken_by FROM ${this.#s}.signals WHERE run_id = $1 ORDER BY seq`,
      [runId],
    );
    return rows.map(timeRows.signalRecord);
  }

  /** Sleeping runs, earliest wake-up first. */
  async sleepingRuns(filter: { dueBy?: number; limit?: number }): Promise<SleepingRun[]> {
    const rows = await this.#sql.unsafe(
      `SELECT id, entity, script, wake_at, waiting_for FROM ${this.#s}.runs
        WHERE status = 'sleeping' AND ($1::bigint IS NULL OR wake_at <= $1)
        ORDER BY wake_at ASC NULLS LAST, id LIMIT $2`,
      [filter.dueBy ?? null, filter.limit ?? 100],
    );
    return rows.map(timeRows.sleepingRun);
  }

  /** Takes a due sleeping run. */
  async claimWake(runId: string, now: number): Promise<boolean> {
    const rows = await this.#writer.run(() =>
      this.#sql.unsafe(
        `UPDATE ${this.#s}.runs SET status = 'running', wake_at = NULL
          WHERE id = $1 AND status = 'sleeping' AND wake_at <= $2 RETURNING id`,
        [runId, now],
      )
    );
    return rows.length === 1;
  }

  /** Records a fire once. */
  async claimFire(fire: ScheduleFire): Promise<boolean> {
    const rows = await this.#writer.run(() =>
      this.#sql.unsafe(
        `INSERT INTO ${this.#s}.schedule_fires (schedule, fire_at, status, run_id)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING fire_at`,
        [fire.schedule, fire.fireAt, fire.status, fire.runId ?? null],
      )
    );
    return rows.length === 1;
  }

  /** Changes a recorded fire. */
  async updateFire(fire: ScheduleFire): Promise<void> {
    await this.#writer.run(() =>
      this.#sql.unsafe(
        `UPDATE ${this.#s}.schedule_fires SET status = $3, run_id = $4 WHERE schedule = $1 AND fire_at = $2`,
        [fire.schedule, fire.fireAt, fire.status, fire.runId ?? null],
      )
    );
  }

  /** The fires of a schedule, newest first. */
  async listFires(
    schedule: string,
    filter: { status?: ScheduleFire["status"]; limit?: number },
  ): Promise<ScheduleFire[]> {
    const rows = await this.#sql.unsafe(
      `SELECT schedule, fire_at, status, run_id FROM ${this.#s}.schedule_fires
        WHERE schedule = $1 AND ($2::text IS NULL OR status = $2) ORDER BY fire_at DESC LIMIT $3`,
      [schedule, filter.status ?? null, filter.limit ?? 100],
    );
    return rows.map(timeRows.scheduleFire);
  }

  /** Records a schedule a server serves. */
  async putSchedule(r: ScheduleRecord): Promise<void> {
    const { name, script, servedAt, ...spec } = r;
    await this.#writer.run(() =>
      this.#sql.unsafe(
        `INSERT INTO ${this.#s}.schedules (name, script, spec, served_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET script = excluded.script, spec = excluded.spec,
           served_at = excluded.served_at`,
        [name, script ?? null, JSON.stringify(spec), servedAt],
      )
    );
  }

  /** The schedules servers recorded. */
  async listSchedules(): Promise<ScheduleRecord[]> {
    const rows = await this.#sql.unsafe(
      `SELECT name, script, spec, served_at FROM ${this.#s}.schedules ORDER BY name`,
    );
    return rows.map(timeRows.scheduleRecord);
  }
}
