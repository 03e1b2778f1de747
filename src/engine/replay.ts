/**
 * Replay checking (Temporal's replay testing): run a flow's current code
 * against the journal of a recorded run, executing nothing — every call
 * must find its recorded twin at the same position, or the check reports
 * the `NonDeterminismError` a resume of that run would hit. Calls past the
 * recorded history are not run; the check ends there.
 *
 * @module
 */

import { NonDeterminismError, ValidationError, type WeftError } from "../core/errors.ts";
import type { EntityDef } from "../define/defs.ts";
import { requireEntity } from "../define/entity.ts";
import type {
  CacheHit,
  JournalEntry,
  NodeRecord,
  PreviousRun,
  RunSession,
  SignalMessage,
  Store,
} from "../store/mod.ts";
import { startBody } from "./bodies.ts";
import { prepareInputs } from "./execute.ts";
import { Run } from "./run.ts";

/** What a replay check found. */
export interface ReplayReport {
  /** The run checked. */
  runId: string;
  /** How many recorded calls the code made again, in place. */
  replayed: number;
  /** How many calls the code made past the recorded history (not run). */
  beyond: number;
  /** Whether the code's flow finished within the recorded history (else it stopped at a call not recorded as done). */
  finished: boolean;
}

/** A session that writes nothing and answers from a recorded journal. */
class CheckSession implements RunSession {
  readonly previous: PreviousRun;
  /** Positions the code reached, with their entries when recorded. */
  readonly reached = new Map<string, JournalEntry | undefined>();

  constructor(previous: PreviousRun) {
    this.previous = previous;
  }
  added(node: NodeRecord): void {
    const position = `${node.parentId ?? ""}#${node.seq}`;
    this.reached.set(position, this.previous.journal.get(position));
  }
  changed(): void {}
  pending(): boolean {
    return false;
  }
  flush(): void {}
  cacheGet(): CacheHit | undefined {
    return undefined;
  }
  cachePut(): void {}
  log(): void {}
  finish(): void {}
  suspend(): void {}
  takeSignal(): SignalMessage | undefined {
    return undefined;
  }
  watchSignals(): () => void {
    return () => {};
  }
}

/**
 * Checks that an entity's current code replays a recorded run.
 *
 * @example Catch a reordered call before deploying
 * ```ts
 * import { flow, run, task, wait } from "@weft/weft";
 * import { replayCheck } from "@weft/weft/testing";
 * import { MemoryStore } from "@weft/weft/store";
 * import assert from "node:assert/strict";
 *
 * const a = task(function a() { return 1; });
 * const b = task(function b() { return 2; });
 * const store = new MemoryStore();
 * const v1 = flow({ name: "f" }, async function* () { return (yield* wait(a())) + (yield* wait(b())); });
 * await run(v1, {}, { store, runId: "r1" });
 * const v2 = flow({ name: "f" }, async function* () { return (yield* wait(b())) + (yield* wait(a())); });
 * await assert.rejects(() => replayCheck(v2, "r1", { store }), /diverged/);
 * assert.equal((await replayCheck(v1, "r1", { store })).replayed, 2);
 * ```
 *
 * @param entity The flow (or workflow, launch plan) as the code now defines it.
 * @param runId A run recorded in the store.
 * @param options The store holding it.
 * @returns What was replayed.
 * @throws {NonDeterminismError} Where the code departs from the recorded run.
 * @throws {ValidationError} For an unknown run, or one of another entity.
 */
export async function replayCheck(
  entity: unknown,
  runId: string,
  options: { store: Store },
): Promise<ReplayReport> {
  const def = requireEntity(entity, "replayCheck(entity, runId, { store })");
  const store = options.store;
  const previous = await store.readJournal(runId);
  const details = await store.getRun(runId);
  if (previous === undefined || details === undefined) {
    throw new ValidationError(`No run '${runId}' in the store ${store.url}; check the run id`);
  }
  if (previous.entity !== def.name) {
    throw new ValidationError(
      `Run '${runId}' ran '${previous.entity}', not '${def.name}'; check it against the code of '${previous.entity}'`,
    );
  }
  const { target, values } = await prepareInputs(def, { ...details.inputs });
  const session = new CheckSession(previous);
  const run = new Run(runId, def.name, session, {}, true);
  const finished = await drive(run, target, values);
  if (run.fatal !== undefined) throw run.fatal;
  let replayed = 0;
  let beyond = 0;
  for (const [position, entry] of session.reached) {
    if (entry === undefined) beyond++;
    else replayed++;
    if (entry === undefined && previous.status === "succeeded") {
      const node = run.nodes.find((n) => `${n.parentId ?? ""}#${n.seq}` === position);
      throw diverged(
        runId,
        position,
        "nothing (the recorded run had finished)",
        node?.describeCall() ?? "a call",
      );
    }
  }
  // A body that ended must have made every call the recorded run made in it.
  const ended = new Set<string>(finished ? [""] : []);
  for (const node of run.nodes) {
    if (!node.replayed && node.def.kind !== "task" && node.status === "succeeded") {
      ended.add(node.id);
    }
  }
  for (const [position, entry] of previous.journal) {
    const parent = position.slice(0, position.lastIndexOf("#"));
    if (ended.has(parent) && !session.reached.has(position)) {
      throw diverged(runId, position, entry.call, "nothing (the flow no longer makes this call)");
    }
  }
  return { runId, replayed, beyond, finished };
}

function diverged(runId: string, position: string, recorded: string, actual: string): WeftError {
  const [parent, seq] = [
    position.slice(0, position.lastIndexOf("#")),
    position.slice(position.lastIndexOf("#") + 1),
  ];
  const where = `${parent === "" ? "the run" : `flow '${parent}'`} call #${Number(seq) + 1}`;
  return new NonDeterminismError(
    `Replay of run '${runId}' diverged at ${where}: the journal recorded ${recorded} but the flow now makes ${actual}. A flow must make the same calls in the same order when replayed`,
    { position, recorded, actual },
  );
}

/** Runs the body until it ends or nothing more can happen without running something; true when it ended. */
function drive(run: Run, target: EntityDef, values: Record<string, unknown>): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    startBody(run, undefined, target, values, () => {
      done = true;
      resolve(true);
    }, true).catch(() => {
      done = true;
      resolve(true);
    });
    let idle = 0;
    const look = () => {
      if (done) return;
      idle = run.busy() ? 0 : idle + 1;
      if (idle >= 3) {
        run.stopWaits();
        return resolve(false);
      }
      setTimeout(look, 0);
    };
    setTimeout(look, 0);
  });
}
