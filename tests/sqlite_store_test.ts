import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { flow, now, random, run, task, ValidationError, wait } from "../mod.ts";
import { SCHEMA_VERSION, SqliteStore } from "../src/store/sqlite/mod.ts";
import { tempDir } from "./_helpers.ts";

Deno.test("a store file written by a newer weft is refused with a clear message", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  SqliteStore.open(path).close();
  const db = new DatabaseSync(path);
  db.prepare("UPDATE weft_meta SET value = ? WHERE key = 'schema_version'").run(
    String(SCHEMA_VERSION + 1),
  );
  db.close();
  assert.throws(
    () => SqliteStore.open(path),
    (e) =>
      e instanceof ValidationError &&
      new RegExp(
        `written by a newer weft \\(schema ${
          SCHEMA_VERSION + 1
        }; this weft reads up to ${SCHEMA_VERSION}\\); upgrade weft`,
      ).test(e.message),
  );
});

Deno.test("a store written by schema 1 is migrated: its runs read the same and a failed run resumes", async () => {
  // tests/fixtures/store_v1.db was written by weft at schema 1 (commit d9e12e8): run
  // 'v1-done' of steps(n: 3) succeeded with 30; run 'v1-failed' of steps(n: 5) failed at step 3.
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  await Deno.copyFile(new URL("./fixtures/store_v1.db", import.meta.url), path);
  const executed: number[] = [];
  const step = task(function step(i: number) {
    executed.push(i);
    return i * 10;
  });
  const steps = flow(async function* steps(n: number) {
    let total = 0;
    for (let i = 0; i < n; i++) total += yield* wait(step(i));
    return total;
  });
  const store = SqliteStore.open(path);
  try {
    const done = (await store.getRun("v1-done"))!;
    assert.equal(done.status, "succeeded");
    assert.equal(done.outputs, 30);
    assert.deepEqual(done.nodes.map((n) => n.id), ["step", "step_2", "step_3"]);
    assert.deepEqual((await store.getRun("v1-failed"))!.nodes.map((n) => n.status), [
      "succeeded",
      "succeeded",
      "succeeded",
      "failed",
    ]);
    const resumed = await run(steps, { n: 5 }, { store, runId: "v1-failed" });
    assert.equal(resumed.status, "succeeded", resumed.errors[0]?.message);
    assert.equal(resumed.outputs, 100);
    assert.deepEqual(executed, [3, 4]);
    // A new run takes the next number: its nodes and the old ones stay apart.
    await run(steps, { n: 2 }, { store, runId: "v2-new" });
    assert.deepEqual((await store.getRun("v2-new"))!.nodes.map((n) => n.id), ["step", "step_2"]);
    assert.equal((await store.getRun("v1-failed"))!.nodes.length, 5);
    assert.equal((await store.getRun("v1-done"))!.nodes.length, 3);
  } finally {
    store.close();
  }
  const db = new DatabaseSync(path);
  const version = db.prepare("SELECT value FROM weft_meta WHERE key = 'schema_version'").get();
  db.close();
  assert.equal(Number(version!.value), SCHEMA_VERSION);
});

Deno.test("a file that is not a store is refused and left as it was", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  const garbage = "this is not a database, just some text that is long enough to have a header"
    .repeat(20);
  await Deno.writeTextFile(path, garbage);
  assert.throws(
    () => SqliteStore.open(path),
    (e) =>
      e instanceof ValidationError &&
      /is not a weft store \(SQLite: file is not a database\)/.test(e.message),
  );
  assert.equal(await Deno.readTextFile(path), garbage);
});

Deno.test("a store locked by another process for too long is a clear error", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  SqliteStore.open(path).close();
  const holder = new DatabaseSync(path);
  holder.exec("PRAGMA journal_mode = WAL; BEGIN EXCLUSIVE");
  try {
    const store = SqliteStore.open(path, { busyTimeoutMs: 50 });
    try {
      await assert.rejects(
        () =>
          run(
            task(function locked() {
              return 1;
            }),
            {},
            { store },
          ),
        /locked by another process/,
      );
    } finally {
      store.close();
    }
  } finally {
    holder.exec("ROLLBACK");
    holder.close();
  }
});

