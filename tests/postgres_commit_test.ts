// The PostgreSQL store's group commit: a run's start (with its claim) and its
// end (with the release of its claim) go into the commits every other run of
// the process shares; a start races claims made the slow way and exactly one
// wins; runs killed at random points while they share commits all resume with
// nothing acted-on lost; and a worker's completion is heard at once by a page
// watching the store from another process. Against a private cluster
// (_postgres.ts); skipped with a message where PostgreSQL is not installed.

import assert from "node:assert/strict";
import { all, flow, run, RunOwnedError, task, wait } from "../mod.ts";
import { QueueExecutor } from "../src/engine/executors/queue.ts";
import { runWith } from "../src/engine/mod.ts";
import type { Store } from "../src/store/mod.ts";
import { PostgresStore } from "../src/store/postgres/mod.ts";
import { storedOutputs } from "../src/store/postgres/queue.ts";
import { PgSession } from "../src/store/postgres/session.ts";
import { statementTextsBuilt } from "../src/store/postgres/batch.ts";
import { valueHash } from "../src/core/values.ts";
import { StoreWatch } from "../src/ui/feed.ts";
import { ROOT, tempDir } from "./_helpers.ts";
import { assertActedOnRecorded, assertResumedOnce, stepsLogged } from "./_crash.ts";
import { postgresMissing, sharedCluster } from "./_postgres.ts";
import { until } from "./_workers.ts";

const ignore = postgresMissing() !== undefined;
if (ignore) console.warn(`weft: PostgreSQL commit tests skipped: ${postgresMissing()}`);

const noop = task(function noop(x: number) {
  return x;
});

const three = flow(async function* three(k: number) {
  let total = k;
  for (let i = 0; i < 3; i++) total += yield* wait(noop(i));
  return total;
});

/** Counts the statements and transactions a store sends to the server. */
function countStatements(store: PostgresStore): { readonly sent: number } {
  const counter = { sent: 0 };
  const sql = store.sql as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ["unsafe", "begin"]) {
    const original = sql[name]!;
    sql[name] = (...a: unknown[]) => {
      counter.sent++;
      return original(...a);
    };
  }
  return counter;
}

Deno.test({
  name: "a run of one task on PostgreSQL is two statements: claim and start, then end and release",
  ignore,
}, async () => {
  const url = await (await sharedCluster()).createDatabase("short");
  const store = await PostgresStore.open(url);
  try {
    await run(noop, { x: 0 }, { store }); // the first run of the process loads what it needs
    const counter = countStatements(store);
    const commits = store.writer.commits;
    const result = await run(noop, { x: 1 }, { store, runId: "short-1" });
    assert.equal(result.outputs, 1);
    assert.equal(store.writer.commits - commits, 2);
    assert.equal(counter.sent, 2, "nothing else reached the server");
    const recorded = (await store.getRun("short-1"))!;
    assert.equal(recorded.status, "succeeded");
    assert.equal(recorded.attempts, 1);
    assert.deepEqual(recorded.nodes.map((n) => [n.id, n.status]), [["noop", "succeeded"]]);
    assert.deepEqual(recorded.inputs, { x: 1 });
    assert.equal(await store.runOwner("short-1"), undefined, "the claim was given up");
    // Again: a succeeded run is returned as recorded, and its claim given up.
    const again = await run(noop, { x: 1 }, { store, runId: "short-1" });
    assert.equal(again.outputs, 1);
    assert.equal(again.fromRecord, true);
    assert.equal(await store.runOwner("short-1"), undefined);
  } finally {
    await store.close();
  }
});

Deno.test({
  name: "a sequential step on PostgreSQL is one statement and one commit: 50 steps, 52 statements",
  ignore,
}, async () => {
  const url = await (await sharedCluster()).createDatabase("chain");
  const store = await PostgresStore.open(url);
  const chain = flow(async function* chain(n: number) {
    let total = 0;
    for (let i = 0; i < n; i++) total += yield* wait(noop(i));
    return total;
  });
  const onExit: (() => void)[] = [];
  try {
    await run(chain, { n: 2 }, { store }); // the first run of the process loads what it needs
    const counter = countStatements(store);
    const commits = store.writer.commits;
    const sentAtOnce = { flushes: 0, atOnce: 0 };
    const flush = PgSession.prototype.flush;
    PgSession.prototype.flush = function (this: PgSession, always?: boolean, join?: boolean) {
      const before = counter.sent;
      const done = flush.call(this, always, join);
      if (!always) {
        sentAtOnce.flushes++;
        if (counter.sent > before) sentAtOnce.atOnce++;
      }
      return done;
    };
    onExit.push(() => PgSession.prototype.flush = flush);
    // (A lease of 10 minutes: no heartbeat falls within the run, however slow the machine.)
    const result = await run(chain, { n: 50 }, { store, runId: "chain-50", lease: "10m" });
    assert.equal(result.outputs, (50 * 49) / 2);
    // The start with its claim, one per step (its result, durable before the
    // next step acts on it), the end with the claim's release.
    assert.equal(store.writer.commits - commits, 52);
    assert.equal(counter.sent, 52, "nothing else reached the server");
    // Each step's commit was sent from the step's own flush, at once, not
    // after a turn of the event loop (the run's session is the only one open).
    assert.deepEqual(sentAtOnce, { flushes: 50, atOnce: 50 });
    const recorded = (await store.getRun("chain-50"))!;
    assert.equal(recorded.nodes.filter((n) => n.status === "succeeded").length, 50);
  } finally {
    for (const f of onExit) f();
    await store.close();
  }
});

