/**
 * The inputs of `weft run`: read from `--input K=V` flags (V is JSON when it
 * parses, else the string as given) and `--inputs FILE` (JSON or YAML), then
 * checked against the IR before anything starts — unknown and missing names,
 * and a flag that JSON read as something else for an input typed `string`.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { isPlainObject } from "../core/values.ts";
import { UsageError } from "./args.ts";
import type { ExportInfo, ScriptDescription } from "./protocol.ts";

/** The inputs, and the text each `--input` flag gave. */
export interface ReadInputs {
  /** The inputs by name. */
  inputs: Record<string, unknown>;
  /** For inputs given with `--input`: the text after `=`. */
  flags: Map<string, string>;
}

/**
 * Reads inputs from --inputs FILE and --input K=V flags (a flag wins over the file).
 *
 * @param file A JSON or YAML file, if given.
 * @param pairs The K=V flags.
 * @returns The inputs, and the text of each flag.
 * @throws {UsageError} For a flag without `=`, or a name given twice.
 * @throws {ValidationError} For a file that cannot be read or parsed, or a number too large to be one.
 */
export async function readInputs(file: string | undefined, pairs: string[]): Promise<ReadInputs> {
  let inputs: Record<string, unknown> = {};
  if (file !== undefined) inputs = await readFile(file);
  const flags = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`run: --input ${pair}: write NAME=VALUE`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    if (flags.has(key)) {
      throw new UsageError(
        `run: --input ${key} is given twice (${key}=${
          flags.get(key)
        } and ${pair}); give each input once`,
      );
    }
    flags.set(key, raw);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: the string as given
    }
    const big = overflow(value);
    if (big !== undefined) {
      throw new ValidationError(
        `--input ${key}=${raw}: ${big}; give a number JavaScript can hold (up to about 1.8e308), or quote it to pass the text: --input '${key}="${raw}"'`,
      );
    }
    inputs[key] = value;
  }
  return { inputs, flags };
}

async function readFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new ValidationError(`Cannot read --inputs ${file}: ${(e as Error).message}`);
  }
  const json = /\.json$/i.test(file);
  let parsed: unknown;
  if (json) {
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ValidationError(
        `--inputs ${file} is not valid JSON: ${(e as Error).message.split("\n")[0]}`,
      );
    }
    // JSON has no Infinity: one here is a number too large, read as Infinity.
    const big = overflow(parsed);
    if (big !== undefined) throw new ValidationError(`--inputs ${file}: ${big}`);
  } else {
    parsed = await parseYaml(file, text);
  }
  if (!isPlainObject(parsed)) {
    throw new ValidationError(
      `--inputs ${file} must hold an object keyed by input name, such as { "x": 1 }`,
    );
  }
  return parsed;
}

/**
 * YAML, with the library's errors and warnings (an unknown tag…) as one line
 * of weft's, and numbers too large to hold refused as in JSON (`.inf`
 * written as such is Infinity).
 */
async function parseYaml(file: string, text: string): Promise<unknown> {
  const yaml = await import("npm:yaml@2.8.1");
  const doc = yaml.parseDocument(text, { logLevel: "silent", prettyErrors: true });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) {
    const at = problem.linePos?.[0];
    const where = at === undefined ? "" : ` (line ${at.line}, column ${at.col})`;
    const message = problem.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    const what = problem.code === "TAG_RESOLVE_FAILED"
      ? `${message}; weft reads plain YAML: remove the tag, or quote the value`
      : message;
    throw new ValidationError(`--inputs ${file} is not valid YAML${where}: ${what}`);
  }
  let big: string | undefined;
  yaml.visit(doc, {
    Scalar(_key, node, path) {
      if (big !== undefined || typeof node.value !== "number" || Number.isFinite(node.value)) {
        return;
      }
      if (/^[-+]?\.inf$/i.test(node.source ?? "")) return;
      const pair = path.at(-1) as { key?: { value?: unknown } } | undefined;
      const where = typeof pair?.key?.value === "string" ? `${pair.key.value}: ` : "";
      big = `${where}${node.source} is too large for a number (it would be read as ${node.value})`;
    },
  });
  if (big !== undefined) throw new ValidationError(`--inputs ${file}: ${big}`);
  return doc.toJS();
}

/** Where a parsed JSON value holds a number too large to be one, read as Infinity. */
function overflow(value: unknown): string | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) || Number.isNaN(value)
      ? undefined
      : `the number is too large (it would be read as ${value})`;
  }
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = overflow(v);
      if (found !== undefined) return found;
    }
  } else if (isPlainObject(value)) {
    for (const k in value) {
      const found = overflow(value[k]);
      if (found !== undefined) return `${k}: ${found}`;
    }
  }
  return undefined;
}

/**
 * Checks inputs against the IR before anything starts: unknown and missing
 * names, fixed inputs of a launch plan, and a `--input` flag for an input
 * typed `string` whose text JSON read as something else (`--input name=5`).
 *
 * @param described The script.
 * @param selected What runs.
 * @param read The inputs, and the text of each flag.
 * @throws {ValidationError} Saying what is wrong and what to write.
 */
export function checkInputs(
  described: ScriptDescription,
  selected: ExportInfo,
  read: ReadInputs,
): void {
  const { inputs, flags } = read;
  const dag = described.dag;
  let params: { name: string; optional: boolean; type?: string; schema?: unknown }[] | undefined;
  let fixed: string[] = [];
  if (selected.kind === "task") params = dag.tasks.find((t) => t.name === selected.name)?.params;
  else if (selected.kind === "launchPlan") {
    const lp = dag.launchPlans.find((l) => l.name === selected.name);
    if (lp === undefined) return;
    fixed = Object.keys(lp.fixed);
    const target = lp.entity.kind === "task"
      ? dag.tasks.find((t) => t.name === lp.entity.name)?.params
      : dag.workflows.find((w) => w.name === lp.entity.name)?.inputs;
    params = target?.filter((p) => !fixed.includes(p.name)).map((p) => ({
      ...p,
      optional: p.optional || p.name in lp.defaults,
    }));
  } else params = dag.workflows.find((w) => w.name === selected.name)?.inputs;
  if (params === undefined) return;
  const names = params.map((p) => p.name);
  for (const key of Object.keys(inputs)) {
    if (fixed.includes(key)) {
      throw new ValidationError(
        `Input '${key}' of launch plan '${selected.name}' is fixed and cannot be given`,
      );
    }
    if (!names.includes(key)) {
      throw new ValidationError(
        `${selected.kind} '${selected.name}' has no input '${key}'; its inputs are ${
          params.map((p) => `${p.name}${p.optional ? "?" : ""}`).join(", ") || "none"
        }`,
      );
    }
  }
  for (const p of params) {
    if (!p.optional && !(p.name in inputs)) {
      throw new ValidationError(
        `Missing input '${p.name}' of ${selected.kind} '${selected.name}'; pass it with --input ${p.name}=VALUE or --inputs FILE`,
      );
    }
    const raw = flags.get(p.name);
    const value = inputs[p.name];
    const isString = p.type === "string" || (p.schema as { type?: unknown })?.type === "string";
    if (raw !== undefined && isString && typeof value !== "string") {
      const kind = value === null
        ? "null"
        : Array.isArray(value)
        ? "an array"
        : typeof value === "object"
        ? "an object"
        : `a ${typeof value}`;
      throw new ValidationError(
        `Input '${p.name}' of ${selected.kind} '${selected.name}' is a string, but --input ${p.name}=${raw} reads ${raw} as JSON (${kind}); quote it to pass the text: --input '${p.name}="${raw}"'`,
      );
    }
  }
}
