/**
 * The SQLite store's signals, suspended runs and schedule fires (the
 * `TimeStore` part of the contract), over the statements `schema.ts`
 * prepares. A signal is taken by the node that receives it in one
 * transaction, so that a resumed run's node gets the same signal again and
 * no other node gets it.
 *
 * @module
 */

import type { StatementSync } from "node:sqlite";
import { encodeValue } from "../../core/values.ts";
import { checkSignalTarget } from "../time.ts";
import * as timeRows from "../time_rows.ts";
import type {
  RunStatus,
  RunSuspend,
  ScheduleFire,
  ScheduleRecord,
  SignalMessage,
  SignalRecord,
  SleepingRun,
  TimeStore,
} from "../mod.ts";
import { promised } from "../provenance.ts";
import type { Row } from "./rows.ts";

/** How often a run waiting for a signal looks for one sent by another process. */
const SIGNAL_POLL_MS = 200;

/** The time-related queries of one SQLite store. */
export class SqliteTime {
  readonly #url: string;
  readonly #s: () => Record<string, StatementSync>;
  readonly #tx: (fn: () => void) => void;
  /** Throws when the store is closed. */
  readonly check: () => void;
  /** Runs of this process waiting for signals: told at once when this store keeps one. */
  readonly #watchers = new timeRows.SignalWatchers();

  /**
   * Answers for one store.
   *
   * @param url The store's URL, for messages.
   * @param statements Its prepared statements.
   * @param tx Runs a function in a transaction.
   * @param check Throws when the store is closed.
   */
  constructor(
    url: string,
    statements: () => Record<string, StatementSync>,
    tx: (fn: () => void) => void,
    check: () => void,
  ) {
    this.#url = url;
    this.#s = statements;
    this.#tx = tx;
    this.check = check;
  }

