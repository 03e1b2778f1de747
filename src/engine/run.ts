/**
 * The engine: one scheduler for declarative workflows, builder workflows and
 * flows. A run holds nodes; a node starts when the nodes it takes values from
 * have succeeded; tasks run under a concurrency limit with retries, timeouts
 * and cancellation; workflows and flows run as frames whose children are
 * nodes of the same run.
 *
 * @module
 */

import { type CallSite, frames } from "../core/call_site.ts";
import { checkInputNames, describeEntity, selectOutput } from "../define/entity.ts";
import type {
  Binding,
  EntityDef,
  EntityKind,
  FlowDef,
  GraphDef,
  LaunchPlanDef,
  TaskDef,
} from "../define/defs.ts";
import {
  CancelledError,
  describeCause,
  NonDeterminismError,
  PermissionDeniedError,
  TaskFailedError,
  TimeoutError,
  ValidationError,
  WeftError,
} from "../core/errors.ts";
import type { WeftEvent } from "./events.ts";
import { Handle, isHandle, isPlainObject, type RefSource } from "../define/handle.ts";
import type {
  CacheHit,
  JournalEntry,
  NodeRecord,
  NodeStatus,
  PreviousRun,
  RunSession,
  RunStatus,
  Store,
} from "../store/mod.ts";
import type { TaskContext } from "../define/task.ts";
import { checkValue, digestOf, encodeValue, sha256, toJsonTree } from "../core/values.ts";
import { AWAIT, type AwaitRequest } from "../define/yields.ts";
import { defaultStore, openStore } from "../store/open.ts";
import { REF } from "../core/call_site.ts";
import { WEFT_VERSION } from "../core/version.ts";

/** Options of {@linkcode runEntity} (and `run()`). */
export interface RunOptions {
  /**
   * Where to record the run: `"memory"`, `"sqlite:PATH"`, or a `Store`.
   * @default "memory" (one store per process)
   */
  store?: string | Store;
  /**
   * How many tasks may run at once.
   * @default 8
   */
  concurrency?: number;
  /**
   * The run id. Running an id again returns a succeeded run's result, or resumes a failed one.
   * @default a new id
   */
  runId?: string;
  /**
   * Use cached results of tasks declared with `cache: true`.
   * @default true
   */
  cache?: boolean;
  /** Cancels the run when aborted. */
  signal?: AbortSignal;
  /** Receives every event of the run. */
  onEvent?: (event: WeftEvent) => void;
  /**
   * How long cancelled tasks get to stop before the run gives up on them.
   * @default 2000
   */
  cancelGraceMs?: number;
  /** The script path, recorded with the run. */
  script?: string;
  /**
   * Runs each task attempt somewhere else than in this thread (`weft run
   * --isolate` runs each task in a Worker with only its own permissions).
   * @default undefined: tasks run in this thread
   */
  executor?: TaskExecutor;
}

/** Runs task attempts; the engine keeps scheduling, retries, timeouts and records. */
export interface TaskExecutor {
  /**
   * Runs one attempt of a task.
   *
   * @param def The task.
   * @param inputs Its inputs by name.
   * @param ctx Its context: abort `ctx.signal` to stop it.
   * @returns The task's value, or a promise of it.
   */
  execute(def: TaskDef, inputs: Record<string, unknown>, ctx: TaskContext): unknown;
}

/** A node of the graph a run returns. */
export interface RunGraphNode {
  /** The node id. */
  id: string;
  /** The entity name. */
  entity: string;
  /** The entity kind. */
  kind: EntityKind;
  /** The final status. */
  status: NodeStatus;
  /** The calling flow or workflow node, if any. */
  parentId?: string;
  /** Attempts made. */
  attempts: number;
  /** Whether the result came from the cache. */
  cached?: boolean;
  /** Whether the result came from the journal. */
  replayed?: boolean;
  /** Start time (ms since the epoch). */
  startedAt?: number;
  /** End time (ms since the epoch). */
  finishedAt?: number;
}

/** An edge of the graph a run returns: an output of one node feeds an input of another. */
export interface RunGraphEdge {
  /** The node whose output is used. */
  from: string;
  /** Which output, when the node has named outputs. */
  output?: string;
  /** The node that takes it. */
  to: string;
  /** The input it feeds. */
  input: string;
}

/** The graph of a run, as it grew. */
export interface RunGraph {
  /** The nodes, in the order they were added. */
  nodes: RunGraphNode[];
  /** The edges. */
  edges: RunGraphEdge[];
}

/** What a run resolves to. */
export interface RunResult<T = unknown> {
  /** The run id. */
  runId: string;
  /** How it ended. */
  status: RunStatus;
  /** The outputs, when it succeeded: as `execute` returns them (a flow: its resolved return value). */
  outputs: T | undefined;
  /** Why it failed: the failures nothing handled. */
  errors: WeftError[];
  /** The nodes and edges of the run. */
  graph: RunGraph;
  /** When it started. */
  startedAt: Date;
  /** When it finished. */
  finishedAt: Date;
}

const DEFAULT_CONCURRENCY = 8;
const RETRY_CAP_MS = 30_000;

/** The statuses after which a node never changes. */
function isFinal(status: NodeStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "skipped" ||
    status === "cancelled";
}

// ---------------------------------------------------------------------------
// Nodes

/** The fields of a node that most nodes never set, kept apart so that a node stays small. */
interface NodeRare {
  error: WeftError | undefined;
  cachedFrom: string | undefined;
  replayed: boolean;
  child: Frame | undefined;
  controller: AbortController | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  causes: WeftError[] | undefined;
  digest: string | undefined;
}

/**
 * One call of an entity in a run. A run of a large graph holds one per node
 * (and the memory store keeps them), so the class keeps few fields: what every
 * node uses, and the rest in one object made on first use.
 */
class Node implements NodeRecord, RefSource {
  readonly id: string;
  readonly def: EntityDef;
  readonly frame: Frame;
  readonly seq: number;
  readonly args: Record<string, unknown>;
  status: NodeStatus = "pending";
  attempt = 0;
  startedAt: number | undefined = undefined;
  finishedAt: number | undefined = undefined;
  /** See `inputs`: undefined until the node starts, then `args` or `RESOLVE_ARGS`. */
  #inputs: Record<string, unknown> | undefined = undefined;
  value: unknown = undefined;
  /** Dependencies not yet succeeded. */
  waiting = 0;
  /** Nodes waiting for this one. */
  dependents: Node[] | undefined = undefined;
  /** Callbacks waiting for this one to settle. */
  listeners: (() => void)[] | undefined = undefined;
  /**
   * The nodes `args` refers to, in order, each once; emptied (not unset) once
   * the node has started, as nothing needs them then.
   */
  deps: readonly Node[] | undefined = undefined;
  #rare: NodeRare | undefined = undefined;

  constructor(
    id: string,
    def: EntityDef,
    frame: Frame,
    seq: number,
    args: Record<string, unknown>,
  ) {
    this.id = id;
    this.def = def;
    this.frame = frame;
    this.seq = seq;
    this.args = args;
  }

  get run(): Run {
    return this.frame.run;
  }

  /**
   * The input values, once the node has started. Arguments without handles
   * are their own values; arguments with handles are resolved on each read
   * (the values they refer to never change once produced), so that a run of
   * 100,000 nodes keeps no second copy of every node's arguments.
   */
  get inputs(): Record<string, unknown> | undefined {
    const inputs = this.#inputs;
    return inputs === RESOLVE_ARGS ? resolveValue(this.args) as Record<string, unknown> : inputs;
  }
  set inputs(inputs: Record<string, unknown> | undefined) {
    this.#inputs = inputs;
  }
  /** The node starts: its inputs are known from here on (every node it depends on succeeded). */
  inputsKnown(): void {
    this.#inputs = this.deps === undefined ? this.args : RESOLVE_ARGS;
  }
  /** One input's value, without building the whole `inputs` object. */
  input(name: string): unknown {
    const v = this.args[name];
    return this.deps === undefined ? v : resolveValue(v);
  }
  /** A node is the slot of its whole-value handles (see `Handle`): its source is itself. */
  get source(): Node {
    return this;
  }
  /** (As a handle slot: the whole value.) */
  get output(): undefined {
    return undefined;
  }
  /** Whether `args` holds handles. */
  get hasHandles(): boolean {
    return this.deps !== undefined;
  }

