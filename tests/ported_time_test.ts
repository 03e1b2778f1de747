// Scenarios ported from peers' samples and tests about time and signals. Each
// test names its source; the inputs and expected values come from it. What
// differs is said where it differs (weft's signals are values a flow waits
// for, where Temporal's are handlers that set state).

import assert from "node:assert/strict";
import {
  flow,
  launchPlan,
  race,
  run,
  sendSignal,
  serve,
  signal,
  sleep,
  task,
  wait,
  type WeftEvent,
} from "../mod.ts";
import { MemoryStore } from "../store.ts";
import { TestClock } from "../testing.ts";

const DAY = 86_400_000;

// Temporal samples-typescript, timer/src/workflows.ts (processOrderWorkflow)
// with timer/src/starter/fast.ts (execute(100, 1000): "Does not send email")
// and slow.ts (execute(1000, 100): "Sends email"). The activity's processing
// time is a durable sleep in a sub-flow, so that the test clock decides the
// race exactly.
Deno.test("Temporal timer sample: a slow order sends a notification, a fast one does not", async () => {
  for (
    const [orderProcessingMS, sendDelayedEmailTimeoutMS, emails] of [[100, 1000, 0], [1000, 100, 1]]
  ) {
    const sent: string[] = [];
    const sendNotificationEmail = task(function sendNotificationEmail() {
      sent.push("order processing is taking longer than expected");
      return "sent";
    });
    const processOrder = flow(async function* processOrder(ms: number) {
      yield* sleep(ms);
      return "processed";
    });
    const processOrderWorkflow = flow(
      async function* processOrderWorkflow(orderProcessingMS: number, timeoutMS: number) {
        const processing = processOrder(orderProcessingMS);
        const first = yield* race([processing, sleep(timeoutMS)]);
        if (first === undefined) {
          yield* wait(sendNotificationEmail());
          yield* wait(processing);
        }
      },
    );
    const clock = new TestClock({ start: 0 });
    const result = await run(processOrderWorkflow, {
      orderProcessingMS,
      timeoutMS: sendDelayedEmailTimeoutMS,
    }, { clock });
    assert.equal(result.status, "succeeded");
    assert.equal(
      sent.length,
      emails,
      `execute(${orderProcessingMS}, ${sendDelayedEmailTimeoutMS})`,
    );
    assert.equal(clock.now(), orderProcessingMS, "done when the order is processed");
  }
});

// Temporal samples-typescript, sleep-for-days/src/workflows.ts and its test
// sleep-for-days/src/test/workflows.test.ts ("runs continuously until signal
// is received"): after 5 minutes one email, after 90 more days four, the
// 'complete' signal ends it with 'done!', more than 90 days later. In weft the
// signal ends the current sleep at once (a race), where Temporal's handler
// lets the sleep run out: the counts the test asserts are the same.
Deno.test("Temporal sleep-for-days: an email every 30 days until the complete signal", async () => {
  const emails: string[] = [];
  const sendEmail = task(function sendEmail(text: string) {
    emails.push(text);
  });
  const sleepForDays = flow(async function* sleepForDays(numDays: number) {
    while (true) {
      yield* wait(sendEmail(`Sleeping for ${numDays} days`));
      const complete = yield* race([signal("complete"), sleep(numDays * DAY)]);
      if (complete !== undefined) return "done!";
    }
  });
  const store = new MemoryStore();
  const clock = new TestClock({ start: Date.UTC(2026, 0, 1), autoSkip: false });
  const startTime = clock.now();
  const pending = run(sleepForDays, { numDays: 30 }, { store, clock, runId: "days" });
  await clock.advance("5m");
  assert.equal(emails.length, 1);
  await clock.advance("90d");
  assert.equal(emails.length, 4);
  await sendSignal("days", "complete", true, { store, clock });
  const result = await pending;
  assert.equal(result.outputs, "done!");
  assert.equal(emails.length, 4);
  assert.ok(clock.now() - startTime > 90 * DAY);
});

// Temporal samples-typescript, signals-queries/src/workflows.ts
// (unblockOrCancel: blocked until the 'unblock' signal; the 'isBlocked' query
// says true, then false). The query reads the run's record: its signal wait
// is running while blocked.
Deno.test("Temporal signals-queries: a flow blocked until the unblock signal, and a query of its state", async () => {
  const store = new MemoryStore();
  const logs: string[] = [];
  const log = task(function log(line: string) {
    logs.push(line);
  });
  const unblockOrCancel = flow(async function* unblockOrCancel() {
    yield* wait(log("Blocked"));
    yield* signal("unblock");
    yield* wait(log("Unblocked"));
  });
  const blocked = Promise.withResolvers<void>();
  const onEvent = (e: WeftEvent) => {
    if (e.type === "node started" && e.entity === "weft.signal") blocked.resolve();
  };
  const pending = run(unblockOrCancel, {}, { store, runId: "blocked", onEvent });
  await blocked.promise;
  const isBlocked = async () =>
    (await store.getRun("blocked"))!.nodes.some((n) =>
      n.entity === "weft.signal" && n.status === "running"
    );
  assert.equal(await isBlocked(), true);
  await sendSignal("blocked", "unblock", true, { store });
  assert.equal((await pending).status, "succeeded");
  assert.equal(await isBlocked(), false);
  assert.deepEqual(logs, ["Blocked", "Unblocked"]);
});

