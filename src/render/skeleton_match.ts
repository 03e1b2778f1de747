/**
 * Matches the calls one run of a flow made to the paths through the flow's
 * skeleton. The skeleton becomes an automaton whose steps either make a call
 * (of a call zone's entity, or anything in an unknown zone) or make none
 * (into a loop's next round, into an arm, out through a `break`…); the run's
 * calls, in order, are the word it must read. Which paths read it is found
 * for all paths at once (positions × states, so never more than their
 * product however the loops and arms combine), and of those one is taken as
 * the reading of the run: a shortest, trying another round before leaving a
 * loop and `then` before `else`. What every reading agrees on is certain;
 * where they disagree (the rounds of a loop that can go round without a
 * call, an arm holding only a `continue`), the caller is told.
 *
 * A wait on a call that failed may throw (into a `catch`, or out of the
 * flow). A run that did not finish (it failed, was cancelled, or
 * is still going) ends right after its last call, then goes through the
 * waits it got past and stops at the one on a failed or unfinished call, so
 * that what comes after is shown as not reached.
 *
 * Used by `skeleton_overlay.ts`; see {@linkcode analyzeRun}.
 *
 * @module
 */

import type { SkeletonZone } from "../core/dag_format.ts";
import { skeletonCalls, zoneLists } from "../ir/reach.ts";

/** A node a flow's run made, as the store recorded it. */
export interface RunCall {
  /** The node id (`add_2`). */
  id: string;
  /** The entity it called. */
  entity: string;
  /** How it ended (`succeeded`, `failed`, `cached`…). */
  status: string;
}

/** The path a run took through a flow's skeleton. */
export interface MatchedRun {
  /** By call zone: the nodes it made, in order. */
  calls: Map<SkeletonZone, RunCall[]>;
  /** By unknown zone: the nodes made there. */
  unknown: Map<SkeletonZone, RunCall[]>;
  /** By loop: the rounds it made. */
  rounds: Map<SkeletonZone, number>;
  /** By branch, switch or try: how often each arm ran (`then`, `else`, a case's index, `catch`, `finally`). */
  arms: Map<SkeletonZone, Map<string, number>>;
  /** Every zone the path went through, and how often. */
  reached: Map<SkeletonZone, number>;
  /** Loops, branches, switches and try blocks the path went through to their end, and how often. */
  passed: Map<SkeletonZone, number>;
  /** The wait that threw last because what it waited on failed (where a failed run stopped). */
  failedAt: SkeletonZone | undefined;
}

/** What the calls of a run leave open: other readings count otherwise. */
export interface Ambiguities {
  /** Loops whose number of rounds differs between readings. */
  rounds: Set<SkeletonZone>;
  /** By branch, switch or try: the arms some readings take and others do not. */
  arms: Map<SkeletonZone, Set<string>>;
}

/** Options of {@linkcode analyzeRun}. */
export interface MatchOptions {
  /**
   * Whether the flow returned: then a reading must reach the flow's end.
   * Else (it failed, was cancelled, or is still running) it ends right
   * after the last call.
   * @default true
   */
  finished?: boolean;
  /**
   * The most positions × states to consider (memory and time grow with it);
   * beyond, the analysis gives up.
   * @default 4000000
   */
  limit?: number;
}

type Event =
  | { kind: "reach" | "round" | "pass"; zone: SkeletonZone }
  | { kind: "arm"; zone: SkeletonZone; arm: string };

interface Edge {
  to: number;
  /** A call zone (or an unknown zone, with `any`): the step makes one call of it. */
  call?: SkeletonZone;
  /** An unknown zone's step: any call. */
  any?: boolean;
  /** A wait's way out when it throws: only once a call of one of these entities has failed. */
  onFailure?: Set<string>;
  events: Event[];
}

interface Exits {
  ret: number;
  thr: number;
  brk?: number | undefined;
  cont?: number | undefined;
  loops: { label: string | undefined; brk: number; cont: number }[];
}

/** Statuses of a call whose handle can be waited on without an error. */
const FINE = new Set(["succeeded", "cached"]);

