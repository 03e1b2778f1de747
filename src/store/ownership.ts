/**
 * One owner per run. Before a run executes, its process claims the run id in
 * the store ({@linkcode acquireRun}); while it runs, it renews the claim with
 * heartbeats; when it stops, it gives the claim up. A second process that
 * claims the same id meanwhile gets a {@linkcode RunOwnedError} naming the
 * owner — unless that owner is gone: its process is dead on this machine
 * (taken over at once), or its heartbeats stopped for longer than its lease
 * (taken over by the store, whatever machine it ran on). Every takeover is
 * recorded with the run.
 *
 * The rule a store applies ({@linkcode decideClaim}) is here, once, so that
 * the memory, SQLite and PostgreSQL stores agree; each applies it atomically
 * (a transaction, or a row lock).
 *
 * @module
 */

import { RunOwnedError } from "../core/errors.ts";
import { keepAlive } from "../core/timers.ts";
import type {
  CacheHit,
  ClaimedOpen,
  ClaimResult,
  LogEntry,
  NodeRecord,
  PreviousRun,
  RunClaim,
  RunFinish,
  RunOwner,
  RunSession,
  RunStart,
  RunSuspend,
  RunTakeover,
  SignalMessage,
  Store,
} from "./mod.ts";

/** The lease of a run's owner when none is given: how long it may go without a heartbeat. */
export const DEFAULT_LEASE_MS = 30_000;

/** The longest wait between two heartbeats, whatever the lease: a cancel request is seen this soon. */
const MAX_HEARTBEAT_MS = 2_000;

/**
 * Whether a claim may take a run, given its current owner.
 *
 * @param current The owner now, if any.
 * @param claim The claim.
 * @param now The store's clock.
 * @returns Whether to take it and, for a takeover, why the owner counts as gone.
 */
export function decideClaim(
  current: RunOwner | undefined,
  claim: RunClaim,
  now: number,
): { take: false } | { take: true; takeover?: string } {
  if (current === undefined || current.ownerId === claim.ownerId) return { take: true };
  const silent = now - current.heartbeatAt;
  if (silent > current.leaseMs) {
    return {
      take: true,
      takeover: `no heartbeat for ${seconds(silent)} (its lease is ${seconds(current.leaseMs)})`,
    };
  }
  if (claim.replace !== undefined && claim.replace.ownerId === current.ownerId) {
    return { take: true, takeover: claim.replace.reason };
  }
  return { take: false };
}

/**
 * The owner a claim makes: since now, its first heartbeat now, no cancel
 * requested, its lease in whole milliseconds.
 *
 * @param claim The claim that was taken.
 * @param now The store's clock.
 * @returns The owner record.
 */
export function claimedOwner(claim: RunClaim, now: number): RunOwner {
  return {
    runId: claim.runId,
    ownerId: claim.ownerId,
    pid: claim.pid,
    host: claim.host,
    since: now,
    heartbeatAt: now,
    leaseMs: Math.round(claim.leaseMs),
    cancelRequestedAt: undefined,
  };
}

/**
 * The takeover record of a claim that replaced an owner.
 *
 * @param previous The owner replaced.
 * @param claim The claim that replaced it.
 * @param at When (the store's clock).
 * @param reason Why the owner counted as gone.
 * @returns The record.
 */
export function takeoverRecord(
  previous: RunOwner,
  claim: RunClaim,
  at: number,
  reason: string,
): RunTakeover {
  return {
    runId: claim.runId,
    at,
    by: { ownerId: claim.ownerId, pid: claim.pid, host: claim.host },
    from: {
      ownerId: previous.ownerId,
      pid: previous.pid,
      host: previous.host,
      since: previous.since,
      heartbeatAt: previous.heartbeatAt,
    },
    reason,
  };
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** Claims this process holds: an owner record with this pid and host but another id is stale. */
const LIVE_KEY = Symbol.for("weft.liveOwners.v1");

function liveOwners(): Set<string> {
  const g = globalThis as unknown as Record<symbol, Set<string> | undefined>;
  return g[LIVE_KEY] ??= new Set();
}

let hostName: string | undefined;

/**
 * This machine's host name, as owner records carry it.
 *
 * @returns The name, or `?` when this process may not read it (no `sys` permission).
 */
export function thisHost(): string {
  if (hostName === undefined) {
    try {
      hostName = Deno.hostname();
    } catch {
      hostName = "?";
    }
  }
  return hostName;
}

/**
 * Whether a process of this machine is alive.
 *
 * @param pid The process id.
 * @returns True or false, or undefined when this process cannot tell (no permission to look).
 */
export function processAlive(pid: number): boolean | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    // A zombie (dead, not yet reaped by its parent) still answers kill(0).
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      // No /proc entry: dead where /proc exists (Linux), else ask kill(0).
      try {
        Deno.statSync("/proc/self/stat");
        return false;
      } catch {
        // no /proc here
      }
    }
  }
  try {
    Deno.kill(pid, 0 as unknown as Deno.Signal);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    if (e instanceof Deno.errors.PermissionDenied) return true; // another user's process
    return undefined;
  }
}

