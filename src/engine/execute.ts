/**
 * Running an entity: checking and completing a root call's inputs, opening
 * its session in the store (returning a succeeded run's record, resuming any
 * other), driving the run to its end and recording how it ended.
 *
 * @module
 */

import { REAL_CLOCK } from "../core/clock.ts";
import { CancelledError, ValidationError, WeftError } from "../core/errors.ts";
import { WEFT_VERSION } from "../core/version.ts";
import { checkValue, digestOf, encodeValue } from "../core/values.ts";
import type { EntityDef } from "../define/defs.ts";
import { checkInputNames, describeEntity } from "../define/entity.ts";
import { parseDuration } from "../core/duration.ts";
import { checkRunId, newRunId } from "../core/run_id.ts";
import type { PreviousRun, RunStatus, RunSuspend, Store } from "../store/mod.ts";
import { openOwned, OwnedSession, type RunLease } from "../store/ownership.ts";
import { checkGraphInputs, startBody } from "./bodies.ts";
import { asTaskErrorRoot } from "./failures.ts";
import { withLazyGraph } from "./results.ts";
import { Run } from "./run.ts";
import type { EngineOptions, RunGraph, RunOptions, RunResult } from "./types.ts";

/**
 * Checks and completes the inputs of a root call: names, then types and
 * defaults for workflows. A launch plan's defaults and fixed inputs are
 * merged in, and its target is what runs.
 *
 * @param def The entity.
 * @param inputs The inputs by name.
 * @returns What to run, with the inputs to run it with.
 */
export async function prepareInputs(
  def: EntityDef,
  inputs: Record<string, unknown>,
): Promise<
  { target: EntityDef; values: Record<string, unknown>; given?: Record<string, unknown> }
> {
  if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) {
    throw new ValidationError(
      `The inputs of ${
        describeEntity(def)
      } must be an object keyed by input name, such as { x: 1 }`,
    );
  }
  let target = def;
  let merged = inputs;
  while (target.kind === "launchPlan") {
    checkInputNames(target, merged, describeEntity(target));
    merged = target.merge(merged);
    target = target.target;
  }
  if (target.kind === "workflow") {
    return { target, values: await checkGraphInputs(target, merged) };
  }
  checkInputNames(target, merged, describeEntity(target));
  for (const key in merged) {
    checkValue(merged[key], () => `Input '${key}' of ${describeEntity(target)}`);
  }
  // The run records the inputs it ran with: a parameter's default (one that
  // can be read from the source) is given explicitly, as the workflow's are.
  let values = merged;
  for (const p of target.params) {
    if (!(p.name in merged) && "default" in p) {
      if (values === merged) values = { ...merged };
      // A copy: the body may change it, as it may change a default JavaScript made afresh.
      values[p.name] = structuredClone(p.default);
    }
  }
  return values === merged ? { target, values } : { target, values, given: merged };
}

/**
 * Runs an entity, recording it in a store, and resolves to the full {@linkcode RunResult}.
 *
 * @param def The entity.
 * @param inputs The inputs by name.
 * @param store Where to record the run.
 * @param options Concurrency, run id, cancellation, events (`store` is ignored: see `store`).
 * @returns The result, also for failed runs.
 * @throws {ValidationError} When the inputs are wrong; nothing has run.
 */
export async function runEntity(
  def: EntityDef,
  inputs: Record<string, unknown>,
  store: Store,
  options: EngineOptions = {},
): Promise<RunResult> {
  checkRunOptions(options);
  const { target, values, given } = await prepareInputs(def, inputs);
  return await runWithStore(def, target, values, store, options, given);
}

function checkRunOptions(options: RunOptions): void {
  if (options.lease !== undefined) parseDuration(options.lease, "'lease'");
  const c = options.concurrency;
  if (c !== undefined && (!Number.isInteger(c) || c < 1)) {
    throw new ValidationError(
      `Cannot run as 'concurrency' must be a positive integer: current value is ${c}`,
    );
  }
  if (options.runId !== undefined) checkRunId(options.runId);
  const d = options.maxDepth;
  if (d !== undefined && (!Number.isInteger(d) || d < 1)) {
    throw new ValidationError(
      `Cannot run as 'maxDepth' must be a positive integer: current value is ${d}`,
    );
  }
}

