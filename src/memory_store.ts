/**
 * The in-memory store: the default for library calls. One per process, so
 * that a run id can be run again (and resumed) in the same process. It keeps
 * the engine's own node objects rather than copies, and forgets the oldest
 * runs once it holds more than a million nodes.
 *
 * @module
 */

import type { WeftError } from "./errors.ts";
import type {
  CacheHit,
  JournalEntry,
  NodeRecord,
  PreviousRun,
  RunFinish,
  RunSession,
  RunStart,
  RunStatus,
  Store,
} from "./store.ts";

/** What the memory store keeps of a run. */
export interface MemoryRun {
  /** How the run started. */
  readonly start: RunStart;
  /** The current status. */
  status: RunStatus;
  /** The outputs, once succeeded. */
  outputs: unknown;
  /** The errors, once failed. */
  errors: readonly WeftError[];
  /** When it finished. */
  finishedAt: number | undefined;
  /** The latest record of each node, by id. */
  readonly nodes: Map<string, NodeRecord>;
}

/** Options of {@linkcode MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Forget the oldest finished runs once this many nodes are kept.
   * @default 1_000_000
   */
  maxNodes?: number;
}

/** A store that keeps everything in the process's memory. */
export class MemoryStore implements Store {
  /** Always `memory`. */
  readonly url = "memory";
  /** The runs, oldest first. */
  readonly runs: Map<string, MemoryRun> = new Map();
  readonly #cache = new Map<string, CacheHit>();
  readonly #maxNodes: number;

  /**
   * Creates an empty store.
   *
   * @param options The retention limit.
   */
  constructor(options: MemoryStoreOptions = {}) {
    this.#maxNodes = options.maxNodes ?? 1_000_000;
  }

  /**
   * Starts or resumes recording a run.
   *
   * @param start The run.
   * @returns Its session.
   */
  openRun(start: RunStart): RunSession {
    const existing = this.runs.get(start.runId);
    let previous: PreviousRun | undefined;
    let run: MemoryRun;
    if (existing !== undefined) {
      previous = {
        status: existing.status,
        entity: existing.start.entity,
        inputsDigest: existing.start.inputsDigest,
        outputs: existing.outputs,
        errors: existing.errors.map((e) => e.toJSON()),
        startedAt: existing.start.startedAt,
        finishedAt: existing.finishedAt,
        journal: journalOf(existing.nodes),
      };
      run = existing;
      if (existing.status !== "succeeded") {
        existing.status = "running";
        existing.finishedAt = undefined;
      }
    } else {
      run = {
        start,
        status: "running",
        outputs: undefined,
        errors: [],
        finishedAt: undefined,
        nodes: new Map(),
      };
      this.runs.set(start.runId, run);
    }
    const cache = this.#cache;
    return {
      previous,
      added(node: NodeRecord): void {
        run.nodes.set(node.id, node);
      },
      changed(): void {},
      pending(): boolean {
        return false;
      },
      flush(): void {},
      cacheGet(key: string): CacheHit | undefined {
        return cache.get(key);
      },
      cachePut(key: string, node: NodeRecord): void {
        cache.set(key, { value: node.value, from: `${start.runId}/${node.id}` });
      },
      finish: (result: RunFinish): void => {
        run.status = result.status;
        run.outputs = result.outputs;
        run.errors = result.errors;
        run.finishedAt = result.finishedAt;
        this.#evict();
      },
    };
  }

  /** Drops every run and cached result. */
  clear(): void {
    this.runs.clear();
    this.#cache.clear();
  }

  /** Nothing to close. */
  close(): void {}

  #evict(): void {
    let total = 0;
    for (const r of this.runs.values()) total += r.nodes.size;
    for (const [id, r] of this.runs) {
      if (total <= this.#maxNodes) break;
      if (r.status === "running") continue;
      total -= r.nodes.size;
      this.runs.delete(id);
    }
  }
}

function journalOf(nodes: Map<string, NodeRecord>): Map<string, JournalEntry> {
  const journal = new Map<string, JournalEntry>();
  for (const node of nodes.values()) {
    journal.set(`${node.parentId ?? ""}#${node.seq}`, {
      nodeId: node.id,
      entity: node.entity,
      argsDigest: node.argsDigest(),
      call: node.describeCall(),
      status: node.status,
      value: node.value,
      attempt: node.attempt,
      startedAt: node.startedAt,
      finishedAt: node.finishedAt,
      cachedFrom: node.cachedFrom,
    });
  }
  return journal;
}
