/**
 * Reading the `weft.dag/v1` IR back: {@linkcode validateDag} checks a
 * document (its format tag, the JSON Schema, then what a schema cannot say:
 * references, cycles, bindings), and {@linkcode fromDag} rebuilds its static
 * workflows as `Workflow` builder instances bound to a script's tasks, ready
 * to run.
 *
 * What comes from where: tasks and flows are code, so they come from the
 * entities you pass; static workflows and launch plans are data, so they are
 * rebuilt from the document (keeping its node ids).
 *
 * @module
 */

import { ENTITY } from "../core/call_site.ts";
import { ValidationError } from "../core/errors.ts";
import { builderModel, Workflow } from "../define/builder.ts";
import type { EntityDef, FlowDef, TaskDef, Test } from "../define/defs.ts";
import { entityOf, requireEntity } from "../define/entity.ts";
import { withOverrides } from "../define/overrides.ts";
import { mapTask, type MapTaskOptions } from "../define/map.ts";
import type { Handle } from "../define/handle.ts";
import type {
  DagBinding,
  DagBranch,
  DagDocument,
  DagEntityRef,
  DagInput,
  DagMap,
  DagNode,
  DagOverrides,
  DagTask,
  DagWorkflow,
  SkeletonZone,
} from "../core/dag_format.ts";
import {
  callNodes,
  firstUnknown,
  isConditionNode,
  rememberSkeleton,
  skeletonCalls,
} from "./mod.ts";
import { addCondition } from "../define/conditions.ts";
import type { ControlOptions } from "../define/control.ts";
import { list, topological, validateDag } from "./validate.ts";
import { launchPlan } from "../define/launch_plan.ts";
import { inputType, type JsonSchema, type TypeSpec } from "../define/input_types.ts";
import { fromJsonTree } from "../core/values.ts";

/**
 * The entities a document is bound to: an array of tasks, flows, workflows
 * and launch plans, or an object of them (a script's module namespace works:
 * `await import("../script.ts")`; values that are not entities are skipped).
 * The tasks and flows that given workflows, flows and launch plans use count
 * as given too.
 */
export type DagEntities = readonly unknown[] | { readonly [name: string]: unknown };

/** Options of {@linkcode fromDag}. */
export interface FromDagOptions {
  /**
   * The name of the workflow to return.
   * @default the only workflow of the document that no other workflow or launch plan uses
   */
  workflow?: string;
}

/** The entities given to fromDag, by kind and name. */
interface Given {
  tasks: Map<string, TaskDef>;
  flows: Map<string, FlowDef>;
}

function collect(entities: DagEntities): Given {
  const given: Given = { tasks: new Map(), flows: new Map() };
  let values: unknown[];
  if (Array.isArray(entities)) {
    values = entities.map((e, i) => {
      requireEntity(e, `fromDag(doc, entities): entities[${i}]`);
      return e;
    });
  } else if (typeof entities === "object" && entities !== null) {
    values = Object.values(entities);
  } else {
    throw new ValidationError(
      'fromDag(doc, entities) takes the tasks and flows to bind as an array or an object (such as the script\'s module: await import("../script.ts"))',
    );
  }
  const seen = new Set<EntityDef>();
  const add = (def: EntityDef): void => {
    if (seen.has(def)) return;
    seen.add(def);
    if (def.kind === "task" || def.kind === "flow") {
      const table: Map<string, EntityDef> = def.kind === "task" ? given.tasks : given.flows;
      const other = table.get(def.name);
      if (other !== undefined && other !== def) {
        throw new ValidationError(
          `Two different ${def.kind}s named '${def.name}' were given to fromDag; pass only the one the document was compiled from`,
        );
      }
      if (def.kind === "task") given.tasks.set(def.name, def);
      else {
        given.flows.set(def.name, def);
        def.tasks?.forEach(add);
      }
    } else if (def.kind === "launchPlan" || def.kind === "map") {
      add(def.target);
    } else if (def.kind === "condition") {
      for (const n of [...def.then.nodes, ...def.else.nodes]) add(n.def);
    } else if (def.kind === "workflow") {
      for (const n of def.nodes) add(n.def);
    }
  };
  for (const v of values) {
    const def = entityOf(v);
    if (def !== undefined) add(def);
  }
  return given;
}

