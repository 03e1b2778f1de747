// Per-call overrides (entity.with), cache keys that ignore inputs, queues.
import assert from "node:assert/strict";
import {
  flow,
  run,
  task,
  type TaskContext,
  TimeoutError,
  ValidationError,
  wait,
  Workflow,
  workflow,
} from "../mod.ts";
import { callNodes, fromDag, toDag, validateDag } from "../ir.ts";
import { MemoryStore } from "../store.ts";

import { sleep } from "./_helpers.ts";

const t1 = task(function t1(a: string) {
  return `*~*~*~${a}*~*~*~`;
});

// Ported from flytekit, tests/flytekit/unit/core/test_node_creation.py,
// test_retries_override: `t1(a=a).with_overrides(retries=retries)` gives the
// node retries 3 when overridden with 3, and the task's own 0 when not.
Deno.test("flytekit: with({ retries }) sets one node's retries in the IR; the task keeps its own", () => {
  for (const [retries, expected] of [[undefined, undefined], [3, 3]] as const) {
    const myWf = workflow(function my_wf(a: string) {
      return retries === undefined ? t1(a) : t1.with({ retries })(a);
    });
    const [wf] = myWf.graph.workflows;
    assert.ok(wf?.kind === "static");
    assert.equal(wf.nodes.length, 1);
    assert.equal(callNodes(wf.nodes)[0]!.overrides?.retries, expected);
    assert.equal(myWf.graph.tasks[0]!.retries, 0);
  }
});

// Ported from flytekit, test_node_creation.py, test_timeout_override and
// test_timeout_override_invalid_value: an override of 10 seconds sets the
// node's timeout to 10 s; a timeout of "foo" is refused.
Deno.test("flytekit: with({ timeout }) sets one node's timeout; an invalid one is refused", () => {
  const myWf = workflow(function my_wf(a: string) {
    return t1.with({ timeout: "10s" })(a);
  });
  const [wf] = myWf.graph.workflows;
  assert.ok(wf?.kind === "static");
  assert.equal(callNodes(wf.nodes)[0]!.overrides?.timeoutMs, 10_000);
  assert.equal(myWf.graph.tasks[0]!.timeoutMs, null);
  assert.throws(
    () => t1.with({ timeout: "foo" as never }),
    (e) => e instanceof ValidationError && /timeout of task 't1'.with\(\)/.test(e.message),
  );
});

Deno.test("with({ name }) names the node, in all three styles", async () => {
  const loadModel = task(function loadModel(dir: string) {
    return `model from ${dir}`;
  });
  const compare = task(function compare(a: string, b: string) {
    return `${a} vs ${b}`;
  });
  // (As a Flyte user writes: load_model(dir).with_overrides(name="load_target_model").)
  const declarative = workflow(function testModel(target: string, prod: string) {
    const a = loadModel.with({ name: "load_target_model" })(target);
    const b = loadModel.with({ name: "load_prod_model" })(prod);
    return compare(a, b);
  });
  const [wf] = declarative.graph.workflows;
  assert.ok(wf?.kind === "static");
  assert.deepEqual(wf.nodes.map((n) => n.id), ["load_target_model", "load_prod_model", "compare"]);
  assert.deepEqual(callNodes(wf.nodes).map((n) => n.entity.name), [
    "loadModel",
    "loadModel",
    "compare",
  ]);
  assert.deepEqual(declarative.graph.tasks.map((t) => t.name), ["compare", "loadModel"]);
  assert.equal(await declarative("t", "p"), "model from t vs model from p");

  const built = new Workflow("testModelBuilt");
  const target = built.addInput("target");
  const a = built.addEntity(loadModel.with({ name: "load_target_model" }), { dir: target });
  const b = built.addEntity(loadModel.with({ name: "load_target_model" }), { dir: "x" });
  built.addOutput("o", [a, b]);
  assert.deepEqual(
    built.graph.workflows[0]!.kind === "static" &&
      built.graph.workflows[0]!.nodes.map((n) => n.id),
    ["load_target_model", "load_target_model_2"],
  );

  const f = flow(async function* testModelFlow(target: string) {
    const m = loadModel.with({ name: "load_target_model" })(target);
    return yield* wait(compare(m, loadModel(target)));
  });
  const r = await run(f, { target: "t" });
  assert.deepEqual(r.graph.nodes.map((n) => `${n.id}:${n.entity}`), [
    "load_target_model:loadModel",
    "loadModel:loadModel",
    "compare:compare",
  ]);
});