  /** Records a run as sleeping (its session has flushed). */
  suspend(runId: string, info: RunSuspend): void {
    const s = this.#s();
    this.#tx(() => {
      const names = JSON.stringify(info.signals);
      const early = (s.earliestWaiting!.get(runId, names) as Row | undefined)?.at;
      let wakeAt = info.wakeAt;
      if (early !== null && early !== undefined) {
        wakeAt = Math.min(wakeAt ?? Infinity, Number(early));
      }
      s.suspendRun!.run(wakeAt ?? null, names, runId);
    });
  }

  /** Keeps a signal (see `TimeStore.putSignal`). */
  putSignal(runId: string, name: string, value: unknown, sentAt: number): number {
    const s = this.#s();
    const body = encodeValue(value);
    let seq = 0;
    this.#tx(() => {
      const row = s.runStatus!.get(runId) as Row | undefined;
      checkSignalTarget(runId, row?.status as RunStatus | undefined, this.#url);
      seq = Number((s.nextSignalSeq!.get(runId) as Row).seq);
      s.insertSignal!.run(runId, seq, name, body, sentAt);
      if (timeRows.wakesFor(row!, name)) {
        s.wakeForSignal!.run(sentAt, runId);
      }
    });
    this.#watchers.wake(runId);
    return seq;
  }

  /** The signal a node receives: the one it took before, else the earliest free one of its name. */
  takeSignal(runId: string, name: string, nodeId: string): SignalMessage | undefined {
    const s = this.#s();
    let found: Row | undefined;
    this.#tx(() => {
      found = s.signalTakenBy!.get(runId, nodeId) as Row | undefined;
      if (found !== undefined) return;
      found = s.signalFree!.get(runId, name) as Row | undefined;
      if (found !== undefined) s.takeSignal!.run(nodeId, runId, Number(found.seq));
    });
    const row = found as Row | undefined;
    if (row === undefined) return undefined;
    return timeRows.signalMessage(row);
  }

  /** Calls `wake` when a signal may have come: at once from this store, by polling from others. */
  watchSignals(runId: string, wake: () => void): () => void {
    const stop = this.#watchers.add(runId, wake);
    let last = this.#lastSeq(runId);
    const timer = setInterval(() => {
      let now: number;
      try {
        now = this.#lastSeq(runId);
      } catch {
        return; // the store closed: the run is ending
      }
      if (now !== last) {
        last = now;
        wake();
      }
    }, SIGNAL_POLL_MS);
    return () => {
      clearInterval(timer);
      stop();
    };
  }

  #lastSeq(runId: string): number {
    return Number((this.#s().lastSignal!.get(runId) as Row).seq);
  }

  /** The signals sent to a run, in order. */
  listSignals(runId: string): SignalRecord[] {
    return (this.#s().listSignals!.all(runId) as Row[]).map(timeRows.signalRecord);
  }

  /** Sleeping runs, earliest wake-up first. */
  sleepingRuns(filter: { dueBy?: number; limit?: number }): SleepingRun[] {
    return (this.#s().sleepingRuns!.all(filter.dueBy ?? null, filter.limit ?? 100) as Row[]).map(
      timeRows.sleepingRun,
    );
  }

  /** Takes a due sleeping run. */
  claimWake(runId: string, now: number): boolean {
    return Number(this.#s().claimWake!.run(runId, now).changes) === 1;
  }

  /** Records a fire once. */
  claimFire(fire: ScheduleFire): boolean {
    return Number(
      this.#s().claimFire!.run(fire.schedule, fire.fireAt, fire.status, fire.runId ?? null)
        .changes,
    ) === 1;
  }

  /** Changes a recorded fire. */
  updateFire(fire: ScheduleFire): void {
    this.#s().updateFire!.run(fire.status, fire.runId ?? null, fire.schedule, fire.fireAt);
  }

  /** The fires of a schedule, newest first. */
  listFires(
    schedule: string,
    filter: { status?: ScheduleFire["status"]; limit?: number },
  ): ScheduleFire[] {
    return (this.#s().listFires!.all(schedule, filter.status ?? null, filter.limit ?? 100) as Row[])
      .map(timeRows.scheduleFire);
  }

  /** Records a schedule a server serves. */
  putSchedule(r: ScheduleRecord): void {
    const { name, script, servedAt, ...spec } = r;
    this.#s().putSchedule!.run(name, script ?? null, JSON.stringify(spec), servedAt);
  }

  /** The schedules servers recorded. */
  listSchedules(): ScheduleRecord[] {
    return (this.#s().listSchedules!.all() as Row[]).map(timeRows.scheduleRecord);
  }
}

/**
 * The `TimeStore` methods of the SQLite store, answered by its
 * {@linkcode SqliteTime} (a base class, so that the store's own file keeps
 * to its runs, nodes, values and queries).
 */
export abstract class SqliteTimeMethods implements TimeStore {
  /** Signals, sleeping runs and schedule fires. @ignore */
  abstract readonly time: SqliteTime;

  /** Keeps a signal for a run (see `TimeStore.putSignal`). */
  putSignal(runId: string, name: string, value: unknown, sentAt: number): Promise<number> {
    return promised(() => (this.time.check(), this.time.putSignal(runId, name, value, sentAt)));
  }
  /** The signals sent to a run, in order. */
  listSignals(runId: string): Promise<SignalRecord[]> {
    return promised(() => (this.time.check(), this.time.listSignals(runId)));
  }
  /** Suspended runs, earliest wake-up first. */
  sleepingRuns(filter: { dueBy?: number; limit?: number } = {}): Promise<SleepingRun[]> {
    return promised(() => (this.time.check(), this.time.sleepingRuns(filter)));
  }
  /** Takes a due suspended run. */
  claimWake(runId: string, now: number): Promise<boolean> {
    return promised(() => (this.time.check(), this.time.claimWake(runId, now)));
  }
  /** Records a fire of a schedule once. */
  claimFire(fire: ScheduleFire): Promise<boolean> {
    return promised(() => (this.time.check(), this.time.claimFire(fire)));
  }
  /** Changes a recorded fire. */
  updateFire(fire: ScheduleFire): Promise<void> {
    return promised(() => (this.time.check(), this.time.updateFire(fire)));
  }
  /** The fires of a schedule, newest first. */
  listFires(
    schedule: string,
    filter: { status?: ScheduleFire["status"]; limit?: number } = {},
  ): Promise<ScheduleFire[]> {
    return promised(() => (this.time.check(), this.time.listFires(schedule, filter)));
  }
  /** Records a schedule a server serves. */
  putSchedule(schedule: ScheduleRecord): Promise<void> {
    return promised(() => (this.time.check(), this.time.putSchedule(schedule)));
  }
  /** The schedules servers recorded, by name. */
  listSchedules(): Promise<ScheduleRecord[]> {
    return promised(() => (this.time.check(), this.time.listSchedules()));
  }
}
