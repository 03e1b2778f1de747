/**
 * A worker of the PostgreSQL task queue: claims ready attempts of the tasks
 * it knows (in batches when there is a backlog), runs each where its
 * executor says (a Worker with the task's own grants, or this thread),
 * renews the leases of what it holds, completes in batches fenced by lease
 * tokens, reports completions that were refused, returns expired leases of
 * others, and stops gracefully: no new claims, then finish or give back
 * what it holds.
 *
 * @module
 */

import { describeCause, TimeoutError } from "../../core/errors.ts";
import { decodeValue } from "../../core/values.ts";
import type { TaskDef } from "../../define/defs.ts";
import type { TaskContext } from "../../define/task.ts";
import type { PostgresStore } from "../../store/postgres/mod.ts";
import type { Claim, Completion } from "../../store/postgres/queue.ts";
import { storedOutputs } from "../../store/postgres/queue.ts";
import { callTask, taskValue } from "../task_call.ts";
import type { TaskExecutor } from "../types.ts";

/** Options of {@linkcode QueueWorker}. */
export interface QueueWorkerOptions {
  /** The store whose queue to serve. */
  store: PostgresStore;
  /** This worker's id (in claims and `weft workers`). */
  id: string;
  /** The tasks it can run, by name. */
  tasks: ReadonlyMap<string, TaskDef>;
  /** The queues it serves; undefined: every queue. */
  queues?: readonly string[];
  /** How many attempts it runs at once. */
  concurrency: number;
  /** The lease of a claim, in ms (renewed every third of it). */
  leaseMs: number;
  /** Only this run's tasks. */
  runId?: string;
  /** Where attempts run; default: in this thread. */
  executor?: TaskExecutor;
  /**
   * How often to look for work when no notification came, in ms.
   * @default 1000
   */
  pollMs?: number;
  /** Where it reports (lost leases, errors). */
  log?: (line: string) => void;
}

interface Held {
  claim: Claim;
  controller: AbortController;
  done: Promise<void>;
}

/** Counters of a worker. */
export interface QueueWorkerStats {
  /** Attempts claimed. */
  claimed: number;
  /** Completions accepted. */
  completed: number;
  /** Completions refused because the lease was lost. */
  refused: number;
  /** Claims of rows that had been claimed before (a lease had expired or was given back). */
  reclaimed: number;
  /** Claims given back on stopping. */
  released: number;
}

/** Serves a store's task queue. */
export class QueueWorker {
  readonly #o: QueueWorkerOptions;
  readonly #held = new Map<string, Held>();
  readonly #names: string[];
  #completions: Completion[] = [];
  #completing: Promise<void> | undefined;
  #claiming = false;
  #again = false;
  #stopping = false;
  #timers: ReturnType<typeof setInterval>[] = [];
  #unlisten: (() => Promise<void>) | undefined;
  readonly stats: QueueWorkerStats = {
    claimed: 0,
    completed: 0,
    refused: 0,
    reclaimed: 0,
    released: 0,
  };

  /**
   * @param options The store, the tasks, queues, concurrency and lease.
   */
  constructor(options: QueueWorkerOptions) {
    this.#o = options;
    this.#names = [...options.tasks.keys()];
  }

  /** How many attempts it holds. */
  get held(): number {
    return this.#held.size;
  }

