import assert from "node:assert/strict";
import {
  CancelledError,
  run,
  task,
  type TaskContext,
  TaskFailedError,
  TimeoutError,
  ValidationError,
  type WeftEvent,
  Workflow,
  workflow,
} from "../mod.ts";

import { sleep } from "./_helpers.ts";

/** A task that tracks how many of its calls run at once. */
function tracked(name: string, ms: number) {
  const stats = { active: 0, max: 0, calls: 0 };
  const t = task({ name }, async function (i: number) {
    stats.calls++;
    stats.active++;
    stats.max = Math.max(stats.max, stats.active);
    await sleep(ms);
    stats.active--;
    return i;
  });
  return { t, stats };
}

function fanOut(t: ReturnType<typeof tracked>["t"], n: number): Workflow {
  const wf = new Workflow(`fan_${n}`);
  const outs = [];
  for (let i = 0; i < n; i++) outs.push(wf.addEntity(t, { i }));
  wf.addOutput("all", outs);
  return wf;
}

Deno.test("independent nodes run concurrently up to the default limit of 8", async () => {
  const { t, stats } = tracked("sleepy", 20);
  const result = await run(fanOut(t, 20), {});
  assert.equal(result.status, "succeeded");
  assert.deepEqual(result.outputs, Array.from({ length: 20 }, (_, i) => i));
  assert.equal(stats.calls, 20);
  assert.equal(stats.max, 8);
});

Deno.test("the run's concurrency option and a task's own limit are both respected", async () => {
  const a = tracked("limited_run", 10);
  await run(fanOut(a.t, 10), {}, { concurrency: 3 });
  assert.equal(a.stats.max, 3);

  const stats = { active: 0, max: 0 };
  const one = task({ name: "one_at_a_time", concurrency: 2 }, async (i: number) => {
    stats.active++;
    stats.max = Math.max(stats.max, stats.active);
    await sleep(5);
    stats.active--;
    return i;
  });
  const wf = new Workflow("per_task");
  const outs = [];
  for (let i = 0; i < 6; i++) outs.push(wf.addEntity(one, { i }));
  wf.addOutput("o", outs);
  assert.deepEqual(await wf(), [0, 1, 2, 3, 4, 5]);
  assert.equal(stats.max, 2);
  await assert.rejects(
    () => run(wf, {}, { concurrency: 0 }),
    /'concurrency' must be a positive integer/,
  );
});

Deno.test("retries run again after a failure, with the attempt in ctx and retrying events", async () => {
  const attempts: number[] = [];
  const flaky = task(
    { name: "flaky", retries: 2, retryDelay: 1 },
    function flaky(x: number, ctx: TaskContext) {
      attempts.push(ctx.attempt);
      if (ctx.attempt < 3) throw new Error(`try ${ctx.attempt}`);
      return x * 2;
    },
  );
  const events: WeftEvent[] = [];
  const result = await run(flaky, { x: 21 }, { onEvent: (e) => events.push(e) });
  assert.equal(result.outputs, 42);
  assert.deepEqual(attempts, [1, 2, 3]);
  const retrying = events.filter((e) => e.type === "node retrying");
  assert.equal(retrying.length, 2);
  assert.equal(result.graph.nodes[0]!.attempts, 3);

  const always = task({ name: "always", retries: 1, retryDelay: 1 }, (): number => {
    throw new Error("nope");
  });
  const failed = await run(always, {});
  assert.equal(failed.status, "failed");
  const error = failed.errors[0]!;
  assert.ok(error instanceof TaskFailedError);
  assert.equal(error.attempt, 2);
  assert.match(error.message, /task 'always' \(node 'always'\) failed after 2 attempts: nope/);
});

Deno.test("the retry delay grows exponentially; jitter only adds to it", async () => {
  const delays: number[] = [];
  const fails = task({ name: "fails", retries: 3, retryDelay: 10 }, (): number => {
    throw new Error("x");
  });
  await run(fails, {}, {
    onEvent: (e) => e.type === "node retrying" && delays.push(e.delayMs),
  });
  assert.equal(delays.length, 3);
  // base 10, 20, 40; jitter adds at most a tenth and never shortens the stated delay
  assert.ok(delays[0]! >= 10 && delays[0]! <= 11, `${delays}`);
  assert.ok(delays[1]! >= 20 && delays[1]! <= 22, `${delays}`);
  assert.ok(delays[2]! >= 40 && delays[2]! <= 44, `${delays}`);
});