  #rareFields(): NodeRare {
    return this.#rare ??= {
      error: undefined,
      cachedFrom: undefined,
      replayed: false,
      child: undefined,
      controller: undefined,
      timer: undefined,
      causes: undefined,
      digest: undefined,
    };
  }
  get error(): WeftError | undefined {
    return this.#rare?.error;
  }
  set error(v: WeftError | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareFields().error = v;
  }
  get cachedFrom(): string | undefined {
    return this.#rare?.cachedFrom;
  }
  set cachedFrom(v: string | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareFields().cachedFrom = v;
  }
  get replayed(): boolean {
    return this.#rare?.replayed ?? false;
  }
  set replayed(v: boolean) {
    if (v || this.#rare !== undefined) this.#rareFields().replayed = v;
  }
  /** The frame running this node's body (workflows, flows). */
  get child(): Frame | undefined {
    return this.#rare?.child;
  }
  set child(v: Frame | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareFields().child = v;
  }
  /** Aborts the running attempt. */
  get controller(): AbortController | undefined {
    return this.#rare?.controller;
  }
  set controller(v: AbortController | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareFields().controller = v;
  }
  /** Timers of the running attempt (timeout, retry delay, cancel grace). */
  get timer(): ReturnType<typeof setTimeout> | undefined {
    return this.#rare?.timer;
  }
  set timer(v: ReturnType<typeof setTimeout> | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareFields().timer = v;
  }
  /** Root causes, for a workflow or flow node that failed because children failed. */
  get causes(): WeftError[] | undefined {
    return this.#rare?.causes;
  }
  set causes(v: WeftError[] | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareFields().causes = v;
  }

  get parentId(): string | undefined {
    return this.frame.node?.id;
  }
  get entity(): string {
    return this.def.name;
  }
  get kind(): EntityDef["kind"] {
    return this.def.kind;
  }
  get version(): string | undefined {
    return this.def.kind === "task" ? (this.def as TaskDef).version : undefined;
  }
  get bare(): boolean {
    return this.def.bare;
  }

  argsDigest(): string {
    const rare = this.#rareFields();
    if (rare.digest === undefined) {
      rare.digest = digestOf(encodeArgs(this.args));
    }
    return rare.digest;
  }

  describeCall(): string {
    return showCall(this.def.name, this.args);
  }

  describe(): string {
    return `node '${this.id}'`;
  }
  outputNames(): readonly string[] {
    return this.def.outputs;
  }

  settle(
    output: string | undefined,
    onValue: (v: unknown) => void,
    onError: (e: unknown) => void,
  ): void {
    const deliver = () => {
      if (this.status === "succeeded") {
        const flushed = this.run.durable(this);
        const value = selectOutput(this.def, this.value, output);
        if (flushed === undefined) onValue(value);
        else flushed.then(() => onValue(value), onError);
      } else {
        this.run.handled.add(this.error!);
        onError(this.error);
      }
    };
    if (isFinal(this.status)) deliver();
    else this.listeners = appendTo(this.listeners, deliver);
  }

  /** Calls `fn` once the node has settled (at once if it has). */
  onSettled(fn: () => void): void {
    if (isFinal(this.status)) fn();
    else this.listeners = appendTo(this.listeners, fn);
  }
}

/**
 * Whether `args` has exactly known inputs and every required one: the common
 * case, checked without building the message `checkInputNames` would need.
 */
function inputsFit(def: EntityDef, args: Record<string, unknown>): boolean {
  const params = def.params;
  let required = 0;
  for (let i = 0; i < params.length; i++) if (!params[i]!.optional) required++;
  let known = 0;
  let requiredSeen = 0;
  for (const key in args) {
    let found = false;
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      if (p.name === key) {
        found = true;
        if (!p.optional) requiredSeen++;
        break;
      }
    }
    if (!found) return false;
    known++;
  }
  return known <= params.length && requiredSeen === required;
}

/**
 * Appends to a list that is usually short. The first two items make arrays of
 * their exact length, where `push` would reserve room for 17: a graph of
 * 100,000 nodes with two dependents each would hold 12 MB of empty slots.
 */
function appendTo<T>(list: T[] | undefined, item: T): T[] {
  if (list === undefined) return [item];
  if (list.length === 1) return [list[0]!, item];
  list.push(item);
  return list;
}

/** Canonical text of a call's arguments: handles become node references. */
function encodeArgs(args: Record<string, unknown>): string {
  return JSON.stringify(argsTree(args, true));
}

function argsTree(x: unknown, canonical: boolean): unknown {
  if (isHandle(x)) {
    const slot = x[REF];
    const source = slot.source;
    const id = source instanceof Node ? source.id : source.describe();
    return slot.output === undefined ? { $ref: id } : { $ref: id, output: slot.output };
  }
  if (Array.isArray(x)) return x.map((v) => argsTree(v, canonical));
  if (isPlainObject(x)) {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(x);
    if (canonical) keys.sort();
    for (const k of keys) out[k] = argsTree(x[k], canonical);
    return out;
  }
  return toJsonTree(x, canonical);
}

/** A call as people read it: `add(x: 7, y: 1)`. */
function showCall(entity: string, args: Record<string, unknown>): string {
  const parts = Object.keys(args).map((k) => {
    let text = JSON.stringify(argsTree(args[k], false)) ?? "undefined";
    if (text.length > 40) text = `${text.slice(0, 37)}...`;
    return `${k}: ${text}`;
  });
  return `${entity}(${parts.join(", ")})`;
}

// ---------------------------------------------------------------------------
// Frames: the body of a workflow, flow or root task, whose calls are nodes

/** Marks a node's inputs as its arguments with handles resolved (see `Node.inputs`). */
const RESOLVE_ARGS: Record<string, unknown> = Object.freeze({});

/** What `Node.deps` becomes once a node has started. */
const NO_DEPS: readonly Node[] = Object.freeze([]);

/** Entity names whose ids could equal another name's: see `Frame.#nextId`. */
const UNSAFE_NAME = /\/|_\d+$/;

abstract class Frame implements CallSite {
  readonly run: Run;
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
  #counters = new Map<string, number>();
  #seq = 0;
  /** Called once with the frame's value or failure. */
  readonly done: (value: unknown, error: WeftError | undefined, causes?: WeftError[]) => void;

  constructor(
    run: Run,
    node: Node | undefined,
    done: (value: unknown, error: WeftError | undefined, causes?: WeftError[]) => void,
  ) {
    this.run = run;
    this.node = node;
    this.prefix = node === undefined ? "" : `${node.id}/`;
    this.done = done;
  }

  /** A call from user code inside the frame (a flow body). */
  call(def: unknown, inputs: unknown): Handle<unknown> {
    const node = this.add(def as EntityDef, inputs as Record<string, unknown>, undefined);
    return new Handle(node);
  }

  /** Adds a child node: checks, journals, and schedules it. */
  add(def: EntityDef, args: Record<string, unknown>, fixedId: string | undefined): Node {
    const run = this.run;
    if (run.fatal !== undefined) throw run.fatal;
    if (this.finished || this.cancelled || run.cancelled) {
      throw new CancelledError(
        `Cannot call ${describeEntity(def)}: the ${
          this.node ? `flow '${this.node.id}'` : "run"
        } is ${this.finished ? "finished" : "cancelled"}`,
      );
    }
    let id: string;
    if (fixedId === undefined) id = this.#nextId(def.name);
    else {
      id = this.prefix + fixedId;
      if (fixedId.includes("/")) run.checkIds = true;
    }
    const seq = this.#seq++;
    if (!inputsFit(def, args)) checkInputNames(def, args, `node '${id}'`);
    const node = new Node(id, def, this, seq, args);
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
      run.emit({
        type: "node added",
        runId: run.id,
        time: Date.now(),
        nodeId: id,
        entity: def.name,
        kind: def.kind,
        parentId: this.node?.id,
        dependsOn: deps === undefined ? [] : deps.map((d) => d.id),
      });
    }
    if (entry !== undefined && entry.status === "succeeded") {
      node.replayed = true;
      node.attempt = entry.attempt;
      node.startedAt = entry.startedAt;
      node.cachedFrom = entry.cachedFrom;
      run.succeed(node, entry.value);
      return node;
    }
    if (deps !== undefined) {
      let waiting = 0;
      for (let i = 0; i < deps.length; i++) {
        const d = deps[i]!;
        if (d.status === "succeeded") continue;
        if (isFinal(d.status)) {
          run.skip(node, d.error!);
          return node;
        }
        d.dependents = appendTo(d.dependents, node);
        waiting++;
      }
      node.waiting = waiting;
      if (waiting > 0) return node;
    }
    run.ready(node);
    return node;
  }

  #checkJournal(entry: JournalEntry, node: Node): void {
    const position = `${this.node ? `flow '${this.node.id}'` : "the run"} call #${node.seq + 1}`;
    const actual = showCall(node.def.name, node.args);
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

  /** Stops the frame: pending children are cancelled, running ones aborted. */
  cancel(reason: WeftError): void {
    if (this.cancelled || this.finished) return;
    this.cancelled = true;
    this.cancelReason = reason;
    for (const child of this.children) this.run.cancelNode(child, reason);
    this.onCancel(reason);
  }

  /** What the frame's body does on cancellation. */
  protected onCancel(_reason: WeftError): void {}
}

/** The distinct nodes a call's arguments refer to, in order of first appearance. */
interface Deps {
  list: Node[];
  /** For calls with many inputs (a fan-in), so that finding duplicates stays linear. */
  seen: Set<Node> | undefined;
}

