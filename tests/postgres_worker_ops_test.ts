// `weft worker` as an operator sees it: SIGTERM stops it gracefully (no new
// claims, what it holds finishes, the run it drove goes on elsewhere), a
// call longer than the lease is renewed by its worker and runs once, a
// call runs with exactly its task's declared permissions, and weft's
// sessions carry their settings. Real processes, a real cluster
// (_postgres.ts); skipped with a message where PostgreSQL is not installed.

import assert from "node:assert/strict";
import { PostgresStore } from "../src/store/postgres/mod.ts";
import { ROOT, tempDir } from "./_helpers.ts";
import { postgresMissing, sharedCluster } from "./_postgres.ts";
import { detach, finished, readLog, startWeft, stopAll, until, workerSetup } from "./_workers.ts";

const ignore = postgresMissing() !== undefined;
if (ignore) console.warn(`weft: PostgreSQL worker tests skipped: ${postgresMissing()}`);

Deno.test({
  name:
    "a worker stopped by SIGTERM claims nothing more, finishes what it holds, and another finishes the run",
  ignore,
}, async () => {
  const { tmp, dir, script, url } = await workerSetup("sigterm");
  await using _ = tmp;
  const first = startWeft([
    "worker",
    script,
    "--store",
    url,
    "--concurrency",
    "2",
    "--grace",
    "120s",
  ]);
  const procs = [first];
  try {
    // 16 calls of 1 s, two at a time: 8 s of work for one worker.
    const runId = await detach(script, url, "fanout", ["n=16", "ms=1000"]);
    await until("the first calls to start", async () => (await readLog(dir)).length > 0, 120_000);
    first.signal("SIGTERM");
    const status = await first.status;
    assert.equal(status.code, 0, first.stderr());
    const stopped = /stopped: (\d+) completed, (\d+) refused \(lease lost\), (\d+) given back/
      .exec(first.stderr());
    assert.ok(stopped, first.stderr());
    assert.equal(stopped[2], "0", "nothing it held was refused");
    assert.equal(stopped[3], "0", "nothing had to be given back within the grace");
    const log = await readLog(dir);
    const mine = log.filter((l) => l.pid === first.pid);
    const started = mine.filter((l) => l.what === "start").map((l) => l.node);
    const ended = new Set(mine.filter((l) => l.what === "end").map((l) => l.node));
    assert.ok(started.length > 0);
    for (const node of started) assert.ok(ended.has(node), `${node} was left unfinished`);
    assert.ok(started.length < 16, "it stopped claiming");
    const cluster = await sharedCluster();
    const db = new URL(url).pathname.slice(1);
    const count = async (table: string) =>
      Number((await cluster.psql(`SELECT count(*) FROM weft.${table}`, db)).trim());
    assert.equal(await count("workers"), 0, "the stopped worker left the workers list");
    // The run goes on with another worker: it drives the run from its journal.
    const second = startWeft(["worker", script, "--store", url, "--concurrency", "8"]);
    procs.push(second);
    const run = await finished(url, runId, 120_000);
    assert.equal(run.status, "succeeded", JSON.stringify(run.errors));
    assert.equal(run.outputs, 2 * (15 * 16) / 2);
    const starts = (await readLog(dir)).filter((l) => l.what === "start");
    assert.equal(starts.length, 16, "each call ran once");
    assert.equal(new Set(starts.map((l) => l.node)).size, 16);
    // Retention: the hot table holds unfinished calls only.
    assert.equal(await count("tasks"), 0, "no queue row outlives its call");
  } finally {
    await stopAll(procs);
  }
});

Deno.test({
  name: "a call that outlasts its lease is renewed by its worker and runs once",
  ignore,
}, async () => {
  const { tmp, dir, script, url } = await workerSetup("renew");
  await using _ = tmp;
  // Two workers, a lease of 2 s, calls of 7 s: without renewal each call's
  // lease would run out three times over and the other worker would take it.
  const procs = [1, 2].map(() =>
    startWeft(["worker", script, "--store", url, "--lease", "2s", "--concurrency", "2"])
  );
  try {
    const runId = await detach(script, url, "fanout", ["n=3", "ms=7000"]);
    const run = await finished(url, runId, 120_000);
    assert.equal(run.status, "succeeded", JSON.stringify(run.errors));
    assert.equal(run.outputs, 6);
    const starts = (await readLog(dir)).filter((l) => l.what === "start");
    assert.equal(starts.length, 3, `each call ran once: ${JSON.stringify(starts)}`);
    for (const p of procs) assert.doesNotMatch(p.stderr(), /lease .* was lost/);
  } finally {
    await stopAll(procs);
  }
});

const PERMISSIONS_SCRIPT = `import { flow, task, wait } from "${ROOT}/mod.ts";
export const allowed = task(
  { name: "allowed", permissions: { read: ["./allowed.txt"] } },
  () => Deno.readTextFileSync("./allowed.txt"),
);
export const peek = task(
  { name: "peek", permissions: { read: ["./allowed.txt"] } },
  () => Deno.readTextFileSync("./secret.txt"),
);
// One after the other: run side by side, peek's failure could cancel allowed first.
export const both = flow(async function* both() {
  const fine = yield* wait(allowed());
  return [fine, yield* wait(peek())];
});
`;

Deno.test({
  name:
    "a worker runs each call with exactly its task's permissions: an undeclared read is refused",
  ignore,
}, async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/allowed.txt`, "fine");
  await Deno.writeTextFile(`${tmp.dir}/secret.txt`, "secret");
  await Deno.writeTextFile(`${tmp.dir}/perms.ts`, PERMISSIONS_SCRIPT);
  const url = await (await sharedCluster()).createDatabase("perms");
  const script = `${tmp.dir}/perms.ts`;
  const procs = [startWeft(["worker", script, "--store", url])];
  try {
    const runId = await detach(script, url, "both", []);
    const run = await finished(url, runId, 120_000);
    assert.equal(run.status, "failed");
    const byEntity = new Map(run.nodes.map((n) => [n.entity, n]));
    assert.equal(byEntity.get("allowed")?.status, "succeeded");
    const peek = byEntity.get("peek")!;
    assert.equal(peek.status, "failed");
    assert.equal(peek.error?.name, "PermissionDeniedError", JSON.stringify(peek.error));
    assert.match(peek.error!.message, /secret\.txt/);
    assert.match(peek.error!.message, /peek/);
  } finally {
    await stopAll(procs);
  }
});

Deno.test({
  name: "weft's sessions give up an idle transaction after 60 s and say they are weft's",
  ignore,
}, async () => {
  const url = await (await sharedCluster()).createDatabase("settings");
  const store = await PostgresStore.open(url);
  try {
    const [row] = await store.sql.unsafe(
      `SELECT current_setting('idle_in_transaction_session_timeout') AS idle,
              current_setting('application_name') AS app`,
    );
    assert.equal(row!.idle, "1min");
    assert.equal(row!.app, "weft");
  } finally {
    await store.close();
  }
});
