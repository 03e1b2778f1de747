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
import type { EntityDef, FlowDef, TaskDef } from "../define/defs.ts";
import { entityOf, requireEntity } from "../define/entity.ts";
import type { Handle } from "../define/handle.ts";
import {
  DAG_FORMAT,
  type DagBinding,
  type DagDocument,
  type DagEntityRef,
  type DagInput,
  type DagLaunchPlan,
  type DagTask,
  type DagWorkflow,
  firstUnknown,
  rememberSkeleton,
  skeletonCalls,
  type SkeletonZone,
} from "./mod.ts";
import { DAG_SCHEMA } from "./schema.ts";
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

type AjvValidate = ((data: unknown) => boolean) & { errors?: AjvError[] | null };
interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
  parentSchema?: { description?: string };
}

let compiled: Promise<AjvValidate> | undefined;

function schemaValidator(): Promise<AjvValidate> {
  // ajv is loaded only when a document is read: the core has no dependency.
  compiled ??= import("npm:ajv@8.17.1/dist/2020.js").then(({ default: Ajv2020 }) => {
    const ajv = new (Ajv2020 as unknown as new (o: object) => { compile(s: unknown): AjvValidate })(
      { allErrors: false, verbose: true, strict: true, allowUnionTypes: true },
    );
    return ajv.compile(DAG_SCHEMA);
  });
  return compiled;
}

/**
 * Checks a `weft.dag/v1` document: its format tag, the JSON Schema, and
 * what a schema cannot say (names are unique, every reference resolves,
 * bindings fit what they call, static workflows have no cycles, edges agree
 * with bindings).
 *
 * @example A document from the wrong version is refused
 * ```ts
 * import { task, validateDag, ValidationError, workflow } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const inc = task(function inc(x: number) { return x + 1; });
 * const twice = workflow(function twice(x: number) { return inc(inc(x)); });
 * assert.equal((await validateDag(JSON.stringify(twice.graph))).workflows[0]!.name, "twice");
 * await assert.rejects(
 *   validateDag({ ...twice.graph, format: "weft.dag/v9" }),
 *   (e) => e instanceof ValidationError && /weft\.dag\/v9/.test(e.message),
 * );
 * ```
 *
 * @param doc The document, or its JSON (or YAML) text.
 * @returns The document, parsed.
 * @throws {ValidationError} Saying what is wrong and where.
 */
export async function validateDag(doc: unknown): Promise<DagDocument> {
  const data = typeof doc === "string" ? await parseText(doc) : doc;
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ValidationError(
      `A weft.dag/v1 document is a JSON object, but this is ${
        Array.isArray(data) ? "an array" : data === null ? "null" : typeof data
      }; pass the output of weft compile`,
    );
  }
  const format = (data as { format?: unknown }).format;
  if (format !== DAG_FORMAT) {
    if (format === undefined) {
      throw new ValidationError(
        `The document has no 'format'; a weft IR starts with "format": "${DAG_FORMAT}" (pass the output of weft compile)`,
      );
    }
    if (typeof format === "string" && format.startsWith("weft.dag/")) {
      throw new ValidationError(
        `The document's format is '${format}', but this weft reads '${DAG_FORMAT}' only; compile the script again with this version of weft`,
      );
    }
    throw new ValidationError(
      `The document's format is ${
        JSON.stringify(format)
      }, not '${DAG_FORMAT}': it is not a weft IR (pass the output of weft compile)`,
    );
  }
  // The schema picks a workflow's shape by its kind, so a wrong kind is reported first.
  const wfs = (data as { workflows?: unknown }).workflows;
  if (Array.isArray(wfs)) {
    wfs.forEach((w, i) => {
      const kind = (w as { kind?: unknown } | null)?.kind;
      if (typeof w === "object" && w !== null && kind !== "static" && kind !== "dynamic") {
        throw new ValidationError(
          `The document does not match the weft.dag/v1 schema at /workflows/${i}/kind: must be "static" or "dynamic" (got ${
            JSON.stringify(kind) ?? "nothing"
          })`,
        );
      }
    });
  }
  const validate = await schemaValidator();
  if (!validate(data)) throw new ValidationError(schemaMessage(validate.errors ?? []));
  const dag = data as DagDocument;
  checkDocument(dag);
  return dag;
}

