/**
 * What a run's own process cannot ask of the store: everything but its own
 * run. The store belongs to the `weft run` process that started it (see
 * `remote.ts`); these answers say so.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { Store } from "./mod.ts";

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

/**
 * The store's queries a run's process cannot ask, and how each refusal
 * names what was asked. Each is a method of {@linkcode ElsewhereQueries}
 * that rejects with {@linkcode unavailable}.
 */
const REFUSED = {
  runOwner: "Reading run owners",
  requestCancel: "Cancelling runs",
  takeovers: "Reading takeovers",
  listRuns: "Listing runs",
  getValue: "Reading values",
  lineage: "Lineage",
  executions: "Reading executions",
  clearCache: "Clearing the cache",
  putSignal: "Sending signals",
  listSignals: "Listing signals",
  sleepingRuns: "Listing sleeping runs",
  claimWake: "Waking runs",
  claimFire: "Schedules",
  updateFire: "Schedules",
  listFires: "Schedules",
  putSchedule: "Schedules",
  listSchedules: "Schedules",
  runEntities: "Listing entities",
  taskCounts: "Counting tasks",
  runNodes: "Reading nodes",
  getNode: "Reading nodes",
  nodeValues: "Reading values",
  logs: "Reading logs",
  valueUses: "Reading values",
} as const satisfies Partial<Record<keyof Store, string>>;

/** The refused queries, as methods: a rejection whatever they are given. */
type Refusals = { readonly [K in keyof typeof REFUSED]: () => Promise<never> };

/** The names of the queries a run's process cannot ask. */
export const REFUSED_QUERIES: readonly (keyof typeof REFUSED)[] = Object.keys(
  REFUSED,
) as (keyof typeof REFUSED)[];

/** The store's queries, refused: a run's process sees its own run only. */
abstract class Refusing {
  /** Nothing here changes the store but through the owner. */
  changeCount(): number {
    return 0;
  }
}
for (const name of REFUSED_QUERIES) {
  const what = REFUSED[name];
  Object.defineProperty(Refusing.prototype, name, {
    value: () => unavailable(what),
    writable: true,
    configurable: true,
  });
}

/** The store's queries, refused (see {@linkcode REFUSED}), as a base class. */
export const ElsewhereQueries: abstract new () => Refusing & Refusals = Refusing as never;
