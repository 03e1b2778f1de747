/**
 * Reads the parameter names of a function from its source text, the way a
 * user wrote them: positional parameters (with or without defaults), or one
 * destructured object parameter. Type annotations are gone by the time the
 * code runs, so the JavaScript source is all there is to read.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";

/** One input parameter of a task, workflow or flow. */
export interface Param {
  /** The parameter name, which is also the input name. */
  name: string;
  /** Whether the parameter has a default (or was declared optional). */
  optional: boolean;
  /** The default value, when it is a literal that can be read from the source. */
  default?: unknown;
  /** The default as written in the source, when there is one. */
  defaultSource?: string;
}

/** What {@linkcode parseParams} found. */
export interface Signature {
  /** The inputs, in order. The task context and a rest parameter are not inputs. */
  params: Param[];
  /** `"positional"`: inputs are passed as arguments; `"object"`: as one object. */
  style: "positional" | "object";
}

/** The marker of a default whose value cannot be read from the source. */
const NOT_LITERAL: unique symbol = Symbol("not a literal");

/**
 * Parses the parameters of `fn`.
 *
 * @param fn The function to read.
 * @param what How to name the function in an error message.
 * @param options `context: true` when a final parameter named `ctx` receives the task context.
 * @returns The inputs and the calling style.
 * @throws {ValidationError} When the source cannot be read; the message says to pass `params`.
 */
export function parseParams(
  fn: (...args: never[]) => unknown,
  what: string,
  options: { context?: boolean } = {},
): Signature {
  const source = Function.prototype.toString.call(fn);
  const list = paramListOf(source);
  if (list === undefined) {
    throw new ValidationError(
      `Cannot read the parameter names of ${what} from its source (${
        abbreviate(source)
      }); pass them as the 'params' option, for example { params: ["x", "y"] }`,
    );
  }
  const parts = splitTopLevel(list, ",").map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length === 1 && parts[0]!.startsWith("{")) {
    return { params: destructuredKeys(parts[0]!, what), style: "object" };
  }
  const params: Param[] = [];
  for (const [i, part] of parts.entries()) {
    if (part.startsWith("...")) break; // a rest parameter is not an input
    if (part.startsWith("{") || part.startsWith("[")) {
      throw new ValidationError(
        `Cannot read the parameter names of ${what}: parameter ${i + 1} is destructured (${
          abbreviate(part)
        }); use plain parameters, one destructured object as the only parameter, or the 'params' option`,
      );
    }
    params.push(plainParam(part));
  }
  // The task context is passed as the argument after the inputs.
  if (options.context && params.length > 0 && params[params.length - 1]!.name === "ctx") {
    params.pop();
  }
  return { params, style: "positional" };
}

function plainParam(part: string): Param {
  const eq = indexOfTopLevel(part, "=");
  if (eq < 0) return { name: part.trim(), optional: false };
  const name = part.slice(0, eq).trim();
  const defaultSource = part.slice(eq + 1).trim();
  const param: Param = { name, optional: true, defaultSource };
  const value = parseLiteral(defaultSource);
  if (value !== NOT_LITERAL) param.default = value;
  return param;
}

