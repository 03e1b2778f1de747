// mapTask: one node that runs an entity once per element of a list.
import assert from "node:assert/strict";
import {
  flow,
  mapTask,
  run,
  task,
  TaskFailedError,
  ValidationError,
  wait,
  Workflow,
  workflow,
} from "../mod.ts";
import { callNodes, fromDag, renderDag, toDag, validateDag } from "../ir.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const t1 = task(function t1(a: number) {
  return String(a + 2);
});

// Ported from flytekit, tests/flytekit/unit/core/test_map_task.py,
// test_map_docs: map_task(my_mappable_task, retries=1, concurrency=10,
// min_success_ratio=0.75)(a=x) with x = [1, 2, 3] gives ["1", "2", "3"].
Deno.test("flytekit: test_map_docs maps a task in a declarative workflow", async () => {
  const myMappableTask = task({ name: "my_mappable_task", retries: 1 }, (a: number) => String(a));
  const myWf = workflow(function my_wf(x: number[]) {
    return mapTask(myMappableTask, { concurrency: 10, minSuccessRatio: 0.75 })(x);
  });
  assert.deepEqual(await myWf([1, 2, 3]), ["1", "2", "3"]);
});

// Ported from flytekit, test_map_task.py, test_map_task_types:
// map_task(t1)(a=[5, 6]) with t1(a) = str(a + 2) gives ["7", "8"]; a=1 (not a
// list) is refused.
Deno.test("flytekit: test_map_task_types, called directly; a value that is no list is refused", async () => {
  assert.deepEqual(await mapTask(t1)([5, 6]), ["7", "8"]);
  const r = await run(mapTask(t1), { a: 1 });
  assert.equal(r.status, "failed");
  assert.ok(r.errors[0] instanceof ValidationError);
  assert.match(r.errors[0]!.message, /maps over input 'a', which must be a list; it is number/);
});

// Ported from flytekit, tests/flytekit/unit/core/test_array_node_map_task.py,
// test_raw_execute_with_min_success_ratio: some_task1 raises for input 2;
// mapped over [1, 2, 3, 4] it fails the workflow with min_success_ratio None
// or 1, and gives [1, None, 3, 4] with 0.75 or 0.5.
Deno.test("flytekit: minSuccessRatio lets some elements fail; their results are null", async () => {
  const someTask1 = task(function some_task1(inputs: number) {
    if (inputs === 2) throw new Error("Unexpected inputs: 2");
    return inputs;
  });
  for (const [ratio, shouldFail] of [[undefined, true], [1, true], [0.75, false], [0.5, false]]) {
    const myWf1 = workflow({ name: `my_wf1_${ratio}` }, function () {
      return mapTask(
        someTask1,
        ratio === undefined ? {} : { minSuccessRatio: ratio as number },
      )([1, 2, 3, 4]);
    });
    const r = await run(myWf1, {});
    if (shouldFail) {
      assert.equal(r.status, "failed", `ratio ${ratio}`);
      assert.ok(r.errors[0] instanceof TaskFailedError);
      assert.match(r.errors[0]!.message, /Unexpected inputs: 2/);
    } else {
      assert.equal(r.status, "succeeded", `ratio ${ratio}: ${r.errors[0]?.message}`);
      assert.deepEqual(r.outputs, [1, null, 3, 4]);
    }
  }
});

// Ported from flytekit, test_array_node_map_task.py, test_execution: a task's
// output list ["earth", "mars"] mapped through say_hello twice gives
// ["hello hello earth!!", "hello hello mars!!"].
Deno.test("flytekit: maps chain over a task's output list", async () => {
  const sayHello = task(function say_hello(name: string) {
    return `hello ${name}!`;
  });
  const createInputList = task(function create_input_list() {
    return ["earth", "mars"];
  });
  const wf = workflow(function wf() {
    const xs = mapTask(sayHello)(createInputList());
    return mapTask(sayHello)(xs);
  });
  assert.deepEqual(await wf(), ["hello hello earth!!", "hello hello mars!!"]);
  const [ir] = wf.graph.workflows;
  assert.ok(ir?.kind === "static");
  assert.deepEqual(ir.nodes.map((n) => n.id), [
    "create_input_list",
    "map_say_hello",
    "map_say_hello_2",
  ]);
});

