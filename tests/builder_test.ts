// The scenarios of flytekit's imperative-workflow unit tests
// (tests/flytekit/unit/core/test_imperative.py), ported to weft's builder.

import assert from "node:assert/strict";
import { launchPlan, task, TaskFailedError, ValidationError, Workflow, workflow } from "../mod.ts";
import { callNodes } from "../ir.ts";

const t1 = task(function t1(a: string) {
  return `${a} world`;
});

Deno.test("a builder workflow with a side-effect node returns its single output", async () => {
  const effects: string[] = [];
  const t2 = task(function t2() {
    effects.push("side effect");
  });
  const wb = new Workflow("my_workflow");
  wb.addInput("in1", "string");
  const node = wb.addEntity(t1, { a: wb.inputs.in1 });
  wb.addEntity(t2);
  wb.addOutput("from_n0t1", node.outputs.o0);

  assert.equal(await wb({ in1: "hello" }), "hello world");
  assert.deepEqual(effects, ["side effect"]);
  assert.equal(wb.size, 2);

  const spec = wb.graph.workflows[0]!;
  assert.equal(spec.kind, "static");
  if (spec.kind !== "static") return;
  assert.equal(spec.nodes.length, 2);
  assert.deepEqual(callNodes(spec.nodes).map((n) => n.entity), [{ kind: "task", name: "t1" }, {
    kind: "task",
    name: "t2",
  }]);
  assert.deepEqual(spec.outputs.map((o) => o.name), ["from_n0t1"]);
  assert.deepEqual(spec.inputs.map((i) => i.name), ["in1"]);
});

Deno.test("the declarative equivalent of the builder gives the same value", async () => {
  const t2 = task(function t2() {});
  const myWorkflow = workflow(function my_workflow(in1: string) {
    const x = t1(in1);
    t2();
    return { from_n0t1: x };
  });
  assert.deepEqual(await myWorkflow("hello"), "hello world");
  const spec = myWorkflow.graph.workflows[0]!;
  assert.equal(spec.kind === "static" && spec.nodes.length, 2);
});

Deno.test("a builder workflow is usable as a subworkflow and through a launch plan", async () => {
  const wb = new Workflow("my_workflow");
  wb.addInput("in1", "string");
  const node = wb.addEntity(t1, { a: wb.inputs.in1 });
  wb.addOutput("from_n0t1", node.outputs.o0);

  const wb2 = new Workflow("parent.imperative");
  const pIn1 = wb2.addInput("p_in1", "string");
  const pNode0 = wb2.addEntity(wb, { in1: pIn1 });
  wb2.addOutput("parent_wf_output", pNode0.outputs.from_n0t1);
  assert.equal(await wb2({ p_in1: "hi" }), "hi world");
  assert.equal(wb2.size, 1);

  const lp = launchPlan(wb, { name: "test_wb" });
  const wb3 = new Workflow("parent.imperative");
  const p3 = wb3.addInput("p_in1", "string");
  const lpNode = wb3.addEntity(lp, { in1: p3 });
  wb3.addOutput("parent_wf_output", lpNode.outputs.from_n0t1);
  assert.equal(await wb3({ p_in1: "hey" }), "hey world");
});

Deno.test("a list of workflow inputs binds to one task input", async () => {
  const sum = task(function t1(a: number[]) {
    return a.reduce((x, y) => x + y, 0);
  });
  const wb = new Workflow("my.workflow.a");
  wb.addInput("in1", "integer");
  wb.addInput("in2", "integer");
  const node = wb.addEntity(sum, { a: [wb.inputs.in1, wb.inputs.in2] });
  wb.addOutput("from_n0t1", node.outputs.o0);
  assert.equal(await wb({ in1: 3, in2: 4 }), 7);
});

