// The PostgreSQL store through the CLI and the library: every history
// command, resume, $WEFT_STORE, run(…, { store: "postgres://…" }),
// migrations, and errors that say what to do. Against a private cluster
// (_postgres.ts); skipped with a message where PostgreSQL is not installed.

import assert from "node:assert/strict";
import { run, task } from "../mod.ts";
import { PG_SCHEMA_VERSION, PostgresStore } from "../src/store/postgres/mod.ts";
import { deno, ROOT, tempDir } from "./_helpers.ts";
import { postgresMissing, sharedCluster } from "./_postgres.ts";

const MOD = `${ROOT}/mod.ts`;
const ignore = postgresMissing() !== undefined;
if (ignore) console.warn(`weft: PostgreSQL store tests skipped: ${postgresMissing()}`);

function weft(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args], options);
}

const SCRIPT = `import { flow, task, wait } from "${MOD}";
const double = task({ name: "double", cache: true, version: "1" }, (x: number) => x * 2);
const check = task({ name: "check", permissions: { read: ["./ok"] } }, async (x: number) => {
  await Deno.stat("./ok"); // fails until the file exists
  return x + 1;
});
export const pipeline = flow(async function* pipeline(n: number) {
  let total = 0;
  for (let i = 0; i < n; i++) total += yield* wait(double(i));
  return yield* wait(check(total));
});
`;

Deno.test({
  name: "every history command works against a PostgreSQL store, and a failed run resumes",
  ignore,
}, async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/pipe.ts`, SCRIPT);
  const url = await (await sharedCluster()).createDatabase("cli");
  const store = ["--store", url];
  const failed = await weft([
    "run",
    `${tmp.dir}/pipe.ts`,
    "--input",
    "n=4",
    "--run-id",
    "pg-1",
    ...store,
  ]);
  assert.equal(failed.code, 1, failed.stderr);
  // The run's process gets no grant on the store: this process owns it.
  assert.doesNotMatch(failed.stderr, /← .*store/);

  const runs = await weft(["runs", ...store]);
  assert.equal(runs.code, 0, runs.stderr);
  assert.match(runs.stdout, /pg-1\s+pipeline\s+failed/);

  await Deno.writeTextFile(`${tmp.dir}/ok`, "");
  // $WEFT_STORE names the store when --store does not.
  const resumed = await weft(["resume", "pg-1", "--quiet"], { env: { WEFT_STORE: url } });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(resumed.stdout.trim(), "13");

  const show = await weft(["show", "pg-1", ...store]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /status\s+succeeded/);
  assert.match(show.stdout, /double_4\s+double\s+succeeded/);

  const lineage = await weft(["lineage", "pg-1/check/o0", ...store]);
  assert.equal(lineage.code, 0, lineage.stderr);
  assert.match(lineage.stdout, /from check\.o0\n\ncheck {2}\(check\)\n/);

  const exported = await weft(["export", "pg-1", "--format", "dot", ...store]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stdout, /^digraph provenance/);

  // The cache is shared through the database: a second run hits it.
  const second = await weft([
    "run",
    `${tmp.dir}/pipe.ts`,
    "--input",
    "n=4",
    ...store,
    "--json",
  ]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout.split("\n").filter((l) => l.includes('"node cached"')).length, 4);
  const cleared = await weft(["cache", "clear", "double", ...store]);
  assert.equal(cleared.code, 0, cleared.stderr);
  assert.match(cleared.stderr + cleared.stdout, /removed 4 cached results/);
});

Deno.test({
  name: "run() takes a postgres:// URL; a newer schema and a missing database are refused clearly",
  ignore,
}, async () => {
  const cluster = await sharedCluster();
  const url = await cluster.createDatabase("lib");
  const inc = task(function inc(x: number) {
    return x + 1;
  });
  const r = await run(inc, { x: 1 }, { store: url, runId: "lib-1" });
  assert.equal(r.status, "succeeded");
  const store = await PostgresStore.open(url);
  try {
    assert.equal((await store.getRun("lib-1"))?.outputs, 2);
  } finally {
    await store.close();
  }
  const db = new URL(url).pathname.slice(1);
  assert.equal(
    (await cluster.psql("SELECT value FROM weft.meta WHERE key = 'schema_version'", db)).trim(),
    String(PG_SCHEMA_VERSION),
  );
  await cluster.psql(`UPDATE weft.meta SET value = '999' WHERE key = 'schema_version'`, db);
  await assert.rejects(
    () => PostgresStore.open(url),
    /written by a newer weft \(schema 999; this weft reads up to \d+\)/,
  );
  const missing = await weft(["runs", "--store", cluster.url("no_such_db")]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /names a database that does not exist/);
});

Deno.test({
  name: "a store in another schema of the same database is separate",
  ignore,
}, async () => {
  const url = await (await sharedCluster()).createDatabase("schemas");
  const one = task(function one() {
    return 1;
  });
  await run(one, {}, { store: `${url}?schema=team_a`, runId: "a-1" });
  const b = await PostgresStore.open(`${url}?schema=team_b`);
  const a = await PostgresStore.open(`${url}?schema=team_a`);
  try {
    assert.equal(await b.getRun("a-1"), undefined);
    assert.equal((await a.getRun("a-1"))?.status, "succeeded");
  } finally {
    await a.close();
    await b.close();
  }
});
