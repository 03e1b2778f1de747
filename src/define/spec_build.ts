/**
 * Builds a checked workflow spec (spec.ts) with the `Workflow` builder, on
 * the modules it names: what a spec says is checked against the tasks as
 * strictly as code (inputs by name, required inputs, output names, types
 * of constants, map inputs, overrides), and every mistake is one line with
 * the document's line number.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { after } from "./ordering.ts";
import { builderModel, Workflow } from "./builder.ts";
import { and, type Condition, eq, ge, gt, ifElse, le, lt, ne, not, or } from "./conditions.ts";
import type { EntityDef } from "./defs.ts";
import { describeEntity, entityOf } from "./entity.ts";
import type { Handle } from "./handle.ts";
import { mapTask } from "./map.ts";
import { callName } from "./overrides.ts";
import {
  parseWorkflowSpec,
  type SpecCall,
  type SpecEntityRef,
  type SpecIf,
  type SpecNode,
  type SpecTest,
  type SpecValue,
  type WorkflowSpec,
} from "./spec.ts";
import { specError } from "./spec_yaml.ts";

/** The modules a spec names, by the specifier it writes (`./tasks.ts`), as `import * as` gives them. */
export type SpecModules = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** Options of {@linkcode workflowFromSpec}. */
export interface WorkflowFromSpecOptions {
  /**
   * The document's name in messages (`pipeline.yaml:12: …`) and the
   * workflow's source.
   * @default "workflow.yaml"
   */
  file?: string;
}

/**
 * Builds a workflow from a `weft.workflow/v1` document (YAML or JSON) with
 * the `Workflow` builder. `weft run pipeline.yaml` and `weft compile
 * pipeline.yaml` do this for a file; call it yourself to build one from a
 * document you hold, giving the modules it names.
 *
 * @example A two-node pipeline
 * ```ts
 * import { task, workflowFromSpec } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const double = task(function double(n: number) { return n * 2; });
 * const inc = task(function inc(n: number) { return n + 1; });
 * const wf = await workflowFromSpec(
 *   `
 * format: weft.workflow/v1
 * name: pipeline
 * inputs: { x: number }
 * nodes:
 *   twice: { task: ./tasks.ts#double, with: { n: $inputs.x } }
 *   plus:  { task: ./tasks.ts#inc, with: { n: $twice } }
 * outputs: { result: $plus }
 * `,
 *   { "./tasks.ts": { double, inc } },
 * );
 * assert.equal(await wf.execute({ x: 20 }), 41);
 * ```
 *
 * @param text The document.
 * @param modules The modules it names, by the specifier it writes.
 * @param options The document's name in messages.
 * @returns The workflow.
 * @throws {ValidationError} `FILE:LINE: what is wrong`, for the first mistake.
 */
export async function workflowFromSpec(
  text: string,
  modules: SpecModules,
  options: WorkflowFromSpecOptions = {},
): Promise<Workflow> {
  const file = options.file ?? "workflow.yaml";
  const spec = await parseWorkflowSpec(text, file);
  for (const m of spec.modules) {
    if (!Object.hasOwn(modules, m)) {
      throw specError(file, firstLine(spec, m), `no module was given for '${m}'`);
    }
  }
  return buildWorkflowSpec(spec, modules, file);
}

/** The line where a spec first names a module. */
function firstLine(spec: WorkflowSpec, module: string): number {
  let line = spec.line;
  const visit = (nodes: readonly SpecNode[]): boolean =>
    nodes.some((n) => {
      if (n.kind === "call") {
        if (n.entity.module === module) line = n.entity.line;
        return n.entity.module === module;
      }
      return visit(n.then.nodes) || visit(n.else?.nodes ?? []);
    });
  if (!visit(spec.nodes) && spec.onFailure?.module === module) line = spec.onFailure.line;
  return line;
}

/**
 * Builds a checked spec on its modules.
 *
 * @param spec The spec.
 * @param modules The modules, by the specifier the spec writes.
 * @param source The workflow's source file (the document's path or URL).
 * @returns The workflow.
 * @throws {ValidationError} `FILE:LINE: what is wrong`.
 */
