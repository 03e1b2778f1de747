/**
 * Input types: a type string (`number`, `integer`, `string`, `boolean`,
 * `unknown`, `null`, `T[]`, `Array<T>`, `Record<string, T>`, unions with
 * `|`), a JSON Schema object, or any Standard Schema validator (zod,
 * valibot, arktype…). Each becomes an {@linkcode InputType} that checks a
 * value before anything runs and describes itself in the IR.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";

/** A JSON Schema document (draft 2020-12), as plain data. */
export type { JsonSchema } from "../core/dag_format.ts";
import type { JsonSchema } from "../core/dag_format.ts";

/** The part of the Standard Schema v1 interface weft uses. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly "~standard": {
    /** The version of the Standard Schema interface. */
    readonly version: 1;
    /** The library that made the schema, such as `"zod"`. */
    readonly vendor: string;
    /** Checks a value. */
    readonly validate: (
      value: unknown,
    ) => StandardResult<Output> | Promise<StandardResult<Output>>;
    /** Type-only: the input and output types. */
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/** The result of a Standard Schema check. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
    readonly issues: ReadonlyArray<
      {
        readonly message: string;
        readonly path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
      }
    >;
  };

/** What an input may be declared as: a type string, a JSON Schema, or a Standard Schema validator. */
export type TypeSpec = string | JsonSchema | StandardSchemaV1;

/** An input type ready to check values. */
export interface InputType {
  /** How the type reads in the IR and in messages, such as `number[]` or `zod schema`. */
  readonly text: string;
  /** The type as JSON Schema, when it has one (type strings and JSON Schemas do). */
  readonly schema: JsonSchema | undefined;
  /**
   * Checks a value; resolves to the value to use (a Standard Schema may
   * transform it) or throws a `ValidationError`.
   */
  check(value: unknown, name: string): unknown | Promise<unknown>;
}

type Node =
  | { k: "prim"; t: "number" | "integer" | "string" | "boolean" | "unknown" | "null" }
  | { k: "array"; of: Node }
  | { k: "record"; of: Node }
  | { k: "union"; of: Node[] };

const PRIMS = new Set(["number", "integer", "string", "boolean", "unknown", "null", "any"]);

/**
 * Turns a {@linkcode TypeSpec} into an {@linkcode InputType}.
 *
 * @param spec The declared type.
 * @param what Names the input in error messages.
 * @returns The input type.
 * @throws {ValidationError} When `spec` is not a type string, JSON Schema or Standard Schema.
 */
export function inputType(spec: TypeSpec | undefined, what: string): InputType {
  if (spec === undefined) return UNKNOWN;
  if (typeof spec === "string") return typeString(spec, what);
  if (spec !== null && typeof spec === "object" && "~standard" in spec) {
    return standardType(spec as StandardSchemaV1);
  }
  if (
    typeof spec === "boolean" || (spec !== null && typeof spec === "object" && !Array.isArray(spec))
  ) {
    return jsonSchemaType(spec as JsonSchema);
  }
  throw new ValidationError(
    `Cannot use ${
      JSON.stringify(spec)
    } as the type of ${what}; give a type string like "number[]", a JSON Schema object, or a Standard Schema validator (zod, valibot…)`,
  );
}

const UNKNOWN: InputType = { text: "unknown", schema: {}, check: (v) => v };

function typeString(text: string, what: string): InputType {
  const node = parseType(text, what);
  const normal = show(node);
  return {
    text: normal,
    schema: toSchema(node),
    check(value: unknown, name: string): unknown {
      const problem = mismatch(node, value, "");
      if (problem !== undefined) {
        throw new ValidationError(
          `Input '${name}' expects ${normal} but was given ${describe(value)}${problem}`,
        );
      }
      return value;
    },
  };
}

function parseType(text: string, what: string): Node {
  const tokens = text.match(/[A-Za-z_][A-Za-z0-9_]*|\[\]|[<>,|()]|\S/g) ?? [];
  let i = 0;
  const bad = (why: string): never => {
    throw new ValidationError(
      `Cannot read the type "${text}" of ${what}: ${why}; use number, integer, string, boolean, unknown, null, T[], Array<T>, Record<string, T> or A | B, or pass a JSON Schema or Standard Schema`,
    );
  };
  const expect = (t: string) => {
    if (tokens[i] !== t) bad(`expected '${t}' at '${tokens[i] ?? "the end"}'`);
    i++;
  };
  const union = (): Node => {
    const of = [postfix()];
    while (tokens[i] === "|") {
      i++;
      of.push(postfix());
    }
    return of.length === 1 ? of[0]! : { k: "union", of };
  };
  const postfix = (): Node => {
    let n = primary();
    while (tokens[i] === "[]") {
      i++;
      n = { k: "array", of: n };
    }
    return n;
  };
  const primary = (): Node => {
    const t = tokens[i++];
    if (t === undefined) return bad("it ends too early");
    if (t === "(") {
      const n = union();
      expect(")");
      return n;
    }
    if (PRIMS.has(t)) return { k: "prim", t: t === "any" ? "unknown" : t as "number" };
    if (t === "Array") {
      expect("<");
      const of = union();
      expect(">");
      return { k: "array", of };
    }
    if (t === "Record") {
      expect("<");
      if (tokens[i] !== "string") bad("Record keys must be string");
      i++;
      expect(",");
      const of = union();
      expect(">");
      return { k: "record", of };
    }
    return bad(`unknown type '${t}'`);
  };
  const node = union();
  if (i !== tokens.length) bad(`unexpected '${tokens[i]}'`);
  return node;
}

