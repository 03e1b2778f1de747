/**
 * When a run's results are durable, and what waits for that. A result is
 * durable before anything acts on it: a dependent task starts, a flow
 * resumes after waiting for it. In a contained run (its executor says the
 * run's thread holds no permission: `TaskExecutor.contained`, `weft run`'s
 * driver) "acts on it" means acting outside the process: the run acts on
 * the results of the tasks that run in its own thread at once, commits them
 * in the background, waits for them after `AHEAD_MS` of running ahead, and
 * makes everything durable before anything that can act outside starts (a
 * task that runs elsewhere, holding a grant).
 *
 * @module
 */

import { describeCause, WeftError } from "../core/errors.ts";
import type { RunSession } from "../store/mod.ts";
import { isTaskNode, NO_DEPS, type Node, type TaskNode } from "./node.ts";
import type { TaskExecutor } from "./types.ts";

/**
 * How long (ms) a contained run acts on results before they are durable
 * before it waits for them: what a crash can make it do again.
 */
const AHEAD_MS = 20;
/** How many results acted on early one background commit carries at most (see `#commitBehind`). */
const BEHIND_BATCH = 128;

/** What durability needs of the run. */
export interface DurableRun {
  /** The store's session of the run. */
  readonly session: RunSession;
  /** Where attempts run, when not in the run's thread. */
  readonly executor: TaskExecutor | undefined;
  /** Something changed that may leave the run idle. */
  changed(): void;
  /** Fails the run. */
  setFatal(error: WeftError): void;
}

/** A run's commits: the ones someone waits for, and the contained run's background ones. */
export class Durability {
  readonly #run: DurableRun;
  readonly #session: RunSession;
  /** Whether the run acts on the results of tasks that run in its thread before they are durable. */
  readonly #ahead: boolean;
  /** Flushes someone waits on (see `#flush`). */
  waited = 0;
  /** Background commits of results acted on early in flight, and the acts when the last was sent. */
  #behind = 0;
  #behindActs = 0;
  /** Whether results were acted on early since the last background commit was sent. */
  #behindMore = false;
  /** How many times the run acted on results before they were durable. */
  #acts = 0;
  /** Since when (ms, monotonic) it acts on results not known durable yet; undefined: it does not. */
  #earlySince: number | undefined = undefined;

  /**
   * @param run The run.
   * @param ahead Whether the run is contained (and not a replay check).
   */
  constructor(run: DurableRun, ahead: boolean) {
    this.#run = run;
    this.#session = run.session;
    this.#ahead = ahead;
  }

  /** Makes a node's result durable before someone acts on it; returns a promise only when it must wait. */
  durable(node: Node): Promise<void> | undefined {
    return this.settled(node) ? undefined : this.#flush();
  }

