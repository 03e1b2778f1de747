// Many machines on a PostgreSQL store: workers share a run's task calls
// (each exactly once), survive SIGKILLs of workers and of the driver, hold
// queue and task limits across processes, ride out a database restart, and
// refuse completions whose lease was lost. Real processes, a real cluster.

import assert from "node:assert/strict";
import { run, task } from "../mod.ts";
import type { RunDetails } from "../src/store/mod.ts";
import { PostgresStore } from "../src/store/postgres/mod.ts";
import { storedOutputs } from "../src/store/postgres/queue.ts";
import { ROOT } from "./_helpers.ts";
import { postgresMissing, sharedCluster, startCluster } from "./_postgres.ts";
import {
  detach,
  finished,
  peakOverlap,
  type Proc,
  readLog,
  startWeft,
  stopAll,
  until,
  workerSetup,
  workersUp,
} from "./_workers.ts";

const ignore = postgresMissing() !== undefined;
if (ignore) console.warn(`weft: PostgreSQL worker tests skipped: ${postgresMissing()}`);

function worker(script: string, url: string, extra: string[] = [], netns?: string): Proc {
  return startWeft(
    ["worker", script, "--store", url, "--lease", "1s", ...extra],
    netns === undefined ? {} : { netns },
  );
}

Deno.test({
  name: "three workers share a 300-task fan-out: each task runs exactly once",
  ignore,
}, async () => {
  const { tmp, dir, script, url } = await workerSetup("share");
  await using _ = tmp;
  const procs = [1, 2, 3].map(() => worker(script, url, ["--concurrency", "6"]));
  try {
    await workersUp(url, 3);
    const listed = startWeft(["workers", "--store", url]);
    assert.equal((await listed.status).code, 0);
    assert.equal(listed.stdout().trim().split("\n").length, 4, listed.stdout());
    const runId = await detach(script, url, "fanout", ["n=300", "ms=20"]);
    const run = await finished(url, runId);
    assert.equal(run.status, "succeeded", JSON.stringify(run.errors));
    assert.equal(run.outputs, 299 * 300);
    const log = await readLog(dir);
    const starts = log.filter((l) => l.what === "start");
    assert.equal(starts.length, 300, "every task started once");
    assert.equal(new Set(starts.map((l) => l.node)).size, 300);
    const byWorker = new Set(starts.map((l) => l.pid));
    assert.deepEqual([...byWorker].sort(), procs.map((p) => p.pid).sort(), "all three took work");
  } finally {
    await stopAll(procs);
  }
});

Deno.test({
  name:
    "workers SIGKILLed at 20 random points lose no task; only tasks whose lease expired run twice",
  ignore,
}, async () => {
  const { tmp, dir, script, url } = await workerSetup("kill");
  await using _ = tmp;
  const live: Proc[] = [1, 2, 3].map(() => worker(script, url, ["--concurrency", "3"]));
  const killed = new Set<number>();
  const all = [...live];
  try {
    await workersUp(url, 3);
    const runId = await detach(script, url, "fanout", ["n=150", "ms=150"]);
    for (let k = 0; k < 20; k++) {
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 300));
      // Kill a worker while it holds tasks: one with a task started and not ended.
      let i = -1;
      await until("a worker holding tasks", async () => {
        const open = new Map<string, number>();
        for (const l of await readLog(dir)) {
          if (l.what === "start") open.set(l.node, l.pid);
          else open.delete(l.node);
        }
        const holding = new Set(open.values());
        i = live.findIndex((p) => holding.has(p.pid));
        return i >= 0;
      }, 30_000);
      const victim = live.splice(i, 1)[0]!;
      victim.signal("SIGKILL");
      killed.add(victim.pid);
      const fresh = worker(script, url, ["--concurrency", "3"]);
      live.push(fresh);
      all.push(fresh);
    }
    const run = await finished(url, runId, 120_000);
    assert.equal(run.status, "succeeded", JSON.stringify(run.errors));
    assert.equal(run.outputs, 149 * 150);
    const log = await readLog(dir);
    const ends = new Set(log.filter((l) => l.what === "end").map((l) => l.node));
    assert.equal(ends.size, 150, "every task completed");
    // A task started more than once was first started by a worker that was
    // killed (its lease expired); the completed execution is the last.
    const starts = new Map<string, { pid: number; time: number }[]>();
    for (const l of log) {
      if (l.what === "start") starts.set(l.node, [...(starts.get(l.node) ?? []), l]);
    }
    let duplicates = 0;
    for (const [node, list] of starts) {
      if (list.length === 1) continue;
      duplicates++;
      for (const earlier of list.slice(0, -1)) {
        assert.ok(
          killed.has(earlier.pid),
          `${node} ran again although its first worker ${earlier.pid} was never killed`,
        );
      }
    }
    assert.ok(run.nodes.every((n) => n.status === "succeeded"));
    assert.ok(duplicates >= 1, "a killed worker held tasks that ran again elsewhere");
    console.log(`  20 kills: ${duplicates} of 150 tasks ran twice (each after a kill)`);
  } finally {
    await stopAll(all);
  }
});