Deno.test("an object of lists of workflow inputs binds to one task input", async () => {
  const sums = task(function t1(a: Record<string, number[]>) {
    return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v.reduce((x, y) => x + y, 0)]));
  });
  const wb = new Workflow("my.workflow.a");
  const in1 = wb.addInput("in1", "integer");
  wb.addInput("in2", "integer");
  const in3 = wb.addInput("in3", "integer");
  const node = wb.addEntity(sums, { a: { a: [in1, wb.inputs.in2], b: [wb.inputs.in2, in3] } });
  wb.addOutput("from_n0t1", node.outputs.o0);
  assert.deepEqual(await wb({ in1: 3, in2: 4, in3: 5 }), { a: 7, b: 9 });
});

Deno.test("a list output feeds a list input", async () => {
  const make = task(function t1(a: number) {
    return [1, a, 3];
  });
  const sum = task(function t2(a: number[]) {
    return a.reduce((x, y) => x + y, 0);
  });
  const wb = new Workflow("my.workflow.a");
  const n1 = wb.addEntity(make, { a: 2 });
  const n2 = wb.addEntity(sum, { a: n1.outputs.o0 });
  wb.addOutput("from_n0t2", n2.outputs.o0);
  assert.equal(await wb(), 6);
});

Deno.test("a list workflow input and a node output feed one task", async () => {
  const make = task(function t1(a: number) {
    return [1, a, 3];
  });
  const sum2 = task(function t2(a: number[], b: number[]) {
    return [...a, ...b].reduce((x, y) => x + y, 0);
  });
  const wb = new Workflow("my.workflow.a");
  const wfIn1 = wb.addInput("in1", "integer[]");
  const n1 = wb.addEntity(make, { a: 2 });
  const n2 = wb.addEntity(sum2, { a: n1.outputs.o0, b: wfIn1 });
  wb.addOutput("from_n0t2", n2.outputs.o0);
  assert.equal(await wb({ in1: [5, 6, 7] }), 24);
});

Deno.test("constant bindings need no workflow inputs", async () => {
  const sums = task(function t1(a: Record<string, number[]>) {
    return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v.reduce((x, y) => x + y, 0)]));
  });
  const wb = new Workflow("my.workflow.a");
  const node = wb.addEntity(sums, { a: { a: [3, 4], b: [5, 6] } });
  wb.addOutput("from_n0t1", node.outputs.o0);
  assert.deepEqual(await wb(), { a: 7, b: 11 });
});

Deno.test("an output can be a list of node outputs", async () => {
  const three = task(function t1() {
    return 3;
  });
  const sum = task(function t2(a: number[]) {
    return a.reduce((x, y) => x + y, 0);
  });
  const wb = new Workflow("my.workflow.a");
  const n1 = wb.addEntity(three);
  const n2 = wb.addEntity(sum, { a: [1, 2, 3] });
  wb.addOutput("wf0", [n1.outputs.o0, n2.outputs.o0]);
  assert.deepEqual(await wb(), [3, 6]);
});

Deno.test("tasks with several outputs feed several inputs and outputs", async () => {
  const pair = task({ outputs: ["o0", "o1"] }, function t1() {
    return [3, "three"];
  });
  const combine = task({ outputs: ["o0", "o1"] }, function t3(a: number, b: string) {
    return { o0: a + 2, o1: `world${b}` };
  });
  const wb = new Workflow("my.workflow.a");
  const n1 = wb.addEntity(pair);
  const n3 = wb.addEntity(combine, { a: n1.outputs.o0, b: n1.outputs.o1 });
  wb.addOutput("wf0", n3.outputs.o0);
  wb.addOutput("wf1", n3.outputs.o1);
  assert.deepEqual(await wb(), { wf0: 5, wf1: "worldthree" });

  const wb2 = new Workflow("my.workflow.b");
  const m1 = wb2.addEntity(pair);
  assert.throws(
    () => m1.outputs.bad,
    (e) => e instanceof ValidationError && /no output 'bad'.*'o0', 'o1'/.test(e.message),
  );
  assert.throws(
    () => wb2.addEntity(combine, { a: m1.outputs.o2, b: m1.outputs.o1 }),
    (e) => e instanceof ValidationError && /no output 'o2'/.test(e.message),
  );
});

