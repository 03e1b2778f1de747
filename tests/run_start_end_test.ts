// What a short run writes on SQLite beyond its steps: its claim goes into the
// commit of its start, its end and the release of its claim into one commit,
// and small inputs and outputs stay in the run's row.

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { flow, run, RunOwnedError, task, wait } from "../mod.ts";
import { SqliteStore } from "../sqlite.ts";
import { tempDir } from "./_helpers.ts";

const noop = task(function noop(x: number) {
  return x;
});

Deno.test("a run of one task on SQLite is two commits: claim and start, then end and release", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    await run(noop, { x: 0 }, { store }); // the first run of the process loads what it needs
    const before = store.group.commits;
    const result = await run(noop, { x: 1 }, { store, runId: "short-1" });
    assert.equal(result.outputs, 1);
    assert.equal(store.group.commits - before, 2);
    const recorded = (await store.getRun("short-1"))!;
    assert.equal(recorded.status, "succeeded");
    assert.deepEqual(recorded.nodes.map((n) => [n.id, n.status]), [["noop", "succeeded"]]);
    assert.equal(await store.runOwner("short-1"), undefined, "the claim was given up");
    assert.deepEqual(await store.takeovers("short-1"), []);
    // Run again: a succeeded run is returned as recorded, with one commit for the claim.
    const again = await run(noop, { x: 1 }, { store, runId: "short-1" });
    assert.equal(again.outputs, 1);
    assert.equal(await store.runOwner("short-1"), undefined);
  } finally {
    store.close();
  }
});

Deno.test("a short run on SQLite writes few pages: a run that never sleeps is not in the index of wake-up times", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  const store = SqliteStore.open(path);
  const db = new DatabaseSync(path);
  try {
    for (let i = 0; i < 20; i++) await run(noop, { x: i }, { store });
    // (From another connection: the WAL starts empty, and 40 runs stay below an automatic checkpoint.)
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    const n = 40;
    for (let i = 0; i < n; i++) await run(noop, { x: i }, { store });
    const frames = (Deno.statSync(`${path}-wal`).size - 32) / (4096 + 24);
    // Its start: the claim, the run's row and its id; its end: the node, the release, the row.
    // (With every run in the index of wake-up times, 9.4 pages a run were written.)
    assert.ok(frames / n <= 7, `${(frames / n).toFixed(2)} pages written per run`);
    const inIndex = db.prepare(
      "SELECT count(*) AS n FROM runs INDEXED BY runs_sleeping WHERE status = 'sleeping'",
    ).get() as { n: number };
    assert.equal(inIndex.n, 0);
  } finally {
    db.close();
    store.close();
  }
});

Deno.test("short runs one after another on SQLite share the heartbeat and commit timers instead of setting their own", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  const realSetTimeout = globalThis.setTimeout;
  let set = 0;
  try {
    await run(noop, { x: 0 }, { store });
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      set++;
      return realSetTimeout(...args);
    }) as typeof setTimeout;
    for (let i = 1; i <= 10; i++) assert.equal((await run(noop, { x: i }, { store })).outputs, i);
    // (Each run used to set two timers, its claim's heartbeat and its session's commit, and clear them.)
    assert.ok(set <= 2, `${set} timers set by 10 runs`);
  } finally {
    globalThis.setTimeout = realSetTimeout;
    store.close();
  }
  // The timers left set keep nothing alive: the test sanitizer would report them otherwise.
});

Deno.test("a new run on SQLite reads nothing: its claim and its row are written without a read first", async () => {
  await using tmp = await tempDir();
  const prepare = DatabaseSync.prototype.prepare;
  let reads = 0;
  DatabaseSync.prototype.prepare = function (this: DatabaseSync, sql: string) {
    const statement = prepare.call(this, sql);
    if (/^\s*SELECT/i.test(sql)) {
      const get = statement.get as (...args: unknown[]) => unknown;
      statement.get = function (this: unknown, ...args: unknown[]) {
        reads++;
        return get.apply(this, args);
      } as typeof statement.get;
    }
    return statement;
  } as typeof prepare;
  let store: SqliteStore;
  try {
    store = SqliteStore.open(`${tmp.dir}/weft.db`);
  } finally {
    DatabaseSync.prototype.prepare = prepare;
  }
  try {
    await run(noop, { x: 0 }, { store });
    reads = 0;
    assert.equal((await run(noop, { x: 1 }, { store, runId: "fresh" })).outputs, 1);
    // (The owner and the run's row were each read before being written.)
    assert.equal(reads, 0);
    // An id already there is read: a succeeded run is returned as recorded.
    const again = await run(noop, { x: 1 }, { store, runId: "fresh" });
    assert.equal(again.fromRecord, true);
    assert.ok(reads > 0);
    assert.equal(await store.runOwner("fresh"), undefined);
  } finally {
    store.close();
  }
});

