// One contract, every store: the same tests run against the in-memory store,
// the SQLite store and the PostgreSQL store (a private cluster the tests start:
// see _postgres.ts), each test in a fresh database.

import assert from "node:assert/strict";
import {
  CancelledError,
  flow,
  run,
  RunOwnedError,
  signal,
  sleep,
  type Store,
  task,
  TaskFailedError,
  ValidationError,
  wait,
  workflow,
} from "../mod.ts";
import { TestClock } from "../testing.ts";
import { valueHash } from "../src/core/values.ts";
import { postgresMissing } from "./_postgres.ts";
import { thisHost } from "../src/store/ownership.ts";

import { STORE_KINDS, type StoreKind } from "./_stores.ts";

/** Registers the contract tests for one kind of store. */
export function storeContract(kind: StoreKind): void {
  const test = (name: string, fn: (store: Store, reopen: () => Promise<Store>) => Promise<void>) =>
    Deno.test({
      name: `[${kind.name}] ${name}`,
      ignore: kind.missing?.() !== undefined,
    }, async () => {
      const opened = await kind.open();
      try {
        await fn(opened.store, opened.reopen ?? (() => Promise.resolve(opened.store)));
      } finally {
        await opened.cleanup();
      }
    });

  const add = task(function add(x: number, y: number) {
    return x + y;
  });
  const pair = task({ outputs: ["q", "r"] }, function pair(a: number, b: number) {
    return { q: Math.floor(a / b), r: a % b };
  });

  test("a run is recorded with its inputs, outputs, nodes and values", async (store, reopen) => {
    const wf = workflow(function record(x: number) {
      const p = pair(x, 3);
      return {
        sum: add(p.outputs.q, p.outputs.r),
        extra: { when: new Date(0), big: 2n, tags: new Set(["a"]) },
      };
    });
    const result = await run(wf, { x: 10 }, { store, runId: "rec-1" });
    assert.equal(result.status, "succeeded");
    const again = await reopen();
    const details = await again.getRun("rec-1");
    assert.ok(details);
    assert.equal(details.status, "succeeded");
    assert.equal(details.entity, "record");
    assert.deepEqual(details.inputs, { x: 10 });
    assert.deepEqual(details.outputs, {
      sum: 4,
      extra: { when: new Date(0), big: 2n, tags: new Set(["a"]) },
    });
    assert.equal(details.outputsHash, valueHash(details.outputs));
    assert.deepEqual(details.nodes.map((n) => [n.id, n.entity, n.status, n.attempts]), [
      ["pair", "pair", "succeeded", 1],
      ["add", "add", "succeeded", 1],
    ]);
    const addNode = details.nodes[1]!;
    assert.deepEqual(addNode.inputs.map((i) => [i.name, i.hash, i.sources]), [
      ["x", valueHash(3), [{ node: "pair", output: "q" }]],
      ["y", valueHash(1), [{ node: "pair", output: "r" }]],
    ]);
    assert.deepEqual(addNode.outputs, [{ name: "o0", hash: valueHash(4) }]);
    assert.deepEqual(details.nodes[0]!.outputs.map((o) => o.name), ["q", "r"]);
    assert.match(addNode.call, /^add\(x: \{"\$ref":"pair","output":"q"\}, y: .*\)$/);
    const value = await again.getValue(valueHash(4));
    assert.deepEqual(value, { hash: valueHash(4), value: 4 });
    assert.deepEqual(await again.getValue(valueHash(4).slice(0, 10)), value);
    assert.equal(await again.getValue("0".repeat(64)), undefined);
  });

  test("runs are listed newest first, filtered by status and limited", async (store) => {
    const boom = task(function boom(): number {
      throw new Error("no");
    });
    await run(add, { x: 1, y: 2 }, { store, runId: "list-a" });
    await new Promise((r) => setTimeout(r, 5));
    await run(boom, {}, { store, runId: "list-b" });
    await new Promise((r) => setTimeout(r, 5));
    await run(add, { x: 2, y: 2 }, { store, runId: "list-c" });
    assert.deepEqual((await store.listRuns()).map((r) => r.id), ["list-c", "list-b", "list-a"]);
    assert.deepEqual((await store.listRuns({ status: "failed" })).map((r) => r.id), ["list-b"]);
    assert.deepEqual((await store.listRuns({ limit: 1 })).map((r) => r.id), ["list-c"]);
    const failed = await store.getRun("list-b");
    assert.equal(failed!.errors[0]!.name, "TaskFailedError");
    assert.equal(failed!.errors[0]!.cause!.message, "no");
    assert.equal(failed!.nodes[0]!.error!.nodeId, "boom");
    assert.ok(failed!.nodes[0]!.error!.stack);
    assert.equal(await store.getRun("nope"), undefined);
  });

  test(
    "a failed run resumes from its journal: completed calls are not executed again",
    async (store, reopen) => {
      const calls: string[] = [];
      let broken = true;
      const step = task(function step(i: number) {
        calls.push(`step ${i}`);
        if (i === 2 && broken) throw new Error("step 2 breaks");
        return i * 10;
      });
      const f = flow(async function* resumable(n: number) {
        let total = 0;
        for (let i = 0; i < n; i++) total += yield* wait(step(i));
        return total;
      });
      const first = await run(f, { n: 4 }, { store, runId: "resume-1" });
      assert.equal(first.status, "failed");
      assert.ok(first.errors[0] instanceof TaskFailedError);
      broken = false;
      const store2 = await reopen();
      const second = await run(f, { n: 4 }, { store: store2, runId: "resume-1" });
      assert.equal(second.status, "succeeded");
      assert.equal(second.outputs, 60);
      assert.deepEqual(calls, ["step 0", "step 1", "step 2", "step 2", "step 3"]);
      const details = await store2.getRun("resume-1");
      assert.equal(details!.attempts, 2);
      assert.deepEqual(details!.nodes.map((n) => n.status), [
        "succeeded",
        "succeeded",
        "succeeded",
        "succeeded",
      ]);
      // a succeeded run id returns its result without executing
      const third = await run(f, { n: 4 }, { store: store2, runId: "resume-1" });
      assert.equal(third.outputs, 60);
      assert.equal(calls.length, 5);
      await assert.rejects(
        () => run(f, { n: 5 }, { store: store2, runId: "resume-1" }),
        ValidationError,
      );
    },
  );

  test(
    "the cache is shared across runs, keyed on name, version and inputs",
    async (store, reopen) => {
      let calls = 0;
      const square = (version: string) =>
        task({ name: "square", cache: true, version }, (x: number) => {
          calls++;
          return x * x;
        });
      assert.equal((await run(square("1"), { x: 3 }, { store })).outputs, 9);
      const store2 = await reopen();
      const hit = await run(square("1"), { x: 3 }, { store: store2 });
      assert.equal(hit.outputs, 9);
      assert.equal(calls, 1);
      assert.equal(hit.graph.nodes[0]!.cached, true);
      const details = await store2.getRun(hit.runId);
      assert.match(details!.nodes[0]!.cachedFrom!, /\/square$/);
      await run(square("2"), { x: 3 }, { store: store2 });
      assert.equal(calls, 2);
      await run(square("1"), { x: 3 }, { store: store2, cache: false });
      assert.equal(calls, 3);
      assert.equal(await store2.clearCache("other"), 0);
      assert.ok(await store2.clearCache("square") >= 2);
      await run(square("1"), { x: 3 }, { store: store2 });
      assert.equal(calls, 4);
    },
  );

  test("lineage follows a value back through the executions that made it", async (store) => {
    const wf = workflow(function chain(x: number) {
      return add(add(x, 1), 100);
    });
    const result = await run(wf, { x: 7 }, { store, runId: "lin-1" });
    assert.equal(result.outputs, 108);
    const byRef = await store.lineage("lin-1/add_2/o0");
    const byHash = await store.lineage(valueHash(108));
    assert.deepEqual(byRef.steps, byHash.steps);
    assert.deepEqual(byRef.runs, ["lin-1"]);
    assert.equal(byRef.value.preview, "108");
    assert.deepEqual(byRef.value.from, [{ step: "lin-1/add_2", output: "o0", by: "edge" }]);
    assert.deepEqual(byHash.value.from, [{ step: "lin-1/add_2", output: "o0", by: "hash" }]);
    const producer = byRef.steps["lin-1/add_2"]!;
    assert.deepEqual([producer.runId, producer.nodeId, producer.entity], ["lin-1", "add_2", "add"]);
    const x = producer.inputs.find((i) => i.name === "x")!;
    assert.equal(x.preview, "8");
    assert.deepEqual(x.from, [{ step: "lin-1/add", output: "o0", by: "edge" }]);
    assert.deepEqual(
      byRef.steps["lin-1/add"]!.inputs.map((i) => [i.name, i.preview, i.runInputOf]),
      [["x", "7", [{ runId: "lin-1", input: "x" }]], ["y", "1", []]],
    );
    assert.equal((await store.lineage("lin-1/add_2")).value.hash, byRef.value.hash);
    await assert.rejects(() => store.lineage("nope-run/add"), /No run 'nope-run'/);
    await assert.rejects(() => store.lineage("lin-1/nonode"), /no node 'nonode'/);
    await assert.rejects(() => store.lineage("ffffffffffff"), /No value ffffffffffff/);
  });

  test("lineage stays in the named run however often other runs made the same values", async (store) => {
    const chain = flow(async function* chain12(x: number) {
      let v = add(x, 1);
      for (let i = 0; i < 11; i++) v = add(v, 1);
      return yield* wait(v);
    });
    for (let r = 1; r <= 4; r++) {
      // Each run starts in a later millisecond, so that "newest" (by start time) is one run.
      if (r > 1) await new Promise((resolve) => setTimeout(resolve, 3));
      await run(chain, { x: 0 }, { store, runId: `twelve-${r}` });
    }
    const l = await store.lineage("twelve-3/add_12/o0", { depth: 100 });
    assert.deepEqual(l.runs, ["twelve-3"]);
    assert.deepEqual(
      Object.keys(l.steps),
      Array.from({ length: 12 }, (_, i) => `twelve-3/add${i === 11 ? "" : `_${12 - i}`}`),
    );
    assert.ok(Object.values(l.steps).every((s) => s.expanded));
    assert.equal(l.truncated, false);
    assert.equal(l.steps["twelve-3/add_12"]!.inputs[0]!.from[0]!.by, "edge");
    // By hash: the newest run that made it, unless across runs.
    const byHash = await store.lineage(l.value.hash, { depth: 100 });
    assert.deepEqual(byHash.runs, ["twelve-4"]);
    const wide = await store.lineage(l.value.hash, { depth: 1, acrossRuns: true });
    assert.deepEqual(wide.value.from.map((f) => f.step).sort(), [
      "twelve-1/add_12",
      "twelve-2/add_12",
      "twelve-3/add_12",
      "twelve-4/add_12",
    ]);
  });

  test("lineage by hash picks the run recorded last when runs start in the same millisecond", async (store) => {
    const chain = flow(async function* sameMs(x: number) {
      return yield* wait(add(add(x, 1), 1));
    });
    // Every run's clock reads the same instant: start times tie, so only the
    // order the store recorded the runs in can say which one is newest.
    const clock = new TestClock({ start: 5_000_000, autoSkip: false });
    for (const id of ["tie-b", "tie-c", "tie-a"]) {
      await run(chain, { x: 0 }, { store, runId: id, clock });
    }
    const l = await store.lineage("tie-c/add_2/o0", { depth: 10 });
    const byHash = await store.lineage(l.value.hash, { depth: 10 });
    assert.deepEqual(byHash.runs, ["tie-a"]);
    assert.deepEqual(Object.keys(byHash.steps), ["tie-a/add_2", "tie-a/add"]);
  });

  test("lineage lists each execution once and stops at its depth and limit", async (store) => {
    // A diamond repeated: every level takes the previous one's value twice.
    const wf = workflow(function diamonds(x: number) {
      let v = add(x, x);
      for (let i = 0; i < 20; i++) v = add(add(v, 0), add(v, 0));
      return v;
    });
    await run(wf, { x: 1 }, { store, runId: "dia-1" });
    const last = `add_${1 + 20 * 3}`;
    const all = await store.lineage(`dia-1/${last}/o0`, { depth: 1000 });
    assert.equal(Object.keys(all.steps).length, 61);
    assert.equal(all.truncated, false);
    const shallow = await store.lineage(`dia-1/${last}/o0`, { depth: 3 });
    assert.ok(shallow.truncated);
    const expanded = Object.values(shallow.steps).filter((s) => s.expanded);
    assert.equal(expanded.length, 1 + 2 + 1);
    assert.ok(Object.values(shallow.steps).some((s) => !s.expanded && s.inputs.length === 0));
    const limited = await store.lineage(`dia-1/${last}/o0`, { depth: 1000, limit: 5 });
    assert.ok(limited.truncated);
    assert.equal(Object.values(limited.steps).filter((s) => s.expanded).length, 5);
    await assert.rejects(() => store.lineage(`dia-1/${last}/o0`, { depth: -1 }), /depth/);
  });

  test("lineage across runs follows a run's input to the run that produced it", async (store) => {
    await run(add, { x: 20, y: 22 }, { store, runId: "first-1" });
    await run(add, { x: 42, y: 1 }, { store, runId: "second-1" });
    const inRun = await store.lineage("second-1/add/o0");
    const x = inRun.steps["second-1/add"]!.inputs.find((i) => i.name === "x")!;
    assert.deepEqual(x.runInputOf, [{ runId: "second-1", input: "x" }]);
    assert.deepEqual(x.from, []);
    const across = await store.lineage("second-1/add/o0", { acrossRuns: true });
    const x2 = across.steps["second-1/add"]!.inputs.find((i) => i.name === "x")!;
    assert.deepEqual(x2.from, [{ step: "first-1/add", output: "o0", by: "hash" }]);
    assert.deepEqual(across.runs, ["second-1", "first-1"]);
  });

  test("every execution of a task can be listed", async (store) => {
    const tagged = task(function tagged(x: number) {
      return x;
    });
    await run(tagged, { x: 1 }, { store, runId: "exec-1" });
    await run(tagged, { x: 2 }, { store, runId: "exec-2" });
    const execs = await store.executions("tagged");
    assert.deepEqual(execs.map((e) => e.runId).sort(), ["exec-1", "exec-2"]);
    assert.ok(execs.every((e) => e.entity === "tagged" && e.status === "succeeded"));
  });

  // --- one owner per run ------------------------------------------------------

  const claim = (runId: string, ownerId: string, extra: Record<string, unknown> = {}) => ({
    runId,
    ownerId,
    pid: 4242,
    host: "elsewhere",
    leaseMs: 60_000,
    ...extra,
  });

  test("a run id has one owner at a time: a second claim is refused with the first owner", async (store) => {
    const first = await store.claimRun(claim("own-1", "a"));
    assert.equal(first.claimed, true);
    assert.equal(first.owner.ownerId, "a");
    assert.equal(first.owner.pid, 4242);
    assert.equal(first.owner.host, "elsewhere");
    assert.equal(first.owner.leaseMs, 60_000);
    assert.ok(Math.abs(first.owner.since - Date.now()) < 5_000);
    const second = await store.claimRun(claim("own-1", "b", { pid: 7 }));
    assert.equal(second.claimed, false);
    assert.equal(second.owner.ownerId, "a");
    assert.equal((await store.runOwner("own-1"))?.ownerId, "a");
    // another run id is free
    assert.equal((await store.claimRun(claim("own-2", "b"))).claimed, true);
    // releasing by someone else does nothing; by the owner frees the id
    await store.releaseRun("own-1", "b");
    assert.equal((await store.runOwner("own-1"))?.ownerId, "a");
    await store.releaseRun("own-1", "a");
    assert.equal(await store.runOwner("own-1"), undefined);
    const third = await store.claimRun(claim("own-1", "c"));
    assert.equal(third.claimed, true);
    assert.equal(third.tookOver, undefined);
    assert.deepEqual(await store.takeovers("own-1"), []);
  });

  test("an owner whose lease ran out is taken over, and the takeover is recorded", async (store) => {
    await store.claimRun(claim("own-3", "a", { leaseMs: 20 }));
    await new Promise((r) => setTimeout(r, 60));
    const taken = await store.claimRun(claim("own-3", "b", { pid: 5, host: "h2" }));
    assert.equal(taken.claimed, true);
    assert.ok(taken.tookOver);
    assert.equal(taken.tookOver.from.ownerId, "a");
    assert.equal(taken.tookOver.by.ownerId, "b");
    assert.match(taken.tookOver.reason, /no heartbeat for .* s \(its lease is 0\.0 s\)/);
    const recorded = await store.takeovers("own-3");
    assert.equal(recorded.length, 1);
    assert.deepEqual(recorded[0], taken.tookOver);
    // the old owner's heartbeat now learns that it lost the run
    assert.deepEqual(await store.renewRun("own-3", "a"), { owned: false, cancelRequested: false });
    assert.deepEqual(await store.renewRun("own-3", "b"), { owned: true, cancelRequested: false });
  });

  test("a claim replaces only the owner it names as gone", async (store) => {
    await store.claimRun(claim("own-4", "a"));
    const wrong = await store.claimRun(
      claim("own-4", "b", { replace: { ownerId: "zzz", reason: "gone" } }),
    );
    assert.equal(wrong.claimed, false);
    const right = await store.claimRun(
      claim("own-4", "c", { replace: { ownerId: "a", reason: "its process 4242 is gone" } }),
    );
    assert.equal(right.claimed, true);
    assert.equal(right.tookOver?.reason, "its process 4242 is gone");
    assert.equal((await store.takeovers("own-4")).length, 1);
  });

  test("heartbeats renew a claim and carry a cancel request", async (store) => {
    assert.equal(await store.requestCancel("own-5"), undefined);
    await store.claimRun(claim("own-5", "a", { leaseMs: 200 }));
    const before = (await store.runOwner("own-5"))!.heartbeatAt;
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await store.renewRun("own-5", "a"), { owned: true, cancelRequested: false });
    assert.ok((await store.runOwner("own-5"))!.heartbeatAt > before);
    const asked = await store.requestCancel("own-5");
    assert.equal(asked?.ownerId, "a");
    assert.ok(asked?.cancelRequestedAt !== undefined);
    assert.deepEqual(await store.renewRun("own-5", "a"), { owned: true, cancelRequested: true });
  });

  const slowStep = task(async function slowStep(i: number) {
    await new Promise((r) => setTimeout(r, 30));
    return i;
  });

  test("run() refuses a run id that a live run holds, and runs each step once", async (store) => {
    let calls = 0;
    const counted = task(async function counted(i: number) {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      return i;
    });
    const f = flow(async function* twice() {
      let total = 0;
      for (let i = 0; i < 3; i++) total += yield* wait(counted(i));
      return total;
    });
    const results = await Promise.allSettled([
      run(f, {}, { store, runId: "dup" }),
      run(f, {}, { store, runId: "dup" }),
    ]);
    const ok = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    assert.equal(ok.length, 1);
    assert.equal(refused.length, 1);
    const error = (refused[0] as PromiseRejectedResult).reason;
    assert.ok(error instanceof RunOwnedError);
    assert.match(error.message, /^run dup is running \(pid \d+ on .* since \d{4}-\d\d-\d\dT/);
    assert.equal(calls, 3);
    assert.equal(await store.runOwner("dup"), undefined, "released when the run ended");
  });

  test("run() takes over a run whose owner's process is gone, and records it", async (store) => {
    // A process of this machine that does not exist.
    const dead = 4_194_000 + Math.floor(Math.random() * 300);
    await store.claimRun({ ...claim("own-6", "ghost"), pid: dead, host: thisHost() });
    const result = await run(slowStep, { i: 1 }, { store, runId: "own-6" });
    assert.equal(result.status, "succeeded");
    const recorded = await store.takeovers("own-6");
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0]!.from.pid, dead);
    assert.equal(recorded[0]!.by.pid, Deno.pid);
    assert.match(recorded[0]!.reason, new RegExp(`its process ${dead} on .* is gone`));
  });

  test("a cancel request reaches the running owner, which stops and leaves the run resumable", async (store) => {
    const f = flow(async function* long() {
      let total = 0;
      for (let i = 0; i < 50; i++) total += yield* wait(slowStep(i));
      return total;
    });
    const running = run(f, {}, { store, runId: "own-7", lease: "150ms" });
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(await store.requestCancel("own-7"));
    const result = await running;
    assert.equal(result.status, "cancelled");
    assert.ok(result.errors[0] instanceof CancelledError);
    assert.equal((await store.getRun("own-7"))?.status, "cancelled");
    assert.equal(await store.runOwner("own-7"), undefined);
  });

  test("a run whose claim is taken over stops at once and writes nothing more", async (store) => {
    let calls = 0;
    const step = task(async function step(i: number) {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      return i;
    });
    const f = flow(async function* stolen() {
      for (let i = 0; i < 50; i++) yield* wait(step(i));
      return 1;
    });
    const running = run(f, {}, { store, runId: "own-8", lease: "90ms" });
    await new Promise((r) => setTimeout(r, 100));
    const owner = (await store.runOwner("own-8"))!;
    const thief = await store.claimRun(
      claim("own-8", "thief", { replace: { ownerId: owner.ownerId, reason: "test" } }),
    );
    assert.equal(thief.claimed, true);
    const result = await running;
    assert.equal(result.status, "failed");
    assert.ok(result.errors[0] instanceof RunOwnedError);
    assert.match(result.errors[0]!.message, /was taken over by pid 4242 on elsewhere/);
    const atLoss = calls;
    assert.ok(atLoss < 50);
    // the run's record is left as the new owner would find it: still running
    assert.equal((await store.getRun("own-8"))?.status, "running");
    assert.equal((await store.runOwner("own-8"))?.ownerId, "thief");
  });

  test(
    "signals are kept in order for a run, each taken once, and wake a run that sleeps for them",
    async (store, reopen) => {
      await assert.rejects(() => store.putSignal("nope", "x", 1, 1), /No run 'nope'/);
      const twice = flow(async function* twice() {
        const a = yield* signal<number>("x");
        const b = yield* signal<number>("x");
        return [a, b];
      });
      const first = await run(twice, {}, { store, runId: "sig-1", suspend: true });
      assert.equal(first.status, "sleeping");
      assert.deepEqual(first.waitingFor, ["x"]);
      let sleeping = await store.sleepingRuns();
      assert.deepEqual(sleeping.map((r) => [r.id, r.wakeAt, r.signals]), [["sig-1", undefined, [
        "x",
      ]]]);
      assert.equal((await store.getRun("sig-1"))!.status, "sleeping");
      assert.equal(await store.claimWake("sig-1", Date.now()), false, "nothing wakes it yet");
      assert.equal(await store.putSignal("sig-1", "y", "other", 1_000), 1);
      assert.equal((await store.sleepingRuns({ dueBy: 5_000 })).length, 0, "it waits for x, not y");
      assert.equal(await store.putSignal("sig-1", "x", 10, 2_000), 2);
      assert.equal(await store.putSignal("sig-1", "x", 20, 3_000), 3);
      const again = await reopen();
      sleeping = await again.sleepingRuns({ dueBy: 5_000 });
      assert.deepEqual(sleeping.map((r) => [r.id, r.wakeAt]), [["sig-1", 2_000]]);
      assert.equal(await again.claimWake("sig-1", 5_000), true);
      assert.equal(await again.claimWake("sig-1", 5_000), false, "one process takes it");
      const second = await run(twice, {}, { store: again, runId: "sig-1" });
      assert.equal(second.status, "succeeded");
      assert.deepEqual(second.outputs, [10, 20]);
      const signals = await again.listSignals("sig-1");
      assert.deepEqual(signals.map((m) => [m.seq, m.name, m.value, m.takenBy]), [
        [1, "y", "other", undefined],
        [2, "x", 10, "weft.signal"],
        [3, "x", 20, "weft.signal_2"],
      ]);
      await assert.rejects(() => again.putSignal("sig-1", "x", 1, 4_000), /has succeeded/);
    },
  );

  test(
    "a run suspended on a timer is listed with its wake time and resumes when due",
    async (store, reopen) => {
      const clock = new TestClock({ start: 1_000_000, autoSkip: false });
      const nap = flow(async function* nap() {
        yield* sleep("1h");
        return "awake";
      });
      const first = await run(nap, {}, { store, runId: "nap-1", suspend: "1m", clock });
      assert.equal(first.status, "sleeping");
      assert.equal(first.wakeAt?.getTime(), 1_000_000 + 3_600_000);
      const again = await reopen();
      assert.deepEqual(await again.sleepingRuns({ dueBy: 1_000_000 }), []);
      const due = await again.sleepingRuns({ dueBy: 1_000_000 + 3_600_000 });
      assert.deepEqual(due.map((r) => [r.id, r.entity, r.wakeAt]), [["nap-1", "nap", 4_600_000]]);
      assert.equal(await again.claimWake("nap-1", 1_000_000), false, "not due yet");
      const journal = await again.readJournal("nap-1");
      assert.equal(journal!.status, "sleeping");
      assert.equal(journal!.journal.get("#0")!.entity, "weft.sleep");
      assert.equal(journal!.journal.get("#0")!.startedAt, 1_000_000);
      assert.equal(
        (await again.getRun("nap-1"))!.attempts,
        1,
        "reading the journal touches nothing",
      );
      await clock.advance("1h");
      assert.equal(await again.claimWake("nap-1", clock.now()), true);
      const second = await run(nap, {}, { store: again, runId: "nap-1", clock });
      assert.equal(second.status, "succeeded");
      assert.equal(second.outputs, "awake");
      assert.equal(clock.now(), 4_600_000, "it woke at the time it first set, at once");
    },
  );

  test("a schedule's fire times are recorded once each", async (store) => {
    const fire = { schedule: "nightly", fireAt: 100, status: "started" as const, runId: "n-1" };
    assert.equal(await store.claimFire(fire), true);
    assert.equal(await store.claimFire({ ...fire, runId: "n-2" }), false);
    assert.equal(
      await store.claimFire({ ...fire, fireAt: 200, status: "queued", runId: undefined }),
      true,
    );
    assert.equal(
      await store.claimFire({ ...fire, fireAt: 300, status: "skipped", runId: undefined }),
      true,
    );
    await store.updateFire({ ...fire, fireAt: 200, status: "started", runId: "n-3" });
    assert.deepEqual((await store.listFires("nightly")).map((f) => [f.fireAt, f.status, f.runId]), [
      [300, "skipped", undefined],
      [200, "started", "n-3"],
      [100, "started", "n-1"],
    ]);
    assert.deepEqual(
      (await store.listFires("nightly", { status: "started", limit: 1 })).map((f) => f.runId),
      ["n-3"],
    );
    assert.deepEqual(await store.listFires("other"), []);
    const spec = {
      cron: "0 2 * * *",
      timezone: "UTC",
      everyMs: undefined,
      overlap: "skip" as const,
    };
    await store.putSchedule({
      name: "nightly",
      script: "file:///a.ts",
      ...spec,
      catchUp: 1,
      servedAt: 5,
    });
    await store.putSchedule({
      name: "hourly",
      script: undefined,
      ...spec,
      catchUp: 0,
      servedAt: 6,
    });
    await store.putSchedule({
      name: "nightly",
      script: "file:///b.ts",
      ...spec,
      catchUp: 2,
      servedAt: 7,
    });
    assert.deepEqual(
      (await store.listSchedules()).map((r) => [r.name, r.script, r.catchUp, r.servedAt]),
      [
        ["hourly", undefined, 0, 6],
        ["nightly", "file:///b.ts", 2, 7],
      ],
    );
  });
}

for (const kind of STORE_KINDS) storeContract(kind);

{
  const why = postgresMissing();
  if (why !== undefined) console.warn(`weft: the PostgreSQL store tests are skipped: ${why}`);
}