function collectDeps(
  v: object,
  deps: Deps | undefined,
  run: Run,
  id: string,
  key: string,
): Deps | undefined {
  const slot = (v as { [REF]?: { source: RefSource } })[REF];
  if (slot !== undefined) {
    const source = slot.source;
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
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const item = v[i];
      if (typeof item === "object" && item !== null) deps = collectDeps(item, deps, run, id, key);
    }
  } else if (isPlainObject(v)) {
    for (const k in v) {
      const item = v[k];
      if (typeof item === "object" && item !== null) deps = collectDeps(item, deps, run, id, key);
    }
  }
  return deps;
}

/** Replaces handles (all settled and succeeded) by their values, at any depth. */
function resolveValue(x: unknown): unknown {
  if (typeof x !== "object" || x === null) return x;
  const slot = (x as { [REF]?: { source: RefSource; output: string | undefined } })[REF];
  if (slot !== undefined) {
    const node = slot.source as Node;
    if (node.status !== "succeeded") {
      throw node.error ?? new ValidationError(`${node.describe()} has not run`);
    }
    return selectOutput(node.def, node.value, slot.output);
  }
  if (Array.isArray(x)) {
    const out = new Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = resolveValue(x[i]);
    return out;
  }
  if (isPlainObject(x)) {
    const out: Record<string, unknown> = {};
    for (const k in x) out[k] = resolveValue(x[k]);
    return out;
  }
  return x;
}

function resolveArgs(node: Node): Record<string, unknown> {
  if (!node.hasHandles) return node.args;
  return resolveValue(node.args) as Record<string, unknown>;
}

/** The frame of a run whose root is a single task call. */
class TaskFrame extends Frame {
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

/** The frame of a static workflow: adds every node of the graph, then resolves the outputs. */
class StaticFrame extends Frame {
  #graph!: GraphDef;
  #inputs!: Record<string, unknown>;
  /**
   * The nodes by position in the graph; once a node is bound as a whole, its
   * one shared handle. (An array: a map by id would cost an insertion per node per run.)
   */
  #nodes: (Node | Handle<unknown>)[] = [];

  start(graph: GraphDef, inputs: Record<string, unknown>): void {
    this.#graph = graph;
    this.#inputs = inputs;
    const run = this.run;
    run.held++;
    try {
      const nodes = graph.nodes;
      for (let i = 0; i < nodes.length; i++) {
        const gn = nodes[i]!;
        // A copy of the bindings has the arguments' keys in order; its values are then replaced.
        const args: Record<string, unknown> = { ...gn.bindings };
        for (const key in args) args[key] = this.#materialize(args[key] as Binding);
        this.#nodes[gn.index] = this.add(gn.def, args, gn.id);
      }
    } finally {
      run.held--;
    }
    run.pump();
    this.endBody();
  }

  #materialize(b: Binding): unknown {
    if ("value" in b) return b.value;
    if ("input" in b) return this.#inputs[b.input];
    if ("node" in b) {
      const position = this.#graph.nodeIndex.get(b.node)?.index;
      const entry = position === undefined ? undefined : this.#nodes[position];
      if (entry === undefined) {
        throw new ValidationError(
          `Workflow '${this.#graph.name}' binds node '${b.node}', which does not exist`,
        );
      }
      if (entry instanceof Handle) return entry;
      if (!entry.def.bare) return new Handle(entry, b.output);
      // Every binding of a bare node is the same reference: one handle serves them all.
      const handle = new Handle(entry);
      this.#nodes[position!] = handle;
      return handle;
    }
    if ("array" in b) return b.array.map((x) => this.#materialize(x));
    const out: Record<string, unknown> = {};
    for (const k in b.object) out[k] = this.#materialize(b.object[k]!);
    return out;
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.cancelled) return this.done(undefined, this.run.cancelReason ?? cancelled(this.run));
    const causes = this.unhandled();
    if (causes.length > 0) return this.done(undefined, frameError(this, causes), causes);
    try {
      const outputs = this.#graph.outputBindings;
      if (outputs.size === 0) return this.done(undefined, undefined);
      const values: Record<string, unknown> = {};
      for (const [name, b] of outputs) values[name] = resolveValue(this.#materialize(b));
      this.done(this.#graph.bare ? values[this.#graph.outputs[0]!] : values, undefined);
    } catch (e) {
      this.done(undefined, asWeftError(e, this));
    }
  }
}

/** The frame of a flow: drives its generator. */
class FlowFrame extends Frame {
  #gen:
    | AsyncGenerator<unknown, unknown, unknown>
    | Generator<unknown, unknown, unknown>
    | undefined;
  #returned: unknown = undefined;
  #thrown: WeftError | undefined = undefined;
  /** Whether the generator is suspended at a yield the engine resolves. */
  #parked = false;
  #def!: FlowDef;

  start(def: FlowDef, inputs: Record<string, unknown>): void {
    this.#def = def;
    const fn = def.fn as (...args: unknown[]) => unknown;
    let gen: unknown;
    try {
      gen = frames.run(
        this,
        () => def.style === "object" ? fn(inputs) : fn(...def.params.map((p) => inputs[p.name])),
      );
    } catch (e) {
      return this.#bodyThrew(e);
    }
    if (typeof (gen as Generator)?.next !== "function") {
      return this.#bodyThrew(
        new ValidationError(
          `Flow '${def.name}' did not return a generator; write it as async function* ${def.name}(…) { … }`,
        ),
      );
    }
    this.#gen = gen as AsyncGenerator<unknown, unknown, unknown>;
    this.#resume(0, undefined);
  }

  /** Resumes the generator: 0 next, 1 throw, 2 return. */
  #resume(mode: 0 | 1 | 2, arg: unknown): void {
    this.#parked = false;
    const run = this.run;
    if (run.fatal !== undefined && mode !== 2) {
      mode = 2;
      arg = undefined;
    }
    let r: unknown;
    try {
      // The body must find this frame. When the caller's async context holds it
      // already (a flow resumed from its own step), entering it again would
      // cost a context switch for the same context.
      r = frames.getStore() === this
        ? this.#step(mode, arg)
        : frames.run(this, this.#stepFn, mode, arg);
    } catch (e) {
      return this.#bodyThrew(e);
    }
    if (r !== undefined) this.#onStep(r as IteratorResult<unknown>);
  }

  /** Steps the generator; a promised step is followed up here, an immediate one is returned. */
  #step(mode: 0 | 1 | 2, arg: unknown): unknown {
    const gen = this.#gen!;
    const r = mode === 0 ? gen.next(arg) : mode === 1 ? gen.throw(arg) : gen.return(arg);
    if (r instanceof Promise) {
      // Subscribed inside the frame's context, so that the next step runs in
      // it too and resumes without a context switch.
      r.then(this.#onStepFn, this.#bodyThrewFn);
      return undefined;
    }
    return r;
  }

  // Bound once per frame rather than once per step.
  readonly #stepFn = (mode: 0 | 1 | 2, arg: unknown): unknown => this.#step(mode, arg);
  readonly #onStepFn = (res: IteratorResult<unknown>): void => this.#onStep(res);
  readonly #bodyThrewFn = (e: unknown): void => this.#bodyThrew(e);

  #onStep(res: IteratorResult<unknown>): void {
    if (res.done) {
      this.#returned = res.value;
      this.endBody();
      return;
    }
    if (this.run.fatal !== undefined || this.cancelled) {
      this.#resume(2, undefined);
      return;
    }
    this.#wait(res.value);
  }

  /** Resolves what the generator yielded and sends it back. */
  #wait(yielded: unknown): void {
    let target = yielded;
    let mode: "all" | "race" = "all";
    if (typeof yielded === "object" && yielded !== null) {
      const kind = (yielded as AwaitRequest)[AWAIT];
      if (kind !== undefined) {
        mode = kind;
        target = (yielded as AwaitRequest).target;
      }
    }
    this.#parked = true;
    if (mode === "all" && this.#waitSettled(target)) return;
    const send = (value: unknown) => {
      if (!this.#parked) return;
      this.#resume(0, value);
    };
    const fail = (error: unknown) => {
      if (!this.#parked) return;
      this.#resume(1, error);
    };
    if (mode === "race") return this.#race(target, send, fail);
    waitAll(this.run, target, send, fail);
  }

  /**
   * The common case of a wait, without closures: a plain value, or one handle
   * of this run that has settled (a sequential flow waits for a task that
   * already finished). Returns false when the general path must wait.
   */
  #waitSettled(target: unknown): boolean {
    if (typeof target !== "object" || target === null) {
      this.#resume(0, target);
      return true;
    }
    const slot = (target as { [REF]?: { source: RefSource; output: string | undefined } })[REF];
    if (slot === undefined) return false;
    const node = slot.source;
    const run = this.run;
    if (!(node instanceof Node) || node.run !== run || !isFinal(node.status)) return false;
    if (node.status !== "succeeded") {
      run.handled.add(node.error!);
      this.#resume(1, node.error);
      return true;
    }
    if (run.session.pending(node)) return false;
    this.#resume(0, selectOutput(node.def, node.value, slot.output));
    return true;
  }

  #race(target: unknown, send: (v: unknown) => void, fail: (e: unknown) => void): void {
    if (!Array.isArray(target) || target.length === 0) {
      return fail(
        new ValidationError(
          `race() in flow '${this.#def.name}' needs a non-empty array of handles`,
        ),
      );
    }
    let settled = false;
    for (const item of target) {
      waitAll(this.run, item, (v) => {
        if (settled) return;
        settled = true;
        send(v);
      }, (e) => {
        if (settled) return;
        settled = true;
        fail(e);
      });
      if (settled) break;
    }
  }