Deno.test("two connections share one store file: a reader sees a run while it is running", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  const writer = SqliteStore.open(path);
  const reader = SqliteStore.open(path);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow = task(async function slow() {
    await gate;
    return 1;
  });
  const quick = task(function quick() {
    return 0;
  });
  const f = flow(async function* shared() {
    yield* wait(quick());
    return yield* wait(slow());
  });
  const running = run(f, {}, { store: writer, runId: "shared-1" });
  for (let i = 0; i < 50; i++) {
    const seen = await reader.getRun("shared-1");
    if (seen?.nodes.some((n) => n.id === "quick" && n.status === "succeeded")) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const during = await reader.getRun("shared-1");
  assert.equal(during!.status, "running");
  assert.equal(during!.nodes.find((n) => n.id === "quick")!.status, "succeeded");
  release();
  assert.equal((await running).status, "succeeded");
  assert.equal((await reader.getRun("shared-1"))!.status, "succeeded");
  writer.close();
  reader.close();
});

Deno.test("now() and random() are journalled: a resumed flow sees the values of its first run", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  let broken = true;
  const gate = task(function gate(x: number) {
    if (broken) throw new Error("not yet");
    return x;
  });
  const seen: number[][] = [];
  const f = flow(async function* timed() {
    const t = yield* wait(now());
    const r = yield* wait(random());
    seen.push([t, r]);
    return yield* wait(gate(r));
  });
  assert.equal((await run(f, {}, { store, runId: "det-1" })).status, "failed");
  await new Promise((r) => setTimeout(r, 5));
  broken = false;
  const second = await run(f, {}, { store, runId: "det-1" });
  assert.equal(second.status, "succeeded");
  assert.deepEqual(seen[0], seen[1]);
  assert.equal(second.outputs, seen[0]![1]);
  store.close();
});

Deno.test("the store keeps each value once however often it appears", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  const store = SqliteStore.open(path);
  const same = task(function same(i: number) {
    return { payload: "x".repeat(10_000), parity: i % 2 };
  });
  const f = flow(async function* many() {
    const hs = [];
    for (let i = 0; i < 20; i++) hs.push(same(i));
    return (yield* wait(hs[0]!)).parity;
  });
  await run(f, {}, { store });
  store.close();
  const db = new DatabaseSync(path);
  const big = db.prepare('SELECT COUNT(*) AS n FROM "values" WHERE size > 10000').get() as {
    n: number;
  };
  db.close();
  assert.equal(Number(big.n), 2);
});

Deno.test("a process killed while it creates a store leaves no store or a whole one, never an empty file", async () => {
  await using tmp = await tempDir();
  const script = `${tmp.dir}/create.ts`;
  // The child creates stores one after another until it is killed, so that a
  // kill at any moment lands in a creation, whatever the machine's speed.
  await Deno.writeTextFile(
    script,
    `import { SqliteStore } from ${JSON.stringify(new URL("../sqlite.ts", import.meta.url).href)};
     await Deno.stdout.write(new TextEncoder().encode("started\\n"));
     for (let n = 0; ; n++) SqliteStore.open(Deno.args[0] + "-" + n + ".db").close();`,
  );
  let created = 0;
  for (let i = 0; i < 20; i++) {
    const dir = `${tmp.dir}/round${i}`;
    await Deno.mkdir(dir);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, `${dir}/store`],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    const first = await reader.read();
    reader.releaseLock();
    if (first.done) {
      const err = new TextDecoder().decode((await child.output()).stderr);
      assert.fail(`round ${i}: the child ended before it started creating stores: ${err}`);
    }
    // Once a first store is whole (however slow the machine), kill at a random moment.
    const deadline = Date.now() + 60_000;
    const made = async () => {
      for await (const entry of Deno.readDir(dir)) if (entry.name.endsWith(".db")) return true;
      return false;
    };
    while (!await made()) {
      assert.ok(Date.now() < deadline, `round ${i}: no store was made within a minute`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
    child.kill("SIGKILL");
    const status = await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    assert.equal(status.signal, "SIGKILL", `round ${i}: the child ended on its own`);
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.endsWith(".db")) continue;
      const stat = await Deno.stat(`${dir}/${entry.name}`);
      assert.ok(stat.size > 0, `round ${i}: ${entry.name} was left as an empty file`);
      created++;
    }
    // Every store opens (the one being created is created now), and what a
    // killed creation left beside it is cleared.
    const names: string[] = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    for (const name of names.filter((n) => n.endsWith(".db"))) {
      SqliteStore.open(`${dir}/${name}`).close();
    }
    const next = names.filter((n) => n.endsWith(".db")).length;
    SqliteStore.open(`${dir}/store-${next}.db`).close();
    for await (const entry of Deno.readDir(dir)) {
      assert.ok(!entry.name.includes(".new-"), `round ${i}: ${entry.name} was left behind`);
    }
  }
  // The kills landed while stores were being made, not before the first.
  assert.ok(created > 0);
});
