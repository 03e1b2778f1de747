/**
 * Frames: the body of a workflow, flow or root task, whose calls are nodes
 * of the run. A frame adds its children (checking them against the journal
 * of an earlier attempt), counts them as they settle, and computes its value
 * when the body has ended and every child has settled. The flow frame, which
 * drives a generator, is in `flow_frame.ts`.
 *
 * @module
 */

import type { CallSite } from "../core/call_site.ts";
import {
  CancelledError,
  NonDeterminismError,
  TaskFailedError,
  ValidationError,
  type WeftError,
  type WeftErrorJson,
  weftErrorNamed,
  type WeftErrorOptions,
} from "../core/errors.ts";
import type { EntityDef } from "../define/defs.ts";
import { checkInputNames, describeEntity } from "../define/entity.ts";
import { callName } from "../define/overrides.ts";
import { Handle, type RefSource } from "../define/handle.ts";
import type { JournalEntry, RunSession } from "../store/mod.ts";
import type { NodeEventFields, NodeEventType } from "./events.ts";
import { forEachHandle, slotOf } from "./handles.ts";
import { appendTo, inputsFit, isFinal, Node, type NodeFrame, type NodeRun } from "./node.ts";

/** What frames need of their run (the run coordinator implements it). */
export interface FrameRun extends NodeRun {
  /** The root entity's name. */
  readonly rootName: string;
  /** The store's session of the run. */
  readonly session: RunSession;
  /** The journal of an earlier attempt, by position. */
  readonly journal: ReadonlyMap<string, JournalEntry> | undefined;
  /** An error fatal to the run (a replay that diverged). */
  readonly fatal: WeftError | undefined;
  /** Whether the run is cancelled. */
  readonly cancelled: boolean;
  /** Why, when it is. */
  readonly cancelReason: WeftError | undefined;
  /** Whether anyone listens to events. */
  readonly listening: boolean;
  /** Whether new node ids must be checked against existing ones (see `Frame.#nextId`). */
  checkIds: boolean;
  /** While positive, ready tasks queue up but do not start. */
  held: number;
  /** The frame of the run's root. */
  root: Frame | undefined;
  /** Records a new node. */
  addNode(node: Node): void;
  /** The nodes by id. */
  index(): ReadonlyMap<string, Node>;
  /** Emits a node event. */
  nodeEvent<T extends NodeEventType>(type: T, node: Node, fields: NodeEventFields<T>): void;
  /** A node's inputs are ready. */
  ready(node: Node): void;
  /** A node called by a flow body is ready: it starts at the body's next await point. */
  readyLater(node: Node): void;
  /** A node succeeded (or its value came from the journal). */
  succeed(node: Node, value: unknown): void;
  /** A node failed (or its failure, which a flow caught, came from the journal). */
  fail(node: Node, error: WeftError): void;
  /** A node cannot run: a node it depends on failed. */
  skip(node: Node, error: WeftError): void;
  /** Cancels a node. */
  cancelNode(node: Node, reason: WeftError): void;
  /** Ends the run with an error nothing can catch. */
  setFatal(error: WeftError): void;
  /** Starts ready tasks while slots are free. */
  pump(): void;
}

/** Entity names whose ids could equal another name's: see `Frame.#nextId`. */
const UNSAFE_NAME = /\/|_\d+$/;

export abstract class Frame implements CallSite, NodeFrame {
  readonly run: FrameRun;
  /** The node this frame runs, or undefined for the run's root. */
  readonly node: Node | undefined;
  readonly prefix: string;
  readonly children: Node[] = [];
  /** Children not yet settled. */
  open = 0;
  /** Whether the body has finished adding children. */
  bodyDone = false;
  /** Children that failed (root causes, not skipped dependents). */
  failures: Node[] = [];
  finished = false;
  cancelled = false;
  cancelReason: WeftError | undefined = undefined;
  /** Whether the frame runs inside `nonCancellable`: a cancellation from outside does not reach it. */
  readonly shielded: boolean;
  /** How deep the frame is: 0 for the run's root, 1 for a workflow or flow it calls, … */
  readonly depth: number;
  /**
   * While true, a call is added though the frame has finished or was
   * cancelled, and is shielded from that (the onFailure handler).
   */
  protected admitsLate = false;
  #counters = new Map<string, number>();
  #seq = 0;
  /** Called once with the frame's value or failure. */
  readonly done: (value: unknown, error: WeftError | undefined, causes?: WeftError[]) => void;

