/**
 * The `weft.dag/v1` IR: plain, versioned JSON describing workflows (static
 * ones with their nodes and edges; flows as dynamic, with the tasks they may
 * call), launch plans and the task table. The same entities always give
 * byte-identical JSON.
 *
 * @module
 */

import { registerDescriber } from "../core/call_site.ts";
import { ValidationError } from "../core/errors.ts";
import type {
  EntityDef,
  FlowDef,
  GraphDef,
  LaunchPlanDef,
  SourceLocation,
  TaskDef,
} from "../define/defs.ts";
import { entityOf, requireEntity } from "../define/entity.ts";
import { baseOf } from "../define/overrides.ts";
import { dagSchedule } from "../define/schedule.ts";
import type { Permissions } from "../define/permissions.ts";
import { toJsonTree } from "../core/values.ts";
import {
  DAG_FORMAT,
  type DagDocument,
  type DagEntityRef,
  type DagInput,
  type DagTask,
  type DagWorkflow,
  type SkeletonZone,
} from "../core/dag_format.ts";

export * from "../core/dag_format.ts";
export { callNodes, everyNode, isConditionNode, workflowRefs } from "./nodes.ts";
import { workflowRefs } from "./nodes.ts";
import { controlToDag, graphToDag, ref, retriesToDag, source } from "./graph_dag.ts";
export {
  firstUnknown,
  type Reach,
  reachOf,
  skeletonCalls,
  type UnknownCall,
  zoneLists,
} from "./reach.ts";
import { reachOf } from "./reach.ts";

/** Options of {@linkcode toDag}. */
export interface ToDagOptions {
  /** Module URL that source paths are made relative to. */
  baseUrl?: string;
  /** Entities of the module (tasks, or their definitions): what a flow without a `tasks` option may call. */
  moduleEntities?: readonly unknown[];
  /**
   * Flows' skeletons, extracted from their source (the compile child does:
   * see `src/ir/skeleton/extract.ts`). A flow with a skeleton that has no
   * unknown call may call exactly what the skeleton calls.
   *
   * @ignore
   */
  skeletons?: ReadonlyMap<FlowDef, FlowSkeletonInput>;
}

/** A flow's skeleton as {@linkcode toDag} takes it. */
export interface FlowSkeletonInput {
  /** The zones. */
  zones: SkeletonZone[];
  /** The entities its call zones call. */
  calls: readonly EntityDef[];
  /** Whether a zone is unknown. */
  unknown: boolean;
}

/**
 * Describes entities and everything they reference as a `weft.dag/v1` document.
 *
 * @example Describe a workflow without running it
 * ```ts
 * import { task, Workflow } from "@weft/weft";
 * import { toDag } from "@weft/weft/ir";
 * import assert from "node:assert/strict";
 *
 * const inc = task(function inc(x: number) { return x + 1; });
 * const wf = new Workflow("twice");
 * const x = wf.addInput("x", "number");
 * wf.addOutput("y", wf.addEntity(inc, { x: wf.addEntity(inc, { x }) }));
 * const dag = toDag([wf]);
 * assert.equal(dag.format, "weft.dag/v1");
 * assert.deepEqual(dag.tasks.map((t) => t.name), ["inc"]);
 * ```
 *
 * @param entities The workflows, flows, launch plans and tasks to describe.
 * @param options Base URL for source paths; the module's entities for flows.
 * @returns The document, sorted by name.
 * @throws {ValidationError} When something is not an entity, or two different entities of one kind share a name.
 */
