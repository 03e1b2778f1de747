/**
 * What an entity of a `weft.dag/v1` document may reach, for the permissions
 * `weft run` grants: the tasks of a static workflow's nodes (recursively
 * through subworkflows and launch plans), and a flow's `calls` — exactly
 * what its skeleton calls, unless the skeleton has an unknown call (then
 * every task of its module as well: the flows that fell back are listed
 * with the line that made them unknowable) or the flow lists `tasks:` (an
 * override, checked against the skeleton).
 *
 * Plain functions of the document, with no other weft import, so that the
 * parent of `weft run` can use them without loading the IR module.
 *
 * @module
 */

import type { DagDocument, DagEntityRef, DagWorkflow, SkeletonZone } from "../core/dag_format.ts";
import { ValidationError } from "../core/errors.ts";
import { workflowRefs } from "./nodes.ts";

/** A flow whose skeleton could not say what it calls. */
export interface UnknownCall {
  /** The flow. */
  flow: string;
  /** Its module (relative to the script's directory when local). */
  file: string | null;
  /** The line of the first unknown zone. */
  line: number;
  /** Its source text. */
  source: string;
  /** Why it cannot be known. */
  reason: string;
}

/** What an entity reaches. */
export interface Reach {
  /** The task names, sorted. */
  tasks: string[];
  /** The flows it reaches whose calls fell back to every task of their module. */
  unknown: UnknownCall[];
  /** Where a flow's `tasks:` option disagrees with its skeleton. */
  warnings: string[];
}

/**
 * What an entity of a document reaches.
 *
 * @param dag The document.
 * @param name A workflow, flow, launch plan or task name.
 * @returns Its tasks, the flows that fell back, and warnings.
 * @throws {ValidationError} When the name, or something it refers to, is not in the document.
 */
export function reachOf(dag: DagDocument, name: string): Reach {
  const workflows = new Map(dag.workflows.map((w) => [w.name, w]));
  const plans = new Map(dag.launchPlans.map((l) => [l.name, l]));
  const kind = workflows.has(name)
    ? "workflow"
    : plans.has(name)
    ? "launchPlan"
    : dag.tasks.some((t) => t.name === name)
    ? "task"
    : undefined;
  if (kind === undefined) {
    throw new ValidationError(`The document has no workflow, launch plan or task '${name}'`);
  }
  const unknown: UnknownCall[] = [];
  const warnings: string[] = [];
  const tasks = tasksOf(dag, [{ kind, name }], (wf) => {
    if (wf.kind !== "dynamic" || wf.skeleton === undefined) return;
    if (wf.callsFrom === "module") {
      const z = firstUnknown(wf.skeleton);
      if (z !== undefined) {
        unknown.push({
          flow: wf.name,
          file: wf.source?.file ?? null,
          line: z.line,
          source: z.source,
          reason: z.reason,
        });
      }
    } else if (wf.callsFrom === "tasks") {
      warnings.push(...overrideWarnings(dag, wf));
    }
  });
  return { tasks, unknown, warnings };
}

/**
 * The tasks reached from some entities.
 *
 * @param dag The document.
 * @param roots Where to start.
 * @param onWorkflow Called once for each workflow or flow visited.
 * @returns The task names, sorted.
 */
function tasksOf(
  dag: DagDocument,
  roots: DagEntityRef[],
  onWorkflow: (wf: DagWorkflow) => void = () => {},
): string[] {
  const tasks = new Set<string>();
  const seen = new Set<string>();
  const visit = (ref: DagEntityRef): void => {
    const key = `${ref.kind}:${ref.name}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (ref.kind === "task") {
      tasks.add(ref.name);
      return;
    }
    if (ref.kind === "launchPlan") {
      const lp = dag.launchPlans.find((l) => l.name === ref.name);
      if (lp === undefined) {
        throw new ValidationError(`The document has no launch plan '${ref.name}'`);
      }
      return visit(lp.entity);
    }
    const wf = dag.workflows.find((w) => w.name === ref.name);
    if (wf === undefined) throw new ValidationError(`The document has no workflow '${ref.name}'`);
    onWorkflow(wf);
    for (const r of workflowRefs(wf)) visit(r);
  };
  roots.forEach(visit);
  return [...tasks].sort();
}

/**
 * Every call zone of a skeleton, in order (inside loops, branches, helpers…).
 *
 * @param zones The skeleton.
 * @returns The call zones.
 */
export function skeletonCalls(
  zones: readonly SkeletonZone[],
): Extract<SkeletonZone, { kind: "call" }>[] {
  const out: Extract<SkeletonZone, { kind: "call" }>[] = [];
  const visit = (list: readonly SkeletonZone[]) => {
    for (const z of list) {
      if (z.kind === "call") out.push(z);
      for (const inner of zoneLists(z)) visit(inner);
    }
  };
  visit(zones);
  return out;
}

/**
 * The zone lists directly inside a zone.
 *
 * @param z A zone.
 * @returns Its lists (a loop's test and body, a branch's arms…).
 */
export function zoneLists(z: SkeletonZone): SkeletonZone[][] {
  switch (z.kind) {
    case "loop":
      return [z.test, z.body];
    case "branch":
      return [z.then, z.else];
    case "switch":
      return z.cases.map((c) => c.body);
    case "try":
      return [z.body, z.catch ?? [], z.finally ?? []];
    case "helper":
      return [z.body];
    default:
      return [];
  }
}

/**
 * The first unknown zone of a skeleton, in source order.
 *
 * @param zones The skeleton.
 * @returns The zone, or undefined when everything is known.
 */
export function firstUnknown(
  zones: readonly SkeletonZone[],
): Extract<SkeletonZone, { kind: "unknown" }> | undefined {
  for (const z of zones) {
    if (z.kind === "unknown") return z;
    for (const inner of zoneLists(z)) {
      const found = firstUnknown(inner);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Where a flow's `tasks:` list and what its skeleton reaches disagree. */
function overrideWarnings(
  dag: DagDocument,
  wf: Extract<DagWorkflow, { kind: "dynamic" }>,
): string[] {
  const calls = skeletonCalls(wf.skeleton ?? []);
  const viaSkeleton = tasksOf(dag, calls.map((c) => c.entity));
  const viaList = new Set(tasksOf(dag, wf.calls));
  const out: string[] = [];
  for (const t of viaSkeleton) {
    if (viaList.has(t)) continue;
    const at = calls.find((c) => c.entity.kind === "task" && c.entity.name === t);
    out.push(
      `flow '${wf.name}' calls task '${t}'${
        at === undefined ? "" : ` (line ${at.line})`
      }, which its tasks: option does not list, so its permissions are not granted; add it to tasks:`,
    );
  }
  const known = firstUnknown(wf.skeleton ?? []) === undefined;
  if (known) {
    const reached = new Set(viaSkeleton);
    for (const t of viaList) {
      if (!reached.has(t)) {
        out.push(
          `flow '${wf.name}' lists task '${t}' in its tasks: option but never calls it; remove it from tasks: (it is granted for nothing)`,
        );
      }
    }
  }
  return out;
}
