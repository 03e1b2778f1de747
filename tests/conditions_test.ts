// ifElse: conditionals in declarative workflows and the builder, both
// branches in the IR, the branch not taken recorded as skipped.
import assert from "node:assert/strict";
import {
  and,
  eq,
  flow,
  ge,
  gt,
  ifElse,
  le,
  lt,
  ne,
  not,
  or,
  run,
  task,
  TaskFailedError,
  ValidationError,
  wait,
  Workflow,
  workflow,
} from "../mod.ts";
import { fromDag, renderDag, toDag, validateDag } from "../ir.ts";

const square = task(function square(n: number) {
  return n * n;
});
const double = task(function double(n: number) {
  return 2 * n;
});
/** Flyte's `.fail("…")`: a branch that fails the workflow with a message. */
const fail = task(function fail(message: string): number {
  throw new Error(message);
});

// Ported from flytekit, tests/flytekit/unit/core/test_conditions.py,
// test_nested_condition_2: "fractions" — if 0.1 < x < 1.0 then (inner: if
// x < 0.5 then double, elif 0.5 < x < 0.7 then square, else fail "Only <0.7
// allowed"), elif 1.0 < x < 10.0 then square, else double. Expected:
// 0.3 → 0.6, 5.0 → 25, 10.0 → 20, and 0.7 raises.
Deno.test("flytekit: nested conditions with elif (test_nested_condition_2)", async () => {
  const multiplier2 = workflow(function multiplier_2(myInput: number) {
    return ifElse(
      and(gt(myInput, 0.1), lt(myInput, 1.0)),
      () =>
        ifElse(
          lt(myInput, 0.5),
          () => double(myInput),
          () =>
            ifElse(
              and(gt(myInput, 0.5), lt(myInput, 0.7)),
              () => square(myInput),
              () => fail("Only <0.7 allowed"),
              { name: "inner_fractions_2" },
            ),
          { name: "inner_fractions" },
        ),
      () =>
        ifElse(
          and(gt(myInput, 1.0), lt(myInput, 10.0)),
          () => square(myInput),
          () => double(myInput),
          { name: "fractions_2" },
        ),
      { name: "fractions" },
    );
  });
  assert.equal(await multiplier2(0.3), 0.6);
  assert.equal(await multiplier2(5.0), 25);
  assert.equal(await multiplier2(10.0), 20);
  await assert.rejects(
    async () => await multiplier2(0.7),
    (e) => e instanceof TaskFailedError && /Only <0\.7 allowed/.test(e.message),
  );
  // One node at the top, as in Flyte's serialised workflow, holding the rest.
  const [wf] = multiplier2.graph.workflows;
  assert.ok(wf?.kind === "static");
  assert.equal(wf.nodes.length, 1);
  assert.equal(wf.nodes[0]!.id, "fractions");
});

// Ported from flytekit, test_conditions.py, test_condition_tuple_branches:
// math_ops(a=3, b=2) runs sum_sub in the then branch (a > b) and gives
// (5, 1); the else branch fails "Only positive results are allowed". The
// serialised workflow has one node whose then node calls sum_sub.
Deno.test("flytekit: a branch gives named outputs (test_condition_tuple_branches)", async () => {
  const sumSub = task({ outputs: ["sum", "sub"] }, function sum_sub(a: number, b: number) {
    return { sum: a + b, sub: a - b };
  });
  const mathOps = workflow(function math_ops(a: number, b: number) {
    const r = ifElse(
      gt(a, b),
      () => {
        const s = sumSub(a, b);
        return { add: s.outputs.sum, sub: s.outputs.sub };
      },
      () => {
        fail("Only positive results are allowed");
      },
      { name: "noDivByZero" },
    );
    return { add: r.outputs.add, sub: r.outputs.sub };
  });
  assert.deepEqual(await mathOps(3, 2), { add: 5, sub: 1 });
  await assert.rejects(async () => await mathOps(2, 3), /Only positive results are allowed/);
  const [wf] = mathOps.graph.workflows;
  assert.ok(wf?.kind === "static");
  assert.equal(wf.nodes.length, 1);
  const node = wf.nodes[0]!;
  assert.ok("if" in node);
  assert.deepEqual(node.if.outputs, ["add", "sub"]);
  const thenNode = node.if.then.nodes[0]!;
  assert.ok("entity" in thenNode && thenNode.entity.name === "sum_sub");
});

// Ported from flytekit, test_conditions.py, test_condition_unary_bool:
// `.if_(result.is_true())` on a task returning True runs success() (20), not
// failed() (10).
Deno.test("flytekit: a handle is tested for truthiness (test_condition_unary_bool)", async () => {
  const returnTrue = task(function return_true() {
    return true;
  });
  const failed = workflow(function failed() {
    return 10;
  });
  const success = workflow(function success() {
    return 20;
  });
  const decompose = workflow(function decompose() {
    const result = returnTrue();
    return ifElse(result, () => success(), () => failed(), { name: "test" });
  });
  assert.equal(await decompose(), 20);
});

