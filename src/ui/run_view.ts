/**
 * The graph of one run as the web UI draws it, kept up to date as the run's
 * nodes change: boxes ("units") with their place, state and lines, and the
 * arrows between them. The server holds one per watched run and sends each
 * page a snapshot, then deltas.
 *
 * Layout: the export's conventions (left to right, columns by dependency
 * depth, the same box sizes and separations), computed incrementally so that
 * a box never moves once drawn: a node's column is one more than its
 * deepest input's, and it takes the first free place in that column at or
 * below its first input. Laying a growing run out again with dagre would
 * cost 0.3 s per change at 1,000 nodes (and dagre overflows its stack on a
 * chain of 3,000), and would move boxes under the pointer.
 *
 * Large runs: beyond {@linkcode GROUP_AT} nodes, the calls of one entity by
 * one parent become one summary box (`add × 9,000`) whose members the node
 * panel lists, so that a run of 10,000 nodes draws a few dozen boxes.
 *
 * @module
 */

import {
  type Delta,
  type Snapshot,
  stateOf,
  UI_STATES,
  type UiNode,
  type UiRun,
  type UiState,
  type WireEdge,
  type WireUnit,
} from "./wire.ts";
import { type Box, type BoxKind, clip } from "../render/view.ts";
import { measureBox, MEASURES } from "../render/layout.ts";

/** Beyond this many nodes, repeated calls are drawn as summary boxes. */
export const GROUP_AT = 2000;

const MARGIN = 12;

/** A box as the view keeps it: what the page is sent of it, and how it was made. */
interface Unit
  extends Pick<WireUnit, "key" | "kind" | "entity" | "state" | "lines" | "x" | "y" | "w" | "h"> {
  parentId: string | undefined;
  /** Members, in the order added (group mode). */
  members: string[] | undefined;
  counts: Map<UiState, number> | undefined;
  node: UiNode | undefined;
  rank: number;
}

interface Column {
  x: number;
  w: number;
  bottom: number;
  keys: string[];
}

/** The graph of one run, as drawn. */
export class RunView {
  /** The run. */
  run: UiRun;
  /** Every node, by id, as last read. */
  readonly nodes: Map<string, UiNode> = new Map();
  #mode: "nodes" | "groups" = "nodes";
  #units = new Map<string, Unit>();
  #unitOf = new Map<string, string>();
  #edges = new Set<string>();
  #edgeList: WireEdge[] = [];
  #columns: Column[] = [];
  /** Arrows waiting for the unit they start at. */
  #waiting = new Map<string, { to: string; call: boolean }[]>();
  /**
   * By caller: its last call placed, and the column (and first box) of its
   * current wave of calls that take no data.
   */
  #siblings = new Map<string, { last: string; wave: number; waveFirst: string }>();
  #dirty = new Set<string>();
  #newEdges: WireEdge[] = [];
  #runChanged = false;
  readonly #groupAt: number;

  /**
   * @param run The run.
   * @param nodes Its nodes, in the order they were added.
   * @param groupAt Group repeated calls beyond this many nodes.
   */
  constructor(run: UiRun, nodes: UiNode[], groupAt = GROUP_AT) {
    this.run = run;
    this.#groupAt = groupAt;
    for (const n of nodes) this.nodes.set(n.id, n);
    this.#rebuild();
  }

  /** Whether boxes are nodes or summaries. */
  get mode(): "nodes" | "groups" {
    return this.#mode;
  }

  /**
   * Takes changed and new nodes and the run's latest record.
   *
   * @param run The run, as read now.
   * @param changed Nodes added or changed since the last call, in the order added.
   * @returns What to send, or `"reset"` when the page must draw a new snapshot.
   */
  apply(run: UiRun, changed: UiNode[]): Delta | "reset" {
    if (
      run.status !== this.run.status || run.finishedAt !== this.run.finishedAt ||
      run.attempts !== this.run.attempts
    ) {
      this.#runChanged = true;
    }
    this.run = run;
    let added = 0;
    for (const n of changed) if (!this.nodes.has(n.id)) added++;
    if (this.#mode === "nodes" && this.nodes.size + added > this.#groupAt) {
      for (const n of changed) this.nodes.set(n.id, n);
      this.#rebuild();
      return "reset";
    }
    for (const n of changed) {
      const before = this.nodes.get(n.id);
      this.nodes.set(n.id, n);
      if (before === undefined) this.#add(n);
      else this.#update(before, n);
    }
    return this.#takeDelta();
  }

