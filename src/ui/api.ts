/**
 * The web UI's JSON: a run's header, one node with its values, attempts,
 * logs and declared permissions, a value in full, the members of a summary
 * box, and the timeline of a run.
 *
 * @module
 */

import type { DagDocument } from "../ir/mod.ts";
import type { WeftErrorJson } from "../core/errors.ts";
import type { InputSource, NodeDetails, NodeValue as StoredValue, Store } from "../store/mod.ts";
import { uiNode, uiRun } from "./data.ts";
import { FULL_CHARS, type PrettyValue, prettyValue } from "./pretty.ts";
import { stateOf, type UiNode, type UiRun, type UiState } from "./wire.ts";

/** Loads the IR of the script a run came from (for declared permissions). */
export type Describe = (script: string) => Promise<DagDocument>;

/** A run's header. */
export interface RunHeader extends UiRun {
  /** The inputs, readable. */
  inputs: PrettyValue;
  /** The outputs, readable, when it succeeded. */
  outputs: PrettyValue | null;
  /** Its errors. */
  errors: WeftErrorJson[];
}

/**
 * A run's header.
 *
 * @param store The store.
 * @param runId The run.
 * @returns It, or undefined.
 */
export async function runHeader(store: Store, runId: string): Promise<RunHeader | undefined> {
  const run = await store.getRun(runId, { nodes: false });
  if (run === undefined) return undefined;
  return {
    ...uiRun(run),
    inputs: prettyValue(run.inputs),
    outputs: run.status === "succeeded" ? prettyValue(run.outputs) : null,
    errors: [...run.errors],
  };
}

/** A value of a node, readable. */
export interface NodeValue {
  /** The input or output name. */
  name: string;
  /** Its hash. */
  hash: string;
  /** Its text. */
  value: PrettyValue | null;
  /** For an input: the nodes it came from. */
  sources?: InputSource[];
}

/** Everything the node panel shows. */
export interface NodeView {
  /** The run. */
  runId: string;
  /** The node id. */
  id: string;
  /** Its caller. */
  parentId: string | null;
  /** The entity name. */
  entity: string;
  /** The entity kind. */
  kind: string;
  /** The recorded status. */
  status: string;
  /** The state shown. */
  state: UiState;
  /** Attempts made. */
  attempts: number;
  /** When its last attempt started. */
  startedAt: number | null;
  /** When it finished. */
  finishedAt: number | null;
  /** The run and node whose cached result it reused. */
  cachedFrom: string | null;
  /** Whether its result came from the journal. */
  replayed: boolean;
  /** The call, as people read it. */
  call: string;
  /** Its task version. */
  version: string | null;
  /** Inputs. */
  inputs: NodeValue[];
  /** Outputs. */
  outputs: NodeValue[];
  /** The final error, with its stack. */
  error: WeftErrorJson | null;
  /** Failed attempts that were retried, with their errors. */
  retries: { attempt: number; time: number; error: WeftErrorJson }[];
  /** Its `ctx.log` lines. */
  logs: { time: number; attempt: number; message: string }[];
  /** The permissions its task declares, when the script could be read. */
  permissions: Record<string, true | string[]> | null;
  /** Why the permissions are unknown, when they are. */
  permissionsNote: string | null;
  /** Its task's options as declared. */
  options: [string, string][];
}

/**
 * One node with its values.
 *
 * @param store The store.
 * @param runId The run.
 * @param nodeId The node.
 * @param describe Loads a script's IR, for declared permissions.
 * @returns It, or undefined.
 */
