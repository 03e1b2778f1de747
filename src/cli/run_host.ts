/**
 * The `weft run` parent's side of the store: it owns the store and the run,
 * and records what the run's process reports (`store/remote.ts`), which it
 * trusts no further than that one run — the script's code runs in that
 * process and may have forged any message. So:
 *   - the run opened must be the run this process claimed, and is opened
 *     with this process's own record of the script (not the child's);
 *   - node records can only be of that run (they go to its session);
 *   - cache keys are scoped here to the script this process runs, so that a
 *     run of one script can neither read nor poison another script's cache;
 *   - anything malformed ends the run.
 *
 * @module
 */

import { WeftError, type WeftErrorJson } from "../core/errors.ts";
import { fromJsonTree, sha256, toJsonTree } from "../core/values.ts";
import type { EntityKind, WaitKind } from "../define/defs.ts";
import type {
  InputSource,
  NodeRecord,
  NodeStatus,
  PreviousRun,
  RunSession,
  RunStatus,
  Store,
} from "../store/mod.ts";
import {
  type JournalWire,
  type NodeWire,
  type PreviousWire,
  type StoreReply,
  type StoreRequest,
  wireError,
} from "../store/remote.ts";

/** The run's process broke the protocol: the run is stopped. */
export class ProtocolError extends Error {}

/** A node as the parent knows it: the child's records applied to one object per node id. */
class ProxyNode implements NodeRecord {
  readonly id: string;
  parentId: string | undefined = undefined;
  seq = 0;
  entity = "";
  kind: EntityKind | WaitKind = "task";
  version: string | undefined = undefined;
  #outputs: readonly string[] = [];
  bare = true;
  status: NodeStatus = "pending";
  attempt = 0;
  startedAt: number | undefined = undefined;
  finishedAt: number | undefined = undefined;
  inputs: Readonly<Record<string, unknown>> | undefined = undefined;
  value: unknown = undefined;
  error: WeftError | undefined = undefined;
  cachedFrom: string | undefined = undefined;
  replayed = false;
  caught = false;
  #digest = "";
  #call = "";
  #sources = new Map<string, readonly InputSource[]>();
  #whole = new Map<string, { node: string; output: string }>();

  constructor(id: string) {
    this.id = id;
  }

  outputNames(): readonly string[] {
    return this.#outputs;
  }
  argsDigest(): string {
    return this.#digest;
  }
  inputSources(): ReadonlyMap<string, readonly InputSource[]> {
    return this.#sources;
  }
  wholeSource(input: string): { readonly node: string; readonly output: string } | undefined {
    return this.#whole.get(input);
  }
  describeCall(): string {
    return this.#call;
  }

  /** Applies a record (checked by the caller). */
  apply(w: NodeWire): void {
    if (w.first !== undefined) {
      const f = w.first;
      this.parentId = f.parentId ?? undefined;
      this.seq = f.seq;
      this.entity = f.entity;
      this.kind = f.kind;
      this.version = f.version ?? undefined;
      this.#outputs = f.outputs;
      this.bare = f.bare;
      this.#digest = f.digest;
      this.#call = f.call;
      this.#sources = new Map(f.sources);
      this.#whole = new Map(f.whole);
    }
    this.status = w.status;
    this.attempt = w.attempt;
    this.startedAt = w.startedAt ?? undefined;
    this.finishedAt = w.finishedAt ?? undefined;
    if (w.inputs !== undefined) {
      this.inputs = fromJsonTree(w.inputs) as Record<string, unknown>;
    }
    this.value = w.status === "succeeded" ? fromJsonTree(w.value) : undefined;
    this.error = w.error === undefined ? undefined : restoreError(w.error);
    this.cachedFrom = w.cachedFrom ?? undefined;
    this.replayed = w.replayed;
    this.caught = w.caught === true;
  }
}

function restoreError(json: WeftErrorJson): WeftError {
  return wireError(json, (message) => new WeftError(message));
}