  /**
   * Everything, for a page that starts drawing.
   *
   * @returns The snapshot.
   */
  snapshot(): Snapshot {
    this.#dirty.clear();
    this.#newEdges = [];
    this.#runChanged = false;
    const size = this.#size();
    return {
      run: this.run,
      mode: this.#mode,
      total: this.nodes.size,
      units: [...this.#units.values()].map((u) => this.#wire(u)),
      edges: this.#edgeList.slice(),
      width: size.width,
      height: size.height,
    };
  }

  /**
   * The members of a summary box.
   *
   * @param key The unit key.
   * @returns The member nodes, in the order added, or undefined for an unknown key.
   */
  members(key: string): UiNode[] | undefined {
    const u = this.#units.get(key);
    if (u === undefined) return undefined;
    if (u.members === undefined) return u.node === undefined ? [] : [u.node];
    return u.members.map((id) => this.nodes.get(id)!);
  }

  #rebuild(): void {
    this.#mode = this.nodes.size > this.#groupAt ? "groups" : "nodes";
    this.#units.clear();
    this.#unitOf.clear();
    this.#edges.clear();
    this.#edgeList = [];
    this.#columns = [];
    this.#waiting.clear();
    this.#siblings.clear();
    for (const n of this.nodes.values()) this.#add(n);
    this.#dirty.clear();
    this.#newEdges = [];
  }

