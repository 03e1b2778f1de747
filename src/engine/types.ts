/**
 * The public types of a run: its options, what it resolves to, the graph it
 * returns, and the executor seam that runs task attempts elsewhere (Workers).
 *
 * @module
 */

import type { Duration } from "../core/duration.ts";
import type { WeftError } from "../core/errors.ts";
import type { EntityKind, TaskDef } from "../define/defs.ts";
import type { TaskContext } from "../define/task.ts";
import type { NodeStatus, RunStatus, Store } from "../store/mod.ts";
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
   * How long this process's claim on the run holds without a heartbeat
   * (ms, or a string such as `"30s"`). While the run executes, its process
   * owns the run id in the store and renews the claim; another process
   * that starts or resumes the same id gets a `RunOwnedError`, unless the
   * owner's process is dead on this machine or its lease ran out, when it
   * takes the run over.
   * @default "30s"
   */
  lease?: Duration;
}

/** What the engine takes beyond `run()`'s options: where task attempts run. */
export interface EngineOptions extends RunOptions {
  /**
   * Runs each task attempt somewhere else than in this thread (`weft run`
   * runs tasks in Workers holding only their own permissions).
   * @default undefined: tasks run in this thread
   */
  executor?: TaskExecutor;
}

/** Runs task attempts; the engine keeps scheduling, retries, timeouts and records. */
export interface TaskExecutor {
  /**
   * Runs one attempt of a task.
   *
   * @param def The task.
   * @param inputs Its inputs by name.
   * @param ctx Its context: abort `ctx.signal` to stop it.
   * @returns The task's value, or a promise of it.
   */
  execute(def: TaskDef, inputs: Record<string, unknown>, ctx: TaskContext): unknown;
}

/** A node of the graph a run returns. */
export interface RunGraphNode {
  /** The node id. */
  id: string;
  /** The entity name. */
  entity: string;
  /** The entity kind. */
  kind: EntityKind;
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
  /** When it finished. */
  finishedAt: Date;
  /**
   * True when the run id had already succeeded: its recorded outputs were
   * returned, and nothing ran.
   */
  fromRecord: boolean;
}
