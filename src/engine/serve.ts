/**
 * Serving: what `weft serve` does, as a library function. It starts the
 * runs of scheduled launch plans at their fire times (each fire recorded
 * once in the store, so that several servers and restarts start it once),
 * applies the overlap policy (skip, queue, allow) and the catch-up of fires
 * missed while nothing served, and wakes suspended runs when their timer is
 * due or a signal they wait for arrives. Runs start and resume in this
 * process by default; the CLI passes a launcher that starts each in a child
 * process with exactly its script's permissions.
 *
 * @module
 */

import { type Clock, REAL_CLOCK } from "../core/clock.ts";
import { type Duration, parseDuration } from "../core/duration.ts";
import { describeCause, ValidationError } from "../core/errors.ts";
import type { UserEntityDef } from "../define/defs.ts";
import { entityOf } from "../define/entity.ts";
import type { ScheduleSpec } from "../define/schedule.ts";
import type { RunStatus, SleepingRun, Store } from "../store/mod.ts";
import { ownerGone } from "../store/ownership.ts";
import { runEntity } from "./execute.ts";
import { firesBetween, type FireTimes, fireTimes } from "./schedule_times.ts";

/** A scheduled launch plan, as a server needs it. */
export interface ScheduledPlan {
  /** The launch plan's name. */
  readonly name: string;
  /** Its schedule. */
  readonly schedule: ScheduleSpec;
  /** The script it comes from, when served from one. */
  readonly script?: string;
}

/** What a server serves: scheduled plans to fire, suspended runs to wake. */
export interface ServeTarget {
  /** The scheduled launch plans. */
  readonly plans: readonly ScheduledPlan[];
  /** Whether a suspended run is this server's to wake (its entity and script are served). */
  owns(run: SleepingRun): boolean;
}

/** Starts and resumes the runs a server decides on. */
export interface Launcher {
  /**
   * Starts a run of a scheduled launch plan.
   *
   * @param plan The launch plan.
   * @param runId The run id (the plan's name and the fire time).
   * @returns How the run ended (or `sleeping`).
   */
  start(plan: ScheduledPlan, runId: string): Promise<RunStatus>;
  /**
   * Resumes a suspended run that this server took.
   *
   * @param run The run.
   * @returns How it ended this time (or `sleeping` again).
   */
  resume(run: SleepingRun): Promise<RunStatus>;
}

/** What a server reports. */
export type ServeEvent =
  | {
    type: "fire";
    schedule: string;
    fireAt: number;
    action: "started" | "queued" | "skipped";
    runId?: string;
  }
  | { type: "wake"; runId: string; wakeAt: number | undefined }
  | { type: "recover"; runId: string; reason: string }
  | { type: "ended"; runId: string; status: RunStatus | "error"; error?: string };

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /** The store the runs live in (a `Store`; the CLI opens it). */
  store: Store;
  /**
   * Where time is read and fire times and wake-ups are armed.
   * @default wall time
   */
  clock?: Clock;
  /** Stops serving when aborted. */
  signal?: AbortSignal;
  /**
   * How often the store is asked for runs that became due (a signal sent
   * from elsewhere), in wall time.
   * @default "1s"
   */
  poll?: Duration;
  /**
   * Runs started or resumed here suspend when their next wake-up is at least this far
   * (see `run`'s `suspend`).
   * @default "1m"
   */
  suspend?: boolean | Duration;
  /**
   * How runs start and resume.
   * @default in this process, with `run`
   */
  launcher?: Launcher;
  /** Hears what the server does. */
  onEvent?: (event: ServeEvent) => void;
}

interface Served {
  plan: ScheduledPlan;
  times: FireTimes;
  /** The last fire time acted on. */
  last: number;
  cancel: (() => void) | undefined;
}

/**
 * Serves scheduled launch plans and wakes suspended runs until `signal` aborts.
 *
 * @param entities The launch plans, flows and workflows served: scheduled
 *   plans fire; suspended runs of any of them (by entity name) are woken.
 * @param options The store, clock, stop signal, launcher.
 * @returns When stopped.
 * @throws {ValidationError} For a cron expression that cannot be read, or something that is not an entity.
 */
