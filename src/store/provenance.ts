/**
 * What stores need to record provenance: a node's outputs by name, where
 * each input came from, and short previews of values for people.
 *
 * @module
 */

import { REF } from "../core/call_site.ts";
import { isPlainObject } from "../define/handle.ts";
import type { InputSource, NodeRecord } from "./mod.ts";

/**
 * A succeeded node's outputs by name.
 *
 * @param node The node.
 * @returns One entry per output: the whole value when the node has one output.
 */
export function nodeOutputs(node: NodeRecord): { name: string; value: unknown }[] {
  const names = node.outputNames();
  if (names.length === 0) return [];
  if (node.bare) return [{ name: names[0]!, value: node.value }];
  const value = node.value as Record<string, unknown> | undefined;
  return names.map((name) => ({ name, value: value?.[name] }));
}

/**
 * Rebuilds a node's whole value from its outputs.
 *
 * @param bare Whether the node has a single output that is its whole value.
 * @param outputs The outputs by name, in order.
 * @returns The whole value.
 */
export function wholeValue(bare: boolean, outputs: { name: string; value: unknown }[]): unknown {
  if (bare) return outputs[0]?.value;
  if (outputs.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const o of outputs) out[o.name] = o.value;
  return out;
}

/**
 * The nodes each input of a call takes values from.
 *
 * @param args The call's inputs by name, with handles.
 * @returns For each input with handles: the producing nodes and outputs.
 */
export function inputSources(args: Readonly<Record<string, unknown>>): Map<string, InputSource[]> {
  const out = new Map<string, InputSource[]>();
  for (const name of Object.keys(args)) {
    const found: InputSource[] = [];
    collect(args[name], found);
    if (found.length > 0) out.set(name, found);
  }
  return out;
}

function collect(x: unknown, found: InputSource[]): void {
  if (typeof x !== "object" || x === null) return;
  const slot = (x as { [REF]?: { source: { id?: string }; output: string | undefined } })[REF];
  if (slot !== undefined) {
    if (typeof slot.source.id === "string") {
      found.push({ node: slot.source.id, output: slot.output });
    }
    return;
  }
  if (Array.isArray(x)) { for (const v of x) collect(v, found); }
  else if (isPlainObject(x)) { for (const k in x) collect(x[k], found); }
}

/**
 * A one-line preview of a value for people.
 *
 * @param value Any value.
 * @param max The longest preview.
 * @returns Such as `[1, 2, 3]` or `{"a":1,…`.
 */
export function preview(value: unknown, max = 60): string {
  let text: string;
  try {
    text = typeof value === "string"
      ? JSON.stringify(value)
      : value === undefined
      ? "undefined"
      : typeof value === "bigint"
      ? `${value}n`
      : JSON.stringify(value, (_k, v) =>
        typeof v === "bigint"
          ? `${v}n`
          : v instanceof Map
          ? Object.fromEntries(v)
          : v instanceof Set
          ? [...v]
          : v) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Runs a synchronous query as a promise, so that its errors reject rather than throw.
 *
 * @param fn The query.
 * @returns Its result.
 */
export function promised<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}
