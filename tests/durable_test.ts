// Durability end to end: the CLI killed at random points resumes without
// losing or repeating completed work; the cache works across processes;
// replays that diverge are caught; every history command works.

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { deno, ROOT, runCommand, tempDir } from "./_helpers.ts";
import { assertActedOnRecorded, assertResumedOnce, stepsLogged } from "./_crash.ts";

const MOD = `${ROOT}/mod.ts`;

function weft(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args], options);
}

/** Whether the store holds the run (a kill may land before it is recorded). */
async function recorded(runId: string, store: string[]): Promise<boolean> {
  return (await weft(["show", runId, ...store])).code === 0;
}

const CRASH_SCRIPT = `import { flow, task, wait } from "${MOD}";
import { appendFileSync } from "node:fs";
const step = task({ name: "step", permissions: { write: ["./steps.log"] } }, async (i: number) => {
  appendFileSync("steps.log", i + "\\n");
  await new Promise((r) => setTimeout(r, 40));
  return i;
});
export const steps = flow(async function* steps(n: number) {
  let total = 0;
  for (let i = 0; i < n; i++) total += yield* wait(step(i));
  return total;
});
`;

Deno.test("a flow killed at 20 random points resumes: every step ran, at most the one in flight twice", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/crash.ts`, CRASH_SCRIPT);
  const expected = (29 * 30) / 2;
  let killedMidRun = 0;
  const readLog = async () =>
    (await Deno.readTextFile(`${tmp.dir}/steps.log`).catch(() => "")).trim().split("\n").filter(
      Boolean,
    ).map(Number);
  for (let round = 0; round < 20; round++) {
    const db = `${tmp.dir}/round${round}.db`;
    await Deno.remove(`${tmp.dir}/steps.log`).catch(() => {});
    const runId = `crash-${round}`;
    const store = ["--store", `sqlite:${db}`];
    const start = [
      "run",
      `${tmp.dir}/crash.ts`,
      "--input",
      "n=30",
      ...store,
      "--run-id",
      runId,
      "--quiet",
    ];
    // Odd rounds are killed twice: once while running, once while resuming.
    const kills = round % 2 === 0 ? 1 : 2;
    let landed = 0;
    const lastStarted: number[] = [];
    for (let k = 0; k < kills; k++) {
      const hasRun = k > 0 && await recorded(runId, store);
      const args = hasRun ? ["resume", runId, ...store, "--quiet"] : start;
      // Its own process group, so that the kill takes the CLI and its run process together.
      const child = new Deno.Command("setsid", {
        args: [Deno.execPath(), "run", "-A", `${ROOT}/cli.ts`, ...args],
        cwd: tmp.dir,
        stdout: "null",
        stderr: "null",
        env: { NO_COLOR: "1" },
      }).spawn();
      // A full run takes about 1.5 s (30 steps of 40 ms after start-up), so
      // nearly every first kill lands mid-run; a kill of a resume may come
      // after the few steps it had left.
      await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 1000)));
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        // it may have finished already
      }
      const status = await child.status;
      if (status.signal === "SIGKILL") {
        landed++;
        killedMidRun++;
        const log = await readLog();
        if (log.length > 0) lastStarted.push(log.at(-1)!);
      }
    }
    // The same run id again: `weft run --run-id` on even rounds, `weft resume` on odd ones.
    const hasRun = await recorded(runId, store);
    const finish = round % 2 === 1 && hasRun ? ["resume", runId, ...store, "--quiet"] : start;
    const resumed = await weft(finish, { cwd: tmp.dir });
    assert.equal(resumed.code, 0, `round ${round}: ${resumed.stderr}`);
    assert.equal(JSON.parse(resumed.stdout), expected);
    const counts = new Map<number, number>();
    for (const i of await readLog()) counts.set(i, (counts.get(i) ?? 0) + 1);
    for (let i = 0; i < 30; i++) {
      assert.ok(counts.get(i)! >= 1, `round ${round}: step ${i} never ran`);
    }
    const repeated = [...counts].filter(([, n]) => n > 1).map(([i]) => i);
    assert.ok(
      repeated.length <= landed,
      `round ${round}: steps ${repeated} ran twice after ${landed} kills`,
    );
    for (const i of repeated) {
      assert.ok(
        counts.get(i)! <= 1 + landed,
        `round ${round}: step ${i} ran ${counts.get(i)} times`,
      );
      // a repeated step is one that was in flight when a kill landed
      assert.ok(
        lastStarted.includes(i),
        `round ${round}: step ${i} repeated but was not in flight (${lastStarted})`,
      );
    }
  }
  assert.ok(killedMidRun >= 15, `only ${killedMidRun} kills landed mid-run`);
});

Deno.test("the cache works across CLI processes; a new version or --no-cache runs again", async () => {
  await using tmp = await tempDir();
  const script = (version: string) =>
    `import { task, workflow } from "${MOD}";
     import { appendFileSync } from "node:fs";
     const costly = task({ name: "costly", cache: true, version: "${version}", permissions: { write: ["./count.log"] } }, (x: number) => {
       appendFileSync("count.log", "x\\n");
       return x * 2;
     });
     export const main = workflow(function main(x: number) { return costly(x); });`;
  await Deno.writeTextFile(`${tmp.dir}/cached.ts`, script("1"));
  const count = async () =>
    (await Deno.readTextFile(`${tmp.dir}/count.log`).catch(() => "")).split("\n").filter(Boolean)
      .length;
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const first = await weft(["run", `${tmp.dir}/cached.ts`, "--input", "x=21", ...store, "--quiet"]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, "42\n");
  const second = await weft(["run", `${tmp.dir}/cached.ts`, "--input", "x=21", ...store]);
  assert.equal(second.stdout, "42\n");
  assert.equal(await count(), 1);
  assert.match(second.stderr, /= costly \(cached\)|1 cached/);
  await weft(["run", `${tmp.dir}/cached.ts`, "--input", "x=21", ...store, "--no-cache", "--quiet"]);
  assert.equal(await count(), 2);
  await Deno.writeTextFile(`${tmp.dir}/cached.ts`, script("2"));
  await weft(["run", `${tmp.dir}/cached.ts`, "--input", "x=21", ...store, "--quiet"]);
  assert.equal(await count(), 3);
  await weft(["run", `${tmp.dir}/cached.ts`, "--input", "x=21", ...store, "--quiet"]);
  assert.equal(await count(), 3);
  const cleared = await weft(["cache", "clear", "costly", ...store]);
  assert.equal(cleared.code, 0);
  assert.match(cleared.stderr, /removed [1-9]\d* cached results? of task 'costly'/);
  await weft(["run", `${tmp.dir}/cached.ts`, "--input", "x=21", ...store, "--quiet"]);
  assert.equal(await count(), 4);
});

Deno.test("resuming after fixing the failing task runs only what had not succeeded", async () => {
  await using tmp = await tempDir();
  const script = (fixed: boolean) =>
    `import { flow, task, wait } from "${MOD}";
     import { appendFileSync } from "node:fs";
     const step = task({ name: "step", permissions: { write: ["./steps.log"] } }, (i: number) => {
       appendFileSync("steps.log", i + "\\n");
       ${fixed ? "" : 'if (i === 3) throw new Error("step 3 is broken");'}
       return i;
     });
     export const main = flow(async function* main() {
       let total = 0;
       for (let i = 0; i < 5; i++) total += yield* wait(step(i));
       return total;
     });`;
  await Deno.writeTextFile(`${tmp.dir}/fix.ts`, script(false));
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const failed = await weft(["run", `${tmp.dir}/fix.ts`, ...store, "--run-id", "fix-1", "--quiet"]);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /step 3 is broken/);
  await Deno.writeTextFile(`${tmp.dir}/fix.ts`, script(true));
  const resumed = await weft(["resume", "fix-1", ...store, "--quiet"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(resumed.stdout, "10\n");
  assert.equal(await Deno.readTextFile(`${tmp.dir}/steps.log`), "0\n1\n2\n3\n3\n4\n");
  const again = await weft(["resume", "fix-1", ...store, "--quiet"]);
  assert.equal(again.stdout, "10\n");
  assert.match(again.stderr, /already succeeded/);
});

Deno.test("a replay that calls something else than its journal fails with NonDeterminismError", async () => {
  await using tmp = await tempDir();
  const script = (first: number) =>
    `import { flow, task, wait } from "${MOD}";
     const add = task(function add(x: number, y: number) { return x + y; });
     const gate = task({ name: "gate", permissions: { read: ["./open"] } }, (x: number) => {
       Deno.readTextFileSync("open");
       return x;
     });
     export const main = flow(async function* main() {
       const a = yield* wait(add(${first}, 1));
       return yield* wait(gate(a));
     });`;
  await Deno.writeTextFile(`${tmp.dir}/drift.ts`, script(1));
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const failed = await weft([
    "run",
    `${tmp.dir}/drift.ts`,
    ...store,
    "--run-id",
    "drift-1",
    "--quiet",
  ]);
  assert.equal(failed.code, 1, failed.stderr);
  await Deno.writeTextFile(`${tmp.dir}/open`, "yes");
  await Deno.writeTextFile(`${tmp.dir}/drift.ts`, script(100));
  const drifted = await weft(["resume", "drift-1", ...store, "--quiet"]);
  assert.equal(drifted.code, 1);
  assert.match(
    drifted.stderr,
    /Replay of run 'drift-1' diverged at the run call #1: the journal recorded add\(x: 1, y: 1\) \(node 'add'\) but the flow now calls add\(x: 100, y: 1\)/,
  );
  assert.match(drifted.stderr, /start a new run id/);
});

Deno.test("runs, show, lineage and export describe what happened; bad references exit 2", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/hist.ts`,
    `import { task, workflow } from "${MOD}";
     const add = task(function add(x: number, y: number) { return x + y; });
     export const main = workflow(function main(x: number) { return add(add(x, 1), 10); });`,
  );
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const none = await weft(["runs", ...store]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /There is no store at .*weft\.db yet/);
  const r = await weft([
    "run",
    `${tmp.dir}/hist.ts`,
    "--input",
    "x=1",
    ...store,
    "--run-id",
    "hist-1",
    "--quiet",
  ]);
  assert.equal(r.stdout, "12\n");
  const runs = await weft(["runs", ...store]);
  assert.equal(runs.code, 0);
  assert.match(
    runs.stdout,
    /^ID\s+ENTITY\s+STATUS\s+STARTED\s+DURATION\nhist-1\s+main\s+succeeded\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+ms\n$/,
  );
  const json = await weft(["runs", ...store, "--json", "--status", "succeeded"]);
  assert.equal(JSON.parse(json.stdout.trim()).id, "hist-1");
  const show = await weft(["show", "hist-1", ...store]);
  assert.equal(show.code, 0);
  assert.match(show.stdout, /status\s+succeeded/);
  assert.match(show.stdout, /outputs\s+12/);
  assert.match(show.stdout, /add_2\s+add\s+succeeded\s+1\s+\d+ms\s+([0-9a-f]{12})/);
  const hash = /add_2\s+add\s+succeeded\s+1\s+\d+ms\s+([0-9a-f]{12})/.exec(show.stdout)![1]!;
  const byHash = await weft(["lineage", hash, ...store]);
  assert.equal(byHash.code, 0, byHash.stderr);
  assert.match(
    byHash.stdout,
    /^[0-9a-f]{12} {2}12\n {2}from add_2\.o0\n\nadd_2 {2}\(add\)\n {2}x {2}[0-9a-f]{12} {2}2 {2}from add\.o0\n {2}y {2}[0-9a-f]{12} {2}10\n\nadd {2}\(add\)\n {2}x {2}[0-9a-f]{12} {2}1 {2}input x of the run\n {2}y {2}[0-9a-f]{12} {2}1( {2}input x of the run)?\n/,
  );
  const byRef = await weft(["lineage", "hist-1/add_2/o0", ...store, "--json"]);
  assert.deepEqual(Object.keys(JSON.parse(byRef.stdout).steps), ["hist-1/add_2", "hist-1/add"]);
  const exported = await weft(["export", "hist-1", ...store]);
  const graph = JSON.parse(exported.stdout);
  assert.equal(graph.format, "weft.provenance/v1");
  assert.deepEqual(graph.executions.map((e: { id: string }) => e.id), ["add", "add_2"]);
  assert.ok(
    graph.edges.some((e: { kind: string; from: string; label: string }) =>
      e.kind === "output" && e.from === "add_2" && e.label === "o0"
    ),
  );
  const dot = await weft(["export", "hist-1", ...store, "--format", "dot"]);
  const svg = await runCommand("dot", ["-Tsvg"], { stdin: dot.stdout });
  assert.equal(svg.code, 0, svg.stderr);
  assert.match(svg.stdout, /<svg/);
  for (
    const [args, pattern] of [
      [["show", "nope"], /No run 'nope'/],
      [["lineage", "deadbeef00"], /No value deadbeef00/],
      [["lineage", "hist-1/zzz"], /has no node 'zzz'/],
      [["export", "nope"], /No run 'nope'/],
      [["export", "hist-1", "--format", "png"], /unknown format 'png'/],
      [["resume", "nope"], /No run 'nope'/],
      [["cache", "purge"], /the only subcommand is 'clear/],
      [["runs", "--status", "weird"], /--status must be/],
    ] as [string[], RegExp][]
  ) {
    const out = await weft([...args, ...store]);
    assert.equal(out.code, 2, `${args.join(" ")}: ${out.stderr}`);
    assert.match(out.stderr, pattern);
    assert.equal(out.stderr.trim().split("\n").length, 1, `${args.join(" ")} prints one line`);
  }
});

