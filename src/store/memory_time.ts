/**
 * The memory store's journals, signals, suspended runs and schedule fires.
 *
 * @module
 */

import type { WeftError } from "../core/errors.ts";
import { checkSignalTarget } from "./time.ts";
import type {
  JournalEntry,
  NodeRecord,
  PreviousRun,
  RunStart,
  RunStatus,
  ScheduleFire,
  ScheduleRecord,
  SignalRecord,
  SleepingRun,
  TimeStore,
} from "./mod.ts";
import { errorRecord, promised } from "./provenance.ts";

/** What the memory store keeps of a run. */
export interface MemoryRun {
  /** How the run started. */
  readonly start: RunStart;
  /** The current status. */
  status: RunStatus;
  /** The outputs, once succeeded. */
  outputs: unknown;
  /** The errors, once failed. */
  errors: readonly WeftError[];
  /** When it finished. */
  finishedAt: number | undefined;
  /** The latest record of each node, by id. */
  readonly nodes: Map<string, NodeRecord>;
  /** How many times it was started. */
  attempts: number;
  /** While sleeping: when it wakes. */
  wakeAt: number | undefined;
  /** While sleeping: the signals it waits for. */
  waitingFor: readonly string[];
  /** The signals sent to it, in order. */
  readonly signals: {
    seq: number;
    name: string;
    value: unknown;
    sentAt: number;
    takenBy: string | undefined;
  }[];
}

/**
 * What resuming a run would see of it.
 *
 * @param r The run.
 * @returns Its outcome and journal.
 */
export function previousOf(r: MemoryRun): PreviousRun {
  return {
    status: r.status,
    entity: r.start.entity,
    inputsDigest: r.start.inputsDigest,
    outputs: r.outputs,
    errors: r.errors.map((e) => e.toJSON()),
    startedAt: r.start.startedAt,
    finishedAt: r.finishedAt,
    journal: journalOf(r.nodes),
  };
}

/** Keeps a signal; a sleeping run waiting for it becomes due; watchers hear of it. */
export function putSignal(
  runs: Map<string, MemoryRun>,
  watchers: Map<string, Set<() => void>>,
  runId: string,
  name: string,
  value: unknown,
  sentAt: number,
): number {
  const run = runs.get(runId);
  checkSignalTarget(runId, run?.status, "memory");
  const seq = run!.signals.length + 1;
  run!.signals.push({ seq, name, value, sentAt, takenBy: undefined });
  if (run!.status === "sleeping" && run!.waitingFor.includes(name)) {
    run!.wakeAt = Math.min(run!.wakeAt ?? Infinity, sentAt);
  }
  for (const wake of watchers.get(runId) ?? []) wake();
  return seq;
}

/** Sleeping runs, earliest wake-up first, those nothing will wake last. */
export function sleepingRuns(
  runs: Map<string, MemoryRun>,
  filter: { dueBy?: number; limit?: number },
): SleepingRun[] {
  const out: SleepingRun[] = [];
  for (const [id, r] of runs) {
    if (r.status !== "sleeping") continue;
    if (filter.dueBy !== undefined && !(r.wakeAt !== undefined && r.wakeAt <= filter.dueBy)) {
      continue;
    }
    out.push({
      id,
      entity: r.start.entity,
      script: r.start.script,
      wakeAt: r.wakeAt,
      signals: r.waitingFor,
    });
  }
  out.sort((a, b) => (a.wakeAt ?? Infinity) - (b.wakeAt ?? Infinity) || (a.id < b.id ? -1 : 1));
  return out.slice(0, filter.limit ?? 100);
}

/** Takes a due sleeping run: it is running again. */
export function claimWake(runs: Map<string, MemoryRun>, runId: string, now: number): boolean {
  const r = runs.get(runId);
  if (r === undefined || r.status !== "sleeping" || r.wakeAt === undefined || r.wakeAt > now) {
    return false;
  }
  r.status = "running";
  r.wakeAt = undefined;
  return true;
}

/** The fires of schedules, by schedule and time, and the schedules served. */
export class FireBook {
  readonly #fires = new Map<string, Map<number, ScheduleFire>>();
  /** The schedules servers recorded, by name. */
  readonly schedules: Map<string, ScheduleRecord> = new Map();