const STATUSES = new Set([
  "pending",
  "ready",
  "running",
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
]);
const RUN_STATUSES = new Set(["succeeded", "failed", "cancelled"]);
const KINDS = new Set([
  "task",
  "workflow",
  "flow",
  "launchPlan",
  "map",
  "condition",
  "sleep",
  "signal",
]);

function isString(x: unknown): x is string {
  return typeof x === "string";
}

/** Checks a record's shape: the child's code may have written anything. */
function checkWire(w: NodeWire): void {
  const ok = typeof w === "object" && w !== null && isString(w.id) && w.id.length <= 4096 &&
    STATUSES.has(w.status) && Number.isInteger(w.attempt) &&
    (w.startedAt === null || typeof w.startedAt === "number") &&
    (w.finishedAt === null || typeof w.finishedAt === "number") &&
    (w.cachedFrom === null || isString(w.cachedFrom)) && typeof w.replayed === "boolean" &&
    (w.caught === undefined || w.caught === true) &&
    (w.first === undefined ||
      (typeof w.first === "object" && w.first !== null && isString(w.first.entity) &&
        isString(w.first.digest) && isString(w.first.call) && Array.isArray(w.first.outputs) &&
        w.first.outputs.every(isString) && Array.isArray(w.first.sources) &&
        Array.isArray(w.first.whole) && Number.isInteger(w.first.seq) &&
        KINDS.has(w.first.kind)));
  if (!ok) throw new ProtocolError(`a malformed node record (${JSON.stringify(w).slice(0, 120)})`);
}

/** What the parent needs to serve one run. */
export interface HostOptions {
  /** The store (this process opened it and owns the run in it). */
  store: Store;
  /** The run this process claimed. */
  runId: string;
  /** The script this process runs: recorded with the run, and the cache's scope. */
  script: string;
  /**
   * A replay check (`weft replay`): the child may read the run's record and
   * nothing else; no claim is held and nothing is written.
   */
  replay?: boolean;
}

/** Serves one run's store requests from its process. */
export class StoreHost {
  readonly #options: HostOptions;
  #session: RunSession | undefined;
  #nodes = new Map<string, ProxyNode>();
  #finished = false;
  #unwatch: (() => void) | undefined;
  /** Tells the run's process that a signal may have arrived (set by whoever talks to it). */
  onWake: () => void = () => {};

  /**
   * @param options The store, the run and the script.
   */
  constructor(options: HostOptions) {
    this.#options = options;
  }

  /** Whether the run's end was recorded. */
  get finished(): boolean {
    return this.#finished;
  }

  /**
   * A node of the run as its process reported it (for a task the run hands
   * to another executor here, such as the PostgreSQL queue).
   *
   * @param id The node id.
   * @returns The node, or undefined if no record of it came.
   */
  node(id: string): NodeRecord | undefined {
    return this.#nodes.get(id);
  }

