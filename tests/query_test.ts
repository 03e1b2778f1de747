// A run's published state (publish / queryRun / weft query), the query of
// issue 15 (Temporal's queries, DBOS's setEvent/getEvent): read from the store
// while the run waits, while it sleeps holding no process, and after it ended.

import assert from "node:assert/strict";
import {
  flow,
  publish,
  queryRun,
  run,
  sendSignal,
  signal,
  task,
  ValidationError,
  wait,
  type WeftEvent,
} from "../mod.ts";
import { MemoryStore } from "../store.ts";
import { deno, ROOT, tempDir } from "./_helpers.ts";

const fetchPart = task(function fetchPart(i: number) {
  return i * 10;
});

const batch = flow(async function* batch(n: number) {
  let total = 0;
  for (let i = 1; i <= n; i++) {
    total += yield* wait(fetchPart(i));
    yield* wait(publish("progress", { done: i, of: n, total }));
  }
  yield* wait(publish("stage", "waiting for approval"));
  const ok = yield* signal<boolean>("approve");
  yield* wait(publish("stage", ok ? "approved" : "rejected"));
  return total;
});

Deno.test("queryRun reads the latest value a run published under a name, while it waits and after it ended", async () => {
  const store = new MemoryStore();
  let waiting!: () => void;
  const blocked = new Promise<void>((r) => waiting = r);
  const onEvent = (e: WeftEvent) => {
    if (e.type === "node started" && e.entity === "weft.signal") waiting();
  };
  const pending = run(batch, { n: 3 }, { store, runId: "b1", onEvent });
  await blocked;
  assert.deepEqual(await queryRun("b1", "progress", { store }), { done: 3, of: 3, total: 60 });
  assert.equal(await queryRun("b1", "stage", { store }), "waiting for approval");
  assert.equal(await queryRun("b1", "never", { store }), undefined);
  await sendSignal("b1", "approve", true, { store });
  assert.equal((await pending).outputs, 60);
  assert.equal(await queryRun("b1", "stage", { store }), "approved");
  await assert.rejects(() => queryRun("nope", "stage", { store }), ValidationError);
});

Deno.test("publish() with a bad name fails the call with a ValidationError that says what a name is", async () => {
  const bad = flow(async function* bad() {
    return yield* wait(publish("", 1));
  });
  const result = await run(bad, {}, { store: new MemoryStore() });
  assert.equal(result.status, "failed");
  assert.match(result.errors[0]!.message, /publish\(\) needs a name of 1 to 200 characters/);
});

Deno.test("weft query prints a sleeping run's published state as JSON, every name without NAME, and exits 2 for what is not there", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/batch.ts`,
    `import { flow, publish, signal, task, wait } from "${ROOT}/mod.ts";
const fetchPart = task(function fetchPart(i: number) {
  return i * 10;
});
export const batch = flow(async function* batch(n: number) {
  let total = 0;
  for (let i = 1; i <= n; i++) {
    total += yield* wait(fetchPart(i));
    yield* wait(publish("progress", { done: i, of: n, total: BigInt(total) }));
  }
  yield* wait(publish("stage", "waiting for approval"));
  const ok = yield* signal<boolean>("approve");
  yield* wait(publish("stage", ok ? "approved" : "rejected"));
  return total;
});
`,
  );
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const weft = (args: string[]) => deno(["run", "-A", `${ROOT}/cli.ts`, ...args], { cwd: tmp.dir });
  const first = await weft(
    ["run", "batch.ts", "--input", "n=2", "--run-id", "b2", "--suspend", "0", ...store],
  );
  assert.equal(first.code, 75, first.stderr);
  const progress = await weft(["query", "b2", "progress", ...store]);
  assert.equal(progress.code, 0, progress.stderr);
  assert.deepEqual(JSON.parse(progress.stdout), { done: 2, of: 2, total: { $bigint: "30" } });
  const every = await weft(["query", "b2", ...store]);
  assert.equal(every.code, 0, every.stderr);
  assert.deepEqual(Object.keys(JSON.parse(every.stdout)), ["progress", "stage"]);
  assert.equal(JSON.parse(every.stdout).stage, "waiting for approval");
  const missing = await weft(["query", "b2", "nope", ...store]);
  assert.equal(missing.code, 2);
  assert.equal(
    missing.stderr,
    "weft: Run b2 has published nothing under 'nope' (yet); it has published 'progress', 'stage'\n",
  );
  const unknown = await weft(["query", "nobody", "stage", ...store]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^weft: No run 'nobody' in the store/);
  const usage = await weft(["query", ...store]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /give RUN_ID and optionally NAME/);
  assert.equal((await weft(["signal", "b2", "approve", "false", ...store])).code, 0);
  const resumed = await weft(["resume", "b2", "--quiet", ...store]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const stage = await weft(["query", "b2", "stage", ...store]);
  assert.equal(JSON.parse(stage.stdout), "rejected");
});
