// A contained run (weft run's driver holds no permission) acts on the results
// of the tasks that run in its own thread before they are durable, and makes
// everything durable before anything that can act outside starts: these
// drive the engine over the remote store with a channel whose answers the
// test holds back, against a real SQLite store read by another connection,
// and weft run end to end, killed at random points (random steps steering a
// step that writes, in every shape, are in run_ahead_attack_test.ts).

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { flow, run, signal, task, wait } from "../mod.ts";
import { SqliteStore } from "../src/store/sqlite/mod.ts";
import { acquireRun } from "../src/store/ownership.ts";
import { StoreHost } from "../src/cli/run_host.ts";
import { RemoteStore, type StoreReply, type StoreTransport } from "../src/store/remote.ts";
import type { TaskDef } from "../src/define/defs.ts";
import type { TaskExecutor } from "../src/engine/types.ts";
import { runWith } from "../src/engine/mod.ts";
import { deno, ROOT, sleep, tempDir } from "./_helpers.ts";
import { killedAndResumed } from "./_crash.ts";

/**
 * A channel to a real parent's store host whose answers to flushes wait
 * until the test opens the gate (messages are still handled, in order, at
 * once: what is committed is on disk; only the child does not know yet).
 */
function heldChannel(host: StoreHost) {
  let queue = Promise.resolve();
  let open = false;
  const held: (() => void)[] = [];
  let syncs = 0;
  const asked: string[] = [];
  const transport: StoreTransport = {
    request(m) {
      asked.push(m.t);
      const copy = JSON.parse(JSON.stringify(m));
      const answer = queue.then(() => host.handle(copy));
      queue = answer.then(() => {});
      return answer.then((r) => {
        const reply = JSON.parse(JSON.stringify(r)) as StoreReply;
        if (reply.t !== "synced") return reply;
        syncs++;
        if (open) return reply;
        return new Promise<StoreReply>((resolve) => held.push(() => resolve(reply)));
      });
    },
    send(m) {
      const copy = JSON.parse(JSON.stringify(m));
      queue = queue.then(() => host.handle(copy)).then(() => {});
    },
    onWake: () => () => {},
  };
  return {
    transport,
    get syncs() {
      return syncs;
    },
    /** The kinds of the requests sent, in order. */
    asked,
    /** Answers every held flush, and every later one at once. */
    release() {
      open = true;
      for (const answer of held.splice(0)) answer();
    },
  };
}

/** An executor as weft run's driver has: tasks that declare nothing run here, the others elsewhere. */
function containedExecutor(elsewhere: (def: TaskDef, inputs: Record<string, unknown>) => unknown) {
  const executor: TaskExecutor = {
    contained: true,
    inline: (def) => Object.keys(def.permissions).length === 0,
    execute: (def, inputs) => elsewhere(def, inputs),
  };
  return executor;
}

Deno.test("a contained run acts on results of tasks that run in its thread before they are durable, and a task holding a grant starts only once everything before it is durable", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  const store = SqliteStore.open(path);
  const lease = await acquireRun(store, "ahead");
  const host = new StoreHost({ store, runId: "ahead", script: "file:///x.ts" });
  const reader = new DatabaseSync(path, { readOnly: true });
  const onDisk = () =>
    (reader.prepare("SELECT count(*) AS n FROM nodes WHERE run_id = ? AND status = 'succeeded'")
      .get("ahead") as { n: number }).n;
  const channel = heldChannel(host);
  let pure = 0;
  const seenAtStart: number[] = [];
  try {
    const step = task(function step(x: number) {
      pure++;
      return x + 1;
    });
    // Declares a grant: it runs elsewhere and may act outside. Its input is a
    // constant: only the flow's control flow depends on the steps before it.
    const send = task(
      { name: "send", permissions: { env: ["WEFT_TEST"] } },
      (x: number) => x,
    );
    const f = flow(async function* chain(n: number) {
      let x = 0;
      for (let i = 0; i < n; i++) x = yield* wait(step(x));
      if (x === n) return yield* wait(send(7));
      return -1;
    });
    const executor = containedExecutor((def, inputs) => {
      assert.equal(def.name, "send");
      seenAtStart.push(onDisk());
      return inputs.x;
    });
    const remote = new RemoteStore(channel.transport, lease.owner);
    const running = runWith(f, { n: 12 }, { store: remote, runId: "ahead", executor });
    // No flush is answered, yet every step ran: the flow acted on each result at once.
    for (let i = 0; i < 50 && pure < 12; i++) await sleep(0);
    assert.equal(pure, 12, "the chain waited for a commit");
    // The task that holds a grant waits for a commit of everything before it.
    await sleep(30);
    assert.deepEqual(
      seenAtStart,
      [],
      "a task holding a grant started before the run's past was durable",
    );
    assert.ok(channel.syncs >= 1, "the results acted on early were not sent to be committed");
    channel.release();
    const result = await running;
    assert.equal(result.status, "succeeded");
    assert.equal(result.outputs, 7);
    // When it started, the twelve steps whose results steered the flow to it were on disk.
    assert.deepEqual(seenAtStart, [12]);
    assert.equal(onDisk(), 12 + 1);
  } finally {
    reader.close();
    await lease.release();
    store.close();
  }
});

