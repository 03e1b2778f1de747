/**
 * What a run's own process cannot ask of the store: everything but its own
 * run. The store belongs to the `weft run` process that started it (see
 * `remote.ts`); these answers say so.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { LogEntry, NodeChanges, NodeValue, TaskCounts, ValueUses } from "./browse.ts";
import type {
  Lineage,
  NodeDetails,
  RunOwner,
  RunSummary,
  RunTakeover,
  ScheduleFire,
  ScheduleRecord,
  SignalRecord,
  SleepingRun,
} from "./mod.ts";

/**
 * A refusal that says where the store is.
 *
 * @param what What was asked.
 * @returns A rejected promise.
 */
export function unavailable(what: string): Promise<never> {
  return Promise.reject(
    new ValidationError(
      `${what} is not available to a run's own process: the store belongs to the weft run that started it; use weft runs, weft show or the store from another process`,
    ),
  );
}

/** The store's queries, refused: a run's process sees its own run only. */
export abstract class ElsewhereQueries {
  /** Not available here. */
  runOwner(): Promise<RunOwner | undefined> {
    return unavailable("Reading run owners");
  }
  /** Not available here. */
  requestCancel(): Promise<RunOwner | undefined> {
    return unavailable("Cancelling runs");
  }
  /** Not available here. */
  takeovers(): Promise<RunTakeover[]> {
    return unavailable("Reading takeovers");
  }
  /** Not available here. */
  listRuns(): Promise<RunSummary[]> {
    return unavailable("Listing runs");
  }
  /** Not available here. */
  getValue(): Promise<{ hash: string; value: unknown } | undefined> {
    return unavailable("Reading values");
  }
  /** Not available here. */
  lineage(): Promise<Lineage> {
    return unavailable("Lineage");
  }
  /** Not available here. */
  executions(): Promise<NodeDetails[]> {
    return unavailable("Reading executions");
  }
  /** Not available here. */
  clearCache(): Promise<number> {
    return unavailable("Clearing the cache");
  }
  /** Not available here. */
  putSignal(): Promise<number> {
    return unavailable("Sending signals");
  }
  /** Not available here. */
  listSignals(): Promise<SignalRecord[]> {
    return unavailable("Listing signals");
  }
  /** Not available here. */
  sleepingRuns(): Promise<SleepingRun[]> {
    return unavailable("Listing sleeping runs");
  }
  /** Not available here. */
  claimWake(): Promise<boolean> {
    return unavailable("Waking runs");
  }
  /** Not available here. */
  claimFire(): Promise<boolean> {
    return unavailable("Schedules");
  }
  /** Not available here. */
  updateFire(): Promise<void> {
    return unavailable("Schedules");
  }
  /** Not available here. */
  listFires(): Promise<ScheduleFire[]> {
    return unavailable("Schedules");
  }
  /** Not available here. */
  putSchedule(): Promise<void> {
    return unavailable("Schedules");
  }
  /** Not available here. */
  listSchedules(): Promise<ScheduleRecord[]> {
    return unavailable("Schedules");
  }
  /** Not available here. */
  runEntities(): Promise<string[]> {
    return unavailable("Listing entities");
  }
  /** Not available here. */
  taskCounts(): Promise<Map<string, TaskCounts>> {
    return unavailable("Counting tasks");
  }
  /** Not available here. */
  runNodes(): Promise<NodeChanges | undefined> {
    return unavailable("Reading nodes");
  }
  /** Not available here. */
  getNode(): Promise<NodeDetails | undefined> {
    return unavailable("Reading nodes");
  }
  /** Not available here. */
  nodeValues(): Promise<{ inputs: NodeValue[]; outputs: NodeValue[] } | undefined> {
    return unavailable("Reading values");
  }
  /** Not available here. */
  logs(): Promise<LogEntry[]> {
    return unavailable("Reading logs");
  }
  /** Not available here. */
  valueUses(): Promise<ValueUses> {
    return unavailable("Reading values");
  }
  /** Nothing here changes the store but through the owner. */
  changeCount(): number {
    return 0;
  }
}
