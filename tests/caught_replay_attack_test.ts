// Attacks on "a failure a flow caught is replayed on resume": shapes of
// catching (nested flows, a nested workflow, mapTask, ifElse, a skipped
// dependent, retries, timeouts, race, several failures in a loop, a rethrow
// in a later step), stores written before the mark existed, what the tools
// show of a caught node, and weft run killed at random points of a flow
// that catches random failures, then resumed.
//
// Each in-process attack runs a flow whose failing calls fail only the first
// time (a counter of this process), interrupts it with a failure nothing
// catches at its end, and resumes it: the resumed run must take the same
// path (the same output) without calling again what failed and was caught.

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  all,
  flow,
  gt,
  ifElse,
  mapTask,
  race,
  run,
  sendSignal,
  signal,
  task,
  TaskFailedError,
  TimeoutError,
  ValidationError,
  wait,
  workflow,
} from "../mod.ts";
import { replayCheck, TestClock } from "../testing.ts";
import { SqliteStore } from "../sqlite.ts";
import { nodeView, timeline } from "../src/ui/api.ts";
import { deno, ROOT, sleep, tempDir } from "./_helpers.ts";
import { postgresMissing, sharedCluster } from "./_postgres.ts";
import { detach, finished, type Proc, startWeft, stopAll, until, workersUp } from "./_workers.ts";
import { PostgresStore } from "../postgres.ts";

/** Calls of each task in this process, by name. */
const calls = new Map<string, number>();
const count = (name: string) => {
  const n = (calls.get(name) ?? 0) + 1;
  calls.set(name, n);
  return n;
};
const counts = () => Object.fromEntries([...calls].sort(([a], [b]) => a < b ? -1 : 1));

/** Fails on its first call in the process (after a test clears `calls`), then succeeds. */
const flaky = task(function flaky(): string {
  if (count("flaky") === 1) throw new Error("flaky is down");
  return "primary";
});
const fallback = task(function fallback(why: string): string {
  count("fallback");
  return `fallback(${why})`;
});
/** Fails (nothing catches it: the run fails, as a run interrupted there) on its first call, then succeeds. */
const crashHere = task(function crashHere(v: unknown): unknown {
  if (count("crashHere") === 1) throw new Error("interrupted");
  return v;
});

/**
 * Runs `entity` on a SQLite store file (it fails at `crashHere`), checks that
 * `replayCheck` agrees with the recorded run, resumes it, and returns the
 * resumed run's outputs; `calls` then holds every call of both runs.
 */
async function interruptedThenResumed(
  entity: Parameters<typeof run>[0],
  inputs: Record<string, unknown> = {},
): Promise<unknown> {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  calls.clear();
  const first = await run(entity, inputs, { store, runId: "r" });
  assert.equal(first.status, "failed");
  assert.match(first.errors[0]?.message ?? "", /interrupted/, JSON.stringify(first.errors));
  const opened = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    await replayCheck(entity, "r", { store: opened });
  } finally {
    opened.close();
  }
  const resumed = await run(entity, inputs, { store, runId: "r" });
  assert.equal(resumed.status, "succeeded", JSON.stringify(resumed.errors));
  return resumed.outputs;
}

Deno.test("attack: a nested flow catches a failure; the outer flow is interrupted later", async () => {
  const inner = flow(async function* inner() {
    try {
      return yield* wait(flaky());
    } catch {
      return yield* wait(fallback("inner"));
    }
  });
  const outer = flow(async function* nestedCatch() {
    const v = yield* wait(inner());
    return yield* wait(crashHere(v));
  });
  assert.equal(await interruptedThenResumed(outer), "fallback(inner)");
  assert.deepEqual(counts(), { crashHere: 2, fallback: 1, flaky: 1 });
});

Deno.test("attack: the outer flow catches the failure of a nested flow that did not catch it", async () => {
  const inner = flow(async function* innerFails() {
    const v = yield* wait(flaky());
    return `inner ${v}`;
  });
  const outer = flow(async function* catchesInner() {
    let v: string;
    try {
      v = yield* wait(inner());
    } catch (e) {
      v = yield* wait(fallback((e as Error).name));
    }
    return yield* wait(crashHere(v));
  });
  assert.equal(await interruptedThenResumed(outer), "fallback(TaskFailedError)");
  assert.deepEqual(counts(), { crashHere: 2, fallback: 1, flaky: 1 });
});

Deno.test("attack: a flow catches the failure of a nested static workflow", async () => {
  const add = task(function add(v: string): string {
    return `${v}!`;
  });
  const wf = workflow(function staticPart() {
    return add(flaky());
  });
  const outer = flow(async function* catchesWorkflow() {
    let v: string;
    try {
      v = yield* wait(wf());
    } catch {
      v = yield* wait(fallback("workflow"));
    }
    return yield* wait(crashHere(v));
  });
  assert.equal(await interruptedThenResumed(outer), "fallback(workflow)");
  assert.deepEqual(counts(), { crashHere: 2, fallback: 1, flaky: 1 });
});