Deno.test("a timeout aborts the task's signal and fails it with TimeoutError", async () => {
  let aborted: unknown;
  const slow = task({ name: "slow", timeout: "30ms" }, async (ctx: TaskContext) => {
    try {
      await sleep(5_000, ctx.signal);
    } catch (e) {
      aborted = e;
      throw e;
    }
    return 1;
  });
  const result = await run(slow, {});
  assert.equal(result.status, "failed");
  const error = result.errors[0]!;
  assert.ok(error instanceof TaskFailedError);
  assert.ok(error.cause instanceof TimeoutError, String(error.cause));
  assert.match(error.message, /timed out after 30 ms/);
  assert.ok(aborted instanceof TimeoutError);
  assert.throws(
    () => task({ name: "bad", timeout: "soon" as never }, () => 1),
    /like "250ms", "30s"/,
  );
});

Deno.test("a failed node fails its dependents while independent branches finish", async () => {
  const ran: string[] = [];
  const boom = task(function boom(): number {
    ran.push("boom");
    throw new Error("bad data");
  });
  const inc = task(function inc(x: number) {
    ran.push(`inc(${x})`);
    return x + 1;
  });
  const slowOk = task(async function slowOk() {
    await sleep(20);
    ran.push("slowOk");
    return 7;
  });
  const wf = workflow(function branches() {
    const failed = inc(boom());
    const fine = inc(slowOk());
    return { failed, fine };
  });
  const result = await run(wf, {});
  assert.equal(result.status, "failed");
  assert.deepEqual(ran.sort(), ["boom", "inc(7)", "slowOk"]);
  assert.equal(result.errors.length, 1);
  assert.equal(result.errors[0]!.nodeId, "boom");
  const status = Object.fromEntries(result.graph.nodes.map((n) => [n.id, n.status]));
  assert.deepEqual(status, {
    boom: "failed",
    inc: "skipped",
    slowOk: "succeeded",
    inc_2: "succeeded",
  });
  await assert.rejects(
    async () => await wf(),
    (e) => e instanceof TaskFailedError && e.nodeId === "boom",
  );
});

Deno.test("cancelling a run aborts running tasks and resolves as cancelled", async () => {
  const controller = new AbortController();
  let sawAbort = false;
  const wait = task({ name: "waits" }, async (i: number, ctx: TaskContext) => {
    try {
      await sleep(10_000, ctx.signal);
    } catch (e) {
      sawAbort = true;
      throw e;
    }
    return i;
  });
  const wf = new Workflow("cancellable");
  const outs = [];
  for (let i = 0; i < 12; i++) outs.push(wf.addEntity(wait, { i }));
  wf.addOutput("o", outs);
  setTimeout(() => controller.abort(), 20);
  const started = Date.now();
  const result = await run(wf, {}, { signal: controller.signal });
  assert.ok(Date.now() - started < 2_000);
  assert.equal(result.status, "cancelled");
  assert.ok(result.errors[0] instanceof CancelledError);
  assert.ok(sawAbort);
  const statuses = new Set(result.graph.nodes.map((n) => n.status));
  assert.deepEqual([...statuses].sort(), ["cancelled"]);
});

Deno.test("a task that ignores cancellation is abandoned after the grace period", async () => {
  const controller = new AbortController();
  const stubborn = task({ name: "stubborn" }, async () => {
    await sleep(300);
    return 1;
  });
  setTimeout(() => controller.abort(), 10);
  const started = Date.now();
  const result = await run(stubborn, {}, { signal: controller.signal, cancelGraceMs: 50 });
  const took = Date.now() - started;
  assert.equal(result.status, "cancelled");
  assert.ok(took < 250, `took ${took} ms`);
  await sleep(300);
});

Deno.test("events tell the story of a run in order", async () => {
  const inc = task(function inc(x: number) {
    return x + 1;
  });
  const wf = workflow(function two(x: number) {
    return inc(inc(x));
  });
  const events: WeftEvent[] = [];
  const result = await run(wf, { x: 1 }, { onEvent: (e) => events.push(e) });
  assert.equal(result.outputs, 3);
  assert.deepEqual(events.map((e) => "nodeId" in e ? `${e.type} ${e.nodeId}` : e.type), [
    "run started",
    "node added inc",
    "node scheduled inc",
    "node added inc_2",
    "node started inc",
    "node succeeded inc",
    "node scheduled inc_2",
    "node started inc_2",
    "node succeeded inc_2",
    "run finished",
  ]);
  const added = events.find((e) => e.type === "node added" && e.nodeId === "inc_2");
  assert.deepEqual(added && "dependsOn" in added ? added.dependsOn : undefined, ["inc"]);
  assert.ok(events.every((e) => e.runId === result.runId));
  const last = events.at(-1)!;
  assert.ok(last.type === "run finished" && last.status === "succeeded" && last.outputs === 3);
});

