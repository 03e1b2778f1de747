// What the web UI reads and asks, held to one contract for every store:
// task logs, runs a page at a time, nodes in brief and what changed in them,
// a node's values, where a value was used, and cancel requests.

import assert from "node:assert/strict";
import { flow, run, type Store, task, type TaskContext, wait } from "../mod.ts";
import { STORE_KINDS } from "./_stores.ts";

for (const kind of STORE_KINDS) {
  const test = (name: string, fn: (store: Store) => Promise<void>) =>
    Deno.test(
      { name: `[${kind.name}] ${name}`, ignore: kind.missing?.() !== undefined },
      async () => {
        const opened = await kind.open();
        try {
          await fn(opened.store);
        } finally {
          await opened.cleanup();
        }
      },
    );

  test("ctx.log lines and retried attempts are recorded, by node and attempt", async (store) => {
    const chatty = task(
      { name: "chatty", retries: 1, retryDelay: 1 },
      function chatty(x: number, ctx: TaskContext) {
        ctx.log(`try ${ctx.attempt}`, { x });
        if (ctx.attempt === 1) throw new RangeError("first time unlucky");
        return x;
      },
    );
    const quiet = task(function quiet(x: number, ctx: TaskContext) {
      ctx.log("\u001b[31mred\u001b[0m </script>");
      return x;
    });
    const wf = flow(async function* logged(x: number) {
      return yield* wait(quiet(yield* wait(chatty(x))));
    });
    const result = await run(wf, { x: 7 }, { store, runId: "logs-1" });
    assert.equal(result.status, "succeeded");
    const logs = await store.logs("logs-1");
    assert.deepEqual(
      logs.map((l) => [l.nodeId, l.attempt, l.kind, l.message]),
      [
        ["chatty", 1, "log", "try 1 { x: 7 }"],
        ["chatty", 1, "retry", "first time unlucky"],
        ["chatty", 2, "log", "try 2 { x: 7 }"],
        ["quiet", 1, "log", "\u001b[31mred\u001b[0m </script>"],
      ],
    );
    const retry = logs[1]!;
    assert.equal(retry.error?.name, "RangeError");
    assert.match(retry.error?.stack ?? "", /first time unlucky/);
    assert.ok(logs.every((l) => l.time >= result.startedAt.getTime()));
    assert.deepEqual((await store.logs("logs-1", "quiet")).map((l) => l.nodeId), ["quiet"]);
    assert.deepEqual(await store.logs("no-such-run"), []);
  });

  test("runs are listed a page at a time, newest first, by status, entity and id", async (store) => {
    const ok = task(function ok(x: number) {
      return x;
    });
    const bad = task(function bad(x: number) {
      if (x >= 0) throw new Error("no");
      return x;
    });
    for (let i = 0; i < 7; i++) {
      await run(i % 3 === 0 ? bad : ok, { x: i }, { store, runId: `page-${i}` });
      // Distinct start times keep the order plain (ties are ordered by id).
      await new Promise((r) => setTimeout(r, 2));
    }
    const all = await store.listRuns({ limit: 100 });
    assert.deepEqual(all.map((r) => r.id), [6, 5, 4, 3, 2, 1, 0].map((i) => `page-${i}`));
    const first = await store.listRuns({ limit: 3 });
    const second = await store.listRuns({ limit: 3, before: first[2]! });
    const third = await store.listRuns({ limit: 3, before: second[2]! });
    assert.deepEqual(
      [...first, ...second, ...third].map((r) => r.id),
      all.map((r) => r.id),
    );
    assert.deepEqual(
      (await store.listRuns({ status: "failed" })).map((r) => r.id),
      ["page-6", "page-3", "page-0"],
    );
    assert.deepEqual(
      (await store.listRuns({ entity: "ok", limit: 2 })).map((r) => r.id),
      ["page-5", "page-4"],
    );
    assert.deepEqual((await store.listRuns({ search: "e-4" })).map((r) => r.id), ["page-4"]);
    assert.deepEqual(await store.runEntities(), ["bad", "ok"]);
    const counts = await store.taskCounts(["page-0", "page-1", "nope"]);
    assert.deepEqual(Object.fromEntries(counts), {
      "page-0": { failed: 1 },
      "page-1": { succeeded: 1 },
    });
  });

  test("a run's nodes in brief: all, then only what changed, with the nodes they take data from", async (store) => {
    const inc = task(function inc(x: number) {
      return x + 1;
    });
    const sum = task(function sum(xs: number[]) {
      return xs.reduce((a, b) => a + b, 0);
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = task(async function held(x: number) {
      await gate;
      return x;
    });
    const wf = flow(async function* brief(n: number) {
      const xs = [];
      for (let i = 0; i < n; i++) xs.push(inc(i));
      const total = sum(xs);
      return yield* wait(held(total));
    });
    const running = run(wf, { n: 3 }, { store, runId: "brief-1" });
    let read = await store.runNodes("brief-1");
    for (let i = 0; i < 100 && (read?.nodes.length ?? 0) < 5; i++) {
      await new Promise((r) => setTimeout(r, 20));
      read = await store.runNodes("brief-1");
    }
    assert.deepEqual(read!.nodes.map((n) => n.id), ["inc", "inc_2", "inc_3", "sum", "held"]);
    const sumNode = read!.nodes.find((n) => n.id === "sum")!;
    assert.deepEqual(sumNode.deps, ["inc", "inc_2", "inc_3"]);
    assert.deepEqual(read!.nodes.find((n) => n.id === "held")!.deps, ["sum"]);
    assert.equal(read!.run.status, "running");
    release();
    assert.equal((await running).status, "succeeded");
    const after = await store.runNodes("brief-1", read!.cursor);
    assert.equal(after!.run.status, "succeeded");
    const held2 = after!.nodes.find((n) => n.id === "held");
    assert.equal(held2?.status, "succeeded");
    // Nothing changed since: a store that tracks changes sends nothing, others may send all.
    const again = await store.runNodes("brief-1", after!.cursor);
    assert.ok(again!.nodes.every((n) => n.status === "succeeded"));
    if (kind.name === "sqlite") assert.deepEqual(again!.nodes, []);
    assert.equal(await store.runNodes("nope"), undefined);
  });

  test("one node with its values, and where a value was made and used across runs", async (store) => {
    const big = task(function big(n: number) {
      return "x".repeat(n);
    });
    const len = task(function len(s: string) {
      return s.length;
    });
    const wf = flow(async function* uses(n: number) {
      return yield* wait(len(big(n)));
    });
    await run(wf, { n: 500 }, { store, runId: "uses-1" });
    await run(wf, { n: 500 }, { store, runId: "uses-2" });
    const node = await store.getNode("uses-1", "len");
    assert.equal(node?.entity, "len");
    assert.equal(node?.inputs[0]?.sources[0]?.node, "big");
    const values = await store.nodeValues("uses-1", "len");
    assert.equal(values?.inputs[0]?.value, "x".repeat(500));
    assert.equal(values?.inputs[0]?.stored, true);
    assert.equal(values?.outputs[0]?.value, 500);
    const small = await store.nodeValues("uses-1", "big");
    assert.equal(small?.inputs[0]?.value, 500);
    const hash = values!.inputs[0]!.hash;
    const uses = await store.valueUses(hash);
    assert.deepEqual(
      uses.producedBy.map((u) => `${u.runId}/${u.nodeId}/${u.name}`).sort(),
      ["uses-1/big/o0", "uses-2/big/o0"],
    );
    assert.deepEqual(
      uses.consumedBy.map((u) => `${u.runId}/${u.nodeId}/${u.name}`).sort(),
      ["uses-1/len/s", "uses-2/len/s"],
    );
    assert.equal(await store.getNode("uses-1", "nope"), undefined);
    const bare = await store.getRun("uses-1", { nodes: false });
    assert.deepEqual(bare?.nodes, []);
    assert.equal(bare?.status, "succeeded");
  });

  test("inputs taken whole from outputs: a small one from its producer's row, a big one from the values", async (store) => {
    const inc = task(function inc(x: number) {
      return x + 1;
    });
    const pad = task(function pad(x: number) {
      return "y".repeat(x);
    });
    const join = task(function join(n: number, s: string) {
      return `${n}:${s.length}`;
    });
    const wf = flow(async function* taken(x: number) {
      return yield* wait(join(inc(x), pad(x * 10)));
    });
    assert.equal((await run(wf, { x: 20 }, { store, runId: "taken-1" })).status, "succeeded");
    const node = await store.getNode("taken-1", "join");
    assert.deepEqual(node?.inputs.map((i) => i.sources[0]?.node), ["inc", "pad"]);
    const values = await store.nodeValues("taken-1", "join");
    assert.deepEqual(
      values?.inputs.map((v) => [v.name, v.stored, v.value]),
      [["n", true, 21], ["s", true, "y".repeat(200)]],
    );
    assert.deepEqual(values?.outputs.map((v) => [v.stored, v.value]), [[true, "21:200"]]);
    assert.deepEqual((await store.nodeValues("taken-1", "inc"))?.outputs[0]?.value, 21);
    assert.equal(await store.nodeValues("taken-1", "nope"), undefined);
  });

  test("task counts keep cache hits apart from tasks that ran", async (store) => {
    const once = task({ name: "once", cache: true, version: "1" }, function once(x: number) {
      return x * 2;
    });
    const wf = flow(async function* twice(x: number) {
      return yield* wait(once(x));
    });
    await run(wf, { x: 3 }, { store, runId: "counts-1" });
    await run(wf, { x: 3 }, { store, runId: "counts-2" });
    assert.deepEqual(Object.fromEntries(await store.taskCounts(["counts-1", "counts-2"])), {
      "counts-1": { succeeded: 1 },
      "counts-2": { cached: 1 },
    });
  });

  test("the change count grows with every run recorded", async (store) => {
    const before = store.changeCount();
    const noop = task(function noop(x: number) {
      return x;
    });
    await run(noop, { x: 1 }, { store, runId: "count-1" });
    // (PostgreSQL hears of commits by notification, a moment later.)
    for (let i = 0; i < 100 && store.changeCount() === before; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.notEqual(store.changeCount(), before);
  });
}