async function runWithStore(
  def: EntityDef,
  target: EntityDef,
  inputs: Record<string, unknown>,
  store: Store,
  options: EngineOptions,
  given?: Record<string, unknown>,
): Promise<RunResult> {
  const clock = options.clock ?? REAL_CLOCK;
  let run: Run | undefined;
  // A skipping clock waits while the run starts, then while it is busy.
  const untrack = clock.track?.(() => run === undefined || run.busy());
  try {
    return await drive(def, target, inputs, store, options, (r) => run = r, given);
  } finally {
    run?.stopWaits();
    untrack?.();
  }
}

async function drive(
  def: EntityDef,
  target: EntityDef,
  inputs: Record<string, unknown>,
  store: Store,
  options: RunOptions,
  made: (run: Run) => void,
  given: Record<string, unknown> | undefined,
): Promise<RunResult> {
  const clock = options.clock ?? REAL_CLOCK;
  const runId = options.runId ?? newRunId();
  const startedAt = clock.now();
  const inputsDigest = digestOf(encodeValue(inputs, true));
  // A run recorded before defaults were recorded has the digest of the inputs as given.
  const digests = given === undefined
    ? [inputsDigest]
    : [inputsDigest, digestOf(encodeValue(given, true))];
  const start = {
    runId,
    entity: def.name,
    kind: def.kind,
    inputs,
    inputsDigest,
    startedAt,
    weftVersion: WEFT_VERSION,
    ...(options.script === undefined ? {} : { script: options.script }),
  };
  // One owner per run: claimed before anything is read or written (with the
  // start, in one commit, where the store can), given up when it ends.
  const { lease, session: opened } = await openOwned(
    store,
    start,
    options.lease === undefined ? {} : { leaseMs: parseDuration(options.lease, "'lease'") },
  );
  try {
    const session = new OwnedSession(opened);
    const previous = session.previous;
    if (previous !== undefined) {
      checkPrevious(runId, def, digests, previous);
      if (previous.status === "succeeded") {
        return {
          runId,
          status: "succeeded",
          outputs: previous.outputs,
          errors: [],
          graph: { nodes: [], edges: [] },
          startedAt: new Date(previous.startedAt),
          finishedAt: new Date(previous.finishedAt ?? previous.startedAt),
          fromRecord: true,
        };
      }
    }
    const run = new Run(runId, def.name, session, options);
    made(run);
    lease.watch({
      cancel: () => run.cancel(),
      lost: (error) => {
        session.abandon();
        run.setFatal(error);
      },
    });
    return await execute(run, def, target, inputs, session, startedAt, previous, options, lease);
  } finally {
    await lease.release();
  }
}

