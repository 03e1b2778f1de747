/**
 * The public types of a run: its options, what it resolves to, the graph it
 * returns, and the executor seam that runs task attempts elsewhere (Workers).
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { Duration } from "../core/duration.ts";
import type { WeftError } from "../core/errors.ts";
import type { EntityKind, TaskDef, WaitKind } from "../define/defs.ts";
import type { TaskContext } from "../define/task.ts";
import type { NodeRecord, NodeStatus, RunStatus, Store } from "../store/mod.ts";
import type { WeftEvent } from "./events.ts";

/** Options of `run()`. */
export interface RunOptions {
  /**
   * Where to record the run: `"memory"`, `"sqlite:PATH"`, `"postgres://…"`, or a `Store`.
   * @default "memory" (one store per process)
   */
  store?: string | Store;
  /**
   * How many tasks may run at once.
   * @default 8
   */
  concurrency?: number;
  /**
   * The run id. Running an id again returns a succeeded run's result, or resumes a failed one.
   * @default a new id
   */
  runId?: string;
  /**
   * Use cached results of tasks declared with `cache: true`.
   * @default true
   */
  cache?: boolean;
  /** Cancels the run when aborted. */
  signal?: AbortSignal;
  /** Receives every event of the run. */
  onEvent?: (event: WeftEvent) => void;
  /**
   * How long cancelled tasks get to stop before the run gives up on them.
   * @default 2000
   */
  cancelGraceMs?: number;
  /** The script path, recorded with the run. */
  script?: string;
  /**
   * How deep workflows and flows may call each other (a flow that calls
   * itself, a map of workflows…): a call deeper than this fails with a
   * `ValidationError` that shows the chain, so that a recursion that does
   * not end fails clearly instead of running out of memory.
   * @default 100
   */
  maxDepth?: number;
  /**
   * How long this process's claim on the run holds without a heartbeat
   * (ms, or a string such as `"30s"`). While the run executes, its process
   * owns the run id in the store and renews the claim; another process
   * that starts or resumes the same id gets a `RunOwnedError`, unless the
   * owner's process is dead on this machine or its lease ran out, when it
   * takes the run over.
   * @default "30s"
   */
  lease?: Duration;
  /**
   * Where the run reads the time and arms its sleeps and timeouts: a
   * `TestClock` (from `@weft/weft/testing`) skips time in tests.
   * @default wall time
   */
  clock?: Clock;
  /**
   * Tasks replaced for this run (`mockTask(task, impl)` from
   * `@weft/weft/testing`): the run records them as usual, but calls `impl`.
   * @default none
   */
  mocks?: readonly TaskMock[];
  /**
   * When every pending thing of the run waits on a sleep or a signal, end
   * this call and leave the run suspended (status `sleeping`, holding no
   * process) — `true` always, or only when the next wake-up is at least this
   * far away (a signal without timeout is infinitely far). Whoever resumes
   * the run (`run` with its id, `weft resume`, `weft serve`) continues it.
   * `false` waits in this process.
   * @default false
   */
  suspend?: boolean | Duration;
}

/** What the engine takes beyond `run()`'s options: where task attempts run. */
export interface EngineOptions extends RunOptions {
  /**
   * Runs each task attempt somewhere else than in this thread (`weft run`
   * runs tasks in Workers holding only their own permissions).
   * @default undefined: tasks run in this thread
   */
  executor?: TaskExecutor;
  /**
   * The tasks the run was granted permissions for (`weft run`'s plan: what
   * the skeletons of its flows call, or a flow's `tasks:` option). A task
   * outside it that declares permissions fails at once with a
   * `PermissionDeniedError` that says so, instead of being refused by Deno
   * in the middle of its work.
   * @default undefined: no plan limits the tasks
   */
  granted?: readonly string[];
}

/** A task replaced for one run: see `mockTask` in `@weft/weft/testing`. */
export interface TaskMock {
  /** The name of the task replaced. */
  readonly task: string;
  /** What runs instead: called as the task would be, context last. */
  readonly impl: (...args: never[]) => unknown;
}

/** Runs task attempts; the engine keeps scheduling, retries, timeouts and records. */
export interface TaskExecutor {
  /**
   * Runs one attempt of a task.
   *
   * @param def The task.
   * @param inputs Its inputs by name.
   * @param ctx Its context: abort `ctx.signal` to stop it.
   * @param node The node's record, for executors that record its state themselves (the PostgreSQL queue).
   * @returns The task's value, or a promise of it.
   */
  execute(
    def: TaskDef,
    inputs: Record<string, unknown>,
    ctx: TaskContext,
    node?: NodeRecord,
  ): unknown;
  /**
   * Whether a task runs in the engine's own thread after all (`weft run`
   * runs a task that declares no permission where the workflows run).
   *
   * @param def The task.
   * @returns True to run it here, as if there were no executor.
   */
  inline?(def: TaskDef): boolean;
  /**
   * Whether the thread that runs the run's own code (workflow and flow
   * bodies, and the tasks `inline` keeps there) holds no permission, so that
   * nothing it does is seen outside but through the store (`weft run`'s
   * driver). The run then acts on the results of those tasks before they are
   * durable, committing them in the background, and makes everything durable
   * before anything that can act outside: a task that runs elsewhere (it
   * holds a grant), a wait, the run's end or suspension. A crash then runs
   * again only steps that acted on nothing outside (see the README's
   * durability section).
   */
  readonly contained?: boolean;
}

/** A node of the graph a run returns. */
export interface RunGraphNode {
  /** The node id. */
  id: string;
  /** The entity name. */
  entity: string;
  /** The entity kind (`sleep` and `signal` for a flow's durable waits). */
  kind: EntityKind | WaitKind;
  /** The final status. */
  status: NodeStatus;
  /** The calling flow or workflow node, if any. */
  parentId?: string;
  /** Attempts made. */
  attempts: number;
  /** Whether the result came from the cache. */
  cached?: boolean;
  /** Whether the result came from the journal. */
  replayed?: boolean;
  /** Start time (ms since the epoch). */
  startedAt?: number;
  /** End time (ms since the epoch). */
  finishedAt?: number;
  /** The nodes it started after, though it took no value from them (`after`). */
  after?: string[];
}

/** An edge of the graph a run returns: an output of one node feeds an input of another. */
export interface RunGraphEdge {
  /** The node whose output is used. */
  from: string;
  /** Which output, when the node has named outputs. */
  output?: string;
  /** The node that takes it. */
  to: string;
  /** The input it feeds. */
  input: string;
}

/** The graph of a run, as it grew. */
export interface RunGraph {
  /** The nodes, in the order they were added. */
  nodes: RunGraphNode[];
  /** The edges. */
  edges: RunGraphEdge[];
}

/** What a run resolves to. */
export interface RunResult<T = unknown> {
  /** The run id. */
  runId: string;
  /** How it ended. */
  status: RunStatus;
  /** The outputs, when it succeeded: as `execute` returns them (a flow: its resolved return value). */
  outputs: T | undefined;
  /** Why it failed: the failures nothing handled. */
  errors: WeftError[];
  /** The nodes and edges of the run. */
  graph: RunGraph;
  /** When it started. */
  startedAt: Date;
  /** When it finished (or, for a run left sleeping, when it was suspended). */
  finishedAt: Date;
  /**
   * True when the run id had already succeeded: its recorded outputs were
   * returned, and nothing ran.
   */
  fromRecord: boolean;
  /** For a run left sleeping: when its next timer fires (absent while only a signal can wake it). */
  wakeAt?: Date;
  /** For a run left sleeping: the signals it waits for. */
  waitingFor?: string[];
}
