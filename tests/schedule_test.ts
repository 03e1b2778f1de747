// Schedules under the test clock: a cron schedule over a skipped week with
// each overlap policy, catch-up after a gap, intervals, and the checks of
// schedule options.

import assert from "node:assert/strict";
import { MemoryStore } from "../store.ts";
import {
  flow,
  launchPlan,
  serve,
  type ServeEvent,
  sleep,
  task,
  ValidationError,
  wait,
} from "../mod.ts";
import { TestClock } from "../testing.ts";
import { firesBetween, fireTimes } from "../src/engine/schedule_times.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Monday 2026-01-05, midnight UTC. */
const MONDAY = Date.UTC(2026, 0, 5);

/** A nightly job that takes 30 hours, so that runs overlap when fires come daily. */
function nightly(overlap: "skip" | "queue" | "allow") {
  const work = flow(async function* work(label: string) {
    yield* sleep("30h");
    return label;
  });
  return launchPlan(work, {
    name: `nightly_${overlap}`,
    defaults: { label: overlap },
    schedule: "0 2 * * *",
    overlap,
  });
}

async function serveWeek(overlap: "skip" | "queue" | "allow") {
  const store = new MemoryStore();
  const clock = new TestClock({ start: MONDAY, autoSkip: false });
  const stop = new AbortController();
  const events: ServeEvent[] = [];
  const plan = nightly(overlap);
  const serving = serve([plan], {
    store,
    clock,
    signal: stop.signal,
    onEvent: (e) => events.push(e),
  });
  await clock.advance("7d");
  stop.abort();
  await serving;
  const fires = (await store.listFires(`nightly_${overlap}`)).reverse();
  const runs = await store.listRuns({ entity: `nightly_${overlap}`, limit: 100 });
  const at = (t: number) =>
    `d${Math.floor((t - MONDAY) / DAY)} ${new Date(t).toISOString().slice(11, 16)}`;
  return {
    fires: fires.map((f) => [at(f.fireAt), f.status]),
    runs: runs.reverse().map((r) => [
      at(r.startedAt),
      r.status,
      r.finishedAt === undefined ? "-" : at(r.finishedAt),
    ]),
    events,
  };
}

Deno.test("a cron schedule over a skipped week, overlap allow: every fire starts a run", async () => {
  const { fires, runs } = await serveWeek("allow");
  assert.deepEqual(fires, [0, 1, 2, 3, 4, 5, 6].map((d) => [`d${d} 02:00`, "started"]));
  // Each run takes 30 hours: the one started on day 6 is still asleep at the week's end.
  assert.deepEqual(runs, [
    ["d0 02:00", "succeeded", "d1 08:00"],
    ["d1 02:00", "succeeded", "d2 08:00"],
    ["d2 02:00", "succeeded", "d3 08:00"],
    ["d3 02:00", "succeeded", "d4 08:00"],
    ["d4 02:00", "succeeded", "d5 08:00"],
    ["d5 02:00", "succeeded", "d6 08:00"],
    ["d6 02:00", "sleeping", "-"],
  ]);
});

Deno.test("a cron schedule over a skipped week, overlap skip: fires during a run are skipped", async () => {
  const { fires, runs } = await serveWeek("skip");
  assert.deepEqual(fires, [
    ["d0 02:00", "started"],
    ["d1 02:00", "skipped"],
    ["d2 02:00", "started"],
    ["d3 02:00", "skipped"],
    ["d4 02:00", "started"],
    ["d5 02:00", "skipped"],
    ["d6 02:00", "started"],
  ]);
  assert.deepEqual(runs, [
    ["d0 02:00", "succeeded", "d1 08:00"],
    ["d2 02:00", "succeeded", "d3 08:00"],
    ["d4 02:00", "succeeded", "d5 08:00"],
    ["d6 02:00", "sleeping", "-"],
  ]);
});

