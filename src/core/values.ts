/**
 * Values that cross between tasks: JSON plus `Date`, `bigint`, `Map`, `Set`,
 * `Uint8Array` and `undefined`. This file checks that a value is one of
 * these, encodes it to text (faithfully, or canonically for hashing), decodes
 * it, and gives its SHA-256 content address.
 *
 * The encoding is JSON in which the extra types are one-key objects whose key
 * starts with `$` (`{"$date":"…"}`, `{"$bigint":"…"}`, `{"$map":[[k,v]…]}`,
 * `{"$set":[…]}`, `{"$bytes":"base64"}`, `{"$undefined":0}`,
 * `{"$number":"NaN"}`); a user object that looks like a tag is wrapped in
 * `{"$object":{…}}`, so every value round-trips.
 *
 * @module
 */

import { ValidationError } from "./errors.ts";

/**
 * Whether `x` is a plain object (not a class instance, date, map…).
 *
 * @param x Anything.
 * @returns True for `{}`-style objects.
 */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== "object" || x === null) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * Throws a {@linkcode ValidationError} when `value` cannot cross between
 * tasks. Cheap for scalars, one walk for structures.
 *
 * @param value The value to check.
 * @param where Names the value in the message, such as `output o0 of node 'load'`.
 * @throws {ValidationError} Naming where the bad part is and what it is.
 */
export function checkValue(value: unknown, where: () => string): void {
  if (value === null || typeof value !== "object") {
    if (typeof value === "function" || typeof value === "symbol") fail(value, "", where);
    return;
  }
  walk(value, "", where, undefined);
}

function walk(value: unknown, path: string, where: () => string, seen: Set<object> | undefined) {
  if (value === null) return;
  const t = typeof value;
  if (t !== "object") {
    if (t === "function" || t === "symbol") fail(value, path, where);
    return;
  }
  const obj = value as object;
  const proto = Object.getPrototypeOf(obj);
  if (proto === Array.prototype) {
    seen = enter(obj, seen, path, where);
    const arr = obj as unknown[];
    for (let i = 0; i < arr.length; i++) {
      const item = arr[i];
      if (item !== null && (typeof item === "object" || typeof item === "function")) {
        walk(item, `${path}[${i}]`, where, seen);
      } else if (typeof item === "symbol") fail(item, `${path}[${i}]`, where);
    }
    seen.delete(obj);
  } else if (proto === Object.prototype || proto === null) {
    seen = enter(obj, seen, path, where);
    for (const key in obj) {
      const item = (obj as Record<string, unknown>)[key];
      if (item !== null && (typeof item === "object" || typeof item === "function")) {
        walk(item, `${path}.${key}`, where, seen);
      } else if (typeof item === "symbol") fail(item, `${path}.${key}`, where);
    }
    seen.delete(obj);
  } else if (obj instanceof Map) {
    seen = enter(obj, seen, path, where);
    for (const [k, v] of obj) {
      walk(k, `${path}<key>`, where, seen);
      walk(v, `${path}.get(${typeof k === "string" ? JSON.stringify(k) : "…"})`, where, seen);
    }
    seen.delete(obj);
  } else if (obj instanceof Set) {
    seen = enter(obj, seen, path, where);
    for (const v of obj) walk(v, `${path}<item>`, where, seen);
    seen.delete(obj);
  } else if (
    !(obj instanceof Date) && !(obj instanceof Uint8Array && proto === Uint8Array.prototype)
  ) {
    fail(value, path, where);
  }
}

function enter(
  obj: object,
  seen: Set<object> | undefined,
  path: string,
  where: () => string,
): Set<object> {
  seen ??= new Set();
  if (seen.has(obj)) {
    throw new ValidationError(
      `${where()} refers to itself at ${
        path || "its top"
      }; values between tasks must be trees of data, not cyclic`,
    );
  }
  seen.add(obj);
  return seen;
}

function fail(value: unknown, path: string, where: () => string): never {
  const at = path === "" ? "" : ` at ${path.replace(/^\./, "")}`;
  throw new ValidationError(
    `${where()} holds ${
      describeKind(value)
    }${at}, which cannot cross between tasks; return JSON data plus Date, bigint, Map, Set, Uint8Array or undefined (turn a class instance into a plain object)`,
  );
}

function describeKind(value: unknown): string {
  if (typeof value === "function") {
    return `a function${value.name ? ` (${value.name})` : ""}`;
  }
  if (typeof value === "symbol") return "a symbol";
  const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
  return ctor ? `an instance of ${ctor}` : "an object with a custom prototype";
}

/**
 * Encodes a value as text. With `canonical`, object keys are sorted so that
 * equal values give equal text (for hashes and cache keys).
 *
 * @param value A value that passes {@linkcode checkValue}.
 * @param canonical Sort object keys.
 * @returns The encoded text.
 */
export function encodeValue(value: unknown, canonical = false): string {
  return JSON.stringify(toJsonTree(value, canonical));
}

/**
 * Turns a value into a JSON-compatible tree with `$` tags for the extra types.
 *
 * @param value The value.
 * @param canonical Sort object keys.
 * @returns A tree `JSON.stringify` encodes faithfully.
 */
