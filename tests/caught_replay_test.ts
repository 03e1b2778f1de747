// A failure a flow caught and went on from is part of the flow's history: a
// resume replays it (the flow takes the same catch path) instead of running
// the call again, which could now succeed and steer the flow to a call the
// journal does not have at that position. A failure nothing caught (the run
// failed on it) still runs again when the run is resumed.

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { all, flow, run, task, wait } from "../mod.ts";
import { SqliteStore } from "../sqlite.ts";
import { PostgresStore } from "../postgres.ts";
import type { Store } from "../src/store/mod.ts";
import { acquireRun } from "../src/store/ownership.ts";
import { StoreHost } from "../src/cli/run_host.ts";
import { RemoteStore, type StoreReply, type StoreTransport } from "../src/store/remote.ts";
import type { TaskExecutor } from "../src/engine/types.ts";
import { runWith } from "../src/engine/mod.ts";
import { deno, ROOT, sleep, tempDir } from "./_helpers.ts";
import { postgresMissing, sharedCluster } from "./_postgres.ts";

/** Calls of each task in this process, by name. */
const calls = new Map<string, number>();
const count = (name: string) => {
  const n = (calls.get(name) ?? 0) + 1;
  calls.set(name, n);
  return n;
};

/** Fails on its first call in the process, then succeeds. */
const flaky = task(function flaky(): string {
  if (count("flaky") === 1) throw new Error("flaky is down");
  return "primary";
});
const fallback = task(function fallback(): string {
  count("fallback");
  return "fallback";
});
/** Fails (nothing catches it: the run fails, as a run interrupted there) on its first call, then succeeds. */
const crashHere = task(function crashHere(v: string): string {
  if (count("crashHere") === 1) throw new Error("interrupted");
  return `done with ${v}`;
});
const slow = task(async function slow(): Promise<string> {
  count("slow");
  await sleep(30);
  return "slow";
});

const caughtThenInterrupted = flow(async function* caughtThenInterrupted() {
  let v: string;
  try {
    v = yield* wait(flaky());
  } catch {
    v = yield* wait(fallback());
  }
  return yield* wait(crashHere(v));
});

const caughtInAll = flow(async function* caughtInAll() {
  let v: string;
  try {
    const [a, b] = yield* all([flaky(), slow()]);
    v = `${a}+${b}`;
  } catch {
    v = yield* wait(fallback());
  }
  return yield* wait(crashHere(v));
});

Deno.test("a resumed run replays a failure its flow caught: the flow takes the same catch path, the failed call does not run again", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  calls.clear();
  const first = await run(caughtThenInterrupted, {}, { store, runId: "caught" });
  assert.equal(first.status, "failed");
  assert.deepEqual(Object.fromEntries(calls), { flaky: 1, fallback: 1, crashHere: 1 });
  // The journal: flaky's failure was caught; crashHere's, which failed the run, was not.
  const opened = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    const journal = (await opened.readJournal("caught"))!.journal;
    const entry = journal.get("#0")!;
    assert.equal(entry.status, "failed");
    assert.equal(entry.caught, true);
    assert.equal(entry.error?.name, "TaskFailedError");
    assert.match(entry.error?.message ?? "", /flaky is down/);
    assert.equal(journal.get("#2")?.status, "failed");
    assert.equal(journal.get("#2")?.caught, false);
    // The node's error record says so too.
    const node = (await opened.getRun("caught"))!.nodes.find((n) => n.id === "flaky")!;
    assert.equal((node.error as { caught?: boolean }).caught, true);
  } finally {
    opened.close();
  }
  const resumed = await run(caughtThenInterrupted, {}, { store, runId: "caught" });
  assert.equal(resumed.status, "succeeded", JSON.stringify(resumed.errors));
  assert.equal(resumed.outputs, "done with fallback");
  // flaky's failure and fallback's value came from the journal; only the interrupted call ran again.
  assert.deepEqual(Object.fromEntries(calls), { flaky: 1, fallback: 1, crashHere: 2 });
});

Deno.test("a failure caught from all() is replayed on resume, whatever became of the other call", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  calls.clear();
  const first = await run(caughtInAll, {}, { store, runId: "all" });
  assert.equal(first.status, "failed");
  assert.equal(calls.get("flaky"), 1);
  assert.equal(calls.get("fallback"), 1);
  const resumed = await run(caughtInAll, {}, { store, runId: "all" });
  assert.equal(resumed.status, "succeeded", JSON.stringify(resumed.errors));
  assert.equal(resumed.outputs, "done with fallback");
  assert.equal(calls.get("flaky"), 1);
  assert.equal(calls.get("fallback"), 1);
  assert.equal(calls.get("crashHere"), 2);
});

