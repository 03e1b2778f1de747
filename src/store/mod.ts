/**
 * The `Store` interface: where runs, node executions, values, the journal and
 * the cache live. The engine talks to a store through a {@linkcode RunSession}
 * per run: it reports nodes as they are added and change, asks for a flush
 * when a result must be durable before someone acts on it, and finishes the
 * run. Every store implements the same contract (tests/store_contract_test.ts
 * runs one suite against each).
 *
 * @module
 */

import type { WeftError, WeftErrorJson } from "../core/errors.ts";
import type { EntityKind, WaitKind } from "../define/defs.ts";
import type { TimeSession, TimeStore } from "./time.ts";
import type { LogEntry, RunFilter, StoreBrowse } from "./browse.ts";
import type { InputSource, NodeDetails, NodeStatus, RunStatus, RunSummary } from "./records.ts";

export type { InputSource, NodeDetails, NodeStatus, RunStatus, RunSummary } from "./records.ts";
// Signals, sleeping runs and schedules: every type `time.ts` declares.
export type * from "./time.ts";

export type {
  LogEntry,
  NodeChanges,
  NodeSummary,
  NodeValue,
  RunCursor,
  RunFilter,
  StoreBrowse,
  TaskCounts,
  ValueUse,
  ValueUses,
} from "./browse.ts";

/** What the engine knows of a node; stores read it when they record. */
export interface NodeRecord {
  /** The node id, unique in its run (`add_2`, `inner/add`). */
  readonly id: string;
  /** The id of the flow or workflow node that called it; undefined at the top. */
  readonly parentId: string | undefined;
  /** Its position among its parent's calls, from 0: the journal position. */
  readonly seq: number;
  /** The entity name. */
  readonly entity: string;
  /** The entity kind (`sleep` and `signal`: a flow's durable waits). */
  readonly kind: EntityKind | WaitKind;
  /** The entity version, for tasks that declare one. */
  readonly version: string | undefined;
  /** The entity's output names. */
  outputNames(): readonly string[];
  /** Whether the whole value is the single output (else an object keyed by output name). */
  readonly bare: boolean;
  /** The current status. */
  readonly status: NodeStatus;
  /** The attempts made so far. */
  readonly attempt: number;
  /** When it started running (ms since the epoch). */
  readonly startedAt: number | undefined;
  /** When it finished (ms since the epoch). */
  readonly finishedAt: number | undefined;
  /** The resolved input values, once known. */
  readonly inputs: Readonly<Record<string, unknown>> | undefined;
  /** The value, once succeeded. */
  readonly value: unknown;
  /** The failure, once failed. */
  readonly error: WeftError | undefined;
  /** For a cache hit: the run and node whose result was reused. */
  readonly cachedFrom: string | undefined;
  /** Whether the result came from the journal of an earlier attempt of the run. */
  readonly replayed: boolean;
  /** For a failed node: whether a flow caught its failure and went on (a resume replays it). */
  readonly caught: boolean;
  /** The canonical digest of the call's arguments (handles as node ids), for the journal. */
  argsDigest(): string;
  /** For each input that takes values from other nodes: those nodes and outputs. */
  inputSources(): ReadonlyMap<string, readonly InputSource[]>;
  /**
   * The node output an input is, when it is exactly one node's output
   * (not an array or object holding it): a store then reuses that output's hash.
   */
  wholeSource(input: string): { readonly node: string; readonly output: string } | undefined;
  /** The call as people read it, such as `add(x: 7, y: 1)`. */
  describeCall(): string;
}

/** What was recorded for a journal position. */
export interface JournalEntry {
  /** The node id. */
  readonly nodeId: string;
  /** The entity name. */
  readonly entity: string;
  /** The canonical digest of its arguments. */
  readonly argsDigest: string;
  /** A readable rendering of the call, for messages. */
  readonly call: string;
  /** The recorded status. */
  readonly status: NodeStatus;
  /** The recorded value, when succeeded. */
  readonly value?: unknown;
  /** The recorded error, when failed. */
  readonly error?: WeftErrorJson;
  /**
   * When failed: whether a flow caught the failure and went on. A resume
   * replays such a failure; one that nothing caught runs again.
   */
  readonly caught?: boolean;
  /** The recorded attempts. */
  readonly attempt: number;
  /** When the recorded execution started. */
  readonly startedAt: number | undefined;
  /** When the recorded execution finished. */
  readonly finishedAt: number | undefined;
  /** The recorded cache source. */
  readonly cachedFrom: string | undefined;
}

