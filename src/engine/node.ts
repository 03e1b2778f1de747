/**
 * A node: one call of an entity in a run, with its arguments (handles where
 * values come from other nodes), status, attempts, value or error. Nodes are
 * the engine's unit of scheduling and what stores record.
 *
 * @module
 */

import { frames } from "../core/call_site.ts";
import { ValidationError, type WeftError } from "../core/errors.ts";
import { digestOf, toJsonTree } from "../core/values.ts";
import type { EntityDef, TaskDef } from "../define/defs.ts";
import { selectOutput } from "../define/entity.ts";
import type { RefSlot, RefSource } from "../define/handle.ts";
import type { InputSource, NodeRecord, NodeStatus } from "../store/mod.ts";
import { forEachHandle, mapHandles, slotOf } from "./handles.ts";

/** What a node needs of its run. */
export interface NodeRun {
  /** The run id. */
  readonly id: string;
  /** Errors a flow has seen (caught or rethrown), so that they do not count as unhandled. */
  readonly handled: WeakSet<WeftError>;
  /** Makes a node's result durable before someone acts on it; a promise only when it must wait. */
  durable(node: Node): Promise<void> | undefined;
  /** Makes a node start only after others (`after`). */
  order(node: Node, deps: readonly RefSource[]): void;
}

/** What a node needs of the frame that called it (and of the frame it runs, for a workflow or flow). */
export interface NodeFrame {
  /** The run. */
  readonly run: NodeRun;
  /** The node this frame runs, or undefined for the run's root. */
  readonly node: Node | undefined;
  /** Whether the frame is cancelled. */
  readonly cancelled: boolean;
  /** Whether the frame runs inside `nonCancellable` (its node was called there, or its caller runs there). */
  readonly shielded: boolean;
  /** How deep the frame is: 0 for the run's root. */
  readonly depth: number;
  /** Why, when it is. */
  readonly cancelReason: WeftError | undefined;
  /** A child settled. */
  childSettled(node: Node): void;
  /** Stops the frame: pending children are cancelled, running ones aborted. */
  cancel(reason: WeftError): void;
}

/**
 * The statuses after which a node never changes.
 *
 * @param status A node status.
 * @returns Whether it is final.
 */
export function isFinal(status: NodeStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "skipped" ||
    status === "cancelled";
}

/**
 * The node whose failure a node that ended without a value carries: itself,
 * or for one skipped because a node it depends on (or starts after) failed,
 * that node, followed through skipped ones.
 *
 * @param node A node that ended without a value.
 * @returns The node that failed (or was cancelled), or undefined when it cannot be found.
 */
export function failedSource(node: Node): Node | undefined {
  while (node.status === "skipped") {
    const error = node.error;
    const from: Node | undefined = node.deps?.find((d) => d.error === error) ??
      node.after?.find((d) => d.error === error);
    if (from === undefined) return undefined;
    node = from;
  }
  return node;
}

/**
 * When a node that ended did so, as a race and a wait for several handles
 * order them (the same whether they ended while it waited or before, as on
 * a replay, at their recorded times): for a node skipped because of a
 * failure, when the node that failed did.
 *
 * @param node A node that ended.
 * @returns The time (ms), Infinity when unknown.
 */
export function endedAt(node: Node): number {
  const source = node.status === "skipped" ? failedSource(node) ?? node : node;
  return source.finishedAt ?? Infinity;
}

/** A node that calls a task. */
export type TaskNode = Node & { readonly def: TaskDef };

/**
 * Whether a node calls a task.
 *
 * @param node A node.
 * @returns True when its entity is a task.
 */
export function isTaskNode(node: Node): node is TaskNode {
  return node.def.kind === "task";
}

/** Marks a node's inputs as its arguments with handles resolved (see `Node.inputs`). */
const RESOLVE_ARGS: Record<string, unknown> = Object.freeze({});

/** What `Node.deps` becomes once a node has started. */
export const NO_DEPS: readonly Node[] = Object.freeze([]);

/** The fields of a node that most nodes never set, kept apart so that a node stays small. */
interface NodeRare {
  error: WeftError | undefined;
  cachedFrom: string | undefined;
  replayed: boolean;
  caught: boolean;
  child: NodeFrame | undefined;
  controller: AbortController | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  causes: WeftError[] | undefined;
  digest: string | undefined;
  shielded: boolean;
  after: readonly Node[] | undefined;
  stopReason: WeftError | undefined;
}

/** The input sources of a node whose arguments hold no handles (shared: it is never written to). */
const NO_SOURCES: ReadonlyMap<string, InputSource[]> = new Map();

/**
 * One call of an entity in a run. A run of a large graph holds one per node
 * (and the memory store keeps them), so the class keeps few fields: what every
 * node uses, and the rest in one object made on first use.
 */