// Ported from flytekit, test_conditions.py, test_subworkflow_condition and
// test_call_counts: branching(x) is t() (5) when x == 2, else wf1() (which
// calls t(): 5); an if/elif/elif/else chain runs its task exactly once.
Deno.test("flytekit: branches call subworkflows; only the chosen one runs (test_call_counts)", async () => {
  let calls = 0;
  const t = task(function t() {
    calls++;
    return 5;
  });
  const wf1 = workflow(function wf1() {
    return t();
  });
  const branching = workflow(function branching(x: number) {
    return ifElse(eq(x, 2), () => t(), () => wf1(), { name: "test" });
  });
  assert.equal(await branching(2), 5);
  assert.equal(await branching(3), 5);
  const chain = workflow(function if_elif_else_branching(x: number) {
    return ifElse(
      eq(x, 2),
      () => t(),
      () => ifElse(eq(x, 3), () => t(), () => ifElse(eq(x, 4), () => t(), () => t())),
    );
  });
  calls = 0;
  const r = await run(chain, { x: 2 });
  assert.equal(r.outputs, 5);
  assert.equal(calls, 1);
  // The branch not taken is in the record, as skipped.
  const statuses = Object.fromEntries(r.graph.nodes.map((n) => [n.id, n.status]));
  assert.deepEqual(statuses, {
    ifElse: "succeeded",
    "ifElse/t": "succeeded",
    "ifElse/ifElse_2": "skipped",
  });
});

Deno.test("every comparison and combination, over inputs, node outputs and constants", async () => {
  const n = task(function n(x: number) {
    return x;
  });
  const cases: [
    string,
    (x: unknown, y: unknown) => ReturnType<typeof eq>,
    number,
    number,
    boolean,
  ][] = [
    ["eq", eq, 1, 1, true],
    ["ne", ne, 1, 1, false],
    ["gt", gt, 2, 1, true],
    ["ge", ge, 1, 1, true],
    ["lt", lt, 2, 1, false],
    ["le", le, 1, 2, true],
  ];
  for (const [name, op, a, b, expected] of cases) {
    const wf = workflow({ name: `cmp_${name}` }, function (x: number) {
      return ifElse(op(n(x), b), () => "then", () => "else");
    });
    assert.equal(await wf(a), expected ? "then" : "else", name);
  }
  const logic = workflow(function logic(x: number, y: string) {
    return ifElse(
      or(and(gt(x, 0), not(eq(y, "skip"))), eq(x, -1)),
      () => "yes",
      () => "no",
    );
  });
  assert.equal(await logic(1, "go"), "yes");
  assert.equal(await logic(1, "skip"), "no");
  assert.equal(await logic(-1, "skip"), "yes");
  const deep = workflow(function deep(xs: number[]) {
    return ifElse(eq(xs, [1, 2]), () => "same", () => "differ");
  });
  assert.equal(await deep([1, 2]), "same");
  assert.equal(await deep([2, 1]), "differ");
  const mixed = workflow(function mixed(x: unknown) {
    return ifElse(gt(x, 1), () => 1, () => 0);
  });
  const r = await run(mixed, { x: "a string" });
  assert.equal(r.status, "failed");
  assert.match(r.errors[0]!.message, /Cannot compare string with number \(gt\)/);
});

Deno.test("ifElse in the builder: branches add nodes through addEntity", async () => {
  const wf = new Workflow("built_branch");
  const x = wf.addInput("x", "number");
  const s = wf.addEntity(square, { n: x });
  const result = ifElse(
    gt(s, 10),
    () => wf.addEntity(double, { n: s }),
    () => s,
    { name: "big" },
  );
  wf.addOutput("o", result);
  assert.equal(await wf.execute({ x: 5 }), 50);
  assert.equal(await wf.execute({ x: 2 }), 4);
  const r = await run(wf, { x: 2 });
  assert.deepEqual(r.graph.nodes.map((n) => `${n.id}:${n.status}`), [
    "square:succeeded",
    "big:succeeded",
    "big/double:skipped",
  ]);
});

Deno.test("a branch's nodes are its own; mistakes are refused, saying where", () => {
  assert.throws(
    () =>
      workflow(function leak(x: number) {
        let inner: unknown;
        const r = ifElse(gt(x, 0), () => (inner = double(x)));
        return { r, leaked: square(inner as number) };
      }),
    (e) =>
      e instanceof ValidationError &&
      /refers to node 'double', which belongs to the then branch of ifElse 'ifElse'; outside that branch use the ifElse's result/
        .test(e.message),
  );
  assert.throws(
    () =>
      workflow(function constants() {
        return ifElse(gt(2, 1), () => 1);
      }),
    (e) =>
      e instanceof ValidationError &&
      /uses only constants, so it is decided already/.test(e.message),
  );
  assert.throws(
    () => ifElse(true as never, () => 1),
    (e) => e instanceof ValidationError && /takes a condition made by eq/.test(e.message),
  );
  const f = flow(async function* inFlow(x: number) {
    const s = square(x);
    return ifElse(gt(s, 1), () => 1);
  });
  return run(f, { x: 2 }).then((r) => {
    assert.equal(r.status, "failed");
    assert.match(r.errors[0]!.message, /in a flow, branch with if on a value/);
  });
});

