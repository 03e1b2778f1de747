/**
 * A run laid over its flow's skeleton: the calls the flow made, in the order
 * it made them, are matched to a path through the skeleton (a loop may go
 * round any number of times, a branch takes one arm, an unknown zone may
 * make any calls), so that each call zone gets the nodes it made, each loop
 * its number of rounds, and each arm whether it was taken. When no path
 * fits (the script changed since the run, say), calls are matched by entity
 * name alone, and the page says so.
 *
 * @module
 */

import type { SkeletonZone } from "../core/dag_format.ts";
import type { SkeletonMarks } from "./skeleton_html.ts";
import type { SkeletonGraph } from "./skeleton_view.ts";

/** A node a flow's run made, as the store recorded it. */
export interface RunCall {
  /** The node id (`add_2`). */
  id: string;
  /** The entity it called. */
  entity: string;
  /** How it ended (`succeeded`, `failed`, `cached`…). */
  status: string;
}

/** What matching found. */
interface Matched {
  calls: Map<SkeletonZone, RunCall[]>;
  rounds: Map<SkeletonZone, number>;
  arms: Map<SkeletonZone, Map<string, number>>;
  unknown: Map<SkeletonZone, RunCall[]>;
}

type Next = (pos: number) => boolean;
interface Exits {
  ret: Next;
  thr: Next;
  brk?: Next | undefined;
  cont?: Next | undefined;
  labels: Map<string, { brk: Next; cont?: Next }>;
}

const BUDGET = 200_000;

/**
 * Matches a flow's calls to its skeleton.
 *
 * @param zones The flow's skeleton.
 * @param calls The nodes its run made directly, in the order made.
 * @returns What each zone did, or undefined when no path through the skeleton fits.
 */
