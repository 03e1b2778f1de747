/**
 * A run laid over its flow's skeleton, as plain data for any page (the HTML
 * export of a run, the web UI): which calls ran and how they ended, how many
 * rounds each loop made, which arms of each branch were taken and which were
 * skipped, and what the run never reached (it failed or was cancelled
 * before). Flows the flow calls are drawn inside it and get their own calls
 * (the nodes under their node id). When a flow's calls fit no path through
 * its skeleton (the script changed since the run, say), they are matched to
 * its call boxes by entity name alone, and a note says so.
 *
 * The interface: {@linkcode runOverlay} (a document and a run in, the graph
 * and its marks out), or {@linkcode runMarks} for a graph already made.
 *
 * @module
 */

import type { DagDocument, SkeletonZone } from "../core/dag_format.ts";
import { zoneLists } from "../ir/reach.ts";
import type { BoxMark, SkeletonMarks, ZoneMark, ZoneState } from "./skeleton_html.ts";
import { type Ambiguities, analyzeRun, type MatchedRun, type RunCall } from "./skeleton_match.ts";
import { type SkeletonGraph, skeletonGraph, type SkeletonGroup } from "./skeleton_view.ts";

export type { BoxMark, RunCall, SkeletonMarks, ZoneMark, ZoneState };

/** A node of a run, as much as the overlay needs (the store's `NodeDetails` has it all). */
export interface OverlayNode {
  /** The node id (`add_2`, `grid/add`). */
  readonly id: string;
  /** The flow or workflow node that called it; undefined for a call of the run's own flow. */
  readonly parentId?: string | undefined;
  /** Its position among its parent's calls. */
  readonly seq: number;
  /** The entity it called. */
  readonly entity: string;
  /**
   * The entity's kind (`task`, `flow`, `map`…), when known: a `map` node is
   * matched to the call of the entity it maps; `sleep` and `signal` nodes
   * are the skeleton's wait zones, not calls.
   */
  readonly kind?: string | undefined;
  /** How it ended (or where it is). */
  readonly status: string;
  /** For a cache hit: where its result came from (it is then drawn as cached). */
  readonly cachedFrom?: string | undefined;
}

/** A run, as much as the overlay needs (the store's `RunDetails` has it all). */
export interface OverlayRun {
  /** The entity run: a flow, or a launch plan of one. */
  readonly entity: string;
  /** Its kind (`flow`, `launchPlan`, `workflow`, `task`). */
  readonly kind: string;
  /** How the run ended (`succeeded`, `failed`, `cancelled`) or `running`. */
  readonly status: string;
  /** Its nodes. */
  readonly nodes: readonly OverlayNode[];
}

/** What {@linkcode runMarks} found. */
export interface RunMarks {
  /** The marks to draw. */
  marks: SkeletonMarks;
  /** Whether every flow's calls fit its skeleton (else some were matched by name). */
  fits: boolean;
  /** Why some calls were matched by name, a line each. */
  notes: string[];
}

/** A run laid over its flow's skeleton. */
export interface RunOverlay extends RunMarks {
  /** The flow whose skeleton it is. */
  flow: string;
  /** The skeleton, ready to draw. */
  graph: SkeletonGraph;
}

/** Options of {@linkcode runOverlay}. */
export interface RunOverlayOptions {
  /**
   * A prefix for the drawing's generated keys.
   * @default "s0"
   */
  prefix?: string;
}

/**
 * Lays a run over the skeleton of the flow it ran.
 *
 * @example The loop of keepDoubling went round once
 * ```ts
 * import { runOverlay } from "./skeleton_overlay.ts";
 * import type { DagDocument } from "../core/dag_format.ts";
 * import assert from "node:assert/strict";
 *
 * const c = (id: string, name: string, from: string[] = []) =>
 *   ({ kind: "call" as const, entity: { kind: "task" as const, name }, id, from, line: 1 });
 * const dag = {
 *   format: "weft.dag/v1", tasks: [], launchPlans: [],
 *   workflows: [{
 *     name: "keepDoubling", kind: "dynamic", inputs: [], outputs: [], calls: [], source: null,
 *     skeleton: [c("c1", "add"), {
 *       kind: "loop", loop: "while", condition: "(yield* wait(out)) < 10", waits: ["c1", "c3"],
 *       carries: ["out"], line: 2, test: [{ kind: "wait", mode: "wait", on: ["c1", "c3"], line: 2 }],
 *       body: [c("c2", "add", ["c1", "c3"]), c("c3", "multiply", ["c2"])],
 *     }, { kind: "exit", exit: "return", from: ["c1", "c3"], line: 3 }],
 *   }],
 * } as unknown as DagDocument;
 * const node = (id: string, entity: string, seq: number) => ({ id, entity, seq, status: "succeeded" });
 * const overlay = runOverlay(dag, {
 *   entity: "keepDoubling", kind: "flow", status: "succeeded",
 *   nodes: [node("add", "add", 0), node("add_2", "add", 1), node("multiply", "multiply", 2)],
 * });
 * assert.ok(overlay !== undefined && "graph" in overlay);
 * const loop = overlay.graph.groups.find((g) => g.kind === "loop")!;
 * assert.deepEqual(overlay.marks.groups[loop.key], { state: "ran", note: "1 iteration", iterations: 1 });
 * ```
 *
 * @param dag The document describing the run's script (as `weft compile` makes it now).
 * @param run The run: its entity, status and nodes.
 * @param options A key prefix.
 * @returns The overlay; `{ missing }` saying why there is none (read after the script's name:
 *   "has no flow named 'x' any more"); undefined when the run is not of a flow.
 */
