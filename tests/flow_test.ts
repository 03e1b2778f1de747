import assert from "node:assert/strict";
import {
  all,
  CancelledError,
  flow,
  NonDeterminismError,
  race,
  run,
  task,
  type TaskContext,
  TaskFailedError,
  ValidationError,
  wait,
  type WeftEvent,
  Workflow,
  workflow,
} from "../mod.ts";
import { callNodes } from "../ir.ts";
import {
  add,
  addMultiply,
  addMultiplyIf,
  keepDoubling,
  multiply,
} from "../examples/aiida_flows.ts";

import { sleep } from "./_helpers.ts";

const ids = (r: { graph: { nodes: { id: string }[] } }) => r.graph.nodes.map((n) => n.id);

Deno.test("the aiida seed flows give the seed outputs and graphs", async () => {
  const am = await run(addMultiply, { x: 3, y: 4, z: 1 });
  assert.deepEqual(am.outputs, { sum: 7, product: 7 });
  assert.deepEqual(ids(am), ["add", "multiply"]);
  assert.deepEqual(am.graph.edges, [{ from: "add", to: "multiply", input: "x" }]);

  const branch = await run(addMultiplyIf, { x: 3, y: 4 });
  assert.deepEqual(branch.outputs, { sum: 7, multiply: -7 });
  assert.deepEqual(ids(branch), ["add", "multiply"]); // only the branch taken
  const other = await run(addMultiplyIf, { x: -3, y: -4 });
  assert.deepEqual(other.outputs, { sum: -7, add: -6 });
  assert.deepEqual(ids(other), ["add", "add_2"]);

  const kd = await run(keepDoubling, { x: 3, y: 4 });
  assert.deepEqual(kd.outputs, { sum: 16 });
  assert.deepEqual(ids(kd), ["add", "add_2", "multiply"]);
  const longer = await run(keepDoubling, { x: 0, y: 1 });
  // 1 -> 4 -> 10: two rounds, two nodes per round
  assert.deepEqual(longer.outputs, { sum: 10 });
  assert.deepEqual(ids(longer), ["add", "add_2", "multiply", "add_3", "multiply_2"]);
  assert.deepEqual(await keepDoubling(3, 4), { sum: 16 });
});

Deno.test("the graph grows as node added events while the flow runs", async () => {
  const events: WeftEvent[] = [];
  await run(keepDoubling, { x: 3, y: 4 }, { onEvent: (e) => events.push(e) });
  const added = events.filter((e) => e.type === "node added").map((e) => "nodeId" in e && e.nodeId);
  assert.deepEqual(added, ["add", "add_2", "multiply"]);
  // add_2 is only added after add succeeded: the loop condition waited for it
  const order = events.map((e) => "nodeId" in e ? `${e.type} ${e.nodeId}` : e.type);
  assert.ok(order.indexOf("node succeeded add") < order.indexOf("node added add_2"));
});

Deno.test("yield resolves handles, arrays and objects of handles; yield* gives them types", async () => {
  const f = flow(async function* shapes() {
    const a = add(1, 2);
    const b = add(3, 4);
    const one: number = yield* wait(a);
    const arr: number[] = yield* all([a, b]);
    const obj: { a: number; nested: { b: number[] } } = yield* all({ a, nested: { b: [b, b] } });
    const plain = yield [a, 5];
    const untyped = yield { b };
    const constant = yield* wait(42);
    const viaAwait = await a;
    return { one, arr, obj, plain, untyped, constant, viaAwait };
  });
  assert.deepEqual(await f(), {
    one: 3,
    arr: [3, 7],
    obj: { a: 3, nested: { b: [7, 7] } },
    plain: [3, 5],
    untyped: { b: 7 },
    constant: 42,
    viaAwait: 3,
  });
});