Deno.test("both branches are in the IR; it validates, round-trips and draws", async () => {
  const wf = workflow(function classify(x: number) {
    const s = square(x);
    return ifElse(
      and(ge(s, 4), le(s, 100)),
      () => double(s),
      () => square(s),
      { name: "check" },
    );
  });
  const doc = wf.graph;
  const [ir] = doc.workflows;
  assert.ok(ir?.kind === "static");
  const check = ir.nodes.find((n) => n.id === "check")!;
  assert.ok("if" in check);
  assert.deepEqual(check.bindings, {
    c0: { node: "square", output: "o0" },
    c1: { value: 4 },
    c2: { node: "square", output: "o0" },
    c3: { value: 100 },
  });
  assert.deepEqual(check.if.test, {
    op: "and",
    args: [{ op: "ge", args: ["c0", "c1"] }, { op: "le", args: ["c2", "c3"] }],
  });
  assert.deepEqual(check.if.then.nodes.map((n) => n.id), ["double"]);
  assert.deepEqual(check.if.else.nodes.map((n) => n.id), ["square_2"]);
  assert.ok(ir.edges.some((e) => e.from === "double" && e.to === "check" && e.input === "then.o0"));
  const text = JSON.stringify(doc);
  await validateDag(text);
  const loaded = await fromDag(text, [square, double]);
  const again = toDag([loaded]).workflows[0]!;
  assert.ok(again.kind === "static");
  assert.deepEqual(again.nodes, ir.nodes);
  assert.deepEqual(again.edges, ir.edges);
  assert.equal(await loaded.execute({ x: 3 }), 18);
  assert.equal(await loaded.execute({ x: 20 }), 160_000);
  const dot = await renderDag(doc, "dot");
  assert.match(dot, /shape=diamond/);
  assert.match(dot, /label="check\\nif square\.o0 ≥ 4 and square\.o0 ≤ 100"/);
  assert.match(dot, /\[label="then", style=dashed\]/);
  assert.match(await renderDag(doc, "mermaid"), /\{"check<br>if square\.o0 ≥ 4/);
  // A document whose branch node is used outside its branch is refused.
  const broken = JSON.parse(text);
  broken.workflows[0].outputs[0].binding = { node: "double", output: "o0" };
  broken.workflows[0].edges.push({ from: "double", output: "o0", to: "$outputs", input: "o0" });
  await assert.rejects(
    validateDag(broken),
    (e) =>
      e instanceof ValidationError &&
      /bound to node 'double', which belongs to the then branch of condition 'check'/.test(
        e.message,
      ),
  );
  const unknownOperand = JSON.parse(text);
  unknownOperand.workflows[0].nodes[1].if.test.args[0].args[0] = "c9";
  await assert.rejects(
    validateDag(unknownOperand),
    (e) =>
      e instanceof ValidationError && /tests operand 'c9', which it does not bind/.test(e.message),
  );
});

Deno.test("a resumed run replays a condition's finished branch nodes", async () => {
  const calls: string[] = [];
  let failing = true;
  const stepA = task(function stepA() {
    calls.push("a");
    return "a";
  });
  const stepB = task(function stepB(prev: string) {
    calls.push("b");
    if (failing) throw new Error("b failed");
    return `${prev}b`;
  });
  const wf = workflow(function resumable(x: number) {
    return ifElse(gt(x, 0), () => stepB(stepA()), () => stepA());
  });
  const first = await run(wf, { x: 1 }, { runId: "cond-resume" });
  assert.equal(first.status, "failed");
  failing = false;
  calls.length = 0;
  const again = await run(wf, { x: 1 }, { runId: "cond-resume" });
  assert.equal(again.status, "succeeded");
  assert.equal(again.outputs, "ab");
  assert.deepEqual(calls, ["b"]);
  assert.ok(again.graph.nodes.find((n) => n.id === "ifElse/stepA")?.replayed);
  assert.equal(again.graph.nodes.find((n) => n.id === "ifElse/stepA_2")?.status, "skipped");
});

Deno.test("a flow waits for a workflow with a condition like any subworkflow", async () => {
  const wf = workflow(function sign(x: number) {
    return ifElse(lt(x, 0), () => "negative", () => "not negative");
  });
  const f = flow(async function* signs(xs: number[]) {
    const out = [];
    for (const x of xs) out.push(yield* wait(wf(x)));
    return out;
  });
  assert.deepEqual(await f([-1, 0, 1]), ["negative", "not negative", "not negative"]);
});
