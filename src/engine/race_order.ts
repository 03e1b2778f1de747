/**
 * The order of a race: which of a flow's raced handles wins, decided the
 * same way live and on a replay (where several have ended already), by the
 * time each ended (to the millisecond, then the order listed).
 *
 * @module
 */

import { slotOf } from "./handles.ts";
import { endedAt, isFinal, Node, type NodeRun } from "./node.ts";

/** The node of this run a handle refers to as a whole. */
export function nodeOf(run: NodeRun, item: unknown): Node | undefined {
  if (typeof item !== "object" || item === null) return undefined;
  const source = slotOf(item)?.source;
  return source instanceof Node && source.run === run ? source : undefined;
}

/**
 * The order a race looks at its handles: those that have settled already
 * first, earliest finish first, so that a replay (where several have) picks
 * the one that settled first when the run was live.
 */
export function raceOrder(run: NodeRun, items: readonly unknown[]): readonly unknown[] {
  let settled: { item: unknown; at: number; i: number }[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const node = nodeOf(run, items[i]);
    if (node !== undefined && isFinal(node.status)) {
      (settled ??= []).push({ item: items[i], at: endedAt(node), i });
    }
  }
  if (settled === undefined || settled.length < 2) {
    return settled === undefined ? items : [settled[0]!.item, ...items];
  }
  settled.sort((a, b) => a.at - b.at || a.i - b.i);
  return [...settled.map((s) => s.item), ...items];
}

/**
 * Whether another of a race's handles ended before `item` did (or in the
 * same millisecond, and is listed first): that one wins, once it may be
 * acted on, as a replay (`raceOrder`) decides it. A value that must be
 * durable before the flow acts on it (a task that holds a grant, under weft
 * run) or a failure that came on its heels would otherwise win a live race
 * that the replay gives to the one that ended first.
 */
export function beaten(run: NodeRun, items: readonly unknown[], item: unknown): boolean {
  const node = nodeOf(run, item);
  if (node === undefined) return false;
  const at = endedAt(node);
  const i = items.indexOf(item);
  for (let j = 0; j < items.length; j++) {
    const other = j === i ? undefined : nodeOf(run, items[j]);
    if (other === undefined || other === node || !isFinal(other.status)) continue;
    const t = endedAt(other);
    if (t < at || (t === at && j < i)) return true;
  }
  return false;
}

/**
 * Makes what a live race recorded give the same winner on a replay, which
 * decides by finish time to the millisecond, then by the order listed: a
 * handle listed before the winner that ends in the same millisecond, after
 * the race was decided, is recorded as ending a millisecond later.
 */
export function keepWinner(run: NodeRun, items: readonly unknown[], winner: unknown): void {
  const node = nodeOf(run, winner);
  if (node === undefined) return;
  const at = endedAt(node);
  const i = items.indexOf(winner);
  for (let j = 0; j < i; j++) {
    const other = nodeOf(run, items[j]);
    if (other === undefined || other === node || isFinal(other.status)) continue;
    other.onSettled(() => {
      if (other.status !== "skipped" && other.finishedAt === at) other.finishedAt = at + 1;
    });
  }
}