/**
 * Why an owner counts as gone, seen from this process: its process is dead
 * on this machine (or it is a claim of this very process that no longer
 * runs). An owner on another machine is gone only when its lease runs out,
 * which the store decides.
 *
 * @param owner The owner.
 * @returns The reason, or undefined when it may be alive.
 */
export function ownerGone(owner: RunOwner): string | undefined {
  const host = thisHost();
  if (host === "?" || owner.host !== host) return undefined;
  if (owner.pid === Deno.pid) {
    return liveOwners().has(owner.ownerId)
      ? undefined
      : `its process (${owner.pid} on ${owner.host}) no longer runs it`;
  }
  return processAlive(owner.pid) === false
    ? `its process ${owner.pid} on ${owner.host} is gone`
    : undefined;
}

/**
 * The error for a run id that a live owner holds.
 *
 * @param owner The owner.
 * @returns `run ID is running (pid N on HOST since …)`, with what to do.
 */
export function runOwnedError(owner: RunOwner): RunOwnedError {
  return new RunOwnedError(
    `run ${owner.runId} is running (pid ${owner.pid} on ${owner.host} since ${
      new Date(owner.since).toISOString()
    }); wait for it to end or cancel it, or use another run id`,
    { runId: owner.runId, pid: owner.pid, host: owner.host },
  );
}

/** Options of {@linkcode acquireRun}. */
export interface AcquireOptions {
  /**
   * How long the claim holds without a heartbeat, in ms.
   * @default 30000
   */
  leaseMs?: number;
}

/**
 * Claims a run id for this process: takes it when no one holds it, takes it
 * over when its owner is gone, and otherwise refuses.
 *
 * @param store The store.
 * @param runId The run.
 * @param options The lease.
 * @returns The lease: renew it with {@linkcode RunLease.watch}, give it up with {@linkcode RunLease.release}.
 * @throws {RunOwnedError} When a live owner holds the run.
 */
export async function acquireRun(
  store: Store,
  runId: string,
  options: AcquireOptions = {},
): Promise<RunLease> {
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  let replace: RunClaim["replace"];
  let last: RunOwner | undefined;
  // Each round either claims, or finds an owner: a live one ends it; a gone
  // one is replaced in the next round (unless another process replaced it first).
  for (let round = 0; round < 4; round++) {
    const claim: RunClaim = {
      runId,
      ownerId: crypto.randomUUID(),
      pid: Deno.pid,
      host: thisHost(),
      leaseMs,
      ...(replace === undefined ? {} : { replace }),
    };
    const result: ClaimResult = await store.claimRun(claim);
    if (result.claimed) return new RunLease(store, result.owner, result.tookOver);
    last = result.owner;
    const gone = ownerGone(result.owner);
    if (gone === undefined) break;
    replace = { ownerId: result.owner.ownerId, reason: gone };
  }
  throw runOwnedError(last!);
}

/**
 * Claims a run id and opens its session: in one commit when the store can
 * ({@linkcode Store.openClaimed}), else a claim ({@linkcode acquireRun}) and
 * then {@linkcode Store.openRun}. An owner that is gone is taken over, as
 * `acquireRun` does.
 *
 * @param store The store.
 * @param start The run.
 * @param options The lease.
 * @returns The lease and the session.
 * @throws {RunOwnedError} When a live owner holds the run.
 */
export async function openOwned(
  store: Store,
  start: RunStart,
  options: AcquireOptions = {},
): Promise<{ lease: RunLease; session: RunSession }> {
  if (store.openClaimed === undefined) {
    const lease = await acquireRun(store, start.runId, options);
    try {
      return { lease, session: await store.openRun(start) };
    } catch (e) {
      await lease.release();
      throw e;
    }
  }
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  let replace: RunClaim["replace"];
  let last: RunOwner | undefined;
  for (let round = 0; round < 4; round++) {
    const claim: RunClaim = {
      runId: start.runId,
      ownerId: crypto.randomUUID(),
      pid: Deno.pid,
      host: thisHost(),
      leaseMs,
      ...(replace === undefined ? {} : { replace }),
    };
    // Live from now on: another claim of this process that meets it must not take it for gone.
    liveOwners().add(claim.ownerId);
    let result: ClaimedOpen;
    try {
      result = await store.openClaimed(start, claim);
    } catch (e) {
      liveOwners().delete(claim.ownerId);
      throw e;
    }
    if (result.claimed) {
      return { lease: new RunLease(store, result.owner, result.tookOver), session: result.session };
    }
    liveOwners().delete(claim.ownerId);
    last = result.owner;
    const gone = ownerGone(result.owner);
    if (gone === undefined) break;
    replace = { ownerId: result.owner.ownerId, reason: gone };
  }
  throw runOwnedError(last!);
}