/** What is known of a run id that existed before this run started. */
export interface PreviousRun {
  /** Its status. */
  readonly status: RunStatus;
  /** The entity it ran. */
  readonly entity: string;
  /** The canonical digest of its inputs. */
  readonly inputsDigest: string;
  /** Its outputs, when it succeeded. */
  readonly outputs: unknown;
  /** Its errors, when it failed. */
  readonly errors: readonly WeftErrorJson[];
  /** When it first started. */
  readonly startedAt: number;
  /** When it finished, if it did. */
  readonly finishedAt: number | undefined;
  /** The journal: entries by position (`parentId#seq`). */
  readonly journal: ReadonlyMap<string, JournalEntry>;
}

/** What the engine tells a store when a run starts. */
export interface RunStart {
  /** The run id. */
  readonly runId: string;
  /** The entity name. */
  readonly entity: string;
  /** The entity kind. */
  readonly kind: string;
  /** The inputs. */
  readonly inputs: Readonly<Record<string, unknown>>;
  /** The canonical digest of the inputs. */
  readonly inputsDigest: string;
  /** When it starts (ms since the epoch). */
  readonly startedAt: number;
  /** The script, when run from a file. */
  readonly script?: string;
  /** The weft version. */
  readonly weftVersion: string;
}

/** What the engine tells a store when a run ends. */
export interface RunFinish {
  /** The final status. */
  readonly status: RunStatus;
  /** The outputs, when succeeded. */
  readonly outputs: unknown;
  /** The errors, when failed or cancelled. */
  readonly errors: readonly WeftError[];
  /** When it finished (ms since the epoch). */
  readonly finishedAt: number;
}

/** A cached result. */
export interface CacheHit {
  /** The value. */
  readonly value: unknown;
  /** The run and node that computed it (`runId/nodeId`). */
  readonly from: string;
}

/** A store's handle on one run. */
export interface RunSession extends TimeSession {
  /** The run as recorded before, when its id existed. */
  readonly previous: PreviousRun | undefined;
  /** Records a new node. */
  added(node: NodeRecord): void;
  /** Records a node's new status. */
  changed(node: NodeRecord): void;
  /**
   * Whether a node's last change is not yet durable. The engine flushes
   * before anything acts on such a node's result.
   */
  pending(node: NodeRecord): boolean;
  /** Makes every recorded change durable. */
  flush(): void | Promise<void>;
  /** Looks up a cached result. */
  cacheGet(key: string): CacheHit | undefined | Promise<CacheHit | undefined>;
  /** Records a result in the cache. */
  cachePut(key: string, node: NodeRecord): void;
  /** Records a task's `ctx.log` line, or a failed attempt that is tried again. */
  log(entry: LogEntry): void;
  /** Records the end of the run and flushes. */
  finish(result: RunFinish): void | Promise<void>;
  /**
   * Drops whatever is queued and writes nothing more: the run's claim was
   * taken over by another process, which records the run from now on.
   */
  abandon?(): void;
  /**
   * Records the end of the run and gives up its claim (as
   * {@linkcode RunOwnership.releaseRun} does) in the same commit. Optional:
   * without it the engine finishes, then releases.
   *
   * @param result How the run ended.
   * @param ownerId The claim to give up.
   */
  finishAndRelease?(result: RunFinish, ownerId: string): void | Promise<void>;
}

/** What {@linkcode Store.openClaimed} got: the claim and, when it was granted, the session. */
export type ClaimedOpen =
  | {
    readonly claimed: true;
    readonly owner: RunOwner;
    readonly tookOver?: RunTakeover;
    readonly session: RunSession;
  }
  | { readonly claimed: false; readonly owner: RunOwner };

/** A store of runs. */
export interface Store extends StoreQueries, StoreBrowse, RunOwnership, TimeStore {
  /** How the store was opened, such as `memory` or `sqlite:.weft/weft.db`. */
  readonly url: string;
  /**
   * Starts recording a run, or resumes recording of an existing run id.
   * The caller owns the run (see {@linkcode RunOwnership.claimRun}).
   *
   * @param start The run.
   * @returns The session, with what was recorded before under this id.
   */
  openRun(start: RunStart): RunSession | Promise<RunSession>;
  /**
   * Claims a run id and starts or resumes recording it, in one commit: what
   * {@linkcode RunOwnership.claimRun} then {@linkcode Store.openRun} do in
   * two. Optional: without it the engine claims, then opens.
   *
   * @param start The run.
   * @param claim Who claims it.
   * @returns The claim and, when granted, the session (nothing is written otherwise).
   */
  openClaimed?(start: RunStart, claim: RunClaim): Promise<ClaimedOpen>;
  /** Closes the store. */
  close(): void | Promise<void>;
}

