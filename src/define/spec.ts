/**
 * Workflow specs: a workflow written as a YAML (or JSON) document whose
 * nodes name tasks as `./module.ts#exportName` — the format
 * `weft.workflow/v1`, for pipelines kept as data (a legacy system's
 * definitions, say). This module reads a document into a checked
 * {@linkcode WorkflowSpec}: its shape, its references and its order, each
 * mistake one line with the document's line number. Building it with the
 * `Workflow` builder (spec_build.ts) checks the rest against the tasks.
 *
 * @module
 */

import { parseDuration } from "../core/duration.ts";
import { plainValue, readYaml, specError, type YEntry, type YNode } from "./spec_yaml.ts";
import { orderNodes } from "./spec_order.ts";
import type {
  SpecBranch,
  SpecCall,
  SpecEntityRef,
  SpecNode,
  SpecTest,
  SpecValue,
  WorkflowSpec,
} from "./spec_types.ts";

export type {
  SpecBranch,
  SpecCall,
  SpecEntityRef,
  SpecIf,
  SpecNode,
  SpecTest,
  SpecValue,
  WorkflowSpec,
} from "./spec_types.ts";

/** The value of a spec's `format` key. */
export const SPEC_FORMAT = "weft.workflow/v1";

const TOP_KEYS = [
  "format",
  "name",
  "description",
  "inputs",
  "nodes",
  "outputs",
  "onFailure",
  "failurePolicy",
  "timeout",
];
const CALL_KEYS = ["task", "with", "after", "map", "retries", "timeout", "cache", "queue"];
const IF_KEYS = ["if", "then", "else", "after"];
const COMPARISONS = ["eq", "ne", "gt", "ge", "lt", "le"];
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const REF =
  /^\$(?:inputs\.([A-Za-z_][A-Za-z0-9_-]*)|([A-Za-z_][A-Za-z0-9_-]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?)$/;

/**
 * Reads and checks a workflow spec.
 *
 * @param text The YAML or JSON document.
 * @param file Its name, in messages (`pipeline.yaml`).
 * @returns The spec.
 * @throws {ValidationError} `FILE:LINE: what is wrong`, for the first mistake.
 */
export async function parseWorkflowSpec(text: string, file: string): Promise<WorkflowSpec> {
  const root = await readYaml(text, file);
  return new SpecReader(file).document(root);
}

class SpecReader {
  readonly #file: string;
  readonly #modules: string[] = [];
  constructor(file: string) {
    this.#file = file;
  }

  #fail(line: number, message: string): never {
    throw specError(this.#file, line, message);
  }

  #map(node: YNode, what: string, keys?: readonly string[]): readonly YEntry[] {
    if (node.kind !== "map") this.#fail(node.line, `${what} must be a mapping`);
    if (keys !== undefined) {
      for (const e of node.entries) {
        if (!keys.includes(e.key)) {
          this.#fail(e.line, `unknown key '${e.key}' in ${what}; its keys are ${keys.join(", ")}`);
        }
      }
    }
    return node.entries;
  }

  #string(node: YNode, what: string): string {
    if (node.kind !== "scalar" || typeof node.value !== "string" || node.value === "") {
      this.#fail(node.line, `${what} must be a non-empty string`);
    }
    return node.value;
  }

  #name(line: number, key: string, what: string): string {
    if (!NAME.test(key)) {
      this.#fail(
        line,
        `'${key}' cannot name ${what}: use letters, digits, _ and - (starting with a letter or _)`,
      );
    }
    return key;
  }

  document(root: YNode): WorkflowSpec {
    const entries = this.#map(root, "the document", TOP_KEYS);
    const get = (k: string) => entries.find((e) => e.key === k);
    const format = get("format");
    if (format === undefined) {
      this.#fail(root.line, `the document must say format: ${SPEC_FORMAT}`);
    }
    if (format.value.kind !== "scalar" || format.value.value !== SPEC_FORMAT) {
      this.#fail(format.line, `format must be ${SPEC_FORMAT}`);
    }
    const nameEntry = get("name");
    if (nameEntry === undefined) {
      this.#fail(root.line, "the document must give the workflow a name");
    }
    const name = this.#string(nameEntry.value, "name");
    const description = get("description");
    if (description !== undefined) this.#string(description.value, "description");
    const inputs = this.#inputs(get("inputs"));
    const nodesEntry = get("nodes");
    if (nodesEntry === undefined) {
      this.#fail(root.line, "the document has no nodes; add nodes: with at least one task");
    }
    const nodes = this.#nodes(nodesEntry.value, "nodes");
    if (nodes.length === 0) this.#fail(nodesEntry.line, "nodes must list at least one node");
    const outputs = this.#map(
      get("outputs")?.value ?? { kind: "map", line: 1, entries: [] },
      "outputs",
    )
      .map((e) => ({
        name: this.#name(e.line, e.key, "an output"),
        line: e.line,
        value: this.#value(e.value, `output '${e.key}'`),
      }));
    const control = ["onFailure", "failurePolicy", "timeout"].map(get).filter((e) =>
      e !== undefined
    );
    const spec: {
      -readonly [K in keyof WorkflowSpec]: WorkflowSpec[K];
    } = {
      file: this.#file,
      name,
      line: nameEntry.line,
      inputs,
      nodes,
      outputs,
      controlLine: control[0]?.line ?? nameEntry.line,
      modules: this.#modules,
    };
    const onFailure = get("onFailure");
    if (onFailure !== undefined) spec.onFailure = this.#entity(onFailure.value, "onFailure");
    const policy = get("failurePolicy");
    if (policy !== undefined) {
      const value = policy.value.kind === "scalar" ? policy.value.value : undefined;
      if (value !== "fail-fast" && value !== "finish-running") {
        this.#fail(policy.line, "failurePolicy must be fail-fast or finish-running");
      }
      spec.failurePolicy = value;
    }
    const timeout = get("timeout");
    if (timeout !== undefined) spec.timeout = this.#duration(timeout.value, "timeout");
    orderNodes(spec, (line, message) => this.#fail(line, message));
    return spec;
  }

  #inputs(entry: YEntry | undefined): WorkflowSpec["inputs"] {
    if (entry === undefined || (entry.value.kind === "scalar" && entry.value.value === null)) {
      return [];
    }
    return this.#map(entry.value, "inputs").map((e) => {
      const name = this.#name(e.line, e.key, "an input");
      const v = e.value;
      if (v.kind === "scalar" && v.value === null) return { name, line: e.line };
      if (v.kind === "scalar") {
        return { name, line: e.line, type: this.#string(v, `the type of input '${name}'`) };
      }
      const keys = this.#map(v, `input '${name}'`, ["type", "schema", "default", "description"]);
      const input: {
        name: string;
        line: number;
        type?: string;
        schema?: Record<string, unknown>;
        default?: { value: unknown };
      } = {
        name,
        line: e.line,
      };
      for (const k of keys) {
        if (k.key === "type") input.type = this.#string(k.value, `the type of input '${name}'`);
        else if (k.key === "schema") {
          if (k.value.kind !== "map") {
            this.#fail(k.line, `the schema of input '${name}' must be a JSON Schema object`);
          }
          input.schema = plainValue(k.value) as Record<string, unknown>;
        } else if (k.key === "default") input.default = { value: this.#constant(k.value) };
        else this.#string(k.value, `the description of input '${name}'`);
      }
      if (input.type !== undefined && input.schema !== undefined) {
        this.#fail(e.line, `input '${name}' takes a type or a schema, not both`);
      }
      return input;
    });
  }

  #nodes(node: YNode, what: string): SpecNode[] {
    if (node.kind === "scalar" && node.value === null) return [];
    return this.#map(node, what).map((e) => this.#node(e));
  }

  #node(e: YEntry): SpecNode {
    const id = this.#name(e.line, e.key, "a node");
    const what = `node '${id}'`;
    if (e.value.kind !== "map") {
      this.#fail(e.line, `${what} must be a mapping with task: ./module.ts#exportName (or if:)`);
    }
    const keys = e.value.entries;
    const get = (k: string) => keys.find((x) => x.key === k);
    if (get("if") !== undefined) {
      this.#map(e.value, what, IF_KEYS);
      const then = get("then");
      if (then === undefined) this.#fail(e.line, `${what} has if: but no then:`);
      const otherwise = get("else");
      return {
        kind: "if",
        id,
        line: e.line,
        test: this.#test(get("if")!.value),
        then: this.#branch(then, `the then branch of ${what}`),
        else: otherwise === undefined
          ? undefined
          : this.#branch(otherwise, `the else branch of ${what}`),
        after: this.#after(get("after")),
      };
    }
    const task = get("task");
    if (task === undefined) {
      this.#fail(
        e.line,
        `${what} must name what it calls with task: ./module.ts#exportName (or be an if:)`,
      );
    }
    this.#map(e.value, what, CALL_KEYS);
    const withEntry = get("with");
    const bindings = withEntry === undefined ||
        (withEntry.value.kind === "scalar" && withEntry.value.value === null)
      ? []
      : this.#map(withEntry.value, `the inputs (with) of ${what}`).map((b) => ({
        name: b.key,
        line: b.line,
        value: this.#value(b.value, `input '${b.key}' of ${what}`),
      }));
    return {
      kind: "call",
      id,
      line: e.line,
      entity: this.#entity(task.value, `the task of ${what}`),
      with: bindings,
      withLine: withEntry?.line ?? e.line,
      after: this.#after(get("after")),
      overrides: this.#overrides(keys, what),
      map: this.#mapOptions(get("map"), what),
    };
  }

  #overrides(keys: readonly YEntry[], what: string): SpecCall["overrides"] {
    const found = keys.filter((k) => ["retries", "timeout", "cache", "queue"].includes(k.key));
    if (found.length === 0) return undefined;
    const out: {
      -readonly [K in keyof NonNullable<SpecCall["overrides"]>]: NonNullable<
        SpecCall["overrides"]
      >[K];
    } = {
      line: found[0]!.line,
    };
    for (const k of found) {
      const v = k.value.kind === "scalar" ? k.value.value : undefined;
      if (k.key === "retries") {
        if (v === Infinity || v === "unlimited") out.retries = "unlimited";
        else if (typeof v === "number" && Number.isInteger(v) && v >= 0) out.retries = v;
        else {this.#fail(
            k.line,
            `retries of ${what} must be a whole number of retries, or unlimited`,
          );}
      } else if (k.key === "timeout") {
        out.timeout = this.#duration(k.value, `the timeout of ${what}`);
      } else if (k.key === "cache") {
        if (typeof v !== "boolean") this.#fail(k.line, `cache of ${what} must be true or false`);
        out.cache = v;
      } else out.queue = this.#string(k.value, `the queue of ${what}`);
    }
    return out;
  }

  #mapOptions(entry: YEntry | undefined, what: string): SpecCall["map"] {
    if (entry === undefined) return undefined;
    const v = entry.value;
    if (v.kind === "scalar" && v.value === true) return { line: entry.line };
    if (v.kind === "scalar" && v.value === false) return undefined;
    const out: {
      -readonly [K in keyof NonNullable<SpecCall["map"]>]: NonNullable<SpecCall["map"]>[K];
    } = {
      line: entry.line,
    };
    for (
      const k of this.#map(v, `map of ${what} (or map: true)`, [
        "over",
        "concurrency",
        "minSuccessRatio",
      ])
    ) {
      const x = k.value;
      if (k.key === "over") {
        const names = x.kind === "seq" ? x.items : [x];
        out.over = names.map((n) => this.#string(n, `an input named by over`));
      } else if (k.key === "concurrency") {
        if (x.kind !== "scalar" || !Number.isInteger(x.value) || (x.value as number) < 1) {
          this.#fail(k.line, `concurrency of ${what} must be a positive whole number`);
        }
        out.concurrency = x.value as number;
      } else {
        const r = x.kind === "scalar" ? x.value : undefined;
        if (typeof r !== "number" || !(r >= 0 && r <= 1)) {
          this.#fail(k.line, `minSuccessRatio of ${what} must be a number from 0 to 1`);
        }
        out.minSuccessRatio = r;
      }
    }
    return out;
  }

  #branch(entry: YEntry, what: string): SpecBranch {
    const keys = this.#map(entry.value, `${what} (nodes:, result:)`, ["nodes", "result"]);
    const nodes = keys.find((k) => k.key === "nodes");
    const result = keys.find((k) => k.key === "result");
    return {
      line: entry.line,
      nodes: nodes === undefined ? [] : this.#nodes(nodes.value, `the nodes of ${what}`),
      result: result === undefined ? undefined : this.#value(result.value, `the result of ${what}`),
    };
  }

  #after(entry: YEntry | undefined): SpecCall["after"] {
    if (entry === undefined) return [];
    const items = entry.value.kind === "seq" ? entry.value.items : [entry.value];
    return items.map((item) => {
      const name = this.#string(item, "after").replace(/^\$/, "");
      if (!NAME.test(name)) this.#fail(item.line, `after lists node names; '${name}' is not one`);
      return { node: name, line: item.line };
    });
  }

  #entity(node: YNode, what: string): SpecEntityRef {
    const text = this.#string(node, what);
    const m = /^(.+)#([A-Za-z_$][A-Za-z0-9_$]*)$/.exec(text);
    if (m === null) {
      this.#fail(node.line, `${what} must be ./module.ts#exportName, not '${text}'`);
    }
    if (!this.#modules.includes(m[1]!)) this.#modules.push(m[1]!);
    return { module: m[1]!, export: m[2]!, line: node.line };
  }

  #duration(node: YNode, what: string): string | number {
    const v = node.kind === "scalar" ? node.value : undefined;
    if (typeof v !== "string" && typeof v !== "number") {
      this.#fail(node.line, `${what} must be a duration such as 30s, 5m or 1h`);
    }
    try {
      parseDuration(v, what);
    } catch (e) {
      this.#fail(node.line, (e as Error).message);
    }
    return v;
  }

  #constant(node: YNode): unknown {
    const value = plainValue(node);
    const bad = (x: unknown): boolean =>
      typeof x === "number"
        ? !Number.isFinite(x)
        : Array.isArray(x)
        ? x.some(bad)
        : typeof x === "object" && x !== null && Object.values(x).some(bad);
    if (bad(value)) this.#fail(node.line, "infinite numbers cannot be passed as values");
    return value;
  }

  #value(node: YNode, what: string): SpecValue {
    if (node.kind === "seq") return { array: node.items.map((i) => this.#value(i, what)) };
    if (node.kind === "map") {
      return { object: node.entries.map((e) => [e.key, this.#value(e.value, what)] as const) };
    }
    const v = node.value;
    if (typeof v === "string" && v.startsWith("$")) {
      if (v.startsWith("$$")) return { const: v.slice(1) };
      const m = REF.exec(v);
      if (m === null) {
        this.#fail(
          node.line,
          `'${v}' in ${what} is not a reference: write $inputs.NAME, $NODE or $NODE.OUTPUT (and $$ for a string that starts with $)`,
        );
      }
      if (m[1] !== undefined) return { input: m[1], line: node.line };
      return m[3] === undefined
        ? { node: m[2]!, line: node.line }
        : { node: m[2]!, output: m[3], line: node.line };
    }
    return { const: this.#constant(node) };
  }

  #test(node: YNode): SpecTest {
    if (node.kind === "scalar") {
      const value = this.#value(node, "the test");
      if ("const" in value) {
        this.#fail(node.line, "the test of an if must use an input or a node ($inputs.x, $node)");
      }
      return { op: "truthy", args: [value], line: node.line };
    }
    const forms =
      "{ gt: [$a, 1] } (or eq, ne, ge, lt, le), { and: [test, …] }, { or: [test, …] }, { not: test } or $ref";
    if (node.kind !== "map" || node.entries.length !== 1) {
      this.#fail(node.line, `a test is one of ${forms}`);
    }
    const { key: op, value, line } = node.entries[0]!;
    if (COMPARISONS.includes(op)) {
      if (value.kind !== "seq" || value.items.length !== 2) {
        this.#fail(line, `${op} compares two values: { ${op}: [$a, $b] }`);
      }
      return {
        op: op as "eq",
        args: [this.#value(value.items[0]!, `${op}`), this.#value(value.items[1]!, `${op}`)],
        line,
      };
    }
    if (op === "and" || op === "or") {
      if (value.kind !== "seq" || value.items.length === 0) {
        this.#fail(line, `${op} takes a list of tests: { ${op}: [test, …] }`);
      }
      return { op, args: value.items.map((t) => this.#test(t)), line };
    }
    if (op === "not") return { op, args: [this.#test(value)], line };
    return this.#fail(line, `unknown test '${op}'; a test is one of ${forms}`);
  }
}
