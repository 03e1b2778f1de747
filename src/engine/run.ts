/**
 * The run coordinator: holds a run's nodes and its state, and wires its
 * collaborators — the ready queue (`scheduler.ts`), task attempts
 * (`attempts.ts`), the frames that run workflow and flow bodies (`frames.ts`,
 * `flow_frame.ts`, started by `bodies.ts`) and the store's session. Every
 * change of a node's state goes through here, so that the store records it
 * and listeners hear of it.
 *
 * @module
 */

import { type Clock, REAL_CLOCK } from "../core/clock.ts";
import { parseDuration } from "../core/duration.ts";
import { CancelledError, describeCause, ValidationError, type WeftError } from "../core/errors.ts";
import type { TaskDef } from "../define/defs.ts";
import { now } from "../define/deterministic.ts";
import { describeEntity, entityOf } from "../define/entity.ts";
import type { RefSource } from "../define/handle.ts";
import type { JournalEntry, NodeStatus, RunSession, RunSuspend } from "../store/mod.ts";
import { type AttemptRun, Attempts } from "./attempts.ts";
import { startBody } from "./bodies.ts";
import type { NodeEventFields, NodeEventType, WeftEvent } from "./events.ts";
import { asTaskError, cancelledError, describeError } from "./failures.ts";
import type { FlowRun } from "./flow_frame.ts";
import type { Frame } from "./frames.ts";
import {
  appendTo,
  isFinal,
  isTaskNode,
  NO_DEPS,
  Node,
  resolveArgs,
  type TaskNode,
} from "./node.ts";
import { Durability } from "./durability.ts";
import { Scheduler } from "./scheduler.ts";
import type { EngineOptions, RunOptions, TaskExecutor } from "./types.ts";
import { isWaitNode, Waits, type WaitsRun } from "./waits.ts";
import { mockedTask } from "./mocks.ts";

const DEFAULT_CONCURRENCY = 8;
const DEFAULT_MAX_DEPTH = 100;

/** The definition of `now()`, which reads the run's clock. */
const NOW_DEF = entityOf(now) as TaskDef;

/** One run of an entity. */
export class Run implements FlowRun, AttemptRun, WaitsRun {
  readonly id: string;
  readonly rootName: string;
  readonly session: RunSession;
  readonly journal: ReadonlyMap<string, JournalEntry> | undefined;
  /** Every node, in the order added. */
  readonly nodes: Node[] = [];
  /** The nodes by id, made when first needed (most runs never look a node up by id). */
  #index: Map<string, Node> | undefined = undefined;
  #handled: WeakSet<WeftError> | undefined = undefined;
  readonly useCache: boolean;
  readonly listening: boolean;
  readonly #onEvent: ((e: WeftEvent) => void) | undefined;
  readonly cancelGraceMs: number;
  /** How deep workflows and flows may call each other. */
  readonly maxDepth: number;
  readonly executor: TaskExecutor | undefined;
  /** The tasks the run was granted (see `EngineOptions.granted`). */
  readonly granted: ReadonlySet<string> | undefined;
  fatal: WeftError | undefined = undefined;
  cancelled = false;
  cancelReason: WeftError | undefined = undefined;
  root: Frame | undefined = undefined;
  /** Errors a flow or a cancellation dealt with (made when first needed: most runs fail nothing). */
  get handled(): WeakSet<WeftError> {
    return this.#handled ??= new WeakSet<WeftError>();
  }
  /** Whether new node ids must be checked against existing ones (see `Frame.#nextId`). */
  checkIds = false;
  /** The last time `now()` read, boxed once (see `now`). */
  #now: number | undefined = undefined;
  readonly #scheduler: Scheduler;
  readonly #attempts: Attempts;
  /** Where time is read and durable timers are armed. */
  readonly clock: Clock;
  /** Tasks replaced for this run, with what runs instead. */
  readonly mocks: ReadonlyMap<TaskDef, (...args: never[]) => unknown> | undefined;
  /** Replay checking: tasks never start, waits never end; the journal answers or nothing does. */
  readonly dry: boolean;
  /** Flow bodies running a step (between a resume and their next yield). */
  stepping = 0;
  /** Composite bodies starting. */
  #starting = 0;
  /** Task calls held back by a dry run. */
  blocked = 0;
  readonly #waits: Waits;
  /** Suspend when idle and the next wake-up is at least this far (ms); undefined: never. */
  readonly #suspendAfter: number | undefined;
  /** Whether changes must be reported (a clock that skips, or a run that may suspend). */
  readonly #watchIdle: boolean;
  #idleCheck: ReturnType<typeof setTimeout> | undefined = undefined;
  /** When results are durable, and what waits for that (see `durability.ts`). */
  readonly #durability: Durability;
  /** Set once the run is suspended: it ends without finishing. */
  suspended = false;
  /** Called when the run suspends. */
  onSuspend: ((info: RunSuspend) => void) | undefined = undefined;