Deno.test("a listener that throws never fails the run", async () => {
  const one = task(function one() {
    return 1;
  });
  const errors: string[] = [];
  const original = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    const result = await run(one, {}, {
      onEvent: () => {
        throw new Error("listener bug");
      },
    });
    assert.equal(result.status, "succeeded");
  } finally {
    console.error = original;
  }
  assert.ok(errors.some((e) => /listener bug/.test(e)));
});

Deno.test("a value that cannot cross between tasks fails its node with a clear message", async () => {
  class Conn {
    query() {}
  }
  const leaky = task(function leaky() {
    return { conn: new Conn() };
  });
  const result = await run(leaky, {});
  assert.equal(result.status, "failed");
  const error = result.errors[0]!;
  assert.ok(error.cause instanceof ValidationError);
  assert.match(
    error.message,
    /The value returned by task 'leaky' \(node 'leaky'\) holds an instance of Conn at conn, which cannot cross between tasks/,
  );
  await assert.rejects(() =>
    run(
      task(function takes(x: unknown) {
        return x;
      }),
      { x: () => 1 },
    ), /Input 'x' of task 'takes' holds a function/);
});

Deno.test("ctx carries the run id, node id and a log that becomes an event", async () => {
  const seen: Record<string, unknown> = {};
  const inspect = task(function inspect(ctx: TaskContext) {
    seen.runId = ctx.runId;
    seen.nodeId = ctx.nodeId;
    seen.aborted = ctx.signal.aborted;
    ctx.log("hello", { n: 1 });
    return true;
  });
  const events: WeftEvent[] = [];
  const result = await run(inspect, {}, { runId: "ctx-test-1", onEvent: (e) => events.push(e) });
  assert.deepEqual(seen, { runId: "ctx-test-1", nodeId: "inspect", aborted: false });
  const log = events.find((e) => e.type === "node log");
  assert.ok(log && log.type === "node log" && log.message === "hello { n: 1 }");
  assert.equal(result.runId, "ctx-test-1");
});

Deno.test("a task called outside any run executes directly, with its retries", async () => {
  let calls = 0;
  const add = task({ name: "add", retries: 1, retryDelay: 1 }, (x: number, y: number) => {
    if (++calls === 1) throw new Error("first call fails");
    return x + y;
  });
  assert.equal(await add(1, 2), 3);
  assert.equal(calls, 2);
  const named = task({ outputs: ["q", "r"] }, function divmod(a: number, b: number) {
    return { q: Math.floor(a / b), r: a % b };
  });
  assert.deepEqual(await named(7, 2), { q: 3, r: 1 });
  assert.equal(await named(7, 2).outputs.r, 1);
});

Deno.test("the decorator form makes tasks and workflows of static methods", async () => {
  class Math2 {
    @task
    static double(x: number) {
      return x * 2;
    }
    @task({ name: "plus_one", retries: 1 })
    static inc(x: number) {
      return x + 1;
    }
    @workflow
    static pipeline(x: number) {
      return Math2.inc(Math2.double(x));
    }
  }
  assert.equal(await Math2.double(4), 8);
  assert.equal(await Math2.pipeline(4), 9);
  const result = await run(Math2.pipeline as never, { x: 1 });
  assert.deepEqual(result.graph.nodes.map((n) => n.id), ["double", "plus_one"]);
});