Deno.test("with() changes one call's retries, timeout and cache, not the task", async () => {
  let calls = 0;
  const flaky = task({ name: "flaky", retryDelay: 0 }, () => {
    if (++calls % 3 !== 0) throw new Error("flaky");
    return calls;
  });
  const f = flow(async function* retried() {
    return yield* wait(flaky.with({ retries: 2 })());
  });
  assert.equal((await run(f, {})).outputs, 3);
  calls = 0;
  assert.equal((await run(flaky, {})).status, "failed");

  const slow = task(async function slow(ctx: TaskContext) {
    await sleep(5_000, ctx.signal);
  });
  const g = flow(async function* timed() {
    yield* wait(slow.with({ timeout: "20ms" })());
  });
  const r = await run(g, {});
  assert.equal(r.status, "failed");
  assert.ok(r.errors[0]!.cause instanceof TimeoutError);

  let computed = 0;
  const compute = task(function compute(x: number) {
    computed++;
    return x * 2;
  });
  const store = new MemoryStore();
  const h = flow(async function* cached(x: number) {
    return yield* wait(compute.with({ cache: true })(x));
  });
  await run(h, { x: 2 }, { store });
  await run(h, { x: 2 }, { store });
  assert.equal(computed, 1);
});

Deno.test("with() on a workflow or flow takes a name and a timeout, and says what else it cannot take", () => {
  const inner = flow(async function* inner() {});
  assert.doesNotThrow(() => inner.with({ name: "eu", timeout: "5m" }));
  assert.throws(
    () => inner.with({ retries: 2 } as never),
    (e) => e instanceof ValidationError && /has no option 'retries'.*name, timeout/.test(e.message),
  );
  assert.throws(
    () => t1.with({ colour: "red" } as never),
    (e) => e instanceof ValidationError && /has no option 'colour'/.test(e.message),
  );
  assert.throws(
    () => t1.with({ name: "no spaces" }),
    (e) => e instanceof ValidationError && /Cannot name a call/.test(e.message),
  );
});

Deno.test("overrides survive the IR round trip", async () => {
  const wf = workflow(function overridden(a: string) {
    return t1.with({ name: "first", retries: Infinity, timeout: "2s", cache: true, queue: "gpu" })(
      a,
    );
  });
  const text = JSON.stringify(wf.graph);
  const doc = await validateDag(text);
  const node = doc.workflows[0]!.kind === "static"
    ? callNodes(doc.workflows[0]!.nodes)[0]!
    : undefined;
  assert.deepEqual(node?.overrides, {
    name: "first",
    retries: "unlimited",
    timeoutMs: 2000,
    cache: true,
    queue: "gpu",
  });
  const loaded = await fromDag(text, [t1]);
  const again = loaded.graph.workflows[0]!;
  assert.ok(again.kind === "static");
  assert.deepEqual(again.nodes, doc.workflows[0]!.kind === "static" && doc.workflows[0]!.nodes);
  assert.equal(await loaded.execute({ a: "x" }), "*~*~*~x*~*~*~");
});

// cache: { ignore } is Flyte's cache_ignore_input_vars: the ignored input does
// not enter the cache key, so calls that differ only there share a result.
Deno.test("cache: { ignore } leaves inputs out of the cache key", async () => {
  let computed = 0;
  const label = task(
    { name: "label", cache: { ignore: ["workers"] }, version: "1" },
    (text: string, workers: number) => {
      computed++;
      return `${text}:${workers}`;
    },
  );
  const store = new MemoryStore();
  assert.equal((await run(label, { text: "a", workers: 4 }, { store })).outputs, "a:4");
  assert.equal((await run(label, { text: "a", workers: 16 }, { store })).outputs, "a:4");
  assert.equal((await run(label, { text: "b", workers: 16 }, { store })).outputs, "b:16");
  assert.equal(computed, 2);
  const row = toDag([label]).tasks[0]!;
  assert.equal(row.cache, true);
  assert.deepEqual(row.cacheIgnore, ["workers"]);
  assert.throws(
    () => task({ name: "bad", cache: { ignore: ["nope"] } }, (x: number) => x),
    (e) =>
      e instanceof ValidationError &&
      /cache of task 'bad' ignores input 'nope', but its inputs are x/.test(e.message),
  );
});

Deno.test("queue is recorded in the task table and on overridden nodes", () => {
  const train = task({ name: "train", queue: "gpu" }, (x: number) => x);
  assert.equal(toDag([train]).tasks[0]!.queue, "gpu");
  assert.equal(toDag([t1]).tasks[0]!.queue, null);
  assert.throws(
    () => task({ name: "bad", queue: "" }, () => 1),
    (e) => e instanceof ValidationError && /'queue' option of task 'bad'/.test(e.message),
  );
});

Deno.test("a task's own concurrency limit holds across its overridden calls", async () => {
  let running = 0;
  let most = 0;
  const limited = task({ name: "limited", concurrency: 1 }, async (i: number) => {
    running++;
    most = Math.max(most, running);
    await sleep(5);
    running--;
    return i;
  });
  const f = flow(async function* fan() {
    const hs = [];
    for (let i = 0; i < 4; i++) hs.push(limited.with({ name: `l${i}` })(i));
    return yield* wait(hs[3]!);
  });
  assert.equal((await run(f, {})).outputs, 3);
  assert.equal(most, 1);
});
