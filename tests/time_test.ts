// Durable sleep and signals in flows, in one process: the test clock skips
// time (assertions are on the logical clock), signals arrive before, during
// and after a wait, races of sleeps and signals in both orders, suspension.

import assert from "node:assert/strict";
import {
  flow,
  race,
  run,
  sendSignal,
  signal,
  sleep,
  sleepUntil,
  task,
  ValidationError,
  wait,
  type WeftEvent,
} from "../mod.ts";
import { MemoryStore } from "../store.ts";
import { SqliteStore } from "../sqlite.ts";
import { TestClock } from "../testing.ts";
import { tempDir } from "./_helpers.ts";

const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 1);

/** Resolves when the run has started its first wait of `kind` (seen through events). */
function started(kind: "weft.sleep" | "weft.signal") {
  let resolve!: () => void;
  const seen = new Promise<void>((r) => resolve = r);
  const onEvent = (e: WeftEvent) => {
    if (e.type === "node started" && e.entity === kind) resolve();
  };
  return { seen, onEvent };
}

Deno.test("a flow that sleeps 7 days finishes at once under the test clock, 7 logical days later", async () => {
  const remind = task(function remind(who: string) {
    return `reminded ${who}`;
  });
  const reminder = flow(async function* reminder(who: string) {
    yield* sleep("7d");
    return yield* wait(remind(who));
  });
  const clock = new TestClock({ start: START });
  const t0 = performance.now();
  const result = await run(reminder, { who: "ada" }, { clock });
  const wall = performance.now() - t0;
  assert.equal(result.status, "succeeded");
  assert.equal(result.outputs, "reminded ada");
  assert.equal(clock.now(), START + 7 * DAY);
  assert.equal(result.finishedAt.getTime() - result.startedAt.getTime(), 7 * DAY);
  const [nap, sent] = result.graph.nodes;
  assert.deepEqual([nap!.entity, nap!.kind, nap!.status], ["weft.sleep", "sleep", "succeeded"]);
  assert.equal(nap!.finishedAt! - nap!.startedAt!, 7 * DAY);
  assert.equal(sent!.startedAt, START + 7 * DAY);
  // Generous: the point is that no real week (or second) passes.
  assert.ok(wall < 5_000, `took ${wall} ms`);
});

Deno.test("sleepUntil wakes at its date; a date in the past wakes at once", async () => {
  const until = flow(async function* until(at: Date) {
    yield* sleepUntil(at);
    return "up";
  });
  const clock = new TestClock({ start: START });
  await run(until, { at: new Date(START + 3 * DAY + 5) }, { clock });
  assert.equal(clock.now(), START + 3 * DAY + 5);
  await run(until, { at: new Date(START) }, { clock });
  assert.equal(clock.now(), START + 3 * DAY + 5);
});

Deno.test("sleep, sleepUntil and signal outside a flow, or with bad arguments, are clear errors", async () => {
  assert.throws(() => sleep("1h"), /waits durably only inside a running flow/);
  assert.throws(() => signal("x"), ValidationError);
  const bad = flow(async function* bad() {
    yield* sleep("soon" as "1h");
  });
  const result = await run(bad, {});
  assert.equal(result.status, "failed");
  assert.match(result.errors[0]!.message, /"30s", "5m", "1h", "3d"/);
  const badName = flow(async function* badName() {
    yield* signal("");
  });
  assert.match((await run(badName, {})).errors[0]!.message, /signal name/);
});

Deno.test("a signal sent before the flow waits for it is kept", async () => {
  const store = new MemoryStore();
  const later = flow(async function* later() {
    yield* sleep("1h");
    return yield* signal<string>("go");
  });
  const clock = new TestClock({ start: START, autoSkip: false });
  const { seen, onEvent } = started("weft.sleep");
  const pending = run(later, {}, { store, clock, runId: "before", onEvent });
  await seen;
  await sendSignal("before", "go", "early", { store });
  await clock.advance("1h");
  const result = await pending;
  assert.equal(result.outputs, "early");
});

