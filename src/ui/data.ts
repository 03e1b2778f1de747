/**
 * What the web UI reads from a store: pages of runs with their task
 * counts, and a run's nodes, then what changed in them.
 *
 * @module
 */

import type { NodeSummary, RunCursor, RunStatus, RunSummary, Store } from "../store/mod.ts";
import type { UiNode, UiRun, UiState } from "./wire.ts";

/**
 * The UI's view of a run record.
 *
 * @param r The run.
 * @returns Its header fields.
 */
export function uiRun(r: RunSummary): UiRun {
  return {
    id: r.id,
    entity: r.entity,
    kind: r.kind,
    status: r.status,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    attempts: r.attempts,
    script: r.script,
    ...(r.status === "sleeping" && r.wakeAt !== undefined ? { wakeAt: r.wakeAt } : {}),
  };
}

/**
 * The UI's view of a node.
 *
 * @param n The node in brief.
 * @returns What the graph needs of it.
 */
export function uiNode(n: NodeSummary): UiNode {
  return { ...n, deps: [...n.deps] };
}

/** A query for the runs page. */
export interface RunsQuery {
  /** Only runs with this status. */
  status?: RunStatus;
  /** Only runs of this entity. */
  entity?: string;
  /** Only runs whose id contains this text. */
  search?: string;
  /** Runs started before this one (the page after it). */
  before?: RunCursor;
  /** At most this many. */
  limit: number;
}

/** A row of the runs page. */
export interface RunRow extends UiRun {
  /** Its task nodes by state. */
  counts: Partial<Record<UiState, number>>;
}

/** A page of runs, newest first. */
export interface RunsPage {
  /** The runs. */
  runs: RunRow[];
  /** Where the next page starts, when there is one. */
  next: RunCursor | null;
}

/**
 * A page of runs, newest first, with their task counts.
 *
 * @param store The store.
 * @param q Filters, search, where to start and how many.
 * @param counts Task counts of finished runs already read (they no longer change).
 * @returns The page.
 */
export async function runsPage(
  store: Store,
  q: RunsQuery,
  counts: Map<string, { attempts: number; counts: RunRow["counts"] }> = new Map(),
): Promise<RunsPage> {
  const rows = await store.listRuns({
    ...(q.status === undefined ? {} : { status: q.status }),
    ...(q.entity === undefined ? {} : { entity: q.entity }),
    ...(q.search === undefined ? {} : { search: q.search }),
    ...(q.before === undefined ? {} : { before: q.before }),
    limit: q.limit + 1,
  });
  const page = rows.slice(0, q.limit);
  if (counts.size > 10_000) counts.clear();
  const missing = page.filter((r) => {
    const known = counts.get(r.id);
    return known === undefined || known.attempts !== r.attempts || r.status === "running";
  });
  const fresh = missing.length === 0 ? new Map() : await store.taskCounts(missing.map((r) => r.id));
  const runs: RunRow[] = page.map((r) => {
    let c = fresh.get(r.id) as RunRow["counts"] | undefined;
    if (c !== undefined) {
      if (r.status !== "running") counts.set(r.id, { attempts: r.attempts, counts: c });
    } else c = counts.get(r.id)?.counts ?? {};
    return { ...uiRun(r), counts: c };
  });
  const last = page[page.length - 1];
  return {
    runs,
    next: rows.length > q.limit && last !== undefined
      ? { startedAt: last.startedAt, id: last.id }
      : null,
  };
}

/** Reads a run's nodes, then those new or changed since the last read. */
export class RunReader {
  readonly #store: Store;
  readonly #runId: string;
  #cursor: string | undefined;
  /** What each node looked like, for stores that send unchanged nodes too. */
  #seen = new Map<string, string>();

  /**
   * @param store The store.
   * @param runId The run.
   */
  constructor(store: Store, runId: string) {
    this.#store = store;
    this.#runId = runId;
  }

  /**
   * The run and the nodes that are new or changed since the last call (all of them the first time).
   *
   * @returns Them, or undefined while the run does not exist.
   */
  async read(): Promise<{ run: UiRun; nodes: UiNode[] } | undefined> {
    const changes = await this.#store.runNodes(this.#runId, this.#cursor);
    if (changes === undefined) return undefined;
    this.#cursor = changes.cursor;
    const nodes: UiNode[] = [];
    for (const n of changes.nodes) {
      const sig =
        `${n.status}|${n.attempts}|${n.startedAt}|${n.finishedAt}|${n.deps.length}|${n.cachedFrom}`;
      if (this.#seen.get(n.id) === sig) continue;
      this.#seen.set(n.id, sig);
      nodes.push(uiNode(n));
    }
    return { run: uiRun(changes.run), nodes };
  }
}
