/**
 * A store on the far side of a channel: what the process that runs a
 * script's code uses, so that it holds no grant on the real store. The
 * `weft run` parent owns the store and the run; this side sends it the
 * run's node records and waits for its acknowledgement exactly where a
 * store's session would flush (a result is durable before anything acts on
 * it), and asks it for the journal and cached results.
 *
 * The same wire format ({@linkcode NodeWire}) is read back by the parent
 * (`cli/run_host.ts`), which trusts none of it beyond the one run it owns.
 *
 * @module
 */

import { ValidationError, type WeftError, type WeftErrorJson } from "../core/errors.ts";
import { ElsewhereQueries, unavailable } from "./remote_queries.ts";
import type { LogEntry } from "./browse.ts";
import { fromJsonTree, toJsonTree } from "../core/values.ts";
import type { EntityKind, WaitKind } from "../define/defs.ts";
import type {
  CacheHit,
  ClaimResult,
  InputSource,
  JournalEntry,
  NodeRecord,
  NodeStatus,
  PreviousRun,
  RenewResult,
  RunClaim,
  RunDetails,
  RunFinish,
  RunOwner,
  RunSession,
  RunStart,
  RunStatus,
  RunSuspend,
  SignalMessage,
  Store,
} from "./mod.ts";

/** A node record as it crosses the channel. Fields that never change are sent once. */
export interface NodeWire {
  id: string;
  /** Set on the first record of a node: what never changes. */
  first?: {
    parentId: string | null;
    seq: number;
    entity: string;
    kind: EntityKind | WaitKind;
    version: string | null;
    outputs: string[];
    bare: boolean;
    digest: string;
    call: string;
    sources: [string, InputSource[]][];
    whole: [string, { node: string; output: string }][];
  };
  status: NodeStatus;
  attempt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The inputs, tagged JSON: sent once, when first known. */
  inputs?: Record<string, unknown>;
  /** The value, tagged JSON, when succeeded. */
  value?: unknown;
  error?: WeftErrorJson;
  /** Set when a flow caught the node's failure and went on. */
  caught?: true;
  cachedFrom: string | null;
  replayed: boolean;
}

/** A journal entry as it crosses the channel (the value tagged; a failure's error is plain JSON already). */
export type JournalWire = Omit<JournalEntry, "value"> & { value?: unknown };

/** The previous run as it crosses the channel. */
export type PreviousWire = Omit<PreviousRun, "journal" | "outputs"> & {
  outputs: unknown;
  journal: [string, JournalWire][];
};

/** What the running side asks of the owner. */
export type StoreRequest =
  | {
    t: "open";
    start: Omit<RunStart, "inputs"> & { inputs: unknown };
  }
  | { t: "nodes"; nodes: NodeWire[]; puts: [string, string][]; logs?: LogEntry[]; sync: boolean }
  | { t: "cacheGet"; key: string }
  | {
    t: "finish";
    status: RunStatus;
    outputs: unknown;
    errors: WeftErrorJson[];
    finishedAt: number;
  }
  | { t: "suspend"; wakeAt: number | null; signals: string[] }
  | { t: "takeSignal"; name: string; nodeId: string }
  | { t: "watch"; on: boolean }
  | { t: "record"; runId: string };

/** What the owner answers. */
export type StoreReply =
  | { t: "opened"; previous: PreviousWire | null }
  | { t: "synced" }
  | { t: "hit"; hit: { value: unknown; from: string } | null }
  | { t: "finished" }
  | { t: "suspended" }
  | { t: "signal"; signal: { seq: number; value: unknown; sentAt: number } | null }
  | { t: "record"; previous: PreviousWire | null; details: RunDetailsWire | null };

/** A run's record as it crosses the channel (its inputs and outputs tagged). */
export type RunDetailsWire = Omit<RunDetails, "inputs" | "outputs"> & {
  inputs: unknown;
  outputs: unknown;
};

/** How the running side reaches the owner. */
export interface StoreTransport {
  /** Sends a request and resolves with the answer (in order with `send`). */
  request(message: StoreRequest): Promise<StoreReply>;
  /** Sends a message that needs no answer. */
  send(message: StoreRequest): void;
  /**
   * Calls `wake` whenever the owner says a signal may have arrived for the run.
   *
   * @returns Stops calling it.
   */
  onWake(wake: () => void): () => void;
}

/**
 * A node record read as it will cross the channel.
 *
 * @param node The record.
 * @param first Whether this is the node's first record (send what never changes).
 * @param inputs Whether to send the inputs.
 * @returns The wire form.
 */
