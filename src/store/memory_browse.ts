/**
 * What the web UI asks of the memory store, over its runs and the engine's
 * own node records: pages of runs, nodes in brief, task counts, logs and
 * where a value was used.
 *
 * @module
 */

import { valueHash } from "../core/values.ts";
import { nodeOutputs } from "./provenance.ts";
import type {
  LogEntry,
  NodeChanges,
  NodeDetails,
  NodeRecord,
  NodeSummary,
  NodeValue,
  RunFilter,
  RunSummary,
  TaskCounts,
  ValueUse,
  ValueUses,
} from "./mod.ts";

/**
 * A node in brief.
 *
 * @param node The engine's record.
 * @returns What a drawing needs of it.
 */
export function nodeSummary(node: NodeRecord): NodeSummary {
  const deps: string[] = [];
  for (const list of node.inputSources().values()) {
    for (const s of list) if (!deps.includes(s.node)) deps.push(s.node);
  }
  return {
    id: node.id,
    parentId: node.parentId,
    entity: node.entity,
    kind: node.kind,
    status: node.status,
    attempts: node.attempt,
    startedAt: node.startedAt,
    finishedAt: node.finishedAt,
    cachedFrom: node.cachedFrom,
    replayed: node.replayed,
    deps,
    error: node.error?.message,
  };
}

/**
 * Filters and orders runs as {@linkcode RunFilter} says.
 *
 * @param runs Every run, in brief.
 * @param filter The filter.
 * @returns The page, newest first.
 */
export function filterRuns(runs: RunSummary[], filter: RunFilter): RunSummary[] {
  const b = filter.before;
  const out = runs.filter((r) =>
    (filter.status === undefined || r.status === filter.status) &&
    (filter.entity === undefined || r.entity === filter.entity) &&
    (filter.search === undefined || r.id.includes(filter.search)) &&
    (b === undefined || r.startedAt < b.startedAt || (r.startedAt === b.startedAt && r.id < b.id))
  );
  out.sort((x, y) => y.startedAt - x.startedAt || (x.id < y.id ? 1 : x.id > y.id ? -1 : 0));
  return out.slice(0, filter.limit ?? 50);
}

/**
 * Counts task nodes by status.
 *
 * @param nodes A run's nodes.
 * @returns The counts; cache hits apart.
 */