export async function nodeView(
  store: Store,
  runId: string,
  nodeId: string,
  describe: Describe | undefined,
): Promise<NodeView | undefined> {
  const n = await store.getNode(runId, nodeId);
  if (n === undefined) return undefined;
  const [run, values, logs] = await Promise.all([
    store.getRun(runId, { nodes: false }),
    store.nodeValues(runId, nodeId),
    store.logs(runId, nodeId),
  ]);
  const shown = (list: readonly StoredValue[] | undefined): NodeValue[] =>
    (list ?? []).map((v) => ({
      name: v.name,
      hash: v.hash,
      value: v.stored ? prettyValue(v.value) : null,
    }));
  const inputs = shown(values?.inputs);
  for (const v of inputs) {
    const sources = n.inputs.find((i) => i.name === v.name)?.sources ?? [];
    if (sources.length > 0) v.sources = [...sources];
  }
  const view: NodeView = {
    runId,
    id: n.id,
    parentId: n.parentId ?? null,
    entity: n.entity,
    kind: n.kind,
    status: n.status,
    state: stateOf(n),
    attempts: n.attempts,
    startedAt: n.startedAt ?? null,
    finishedAt: n.finishedAt ?? null,
    cachedFrom: n.cachedFrom ?? null,
    replayed: n.replayed,
    call: n.call,
    version: n.version ?? null,
    inputs,
    outputs: shown(values?.outputs),
    error: n.error ?? null,
    retries: logs.filter((l) => l.kind === "retry").map((l) => ({
      attempt: l.attempt,
      time: l.time,
      error: l.error ?? { name: "Error", message: l.message },
    })),
    logs: logs.filter((l) => l.kind === "log").map((l) => ({
      time: l.time,
      attempt: l.attempt,
      message: l.message,
    })),
    permissions: null,
    permissionsNote: null,
    options: [],
  };
  await addDeclaration(view, n, run?.script, describe);
  return view;
}

async function addDeclaration(
  view: NodeView,
  n: NodeDetails,
  script: string | undefined,
  describe: Describe | undefined,
): Promise<void> {
  if (n.kind !== "task") {
    view.permissionsNote = `a ${n.kind} declares no permissions; its tasks do`;
    return;
  }
  if (script === undefined || describe === undefined) {
    view.permissionsNote = script === undefined
      ? "the run was a library call: its script is not recorded"
      : "unknown: this server cannot read scripts";
    return;
  }
  try {
    const dag = await describe(script);
    const task = dag.tasks.find((t) => t.name === n.entity);
    if (task === undefined) {
      view.permissionsNote = `the script no longer defines a task '${n.entity}'`;
      return;
    }
    view.permissions = task.permissions as Record<string, true | string[]>;
    view.options = [
      ["retries", String(task.retries)],
      ["timeout", task.timeoutMs === null ? "none" : `${task.timeoutMs} ms`],
      [
        "cache",
        task.cache ? `yes${task.version === null ? "" : ` (version ${task.version})`}` : "no",
      ],
    ];
    if (task.source !== null) {
      view.options.push(["source", `${task.source.file}:${task.source.line}`]);
    }
  } catch (e) {
    view.permissionsNote = `the script could not be read now: ${
      (e as Error).message.split("\n")[0]
    }`;
  }
}

/**
 * A value in full (up to a couple of million characters).
 *
 * @param store The store.
 * @param hash Its hash.
 * @returns It, or undefined.
 */
export async function fullValue(store: Store, hash: string): Promise<PrettyValue | undefined> {
  const stored = await store.getValue(hash);
  return stored === undefined ? undefined : prettyValue(stored.value, FULL_CHARS);
}

/** A node as the timeline and member lists show it. */
export interface NodeLine {
  /** The node id. */
  id: string;
  /** The entity. */
  entity: string;
  /** The caller. */
  parentId: string | null;
  /** The state. */
  state: UiState;
  /** Started. */
  startedAt: number | null;
  /** Finished. */
  finishedAt: number | null;
  /** Attempts. */
  attempts: number;
  /** The error message, when it failed. */
  error: string | null;
}

/**
 * A node for lists and the timeline.
 *
 * @param n The node.
 * @returns Its line.
 */
export function nodeLine(n: UiNode): NodeLine {
  return {
    id: n.id,
    entity: n.entity,
    parentId: n.parentId ?? null,
    state: stateOf(n),
    startedAt: n.startedAt ?? null,
    finishedAt: n.finishedAt ?? null,
    attempts: n.attempts,
    error: n.error ?? null,
  };
}

/**
 * Every node of a run, for the timeline.
 *
 * @param store The store.
 * @param runId The run.
 * @returns Its nodes in the order added, or undefined.
 */
export async function timeline(store: Store, runId: string): Promise<NodeLine[] | undefined> {
  const run = await store.runNodes(runId);
  return run?.nodes.map((n) => nodeLine(uiNode(n)));
}