/** What a lease tells its holder. */
export interface LeaseHandlers {
  /** Someone asked for the run to be cancelled (`requestCancel`). */
  cancel(): void;
  /** The claim was taken over, or could not be renewed within the lease: stop at once. */
  lost(error: RunOwnedError): void;
}

/**
 * The heartbeats of every lease of the process, from one timer: a timer per
 * run costs as much as the rest of a short run's claim, and runs started
 * together beat together. Each beat is due at a time; the timer is set for
 * the earliest. When the last beat goes, the timer is left set but no longer
 * keeps the process alive (`keepAlive`): the next run, started a moment
 * later, has a beat due later still and reuses it, rather than setting and
 * clearing a timer per run.
 */
const beats = new Map<() => void, number>();
let beatTimer: ReturnType<typeof setTimeout> | undefined;
let beatTimerAt = Infinity;
let beatTimerHeld = false;

function beatAt(beat: () => void, due: number): void {
  beats.set(beat, due);
  if (due < beatTimerAt) armBeats(due);
  else if (!beatTimerHeld) {
    keepAlive(beatTimer!, true);
    beatTimerHeld = true;
  }
}

function noBeat(beat: () => void): void {
  beats.delete(beat);
  if (beats.size === 0 && beatTimer !== undefined && beatTimerHeld) {
    keepAlive(beatTimer, false);
    beatTimerHeld = false;
  }
}

function armBeats(due: number): void {
  if (beatTimer !== undefined) clearTimeout(beatTimer);
  beatTimerAt = due;
  beatTimer = setTimeout(beatDue, Math.max(0, due - Date.now()));
  beatTimerHeld = true;
}

function beatDue(): void {
  beatTimer = undefined;
  beatTimerAt = Infinity;
  beatTimerHeld = false;
  const now = Date.now();
  const due: (() => void)[] = [];
  let next = Infinity;
  for (const [beat, at] of beats) {
    if (at <= now) due.push(beat);
    else if (at < next) next = at;
  }
  for (const beat of due) beats.delete(beat);
  if (next < Infinity && next < beatTimerAt) armBeats(next);
  // (A beat sets its next time when it is done.)
  for (const beat of due) beat();
}

/** This process's claim on a run: heartbeats while it runs, released when it stops. */
export class RunLease {
  /** The owner record this process holds. */
  readonly owner: RunOwner;
  /** The takeover this claim made, if it replaced a gone owner. */
  readonly tookOver: RunTakeover | undefined;
  readonly #store: Store;
  /** The heartbeat, once watched. */
  #beat: (() => void) | undefined;
  #released = false;
  #gaveUp = false;
  #lastRenewed = Date.now();
  #warned = false;

  /**
   * Holds a claimed ownership record and renews it.
   *
   * @param store The store.
   * @param owner The record claimed.
   * @param tookOver The takeover made, if any.
   */
  constructor(store: Store, owner: RunOwner, tookOver?: RunTakeover) {
    this.#store = store;
    this.owner = owner;
    this.tookOver = tookOver;
    liveOwners().add(owner.ownerId);
  }