  #groupKey(n: UiNode): string {
    return `group:${n.parentId ?? ""}\u0000${n.entity}`;
  }

  #add(n: UiNode): void {
    const state = stateOf(n);
    if (this.#mode === "groups") {
      const key = this.#groupKey(n);
      let u = this.#units.get(key);
      this.#unitOf.set(n.id, key);
      if (u !== undefined) {
        u.members!.push(n.id);
        u.counts!.set(state, (u.counts!.get(state) ?? 0) + 1);
        u.node = undefined;
        this.#refreshGroup(u);
        this.#dirty.add(key);
        this.#link(n, key);
        return;
      }
      u = this.#newUnit(key, n);
      u.members = [n.id];
      u.counts = new Map([[state, 1]]);
      this.#refreshGroup(u);
      this.#place(u, n);
      return;
    }
    this.#unitOf.set(n.id, n.id);
    this.#place(this.#newUnit(n.id, n), n);
  }

  #newUnit(key: string, n: UiNode): Unit {
    return {
      key,
      kind: n.kind,
      entity: n.entity,
      parentId: n.parentId,
      members: undefined,
      counts: undefined,
      node: n,
      state: stateOf(n),
      lines: [],
      x: 0,
      y: 0,
      w: 0,
      h: 0,
      rank: 0,
    };
  }

  /** The units a node takes from: its inputs' units, else its caller's. */
  #sources(n: UiNode, self: string): { keys: string[]; call: boolean } {
    const keys: string[] = [];
    for (const d of n.deps) {
      const k = this.#unitOf.get(d);
      if (k !== undefined && k !== self && !keys.includes(k)) keys.push(k);
    }
    if (keys.length > 0 || n.deps.length > 0) return { keys, call: false };
    const parent = n.parentId === undefined ? undefined : this.#unitOf.get(n.parentId);
    return { keys: parent === undefined || parent === self ? [] : [parent], call: true };
  }

  #place(u: Unit, n: UiNode): void {
    const size = this.#measure(u, n);
    u.lines = size.lines;
    u.w = size.width;
    u.h = size.height;
    const { keys, call } = this.#sources(n, u.key);
    let rank = 0;
    let pref = MARGIN;
    let first = true;
    let link = true;
    const parentKey = n.parentId ?? "";
    const siblings = this.#mode === "nodes" ? this.#siblings.get(parentKey) : undefined;
    if (n.deps.length === 0 && siblings !== undefined) {
      // A call that takes no data starts a new wave, right of the previous
      // call of its caller, when that call had finished before this one
      // started (a flow awaited it, then called again: a loop's next round);
      // else it joins the current wave, in the same column.
      const prev = this.#units.get(siblings.last)!;
      const after = prev.node?.finishedAt !== undefined && n.startedAt !== undefined &&
        prev.node.finishedAt <= n.startedAt;
      if (after) {
        siblings.wave = prev.rank + 1;
        siblings.waveFirst = u.key;
        this.#seq(prev.key, u.key);
        pref = prev.y;
      } else pref = this.#units.get(siblings.waveFirst)?.y ?? MARGIN;
      rank = siblings.wave;
      first = false;
      // The caller's arrow goes only to its first column of calls.
      const parent = keys[0] === undefined ? undefined : this.#units.get(keys[0]);
      link = call && parent !== undefined && rank === parent.rank + 1;
    }
    for (const k of first ? keys : []) {
      const d = this.#units.get(k)!;
      rank = Math.max(rank, d.rank + 1);
      if (first) pref = d.y;
      first = false;
    }
    u.rank = rank;
    if (this.#mode === "nodes") {
      if (siblings === undefined) {
        this.#siblings.set(parentKey, { last: u.key, wave: rank, waveFirst: u.key });
      } else siblings.last = u.key;
    }
    const col = this.#column(rank);
    if (u.w > col.w) this.#widen(rank, u.w - col.w);
    u.x = col.x;
    u.y = col.keys.length === 0 ? pref : Math.max(pref, col.bottom + MEASURES.nodeSep);
    col.bottom = Math.max(col.bottom, u.y + u.h);
    col.keys.push(u.key);
    this.#units.set(u.key, u);
    this.#dirty.add(u.key);
    if (link) this.#link(n, u.key);
    // Arrows that waited for this unit to exist.
    const waiting = this.#waiting.get(n.id);
    if (waiting !== undefined) {
      this.#waiting.delete(n.id);
      for (const w of waiting) this.#edge(u.key, w.to, w.call);
    }
  }

  #seq(from: string, to: string): void {
    const id = `${from}\u0001${to}`;
    if (this.#edges.has(id)) return;
    this.#edges.add(id);
    const e: WireEdge = { from, to, seq: true };
    this.#edgeList.push(e);
    this.#newEdges.push(e);
  }

  /** Adds the arrows into a node's unit. */
  #link(n: UiNode, to: string): void {
    const { keys, call } = this.#sources(n, to);
    for (const k of keys) this.#edge(k, to, call);
    for (const d of n.deps) {
      if (!this.#unitOf.has(d)) {
        let list = this.#waiting.get(d);
        if (list === undefined) this.#waiting.set(d, list = []);
        list.push({ to, call: false });
      }
    }
  }

  #edge(from: string, to: string, call: boolean): void {
    if (from === to) return;
    const id = `${from}\u0001${to}`;
    if (this.#edges.has(id)) return;
    this.#edges.add(id);
    const e: WireEdge = call ? { from, to, call: true } : { from, to };
    this.#edgeList.push(e);
    this.#newEdges.push(e);
  }

  #column(rank: number): Column {
    while (this.#columns.length <= rank) {
      const prev = this.#columns[this.#columns.length - 1];
      this.#columns.push({
        x: prev === undefined ? MARGIN : prev.x + prev.w + MEASURES.rankSep,
        w: 0,
        bottom: MARGIN,
        keys: [],
      });
    }
    return this.#columns[rank]!;
  }

  /** A column grows wider: the columns right of it move right, with their boxes. */
  #widen(rank: number, by: number): void {
    this.#columns[rank]!.w += by;
    for (let r = rank + 1; r < this.#columns.length; r++) {
      const col = this.#columns[r]!;
      col.x += by;
      for (const k of col.keys) {
        const u = this.#units.get(k)!;
        u.x += by;
        this.#dirty.add(k);
      }
    }
  }

  #measure(u: Unit, n: UiNode): { width: number; height: number; lines: string[] } {
    if (u.members !== undefined) {
      // Wide enough for any count, so that the box never grows.
      const title = `${clip(n.entity, 30)} × 9,999,999`;
      const box: Box = { key: u.key, kind: boxKind(n.kind), title, subtitle: "", extra: [] };
      const size = measureBox(box);
      return { ...size, width: Math.max(size.width, 240), lines: u.lines };
    }
    const box: Box = {
      key: u.key,
      kind: boxKind(n.kind),
      title: n.id,
      subtitle: `${n.kind === "launchPlan" ? "launch plan" : n.kind} ${n.entity}`,
      extra: [],
    };
    return measureBox(box);
  }

  #refreshGroup(u: Unit): void {
    const size = u.members!.length;
    if (size === 1) {
      const n = this.nodes.get(u.members![0]!)!;
      u.node = n;
      u.state = stateOf(n);
      u.lines = [clip(n.id, MEASURES.maxChars), clip(`${n.kind} ${n.entity}`, MEASURES.maxChars)];
      return;
    }
    u.node = undefined;
    u.state =
      UI_STATES.find((s) => (u.counts!.get(s) ?? 0) > 0 && s !== "cached" && s !== "succeeded") ??
        ((u.counts!.get("succeeded") ?? 0) > 0 ? "succeeded" : "cached");
    const parts = UI_STATES.filter((s) => (u.counts!.get(s) ?? 0) > 0).map((s) =>
      `${(u.counts!.get(s) ?? 0).toLocaleString("en-US")} ${s}`
    );
    u.lines = [
      clip(`${u.entity} × ${size.toLocaleString("en-US")}`, MEASURES.maxChars),
      clip(parts.join(" · "), MEASURES.maxChars),
    ];
  }

  #update(before: UiNode, n: UiNode): void {
    const key = this.#unitOf.get(n.id);
    if (key === undefined) return;
    const u = this.#units.get(key)!;
    const was = stateOf(before);
    const now = stateOf(n);
    if (u.members !== undefined) {
      if (was !== now) {
        u.counts!.set(was, (u.counts!.get(was) ?? 1) - 1);
        u.counts!.set(now, (u.counts!.get(now) ?? 0) + 1);
      }
      this.#refreshGroup(u);
    } else {
      u.node = n;
      u.state = now;
    }
    if (n.deps.length !== before.deps.length) this.#link(n, key);
    this.#dirty.add(key);
  }

  #takeDelta(): Delta {
    const size = this.#size();
    const delta: Delta = {
      total: this.nodes.size,
      units: [...this.#dirty].map((k) => this.#wire(this.#units.get(k)!)),
      edges: this.#newEdges,
      width: size.width,
      height: size.height,
    };
    if (this.#runChanged) delta.run = this.run;
    this.#dirty.clear();
    this.#newEdges = [];
    this.#runChanged = false;
    return delta;
  }

  #size(): { width: number; height: number } {
    let width = 320;
    let height = 80;
    for (const c of this.#columns) {
      width = Math.max(width, c.x + c.w + MARGIN);
      height = Math.max(height, c.bottom + MARGIN);
    }
    return { width, height };
  }

  #wire(u: Unit): WireUnit {
    const w: WireUnit = {
      key: u.key,
      kind: u.kind,
      entity: u.entity,
      state: u.state,
      lines: u.lines,
      x: u.x,
      y: u.y,
      w: u.w,
      h: u.h,
    };
    const n = u.node;
    if (u.members !== undefined && u.members.length > 1) {
      const counts: Partial<Record<UiState, number>> = {};
      for (const [s, c] of u.counts!) if (c > 0) counts[s] = c;
      w.group = { entity: u.entity, parentId: u.parentId ?? null, size: u.members.length, counts };
    } else if (n !== undefined) {
      w.nodeId = n.id;
      w.attempts = n.attempts;
      if (n.startedAt !== undefined) w.startedAt = n.startedAt;
      if (n.finishedAt !== undefined) w.finishedAt = n.finishedAt;
      if (n.error !== undefined) w.error = n.error;
      if (n.cachedFrom !== undefined) w.cachedFrom = n.cachedFrom;
      if (n.replayed) w.replayed = true;
    }
    return w;
  }
}

/** A recorded node's kind as the export draws it (a durable wait as a task). */
function boxKind(kind: string): BoxKind {
  return ["task", "workflow", "flow", "launchPlan", "map", "condition"].includes(kind)
    ? kind as BoxKind
    : "task";
}