  constructor(
    run: FrameRun,
    node: Node | undefined,
    done: (value: unknown, error: WeftError | undefined, causes?: WeftError[]) => void,
  ) {
    this.run = run;
    this.node = node;
    this.prefix = node === undefined ? "" : `${node.id}/`;
    this.shielded = node !== undefined && (node.shielded || node.frame.shielded);
    this.depth = node === undefined ? 0 : node.frame.depth + 1;
    this.done = done;
  }

  /** A call from user code inside the frame (a flow body). */
  call(def: unknown, inputs: unknown): Handle<unknown> {
    const node = this.add(def as EntityDef, inputs as Record<string, unknown>, undefined);
    return new Handle(node);
  }

  /**
   * Adds a child node: checks, journals, and schedules it.
   *
   * @param def The entity it calls.
   * @param args Its arguments: values, handles, arrays and objects of these.
   * @param fixedId Its id in the frame (a static workflow's node id), else the next for the entity.
   * @param after Nodes it starts after, though it takes nothing from them.
   * @param skipped Why the node does not run (a branch not taken): it is recorded as skipped.
   * @returns The node.
   */
  add(
    def: EntityDef,
    args: Record<string, unknown>,
    fixedId: string | undefined,
    after?: readonly Node[],
    skipped?: WeftError,
  ): Node {
    const run = this.run;
    if (run.fatal !== undefined) throw run.fatal;
    const shield = this.shieldDepth > 0 || this.admitsLate;
    if ((this.finished || (this.cancelled && !shield)) && !this.admitsLate) {
      throw new CancelledError(
        `Cannot call ${describeEntity(def)}: the ${
          this.node ? `flow '${this.node.id}'` : "run"
        } is ${
          this.finished
            ? "finished"
            : "cancelled; to call tasks while cleaning up after a cancellation, call them inside yield* nonCancellable(async function* () { … })"
        }`,
      );
    }
    let id: string;
    if (fixedId === undefined) id = this.#nextId(callName(def));
    else {
      id = this.prefix + fixedId;
      if (fixedId.includes("/")) run.checkIds = true;
    }
    const seq = this.#seq++;
    if (skipped === undefined && !inputsFit(def, args)) checkInputNames(def, args, `node '${id}'`);
    const node = new Node(id, def, this, seq, args);
    if (shield) node.shielded = true;
    // Find the nodes this call takes values from.
    let found: Deps | undefined;
    for (const key in args) {
      const v = args[key];
      if (typeof v === "object" && v !== null) found = collectDeps(v, found, run, id, key);
    }
    let deps: Node[] | undefined;
    if (found !== undefined) {
      // A copy has the exact length: arrays grown by push keep spare room, and a run keeps every node.
      // (A list of one was made by a literal: it is exact already.)
      deps = node.deps = found.list.length === 1 ? found.list : found.list.slice();
    }
    // Replay: a call the journal completed returns its recorded value.
    const journal = run.journal;
    let entry: JournalEntry | undefined;
    if (journal !== undefined) {
      entry = journal.get(`${this.node?.id ?? ""}#${seq}`);
      if (entry !== undefined) this.#checkJournal(entry, node);
    }
    run.addNode(node);
    this.children.push(node);
    this.open++;
    run.session.added(node);
    if (run.listening) {
      run.nodeEvent("node added", node, {
        kind: def.kind,
        parentId: this.node?.id,
        dependsOn: deps === undefined ? [] : deps.map((d) => d.id),
      });
    }
    if (skipped !== undefined) {
      run.skip(node, skipped);
      return node;
    }
    if (entry !== undefined && entry.status === "succeeded") {
      node.replayed = true;
      node.attempt = entry.attempt;
      node.startedAt = entry.startedAt;
      node.cachedFrom = entry.cachedFrom;
      run.succeed(node, entry.value);
      keepFinish(node, entry);
      return node;
    }
    // A failure a flow caught and went on from is part of the flow's history:
    // it is replayed, so that the flow takes the same path. One that nothing
    // caught (the run failed on it) runs again.
    if (entry?.caught === true && entry.status === "failed" && entry.error !== undefined) {
      node.replayed = true;
      node.caught = true;
      node.attempt = entry.attempt;
      node.startedAt = entry.startedAt;
      run.fail(node, recordedFailure(entry.error));
      keepFinish(node, entry);
      return node;
    }
    if (after !== undefined) node.after = after;
    if (deps !== undefined || after !== undefined) {
      let waiting = 0;
      for (const list of [deps, after]) {
        if (list === undefined) continue;
        for (let i = 0; i < list.length; i++) {
          const d = list[i]!;
          if (d.status === "succeeded") continue;
          if (isFinal(d.status)) {
            run.skip(node, d.error!);
            return node;
          }
          d.dependents = appendTo(d.dependents, node);
          waiting++;
        }
      }
      node.waiting = waiting;
      if (waiting > 0) return node;
    }
    this.readyNow(node);
    return node;
  }