  #bodyThrew(e: unknown): void {
    const run = this.run;
    const error = run.fatal ?? asWeftError(e, this);
    this.#thrown = error;
    if (isFlowFailure(error)) run.handled.add(error);
    // An uncaught error cancels what the flow still has running.
    if (!this.cancelled) {
      this.cancelled = true;
      for (const child of this.children) {
        run.cancelNode(
          child,
          new CancelledError(`Cancelled because flow '${this.#def.name}' failed: ${error.message}`),
        );
      }
    }
    this.endBody();
  }

  protected override onCancel(_reason: WeftError): void {
    // A generator parked at an engine-resolved yield is stopped with return(),
    // so that its finally blocks run; one waiting inside a handle's then()
    // receives the cancellation as the failure of what it waits for.
    if (this.#parked && this.#gen !== undefined) this.#resume(2, undefined);
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const run = this.run;
    if (run.fatal !== undefined) return this.done(undefined, run.fatal, [run.fatal]);
    if (this.#thrown !== undefined) {
      const thrown = this.#thrown;
      const causes = thrown instanceof TaskFailedError && thrown.nodeId !== this.node?.id
        ? rootCauses(run, thrown)
        : [thrown];
      for (const extra of this.unhandled()) if (!causes.includes(extra)) causes.push(extra);
      return this.done(undefined, thrown, causes);
    }
    if (this.cancelled) return this.done(undefined, run.cancelReason ?? cancelled(run));
    const causes = this.unhandled();
    if (causes.length > 0) return this.done(undefined, frameError(this, causes), causes);
    const returned = this.#returned;
    waitAll(run, returned, (value) => {
      if (this.#def.namedOutputs) {
        const missing = this.#def.outputs.filter((o) => !isPlainObject(value) || !(o in value));
        if (missing.length > 0) {
          const error = new TaskFailedError(
            `Flow '${this.#def.name}' declares outputs ${
              this.#def.outputs.join(", ")
            } but its return value lacks ${missing.join(", ")}; return an object with these keys`,
            { nodeId: this.node?.id ?? this.#def.name, task: this.#def.name },
          );
          return this.done(undefined, error, [error]);
        }
      }
      try {
        checkValue(value, () => `the value returned by flow '${this.#def.name}'`);
      } catch (e) {
        const error = asWeftError(e, this);
        return this.done(undefined, error, [error]);
      }
      this.done(value, undefined);
    }, (e) => {
      const error = asWeftError(e, this);
      this.done(undefined, error, rootCauses(run, error));
    });
  }
}

function isFlowFailure(e: WeftError): boolean {
  return e instanceof TaskFailedError || e instanceof CancelledError;
}

function rootCauses(run: Run, error: WeftError): WeftError[] {
  if (error.nodeId !== undefined) {
    const node = run.index().get(error.nodeId);
    if (node?.causes !== undefined && node.error === error) return [...node.causes];
  }
  return [error];
}

/**
 * Waits for every handle in `target` (at any depth) and calls `send` with the
 * structure of values, or `fail` with the first failure.
 */
function waitAll(
  run: Run,
  target: unknown,
  send: (v: unknown) => void,
  fail: (e: unknown) => void,
): void {
  if (typeof target !== "object" || target === null) return send(target);
  const slot = (target as { [REF]?: { source: RefSource; output: string | undefined } })[REF];
  if (slot !== undefined) {
    const source = slot.source;
    if (source instanceof Node && source.run === run) {
      if (isFinal(source.status)) return deliverOne(run, source, slot.output, send, fail);
      source.onSettled(() => deliverOne(run, source, slot.output, send, fail));
      return;
    }
    source.settle(slot.output, send, fail);
    return;
  }
  if (!Array.isArray(target) && !isPlainObject(target)) return send(target);
  // Collect the nodes, wait for them all, then rebuild the structure.
  const nodes: Node[] = [];
  const foreign: Handle<unknown>[] = [];
  collectWaits(run, target, nodes, foreign);
  if (nodes.length === 0 && foreign.length === 0) return send(target);
  let remaining = nodes.length + foreign.length;
  let failed = false;
  const foreignValues = new Map<Handle<unknown>, unknown>();
  const oneDone = () => {
    if (--remaining > 0 || failed) return;
    let value: unknown;
    try {
      value = rebuild(target, foreignValues);
    } catch (e) {
      return fail(e);
    }
    const flushed = run.durableAll(nodes);
    if (flushed === undefined) send(value);
    else flushed.then(() => send(value), fail);
  };
  const oneFailed = (e: unknown) => {
    if (failed) return;
    failed = true;
    fail(e);
  };
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    // Settled nodes (most of a gathered fan-out) are counted without a closure each.
    if (node.status === "succeeded") oneDone();
    else if (isFinal(node.status)) {
      run.handled.add(node.error!);
      oneFailed(node.error);
    } else {
      node.listeners = appendTo(node.listeners, () => {
        if (node.status === "succeeded") oneDone();
        else {
          run.handled.add(node.error!);
          oneFailed(node.error);
        }
      });
    }
    if (failed) return;
  }
  for (const h of foreign) {
    const slot = h[REF];
    slot.source.settle(slot.output, (v) => {
      foreignValues.set(h, v);
      oneDone();
    }, oneFailed);
  }
}

function deliverOne(
  run: Run,
  node: Node,
  output: string | undefined,
  send: (v: unknown) => void,
  fail: (e: unknown) => void,
): void {
  if (node.status !== "succeeded") {
    run.handled.add(node.error!);
    return fail(node.error);
  }
  const value = selectOutput(node.def, node.value, output);
  const flushed = run.durable(node);
  if (flushed === undefined) send(value);
  else flushed.then(() => send(value), fail);
}

function collectWaits(run: Run, x: unknown, nodes: Node[], foreign: Handle<unknown>[]): void {
  if (typeof x !== "object" || x === null) return;
  const slot = (x as { [REF]?: { source: RefSource } })[REF];
  if (slot !== undefined) {
    const source = slot.source;
    if (source instanceof Node && source.run === run) nodes.push(source);
    else foreign.push(x as Handle<unknown>);
    return;
  }
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) collectWaits(run, x[i], nodes, foreign);
  } else if (isPlainObject(x)) {
    for (const k in x) collectWaits(run, x[k], nodes, foreign);
  }
}

function rebuild(x: unknown, foreign: Map<Handle<unknown>, unknown>): unknown {
  if (typeof x !== "object" || x === null) return x;
  const slot = (x as { [REF]?: { source: RefSource; output: string | undefined } })[REF];
  if (slot !== undefined) {
    if (slot.source instanceof Node) {
      return selectOutput(slot.source.def, slot.source.value, slot.output);
    }
    return foreign.get(x as Handle<unknown>);
  }
  if (Array.isArray(x)) {
    const out = new Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = rebuild(x[i], foreign);
    return out;
  }
  if (isPlainObject(x)) {
    const out: Record<string, unknown> = {};
    for (const k in x) out[k] = rebuild(x[k], foreign);
    return out;
  }
  return x;
}

function frameError(frame: Frame, causes: WeftError[]): WeftError {
  const first = causes[0]!;
  if (frame.node === undefined) return first;
  const more = causes.length > 1 ? ` (and ${causes.length - 1} more)` : "";
  return new TaskFailedError(
    `${describeEntity(frame.node.def)} (node '${frame.node.id}') failed because ${
      first.nodeId ? `node '${first.nodeId}'` : "a node"
    } failed${more}: ${first.message}`,
    { nodeId: frame.node.id, task: frame.node.def.name, cause: first },
  );
}

function asWeftError(e: unknown, frame: Frame): WeftError {
  if (e instanceof WeftError) return e;
  const node = frame.node;
  const name = node?.def.name ?? frame.run.rootName;
  const error = new TaskFailedError(
    `${node ? describeEntity(node.def) : `'${name}'`} failed: ${describeCause(e).message}`,
    { nodeId: node?.id ?? name, task: name, cause: e },
  );
  return error;
}

function cancelled(run: Run): CancelledError {
  return new CancelledError(
    `Run '${run.id}' was cancelled; run it again with the same run id to resume`,
  );
}

// ---------------------------------------------------------------------------
// The task context