  /**
   * Starts the heartbeats: every third of the lease (at most every 2 s, so
   * that a cancel request is seen soon).
   *
   * @param handlers What to do on a cancel request or a lost claim.
   */
  watch(handlers: LeaseHandlers): void {
    if (this.#released || this.#beat !== undefined) return;
    const every = Math.max(20, Math.min(this.owner.leaseMs / 3, MAX_HEARTBEAT_MS));
    const beat = this.#beat = async () => {
      if (this.#released) return;
      let cancelled = false;
      try {
        const r = await this.#store.renewRun(this.owner.runId, this.owner.ownerId);
        if (this.#released) return;
        if (!r.owned) return handlers.lost(await this.#lostError());
        this.#lastRenewed = Date.now();
        cancelled = r.cancelRequested;
      } catch (e) {
        if (this.#released) return;
        if (!this.#warned) {
          this.#warned = true;
          console.error(
            `weft: could not renew the claim on run ${this.owner.runId}: ${
              (e as Error)?.message ?? e
            }`,
          );
        }
        if (Date.now() - this.#lastRenewed > this.owner.leaseMs) {
          return handlers.lost(
            new RunOwnedError(
              `Run ${this.owner.runId} stopped: its claim could not be renewed within its lease of ${
                seconds(this.owner.leaseMs)
              }, so another process may take it over`,
              { runId: this.owner.runId },
            ),
          );
        }
      }
      if (cancelled) handlers.cancel();
      if (!this.#released) beatAt(beat, Date.now() + every);
    };
    beatAt(beat, Date.now() + every);
  }

  async #lostError(): Promise<RunOwnedError> {
    const now = await this.#store.runOwner(this.owner.runId).catch(() => undefined);
    const by = now === undefined ? "" : ` by pid ${now.pid} on ${now.host}`;
    return new RunOwnedError(
      `Run ${this.owner.runId} was taken over${by} (this process had not renewed its claim within its lease of ${
        seconds(this.owner.leaseMs)
      }); it stopped here so that no step runs twice`,
      { runId: this.owner.runId, ...(now ? { pid: now.pid, host: now.host } : {}) },
    );
  }

  /**
   * The run's last commit gave the claim up ({@linkcode RunSession.finishAndRelease}):
   * stops the heartbeats, and `release` has nothing left to write.
   */
  gaveUp(): void {
    this.#gaveUp = true;
  }

  /** Stops the heartbeats and gives the run up. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    if (this.#beat !== undefined) noBeat(this.#beat);
    liveOwners().delete(this.owner.ownerId);
    if (this.#gaveUp) return;
    try {
      await this.#store.releaseRun(this.owner.runId, this.owner.ownerId);
    } catch {
      // A closed or failing store: the lease runs out on its own.
    }
  }
}

/**
 * A run's session that goes quiet once its claim is lost: the process that
 * took the run over writes it now, and nothing this one still has in
 * flight may overwrite that.
 */
export class OwnedSession implements RunSession {
  readonly #inner: RunSession;
  #lost = false;

  /**
   * Wraps a store's session so that nothing is written once ownership is lost.
   *
   * @param inner The store's session.
   */
  constructor(inner: RunSession) {
    this.#inner = inner;
  }

  /** Whether the claim was lost: every write is dropped from then on. */
  get lost(): boolean {
    return this.#lost;
  }

  /** The claim was lost: drop what is queued, write nothing more. */
  abandon(): void {
    this.#lost = true;
    this.#inner.abandon?.();
  }

  /** What was recorded before under the run id. */
  get previous(): PreviousRun | undefined {
    return this.#inner.previous;
  }
  /** Records a new node (unless the claim is lost). */
  added(node: NodeRecord): void {
    if (!this.#lost) this.#inner.added(node);
  }
  /** Records a node's change (unless the claim is lost). */
  changed(node: NodeRecord): void {
    if (!this.#lost) this.#inner.changed(node);
  }
  /** Whether a node's last change is not durable yet. */
  pending(node: NodeRecord): boolean {
    return !this.#lost && this.#inner.pending(node);
  }
  /** Makes recorded changes durable (unless the claim is lost). */
  flush(): void | Promise<void> {
    if (!this.#lost) return this.#inner.flush();
  }
  /** Looks up a cached result. */
  cacheGet(key: string): CacheHit | undefined | Promise<CacheHit | undefined> {
    return this.#inner.cacheGet(key);
  }
  /** Records a cached result (unless the claim is lost). */
  cachePut(key: string, node: NodeRecord): void {
    if (!this.#lost) this.#inner.cachePut(key, node);
  }
  /** Records a log line or a retried attempt (unless the claim is lost). */
  log(entry: LogEntry): void {
    if (!this.#lost) this.#inner.log(entry);
  }
  /** Records the end of the run (unless the claim is lost). */
  finish(result: RunFinish): void | Promise<void> {
    if (!this.#lost) return this.#inner.finish(result);
  }
  /** Whether the store records the end of the run and gives the claim up in one commit. */
  get releasesOnFinish(): boolean {
    return this.#inner.finishAndRelease !== undefined;
  }
  /**
   * Records the end of the run and gives the claim up in the same commit
   * (unless the claim is lost); the store must support it (`releasesOnFinish`).
   *
   * @param result How the run ended.
   * @param ownerId The claim.
   * @returns Once it is durable.
   */
  finishAndRelease(result: RunFinish, ownerId: string): void | Promise<void> {
    if (!this.#lost) return this.#inner.finishAndRelease!(result, ownerId);
  }
  /** Records the run as sleeping (unless the claim is lost). */
  suspend(info: RunSuspend): void | Promise<void> {
    if (!this.#lost) return this.#inner.suspend(info);
  }
  /** Takes a node's signal (none once the claim is lost: another process receives it). */
  takeSignal(
    name: string,
    nodeId: string,
  ): SignalMessage | undefined | Promise<SignalMessage | undefined> {
    return this.#lost ? undefined : this.#inner.takeSignal(name, nodeId);
  }
  /** Watches for signals. */
  watchSignals(wake: () => void): () => void {
    return this.#inner.watchSignals(wake);
  }
}