export function toDag(entities: readonly unknown[], options: ToDagOptions = {}): DagDocument {
  const roots = entities.map((e) => baseOf(entityOf(e) ?? requireDef(e)));
  const workflows = new Map<string, GraphDef | FlowDef>();
  const tasks = new Map<string, TaskDef>();
  const plans = new Map<string, LaunchPlanDef>();
  const claim = <T extends EntityDef>(table: Map<string, T>, def: T): boolean => {
    const seen = table.get(def.name);
    if (seen === def) return false;
    if (seen !== undefined) {
      throw new ValidationError(
        `Two different ${
          def.kind === "launchPlan" ? "launch plans" : `${def.kind}s`
        } are named '${def.name}'${
          where(seen.source, def.source)
        }; give one of them another name (the 'name' option)`,
      );
    }
    table.set(def.name, def);
    return true;
  };
  const moduleCallables = (options.moduleEntities ?? []).map((e) => entityOf(e) ?? requireDef(e));
  const given = options.skeletons ?? new Map<FlowDef, FlowSkeletonInput>();
  const skeletons = { get: (def: FlowDef) => given.get(def) ?? remembered.get(def) };
  const visit = (given: EntityDef): void => {
    // A call overridden with .with() uses the entity as defined; the node says what changed.
    const def = baseOf(given);
    switch (def.kind) {
      case "task":
        claim(tasks, def);
        return;
      case "launchPlan":
        if (claim(plans, def)) visit(def.target);
        return;
      case "workflow":
        if (claim(workflows, def)) {
          for (const n of def.nodes) visit(n.def);
          if (def.control.onFailure !== undefined) visit(def.control.onFailure);
        }
        return;
      case "map":
        visit(def.target);
        return;
      case "condition":
        for (const branch of [def.then, def.else]) for (const n of branch.nodes) visit(n.def);
        return;
      case "flow":
        if (claim(workflows, def)) {
          if (def.control.onFailure !== undefined) visit(def.control.onFailure);
          for (const c of flowCalls(def, moduleCallables, skeletons.get(def)).calls) visit(c);
          for (const c of skeletons.get(def)?.calls ?? []) visit(c);
        }
        return;
    }
  };
  for (const r of roots) visit(r);
  const base = options.baseUrl;
  return {
    format: DAG_FORMAT,
    workflows: sorted(workflows).map((d) =>
      d.kind === "flow"
        ? flowToDag(d, moduleCallables, skeletons.get(d), base)
        : graphToDag(d, base)
    ),
    launchPlans: sorted(plans).map((lp) => ({
      name: lp.name,
      entity: ref(lp.target),
      defaults: jsonMap(lp.defaults),
      fixed: jsonMap(lp.fixed),
      ...(lp.schedule === undefined ? {} : { schedule: dagSchedule(lp.schedule) }),
    })),
    tasks: sorted(tasks).map((t) => taskToDag(t, base)),
  };
}

/**
 * Loads the skeleton extractor and its JavaScript parser, on demand: the
 * compile child does when a script defines a flow. A literal import in
 * weft's module graph, so that `deno info` resolves (and a project's
 * lockfile pins) the parser with the script's other modules, while neither
 * `import "@weft/weft"` nor a run loads it.
 *
 * @returns The extractor module.
 */
export function loadSkeletonExtractor(): Promise<typeof import("./skeleton/extract.ts")> {
  return import("./skeleton/extract.ts");
}

/** Skeletons read back with a document (`fromDag`), by the flow they were bound to. */
const remembered = new WeakMap<FlowDef, FlowSkeletonInput>();

/**
 * Remembers a flow's skeleton, so that describing the flow again (its
 * workflow's `.graph`, `toDag`) includes it: `fromDag` does, so that a
 * document loaded back describes itself as it was.
 *
 * @param def The flow.
 * @param skeleton Its skeleton.
 */
export function rememberSkeleton(def: FlowDef, skeleton: FlowSkeletonInput): void {
  remembered.set(def, skeleton);
}

function requireDef(x: unknown): EntityDef {
  const kind = (x as { kind?: unknown } | null)?.kind;
  if (kind === "task" || kind === "workflow" || kind === "flow" || kind === "launchPlan") {
    // A definition given as such (the CLI's loader collects definitions).
    return x as EntityDef;
  }
  return requireEntity(x, "toDag(entities)");
}

function where(a: SourceLocation | undefined, b: SourceLocation | undefined): string {
  const show = (s: SourceLocation | undefined) =>
    s === undefined ? "?" : `${s.file.replace(/^.*\//, "")}:${s.line}`;
  return a === undefined && b === undefined ? "" : ` (at ${show(a)} and ${show(b)})`;
}