class Context implements TaskContext {
  readonly #node: Node;
  readonly attempt: number;
  constructor(node: Node) {
    this.#node = node;
    this.attempt = node.attempt;
  }
  get signal(): AbortSignal {
    const node = this.#node;
    if (node.controller === undefined) {
      node.controller = new AbortController();
      if (node.run.cancelled || node.frame.cancelled) node.controller.abort(cancelled(node.run));
    }
    return node.controller.signal;
  }
  get runId(): string {
    return this.#node.run.id;
  }
  get nodeId(): string {
    return this.#node.id;
  }
  log(...args: unknown[]): void {
    const node = this.#node;
    const message = args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" ");
    if (node.run.listening) {
      node.run.emit({
        type: "node log",
        runId: node.run.id,
        time: Date.now(),
        nodeId: node.id,
        entity: node.def.name,
        message,
      });
    } else console.error(`[${node.id}] ${message}`);
  }
}

// ---------------------------------------------------------------------------
// The run

class Run {
  readonly id: string;
  readonly rootName: string;
  readonly session: RunSession;
  readonly journal: ReadonlyMap<string, JournalEntry> | undefined;
  /** Every node, in the order added. */
  readonly nodes: Node[] = [];
  /** The nodes by id, made when first needed (most runs never look a node up by id). */
  #index: Map<string, Node> | undefined = undefined;
  readonly handled = new WeakSet<WeftError>();
  readonly limit: number;
  readonly useCache: boolean;
  readonly listening: boolean;
  readonly #onEvent: ((e: WeftEvent) => void) | undefined;
  readonly cancelGraceMs: number;
  readonly executor: TaskExecutor | undefined;
  fatal: WeftError | undefined = undefined;
  cancelled = false;
  cancelReason: WeftError | undefined = undefined;
  root: Frame | undefined = undefined;
  /** Tasks ready to run, in order. */
  #queue: Node[] = [];
  #head = 0;
  #active = 0;
  #perTask = new Map<TaskDef, number>();
  #parked = new Map<TaskDef, Node[]>();
  /** Tasks that go before the queue: parked calls freed by their task's limit. */
  #front: Node[] = [];
  #pumping = false;
  #pumpAgain = false;
  /** Task attempts called from flow bodies, waiting to start outside the frame: node, attempt, … */
  #deferred: (Node | number)[] = [];
  /** Resolves the promise whose reaction runs `#drain`; undefined until first needed. */
  #wake: (() => void) | undefined = undefined;
  /** The last time `now()` read, boxed once (see `now`). */
  #now: number | undefined = undefined;
  /** While positive, ready tasks queue up but do not start (a static frame adds all its nodes first). */
  held = 0;
  /** Whether new node ids must be checked against existing ones (see `Frame.#nextId`). */
  checkIds = false;

  constructor(
    id: string,
    rootName: string,
    session: RunSession,
    options: RunOptions,
  ) {
    this.id = id;
    this.rootName = rootName;
    this.session = session;
    this.journal = session.previous?.journal;
    this.limit = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.useCache = options.cache ?? true;
    this.#onEvent = options.onEvent;
    this.listening = options.onEvent !== undefined;
    this.cancelGraceMs = options.cancelGraceMs ?? 2000;
    this.executor = options.executor;
  }

  /**
   * `Date.now()`, as one shared number per millisecond: a time kept in a node
   * is a boxed number of 16 bytes, and most of a large run's nodes start and
   * end within a few milliseconds of each other.
   */
  now(): number {
    const t = Date.now();
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

  setFatal(error: WeftError): void {
    if (this.fatal !== undefined) return;
    this.fatal = error;
    this.root?.cancel(error);
  }

  /** Makes a node's result durable before someone acts on it; returns a promise only when it must wait. */
  durable(node: Node): Promise<void> | undefined {
    if (!this.session.pending(node)) return undefined;
    return this.session.flush() ?? undefined;
  }

  durableAll(nodes: readonly Node[]): Promise<void> | undefined {
    for (const n of nodes) if (this.session.pending(n)) return this.session.flush() ?? undefined;
    return undefined;
  }

  /** A node's inputs are ready. */
  ready(node: Node): void {
    const kind = node.def.kind;
    if (kind === "task") {
      node.status = "ready";
      if (this.listening) {
        this.emit({
          type: "node scheduled",
          runId: this.id,
          time: Date.now(),
          nodeId: node.id,
          entity: node.def.name,
        });
      }
      this.#queue.push(node);
      this.pump();
    } else this.#startComposite(node);
  }

  /** Starts ready tasks while slots are free. */
  pump(): void {
    if (this.#pumping || this.held > 0) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        const queue = this.#queue;
        while (this.#active < this.limit && (this.#head < queue.length || this.#front.length > 0)) {
          let node: Node;
          if (this.#front.length > 0) node = this.#front.shift()!;
          else {
            node = queue[this.#head]!;
            queue[this.#head++] = undefined as unknown as Node;
          }
          if (node.status !== "ready") continue;
          const def = node.def as TaskDef;
          if (def.concurrency !== undefined) {
            const n = this.#perTask.get(def) ?? 0;
            if (n >= def.concurrency) {
              let parked = this.#parked.get(def);
              if (parked === undefined) this.#parked.set(def, parked = []);
              parked.push(node);
              continue;
            }
            this.#perTask.set(def, n + 1);
          }
          this.#active++;
          this.#startTask(node);
        }
        if (this.#head > 1024 && this.#head * 2 > queue.length) {
          this.#queue = queue.slice(this.#head);
          this.#head = 0;
        }
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
  }

  #release(node: Node): void {
    this.#active--;
    const def = node.def as TaskDef;
    if (def.concurrency !== undefined) {
      this.#perTask.set(def, this.#perTask.get(def)! - 1);
      const parked = this.#parked.get(def);
      if (parked !== undefined && parked.length > 0) {
        // The next parked call of this task goes first.
        this.#front.push(parked.shift()!);
      }
    }
    this.pump();
  }

  #startTask(node: Node): void {
    node.status = "running";
    node.startedAt ??= this.now();
    // (Every node it depends on has succeeded: a failed one skips it instead.)
    node.inputsKnown();
    const def = node.def as TaskDef;
    // A result is durable before a task that depends on it starts.
    const deps = node.deps;
    if (deps !== undefined) {
      // (A retry starts again with no flush to wait for: the results were made durable.)
      node.deps = NO_DEPS;
      const flushed = this.durableAll(deps);
      if (flushed !== undefined) {
        flushed.then(() => this.#lookupCache(node, def), (e) => {
          this.#release(node);
          this.fail(node, asTaskError(node, e));
        });
        return;
      }
    }
    this.#lookupCache(node, def);
  }

  #lookupCache(node: Node, def: TaskDef): void {
    if (!(def.cache && this.useCache)) return this.#attempt(node);
    const key = cacheKey(def, node.inputs!);
    let hit: CacheHit | undefined | Promise<CacheHit | undefined>;
    try {
      hit = this.session.cacheGet(key);
    } catch (e) {
      this.#release(node);
      return this.fail(node, asTaskError(node, e));
    }
    const use = (h: CacheHit | undefined) => {
      if (h === undefined) return this.#attempt(node);
      node.cachedFrom = h.from;
      this.#release(node);
      if (this.listening) {
        this.emit({
          type: "node cached",
          runId: this.id,
          time: Date.now(),
          nodeId: node.id,
          entity: def.name,
          from: h.from,
        });
      }
      this.succeed(node, h.value);
    };
    if (hit instanceof Promise) {
      hit.then(use, (e) => {
        this.#release(node);
        this.fail(node, asTaskError(node, e));
      });
    } else use(hit);
  }

  #attempt(node: Node): void {
    if (node.status !== "running") {
      this.#release(node);
      return;
    }
    const def = node.def as TaskDef;
    const attempt = ++node.attempt;
    node.controller = undefined;
    if (def.timeoutMs !== undefined) {
      const controller = node.controller = new AbortController();
      node.timer = setTimeout(() => {
        if (node.attempt !== attempt || node.status !== "running") return;
        const error = new TimeoutError(
          `Task '${def.name}' (node '${node.id}') timed out after ${def.timeoutMs} ms on attempt ${attempt}; raise its 'timeout' or make it faster`,
          { nodeId: node.id, task: def.name, attempt },
        );
        controller.abort(error);
        this.#attemptFailed(node, attempt, error);
      }, def.timeoutMs);
    }
    this.session.changed(node);
    if (this.listening) {
      this.emit({
        type: "node started",
        runId: this.id,
        time: Date.now(),
        nodeId: node.id,
        entity: def.name,
        attempt,
      });
    }
    if (this.executor === undefined && frames.getStore() !== undefined) {
      // Called from a flow body: the task must run outside the flow's frame,
      // so that a task calling a task runs it directly. Entering another async
      // context costs about 1.3 µs in Deno 2.9 (more than the rest of a task
      // call), so the call is handed to a microtask subscribed outside any
      // frame instead: the body's calls up to its next await point start
      // together, in order, right after it.
      this.#deferred.push(node, attempt);
      if (this.#deferred.length === 2) this.#kick();
      return;
    }
    this.#invoke(node, attempt);
  }

  /** Wakes the microtask that starts deferred calls; armed, the first time, outside any frame. */
  #kick(): void {
    if (this.#wake === undefined) frames.run(undefined, this.#arm);
    this.#wake!();
  }

  /** Subscribes the next drain; runs outside any frame (first from `#kick`, then from the drain). */
  readonly #arm = (): void => {
    new Promise<void>((resolve) => this.#wake = resolve).then(this.#drain);
  };

  /** Starts the calls deferred by flow bodies, in the order they were made. */
  readonly #drain = (): void => {
    const batch = this.#deferred;
    this.#deferred = [];
    this.#arm();
    for (let i = 0; i < batch.length; i += 2) {
      const node = batch[i] as Node;
      const attempt = batch[i + 1] as number;
      // A timeout or a cancellation may have ended the attempt meanwhile (and freed its slot).
      if (node.attempt !== attempt || node.status !== "running") continue;
      if (this.cancelled || node.frame.cancelled) {
        this.#attemptFailed(node, attempt, node.frame.cancelReason ?? this.cancelReason);
      } else this.#invoke(node, attempt);
    }
  };