/** Runs that share commits in one process: each steps through `n` steps, logging each as it starts. */
const SHARED_SCRIPT = `import { flow, run, task, wait } from "${MOD}";
import { SqliteStore } from "${ROOT}/sqlite.ts";
import { appendFileSync } from "node:fs";
const [path, synchronous, runs, n, pause] = Deno.args;
const step = task(async function step(id: string, i: number) {
  appendFileSync("steps.log", id + " " + i + "\\n");
  // (The process to be killed takes a moment per step, so that the kill lands mid-run on any machine.)
  if (Number(pause) > 0) await new Promise((r) => setTimeout(r, Number(pause)));
  return i;
});
const steps = flow(async function* steps(id: string, n: number) {
  let total = 0;
  for (let i = 0; i < n; i++) total += yield* wait(step(id, i));
  return total;
});
const store = SqliteStore.open(path, { synchronous });
const ids = Array.from({ length: Number(runs) }, (_, k) => "shared-" + k);
const results = await Promise.all(ids.map((id) => run(steps, { id, n: Number(n) }, { store, runId: id })));
console.log(JSON.stringify({ results: results.map((r) => [r.runId, r.status, r.outputs]), commits: store.group.commits }));
store.close();
`;

Deno.test("runs sharing commits in one process, killed at random points, all resume with no acted-on result lost", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/shared.ts`, SHARED_SCRIPT);
  const { SqliteStore } = await import("../sqlite.ts");
  const RUNS = 12;
  const N = 150;
  const readLog = () => stepsLogged(tmp.dir);
  let killedMidRun = 0;
  for (let round = 0; round < 8; round++) {
    const db = `${tmp.dir}/shared${round}.db`;
    const synchronous = round % 2 === 0 ? "full" : "normal";
    await Deno.remove(`${tmp.dir}/steps.log`).catch(() => {});
    const args = ["run", "-A", `${tmp.dir}/shared.ts`, db, synchronous, String(RUNS), String(N)];
    const child = new Deno.Command(Deno.execPath(), {
      args: [...args, "1"],
      cwd: tmp.dir,
      stdout: "null",
      stderr: "null",
    }).spawn();
    // A kill once a random number of steps have started (each run takes at least N ms, so this
    // lands mid-run however fast the machine): the runs' steps end in the same turns and share
    // their commits, so the kill lands in or between shared commits.
    const target = RUNS + Math.floor(Math.random() * (RUNS * N) / 2);
    const began = Date.now();
    const started = async () => [...(await readLog()).values()].reduce((a, l) => a + l.length, 0);
    while (await started() < target && Date.now() - began < 60_000) {
      await new Promise((r) => setTimeout(r, 2));
    }
    try {
      child.kill("SIGKILL");
    } catch {
      // it may have finished already
    }
    const status = await child.status;
    const before = await readLog();
    if (status.signal === "SIGKILL") killedMidRun++;
    // What the kill left: every result a flow acted on (its next step started) is recorded,
    // and a run whose steps started was recorded before them.
    // Nothing half-written is visible: the file is whole, and every result recorded is the
    // value its step returned.
    const check = new DatabaseSync(db);
    try {
      assert.deepEqual(
        check.prepare("PRAGMA integrity_check").all().map((r) => Object.values(r)[0]),
        ["ok"],
      );
    } finally {
      check.close();
    }
    const store = SqliteStore.open(db);
    try {
      for (let k = 0; k < RUNS; k++) {
        const id = `shared-${k}`;
        for (const node of (await store.getRun(id))?.nodes ?? []) {
          if (node.entity !== "step" || node.status !== "succeeded") continue;
          const input = node.inputs.find((i) => i.name === "i");
          const given = input && await store.getValue(input.hash);
          const made = node.outputs[0] && await store.getValue(node.outputs[0].hash);
          assert.ok(
            given !== undefined && made !== undefined && made.value === given.value,
            `round ${round}: ${id} ${node.id} is recorded without its values, or with others`,
          );
        }
      }
      await assertActedOnRecorded(store, before, RUNS, `${round} (${synchronous})`);
    } finally {
      store.close();
    }
    // Every run again, in one process: they resume.
    await assertResumedOnce(args, tmp.dir, before, { runs: RUNS, steps: N }, round);
  }
  assert.equal(killedMidRun, 8, `only ${killedMidRun} kills landed mid-run`);
});
