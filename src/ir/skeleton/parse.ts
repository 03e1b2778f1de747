/**
 * Parsing a module's source for its flows' skeletons: its TypeScript types
 * are stripped first (see strip.ts: by the `weft compile` parent, else here),
 * and the JavaScript is then read by meriyah.
 *
 * This module and its dependency are loaded only when a flow is compiled
 * (`weft compile`, `inspect`, `run` planning): never by `import "@weft/weft"`
 * and never by a run. tests/skeleton_test.ts checks both module graphs.
 *
 * @module
 */

import { parse } from "npm:meriyah@7.4.2";
import type { Node } from "./ast.ts";
import { isTyped, loadStripper, type Stripped, stripTypes } from "./strip.ts";

/** A parsed module: its program and how to find a node's line in the original source. */
export interface ParsedModule {
  /** The module's URL. */
  url: string;
  /** The program (ESTree, with locations). */
  program: Node;
  /** The JavaScript that was parsed (types stripped), to quote source text from. */
  code: string;
  /**
   * The 1-based line of the original source where a node starts.
   *
   * @param node A node of `program`.
   * @returns The line.
   */
  lineOf(node: Node): number;
}

/**
 * Parses a module's source.
 *
 * @param url The module's URL (its extension says whether it is TypeScript).
 * @param text The source as written.
 * @param stripped Its types stripped already (by the `weft compile` parent); else they are stripped here.
 * @returns The program, or an error message saying why it could not be read.
 */
export async function parseModule(
  url: string,
  text: string,
  stripped?: Stripped | { error: string },
): Promise<ParsedModule | { error: string }> {
  let code = text;
  // A transformed module's lines, back to the source as written.
  let mappings: Mappings | undefined;
  if (isTyped(url)) {
    const out = stripped ?? stripTypes(await loadStripper(), text);
    if ("error" in out) return out;
    code = out.code;
    if (out.mappings !== undefined) mappings = decodeMappings(out.mappings);
  }
  // Lines are found from offsets: meriyah's `loc` would add three objects to every node.
  const lines = lineStarts(code);
  const lineOf = (node: Node): number => {
    const line = lineAt(lines, node.start);
    return mappings === undefined
      ? line + 1
      : originalLine(mappings, line, node.start - lines[line]!);
  };
  try {
    const program = parse(code, {
      module: true,
      next: true,
      ranges: true,
      jsx: /\.(tsx|jsx)$/i.test(url),
    }) as unknown as Node;
    return { url, program, code, lineOf };
  } catch (e) {
    return { error: `it does not parse as JavaScript (${(e as Error).message})` };
  }
}

/** Per generated line, its segments as [generated column, original line] pairs. */
type Mappings = [number, number][][];

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * Decodes the `mappings` of a source map (version 3): base64 VLQ fields,
 * each relative to the previous segment's (the column to the previous one
 * on the same line).
 */
function decodeMappings(mappings: string): Mappings {
  const out: Mappings = [];
  let originalLine = 0;
  for (const line of mappings.split(";")) {
    const segments: [number, number][] = [];
    let column = 0;
    for (const segment of line.split(",")) {
      if (segment === "") continue;
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of segment) {
        const digit = BASE64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += fields[0] ?? 0;
      if (fields.length >= 4) {
        originalLine += fields[2]!;
        segments.push([column, originalLine]);
      }
    }
    out.push(segments);
  }
  return out;
}

/** The original 1-based line of a generated position: its segment, or the nearest before it. */
function originalLine(lines: Mappings, line: number, column: number): number {
  for (let l = Math.min(line, lines.length - 1); l >= 0; l--) {
    const segments = lines[l]!;
    for (let i = segments.length - 1; i >= 0; i--) {
      if (l < line || segments[i]![0] <= column) return segments[i]![1] + 1;
    }
  }
  return 1;
}

/** The offset where each line starts (line breaks as JavaScript counts them). */
type LineStarts = number[];

function lineStarts(code: string): LineStarts {
  const starts = [0];
  const breaks = /\r\n?|[\n\u2028\u2029]/g;
  while (breaks.exec(code) !== null) starts.push(breaks.lastIndex);
  return starts;
}

/** The 0-based line of an offset. */
function lineAt(starts: LineStarts, offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
