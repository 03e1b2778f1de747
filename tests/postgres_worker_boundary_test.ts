// weft worker keeps the store out of reach of the script's code, as weft run
// does: a flow body, a task that declares nothing and the script's top-level
// code all try to reach the store's database (a TCP connection to its port)
// and to read its connection string ($WEFT_STORE, $PGPASSWORD), and all are refused; runs
// still complete, and still fail over to another worker when the one that
// drives them is killed. With --no-isolate (the explicit opt-out) the same
// flow body reaches the database: the attack is real. Real processes, a
// real cluster.

import assert from "node:assert/strict";
import { PostgresStore } from "../src/store/postgres/mod.ts";
import { ROOT, tempDir } from "./_helpers.ts";
import { postgresMissing, sharedCluster } from "./_postgres.ts";
import {
  detach,
  finished,
  type Proc,
  readLog,
  startWeft,
  until,
  workerScript,
  workersUp,
} from "./_workers.ts";

const ignore = postgresMissing() !== undefined;
if (ignore) console.warn(`weft: PostgreSQL worker boundary tests skipped: ${postgresMissing()}`);

/** The attack script: each place the script's code runs probes the store. */
function attackScript(host: string, port: number): string {
  return `import { flow, task, wait } from "${ROOT}/mod.ts";

// Whether this code can read the store's URL, and open a connection to its database.
async function probe(): Promise<string> {
  const env: string[] = [];
  for (const name of ["WEFT_STORE", "PGPASSWORD"]) {
    try {
      const v = Deno.env.get(name);
      env.push(v === undefined ? "unset" : v.startsWith("postgres") || v === "weft-canary-password" ? "STOLEN" : "other");
    } catch (e) {
      env.push((e as Error).name);
    }
  }
  let connect: string;
  try {
    const c = await Deno.connect({ hostname: ${JSON.stringify(host)}, port: ${port} });
    c.close();
    connect = "CONNECTED";
  } catch (e) {
    connect = (e as Error).name + ": " + (e as Error).message;
  }
  return "env=" + env.join(",") + " connect=" + connect;
}

console.log("weft-attack top-level: " + await probe());

export const taskProbe = task({ name: "taskProbe" }, async (): Promise<string> => {
  const got = await probe();
  if (got.includes("STOLEN") || got.includes("CONNECTED")) return got;
  throw new Error("denied: " + got);
});

export const bodyAttack = flow(async function* bodyAttack() {
  const got = await probe();
  if (got.includes("STOLEN") || got.includes("CONNECTED")) return got;
  throw new Error("denied: " + got);
});

export const taskAttack = flow(async function* taskAttack() {
  return yield* wait(taskProbe());
});
`;
}

async function runIds(url: string): Promise<string[]> {
  const store = await PostgresStore.open(url);
  try {
    return (await store.listRuns({ limit: 1000 })).map((r) => r.id).sort();
  } finally {
    await store.close();
  }
}

const DENIED = /NotCapable|PermissionDenied/;

/** Starts an isolated worker on the attack script, given the store as operators do ($WEFT_STORE). */
async function attacked(prefix: string) {
  const tmp = await tempDir();
  const url = await (await sharedCluster()).createDatabase(prefix);
  const db = new URL(url);
  const script = `${tmp.dir}/attack.ts`;
  await Deno.writeTextFile(script, attackScript(db.hostname, Number(db.port)));
  const w = startWeft(["worker", script, "--lease", "1s"], {
    env: { WEFT_STORE: url, PGPASSWORD: "weft-canary-password" },
  });
  await workersUp(url, 1);
  return {
    url,
    db,
    script,
    w,
    async [Symbol.asyncDispose]() {
      w.signal("SIGKILL");
      await w.status;
      await tmp[Symbol.asyncDispose]();
    },
  };
}

Deno.test({
  name:
    "weft worker (a): a flow body can neither open a connection to the store's database nor read its URL; nothing else changes",
  ignore,
}, async () => {
  await using t = await attacked("bound_a");
  const { url, db, script, w } = t;
  const before = await runIds(url);
  const a = await detach(script, url, "bodyAttack");
  const ra = await finished(url, a);
  assert.equal(ra.status, "failed", `the flow body reached the store: ${JSON.stringify(ra)}`);
  const ea = JSON.stringify(ra.errors);
  assert.match(ea, /denied: env=NotCapable,NotCapable connect=(NotCapable|PermissionDenied)/, ea);
  assert.match(ea, new RegExp(`Requires net access to \\\\"${db.hostname}:${db.port}\\\\"`), ea);
  // Nothing changed in the store but the run's own record.
  assert.deepEqual(await runIds(url), [...before, a].sort());
  assert.match(w.stderr(), /mode per-task.*never runs the script/);
});