Deno.test("a contained run takes a signal (seen outside: no other wait can take it) only once the results that led to the wait are durable", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  const lease = await acquireRun(store, "signalled");
  const host = new StoreHost({ store, runId: "signalled", script: "file:///x.ts" });
  const channel = heldChannel(host);
  let pure = 0;
  try {
    const step = task(function step(x: number) {
      pure++;
      return x + 1;
    });
    const f = flow(async function* waitsForGo(n: number) {
      let x = 0;
      for (let i = 0; i < n; i++) x = yield* wait(step(x));
      return x + (yield* signal<number>("go"));
    });
    const executor = containedExecutor(() => {
      throw new Error("every task declares nothing");
    });
    const remote = new RemoteStore(channel.transport, lease.owner);
    const running = runWith(f, { n: 6 }, { store: remote, runId: "signalled", executor });
    for (let i = 0; i < 50 && pure < 6; i++) await sleep(0);
    assert.equal(pure, 6);
    await store.putSignal("signalled", "go", 5, Date.now());
    await sleep(30);
    assert.ok(!channel.asked.includes("takeSignal"), `asked ${channel.asked.join(", ")}`);
    channel.release();
    const result = await running;
    assert.equal(result.status, "succeeded");
    assert.equal(result.outputs, 11);
    assert.ok(channel.asked.includes("takeSignal"));
  } finally {
    await lease.release();
    store.close();
  }
});

Deno.test("a contained run acts early for a bounded time: with no commit answered it stops and waits, then goes on", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  const lease = await acquireRun(store, "bounded");
  const host = new StoreHost({ store, runId: "bounded", script: "file:///x.ts" });
  const channel = heldChannel(host);
  let ran = 0;
  try {
    // Each step takes a few milliseconds (a timer: nothing outside sees it).
    const slow = task(async function slow(x: number) {
      await sleep(4);
      ran++;
      return x + 1;
    });
    const f = flow(async function* slowChain(n: number) {
      let x = 0;
      for (let i = 0; i < n; i++) x = yield* wait(slow(x));
      return x;
    });
    const executor = containedExecutor(() => {
      throw new Error("every task declares nothing");
    });
    const remote = new RemoteStore(channel.transport, lease.owner);
    const running = runWith(f, { n: 40 }, { store: remote, runId: "bounded", executor });
    // 40 steps of 4 ms would take 160 ms; acting early stops after about 20 ms of them.
    await sleep(250);
    const stalled = ran;
    await sleep(100);
    assert.equal(ran, stalled, "the run went on acting on results none of which was durable");
    assert.ok(stalled >= 2 && stalled < 40, `${stalled} steps ran before any commit was answered`);
    channel.release();
    const result = await running;
    assert.equal(result.status, "succeeded");
    assert.equal(result.outputs, 40);
    assert.equal(ran, 40);
  } finally {
    await lease.release();
    store.close();
  }
});

Deno.test("a run that is not contained waits for each result it acts on, as before", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  const lease = await acquireRun(store, "strict");
  const host = new StoreHost({ store, runId: "strict", script: "file:///x.ts" });
  const channel = heldChannel(host);
  let ran = 0;
  try {
    const step = task(function step(x: number) {
      ran++;
      return x + 1;
    });
    const f = flow(async function* strictChain(n: number) {
      let x = 0;
      for (let i = 0; i < n; i++) x = yield* wait(step(x));
      return x;
    });
    const remote = new RemoteStore(channel.transport, lease.owner);
    // (--no-isolate: the run's thread holds the union of the grants, so it is not contained.)
    const running = run(f, { n: 5 }, { store: remote, runId: "strict" });
    await sleep(50);
    assert.equal(ran, 1, "the second step started before the first one's result was durable");
    channel.release();
    assert.equal((await running).outputs, 5);
  } finally {
    await lease.release();
    store.close();
  }
});

