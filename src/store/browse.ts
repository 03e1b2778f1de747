/**
 * What a store answers for people looking at its runs (the web UI, `weft
 * show`): task logs, runs a page at a time, a run's nodes in brief and what
 * changed in them, task counts, one node and its values, where a value was
 * made and used, and a change count cheap enough to ask often.
 *
 * @module
 */

import type { WeftErrorJson } from "../core/errors.ts";
import type { NodeDetails, NodeStatus, RunStatus, RunSummary } from "./records.ts";

/** A line a task wrote with `ctx.log`, or a failed attempt that was tried again. */
export interface LogEntry {
  /** The node. */
  readonly nodeId: string;
  /** The attempt (from 1). */
  readonly attempt: number;
  /** When (ms since the epoch). */
  readonly time: number;
  /** `log`: a `ctx.log` line; `retry`: the attempt failed and is tried again. */
  readonly kind: "log" | "retry";
  /** The line, or the error's message. */
  readonly message: string;
  /** For a retry: the error, with its stack. */
  readonly error?: WeftErrorJson;
}

/** Where a page of runs starts: after this run, newest first. */
export interface RunCursor {
  /** The run's start. */
  readonly startedAt: number;
  /** The run's id. */
  readonly id: string;
}

/** Which runs {@linkcode StoreQueries.listRuns} lists. */
export interface RunFilter {
  /** Only runs with this status. */
  status?: RunStatus;
  /** Only runs of this entity. */
  entity?: string;
  /** Only runs whose id contains this text. */
  search?: string;
  /** Only runs after this one, newest first (the next page). */
  before?: RunCursor;
  /**
   * At most this many.
   * @default 50
   */
  limit?: number;
}

/** A node in brief: what a drawing of its run needs. */
export interface NodeSummary {
  /** The node id. */
  readonly id: string;
  /** The calling flow or workflow node. */
  readonly parentId: string | undefined;
  /** The entity name. */
  readonly entity: string;
  /** The entity kind. */
  readonly kind: string;
  /** The status. */
  readonly status: NodeStatus;
  /** Attempts made. */
  readonly attempts: number;
  /** When its last attempt started. */
  readonly startedAt: number | undefined;
  /** When it finished. */
  readonly finishedAt: number | undefined;
  /** For a cache hit: the `runId/nodeId` whose result was reused. */
  readonly cachedFrom: string | undefined;
  /** Whether the result came from the journal. */
  readonly replayed: boolean;
  /** The nodes whose outputs it takes, known from when it is added. */
  readonly deps: readonly string[];
  /** Its error's message, when it failed. */
  readonly error: string | undefined;
}

/** The nodes of a run that are new or changed since a cursor. */
export interface NodeChanges {
  /** The run as it is now. */
  readonly run: RunSummary;
  /** Nodes added or changed, in the order added (a store may include unchanged ones). */
  readonly nodes: readonly NodeSummary[];
  /** Where the next read starts. */
  readonly cursor: string;
}

/** A run's task nodes by status; `cached` counts cache hits apart from `succeeded`. */
export type TaskCounts = Partial<Record<NodeStatus | "cached", number>>;

/** A value of a node: its name, hash and the value itself. */
export interface NodeValue {
  /** The input or output name. */
  readonly name: string;
  /** The value's hash. */
  readonly hash: string;
  /** Whether the store holds the value. */
  readonly stored: boolean;
  /** The value. */
  readonly value: unknown;
}

/** Where a value was made or used. */
export interface ValueUse {
  /** The run. */
  readonly runId: string;
  /** The node. */
  readonly nodeId: string;
  /** The output (made) or input (used) name. */
  readonly name: string;
}

/** The executions that made a value, and those that took it. */
export interface ValueUses {
  /** Executions with the value as an output. */
  readonly producedBy: readonly ValueUse[];
  /** Executions with the value as an input. */
  readonly consumedBy: readonly ValueUse[];
}

/** Queries for people looking at runs, the same for every store. */
export interface StoreBrowse {
  /** The names of the entities that have runs, sorted. */
  runEntities(): Promise<string[]>;
  /**
   * The task nodes of runs by status.
   *
   * @param runIds The runs.
   * @returns Counts by run id (runs that do not exist are left out).
   */
  taskCounts(runIds: readonly string[]): Promise<Map<string, TaskCounts>>;
  /**
   * A run's nodes in brief: all of them, or those new or changed since a cursor.
   *
   * @param runId The run.
   * @param since The cursor of an earlier read.
   * @returns The run, the nodes and the next cursor; undefined when the run does not exist.
   */
  runNodes(runId: string, since?: string): Promise<NodeChanges | undefined>;
  /**
   * One node of a run.
   *
   * @param runId The run.
   * @param nodeId The node.
   */
  getNode(runId: string, nodeId: string): Promise<NodeDetails | undefined>;
  /**
   * The values a node took and made.
   *
   * @param runId The run.
   * @param nodeId The node.
   */
  nodeValues(
    runId: string,
    nodeId: string,
  ): Promise<{ inputs: NodeValue[]; outputs: NodeValue[] } | undefined>;
  /**
   * The `ctx.log` lines and retried attempts of a run, in order.
   *
   * @param runId The run.
   * @param nodeId Only this node's.
   */
  logs(runId: string, nodeId?: string): Promise<LogEntry[]>;
  /**
   * The executions that made a value and those that took it, across runs.
   *
   * @param hash The value's hash.
   * @param limit At most this many of each, newest first.
   */
  valueUses(hash: string, limit?: number): Promise<ValueUses>;
  /**
   * A number that changes whenever anything was recorded, by this process
   * or another: cheap enough to ask often.
   */
  changeCount(): number;
}

/** A node row as `valueUsesOf` reads it. */
export interface UseRow {
  /** The run. */
  readonly runId: string;
  /** The node. */
  readonly nodeId: string;
  /** Whether its outputs were made here (succeeded, not replayed from a journal). */
  readonly made: boolean;
  /** Its outputs' names and value hashes. */
  readonly outputs: readonly { name: string; hash: string }[];
  /** Its inputs' names and value hashes. */
  readonly inputs: readonly { name: string; hash: string }[];
}

/**
 * Where a value was made and used, from node rows that may hold it (newest
 * first): the stores' shared half of `valueUses`.
 *
 * @param rows The rows, as the store read them.
 * @param hash The value.
 * @param limit The most uses of each kind.
 * @returns The producers and consumers, in the rows' order.
 */
export function valueUsesOf(rows: Iterable<UseRow>, hash: string, limit: number): ValueUses {
  const producedBy: ValueUse[] = [];
  const consumedBy: ValueUse[] = [];
  for (const n of rows) {
    if (n.made) {
      for (const o of n.outputs) {
        if (o.hash === hash && producedBy.length < limit) {
          producedBy.push({ runId: n.runId, nodeId: n.nodeId, name: o.name });
        }
      }
    }
    for (const i of n.inputs) {
      if (i.hash === hash && consumedBy.length < limit) {
        consumedBy.push({ runId: n.runId, nodeId: n.nodeId, name: i.name });
      }
    }
  }
  return { producedBy, consumedBy };
}