/**
 * Rebuilds a workflow from a `weft.dag/v1` document, bound to the tasks and
 * flows of the script it was compiled from, ready to run. Static workflows
 * (the entry and its subworkflows) are rebuilt as `Workflow` builder
 * instances with the document's node ids; launch plans are rebuilt from the
 * document; tasks and flows are looked up by name among `entities` and must
 * have the inputs and outputs the document lists.
 *
 * Input types written as type strings or JSON Schemas keep checking values;
 * a Standard Schema validator (zod…) cannot be written down, so such an
 * input accepts any value once loaded.
 *
 * @example Compile, load back, run
 * ```ts
 * import { task, workflow } from "@weft/weft";
 * import { fromDag } from "@weft/weft/ir";
 * import assert from "node:assert/strict";
 *
 * const inc = task(function inc(x: number) { return x + 1; });
 * const twice = workflow(function twice(x: number) { return inc(inc(x)); });
 * const json = JSON.stringify(twice.graph); // what `weft compile` prints
 *
 * const loaded = await fromDag(json, [inc]);
 * assert.equal(await loaded.execute({ x: 1 }), 3);
 * const [rebuilt] = loaded.graph.workflows;
 * assert.ok(rebuilt?.kind === "static");
 * assert.deepEqual(rebuilt.nodes.map((n) => n.id), ["inc", "inc_2"]);
 * ```
 *
 * @param doc The document, or its JSON (or YAML) text.
 * @param entities The tasks and flows to bind: an array, or an object such as a module namespace.
 * @param options Which workflow to return.
 * @returns The workflow, as a `Workflow` builder instance.
 * @throws {ValidationError} When the document is invalid (see {@linkcode validateDag}), names a task or flow that was not given, or disagrees with one that was.
 */
export async function fromDag(
  doc: DagDocument | string,
  entities: DagEntities,
  options: FromDagOptions = {},
): Promise<Workflow> {
  const dag = await validateDag(doc);
  const given = collect(entities);
  const workflows = new Map(dag.workflows.map((w) => [w.name, w]));
  const plans = new Map(dag.launchPlans.map((l) => [l.name, l]));
  const tasks = new Map(dag.tasks.map((t) => [t.name, t]));
  const entry = pickEntry(dag, options.workflow);
  if (entry.kind === "dynamic") {
    throw new ValidationError(
      `Workflow '${entry.name}' of the document is a flow (kind dynamic): its graph exists only while it runs, so there is nothing to rebuild; run the flow itself, from its script`,
    );
  }

  const built = new Map<string, EntityDef>();
  const builders = new Map<string, Workflow>();
  const resolve = (ref: DagEntityRef): EntityDef => {
    const key = `${ref.kind}:${ref.name}`;
    const done = built.get(key);
    if (done !== undefined) return done;
    let def: EntityDef;
    if (ref.kind === "task") def = bindTask(tasks.get(ref.name)!, given);
    else if (ref.kind === "launchPlan") {
      const lp = plans.get(ref.name)!;
      const target = resolve(lp.entity);
      const values = (o: { [k: string]: unknown }) =>
        Object.fromEntries(Object.entries(o).map(([k, v]) => [k, fromJsonTree(v)]));
      def = entityOf(
        launchPlan({ [ENTITY]: target }, {
          name: lp.name,
          defaults: values(lp.defaults),
          fixed: values(lp.fixed),
          ...(lp.schedule === undefined ? {} : {
            ...(lp.schedule.cron === null
              ? { every: lp.schedule.everyMs! }
              : { schedule: lp.schedule.cron, timezone: lp.schedule.timezone }),
            overlap: lp.schedule.overlap,
            catchUp: lp.schedule.catchUp,
          }),
        }),
      )!;
    } else {
      const wf = workflows.get(ref.name)!;
      if (wf.kind === "dynamic") {
        const flow = bindFlow(wf, given);
        built.set(key, flow);
        if (wf.skeleton !== undefined) keepSkeleton(flow, wf.skeleton, resolve);
        return flow;
      }
      {
        const builder = rebuild(wf, resolve);
        builders.set(wf.name, builder);
        def = entityOf(builder)!;
      }
    }
    built.set(key, def);
    return def;
  };
  resolve({ kind: "workflow", name: entry.name });
  return builders.get(entry.name)!;
}

