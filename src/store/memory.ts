/**
 * The in-memory store: the default for library calls. One per process, so
 * that a run id can be run again (and resumed) in the same process. It keeps
 * the engine's own node objects rather than copies, and forgets the oldest
 * runs once it holds more than a million nodes.
 *
 * @module
 */

import type { WeftError } from "../core/errors.ts";
import { lineageOf, resolveHash } from "./lineage.ts";
import { memoryLineagePort } from "./memory_lineage.ts";
import { errorRecord, nodeErrorRecord, nodeOutputs, promised } from "./provenance.ts";
import { claimedOwner, decideClaim, takeoverRecord } from "./ownership.ts";
import { appendLog, filterRuns, MemoryBrowse } from "./memory_browse.ts";
import type {
  CacheHit,
  ClaimResult,
  Lineage,
  LineageOptions,
  LogEntry,
  NodeChanges,
  NodeDetails,
  NodeRecord,
  NodeValue,
  PreviousRun,
  RenewResult,
  RunClaim,
  RunDetails,
  RunFilter,
  RunFinish,
  RunOwner,
  RunSession,
  RunStart,
  RunStatus,
  RunSummary,
  RunSuspend,
  RunTakeover,
  SignalMessage,
  Store,
  TaskCounts,
  ValueUses,
} from "./mod.ts";

import { valueHash } from "../core/values.ts";
import { type MemoryRun, MemoryTimeMethods, previousOf } from "./memory_time.ts";

export type { MemoryRun } from "./memory_time.ts";

/** Options of {@linkcode MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Forget the oldest finished runs once this many nodes are kept.
   * @default 1_000_000
   */
  maxNodes?: number;
}

