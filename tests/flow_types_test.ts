// Type-level tests: `deno check` (run by `deno test`) fails when the types of
// wait, all, race and handles are wrong. Every @ts-expect-error must be an error.

import assert from "node:assert/strict";
import { all, flow, type Handle, race, task, wait } from "../mod.ts";

const num = task(function num(x: number) {
  return x;
});
const str = task(function str(s: string) {
  return s;
});
const pair = task({ outputs: ["a", "b"] }, function pair() {
  return { a: 1, b: "two" };
});

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
function expectType<T>(_value: T): void {}

const typed = flow(async function* typed(x: number) {
  const n = yield* wait(num(x));
  expectType<true>(true as Equals<typeof n, number>);
  // @ts-expect-error a number is not a string
  const wrong: string = yield* wait(num(x));

  const [a, b] = yield* all([num(1), str("s")]);
  expectType<true>(true as Equals<typeof a, number>);
  expectType<true>(true as Equals<typeof b, string>);
  // @ts-expect-error the second element is a string
  const bad: number = (yield* all([num(1), str("s")]))[1];

  const obj = yield* all({ n: num(1), nested: { s: str("x"), list: [num(2)] } });
  expectType<true>(
    true as Equals<typeof obj, { n: number; nested: { s: string; list: [number] } }>,
  );

  const first = yield* race([num(1), num(2)]);
  expectType<true>(true as Equals<typeof first, number>);

  const p = pair();
  const pa = yield* wait(p.outputs.a);
  expectType<true>(true as Equals<typeof pa, number>);
  const pb: Handle<string> = p.outputs.b;

  // @ts-expect-error str takes a string, not a handle to a number
  str(num(1));
  // handles and values mix freely where the types agree
  num(num(1));

  return { n, wrong, bad, pb };
});

const result: Handle<{ n: number; wrong: string; bad: number; pb: string }> = typed(1);

// @ts-expect-error a flow's inputs are typed like a task's
typed("one");

Deno.test("typed flows compile with the expected types and run", async () => {
  const out = await result;
  assert.equal(out.n, 1);
  assert.equal(out.pb, "two");
});
