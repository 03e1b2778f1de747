/**
 * A flow's skeleton ready to draw, shared by every renderer (DOT, Mermaid,
 * the HTML export, the run overlay, `weft inspect`, and the web UI): nested
 * groups (the flow, loops, branch arms, try blocks, helpers, nested flows),
 * the boxes inside them (calls, waits, exits, unknowns, and the head of each
 * loop, branch and try), and the arrows between boxes (the order things
 * run in, a loop's back edge labelled with its condition, a branch's arms,
 * and data edges between calls). Keys are generated (`s0_n3`), so no user
 * string has to be an identifier anywhere.
 *
 * The interface for a renderer is {@linkcode skeletonGraph}; conditions are
 * shown by {@linkcode showCondition}.
 *
 * @module
 */

import type { DagDocument, DagWorkflow, SkeletonZone } from "../core/dag_format.ts";
import { skeletonCalls } from "../ir/reach.ts";

/** A group of boxes: the flow itself, or a zone inside it. */
export interface SkeletonGroup {
  /** A generated key, unique in the graph. */
  key: string;
  /** What it stands for. */
  kind: "flow" | "loop" | "then" | "else" | "case" | "try" | "catch" | "finally" | "helper";
  /** Its label (`while (wait(out) < 10)`, `then`, `helper double`, `flow grid`). */
  label: string;
  /** The longer text shown on hover: the condition in full, the source line. */
  title: string;
  /** The source line, or null for a flow. */
  line: number | null;
  /** The enclosing group's key, or null for the outermost flow. */
  parent: string | null;
  /** The zone it draws or is an arm of (for the run overlay), or null for the flow. */
  zone: SkeletonZone | null;
  /** Which arm of its zone it is: `then`, `else`, `catch`, `finally`, a case's index; else null. */
  arm: string | null;
  /** For a flow drawn inside the flow that calls it: the key of the call box it is drawn for; else null. */
  call: string | null;
  /** The flow whose skeleton it is in (itself, for a flow). */
  flow: string;
}

/** A box of a drawn skeleton. */
export interface SkeletonBox {
  /** A generated key, unique in the graph. */
  key: string;
  /** What it stands for: a zone, or the head of a loop, branch, switch or try, or where arms join. */
  kind: "call" | "wait" | "exit" | "unknown" | "loop" | "branch" | "try" | "join";
  /** Its label. */
  label: string;
  /** A second line (`task`, `flow`, a reason), or empty. */
  subtitle: string;
  /** The text shown on hover. */
  title: string;
  /** The source line, or null (a join). */
  line: number | null;
  /** The group it is in. */
  group: string;
  /** The zone it draws (a head's zone for heads, the branch's, switch's or try's for the join after it). */
  zone: SkeletonZone | null;
  /** The flow whose skeleton it is in (nested flows are drawn inside their call's flow). */
  flow: string;
}

/** An arrow of a drawn skeleton. */
export interface SkeletonArrow {
  /** The key of the box it starts at. */
  from: string;
  /** The key of the box it ends at. */
  to: string;
  /** `next`: what runs next; `back`: a loop's next round; `arm`: into a branch arm; `data`: a call's handle used by a call; `nested`: a call of a flow into its skeleton. */
  kind: "next" | "back" | "arm" | "data" | "nested";
  /** A label (a condition, `then`, `else`), or empty. */
  label: string;
}

/** A skeleton ready to draw. */
export interface SkeletonGraph {
  /** The flow. */
  flow: string;
  /** The groups, outermost first. */
  groups: SkeletonGroup[];
  /** The boxes. */
  boxes: SkeletonBox[];
  /** The arrows. */
  arrows: SkeletonArrow[];
  /** The skeleton of each flow drawn (the flow and those drawn inside it), by name. */
  skeletons: Record<string, SkeletonZone[]>;
}

/** Where a drawn list of zones starts and ends (undefined: it drew nothing). */
interface Ends {
  first: string | undefined;
  last: string | undefined;
}

const NONE: Ends = { first: undefined, last: undefined };

/** Options of {@linkcode skeletonGraph}. */
export interface SkeletonGraphOptions {
  /**
   * A prefix for generated keys, so that several graphs can share a page.
   * @default "s0"
   */
  prefix?: string;
  /**
   * How deep the skeletons of flows called by the flow are drawn inside it.
   * @default 1
   */
  nestedDepth?: number;
}

/**
 * Shows a condition as a person reads it: `(yield* wait(out)) < 10` as
 * `wait(out) < 10`.
 *
 * @param text The condition as written.
 * @returns The shorter text.
 */
