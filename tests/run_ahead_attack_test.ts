// Attacks on weft run's running ahead (steps that declare nothing are acted on
// before they are durable): real `weft run` processes on a real SQLite store,
// the parent killed (SIGKILL) at random points and the run resumed. What must
// hold: nothing outside ever saw a state the resumed run does not reproduce,
// each step that writes ran once but the one in flight, the result is right.

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { deno, ROOT, tempDir } from "./_helpers.ts";
import { postgresMissing, sharedCluster } from "./_postgres.ts";
import { agrees, DRAW_AND_SAY, killedAndAgreeing, SAY } from "./_crash.ts";

// Steps that declare nothing draw random numbers in every shape the engine
// runs them in: a nested flow, all() of branches, race() of a step and a
// nested flow, a static workflow called from the flow; a step that writes is
// called with nothing but what the flow decided from them (a parity).
const SHAPES = `import { all, flow, race, task, wait, workflow } from "${ROOT}/mod.ts";
${DRAW_AND_SAY}const inner = flow(async function* inner(x: number, k: number) {
  for (let i = 0; i < k; i++) x = yield* wait(draw(x));
  return x;
});
const three = workflow(function three(x: number) {
  return draw(draw(draw(x)));
});
export const shapes = flow(async function* shapes(n: number) {
  const said: string[] = [];
  let x = 0;
  for (let i = 0; i < n; i++) {
    x = yield* wait(three(x));
    x = yield* wait(inner(x, 4));
    const [a, b] = yield* all([draw(x), draw(x + 1)]);
    const w = yield* race([draw(a + b), inner(a, 2)]);
    x = yield* wait(draw(w));
    said.push(yield* wait(x % 2 === 0 ? say(i, "even") : say(i, "odd")));
  }
  return said;
});
`;

Deno.test("weft run killed at random points: nested flows, all, race and a static workflow of random steps never steer a step that writes to a decision the resumed run forgets", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/shapes.ts`, SHAPES);
  const N = 40;
  await killedAndAgreeing(tmp.dir, "shapes.ts", "shapes", N);
});

Deno.test("weft run cancelled (SIGINT) at random points while random steps run ahead, then resumed: every line written agrees with the finished run", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/shapes.ts`, SHAPES);
  const N = 30;
  await killedAndAgreeing(tmp.dir, "shapes.ts", "shapes", N, {
    rounds: 4,
    signal: "SIGINT",
    minKills: 1,
  });
});

Deno.test({
  name:
    "weft run on PostgreSQL killed at random points: random steps in nested flows, all, race and a workflow never steer a step that writes to a decision the resumed run forgets",
  ignore: postgresMissing() !== undefined,
  async fn() {
    const cluster = await sharedCluster();
    const url = await cluster.createDatabase("ahead");
    await using tmp = await tempDir();
    await Deno.writeTextFile(`${tmp.dir}/shapes.ts`, SHAPES);
    const N = 30;
    await killedAndAgreeing(tmp.dir, "shapes.ts", "shapes", N, { storeUrl: url });
  },
});