export function matchRun(
  zones: readonly SkeletonZone[],
  calls: readonly RunCall[],
): Matched | undefined {
  const m: Matched = { calls: new Map(), rounds: new Map(), arms: new Map(), unknown: new Map() };
  const trail: (() => void)[] = [];
  let budget = BUDGET;
  const mark = () => trail.length;
  const undo = (to: number) => {
    while (trail.length > to) trail.pop()!();
  };
  const push = <T>(map: Map<SkeletonZone, T[]>, z: SkeletonZone, x: T) => {
    const list = map.get(z) ?? [];
    map.set(z, list);
    list.push(x);
    trail.push(() => list.pop());
  };
  const count = (z: SkeletonZone, arm?: string) => {
    if (arm === undefined) {
      m.rounds.set(z, (m.rounds.get(z) ?? 0) + 1);
      trail.push(() => m.rounds.set(z, m.rounds.get(z)! - 1));
      return;
    }
    const arms = m.arms.get(z) ?? new Map<string, number>();
    m.arms.set(z, arms);
    arms.set(arm, (arms.get(arm) ?? 0) + 1);
    trail.push(() => arms.set(arm, arms.get(arm)! - 1));
  };
  const end = calls.length;
  const list = (
    zs: readonly SkeletonZone[],
    i: number,
    pos: number,
    k: Next,
    ex: Exits,
  ): boolean => {
    if (--budget < 0) throw new Error("budget");
    if (i === zs.length) return k(pos);
    const rest: Next = (p) => list(zs, i + 1, p, k, ex);
    return zone(zs[i]!, pos, rest, ex);
  };
  const attempt = (fn: () => boolean): boolean => {
    const at = mark();
    if (fn()) return true;
    undo(at);
    return false;
  };
  const zone = (z: SkeletonZone, pos: number, k: Next, ex: Exits): boolean => {
    switch (z.kind) {
      case "call":
        if (pos >= end || calls[pos]!.entity !== z.entity.name) return false;
        return attempt(() => {
          push(m.calls, z, calls[pos]!);
          return k(pos + 1);
        });
      case "wait":
        return k(pos);
      case "exit":
        if (z.exit === "return") return ex.ret(pos);
        if (z.exit === "throw") return ex.thr(pos);
        if (z.label !== undefined) {
          const target = ex.labels.get(z.label);
          const next = z.exit === "break" ? target?.brk : target?.cont;
          return next === undefined ? false : next(pos);
        }
        return (z.exit === "break" ? ex.brk : ex.cont)?.(pos) ?? false;
      case "unknown":
        for (let j = pos; j <= end; j++) {
          const taken = calls.slice(pos, j);
          if (
            attempt(() => {
              for (const c of taken) push(m.unknown, z, c);
              return k(j);
            })
          ) return true;
        }
        return false;
      case "loop": {
        const head = z.loop === "do" ? [] : z.test;
        const tail = z.loop === "do" ? z.test : [];
        const round = (p: number, rounds: number): boolean => {
          if (rounds < 10_000) {
            const again = attempt(() => {
              count(z);
              const next: Next = (q) => q > p && list(tail, 0, q, (r) => round(r, rounds + 1), ex);
              const inner: Exits = { ...ex, brk: k, cont: next };
              return list(head, 0, p, (q) => list(z.body, 0, q, next, inner), inner);
            });
            if (again) return true;
          }
          return z.loop === "do" && rounds === 0 ? false : list(head, 0, p, k, ex);
        };
        return round(pos, 0);
      }
      case "branch":
        return attempt(() => {
          count(z, "then");
          return list(z.then, 0, pos, k, ex);
        }) || attempt(() => {
          count(z, "else");
          return list(z.else, 0, pos, k, ex);
        });
      case "switch": {
        const inner: Exits = { ...ex, brk: k };
        const from = (c: number, p: number): boolean => {
          if (c >= z.cases.length) return k(p);
          const next: Next = (q) => z.cases[c]!.fallsThrough ? from(c + 1, q) : k(q);
          return list(z.cases[c]!.body, 0, p, next, inner);
        };
        for (let c = 0; c < z.cases.length; c++) {
          if (
            attempt(() => {
              count(z, String(c));
              return from(c, pos);
            })
          ) return true;
        }
        return z.cases.some((c) => c.test === null) ? false : k(pos);
      }
      case "try": {
        const after: Next = (p) => list(z.finally ?? [], 0, p, k, ex);
        const caught: Next = (p) =>
          z.catch === undefined ? list(z.finally ?? [], 0, p, ex.thr, ex) : attempt(() => {
            count(z, "catch");
            return list(z.catch!, 0, p, after, ex);
          });
        if (attempt(() => list(z.body, 0, pos, after, { ...ex, thr: caught }))) return true;
        // A call of the body failed part way: any calls the body makes, then the catch.
        const names = new Set(bodyCalls(z.body));
        for (let j = pos; j <= end; j++) {
          if (j > pos && !names.has(calls[j - 1]!.entity)) break;
          const taken = calls.slice(pos, j);
          if (
            attempt(() => {
              for (const c of taken) {
                const target = firstCallOf(z.body, c.entity);
                if (target !== undefined) push(m.calls, target, c);
              }
              return caught(j);
            })
          ) return true;
        }
        return false;
      }
      case "helper":
        return list(z.body, 0, pos, k, {
          ...ex,
          ret: k,
          brk: undefined,
          cont: undefined,
          labels: new Map(),
        });
    }
  };
  const done: Next = (p) => p === end;
  try {
    return list(zones, 0, 0, done, { ret: done, thr: done, labels: labelsOf() }) ? m : undefined;
  } catch {
    return undefined;
  }
  function labelsOf() {
    return new Map<string, { brk: Next; cont?: Next }>();
  }
}