/** Drives an opened run to its end and records how it ended. */
async function execute(
  run: Run,
  def: EntityDef,
  target: EntityDef,
  inputs: Record<string, unknown>,
  session: OwnedSession,
  startedAt: number,
  previous: PreviousRun | undefined,
  options: RunOptions,
  lease: RunLease,
): Promise<RunResult> {
  const runId = run.id;
  const clock = run.clock;
  if (run.listening) {
    run.emit({
      type: "run started",
      runId,
      time: startedAt,
      entity: def.name,
      inputs,
      resumed: previous !== undefined,
    });
  }
  const signal = options.signal;
  const onAbort = () => run.cancel();
  if (signal?.aborted) run.cancel();
  signal?.addEventListener("abort", onAbort, { once: true });
  let outcome: {
    value: unknown;
    error: WeftError | undefined;
    causes: WeftError[] | undefined;
    suspended?: RunSuspend;
  };
  try {
    outcome = await new Promise((resolve) => {
      run.onSuspend = (suspended) =>
        resolve({ value: undefined, error: undefined, causes: undefined, suspended });
      startBody(
        run,
        undefined,
        target,
        inputs,
        (value, error, causes) => resolve({ value, error, causes }),
        true,
      )
        .catch((e) =>
          resolve({
            value: undefined,
            error: e instanceof WeftError ? e : asTaskErrorRoot(def, e),
            causes: undefined,
          })
        );
    });
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  const finishedAt = clock.now();
  if (outcome.suspended !== undefined) return await suspended(run, outcome.suspended, startedAt);
  let status: RunStatus;
  let errors: WeftError[] = [];
  if (outcome.error === undefined) status = "succeeded";
  else if (run.fatal === undefined && outcome.error instanceof CancelledError && run.cancelled) {
    status = "cancelled";
    errors = [outcome.error];
  } else {
    status = "failed";
    errors = outcome.causes ?? [outcome.error];
  }
  const outputs = status === "succeeded" ? outcome.value : undefined;
  const finish = { status, outputs, errors, finishedAt };
  if (session.releasesOnFinish) {
    // The end of the run and the end of its claim in one commit.
    await session.finishAndRelease(finish, lease.owner.ownerId);
    lease.gaveUp();
  } else await session.finish(finish);
  if (run.listening) {
    run.emit({
      type: "run finished",
      runId,
      time: finishedAt,
      status,
      outputs,
      errors: errors.map((e) => e.toJSON()),
      durationMs: finishedAt - startedAt,
    });
  }
  return withLazyGraph({
    runId,
    status,
    outputs,
    errors,
    graph: undefined as unknown as RunGraph,
    startedAt: new Date(startedAt),
    finishedAt: new Date(finishedAt),
    fromRecord: false,
  }, run);
}

/** Records a run as sleeping and says so. */
async function suspended(run: Run, info: RunSuspend, startedAt: number): Promise<RunResult> {
  await run.session.suspend(info);
  const at = run.clock.now();
  if (run.listening) {
    run.emit({
      type: "run finished",
      runId: run.id,
      time: at,
      status: "sleeping",
      outputs: undefined,
      errors: [],
      durationMs: at - startedAt,
      ...(info.wakeAt === undefined ? {} : { wakeAt: info.wakeAt }),
      waitingFor: [...info.signals],
    });
  }
  return withLazyGraph({
    runId: run.id,
    status: "sleeping",
    outputs: undefined,
    errors: [],
    graph: undefined as unknown as RunGraph,
    startedAt: new Date(startedAt),
    finishedAt: new Date(at),
    fromRecord: false,
    ...(info.wakeAt === undefined ? {} : { wakeAt: new Date(info.wakeAt) }),
    waitingFor: [...info.signals],
  }, run);
}

function checkPrevious(
  runId: string,
  def: EntityDef,
  digests: readonly string[],
  previous: PreviousRun,
): void {
  if (previous.entity !== def.name) {
    throw new ValidationError(
      `Run '${runId}' ran '${previous.entity}', not '${def.name}'; resume it with the same workflow or start a new run id`,
    );
  }
  if (!digests.includes(previous.inputsDigest)) {
    throw new ValidationError(
      `Run '${runId}' was started with other inputs; resume it with the same inputs (weft resume ${runId} reuses them) or start a new run id`,
    );
  }
}

/**
 * The value of a finished run, as a direct call resolves to it.
 *
 * @param result The run's result.
 * @returns The value: nothing, the single output, or outputs by name.
 * @throws {TaskFailedError} The run's first error, when it failed.
 * @throws {CancelledError} When it was cancelled.
 */
export function valueOf(result: RunResult): unknown {
  if (result.status === "succeeded") return result.outputs;
  throw result.errors[0] ?? cancelledRoot(result.runId);
}

function cancelledRoot(runId: string): CancelledError {
  return new CancelledError(`Run '${runId}' was cancelled`);
}