// End to end: steps that declare nothing between steps that write a line to a
// file (a grant); the weft run parent killed at random points, then resumed.
const SCRIPT = `import { flow, task, wait } from "${ROOT}/mod.ts";
import { appendFileSync } from "node:fs";
const pure = task(function pure(x: number) {
  return (x * 31 + 7) % 1000003;
});
const record = task(
  { name: "record", permissions: { write: ["./log"] } },
  (i: number, x: number) => {
    appendFileSync("log", \`\${i} \${x}\\n\`);
    return x;
  },
);
export const mixed = flow(async function* mixed(n: number) {
  let x = 1;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 20; k++) x = yield* wait(pure(x));
    x = yield* wait(record(i, x));
  }
  return x;
});
`;

function expected(n: number): { lines: string[]; result: number } {
  let x = 1;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 20; k++) x = (x * 31 + 7) % 1000003;
    lines.push(`${i} ${x}`);
  }
  return { lines, result: x };
}

Deno.test("weft run killed at random points while steps that declare nothing run ahead: each step that writes ran once but the one in flight, and the run resumes to the same result", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/mixed.ts`, SCRIPT);
  const N = 60;
  const want = expected(N);
  const { kills, lines: got, report } = await killedAndResumed(tmp.dir, "mixed.ts", "mixed", N);
  assert.ok(kills >= 2, `only ${kills} kills`);
  // Every line is the right one (the steps before it were replayed, not made up).
  for (const line of got) assert.ok(want.lines.includes(line), `unexpected line ${line}`);
  assert.deepEqual([...new Set(got)].sort(), [...want.lines].sort());
  // Each step that writes ran once, but at most the one in flight at each kill.
  const repeats = got.length - new Set(got).size;
  assert.ok(repeats <= kills, `${repeats} repeated lines after ${kills} kills:\n${got.join("\n")}`);
  assert.equal(report.status, "succeeded");
  assert.equal(report.outputs, want.result);
});

/**
 * Runs an entity of the grants bench's fixture (`chain`: steps that declare
 * nothing; `grantedChain`: a task that declares a grant) with `weft run` on a
 * SQLite store, and reads how many flushes its parent answered.
 */
async function flushes(dir: string, entity: string, n: number): Promise<number> {
  const out = await deno(
    [
      "run",
      "-A",
      `${ROOT}/cli.ts`,
      "run",
      `${ROOT}/bench/fixtures/grants.ts`,
      entity,
      "--input",
      `n=${n}`,
      "--store",
      `sqlite:${dir}/weft.db`,
      "--quiet",
    ],
    { env: { WEFT_IPC_STATS: "1" } },
  );
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout.trim(), String(n));
  const stats = /ipc (\d+) syncs/.exec(out.stderr);
  assert.ok(stats !== null, out.stderr);
  return Number(stats[1]);
}

Deno.test("weft run commits a chain of steps that declare nothing in a few commits, not one per step", async () => {
  await using tmp = await tempDir();
  const n = 2000;
  const syncs = await flushes(tmp.dir, "chain", n);
  assert.ok(syncs < n / 10, `${syncs} flushes for ${n} steps`);
  // And every step is on record.
  const db = new DatabaseSync(`${tmp.dir}/weft.db`, { readOnly: true });
  try {
    const row = db.prepare("SELECT count(*) AS n FROM nodes WHERE status = 'succeeded'").get() as {
      n: number;
    };
    assert.equal(row.n, n);
  } finally {
    db.close();
  }
});

Deno.test("weft run: a chain of a task that declares a grant waits for one commit a step, not two (its own record is not part of the past it waits for)", async () => {
  await using tmp = await tempDir();
  const n = 60;
  const syncs = await flushes(tmp.dir, "grantedChain", n);
  // One commit before the flow acts on each result (and one at the end).
  assert.ok(syncs <= n + 2, `${syncs} flushes for ${n} steps`);
});

Deno.test("the plan printed before weft run says when results are committed: behind the run per-task, before each act with --no-isolate, nothing for a memory store", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/plan.ts`,
    `import { flow, task, wait } from "${ROOT}/mod.ts";
const free = task(function free(i: number) {
  return i + 1;
});
export const one = flow(async function* one() {
  return yield* wait(free(1));
});
`,
  );
  const plan = async (...extra: string[]) => {
    const out = await deno([
      "run",
      "-A",
      `${ROOT}/cli.ts`,
      "run",
      `${tmp.dir}/plan.ts`,
      ...extra,
    ], { env: { NO_COLOR: "1" } });
    assert.equal(out.code, 0, out.stderr);
    return out.stderr.split("\n").filter((l) => l.startsWith("weft: durable"));
  };
  const sqlite = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const [perTask] = await plan(...sqlite);
  assert.match(perTask ?? "", /committed behind the run, which goes at most 20 ms ahead/);
  const [shared] = await plan(...sqlite, "--no-isolate");
  assert.match(shared ?? "", /each result is committed before the run acts on it/);
  assert.deepEqual(await plan("--store", "memory"), []);
});