export function toJsonTree(value: unknown, canonical = false): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return { $number: Object.is(value, -0) ? "-0" : String(value) };
    case "bigint":
      return { $bigint: value.toString() };
    case "undefined":
      return { $undefined: 0 };
    case "object": {
      if (value === null) return null;
      if (Array.isArray(value)) {
        const out = new Array(value.length);
        for (let i = 0; i < value.length; i++) out[i] = toJsonTree(value[i], canonical);
        return out;
      }
      if (value instanceof Date) return { $date: value.toISOString() };
      if (value instanceof Map) {
        return {
          $map: [...value].map(([k, v]) => [toJsonTree(k, canonical), toJsonTree(v, canonical)]),
        };
      }
      if (value instanceof Set) return { $set: [...value].map((v) => toJsonTree(v, canonical)) };
      if (value instanceof Uint8Array) return { $bytes: toBase64(value) };
      const keys = Object.keys(value);
      if (canonical) keys.sort();
      const out: Record<string, unknown> = {};
      for (const k of keys) out[k] = toJsonTree((value as Record<string, unknown>)[k], canonical);
      return keys.length === 1 && keys[0]!.startsWith("$") ? { $object: out } : out;
    }
    default:
      throw new ValidationError(`Cannot encode ${describeKind(value)} as a value`);
  }
}

/**
 * Decodes text made by {@linkcode encodeValue}.
 *
 * @param text The encoded text.
 * @returns The value.
 */
export function decodeValue(text: string): unknown {
  return fromJsonTree(JSON.parse(text));
}

/**
 * Turns a tagged JSON tree back into a value.
 *
 * @param tree The output of {@linkcode toJsonTree} after a JSON round trip.
 * @returns The value.
 */
export function fromJsonTree(tree: unknown): unknown {
  if (tree === null || typeof tree !== "object") return tree;
  if (Array.isArray(tree)) return tree.map(fromJsonTree);
  const keys = Object.keys(tree);
  const obj = tree as Record<string, unknown>;
  if (keys.length === 1 && keys[0]!.startsWith("$")) {
    const tag = keys[0]!;
    const body = obj[tag];
    switch (tag) {
      case "$number":
        return Number(body);
      case "$bigint":
        return BigInt(body as string);
      case "$undefined":
        return undefined;
      case "$date":
        return new Date(body as string);
      case "$map":
        return new Map(
          (body as [unknown, unknown][]).map(([k, v]) => [fromJsonTree(k), fromJsonTree(v)]),
        );
      case "$set":
        return new Set((body as unknown[]).map(fromJsonTree));
      case "$bytes":
        return fromBase64(body as string);
      case "$object": {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
          out[k] = fromJsonTree(v);
        }
        return out;
      }
      default:
        throw new ValidationError(`Cannot decode a value with the unknown tag ${tag}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = fromJsonTree(obj[k]);
  return out;
}

type CreateHash = (algorithm: string) => {
  update(text: string): { digest(encoding: "hex"): string };
};
let createHash: CreateHash | undefined;

/**
 * `node:crypto` costs about 20 ms to load, which most runs (in memory, no
 * cache) never need: it is loaded, synchronously, on the first hash.
 */
function loadCreateHash(): CreateHash {
  const process = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process;
  const crypto = process?.getBuiltinModule?.("node:crypto") as
    | { createHash: CreateHash }
    | undefined;
  if (crypto === undefined) {
    throw new Error("weft needs node:crypto (process.getBuiltinModule) to hash values");
  }
  return crypto.createHash;
}

/**
 * The SHA-256 of some text, as hex.
 *
 * @param text The text to hash.
 * @returns 64 hex digits.
 */
export function sha256(text: string): string {
  const short = text.length <= SHORT_TEXT;
  if (short) {
    const known = recentHashes.get(text);
    if (known !== undefined) return known;
  }
  createHash ??= loadCreateHash();
  const hex = createHash("sha256").update(text).digest("hex");
  if (short) {
    if (recentHashes.size >= RECENT_HASHES) recentHashes.clear();
    recentHashes.set(text, hex);
  }
  return hex;
}

/**
 * Hashes of short texts hashed lately. A durable step hashes each small value
 * twice (as one task's output, then as the next task's input), and a hash
 * through `node:crypto` costs about a microsecond; a lookup is a tenth of
 * that. Bounded: at most 4,096 texts of at most 128 characters.
 */
const recentHashes = new Map<string, string>();
const SHORT_TEXT = 128;
const RECENT_HASHES = 4096;

/**
 * A digest for equality checks (a journal's arguments, a run's inputs): short
 * canonical texts are their own digest, longer ones their SHA-256. A short
 * text is no longer than a hash and never equal to one (canonical text of a
 * record starts with a brace), and most calls then need no hashing at all,
 * nor `node:crypto` loaded.
 *
 * @param canonical A canonical encoding.
 * @returns The text itself when at most 64 characters, else 64 hex digits.
 */
export function digestOf(canonical: string): string {
  return canonical.length <= 64 ? canonical : sha256(canonical);
}

/**
 * The content address of a value: SHA-256 of its canonical encoding.
 *
 * @param value The value.
 * @returns 64 hex digits.
 */
export function valueHash(value: unknown): string {
  return sha256(encodeValue(value, true));
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