  /** Calls the task's function (or hands it to the executor) for one attempt. */
  #invoke(node: Node, attempt: number): void {
    const def = node.def as TaskDef;
    const ctx = new Context(node);
    let result: unknown;
    try {
      if (this.executor !== undefined) result = this.executor.execute(def, node.inputs!, ctx);
      else {
        const fn = def.fn as (...a: unknown[]) => unknown;
        // (`this` is null for the object style and undefined for the positional one, as it was.)
        if (def.style === "object") result = Reflect.apply(fn, null, [node.inputs!, ctx]);
        else {
          const params = def.params;
          const n = params.length;
          if (n <= 2) {
            result = n === 0
              ? fn(ctx)
              : n === 1
              ? fn(node.input(params[0]!.name), ctx)
              : fn(node.input(params[0]!.name), node.input(params[1]!.name), ctx);
          } else {
            const args = new Array(n + 1);
            for (let i = 0; i < n; i++) args[i] = node.input(params[i]!.name);
            args[n] = ctx;
            result = Reflect.apply(fn, undefined, args);
          }
        }
      }
    } catch (e) {
      return this.#attemptFailed(node, attempt, e);
    }
    if (
      typeof result === "object" && result !== null &&
      typeof (result as PromiseLike<unknown>).then === "function"
    ) {
      (result as PromiseLike<unknown>).then(
        (v) => this.#attemptDone(node, attempt, v),
        (e) => this.#attemptFailed(node, attempt, e),
      );
    } else this.#attemptDone(node, attempt, result);
  }

  #attemptDone(node: Node, attempt: number, result: unknown): void {
    if (node.attempt !== attempt || node.status !== "running") return;
    if (node.timer !== undefined) clearTimeout(node.timer);
    node.timer = undefined;
    const def = node.def as TaskDef;
    let value = result;
    try {
      if (def.namedOutputs) value = namedOutputs(node, def, result);
      if (
        (typeof value === "object" && value !== null) || typeof value === "function" ||
        typeof value === "symbol"
      ) {
        checkValue(value, () => `The value returned by task '${def.name}' (node '${node.id}')`);
      }
    } catch (e) {
      this.#release(node);
      return this.fail(node, asTaskError(node, e));
    }
    this.#release(node);
    if (def.cache && this.useCache) {
      node.value = value;
      try {
        this.session.cachePut(cacheKey(def, node.inputs!), node);
      } catch (e) {
        console.error(
          `weft: could not cache the result of node '${node.id}': ${describeCause(e).message}`,
        );
      }
    }
    this.succeed(node, value);
  }

  #attemptFailed(node: Node, attempt: number, e: unknown): void {
    if (node.attempt !== attempt || node.status !== "running") return;
    if (node.timer !== undefined) clearTimeout(node.timer);
    node.timer = undefined;
    const def = node.def as TaskDef;
    const denied = permissionDenied(node, e);
    const retryable = denied === undefined && !(e instanceof ValidationError) && !this.cancelled &&
      !node.frame.cancelled;
    if (retryable && attempt <= def.retries) {
      const base = def.retryDelayMs * 2 ** (attempt - 1);
      const delayMs = Math.round(Math.min(RETRY_CAP_MS, base) * (0.5 + Math.random() / 2));
      if (this.listening) {
        this.emit({
          type: "node retrying",
          runId: this.id,
          time: Date.now(),
          nodeId: node.id,
          entity: def.name,
          attempt,
          delayMs,
          error: describeError(e),
        });
      }
      // The slot is free during the delay; the retry queues again.
      this.#release(node);
      node.status = "ready";
      node.timer = setTimeout(() => {
        node.timer = undefined;
        if (node.status !== "ready") return;
        this.#queue.push(node);
        this.pump();
      }, delayMs);
      this.pump();
      return;
    }
    this.#release(node);
    if (this.cancelled || node.frame.cancelled) {
      this.#markCancelled(node, node.frame.cancelReason ?? this.cancelReason ?? cancelled(this));
      return;
    }
    this.fail(node, denied ?? asTaskError(node, e));
  }

  /** Records success and wakes whoever waits. */
  succeed(node: Node, value: unknown): void {
    if (isFinal(node.status)) return;
    node.value = value;
    node.status = "succeeded";
    node.finishedAt = this.now();
    node.controller = undefined;
    this.session.changed(node);
    if (this.listening) {
      this.emit({
        type: "node succeeded",
        runId: this.id,
        time: node.finishedAt,
        nodeId: node.id,
        entity: node.def.name,
        attempt: node.attempt,
        durationMs: node.finishedAt - (node.startedAt ?? node.finishedAt),
        replayed: node.replayed,
      });
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
    if (isFinal(node.status)) return;
    node.error = error;
    node.causes = causes;
    node.status = "failed";
    node.finishedAt = Date.now();
    node.controller = undefined;
    this.session.changed(node);
    if (this.listening) {
      this.emit({
        type: "node failed",
        runId: this.id,
        time: node.finishedAt,
        nodeId: node.id,
        entity: node.def.name,
        attempt: node.attempt,
        error: describeError(error),
        skipped: false,
      });
    }
    this.#skipDependents(node, error);
    this.#settled(node);
  }

  /** A node that cannot run because a node it depends on failed. */
  skip(node: Node, error: WeftError): void {
    if (isFinal(node.status)) return;
    node.error = error;
    node.status = "skipped";
    node.finishedAt = Date.now();
    this.session.changed(node);
    if (this.listening) {
      this.emit({
        type: "node failed",
        runId: this.id,
        time: node.finishedAt,
        nodeId: node.id,
        entity: node.def.name,
        attempt: node.attempt,
        error: describeError(error),
        skipped: true,
      });
    }
    this.#skipDependents(node, error);
    this.#settled(node);
  }

  #skipDependents(node: Node, error: WeftError): void {
    const dependents = node.dependents;
    node.dependents = undefined;
    if (dependents !== undefined) { for (const d of dependents) this.skip(d, error); }
  }

  /** Cancels a node: pending ones at once, running ones through their signal. */
  cancelNode(node: Node, reason: WeftError): void {
    const status = node.status;
    if (isFinal(status)) return;
    if (status === "running" && node.def.kind === "task") {
      node.controller?.abort(reason);
      // Give it a moment to stop; then stop waiting for it.
      node.timer = setTimeout(() => {
        if (node.status === "running") {
          this.#release(node);
          this.#markCancelled(node, reason);
        }
      }, this.cancelGraceMs);
      return;
    }
    if (node.child !== undefined) {
      node.child.cancel(reason);
      return;
    }
    if (node.timer !== undefined) clearTimeout(node.timer);
    this.#markCancelled(node, reason);
  }

  #markCancelled(node: Node, reason: WeftError): void {
    if (node.timer !== undefined) clearTimeout(node.timer);
    node.timer = undefined;
    node.error = reason;
    node.status = "cancelled";
    node.finishedAt = Date.now();
    this.session.changed(node);
    if (this.listening) {
      this.emit({
        type: "node cancelled",
        runId: this.id,
        time: node.finishedAt,
        nodeId: node.id,
        entity: node.def.name,
      });
    }
    this.handled.add(reason);
    this.#skipDependents(node, reason);
    this.#settled(node);
  }

  #settled(node: Node): void {
    const listeners = node.listeners;
    node.listeners = undefined;
    if (listeners !== undefined) { for (let i = 0; i < listeners.length; i++) listeners[i]!(); }
    node.frame.childSettled(node);
  }

  /** Runs a workflow, flow or launch plan node as a frame of its own. */
  #startComposite(node: Node): void {
    node.status = "running";
    node.startedAt ??= Date.now();
    node.attempt = 1;
    this.session.changed(node);
    if (this.listening) {
      this.emit({
        type: "node started",
        runId: this.id,
        time: node.startedAt,
        nodeId: node.id,
        entity: node.def.name,
        attempt: 1,
      });
    }
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
        this.#markCancelled(node, error);
      } else this.fail(node, error, causes);
    };
    startBody(this, node, node.def, inputs, done).catch((e) =>
      this.fail(node, asTaskError(node, e))
    );
  }

  /** Cancels the whole run. */
  cancel(reason: WeftError): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.cancelReason = reason;
    this.root?.cancel(reason);
  }
}