Deno.test("a cron schedule over a skipped week, overlap queue: each fire starts when the run before ends", async () => {
  const { fires, runs } = await serveWeek("queue");
  assert.deepEqual(fires, [
    ["d0 02:00", "started"],
    ["d1 02:00", "started"],
    ["d2 02:00", "started"],
    ["d3 02:00", "started"],
    ["d4 02:00", "started"],
    ["d5 02:00", "started"],
    ["d6 02:00", "queued"],
  ]);
  assert.deepEqual(runs, [
    ["d0 02:00", "succeeded", "d1 08:00"],
    ["d1 08:00", "succeeded", "d2 14:00"],
    ["d2 14:00", "succeeded", "d3 20:00"],
    ["d3 20:00", "succeeded", "d5 02:00"],
    ["d5 02:00", "succeeded", "d6 08:00"],
    ["d6 08:00", "sleeping", "-"],
  ]);
});

Deno.test("fires missed while nothing served run late, at most catchUp of them, once", async () => {
  const store = new MemoryStore();
  const clock = new TestClock({ start: MONDAY, autoSkip: false });
  const calls: number[] = [];
  const ping = task(function ping(n: number) {
    calls.push(n);
    return n;
  });
  const job = flow(async function* job(n: number) {
    return yield* wait(ping(n));
  });
  const plan = launchPlan(job, {
    name: "hourly",
    defaults: { n: 1 },
    every: "1h",
    overlap: "allow",
    catchUp: 2,
  });
  const serveFor = async (duration: "3h" | "0ms") => {
    const stop = new AbortController();
    const serving = serve([plan], { store, clock, signal: stop.signal });
    if (duration === "3h") await clock.advance("3h");
    else await clock.settled();
    stop.abort();
    await serving;
  };
  await serveFor("3h");
  assert.equal(calls.length, 3, "01:00, 02:00, 03:00");
  // Down for 5 hours: 04:00 to 08:00 were missed; the two most recent run late.
  await clock.advance("5h");
  await serveFor("0ms");
  const fires = (await store.listFires("hourly")).map((f) =>
    new Date(f.fireAt).toISOString().slice(11, 16)
  );
  assert.deepEqual(fires, ["08:00", "07:00", "03:00", "02:00", "01:00"]);
  assert.equal(calls.length, 5);
  // Served again at once: nothing is missed, nothing runs twice.
  await serveFor("0ms");
  assert.equal(calls.length, 5);
});

Deno.test("schedule options are checked when the launch plan is made", () => {
  const f = flow(async function* f(x: number) {
    return x;
  });
  const bad = (options: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(() => launchPlan(f, { name: "p", defaults: { x: 1 }, ...options }), pattern);
  bad({ schedule: "every day" }, /cron expression of 5 fields/);
  bad({ schedule: "0 2 * * *", every: "1h" }, /both 'schedule' and 'every'/);
  bad({ schedule: "0 2 * * *", timezone: "Mars/Olympus" }, /IANA time zone/);
  bad({ every: "1h", timezone: "UTC" }, /applies to a cron schedule/);
  bad({ schedule: "0 2 * * *", overlap: "sometimes" }, /"skip", "queue" or "allow"/);
  bad({ schedule: "0 2 * * *", catchUp: -1 }, /non-negative integer/);
  bad({ overlap: "skip" }, /needs a schedule/);
  assert.throws(
    () => launchPlan(f, { name: "p", schedule: "0 2 * * *" }),
    (e: unknown) => e instanceof ValidationError && /missing x/.test(e.message),
  );
});

Deno.test("cron fire times follow the time zone across a daylight-saving change", async () => {
  const times = await fireTimes({
    cron: "0 2 * * *",
    timezone: "Europe/Paris",
    everyMs: undefined,
    overlap: "skip",
    catchUp: 1,
  }, "paris");
  const from = Date.UTC(2026, 2, 27, 12);
  const fires = firesBetween(times, from, from + 3 * DAY, 10).map((t) => new Date(t).toISOString());
  // 02:00 does not exist on 29 March in Paris (clocks jump to 03:00); croner fires at 03:00 CEST.
  assert.deepEqual(fires, [
    "2026-03-28T01:00:00.000Z",
    "2026-03-29T01:00:00.000Z",
    "2026-03-30T00:00:00.000Z",
  ]);
  await assert.rejects(
    () =>
      fireTimes({
        cron: "61 * * * *",
        timezone: "UTC",
        everyMs: undefined,
        overlap: "skip",
        catchUp: 1,
      }, "bad"),
    /not a cron expression weft reads/,
  );
});