Deno.test("attack: mapTask of a flow that catches, and a flow that catches a failed mapTask", async () => {
  /** Fails on the first call for element 2, then succeeds. */
  const flakyAt = task(function flakyAt(i: number): number {
    if (count(`flakyAt${i}`) === 1 && i === 2) throw new Error(`element ${i} is down`);
    return i * 10;
  });
  const perItem = flow(async function* perItem(i: number) {
    try {
      return yield* wait(flakyAt(i));
    } catch {
      return -i;
    }
  });
  const mapsCatching = flow(async function* mapsCatching() {
    const out = yield* wait(mapTask(perItem)([1, 2, 3]));
    return yield* wait(crashHere(out));
  });
  assert.deepEqual(await interruptedThenResumed(mapsCatching), [10, -2, 30]);
  assert.deepEqual(counts(), { crashHere: 2, flakyAt1: 1, flakyAt2: 1, flakyAt3: 1 });

  const catchesMap = flow(async function* catchesMap() {
    let out: unknown;
    try {
      out = yield* wait(mapTask(flakyAt)([1, 2, 3]));
    } catch {
      out = yield* wait(fallback("map"));
    }
    return yield* wait(crashHere(out));
  });
  assert.equal(await interruptedThenResumed(catchesMap), "fallback(map)");
  assert.equal(calls.get("flakyAt2"), 1);
  assert.equal(calls.get("fallback"), 1);
});

Deno.test("attack: a flow that catches, in a branch of ifElse in a workflow", async () => {
  const catching = flow(async function* catching(x: number) {
    try {
      return `${yield* wait(flaky())} ${x}`;
    } catch {
      return yield* wait(fallback(`branch ${x}`));
    }
  });
  const other = task(function other(x: number): string {
    return `other ${x}`;
  });
  const wf = workflow(function branches(x: number) {
    const picked = ifElse(gt(x, 0), () => catching(x), () => other(x));
    return crashHere(picked);
  });
  assert.equal(await interruptedThenResumed(wf, { x: 1 }), "fallback(branch 1)");
  assert.deepEqual(counts(), { crashHere: 2, fallback: 1, flaky: 1 });
});

Deno.test("attack: a flow catches the skip of a dependent of a failed call", async () => {
  const use = task(function use(v: string): string {
    count("use");
    return `used ${v}`;
  });
  const f = flow(async function* catchesSkip() {
    const a = flaky();
    const b = use(a);
    let v: string;
    try {
      v = yield* wait(b);
    } catch (e) {
      v = yield* wait(fallback((e as Error).message.includes("flaky is down") ? "skip" : "?"));
    }
    return yield* wait(crashHere(v));
  });
  assert.equal(await interruptedThenResumed(f), "fallback(skip)");
  assert.deepEqual(counts(), { crashHere: 2, fallback: 1, flaky: 1 });
});

Deno.test("attack: a failure caught after its retries (retries: 2) is replayed with its attempts", async () => {
  const retried = task(
    { name: "retried", retries: 2, retryDelay: 0 },
    function retried(): string {
      if (count("retried") <= 3) throw new Error("down thrice");
      return "up";
    },
  );
  const f = flow(async function* catchesRetried() {
    let v: string;
    try {
      v = yield* wait(retried());
    } catch (e) {
      v = yield* wait(fallback(`attempt ${(e as TaskFailedError).attempt}`));
    }
    return yield* wait(crashHere(v));
  });
  assert.equal(await interruptedThenResumed(f), "fallback(attempt 3)");
  assert.deepEqual(counts(), { crashHere: 2, fallback: 1, retried: 3 });
});

Deno.test("attack: a timeout a flow caught is replayed as a timeout (the cause is still a TimeoutError)", async () => {
  const slowOnce = task(
    { name: "slowOnce", timeout: 30 },
    async function slowOnce(_: unknown, ctx?: { signal: AbortSignal }): Promise<string> {
      if (count("slowOnce") === 1) await sleep(300, ctx?.signal).catch(() => {});
      return "quick";
    },
  );
  const f = flow(async function* catchesTimeout() {
    let v: string;
    try {
      v = yield* wait(slowOnce(0));
    } catch (e) {
      const cause = (e as Error).cause;
      v = yield* wait(fallback(cause instanceof TimeoutError ? "timed out" : `other: ${e}`));
    }
    return yield* wait(crashHere(v));
  });
  assert.equal(await interruptedThenResumed(f), "fallback(timed out)");
  assert.deepEqual(counts(), { crashHere: 2, fallback: 1, slowOnce: 1 });
});

