import assert from "node:assert/strict";
import fc from "npm:fast-check@3.23.2";
import { createHash } from "node:crypto";
import { checkValue, decodeValue, encodeValue, sha256, valueHash } from "../src/core/values.ts";
import { ValidationError } from "../mod.ts";

Deno.test("values round-trip through the encoding, extra types included", () => {
  const value = {
    n: 1.5,
    s: "x",
    b: true,
    nil: null,
    u: undefined,
    big: 12345678901234567890n,
    d: new Date("2024-01-02T03:04:05.678Z"),
    m: new Map<unknown, unknown>([["a", 1], [2, new Set([3])]]),
    bytes: new Uint8Array([0, 1, 255]),
    nums: [NaN, Infinity, -Infinity, -0],
    tagLike: { $date: "not a date" },
    nested: [[{ a: [1, { b: 2 }] }]],
  };
  checkValue(value, () => "value");
  const back = decodeValue(encodeValue(value)) as typeof value;
  assert.deepEqual(back, value);
  assert.ok(back.d instanceof Date);
  assert.ok(Object.is(back.nums[3], -0));
  assert.deepEqual(back.tagLike, { $date: "not a date" });
});

Deno.test("property: every generated value round-trips and hashes by content", () => {
  const arb = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      fc.integer(),
      fc.double(),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.bigInt(),
      fc.date({ noInvalidDate: true }),
      fc.uint8Array(),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(fc.string(), tie("value"), { maxKeys: 4 }),
    ),
  })).value;
  fc.assert(
    fc.property(arb, (v) => {
      checkValue(v, () => "v");
      const back = decodeValue(encodeValue(v));
      assert.deepEqual(back, v);
      assert.equal(valueHash(back), valueHash(v));
    }),
    { numRuns: 300 },
  );
});

Deno.test("the canonical hash ignores key order but not content", () => {
  assert.equal(valueHash({ a: 1, b: [2, 3] }), valueHash({ b: [2, 3], a: 1 }));
  assert.notEqual(valueHash({ a: 1 }), valueHash({ a: 2 }));
  assert.notEqual(valueHash([1, 2]), valueHash([2, 1]));
  assert.match(valueHash("x"), /^[0-9a-f]{64}$/);
});

Deno.test("sha256 gives the standard digest, remembered or not", () => {
  const reference = (t: string) => createHash("sha256").update(t).digest("hex");
  assert.equal(sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Short texts are remembered (up to 4,096 of them): the second round reads the memory,
  // and the texts past the bound clear it; long texts are always hashed.
  const texts = Array.from({ length: 5000 }, (_, i) => i % 7 === 0 ? `${i}`.repeat(40) : `${i}`);
  for (let round = 0; round < 2; round++) {
    for (const t of texts) assert.equal(sha256(t), reference(t), t);
  }
});

Deno.test("checkValue() names where a function, class instance or cycle sits", () => {
  class Point {
    constructor(public x: number) {}
    norm() {
      return Math.abs(this.x);
    }
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const cases: [unknown, RegExp][] = [
    [() => 1, /output o0 holds a function/],
    [{ a: [1, { f: function named() {} }] }, /a function \(named\) at a\[1\]\.f/],
    [{ p: new Point(1) }, /an instance of Point at p/],
    [cyclic, /refers to itself/],
    [Symbol("s"), /a symbol/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(
      () => checkValue(value, () => "output o0"),
      (e) => e instanceof ValidationError && pattern.test(e.message),
    );
  }
  checkValue({ a: [1, "x", null, undefined, new Date(), new Map(), new Set(), 1n] }, () => "ok");
});