export async function serve(entities: readonly unknown[], options: ServeOptions): Promise<void> {
  const byName = new Map<string, UserEntityDef>();
  for (const e of entities) {
    const def = entityOf(e);
    if (def === undefined) {
      throw new ValidationError(
        `serve(entities) takes launch plans, flows and workflows; one of them is ${typeof e}`,
      );
    }
    byName.set(def.name, def);
  }
  const plans: ScheduledPlan[] = [];
  for (const def of byName.values()) {
    if (def.kind === "launchPlan" && def.schedule !== undefined) {
      plans.push({ name: def.name, schedule: def.schedule });
    }
  }
  const target: ServeTarget = { plans, owns: (run) => byName.has(run.entity) };
  const launcher = options.launcher ??
    inProcess(options.store, options.clock ?? REAL_CLOCK, options.suspend ?? "1m", byName);
  await serveTarget(target, { ...options, launcher });
}

/**
 * Serves a target until `options.signal` aborts (what `weft serve` calls, with
 * plans read from compiled scripts and a launcher of child processes).
 *
 * @param target The plans and the runs served.
 * @param options The store, clock, stop signal and launcher (required).
 * @returns When stopped.
 */
export async function serveTarget(
  target: ServeTarget,
  options: ServeOptions & { launcher: Launcher },
): Promise<void> {
  const server = new Server(target, options);
  await server.start();
  await server.stopped;
}

/** Runs in this process, with `run`'s machinery. */
function inProcess(
  store: Store,
  clock: Clock,
  suspend: boolean | Duration,
  byName: ReadonlyMap<string, UserEntityDef>,
): Launcher {
  return {
    async start(plan, runId) {
      const def = byName.get(plan.name)!;
      return (await runEntity(def, {}, store, { runId, clock, suspend })).status;
    },
    async resume(sleeping) {
      const def = byName.get(sleeping.entity);
      const details = await store.getRun(sleeping.id);
      if (def === undefined || details === undefined) {
        throw new ValidationError(
          `Run '${sleeping.id}' runs '${sleeping.entity}', which is not served here`,
        );
      }
      const opts = { runId: sleeping.id, clock, suspend };
      return (await runEntity(def, { ...details.inputs }, store, opts)).status;
    },
  };
}

/** A running server. */
class Server {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #launcher: Launcher;
  readonly #onEvent: ((e: ServeEvent) => void) | undefined;
  readonly #pollMs: number;
  readonly #signal: AbortSignal | undefined;
  readonly #target: ServeTarget;
  readonly #served: Served[] = [];
  /** Runs launched here and not yet ended, by id. */
  readonly #active = new Set<string>();
  /** Store calls and launches under way (a test clock waits for them). */
  #busy = 0;
  #wakeTimer: { at: number; cancel: () => void } | undefined = undefined;
  #poll: ReturnType<typeof setInterval> | undefined = undefined;
  #untrack: (() => void) | undefined = undefined;
  #ticking: Promise<void> | undefined = undefined;
  #tickAgain = false;
  #stop!: () => void;
  readonly stopped: Promise<void>;
  #done = false;