Deno.test("attack: a nested flow's timeout caught by the outer flow is replayed as a TimeoutError", async () => {
  const slowFlow = flow(
    { name: "slowFlow", timeout: 30 },
    async function* slowFlow() {
      const t = task(async function napOnce(): Promise<string> {
        if (count("napOnce") === 1) await sleep(300);
        return "awake";
      });
      return yield* wait(t());
    },
  );
  const f = flow(async function* catchesFlowTimeout() {
    let v: string;
    try {
      v = yield* wait(slowFlow());
    } catch (e) {
      v = yield* wait(fallback(e instanceof TimeoutError ? "flow timed out" : `other: ${e}`));
    }
    return yield* wait(crashHere(v));
  });
  assert.equal(await interruptedThenResumed(f), "fallback(flow timed out)");
  assert.equal(calls.get("fallback"), 1);
  assert.equal(calls.get("napOnce"), 1);
});

Deno.test("attack: a signal whose value does not fit its schema, caught: the resumed run gets the same ValidationError, without waiting for another signal", async () => {
  const f = flow(async function* badSignal() {
    let v: string;
    try {
      v = `got ${yield* wait(signal("go", { schema: "number" }))}`;
    } catch (e) {
      v = yield* wait(fallback(e instanceof ValidationError ? "invalid" : `other: ${e}`));
    }
    return yield* wait(crashHere(v));
  });
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  calls.clear();
  const first = run(f, {}, { store, runId: "s" });
  await sleep(200);
  await sendSignal("s", "go", "not a number", { store });
  assert.equal((await first).status, "failed");
  const resumed = await run(f, {}, { store, runId: "s", signal: AbortSignal.timeout(5_000) });
  assert.equal(resumed.status, "succeeded", JSON.stringify(resumed.errors));
  assert.equal(resumed.outputs, "fallback(invalid)");
  assert.deepEqual(counts(), { crashHere: 2, fallback: 1 });
});

Deno.test("attack: race won by a failure a flow caught, while a call listed before it succeeded later", async () => {
  const slowOk = task(async function slowOk(): Promise<string> {
    count("slowOk");
    await sleep(40);
    return "slow won";
  });
  const fastFail = task(function fastFail(): string {
    if (count("fastFail") === 1) throw new Error("fast failure");
    return "fast won";
  });
  const f = flow(async function* racesAFailure() {
    const s = slowOk();
    const q = fastFail();
    let v: string;
    try {
      v = yield* race([s, q]);
    } catch {
      v = yield* wait(fallback("race"));
    }
    // slowOk ends (and is recorded) before the run is interrupted.
    yield* wait(s);
    return yield* wait(crashHere(v));
  });
  assert.equal(await interruptedThenResumed(f), "fallback(race)");
  assert.deepEqual(counts(), { crashHere: 2, fallback: 1, fastFail: 1, slowOk: 1 });
});

Deno.test("attack: race of two successes, the later-listed one first: the resumed run picks the same winner", async () => {
  const slowOk = task(async function slowWin(): Promise<string> {
    count("slowWin");
    await sleep(40);
    return "slow";
  });
  const fastOk = task(function fastWin(): string {
    count("fastWin");
    return "fast";
  });
  const f = flow(async function* racesTwo() {
    const s = slowOk();
    const q = fastOk();
    const v = yield* race([s, q]);
    yield* wait(s);
    return yield* wait(crashHere(v));
  });
  assert.equal(await interruptedThenResumed(f), "fast");
  assert.deepEqual(counts(), { crashHere: 2, fastWin: 1, slowWin: 1 });
});

Deno.test("attack: race of two calls that end in the same millisecond, the later-listed first: the resumed run picks the same winner", async () => {
  // The run's clock stands still: every call ends in the same millisecond.
  const clock = new TestClock({ start: 1_000_000 });
  const later = task(async function endsSecond(): Promise<string> {
    count("endsSecond");
    await sleep(30);
    return "second";
  });
  const first = task(function endsFirst(): string {
    count("endsFirst");
    return "first";
  });
  const f = flow(async function* racesATie() {
    const l = later();
    const v = yield* race([l, first()]);
    yield* wait(l);
    return yield* wait(crashHere(v));
  });
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  calls.clear();
  assert.equal((await run(f, {}, { store, runId: "tie", clock })).status, "failed");
  const resumed = await run(f, {}, { store, runId: "tie", clock });
  assert.equal(resumed.status, "succeeded", JSON.stringify(resumed.errors));
  assert.equal(resumed.outputs, "first");
  assert.deepEqual(counts(), { crashHere: 2, endsFirst: 1, endsSecond: 1 });
});