function sorted<T extends EntityDef>(table: Map<string, T>): T[] {
  return [...table.values()].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * What a flow may call: its `tasks:` option when it gives one; else what its
 * skeleton calls, when the skeleton has no unknown call; else that and every
 * task of its module.
 */
function flowCalls(
  def: FlowDef,
  moduleEntities: readonly EntityDef[],
  skeleton: FlowSkeletonInput | undefined,
): { calls: readonly EntityDef[]; from: "tasks" | "skeleton" | "module" } {
  if (def.tasks !== undefined) return { calls: def.tasks, from: "tasks" };
  if (skeleton !== undefined && !skeleton.unknown) {
    return { calls: skeleton.calls, from: "skeleton" };
  }
  const calls = [...(skeleton?.calls ?? [])];
  for (const d of moduleEntities) if (d.kind === "task" && !calls.includes(d)) calls.push(d);
  return { calls, from: "module" };
}

function flowToDag(
  f: FlowDef,
  moduleEntities: readonly EntityDef[],
  skeleton: FlowSkeletonInput | undefined,
  base: string | undefined,
): DagWorkflow {
  const found = flowCalls(f, moduleEntities, skeleton);
  const calls = found.calls.map(ref).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0
  ).filter((r, i, all) => i === 0 || r.name !== all[i - 1]!.name || r.kind !== all[i - 1]!.kind);
  const extra = skeleton === undefined ? {} : { callsFrom: found.from, skeleton: skeleton.zones };
  return {
    name: f.name,
    kind: "dynamic",
    inputs: f.params.map((p) => {
      const input: DagInput = { name: p.name, type: "unknown", optional: p.optional };
      if ("default" in p) input.default = toJsonTree(p.default);
      return input;
    }),
    outputs: f.outputs.map((name) => ({ name })),
    calls,
    ...extra,
    source: source(f.source, base),
    ...controlToDag(f.control),
  };
}

function taskToDag(t: TaskDef, base: string | undefined): DagTask {
  return {
    name: t.name,
    params: t.params.map((p) => {
      const param: { name: string; optional: boolean; default?: unknown } = {
        name: p.name,
        optional: p.optional,
      };
      if ("default" in p) param.default = toJsonTree(p.default);
      return param;
    }),
    outputs: [...t.outputs],
    retries: retriesToDag(t.retries),
    retryDelayMs: t.retryDelayMs,
    backoff: t.backoff,
    maxRetryDelayMs: t.maxRetryDelayMs,
    jitter: t.jitter,
    retryDeadlineMs: t.retryDeadlineMs ?? null,
    retryIf: t.retryIf !== undefined,
    nonRetryable: t.nonRetryable.map((c) => c.name),
    timeoutMs: t.timeoutMs ?? null,
    concurrency: t.concurrency ?? null,
    cache: t.cache,
    cacheIgnore: [...t.cacheIgnore],
    queue: t.queue ?? null,
    version: t.version ?? null,
    permissions: sortedPermissions(t.permissions),
    source: source(t.source, base),
  };
}

function sortedPermissions(p: Permissions): Permissions {
  const out: Permissions = {};
  for (const kind of Object.keys(p).sort() as (keyof Permissions)[]) {
    const v = p[kind]!;
    out[kind] = v === true ? true : [...v].sort();
  }
  return out;
}

function jsonMap(values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(values).sort()) out[k] = toJsonTree(values[k], true);
  return out;
}

/**
 * The tasks a workflow of a document reaches: a static workflow's nodes,
 * recursively through subworkflows and launch plans; a flow's `calls`.
 *
 * @param dag The document.
 * @param name The workflow (or flow, launch plan or task) name.
 * @returns The task names, sorted.
 * @throws {ValidationError} When the name is not in the document.
 */
export function reachableTasks(dag: DagDocument, name: string): string[] {
  return reachOf(dag, name).tasks;
}

/**
 * The part of a document one entity needs: it and everything it reaches.
 *
 * @param dag The document.
 * @param name The workflow, launch plan or task name.
 * @returns A document with only those entries.
 */
export function subDocument(dag: DagDocument, name: string): DagDocument {
  const workflows = new Set<string>();
  const plans = new Set<string>();
  const tasks = new Set<string>();
  const visit = (ref: DagEntityRef): void => {
    if (ref.kind === "task") {
      tasks.add(ref.name);
      return;
    }
    if (ref.kind === "launchPlan") {
      if (plans.has(ref.name)) return;
      plans.add(ref.name);
      const lp = dag.launchPlans.find((l) => l.name === ref.name);
      if (lp !== undefined) visit(lp.entity);
      return;
    }
    if (workflows.has(ref.name)) return;
    workflows.add(ref.name);
    const wf = dag.workflows.find((w) => w.name === ref.name);
    if (wf === undefined) return;
    for (const r of workflowRefs(wf)) visit(r);
  };
  const kind = dag.workflows.some((w) => w.name === name)
    ? "workflow"
    : dag.launchPlans.some((l) => l.name === name)
    ? "launchPlan"
    : "task";
  visit({ kind, name });
  return {
    format: dag.format,
    workflows: dag.workflows.filter((w) => workflows.has(w.name)),
    launchPlans: dag.launchPlans.filter((l) => plans.has(l.name)),
    tasks: dag.tasks.filter((t) => tasks.has(t.name)),
  };
}

registerDescriber((entities) => toDag(entities));