/** Keeps a bound flow's skeleton from the document, when everything it calls could be bound. */
function keepSkeleton(
  flow: FlowDef,
  zones: SkeletonZone[],
  resolve: (ref: DagEntityRef) => EntityDef,
): void {
  let calls: EntityDef[];
  try {
    calls = skeletonCalls(zones).map((c) => resolve(c.entity));
  } catch {
    return; // Something it calls was not given: describe it without its skeleton.
  }
  rememberSkeleton(flow, {
    zones,
    calls: [...new Set(calls)],
    unknown: firstUnknown(zones) !== undefined,
  });
}

function pickEntry(dag: DagDocument, name: string | undefined): DagWorkflow {
  const names = dag.workflows.map((w) => w.name);
  if (name !== undefined) {
    const wf = dag.workflows.find((w) => w.name === name);
    if (wf === undefined) {
      throw new ValidationError(
        `The document has no workflow named '${name}'; its workflows are ${list(names)}`,
      );
    }
    return wf;
  }
  const used = new Set<string>();
  for (const wf of dag.workflows) {
    if (wf.kind === "static") {
      for (const n of callNodes(wf.nodes)) {
        if (n.entity.kind === "workflow") used.add(n.entity.name);
      }
    }
  }
  for (const lp of dag.launchPlans) if (lp.entity.kind === "workflow") used.add(lp.entity.name);
  const roots = dag.workflows.filter((w) => !used.has(w.name));
  if (roots.length !== 1) {
    throw new ValidationError(
      roots.length === 0
        ? "The document has no workflow to load; compile a script that exports one"
        : `The document has ${roots.length} workflows (${
          list(roots.map((w) => w.name))
        }); choose one with fromDag(doc, entities, { workflow: "NAME" })`,
    );
  }
  return roots[0]!;
}

function bindTask(task: DagTask, given: Given): TaskDef {
  const def = given.tasks.get(task.name);
  if (def === undefined) {
    throw new ValidationError(
      `The document uses task '${task.name}', but no task of that name was given; the given tasks are ${
        list([...given.tasks.keys()].sort())
      } (pass the module that defines it: fromDag(doc, await import("../script.ts")))`,
    );
  }
  checkSignature(
    `task '${task.name}'`,
    { params: task.params, outputs: task.outputs },
    { params: def.params, outputs: def.outputs },
  );
  return def;
}

function bindFlow(wf: Extract<DagWorkflow, { kind: "dynamic" }>, given: Given): FlowDef {
  const def = given.flows.get(wf.name);
  if (def === undefined) {
    throw new ValidationError(
      `The document uses flow '${wf.name}' (kind dynamic), which can only be bound to a flow of that name, and none was given; the given flows are ${
        list([...given.flows.keys()].sort())
      }`,
    );
  }
  checkSignature(
    `flow '${wf.name}'`,
    { params: wf.inputs, outputs: wf.outputs.map((o) => o.name) },
    { params: def.params, outputs: def.outputs },
  );
  return def;
}

function checkSignature(
  what: string,
  doc: { params: readonly { name: string; optional: boolean }[]; outputs: readonly string[] },
  code: { params: readonly { name: string; optional: boolean }[]; outputs: readonly string[] },
): void {
  const show = (ps: readonly { name: string; optional: boolean }[]) =>
    ps.length === 0 ? "no inputs" : ps.map((p) => `${p.name}${p.optional ? "?" : ""}`).join(", ");
  if (show(doc.params) !== show(code.params)) {
    throw new ValidationError(
      `The document's ${what} takes (${show(doc.params)}), but the given ${what} takes (${
        show(code.params)
      }); the script changed since it was compiled: compile it again, or pass the code the document was made from`,
    );
  }
  if (doc.outputs.join(", ") !== code.outputs.join(", ")) {
    throw new ValidationError(
      `The document's ${what} has outputs (${doc.outputs.join(", ")}), but the given ${what} has (${
        code.outputs.join(", ")
      }); compile the script again, or pass the code the document was made from`,
    );
  }
}