function destructuredKeys(part: string, what: string): Param[] {
  const close = matchingClose(part, 0);
  if (close < 0) {
    throw new ValidationError(`Cannot read the parameter names of ${what}: unbalanced braces`);
  }
  const rest = part.slice(close + 1).trim();
  const wholeOptional = rest.startsWith("=");
  const params: Param[] = [];
  for (const raw of splitTopLevel(part.slice(1, close), ",")) {
    const entry = raw.trim();
    if (entry === "" || entry.startsWith("...")) continue;
    const colon = indexOfTopLevel(entry, ":");
    const eq = indexOfTopLevel(entry, "=");
    let key = (colon >= 0 && (eq < 0 || colon < eq)
      ? entry.slice(0, colon)
      : eq >= 0
      ? entry.slice(0, eq)
      : entry).trim();
    if (/^["']/.test(key)) {
      key = key.slice(1, -1);
    }
    if (key.startsWith("[")) {
      throw new ValidationError(
        `Cannot read the parameter names of ${what}: a computed key ${key} cannot be an input name; use the 'params' option`,
      );
    }
    const param: Param = { name: key, optional: eq >= 0 || wholeOptional };
    if (eq >= 0) {
      param.defaultSource = entry.slice(eq + 1).trim();
      const value = parseLiteral(param.defaultSource);
      if (value !== NOT_LITERAL) {
        param.default = value;
      }
    }
    params.push(param);
  }
  return params;
}

/** Finds the text between the parentheses of the parameter list, or undefined. */
function paramListOf(source: string): string | undefined {
  let s = source.trim();
  if (s.startsWith("class") || s.includes("[native code]")) return undefined;
  s = s.replace(/^async(?=[\s(*])\s*/, "");
  if (s.startsWith("function")) {
    s = s.slice("function".length).trimStart();
    if (s.startsWith("*")) s = s.slice(1).trimStart();
    s = s.replace(/^[\p{L}\p{N}_$]*\s*/u, "");
  } else {
    const arrow = /^([\p{L}_$][\p{L}\p{N}_$]*)\s*=>/u.exec(s);
    if (arrow) return arrow[1];
    if (s.startsWith("*")) s = s.slice(1).trimStart();
    if (!s.startsWith("(")) {
      // a method: `name(…) {…}`, `"name"(…)`, `static name(…)`
      const m = /^(?:static\s+)?(?:async\s+)?\*?\s*(?:[\p{L}\p{N}_$]+|"[^"]*"|'[^']*')\s*/u.exec(s);
      if (!m) return undefined;
      s = s.slice(m[0].length);
    }
  }
  if (!s.startsWith("(")) return undefined;
  const close = matchingClose(s, 0);
  return close < 0 ? undefined : s.slice(1, close);
}

/**
 * Scans `text` from `start` (an opening bracket) to its matching closing
 * bracket, skipping strings, template literals and comments.
 */
function matchingClose(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    const skipped = skipNonCode(text, i);
    if (skipped !== i) {
      i = skipped - 1;
      continue;
    }
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Returns the index after a string, template or comment starting at `i`, or `i`. */
function skipNonCode(text: string, i: number): number {
  const c = text[i];
  if (c === '"' || c === "'") {
    for (let j = i + 1; j < text.length; j++) {
      if (text[j] === "\\") j++;
      else if (text[j] === c) return j + 1;
    }
    return text.length;
  }
  if (c === "`") {
    for (let j = i + 1; j < text.length; j++) {
      if (text[j] === "\\") j++;
      else if (text[j] === "`") return j + 1;
      else if (text[j] === "$" && text[j + 1] === "{") {
        const close = matchingClose(text, j + 1);
        if (close < 0) return text.length;
        j = close;
      }
    }
    return text.length;
  }
  if (c === "/" && text[i + 1] === "/") {
    const nl = text.indexOf("\n", i);
    return nl < 0 ? text.length : nl + 1;
  }
  if (c === "/" && text[i + 1] === "*") {
    const end = text.indexOf("*/", i + 2);
    return end < 0 ? text.length : end + 2;
  }
  return i;
}

/**
 * The positions of `ch` outside brackets, strings and comments (the `=` of
 * `=>` and `==` is not an assignment).
 */
function topLevel(text: string, ch: string, first: boolean): number[] {
  const at: number[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const skipped = skipNonCode(text, i);
    if (skipped !== i) {
      i = skipped - 1;
      continue;
    }
    const c = text[i]!;
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (depth === 0 && c === ch) {
      if (ch === "=" && (text[i + 1] === ">" || text[i + 1] === "=")) {
        i++;
        continue;
      }
      at.push(i);
      if (first) break;
    }
  }
  return at;
}

function indexOfTopLevel(text: string, ch: string): number {
  return topLevel(text, ch, true)[0] ?? -1;
}

function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let from = 0;
  for (const i of topLevel(text, sep, false)) {
    out.push(stripComments(text.slice(from, i)));
    from = i + 1;
  }
  out.push(stripComments(text.slice(from)));
  return out;
}

function stripComments(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "/" && (text[i + 1] === "/" || text[i + 1] === "*")) {
      i = skipNonCode(text, i) - 1;
      out += " ";
      continue;
    }
    const skipped = skipNonCode(text, i);
    if (skipped !== i) {
      out += text.slice(i, skipped);
      i = skipped - 1;
      continue;
    }
    out += c;
  }
  return out;
}