export function runOverlay(
  dag: DagDocument,
  run: OverlayRun,
  options: RunOverlayOptions = {},
): RunOverlay | { missing: string } | undefined {
  let name = run.entity;
  let kind = run.kind;
  // A launch plan runs what it launches at the top of the run.
  for (const seen = new Set<string>(); kind === "launchPlan";) {
    const plan = dag.launchPlans.find((p) => p.name === name);
    if (plan === undefined || seen.has(name)) {
      return { missing: `has no launch plan named '${name}' any more` };
    }
    seen.add(name);
    name = plan.entity.name;
    kind = plan.entity.kind === "workflow" ? "flow" : plan.entity.kind;
  }
  if (kind !== "flow" && kind !== "workflow") return undefined;
  const wf = dag.workflows.find((w) => w.name === name);
  if (wf === undefined) {
    return kind === "flow" ? { missing: `has no flow named '${name}' any more` } : undefined;
  }
  if (wf.kind !== "dynamic") {
    return run.kind === "flow"
      ? { missing: `has '${name}' as a static workflow now, not a flow` }
      : undefined;
  }
  const graph = skeletonGraph(dag, name, { prefix: options.prefix ?? "s0" });
  if (graph === undefined) return { missing: `gives the flow '${name}' no skeleton` };
  return { flow: name, graph, ...runMarks(graph, run) };
}

/** What the runs of one drawn flow did: every run of it that the drawing stands for. */
class FlowRuns {
  /** The node ids of its runs (the root flow has none: its run). */
  readonly ids: string[] = [];
  /** The paths of the runs whose calls fit the skeleton. */
  readonly fitted: MatchedRun[] = [];
  /** For each path, what the calls leave open. */
  readonly open: Ambiguities[] = [];
  /** The calls of the runs whose calls did not fit. */
  readonly unfitted: RunCall[] = [];

  /** Whether at least one run fit (else nothing is said about zones). */
  get fits(): boolean {
    return this.fitted.length > 0;
  }
  calls(z: SkeletonZone): RunCall[] {
    const fitted = this.fitted.flatMap((m) => m.calls.get(z) ?? []);
    return z.kind === "call"
      ? [...fitted, ...this.unfitted.filter((c) => c.entity === z.entity.name)]
      : fitted;
  }
  unknown(z: SkeletonZone): RunCall[] {
    return this.fitted.flatMap((m) => m.unknown.get(z) ?? []);
  }
  count(z: SkeletonZone, of: "reached" | "passed" | "rounds"): number {
    return this.fitted.reduce((n, m) => n + (m[of].get(z) ?? 0), 0);
  }
  arm(z: SkeletonZone, which: string): number {
    return this.fitted.reduce((n, m) => n + (m.arms.get(z)?.get(which) ?? 0), 0);
  }
  failedAt(z: SkeletonZone): boolean {
    return this.fitted.some((m) => m.failedAt === z);
  }
  roundsOpen(z: SkeletonZone): boolean {
    return this.open.some((a) => a.rounds.has(z));
  }
  armOpen(z: SkeletonZone, which: string): boolean {
    return this.open.some((a) => a.arms.get(z)?.has(which) ?? false);
  }
}

/** How a list of calls ended, together. */
function stateOf(list: readonly RunCall[]): string {
  if (list.some((c) => c.status === "failed")) return "failed";
  if (list.every((c) => c.status === "cached")) return "cached";
  if (list.every((c) => c.status === "succeeded" || c.status === "cached")) return "succeeded";
  return list.findLast((c) => c.status !== "succeeded" && c.status !== "cached")!.status;
}

function listed(list: readonly RunCall[]): string {
  const shown = list.slice(0, 8).map((c) => `${c.id} (${c.status})`).join(", ");
  return list.length > 8 ? `${shown} and ${list.length - 8} more` : shown;
}