export function showCondition(text: string): string {
  return text.replace(/\(\s*yield\*\s+((?:wait|all|race)\([^()]*\))\s*\)/g, "$1")
    .replace(/yield\*\s+/g, "");
}

/**
 * Lays a flow's skeleton out as groups, boxes and arrows.
 *
 * @param dag The document holding the flow (and the flows it calls).
 * @param flow The flow's name.
 * @param options A key prefix; how deep nested flows are drawn.
 * @returns The graph, or undefined when the flow has no skeleton.
 */
export function skeletonGraph(
  dag: DagDocument,
  flow: string,
  options: SkeletonGraphOptions = {},
): SkeletonGraph | undefined {
  const workflows = new Map(dag.workflows.map((w) => [w.name, w]));
  const root = workflows.get(flow);
  if (root?.kind !== "dynamic" || root.skeleton === undefined) return undefined;
  const prefix = options.prefix ?? "s0";
  const depth = options.nestedDepth ?? 1;
  const graph: SkeletonGraph = { flow, groups: [], boxes: [], arrows: [], skeletons: {} };
  let n = 0;
  const box = (b: Omit<SkeletonBox, "key">): string => {
    const key = `${prefix}_n${n++}`;
    graph.boxes.push({ key, ...b });
    return key;
  };
  const group = (g: Omit<SkeletonGroup, "key">): string => {
    const key = `${prefix}_g${graph.groups.length}`;
    graph.groups.push({ key, ...g });
    return key;
  };
  const arrow = (from: string, to: string, kind: SkeletonArrow["kind"], label = "") =>
    graph.arrows.push({ from, to, kind, label });

  /** Draws a flow's zones in a group; returns its entry and exit boxes. */
  const drawFlow = (
    wf: Extract<DagWorkflow, { kind: "dynamic" }>,
    parent: string | null,
    stack: string[],
    call: string | null,
  ): Ends => {
    const g = group({
      kind: "flow",
      label: `flow ${wf.name}`,
      title: `flow ${wf.name}${wf.source ? ` (${wf.source.file}:${wf.source.line})` : ""}`,
      line: wf.source?.line ?? null,
      parent,
      zone: null,
      arm: null,
      call,
      flow: wf.name,
    });
    graph.skeletons[wf.name] = wf.skeleton ?? [];
    const calls = new Map<string, string>();
    const names = new Map(skeletonCalls(wf.skeleton ?? []).map((c) => [c.id, c.entity.name]));
    const on = (ids: readonly string[]) =>
      [...new Set(ids.map((id) => names.get(id) ?? id))].join(", ");
    const dataEdges: [string, string][] = [];
    const drawList = (
      zones: readonly SkeletonZone[],
      into: string,
    ): Ends => {
      let first: string | undefined;
      let last: string | undefined;
      for (const z of zones) {
        const drawn = drawZone(z, into);
        if (drawn.first === undefined) continue;
        if (last !== undefined) arrow(last, drawn.first, "next");
        first ??= drawn.first;
        last = drawn.last;
      }
      return { first, last };
    };
    const arm = (
      kind: SkeletonGroup["kind"],
      label: string,
      zones: readonly SkeletonZone[],
      parentGroup: string,
      of: SkeletonZone,
      which: string | null,
    ) => {
      if (zones.length === 0) return NONE;
      const g2 = group({
        kind,
        label,
        title: `${label} (line ${of.line})`,
        line: of.line,
        parent: parentGroup,
        zone: of,
        arm: which,
        call: null,
        flow: wf.name,
      });
      return drawList(zones, g2);
    };
    const drawZone = (z: SkeletonZone, into: string): Ends => {
      const common = { line: z.line, group: into, zone: z, flow: wf.name };
      /** The box where a branch's or a try's paths meet again. */
      const joinBox = () =>
        box({ kind: "join", label: "", subtitle: "", title: "", ...common, line: null });
      /** A box its label says all of (its tooltip adds the line). */
      const labelBox = (kind: SkeletonBox["kind"], label: string) =>
        box({ kind, label, subtitle: "", title: `${label} · line ${z.line}`, ...common });
      switch (z.kind) {
        case "call": {
          const nested = z.entity.kind === "workflow" ? workflows.get(z.entity.name) : undefined;
          const what = nested === undefined
            ? z.entity.kind === "launchPlan" ? "launch plan" : z.entity.kind
            : nested.kind === "dynamic"
            ? "flow"
            : "workflow";
          const key = box({
            kind: "call",
            label: z.entity.name,
            subtitle: what,
            title: `${what} ${z.entity.name} · line ${z.line}`,
            ...common,
          });
          calls.set(z.id, key);
          for (const from of z.from) dataEdges.push([from, z.id]);
          if (
            nested?.kind === "dynamic" && nested.skeleton !== undefined &&
            stack.length <= depth && !stack.includes(nested.name)
          ) {
            const inner = drawFlow(nested, into, [...stack, nested.name], key);
            if (inner.first !== undefined) arrow(key, inner.first, "nested", "runs");
          }
          return { first: key, last: key };
        }
        case "wait": {
          const key = box({
            kind: "wait",
            label: z.mode === "yield" || z.mode === "await"
              ? `${z.mode} ${on(z.on)}`
              : `${z.mode}(${on(z.on)})`,
            subtitle: "",
            title: `${z.mode} · line ${z.line}`,
            ...common,
          });
          return { first: key, last: key };
        }
        case "exit": {
          const label = `${z.exit}${z.label === undefined ? "" : ` ${z.label}`}`;
          const key = labelBox("exit", label);
          return { first: key, last: key };
        }
        case "unknown": {
          const key = box({
            kind: "unknown",
            label: `? ${z.source}`,
            subtitle: "cannot be known",
            title: `${z.source} · line ${z.line}: ${z.reason}`,
            ...common,
          });
          return { first: key, last: key };
        }
        case "loop": {
          const head = `${z.loop === "each" ? "each" : z.loop === "do" ? "do … while" : z.loop} (${
            showCondition(z.condition)
          })`;
          const g2 = group({
            kind: "loop",
            label: head,
            title: `${z.loop} (${z.condition}) · line ${z.line}${
              z.carries.length ? ` · carries ${z.carries.join(", ")}` : ""
            }`,
            line: z.line,
            parent: into,
            zone: z,
            arm: null,
            call: null,
            flow: wf.name,
          });
          const key = box({
            kind: "loop",
            label: head,
            subtitle: "",
            title: head,
            ...common,
            group: g2,
          });
          const test = drawList(z.test, g2);
          const body = drawList(z.body, g2);
          let tail = key;
          if (test.first !== undefined) {
            arrow(key, test.first, "next");
            tail = test.last!;
          }
          if (body.first !== undefined) {
            arrow(tail, body.first, "arm", "loop");
            arrow(body.last!, key, "back", showCondition(z.condition));
          } else arrow(tail, key, "back", showCondition(z.condition));
          return { first: key, last: key };
        }
        case "branch":
        case "switch": {
          const label = `${z.kind === "branch" ? "if" : "switch"} (${showCondition(z.condition)})`;
          const key = labelBox("branch", label);
          const join = joinBox();
          const arms = z.kind === "branch"
            ? [{ kind: "then" as const, label: "then", zones: z.then, which: "then" }, {
              kind: "else" as const,
              label: "else",
              zones: z.else,
              which: "else",
            }]
            : z.cases.map((c, i) => ({
              kind: "case" as const,
              label: c.test === null ? "default" : `case ${c.test}`,
              zones: c.body,
              which: String(i),
            }));
          for (const a of arms) {
            const drawn = arm(a.kind, a.label, a.zones, into, z, a.which);
            if (drawn.first === undefined) arrow(key, join, "arm", a.label);
            else {
              arrow(key, drawn.first, "arm", a.label);
              arrow(drawn.last!, join, "next");
            }
          }
          return { first: key, last: join };
        }
        case "try": {
          const key = labelBox("try", "try");
          const join = joinBox();
          const body = arm("try", "try", z.body, into, z, "try");
          if (body.first !== undefined) {
            arrow(key, body.first, "next");
            arrow(body.last!, join, "next");
          } else arrow(key, join, "next");
          if (z.catch !== undefined) {
            const c = arm("catch", "catch", z.catch, into, z, "catch");
            if (c.first !== undefined) {
              arrow(key, c.first, "arm", "on error");
              arrow(c.last!, join, "next");
            }
          }
          if (z.finally !== undefined) {
            const f = arm("finally", "finally", z.finally, into, z, "finally");
            if (f.first !== undefined) {
              arrow(join, f.first, "next");
              return { first: key, last: f.last! };
            }
          }
          return { first: key, last: join };
        }
        case "helper":
          return arm("helper", `helper ${z.name}`, z.body, into, z, null);
      }
    };
    const drawn = drawList(wf.skeleton ?? [], g);
    for (const [from, to] of dataEdges) {
      const source = calls.get(from);
      const target = calls.get(to);
      if (source !== undefined && target !== undefined) arrow(source, target, "data");
    }
    return drawn;
  };
  drawFlow(root, null, [flow], null);
  return graph;
}