Deno.test({
  name:
    "a commit's statement text is built once per shape: 200 steps of a new schema build a handful",
  ignore,
}, async () => {
  const url = await (await sharedCluster()).createDatabase("texts");
  const store = await PostgresStore.open(`${url}?schema=texts_once`);
  const chain = flow(async function* chain(n: number) {
    let total = 0;
    for (let i = 0; i < n; i++) total += yield* wait(noop(i));
    return total;
  });
  try {
    const before = statementTextsBuilt();
    const result = await run(chain, { n: 200 }, { store, lease: "10m" });
    assert.equal(result.outputs, (200 * 199) / 2);
    // The start, a step, the end (and maybe a step shared with a log or the start):
    // the same few shapes, never one text per commit.
    const built = statementTextsBuilt() - before;
    assert.ok(built >= 3 && built <= 6, `${built} texts built for 202 commits`);
    // Each step's row is right, under the text built for the first.
    const recorded = (await store.getRun(result.runId))!;
    const steps = recorded.nodes.filter((n) => n.entity === "noop");
    assert.equal(steps.length, 200);
    assert.ok(steps.every((n) => n.status === "succeeded"));
    assert.deepEqual(
      steps.map((n) => n.outputs[0]!.hash),
      steps.map((_, i) => valueHash(i)),
    );
    // A connection going idle arms no timer (postgres.js would set one after every statement).
    assert.equal(
      (store.sql as unknown as { options: { idle_timeout: number } }).options
        .idle_timeout,
      0,
    );
  } finally {
    await store.close();
  }
});

Deno.test({
  name: "a fan-out driven through the queue enqueues its calls in one commit",
  ignore,
}, async () => {
  const url = await (await sharedCluster()).createDatabase("fanq");
  const store = await PostgresStore.open(url);
  const executor = new QueueExecutor(store);
  const fan = flow(async function* fan() {
    return yield* all([noop(1), noop(2), noop(3)]);
  });
  const abort = new AbortController();
  try {
    // No worker: the calls wait in the queue.
    const running = runWith(fan, {}, { store, executor, signal: abort.signal });
    const count = async (sql: string) => Number((await store.sql.unsafe(sql))[0]!.n);
    await until(
      "3 calls enqueued",
      async () => await count(`SELECT count(*) AS n FROM weft.tasks`) === 3,
    );
    // One transaction wrote them all (now() is the transaction's start).
    assert.equal(await count(`SELECT count(DISTINCT enqueued_at) AS n FROM weft.tasks`), 1);
    abort.abort();
    await running.catch(() => {});
  } finally {
    await executor.close();
    await store.close();
  }
});

Deno.test({
  name: "runs of one process share their commits: starts, steps and ends of 100 runs",
  ignore,
}, async () => {
  const url = await (await sharedCluster()).createDatabase("shared");
  const store = await PostgresStore.open(url);
  try {
    await run(three, { k: 0 }, { store });
    const commits = store.writer.commits;
    const ids = Array.from({ length: 100 }, (_, k) => `many-${k}`);
    const results = await Promise.all(
      ids.map((runId, k) => run(three, { k }, { store, runId })),
    );
    const used = store.writer.commits - commits;
    for (const [k, r] of results.entries()) {
      assert.equal(r.status, "succeeded");
      assert.equal(r.outputs, k + 3);
    }
    // A start, three steps and an end each: 500 commits one run at a time;
    // shared, about five (generous here: a loaded machine splits some).
    assert.ok(used <= 25, `${used} commits for 100 runs`);
    for (const runId of ids) {
      const recorded = (await store.getRun(runId))!;
      assert.equal(recorded.status, "succeeded");
      assert.equal(recorded.nodes.filter((n) => n.status === "succeeded").length, 3);
    }
    const cluster = await sharedCluster();
    const db = new URL(url).pathname.slice(1);
    assert.equal((await cluster.psql(`SELECT count(*) FROM weft.run_owners`, db)).trim(), "0");
  } finally {
    await store.close();
  }
});