Deno.test("attack: all() of two calls that both fail, the later-listed first, both caught in the end: the resumed run sees the same failure first", async () => {
  const failsLate = task(async function failsLate(): Promise<string> {
    count("failsLate");
    await sleep(30);
    throw new Error("late failure");
  });
  const failsEarly = task(function failsEarly(): string {
    count("failsEarly");
    throw new Error("early failure");
  });
  const f = flow(async function* bothFail() {
    const late = failsLate();
    const early = failsEarly();
    let v: string;
    try {
      yield* all([late, early]);
      v = "none";
    } catch (e) {
      v = yield* wait(fallback((e as Error).message.includes("early") ? "early" : "late"));
    }
    try {
      yield* wait(late);
    } catch {
      // caught too
    }
    return yield* wait(crashHere(v));
  });
  assert.equal(await interruptedThenResumed(f), "fallback(early)");
  assert.deepEqual(counts(), { crashHere: 2, failsEarly: 1, failsLate: 1, fallback: 1 });
});

Deno.test("attack: failures caught at several positions of a while loop; the same call fails, is caught, then succeeds at a later position", async () => {
  // step(i) fails on its first call for i in FAILING.
  const FAILING = new Set([0, 3, 4, 7]);
  const step = task(function step(i: number): number {
    const n = count(`step${i}`);
    if (n === 1 && FAILING.has(i)) throw new Error(`step ${i} is down`);
    return i * i;
  });
  const f = flow(async function* loops() {
    const out: (number | string)[] = [];
    let i = 0;
    while (i < 9) {
      try {
        out.push(yield* wait(step(i)));
        i++;
      } catch {
        out.push(yield* wait(fallback(`at ${i}`)));
        // Where the loop goes next depends on the failures caught: on, or the same call again.
        if (out.length % 2 === 0) i++;
      }
    }
    return yield* wait(crashHere(out));
  });
  const out = await interruptedThenResumed(f);
  // 0 fails (1 entry: step(0) again), 3 fails (5 entries: again), 4 fails (7: again), 7 fails (11: again).
  assert.deepEqual(out, [
    "fallback(at 0)",
    0,
    1,
    4,
    "fallback(at 3)",
    9,
    "fallback(at 4)",
    16,
    25,
    36,
    "fallback(at 7)",
    49,
    64,
  ]);
  assert.deepEqual(counts(), {
    crashHere: 2,
    fallback: 4,
    step0: 2,
    step1: 1,
    step2: 1,
    step3: 2,
    step4: 2,
    step5: 1,
    step6: 1,
    step7: 2,
    step8: 1,
  });
});

Deno.test("attack: race of a signal wait and a failure caught: the losing wait is cancelled, live and resumed", async () => {
  const fastFail = task(function fastFailing(): string {
    count("fastFailing");
    throw new Error("fast failure");
  });
  const f = flow(async function* raceSignal() {
    let v: string;
    try {
      v = String(yield* race([signal("never"), fastFail()]));
    } catch {
      v = yield* wait(fallback("race"));
    }
    return yield* wait(crashHere(v));
  });
  assert.equal(await interruptedThenResumed(f), "fallback(race)");
  assert.deepEqual(counts(), { crashHere: 2, fallback: 1, fastFailing: 1 });
});

Deno.test("attack: catch, clean up, rethrow in a later step: the resumed run fails the same way, without calling again", async () => {
  const cleanup = task(function cleanup(): string {
    count("cleanup");
    return "cleaned";
  });
  const f = flow(async function* rethrows() {
    try {
      return yield* wait(flaky());
    } catch (e) {
      yield* wait(cleanup());
      throw e;
    }
  });
  const g = flow(async function* finallyWaits() {
    try {
      return yield* wait(flaky());
    } finally {
      yield* wait(cleanup());
    }
  });
  for (const entity of [f, g]) {
    await using tmp = await tempDir();
    const store = `sqlite:${tmp.dir}/weft.db`;
    calls.clear();
    const first = await run(entity, {}, { store, runId: "r" });
    assert.equal(first.status, "failed");
    const resumed = await run(entity, {}, { store, runId: "r" });
    assert.equal(resumed.status, "failed");
    assert.equal(resumed.errors[0]?.message, first.errors[0]?.message);
    assert.equal(resumed.errors[0]?.name, first.errors[0]?.name);
    assert.deepEqual(counts(), { cleanup: 1, flaky: 1 });
  }
});

/**
 * Runs `entity` on a SQLite store file while `bug.on` (it fails on
 * something else than the failure it caught, or rethrows it), then resumes
 * it with the bug fixed (`bug.on` false) and returns both runs.
 */
async function fixedThenResumed(entity: Parameters<typeof run>[0], bug: { on: boolean }) {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  calls.clear();
  bug.on = true;
  const first = await run(entity, {}, { store, runId: "r" });
  assert.equal(first.status, "failed");
  bug.on = false;
  return { first, resumed: await run(entity, {}, { store, runId: "r" }) };
}