function abbreviate(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > 60 ? `${oneLine.slice(0, 57)}...` : oneLine;
}

/**
 * Reads a literal default: numbers, strings, booleans, null, undefined, and
 * arrays and objects of these. Anything else (a call, a variable) is not read:
 * its value is only known when the function runs.
 */
function parseLiteral(text: string): unknown {
  const p = new LiteralParser(text);
  try {
    const value = p.value();
    p.ws();
    return p.done() ? value : NOT_LITERAL;
  } catch {
    return NOT_LITERAL;
  }
}

class LiteralParser {
  #s: string;
  #i = 0;
  constructor(s: string) {
    this.#s = s;
  }
  done(): boolean {
    return this.#i >= this.#s.length;
  }
  ws(): void {
    while (this.#i < this.#s.length && /\s/.test(this.#s[this.#i]!)) this.#i++;
  }
  value(): unknown {
    this.ws();
    const s = this.#s;
    const c = s[this.#i];
    if (c === "[") {
      this.#i++;
      const out: unknown[] = [];
      for (;;) {
        this.ws();
        if (s[this.#i] === "]") {
          this.#i++;
          return out;
        }
        out.push(this.value());
        this.ws();
        if (s[this.#i] === ",") this.#i++;
        else if (s[this.#i] !== "]") throw new SyntaxError("array");
      }
    }
    if (c === "{") {
      this.#i++;
      const out: Record<string, unknown> = {};
      for (;;) {
        this.ws();
        if (s[this.#i] === "}") {
          this.#i++;
          return out;
        }
        let key: string;
        if (s[this.#i] === '"' || s[this.#i] === "'") key = this.string();
        else {
          const m = /^[\p{L}_$][\p{L}\p{N}_$]*/u.exec(s.slice(this.#i));
          if (!m) throw new SyntaxError("key");
          key = m[0];
          this.#i += key.length;
        }
        this.ws();
        if (s[this.#i] !== ":") throw new SyntaxError("colon");
        this.#i++;
        out[key] = this.value();
        this.ws();
        if (s[this.#i] === ",") this.#i++;
        else if (s[this.#i] !== "}") throw new SyntaxError("object");
      }
    }
    if (c === '"' || c === "'") return this.string();
    if (c === "`") {
      const end = s.indexOf("`", this.#i + 1);
      const body = s.slice(this.#i + 1, end);
      if (end < 0 || body.includes("${") || body.includes("\\")) throw new SyntaxError("template");
      this.#i = end + 1;
      return body;
    }
    const m =
      /^(?:-?(?:0x[0-9a-fA-F]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+)n?|true|false|null|undefined)(?![\p{L}\p{N}_$.(])/u
        .exec(s.slice(this.#i));
    if (!m) throw new SyntaxError("literal");
    this.#i += m[0].length;
    const t = m[0];
    if (t === "true") return true;
    if (t === "false") return false;
    if (t === "null") return null;
    if (t === "undefined") return undefined;
    if (t.endsWith("n")) return BigInt(t.slice(0, -1).replaceAll("_", ""));
    return Number(t.replaceAll("_", ""));
  }
  string(): string {
    const s = this.#s;
    const q = s[this.#i]!;
    let j = this.#i + 1;
    let raw = "";
    for (; j < s.length && s[j] !== q; j++) {
      if (s[j] === "\\") {
        raw += s[j]! + s[j + 1]!;
        j++;
      } else raw += s[j] === '"' ? '\\"' : s[j];
    }
    if (j >= s.length) throw new SyntaxError("string");
    this.#i = j + 1;
    return JSON.parse(`"${raw.replace(/\\'/g, "'")}"`);
  }
}