  /** A cache key of this script's runs: the child's key, scoped by the script. */
  #scoped(key: string): string {
    if (!isString(key) || key.length > 256) throw new ProtocolError("a malformed cache key");
    return sha256(`weft-cache-scope\u0000${this.#options.script}\u0000${key}`);
  }

  /**
   * Handles one message from the run's process.
   *
   * @param m The message.
   * @returns The answer, for requests that have one.
   * @throws {ProtocolError} When the message is not one this run may send.
   */
  async handle(m: StoreRequest): Promise<StoreReply | undefined> {
    if (typeof m !== "object" || m === null) throw new ProtocolError("a message that is no object");
    if (m.t === "record") return await this.#record(m.runId);
    if (this.#options.replay === true) {
      throw new ProtocolError(`'${String(m.t)}' in a replay check, which writes nothing`);
    }
    if (m.t === "open") return await this.#open(m.start);
    const session = this.#session;
    if (session === undefined || this.#finished) {
      throw new ProtocolError(`'${String(m.t)}' outside the run's session`);
    }
    switch (m.t) {
      case "nodes": {
        this.#apply(session, m);
        if (!m.sync) return undefined;
        await session.flush();
        return { t: "synced" };
      }
      case "cacheGet": {
        const hit = await session.cacheGet(this.#scoped(m.key));
        return {
          t: "hit",
          hit: hit === undefined ? null : { value: toJsonTree(hit.value), from: hit.from },
        };
      }
      case "finish": {
        if (!RUN_STATUSES.has(m.status) || !Array.isArray(m.errors)) {
          throw new ProtocolError("a malformed finish");
        }
        await session.finish({
          status: m.status,
          outputs: fromJsonTree(m.outputs),
          errors: m.errors.map(restoreError),
          finishedAt: Number(m.finishedAt),
        });
        this.#finished = true;
        return { t: "finished" };
      }
      case "suspend": {
        if ((m.wakeAt !== null && typeof m.wakeAt !== "number") || !Array.isArray(m.signals)) {
          throw new ProtocolError("a malformed suspend");
        }
        await session.suspend({
          wakeAt: m.wakeAt ?? undefined,
          signals: m.signals.filter(isString),
        });
        this.#finished = true;
        return { t: "suspended" };
      }
      case "takeSignal": {
        // (The node may not be recorded yet: its record can follow. Only this run's signals are reachable.)
        if (!isString(m.name) || !isString(m.nodeId)) {
          throw new ProtocolError("a malformed takeSignal");
        }
        const got = await session.takeSignal(m.name, m.nodeId);
        return {
          t: "signal",
          signal: got === undefined
            ? null
            : { seq: got.seq, value: toJsonTree(got.value), sentAt: got.sentAt },
        };
      }
      case "watch": {
        this.#unwatch?.();
        this.#unwatch = undefined;
        if (m.on === true) this.#unwatch = session.watchSignals(() => this.onWake());
        return undefined;
      }
      default:
        throw new ProtocolError(`an unknown message '${String((m as { t: unknown }).t)}'`);
    }
  }

  /**
   * Handles messages that arrived together, in order, with one commit for
   * the node records among them: consecutive `nodes` messages are applied,
   * then the session is flushed once if any of them asked, and each that
   * asked is answered only after that commit. Other messages are handled
   * one by one, as by {@linkcode StoreHost.handle}.
   *
   * @param messages The messages, in the order sent.
   * @param answer Called with each answer, in order, as soon as it is known
   *   (the answers to a batch of flushes: after its commit).
   * @returns How many flushes of the session answered requests.
   * @throws {ProtocolError} When a message is not one this run may send
   *   (the answers before it were given; nothing after it is handled).
   */
  async handleMany(
    messages: readonly { id?: number; m: StoreRequest }[],
    answer: (id: number, reply: StoreReply) => void,
  ): Promise<number> {
    let flushes = 0;
    let wanted = false;
    let synced: number[] = [];
    const commit = async () => {
      if (!wanted) return;
      const ids = synced;
      wanted = false;
      synced = [];
      await this.#session!.flush();
      flushes++;
      for (const id of ids) answer(id, { t: "synced" });
    };
    for (const { id, m } of messages) {
      const session = this.#session;
      if (
        typeof m === "object" && m !== null && m.t === "nodes" && session !== undefined &&
        !this.#finished && this.#options.replay !== true
      ) {
        this.#apply(session, m);
        if (m.sync) {
          // (A request without a number cannot be answered: it is committed all the same.)
          wanted = true;
          if (typeof id === "number") synced.push(id);
        }
        continue;
      }
      await commit();
      const reply = await this.handle(m);
      if (typeof id === "number" && reply !== undefined) answer(id, reply);
    }
    await commit();
    return flushes;
  }

  /** Applies a batch of node records (and cache entries, log lines) to the run's session. */
  #apply(session: RunSession, m: Extract<StoreRequest, { t: "nodes" }>): void {
    if (!Array.isArray(m.nodes) || !Array.isArray(m.puts)) {
      throw new ProtocolError("a malformed batch");
    }
    for (const w of m.nodes) {
      checkWire(w);
      let node = this.#nodes.get(w.id);
      const first = node === undefined;
      if (first !== (w.first !== undefined)) {
        throw new ProtocolError(`node '${w.id}' ${first ? "unknown" : "added twice"}`);
      }
      if (node === undefined) this.#nodes.set(w.id, node = new ProxyNode(w.id));
      node.apply(w);
      if (first) session.added(node);
      else session.changed(node);
    }
    for (const entry of m.logs ?? []) {
      if (
        typeof entry !== "object" || entry === null || !isString(entry.nodeId) ||
        !isString(entry.message) || (entry.kind !== "log" && entry.kind !== "retry")
      ) throw new ProtocolError("a malformed log line");
      session.log(entry);
    }
    for (const put of m.puts) {
      const node = Array.isArray(put) ? this.#nodes.get(put[1]) : undefined;
      if (node === undefined || node.status !== "succeeded") {
        throw new ProtocolError("a cache entry of no succeeded node");
      }
      session.cachePut(this.#scoped(put[0]), node);
    }
  }

  /** The record of the run this process serves (a replay check reads it); no other run's. */
  async #record(runId: string): Promise<StoreReply> {
    if (runId !== this.#options.runId) {
      throw new ProtocolError(`the record of a run other than '${this.#options.runId}'`);
    }
    const store = this.#options.store;
    const details = await store.getRun(runId);
    return {
      t: "record",
      previous: previousToWire(await store.readJournal(runId)),
      details: details === undefined
        ? null
        : { ...details, inputs: toJsonTree(details.inputs), outputs: toJsonTree(details.outputs) },
    };
  }

  async #open(start: Extract<StoreRequest, { t: "open" }>["start"]): Promise<StoreReply> {
    if (this.#session !== undefined) throw new ProtocolError("the run opened twice");
    if (typeof start !== "object" || start === null || start.runId !== this.#options.runId) {
      throw new ProtocolError(
        `a run other than '${this.#options.runId}' (${JSON.stringify(start?.runId)})`,
      );
    }
    if (
      !isString(start.entity) || !isString(start.kind) || !isString(start.inputsDigest) ||
      typeof start.startedAt !== "number" || !isString(start.weftVersion)
    ) throw new ProtocolError("a malformed run start");
    const session = await this.#options.store.openRun({
      runId: start.runId,
      entity: start.entity,
      kind: start.kind,
      inputs: fromJsonTree(start.inputs) as Record<string, unknown>,
      inputsDigest: start.inputsDigest,
      startedAt: start.startedAt,
      weftVersion: start.weftVersion,
      // This process's record of the script, not the child's.
      script: this.#options.script,
    });
    this.#session = session;
    return { t: "opened", previous: previousToWire(session.previous) };
  }

  /** Drops what the session has queued (the run's process is gone, or the claim was lost). */
  abandon(): void {
    this.#unwatch?.();
    this.#session?.abandon?.();
  }

  /** Makes what was recorded durable (the run's process ended without finishing). */
  async flush(): Promise<void> {
    this.#unwatch?.();
    this.#unwatch = undefined;
    if (this.#session !== undefined && !this.#finished) await this.#session.flush();
  }
}

function previousToWire(previous: PreviousRun | undefined): PreviousWire | null {
  if (previous === undefined) return null;
  const journal: [string, JournalWire][] = [];
  for (const [key, entry] of previous.journal) {
    const { value, ...rest } = entry;
    journal.push([key, "value" in entry ? { ...rest, value: toJsonTree(value) } : rest]);
  }
  return {
    status: previous.status as RunStatus,
    entity: previous.entity,
    inputsDigest: previous.inputsDigest,
    outputs: toJsonTree(previous.outputs),
    errors: [...previous.errors],
    startedAt: previous.startedAt,
    finishedAt: previous.finishedAt,
    journal,
  };
}