  /** A new child's inputs are ready: it starts (a flow's calls at its next await point). */
  protected readyNow(node: Node): void {
    this.run.ready(node);
  }

  #checkJournal(entry: JournalEntry, node: Node): void {
    const position = `${this.node ? `flow '${this.node.id}'` : "the run"} call #${node.seq + 1}`;
    const actual = node.describeCall();
    if (entry.entity !== node.def.name || entry.argsDigest !== node.argsDigest()) {
      const error = new NonDeterminismError(
        `Replay of run '${this.run.id}' diverged at ${position}: the journal recorded ${entry.call} (node '${entry.nodeId}') but the flow now calls ${actual}. A flow must make the same calls in the same order when replayed: move the varying work (time, randomness, I/O) into a task or use now()/random() from weft, or start a new run id`,
        {
          position: `${this.node?.id ?? ""}#${node.seq}`,
          recorded: entry.call,
          actual,
          nodeId: node.id,
          task: node.def.name,
        },
      );
      this.run.setFatal(error);
      throw error;
    }
  }

  #nextId(name: string): string {
    const run = this.run;
    let n = this.#counters.get(name);
    if (n === undefined) {
      n = 0;
      if (UNSAFE_NAME.test(name)) run.checkIds = true;
    }
    let id = n === 0 ? this.prefix + name : `${this.prefix}${name}_${n + 1}`;
    n++;
    // Ids made from names without '/' and without a '_<digits>' ending never
    // collide with each other (nor with a static frame's ids, in another
    // prefix), so the lookup is needed only once such a name appears.
    if (run.checkIds) {
      const nodes = run.index();
      while (nodes.has(id)) {
        n++;
        id = `${this.prefix}${name}_${n}`;
      }
    }
    this.#counters.set(name, n);
    return id;
  }

  /** A child settled. */
  childSettled(node: Node): void {
    if (node.status === "failed") this.failures.push(node);
    this.open--;
    if (this.open === 0 && this.bodyDone) this.finish();
  }

  /** The body has made its last call. */
  endBody(): void {
    this.bodyDone = true;
    if (this.open === 0) this.finish();
  }

  /** Root causes of failed children that nothing handled. */
  unhandled(): WeftError[] {
    const out: WeftError[] = [];
    for (const f of this.failures) {
      if (!this.run.handled.has(f.error!)) out.push(...(f.causes ?? [f.error!]));
    }
    return out;
  }

  /** Every child settled and the body ended: compute the value. */
  abstract finish(): void;

  /** How many `nonCancellable` scopes the body is in (flows only). */
  get shieldDepth(): number {
    return 0;
  }

  /** Stops the frame: pending children are cancelled, running ones aborted. */
  cancel(reason: WeftError): void {
    if (this.cancelled || this.finished) return;
    this.cancelled = true;
    this.cancelReason = reason;
    // (Calls made inside nonCancellable are not stopped by the cancellation they outlive.)
    for (const child of this.children) if (!child.shielded) this.run.cancelNode(child, reason);
    this.onCancel(reason);
  }

  /** What the frame's body does on cancellation. */
  protected onCancel(_reason: WeftError): void {}
}