/** The same flow awaiting the handle itself (`yield h`): the failure reaches the body through the handle's then(). */
const caughtAtYield = flow(async function* caughtAtYield() {
  let v: string;
  try {
    v = (yield flaky()) as string;
  } catch {
    v = (yield fallback()) as string;
  }
  return yield* wait(crashHere(v));
});

Deno.test("a failure caught at `yield h` is replayed on resume", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  calls.clear();
  assert.equal((await run(caughtAtYield, {}, { store, runId: "y" })).status, "failed");
  const resumed = await run(caughtAtYield, {}, { store, runId: "y" });
  assert.equal(resumed.status, "succeeded", JSON.stringify(resumed.errors));
  assert.equal(resumed.outputs, "done with fallback");
  assert.deepEqual(Object.fromEntries(calls), { flaky: 1, fallback: 1, crashHere: 2 });
});

Deno.test("the memory store replays a caught failure too", async () => {
  const { MemoryStore } = await import("../store.ts");
  const store = new MemoryStore();
  calls.clear();
  assert.equal((await run(caughtThenInterrupted, {}, { store, runId: "m" })).status, "failed");
  const resumed = await run(caughtThenInterrupted, {}, { store, runId: "m" });
  assert.equal(resumed.outputs, "done with fallback");
  assert.deepEqual(Object.fromEntries(calls), { flaky: 1, fallback: 1, crashHere: 2 });
});

Deno.test("a contained run (weft run's driver) starts a task that holds a grant only once the mark of a failure its flow caught is durable", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  const store = SqliteStore.open(path);
  const lease = await acquireRun(store, "ahead");
  const host = new StoreHost({ store, runId: "ahead", script: "file:///x.ts" });
  const reader = new DatabaseSync(path, { readOnly: true });
  const caughtOnDisk = () => {
    const row = reader.prepare("SELECT error FROM nodes WHERE run_id = ? AND id = 'boom'")
      .get("ahead") as { error: string | null } | undefined;
    return row === undefined || row.error === null
      ? undefined
      : JSON.parse(row.error).caught === true;
  };
  // The owner's side at once, each message a copy, as over the channel.
  let queue = Promise.resolve();
  const transport: StoreTransport = {
    request(m) {
      const answer = queue.then(() => host.handle(JSON.parse(JSON.stringify(m))));
      queue = answer.then(() => {});
      return answer.then((r) => JSON.parse(JSON.stringify(r)) as StoreReply);
    },
    send(m) {
      queue = queue.then(() => host.handle(JSON.parse(JSON.stringify(m)))).then(() => {});
    },
    onWake: () => () => {},
  };
  const seenAtStart: unknown[] = [];
  try {
    // Declares nothing: it runs in the run's thread, and its failure reaches the flow at once.
    const boom = task(function boom(): number {
      throw new Error("boom");
    });
    const send = task({ name: "send", permissions: { env: ["WEFT_TEST"] } }, (x: number) => x);
    const f = flow(async function* recovers() {
      try {
        yield* wait(boom());
      } catch {
        // went on
      }
      return yield* wait(send(7));
    });
    const executor: TaskExecutor = {
      contained: true,
      inline: (def) => Object.keys(def.permissions).length === 0,
      execute: (def, inputs) => {
        assert.equal(def.name, "send");
        seenAtStart.push(caughtOnDisk());
        return inputs.x;
      },
    };
    const remote = new RemoteStore(transport, lease.owner);
    const result = await runWith(f, {}, { store: remote, runId: "ahead", executor });
    assert.equal(result.status, "succeeded", JSON.stringify(result.errors));
    assert.deepEqual(
      seenAtStart,
      [true],
      "send started before the mark of boom's caught failure was durable",
    );
  } finally {
    reader.close();
    await lease.release();
    store.close();
  }
});

const MOD = `${ROOT}/mod.ts`;

/**
 * A script for `weft run`: `flaky` fails while `flaky.ok` does not exist
 * (and creates it), `fallback` records its call, `hang` waits forever until
 * `resumed` exists (the test kills the run there); each call appends its
 * name to `calls`.
 */
const SCRIPT = `import { flow, task, wait } from "${MOD}";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";

const files = { read: ["./"], write: ["./"] };

const flaky = task({ name: "flaky", permissions: files }, function flaky(): string {
  appendFileSync("calls", "flaky\\n");
  if (!existsSync("flaky.ok")) {
    writeFileSync("flaky.ok", "");
    throw new Error("flaky is down");
  }
  return "primary";
});

const fallback = task({ name: "fallback", permissions: files }, function fallback(): string {
  appendFileSync("calls", "fallback\\n");
  return "fallback";
});

const hang = task({ name: "hang", permissions: files }, async function hang(v: string): Promise<string> {
  appendFileSync("calls", "hang\\n");
  while (!existsSync("resumed")) await new Promise((r) => setTimeout(r, 50));
  return "done with " + v;
});

/** Fails while \`fixed\` does not exist: nothing catches it. */
const broken = task({ name: "broken", permissions: files }, function broken(): string {
  appendFileSync("calls", "broken\\n");
  if (!existsSync("fixed")) throw new Error("broken until fixed");
  return "fixed";
});

export const caught = flow(async function* caught() {
  let v: string;
  try {
    v = yield* wait(flaky());
  } catch {
    v = yield* wait(fallback());
  }
  return yield* wait(hang(v));
});

export const uncaught = flow(async function* uncaught() {
  const v = yield* wait(broken());
  const w = yield* wait(fallback());
  return w + " after " + v;
});
`;