function rebuild(
  wf: Extract<DagWorkflow, { kind: "static" }>,
  resolve: (ref: DagEntityRef) => EntityDef,
): Workflow {
  const control: ControlOptions = { failurePolicy: wf.failurePolicy ?? "finish-running" };
  if (wf.onFailure !== undefined) control.onFailure = { [ENTITY]: resolve(wf.onFailure) };
  if (wf.timeoutMs !== undefined) control.timeout = wf.timeoutMs;
  const builder = new Workflow(wf.name, control);
  const graph = builderModel(builder);
  for (const input of wf.inputs) {
    const options: { default?: unknown; optional?: boolean } = {};
    if ("default" in input) options.default = fromJsonTree(input.default);
    else if (input.optional) options.optional = true;
    graph.addInput(input.name, typeOf(input, wf.name), options);
  }
  const handles = new Map<string, Handle<unknown>>();
  const value = (b: DagBinding): unknown => {
    if ("input" in b) return graph.inputRef(b.input);
    if ("node" in b) {
      return (handles.get(b.node)!.outputs as Record<string, Handle<unknown>>)[b.output];
    }
    if ("value" in b) return fromJsonTree(b.value);
    if ("array" in b) return b.array.map(value);
    return Object.fromEntries(Object.entries(b.object).map(([k, v]) => [k, value(v)]));
  };
  const addNodes = (nodes: readonly DagNode[]): void => {
    for (const node of topological(nodes)) {
      if (isConditionNode(node)) {
        // A condition is rebuilt as ifElse builds one: its branches' nodes go into its branches.
        const operands: Record<string, unknown> = {};
        for (const [k, b] of Object.entries(node.bindings)) operands[k] = value(b);
        const named = !(node.if.outputs.length === 1 && node.if.outputs[0] === "o0");
        const branch = (b: DagBranch) => () => {
          addNodes(b.nodes);
          if (b.outputs.length === 0) return undefined;
          if (!named) return value(b.outputs[0]!.binding);
          return Object.fromEntries(b.outputs.map((o) => [o.name, value(o.binding)]));
        };
        const otherwise = node.if.else;
        handles.set(
          node.id,
          addCondition(graph, {
            test: node.if.test as Test,
            operands,
            then: branch(node.if.then),
            else: otherwise.nodes.length + otherwise.outputs.length === 0
              ? undefined
              : branch(otherwise),
            name: node.id,
            id: node.id,
          }),
        );
      } else {
        let def = resolve(node.entity);
        if (node.overrides !== undefined) {
          def = withOverrides(def, overridesFromDag(node.overrides));
        }
        if (node.map !== undefined) def = mapFromDag(def, node.map);
        const inputs: Record<string, unknown> = {};
        for (const [k, b] of Object.entries(node.bindings)) inputs[k] = value(b);
        handles.set(node.id, graph.addNode(def, inputs, node.id));
      }
      if (node.after !== undefined) {
        graph.addOrdering(
          graph.nodeIndex.get(node.id)!,
          node.after.map((id) => graph.nodeIndex.get(id)!),
        );
      }
    }
  };
  addNodes(wf.nodes);
  for (const o of wf.outputs) graph.addOutput(o.name, value(o.binding));
  graph.validate();
  return builder;
}

/** The type to declare for an input: its type string when weft reads it, else its JSON Schema. */
function typeOf(input: DagInput, workflow: string): TypeSpec | undefined {
  try {
    const parsed = inputType(input.type, `input '${input.name}' of workflow '${workflow}'`);
    if (input.schema === undefined || sameJson(parsed.schema, input.schema)) return input.type;
  } catch {
    // Not a type string ("zod schema", "object (JSON Schema)"): fall back to the schema.
  }
  return input.schema as JsonSchema | undefined;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A node's overrides as `.with({…})` takes them. */
function overridesFromDag(o: DagOverrides): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o.name !== undefined) out.name = o.name;
  if (o.retries !== undefined) out.retries = o.retries === "unlimited" ? Infinity : o.retries;
  if (o.timeoutMs !== undefined) out.timeout = o.timeoutMs;
  if (o.cache !== undefined) out.cache = o.cache;
  if (o.queue !== undefined) out.queue = o.queue;
  return out;
}

/** The map a map node describes, around its entity (innermost map first). */
function mapFromDag(target: EntityDef, m: DagMap): EntityDef {
  const inner = m.map === undefined ? target : mapFromDag(target, m.map);
  const options: MapTaskOptions = { over: m.over, minSuccessRatio: m.minSuccessRatio };
  if (m.concurrency !== null) options.concurrency = m.concurrency;
  if (m.name !== undefined) options.name = m.name;
  return entityOf(mapTask({ [ENTITY]: inner }, options))!;
}
