// Behaviour the engine's performance work must keep: where tasks run (outside
// any flow), node ids with names that could collide, the run graph built on
// first read, fan-ins with many handles, the one-step generators of wait/all/
// race, and the memory store's index. No timing assertions here: the figures
// are in bench/.

import assert from "node:assert/strict";
import { all, flow, race, run, task, TaskFailedError, wait, Workflow } from "../mod.ts";
import { MemoryStore } from "../store.ts";
import { AWAIT } from "../src/define/yields.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a task that calls a task inside a flow runs it directly, before and after an await", async () => {
  const inner = task(function inner(x: number) {
    return x + 1;
  });
  const outer = task(async function outer(x: number) {
    const before = await inner(x);
    await sleep(1);
    const after = await inner(before);
    queueMicrotask(() => void inner(0));
    return after;
  });
  const f = flow(async function* callsOuter(x: number) {
    const a = yield* wait(outer(x));
    await sleep(1);
    const b = yield* wait(outer(a));
    return a + b;
  });
  const r = await run(f, { x: 1 }, { store: new MemoryStore() });
  assert.equal(r.status, "succeeded");
  assert.equal(r.outputs, 3 + 5);
  // Only the flow's own calls are nodes: inner ran directly, as a run of its own.
  assert.deepEqual(r.graph.nodes.map((n) => n.id), ["outer", "outer_2"]);
});

Deno.test("a synchronous task called in a loop of a flow sees no flow, and the flow still does", async () => {
  const seen: string[] = [];
  const probe = task(function probe(i: number) {
    // A call from inside a task is direct: its handle comes from a run of its own.
    const h = echo(i);
    seen.push(typeof h.then);
    return i;
  });
  const echo = task(function echo(i: number) {
    return i;
  });
  const f = flow(async function* loop(n: number) {
    let total = 0;
    for (let i = 0; i < n; i++) total += yield* wait(probe(i));
    const rest = yield* all([probe(10), probe(20)]);
    return total + rest[0] + rest[1];
  });
  const r = await run(f, { n: 5 }, { store: new MemoryStore() });
  assert.equal(r.outputs, 0 + 1 + 2 + 3 + 4 + 30);
  assert.equal(seen.length, 7);
  assert.deepEqual(r.graph.nodes.map((n) => n.id), [
    "probe",
    "probe_2",
    "probe_3",
    "probe_4",
    "probe_5",
    "probe_6",
    "probe_7",
  ]);
});

Deno.test("node ids stay unique when entity names end in _<digits> or hold a slash", async () => {
  const make = (name: string) => task({ name, params: ["x"] }, (x: number) => x);
  const a = make("a"), a2 = make("a_2"), slash = make("f/b");
  const one = flow(async function* one() {
    yield* all([a(1), a(2), a2(3), a(4)]);
  });
  const r1 = await run(one, {}, { store: new MemoryStore() });
  assert.deepEqual(r1.graph.nodes.map((n) => n.id), ["a", "a_2", "a_2_2", "a_3"]);
  const two = flow(async function* two() {
    yield* all([a2(1), a(2), a(3), slash(4), slash(5)]);
  });
  const r2 = await run(two, {}, { store: new MemoryStore() });
  assert.deepEqual(r2.graph.nodes.map((n) => n.id), ["a_2", "a", "a_3", "f/b", "f/b_2"]);
  // A nested flow named f calling b: its ids are f/…, and must not take f/b from the root.
  const b = make("b");
  const f = flow(async function* f() {
    return yield* wait(b(7));
  });
  const three = flow(async function* three() {
    const first = slash(1);
    return (yield* wait(f())) + (yield* wait(first));
  });
  const r3 = await run(three, {}, { store: new MemoryStore() });
  assert.equal(r3.outputs, 8);
  const ids = r3.graph.nodes.map((n) => n.id);
  assert.equal(new Set(ids).size, ids.length, `duplicate ids in ${ids}`);
  assert.deepEqual(ids, ["f/b", "f", "f/b_2"]);
});

Deno.test("builder node ids stay unique when entity names end in _<digits>", async () => {
  const make = (name: string) => task({ name, params: ["x"] }, (x: number) => x);
  const a = make("a"), a2 = make("a_2"), ab = make("a_b");
  const ids = async (calls: typeof a[]) => {
    const wf = new Workflow("ids");
    const hs = calls.map((t) => wf.addEntity(t, { x: 1 }));
    wf.addOutput("all", hs);
    const r = await run(wf, {}, { store: new MemoryStore() });
    return r.graph.nodes.map((n) => n.id);
  };
  assert.deepEqual(await ids([a, a, a2, a, ab, ab, a2]), [
    "a",
    "a_2",
    "a_2_2",
    "a_3",
    "a_b",
    "a_b_2",
    "a_2_3",
  ]);
  assert.deepEqual(await ids([a2, a, a]), ["a_2", "a", "a_3"]);
});