async function callsIn(dir: string): Promise<string[]> {
  return (await Deno.readTextFile(`${dir}/calls`).catch(() => "")).split("\n").filter((l) =>
    l !== ""
  );
}

/** `weft` in `dir` with the store. */
function weft(dir: string, store: string, ...args: string[]) {
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args, "--store", store], { cwd: dir });
}

/**
 * Runs the `caught` flow with `weft run`, kills the parent (SIGKILL) once
 * `hang` has started (after the fallback), and resumes it with `weft resume`.
 */
async function killedAfterFallbackThenResumed(dir: string, store: string): Promise<void> {
  await Deno.writeTextFile(`${dir}/script.ts`, SCRIPT);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}/cli.ts`,
      "run",
      `${dir}/script.ts`,
      "caught",
      "--run-id",
      "killed",
      "--quiet",
      "--store",
      store,
    ],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const started = Date.now();
  while (Date.now() - started < 60_000 && !(await callsIn(dir)).includes("hang")) await sleep(10);
  try {
    Deno.kill(child.pid, "SIGKILL");
  } catch {
    // it ended first (the assertions below say why)
  }
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL", await stderr);
  assert.deepEqual(await callsIn(dir), ["flaky", "fallback", "hang"]);
  await Deno.writeTextFile(`${dir}/resumed`, "");
  const done = await weft(dir, store, "resume", "killed", "--json");
  assert.equal(done.code, 0, done.stderr);
  const report = JSON.parse(done.stdout.trim().split("\n").at(-1)!);
  assert.equal(report.status, "succeeded", done.stdout);
  assert.equal(report.outputs, "done with fallback");
  // flaky would succeed now (flaky.ok exists): it did not run again, nor did fallback.
  assert.deepEqual(await callsIn(dir), ["flaky", "fallback", "hang", "hang"]);
}

Deno.test("weft run killed after a caught failure's fallback: weft resume replays the failure (SQLite), and weft replay agrees", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  await killedAfterFallbackThenResumed(tmp.dir, store);
  const replay = await weft(tmp.dir, store, "replay", "killed", `${tmp.dir}/script.ts`);
  assert.equal(replay.code, 0, replay.stdout + replay.stderr);
  // flaky's failure, fallback and hang replayed, and the flow ended (not stopped at flaky).
  assert.deepEqual(JSON.parse(replay.stdout), {
    runId: "killed",
    replayed: 3,
    beyond: 0,
    finished: true,
  });
});

const pgIgnore = postgresMissing() !== undefined;

Deno.test({
  name:
    "weft run killed after a caught failure's fallback: weft resume replays the failure (PostgreSQL)",
  ignore: pgIgnore,
}, async () => {
  await using tmp = await tempDir();
  const url = await (await sharedCluster()).createDatabase("caught");
  await killedAfterFallbackThenResumed(tmp.dir, url);
  const store: Store = await PostgresStore.open(url);
  try {
    const entry = (await store.readJournal("killed"))!.journal.get("#0")!;
    assert.equal(entry.status, "failed");
    assert.equal(entry.caught, true);
  } finally {
    await store.close();
  }
});

Deno.test("weft resume of a run that failed because nothing caught the failure runs the failed call again", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  await Deno.writeTextFile(`${tmp.dir}/script.ts`, SCRIPT);
  const first = await weft(
    tmp.dir,
    store,
    "run",
    `${tmp.dir}/script.ts`,
    "uncaught",
    "--run-id",
    "failed",
    "--quiet",
  );
  assert.notEqual(first.code, 0);
  assert.deepEqual(await callsIn(tmp.dir), ["broken"]);
  await Deno.writeTextFile(`${tmp.dir}/fixed`, "");
  const done = await weft(tmp.dir, store, "resume", "failed", "--json");
  assert.equal(done.code, 0, done.stderr);
  const report = JSON.parse(done.stdout.trim().split("\n").at(-1)!);
  assert.equal(report.status, "succeeded", done.stdout);
  assert.equal(report.outputs, "fallback after fixed");
  assert.deepEqual(await callsIn(tmp.dir), ["broken", "broken", "fallback"]);
});