  /** Records a fire unless it is recorded; returns whether it was recorded now. */
  claim(fire: ScheduleFire): boolean {
    let fires = this.#fires.get(fire.schedule);
    if (fires === undefined) this.#fires.set(fire.schedule, fires = new Map());
    if (fires.has(fire.fireAt)) return false;
    fires.set(fire.fireAt, { ...fire });
    return true;
  }

  /** Changes a recorded fire. */
  update(fire: ScheduleFire): void {
    this.#fires.get(fire.schedule)?.set(fire.fireAt, { ...fire });
  }

  /** The fires of a schedule, newest first. */
  list(
    schedule: string,
    filter: { status?: ScheduleFire["status"]; limit?: number },
  ): ScheduleFire[] {
    return [...(this.#fires.get(schedule)?.values() ?? [])]
      .filter((f) => filter.status === undefined || f.status === filter.status)
      .sort((a, b) => b.fireAt - a.fireAt)
      .slice(0, filter.limit ?? 100);
  }
}

/**
 * The journal of a run's nodes, by position.
 *
 * @param nodes The latest record of each node.
 * @returns The entries by `parentId#seq`.
 */
export function journalOf(nodes: Map<string, NodeRecord>): Map<string, JournalEntry> {
  const journal = new Map<string, JournalEntry>();
  for (const node of nodes.values()) {
    journal.set(`${node.parentId ?? ""}#${node.seq}`, {
      nodeId: node.id,
      entity: node.entity,
      argsDigest: node.argsDigest(),
      call: node.describeCall(),
      status: node.status,
      value: node.value,
      attempt: node.attempt,
      startedAt: node.startedAt,
      finishedAt: node.finishedAt,
      cachedFrom: node.cachedFrom,
      ...(node.status === "failed" && node.error !== undefined
        ? { error: errorRecord(node.error), caught: node.caught }
        : {}),
    });
  }
  return journal;
}

/**
 * The `TimeStore` methods of the memory store (a base class, so that the
 * store's own file keeps to its runs, nodes, values and queries).
 */
export abstract class MemoryTimeMethods implements TimeStore {
  /** The runs, oldest first. */
  abstract readonly runs: Map<string, MemoryRun>;
  /** Runs of this process waiting for signals, by run id. @ignore */
  readonly watchers: Map<string, Set<() => void>> = new Map();
  /** Schedule fires and the schedules served. @ignore */
  readonly fires: FireBook = new FireBook();

  /** Keeps a signal for a run (see {@linkcode TimeStore.putSignal}). */
  putSignal(runId: string, name: string, value: unknown, sentAt: number): Promise<number> {
    return promised(() => putSignal(this.runs, this.watchers, runId, name, value, sentAt));
  }

  /** The signals sent to a run, in order. */
  listSignals(runId: string): Promise<SignalRecord[]> {
    return promised(() => (this.runs.get(runId)?.signals ?? []).map((m) => ({ ...m })));
  }

  /** Suspended runs, earliest wake-up first. */
  sleepingRuns(filter: { dueBy?: number; limit?: number } = {}): Promise<SleepingRun[]> {
    return promised(() => sleepingRuns(this.runs, filter));
  }

  /** Takes a due suspended run. */
  claimWake(runId: string, now: number): Promise<boolean> {
    return promised(() => claimWake(this.runs, runId, now));
  }

  /** Records a fire of a schedule once. */
  claimFire(fire: ScheduleFire): Promise<boolean> {
    return promised(() => this.fires.claim(fire));
  }

  /** Changes a recorded fire. */
  updateFire(fire: ScheduleFire): Promise<void> {
    return promised(() => this.fires.update(fire));
  }

  /** Records a schedule a server serves. */
  putSchedule(schedule: ScheduleRecord): Promise<void> {
    return promised(() => void this.fires.schedules.set(schedule.name, { ...schedule }));
  }

  /** The schedules servers recorded, by name. */
  listSchedules(): Promise<ScheduleRecord[]> {
    return promised(() =>
      [...this.fires.schedules.values()].sort((a, b) => a.name < b.name ? -1 : 1)
    );
  }

  /** The fires of a schedule, newest first. */
  listFires(
    schedule: string,
    filter: { status?: ScheduleFire["status"]; limit?: number } = {},
  ): Promise<ScheduleFire[]> {
    return promised(() => this.fires.list(schedule, filter));
  }
}