Deno.test("handles passed as arguments are edges: the callee starts when its inputs are ready", async () => {
  const order: string[] = [];
  const slow = task(async function slow(x: number) {
    await sleep(20);
    order.push("slow");
    return x;
  });
  const inc = task(function inc(x: number) {
    order.push("inc");
    return x + 1;
  });
  const f = flow(async function* chain() {
    const a = slow(1);
    const b = inc(a); // no waiting in the flow
    order.push("flow continued");
    return b;
  });
  assert.equal(await f(), 2);
  assert.deepEqual(order, ["flow continued", "slow", "inc"]);
});

Deno.test("independent handles run concurrently, up to the run's limit", async () => {
  const stats = { active: 0, max: 0 };
  const nap = task(async function nap(i: number) {
    stats.active++;
    stats.max = Math.max(stats.max, stats.active);
    await sleep(30);
    stats.active--;
    return i;
  });
  const f = flow(async function* fan(n: number) {
    const hs = [];
    for (let i = 0; i < n; i++) hs.push(nap(i));
    return yield* all(hs);
  });
  const started = Date.now();
  const r = await run(f, { n: 6 }, { concurrency: 3 });
  const took = Date.now() - started;
  assert.deepEqual(r.outputs, [0, 1, 2, 3, 4, 5]);
  assert.equal(stats.max, 3);
  // two waves of 30 ms, not six
  assert.ok(took >= 55 && took < 170, `took ${took} ms`);
});

Deno.test("handle.outputs.NAME picks one named output; unknown names are ValidationErrors", async () => {
  const divmod = task({ outputs: ["q", "r"] }, function divmod(a: number, b: number) {
    return { q: Math.floor(a / b), r: a % b };
  });
  const f = flow(async function* named() {
    const d = divmod(17, 5);
    const r: number = yield* wait(d.outputs.r);
    const sum = add(d.outputs.q, d.outputs.r);
    let error: unknown;
    try {
      (d.outputs as Record<string, unknown>).nope;
    } catch (e) {
      error = e;
    }
    return { r, sum: yield* wait(sum), error: error instanceof ValidationError && error.message };
  });
  const out = await f();
  assert.equal(out.r, 2);
  assert.equal(out.sum, 5);
  assert.match(String(out.error), /node 'divmod' has no output 'nope'; its outputs are 'q', 'r'/);
});

Deno.test("a failed task throws TaskFailedError at the yield, and try/catch recovers", async () => {
  const boom = task(function boom(x: number): number {
    throw new Error(`bad ${x}`);
  });
  const f = flow(async function* recovers() {
    try {
      yield* wait(boom(1));
      return "unreachable";
    } catch (e) {
      assert.ok(e instanceof TaskFailedError);
      assert.equal(e.nodeId, "boom");
      return `recovered from ${(e.cause as Error).message}`;
    }
  });
  const r = await run(f, {});
  assert.equal(r.status, "succeeded");
  assert.equal(r.outputs, "recovered from bad 1");

  const dependent = flow(async function* dependentFails() {
    try {
      yield* wait(add(boom(2), 1));
    } catch (e) {
      return (e as TaskFailedError).nodeId;
    }
  });
  const d = await run(dependent, {});
  assert.equal(d.status, "succeeded");
  assert.equal(d.outputs, "boom");
  assert.deepEqual(d.graph.nodes.map((n) => n.status), ["failed", "skipped"]);
});

Deno.test("handles nobody waits for still count: the flow waits for them and their failure fails the run", async () => {
  let finished = false;
  const later = task(async function later() {
    await sleep(30);
    finished = true;
    return 1;
  });
  const f = flow(async function* fireAndForget() {
    later();
    return "done";
  });
  const r = await run(f, {});
  assert.ok(finished);
  assert.equal(r.status, "succeeded");

  const boom = task(async function boomLater(): Promise<number> {
    await sleep(5);
    throw new Error("unwatched failure");
  });
  const g = flow(async function* forgets() {
    boom();
    return "done";
  });
  const failed = await run(g, {});
  assert.equal(failed.status, "failed");
  assert.equal(failed.errors.length, 1);
  assert.match(failed.errors[0]!.message, /unwatched failure/);
  await assert.rejects(async () => await g(), /unwatched failure/);
});