/** Statuses of a call whose handle throws when waited on. */
const FAILED = new Set(["failed", "skipped", "cancelled"]);

/** A skeleton as an automaton. */
class Automaton {
  readonly edges: Edge[][] = [];
  readonly waits = new Map<number, Extract<SkeletonZone, { kind: "wait" }>>();
  readonly start: number;
  readonly final: number;
  readonly #entities = new Map<string, string>();

  constructor(zones: readonly SkeletonZone[]) {
    for (const c of skeletonCalls(zones)) this.#entities.set(c.id, c.entity.name);
    this.final = this.state();
    const thrown = this.state();
    this.start = this.list(zones, this.final, { ret: this.final, thr: thrown, loops: [] });
  }

  state(): number {
    return this.edges.push([]) - 1;
  }
  step(from: number, to: number, ...events: Event[]): void {
    this.edges[from]!.push({ to, events });
  }
  list(zones: readonly SkeletonZone[], next: number, ex: Exits): number {
    let entry = next;
    for (let i = zones.length - 1; i >= 0; i--) entry = this.zone(zones[i]!, entry, ex);
    return entry;
  }
  zone(z: SkeletonZone, next: number, ex: Exits): number {
    const s = this.state();
    const reach: Event = { kind: "reach", zone: z };
    switch (z.kind) {
      case "call": {
        const made = this.state();
        this.edges[s]!.push({ to: made, call: z, events: [reach] });
        this.step(made, next);
        return s;
      }
      case "wait": {
        this.step(s, next, reach);
        // What it waits on failed: it throws (into a catch, or out of the flow).
        const on = new Set(z.on.flatMap((id) => this.#entities.get(id) ?? []));
        if (on.size > 0) this.edges[s]!.push({ to: ex.thr, onFailure: on, events: [reach] });
        this.waits.set(s, z);
        return s;
      }
      case "exit": {
        const loop = z.label === undefined ? undefined : ex.loops.find((l) => l.label === z.label);
        const to = z.exit === "return"
          ? ex.ret
          : z.exit === "throw"
          ? ex.thr
          : z.label === undefined
          ? (z.exit === "break" ? ex.brk : ex.cont)
          : (z.exit === "break" ? loop?.brk : loop?.cont);
        // A label on a block that is not a loop is not in the skeleton: no reading goes on here.
        if (to !== undefined) this.step(s, to, reach);
        return s;
      }
      case "unknown": {
        const inside = this.state();
        this.step(s, inside, reach);
        this.edges[inside]!.push({ to: inside, call: z, any: true, events: [] });
        this.step(inside, next);
        return s;
      }
      case "loop": {
        const exit = this.state();
        this.step(exit, next, { kind: "pass", zone: z });
        const decide = this.state();
        const round: Event = { kind: "round", zone: z };
        const inner = (cont: number): Exits => ({
          ...ex,
          brk: exit,
          cont,
          loops: [{ label: z.label, brk: exit, cont }, ...ex.loops],
        });
        if (z.loop === "do") {
          const test = this.list(z.test, decide, ex);
          const body = this.list(z.body, test, inner(test));
          this.step(s, body, reach, round);
          this.step(decide, body, round);
        } else {
          const head = this.state();
          const test = this.list(z.test, decide, ex);
          this.step(head, test);
          const body = this.list(z.body, head, inner(head));
          this.step(s, head, reach);
          this.step(decide, body, round);
        }
        this.step(decide, exit);
        return s;
      }
      case "branch": {
        const join = this.state();
        this.step(join, next, { kind: "pass", zone: z });
        this.step(s, this.list(z.then, join, ex), reach, { kind: "arm", zone: z, arm: "then" });
        this.step(s, this.list(z.else, join, ex), reach, { kind: "arm", zone: z, arm: "else" });
        return s;
      }
      case "switch": {
        const join = this.state();
        this.step(join, next, { kind: "pass", zone: z });
        const inside: Exits = { ...ex, brk: join };
        const entries: number[] = [];
        let following = join;
        for (let c = z.cases.length - 1; c >= 0; c--) {
          const kase = z.cases[c]!;
          following = this.list(kase.body, kase.fallsThrough ? following : join, inside);
          entries.unshift(following);
        }
        entries.forEach((entry, c) =>
          this.step(s, entry, reach, { kind: "arm", zone: z, arm: String(c) })
        );
        if (!z.cases.some((c) => c.test === null)) this.step(s, join, reach);
        return s;
      }
      case "try": {
        const join = this.state();
        this.step(join, next, { kind: "pass", zone: z });
        // The finally block runs on every way out, then goes on that way: a copy for each.
        const copies = new Map<number, number>();
        const fin = (to: number): number => {
          if (z.finally === undefined) return to;
          let entry = copies.get(to);
          if (entry === undefined) {
            entry = this.state();
            copies.set(to, entry);
            this.step(entry, this.list(z.finally, to, ex), {
              kind: "arm",
              zone: z,
              arm: "finally",
            });
          }
          return entry;
        };
        const guarded: Exits = {
          ret: fin(ex.ret),
          thr: fin(ex.thr),
          brk: ex.brk === undefined ? undefined : fin(ex.brk),
          cont: ex.cont === undefined ? undefined : fin(ex.cont),
          loops: ex.loops.map((l) => ({ label: l.label, brk: fin(l.brk), cont: fin(l.cont) })),
        };
        let caught = guarded.thr;
        if (z.catch !== undefined) {
          caught = this.state();
          this.step(caught, this.list(z.catch, fin(join), guarded), {
            kind: "arm",
            zone: z,
            arm: "catch",
          });
        }
        this.step(s, this.list(z.body, fin(join), { ...guarded, thr: caught }), reach);
        return s;
      }
      case "helper":
        // A return in a helper returns from the helper; break and continue do not leave it.
        this.step(s, this.list(z.body, next, { ret: next, thr: ex.thr, loops: [] }), reach);
        return s;
    }
  }
}

/**
 * Matches a flow's calls to its skeleton: the reading of the run that
 * {@linkcode analyzeRun} takes.
 *
 * @param zones The flow's skeleton.
 * @param calls The nodes its run made directly, in the order made.
 * @param options Whether the flow returned.
 * @returns The path, or undefined when no path fits (or the run is too long to analyse).
 */
export function matchRun(
  zones: readonly SkeletonZone[],
  calls: readonly RunCall[],
  options: MatchOptions = {},
): MatchedRun | undefined {
  const found = analyzeRun(zones, calls, options);
  return typeof found === "string" ? undefined : found.path;
}

/**
 * Reads a run's calls against its flow's skeleton: one reading (the path),
 * and what other readings count differently.
 *
 * @param zones The flow's skeleton.
 * @param calls The nodes its run made directly, in the order made.
 * @param options Whether the flow returned; how large an analysis may get.
 * @returns The path and what is open; `none` when no path fits the calls
 *   (the script changed since the run, say); `too-long` beyond the limit.
 */
export function analyzeRun(
  zones: readonly SkeletonZone[],
  calls: readonly RunCall[],
  options: MatchOptions = {},
): { path: MatchedRun; open: Ambiguities } | "none" | "too-long" {
  const finished = options.finished ?? true;
  const a = new Automaton(zones);
  const S = a.edges.length;
  const n = calls.length;
  if ((n + 1) * S > (options.limit ?? 4_000_000)) return "too-long";
  const N = (n + 1) * S;
  // Where a call of each entity first failed: from there on, a wait on one may throw.
  const failedFrom = new Map<string, number>();
  calls.forEach((c, i) => {
    if (FAILED.has(c.status) && !failedFrom.has(c.entity)) failedFrom.set(c.entity, i);
  });
  /** Where an edge leads from state `s` at position `pos`, or -1 when it cannot be taken there. */
  const target = (pos: number, e: Edge): number => {
    if (e.call !== undefined) {
      if (pos >= n) return -1;
      if (!e.any && calls[pos]!.entity !== (e.call as { entity: { name: string } }).entity.name) {
        return -1;
      }
      return (pos + 1) * S + e.to;
    }
    if (e.onFailure !== undefined && ![...e.onFailure].some((x) => failedFrom.get(x)! < pos)) {
      return -1;
    }
    return pos * S + e.to;
  };

  // Forward: what the run can reach.
  const reached = new Uint8Array(N);
  const sinks: number[] = [];
  const queue = new Int32Array(N);
  let head = 0;
  let tail = 0;
  const first = a.start;
  reached[first] = 1;
  queue[tail++] = first;
  if (!finished && n === 0) sinks.push(first);
  while (head < tail) {
    const u = queue[head++]!;
    const pos = Math.floor(u / S);
    for (const e of a.edges[u % S]!) {
      const v = target(pos, e);
      if (v < 0) continue;
      if (!finished && e.call !== undefined && pos === n - 1 && !sinks.includes(v)) sinks.push(v);
      if (reached[v]) continue;
      reached[v] = 1;
      queue[tail++] = v;
    }
  }
  if (finished && reached[n * S + a.final]) sinks.push(n * S + a.final);
  if (sinks.length === 0) return "none";

  // Backward: what leads on to an end, and in how many steps (for a shortest path).
  const back: { from: number; edge: Edge }[][] = a.edges.map(() => []);
  a.edges.forEach((list, from) => list.forEach((edge) => back[edge.to]!.push({ from, edge })));
  const dist = new Int32Array(N).fill(-1);
  head = tail = 0;
  for (const s of sinks) {
    dist[s] = 0;
    queue[tail++] = s;
  }
  while (head < tail) {
    const v = queue[head++]!;
    const pos = Math.floor(v / S);
    for (const { from, edge } of back[v % S]!) {
      const u = edge.call !== undefined ? (pos === 0 ? -1 : (pos - 1) * S + from) : pos * S + from;
      if (u < 0 || !reached[u] || dist[u]! >= 0 || target(Math.floor(u / S), edge) !== v) continue;
      dist[u] = dist[v]! + 1;
      queue[tail++] = u;
    }
  }
  if (dist[first]! < 0) return "none";
  const live = (v: number) => v >= 0 && dist[v]! >= 0;

  // The reading: a shortest path, taking the first edge (in the automaton's order) that stays on one.
  const path: MatchedRun = {
    calls: new Map(),
    unknown: new Map(),
    rounds: new Map(),
    arms: new Map(),
    reached: new Map(),
    passed: new Map(),
    failedAt: undefined,
  };
  const bump = (map: Map<SkeletonZone, number>, z: SkeletonZone) =>
    map.set(z, (map.get(z) ?? 0) + 1);
  const record = (e: Edge, pos: number) => {
    if (e.onFailure !== undefined) path.failedAt = e.events[0]!.zone;
    if (e.call !== undefined) {
      const map = e.any ? path.unknown : path.calls;
      const list = map.get(e.call) ?? [];
      map.set(e.call, list);
      list.push(calls[pos]!);
    }
    for (const ev of e.events) {
      if (ev.kind === "arm") {
        const arms = path.arms.get(ev.zone) ?? new Map<string, number>();
        path.arms.set(ev.zone, arms.set(ev.arm, (arms.get(ev.arm) ?? 0) + 1));
      } else {bump(
          ev.kind === "reach" ? path.reached : ev.kind === "round" ? path.rounds : path.passed,
          ev.zone,
        );}
    }
  };
  let at = first;
  while (dist[at]! > 0) {
    const pos = Math.floor(at / S);
    const e = a.edges[at % S]!.find((e) => {
      const v = target(pos, e);
      return live(v) && dist[v] === dist[at]! - 1;
    })!;
    record(e, pos);
    at = target(pos, e);
  }
  if (!finished) stopAt(a, at % S, path);

  // What every reading agrees on: a count is the same on all of them when a potential fits
  // every edge on them (the count so far at each node), and the same at every end.
  const onPaths = (u: number, e: Edge): number => {
    const v = target(Math.floor(u / S), e);
    return live(v) ? v : -1;
  };
  /** A new walk from the start: the queue holds the start alone; returns what it has seen. */
  const fromFirst = (): Uint8Array => {
    const seen = new Uint8Array(N);
    seen[first] = 1;
    head = tail = 0;
    queue[tail++] = first;
    return seen;
  };
  const agree = (weight: (e: Edge) => number): boolean => {
    const phi = new Int32Array(N);
    const seen = fromFirst();
    while (head < tail) {
      const u = queue[head++]!;
      for (const e of a.edges[u % S]!) {
        const v = onPaths(u, e);
        if (v < 0) continue;
        const p = phi[u]! + weight(e);
        if (!seen[v]) {
          seen[v] = 1;
          phi[v] = p;
          queue[tail++] = v;
        } else if (phi[v] !== p) return false;
      }
    }
    return sinks.filter((s) => seen[s]).every((s, _, all) => phi[s] === phi[all[0]!]);
  };
  /** Whether some reading never takes an edge with `uses`. */
  const avoidable = (uses: (e: Edge) => boolean): boolean => {
    const seen = fromFirst();
    while (head < tail) {
      const u = queue[head++]!;
      if (sinks.includes(u)) return true;
      for (const e of a.edges[u % S]!) {
        const v = onPaths(u, e);
        if (v < 0 || seen[v] || uses(e)) continue;
        seen[v] = 1;
        queue[tail++] = v;
      }
    }
    return false;
  };
  const count = (pick: (ev: Event) => boolean) => (e: Edge) => e.events.filter(pick).length;
  const open: Ambiguities = { rounds: new Set(), arms: new Map() };
  const visit = (list: readonly SkeletonZone[]) => {
    for (const z of list) {
      zoneLists(z).forEach(visit);
      if (z.kind === "loop") {
        if (!agree(count((ev) => ev.kind === "round" && ev.zone === z))) open.rounds.add(z);
        continue;
      }
      const arms = z.kind === "branch"
        ? ["then", "else"]
        : z.kind === "switch"
        ? z.cases.map((_, i) => String(i))
        : z.kind === "try"
        ? [...(z.catch ? ["catch"] : []), ...(z.finally ? ["finally"] : [])]
        : [];
      for (const arm of arms) {
        const isArm = (ev: Event) => ev.kind === "arm" && ev.zone === z && ev.arm === arm;
        const uses = (e: Edge) => e.events.some(isArm);
        // Some reading takes it (every edge here is on one) and some reading does not.
        if (!agree(count(isArm)) && avoidable(uses)) {
          open.arms.set(z, (open.arms.get(z) ?? new Set()).add(arm));
        }
      }
    }
  };
  visit(zones);
  return { path, open };
}

/**
 * Where a run that did not finish stopped: on from its last call through the
 * waits it got past, to the one on a call that failed (where the flow threw)
 * or has not finished (where it waits).
 */
function stopAt(a: Automaton, from: number, path: MatchedRun): void {
  const byId = new Map<string, SkeletonZone>();
  for (const z of path.calls.keys()) if (z.kind === "call") byId.set(z.id, z);
  let s = from;
  for (let guard = 0; guard < a.edges.length; guard++) {
    // After a call: on to what follows it (its edge to a `catch` is for failures).
    const on = a.edges[s]!.filter((e) => e.onFailure === undefined && e.call === undefined);
    if (on.length !== 1 || on[0]!.events.length > 0 && !a.waits.has(s)) return;
    const next = on[0]!.to;
    if (a.waits.has(s)) {
      const z = a.waits.get(s)!;
      const last = z.on.flatMap((id) => {
        const made = path.calls.get(byId.get(id)!);
        return made === undefined ? [] : [made[made.length - 1]!];
      });
      path.reached.set(z, (path.reached.get(z) ?? 0) + 1);
      if (last.some((c) => FAILED.has(c.status))) {
        path.failedAt = z;
        return;
      }
      if (!last.every((c) => FINE.has(c.status))) return;
    } else if (!a.waits.has(next)) return;
    s = next;
  }
}