Deno.test("a claim refused by a live owner writes nothing of the run", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    await store.claimRun({
      runId: "held",
      ownerId: "elsewhere-1",
      pid: 4242,
      host: "another-machine",
      leaseMs: 60_000,
    });
    await assert.rejects(
      () => run(noop, { x: 1 }, { store, runId: "held" }),
      (e) =>
        e instanceof RunOwnedError &&
        /run held is running \(pid 4242 on another-machine/.test(e.message),
    );
    assert.equal(await store.getRun("held"), undefined);
    assert.equal((await store.runOwner("held"))?.ownerId, "elsewhere-1");
  } finally {
    store.close();
  }
});

Deno.test("a failed run resumed on SQLite claims, marks it running and replays in one commit", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  let broken = true;
  const step = task(function step(i: number) {
    if (broken && i === 2) throw new Error("not yet");
    return i;
  });
  const steps = flow(async function* steps() {
    let total = 0;
    for (let i = 0; i < 3; i++) total += yield* wait(step(i));
    return total;
  });
  try {
    assert.equal((await run(steps, {}, { store, runId: "again" })).status, "failed");
    broken = false;
    const before = store.group.commits;
    const resumed = await run(steps, {}, { store, runId: "again" });
    assert.equal(resumed.status, "succeeded");
    assert.equal(resumed.outputs, 3);
    const recorded = (await store.getRun("again"))!;
    assert.equal(recorded.attempts, 2);
    assert.equal(recorded.status, "succeeded");
    // claim and start; the step that ran again; end and release
    assert.equal(store.group.commits - before, 3);
    assert.equal(await store.runOwner("again"), undefined);
  } finally {
    store.close();
  }
});

Deno.test("small run inputs and outputs are kept in the run's row, large ones in the values table, and both are found by hash", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  const store = SqliteStore.open(path);
  const echo = task(function echo(text: string) {
    return text;
  });
  const big = "x".repeat(500);
  try {
    const small = await run(echo, { text: "hi" }, { store, runId: "small" });
    const large = await run(echo, { text: big }, { store, runId: "large" });
    assert.equal(small.outputs, "hi");
    assert.equal(large.outputs, big);
    const db = new DatabaseSync(path);
    const rows = db.prepare("SELECT id, inputs, inputs_hash, outputs, outputs_hash FROM runs")
      .all() as {
        id: string;
        inputs: string | null;
        inputs_hash: string;
        outputs: string | null;
        outputs_hash: string;
      }[];
    const values = new Set(
      (db.prepare('SELECT hash FROM "values"').all() as { hash: string }[]).map((r) => r.hash),
    );
    db.close();
    const bySmall = rows.find((r) => r.id === "small")!;
    const byLarge = rows.find((r) => r.id === "large")!;
    assert.equal(bySmall.inputs, '{"text":"hi"}');
    assert.equal(bySmall.outputs, '"hi"');
    assert.ok(!values.has(bySmall.inputs_hash));
    assert.equal(byLarge.inputs, null);
    assert.equal(byLarge.outputs, null);
    assert.ok(values.has(byLarge.inputs_hash) && values.has(byLarge.outputs_hash));
    // Read back, by run and by hash (or a prefix of it).
    assert.deepEqual((await store.getRun("small"))!.inputs, { text: "hi" });
    assert.equal((await store.getRun("small"))!.outputs, "hi");
    assert.deepEqual((await store.getValue(bySmall.inputs_hash))?.value, { text: "hi" });
    assert.deepEqual((await store.getValue(bySmall.inputs_hash.slice(0, 12)))?.value, {
      text: "hi",
    });
    const lineage = await store.lineage(bySmall.inputs_hash.slice(0, 12));
    assert.equal(lineage.value.hash, bySmall.inputs_hash);
    assert.match(lineage.value.preview, /text/);
    const ofOutput = await store.lineage("small/echo/o0");
    assert.equal(ofOutput.value.preview, '"hi"');
    assert.equal((await store.getRun("large"))!.outputs, big);
  } finally {
    store.close();
  }
});