Deno.test({
  name: "a run id held by a live owner elsewhere is refused, and nothing of the run is written",
  ignore,
}, async () => {
  const url = await (await sharedCluster()).createDatabase("held");
  const store = await PostgresStore.open(url);
  const other = await PostgresStore.open(url);
  try {
    const held = await other.claimRun({
      runId: "held",
      ownerId: "elsewhere-1",
      pid: 4242,
      host: "another-machine",
      leaseMs: 60_000,
    });
    assert.equal(held.claimed, true);
    await assert.rejects(
      () => run(noop, { x: 1 }, { store, runId: "held" }),
      (e) =>
        e instanceof RunOwnedError &&
        /run held is running \(pid 4242 on another-machine/.test(e.message),
    );
    assert.equal(await store.getRun("held"), undefined);
    assert.equal((await store.runOwner("held"))?.ownerId, "elsewhere-1");
  } finally {
    await other.close();
    await store.close();
  }
});

Deno.test({
  name: "starts in a group commit and claims made the slow way race for run ids: one owner each",
  ignore,
}, async () => {
  const url = await (await sharedCluster()).createDatabase("race");
  const a = await PostgresStore.open(url);
  const b = await PostgresStore.open(url);
  try {
    for (let round = 0; round < 3; round++) {
      const ids = Array.from({ length: 40 }, (_, k) => `race-${round}-${k}`);
      const claim = (runId: string, who: string) => ({
        runId,
        ownerId: `${who}-${runId}`,
        pid: 1,
        host: who,
        leaseMs: 60_000,
      });
      const got = await Promise.all(ids.flatMap((runId) => [
        a.openClaimed({
          runId,
          entity: "noop",
          kind: "task",
          inputs: { x: 1 },
          inputsDigest: "d",
          startedAt: Date.now(),
          weftVersion: "test",
        }, claim(runId, "a")).then((r) => ({ runId, who: "a", claimed: r.claimed })),
        b.claimRun(claim(runId, "b")).then((r) => ({ runId, who: "b", claimed: r.claimed })),
      ]));
      for (const runId of ids) {
        const winners = got.filter((g) => g.runId === runId && g.claimed).map((g) => g.who);
        assert.equal(winners.length, 1, `${runId}: ${winners.join(", ")}`);
        assert.equal((await a.runOwner(runId))?.ownerId, `${winners[0]}-${runId}`);
        // The run's row exists only where the start's claim was granted.
        assert.equal((await a.getRun(runId, { nodes: false })) !== undefined, winners[0] === "a");
      }
    }
  } finally {
    await b.close();
    await a.close();
  }
});

Deno.test({
  name: "a failed run resumed on PostgreSQL claims in the group commit and replays its journal",
  ignore,
}, async () => {
  const url = await (await sharedCluster()).createDatabase("resume");
  const store = await PostgresStore.open(url);
  let broken = true;
  const calls: number[] = [];
  const step = task(function step(i: number) {
    calls.push(i);
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
    assert.equal(await store.runOwner("again"), undefined);
    broken = false;
    calls.length = 0;
    const resumed = await run(steps, {}, { store, runId: "again" });
    assert.equal(resumed.status, "succeeded");
    assert.equal(resumed.outputs, 3);
    assert.deepEqual(calls, [2], "completed steps were not run again");
    const recorded = (await store.getRun("again"))!;
    assert.equal(recorded.attempts, 2);
    assert.equal(recorded.status, "succeeded");
    assert.equal(await store.runOwner("again"), undefined);
  } finally {
    await store.close();
  }
});

const SHARED_SCRIPT = `import { flow, run, task, wait } from "${ROOT}/mod.ts";
import { PostgresStore } from "${ROOT}/src/store/postgres/mod.ts";
import { appendFileSync } from "node:fs";
const step = task(function step(id: string, i: number) {
  appendFileSync("steps.log", id + " " + i + "\\n");
  return i;
});
const steps = flow(async function* steps(id: string, n: number) {
  let total = 0;
  for (let i = 0; i < n; i++) total += yield* wait(step(id, i));
  return total;
});
const [url, runs, n] = Deno.args;
const store = await PostgresStore.open(url);
const ids = Array.from({ length: Number(runs) }, (_, k) => "shared-" + k);
const results = await Promise.all(ids.map((id) => run(steps, { id, n: Number(n) }, { store, runId: id, lease: "1s" })));
console.log(JSON.stringify({ results: results.map((r) => [r.runId, r.status, r.outputs]), commits: store.writer.commits }));
await store.close();
`;

Deno.test({
  name:
    "runs sharing commits on PostgreSQL, killed at random points, all resume with no acted-on result lost",
  ignore,
}, async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/shared.ts`, SHARED_SCRIPT);
  const cluster = await sharedCluster();
  const RUNS = 12;
  const N = 150;
  const readLog = () => stepsLogged(tmp.dir);
  let killedMidRun = 0;
  for (let round = 0; round < 6; round++) {
    const url = await cluster.createDatabase(`kill${round}`);
    await Deno.remove(`${tmp.dir}/steps.log`).catch(() => {});
    const args = ["run", "-A", `${tmp.dir}/shared.ts`, url, String(RUNS), String(N)];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: tmp.dir,
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Once every run is stepping, a kill at a random moment: most of their time is spent committing.
    const began = Date.now();
    while ((await readLog()).size < RUNS && Date.now() - began < 60_000) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 150)));
    try {
      child.kill("SIGKILL");
    } catch {
      // it may have finished already
    }
    const status = await child.status;
    const before = await readLog();
    if (status.signal === "SIGKILL") killedMidRun++;
    // What the kill left: every result a flow acted on (its next step started)
    // is recorded, and a run whose steps started was recorded before them.
    const store: Store = await PostgresStore.open(url);
    try {
      await assertActedOnRecorded(store, before, RUNS, String(round));
      // The killed process's claims run out (lease 1 s) before the runs resume.
      await until("the claims to run out", async () => {
        for (let k = 0; k < RUNS; k++) {
          const owner = await store.runOwner(`shared-${k}`);
          if (owner !== undefined && Date.now() - owner.heartbeatAt < owner.leaseMs + 500) {
            return false;
          }
        }
        return true;
      }, 30_000);
    } finally {
      await store.close();
    }
    // Every run again, in one process: they resume.
    await assertResumedOnce(args, tmp.dir, before, { runs: RUNS, steps: N }, round);
  }
  assert.ok(killedMidRun >= 4, `only ${killedMidRun} kills landed mid-run`);
});

Deno.test({
  name: "a worker's completion is heard at once by a page watching the store from another process",
  ignore,
}, async () => {
  const url = await (await sharedCluster()).createDatabase("heard");
  const store = await PostgresStore.open(url);
  const watching = await PostgresStore.open(url);
  const watch = new StoreWatch(watching);
  let heard = 0;
  const unsubscribe = watch.subscribe(() => heard++);
  try {
    const node = task(function node(x: number): number {
      if (x > 0) throw new Error("first attempt fails");
      return x;
    });
    await run(node, { x: 1 }, { store, runId: "r-1" });
    store.queue.enqueue({
      run_id: "r-1",
      node_id: "node",
      attempt: 2,
      queue: "default",
      task: "node",
      concurrency: null,
      timeout_ms: null,
      inputs: '{"x":1}',
    });
    await store.writer.commit();
    const [claim] = await store.queue.claim(
      "w1",
      { queues: undefined, tasks: ["node"] },
      1,
      30_000,
    );
    assert.ok(claim);
    // The watcher listens (runs until it hears one), and has heard everything before the completion.
    await until("the watcher to listen", async () => {
      await run(noop, { x: 0 }, { store });
      return heard > 0;
    });
    let last = watching.changeCount();
    for (;;) {
      await new Promise((r) => setTimeout(r, 300));
      const now = watching.changeCount();
      if (now === last) break;
      last = now;
    }
    const heardBefore = heard;
    const local = store.changeCount();
    const commits = store.writer.commits;
    const result = storedOutputs([{ name: "o0", value: 1 }]);
    const refused = await store.queue.complete([
      { claim, ok: true, outputs: result.outputs, values: result.bodies },
    ]);
    assert.deepEqual(refused, []);
    assert.equal(store.writer.commits, commits, "no group commit carried it");
    assert.ok(store.changeCount() > local, "this process counts its completion");
    // Another process hears it by NOTIFY (no poll of the database), and the page is told.
    await until("the watcher to hear the completion", () => watching.changeCount() > last, 10_000);
    await until("the page to be told", () => heard > heardBefore, 10_000);
    assert.equal((await watching.getRun("r-1"))!.nodes[0]!.status, "succeeded");
  } finally {
    unsubscribe();
    await watching.close();
    await store.close();
  }
});
