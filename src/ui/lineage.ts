/**
 * The lineage of a value as a drawn graph: the executions that produced it
 * (and, a bounded number of steps back, what they took), and those that
 * consumed it (and, steps forward, what they made). Within one run by
 * default, across every run on request. Each value and execution is drawn
 * once however often it recurs, and a value used by many executions shows
 * a few of them and a box counting the rest.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { NodeDetails, Store, ValueUse as StoreUse } from "../store/mod.ts";
import { preview } from "../store/provenance.ts";
import type { Arrow, Box, BoxKind } from "../render/view.ts";
import { clip, recordView } from "../render/view.ts";
import { type GraphData, laidOut, stack } from "./graph.ts";

/** Options of {@linkcode lineageGraph}. */
export interface LineageOptions {
  /** Stay within this run; across every run when undefined. */
  runId?: string;
  /**
   * Steps to follow each way.
   * @default 3
   */
  depth?: number;
  /**
   * At most this many producers or consumers of one value; the rest are counted in one box.
   * @default 8
   */
  fanout?: number;
}

/** A recorded use of a value: made as an output, or taken as an input. */
export interface ValueUse {
  /** The run. */
  runId: string;
  /** The node. */
  node: NodeDetails;
  /** The output or input name. */
  name: string;
}

/** Where a value was made and used. */
export interface ValueUses {
  /** The executions whose output it is. */
  producedBy: ValueUse[];
  /** The executions that took it as an input. */
  consumedBy: ValueUse[];
}

/** Finds where values were made and used: in one run, or across the store. */
export type UsesOf = (hash: string) => Promise<ValueUses>;

/**
 * Where values were made and used within one run.
 *
 * @param store The store.
 * @param runId The run.
 * @returns The lookup, or undefined when the run does not exist.
 */
export async function usesInRun(store: Store, runId: string): Promise<UsesOf | undefined> {
  const run = await store.getRun(runId);
  if (run === undefined) return undefined;
  const made = new Map<string, ValueUse[]>();
  const taken = new Map<string, ValueUse[]>();
  const add = (m: Map<string, ValueUse[]>, hash: string, use: ValueUse) => {
    let list = m.get(hash);
    if (list === undefined) m.set(hash, list = []);
    list.push(use);
  };
  for (const n of run.nodes) {
    for (const o of n.outputs) add(made, o.hash, { runId, node: n, name: o.name });
    for (const i of n.inputs) add(taken, i.hash, { runId, node: n, name: i.name });
  }
  return (hash) =>
    Promise.resolve({ producedBy: made.get(hash) ?? [], consumedBy: taken.get(hash) ?? [] });
}

/**
 * The lineage of a value, laid out.
 *
 * @param store The store (for the values' previews).
 * @param hash The value's hash.
 * @param uses Where values were made and used.
 * @param options Depth and fan-out.
 * @returns The graph; its boxes refer to nodes (`ref.runId`, `ref.nodeId`) and values (`ref.hash`).
 */