Deno.test({
  name:
    "weft worker (b): a task that declares nothing can neither open a connection to the store's database nor read its URL",
  ignore,
}, async () => {
  await using t = await attacked("bound_b");
  const { url, script } = t;
  const before = await runIds(url);
  const b = await detach(script, url, "taskAttack");
  const rb = await finished(url, b);
  assert.equal(rb.status, "failed", `the task reached the store: ${JSON.stringify(rb)}`);
  const eb = JSON.stringify(rb.errors);
  assert.match(eb, /denied: env=NotCapable,NotCapable connect=(NotCapable|PermissionDenied)/, eb);
  assert.deepEqual(await runIds(url), [...before, b].sort());
});

Deno.test({
  name:
    "weft worker (c): the script's top-level code can neither open a connection to the store's database nor read its URL",
  ignore,
}, async () => {
  await using t = await attacked("bound_c");
  const { url, script, w } = t;
  // A run makes the worker's queue side import the script too (its task Worker).
  const b = await detach(script, url, "taskAttack");
  await finished(url, b);
  await until("the top-level probe", () => /weft-attack top-level/.test(w.stdout()));
  const lines = w.stdout().split("\n").filter((l) => l.includes("weft-attack top-level"));
  assert.ok(lines.length >= 2, w.stdout());
  for (const line of lines) {
    assert.doesNotMatch(line, /STOLEN|CONNECTED/, `top-level code reached the store: ${line}`);
    assert.match(line, DENIED, line);
  }
});

Deno.test({
  name: "weft worker --no-isolate (the opt-out) says so, and there a flow body reaches the store",
  ignore,
}, async () => {
  await using tmp = await tempDir();
  const url = await (await sharedCluster()).createDatabase("optout");
  const db = new URL(url);
  const script = `${tmp.dir}/attack.ts`;
  await Deno.writeTextFile(script, attackScript(db.hostname, Number(db.port)));
  const w = startWeft(["worker", script, "--store", url, "--lease", "1s", "--no-isolate"]);
  try {
    await workersUp(url, 1);
    const a = await detach(script, url, "bodyAttack");
    const ra = await finished(url, a);
    assert.equal(ra.status, "succeeded", JSON.stringify(ra.errors));
    assert.match(String(ra.outputs), /connect=CONNECTED/);
    assert.match(w.stderr(), /mode --no-isolate/);
  } finally {
    w.signal("SIGKILL");
    await w.status;
  }
});

Deno.test({
  name:
    "weft worker (isolated): a worker driving a run is SIGKILLed mid-flow; another takes it over and the result equals an uninterrupted run's",
  ignore,
}, async () => {
  await using tmp = await tempDir();
  const url = await (await sharedCluster()).createDatabase("boundfail");
  const script = `${tmp.dir}/jobs.ts`;
  await Deno.writeTextFile(script, workerScript(`${ROOT}/mod.ts`));
  const procs: Proc[] = [];
  const worker = () => {
    const p = startWeft(["worker", script, "--store", url, "--lease", "1s"]);
    procs.push(p);
    return p;
  };
  try {
    const a = worker();
    await workersUp(url, 1);
    const n = 12;
    const runId = await detach(script, url, "chain", [`n=${n}`, "ms=100"]);
    await until("a few steps", async () => (await readLog(tmp.dir)).length >= 6, 60_000);
    const b = worker();
    await workersUp(url, 2);
    a.signal("SIGKILL");
    await a.status;
    const run = await finished(url, runId, 120_000);
    assert.equal(run.status, "succeeded", JSON.stringify(run.errors));
    let expected = 0;
    for (let i = 0; i < n; i++) {
      expected += i % 5 === 4 ? 2 * i + 2 * (i + 100) + 2 * (i + 200) : 2 * i;
    }
    assert.equal(run.outputs, expected);
    const ends = new Set(
      (await readLog(tmp.dir)).filter((l) => l.what === "end").map((l) => l.node),
    );
    assert.equal(ends.size, run.nodes.filter((x) => x.kind === "task").length);
    // The second worker drove it to its end, from the journal the first left.
    assert.match(b.stderr(), new RegExp(`run ${runId} succeeded`), b.stderr());
  } finally {
    for (const p of procs) p.signal("SIGKILL");
    await Promise.all(procs.map((p) => p.status));
  }
});
