/**
 * What the web UI's server and pages say about a run: the state a node
 * shows, the fields of nodes and runs the UI reads, and the boxes, arrows,
 * snapshots and deltas of a run's drawing.
 *
 * @module
 */

import type { NodeStatus, RunStatus } from "../store/mod.ts";

/** What the UI shows for a node: its status, cache hits apart. */
export type UiState =
  | "pending"
  | "running"
  | "succeeded"
  | "failed"
  | "cached"
  | "cancelled"
  | "skipped";

/** The states, in the order a group's summary lists them. */
export const UI_STATES: readonly UiState[] = [
  "failed",
  "running",
  "pending",
  "cancelled",
  "skipped",
  "cached",
  "succeeded",
];

/** What the UI needs of one recorded node. */
export interface UiNode {
  /** The node id. */
  id: string;
  /** The calling flow or workflow node. */
  parentId: string | undefined;
  /** The entity name. */
  entity: string;
  /** The entity kind. */
  kind: string;
  /** The recorded status. */
  status: NodeStatus;
  /** Attempts made. */
  attempts: number;
  /** When its last attempt started. */
  startedAt: number | undefined;
  /** When it finished. */
  finishedAt: number | undefined;
  /** The `runId/nodeId` of a cache hit's source. */
  cachedFrom: string | undefined;
  /** Whether the result was replayed from the journal. */
  replayed: boolean;
  /** The nodes whose outputs it takes. */
  deps: string[];
  /** The error message, when it failed. */
  error: string | undefined;
}

/** The run itself, as the page header shows it. */
export interface UiRun {
  /** The run id. */
  id: string;
  /** The entity run. */
  entity: string;
  /** Its kind. */
  kind: string;
  /** The status. */
  status: RunStatus;
  /** When it first started. */
  startedAt: number;
  /** When it finished. */
  finishedAt: number | undefined;
  /** How many times it was started. */
  attempts: number;
  /** The script, when known. */
  script: string | undefined;
  /** For a sleeping run: when it wakes (undefined while only a signal can wake it). */
  wakeAt?: number | undefined;
}

/**
 * The state a node shows.
 *
 * @param n The node.
 * @returns Its state.
 */
export function stateOf(n: Pick<UiNode, "status" | "cachedFrom">): UiState {
  switch (n.status) {
    case "pending":
    case "ready":
      return "pending";
    case "succeeded":
      return n.cachedFrom === undefined ? "succeeded" : "cached";
    default:
      return n.status;
  }
}

/** A box as sent to the page. */
export interface WireUnit {
  /** Its key: the node id, or `group:` and the group's key. */
  key: string;
  /** The node id, for a box that stands for one node. */
  nodeId?: string;
  /** For a summary box: how many members, by state. */
  group?: {
    entity: string;
    parentId: string | null;
    size: number;
    counts: Partial<Record<UiState, number>>;
  };
  /** The entity kind (`task`, `flow`…). */
  kind: string;
  /** The entity name. */
  entity: string;
  /** The state it shows. */
  state: UiState;
  /** Its text, a line each. */
  lines: string[];
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  w: number;
  /** Height. */
  h: number;
  /** Attempts (a node). */
  attempts?: number;
  /** When it started (a node). */
  startedAt?: number;
  /** When it finished (a node). */
  finishedAt?: number;
  /** Its error message (a failed node). */
  error?: string;
  /** Its cache source. */
  cachedFrom?: string;
  /** Whether it was replayed from the journal. */
  replayed?: boolean;
}

/**
 * An arrow as sent to the page: data (`from`'s output feeds `to`), a call
 * from a flow or workflow (dashed), or a sequence (dotted: `to` takes no
 * data from other nodes and started after `from`, its previous sibling,
 * had finished — a flow that awaited a value, then made its next call).
 */
export interface WireEdge {
  /** The unit it starts at. */
  from: string;
  /** The unit it ends at. */
  to: string;
  /** Whether it is a call from a flow or workflow rather than data. */
  call?: true;
  /** Whether it is a sequence rather than data. */
  seq?: true;
}

/** Everything the page needs to draw the run. */
export interface Snapshot {
  /** The run. */
  run: UiRun;
  /** Whether boxes are nodes or summaries of repeated calls. */
  mode: "nodes" | "groups";
  /** How many nodes the run has. */
  total: number;
  /** The boxes. */
  units: WireUnit[];
  /** The arrows. */
  edges: WireEdge[];
  /** The drawing's size. */
  width: number;
  /** The drawing's size. */
  height: number;
}

/** What changed since the last snapshot or delta. */
export interface Delta {
  /** The run, when it changed. */
  run?: UiRun;
  /** How many nodes the run has. */
  total: number;
  /** New and changed boxes, whole. */
  units: WireUnit[];
  /** New arrows. */
  edges: WireEdge[];
  /** The drawing's size. */
  width: number;
  /** The drawing's size. */
  height: number;
}