/** A store that keeps everything in the process's memory. */
export class MemoryStore extends MemoryTimeMethods implements Store {
  /** Always `memory`. */
  readonly url = "memory";
  /** The runs, oldest first. */
  override readonly runs: Map<string, MemoryRun> = new Map();
  readonly #cache = new Map<string, CacheHit & { task: string }>();
  readonly #hashes = new WeakMap<object, Map<string, string>>();
  readonly #owners = new Map<string, RunOwner>();
  readonly #takeovers: RunTakeover[] = [];
  readonly #maxNodes: number;
  #changes = 0;
  readonly #browse = new MemoryBrowse({
    runs: this.runs,
    summary: (id) => {
      const r = this.runs.get(id);
      return r === undefined ? undefined : this.#summary(id, r);
    },
    details: (id, node) => this.#details(id, node),
    outputHashes: (node) => this.#outputHashes(node),
    logs: (id) => (this.runs.get(id) as RunRecord | undefined)?.logs ?? [],
    changes: () => this.#changes,
  });

  /**
   * Creates an empty store.
   *
   * @param options The retention limit.
   */
  constructor(options: MemoryStoreOptions = {}) {
    super();
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
      previous = previousOf(existing);
      run = existing;
      if (
        existing.status !== "succeeded" && previous.entity === start.entity &&
        previous.inputsDigest === start.inputsDigest
      ) {
        existing.status = "running";
        existing.finishedAt = undefined;
        existing.wakeAt = undefined;
        existing.waitingFor = [];
        existing.attempts++;
      }
    } else {
      run = new RunRecord(start);
      this.runs.set(start.runId, run);
    }
    const record = run as RunRecord;
    const cache = this.#cache;
    const watchers = this.watchers;
    return {
      previous,
      added: (node: NodeRecord): void => {
        this.#changes++;
        record.add(node);
      },
      changed: (): void => {
        this.#changes++;
      },
      log: (entry: LogEntry): void => {
        this.#changes++;
        appendLog(record.logs, record.logCounts, entry);
      },
      pending(): boolean {
        return false;
      },
      flush(): void {},
      cacheGet(key: string): CacheHit | undefined {
        return cache.get(key);
      },
      cachePut(key: string, node: NodeRecord): void {
        cache.set(key, { value: node.value, from: `${start.runId}/${node.id}`, task: node.entity });
      },
      finish: (result: RunFinish): void => {
        this.#changes++;
        run.status = result.status;
        run.outputs = result.outputs;
        run.errors = result.errors;
        run.finishedAt = result.finishedAt;
        this.#evict();
      },
      suspend(info: RunSuspend): void {
        run.status = "sleeping";
        run.wakeAt = info.wakeAt;
        run.waitingFor = [...info.signals];
        // A signal it waits for that came before it slept makes it due at once.
        for (const m of run.signals) {
          if (m.takenBy === undefined && run.waitingFor.includes(m.name)) {
            run.wakeAt = Math.min(run.wakeAt ?? Infinity, m.sentAt);
          }
        }
      },
      takeSignal(name: string, nodeId: string): SignalMessage | undefined {
        const m = run.signals.find((m) => m.takenBy === nodeId) ??
          run.signals.find((m) => m.takenBy === undefined && m.name === name);
        if (m === undefined) return undefined;
        m.takenBy = nodeId;
        return { seq: m.seq, value: m.value, sentAt: m.sentAt };
      },
      watchSignals(wake: () => void): () => void {
        let set = watchers.get(start.runId);
        if (set === undefined) watchers.set(start.runId, set = new Set());
        set.add(wake);
        return () => {
          set.delete(wake);
          if (set.size === 0) watchers.delete(start.runId);
        };
      },
    };
  }

  /**
   * What a run recorded, as resuming it would see it.
   *
   * @param runId The run id.
   * @returns Its journal and outcome, or undefined.
   */
  readJournal(runId: string): Promise<PreviousRun | undefined> {
    return promised(() => {
      const r = this.runs.get(runId);
      return r === undefined ? undefined : previousOf(r);
    });
  }

  /**
   * Runs, newest first.
   *
   * @param filter By status, entity and id; where to start; at most `limit` (default 50).
   * @returns The runs.
   */
  listRuns(filter: RunFilter = {}): Promise<RunSummary[]> {
    return promised(() =>
      filterRuns([...this.runs].map(([id, r]) => this.#summary(id, r)), filter)
    );
  }

  // --- what the web UI reads (memory_browse.ts) ------------------------------

  /** The entities that have runs, sorted. */
  runEntities(): Promise<string[]> {
    return promised(() => this.#browse.runEntities());
  }
  /** The task nodes of runs by status (`StoreBrowse.taskCounts`). */
  taskCounts(runIds: readonly string[]): Promise<Map<string, TaskCounts>> {
    return promised(() => this.#browse.taskCounts(runIds));
  }
  /** A run's nodes in brief: here always all of them, the engine's own records read in place. */
  runNodes(runId: string): Promise<NodeChanges | undefined> {
    return promised(() => this.#browse.runNodes(runId));
  }
  /** One node of a run (`StoreBrowse.getNode`). */
  getNode(runId: string, nodeId: string): Promise<NodeDetails | undefined> {
    return promised(() => this.#browse.getNode(runId, nodeId));
  }
  /** The values a node took and made (`StoreBrowse.nodeValues`). */
  nodeValues(
    runId: string,
    nodeId: string,
  ): Promise<{ inputs: NodeValue[]; outputs: NodeValue[] } | undefined> {
    return promised(() => this.#browse.nodeValues(runId, nodeId));
  }
  /** A run's `ctx.log` lines and retried attempts (`StoreBrowse.logs`). */
  logs(runId: string, nodeId?: string): Promise<LogEntry[]> {
    return promised(() => this.#browse.logs(runId, nodeId));
  }
  /** The executions that made a value and those that took it (`StoreBrowse.valueUses`). */
  valueUses(hash: string, limit = 200): Promise<ValueUses> {
    return promised(() => this.#browse.valueUses(hash, limit));
  }
  /** A number that changes whenever anything was recorded. */
  changeCount(): number {
    return this.#changes;
  }

  #summary(id: string, r: MemoryRun): RunSummary {
    return {
      id,
      entity: r.start.entity,
      kind: r.start.kind,
      status: r.status,
      startedAt: r.start.startedAt,
      finishedAt: r.finishedAt,
      wakeAt: r.wakeAt,
      attempts: r.attempts,
      script: r.start.script,
      weftVersion: r.start.weftVersion,
    };
  }

  /**
   * A run with its nodes and values.
   *
   * @param runId The run id.
   * @param options `nodes: false` for the run's record alone.
   * @returns The run, or undefined.
   */
  getRun(runId: string, options: { nodes?: boolean } = {}): Promise<RunDetails | undefined> {
    return promised(() => {
      const r = this.runs.get(runId);
      if (r === undefined) return undefined;
      return ({
        ...this.#summary(runId, r),
        inputs: r.start.inputs,
        outputs: r.outputs,
        outputsHash: r.status === "succeeded" ? valueHash(r.outputs) : undefined,
        errors: r.errors.map(errorRecord),
        nodes: options.nodes === false
          ? []
          : [...r.nodes.values()].map((n) => this.#details(runId, n)),
      });
    });
  }

  #outputHashes(node: NodeRecord): Map<string, string> {
    let hashes = this.#hashes.get(node);
    if (hashes === undefined) {
      hashes = new Map();
      if (node.status === "succeeded") {
        for (const o of nodeOutputs(node)) hashes.set(o.name, valueHash(o.value));
      }
      this.#hashes.set(node, hashes);
    }
    return hashes;
  }

  #details(runId: string, node: NodeRecord): NodeDetails {
    const sources = node.inputSources();
    return {
      runId,
      id: node.id,
      parentId: node.parentId,
      seq: node.seq,
      entity: node.entity,
      kind: node.kind,
      version: node.version,
      status: node.status,
      attempts: node.attempt,
      startedAt: node.startedAt,
      finishedAt: node.finishedAt,
      error: node.error === undefined ? undefined : nodeErrorRecord(node),
      cachedFrom: node.cachedFrom,
      replayed: node.replayed,
      call: node.describeCall(),
      inputs: Object.entries(node.inputs ?? {}).map(([name, value]) => ({
        name,
        hash: valueHash(value),
        sources: sources.get(name) ?? [],
      })),
      outputs: [...this.#outputHashes(node)].map(([name, hash]) => ({ name, hash })),
    };
  }

  /** Every value the store holds, by hash. */
  #values(): Map<string, unknown> {
    const values = new Map<string, unknown>();
    for (const r of this.runs.values()) {
      values.set(valueHash(r.start.inputs), r.start.inputs);
      if (r.status === "succeeded") values.set(valueHash(r.outputs), r.outputs);
      for (const node of r.nodes.values()) {
        for (const v of Object.values(node.inputs ?? {})) values.set(valueHash(v), v);
        if (node.status === "succeeded") {
          const outputs = nodeOutputs(node);
          const hashes = this.#outputHashes(node);
          for (const o of outputs) values.set(hashes.get(o.name)!, o.value);
        }
      }
    }
    return values;
  }

  /**
   * A stored value.
   *
   * @param hash Its hash, or a unique prefix of at least 8 hex digits.
   * @returns The value, or undefined.
   */
  async getValue(hash: string): Promise<{ hash: string; value: unknown } | undefined> {
    const values = this.#values();
    const full = await resolveHash(
      memoryLineagePort(this.runs, (n) => this.#outputHashes(n), () => this.#values()),
      hash,
    );
    return full === undefined ? undefined : { hash: full, value: values.get(full) };
  }

  /**
   * The lineage of a value: within its run, unless `acrossRuns`.
   *
   * @param ref A value hash (or prefix), or `RUN_ID/NODE_ID[/OUTPUT]`.
   * @param options Depth (default 10), whether to follow values into other runs, the most executions to expand.
   * @returns The executions that led to the value, each listed once.
   * @throws {ValidationError} When the reference matches nothing.
   */
  lineage(ref: string, options: LineageOptions = {}): Promise<Lineage> {
    return lineageOf(
      memoryLineagePort(this.runs, (n) => this.#outputHashes(n), () => this.#values()),
      ref,
      options,
    );
  }

  /**
   * Every recorded execution of a task, newest first.
   *
   * @param task The task name.
   * @returns The executions.
   */
  executions(task: string): Promise<NodeDetails[]> {
    return promised(() => {
      const out: NodeDetails[] = [];
      for (const [runId, r] of this.runs) {
        for (const node of r.nodes.values()) {
          if (node.kind === "task" && node.entity === task) out.push(this.#details(runId, node));
        }
      }
      out.sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0));
      return out;
    });
  }

  /**
   * Empties the cache.
   *
   * @param task Only this task's entries.
   * @returns How many entries were removed.
   */
  clearCache(task?: string): Promise<number> {
    return promised(() => {
      let n = 0;
      for (const [key, entry] of this.#cache) {
        if (task === undefined || entry.task === task) {
          this.#cache.delete(key);
          n++;
        }
      }
      return n;
    });
  }

  // --- ownership ---------------------------------------------------------------

  /**
   * Claims a run id (see `RunOwnership.claimRun`).
   *
   * @param claim Who claims.
   * @returns The owner now, and whether it is the claimant.
   */
  claimRun(claim: RunClaim): Promise<ClaimResult> {
    return promised(() => {
      const now = Date.now();
      const current = this.#owners.get(claim.runId);
      const decision = decideClaim(current, claim, now);
      if (!decision.take) return { claimed: false, owner: current! };
      const owner = claimedOwner(claim, now);
      this.#owners.set(claim.runId, owner);
      if (current === undefined || decision.takeover === undefined) return { claimed: true, owner };
      const tookOver = takeoverRecord(current, claim, now, decision.takeover);
      this.#takeovers.push(tookOver);
      return { claimed: true, owner, tookOver };
    });
  }

  /**
   * Renews a claim.
   *
   * @param runId The run.
   * @param ownerId The claim.
   * @returns Whether it still holds, and whether a cancel was requested.
   */
  renewRun(runId: string, ownerId: string): Promise<RenewResult> {
    return promised(() => {
      const owner = this.#owners.get(runId);
      if (owner === undefined || owner.ownerId !== ownerId) {
        return { owned: false, cancelRequested: false };
      }
      this.#owners.set(runId, { ...owner, heartbeatAt: Date.now() });
      return { owned: true, cancelRequested: owner.cancelRequestedAt !== undefined };
    });
  }

  /**
   * Gives a run up.
   *
   * @param runId The run.
   * @param ownerId The claim.
   */
  releaseRun(runId: string, ownerId: string): Promise<void> {
    return promised(() => {
      if (this.#owners.get(runId)?.ownerId === ownerId) this.#owners.delete(runId);
    });
  }

  /**
   * The owner of a run.
   *
   * @param runId The run.
   * @returns The owner, or undefined.
   */
  runOwner(runId: string): Promise<RunOwner | undefined> {
    return promised(() => this.#owners.get(runId));
  }

  /**
   * Asks the owner of a run to cancel it.
   *
   * @param runId The run.
   * @returns The owner asked, or undefined.
   */
  requestCancel(runId: string): Promise<RunOwner | undefined> {
    return promised(() => {
      const owner = this.#owners.get(runId);
      if (owner === undefined) return undefined;
      const asked = { ...owner, cancelRequestedAt: owner.cancelRequestedAt ?? Date.now() };
      this.#owners.set(runId, asked);
      return asked;
    });
  }

  /**
   * The takeovers of a run.
   *
   * @param runId The run.
   * @returns The takeovers, oldest first.
   */
  takeovers(runId: string): Promise<RunTakeover[]> {
    return promised(() => this.#takeovers.filter((t) => t.runId === runId));
  }

  /** Drops every run and cached result. */
  clear(): void {
    this.runs.clear();
    this.#cache.clear();
  }

  /** Nothing to close. */
  close(): void {}

  #evict(): void {
    // Records counted with repeats (a resumed run records some ids again)
    // bound the distinct ids from above: when they fit, nothing is evicted and
    // no run needs its index.
    let added = 0;
    for (const r of this.runs.values()) added += (r as RunRecord).added;
    if (added <= this.#maxNodes) return;
    let total = 0;
    for (const r of this.runs.values()) total += r.nodes.size;
    for (const [id, r] of this.runs) {
      if (total <= this.#maxNodes) break;
      if (r.status === "running" || r.status === "sleeping") continue;
      total -= r.nodes.size;
      this.runs.delete(id);
    }
  }
}

/**
 * A run as the memory store keeps it. Its nodes are recorded in a list, and
 * indexed by id only when something reads `nodes`: a run of 100,000 tasks
 * otherwise pays a map insertion per node that nothing may ever use.
 */
class RunRecord implements MemoryRun {
  readonly start: RunStart;
  status: RunStatus = "running";
  outputs: unknown = undefined;
  errors: readonly WeftError[] = [];
  finishedAt: number | undefined = undefined;
  attempts = 1;
  wakeAt: number | undefined = undefined;
  waitingFor: readonly string[] = [];
  readonly signals: MemoryRun["signals"] = [];
  /** `ctx.log` lines and retried attempts, in order, and lines kept per node and attempt. */
  readonly logs: LogEntry[] = [];
  readonly logCounts = new Map<string, number>();
  /** Every record, in the order added; ids may repeat when a run is resumed. */
  #list: NodeRecord[] = [];
  /** The records by id (the latest for each), once made. */
  #index: Map<string, NodeRecord> | undefined = undefined;

  constructor(start: RunStart) {
    this.start = start;
  }

  /** The latest record of each node, by id. */
  get nodes(): Map<string, NodeRecord> {
    if (this.#index === undefined) {
      const index = this.#index = new Map();
      for (const node of this.#list) index.set(node.id, node);
      this.#list = [];
    }
    return this.#index;
  }

  /** How many records were added (repeats included). */
  get added(): number {
    return this.#index === undefined ? this.#list.length : this.#index.size;
  }

  add(node: NodeRecord): void {
    if (this.#index === undefined) this.#list.push(node);
    else this.#index.set(node.id, node);
  }
}
