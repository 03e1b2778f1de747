/**
 * Reads a YAML (or JSON) text into a plain tree that remembers the line of
 * every value and every key, for a workflow spec whose mistakes are each
 * reported with their line. Aliases are followed; duplicate keys, tags the
 * reader does not know and values JSON cannot hold are errors.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";

/** A value of the tree: a mapping, a list or a scalar, with the line where it starts. */
export type YNode =
  | { readonly kind: "map"; readonly line: number; readonly entries: readonly YEntry[] }
  | { readonly kind: "seq"; readonly line: number; readonly items: readonly YNode[] }
  | { readonly kind: "scalar"; readonly line: number; readonly value: unknown };

/** One key of a mapping, with its line. */
export interface YEntry {
  /** The key. */
  readonly key: string;
  /** The key's line. */
  readonly line: number;
  /** The value. */
  readonly value: YNode;
}

/**
 * A mistake in a spec, one line: `FILE:LINE: what is wrong`.
 *
 * @param file The spec's name.
 * @param line The 1-based line.
 * @param message What is wrong and how to fix it.
 * @returns The error.
 */
export function specError(file: string, line: number, message: string): ValidationError {
  return new ValidationError(`${file}:${line}: ${message.replace(/\s*\n\s*/g, " ")}`);
}

/**
 * Parses YAML (JSON is YAML too) into a tree with lines.
 *
 * @param text The document.
 * @param file Its name, in messages.
 * @returns The root of the tree.
 * @throws {ValidationError} On a syntax error, a duplicate key, an unknown tag or an empty document.
 */
export async function readYaml(text: string, file: string): Promise<YNode> {
  const YAML = await import("npm:yaml@2.8.1");
  const lines = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const lineAt = (offset: number | undefined) =>
    offset === undefined ? 1 : lines.linePos(offset).line;
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) {
    const message = problem.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw specError(file, lineAt(problem.pos[0]), `not valid YAML: ${message}`);
  }
  const seen = new Set<unknown>();
  const convert = (node: unknown, line: number): YNode => {
    if (node === null || node === undefined) return { kind: "scalar", line, value: null };
    if (YAML.isAlias(node)) {
      const target = node.resolve(doc);
      const at = lineAt(node.range?.[0]);
      if (target === undefined) throw specError(file, at, `alias *${node.source} names no anchor`);
      if (seen.has(target)) {
        throw specError(file, at, `alias *${node.source} refers to a value that contains it`);
      }
      seen.add(target);
      try {
        return convert(target, at);
      } finally {
        seen.delete(target);
      }
    }
    const at = lineAt((node as { range?: [number] }).range?.[0]) || line;
    if (YAML.isMap(node)) {
      const entries: YEntry[] = [];
      for (const pair of node.items) {
        const keyLine = lineAt((pair.key as { range?: [number] } | null)?.range?.[0]) || at;
        const key = YAML.isScalar(pair.key) ? pair.key.value : pair.key;
        if (YAML.isAlias(pair.key) || typeof key !== "string") {
          throw specError(file, keyLine, `keys must be strings, not ${JSON.stringify(key) ?? key}`);
        }
        if (key === "<<") {
          throw specError(file, keyLine, "merge keys (<<) are not supported; write the keys out");
        }
        entries.push({ key, line: keyLine, value: convert(pair.value, keyLine) });
      }
      return { kind: "map", line: at, entries };
    }
    if (YAML.isSeq(node)) {
      return { kind: "seq", line: at, items: node.items.map((item) => convert(item, at)) };
    }
    if (YAML.isScalar(node)) {
      const value = node.value;
      if (typeof value === "number" && !Number.isFinite(value) && !Number.isNaN(value)) {
        return { kind: "scalar", line: at, value };
      }
      if (
        value !== null && !["string", "number", "boolean"].includes(typeof value) ||
        Number.isNaN(value)
      ) {
        throw specError(file, at, `${node.source ?? String(value)} is not a JSON value`);
      }
      return { kind: "scalar", line: at, value };
    }
    throw specError(file, at, "unexpected YAML node");
  };
  if (doc.contents === null) throw specError(file, 1, "the document is empty");
  return convert(doc.contents, 1);
}

/**
 * The plain value of a tree (what YAML would give), for constants.
 *
 * @param node The tree.
 * @returns Its value.
 */
export function plainValue(node: YNode): unknown {
  if (node.kind === "scalar") return node.value;
  if (node.kind === "seq") return node.items.map(plainValue);
  const out: Record<string, unknown> = {};
  for (const e of node.entries) {
    Object.defineProperty(out, e.key, {
      value: plainValue(e.value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