/**
 * The entity a map node runs per element, which is what the skeleton's call
 * zone names: its elements' entity, or for a map that made none, its name
 * without the `map_` that weft puts before the entity's name by default.
 */
function mappedEntity(node: OverlayNode, children: ReadonlyMap<string, OverlayNode[]>): string {
  return children.get(node.id)?.[0]?.entity ?? node.entity.replace(/^map_/, "");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Whether `z` is inside the zones `within` (at any depth). */
function inside(within: readonly SkeletonZone[], z: SkeletonZone): boolean {
  return within.some((x) => x === z || zoneLists(x).some((l) => inside(l, z)));
}

/**
 * What a run did at each box and group of a flow's skeleton graph.
 *
 * @param graph The flow's skeleton graph (see `skeletonGraph`), with the flows drawn inside it.
 * @param run The run's status and nodes.
 * @returns The marks, whether every flow's calls fit its skeleton, and notes when they did not.
 */
export function runMarks(
  graph: SkeletonGraph,
  run: Pick<OverlayRun, "status" | "nodes">,
): RunMarks {
  const children = new Map<string, OverlayNode[]>();
  for (const n of run.nodes) {
    const list = children.get(n.parentId ?? "") ?? [];
    children.set(n.parentId ?? "", list);
    list.push(n);
  }
  for (const list of children.values()) list.sort((a, b) => a.seq - b.seq);
  const groups = new Map(graph.groups.map((g) => [g.key, g]));
  const boxes = new Map(graph.boxes.map((b) => [b.key, b]));
  const flowOf = (key: string): SkeletonGroup => {
    let g = groups.get(key)!;
    while (g.kind !== "flow") g = groups.get(g.parent!)!;
    return g;
  };
  const notes: string[] = [];
  const runs = new Map<string, FlowRuns>();
  for (const g of graph.groups) {
    if (g.kind !== "flow") continue;
    const r = new FlowRuns();
    runs.set(g.key, r);
    // The run's own flow has no node: its calls are those without a parent.
    const made: { id: string | undefined; finished: boolean }[] = g.call === null
      ? [{ id: undefined, finished: run.status === "succeeded" }]
      : (() => {
        const call = boxes.get(g.call)!;
        return runs.get(flowOf(call.group).key)!.calls(call.zone!).map((c) => ({
          id: c.id,
          finished: c.status === "succeeded" || c.status === "cached",
        }));
      })();
    for (const { id, finished } of made) {
      if (id !== undefined) r.ids.push(id);
      // Sleeps and signal waits are the skeleton's wait zones, not calls.
      const calls = (children.get(id ?? "") ?? []).filter((n) =>
        n.kind !== "sleep" && n.kind !== "signal"
      ).map((n) => ({
        id: n.id,
        entity: n.kind === "map" ? mappedEntity(n, children) : n.entity,
        status: n.status === "succeeded" && n.cachedFrom !== undefined ? "cached" : n.status,
      }));
      const found = analyzeRun(graph.skeletons[g.flow] ?? [], calls, { finished });
      if (typeof found === "string") r.unfitted.push(...calls);
      else {
        r.fitted.push(found.path);
        r.open.push(found.open);
      }
    }
    if (r.unfitted.length > 0) {
      notes.push(
        `The calls of ${
          g.call === null ? `flow ${g.flow}` : `flow ${g.flow} (${r.ids.join(", ")})`
        } do not fit its skeleton (has the script changed since the run?): they are matched to it by name.`,
      );
    }
  }

  const states = new Map<string, ZoneState>();
  /**
   * Why a zone the path did not go through did not run: the run took another
   * way (`skipped`), it ended before (`not-reached`), or its calls do not tell
   * (`undecided`: it is inside an arm they do not decide).
   */
  const unreached = (from: string | null, zone: SkeletonZone | null): Exclude<ZoneState, "ran"> => {
    let z = zone;
    for (let key = from; key !== null;) {
      const g = groups.get(key)!;
      const state = states.get(key);
      if (state === "skipped" || state === "undecided") return state;
      if (g.kind === "loop" && g.zone?.kind === "loop" && z !== null) {
        const r = runs.get(flowOf(key).key)!;
        if (r.count(g.zone, "reached") > 0 && inside(g.zone.body, z)) {
          if (r.roundsOpen(g.zone)) return "undecided";
          if (r.count(g.zone, "rounds") === 0 && r.count(g.zone, "passed") > 0) return "skipped";
        }
      }
      // Out of a flow drawn inside another: on from the call it is drawn for.
      if (g.kind === "flow" && g.call !== null) z = boxes.get(g.call)!.zone;
      key = g.parent;
    }
    return "not-reached";
  };
  /** Whether a group or one around it is an arm the run's calls do not decide. */
  const undecided = (from: string | null): boolean => {
    for (let key = from; key !== null; key = groups.get(key)!.parent) {
      if (states.get(key) === "undecided") return true;
    }
    return false;
  };
  const NOTES: Record<Exclude<ZoneState, "ran">, string> = {
    "skipped": "skipped",
    "not-reached": "not reached",
    "undecided": "its calls do not tell whether the run went through it",
  };

  const marks: SkeletonMarks = { boxes: {}, groups: {} };
  for (const g of graph.groups) {
    const r = runs.get(flowOf(g.key).key)!;
    let mark: ZoneMark | undefined;
    if (g.kind === "flow") {
      if (g.call === null) {
        mark = { state: "ran", note: r.fits ? "" : "its calls do not fit its skeleton" };
      } else if (r.ids.length > 0) mark = { state: "ran", note: `ran as ${r.ids.join(", ")}` };
      else {
        const state = unreached(g.parent, boxes.get(g.call)!.zone);
        mark = { state, note: state === "skipped" ? "not called" : NOTES[state] };
      }
    } else if (r.fits && g.zone !== null) {
      const z = g.zone;
      const reached = r.count(z, "reached") > 0;
      if (undecided(g.parent)) {
        mark = { state: "undecided", note: NOTES.undecided };
      } else if (g.kind === "loop") {
        const rounds = r.count(z, "rounds");
        const many = r.fitted.length > 1 || groupsUp(g.parent).some((x) => x.kind === "loop");
        if (r.roundsOpen(z)) {
          mark = {
            state: reached ? "ran" : "undecided",
            note: `its calls do not tell how many iterations (${rounds} is one reading)`,
          };
        } else if (reached) {
          mark = {
            state: "ran",
            note: `${plural(rounds, "iteration")}${many ? " in all" : ""}`,
            iterations: rounds,
          };
        }
      } else if (g.arm === "try" || g.kind === "helper") {
        if (reached) mark = { state: "ran", note: "" };
      } else if (g.arm !== null) {
        const taken = r.arm(z, g.arm);
        if (r.armOpen(z, g.arm)) {
          mark = { state: "undecided", note: "its calls do not tell whether it was taken" };
        } else if (taken > 0) {
          mark = { state: "ran", note: taken === 1 ? "taken" : `taken ${taken} times` };
        } else if (
          g.kind !== "finally" && reached && (z.kind !== "try" || r.count(z, "passed") > 0)
        ) {
          mark = { state: "skipped", note: g.kind === "catch" ? "nothing to catch" : "not taken" };
        }
      }
      if (mark === undefined) {
        const state = unreached(g.parent, z);
        mark = { state, note: NOTES[state] };
      }
    }
    if (mark !== undefined) {
      states.set(g.key, mark.state);
      marks.groups[g.key] = mark;
    }
  }

  for (const b of graph.boxes) {
    const r = runs.get(flowOf(b.group).key)!;
    const z = b.zone;
    if (z === null) continue;
    let mark: BoxMark | undefined;
    const made = b.kind === "call" ? r.calls(z) : b.kind === "unknown" ? r.unknown(z) : [];
    const none = { count: 0, nodes: [] };
    if (made.length > 0) {
      mark = {
        state: stateOf(made),
        count: made.length,
        nodes: made.map((c) => c.id),
        note: `${b.kind === "unknown" ? "made" : made.length === 1 ? "ran as" : "ran"} ${
          made.length === 1 ? "" : `${made.length} times: `
        }${listed(made)}${r.fits ? "" : " (matched by name)"}`,
      };
    } else if (b.kind === "call" && !r.fits) {
      mark = { state: "not-reached", ...none, note: "no call of it in the run" };
    } else if (r.fits) {
      const reached = b.kind === "join"
        ? r.count(z, "passed") > 0
        : b.kind !== "call" && r.count(z, "reached") > 0;
      const state = undecided(b.group)
        ? "undecided"
        : reached
        ? (r.failedAt(z) ? "failed" : "reached")
        : unreached(b.group, z);
      mark = {
        state,
        ...none,
        note: b.kind === "join" ? "" : {
          failed: "what it waited on failed: it threw here",
          reached: b.kind === "unknown" ? "reached; made no call" : "reached",
          skipped: "skipped: the run did not take this way",
          "not-reached": "not reached by the run",
          undecided: NOTES.undecided,
        }[state],
      };
    }
    if (mark !== undefined) marks.boxes[b.key] = mark;
  }
  return { marks, fits: [...runs.values()].every((r) => r.unfitted.length === 0), notes };

  function groupsUp(from: string | null): SkeletonGroup[] {
    const out: SkeletonGroup[] = [];
    for (let key = from; key !== null; key = groups.get(key)!.parent) out.push(groups.get(key)!);
    return out;
  }
}