// A step holding a grant reads the store's file itself when it starts: every
// result of a step that declares nothing which the flow acted on before it is
// on disk then, whatever the shape (a nested flow, race, all, a retried step,
// a step that never yields for 40 ms, a workflow, 10,000 branches at once).
const PEEK = `import { all, flow, race, task, wait, workflow } from "${ROOT}/mod.ts";
import { DatabaseSync } from "node:sqlite";
let tries = 0;
const draw = task(function draw(i: number) {
  return i + Math.floor(Math.random() * 1000);
});
const flakyDraw = task(
  { name: "flakyDraw", retries: 3, retryDelay: 0 },
  function flakyDraw(i: number) {
    if (tries++ % 2 === 0) throw new Error("first try");
    return i + 1;
  },
);
const spin = task(function spin(i: number) {
  const end = Date.now() + 40;
  let x = i;
  while (Date.now() < end) x = (x * 31 + 7) % 1000003;
  return x;
});
const peek = task(
  { name: "peek", permissions: { read: ["."], write: ["."] } },
  (want: number) => {
    const db = new DatabaseSync("weft.db", { readOnly: true });
    try {
      const seen = (db.prepare(
        "SELECT count(*) AS n FROM nodes WHERE status = 'succeeded' AND entity IN ('draw', 'flakyDraw', 'spin')",
      ).get() as { n: number }).n;
      return seen >= want ? "ok" : \`saw \${seen} of \${want}\`;
    } finally {
      db.close();
    }
  },
);
const inner = flow(async function* inner(n: number) {
  let x = 0;
  for (let i = 0; i < n; i++) x = yield* wait(draw(x));
  return x;
});
const three = workflow(function three(x: number) {
  return draw(draw(draw(x)));
});
export const peeks = flow(async function* peeks(n: number) {
  const out: string[] = [];
  let acted = 0;
  for (let r = 0; r < n; r++) {
    yield* wait(inner(5));
    acted += 5;
    out.push(yield* wait(peek(acted)));
    yield* race([inner(3), draw(1)]);
    acted += 1;
    out.push(yield* wait(peek(acted)));
    yield* all([draw(1), draw(2)]);
    acted += 2;
    out.push(yield* wait(peek(acted)));
    yield* wait(flakyDraw(r));
    acted += 1;
    out.push(yield* wait(peek(acted)));
    yield* wait(spin(r));
    acted += 1;
    out.push(yield* wait(peek(acted)));
    yield* wait(three(r));
    acted += 3;
    out.push(yield* wait(peek(acted)));
    for (let k = 0; k < 30; k++) yield* wait(draw(k));
    acted += 30;
    out.push(yield* wait(peek(acted)));
  }
  const wide = yield* all(Array.from({ length: 10_000 }, (_, i) => draw(i)));
  acted += wide.length;
  out.push(yield* wait(peek(acted)));
  return { peeks: out.length, late: out.filter((s) => s !== "ok") };
});
`;

for (const mode of ["per-task", "--no-isolate"]) {
  Deno.test(`weft run (${mode}): a step holding a grant finds on disk every result the run acted on before it started`, async () => {
    await using tmp = await tempDir();
    await Deno.writeTextFile(`${tmp.dir}/peeks.ts`, PEEK);
    const out = await deno([
      "run",
      "-A",
      `${ROOT}/cli.ts`,
      "run",
      `${tmp.dir}/peeks.ts`,
      "--input",
      "n=15",
      "--store",
      `sqlite:${tmp.dir}/weft.db`,
      "--quiet",
      ...(mode === "per-task" ? [] : ["--no-isolate"]),
    ], { cwd: tmp.dir });
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout), { peeks: 15 * 7 + 1, late: [] });
    // The store agrees: every step on record, none left running.
    const db = new DatabaseSync(`${tmp.dir}/weft.db`, { readOnly: true });
    try {
      const rows = db.prepare("SELECT status, count(*) AS n FROM nodes GROUP BY status").all() as {
        status: string;
        n: number;
      }[];
      assert.deepEqual(rows.map((r) => r.status), ["succeeded"]);
    } finally {
      db.close();
    }
  });
}

// A cached step that declares nothing draws at random: its cache entry must be
// the value its run recorded (committed with it), never one of an attempt a
// crash lost, or another run would act on a value the first run forgot.
const CACHED = `import { flow, task, wait } from "${ROOT}/mod.ts";
import { appendFileSync } from "node:fs";
const roll = task(
  { name: "roll", cache: true, version: "1" },
  function roll(i: number) {
    return i * 1000 + Math.floor(Math.random() * 1000);
  },
);
${SAY}export const rolls = flow(async function* rolls(n: number) {
  const said: string[] = [];
  for (let i = 0; i < n; i++) {
    let x = 0;
    for (let k = 0; k < 5; k++) x += yield* wait(roll(i * 5 + k));
    said.push(yield* wait(x % 2 === 0 ? say(i, "even") : say(i, "odd")));
  }
  return said;
});
`;