Deno.test("task options are checked when the task is defined", () => {
  const f = (x: number) => x;
  assert.throws(() => task((x: number) => x), /A task needs a name/);
  assert.throws(
    () => task({ name: "t", retries: -1 }, f),
    /'retries' must be a non-negative integer or Infinity: current value is -1/,
  );
  assert.throws(
    () => task({ name: "t", concurrency: 0 }, f),
    /'concurrency' must be a positive integer/,
  );
  assert.throws(() => task({ name: "t", retires: 1 } as never, f), /Unknown option 'retires'/);
  assert.throws(
    () => task({ name: "t", permissions: { disk: true } } as never, f),
    /Unknown permission kind 'disk'/,
  );
  assert.throws(
    () => task({ name: "t", permissions: { read: "/etc" } } as never, f),
    /must be true or a list/,
  );
  assert.throws(() => task({ name: "t", permissions: { read: ["/a,b"] } }, f), /contains a comma/);
  assert.throws(() => task({ name: "t", outputs: ["a", "a"] }, f), /Duplicate name 'a'/);
  assert.throws(() => task({ name: "t" }, Math.max), /pass them as the 'params' option/);
  const ok = task({ name: "max", params: ["a", "b"] }, Math.max);
  assert.equal(typeof ok, "function");
});

Deno.test("a task with declared outputs must return them", async () => {
  const bad = task({ outputs: ["a", "b"] }, function bad() {
    return { a: 1 };
  });
  const result = await run(bad, {});
  assert.match(result.errors[0]!.message, /declares outputs a, b but its result lacks b/);
  const arr = task({ outputs: ["a", "b"] }, function arr() {
    return [1];
  });
  assert.match((await run(arr, {})).errors[0]!.message, /returned an array of 1/);
});

Deno.test("running a succeeded run id again returns its result without executing", async () => {
  let calls = 0;
  const count = task(function count(x: number) {
    calls++;
    return x;
  });
  const first = await run(count, { x: 5 }, { runId: "again-1" });
  const second = await run(count, { x: 5 }, { runId: "again-1" });
  assert.equal(calls, 1);
  assert.equal(second.status, "succeeded");
  assert.equal(second.outputs, 5);
  assert.equal(second.startedAt.getTime(), first.startedAt.getTime());
  await assert.rejects(
    () => run(count, { x: 6 }, { runId: "again-1" }),
    /was started with other inputs/,
  );
  await assert.rejects(() => run(count, { x: 5 }, { runId: "bad id!" }), /Cannot use the run id/);

  // Inputs longer than a hash are compared by their SHA-256.
  const long = "v".repeat(100);
  await run(count as never, { x: long }, { runId: "again-2" });
  const repeated = await run(count as never, { x: long }, { runId: "again-2" });
  assert.equal(repeated.outputs, long);
  assert.equal(calls, 2);
  await assert.rejects(
    () => run(count as never, { x: `${long}!` }, { runId: "again-2" }),
    /was started with other inputs/,
  );
});

Deno.test("running a failed run id again resumes: completed nodes are not executed again", async () => {
  const calls: string[] = [];
  let broken = true;
  const first = task(function first(x: number) {
    calls.push("first");
    return x + 1;
  });
  const second = task(function second(x: number) {
    calls.push("second");
    if (broken) throw new Error("not yet");
    return x * 10;
  });
  const wf = workflow(function resumable(x: number) {
    return second(first(x));
  });
  const failed = await run(wf, { x: 1 }, { runId: "resume-mem-1" });
  assert.equal(failed.status, "failed");
  broken = false;
  const resumed = await run(wf, { x: 1 }, { runId: "resume-mem-1" });
  assert.equal(resumed.status, "succeeded");
  assert.equal(resumed.outputs, 20);
  assert.deepEqual(calls, ["first", "second", "second"]);
  assert.deepEqual(resumed.graph.nodes.map((n) => [n.id, n.replayed ?? false]), [["first", true], [
    "second",
    false,
  ]]);
});

Deno.test("cached tasks reuse results for the same inputs and version", async () => {
  let calls = 0;
  const square = task({ name: "square_cached", cache: true, version: "1" }, (x: number) => {
    calls++;
    return x * x;
  });
  const events: WeftEvent[] = [];
  assert.equal((await run(square, { x: 3 })).outputs, 9);
  const again = await run(square, { x: 3 }, { onEvent: (e) => events.push(e) });
  assert.equal(again.outputs, 9);
  assert.equal(calls, 1);
  assert.ok(events.some((e) => e.type === "node cached"));
  assert.equal(again.graph.nodes[0]!.cached, true);
  await run(square, { x: 4 });
  assert.equal(calls, 2);
  await run(square, { x: 3 }, { cache: false });
  assert.equal(calls, 3);
  const v2 = task({ name: "square_cached", cache: true, version: "2" }, (x: number) => {
    calls++;
    return x * x;
  });
  await run(v2, { x: 3 });
  assert.equal(calls, 4);
});