export function nodeToWire(node: NodeRecord, first: boolean, inputs: boolean): NodeWire {
  const wire: NodeWire = {
    id: node.id,
    status: node.status,
    attempt: node.attempt,
    startedAt: node.startedAt ?? null,
    finishedAt: node.finishedAt ?? null,
    cachedFrom: node.cachedFrom ?? null,
    replayed: node.replayed,
  };
  if (first) {
    const sources = node.inputSources();
    const whole: [string, { node: string; output: string }][] = [];
    for (const name of sources.keys()) {
      const w = node.wholeSource(name);
      if (w !== undefined) whole.push([name, { node: w.node, output: w.output }]);
    }
    wire.first = {
      parentId: node.parentId ?? null,
      seq: node.seq,
      entity: node.entity,
      kind: node.kind,
      version: node.version ?? null,
      outputs: [...node.outputNames()],
      bare: node.bare,
      digest: node.argsDigest(),
      call: node.describeCall(),
      sources: [...sources].map(([k, v]) => [k, [...v]]),
      whole,
    };
  }
  if (inputs && node.inputs !== undefined) {
    wire.inputs = toJsonTree(node.inputs) as Record<string, unknown>;
  }
  if (node.status === "succeeded") wire.value = toJsonTree(node.value);
  if (node.error !== undefined) wire.error = node.error.toJSON();
  if (node.caught) wire.caught = true;
  return wire;
}

/**
 * An error as it was serialised, standing for the original (its `toJSON()`
 * gives back the same record).
 *
 * @param json The serialised error.
 * @param make Builds the error object.
 * @returns The error.
 */
export function wireError(
  json: WeftErrorJson,
  make: (message: string) => WeftError,
): WeftError {
  const e = make(json.message);
  e.name = json.name;
  if (json.stack !== undefined) e.stack = json.stack;
  e.toJSON = () => json;
  return e;
}

/** The store a run's process sees: one run, owned by the process on the channel's far side. */
export class RemoteStore extends ElsewhereQueries implements Store {
  /** Always `remote`. */
  readonly url = "remote";
  readonly #transport: StoreTransport;
  readonly #owner: RunOwner;
  readonly #durable: boolean;
  #session: RemoteSession | undefined;

  /**
   * @param transport The channel to the owner.
   * @param owner The owner's claim on the run (made before this process started).
   * @param durable Whether the owner's store keeps anything across a crash
   *   (false for a memory store: then nothing waits for the owner's answer).
   */
  constructor(transport: StoreTransport, owner: RunOwner, durable = true) {
    super();
    this.#transport = transport;
    this.#owner = owner;
    this.#durable = durable;
  }