// Temporal samples-typescript, schedules/src/start-schedule.ts and
// schedules/src/workflows.ts: a 'reminder' workflow started every 10 seconds
// (overlap ALLOW_ALL, catch-up window one day) that adds the reminder to a
// database and notifies the user with the same text.
Deno.test("Temporal schedules sample: a reminder every 10 seconds adds to the database and notifies", async () => {
  const text = "♻️ Dear future self, please take out the recycling tonight. Sincerely, past you ❤️";
  const database: string[] = [];
  const notified: string[] = [];
  const addReminderToDatabase = task(function addReminderToDatabase(text: string) {
    database.push(text);
  });
  const notifyUser = task(function notifyUser(text: string) {
    notified.push(text);
  });
  const reminder = flow(async function* reminder(text: string) {
    yield* wait(addReminderToDatabase(text));
    yield* wait(notifyUser(text));
  });
  const sampleSchedule = launchPlan(reminder, {
    name: "sample-schedule",
    defaults: { text },
    every: "10s",
    overlap: "allow",
    catchUp: 8640, // one day of 10-second fires
  });
  const store = new MemoryStore();
  const clock = new TestClock({ start: Date.UTC(2026, 0, 1), autoSkip: false });
  const stop = new AbortController();
  const serving = serve([sampleSchedule], { store, clock, signal: stop.signal });
  await clock.advance("1m");
  stop.abort();
  await serving;
  assert.equal(database.length, 6);
  assert.deepEqual(notified, database);
  assert.ok(database.every((t) => t === text));
  const fires = await store.listFires("sample-schedule");
  assert.deepEqual(
    fires.map((f) => new Date(f.fireAt).toISOString().slice(14, 19)).reverse(),
    ["00:10", "00:20", "00:30", "00:40", "00:50", "01:00"],
  );
});

// DBOS dbos-transact-ts, tests/dbos.test.ts, 'simple-workflow-notifications'
// (receiveWorkflow / sendWorkflow): a send to a workflow that does not exist
// fails; two messages are received in the order sent, and a recv with a
// timeout of 0 on a topic with nothing gives null, so the workflow returns
// true. DBOS's default topic is a signal named "messages" here.
Deno.test("DBOS simple-workflow-notifications: messages in order, a recv with timeout 0 gives nothing", async () => {
  const store = new MemoryStore();
  await assert.rejects(
    () => sendSignal("1234567", "messages", "message1", { store }),
    /No run '1234567'/,
  );
  const receiveWorkflow = flow(async function* receiveWorkflow() {
    const message1 = yield* signal<string>("messages");
    const message2 = yield* signal<string>("messages");
    const fail = yield* signal("fail", { timeout: 0 });
    return message1 === "message1" && message2 === "message2" && fail === undefined;
  });
  const waiting = Promise.withResolvers<void>();
  const pending = run(receiveWorkflow, {}, {
    store,
    runId: "receiver",
    onEvent: (e) => e.type === "run started" && waiting.resolve(),
  });
  await waiting.promise;
  await sendSignal("receiver", "messages", "message1", { store });
  await sendSignal("receiver", "messages", "message2", { store });
  assert.equal((await pending).outputs, true);
});

// DBOS dbos-transact-ts, tests/oaoo.test.ts, 'workflow-sleep-oaoo'
// (sleepWorkflow(2)): the first run sleeps at least 2 seconds (the step's
// recorded timing too); running the same workflow id again skips the sleep.
// Timing is read on the test clock.
Deno.test("DBOS workflow-sleep-oaoo: a sleep of 2 s is recorded; the same run id again does not sleep", async () => {
  const store = new MemoryStore();
  const sleepWorkflow = flow(async function* sleepWorkflow(durationSec: number) {
    yield* sleep(durationSec * 1000);
  });
  const clock = new TestClock({ start: 0 });
  const first = await run(sleepWorkflow, { durationSec: 2 }, { store, clock, runId: "oaoo" });
  assert.equal(first.status, "succeeded");
  assert.ok(clock.now() >= 1950);
  const steps = (await store.getRun("oaoo"))!.nodes;
  assert.equal(steps.length, 1);
  assert.equal(steps[0]!.entity, "weft.sleep");
  assert.ok(steps[0]!.finishedAt! - steps[0]!.startedAt! >= 2000);
  const before = clock.now();
  const again = await run(sleepWorkflow, { durationSec: 2 }, { store, clock, runId: "oaoo" });
  assert.equal(again.status, "succeeded");
  assert.equal(clock.now() - before, 0);
});

// DBOS dbos-transact-ts, tests/oaoo.test.ts, 'workflow-recv-oaoo'
// (recvWorkflow(2): recv on 'a-topic' with a 2-second timeout) and
// tests/dbos.test.ts 'recv-timeout' (recv with timeout 0 gives null): the
// wait gives nothing after its timeout; the same run id again does not wait.
Deno.test("DBOS workflow-recv-oaoo and recv-timeout: a timed-out receive gives nothing, once", async () => {
  const store = new MemoryStore();
  const recvWorkflow = flow(async function* recvWorkflow(timeoutSeconds: number) {
    return (yield* signal("a-topic", { timeout: timeoutSeconds * 1000 })) ?? null;
  });
  const clock = new TestClock({ start: 0 });
  const first = await run(recvWorkflow, { timeoutSeconds: 2 }, { store, clock, runId: "recv" });
  assert.equal(first.outputs, null);
  assert.ok(clock.now() >= 1950);
  const before = clock.now();
  const again = await run(recvWorkflow, { timeoutSeconds: 2 }, { store, clock, runId: "recv" });
  assert.equal(again.outputs, null);
  assert.equal(clock.now() - before, 0);
  const zero = await run(recvWorkflow, { timeoutSeconds: 0 }, { store, clock });
  assert.equal(zero.outputs, null);
  assert.equal(clock.now(), before);
});