Deno.test("a signal sent while the flow waits wakes it; the value is journalled for replay", async () => {
  const dir = await tempDir();
  await using _ = dir;
  const path = `${dir.dir}/weft.db`;
  const store = SqliteStore.open(path);
  const seenBy = task(function seenBy(v: number) {
    return v * 2;
  });
  let failNext = true;
  const boom = task(function boom(v: number) {
    if (failNext) throw new Error("once");
    return v;
  });
  const during = flow(async function* during() {
    const v = yield* signal<number>("n");
    const doubled = yield* wait(seenBy(v));
    return yield* wait(boom(doubled));
  });
  const { seen, onEvent } = started("weft.signal");
  const pending = run(during, {}, { store, runId: "during", onEvent });
  await seen;
  // Another store on the same file stands for another process: the waiting run polls.
  const other = SqliteStore.open(path);
  await sendSignal("during", "n", 21, { store: other });
  const first = await pending;
  assert.equal(first.status, "failed");
  // A second signal is not taken by the replay: the journal gives the first value.
  await sendSignal("during", "n", 99, { store: other });
  failNext = false;
  const second = await run(during, {}, { store, runId: "during" });
  assert.equal(second.outputs, 42);
  const signals = await other.listSignals("during");
  assert.deepEqual(signals.map((s) => [s.value, s.takenBy]), [[21, "weft.signal"], [
    99,
    undefined,
  ]]);
  other.close();
  store.close();
});

Deno.test("a signal sent after a wait timed out is kept for the next wait", async () => {
  const store = new MemoryStore();
  const after = flow(async function* after() {
    const first = yield* signal<string>("go", { timeout: "1h" });
    const second = yield* signal<string>("go");
    return [first ?? "timed out", second];
  });
  const clock = new TestClock({ start: START, autoSkip: false });
  const events: WeftEvent[] = [];
  const pending = run(after, {}, { store, clock, runId: "after", onEvent: (e) => events.push(e) });
  await clock.advance("1h");
  await clock.settled();
  assert.ok(events.some((e) => e.type === "node started" && e.nodeId === "weft.signal_2"));
  await sendSignal("after", "go", "late", { store });
  const result = await pending;
  assert.deepEqual(result.outputs, ["timed out", "late"]);
});

Deno.test("signals of one name are received in the order sent, each once; a schema checks values", async () => {
  const store = new MemoryStore();
  const typed = flow(async function* typed() {
    const a = yield* signal<number>("n", { schema: "number" });
    let b: number | string;
    try {
      b = yield* signal<number>("n", { schema: "number" });
    } catch (e) {
      b = (e as Error).message;
    }
    return [a, b];
  });
  const { seen, onEvent } = started("weft.signal");
  const pending = run(typed, {}, { store, runId: "typed", onEvent });
  await seen;
  await sendSignal("typed", "n", 1, { store });
  await sendSignal("typed", "n", "two", { store });
  const result = await pending;
  assert.equal((result.outputs as unknown[])[0], 1);
  assert.match(String((result.outputs as unknown[])[1]), /signal 'n'.*does not fit its schema/);
});

Deno.test("a signal its schema refuses fails the run; resumed, the wait takes the next signal, not the refused one", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    const approve = flow(async function* approve() {
      return yield* signal<boolean>("ok", { schema: "boolean" });
    });
    const { seen, onEvent } = started("weft.signal");
    const first = run(approve, {}, { store, runId: "typed-2", onEvent });
    await seen;
    await sendSignal("typed-2", "ok", "yes", { store });
    const failed = await first;
    assert.equal(failed.status, "failed");
    assert.match(
      failed.errors[0]!.message,
      /^The value of signal 'ok' \(node 'weft\.signal'\) does not fit its schema: it expects boolean but was given the string "yes"; send a value of that type \(the run, resumed, takes the next one\)$/,
    );
    // Resumed before a good value is sent: the refused one is not taken again.
    await sendSignal("typed-2", "ok", true, { store });
    const resumed = await run(approve, {}, { store, runId: "typed-2" });
    assert.equal(resumed.status, "succeeded", JSON.stringify(resumed.errors));
    assert.equal(resumed.outputs, true);
    const node = (await store.getRun("typed-2"))!.nodes.find((n) => n.id === "weft.signal")!;
    assert.equal(node.attempts, 2);
  } finally {
    store.close();
  }
});

