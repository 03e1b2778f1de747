/**
 * The records a store keeps of runs and nodes, as its queries return them.
 *
 * @module
 */

import type { WeftErrorJson } from "../core/errors.ts";

/**
 * The status of a run; `sleeping`: suspended until a timer or a signal, with
 * no process holding it.
 */
export type RunStatus = "running" | "sleeping" | "succeeded" | "failed" | "cancelled";

/** The status of a node. */
export type NodeStatus =
  | "pending"
  | "ready"
  | "running"
  | "succeeded"
  | "failed"
  | "skipped"
  | "cancelled";

/** A run as listed by `weft runs`. */
export interface RunSummary {
  /** The run id. */
  readonly id: string;
  /** The entity run. */
  readonly entity: string;
  /** Its kind. */
  readonly kind: string;
  /** The current status. */
  readonly status: RunStatus;
  /** When it first started (ms since the epoch). */
  readonly startedAt: number;
  /** When it last finished, if it did. */
  readonly finishedAt: number | undefined;
  /** For a sleeping run: when it wakes (undefined while only a signal can wake it). */
  readonly wakeAt?: number | undefined;
  /** How many times it was started (1, or more after resumes). */
  readonly attempts: number;
  /** The script it came from, when known. */
  readonly script: string | undefined;
  /** The weft version that last ran it. */
  readonly weftVersion: string;
}

/** A reference from an input to the node output it came from. */
export interface InputSource {
  /** The producing node. */
  readonly node: string;
  /** Its output, when selected. */
  readonly output: string | undefined;
}

/** A recorded node execution. */
export interface NodeDetails {
  /** The run. */
  readonly runId: string;
  /** The node id. */
  readonly id: string;
  /** The calling flow or workflow node. */
  readonly parentId: string | undefined;
  /** Its journal position among its parent's calls. */
  readonly seq: number;
  /** The entity name. */
  readonly entity: string;
  /** The entity kind. */
  readonly kind: string;
  /** The task version. */
  readonly version: string | undefined;
  /** The status. */
  readonly status: NodeStatus;
  /** Attempts made. */
  readonly attempts: number;
  /** When it started. */
  readonly startedAt: number | undefined;
  /** When it finished. */
  readonly finishedAt: number | undefined;
  /** Its failure, with the stack. */
  readonly error: WeftErrorJson | undefined;
  /** For a cache hit: the `runId/nodeId` whose result was reused. */
  readonly cachedFrom: string | undefined;
  /** Whether the result came from the journal. */
  readonly replayed: boolean;
  /** The call, as people read it. */
  readonly call: string;
  /** Its inputs: each value's hash and, when it came from a node, which. */
  readonly inputs: readonly { name: string; hash: string; sources: readonly InputSource[] }[];
  /** Its outputs: each value's hash. */
  readonly outputs: readonly { name: string; hash: string }[];
}