Deno.test("attack: a flow catches a failure and fails on a bug in the same step; resumed with the bug fixed, the failure is replayed", async () => {
  const after = task(function afterCatch(v: string): string {
    count("afterCatch");
    return v;
  });
  const bug = { on: true };
  // Caught at await h, the fallback awaited too: all one step.
  const awaits = flow(async function* awaitsInOneStep() {
    let v: string;
    try {
      v = await flaky();
    } catch {
      v = await fallback("same step");
    }
    if (bug.on) throw new Error("a bug after the catch");
    return yield* wait(after(v));
  });
  const { resumed } = await fixedThenResumed(awaits, bug);
  assert.equal(resumed.status, "succeeded", JSON.stringify(resumed.errors));
  assert.equal(resumed.outputs, "fallback(same step)");
  assert.deepEqual(counts(), { afterCatch: 1, fallback: 1, flaky: 1 });

  // Caught at a yield, a call made, and a bug before the next yield.
  const callsThenBug = flow(async function* callsThenBug() {
    let v: string;
    try {
      v = yield* wait(flaky());
    } catch {
      v = "default";
    }
    const h = after(v);
    if (bug.on) throw new Error("a bug after the call");
    return yield* wait(h);
  });
  const second = await fixedThenResumed(callsThenBug, bug);
  assert.equal(second.resumed.status, "succeeded", JSON.stringify(second.resumed.errors));
  assert.equal(second.resumed.outputs, "default");
  assert.equal(calls.get("flaky"), 1);
});

Deno.test("attack: catch, clean up with await, rethrow in the same step: counts as caught (the resumed run fails the same way); a rethrow before any call does not", async () => {
  const cleanup = task(function cleanup(): string {
    count("cleanup");
    return "cleaned";
  });
  const bug = { on: true };
  const cleansUp = flow(async function* cleansUpThenRethrows() {
    try {
      return yield* wait(flaky());
    } catch (e) {
      await cleanup();
      throw e;
    }
  });
  const { first, resumed } = await fixedThenResumed(cleansUp, bug);
  assert.equal(resumed.status, "failed");
  assert.equal(resumed.errors[0]?.message, first.errors[0]?.message);
  assert.deepEqual(counts(), { cleanup: 1, flaky: 1 });

  // Rethrown (wrapped) before any call: nothing caught it; the resumed run calls flaky again.
  const rethrows = flow(async function* rethrowsAtOnce() {
    try {
      return yield* wait(flaky());
    } catch (e) {
      throw new Error("wrapped", { cause: e });
    }
  });
  const again = await fixedThenResumed(rethrows, bug);
  assert.equal(again.resumed.status, "succeeded", JSON.stringify(again.resumed.errors));
  assert.equal(again.resumed.outputs, "primary");
  assert.deepEqual(counts(), { flaky: 2 });
});

Deno.test('attack: a store written before the mark existed (no "caught" key): a resume runs the failed call again', async () => {
  const alwaysDown = task(function alwaysDown(): string {
    count("alwaysDown");
    throw new Error("always down");
  });
  const f = flow(async function* oldStore() {
    let v: string;
    try {
      v = yield* wait(alwaysDown());
    } catch {
      v = yield* wait(fallback("old"));
    }
    return yield* wait(crashHere(v));
  });
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  calls.clear();
  assert.equal((await run(f, {}, { store: `sqlite:${path}`, runId: "old" })).status, "failed");
  const db = new DatabaseSync(path);
  try {
    const rows = db.prepare(
      "SELECT id, error FROM nodes WHERE run_id = 'old' AND error IS NOT NULL",
    )
      .all() as { id: string; error: string }[];
    assert.ok(rows.some((r) => JSON.parse(r.error).caught === true));
    for (const r of rows) {
      const { caught: _, ...rest } = JSON.parse(r.error);
      db.prepare("UPDATE nodes SET error = ? WHERE run_id = 'old' AND id = ?")
        .run(JSON.stringify(rest), r.id);
    }
  } finally {
    db.close();
  }
  const resumed = await run(f, {}, { store: `sqlite:${path}`, runId: "old" });
  assert.equal(resumed.status, "succeeded", JSON.stringify(resumed.errors));
  assert.equal(resumed.outputs, "fallback(old)");
  assert.deepEqual(counts(), { alwaysDown: 2, crashHere: 2, fallback: 1 });
});