  /**
   * @param id The run id.
   * @param rootName The root entity's name.
   * @param session The store's session of the run.
   * @param options Concurrency, cache, events, grace, executor, clock, mocks, suspension.
   * @param dry Replay checking: run nothing, only replay the journal.
   */
  constructor(
    id: string,
    rootName: string,
    session: RunSession,
    options: EngineOptions,
    dry = false,
  ) {
    this.id = id;
    this.rootName = rootName;
    this.session = session;
    this.journal = session.previous?.journal;
    this.useCache = options.cache ?? true;
    this.#onEvent = options.onEvent;
    this.listening = options.onEvent !== undefined;
    this.cancelGraceMs = options.cancelGraceMs ?? 2000;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.executor = options.executor;
    this.#durability = new Durability(this, !dry && options.executor?.contained === true);
    this.granted = options.granted === undefined ? undefined : new Set(options.granted);
    this.#scheduler = new Scheduler(
      options.concurrency ?? DEFAULT_CONCURRENCY,
      (node) => this.#attempts.start(node),
    );
    this.#attempts = new Attempts(this, this.#scheduler);
    this.clock = options.clock ?? REAL_CLOCK;
    this.dry = dry;
    this.#waits = new Waits(this, dry);
    const suspend = options.suspend;
    this.#suspendAfter = suspend === undefined || suspend === false
      ? undefined
      : suspend === true || suspend === 0
      ? 0
      : parseDuration(suspend, "the 'suspend' option of run()");
    this.#watchIdle = this.clock.poke !== undefined || this.#suspendAfter !== undefined;
    this.mocks = mocksOf(options, this.clock);
  }

  /** Whether the run is doing anything but wait on sleeps and signals. */
  busy(): boolean {
    return this.#scheduler.busy || this.stepping > 0 || this.#starting > 0 ||
      this.#attempts.delayed > 0 || this.#idleCheck !== undefined || this.#durability.waited > 0 ||
      this.#waits.taking > 0;
  }

  /** How many sleeps and signal waits are pending. */
  get waiting(): number {
    return this.#waits.count;
  }

  /** Something changed that may leave the run idle: a skipping clock looks again, a suspension is considered. */
  changed(): void {
    if (!this.#watchIdle) return;
    this.clock.poke?.();
    if (this.#suspendAfter === undefined || this.#waits.count === 0 || this.suspended) return;
    // Looked at once the current burst of work is over (after pending promise reactions).
    this.#idleCheck ??= setTimeout(() => {
      this.#idleCheck = undefined;
      this.#considerSuspending();
    }, 0);
  }

  #considerSuspending(): void {
    if (this.suspended || this.cancelled || this.fatal !== undefined || this.busy()) return;
    if (this.#waits.count === 0 || this.root?.finished) return;
    const info = this.#waits.next();
    const distance = info.wakeAt === undefined ? Infinity : info.wakeAt - this.now();
    if (distance < this.#suspendAfter!) return;
    this.suspended = true;
    this.#waits.stop();
    this.onSuspend?.(info);
  }

  /** Stops the durable waits for good (the run ends). */
  stopWaits(): void {
    this.#waits.stop();
    if (this.#idleCheck !== undefined) clearTimeout(this.#idleCheck);
    this.#idleCheck = undefined;
  }

  /** While positive, ready tasks queue up but do not start (a static frame adds all its nodes first). */
  get held(): number {
    return this.#scheduler.held;
  }
  set held(n: number) {
    this.#scheduler.held = n;
  }

  /**
   * `Date.now()`, as one shared number per millisecond: a time kept in a node
   * is a boxed number of 16 bytes, and most of a large run's nodes start and
   * end within a few milliseconds of each other.
   */
  now(): number {
    const t = this.clock === REAL_CLOCK ? Date.now() : this.clock.now();
    if (t !== this.#now) this.#now = t;
    return this.#now;
  }

  addNode(node: Node): void {
    this.nodes.push(node);
    this.#index?.set(node.id, node);
  }

  /** The nodes by id. */
  index(): Map<string, Node> {
    if (this.#index === undefined) {
      const index = this.#index = new Map();
      for (const node of this.nodes) index.set(node.id, node);
    }
    return this.#index;
  }

  emit(event: WeftEvent): void {
    try {
      this.#onEvent!(event);
    } catch (e) {
      // A failing listener must never fail a task or the run.
      console.error(`weft: an onEvent listener threw: ${describeCause(e).message}`);
    }
  }

  /** Emits a node event (callers check `listening` first). */
  nodeEvent<T extends NodeEventType>(
    type: T,
    node: Node,
    fields: NodeEventFields<T>,
    time: number = Date.now(),
  ): void {
    this.emit(
      {
        type,
        runId: this.id,
        time,
        nodeId: node.id,
        entity: node.def.name,
        ...fields,
      } as WeftEvent,
    );
  }

  /**
   * A task's `ctx.log` line: recorded in the store, and an event when
   * someone listens, else a line on stderr.
   */
  log(node: Node, message: string): void {
    const time = Date.now();
    try {
      this.session.log({ nodeId: node.id, attempt: node.attempt, time, kind: "log", message });
    } catch (e) {
      // A log line that cannot be recorded must never fail the task.
      console.error(
        `weft: could not record a log line of '${node.id}': ${describeCause(e).message}`,
      );
    }
    if (this.listening) this.nodeEvent("node log", node, { message }, time);
    else console.error(`[${node.id}] ${message}`);
  }

  setFatal(error: WeftError): void {
    if (this.fatal !== undefined) return;
    this.fatal = error;
    this.root?.cancel(error);
  }

  /** Makes a node's result durable before someone acts on it; returns a promise only when it must wait. */
  durable(node: Node): Promise<void> | undefined {
    return this.#durability.durable(node);
  }

  durableAll(nodes: readonly Node[]): Promise<void> | undefined {
    return this.#durability.durableAll(nodes);
  }

  /** See {@linkcode Durability.settled}. */
  settled(node: Node): boolean {
    return this.#durability.settled(node);
  }

  /**
   * A node's failure is sent into a flow body: it is marked caught and its
   * record queued again before the body runs (so the mark is durable before
   * what the body does next acts outside: {@linkcode Durability.actedOn}).
   * Returns false when it was marked already.
   */
  caught(node: Node): boolean {
    if (node.caught) return false;
    node.caught = true;
    this.session.changed(node);
    this.#durability.actedOn(node);
    return true;
  }

  /** The body let the failure `caught` marked escape: the mark is taken back. */
  uncaught(node: Node): void {
    node.caught = false;
    this.session.changed(node);
  }

  /** See {@linkcode Durability.beforeOutside}. */
  beforeOutside(): Promise<void> | undefined {
    return this.#durability.beforeOutside();
  }

  /** See {@linkcode Durability.beforeStart}. */
  beforeStart(node: TaskNode): Promise<void> | undefined {
    return this.#durability.beforeStart(node);
  }

  /** A node's inputs are ready. */
  ready(node: Node): void {
    if (isTaskNode(node)) {
      node.status = "ready";
      if (this.dry) {
        // Replay checking runs nothing that the journal does not answer.
        this.blocked++;
        return;
      }
      if (this.listening) this.nodeEvent("node scheduled", node, {});
      this.#scheduler.push(node);
    } else if (isWaitNode(node)) this.#waits.start(node);
    else this.#startComposite(node);
  }

  /** A node called by a flow body is ready: it starts at the body's next await point. */
  readyLater(node: Node): void {
    this.#attempts.readyLater(node);
  }

  /**
   * Makes a node of a flow start only after others have succeeded (`after`).
   * It applies before the node starts: a flow's calls start at its next
   * await point, so `after` belongs in the same step as the call.
   */
  order(node: Node, deps: readonly RefSource[]): void {
    const list: Node[] = [];
    for (const d of deps) {
      if (!(d instanceof Node) || d.run !== this) {
        throw new ValidationError(
          `after(${node.describe()}, …) was given ${d.describe()}, which does not belong to this run; pass handles of calls made in this flow`,
        );
      }
      if (d === node) throw new ValidationError(`${node.describe()} cannot run after itself`);
      if (!list.includes(d)) list.push(d);
    }
    // A replayed call has its value already, as it had when it first ran after them.
    if (isFinal(node.status)) return;
    if (node.status !== "pending") {
      throw new ValidationError(
        `after(${node.describe()}, …) came too late: the call has started already (a flow's calls start at its next yield or await); call after() in the same step as the call, such as after(load(x), migrate())`,
      );
    }
    for (const d of list) {
      const path = upstreamPath(d, node);
      if (path !== undefined) {
        throw new ValidationError(
          `${node.describe()} cannot run after ${d.describe()}, which waits for it (${
            path.join(" → ")
          }): that would be a cycle`,
        );
      }
    }
    node.after = [...(node.after ?? []), ...list];
    for (const d of list) {
      if (d.status === "succeeded") continue;
      if (isFinal(d.status)) return this.skip(node, d.error!);
      d.dependents = appendTo(d.dependents, node);
      node.waiting++;
    }
  }

  /** Starts ready tasks while slots are free. */
  pump(): void {
    this.#scheduler.pump();
  }

  /** Records success and wakes whoever waits. */
  succeed(node: Node, value: unknown): void {
    if (isFinal(node.status)) return;
    node.value = value;
    node.status = "succeeded";
    const finishedAt = node.finishedAt = this.now();
    node.controller = undefined;
    this.session.changed(node);
    if (this.listening) {
      this.nodeEvent("node succeeded", node, {
        attempt: node.attempt,
        durationMs: finishedAt - (node.startedAt ?? finishedAt),
        replayed: node.replayed,
      }, finishedAt);
    }
    const dependents = node.dependents;
    node.dependents = undefined;
    if (dependents !== undefined) {
      for (let i = 0; i < dependents.length; i++) {
        const d = dependents[i]!;
        if (d.status === "pending" && --d.waiting === 0) this.ready(d);
      }
    }
    this.#settled(node);
  }

  /** Records a failure; dependents are skipped with the same error. */
  fail(node: Node, error: WeftError, causes?: WeftError[]): void {
    this.#end(node, "failed", error, causes);
  }

  /** A node that cannot run because a node it depends on failed. */
  skip(node: Node, error: WeftError): void {
    this.#end(node, "skipped", error, undefined);
  }

  /** The one way a node ends without a value: failed, skipped or cancelled. */
  #end(
    node: Node,
    status: Extract<NodeStatus, "failed" | "skipped" | "cancelled">,
    error: WeftError,
    causes: WeftError[] | undefined,
  ): void {
    if (status === "cancelled") {
      if (node.timer !== undefined) clearTimeout(node.timer);
      node.timer = undefined;
    } else if (isFinal(node.status)) return;
    node.error = error;
    if (status === "failed") {
      node.causes = causes;
      node.controller = undefined;
    }
    node.status = status;
    const finishedAt = node.finishedAt = this.now();
    this.session.changed(node);
    if (this.listening) {
      if (status === "cancelled") this.nodeEvent("node cancelled", node, {}, finishedAt);
      else {
        this.nodeEvent("node failed", node, {
          attempt: node.attempt,
          error: describeError(error),
          skipped: status === "skipped",
        }, finishedAt);
      }
    }
    if (status === "cancelled") this.handled.add(error);
    const dependents = node.dependents;
    node.dependents = undefined;
    if (dependents !== undefined) { for (const d of dependents) this.skip(d, error); }
    this.#settled(node);
  }

  /** Cancels a node: pending ones at once, running ones through their signal. */
  cancelNode(node: Node, reason: WeftError): void {
    const status = node.status;
    if (isFinal(status)) return;
    if (status === "running" && isTaskNode(node)) {
      node.stopReason = reason;
      node.controller?.abort(reason);
      // Give it a moment to stop; then stop waiting for it.
      node.timer = setTimeout(() => {
        if (node.status === "running") {
          this.#scheduler.release(node);
          this.markCancelled(node, reason);
        }
      }, this.cancelGraceMs);
      return;
    }
    if (node.child !== undefined) {
      node.child.cancel(reason);
      return;
    }
    if (node.timer !== undefined) clearTimeout(node.timer);
    if (isWaitNode(node)) this.#waits.cancel(node);
    this.markCancelled(node, reason);
  }

  /** Records a node as cancelled; dependents are skipped. */
  markCancelled(node: Node, reason: WeftError): void {
    this.#end(node, "cancelled", reason, undefined);
  }

  #settled(node: Node): void {
    const listeners = node.listeners;
    node.listeners = undefined;
    if (listeners !== undefined) { for (let i = 0; i < listeners.length; i++) listeners[i]!(); }
    node.frame.childSettled(node);
    if (this.#watchIdle) this.changed();
  }

  /** Runs a workflow, flow or launch plan node as a frame of its own. */
  #startComposite(node: Node): void {
    node.status = "running";
    const startedAt = node.startedAt ??= this.now();
    node.attempt = 1;
    this.session.changed(node);
    if (this.listening) this.nodeEvent("node started", node, { attempt: 1 }, startedAt);
    if (node.frame.depth + 1 > this.maxDepth) return this.fail(node, this.#tooDeep(node));
    // Its body acts on its inputs (an ifElse chooses a branch, a flow steers
    // by them): they are durable first, or, in a contained run, counted as
    // acted on early, so that a task holding a grant waits for them.
    const deps = node.deps;
    const flushed = deps === undefined ? undefined : this.#durability.durableAll(deps);
    if (flushed !== undefined) {
      flushed.then(() => {
        if (!isFinal(node.status)) this.#startBody(node);
      }, (e) => this.fail(node, asTaskError(node, e)));
      return;
    }
    this.#startBody(node);
  }

  #startBody(node: Node): void {
    let inputs: Record<string, unknown>;
    try {
      inputs = resolveArgs(node);
    } catch (e) {
      return this.fail(node, asTaskError(node, e));
    }
    node.inputs = inputs;
    if (node.deps !== undefined) node.deps = NO_DEPS;
    const done = (value: unknown, error: WeftError | undefined, causes?: WeftError[]) => {
      if (error === undefined) this.succeed(node, value);
      else if (error instanceof CancelledError && (node.frame.cancelled || this.cancelled)) {
        this.markCancelled(node, error);
      } else this.fail(node, error, causes);
    };
    this.#starting++;
    startBody(this, node, node.def, inputs, done).then(() => {
      this.#starting--;
    }, (e) => {
      this.#starting--;
      this.fail(node, asTaskError(node, e));
    });
  }

  /** The failure of a call nested deeper than `maxDepth` (a recursion that does not end). */
  #tooDeep(node: Node): ValidationError {
    const chain: string[] = [];
    for (let n: Node | undefined = node; n !== undefined; n = n.frame.node) {
      chain.unshift(n.def.name);
    }
    const shown = chain.length > 8 ? [...chain.slice(0, 3), "…", ...chain.slice(-4)] : chain;
    return new ValidationError(
      `${describeEntity(node.def)} (node '${node.id}') would run ${
        node.frame.depth + 1
      } calls deep (${
        shown.join(" → ")
      }), deeper than this run's limit of ${this.maxDepth}; make sure the recursion ends, or raise the limit with run(…, { maxDepth }) or weft run --max-depth N`,
      { nodeId: node.id, task: node.def.name },
    );
  }

  /** Cancels the whole run. */
  cancel(reason: WeftError = cancelledError(this.id)): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.cancelReason = reason;
    this.root?.cancel(reason);
  }
}

/** The ids from `target` to `from` along what `from` waits for (data and order), if it waits for `target`. */
function upstreamPath(from: Node, target: Node): string[] | undefined {
  const seen = new Set<Node>();
  const walk = (n: Node): string[] | undefined => {
    if (n === target) return [target.id];
    if (seen.has(n) || isFinal(n.status)) return undefined;
    seen.add(n);
    for (const up of [...(n.deps ?? []), ...(n.after ?? [])]) {
      const found = walk(up);
      if (found !== undefined) return [...found, n.id];
    }
    return undefined;
  };
  return walk(from);
}

/** The run's replaced tasks; under a clock of its own, `now()` reads that clock. */
function mocksOf(
  options: RunOptions,
  clock: Clock,
): Map<TaskDef, (...args: never[]) => unknown> | undefined {
  if (options.mocks === undefined && clock === REAL_CLOCK) return undefined;
  const mocks = new Map<TaskDef, (...args: never[]) => unknown>();
  if (clock !== REAL_CLOCK) mocks.set(NOW_DEF, () => clock.now());
  for (const m of options.mocks ?? []) mocks.set(mockedTask(m), m.impl);
  return mocks;
}