function cacheKey(def: TaskDef, inputs: Record<string, unknown>): string {
  return sha256(`${def.name}\u0000${def.version ?? ""}\u0000${encodeValue(inputs, true)}`);
}

function namedOutputs(node: Node, def: TaskDef, result: unknown): Record<string, unknown> {
  const names = def.outputs;
  if (Array.isArray(result)) {
    if (result.length !== names.length) {
      throw new ValidationError(
        `Task '${def.name}' (node '${node.id}') declares ${names.length} outputs (${
          names.join(", ")
        }) but returned an array of ${result.length}`,
      );
    }
    const out: Record<string, unknown> = {};
    names.forEach((n, i) => (out[n] = result[i]));
    return out;
  }
  if (!isPlainObject(result)) {
    throw new ValidationError(
      `Task '${def.name}' (node '${node.id}') declares outputs ${names.join(", ")} but returned ${
        result === null ? "null" : typeof result
      }; return an object with these keys (or an array in this order)`,
    );
  }
  const missing = names.filter((n) => !(n in result));
  if (missing.length > 0) {
    throw new ValidationError(
      `Task '${def.name}' (node '${node.id}') declares outputs ${
        names.join(", ")
      } but its result lacks ${missing.join(", ")}`,
    );
  }
  const out: Record<string, unknown> = {};
  for (const n of names) out[n] = result[n];
  return out;
}

function describeError(e: unknown): ReturnType<WeftError["toJSON"]> {
  if (e instanceof WeftError) return e.toJSON();
  const c = describeCause(e);
  return { name: c.name, message: c.message };
}

const DENIED = /Requires (\w+) access to "([^"]*)"/;

function permissionDenied(node: Node, e: unknown): PermissionDeniedError | undefined {
  const notCapable = (globalThis as { Deno?: { errors?: { NotCapable?: unknown } } }).Deno?.errors
    ?.NotCapable;
  let err: unknown = e;
  // The refusal may be wrapped as the cause of another error.
  for (let i = 0; i < 4 && err !== undefined && err !== null; i++) {
    const message = (err as { message?: unknown }).message;
    const m = typeof message === "string" ? DENIED.exec(message) : null;
    if (
      m !== null &&
      (typeof notCapable !== "function" || err instanceof (notCapable as new () => Error) ||
        (err as Error).name === "NotCapable")
    ) {
      const kind = m[1]!;
      const value = m[2]!;
      const declared = kind === "net" ? value.replace(/:\d+$/, (p) => p) : value;
      return new PermissionDeniedError(
        `Task '${node.def.name}' (node '${node.id}') was refused ${kind} access to "${value}", which it does not declare; add permissions: { ${kind}: [${
          JSON.stringify(declared)
        }] } to the task`,
        { kind, value, nodeId: node.id, task: node.def.name, attempt: node.attempt, cause: err },
      );
    }
    err = (err as { cause?: unknown }).cause;
  }
  return undefined;
}

function asTaskError(node: Node, e: unknown): WeftError {
  if (
    e instanceof TaskFailedError || e instanceof NonDeterminismError ||
    e instanceof PermissionDeniedError || e instanceof CancelledError
  ) return e;
  const c = describeCause(e);
  return new TaskFailedError(
    `${describeEntity(node.def)} (node '${node.id}') failed${
      node.attempt > 1 ? ` after ${node.attempt} attempts` : ""
    }: ${c.message}`,
    { nodeId: node.id, task: node.def.name, attempt: node.attempt, cause: e },
  );
}

// ---------------------------------------------------------------------------
// Bodies

/** Starts the frame that runs `def` with `inputs`; `done` receives its value. */
async function startBody(
  run: Run,
  node: Node | undefined,
  def: EntityDef,
  inputs: Record<string, unknown>,
  done: (value: unknown, error: WeftError | undefined, causes?: WeftError[]) => void,
  checked = false,
): Promise<void> {
  switch (def.kind) {
    case "task": {
      const frame = new TaskFrame(run, node, done);
      attach(run, node, frame);
      frame.start(def, inputs);
      return;
    }
    case "workflow": {
      const graph = def as GraphDef;
      const values = checked ? inputs : await checkGraphInputs(graph, inputs, node?.id);
      const frame = new StaticFrame(run, node, done);
      attach(run, node, frame);
      frame.start(graph, values);
      return;
    }
    case "flow": {
      const frame = new FlowFrame(run, node, done);
      attach(run, node, frame);
      frame.start(def as FlowDef, inputs);
      return;
    }
    case "launchPlan": {
      const lp = def as LaunchPlanDef;
      return startBody(run, node, lp.target, lp.merge(inputs), done);
    }
  }
}

function attach(run: Run, node: Node | undefined, frame: Frame): void {
  if (node === undefined) run.root = frame;
  else node.child = frame;
  if (run.cancelled) frame.cancel(run.cancelReason ?? cancelled(run));
  else if (node !== undefined && (isFinal(node.status) || node.frame.cancelled)) {
    frame.cancel(node.error ?? cancelled(run));
  }
}

/**
 * Checks workflow inputs against their types and fills defaults.
 *
 * @param graph The workflow.
 * @param inputs The inputs by name.
 * @param nodeId The node running it, for messages.
 * @returns The checked inputs (a Standard Schema may transform values).
 */