function bodyCalls(zones: readonly SkeletonZone[]): string[] {
  const out: string[] = [];
  const visit = (zs: readonly SkeletonZone[]) => {
    for (const z of zs) {
      if (z.kind === "call") out.push(z.entity.name);
      if (z.kind === "loop") visit([...z.test, ...z.body]);
      if (z.kind === "branch") visit([...z.then, ...z.else]);
      if (z.kind === "switch") z.cases.forEach((c) => visit(c.body));
      if (z.kind === "try") visit([...z.body, ...(z.catch ?? []), ...(z.finally ?? [])]);
      if (z.kind === "helper") visit(z.body);
    }
  };
  visit(zones);
  return out;
}

function firstCallOf(zones: readonly SkeletonZone[], entity: string): SkeletonZone | undefined {
  for (const z of zones) {
    if (z.kind === "call" && z.entity.name === entity) return z;
    const inner = z.kind === "loop"
      ? [...z.test, ...z.body]
      : z.kind === "branch"
      ? [...z.then, ...z.else]
      : z.kind === "helper"
      ? z.body
      : z.kind === "try"
      ? [...z.body, ...(z.catch ?? []), ...(z.finally ?? [])]
      : z.kind === "switch"
      ? z.cases.flatMap((c) => c.body)
      : [];
    const found = firstCallOf(inner, entity);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * What a run did at each box and group of a skeleton graph.
 *
 * @param graph The flow's skeleton graph (see `skeletonGraph`).
 * @param zones The flow's skeleton.
 * @param calls The nodes the flow's run made directly, in order.
 * @returns The marks to draw, and whether the run fit the skeleton (else calls were matched by name).
 */
export function runMarks(
  graph: SkeletonGraph,
  zones: readonly SkeletonZone[],
  calls: readonly RunCall[],
): { marks: SkeletonMarks; fits: boolean } {
  const matched = matchRun(zones, calls);
  const marks: SkeletonMarks = { boxes: {}, groups: {} };
  const stateOf = (list: readonly RunCall[]) =>
    list.length === 0
      ? "not-run"
      : list.some((c) => c.status === "failed")
      ? "failed"
      : list.every((c) => c.status === "cached")
      ? "cached"
      : list.every((c) => c.status === "succeeded" || c.status === "cached")
      ? "succeeded"
      : list[list.length - 1]!.status;
  for (const b of graph.boxes) {
    if (b.flow !== graph.flow || b.zone === null) continue;
    const z = b.zone;
    if (b.kind === "call" && z.kind === "call") {
      const list = matched?.calls.get(z) ??
        (matched === undefined ? calls.filter((c) => c.entity === z.entity.name) : []);
      marks.boxes[b.key] = {
        count: list.length,
        state: stateOf(list),
        note: list.length === 0
          ? "did not run"
          : `${list.length === 1 ? "ran as" : `ran ${list.length} times:`} ${
            list.map((c) => `${c.id} (${c.status})`).join(", ")
          }${matched === undefined ? " (matched by name)" : ""}`,
      };
    } else if (b.kind === "unknown" && matched !== undefined) {
      const list = matched.unknown.get(z) ?? [];
      marks.boxes[b.key] = {
        count: list.length,
        state: list.length === 0 ? "not-run" : stateOf(list),
        note: list.length === 0 ? "made no call" : `made ${list.map((c) => c.id).join(", ")}`,
      };
    }
  }
  if (matched !== undefined) {
    for (const g of graph.groups) {
      const z = g.zone;
      if (z === null) continue;
      if (g.kind === "loop") {
        const rounds = matched.rounds.get(z) ?? 0;
        marks.groups[g.key] = {
          note: `${rounds} ${rounds === 1 ? "iteration" : "iterations"}`,
          ran: true,
        };
      } else if (g.arm !== null && g.arm !== "try" && g.arm !== "finally") {
        const arm = g.arm;
        const taken = matched.arms.get(z)?.get(arm) ?? 0;
        marks.groups[g.key] = {
          note: taken === 0 ? "not taken" : taken === 1 ? "taken" : `taken ${taken} times`,
          ran: taken > 0,
        };
      }
    }
  }
  return { marks, fits: matched !== undefined };
}