// A race under weft run between a task that holds a grant (its value is
// acted on once committed) and one that declares nothing (acted on at once),
// the latter failing at times (caught): the one that ended first must win,
// live as on a replay, which decides by the recorded finish times.
const RACES = `import { flow, race, task, wait } from "${ROOT}/mod.ts";
const granted = task({ name: "granted", permissions: { env: ["HOME"] } }, (i: number) => \`g\${i}\`);
const ahead = task(async function ahead(i: number, ms: number) {
  await new Promise((r) => setTimeout(r, ms));
  if (i % 3 === 0) throw new Error(\`ahead \${i} failed\`);
  return \`a\${i}\`;
});
const note = task(function note(w: string) {
  return w;
});
export const races = flow(async function* races(n: number) {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let w: string;
    try {
      w = yield* race([granted(i), ahead(i, i % 8)]);
    } catch {
      w = \`caught\${i}\`;
    }
    out.push(yield* wait(note(w)));
  }
  return out;
});
`;

Deno.test("attack: weft run races a task that holds a grant against one that runs ahead and fails at times (caught): weft replay picks the same winners", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/races.ts`, RACES);
  const store = `sqlite:${tmp.dir}/weft.db`;
  for (let k = 0; k < 3; k++) {
    const runId = `races-${k}`;
    const r = await deno([
      "run",
      "-A",
      `${ROOT}/cli.ts`,
      "run",
      `${tmp.dir}/races.ts`,
      "races",
      "--input",
      "n=60",
      "--run-id",
      runId,
      "--store",
      store,
      "--quiet",
    ], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
    const replay = await deno(
      ["run", "-A", `${ROOT}/cli.ts`, "replay", runId, `${tmp.dir}/races.ts`, "--store", store],
      { cwd: tmp.dir },
    );
    // (It may not reach the end: a loser that failed, nothing observed, would run again.)
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
  }
});

// weft run killed at random points of a flow that catches random failures:
// `act(i, kind)` declares a write of ./log, appends `i kind` to it on each
// call and fails when a hash of (i, kind) says so (the same on every call, so
// that an uninterrupted run gives the same result); `flip(i)` declares
// nothing (it runs ahead of its commit) and fails so too. The flow catches
// every failure, in shapes whose path depends on which failed: a fallback
// in a nested flow whose own failure escapes it, all() of two calls,
// several positions of a loop.
const CHAOS = `import { all, flow, task, wait } from "${ROOT}/mod.ts";
import { appendFileSync } from "node:fs";

function fails(i: number, kind: string, percent: number): boolean {
  let x = 2166136261;
  for (const ch of \`\${kind}:\${i}\`) x = Math.imul(x ^ ch.charCodeAt(0), 16777619) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 2246822507) >>> 0;
  return ((x ^ (x >>> 13)) >>> 0) % 100 < percent;
}

const act = task(
  { name: "act", permissions: { write: ["./log"] } },
  (i: number, kind: string) => {
    appendFileSync("log", \`\${i} \${kind}\\n\`);
    if (fails(i, kind, 35)) throw new Error(\`\${kind} \${i} failed\`);
    return \`\${kind}\${i}\`;
  },
);

const flip = task(function flip(i: number) {
  if (fails(i, "flip", 20)) throw new Error(\`flip \${i} failed\`);
  return i;
});

const inner = flow(async function* inner(i: number) {
  try {
    return yield* wait(act(i, "inner"));
  } catch {
    // Its own failure escapes the nested flow, when it fails.
    return yield* wait(act(i, "fallback"));
  }
});

export const chaos = flow(async function* chaos(n: number) {
  const out: string[] = [];
  let i = 0;
  while (i < n) {
    try {
      out.push(yield* wait(act(i, "a")));
    } catch {
      try {
        out.push(yield* wait(inner(i)));
      } catch {
        out.push(\`lost\${i}\`);
        i++;
      }
    }
    try {
      yield* wait(flip(i));
    } catch {
      out.push(\`flipped\${i}\`);
      i++;
      continue;
    }
    if (i % 3 === 0) {
      const b = act(i, "b");
      const c = act(i, "c");
      try {
        const [x, y] = yield* all([b, c]);
        out.push(x + y);
      } catch {
        out.push(\`all\${i}\`);
        for (const h of [b, c]) {
          try {
            yield* wait(h);
          } catch {
            // caught
          }
        }
      }
    }
    i++;
  }
  return out;
});
`;

const linesOf = async (dir: string) =>
  (await Deno.readTextFile(`${dir}/log`).catch(() => "")).split("\n").filter((l) => l !== "");

/** `weft ARGS --store STORE` in `dir`, in a process group of its own (killed whole). */
function weftGroup(dir: string, store: string, args: string[]) {
  return new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "-A", `${ROOT}/cli.ts`, ...args, "--quiet", "--store", store],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/**
 * Runs `chaos` with `weft run`, SIGKILLs its whole process group once 1 to
 * 6 more lines are in the log, resumes and kills again, `rounds` times, then
 * resumes to the end. Checks: it succeeded with the uninterrupted run's
 * output, and each call that writes ran once, and once more for each kill
 * it was in flight at (its line was the last one then, or one of the last
 * two for the calls all() runs at once).
 */
async function chaosKilled(
  dir: string,
  store: string,
  n: number,
  rounds: number,
  expected: unknown,
): Promise<{ kills: number; lines: number }> {
  await Deno.writeTextFile(`${dir}/chaos.ts`, CHAOS);
  /** How many kills each line was in flight at. */
  const inFlight = new Map<string, number>();
  let kills = 0;
  for (let round = 0; round < rounds; round++) {
    const before = (await linesOf(dir)).length;
    const child = weftGroup(
      dir,
      store,
      round === 0
        ? ["run", `${dir}/chaos.ts`, "chaos", "--input", `n=${n}`, "--run-id", "killed"]
        : ["resume", "killed"],
    );
    const stderr = new Response(child.stderr).text();
    const target = before + 1 + Math.floor(Math.random() * 6);
    let ended = false;
    child.status.then(() => ended = true);
    const started = Date.now();
    while (!ended && Date.now() - started < 30_000 && (await linesOf(dir)).length < target) {
      await sleep(2);
    }
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // it ended first
    }
    const status = await child.status;
    const text = await stderr;
    if (status.signal === "SIGKILL") {
      kills++;
      // The last call that writes was in flight; all() runs b and c at once.
      const lines = await linesOf(dir);
      const last = lines.slice(-1);
      const [i, kind] = (lines.at(-1) ?? "").split(" ");
      const pair = kind === "b" ? `${i} c` : kind === "c" ? `${i} b` : undefined;
      if (pair !== undefined && lines.at(-2) === pair) last.push(pair);
      for (const line of last) inFlight.set(line, (inFlight.get(line) ?? 0) + 1);
    } else {
      assert.equal(status.code, 0, text);
      break;
    }
  }
  const done = await deno(
    ["run", "-A", `${ROOT}/cli.ts`, "resume", "killed", "--store", store, "--json"],
    { cwd: dir },
  );
  assert.equal(done.code, 0, done.stderr);
  const report = JSON.parse(done.stdout.trim().split("\n").at(-1)!);
  assert.equal(report.status, "succeeded", done.stdout);
  assert.deepEqual(report.outputs, expected);
  const lines = await linesOf(dir);
  const times = new Map<string, number>();
  for (const line of lines) times.set(line, (times.get(line) ?? 0) + 1);
  for (const [line, k] of times) {
    assert.ok(
      k <= 1 + (inFlight.get(line) ?? 0),
      `${line} ran ${k} times; in flight at kills: ${[...inFlight].join(", ")}`,
    );
  }
  // weft replay agrees with the resumed run: the code replays it to its end.
  const replay = await deno(
    ["run", "-A", `${ROOT}/cli.ts`, "replay", "killed", `${dir}/chaos.ts`, "--store", store],
    { cwd: dir },
  );
  assert.equal(replay.code, 0, replay.stdout + replay.stderr);
  const replayed = JSON.parse(replay.stdout);
  assert.equal(replayed.finished, true);
  assert.equal(replayed.beyond, 0);
  return { kills, lines: lines.length };
}

/** The process group of a process (from /proc), or undefined when it is gone. */
function groupOf(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return undefined;
  }
}

/** The output of `chaos` run once, uninterrupted, in a directory of its own. */
async function uninterrupted(n: number): Promise<{ outputs: unknown; lines: number }> {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/chaos.ts`, CHAOS);
  const r = await deno([
    "run",
    "-A",
    `${ROOT}/cli.ts`,
    "run",
    `${tmp.dir}/chaos.ts`,
    "chaos",
    "--input",
    `n=${n}`,
    "--store",
    `sqlite:${tmp.dir}/weft.db`,
    "--json",
  ], { cwd: tmp.dir });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.equal(report.status, "succeeded");
  return { outputs: report.outputs, lines: (await linesOf(tmp.dir)).length };
}

const CHAOS_N = 20;

Deno.test("attack: weft run killed (SIGKILL, the process group) at random points of a flow catching random failures, then resumed (SQLite): each writing call once but the one in flight, the uninterrupted run's output, and weft replay, replayCheck, weft show and the UI's data agree", async () => {
  const reference = await uninterrupted(CHAOS_N);
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  const { kills, lines } = await chaosKilled(tmp.dir, store, CHAOS_N, 8, reference.outputs);
  console.log(`SQLite: ${kills} kills, ${lines} lines (uninterrupted: ${reference.lines})`);
  assert.ok(kills >= 3, `only ${kills} kills`);
  // replayCheck in this process agrees.
  const { chaos } = await import(`file://${tmp.dir}/chaos.ts`);
  const opened = SqliteStore.open(`${tmp.dir}/weft.db`);
  let message: string;
  try {
    const report = await replayCheck(chaos, "killed", { store: opened });
    assert.equal(report.finished, true);
    assert.equal(report.beyond, 0);
    // The tools still read a caught node: its error and message are shown.
    const caught = (await opened.getRun("killed"))!.nodes.filter((n) =>
      n.status === "failed" && (n.error as { caught?: boolean }).caught === true
    );
    assert.ok(caught.length > 0);
    const node = caught[0]!;
    message = node.error!.message;
    const line = (await timeline(opened, "killed"))!.find((l) => l.id === node.id)!;
    assert.equal(line.error, node.error!.message);
    const view = (await nodeView(opened, "killed", node.id, undefined))!;
    assert.match(JSON.stringify(view), new RegExp(node.error!.message.slice(-12)));
  } finally {
    opened.close();
  }
  const show = await deno(["run", "-A", `${ROOT}/cli.ts`, "show", "killed", "--store", store], {
    cwd: tmp.dir,
  });
  assert.equal(show.code, 0, show.stderr);
  assert.ok(show.stdout.includes(message), show.stdout);
  const runs = await deno(["run", "-A", `${ROOT}/cli.ts`, "runs", "--store", store], {
    cwd: tmp.dir,
  });
  assert.equal(runs.code, 0, runs.stderr);
  assert.match(runs.stdout, /killed/);
});