  /** Starts recording the run: the owner opens it in the real store and returns its journal. */
  async openRun(start: RunStart): Promise<RunSession> {
    if (start.runId !== this.#owner.runId) {
      throw new ValidationError(
        `This process runs '${this.#owner.runId}', not '${start.runId}'`,
      );
    }
    const reply = await this.#transport.request({
      t: "open",
      start: { ...start, inputs: toJsonTree(start.inputs) },
    });
    if (reply.t !== "opened") throw new Error(`the run's owner answered ${reply.t} to open`);
    return this.#session = new RemoteSession(
      this.#transport,
      previousFromWire(reply.previous),
      this.#durable,
    );
  }

  /**
   * Sends the run's changes now instead of with the next batch, without
   * waiting (for a request that must reach the owner after them, such as a
   * task handed to the owner's queue).
   */
  push(): void {
    this.#session?.push();
  }

  /**
   * Says that a node's state (`status` at `attempt`) is already durable in
   * the owner's store, written by another process (a worker's fenced
   * completion), so that nothing waits for the owner to commit it again.
   *
   * @param node The node.
   * @param status The status written.
   * @param attempt The attempt written.
   */
  writtenElsewhere(node: NodeRecord, status: NodeStatus, attempt: number): void {
    this.#session?.writtenElsewhere(node, status, attempt);
  }

  /** The run this process runs is claimed by its owner; any other is not this process's. */
  claimRun(claim: RunClaim): Promise<ClaimResult> {
    return Promise.resolve(
      claim.runId === this.#owner.runId
        ? { claimed: true, owner: this.#owner }
        : { claimed: false, owner: { ...this.#owner, runId: claim.runId } },
    );
  }
  /** The owner renews the claim. */
  renewRun(runId: string): Promise<RenewResult> {
    return Promise.resolve({ owned: runId === this.#owner.runId, cancelRequested: false });
  }
  /** The owner releases the claim. */
  releaseRun(): Promise<void> {
    return Promise.resolve();
  }
  /**
   * This process's own run as recorded (for a replay check); no other.
   *
   * @param runId The run.
   * @returns Its record, or undefined.
   */
  async getRun(runId: string): Promise<RunDetails | undefined> {
    return (await this.#record(runId)).details;
  }
  /**
   * The journal of this process's own run (for a replay check); no other's.
   *
   * @param runId The run.
   * @returns What resuming it would see, or undefined.
   */
  async readJournal(runId: string): Promise<PreviousRun | undefined> {
    return (await this.#record(runId)).previous;
  }
  async #record(
    runId: string,
  ): Promise<{ previous: PreviousRun | undefined; details: RunDetails | undefined }> {
    if (runId !== this.#owner.runId) return await unavailable(`Reading run '${runId}'`);
    const reply = await this.#transport.request({ t: "record", runId });
    if (reply.t !== "record") throw new Error(`the run's owner answered ${reply.t} to record`);
    const d = reply.details;
    return {
      previous: previousFromWire(reply.previous),
      details: d === null ? undefined : {
        ...d,
        inputs: fromJsonTree(d.inputs) as Record<string, unknown>,
        outputs: fromJsonTree(d.outputs),
      },
    };
  }
  /** Nothing to close: the owner closes the store. */
  close(): void {}
}

function previousFromWire(wire: PreviousWire | null): PreviousRun | undefined {
  if (wire === null) return undefined;
  const journal = new Map<string, JournalEntry>();
  for (const [key, entry] of wire.journal) {
    const { value, ...rest } = entry;
    journal.set(key, "value" in entry ? { ...rest, value: fromJsonTree(value) } : rest);
  }
  return { ...wire, outputs: fromJsonTree(wire.outputs), journal };
}

/**
 * A run's session across the channel: changes are batched and sent; a flush
 * sends what is pending and waits for the owner to say it is durable.
 */
class RemoteSession implements RunSession {
  readonly previous: PreviousRun | undefined;
  readonly #transport: StoreTransport;
  /** Changed since last sent. */
  #dirty = new Set<NodeRecord>();
  /** Sent, but not yet known durable: with the number of the message that carried the change. */
  #sent = new Map<NodeRecord, number>();
  #messages = 0;
  #known = new WeakSet<NodeRecord>();
  #inputsSent = new WeakSet<NodeRecord>();
  #puts: [string, NodeRecord][] = [];
  #logs: LogEntry[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> | undefined;
  /** The flush asked for in this turn, not sent yet: later flushes of the turn join it. */
  #next: Promise<void> | undefined;
  /** The last sync request in flight: the last message it covers, and its answer. */
  #syncing: { upTo: number; done: Promise<void> } | undefined;
  #watchers = 0;
  readonly #durable: boolean;
  /** States of nodes already durable in the owner's store (see `writtenElsewhere`). */
  readonly #elsewhere = new WeakMap<NodeRecord, string>();

  constructor(transport: StoreTransport, previous: PreviousRun | undefined, durable: boolean) {
    this.#transport = transport;
    this.previous = previous;
    this.#durable = durable;
  }

  added(node: NodeRecord): void {
    this.#mark(node);
  }

  changed(node: NodeRecord): void {
    this.#mark(node);
  }

  #mark(node: NodeRecord): void {
    this.#dirty.add(node);
    // Changes nobody waits for go out a few times a second, so that a crash
    // of this process loses little; the owner commits them on its own time.
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#send(false);
    }, 50);
  }

  pending(node: NodeRecord): boolean {
    // A store that keeps nothing across a crash has nothing to wait for.
    if (!this.#durable) return false;
    // (Most nodes were not written elsewhere: build the state's key only for those that were.)
    const written = this.#elsewhere.get(node);
    // (A worker writes a failure, never the mark that a flow caught it.)
    if (written !== undefined && written === `${node.status}#${node.attempt}` && !node.caught) {
      return false;
    }
    return this.#dirty.has(node) || this.#sent.has(node);
  }

  /** See {@linkcode RemoteStore.writtenElsewhere}. */
  writtenElsewhere(node: NodeRecord, status: NodeStatus, attempt: number): void {
    this.#elsewhere.set(node, `${status}#${attempt}`);
  }

  /** Sends what changed; with `sync`, the owner commits before it answers. */
  #send(sync: boolean): Promise<StoreReply> | undefined {
    const nodes: NodeWire[] = [];
    const message = ++this.#messages;
    for (const node of this.#dirty) {
      const first = !this.#known.has(node);
      if (first) this.#known.add(node);
      const inputs = !this.#inputsSent.has(node) && node.inputs !== undefined;
      if (inputs) this.#inputsSent.add(node);
      nodes.push(nodeToWire(node, first, inputs));
      this.#sent.set(node, message);
    }
    this.#dirty.clear();
    const puts = this.#puts.map(([key, node]) => [key, node.id] as [string, string]);
    this.#puts = [];
    const logs = this.#logs;
    this.#logs = [];
    const more = logs.length > 0 ? { logs } : {};
    if (!sync) {
      if (nodes.length > 0 || puts.length > 0 || logs.length > 0) {
        this.#transport.send({ t: "nodes", nodes, puts, ...more, sync: false });
      }
      return undefined;
    }
    return this.#transport.request({ t: "nodes", nodes, puts, ...more, sync: true });
  }

  /** Sends what changed now, without waiting for the owner (see {@linkcode RemoteStore.push}). */
  push(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#send(false);
  }

  /**
   * Makes everything changed so far durable. Flushes asked for in the same
   * turn (many branches or runs finishing at once) travel as one message,
   * which the owner commits once: the message is sent when the microtasks
   * queued so far have run. A flush with nothing new to send waits for the
   * request in flight that already carries its changes.
   */
  flush(): Promise<void> | void {
    if (this.#next !== undefined) return this.#next;
    if (this.#dirty.size === 0 && this.#puts.length === 0 && this.#logs.length === 0) {
      if (this.#sent.size === 0) return;
      // Everything was sent: a sync request in flight that carries it all is enough.
      const last = this.#syncing;
      if (last !== undefined && this.#durable) {
        let covered = true;
        for (const message of this.#sent.values()) {
          if (message > last.upTo) {
            covered = false;
            break;
          }
        }
        if (covered) return last.done;
      }
    }
    if (!this.#durable) {
      this.#send(false);
      this.#sent.clear();
      return;
    }
    // (The timer that sends changes nobody waits for is left to run: when it
    // fires it finds nothing, or what changed since. Clearing and making it
    // again would cost a timer per step.)
    let settle!: { resolve: () => void; reject: (e: unknown) => void };
    const next = new Promise<void>((resolve, reject) => settle = { resolve, reject });
    this.#next = next;
    queueMicrotask(() => {
      this.#next = undefined;
      this.#sync().then(settle.resolve, settle.reject);
    });
    this.#flushing = next;
    return next;
  }

  /** Sends what is pending as one sync request; resolves once the owner says it is durable. */
  #sync(): Promise<void> {
    // Everything sent up to this request is durable once it is answered
    // (the owner handles messages in order); later changes are not.
    const reply = this.#send(true)!;
    const upTo = this.#messages;
    const done = reply.then((r) => {
      if (r.t !== "synced") throw new Error(`the run's owner answered ${r.t} to a flush`);
      for (const [node, message] of this.#sent) if (message <= upTo) this.#sent.delete(node);
      if (this.#syncing?.done === done) this.#syncing = undefined;
    });
    this.#syncing = { upTo, done };
    return done;
  }

  async cacheGet(key: string): Promise<CacheHit | undefined> {
    const reply = await this.#transport.request({ t: "cacheGet", key });
    if (reply.t !== "hit") throw new Error(`the run's owner answered ${reply.t} to a cache lookup`);
    return reply.hit === null
      ? undefined
      : { value: fromJsonTree(reply.hit.value), from: reply.hit.from };
  }

  log(entry: LogEntry): void {
    this.#logs.push(entry);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#send(false);
    }, 50);
  }

  cachePut(key: string, node: NodeRecord): void {
    // The node's value travels with its record (it succeeds right after this).
    this.#puts.push([key, node]);
    this.#mark(node);
  }

  async finish(result: RunFinish): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
    await this.#flushing;
    const reply = await this.#transport.request({
      t: "finish",
      status: result.status,
      outputs: toJsonTree(result.outputs),
      errors: result.errors.map((e) => e.toJSON()),
      finishedAt: result.finishedAt,
    });
    if (reply.t !== "finished") throw new Error(`the run's owner answered ${reply.t} to finish`);
  }

  abandon(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dirty.clear();
    this.#puts = [];
    this.#logs = [];
  }

  async suspend(info: RunSuspend): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
    const reply = await this.#transport.request({
      t: "suspend",
      wakeAt: info.wakeAt ?? null,
      signals: [...info.signals],
    });
    if (reply.t !== "suspended") throw new Error(`the run's owner answered ${reply.t} to suspend`);
  }

  async takeSignal(name: string, nodeId: string): Promise<SignalMessage | undefined> {
    const reply = await this.#transport.request({ t: "takeSignal", name, nodeId });
    if (reply.t !== "signal") throw new Error(`the run's owner answered ${reply.t} to takeSignal`);
    return reply.signal === null ? undefined : {
      seq: reply.signal.seq,
      value: fromJsonTree(reply.signal.value),
      sentAt: reply.signal.sentAt,
    };
  }

  watchSignals(wake: () => void): () => void {
    if (this.#watchers++ === 0) this.#transport.send({ t: "watch", on: true });
    const stop = this.#transport.onWake(wake);
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      stop();
      if (--this.#watchers === 0) this.#transport.send({ t: "watch", on: false });
    };
  }
}