export async function checkGraphInputs(
  graph: GraphDef,
  inputs: Record<string, unknown>,
  nodeId?: string,
): Promise<Record<string, unknown>> {
  graph.validate();
  const where = nodeId === undefined
    ? `workflow '${graph.name}'`
    : `node '${nodeId}' (workflow '${graph.name}')`;
  checkInputNames(graph, inputs, where);
  const out: Record<string, unknown> = {};
  for (const input of graph.inputs.values()) {
    if (!(input.name in inputs)) {
      out[input.name] = "default" in input ? input.default : undefined;
      continue;
    }
    try {
      out[input.name] = await input.type.check(inputs[input.name], input.name);
    } catch (e) {
      if (e instanceof ValidationError) throw new ValidationError(`${where}: ${e.message}`);
      throw e;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Running

let lastIdTime = 0;
let idCounter = 0;

/**
 * A new run id: time-ordered and unique in the process.
 *
 * @returns Such as `mhf3k2a1-7xq9` .
 */
export function newRunId(): string {
  const now = Date.now();
  idCounter = now === lastIdTime ? idCounter + 1 : 0;
  lastIdTime = now;
  const rand = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36).padStart(7, "0").slice(
    0,
    6,
  );
  return `${now.toString(36)}${idCounter.toString(36).padStart(2, "0")}-${rand}`;
}

/**
 * Checks and completes the inputs of a root call: names, then types and
 * defaults for workflows. A launch plan's defaults and fixed inputs are
 * merged in, and its target is what runs.
 *
 * @param def The entity.
 * @param inputs The inputs by name.
 * @returns What to run, with the inputs to run it with.
 */
async function prepareInputs(
  def: EntityDef,
  inputs: Record<string, unknown>,
): Promise<{ target: EntityDef; values: Record<string, unknown> }> {
  if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) {
    throw new ValidationError(
      `The inputs of ${
        describeEntity(def)
      } must be an object keyed by input name, such as { x: 1 }`,
    );
  }
  let target = def;
  let merged = inputs;
  while (target.kind === "launchPlan") {
    const lp = target as LaunchPlanDef;
    checkInputNames(lp, merged, describeEntity(lp));
    merged = lp.merge(merged);
    target = lp.target;
  }
  if (target.kind === "workflow") {
    return { target, values: await checkGraphInputs(target as GraphDef, merged) };
  }
  checkInputNames(target, merged, describeEntity(target));
  for (const key in merged) {
    checkValue(merged[key], () => `Input '${key}' of ${describeEntity(target)}`);
  }
  return { target, values: merged };
}

/**
 * Runs an entity and resolves to the full {@linkcode RunResult}.
 *
 * @param def The entity.
 * @param inputs The inputs by name.
 * @param options Store, concurrency, run id, cancellation, events.
 * @returns The result, also for failed runs.
 * @throws {ValidationError} When the inputs are wrong; nothing has run.
 */
export async function runEntity(
  def: EntityDef,
  inputs: Record<string, unknown>,
  options: RunOptions = {},
): Promise<RunResult> {
  checkRunOptions(options);
  const { target, values } = await prepareInputs(def, inputs);
  const store = typeof options.store === "object"
    ? options.store
    : options.store === undefined
    ? defaultStore()
    : await openStore(options.store);
  const ownsStore = typeof options.store === "string" && options.store !== "memory";
  try {
    return await runWithStore(def, target, values, store, options);
  } finally {
    if (ownsStore) await store.close();
  }
}

function checkRunOptions(options: RunOptions): void {
  const c = options.concurrency;
  if (c !== undefined && (!Number.isInteger(c) || c < 1)) {
    throw new ValidationError(
      `Cannot run as 'concurrency' must be a positive integer: current value is ${c}`,
    );
  }
  if (
    options.runId !== undefined &&
    (typeof options.runId !== "string" || !/^[\w.:-]{1,128}$/.test(options.runId))
  ) {
    throw new ValidationError(
      `Cannot use the run id ${
        JSON.stringify(options.runId)
      }: use 1 to 128 letters, digits, '_', '-', '.' or ':'`,
    );
  }
}

async function runWithStore(
  def: EntityDef,
  target: EntityDef,
  inputs: Record<string, unknown>,
  store: Store,
  options: RunOptions,
): Promise<RunResult> {
  const runId = options.runId ?? newRunId();
  const startedAt = Date.now();
  const inputsDigest = digestOf(encodeValue(inputs, true));
  const start = {
    runId,
    entity: def.name,
    kind: def.kind,
    inputs,
    inputsDigest,
    startedAt,
    weftVersion: WEFT_VERSION,
    ...(options.script === undefined ? {} : { script: options.script }),
  };
  const session = await store.openRun(start);
  const previous = session.previous;
  if (previous !== undefined) {
    checkPrevious(runId, def, inputsDigest, previous);
    if (previous.status === "succeeded") {
      return {
        runId,
        status: "succeeded",
        outputs: previous.outputs,
        errors: [],
        graph: { nodes: [], edges: [] },
        startedAt: new Date(previous.startedAt),
        finishedAt: new Date(previous.finishedAt ?? previous.startedAt),
      };
    }
  }
  const run = new Run(runId, def.name, session, options);
  if (run.listening) {
    run.emit({
      type: "run started",
      runId,
      time: startedAt,
      entity: def.name,
      inputs,
      resumed: previous !== undefined,
    });
  }
  const signal = options.signal;
  const onAbort = () => run.cancel(cancelled(run));
  if (signal?.aborted) run.cancel(cancelled(run));
  signal?.addEventListener("abort", onAbort, { once: true });
  let outcome: { value: unknown; error: WeftError | undefined; causes: WeftError[] | undefined };
  try {
    outcome = await new Promise((resolve) => {
      startBody(
        run,
        undefined,
        target,
        inputs,
        (value, error, causes) => resolve({ value, error, causes }),
        true,
      )
        .catch((e) =>
          resolve({
            value: undefined,
            error: e instanceof WeftError ? e : asTaskErrorRoot(def, e),
            causes: undefined,
          })
        );
    });
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  const finishedAt = Date.now();
  let status: RunStatus;
  let errors: WeftError[] = [];
  if (outcome.error === undefined) status = "succeeded";
  else if (run.fatal === undefined && outcome.error instanceof CancelledError && run.cancelled) {
    status = "cancelled";
    errors = [outcome.error];
  } else {
    status = "failed";
    errors = outcome.causes ?? [outcome.error];
  }
  const outputs = status === "succeeded" ? outcome.value : undefined;
  await session.finish({ status, outputs, errors, finishedAt });
  if (run.listening) {
    run.emit({
      type: "run finished",
      runId,
      time: finishedAt,
      status,
      outputs,
      errors: errors.map((e) => e.toJSON()),
      durationMs: finishedAt - startedAt,
    });
  }
  return withLazyGraph({
    runId,
    status,
    outputs,
    errors,
    graph: undefined as unknown as RunGraph,
    startedAt: new Date(startedAt),
    finishedAt: new Date(finishedAt),
  }, run);
}

/**
 * Makes `result.graph` build the run's graph when first read. Most callers
 * never read it (direct calls, `execute`, the CLI), and for a run of 100,000
 * nodes it is 300,000 objects: about 7% of the run's time and 200 B of heap
 * per node. Every node is final when a run ends, so the graph read later is
 * the graph at the end. The property stays an own enumerable one (spread,
 * JSON, structuredClone and deep equality see the graph), and the result
 * prints as a plain object would.
 */
function withLazyGraph(result: RunResult, run: Run): RunResult {
  let graph: RunGraph | undefined;
  let source: Run | undefined = run;
  Object.defineProperty(result, "graph", {
    get(): RunGraph {
      if (graph === undefined) {
        graph = runGraph(source!);
        source = undefined;
      }
      return graph;
    },
    set(value: RunGraph) {
      graph = value;
      source = undefined;
    },
    enumerable: true,
    configurable: true,
  });
  Object.defineProperties(result, PRINT_AS_DATA);
  return result;
}

/** Printing hooks (Deno, node:util) that show a result with its graph, as a plain object prints. */
const PRINT_AS_DATA: PropertyDescriptorMap = {
  [Symbol.for("Deno.customInspect")]: {
    value(this: RunResult, inspect: (v: unknown, o: unknown) => string, options: unknown) {
      return inspect({ ...this }, options);
    },
  },
  [Symbol.for("nodejs.util.inspect.custom")]: {
    value(
      this: RunResult,
      _depth: number,
      options: unknown,
      inspect: (v: unknown, o: unknown) => string,
    ) {
      return inspect({ ...this }, options);
    },
  },
};

function asTaskErrorRoot(def: EntityDef, e: unknown): WeftError {
  return new TaskFailedError(`${describeEntity(def)} failed: ${describeCause(e).message}`, {
    nodeId: def.name,
    task: def.name,
    cause: e,
  });
}

function checkPrevious(
  runId: string,
  def: EntityDef,
  inputsDigest: string,
  previous: PreviousRun,
): void {
  if (previous.entity !== def.name) {
    throw new ValidationError(
      `Run '${runId}' ran '${previous.entity}', not '${def.name}'; resume it with the same workflow or start a new run id`,
    );
  }
  if (previous.inputsDigest !== inputsDigest) {
    throw new ValidationError(
      `Run '${runId}' was started with other inputs; resume it with the same inputs (weft resume ${runId} reuses them) or start a new run id`,
    );
  }
}

function runGraph(run: Run): RunGraph {
  const list = run.nodes;
  const nodes: RunGraphNode[] = new Array(list.length);
  const edges: RunGraphEdge[] = [];
  for (let i = 0; i < list.length; i++) {
    const node = list[i]!;
    nodes[i] = graphNode(node);
    if (node.hasHandles) {
      for (const input in node.args) addEdges(node.args[input], node.id, input, edges);
    }
  }
  return { nodes, edges };
}

/** A node as the run's graph shows it: the keys in a fixed order, optional ones only when set. */
function graphNode(node: Node): RunGraphNode {
  const parentId = node.parentId;
  const { startedAt, finishedAt } = node;
  // The common shapes are made whole, so that each object is allocated at its final size.
  if (
    node.cachedFrom === undefined && !node.replayed && startedAt !== undefined &&
    finishedAt !== undefined
  ) {
    return parentId === undefined
      ? {
        id: node.id,
        entity: node.def.name,
        kind: node.def.kind,
        status: node.status,
        attempts: node.attempt,
        startedAt,
        finishedAt,
      }
      : {
        id: node.id,
        entity: node.def.name,
        kind: node.def.kind,
        status: node.status,
        attempts: node.attempt,
        parentId,
        startedAt,
        finishedAt,
      };
  }
  const n: RunGraphNode = {
    id: node.id,
    entity: node.def.name,
    kind: node.def.kind,
    status: node.status,
    attempts: node.attempt,
  };
  if (parentId !== undefined) n.parentId = parentId;
  if (node.cachedFrom !== undefined) n.cached = true;
  if (node.replayed) n.replayed = true;
  if (startedAt !== undefined) n.startedAt = startedAt;
  if (finishedAt !== undefined) n.finishedAt = finishedAt;
  return n;
}

function addEdges(x: unknown, to: string, input: string, edges: RunGraphEdge[]): void {
  if (typeof x !== "object" || x === null) return;
  const slot = (x as { [REF]?: { source: RefSource; output: string | undefined } })[REF];
  if (slot !== undefined) {
    const source = slot.source as Node;
    const output = slot.output;
    edges.push(
      output === undefined
        ? { from: source.id, to, input }
        : { from: source.id, to, input, output },
    );
    return;
  }
  if (Array.isArray(x)) { for (const v of x) addEdges(v, to, input, edges); }
  else if (isPlainObject(x)) { for (const k in x) addEdges(x[k], to, input, edges); }
}

/**
 * Runs an entity and resolves to its value, as `execute` and direct calls do.
 *
 * @param def The entity.
 * @param inputs The inputs by name.
 * @param options Run options.
 * @returns The value: nothing, the single output, or outputs by name.
 * @throws {ValidationError} On bad inputs.
 * @throws {TaskFailedError} When the run fails.
 */
export async function executeEntity(
  def: EntityDef,
  inputs: Record<string, unknown>,
  options: RunOptions = {},
): Promise<unknown> {
  const result = await runEntity(def, inputs, options);
  if (result.status === "succeeded") return result.outputs;
  throw result.errors[0] ?? cancelledRoot(result.runId);
}

function cancelledRoot(runId: string): CancelledError {
  return new CancelledError(`Run '${runId}' was cancelled`);
}

/** For tests: the engine's internal node class. */
export type { Node as EngineNode };