/**
 * Who executes a run: one process (or worker) at a time holds a run's
 * ownership record, renews it with heartbeats, and gives it up when it
 * stops. Times are the store's clock (ms since the epoch), so that owners
 * on machines whose clocks differ compare the same numbers.
 */
export interface RunOwner {
  /** The run. */
  readonly runId: string;
  /** A random id of this claim, unique across processes and machines. */
  readonly ownerId: string;
  /** The owning process. */
  readonly pid: number;
  /** The owning machine's host name (`?` when the process may not read it). */
  readonly host: string;
  /** When the owner claimed the run. */
  readonly since: number;
  /** The owner's last heartbeat. */
  readonly heartbeatAt: number;
  /** How long after its last heartbeat the owner counts as gone. */
  readonly leaseMs: number;
  /** When someone asked the owner to cancel the run, if anyone did. */
  readonly cancelRequestedAt: number | undefined;
}

/** A request to own a run. */
export interface RunClaim {
  /** The run. */
  readonly runId: string;
  /** The claim's id (random, fresh for each claim). */
  readonly ownerId: string;
  /** The claiming process. */
  readonly pid: number;
  /** The claiming machine. */
  readonly host: string;
  /** How long the claim holds without a heartbeat. */
  readonly leaseMs: number;
  /**
   * Take the run over from this owner, which the caller found gone (its
   * process is dead on this machine): the store replaces it only if it is
   * still the owner, and records the takeover with this reason.
   */
  readonly replace?: { readonly ownerId: string; readonly reason: string };
}

/** A recorded takeover of a run from an owner that was gone. */
export interface RunTakeover {
  /** The run. */
  readonly runId: string;
  /** When (store's clock). */
  readonly at: number;
  /** The owner that took over. */
  readonly by: { readonly ownerId: string; readonly pid: number; readonly host: string };
  /** The owner it replaced. */
  readonly from: {
    readonly ownerId: string;
    readonly pid: number;
    readonly host: string;
    readonly since: number;
    readonly heartbeatAt: number;
  };
  /** Why the old owner counted as gone. */
  readonly reason: string;
}

/** What a claim got. */
export type ClaimResult =
  | { readonly claimed: true; readonly owner: RunOwner; readonly tookOver?: RunTakeover }
  | { readonly claimed: false; readonly owner: RunOwner };

/** What a heartbeat learnt. */
export interface RenewResult {
  /** False when the claim was taken over: the owner must stop at once. */
  readonly owned: boolean;
  /** True when someone asked for the run to be cancelled. */
  readonly cancelRequested: boolean;
}

/**
 * Ownership records: at most one live owner per run id. `acquireRun` in
 * `store/ownership.ts` is the one caller: it claims, takes over from an
 * owner whose process is dead, heartbeats and releases.
 */
export interface RunOwnership {
  /**
   * Claims a run id, atomically: granted when no one owns it, when the
   * owner's lease ran out (no heartbeat for `leaseMs`: the store records a
   * takeover), or when `replace` names the current owner (also recorded).
   *
   * @param claim Who claims, and for how long.
   * @returns The owner now, and whether it is the claimant.
   */
  claimRun(claim: RunClaim): Promise<ClaimResult>;
  /**
   * Renews a claim (a heartbeat).
   *
   * @param runId The run.
   * @param ownerId The claim.
   * @returns Whether the claim still holds, and whether a cancel was requested.
   */
  renewRun(runId: string, ownerId: string): Promise<RenewResult>;
  /**
   * Gives a run up (a no-op when the claim is no longer the owner).
   *
   * @param runId The run.
   * @param ownerId The claim.
   */
  releaseRun(runId: string, ownerId: string): Promise<void>;
  /**
   * The current owner of a run, live or not (callers judge staleness).
   *
   * @param runId The run.
   * @returns The owner, or undefined when no one holds the run.
   */
  runOwner(runId: string): Promise<RunOwner | undefined>;
  /**
   * Asks the owner of a run to cancel it; the owner sees it at its next
   * heartbeat and stops as on Ctrl-C (the run stays resumable).
   *
   * @param runId The run.
   * @returns The owner that was asked, or undefined when no one holds the run.
   */
  requestCancel(runId: string): Promise<RunOwner | undefined>;
  /**
   * The takeovers recorded for a run, oldest first.
   *
   * @param runId The run.
   * @returns The takeovers.
   */
  takeovers(runId: string): Promise<RunTakeover[]>;
}

/** A run with everything recorded about it. */
export interface RunDetails extends RunSummary {
  /** The inputs. */
  readonly inputs: Readonly<Record<string, unknown>>;
  /** The outputs, when succeeded. */
  readonly outputs: unknown;
  /** The hash of the outputs, when succeeded. */
  readonly outputsHash: string | undefined;
  /** The errors, when failed. */
  readonly errors: readonly WeftErrorJson[];
  /** Every node, in the order they were added. */
  readonly nodes: readonly NodeDetails[];
}