// Ported from flytekit, test_map_task.py, test_serialization_of_custom_fields:
// {} gives minSuccessRatio 1.0; concurrency 99 gives parallelism 99;
// min_success_ratio 0.271828 and (42, 0.31415) are kept as given.
Deno.test("flytekit: the map's concurrency and minSuccessRatio are in the IR as given", () => {
  const cases: [Record<string, number>, { concurrency: number | null; minSuccessRatio: number }][] =
    [
      [{}, { concurrency: null, minSuccessRatio: 1.0 }],
      [{ concurrency: 99 }, { concurrency: 99, minSuccessRatio: 1.0 }],
      [{ minSuccessRatio: 0.271828 }, { concurrency: null, minSuccessRatio: 0.271828 }],
      [{ concurrency: 42, minSuccessRatio: 0.31415 }, {
        concurrency: 42,
        minSuccessRatio: 0.31415,
      }],
    ];
  for (const [options, expected] of cases) {
    const wf = workflow(function mapped(a: number[]) {
      return mapTask(t1, options)(a);
    });
    const [ir] = wf.graph.workflows;
    assert.ok(ir?.kind === "static");
    assert.equal(ir.nodes.length, 1);
    assert.deepEqual(callNodes(ir.nodes)[0]!.map, { over: ["a"], ...expected });
    assert.deepEqual(callNodes(ir.nodes)[0]!.entity, { kind: "task", name: "t1" });
  }
});

// Ported from Airflow, airflow/example_dags/example_dynamic_task_mapping.py:
// add_one.expand(x=[1, 2, 3]) then sum_it(added_values) prints "Total was 9".
Deno.test("Airflow: dynamic task mapping, in a flow and in the builder", async () => {
  const addOne = task(function add_one(x: number) {
    return x + 1;
  });
  const sumIt = task(function sum_it(values: number[]) {
    return `Total was ${values.reduce((a, b) => a + b, 0)}`;
  });
  const dag = flow(async function* example_dynamic_task_mapping() {
    const addedValues = mapTask(addOne)([1, 2, 3]);
    return yield* wait(sumIt(addedValues));
  });
  assert.equal(await dag(), "Total was 9");

  const built = new Workflow("example_dynamic_task_mapping");
  const xs = built.addInput("xs", "number[]");
  const added = built.addEntity(mapTask(addOne), { x: xs });
  built.addOutput("total", built.addEntity(sumIt, { values: added }));
  assert.equal(await built.execute({ xs: [1, 2, 3] }), "Total was 9");
});

// flytekit's test_inputs_outputs_length maps many_inputs(a, b, c) with c bound
// by functools.partial: a and b are lists, c one value for every element.
Deno.test("over names the inputs that take lists; the others go to every element", async () => {
  const manyInputs = task(function many_inputs(a: number, b: string, c: number) {
    return `${a} - ${b} - ${c}`;
  });
  const mapped = mapTask(manyInputs, { over: ["a", "b"] });
  assert.deepEqual(await mapped([1, 2], ["x", "y"], 1.5), ["1 - x - 1.5", "2 - y - 1.5"]);
  const r = await run(mapped, { a: [1, 2], b: ["x"], c: 0 });
  assert.equal(r.status, "failed");
  assert.match(
    r.errors[0]!.message,
    /'a' \(2\), 'b' \(1\), which must be lists of the same length/,
  );
  assert.throws(
    () => mapTask(manyInputs, { over: ["d"] }),
    (e) =>
      e instanceof ValidationError &&
      /maps over input 'd', but its inputs are a, b, c/.test(e.message),
  );
  assert.throws(
    () => mapTask(manyInputs, { minSuccessRatio: 2 }),
    (e) =>
      e instanceof ValidationError &&
      /'minSuccessRatio' .* must be a number from 0 to 1/.test(e.message),
  );
  assert.throws(
    () => mapTask(task(function none() {})),
    (e) =>
      e instanceof ValidationError &&
      /has no inputs, so there is nothing to map over/.test(e.message),
  );
});

Deno.test("a map's own concurrency limit holds; elements run as slots free", async () => {
  let running = 0;
  let most = 0;
  const slow = task(async function slow(x: number) {
    running++;
    most = Math.max(most, running);
    await sleep(5);
    running--;
    return x * 10;
  });
  const r = await run(mapTask(slow, { concurrency: 3 }), { x: [1, 2, 3, 4, 5, 6, 7, 8] });
  assert.deepEqual(r.outputs, [10, 20, 30, 40, 50, 60, 70, 80]);
  assert.equal(most, 3);
  assert.deepEqual(
    r.graph.nodes.map((n) => n.id),
    [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `map_slow/${i}`),
  );
});