/**
 * A replayed node keeps the time its recorded execution finished, not the
 * time it was replayed: a `race` of several replayed calls picks the one
 * that settled first when the run was live (see `raceOrder`), not the one
 * listed first.
 */
function keepFinish(node: Node, entry: JournalEntry): void {
  if (entry.finishedAt !== undefined) node.finishedAt = entry.finishedAt;
}

/**
 * A recorded failure as a replayed flow receives it: an error of the
 * recorded class when it is one of weft's made from a message alone (a
 * `TimeoutError` stays one), else a `TaskFailedError` with the recorded
 * name; with the recorded message, node, task, attempt and cause (the same
 * rule for the cause, else an `Error` of the recorded name and message).
 *
 * @param json The error as the store recorded it.
 * @returns The error.
 */
export function recordedFailure(json: WeftErrorJson): WeftError {
  const options: WeftErrorOptions = {};
  if (json.nodeId !== undefined) options.nodeId = json.nodeId;
  if (json.task !== undefined) options.task = json.task;
  if (json.attempt !== undefined) options.attempt = json.attempt;
  const c = json.cause;
  if (c !== undefined) {
    const cause = options.cause = weftErrorNamed(c.name, c.message) ?? new Error(c.message);
    cause.name = c.name;
    if (c.stack !== undefined) cause.stack = c.stack;
  }
  const error = weftErrorNamed(json.name, json.message, options) ??
    new TaskFailedError(json.message, options);
  error.name = json.name;
  if (json.stack !== undefined) error.stack = json.stack;
  return error;
}

/** The distinct nodes a call's arguments refer to, in order of first appearance. */
export interface Deps {
  list: Node[];
  /** For calls with many inputs (a fan-in), so that finding duplicates stays linear. */
  seen: Set<Node> | undefined;
}

/**
 * Adds the nodes an argument refers to (at any depth) to `deps`.
 *
 * @param v An argument that is an object.
 * @param deps The nodes found so far.
 * @param run The run: handles of another run are refused.
 * @param id The calling node's id, for messages.
 * @param key The argument's name, for messages.
 * @returns The nodes found.
 * @throws {ValidationError} For a handle that does not belong to this run.
 */
export function collectDeps(
  v: object,
  deps: Deps | undefined,
  run: FrameRun,
  id: string,
  key: string,
): Deps | undefined {
  const slot = slotOf(v);
  if (slot !== undefined) return addDep(slot.source, deps, run, id, key);
  forEachHandle(v, (s) => {
    deps = addDep(s.source, deps, run, id, key);
  });
  return deps;
}

function addDep(
  source: RefSource,
  deps: Deps | undefined,
  run: FrameRun,
  id: string,
  key: string,
): Deps {
  if (!(source instanceof Node) || source.run !== run) {
    throw new ValidationError(
      `Input '${key}' of node '${id}' is ${source.describe()}, which does not belong to this run; pass a value or a handle made in this flow`,
    );
  }
  if (deps === undefined) return { list: [source], seen: undefined };
  const list = deps.list;
  if (deps.seen !== undefined) {
    if (!deps.seen.has(source)) {
      deps.seen.add(source);
      list.push(source);
    }
  } else if (!list.includes(source)) {
    list.push(source);
    if (list.length >= 32) deps.seen = new Set(list);
  }
  return deps;
}
/** The frame of a run whose root is a single task call. */
export class TaskFrame extends Frame {
  #node: Node | undefined;
  start(def: EntityDef, inputs: Record<string, unknown>): void {
    this.#node = this.add(def, inputs, undefined);
    this.endBody();
  }
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const node = this.#node!;
    if (node.status === "succeeded") this.done(node.value, undefined);
    else this.done(undefined, node.error, node.causes ?? [node.error!]);
  }
}