Deno.test("an uncaught error fails the run and aborts what is still running", async () => {
  let aborted = false;
  const long = task(async function long(ctx: TaskContext) {
    try {
      await sleep(5_000, ctx.signal);
    } catch (e) {
      aborted = true;
      throw e;
    }
  });
  const f = flow(async function* throws() {
    long();
    yield* wait(add(1, 1));
    throw new RangeError("flow logic failed");
  });
  const started = Date.now();
  const r = await run(f, {});
  assert.ok(Date.now() - started < 1_000);
  assert.equal(r.status, "failed");
  assert.ok(aborted);
  assert.equal(r.errors.length, 1);
  assert.ok(r.errors[0] instanceof TaskFailedError);
  assert.match(r.errors[0]!.message, /'throws' failed: flow logic failed/);
  assert.equal(r.graph.nodes.find((n) => n.id === "long")!.status, "cancelled");
});

Deno.test("cancelling a run stops the generator so that finally blocks run", async () => {
  const controller = new AbortController();
  const log: string[] = [];
  const slow = task(async function slowStep(i: number, ctx: TaskContext) {
    await sleep(1_000, ctx.signal);
    return i;
  });
  const f = flow(async function* cancellable() {
    try {
      for (let i = 0; i < 100; i++) {
        log.push(`step ${i}`);
        yield* wait(slow(i));
      }
    } finally {
      log.push("finally");
    }
  });
  setTimeout(() => controller.abort(), 30);
  const r = await run(f, {}, { signal: controller.signal });
  assert.equal(r.status, "cancelled");
  assert.ok(r.errors[0] instanceof CancelledError);
  assert.deepEqual(log, ["step 0", "finally"]);

  const log2: string[] = [];
  const controller2 = new AbortController();
  const g = flow(async function* cancelledAtAll() {
    try {
      yield* all([slow(1), slow(2)]);
    } finally {
      log2.push("finally");
    }
  });
  setTimeout(() => controller2.abort(), 30);
  const r2 = await run(g, {}, { signal: controller2.signal });
  assert.equal(r2.status, "cancelled");
  assert.deepEqual(log2, ["finally"]);
});

Deno.test("nested flows get node ids scoped under their node", async () => {
  const inner = flow(async function* inner(x: number) {
    const a = add(x, 1);
    return yield* wait(multiply(a, 2));
  });
  const outer = flow(async function* outer(x: number) {
    const first = inner(x);
    const second = inner(first);
    return yield* wait(add(second, 0));
  });
  const r = await run(outer, { x: 1 });
  assert.equal(r.outputs, 10); // ((1+1)*2 + 1) * 2 = 10
  // a called flow starts, as a task does, when the caller reaches its next await point
  assert.deepEqual(ids(r), [
    "inner",
    "inner_2",
    "add",
    "inner/add",
    "inner/multiply",
    "inner_2/add",
    "inner_2/multiply",
  ]);
  const parents = Object.fromEntries(r.graph.nodes.map((n) => [n.id, n.parentId ?? null]));
  assert.equal(parents["inner/add"], "inner");
  assert.equal(parents["inner_2/multiply"], "inner_2");
  assert.equal(parents["add"], null);
});

