// Crashes in the middle of a map and of a conditional: the process dies (no
// cleanup, as a kill would leave it), the run is resumed from its SQLite
// store, and what the store recorded as done is replayed, not run again.
import assert from "node:assert/strict";
import { SqliteStore } from "../sqlite.ts";
import { deno, ROOT, tempDir } from "./_helpers.ts";

const MOD = `${ROOT}/mod.ts`;

/** A script whose `step` dies the first time it reaches `crashAt` while `crash.marker` exists. */
const SCRIPT = `import { gt, ifElse, mapTask, run, task, workflow } from "${MOD}";
import { appendFileSync, existsSync, rmSync } from "node:fs";

const step = task(async function step(x: number) {
  appendFileSync("steps.log", x + "\\n");
  if (x === Number(Deno.args[1]) && existsSync("crash.marker")) {
    rmSync("crash.marker");
    // The store commits finished results that nothing waits for yet on a
    // timer of at most 100 ms; that timer is due before this one, so the
    // results finished so far are durable when the process dies.
    await new Promise((r) => setTimeout(r, 400));
    Deno.exit(3); // as a crash: no cleanup, no finished run
  }
  await new Promise((r) => setTimeout(r, 15));
  return x * 10;
});

const total = task(function total(xs: number[]) {
  return xs.reduce((a, b) => a + b, 0);
});

export const mapped = workflow(function mapped(xs: number[]) {
  return total(mapTask(step, { concurrency: 1 })(xs));
});

export const branched = workflow(function branched(x: number) {
  return ifElse(
    gt(x, 0),
    () => total([step(1), step(step(2)), step(3), step(4)]),
    () => step(-1),
    { name: "positive" },
  );
});

const which = Deno.args[0] === "map" ? mapped : branched;
const inputs = Deno.args[0] === "map" ? { xs: [0, 1, 2, 3, 4, 5, 6, 7] } : { x: 1 };
const r = await run(which, inputs, { store: "sqlite:run.db", runId: "crash-" + Deno.args[0] });
console.log(JSON.stringify({ status: r.status, outputs: r.outputs }));
`;

async function crashThenResume(kind: "map" | "branch", crashAt: number) {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/script.ts`, SCRIPT);
  await Deno.writeTextFile(`${tmp.dir}/crash.marker`, "");
  const first = await deno(["run", "-A", "script.ts", kind, String(crashAt)], { cwd: tmp.dir });
  assert.equal(first.code, 3, first.stderr);
  const before = (await Deno.readTextFile(`${tmp.dir}/steps.log`)).trim().split("\n");
  // What the store recorded as done before the crash.
  const store = SqliteStore.open(`${tmp.dir}/run.db`);
  const recorded = await store.getRun(`crash-${kind}`);
  await store.close();
  assert.ok(recorded !== undefined);
  assert.equal(recorded.status, "running");
  const done = recorded.nodes.filter((n) => n.status === "succeeded" && n.entity === "step");
  const second = await deno(["run", "-A", "script.ts", kind, String(crashAt)], { cwd: tmp.dir });
  assert.equal(second.code, 0, second.stderr);
  const all = (await Deno.readTextFile(`${tmp.dir}/steps.log`)).trim().split("\n");
  const after = all.slice(before.length);
  return { result: JSON.parse(second.stdout), before, after, done };
}

Deno.test("a run killed in the middle of a map resumes: recorded elements are replayed", async () => {
  const { result, before, after, done } = await crashThenResume("map", 3);
  assert.deepEqual(result, { status: "succeeded", outputs: 280 });
  // It died in element 3, having run 0, 1, 2 one at a time.
  assert.deepEqual(before, ["0", "1", "2", "3"]);
  // The store had the elements before it as done: they are not run again; the rest run once each.
  assert.deepEqual(done.map((n) => n.id).sort(), ["map_step/0", "map_step/1", "map_step/2"]);
  const rerun = after.map(Number);
  for (const n of done) assert.ok(!rerun.includes(Number(n.id.split("/")[1])), `${n.id} ran again`);
  assert.deepEqual(rerun.filter((x) => x >= 3), [3, 4, 5, 6, 7]);
  assert.equal(rerun.length, 8 - done.length);
});

Deno.test("a run killed in the middle of a conditional's branch resumes it: done steps replay", async () => {
  const { result, before, after, done } = await crashThenResume("branch", 2);
  // total([10, step(20) = 200, 30, 40]) = 280
  assert.deepEqual(result, { status: "succeeded", outputs: 280 });
  // The branch's first calls start together: it died in step 2, maybe after 1, 3, 4 began.
  assert.ok(before.includes("2") && !before.includes("20") && !before.includes("-1"));
  const xOf: Record<string, number> = {
    "positive/step": 1,
    "positive/step_2": 2,
    "positive/step_3": 20,
    "positive/step_4": 3,
    "positive/step_5": 4,
  };
  const rerun = after.map(Number);
  // Steps 1, 3 and 4 started with step 2 and finished while it was dying.
  assert.deepEqual(done.map((n) => n.id).sort(), [
    "positive/step",
    "positive/step_4",
    "positive/step_5",
  ]);
  for (const n of done) {
    assert.ok(n.id in xOf, `${n.id} is a step of the then branch`);
    assert.ok(!rerun.includes(xOf[n.id]!), `${n.id} was recorded done, yet ran again`);
  }
  assert.deepEqual(rerun, [2, 20]);
  assert.ok(!rerun.includes(-1), "the else branch never runs");
  assert.equal(new Set(rerun).size, rerun.length, `each step runs at most once more: ${rerun}`);
});
