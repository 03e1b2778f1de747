import assert from "node:assert/strict";
import { run, task, ValidationError, workflow } from "../mod.ts";

const add = task(function add(x: number, y: number) {
  return x + y;
});
const mul = task(function mul(x: number, y: number) {
  return x * y;
});

Deno.test("a declarative workflow's graph exists before anything runs", () => {
  let calls = 0;
  const counted = task(function counted(x: number) {
    calls++;
    return x;
  });
  const wf = workflow(function pipeline(x: number, y: number) {
    return mul(add(x, y), counted(y));
  });
  assert.equal(calls, 0);
  const spec = wf.graph.workflows[0]!;
  assert.equal(spec.name, "pipeline");
  assert.ok(spec.kind === "static");
  assert.deepEqual(spec.nodes.map((n) => n.id), ["add", "counted", "mul"]);
  assert.deepEqual(spec.edges, [
    { from: "$inputs", output: "x", to: "add", input: "x" },
    { from: "$inputs", output: "y", to: "add", input: "y" },
    { from: "$inputs", output: "y", to: "counted", input: "x" },
    { from: "add", output: "o0", to: "mul", input: "x" },
    { from: "counted", output: "o0", to: "mul", input: "y" },
    { from: "mul", output: "o0", to: "$outputs", input: "o0" },
  ]);
  assert.deepEqual(wf.graph.tasks.map((t) => t.name), ["add", "counted", "mul"]);
});

Deno.test("using a symbolic value as a value while tracing is a ValidationError that points to flow", () => {
  const cases: [string, () => unknown][] = [
    ["s > 10", () =>
      workflow(function branches(x: number) {
        const s = add(x, 1);
        if ((s as unknown as number) > 10) return mul(s, 2);
        return s;
      })],
    ["x.length", () =>
      workflow(function lengths(x: number[]) {
        return add(x.length, 1);
      })],
    ["template string", () =>
      workflow(function prints(x: number) {
        return `${x}`;
      })],
    ["await", () =>
      workflow(function awaits(x: number) {
        (add(x, 1) as PromiseLike<number>).then(() => {});
      })],
  ];
  for (const [label, make] of cases) {
    assert.throws(make, (e) => {
      assert.ok(e instanceof ValidationError, label);
      assert.match(e.message, /while tracing workflow '\w+'.*use flow\(\)/, label);
      return true;
    });
  }
});

Deno.test("returning an object names the outputs; returning nothing gives none", async () => {
  const named = workflow(function named(x: number) {
    return { sum: add(x, 1), product: mul(x, 2), constant: 7 };
  });
  assert.deepEqual(await named(3), { sum: 4, product: 6, constant: 7 });
  const spec = named.graph.workflows[0]!;
  assert.deepEqual(spec.outputs.map((o) => o.name), ["sum", "product", "constant"]);
  const nothing = workflow(function nothing(x: number) {
    add(x, 1);
  });
  assert.equal(await nothing(1), undefined);
  assert.deepEqual(nothing.graph.workflows[0]!.outputs, []);
});

Deno.test("inputs take types, literal defaults and option defaults", async () => {
  const typed = workflow(
    { inputs: { x: "integer", scale: "number" } },
    function typed(x: number, scale = 2) {
      return mul(x, scale);
    },
  );
  assert.equal(await typed(3), 6);
  assert.equal(await typed(3, 10), 30);
  await assert.rejects(
    async () => await typed(1.5),
    /Input 'x' expects integer but was given number 1.5/,
  );
  const spec = typed.graph.workflows[0]!;
  assert.deepEqual(spec.inputs, [
    { name: "x", type: "integer", optional: false, schema: { type: "integer" } },
    { name: "scale", type: "number", optional: true, schema: { type: "number" }, default: 2 },
  ]);
  assert.throws(
    () =>
      workflow(function stamped(x: number, at = Date.now()) {
        return add(x, at);
      }),
    /default of input 'at' of workflow 'stamped' \(Date.now\(\)\) is not a literal.*defaults: \{ at: … \}/,
  );
  const given = workflow({ defaults: { at: 5 } }, function stamped(x: number, at = Date.now()) {
    return add(x, at);
  });
  assert.equal(await given(1), 6);
});

Deno.test("a destructured object parameter makes named inputs", async () => {
  const wf = workflow(function obj({ a, b = 3 }: { a: number; b?: number }) {
    return add(a, b);
  });
  assert.equal(await wf({ a: 1 }), 4);
  assert.equal((await run(wf, { a: 1, b: 1 })).outputs, 2);
});

Deno.test("a workflow calls another as a subworkflow node", async () => {
  const inner = workflow(function inner(x: number) {
    return add(x, 1);
  });
  const outer = workflow(function outer(x: number) {
    return mul(inner(x), inner(inner(x)));
  });
  assert.equal(await outer(1), 2 * 3);
  const r = await run(outer, { x: 1 });
  assert.deepEqual(r.graph.nodes.map((n) => n.id).sort(), [
    "inner",
    "inner/add",
    "inner_2",
    "inner_2/add",
    "inner_3",
    "inner_3/add",
    "mul",
  ]);
  assert.equal(r.graph.nodes.length, 7);
  const names = outer.graph.workflows.map((w) => w.name);
  assert.deepEqual(names, ["inner", "outer"]);
});

Deno.test("calling with too many arguments is a ValidationError", async () => {
  const wf = workflow(function one(x: number) {
    return add(x, 1);
  });
  await assert.rejects(
    async () => await (wf as unknown as (...a: number[]) => PromiseLike<number>)(1, 2),
    /takes 1 input \(x\) but was called with 2 arguments/,
  );
  assert.throws(() =>
    workflow({ inputs: { nope: "number" } }, function w(x: number) {
      return add(x, 1);
    }), /name input 'nope', but its inputs are x/);
});
