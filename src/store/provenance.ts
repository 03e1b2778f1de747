/**
 * What stores need to record provenance: a node's outputs by name, errors
 * as records, and short previews of values for people.
 *
 * @module
 */

import { describeCause, type WeftError, type WeftErrorJson } from "../core/errors.ts";
import type { NodeRecord } from "./mod.ts";

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

/** An error as a store records it: its JSON, and for a node's failure whether a flow caught it. */
export type ErrorRecord = WeftErrorJson & {
  /** A flow caught the failure and went on: a resume replays it (see `JournalEntry.caught`). */
  caught?: true;
};

/**
 * An error as a store records it: its JSON, with the cause described even
 * when the error's own `toJSON` leaves it out.
 *
 * @param e The error.
 * @returns Its record.
 */
export function errorRecord(e: WeftError): WeftErrorJson {
  const json = e.toJSON();
  if (json.cause === undefined && e.cause !== undefined) json.cause = describeCause(e.cause);
  return json;
}

/**
 * A node's error as a store records it: {@linkcode errorRecord}, with
 * `caught: true` when a flow caught the failure and went on.
 *
 * @param node A node that has an error.
 * @returns Its record.
 */
export function nodeErrorRecord(node: NodeRecord): ErrorRecord {
  const json = errorRecord(node.error!);
  // (A copy: an error read back from a wire returns the same object each time.)
  return node.caught ? { ...json, caught: true } : json;
}

/**
 * A node's recorded error split into the error and the mark that a flow caught it.
 *
 * @param record The record, as `errorRecord` made it.
 * @returns The error's JSON and the mark.
 */
export function splitErrorRecord(record: ErrorRecord): { error: WeftErrorJson; caught: boolean } {
  if (record.caught !== true) return { error: record, caught: false };
  const { caught: _, ...error } = record;
  return { error, caught: true };
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