Deno.test("result.graph is built on first read and reads like plain data", async () => {
  const inc = task(function inc(x: number) {
    return x + 1;
  });
  const f = flow(async function* twice(x: number) {
    return yield* wait(inc(inc(x)));
  });
  const r = await run(f, { x: 1 }, { store: new MemoryStore() });
  const expected = {
    nodes: ["inc", "inc_2"],
    edges: [{ from: "inc", to: "inc_2", input: "x" }],
  };
  assert.deepEqual(r.graph.nodes.map((n) => n.id), expected.nodes);
  assert.deepEqual(r.graph.edges, expected.edges);
  assert.equal(r.graph, r.graph, "the same object on every read");
  assert.ok(Object.keys(r).includes("graph"));
  assert.deepEqual({ ...r }.graph, r.graph);
  assert.deepEqual(JSON.parse(JSON.stringify(r)).graph.edges, expected.edges);
  assert.deepEqual(structuredClone(r).graph.edges, expected.edges);
  assert.match(
    Deno.inspect(r, { depth: 4 }),
    /edges: \[\s*\{ from: "inc", to: "inc_2", input: "x" \}/,
  );
  const replaced = { nodes: [], edges: [] };
  r.graph = replaced;
  assert.equal(r.graph, replaced);
});

Deno.test("a fan-in of many handles, some repeated, waits for each node once and lists every edge", async () => {
  const one = task(function one(i: number) {
    return i;
  });
  const sum = task(function sum(xs: number[]) {
    return xs.reduce((a, b) => a + b, 0);
  });
  const wf = new Workflow("fan_in");
  const hs = Array.from({ length: 40 }, (_, i) => wf.addEntity(one, { i }));
  wf.addOutput("total", wf.addEntity(sum, { xs: [...hs, hs[0], hs[39], hs[0]] }));
  const r = await run(wf, {}, { store: new MemoryStore() });
  assert.equal(r.outputs, (39 * 40) / 2 + 0 + 39 + 0);
  assert.equal(r.graph.edges.filter((e) => e.to === "sum").length, 43);
  const f = flow(async function* fanIn() {
    const handles = Array.from({ length: 40 }, (_, i) => one(i));
    return yield* wait(sum([...handles, ...handles]));
  });
  const rf = await run(f, {}, { store: new MemoryStore() });
  assert.equal(rf.outputs, 2 * (39 * 40) / 2);
});

Deno.test("wait, all and race behave as one-step generators under next, throw and return", () => {
  const reference = function* <T>(target: unknown): Generator<unknown, T, unknown> {
    return (yield { [AWAIT]: "all", target }) as T;
  };
  for (const make of [() => wait(5), () => all([5])]) {
    const g = make(), r = reference(5);
    const first = g.next();
    const firstRef = r.next();
    assert.equal(first.done, firstRef.done);
    assert.equal((first.value as unknown as Record<symbol, unknown>)[AWAIT], "all");
    assert.deepEqual(g.next(7), r.next(7));
    assert.deepEqual(g.next(8), r.next(8));
    assert.equal(Object.prototype.toString.call(g), "[object Generator]");
    assert.equal(g[Symbol.iterator](), g);
  }
  const thrown = wait(1);
  thrown.next();
  assert.throws(() => thrown.throw(new Error("boom")), /boom/);
  assert.deepEqual(thrown.next(), { value: undefined, done: true });
  const returned = race([1]);
  assert.deepEqual(returned.return(3), { value: 3, done: true });
  assert.deepEqual(returned.next(), { value: undefined, done: true });
});

Deno.test("a failure thrown at yield* wait can be caught, and the flow goes on", async () => {
  const boom = task(function boom(x: number): number {
    throw new Error(`boom ${x}`);
  });
  const ok = task(function ok(x: number) {
    return x;
  });
  const f = flow(async function* recovers() {
    let caught = "";
    try {
      yield* wait(boom(1));
    } catch (e) {
      caught = e instanceof TaskFailedError ? "TaskFailedError" : String(e);
    }
    return { caught, after: yield* wait(ok(2)) };
  });
  const r = await run(f, {}, { store: new MemoryStore() });
  assert.deepEqual(r.outputs, { caught: "TaskFailedError", after: 2 });
});

Deno.test("the memory store indexes a run's nodes on first read, the latest record of each id", async () => {
  const store = new MemoryStore();
  let fail = true;
  const flaky = task(function flaky(x: number) {
    if (fail) throw new Error("not yet");
    return x;
  });
  const ok = task(function ok(x: number) {
    return x;
  });
  const f = flow(async function* resumable() {
    const a = yield* wait(ok(1));
    return a + (yield* wait(flaky(2)));
  });
  const first = await run(f, {}, { store, runId: "perf-resume" });
  assert.equal(first.status, "failed");
  fail = false;
  const second = await run(f, {}, { store, runId: "perf-resume" });
  assert.equal(second.status, "succeeded");
  const nodes = store.runs.get("perf-resume")!.nodes;
  assert.deepEqual([...nodes.keys()], ["ok", "flaky"]);
  assert.equal(nodes.get("flaky")!.status, "succeeded");
  assert.equal(nodes.get("ok")!.replayed, true);
});

Deno.test("the memory store still forgets the oldest finished runs past maxNodes", async () => {
  const store = new MemoryStore({ maxNodes: 5 });
  const inc = task(function inc(x: number) {
    return x + 1;
  });
  const three = flow(async function* three() {
    return yield* wait(inc(inc(inc(0))));
  });
  for (let i = 0; i < 4; i++) await run(three, {}, { store, runId: `evict-${i}` });
  assert.deepEqual([...store.runs.keys()], ["evict-3"]);
});
