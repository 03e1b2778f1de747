/**
 * The one walk over values that may hold handles: a handle, or arrays and
 * plain objects holding them at any depth. The engine collects the nodes a
 * call depends on, resolves arguments, gathers waits, rebuilds waited-for
 * structures, lists edges and encodes calls with these two functions.
 *
 * Callers test the common case first (the value itself is a handle, or holds
 * none) and walk only nested structures here, so that a sequential step or a
 * fanned-out task pays no callback.
 *
 * @module
 */

import { REF } from "../core/call_site.ts";
import { isPlainObject } from "../core/values.ts";
import type { RefSlot } from "../define/handle.ts";

/**
 * The slot of a handle, or undefined when `x` is not one.
 *
 * @param x An object.
 * @returns Its source and selected output.
 */
export function slotOf(x: object): RefSlot | undefined {
  return (x as { [REF]?: RefSlot })[REF];
}

/**
 * Calls `visit` for every handle in `x`, in order, at any depth.
 *
 * @param x A value.
 * @param visit Called with each handle's slot and the handle.
 */
export function forEachHandle(x: unknown, visit: (slot: RefSlot, handle: object) => void): void {
  if (typeof x !== "object" || x === null) return;
  const slot = (x as { [REF]?: RefSlot })[REF];
  if (slot !== undefined) return visit(slot, x);
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) forEachHandle(x[i], visit);
  } else if (isPlainObject(x)) {
    for (const k in x) forEachHandle(x[k], visit);
  }
}

/**
 * A copy of `x` with every handle replaced by what `map` returns for it;
 * other values are kept as they are.
 *
 * @param x A value.
 * @param map Gives the replacement of a handle.
 * @param sortKeys Whether plain objects get their keys sorted (canonical forms).
 * @param leaf Gives the replacement of a value that is neither a handle, an array nor a plain object.
 * @returns The copy.
 */
export function mapHandles(
  x: unknown,
  map: (slot: RefSlot, handle: object) => unknown,
  sortKeys = false,
  leaf?: (v: unknown) => unknown,
): unknown {
  if (typeof x !== "object" || x === null) return leaf === undefined ? x : leaf(x);
  const slot = (x as { [REF]?: RefSlot })[REF];
  if (slot !== undefined) return map(slot, x);
  if (Array.isArray(x)) {
    const out = new Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = mapHandles(x[i], map, sortKeys, leaf);
    return out;
  }
  if (isPlainObject(x)) {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(x);
    if (sortKeys) keys.sort();
    for (const k of keys) out[k] = mapHandles(x[k], map, sortKeys, leaf);
    return out;
  }
  return leaf === undefined ? x : leaf(x);
}