Deno.test({
  name:
    "a worker frozen past its lease loses its task: another completes it and the late completion is refused",
  ignore,
}, async () => {
  const { tmp, dir, script, url } = await workerSetup("fence");
  await using _ = tmp;
  const a = worker(script, url, ["--concurrency", "1"]);
  const procs = [a];
  try {
    await workersUp(url, 1);
    const runId = await detach(script, url, "fanout", ["n=1", "ms=1500"]);
    await until("the task to start", async () => (await readLog(dir)).length > 0);
    a.signal("SIGSTOP");
    const b = worker(script, url, ["--concurrency", "1"]);
    procs.push(b);
    const run = await finished(url, runId);
    assert.equal(run.status, "succeeded");
    assert.equal(run.outputs, 0);
    a.signal("SIGCONT");
    await until("the frozen worker to notice", () => /was lost/.test(a.stderr()), 30_000);
    const starts = (await readLog(dir)).filter((l) => l.what === "start");
    assert.deepEqual(starts.map((l) => l.pid), [a.pid, b.pid]);
    const details = await finished(url, runId);
    assert.equal(details.nodes[0]!.status, "succeeded");
  } finally {
    await stopAll(procs);
  }
});

Deno.test({
  name: "a completion whose lease was taken is refused and changes nothing",
  ignore,
}, async () => {
  const url = await (await sharedCluster()).createDatabase("refuse");
  const store = await PostgresStore.open(url);
  try {
    const q = store.queue;
    // A driver's row for the node, then its call in the queue.
    const node = task(function node(x: number): number {
      if (x > 0) throw new Error("first attempt fails");
      return x;
    });
    await run(node, { x: 1 }, { store, runId: "r-1" });
    q.enqueue({
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
    const [first] = await q.claim("w1", { queues: undefined, tasks: ["node"] }, 1, 300);
    assert.ok(first);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await q.reap(), 1);
    const [second] = await q.claim("w2", { queues: undefined, tasks: ["node"] }, 1, 10_000);
    assert.equal(second?.id, first.id);
    assert.equal(second.claims, 2);
    assert.deepEqual(await q.renew([first.token], 10_000), new Set());
    const result = storedOutputs([{ name: "o0", value: 1 }]);
    const done = { ok: true as const, outputs: result.outputs, values: result.bodies };
    const refused = await q.complete([{ claim: first, ...done }]);
    assert.deepEqual(refused.map((c) => c.token), [first.token]);
    const before = (await store.getRun("r-1"))!.nodes[0]!;
    assert.equal(before.status, "failed", "the refused completion wrote nothing");
    assert.deepEqual(await q.complete([{ claim: second, ...done }]), []);
    const after = (await store.getRun("r-1"))!.nodes[0]!;
    assert.equal(after.status, "succeeded");
    assert.equal(after.attempts, 2);
  } finally {
    await store.close();
  }
});

Deno.test({
  name:
    "the driver SIGKILLed mid-flow: a worker takes the run over and its result equals an uninterrupted run's",
  ignore,
}, async () => {
  const { tmp, dir, script, url } = await workerSetup("driver");
  await using _ = tmp;
  const inputs = ["--input", "n=20", "--input", "ms=60"];
  const reference = startWeft(["run", script, "chain", ...inputs, "--store", url, "--quiet"]);
  assert.equal((await reference.status).code, 0, reference.stderr());
  const expected = JSON.parse(reference.stdout());
  await Deno.remove(`${dir}/tasks.log`);
  const driver = startWeft([
    "run",
    script,
    "chain",
    ...inputs,
    "--store",
    url,
    "--run-id",
    "drv-1",
    "--lease",
    "1s",
    "--quiet",
  ]);
  const procs: Proc[] = [driver];
  try {
    await until(
      "a few steps",
      async () => (await readLog(dir)).filter((l) => l.what === "end").length >= 6,
    );
    driver.signal("SIGKILL");
    await driver.status;
    // What the journal holds as done when the driver died (a step that had
    // logged its end but whose completion was not yet committed may run again).
    const journal = await PostgresStore.open(url);
    const doneBefore = new Set(
      (await journal.getRun("drv-1"))!.nodes.filter((n) => n.status === "succeeded").map((n) =>
        n.id
      ),
    );
    await journal.close();
    assert.ok(doneBefore.size >= 3, "steps were durable before the kill");
    const w = worker(script, url);
    procs.push(w);
    const details = await finished(url, "drv-1");
    assert.equal(details.status, "succeeded", JSON.stringify(details.errors));
    assert.deepEqual(details.outputs, expected);
    // Steps finished before the kill were replayed from the journal, not run again.
    const starts = (await readLog(dir)).filter((l) => l.what === "start");
    for (const node of doneBefore) {
      assert.equal(starts.filter((l) => l.node === node).length, 1, `${node} ran again`);
    }
    assert.ok(starts.some((l) => l.pid === w.pid), "the worker ran the rest");
    assert.match(w.stderr(), /run drv-1 succeeded/);
  } finally {
    await stopAll(procs);
  }
});

Deno.test({
  name: "a run driven by a live process cannot be started or resumed again: 'is running'",
  ignore,
}, async () => {
  const url = await (await sharedCluster()).createDatabase("owned");
  const one = await PostgresStore.open(url);
  const two = await PostgresStore.open(url);
  try {
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    const slow = task(async function slow(x: number) {
      await gate;
      return x;
    });
    const first = run(slow, { x: 1 }, { store: one, runId: "own-1" });
    await until("the run to start", async () => (await two.getRun("own-1")) !== undefined);
    await assert.rejects(
      () => run(slow, { x: 1 }, { store: two, runId: "own-1" }),
      /run own-1 is running \(pid \d+ on .+ since .+\)/,
    );
    release();
    assert.equal((await first).status, "succeeded");
  } finally {
    await one.close();
    await two.close();
  }
});

Deno.test({
  name: "a queue limit of 2 and a task limit of 1 hold across three workers",
  ignore,
}, async () => {
  const { tmp, dir, script, url } = await workerSetup("limits");
  await using _ = tmp;
  // One call at a time each: three workers could run three at once, so the
  // limit of 2 is what holds them back, and a second worker must take part
  // (with more slots, one busy worker could take every call under load).
  const procs = [1, 2, 3].map(() =>
    worker(script, url, ["--queue", "gpu", "--queue-concurrency", "gpu=2", "--concurrency", "1"])
  );
  try {
    await workersUp(url, 3);
    const runId = await detach(script, url, "limited", ["n=12"]);
    // (The flow itself is driven by one of the workers; its calls all wait in queue gpu.)
    const run = await finished(url, runId);
    assert.equal(run.status, "succeeded", JSON.stringify(run.errors));
    const log = await readLog(dir);
    assert.equal(log.filter((l) => l.what === "end").length, 18);
    assert.ok(peakOverlap(log, () => true) <= 2, "queue gpu ran more than 2 at once");
    assert.equal(peakOverlap(log, (n) => n.startsWith("solo")), 1);
    assert.ok(new Set(log.map((l) => l.pid)).size >= 2, "the work was shared");
  } finally {
    await stopAll(procs);
  }
});

Deno.test({
  name: "the database restarted under load: workers reconnect and nothing is lost",
  ignore,
}, async () => {
  const cluster = await startCluster({ fsync: false });
  try {
    const { tmp, dir, script, url } = await workerSetup("restart", cluster);
    await using _ = tmp;
    const procs = [1, 2].map(() => worker(script, url, ["--concurrency", "4", "--lease", "5s"]));
    try {
      await workersUp(url, 2);
      const runId = await detach(script, url, "fanout", ["n=200", "ms=30"]);
      await until("work under way", async () => (await readLog(dir)).length >= 40);
      await cluster.restart({ downMs: 1500 });
      const run = await finished(url, runId, 120_000).catch((e) => {
        throw new Error(`${e.message}\n${procs.map((p) => p.stderr()).join("\n---\n")}`);
      });
      assert.equal(run.status, "succeeded", JSON.stringify(run.errors));
      assert.equal(run.outputs, 199 * 200);
      const ends = new Set((await readLog(dir)).filter((l) => l.what === "end").map((l) => l.node));
      assert.equal(ends.size, 200);
    } finally {
      await stopAll(procs);
    }
  } finally {
    await cluster.stop("immediate").catch(() => {});
  }
});

Deno.test({
  name: "a worker wakes a sleeping run of its script when it is due, once, as weft serve does",
  ignore,
}, async () => {
  const { tmp, dir, url } = await workerSetup("wake");
  await using _ = tmp;
  const script = `${dir}/naps.ts`;
  await Deno.writeTextFile(
    script,
    `import { flow, signal, sleep, task, wait } from "${ROOT}/mod.ts";
import { appendFileSync } from "node:fs";
const note = task({ name: "note", permissions: { write: ["./naps.log"] } }, (what: string) => {
  appendFileSync("./naps.log", what + " " + Date.now() + "\\n");
  return what;
});
export const nap = flow(async function* nap(ms: number) {
  yield* sleep(ms);
  return yield* wait(note("woke"));
});
export const ask = flow(async function* ask() {
  const answer = yield* signal<string>("answer");
  return yield* wait(note(answer));
});
`,
  );
  const leave = async (entity: string, inputs: string[]) => {
    const p = startWeft(
      ["run", script, entity, ...inputs, "--store", url, "--suspend", "0", "--quiet"],
      { cwd: dir },
    );
    assert.equal((await p.status).code, 75, p.stderr());
  };
  await leave("nap", ["--input", "ms=2000", "--run-id", "nap-1"]);
  await leave("ask", ["--run-id", "ask-1"]);
  const store = await PostgresStore.open(url);
  const wakeAt = (await store.sleepingRuns()).find((r) => r.id === "nap-1")!.wakeAt!;
  await store.close();
  const procs = [worker(script, url), worker(script, url)];
  try {
    const sent = startWeft(["signal", "ask-1", "answer", '"yes"', "--store", url]);
    assert.equal((await sent.status).code, 0, sent.stderr());
    const ended = async (runId: string) => {
      const store = await PostgresStore.open(url);
      try {
        let details: RunDetails | undefined;
        await until(`run ${runId} to end`, async () => {
          details = await store.getRun(runId).catch(() => undefined);
          return details !== undefined && !["running", "sleeping"].includes(details.status);
        }, 90_000);
        return details!;
      } finally {
        await store.close();
      }
    };
    const nap = await ended("nap-1");
    assert.equal(nap.status, "succeeded", JSON.stringify(nap.errors));
    const ask = await ended("ask-1");
    assert.equal(ask.status, "succeeded", JSON.stringify(ask.errors));
    assert.equal(ask.outputs, "yes");
    // Long enough for a second wake-up, if there were one, to show.
    await new Promise((r) => setTimeout(r, 1_500));
    const log = (await Deno.readTextFile(`${dir}/naps.log`)).trim().split("\n");
    assert.deepEqual(log.map((l) => l.split(" ")[0]).sort(), ["woke", "yes"], log.join("\n"));
    const woke = Number(log.find((l) => l.startsWith("woke"))!.split(" ")[1]);
    assert.ok(woke >= wakeAt, `woke ${wakeAt - woke} ms early`);
  } finally {
    await stopAll(procs);
  }
});