function show(n: Node): string {
  switch (n.k) {
    case "prim":
      return n.t;
    case "array":
      return n.of.k === "union" ? `(${show(n.of)})[]` : `${show(n.of)}[]`;
    case "record":
      return `Record<string, ${show(n.of)}>`;
    case "union":
      return n.of.map(show).join(" | ");
  }
}

function toSchema(n: Node): JsonSchema {
  switch (n.k) {
    case "prim":
      return n.t === "unknown" ? {} : { type: n.t };
    case "array":
      return { type: "array", items: toSchema(n.of) };
    case "record":
      return { type: "object", additionalProperties: toSchema(n.of) };
    case "union":
      return { anyOf: n.of.map(toSchema) };
  }
}

/** Returns undefined when `value` fits, else a suffix saying where it does not. */
function mismatch(n: Node, value: unknown, path: string): string | undefined {
  switch (n.k) {
    case "prim":
      switch (n.t) {
        case "unknown":
          return undefined;
        case "null":
          return value === null ? undefined : where(path, value);
        case "integer":
          return Number.isInteger(value) ? undefined : where(path, value);
        case "number":
          return typeof value === "number" ? undefined : where(path, value);
        case "string":
          return typeof value === "string" ? undefined : where(path, value);
        case "boolean":
          return typeof value === "boolean" ? undefined : where(path, value);
      }
      return undefined;
    case "array": {
      if (!Array.isArray(value)) return where(path, value);
      for (let i = 0; i < value.length; i++) {
        const p = mismatch(n.of, value[i], `${path}[${i}]`);
        if (p !== undefined) return p;
      }
      return undefined;
    }
    case "record": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        return where(path, value);
      }
      for (const [k, v] of Object.entries(value)) {
        const p = mismatch(n.of, v, `${path}.${k}`);
        if (p !== undefined) return p;
      }
      return undefined;
    }
    case "union":
      return n.of.some((m) => mismatch(m, value, path) === undefined)
        ? undefined
        : where(path, value);
  }
}

function where(path: string, value: unknown): string {
  return path === "" ? "" : ` (at ${path.replace(/^\./, "")}: ${describe(value)})`;
}

/**
 * A short description of a value for error messages: its kind and a preview.
 *
 * @param value Any value.
 * @returns Such as `string "abc"` or `array of 3`.
 */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  switch (typeof value) {
    case "string": {
      const s = JSON.stringify(value);
      return `the string ${s.length > 40 ? `${s.slice(0, 37)}..."` : s}`;
    }
    case "number":
    case "boolean":
    case "bigint":
      return `${typeof value} ${String(value)}`;
    case "undefined":
      return "undefined";
    case "object":
      return (value as object).constructor === Object
        ? "an object"
        : `a ${(value as object).constructor?.name}`;
    default:
      return `a ${typeof value}`;
  }
}

function standardType(schema: StandardSchemaV1): InputType {
  const std = schema["~standard"];
  const text = `${std.vendor} schema`;
  const report = (result: StandardResult<unknown>, name: string) => {
    if (result.issues) {
      const issues = result.issues.map((issue) => {
        const path = issue.path?.map((p) => typeof p === "object" ? String(p.key) : String(p)).join(
          ".",
        );
        return path ? `${path}: ${issue.message}` : issue.message;
      });
      throw new ValidationError(`Input '${name}' does not match its ${text}: ${issues.join("; ")}`);
    }
    return result.value;
  };
  return {
    text,
    schema: undefined,
    check(value: unknown, name: string): unknown {
      const result = std.validate(value);
      return result instanceof Promise ? result.then((r) => report(r, name)) : report(result, name);
    },
  };
}

type AjvValidate = ((value: unknown) => boolean) & {
  errors?: { instancePath: string; message?: string }[] | null;
};

function jsonSchemaType(schema: JsonSchema): InputType {
  let compiled: Promise<AjvValidate> | undefined;
  return {
    text: typeof schema === "object" && typeof schema.type === "string"
      ? `${schema.type} (JSON Schema)`
      : "JSON Schema",
    schema,
    async check(value: unknown, name: string): Promise<unknown> {
      compiled ??= compileSchema(schema, name);
      const validate = await compiled;
      if (!validate(value)) {
        const issues = (validate.errors ?? []).map((e) =>
          `${e.instancePath || "/"} ${e.message ?? "is invalid"}`
        );
        throw new ValidationError(
          `Input '${name}' does not match its JSON Schema: ${issues.join("; ")} (was given ${
            describe(value)
          })`,
        );
      }
      return value;
    },
  };
}

async function compileSchema(schema: JsonSchema, name: string): Promise<AjvValidate> {
  // ajv is loaded only when a JSON Schema input is used: the core has no dependency.
  const { default: Ajv2020 } = await import("npm:ajv@8.17.1/dist/2020.js");
  // deno-lint-ignore no-explicit-any
  const ajv = new (Ajv2020 as any)({ allErrors: true, strict: false });
  try {
    return ajv.compile(schema) as AjvValidate;
  } catch (e) {
    throw new ValidationError(
      `The JSON Schema of input '${name}' is not valid: ${(e as Error).message}`,
    );
  }
}
