/**
 * What stores keep for time and the outside world: signals sent to runs,
 * runs suspended until a time or a signal, and the fires of schedules. Every
 * store (memory, SQLite, PostgreSQL) implements {@linkcode TimeStore}; the
 * contract tests hold them to the same behaviour.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";

/** A signal as a run receives it. */
export interface SignalMessage {
  /** Its order among the run's signals, from 1. */
  readonly seq: number;
  /** The value sent. */
  readonly value: unknown;
  /** When it was sent (ms since the epoch). */
  readonly sentAt: number;
}

/** What the engine records when a run suspends: it holds no process until it wakes. */
export interface RunSuspend {
  /** The earliest time one of its timers fires, or undefined when only signals can wake it. */
  readonly wakeAt: number | undefined;
  /** The signals it waits for. */
  readonly signals: readonly string[];
}

/** A suspended run, as `weft serve` finds it. */
export interface SleepingRun {
  /** The run id. */
  readonly id: string;
  /** The entity it runs. */
  readonly entity: string;
  /** The script it came from, when run from one. */
  readonly script: string | undefined;
  /** When it wakes: its earliest timer, or the time a signal it waits for arrived; undefined while nothing will. */
  readonly wakeAt: number | undefined;
  /** The signals it waits for. */
  readonly signals: readonly string[];
}

/** What became of one fire time of a schedule. */
export interface ScheduleFire {
  /** The schedule (the launch plan's name). */
  readonly schedule: string;
  /** The fire time (ms since the epoch). */
  readonly fireAt: number;
  /** `started` (its run is `runId`), `queued` (waits for an earlier run), `skipped`. */
  readonly status: "started" | "queued" | "skipped";
  /** The run it started. */
  readonly runId: string | undefined;
}

/** A schedule as a server recorded it, so that `weft schedules` can list it. */
export interface ScheduleRecord {
  /** The launch plan's name. */
  readonly name: string;
  /** The script it comes from, when served from one. */
  readonly script: string | undefined;
  /** A cron expression, or undefined for an interval. */
  readonly cron: string | undefined;
  /** The cron expression's time zone. */
  readonly timezone: string;
  /** The interval in ms, or undefined for a cron expression. */
  readonly everyMs: number | undefined;
  /** The overlap policy. */
  readonly overlap: "skip" | "queue" | "allow";
  /** How many missed fires run late. */
  readonly catchUp: number;
  /** When a server last started serving it. */
  readonly servedAt: number;
}

/** A signal as the store lists it. */
export interface SignalRecord extends SignalMessage {
  /** The signal's name. */
  readonly name: string;
  /** The node that received it, once received. */
  readonly takenBy: string | undefined;
}

/** What a run's session does for time: suspend the run, take its signals, watch for them. */
export interface TimeSession {
  /**
   * Records that the run is suspended (status `sleeping`) until a time or a
   * signal, and flushes; the session ends.
   */
  suspend(info: RunSuspend): void | Promise<void>;
  /**
   * Takes the signal a node of this run receives: the one it took before (a
   * resumed run), else the earliest of that name nobody took.
   *
   * @param name The signal's name.
   * @param nodeId The receiving node.
   * @returns The signal, or undefined when none is there.
   */
  takeSignal(
    name: string,
    nodeId: string,
  ): SignalMessage | undefined | Promise<SignalMessage | undefined>;
  /**
   * Calls `wake` when a signal may have arrived for this run (a store that
   * cannot be told polls).
   *
   * @param wake What to call.
   * @returns Stops watching.
   */
  watchSignals(wake: () => void): () => void;
}

/** Signals, suspended runs and schedule fires: the part of a store time needs. */
export interface TimeStore {
  /**
   * Keeps a signal for a run; a suspended run waiting for it becomes due.
   *
   * @param runId The run.
   * @param name The signal's name.
   * @param value The value.
   * @param sentAt When it was sent.
   * @returns Its order among the run's signals.
   * @throws {ValidationError} For a run the store does not hold, or one that finished.
   */
  putSignal(runId: string, name: string, value: unknown, sentAt: number): Promise<number>;
  /**
   * The signals sent to a run, in order.
   *
   * @param runId The run.
   */
  listSignals(runId: string): Promise<SignalRecord[]>;
  /**
   * Suspended runs, earliest wake-up first (those that nothing will wake last).
   *
   * @param filter Only those due by a time; at most `limit` (default 100).
   */
  sleepingRuns(filter?: { dueBy?: number; limit?: number }): Promise<SleepingRun[]>;
  /**
   * Takes a suspended run that is due, so that one process resumes it: it is
   * recorded as running again.
   *
   * @param runId The run.
   * @param now The time; the run must be due by then.
   * @returns Whether this caller took it (false when another did, or it is not due).
   */
  claimWake(runId: string, now: number): Promise<boolean>;
  /**
   * Records a fire time of a schedule, once: the caller that records it first acts on it.
   *
   * @param fire The fire.
   * @returns Whether it was recorded now (false when it already was).
   */
  claimFire(fire: ScheduleFire): Promise<boolean>;
  /**
   * Changes what became of a recorded fire (a queued fire starts).
   *
   * @param fire The fire, with its new status and run.
   */
  updateFire(fire: ScheduleFire): Promise<void>;
  /**
   * The recorded fires of a schedule, newest first.
   *
   * @param schedule The schedule.
   * @param filter By status; at most `limit` (default 100).
   */
  listFires(
    schedule: string,
    filter?: { status?: ScheduleFire["status"]; limit?: number },
  ): Promise<ScheduleFire[]>;
  /**
   * Records a schedule a server serves (replacing what was recorded under its name).
   *
   * @param schedule The schedule.
   */
  putSchedule(schedule: ScheduleRecord): Promise<void>;
  /** The schedules servers recorded, by name. */
  listSchedules(): Promise<ScheduleRecord[]>;
}

/**
 * Checks that a signal can reach a run.
 *
 * @param runId The run.
 * @param status Its status, or undefined when the store has no such run.
 * @param url The store, for messages.
 * @throws {ValidationError} For an unknown or succeeded run.
 */
export function checkSignalTarget(runId: string, status: string | undefined, url: string): void {
  if (status === undefined) {
    throw new ValidationError(
      `No run '${runId}' in the store ${url}; check the run id (weft runs lists them) and the store`,
    );
  }
  if (status === "succeeded") {
    throw new ValidationError(
      `Run '${runId}' has succeeded, so no flow of it will receive the signal; signal a run that is still going`,
    );
  }
}