/**
 * How a value came to be: the executions that produced it and, recursively,
 * their inputs, as a graph in which each execution is listed once (so that
 * a value used many times does not repeat its history).
 */
export interface Lineage {
  /** The value asked about. */
  readonly value: LineageValue;
  /** Every execution reached, by `RUN_ID/NODE_ID`, nearest to the value first. */
  readonly steps: Readonly<Record<string, LineageStep>>;
  /** The runs the walk entered: the value's own run first. */
  readonly runs: readonly string[];
  /** Whether the depth or the limit left some executions unexpanded. */
  readonly truncated: boolean;
}

/** Options of `Store.lineage`. */
export interface LineageOptions {
  /**
   * How many producing steps to follow back from the value.
   * @default 10
   */
  depth?: number;
  /**
   * Follow a value that its run did not produce (a run input, a constant)
   * into the other runs that did; for a value given by hash, start from
   * every run that produced it rather than the newest.
   * @default false
   */
  acrossRuns?: boolean;
  /**
   * The most executions to expand (list with their inputs); further ones are
   * listed but not expanded.
   * @default 1000
   */
  limit?: number;
}

/** A value in a lineage, and where it came from. */
export interface LineageValue {
  /** The value's hash. */
  readonly hash: string;
  /** A short preview of the value (`?` when the store does not hold it). */
  readonly preview: string;
  /** The node outputs it came from (none for a run input, a constant, or a value the walk did not follow). */
  readonly from: readonly LineageSource[];
  /** The runs that took it as an input, and as which. */
  readonly runInputOf: readonly { readonly runId: string; readonly input: string }[];
}

/** A link from a value to the node output it came from. */
export interface LineageSource {
  /** The execution: its key in {@linkcode Lineage.steps}. */
  readonly step: string;
  /** Which of its outputs. */
  readonly output: string;
  /**
   * How the link is known: `edge`, the run recorded that the value came
   * from this output (a handle passed as an argument); `hash`, this
   * execution output the same value (a value named by hash, or followed into
   * another run with `acrossRuns`).
   */
  readonly by: "edge" | "hash";
}

/** An execution in a lineage. */
export interface LineageStep {
  /** The run. */
  readonly runId: string;
  /** The node. */
  readonly nodeId: string;
  /** The entity it ran. */
  readonly entity: string;
  /** Its status. */
  readonly status: NodeStatus;
  /** For a cache hit: the `runId/nodeId` whose result it reused. */
  readonly cachedFrom: string | undefined;
  /** False when the depth or the limit stopped the walk here: its inputs are not listed. */
  readonly expanded: boolean;
  /** Its inputs, each with where it came from. */
  readonly inputs: readonly (LineageValue & { readonly name: string })[];
}

/** Queries over recorded runs, the same for every store. */
export interface StoreQueries {
  /**
   * Runs, newest first.
   *
   * @param filter By status, entity and id; where to start; at most `limit`.
   */
  listRuns(filter?: RunFilter): Promise<RunSummary[]>;
  /**
   * A run with its nodes and values.
   *
   * @param runId The run id.
   * @param options `nodes: false` leaves the nodes out (an empty list): the run's record alone.
   */
  getRun(runId: string, options?: { nodes?: boolean }): Promise<RunDetails | undefined>;
  /**
   * A stored value.
   *
   * @param hash Its SHA-256 (or a unique prefix of at least 8 hex digits).
   */
  getValue(hash: string): Promise<{ hash: string; value: unknown } | undefined>;
  /**
   * The lineage of a value: within its run, unless `acrossRuns`.
   *
   * @param ref A value hash (or prefix), or `RUN_ID/NODE_ID[/OUTPUT]`.
   * @param options How far back (`depth`, default 10), whether to follow values into other runs, the most executions to expand.
   */
  lineage(ref: string, options?: LineageOptions): Promise<Lineage>;
  /**
   * Every recorded execution of a task, newest first.
   *
   * @param task The task name.
   */
  executions(task: string): Promise<NodeDetails[]>;
  /**
   * What a run recorded, as resuming it would see it (its journal), without
   * touching it: what replay checking reads.
   *
   * @param runId The run id.
   * @returns The run, or undefined.
   */
  readJournal(runId: string): Promise<PreviousRun | undefined>;
  /**
   * Empties the cache.
   *
   * @param task Only this task's entries.
   * @returns How many entries were removed.
   */
  clearCache(task?: string): Promise<number>;
}