export async function lineageGraph(
  store: Store,
  hash: string,
  uses: UsesOf,
  options: LineageOptions = {},
): Promise<GraphData> {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new ValidationError(`'${hash}' is not a value hash`);
  const depth = Math.max(1, Math.min(options.depth ?? 3, 10));
  const fanout = Math.max(1, options.fanout ?? 8);
  const boxes = new Map<string, Box>();
  const refs = new Map<string, { runId?: string; nodeId?: string; hash?: string; more?: number }>();
  const arrows: Arrow[] = [];
  const arrowIds = new Set<string>();
  const arrow = (from: string, to: string, label: string) => {
    const id = `${from}\u0001${to}\u0001${label}`;
    if (arrowIds.has(id)) return;
    arrowIds.add(id);
    arrows.push({ from, to, label });
  };
  let keys = 0;
  const valueKeys = new Map<string, string>();
  const nodeKeys = new Map<string, string>();

  const valueBox = (h: string): string => {
    let key = valueKeys.get(h);
    if (key !== undefined) return key;
    key = `v${keys++}`;
    valueKeys.set(h, key);
    // The title is filled in at the end, from the values of the nodes drawn.
    boxes.set(key, { key, kind: "value", title: "", subtitle: h.slice(0, 12), extra: [] });
    refs.set(key, { hash: h });
    return key;
  };
  const previews = new Map<string, string>();
  const nodeBox = async (u: ValueUse): Promise<string> => {
    const id = `${u.runId}\u0000${u.node.id}`;
    let key = nodeKeys.get(id);
    if (key !== undefined) return key;
    const values = await store.nodeValues(u.runId, u.node.id);
    for (const v of [...values?.inputs ?? [], ...values?.outputs ?? []]) {
      if (v.stored && !previews.has(v.hash)) previews.set(v.hash, preview(v.value, 40));
    }
    key = `n${keys++}`;
    nodeKeys.set(id, key);
    const kind: BoxKind = u.node.status === "failed"
      ? "failed"
      : u.node.kind === "task"
      ? "task"
      : u.node.kind === "flow"
      ? "flow"
      : "workflow";
    boxes.set(key, {
      key,
      kind,
      title: u.node.id,
      subtitle: `${u.node.entity} · ${u.node.status}`,
      extra: options.runId === undefined ? [`run ${u.runId}`] : [],
    });
    refs.set(key, { runId: u.runId, nodeId: u.node.id });
    return key;
  };
  const more = (n: number, what: string): string => {
    const key = `m${keys++}`;
    boxes.set(key, { key, kind: "output", title: `+${n} more`, subtitle: what, extra: [] });
    refs.set(key, { more: n });
    return key;
  };

  // The walk one way from the value: backwards, who made each value and from
  // what; forwards, who used it and what they made. Arrows point the way the
  // data went, from the producer's side to the consumer's.
  const walk = async (backwards: boolean) => {
    const flow = (near: string, far: string, label: string) =>
      backwards ? arrow(far, near, label) : arrow(near, far, label);
    const seen = new Set<string>();
    let frontier = [hash];
    for (let d = 0; d < depth && frontier.length > 0; d++) {
      const next: string[] = [];
      for (const h of frontier) {
        if (seen.has(h)) continue;
        seen.add(h);
        const vk = valueBox(h);
        const found = await uses(h);
        const nodes = backwards ? found.producedBy : found.consumedBy;
        for (const u of nodes.slice(0, fanout)) {
          const nk = await nodeBox(u);
          flow(vk, nk, u.name);
          for (const v of backwards ? u.node.inputs : u.node.outputs) {
            flow(nk, valueBox(v.hash), v.name);
            next.push(v.hash);
          }
        }
        if (nodes.length > fanout) {
          flow(vk, more(nodes.length - fanout, backwards ? "producers" : "consumers"), "");
        }
      }
      frontier = next;
    }
  };
  valueBox(hash);
  await walk(true);
  await walk(false);
  for (const [h, key] of valueKeys) {
    let text = previews.get(h);
    if (text === undefined) {
      const stored = await store.getValue(h);
      text = stored === undefined ? "?" : preview(stored.value, 40);
    }
    boxes.get(key)!.title = clip(text, 40);
  }
  const view = recordView("lineage", "lineage", "lineage", [...boxes.values()], arrows);
  const graph = stack(await laidOut([view]), () => undefined);
  for (const b of graph.boxes) {
    const ref = refs.get(b.key);
    if (ref !== undefined) b.ref = ref;
    if (ref?.hash === hash) b.focus = true;
  }
  return graph;
}

/**
 * Where values were made and used across every run of the store.
 *
 * @param store The store.
 * @returns The lookup.
 */
export function usesAcrossRuns(store: Store): UsesOf {
  const nodes = new Map<string, Promise<NodeDetails | undefined>>();
  const nodeOf = (runId: string, nodeId: string) => {
    const key = `${runId}\u0000${nodeId}`;
    let p = nodes.get(key);
    if (p === undefined) nodes.set(key, p = store.getNode(runId, nodeId));
    return p;
  };
  return async (hash) => {
    const found = await store.valueUses(hash, 50);
    const resolve = async (list: readonly StoreUse[]) => {
      const out: ValueUse[] = [];
      for (const u of list) {
        const node = await nodeOf(u.runId, u.nodeId);
        if (node !== undefined) out.push({ runId: u.runId, node, name: u.name });
      }
      return out;
    };
    return {
      producedBy: await resolve(found.producedBy),
      consumedBy: await resolve(found.consumedBy),
    };
  };
}