export function countTasks(nodes: Iterable<NodeRecord>): TaskCounts {
  const counts: TaskCounts = {};
  for (const n of nodes) {
    if (n.kind !== "task") continue;
    const key = n.status === "succeeded" && n.cachedFrom !== undefined ? "cached" : n.status;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** The most lines kept per node and attempt. */
export const MAX_LOG_LINES = 10_000;

/**
 * Appends a log entry, keeping at most {@linkcode MAX_LOG_LINES} per node and attempt.
 *
 * @param logs The run's entries.
 * @param counts Lines kept per node and attempt.
 * @param entry The entry.
 */
export function appendLog(logs: LogEntry[], counts: Map<string, number>, entry: LogEntry): void {
  const key = `${entry.attempt}#${entry.nodeId}`;
  const n = (counts.get(key) ?? 0) + 1;
  counts.set(key, n);
  if (n < MAX_LOG_LINES) logs.push(entry);
  else if (n === MAX_LOG_LINES) {
    logs.push({
      ...entry,
      kind: "log",
      message: `(${MAX_LOG_LINES - 1} lines kept; later lines of this attempt are not recorded)`,
    });
  }
}

/**
 * Where a value was made and used in some runs.
 *
 * @param runs Runs by id, with their nodes.
 * @param hash The value's hash.
 * @param limit At most this many of each.
 * @param outputHashes A node's outputs' hashes.
 * @param inputHash An input value's hash.
 * @returns The executions that made it and those that took it.
 */
export function findUses(
  runs: Iterable<[string, Iterable<NodeRecord>]>,
  hash: string,
  limit: number,
  outputHashes: (node: NodeRecord) => Map<string, string>,
  inputHash: (value: unknown) => string,
): { producedBy: ValueUse[]; consumedBy: ValueUse[] } {
  const producedBy: ValueUse[] = [];
  const consumedBy: ValueUse[] = [];
  for (const [runId, nodes] of runs) {
    for (const node of nodes) {
      if (node.status === "succeeded" && !node.replayed && producedBy.length < limit) {
        for (const [name, h] of outputHashes(node)) {
          if (h === hash) producedBy.push({ runId, nodeId: node.id, name });
        }
      }
      if (consumedBy.length < limit) {
        for (const [name, value] of Object.entries(node.inputs ?? {})) {
          if (inputHash(value) === hash) consumedBy.push({ runId, nodeId: node.id, name });
        }
      }
    }
  }
  return { producedBy, consumedBy };
}

/** What {@linkcode MemoryBrowse} reads of the memory store. */
export interface MemoryRuns {
  /** The runs, oldest first. */
  readonly runs: ReadonlyMap<string, { readonly nodes: Map<string, NodeRecord> }>;
  /** A run in brief. */
  summary(runId: string): RunSummary | undefined;
  /** A node as `getNode` returns it. */
  details(runId: string, node: NodeRecord): NodeDetails;
  /** A node's outputs' hashes by name. */
  outputHashes(node: NodeRecord): Map<string, string>;
  /** A run's log, in order. */
  logs(runId: string): readonly LogEntry[];
  /** The store's change count. */
  changes(): number;
}

/** The UI's queries on the memory store. */
export class MemoryBrowse {
  readonly #m: MemoryRuns;

  /**
   * @param m What it reads of the store.
   */
  constructor(m: MemoryRuns) {
    this.#m = m;
  }

  /** The entities that have runs, sorted. */
  runEntities(): string[] {
    return [...new Set([...this.#m.runs.keys()].map((id) => this.#m.summary(id)!.entity))].sort();
  }

  /** The task nodes of runs by status (`StoreBrowse.taskCounts`). */
  taskCounts(runIds: readonly string[]): Map<string, TaskCounts> {
    const out = new Map<string, TaskCounts>();
    for (const id of runIds) {
      const r = this.#m.runs.get(id);
      if (r !== undefined) out.set(id, countTasks(r.nodes.values()));
    }
    return out;
  }

  /** @param runId The run. @returns All its nodes in brief (the engine's own records, read in place). */
  runNodes(runId: string): NodeChanges | undefined {
    const r = this.#m.runs.get(runId);
    if (r === undefined) return undefined;
    return {
      run: this.#m.summary(runId)!,
      nodes: [...r.nodes.values()].map(nodeSummary),
      cursor: String(this.#m.changes()),
    };
  }

  /** One node of a run (`StoreBrowse.getNode`). */
  getNode(runId: string, nodeId: string): NodeDetails | undefined {
    const node = this.#m.runs.get(runId)?.nodes.get(nodeId);
    return node === undefined ? undefined : this.#m.details(runId, node);
  }

  /** The values a node took and made (`StoreBrowse.nodeValues`). */
  nodeValues(
    runId: string,
    nodeId: string,
  ): { inputs: NodeValue[]; outputs: NodeValue[] } | undefined {
    const node = this.#m.runs.get(runId)?.nodes.get(nodeId);
    if (node === undefined) return undefined;
    const hashes = this.#m.outputHashes(node);
    return {
      inputs: Object.entries(node.inputs ?? {}).map(([name, value]) => ({
        name,
        hash: valueHash(value),
        stored: true,
        value,
      })),
      outputs: node.status !== "succeeded" ? [] : nodeOutputs(node).map((o) => ({
        name: o.name,
        hash: hashes.get(o.name)!,
        stored: true,
        value: o.value,
      })),
    };
  }

  /** A run's `ctx.log` lines and retried attempts (`StoreBrowse.logs`). */
  logs(runId: string, nodeId?: string): LogEntry[] {
    const logs = this.#m.logs(runId);
    return nodeId === undefined ? [...logs] : logs.filter((l) => l.nodeId === nodeId);
  }

  /** The executions that made a value and those that took it (`StoreBrowse.valueUses`). */
  valueUses(hash: string, limit: number): ValueUses {
    return findUses(
      [...this.#m.runs].map(([id, r]) => [id, r.nodes.values()] as [string, Iterable<NodeRecord>]),
      hash,
      limit,
      (node) => this.#m.outputHashes(node),
      valueHash,
    );
  }
}
