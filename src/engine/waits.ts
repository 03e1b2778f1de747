/**
 * A run's durable waits: the sleeps and signal waits of its flows. A sleep
 * wakes at its start (the journal's, for a resumed run) plus its duration,
 * or at its date; a signal wait takes the earliest signal of its name that
 * no other node took, now or when the store says one came, or gives
 * `undefined` at its timeout. Timers are armed on the run's clock, so a
 * test clock skips them.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import { CancelledError, ValidationError, type WeftError } from "../core/errors.ts";
import type { WaitDef } from "../define/defs.ts";
import type { JournalEntry, RunSession, RunSuspend, SignalMessage } from "../store/mod.ts";
import type { NodeEventFields, NodeEventType } from "./events.ts";
import { isFinal, type Node } from "./node.ts";

/** What waits need of their run. */
export interface WaitsRun {
  /** The store's session of the run. */
  readonly session: RunSession;
  /** The journal of an earlier attempt, by position. */
  readonly journal: ReadonlyMap<string, JournalEntry> | undefined;
  /** Whether anyone listens to events. */
  readonly listening: boolean;
  /** The run's clock. */
  readonly clock: Clock;
  /** The run's time, one boxed number per millisecond. */
  now(): number;
  /** Emits a node event. */
  nodeEvent<T extends NodeEventType>(type: T, node: Node, fields: NodeEventFields<T>): void;
  /** A node succeeded. */
  succeed(node: Node, value: unknown): void;
  /** A node failed. */
  fail(node: Node, error: WeftError): void;
  /** Something changed that may leave the run idle. */
  changed(): void;
  /** What the run waits for before it does something seen outside; a promise only when it must wait. */
  beforeOutside(): Promise<void> | undefined;
}

/** A pending wait. */
interface Pending {
  /** When its timer fires: a sleep's wake-up, a signal's timeout. */
  wakeAt: number | undefined;
  /** Cancels its timer. */
  cancel: (() => void) | undefined;
  /** For a signal wait: its name. */
  signal: string | undefined;
  /** Whether a take is under way (an asynchronous store). */
  taking: boolean;
}

/**
 * Whether a node is a durable wait.
 *
 * @param node A node.
 * @returns True for sleeps and signal waits.
 */
export function isWaitNode(node: Node): node is Node & { readonly def: WaitDef } {
  const kind = node.def.kind;
  return kind === "sleep" || kind === "signal";
}

/** The durable waits of one run. */
export class Waits {
  readonly #run: WaitsRun;
  /** Pending waits, in the order they started (signals are served in this order). */
  readonly #pending = new Map<Node, Pending>();
  #signals = 0;
  /** Takes of a signal under way (an asynchronous store): the run is not idle meanwhile. */
  #taking = 0;
  #unwatch: (() => void) | undefined = undefined;
  /** Replay checking: nothing fires and no signal is taken. */
  readonly #dry: boolean;
  #stopped = false;

  /**
   * @param run The run.
   * @param dry Whether waits only wait (replay checking).
   */
  constructor(run: WaitsRun, dry: boolean) {
    this.#run = run;
    this.#dry = dry;
  }

  /** How many waits are pending. */
  get count(): number {
    return this.#pending.size;
  }

  /** How many takes of a signal from an asynchronous store are under way. */
  get taking(): number {
    return this.#taking;
  }