export function buildWorkflowSpec(
  spec: WorkflowSpec,
  modules: SpecModules,
  source: string,
): Workflow {
  return new SpecBuilder(spec, modules).build(source);
}

/** `ifElse` with or without an else branch (its implementation's signature). */
const ifElseAny = ifElse as (
  test: Condition | Handle<unknown>,
  thenFn: () => unknown,
  elseFn: (() => unknown) | undefined,
  options: { name: string },
) => Handle<unknown>;

class SpecBuilder {
  readonly #spec: WorkflowSpec;
  readonly #modules: SpecModules;
  readonly #handles = new Map<string, Handle<unknown>>();
  #wf!: Workflow;

  constructor(spec: WorkflowSpec, modules: SpecModules) {
    this.#spec = spec;
    this.#modules = modules;
  }

  /** Runs `f`, reporting its failure at `line`. */
  #at<T>(line: number, f: () => T): T {
    try {
      return f();
    } catch (e) {
      const file = this.#spec.file;
      if (e instanceof ValidationError && e.message.startsWith(`${file}:`)) throw e;
      const message = e instanceof Error ? e.message : String(e);
      throw specError(
        file,
        line,
        e instanceof ValidationError
          ? message
          : `${e instanceof Error ? e.name : "Error"}: ${message}`,
      );
    }
  }

  build(source: string): Workflow {
    const spec = this.#spec;
    const control: Record<string, unknown> = {};
    if (spec.onFailure !== undefined) control.onFailure = this.#entity(spec.onFailure);
    if (spec.failurePolicy !== undefined) control.failurePolicy = spec.failurePolicy;
    if (spec.timeout !== undefined) control.timeout = spec.timeout;
    const wf = this.#at(spec.controlLine, () => new Workflow(spec.name, control));
    this.#wf = wf;
    builderModel(wf).source = { file: source, line: spec.line };
    for (const input of spec.inputs) {
      this.#at(input.line, () =>
        wf.addInput(
          input.name,
          input.type ?? input.schema,
          input.default === undefined ? undefined : { default: input.default.value },
        ));
    }
    this.#nodes(spec.nodes);
    for (const o of spec.outputs) {
      const value = this.#value(o.value);
      this.#at(o.line, () => wf.addOutput(o.name, value));
    }
    this.#at(spec.line, () => builderModel(wf).validate());
    return wf;
  }

  #nodes(nodes: readonly SpecNode[]): void {
    for (const node of nodes) {
      const handle = node.kind === "call" ? this.#call(node) : this.#if(node);
      this.#handles.set(node.id, handle);
      if (node.after.length > 0) {
        const deps = node.after.map((a) => this.#handles.get(a.node)!);
        this.#at(node.after[0]!.line, () => after(handle, ...deps));
      }
    }
  }

  #entity(ref: SpecEntityRef): unknown {
    const mod = this.#modules[ref.module];
    const fail = (message: string): never => {
      throw specError(this.#spec.file, ref.line, message);
    };
    if (mod === undefined) fail(`no module was given for '${ref.module}'`);
    if (!Object.hasOwn(mod!, ref.export)) {
      const entities = Object.keys(mod!).filter((k) => entityOf(mod![k]) !== undefined);
      fail(
        `${ref.module} has no export '${ref.export}'${
          entities.length ? `; its tasks, workflows and flows are ${entities.join(", ")}` : ""
        }`,
      );
    }
    const value = mod![ref.export];
    if (entityOf(value) === undefined) {
      fail(
        `${ref.module}#${ref.export} is ${
          typeof value === "function" ? "a plain function" : `a ${typeof value}`
        }, not a task, workflow or flow; wrap it with task()`,
      );
    }
    return value;
  }

  #call(node: SpecCall): Handle<unknown> {
    let entity = this.#entity(node.entity);
    const def = entityOf(entity)!;
    const o = node.overrides;
    const options: Record<string, unknown> = {};
    if (node.map === undefined && node.id !== callName(def)) options.name = node.id;
    if (o?.retries !== undefined) {
      options.retries = o.retries === "unlimited" ? Infinity : o.retries;
    }
    if (o?.timeout !== undefined) options.timeout = o.timeout;
    if (o?.cache !== undefined) options.cache = o.cache;
    if (o?.queue !== undefined) options.queue = o.queue;
    if (Object.keys(options).length > 0) {
      entity = this.#at(
        o?.line ?? node.line,
        () => (entity as { with(options: unknown): unknown }).with(options),
      );
    }
    if (node.map !== undefined) {
      const m = node.map;
      const mapOptions: Record<string, unknown> = { name: node.id };
      if (m.over !== undefined) mapOptions.over = m.over;
      if (m.concurrency !== undefined) mapOptions.concurrency = m.concurrency;
      if (m.minSuccessRatio !== undefined) mapOptions.minSuccessRatio = m.minSuccessRatio;
      entity = this.#at(m.line, () => mapTask(entity, mapOptions));
    }
    this.#checkBindings(node, entityOf(entity)!);
    const bindings: Record<string, unknown> = {};
    for (const b of node.with) {
      Object.defineProperty(bindings, b.name, {
        value: this.#value(b.value),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return this.#at(node.withLine, () => this.#wf.addEntity(entity, bindings));
  }

  /** Each input bound is one the entity takes, and each it needs is bound: reported at the binding's line. */
  #checkBindings(node: SpecCall, def: EntityDef): void {
    const names = def.params.map((p) => p.name);
    for (const b of node.with) {
      if (!names.includes(b.name)) {
        throw specError(
          this.#spec.file,
          b.line,
          `${describeEntity(def)} has no input '${b.name}'; its inputs are ${
            names.join(", ") || "none"
          }`,
        );
      }
    }
    const missing = def.params.filter((p) =>
      !p.optional && !node.with.some((b) => b.name === p.name)
    );
    if (missing.length > 0) {
      throw specError(
        this.#spec.file,
        node.withLine,
        `node '${node.id}' does not bind ${missing.map((p) => `'${p.name}'`).join(", ")} of ${
          describeEntity(def)
        }; add ${missing.map((p) => `${p.name}: …`).join(", ")} under with:`,
      );
    }
  }

  #if(node: SpecIf): Handle<unknown> {
    const test = this.#test(node.test);
    const branch = (b: SpecIf["then"] | undefined) =>
      b === undefined ? undefined : () => {
        this.#nodes(b.nodes);
        return b.result === undefined ? undefined : this.#value(b.result);
      };
    return this.#at(
      node.line,
      () => ifElseAny(test, branch(node.then)!, branch(node.else), { name: node.id }),
    );
  }

  #test(t: SpecTest): Condition | Handle<unknown> {
    const compare = { eq, ne, gt, ge, lt, le };
    return this.#at(t.line, () => {
      switch (t.op) {
        case "truthy": {
          const v = this.#value(t.args[0]);
          return v as Handle<unknown>;
        }
        case "and":
          return and(...t.args.map((x) => this.#test(x)));
        case "or":
          return or(...t.args.map((x) => this.#test(x)));
        case "not":
          return not(this.#test(t.args[0]));
        default:
          return compare[t.op](this.#value(t.args[0]), this.#value(t.args[1]));
      }
    });
  }

  #value(v: SpecValue): unknown {
    if ("const" in v) return v.const;
    if ("input" in v) return this.#at(v.line, () => this.#wf.inputs[v.input]);
    if ("node" in v) {
      const h = this.#handles.get(v.node)!;
      return v.output === undefined
        ? h
        : this.#at(v.line, () => (h.outputs as Record<string, unknown>)[v.output!]);
    }
    if ("array" in v) return v.array.map((x) => this.#value(x));
    const out: Record<string, unknown> = {};
    for (const [k, x] of v.object) {
      Object.defineProperty(out, k, {
        value: this.#value(x),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
}