Deno.test("race of a signal and a sleep: the signal first wins and its timer is cancelled", async () => {
  for (const order of ["signal first", "sleep first"]) {
    const store = new MemoryStore();
    const approval = flow(async function* approval() {
      const ok = signal<string>("approve");
      const timer = sleep("1h");
      const v = yield* race(order === "signal first" ? [ok, timer] : [timer, ok]);
      return v ?? "timed out";
    });
    const clock = new TestClock({ start: START });
    const { seen, onEvent } = started("weft.signal");
    const pending = run(approval, {}, { store, clock, runId: "r", onEvent });
    await seen;
    await sendSignal("r", "approve", "yes", { store });
    const result = await pending;
    assert.equal(result.outputs, "yes", order);
    assert.equal(clock.now(), START, `${order}: no time passed`);
    assert.equal(clock.pending, 0, `${order}: the timer is disarmed`);
    assert.deepEqual(
      result.graph.nodes.map((n) => [n.entity, n.status]),
      [["weft.signal", "succeeded"], ["weft.sleep", "cancelled"]],
      order,
    );
  }
});

Deno.test("race of a signal and a sleep: the sleep first wins and the signal wait takes nothing", async () => {
  for (const order of ["signal first", "sleep first"]) {
    const store = new MemoryStore();
    const approval = flow(async function* approval() {
      const ok = signal<string>("approve");
      const timer = sleep("1h");
      const v = yield* race(order === "signal first" ? [ok, timer] : [timer, ok]);
      return v ?? "timed out";
    });
    const clock = new TestClock({ start: START });
    const result = await run(approval, {}, { store, clock, runId: "r" });
    assert.equal(result.outputs, "timed out", order);
    assert.equal(clock.now(), START + 3_600_000, order);
    assert.deepEqual(
      result.graph.nodes.map((n) => [n.entity, n.status]),
      [["weft.signal", "cancelled"], ["weft.sleep", "succeeded"]],
      order,
    );
    // The run succeeded: a late signal is refused, none was taken.
    await assert.rejects(() => sendSignal("r", "approve", "late", { store }), /has succeeded/);
    assert.deepEqual(await store.listSignals("r"), []);
  }
});

Deno.test("a flow that returns while a timer is pending does not wait for it", async () => {
  const quick = flow(async function* quick() {
    sleep("1d");
    signal("never");
    return "quick";
  });
  const clock = new TestClock({ start: START });
  const result = await run(quick, {}, { clock });
  assert.equal(result.status, "succeeded");
  assert.equal(result.outputs, "quick");
  assert.equal(clock.now(), START);
  assert.equal(clock.pending, 0);
  assert.deepEqual(result.graph.nodes.map((n) => n.status), ["cancelled", "cancelled"]);
});

Deno.test("a run told to suspend is left sleeping and continues where it was when run again", async () => {
  const store = new MemoryStore();
  const calls: string[] = [];
  const step = task(function step(name: string) {
    calls.push(name);
    return name;
  });
  const twoDays = flow(async function* twoDays() {
    yield* wait(step("before"));
    yield* sleep("2d");
    const answer = yield* signal<string>("answer", { timeout: "1d" });
    yield* wait(step(`after ${answer ?? "silence"}`));
    return answer;
  });
  const clock = new TestClock({ start: START, autoSkip: false });
  const first = await run(twoDays, {}, { store, clock, runId: "s", suspend: "1h" });
  assert.equal(first.status, "sleeping");
  assert.equal(first.wakeAt?.getTime(), START + 2 * DAY);
  assert.deepEqual(first.waitingFor, []);
  assert.equal((await store.getRun("s"))!.status, "sleeping");
  assert.equal((await store.getRun("s"))!.wakeAt, START + 2 * DAY);
  // Resumed early, it suspends again with the same wake-up time.
  const again = await run(twoDays, {}, { store, clock, runId: "s", suspend: "1h" });
  assert.equal(again.status, "sleeping");
  assert.equal(again.wakeAt?.getTime(), START + 2 * DAY);
  await clock.advance("2d");
  const third = await run(twoDays, {}, { store, clock, runId: "s", suspend: "1h" });
  assert.equal(third.status, "sleeping");
  assert.equal(
    third.wakeAt?.getTime(),
    START + 3 * DAY,
    "now it waits for the answer or its timeout",
  );
  assert.deepEqual(third.waitingFor, ["answer"]);
  await sendSignal("s", "answer", "yes", { store, clock });
  const woken = await store.sleepingRuns({ dueBy: clock.now() });
  assert.deepEqual(woken.map((r) => r.id), ["s"]);
  const last = await run(twoDays, {}, { store, clock, runId: "s" });
  assert.equal(last.status, "succeeded");
  assert.equal(last.outputs, "yes");
  assert.deepEqual(calls, ["before", "after yes"]);
});
