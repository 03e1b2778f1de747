/**
 * Waiting for handles: what a flow's `yield` (and `wait`, `all`) and a flow's
 * returned value resolve through. A value is sent only once it is durable
 * (a result is durable before anything acts on it).
 *
 * @module
 */

import { isPlainObject } from "../core/values.ts";
import { selectOutput } from "../define/entity.ts";
import type { Handle } from "../define/handle.ts";
import { forEachHandle, mapHandles, slotOf } from "./handles.ts";
import { appendTo, endedAt, isFinal, Node, type NodeRun } from "./node.ts";

/** What waiting needs of the run. */
export interface WaitRun extends NodeRun {
  /** Makes the results of nodes durable; a promise only when it must wait. */
  durableAll(nodes: readonly Node[]): Promise<void> | undefined;
}

/**
 * Waits for every handle in `target` (at any depth) and calls `send` with the
 * structure of values, or `fail` with the first failure (and the node of this
 * run whose failure it is, when it is one's).
 */
export function waitAll(
  run: WaitRun,
  target: unknown,
  send: (v: unknown) => void,
  fail: (e: unknown, from?: Node) => void,
): void {
  if (typeof target !== "object" || target === null) return send(target);
  const slot = slotOf(target);
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
  const oneFailed = (e: unknown, from?: Node) => {
    if (failed) return;
    failed = true;
    fail(e, from);
  };
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    // Settled nodes (most of a gathered fan-out) are counted without a closure each.
    if (node.status === "succeeded") oneDone();
    else if (isFinal(node.status)) {
      const first = firstFailure(nodes, i);
      run.handled.add(first.error!);
      oneFailed(first.error, first);
    } else {
      node.listeners = appendTo(node.listeners, () => {
        if (node.status === "succeeded") oneDone();
        else {
          run.handled.add(node.error!);
          oneFailed(node.error, node);
        }
      });
    }
    if (failed) return;
  }
  for (const h of foreign) {
    const slot = slotOf(h)!;
    slot.source.settle(slot.output, (v) => {
      foreignValues.set(h, v);
      oneDone();
    }, (e) => oneFailed(e));
  }
}

/**
 * Of the nodes from `i` on (the first has ended without a value), the one
 * whose failure came first: the failure a live run sent first when they
 * ended while it waited, and the one a replay (where they ended before it
 * waits, at their recorded times) sends. A skipped node's failure came when
 * the node it depends on failed.
 */
function firstFailure(nodes: readonly Node[], i: number): Node {
  let first = nodes[i]!;
  let at = endedAt(first);
  for (let j = i + 1; j < nodes.length; j++) {
    const node = nodes[j]!;
    if (node.status === "succeeded" || !isFinal(node.status)) continue;
    const t = endedAt(node);
    if (t < at) {
      first = node;
      at = t;
    }
  }
  return first;
}

function deliverOne(
  run: WaitRun,
  node: Node,
  output: string | undefined,
  send: (v: unknown) => void,
  fail: (e: unknown, from?: Node) => void,
): void {
  if (node.status !== "succeeded") {
    run.handled.add(node.error!);
    return fail(node.error, node);
  }
  const value = selectOutput(node.def, node.value, output);
  const flushed = run.durable(node);
  if (flushed === undefined) send(value);
  else flushed.then(() => send(value), fail);
}

function collectWaits(run: WaitRun, x: object, nodes: Node[], foreign: Handle<unknown>[]): void {
  forEachHandle(x, (slot, handle) => {
    const source = slot.source;
    if (source instanceof Node && source.run === run) nodes.push(source);
    else foreign.push(handle as Handle<unknown>);
  });
}

/** The structure waited for, with each handle replaced by its value. */
function rebuild(x: unknown, foreign: Map<Handle<unknown>, unknown>): unknown {
  return mapHandles(
    x,
    (slot, handle) =>
      slot.source instanceof Node
        ? selectOutput(slot.source.def, slot.source.value, slot.output)
        : foreign.get(handle as Handle<unknown>),
  );
}