Deno.test("at ratio 1 the first failure stops the map: what runs is cancelled, the rest never starts", async () => {
  let started = 0;
  const work = task(async function work(x: number, ctx: { signal: AbortSignal }) {
    started++;
    if (x === 2) throw new Error("bad element");
    await new Promise((resolve, reject) => {
      const t = setTimeout(resolve, 5_000);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(t);
        reject(ctx.signal.reason);
      });
    });
    return x;
  });
  const r = await run(mapTask(work, { concurrency: 4 }), { x: [0, 1, 2, 3, 4, 5, 6, 7] });
  assert.equal(r.status, "failed");
  assert.match(r.errors[0]!.message, /bad element/);
  assert.equal(r.errors.length, 1);
  assert.ok(started <= 4, `${started} started`);
  const statuses = Object.fromEntries(r.graph.nodes.map((n) => [n.id, n.status]));
  assert.equal(statuses["map_work/2"], "failed");
  assert.equal(statuses["map_work/0"], "cancelled");
});

Deno.test("a map of a workflow, of named outputs, and a map of a map", async () => {
  const stats = task({ outputs: ["min", "max"] }, function stats(xs: number[]) {
    return { min: Math.min(...xs), max: Math.max(...xs) };
  });
  assert.deepEqual(await mapTask(stats)([[1, 5], [2, 3]]), { min: [1, 2], max: [5, 3] });
  const inc = task(function inc(x: number) {
    return x + 1;
  });
  const double = workflow(function double(x: number) {
    return inc(inc(x));
  });
  assert.deepEqual(await mapTask(double)([1, 2]), [3, 4]);
  const grid = mapTask(mapTask(t1));
  assert.deepEqual(await grid([[1, 2], [3]]), [["3", "4"], ["5"]]);
  const wf = workflow(function gridWf(xs: number[][]) {
    return grid(xs);
  });
  const [ir] = wf.graph.workflows;
  assert.ok(ir?.kind === "static");
  assert.deepEqual(callNodes(ir.nodes)[0]!.map, {
    over: ["a"],
    concurrency: null,
    minSuccessRatio: 1,
    map: { over: ["a"], concurrency: null, minSuccessRatio: 1 },
  });
  assert.deepEqual(await (await fromDag(JSON.stringify(wf.graph), [t1])).execute({ xs: [[0]] }), [
    ["2"],
  ]);
});

Deno.test("the IR of a map node does not grow with the list, and round-trips", async () => {
  const wf = workflow(function squares(xs: number[]) {
    return mapTask(t1, { concurrency: 4, minSuccessRatio: 0.5, name: "plus_two" })(xs);
  });
  const before = JSON.stringify(wf.graph);
  const small = await run(wf, { xs: [1] });
  const large = await run(wf, { xs: Array.from({ length: 5_000 }, (_, i) => i) });
  assert.equal(JSON.stringify(wf.graph), before);
  assert.equal((small.outputs as string[]).length, 1);
  assert.equal((large.outputs as string[]).length, 5_000);
  assert.equal(large.graph.nodes.length, 5_001);
  const doc = await validateDag(before);
  const loaded = await fromDag(doc, [t1]);
  assert.deepEqual(
    toDag([loaded]).workflows[0],
    doc.workflows[0] && {
      ...doc.workflows[0],
      source: toDag([loaded]).workflows[0]!.source,
    },
  );
  assert.deepEqual(await loaded.execute({ xs: [1, 2] }), ["3", "4"]);
  assert.match(await renderDag(doc, "dot"), /map task t1 over a\\n4 at a time, 50% must succeed/);
  assert.match(await renderDag(doc, "mermaid"), /w0_n0\[\/"plus_two<br>map task t1 over a/);
  const broken = JSON.parse(before);
  broken.workflows[0].nodes[0].map.over = ["b"];
  await assert.rejects(
    validateDag(broken),
    (e) =>
      e instanceof ValidationError && /maps over input 'b', which it does not bind/.test(e.message),
  );
});

Deno.test("elements are journaled: a resumed map replays what finished and runs the rest", async () => {
  const calls: number[] = [];
  let failOn = 3;
  const flaky = task(function flaky(x: number) {
    calls.push(x);
    if (x === failOn) throw new Error(`element ${x} failed`);
    return x * 2;
  });
  const wf = workflow(function doubled(xs: number[]) {
    return mapTask(flaky, { concurrency: 1, minSuccessRatio: 1 })(xs);
  });
  const first = await run(wf, { xs: [0, 1, 2, 3, 4, 5] }, { runId: "map-resume" });
  assert.equal(first.status, "failed");
  assert.deepEqual(calls, [0, 1, 2, 3]);
  calls.length = 0;
  failOn = -1;
  const again = await run(wf, { xs: [0, 1, 2, 3, 4, 5] }, { runId: "map-resume" });
  assert.equal(again.status, "succeeded");
  assert.deepEqual(again.outputs, [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(calls, [3, 4, 5]);
  const replayed = again.graph.nodes.filter((n) => n.replayed).map((n) => n.id);
  assert.deepEqual(replayed, ["map_flaky/0", "map_flaky/1", "map_flaky/2"]);
});