Deno.test("weft run killed at random points with cached random steps: another run reads from the cache exactly the values the killed run recorded", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/rolls.ts`, CACHED);
  const N = 30;
  const said = await killedAndAgreeing(tmp.dir, "rolls.ts", "rolls", N);
  // A second run of the same script takes every roll from the cache.
  await Deno.remove(`${tmp.dir}/log`);
  const again = await deno([
    "run",
    "-A",
    `${ROOT}/cli.ts`,
    "run",
    `${tmp.dir}/rolls.ts`,
    "--input",
    `n=${N}`,
    "--run-id",
    "again",
    "--store",
    `sqlite:${tmp.dir}/weft.db`,
    "--quiet",
  ], { cwd: tmp.dir });
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), said);
  const db = new DatabaseSync(`${tmp.dir}/weft.db`, { readOnly: true });
  try {
    // The cache holds what the killed run recorded, roll by roll.
    const rows = db.prepare(
      `SELECT a.id AS id, a.outputs AS first, b.outputs AS second, b.cached_from AS cached
       FROM nodes a JOIN nodes b ON a.id = b.id
       WHERE a.run_id = 'killed' AND b.run_id = 'again' AND a.entity = 'roll'`,
    ).all() as { id: string; first: string; second: string; cached: string | null }[];
    assert.equal(rows.length, N * 5);
    for (const r of rows) {
      assert.equal(r.second, r.first, `${r.id} differs`);
      assert.equal(r.cached, `killed/${r.id}`);
    }
  } finally {
    db.close();
  }
  const show = await deno([
    "run",
    "-A",
    `${ROOT}/cli.ts`,
    "show",
    "killed",
    "--store",
    `sqlite:${tmp.dir}/weft.db`,
  ]);
  assert.equal(show.code, 0, show.stderr);
});

// A run that suspends on a signal wait after random steps, and is woken: the
// steps it ran ahead before suspending are what the woken run replays.
const SUSPENDS = `import { flow, signal, task, wait } from "${ROOT}/mod.ts";
${DRAW_AND_SAY}export const waits = flow(async function* waits(n: number) {
  const said: string[] = [];
  let x = 0;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 20; k++) x = yield* wait(draw(x));
    const go = yield* signal<number>("go");
    for (let k = 0; k < 20; k++) x = yield* wait(draw(x + go));
    said.push(yield* wait(x % 2 === 0 ? say(i, "even") : say(i, "odd")));
  }
  return said;
});
`;

Deno.test("weft run --suspend after random steps ran ahead, woken by signals: the woken run replays what the suspended one drew", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/waits.ts`, SUSPENDS);
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const cli = (args: string[]) =>
    deno(["run", "-A", `${ROOT}/cli.ts`, ...args, ...store], { cwd: tmp.dir });
  const N = 3;
  let out = await cli([
    "run",
    `${tmp.dir}/waits.ts`,
    "--input",
    `n=${N}`,
    "--run-id",
    "sleepy",
    "--suspend",
    "0",
    "--quiet",
  ]);
  for (let i = 0; i < N; i++) {
    assert.equal(out.code, 75, out.stderr);
    const sent = await cli(["signal", "sleepy", "go", String(i + 1)]);
    assert.equal(sent.code, 0, sent.stderr);
    out = await cli(["resume", "sleepy", "--suspend", "0", "--json"]);
  }
  assert.equal(out.code, 0, out.stderr);
  const report = JSON.parse(out.stdout.trim().split("\n").at(-1)!);
  assert.equal(report.status, "succeeded");
  const lines = (await Deno.readTextFile(`${tmp.dir}/log`)).split("\n").filter((l) => l !== "");
  agrees(lines, report.outputs);
  assert.equal(lines.length, N);
});

// Steps that declare nothing log with ctx.log what they drew: after kills and
// resumes, each step the run recorded has exactly its own line, the value it
// recorded (a line of an attempt the crash lost is never kept beside it);
// and, as everywhere here, every line written agrees with the decision the
// run recorded (without the commit before a step that declares a grant this
// fails: "step 5 wrote odd; the run recorded even").
const LOGGED = `import { flow, task, wait, type TaskContext } from "${ROOT}/mod.ts";
import { appendFileSync } from "node:fs";
const draw = task(function draw(x: number, ctx: TaskContext) {
  const v = x + Math.floor(Math.random() * 1000);
  ctx.log("drew " + v);
  return v;
});
${SAY}export const logged = flow(async function* logged(n: number) {
  const said: string[] = [];
  let x = 0;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 10; k++) x = yield* wait(draw(x));
    said.push(yield* wait(x % 2 === 0 ? say(i, "even") : say(i, "odd")));
  }
  return said;
});
`;

