// The testing helpers: mocked tasks, and replay checking of new code against
// recorded runs (Temporal's replay testing), also across sleeps and signals.

import assert from "node:assert/strict";
import {
  flow,
  NonDeterminismError,
  run,
  sendSignal,
  signal,
  sleep,
  task,
  ValidationError,
  wait,
} from "../mod.ts";
import { MemoryStore } from "../store.ts";
import { SqliteStore } from "../sqlite.ts";
import { mockTask, replayCheck, TestClock } from "../testing.ts";
import { tempDir } from "./_helpers.ts";

const charge = task(function charge(amount: number): string {
  throw new Error(`would charge ${amount} for real`);
});
const email = task(function email(to: string, text: string): string {
  throw new Error(`would mail ${to}: ${text}`);
});

Deno.test("mocked tasks run instead of the real ones, and are recorded as the task", async () => {
  const store = new MemoryStore();
  const checkout = flow(async function* checkout(amount: number) {
    const receipt = yield* wait(charge(amount));
    yield* wait(email("ada@example.com", receipt));
    return receipt;
  });
  const mails: string[] = [];
  const result = await run(checkout, { amount: 12 }, {
    store,
    runId: "m1",
    mocks: [
      mockTask(charge, (amount: number) => `receipt ${amount}`),
      mockTask(email, (to: string, text: string) => {
        mails.push(`${to}: ${text}`);
        return "sent";
      }),
    ],
  });
  assert.equal(result.outputs, "receipt 12");
  assert.deepEqual(mails, ["ada@example.com: receipt 12"]);
  const details = await store.getRun("m1");
  assert.deepEqual(details!.nodes.map((n) => [n.entity, n.status]), [["charge", "succeeded"], [
    "email",
    "succeeded",
  ]]);
  assert.throws(() => mockTask(checkout, () => 1), /replaces tasks/);
  assert.throws(() => mockTask(() => 1, () => 1), ValidationError);
});

const a = task(function a(x: number) {
  return x + 1;
});
const b = task(function b(x: number) {
  return x * 2;
});

function version(calls: (x: number) => Generator<unknown, number, unknown>) {
  return flow({ name: "pipeline" }, async function* (x: number) {
    return yield* calls(x);
  });
}

Deno.test("replay checking passes an unchanged flow and catches a reordered call", async () => {
  const dir = await tempDir();
  await using _ = dir;
  const store = SqliteStore.open(`${dir.dir}/weft.db`);
  const v1 = version(function* (x) {
    const one = yield* wait(a(x));
    return yield* wait(b(one));
  });
  assert.equal((await run(v1, { x: 3 }, { store, runId: "p1" })).outputs, 8);
  const report = await replayCheck(v1, "p1", { store });
  assert.deepEqual(report, { runId: "p1", replayed: 2, beyond: 0, finished: true });
  const reordered = version(function* (x) {
    const two = yield* wait(b(x));
    return yield* wait(a(two));
  });
  const error = await replayCheck(reordered, "p1", { store }).catch((e) => e);
  assert.ok(error instanceof NonDeterminismError, String(error));
  assert.match(error.message, /diverged at the run call #1: the journal recorded a\(x: 3\)/);
  assert.match(error.message, /now calls b\(x: 3\)/);
  // Nothing was run or written: the recorded run is as it was.
  const details = await store.getRun("p1");
  assert.equal(details!.attempts, 1);
  assert.equal(details!.status, "succeeded");
  store.close();
});

Deno.test("replay checking catches a call dropped or added at the end of a finished run", async () => {
  const store = new MemoryStore();
  const v1 = version(function* (x) {
    const one = yield* wait(a(x));
    return yield* wait(b(one));
  });
  await run(v1, { x: 1 }, { store, runId: "p2" });
  const dropped = version(function* (x) {
    return yield* wait(a(x));
  });
  await assert.rejects(
    () => replayCheck(dropped, "p2", { store }),
    /journal recorded b\(x: .*\) but the flow now makes nothing/,
  );
  const added = version(function* (x) {
    const one = yield* wait(a(x));
    const two = yield* wait(b(one));
    return yield* wait(a(two));
  });
  await assert.rejects(
    () => replayCheck(added, "p2", { store }),
    /recorded nothing \(the recorded run had finished\) but the flow now makes a\(/,
  );
  await assert.rejects(() => replayCheck(v1, "nope", { store }), /No run 'nope'/);
  const other = flow(async function* other() {
    return 1;
  });
  await assert.rejects(() => replayCheck(other, "p2", { store }), /ran 'pipeline', not 'other'/);
});

Deno.test("replay checking of a run still going stops where its history ends; sleeps and signals replay", async () => {
  const store = new MemoryStore();
  const clock = new TestClock({ start: 0, autoSkip: false });
  const approve = flow({ name: "approve" }, async function* (x: number) {
    const one = yield* wait(a(x));
    yield* sleep("1d");
    const ok = yield* signal<boolean>("ok");
    return ok ? yield* wait(b(one)) : 0;
  });
  const first = await run(approve, { x: 1 }, { store, clock, runId: "p3", suspend: true });
  assert.equal(first.status, "sleeping");
  let report = await replayCheck(approve, "p3", { store });
  assert.deepEqual(report, { runId: "p3", replayed: 2, beyond: 0, finished: false });
  await clock.advance("1d");
  const second = await run(approve, { x: 1 }, { store, clock, runId: "p3", suspend: true });
  assert.deepEqual(second.waitingFor, ["ok"]);
  await sendSignal("p3", "ok", true, { store, clock });
  assert.equal((await run(approve, { x: 1 }, { store, clock, runId: "p3" })).outputs, 4);
  report = await replayCheck(approve, "p3", { store });
  assert.deepEqual(report, { runId: "p3", replayed: 4, beyond: 0, finished: true });
  // A new version that waits for another signal diverges at the signal.
  const renamed = flow({ name: "approve" }, async function* (x: number) {
    const one = yield* wait(a(x));
    yield* sleep("1d");
    const ok = yield* signal<boolean>("approved");
    return ok ? yield* wait(b(one)) : 0;
  });
  await assert.rejects(
    () => replayCheck(renamed, "p3", { store }),
    /call #3: the journal recorded weft\.signal\(name: "ok"\) .*but the flow now calls weft\.signal\(name: "approved"\)/,
  );
});
