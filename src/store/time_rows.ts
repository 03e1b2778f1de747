/**
 * How the SQL stores' time rows read back (SQLite and PostgreSQL keep the
 * same columns): signals, sleeping runs, schedule fires and schedules; and
 * the runs of this process that wait for a signal, told at once when this
 * store keeps one.
 *
 * @module
 */

import { decodeValue } from "../core/values.ts";
import type { SqlRow } from "./rows.ts";
import type {
  ScheduleFire,
  ScheduleRecord,
  SignalMessage,
  SignalRecord,
  SleepingRun,
} from "./time.ts";

/**
 * A signal row as a node receives it.
 *
 * @param row The row (`seq, body, sent_at`).
 * @returns The message.
 */
export function signalMessage(row: SqlRow): SignalMessage {
  return {
    seq: Number(row.seq),
    value: decodeValue(row.body as string),
    sentAt: Number(row.sent_at),
  };
}

/**
 * A signal row as `listSignals` lists it.
 *
 * @param r The row (`seq, name, body, sent_at, taken_by`).
 * @returns The record.
 */
export function signalRecord(r: SqlRow): SignalRecord {
  return {
    seq: Number(r.seq),
    name: r.name as string,
    value: decodeValue(r.body as string),
    sentAt: Number(r.sent_at),
    takenBy: (r.taken_by as string | null) ?? undefined,
  };
}

/**
 * A sleeping run's row.
 *
 * @param r The row (`id, entity, script, wake_at, waiting_for`).
 * @returns The run, with the signals it waits for.
 */
export function sleepingRun(r: SqlRow): SleepingRun {
  return {
    id: r.id as string,
    entity: r.entity as string,
    script: (r.script as string | null) ?? undefined,
    wakeAt: r.wake_at === null ? undefined : Number(r.wake_at),
    signals: waitingFor(r),
  };
}

/** The names of the signals a run's row says it waits for (`waiting_for`). */
function waitingFor(r: SqlRow): string[] {
  return r.waiting_for === null ? [] : JSON.parse(r.waiting_for as string);
}

/**
 * Whether a signal wakes a run at once: the run sleeps waiting for a signal
 * of that name (else it is kept until the run takes it).
 *
 * @param run The run's row (`status, waiting_for`).
 * @param name The signal's name.
 * @returns Whether to wake it.
 */
export function wakesFor(run: SqlRow, name: string): boolean {
  return run.status === "sleeping" && waitingFor(run).includes(name);
}

/**
 * A schedule fire's row.
 *
 * @param r The row (`schedule, fire_at, status, run_id`).
 * @returns The fire.
 */
export function scheduleFire(r: SqlRow): ScheduleFire {
  return {
    schedule: r.schedule as string,
    fireAt: Number(r.fire_at),
    status: r.status as ScheduleFire["status"],
    runId: (r.run_id as string | null) ?? undefined,
  };
}

/**
 * A schedule's row (its spec kept as JSON).
 *
 * @param r The row (`name, script, spec, served_at`).
 * @returns The schedule.
 */
export function scheduleRecord(r: SqlRow): ScheduleRecord {
  const spec = JSON.parse(r.spec as string);
  return {
    name: r.name as string,
    script: (r.script as string | null) ?? undefined,
    cron: spec.cron,
    timezone: spec.timezone,
    everyMs: spec.everyMs,
    overlap: spec.overlap,
    catchUp: spec.catchUp,
    servedAt: Number(r.served_at),
  };
}

/** The runs of this process waiting for signals, by run id. */
export class SignalWatchers {
  readonly #byRun = new Map<string, Set<() => void>>();

  /**
   * Listens for a run's signals.
   *
   * @param runId The run.
   * @param wake Called when this store keeps a signal for it.
   * @returns Stops listening.
   */
  add(runId: string, wake: () => void): () => void {
    let set = this.#byRun.get(runId);
    if (set === undefined) this.#byRun.set(runId, set = new Set());
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0) this.#byRun.delete(runId);
    };
  }

  /** Tells a run's listeners that a signal came. */
  wake(runId: string): void {
    for (const wake of this.#byRun.get(runId) ?? []) wake();
  }
}