  constructor(target: ServeTarget, options: ServeOptions & { launcher: Launcher }) {
    this.#target = target;
    this.#store = options.store;
    this.#clock = options.clock ?? REAL_CLOCK;
    this.#onEvent = options.onEvent;
    this.#signal = options.signal;
    this.#pollMs = parseDuration(options.poll ?? "1s", "the 'poll' option of serve()");
    this.#launcher = options.launcher;
    this.stopped = new Promise<void>((resolve) => this.#stop = resolve);
  }

  async start(): Promise<void> {
    if (this.#signal?.aborted) return this.#end();
    this.#signal?.addEventListener("abort", () => this.#end(), { once: true });
    this.#untrack = this.#clock.track?.(() => this.#busy > 0);
    this.#busy++;
    try {
      const now = this.#clock.now();
      for (const def of this.#target.plans) {
        const times = await fireTimes(def.schedule, def.name);
        await this.#store.putSchedule({
          name: def.name,
          script: def.script,
          cron: def.schedule.cron,
          timezone: def.schedule.timezone,
          everyMs: def.schedule.everyMs,
          overlap: def.schedule.overlap,
          catchUp: def.schedule.catchUp,
          servedAt: now,
        });
        const recorded = (await this.#store.listFires(def.name, { limit: 1 }))[0];
        // A schedule never served starts from now; one served before catches up on what it missed.
        const last = recorded?.fireAt ?? now;
        const served: Served = { plan: def, times, last, cancel: undefined };
        this.#served.push(served);
        for (const t of firesBetween(times, last, now, def.schedule.catchUp)) {
          await this.#fire(served, t);
        }
        served.last = Math.max(last, now);
        this.#arm(served);
      }
    } finally {
      this.#busy--;
    }
    this.#poll = setInterval(() => this.#tick(), this.#pollMs);
    await this.#tick();
  }

  #end(): void {
    if (this.#done) return;
    this.#done = true;
    for (const s of this.#served) s.cancel?.();
    this.#wakeTimer?.cancel();
    if (this.#poll !== undefined) clearInterval(this.#poll);
    this.#untrack?.();
    this.#stop();
  }

  /** Arms the next fire of a schedule. */
  #arm(served: Served): void {
    if (this.#done) return;
    const next = served.times.next(served.last);
    if (next === undefined) return;
    served.cancel = this.#clock.at(next, () => {
      served.cancel = undefined;
      served.last = next;
      this.#busy++;
      this.#fire(served, next).finally(() => {
        this.#busy--;
        this.#arm(served);
      });
    });
  }

  /** Acts on one fire time, once across servers: start, queue or skip. */
  async #fire(served: Served, fireAt: number): Promise<void> {
    const plan = served.plan;
    const policy = plan.schedule.overlap;
    const runId = fireRunId(plan.name, fireAt);
    let action: "started" | "queued" | "skipped" = "started";
    if (policy !== "allow" && await this.#unfinished(plan.name)) {
      action = policy === "skip" ? "skipped" : "queued";
    }
    const fire = {
      schedule: plan.name,
      fireAt,
      status: action,
      runId: action === "started" ? runId : undefined,
    };
    if (!await this.#store.claimFire(fire)) return;
    this.#onEvent?.({
      type: "fire",
      schedule: plan.name,
      fireAt,
      action,
      ...(action === "started" ? { runId } : {}),
    });
    if (action === "started") this.#launch(runId, () => this.#launcher.start(plan, runId), plan);
  }

  /** Whether a run of the plan is still running or sleeping. */
  async #unfinished(name: string): Promise<boolean> {
    for (const id of this.#active) if (id.startsWith(`${fireRunPrefix(name)}`)) return true;
    const runs = await this.#store.listRuns({ entity: name, limit: 20 });
    return runs.some((r) => r.status === "running" || r.status === "sleeping");
  }

  /** Starts or resumes a run and follows it to its end (or its next sleep). */
  #launch(runId: string, go: () => Promise<RunStatus>, plan?: ScheduledPlan): void {
    this.#active.add(runId);
    this.#busy++;
    let started: Promise<RunStatus>;
    try {
      started = go();
    } catch (e) {
      started = Promise.reject(e);
    }
    // The launch counts as busy only until the run tracks itself (a few promise reactions).
    queueMicrotask(() => this.#busy--);
    started.then(
      (status) => this.#onEvent?.({ type: "ended", runId, status }),
      (e) =>
        this.#onEvent?.({ type: "ended", runId, status: "error", error: describeCause(e).message }),
    ).finally(() => {
      this.#active.delete(runId);
      if (plan?.schedule.overlap === "queue") this.#startQueued(plan);
      this.#tick();
    });
  }

  /** Starts the oldest queued fire of a plan once nothing of it is unfinished. */
  async #startQueued(plan: ScheduledPlan): Promise<void> {
    if (this.#done) return;
    this.#busy++;
    try {
      const queued = await this.#store.listFires(plan.name, { status: "queued", limit: 1000 });
      const oldest = queued.at(-1);
      if (oldest === undefined || await this.#unfinished(plan.name)) return;
      const runId = fireRunId(plan.name, oldest.fireAt);
      await this.#store.updateFire({ ...oldest, status: "started", runId });
      this.#onEvent?.({
        type: "fire",
        schedule: plan.name,
        fireAt: oldest.fireAt,
        action: "started",
        runId,
      });
      this.#launch(runId, () => this.#launcher.start(plan, runId), plan);
    } finally {
      this.#busy--;
    }
  }

  /** Wakes the suspended runs that are due, and arms a timer for the next. */
  #tick(): Promise<void> {
    if (this.#done) return Promise.resolve();
    if (this.#ticking !== undefined) {
      this.#tickAgain = true;
      return this.#ticking;
    }
    this.#busy++;
    this.#ticking = this.#wakeDue().catch((e) => {
      console.error(`weft serve: could not read ${this.#store.url}: ${describeCause(e).message}`);
    }).finally(() => {
      this.#busy--;
      this.#ticking = undefined;
      if (this.#tickAgain) {
        this.#tickAgain = false;
        this.#tick();
      }
    });
    return this.#ticking;
  }

  async #wakeDue(): Promise<void> {
    const now = this.#clock.now();
    for (const sleeping of await this.#store.sleepingRuns({ dueBy: now })) {
      if (this.#done) return;
      if (!this.#serves(sleeping)) continue;
      if (!await this.#store.claimWake(sleeping.id, now)) continue;
      this.#onEvent?.({ type: "wake", runId: sleeping.id, wakeAt: sleeping.wakeAt });
      const plan = this.#target.plans.find((p) => p.name === sleeping.entity);
      this.#launch(sleeping.id, () => this.#launcher.resume(sleeping), plan);
    }
    await this.#recover();
    // Arm the clock for the next wake-up we know of.
    const next = (await this.#store.sleepingRuns({ limit: 50 })).find((r) =>
      r.wakeAt !== undefined && r.wakeAt > now && this.#serves(r)
    );
    if (next?.wakeAt !== this.#wakeTimer?.at) {
      this.#wakeTimer?.cancel();
      this.#wakeTimer = undefined;
      if (next?.wakeAt !== undefined && !this.#done) {
        const at = next.wakeAt;
        this.#wakeTimer = {
          at,
          cancel: this.#clock.at(at, () => {
            this.#wakeTimer = undefined;
            this.#tick();
          }),
        };
      }
    }
  }

  /**
   * Resumes the served runs recorded as running whose owner is gone: its
   * process died on this machine, its lease ran out, or it holds no claim
   * (its process died before claiming). The resume claims the run (taking
   * it over from a gone owner, which the store records), so that a run
   * another process resumes first is not run twice: that resume is refused.
   */
  async #recover(): Promise<void> {
    for (const r of await this.#store.listRuns({ status: "running", limit: 200 })) {
      if (this.#done) return;
      const run: SleepingRun = {
        id: r.id,
        entity: r.entity,
        script: r.script,
        wakeAt: undefined,
        signals: [],
      };
      if (this.#active.has(r.id) || !this.#serves(run)) continue;
      const owner = await this.#store.runOwner(r.id);
      const reason = owner === undefined
        ? "it has no owner (its process died before claiming it)"
        : ownerGone(owner) ??
          (Date.now() - owner.heartbeatAt > owner.leaseMs
            ? `its owner (pid ${owner.pid} on ${owner.host}) has not renewed its lease`
            : undefined);
      if (reason === undefined) continue;
      this.#onEvent?.({ type: "recover", runId: r.id, reason });
      const plan = this.#target.plans.find((p) => p.name === r.entity);
      this.#launch(r.id, () => this.#launcher.resume(run), plan);
    }
  }

  /** Whether a suspended run is this server's to wake. */
  #serves(run: SleepingRun): boolean {
    return this.#target.owns(run);
  }
}

function fireRunPrefix(name: string): string {
  return `${name.replace(/[^\w.:-]/g, "_").slice(0, 90)}:`;
}

/**
 * The run id of a schedule's fire: the plan's name and the fire time, so
 * that a fire started twice (two servers, a restart) is one run.
 *
 * @param name The launch plan's name.
 * @param fireAt The fire time.
 * @returns Such as `nightly:2026-12-01T02:00:00.000Z`.
 */
export function fireRunId(name: string, fireAt: number): string {
  return `${fireRunPrefix(name)}${new Date(fireAt).toISOString()}`;
}