Deno.test("a declarative workflow with several outputs is an entity of a builder workflow", async () => {
  const twoOut = task({ outputs: ["o0", "o1"] }, function t1(a: number) {
    return [a + 2, "world"];
  });
  const functional = workflow(function my_functional_wf(a: number) {
    return twoOut(a);
  });
  assert.deepEqual(await functional(3), { o0: 5, o1: "world" });

  const wb = new Workflow("imperio");
  const node = wb.addEntity(functional, { a: 3 });
  wb.addOutput("from_n0_1", node.outputs.o0);
  wb.addOutput("from_n0_2", node.outputs.o1);
  assert.deepEqual(await wb(), { from_n0_1: 5, from_n0_2: "world" });

  const lp = launchPlan(functional, { name: "my_functional_wf.lp0", defaults: { a: 3 } });
  const wbLp = new Workflow("imperio");
  const lpNode = wbLp.addEntity(lp);
  wbLp.addOutput("from_n0_1", lpNode.outputs.o0);
  wbLp.addOutput("from_n0_2", lpNode.outputs.o1);
  assert.deepEqual(await wbLp(), { from_n0_1: 5, from_n0_2: "world" });
});

Deno.test("a builder workflow is called from a declarative one, directly and through a fixed launch plan", async () => {
  const wb = new Workflow("my.workflow");
  wb.addInput("in1", "string");
  const node = wb.addEntity(t1, { a: wb.inputs.in1 });
  wb.addOutput("from_n0t1", node.outputs.o0);
  assert.equal(await wb({ in1: "hello" }), "hello world");

  const functional = workflow(function my_functional_wf(a: string) {
    return wb({ in1: a });
  });
  assert.equal(await functional("hello"), "hello world");

  const lp = launchPlan(wb, { name: "test_wb_2", fixed: { in1: "hello" } });
  const functionalLp = workflow(function my_functional_wf_lp() {
    return lp();
  });
  assert.equal(await functionalLp(), "hello world");
  await assert.rejects(
    async () => await lp({ in1: "bye" }),
    (e) =>
      e instanceof ValidationError && /fixed to "hello" and cannot be overridden/.test(e.message),
  );
});

Deno.test("default launch-plan inputs can be overridden, fixed ones cannot", async () => {
  const greet = task(function greet(greeting: string, name: string) {
    return `${greeting}, ${name}`;
  });
  const lp = launchPlan(greet, {
    name: "hello",
    fixed: { greeting: "Hello" },
    defaults: { name: "world" },
  });
  assert.equal(await lp(), "Hello, world");
  assert.equal(await lp({ name: "weft" }), "Hello, weft");
  const wb = new Workflow("uses_lp");
  assert.throws(
    () => wb.addEntity(lp, { greeting: "Hi" }),
    (e) =>
      e instanceof ValidationError && /'greeting' of launch plan 'hello' is fixed/.test(e.message),
  );
  assert.throws(
    () => launchPlan(greet, { name: "bad", fixed: { nope: 1 } }),
    (e) =>
      e instanceof ValidationError &&
      /no such input; its inputs are greeting, name/.test(e.message),
  );
});

Deno.test("executing with a positional value or an unknown input is a ValidationError", async () => {
  const wb = new Workflow("my.workflow");
  wb.addInput("in1", "string");
  const node = wb.addEntity(t1, { a: wb.inputs.in1 });
  wb.addOutput("from_n0t1", node.outputs.o0);
  await assert.rejects(
    () => wb.execute(3 as unknown as Record<string, unknown>),
    (e) => e instanceof ValidationError && /one inputs object/.test(e.message),
  );
  await assert.rejects(
    () => wb.execute({ in2: "hello" }),
    (e) => e instanceof ValidationError && /has no input 'in2'; its inputs are in1/.test(e.message),
  );
  await assert.rejects(
    () => wb.execute({}),
    (e) => e instanceof ValidationError && /missing input 'in1'/.test(e.message),
  );
  await assert.rejects(
    () => wb.execute({ in1: 3 }),
    (e) =>
      e instanceof ValidationError &&
      /Input 'in1' expects string but was given number 3/.test(e.message),
  );
});

