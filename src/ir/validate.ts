/**
 * Checking a `weft.dag/v1` document: its format tag, the JSON Schema (with
 * ajv, loaded only when a document is read), and what a schema cannot say —
 * names are unique, every reference resolves, bindings fit what they call,
 * static workflows have no cycles and edges agree with bindings.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import {
  DAG_FORMAT,
  type DagDocument,
  type DagEntityRef,
  type DagLaunchPlan,
  type DagWorkflow,
  type SkeletonZone,
} from "../core/dag_format.ts";
import { DAG_SCHEMA } from "./schema.ts";
import { callNodes } from "./nodes.ts";
import { checkStatic, describe, list, type Signature, unique } from "./validate_static.ts";

export { list, topological } from "./validate_static.ts";

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
 * import { task, ValidationError, workflow } from "@weft/weft";
 * import { validateDag } from "@weft/weft/ir";
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
      for (const node of callNodes(wf.nodes)) {
        resolve(node.entity, `Node '${node.id}' of workflow '${wf.name}'`);
      }
    }
    if (wf.onFailure !== undefined) {
      resolve(wf.onFailure, `The onFailure of '${wf.name}'`);
      if (wf.onFailure.kind === "workflow" && wf.onFailure.name === wf.name) {
        throw new ValidationError(
          `Workflow '${wf.name}' is its own onFailure handler; give it another entity to run when it fails`,
        );
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
    if (wf.onFailure !== undefined) {
      const wrong = signature(wf.onFailure).params.filter((p) =>
        p.name !== "error" && p.name !== "inputs"
      );
      if (wrong.length > 0) {
        throw new ValidationError(
          `The onFailure of '${wf.name}' is ${
            describe(wf.onFailure)
          }, which is run with { error, inputs } but takes ${list(wrong.map((p) => p.name))}`,
        );
      }
    }
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
      if (wf.kind === "static") { for (const n of callNodes(wf.nodes)) visit(n.entity, next); }
    }
    done.add(key);
  };
  for (const wf of dag.workflows) visit({ kind: "workflow", name: wf.name }, []);
  for (const lp of dag.launchPlans) visit({ kind: "launchPlan", name: lp.name }, []);
}