Deno.test("flows call workflows and builder workflows; workflows use flows as dynamic nodes", async () => {
  const twice = workflow(function twice(x: number) {
    return add(x, x);
  });
  const wb = new Workflow("plus_ten");
  const wx = wb.addInput("x", "number");
  wb.addOutput("y", wb.addEntity(add, { x: wx, y: 10 }));
  const f = flow(async function* mixes(x: number) {
    const a = twice(x);
    const b = wb({ x: a });
    return yield* wait(b);
  });
  const r = await run(f, { x: 1 });
  assert.equal(r.outputs, 12);
  assert.deepEqual(ids(r), ["twice", "plus_ten", "twice/add", "plus_ten/add"]);

  const doubled = flow(async function* doubled(x: number) {
    const out = yield* wait(keepDoubling(x, x));
    return yield* wait(out.sum);
  });
  const dyn = workflow(function usesFlow(x: number) {
    return add(doubled(x), 0);
  });
  const spec = dyn.graph.workflows.find((w) => w.name === "usesFlow")!;
  assert.equal(spec.kind, "static");
  assert.deepEqual(
    spec.kind === "static" && callNodes(spec.nodes).map((n) => n.entity),
    [{ kind: "workflow", name: "doubled" }, { kind: "task", name: "add" }],
  );
  assert.equal(dyn.graph.workflows.find((w) => w.name === "doubled")!.kind, "dynamic");
  assert.equal(await dyn(3), 14);

  const named = flow({ outputs: ["sum"] }, async function* namedOut(x: number) {
    return { sum: yield* wait(add(x, 1)) };
  });
  const builder = new Workflow("with_flow");
  const bx = builder.addInput("x", "number");
  const node = builder.addEntity(named, { x: bx });
  builder.addOutput("s", node.outputs.sum);
  assert.equal(await builder({ x: 4 }), 5);
  assert.throws(() => node.outputs.total, /has no output 'total'; its outputs are 'sum'/);
});

Deno.test("node ids are the same across two runs of the same flow", async () => {
  const f = flow(async function* fanAndLoop(n: number) {
    const hs = [];
    for (let i = 0; i < n; i++) hs.push(add(i, 1));
    let total = 0;
    for (const v of yield* all(hs)) total = yield* wait(multiply(total + v, 1));
    return total;
  });
  const a = await run(f, { n: 5 });
  const b = await run(f, { n: 5 });
  assert.deepEqual(ids(a), ids(b));
  assert.equal(ids(a).length, 10);
  assert.deepEqual(ids(a).slice(0, 6), ["add", "add_2", "add_3", "add_4", "add_5", "multiply"]);
});

Deno.test("a flow runs 10,000 sequential tiny tasks", async () => {
  const inc = task(function inc(x: number) {
    return x + 1;
  });
  const f = flow(async function* counter(n: number) {
    let x = 0;
    for (let i = 0; i < n; i++) x = yield* wait(inc(x));
    return x;
  });
  const r = await run(f, { n: 10_000 });
  assert.equal(r.outputs, 10_000);
  assert.equal(r.graph.nodes.length, 10_000);
  assert.equal(r.graph.nodes.at(-1)!.id, "inc_10000");
});

Deno.test("race gives the first to settle", async () => {
  const after = task(async function after(ms: number) {
    await sleep(ms);
    return ms;
  });
  const f = flow(async function* racer() {
    return yield* race([after(40), after(5), after(20)]);
  });
  assert.equal(await f(), 5);
});

Deno.test("a task called from a flow runs outside it: the tasks it calls run directly", async () => {
  const seen: string[] = [];
  const inner = task(function inner(x: number) {
    return x * 10;
  });
  const outer = task(async function outer(x: number) {
    // Before and after an await of its own: both are direct calls, not nodes.
    const before: unknown = inner(x);
    await sleep(1);
    const after: unknown = inner(x + 1);
    seen.push(`${typeof before}:${typeof after}`);
    return (await before as number) + (await after as number);
  });
  const f = flow(async function* calls() {
    const a = outer(1); // in the body's first synchronous run
    const b = yield* wait(outer(2)); // the same, then a wait
    await sleep(1); // after a plain await the body runs in a microtask
    const c = outer(3);
    return { a, b, c };
  });
  const r = await run(f, {});
  assert.equal(r.status, "succeeded", r.errors[0]?.message);
  assert.deepEqual(r.outputs, { a: 30, b: 50, c: 70 });
  // An async task's direct call resolves to its value (a promise), never to a handle.
  assert.deepEqual(seen, ["object:object", "object:object", "object:object"]);
  assert.deepEqual(ids(r), ["outer", "outer_2", "outer_3"]);
});

