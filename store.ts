/**
 * weft's store interface, for store authors and tools that read runs: the
 * `Store` a run records into (through a `RunSession` per run), the queries
 * every store answers (`listRuns`, `getRun`, `lineage`…), the in-memory store,
 * opening a store by URL, the lineage walk every store shares (a store
 * answers a `LineagePort`), and the group commit a store that writes to a
 * database shares its commits through (`GroupCommit`).
 *
 * @example Read the runs of a store
 * ```ts
 * import { run, task } from "@weft/weft";
 * import { MemoryStore } from "@weft/weft/store";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const add = task(function add(x: number, y: number) { return x + y; });
 * const { runId } = await run(add, { x: 1, y: 2 }, { store });
 * const record = await store.getRun(runId);
 * assert.equal(record?.status, "succeeded");
 * ```
 *
 * @module
 */

export type {
  CacheHit,
  ClaimedOpen,
  ClaimResult,
  InputSource,
  JournalEntry,
  Lineage,
  LineageOptions,
  LineageSource,
  LineageStep,
  LineageValue,
  LogEntry,
  NodeChanges,
  NodeDetails,
  NodeRecord,
  NodeStatus,
  NodeSummary,
  NodeValue,
  PreviousRun,
  RenewResult,
  RunClaim,
  RunCursor,
  RunDetails,
  RunFilter,
  RunFinish,
  RunOwner,
  RunOwnership,
  RunSession,
  RunStart,
  RunStatus,
  RunSummary,
  RunSuspend,
  RunTakeover,
  ScheduleFire,
  ScheduleRecord,
  SignalMessage,
  SignalRecord,
  SleepingRun,
  Store,
  StoreBrowse,
  StoreQueries,
  TaskCounts,
  TimeSession,
  TimeStore,
  ValueUse,
  ValueUses,
} from "./src/store/mod.ts";
export {
  acquireRun,
  decideClaim,
  DEFAULT_LEASE_MS,
  OwnedSession,
  RunLease,
  takeoverRecord,
} from "./src/store/ownership.ts";
export type { AcquireOptions, LeaseHandlers } from "./src/store/ownership.ts";
export { MemoryStore } from "./src/store/memory.ts";
export { FireBook, MemoryTimeMethods } from "./src/store/memory_time.ts";
export type { MemoryRun, MemoryStoreOptions } from "./src/store/memory.ts";
export { defaultStore, openStore } from "./src/store/open.ts";
export type { OpenStoreOptions } from "./src/store/open.ts";
export { lineageOf } from "./src/store/lineage.ts";
export type {
  Answer,
  LineagePort,
  ProducedValue,
  RecordedInput,
  RecordedNode,
} from "./src/store/lineage.ts";
export { GroupCommit } from "./src/store/group_commit.ts";
export type { CommitMember, CommitWriter, GroupCommitOptions } from "./src/store/group_commit.ts";
export type { WeftErrorJson } from "./src/core/errors.ts";