  /** Starts listening, claiming, renewing and reaping. */
  async start(): Promise<void> {
    const { store, leaseMs } = this.#o;
    this.#unlisten = await store.listen(store.queue.ready, (payload) => {
      const queues = this.#o.queues;
      if (queues === undefined || payload.split(",").some((q) => queues.includes(q))) this.wake();
    }, () => this.wake());
    this.#timers.push(setInterval(() => this.wake(), this.#o.pollMs ?? 1000));
    this.#timers.push(setInterval(() => this.#renew(), Math.max(100, leaseMs / 3)));
    // Reapers of every worker run at different moments.
    this.#timers.push(
      setInterval(() => this.#reap(), Math.max(200, leaseMs / 2) * (0.75 + Math.random() / 2)),
    );
    this.wake();
  }

  /** Looks for work now. */
  wake(): void {
    if (this.#stopping) return;
    if (this.#claiming) {
      this.#again = true;
      return;
    }
    this.#claim();
  }

  async #claim(): Promise<void> {
    this.#claiming = true;
    try {
      do {
        this.#again = false;
        const free = this.#o.concurrency - this.#held.size;
        if (free <= 0 || this.#stopping) break;
        let claims: Claim[];
        try {
          claims = await this.#o.store.queue.claim(
            this.#o.id,
            {
              queues: this.#o.queues,
              tasks: this.#names,
              ...(this.#o.runId === undefined ? {} : { runId: this.#o.runId }),
            },
            free,
            this.#o.leaseMs,
          );
        } catch (e) {
          this.#log(`could not claim tasks: ${(e as Error).message}`);
          break;
        }
        for (const claim of claims) this.#start(claim);
        // A full batch means a backlog: claim again as soon as slots free up.
        if (claims.length === free) this.#again = true;
      } while (this.#again && this.#held.size < this.#o.concurrency);
    } finally {
      this.#claiming = false;
    }
  }

  #start(claim: Claim): void {
    this.stats.claimed++;
    if (claim.claims > 1) this.stats.reclaimed++;
    const controller = new AbortController();
    const held: Held = { claim, controller, done: Promise.resolve() };
    this.#held.set(claim.token, held);
    held.done = this.#run(claim, controller).then((c) => {
      this.#held.delete(claim.token);
      if (c !== undefined) this.#complete(c);
      this.wake();
    });
  }

  async #run(claim: Claim, controller: AbortController): Promise<Completion | undefined> {
    const def = this.#o.tasks.get(claim.task)!;
    const ctx: TaskContext = {
      signal: controller.signal,
      attempt: claim.attempt,
      runId: claim.runId,
      nodeId: claim.nodeId,
      log: (...args: unknown[]) =>
        this.#log(
          `[${claim.runId}/${claim.nodeId}] ${
            args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" ")
          }`,
        ),
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const inputs = decodeValue(claim.inputs) as Record<string, unknown>;
      const running = Promise.resolve(
        this.#o.executor === undefined
          ? callTask(def, inputs, ctx)
          : this.#o.executor.execute(def, inputs, ctx),
      );
      const stopped = new Promise<never>((_, reject) => {
        controller.signal.addEventListener("abort", () => reject(controller.signal.reason), {
          once: true,
        });
        if (claim.timeoutMs !== undefined) {
          timer = setTimeout(() =>
            controller.abort(
              new TimeoutError(
                `Task '${def.name}' (node '${claim.nodeId}') timed out after ${claim.timeoutMs} ms on attempt ${claim.attempt}; raise its 'timeout' or make it faster`,
                { nodeId: claim.nodeId, task: def.name, attempt: claim.attempt },
              ),
            ), claim.timeoutMs);
        }
      });
      stopped.catch(() => {});
      const result = await Promise.race([running, stopped]);
      const value = taskValue(def, claim.nodeId, result);
      const names = def.outputs;
      const outputs = names.length === 0
        ? []
        : def.bare
        ? [{ name: names[0]!, value }]
        : names.map((name) => ({ name, value: (value as Record<string, unknown>)?.[name] }));
      const stored = storedOutputs(outputs);
      return { claim, ok: true, outputs: stored.outputs, values: stored.bodies };
    } catch (e) {
      // A lease lost or given back: nothing to complete (the completion would be refused).
      if (controller.signal.aborted && controller.signal.reason instanceof LeaseLost) {
        return undefined;
      }
      const cause = describeCause(e);
      return {
        claim,
        ok: false,
        error: JSON.stringify({
          name: "TaskFailedError",
          message:
            `Task '${def.name}' (node '${claim.nodeId}') failed on attempt ${claim.attempt} on worker ${this.#o.id}: ${cause.message}`,
          nodeId: claim.nodeId,
          task: def.name,
          attempt: claim.attempt,
          cause,
          ...(e instanceof Error && e.stack !== undefined ? { stack: e.stack } : {}),
        }),
      };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** Queues a completion; completions that meet in time go in one statement. */
  #complete(c: Completion): void {
    this.#completions.push(c);
    if (this.#completing === undefined) this.#completing = this.#flushCompletions();
  }

  async #flushCompletions(): Promise<void> {
    await Promise.resolve();
    while (this.#completions.length > 0) {
      const batch = this.#completions;
      this.#completions = [];
      try {
        const refused = await this.#o.store.queue.complete(batch);
        this.stats.completed += batch.length - refused.length;
        this.stats.refused += refused.length;
        for (const claim of refused) {
          this.#log(
            `the lease of ${claim.runId}/${claim.nodeId} (attempt ${claim.attempt}) was lost before it finished: its result was refused`,
          );
        }
      } catch (e) {
        // (The store retried while the server was unreachable: give up on these; their leases expire.)
        this.#log(`could not record ${batch.length} completions: ${(e as Error).message}`);
      }
    }
    this.#completing = undefined;
  }

  async #renew(): Promise<void> {
    if (this.#held.size === 0) return;
    const tokens = [...this.#held.keys()];
    let kept: Set<string>;
    try {
      kept = await this.#o.store.queue.renew(tokens, this.#o.leaseMs);
    } catch (e) {
      this.#log(`could not renew leases: ${(e as Error).message}`);
      return;
    }
    for (const token of tokens) {
      const held = this.#held.get(token);
      if (held === undefined || kept.has(token)) continue;
      this.#log(
        `the lease of ${held.claim.runId}/${held.claim.nodeId} (attempt ${held.claim.attempt}) was lost (expired and taken, or withdrawn): stopping it`,
      );
      this.stats.refused++;
      held.controller.abort(new LeaseLost());
    }
  }

  async #reap(): Promise<void> {
    try {
      await this.#o.store.queue.reap();
    } catch {
      // the next round
    }
  }

  /**
   * Stops: no new claims; what it holds finishes within `graceMs`, or is
   * stopped and given back to the queue.
   *
   * @param graceMs How long held attempts may take to finish.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    await this.#unlisten?.().catch(() => {});
    const all = Promise.all([...this.#held.values()].map((h) => h.done));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([all, new Promise((r) => timer = setTimeout(r, graceMs))]);
    clearTimeout(timer);
    const left = [...this.#held.values()];
    if (left.length > 0) {
      for (const h of left) h.controller.abort(new LeaseLost());
      try {
        await this.#o.store.queue.release(left.map((h) => h.claim));
        this.stats.released += left.length;
      } catch (e) {
        this.#log(
          `could not give back ${left.length} tasks (their leases will expire): ${
            (e as Error).message
          }`,
        );
      }
    }
    await this.#completing;
  }

  #log(line: string): void {
    (this.#o.log ?? ((l: string) => console.error(`weft worker: ${l}`)))(line);
  }
}

/** Why a worker stopped an attempt: its lease is gone (or it gave it back). */
class LeaseLost extends Error {
  constructor() {
    super("the lease of this task was lost");
    this.name = "LeaseLost";
  }
}
