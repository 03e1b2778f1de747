import assert from "node:assert/strict";
import { parseParams } from "../src/define/params.ts";
import { ValidationError } from "../mod.ts";

// deno-lint-ignore no-explicit-any
const names = (fn: (...a: any[]) => unknown, context = true) =>
  parseParams(fn, "fn", { context }).params.map((p) => `${p.name}${p.optional ? "?" : ""}`);

Deno.test("parseParams() reads positional parameters of every function form", () => {
  assert.deepEqual(
    names(function add(x: number, y: number) {
      return x + y;
    }),
    ["x", "y"],
  );
  assert.deepEqual(names((a: number, b: number) => a + b), ["a", "b"]);
  assert.deepEqual(names((a: number) => a), ["a"]);
  // deno-lint-ignore no-explicit-any
  assert.deepEqual(names(((a: any) => a) as never), ["a"]);
  assert.deepEqual(names(async (url: string) => await Promise.resolve(url)), ["url"]);
  assert.deepEqual(
    names(async function* gen(n: number) {
      yield n;
    }),
    ["n"],
  );
  class K {
    static add(x: number, y: number) {
      return x + y;
    }
    static async fetchIt(url: string) {
      return await Promise.resolve(url);
    }
  }
  assert.deepEqual(names(K.add), ["x", "y"]);
  assert.deepEqual(names(K.fetchIt), ["url"]);
  assert.deepEqual(names(() => 1), []);
});

Deno.test("parseParams() marks parameters with defaults optional and reads literal defaults", () => {
  const sig = parseParams(
    (
      a: number,
      b = 2,
      c = "x,y",
      d = [1, { e: "f" }],
      g = Date.now(),
      h = `t`,
      i = -1.5e3,
    ) => [a, b, c, d, g, h, i],
    "fn",
  );
  assert.deepEqual(sig.params.map((p) => [p.name, p.optional, p.default]), [
    ["a", false, undefined],
    ["b", true, 2],
    ["c", true, "x,y"],
    ["d", true, [1, { e: "f" }]],
    ["g", true, undefined],
    ["h", true, "t"],
    ["i", true, -1500],
  ]);
  assert.equal("default" in sig.params[4]!, false);
  assert.equal(sig.params[4]!.defaultSource, "Date.now()");
});

Deno.test("parseParams() skips comments, strings with commas and a final ctx", () => {
  const fn = (
    a: /* first, really */ string,
    // second
    b = "(,)",
    ctx?: unknown,
  ) => [a, b, ctx];
  assert.deepEqual(names(fn), ["a", "b?"]);
  assert.deepEqual(names(fn, false), ["a", "b?", "ctx"]);
  assert.deepEqual(names((x: number, ...rest: number[]) => [x, rest]), ["x"]);
});

Deno.test("parseParams() reads the keys of one destructured object parameter", () => {
  const sig = parseParams(
    (
      { a, b = 2, c: alias, "d": e }: { a: number; b?: number; c: string; d: string },
    ) => [a, b, alias, e],
    "fn",
  );
  assert.equal(sig.style, "object");
  assert.deepEqual(sig.params.map((p) => `${p.name}${p.optional ? "?" : ""}`), [
    "a",
    "b?",
    "c",
    "d",
  ]);
});

Deno.test("parseParams() explains when it cannot read the parameters", () => {
  assert.throws(
    () => parseParams(Math.max, "task 'max'"),
    (e) => e instanceof ValidationError && /pass them as the 'params' option/.test(e.message),
  );
  assert.throws(
    () => parseParams(([a, b]: number[]) => a! + b!, "task 'sum'"),
    (e) => e instanceof ValidationError && /parameter 1 is destructured/.test(e.message),
  );
});