Deno.test({
  name:
    "attack: weft run on PostgreSQL killed (SIGKILL, the process group) at random points of a flow catching random failures, then resumed",
  ignore: postgresMissing() !== undefined,
  async fn() {
    const reference = await uninterrupted(CHAOS_N);
    const url = await (await sharedCluster()).createDatabase("caught_chaos");
    await using tmp = await tempDir();
    const { kills, lines } = await chaosKilled(tmp.dir, url, CHAOS_N, 5, reference.outputs);
    console.log(`PostgreSQL: ${kills} kills, ${lines} lines (uninterrupted: ${reference.lines})`);
    assert.ok(kills >= 2, `only ${kills} kills`);
  },
});

Deno.test({
  name:
    "attack: PostgreSQL workers driving a flow catching random failures, the driving worker SIGKILLed at random points: another takes the run over and replays the caught failures",
  ignore: postgresMissing() !== undefined,
  async fn() {
    const reference = await uninterrupted(CHAOS_N);
    const url = await (await sharedCluster()).createDatabase("caught_takeover");
    await using tmp = await tempDir();
    await Deno.writeTextFile(`${tmp.dir}/chaos.ts`, CHAOS);
    const worker = () =>
      startWeft(["worker", `${tmp.dir}/chaos.ts`, "--store", url, "--lease", "1s"], {
        cwd: tmp.dir,
      });
    const live: Proc[] = [worker(), worker()];
    const all = [...live];
    const inFlight = new Map<string, number>();
    let kills = 0;
    try {
      await workersUp(url, 2);
      const runId = await detach(`${tmp.dir}/chaos.ts`, url, "chaos", [`n=${CHAOS_N}`]);
      const store = await PostgresStore.open(url);
      try {
        for (let k = 0; k < 3; k++) {
          const before = (await linesOf(tmp.dir)).length;
          const target = before + 2 + Math.floor(Math.random() * 6);
          await until("more lines", async () => (await linesOf(tmp.dir)).length >= target);
          // The driver is a process of a worker's group.
          const owner = (await store.runOwner(runId))?.pid;
          const group = owner === undefined ? undefined : groupOf(owner);
          const victim = live.findIndex((p) => p.pid === group);
          if (victim < 0) break;
          live.splice(victim, 1)[0]!.signal("SIGKILL");
          kills++;
          for (const line of (await linesOf(tmp.dir)).slice(-2)) {
            inFlight.set(line, (inFlight.get(line) ?? 0) + 1);
          }
          const fresh = worker();
          live.push(fresh);
          all.push(fresh);
        }
      } finally {
        await store.close();
      }
      const done = await finished(url, runId, 60_000);
      assert.equal(done.status, "succeeded", JSON.stringify(done.errors));
      assert.deepEqual(done.outputs, reference.outputs);
      const times = new Map<string, number>();
      for (const line of await linesOf(tmp.dir)) times.set(line, (times.get(line) ?? 0) + 1);
      for (const [line, k] of times) {
        assert.ok(
          k <= 1 + (inFlight.get(line) ?? 0),
          `${line} ran ${k} times; in flight at kills: ${[...inFlight].join(", ")}`,
        );
      }
      console.log(`workers: ${kills} kills of the driving worker`);
    } finally {
      await stopAll(all);
    }
  },
});