Deno.test("tasks called from a flow body start in the order of the calls", async () => {
  const started: number[] = [];
  const mark = task(function mark(i: number) {
    started.push(i);
    return i;
  });
  const f = flow(async function* ordered() {
    const hs = [];
    for (let i = 0; i < 50; i++) hs.push(mark(i));
    return yield* all(hs);
  });
  const r = await run(f, {}, { concurrency: 1 });
  assert.deepEqual(r.outputs, [...Array(50).keys()]);
  assert.deepEqual(started, [...Array(50).keys()]);
});

Deno.test("plain await on promises works inside a flow", async () => {
  const f = flow(async function* awaits() {
    const fromPromise = await Promise.resolve(2);
    await sleep(1);
    return yield* wait(add(fromPromise, 1));
  });
  assert.equal(await f(), 3);
});

Deno.test("a replay that makes other calls is a NonDeterminismError the flow cannot catch", async () => {
  let flip = false;
  let broken = true;
  const fragile = task(function fragile(x: number) {
    if (broken) throw new Error("first run fails");
    return x;
  });
  const f = flow(async function* drifting() {
    const a = yield* wait(add(flip ? 100 : 1, 1));
    try {
      return yield* wait(fragile(a));
    } catch (e) {
      if (e instanceof NonDeterminismError) return "swallowed";
      throw e;
    }
  });
  const first = await run(f, {}, { runId: "nondet-1" });
  assert.equal(first.status, "failed");
  broken = false;
  flip = true;
  const second = await run(f, {}, { runId: "nondet-1" });
  assert.equal(second.status, "failed");
  const error = second.errors[0]!;
  assert.ok(error instanceof NonDeterminismError, String(error));
  assert.match(
    error.message,
    /journal recorded add\(x: 1, y: 1\) \(node 'add'\) but the flow now calls add\(x: 100, y: 1\)/,
  );
  assert.equal(error.position, "#0");

  // The same flow replayed without drift resumes: add is not executed again.
  flip = false;
  const calls: string[] = [];
  const third = await run(f, {}, {
    runId: "nondet-1",
    onEvent: (e) => e.type === "node started" && calls.push(e.nodeId),
  });
  assert.equal(third.status, "succeeded");
  assert.equal(third.outputs, 2);
  assert.deepEqual(calls, ["fragile"]);
});

Deno.test("replay compares long arguments by their hash and short ones by their text", async () => {
  let broken = true;
  const fragile = task(function fragile(x: number) {
    if (broken) throw new Error("first run fails");
    return x;
  });
  const measure = task(function measure(text: string) {
    return text.length;
  });
  let suffix = "";
  const f = flow(async function* longArgs() {
    // 200 characters: the journal keeps a SHA-256 of the arguments, not the text.
    const n = yield* wait(measure("w".repeat(200) + suffix));
    return yield* wait(fragile(n));
  });
  const first = await run(f, {}, { runId: "long-args" });
  assert.equal(first.status, "failed");
  broken = false;
  const started: string[] = [];
  const resumed = await run(f, {}, {
    runId: "long-args",
    onEvent: (e) => e.type === "node started" && started.push(e.nodeId),
  });
  assert.equal(resumed.outputs, 200);
  assert.deepEqual(started, ["fragile"]);

  broken = true;
  await run(f, {}, { runId: "long-args-2" });
  broken = false;
  suffix = "!";
  const drifted = await run(f, {}, { runId: "long-args-2" });
  assert.ok(drifted.errors[0] instanceof NonDeterminismError, String(drifted.errors[0]));
});

Deno.test("flow() explains what it needs", () => {
  assert.throws(() => flow(function notGen() {} as never), /must be an async generator function/);
  assert.throws(() => flow((async function* () {}) as never), /A flow needs a name/);
  assert.throws(() => workflow(async function asyncBody() {}), /cannot await/);
});