  /**
   * Starts a wait node: arms its timer, looks for its signal.
   *
   * @param node A sleep or signal node whose journal entry (if any) did not complete.
   */
  start(node: Node & { readonly def: WaitDef }): void {
    const run = this.#run;
    node.status = "running";
    const entry = run.journal?.get(`${node.frame.node?.id ?? ""}#${node.seq}`);
    // A wait that failed (a signal its schema refused) is a new attempt when
    // resumed: it takes the next signal, not the refused one again.
    node.attempt = entry === undefined
      ? 1
      : entry.status === "failed"
      ? entry.attempt + 1
      : Math.max(1, entry.attempt);
    // A resumed wait keeps the start it recorded, so that it wakes when it first would have.
    const startedAt = node.startedAt = entry?.startedAt ?? run.now();
    node.inputsKnown();
    run.session.changed(node);
    if (run.listening) run.nodeEvent("node started", node, { attempt: node.attempt });
    const args = node.args;
    const pending: Pending = {
      wakeAt: undefined,
      cancel: undefined,
      signal: undefined,
      taking: false,
    };
    if (node.def.kind === "sleep") {
      const until = args.until;
      pending.wakeAt = until instanceof Date ? until.getTime() : startedAt + (args.ms as number);
    } else {
      pending.signal = args.name as string;
      if (typeof args.timeoutMs === "number") pending.wakeAt = startedAt + args.timeoutMs;
      this.#signals++;
    }
    this.#pending.set(node, pending);
    if (!this.#dry) {
      if (pending.signal !== undefined) {
        this.#watch();
        this.#take(node, pending);
      }
      if (this.#pending.has(node) && pending.wakeAt !== undefined) {
        const wakeAt = pending.wakeAt;
        pending.cancel = run.clock.at(wakeAt, () => this.#settle(node, undefined, undefined));
      }
    }
    run.changed();
  }

  /** Subscribes to the store's news of signals, once. */
  #watch(): void {
    if (this.#unwatch !== undefined || this.#stopped) return;
    this.#unwatch = this.#run.session.watchSignals(() => {
      for (const [node, pending] of this.#pending) {
        if (pending.signal !== undefined && !pending.taking) this.#take(node, pending);
      }
    });
  }

  /** Takes a node's signal from the store, if one is there. */
  #take(node: Node, pending: Pending): void {
    // Taking a signal is seen outside (no other wait can take it): what led
    // the run here is durable first.
    const before = this.#run.beforeOutside();
    if (before !== undefined) {
      pending.taking = true;
      this.#taking++;
      before.then(() => {
        this.#taking--;
        pending.taking = false;
        if (this.#pending.get(node) === pending) this.#take(node, pending);
      }, (e) => {
        this.#taking--;
        this.#settle(node, undefined, asError(e));
      });
      return;
    }
    let got: SignalMessage | undefined | Promise<SignalMessage | undefined>;
    try {
      // Each attempt takes its own signal: the first by the node's id (as
      // recorded before attempts were counted), later ones by `id#attempt`.
      const taker = node.attempt > 1 ? `${node.id}#${node.attempt}` : node.id;
      got = this.#run.session.takeSignal(pending.signal!, taker);
    } catch (e) {
      return this.#settle(node, undefined, asError(e));
    }
    if (got instanceof Promise) {
      pending.taking = true;
      this.#taking++;
      got.then(
        (m) => {
          this.#taking--;
          pending.taking = false;
          if (m !== undefined) this.#deliver(node, m);
          // Nothing came: the run may be idle now.
          else this.#run.changed();
        },
        (e) => {
          this.#taking--;
          this.#settle(node, undefined, asError(e));
        },
      );
    } else if (got !== undefined) this.#deliver(node, got);
  }

  /** Delivers a signal's value, checked against the wait's schema. */
  #deliver(node: Node, message: SignalMessage): void {
    const def = node.def as WaitDef;
    const pending = this.#pending.get(node);
    if (pending === undefined) return;
    // Taken: neither its timeout nor another look may settle it differently.
    pending.taking = true;
    pending.cancel?.();
    pending.cancel = undefined;
    if (def.schema === undefined) return this.#settle(node, message.value, undefined);
    const name = pending.signal!;
    let checked: unknown;
    try {
      checked = def.schema.check(message.value, `signal '${name}'`);
    } catch (e) {
      return this.#settle(node, undefined, schemaError(node, name, e));
    }
    if (checked instanceof Promise) {
      checked.then(
        (v) => this.#settle(node, v, undefined),
        (e) => this.#settle(node, undefined, schemaError(node, name, e)),
      );
    } else this.#settle(node, checked, undefined);
  }

  /** Ends a wait: fired, timed out, received, or failed. */
  #settle(node: Node, value: unknown, error: WeftError | undefined): void {
    const pending = this.#pending.get(node);
    if (pending === undefined || this.#stopped || isFinal(node.status)) return;
    this.#forget(node, pending);
    if (error === undefined) this.#run.succeed(node, value);
    else this.#run.fail(node, error);
  }

  #forget(node: Node, pending: Pending): void {
    pending.cancel?.();
    this.#pending.delete(node);
    if (pending.signal !== undefined && --this.#signals === 0) {
      this.#unwatch?.();
      this.#unwatch = undefined;
    }
  }

  /**
   * Forgets a wait being cancelled (a race it lost, a flow that returned).
   *
   * @param node The node.
   */
  cancel(node: Node): void {
    const pending = this.#pending.get(node);
    if (pending !== undefined) this.#forget(node, pending);
  }

  /** When the run would wake and what it waits for: what suspending it records. */
  next(): RunSuspend {
    let wakeAt: number | undefined;
    const signals = new Set<string>();
    for (const p of this.#pending.values()) {
      if (p.wakeAt !== undefined && (wakeAt === undefined || p.wakeAt < wakeAt)) wakeAt = p.wakeAt;
      if (p.signal !== undefined) signals.add(p.signal);
    }
    return { wakeAt, signals: [...signals].sort() };
  }

  /** Disarms everything, for good (the run is suspended or ends). */
  stop(): void {
    this.#stopped = true;
    for (const p of this.#pending.values()) p.cancel?.();
    this.#pending.clear();
    this.#unwatch?.();
    this.#unwatch = undefined;
  }
}

function asError(e: unknown): WeftError {
  return e instanceof CancelledError || e instanceof ValidationError
    ? e
    : new ValidationError(`Could not take a signal from the store: ${(e as Error)?.message ?? e}`);
}

function schemaError(node: Node, name: string, e: unknown): ValidationError {
  // The schema names what it checks as an input: here that is the signal, named already.
  const why = String((e as Error)?.message ?? e).replace(`Input 'signal '${name}'' `, "it ");
  return new ValidationError(
    `The value of signal '${name}' (node '${node.id}') does not fit its schema: ${why}; send a value of that type (the run, resumed, takes the next one)`,
    { nodeId: node.id, task: node.def.name },
  );
}