Deno.test("every build-time mistake is a ValidationError naming what is wrong", () => {
  const add = task(function add(x: number, y: number) {
    return x + y;
  });
  const wb = new Workflow("checks");
  const x = wb.addInput("x", "number");
  assert.throws(() => wb.addInput("x", "number"), /already has an input named 'x'/);
  assert.throws(() => wb.addInput("z", "numbr"), /unknown type 'numbr'/);
  assert.throws(() => wb.addEntity(add, { x }), /missing input 'y' of task 'add'/);
  assert.throws(
    () => wb.addEntity(add, { x, y: 1, w: 2 }),
    /node 'add' of workflow 'checks': task 'add' has no input 'w'/,
  );
  assert.throws(
    () => wb.addEntity((a: number) => a, {}),
    /expects a task, workflow, Workflow, flow or launch plan/,
  );
  assert.throws(
    () => wb.addEntity(add, [x, 1] as unknown as Record<string, unknown>),
    /keyed by input name/,
  );
  assert.throws(() => wb.inputs.nope, /has no input 'nope'; its inputs are 'x'/);
  const n = wb.addEntity(add, { x, y: 1 });
  wb.addOutput("out", n);
  assert.throws(() => wb.addOutput("out", n), /already has an output named 'out'/);
  const other = new Workflow("other");
  const ox = other.addInput("ox", "number");
  assert.throws(
    () => wb.addEntity(add, { x: ox, y: 1 }),
    /refers to input 'ox' of workflow 'other', not of 'checks'/,
  );
  assert.throws(
    () => other.addOutput("o", n),
    /refers to node 'add' of workflow 'checks', not of 'other'/,
  );
  assert.throws(() => wb.addEntity(add, { x, y: () => 1 }), /holds a function/);
  assert.throws(() => new Workflow(""), /needs a name/);
});

Deno.test("an unused workflow input is a ValidationError at execute time", async () => {
  const add = task(function add(x: number, y: number) {
    return x + y;
  });
  const wb = new Workflow("unused");
  const x = wb.addInput("x", "number");
  wb.addInput("spare", "number");
  wb.addOutput("o", wb.addEntity(add, { x, y: 1 }));
  await assert.rejects(
    () => wb.execute({ x: 1, spare: 2 }),
    (e) =>
      e instanceof ValidationError &&
      /Input 'spare' of workflow 'unused' is not used/.test(e.message),
  );
});

Deno.test("a failing node rejects execute with TaskFailedError naming the node and task", async () => {
  const boom = task(function boom(x: number): number {
    throw new RangeError(`no ${x}`);
  });
  const wb = new Workflow("fails");
  const x = wb.addInput("x", "number");
  wb.addOutput("o", wb.addEntity(boom, { x }));
  await assert.rejects(() => wb.execute({ x: 1 }), (e) => {
    assert.ok(e instanceof TaskFailedError);
    assert.equal(e.nodeId, "boom");
    assert.equal(e.task, "boom");
    assert.equal(e.attempt, 1);
    assert.ok(e.cause instanceof RangeError);
    assert.deepEqual(e.toJSON().cause, {
      name: "RangeError",
      message: "no 1",
      stack: (e.cause as Error).stack,
    });
    return true;
  });
});

Deno.test("node ids repeat the entity name with _2, _3 suffixes", () => {
  const add = task(function add(x: number, y: number) {
    return x + y;
  });
  const wb = new Workflow("ids");
  const a = wb.addEntity(add, { x: 1, y: 2 });
  const b = wb.addEntity(add, { x: a, y: 2 });
  wb.addEntity(add, { x: b, y: 2 });
  const spec = wb.graph.workflows[0]!;
  assert.deepEqual(spec.kind === "static" && spec.nodes.map((n) => n.id), [
    "add",
    "add_2",
    "add_3",
  ]);
});