export class Node implements NodeRecord, RefSource {
  readonly id: string;
  readonly def: EntityDef;
  readonly frame: NodeFrame;
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
    frame: NodeFrame,
    seq: number,
    args: Record<string, unknown>,
  ) {
    this.id = id;
    this.def = def;
    this.frame = frame;
    this.seq = seq;
    this.args = args;
  }

  get run(): NodeRun {
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
      caught: false,
      child: undefined,
      controller: undefined,
      timer: undefined,
      causes: undefined,
      digest: undefined,
      shielded: false,
      after: undefined,
      stopReason: undefined,
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
  /** Whether a flow caught the node's failure and went on (a resume replays that failure). */
  get caught(): boolean {
    return this.#rare?.caught ?? false;
  }
  set caught(v: boolean) {
    if (v || this.#rare !== undefined) this.#rareFields().caught = v;
  }
  /** The frame running this node's body (workflows, flows). */
  get child(): NodeFrame | undefined {
    return this.#rare?.child;
  }
  set child(v: NodeFrame | undefined) {
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

  /** Whether the node was called inside `nonCancellable`: its frame's cancellation does not stop it. */
  get shielded(): boolean {
    return this.#rare?.shielded ?? false;
  }
  set shielded(v: boolean) {
    if (v || this.#rare !== undefined) this.#rareFields().shielded = v;
  }

  /** The nodes it starts after, though it takes no value from them (`after`). */
  get after(): readonly Node[] | undefined {
    return this.#rare?.after;
  }
  set after(v: readonly Node[] | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareFields().after = v;
  }

  /**
   * Whether the node must stop: it was cancelled itself (a map that can no
   * longer succeed, a fail-fast workflow), or its frame was and it is not
   * shielded from that.
   */
  get stopped(): boolean {
    return (this.frame.cancelled && !this.shielded) || this.#rare?.stopReason !== undefined;
  }

  /** Why the node was asked to stop, when it was cancelled itself. */
  get stopReason(): WeftError | undefined {
    return this.#rare?.stopReason ?? (this.stopped ? this.frame.cancelReason : undefined);
  }
  set stopReason(v: WeftError | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareFields().stopReason = v;
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
    const def = this.def;
    return def.kind === "task" ? def.version : undefined;
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

  inputSources(): ReadonlyMap<string, InputSource[]> {
    if (this.deps === undefined) return NO_SOURCES;
    const out = new Map<string, InputSource[]>();
    const args = this.args;
    for (const name in args) {
      const found: InputSource[] = [];
      forEachHandle(args[name], (slot) => {
        if (slot.source instanceof Node) found.push({ node: slot.source.id, output: slot.output });
      });
      if (found.length > 0) out.set(name, found);
    }
    return out;
  }

  wholeSource(input: string): { node: string; output: string } | undefined {
    const arg = this.args[input];
    if (typeof arg !== "object" || arg === null) return undefined;
    const slot = slotOf(arg);
    if (slot === undefined || !(slot.source instanceof Node)) return undefined;
    const source = slot.source;
    if (slot.output !== undefined) return { node: source.id, output: slot.output };
    return source.def.bare ? { node: source.id, output: source.def.outputs[0]! } : undefined;
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
    // A flow body that awaits the handle itself (`yield h`, `await h`) does so
    // in a step of its frame: told of the failure it is sent, the frame marks
    // it caught if the body goes on (see `FlowFrame.thrownAt`).
    const site = this.status === "succeeded"
      ? undefined
      : frames.getStore() as { thrownAt?(node: Node): void } | undefined;
    const deliver = () => {
      if (this.status === "succeeded") {
        const flushed = this.run.durable(this);
        const value = selectOutput(this.def, this.value, output);
        if (flushed === undefined) onValue(value);
        else flushed.then(() => onValue(value), onError);
      } else {
        this.run.handled.add(this.error!);
        site?.thrownAt?.(this);
        onError(this.error);
      }
    };
    if (isFinal(this.status)) deliver();
    else this.listeners = appendTo(this.listeners, deliver);
  }

  /**
   * Makes the node start only after `deps` (what `after(handle, ...deps)` asks in a flow).
   *
   * @param deps The sources of the handles it waits for.
   */
  orderAfter(deps: readonly RefSource[]): void {
    this.frame.run.order(this, deps);
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
export function inputsFit(def: EntityDef, args: Record<string, unknown>): boolean {
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
export function appendTo<T>(list: T[] | undefined, item: T): T[] {
  if (list === undefined) return [item];
  if (list.length === 1) return [list[0]!, item];
  list.push(item);
  return list;
}

/** Canonical text of a call's arguments: handles become node references. */
function encodeArgs(args: Record<string, unknown>): string {
  return JSON.stringify(mapHandles(args, refTree, true, canonicalLeaf));
}

/** A handle as a call's text shows it. */
function refTree(slot: RefSlot): unknown {
  const source = slot.source;
  const id = source instanceof Node ? source.id : source.describe();
  return slot.output === undefined ? { $ref: id } : { $ref: id, output: slot.output };
}

function canonicalLeaf(v: unknown): unknown {
  return toJsonTree(v, true);
}

function faithfulLeaf(v: unknown): unknown {
  return toJsonTree(v, false);
}

/** A call as people read it: `add(x: 7, y: 1)`. */
function showCall(entity: string, args: Record<string, unknown>): string {
  const parts = Object.keys(args).map((k) => {
    let text = JSON.stringify(mapHandles(args[k], refTree, false, faithfulLeaf)) ?? "undefined";
    if (text.length > 40) text = `${text.slice(0, 37)}...`;
    return `${k}: ${text}`;
  });
  return `${entity}(${parts.join(", ")})`;
}

/**
 * Replaces handles (all settled and succeeded) by their values, at any depth.
 *
 * @param x A value that may hold handles of this run's nodes.
 * @returns The value with every handle resolved.
 * @throws The error of a referred node that did not succeed.
 */
export function resolveValue(x: unknown): unknown {
  if (typeof x !== "object" || x === null) return x;
  const slot = slotOf(x);
  if (slot !== undefined) return valueOfSlot(slot);
  return mapHandles(x, valueOfSlot);
}

function valueOfSlot(slot: RefSlot): unknown {
  const node = slot.source as Node;
  if (node.status !== "succeeded") {
    throw node.error ?? new ValidationError(`${node.describe()} has not run`);
  }
  return selectOutput(node.def, node.value, slot.output);
}

/**
 * A node's inputs with handles resolved.
 *
 * @param node A node whose dependencies succeeded.
 * @returns Its inputs by name.
 */
export function resolveArgs(node: Node): Record<string, unknown> {
  if (!node.hasHandles) return node.args;
  return resolveValue(node.args) as Record<string, unknown>;
}