async function parseText(text: string): Promise<unknown> {
  try {
    return JSON.parse(text);
  } catch (jsonError) {
    if (/^\s*[[{]/.test(text)) {
      throw new ValidationError(
        `The document is not valid JSON: ${(jsonError as Error).message}`,
      );
    }
    // `weft compile --format yaml` writes the same document as YAML.
    const { parse } = await import("npm:yaml@2.8.1");
    try {
      return parse(text);
    } catch (yamlError) {
      throw new ValidationError(
        `The document is neither JSON nor YAML: ${
          ((yamlError as Error).message ?? "").split("\n")[0]
        }`,
      );
    }
  }
}

function schemaMessage(errors: AjvError[]): string {
  // The innermost oneOf whose branches all failed at its own level says the
  // most ("not a binding"); an error deeper inside one branch says more.
  const deepest = (list: AjvError[]) =>
    list.reduce<AjvError | undefined>(
      (best, e) =>
        best === undefined || e.instancePath.length > best.instancePath.length ? e : best,
      undefined,
    );
  const oneOf = deepest(errors.filter((e) => e.keyword === "oneOf"));
  const inner = deepest(errors.filter((e) => e.keyword !== "oneOf" && e.keyword !== "if"));
  let chosen = inner ?? errors[0];
  if (oneOf !== undefined && (inner === undefined || inner.instancePath === oneOf.instancePath)) {
    chosen = oneOf;
  }
  if (chosen === undefined) return "The document does not match the weft.dag/v1 schema";
  const at = chosen.instancePath === "" ? "the top level" : chosen.instancePath;
  let what = chosen.message ?? "is invalid";
  if (chosen.keyword === "oneOf") {
    const description = chosen.parentSchema?.description;
    what = description === undefined
      ? "does not match any allowed shape"
      : `does not match: ${description.replace(/\.$/, "")}`;
    if (/binding/.test(chosen.instancePath) || /^How a value is given/.test(description ?? "")) {
      what =
        "is not a binding: use { input }, { node, output }, { value }, { array: [...] } or { object: {...} }";
    }
  } else if (chosen.keyword === "additionalProperties") {
    what = `has the unknown property '${chosen.params.additionalProperty}'`;
  } else if (chosen.keyword === "enum") {
    what = `must be one of ${
      (chosen.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")
    }`;
  } else if (chosen.keyword === "const") {
    what = `must be ${JSON.stringify(chosen.params.allowedValue)}`;
  }
  return `The document does not match the weft.dag/v1 schema at ${at}: ${what}`;
}

/** A signature as the document describes it. */
interface Signature {
  params: { name: string; optional: boolean }[];
  outputs: string[];
}

/** Checks what the schema cannot: references, bindings, cycles, edges. */
function checkDocument(dag: DagDocument): void {
  unique(dag.workflows.map((w) => w.name), "workflows");
  unique(dag.launchPlans.map((l) => l.name), "launch plans");
  unique(dag.tasks.map((t) => t.name), "tasks");
  const workflows = new Map(dag.workflows.map((w) => [w.name, w]));
  const plans = new Map(dag.launchPlans.map((l) => [l.name, l]));
  const tasks = new Map(dag.tasks.map((t) => [t.name, t]));

  const resolve = (ref: DagEntityRef, where: string): void => {
    const known = ref.kind === "task" ? tasks : ref.kind === "workflow" ? workflows : plans;
    if (!known.has(ref.name)) {
      const kind = ref.kind === "launchPlan" ? "launch plan" : ref.kind;
      throw new ValidationError(
        `${where} refers to ${kind} '${ref.name}', which is not in the document's ${
          ref.kind === "task" ? "tasks" : ref.kind === "workflow" ? "workflows" : "launch plans"
        } (${list([...known.keys()])}); fix the reference or compile the script again`,
      );
    }
  };
  for (const lp of dag.launchPlans) resolve(lp.entity, `Launch plan '${lp.name}'`);
  for (const wf of dag.workflows) {
    if (wf.kind === "dynamic") {
      for (const c of wf.calls) resolve(c, `Flow '${wf.name}'`);
      checkSkeleton(
        wf.name,
        wf.skeleton ?? [],
        (ref) => resolve(ref, `The skeleton of flow '${wf.name}'`),
      );
    } else {
      for (const node of wf.nodes) {
        resolve(node.entity, `Node '${node.id}' of workflow '${wf.name}'`);
      }
    }
  }

  const signatures = new Map<string, Signature>();
  const signature = (ref: DagEntityRef, seen: string[] = []): Signature => {
    const key = `${ref.kind}:${ref.name}`;
    const done = signatures.get(key);
    if (done !== undefined) return done;
    let sig: Signature;
    if (ref.kind === "task") {
      const t = tasks.get(ref.name)!;
      sig = { params: t.params, outputs: t.outputs };
    } else if (ref.kind === "workflow") {
      const w = workflows.get(ref.name)!;
      sig = { params: w.inputs, outputs: w.outputs.map((o) => o.name) };
    } else {
      if (seen.includes(ref.name)) {
        throw new ValidationError(
          `Launch plan '${ref.name}' launches itself through ${
            [...seen, ref.name].join(" → ")
          }; a launch plan must launch a task, workflow or flow`,
        );
      }
      const lp = plans.get(ref.name)!;
      const target = signature(lp.entity, [...seen, ref.name]);
      const names = new Set(target.params.map((p) => p.name));
      for (const which of ["defaults", "fixed"] as const) {
        for (const k of Object.keys(lp[which])) {
          if (!names.has(k)) {
            throw new ValidationError(
              `Launch plan '${lp.name}' sets ${which} input '${k}', but ${
                describe(lp.entity)
              } has no such input; its inputs are ${list([...names])}`,
            );
          }
        }
      }
      sig = {
        params: target.params.filter((p) => !(p.name in lp.fixed)).map((p) => ({
          name: p.name,
          optional: p.optional || p.name in lp.defaults,
        })),
        outputs: target.outputs,
      };
    }
    signatures.set(key, sig);
    return sig;
  };
  for (const lp of dag.launchPlans) signature({ kind: "launchPlan", name: lp.name });

  for (const wf of dag.workflows) {
    unique(wf.inputs.map((i) => i.name), `inputs of workflow '${wf.name}'`);
    unique(wf.outputs.map((o) => o.name), `outputs of workflow '${wf.name}'`);
    if (wf.kind === "static") checkStatic(wf, signature);
  }
  checkNesting(dag, workflows, plans);
}

/** A skeleton's calls resolve, its call ids are unique, and its data edges name its calls. */
function checkSkeleton(
  flow: string,
  zones: SkeletonZone[],
  resolve: (ref: DagEntityRef) => void,
): void {
  const ids = new Set<string>();
  const refs: [string, string[]][] = [];
  const visit = (list: SkeletonZone[]): void => {
    for (const z of list) {
      switch (z.kind) {
        case "call":
          resolve(z.entity);
          if (ids.has(z.id)) {
            throw new ValidationError(
              `The skeleton of flow '${flow}' has two calls with id '${z.id}'; ids must be unique (compile the script again)`,
            );
          }
          ids.add(z.id);
          refs.push([`call ${z.id}`, z.from]);
          break;
        case "wait":
          refs.push([`a wait at line ${z.line}`, z.on]);
          break;
        case "loop":
          refs.push([`the loop at line ${z.line}`, z.waits]);
          visit(z.test);
          visit(z.body);
          break;
        case "branch":
          refs.push([`the branch at line ${z.line}`, z.waits]);
          visit(z.then);
          visit(z.else);
          break;
        case "switch":
          z.cases.forEach((c) => visit(c.body));
          break;
        case "try":
          visit(z.body);
          visit(z.catch ?? []);
          visit(z.finally ?? []);
          break;
        case "helper":
          visit(z.body);
          break;
        default:
          break;
      }
    }
  };
  visit(zones);
  for (const [where, list] of refs) {
    const missing = list.find((id) => !ids.has(id));
    if (missing !== undefined) {
      throw new ValidationError(
        `In the skeleton of flow '${flow}', ${where} refers to call '${missing}', which the skeleton does not have (compile the script again)`,
      );
    }
  }
}

function checkStatic(
  wf: Extract<DagWorkflow, { kind: "static" }>,
  signature: (ref: DagEntityRef) => Signature,
): void {
  const what = `workflow '${wf.name}'`;
  unique(wf.nodes.map((n) => n.id), `node ids of ${what}`);
  const inputs = new Set(wf.inputs.map((i) => i.name));
  const nodes = new Map(wf.nodes.map((n) => [n.id, n]));
  const expected: string[] = [];
  const check = (b: DagBinding, where: string, to: string, input: string): void => {
    if ("input" in b) {
      if (!inputs.has(b.input)) {
        throw new ValidationError(
          `${where} is bound to input '${b.input}' of ${what}, which has no such input; its inputs are ${
            list([...inputs])
          }`,
        );
      }
      expected.push(edgeKey("$inputs", b.input, to, input));
    } else if ("node" in b) {
      const from = nodes.get(b.node);
      if (from === undefined) {
        throw new ValidationError(
          `${where} is bound to node '${b.node}', which ${what} does not have; its nodes are ${
            list([...nodes.keys()])
          }`,
        );
      }
      const outputs = signature(from.entity).outputs;
      if (!outputs.includes(b.output)) {
        throw new ValidationError(
          `${where} is bound to output '${b.output}' of node '${b.node}', but ${
            describe(from.entity)
          } has outputs ${list(outputs)}`,
        );
      }
      expected.push(edgeKey(b.node, b.output, to, input));
    } else if ("array" in b) b.array.forEach((x, i) => check(x, `${where}[${i}]`, to, input));
    else if ("object" in b) {
      for (const [k, x] of Object.entries(b.object)) check(x, `${where}.${k}`, to, input);
    }
  };
  for (const node of wf.nodes) {
    const where = `Node '${node.id}' of ${what}`;
    const sig = signature(node.entity);
    const params = new Set(sig.params.map((p) => p.name));
    for (const key of Object.keys(node.bindings)) {
      if (!params.has(key)) {
        throw new ValidationError(
          `${where} binds input '${key}', but ${
            describe(node.entity)
          } has no input '${key}'; its inputs are ${list([...params])}`,
        );
      }
      check(node.bindings[key]!, `Input '${key}' of node '${node.id}' of ${what}`, node.id, key);
    }
    for (const p of sig.params) {
      if (!p.optional && !(p.name in node.bindings)) {
        throw new ValidationError(
          `${where} does not bind input '${p.name}' of ${
            describe(node.entity)
          }, which is required; bind it to a workflow input, a node output or a value`,
        );
      }
    }
  }
  for (const o of wf.outputs) {
    check(o.binding, `Output '${o.name}' of ${what}`, "$outputs", o.name);
  }
  const cycle = findCycle(wf);
  if (cycle !== undefined) {
    throw new ValidationError(
      `${what[0]!.toUpperCase()}${what.slice(1)} has a cycle: ${
        cycle.join(" → ")
      }; a static workflow must be acyclic (write a flow for loops)`,
    );
  }
  const given = wf.edges.map((e) => edgeKey(e.from, e.output, e.to, e.input));
  const missing = difference(expected, given);
  const extra = difference(given, expected);
  if (missing.length > 0 || extra.length > 0) {
    const show = (k: string) => {
      const [from, output, to, input] = k.split("\u0000");
      return `${from}.${output} → ${to}.${input}`;
    };
    throw new ValidationError(
      `The edges of ${what} do not match its bindings: ${
        extra.length > 0
          ? `edge ${show(extra[0]!)} has no binding`
          : `the binding ${show(missing[0]!)} has no edge`
      }; edges must list exactly what the bindings connect (compile the script again)`,
    );
  }
}

function edgeKey(from: string, output: string, to: string, input: string): string {
  return [from, output, to, input].join("\u0000");
}

/** The items of `a` left after removing one match in `b` for each (a multiset difference). */
function difference(a: string[], b: string[]): string[] {
  const counts = new Map<string, number>();
  for (const x of b) counts.set(x, (counts.get(x) ?? 0) + 1);
  return a.filter((x) => {
    const c = counts.get(x) ?? 0;
    if (c === 0) return true;
    counts.set(x, c - 1);
    return false;
  });
}

/** The node ids a node's bindings depend on. */
function dependencies(bindings: { [input: string]: DagBinding }): string[] {
  const out: string[] = [];
  const visit = (b: DagBinding): void => {
    if ("node" in b) out.push(b.node);
    else if ("array" in b) b.array.forEach(visit);
    else if ("object" in b) Object.values(b.object).forEach(visit);
  };
  Object.keys(bindings).sort().forEach((k) => visit(bindings[k]!));
  return out;
}

/** A cycle among a static workflow's nodes, as ids from a node back to itself. */
function findCycle(wf: Extract<DagWorkflow, { kind: "static" }>): string[] | undefined {
  const deps = new Map(wf.nodes.map((n) => [n.id, dependencies(n.bindings)]));
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const s = state.get(id);
    if (s === "done") return undefined;
    // Reversed, so that arrows follow the data: producer → consumer.
    if (s === "open") return [...stack.slice(stack.indexOf(id)), id].reverse();
    state.set(id, "open");
    stack.push(id);
    for (const d of deps.get(id) ?? []) {
      const found = visit(d);
      if (found !== undefined) return found;
    }
    stack.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const n of wf.nodes) {
    const found = visit(n.id);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Nodes in a topological order, keeping the document's order where it already is one. */
function topological(wf: Extract<DagWorkflow, { kind: "static" }>): typeof wf.nodes {
  const placed = new Set<string>();
  const out: typeof wf.nodes = [];
  const pending = [...wf.nodes];
  while (pending.length > 0) {
    const i = pending.findIndex((n) => dependencies(n.bindings).every((d) => placed.has(d)));
    // checkDocument has ruled out cycles, so some node is always ready.
    const [next] = pending.splice(i, 1);
    placed.add(next!.id);
    out.push(next!);
  }
  return out;
}

/** A workflow may not contain itself, through subworkflows or launch plans. */
function checkNesting(
  dag: DagDocument,
  workflows: Map<string, DagWorkflow>,
  plans: Map<string, DagLaunchPlan>,
): void {
  const done = new Set<string>();
  const visit = (ref: DagEntityRef, path: string[]): void => {
    if (ref.kind === "task") return;
    const key = `${ref.kind}:${ref.name}`;
    const label = `${ref.kind === "launchPlan" ? "launch plan" : "workflow"} '${ref.name}'`;
    const at = path.indexOf(label);
    if (at >= 0) {
      throw new ValidationError(
        `${path[at]![0]!.toUpperCase()}${path[at]!.slice(1)} contains itself: ${
          [...path.slice(at), label].join(" → ")
        }; a workflow cannot be its own subworkflow (write a flow to recurse)`,
      );
    }
    if (done.has(key)) return;
    const next = [...path, label];
    if (ref.kind === "launchPlan") visit(plans.get(ref.name)!.entity, next);
    else {
      const wf = workflows.get(ref.name)!;
      // A flow's calls happen at run time, where recursion is allowed.
      if (wf.kind === "static") { for (const n of wf.nodes) visit(n.entity, next); }
    }
    done.add(key);
  };
  for (const wf of dag.workflows) visit({ kind: "workflow", name: wf.name }, []);
  for (const lp of dag.launchPlans) visit({ kind: "launchPlan", name: lp.name }, []);
}

function unique(names: string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) {
      throw new ValidationError(
        `The document lists '${n}' twice among its ${what}; names must be unique`,
      );
    }
    seen.add(n);
  }
}

function describe(ref: DagEntityRef): string {
  return `${ref.kind === "launchPlan" ? "launch plan" : ref.kind} '${ref.name}'`;
}

function list(names: readonly string[]): string {
  return names.length === 0 ? "none" : names.map((n) => `'${n}'`).join(", ");
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
    } else if (def.kind === "launchPlan") {
      add(def.target);
    } else {
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
 * import { fromDag, task, workflow } from "@weft/weft";
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
      for (const n of wf.nodes) if (n.entity.kind === "workflow") used.add(n.entity.name);
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
  const builder = new Workflow(wf.name);
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
  for (const node of topological(wf)) {
    const def = resolve(node.entity);
    const inputs: Record<string, unknown> = {};
    for (const [k, b] of Object.entries(node.bindings)) inputs[k] = value(b);
    handles.set(node.id, graph.addNode(def, inputs, node.id));
  }
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