  /** Makes the results of nodes durable before someone acts on them; a promise only when it must wait. */
  durableAll(nodes: readonly Node[]): Promise<void> | undefined {
    let early = false;
    for (const n of nodes) {
      if (!this.#session.pending(n)) continue;
      if (!this.#ahead || !this.#runsHere(n)) return this.#flush();
      early = true;
    }
    return !early || this.#actEarly() ? undefined : this.#flush();
  }

  /**
   * Whether the run's code may act on a node's result now: it is durable,
   * or the run is contained and a task ran it in the run's own thread,
   * which can act outside only through the store (its commit is then
   * started, not waited for).
   *
   * @param node A node that succeeded.
   * @returns True to go on without waiting.
   */
  settled(node: Node): boolean {
    if (!this.#session.pending(node)) return true;
    if (!this.#ahead || !this.#runsHere(node)) return false;
    return this.#actEarly();
  }

  /**
   * What a task waits for before it starts: the results it takes, durable
   * (once: a retry waits for nothing new). In a contained run a task that
   * runs elsewhere holds a grant, so it may act outside: everything the run
   * did before it is made durable first, the results its control flow acted
   * on as well as its inputs.
   *
   * @param node The task's node.
   * @returns A promise only when it must wait.
   */
  beforeStart(node: TaskNode): Promise<void> | undefined {
    const deps = node.deps;
    if (deps !== undefined) node.deps = NO_DEPS;
    if (this.#ahead && this.#run.executor!.inline?.(node.def) !== true) {
      // (Its own record need not be durable: nothing acted on it yet.)
      const early = this.beforeOutside();
      if (early !== undefined) return early;
      if (deps !== undefined) {
        for (const d of deps) if (this.#session.pending(d)) return this.#flush();
      }
      return undefined;
    }
    return deps === undefined ? undefined : this.durableAll(deps);
  }

  /**
   * What the run waits for before it does something seen outside (a task
   * that holds a grant starts, a signal is taken): in a contained run, the
   * results it acted on before they were durable. Elsewhere nothing: each
   * result was durable before the run acted on it.
   *
   * @returns A promise only when it must wait.
   */
  beforeOutside(): Promise<void> | undefined {
    return this.#ahead && this.#earlySince !== undefined ? this.#flush() : undefined;
  }

  /**
   * The run's code acts on a change to a node that is not durable yet and
   * that nothing waits for: a failure sent into a flow body, marked caught
   * before the body runs (nothing waits for a failure before a flow sees
   * it). Elsewhere the mark goes out in the commit that carries what the
   * body does next. In a contained run it counts as acting early: its
   * commit is started, and what next acts outside (a task that holds a
   * grant starts, a signal is taken) waits for it, as for a result.
   *
   * @param node The node.
   */
  actedOn(node: Node): void {
    if (!this.#ahead || !this.#session.pending(node)) return;
    this.#earlySince ??= performance.now();
    this.#acts++;
    this.#commitBehind();
  }

  /** Whether a node is a task's that runs in the run's own thread. */
  #runsHere(node: Node): boolean {
    return isTaskNode(node) && this.#run.executor!.inline?.(node.def) === true;
  }

  /**
   * Whether the run may act on results before they are durable once more:
   * not when it has done so for `AHEAD_MS` (it waits for them then, so that
   * a crash loses little work), else yes, and their commit is started.
   */
  #actEarly(): boolean {
    const now = performance.now();
    if (this.#earlySince === undefined) this.#earlySince = now;
    // (The caller then waits for everything to be durable.)
    else if (now - this.#earlySince >= AHEAD_MS) return false;
    this.#acts++;
    this.#commitBehind();
    return true;
  }

  /**
   * A commit is durable: what the run acted on before it was sent (at
   * `sentAt`, after `acts` early acts) is durable too.
   */
  #committed(acts: number, sentAt: number): void {
    if (this.#acts === acts) this.#earlySince = undefined;
    else if (this.#earlySince !== undefined) {
      this.#earlySince = Math.max(this.#earlySince, sentAt);
    }
  }

  /**
   * Commits the results the run acted on early, without anyone waiting:
   * one commit in flight, the next one carrying everything acted on
   * meanwhile. A commit that fails fails the run.
   */
  #commitBehind(): void {
    // A step that runs ahead without ever yielding to the event loop never
    // hears of a commit: every BEHIND_BATCH acts one more goes out anyway,
    // so that the store commits while the run goes on.
    if (this.#behind > 0 && this.#acts - this.#behindActs < BEHIND_BATCH) {
      this.#behindMore = true;
      return;
    }
    const flushed = this.#session.flush() as Promise<void> | undefined | null;
    if (flushed === undefined || flushed === null) return;
    this.#behind++;
    const acts = this.#behindActs = this.#acts;
    const sentAt = performance.now();
    flushed.then(() => {
      this.#committed(acts, sentAt);
      if (--this.#behind === 0 && this.#behindMore) {
        this.#behindMore = false;
        this.#commitBehind();
      }
    }, (e) => {
      this.#behind--;
      this.#run.setFatal(
        new WeftError(
          `the run's store could not commit its results: ${describeCause(e).message}`,
          { cause: e },
        ),
      );
    });
  }

  /**
   * Flushes the session. While a flush is under way someone waits to act on
   * a result (a flow to resume, a task to start), so the run is not idle: a
   * run that may suspend must not take that pause for the end of its work.
   */
  #flush(): Promise<void> | undefined {
    const flushed = this.#session.flush() as Promise<void> | undefined | null;
    if (flushed === undefined || flushed === null) return undefined;
    this.waited++;
    const done = () => {
      this.waited--;
      this.#run.changed();
    };
    if (this.#ahead) {
      const acts = this.#acts;
      const sentAt = performance.now();
      return flushed.then(() => {
        this.#committed(acts, sentAt);
        done();
      }, (e) => {
        done();
        throw e;
      });
    }
    return flushed.then(done, (e) => {
      done();
      throw e;
    });
  }
}