Deno.test("weft run killed at random points: the ctx.log line of each step that declares nothing is the one of the value the run recorded, once", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/logged.ts`, LOGGED);
  const N = 50;
  await killedAndAgreeing(tmp.dir, "logged.ts", "logged", N);
  const { SqliteStore } = await import("../src/store/sqlite/mod.ts");
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    const logs = await store.logs("killed");
    const journal = await store.readJournal("killed");
    const draws = [...journal!.journal.values()].filter((e) => e.nodeId.startsWith("draw"));
    assert.equal(draws.length, N * 10);
    for (const e of draws) {
      const mine = logs.filter((l) => l.nodeId === e.nodeId && l.kind === "log");
      assert.deepEqual(
        mine.map((l) => l.message),
        [`drew ${e.value}`],
        `${e.nodeId} recorded ${e.value}`,
      );
    }
  } finally {
    store.close();
  }
});

// A random step's result is handed to a composite node (a nested flow called
// with its handle, an ifElse of a static workflow) that decides from it which
// step that writes to call; that step's own inputs are constants.
const HANDED = `import { flow, gt, ifElse, task, wait, workflow } from "${ROOT}/mod.ts";
${DRAW_AND_SAY}const inner = flow(async function* inner(i: number, v: number) {
  return yield* wait(v % 2 === 0 ? say(i, "even") : say(i, "odd"));
});
const decide = workflow(function decide(i: number, x: number) {
  const d = draw(x);
  return ifElse(gt(d, 499), () => say(i, "high"), () => say(i, "low"), { name: "pick" });
});
export const handed = flow(async function* handed(n: number) {
  const said: string[] = [];
  for (let i = 0; i < n; i++) {
    said.push(yield* wait(i % 2 === 0 ? inner(i, draw(0)) : decide(i, 0)));
  }
  return said;
});
`;

Deno.test("weft run killed at random points: a nested flow or an ifElse that decides from a random step's result never starts a step that writes before that result is durable", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/handed.ts`, HANDED);
  const N = 60;
  await killedAndAgreeing(tmp.dir, "handed.ts", "handed", N, { rounds: 8 });
});

Deno.test("in-process run(): a nested flow or an ifElse acts on a step's result only once it is on disk", async () => {
  const { flow, gt, ifElse, run, task, wait, workflow } = await import("../mod.ts");
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  const reader = { db: undefined as DatabaseSync | undefined };
  const onDisk = (id: string) => {
    reader.db ??= new DatabaseSync(path, { readOnly: true });
    return (reader.db.prepare(
      "SELECT count(*) AS n FROM nodes WHERE id = ? AND status = 'succeeded'",
    ).get(id) as { n: number }).n;
  };
  const draw = task(function draw(x: number) {
    return x + 600;
  });
  // What a step sees of the store when it starts: the draw that steered the run to it.
  const look = task(function look(id: string) {
    return onDisk(id);
  });
  const inner = flow(async function* inner(v: number) {
    return v > 0 ? yield* wait(look("draw")) : -1;
  });
  const decide = workflow(function decide(x: number) {
    const d = draw(x);
    return ifElse(gt(d, 499), () => look("decide/draw"), () => look("nothing"), { name: "pick" });
  });
  const outer = flow(async function* outer() {
    const a = yield* wait(inner(draw(0)));
    const b = yield* wait(decide(0));
    return [a, b];
  });
  try {
    const result = await run(outer, {}, { store: `sqlite:${path}`, runId: "handed" });
    assert.equal(result.status, "succeeded", JSON.stringify(result.errors));
    assert.deepEqual(result.outputs, [1, 1]);
  } finally {
    reader.db?.close();
  }
});
