// weft lineage from the command line: it stays in the named run, lists each
// execution once, says where it stopped, widens with --across-runs, and
// refuses bad numbers in one line.

import assert from "node:assert/strict";
import { deno, ROOT, tempDir } from "./_helpers.ts";

function weft(args: string[], cwd?: string) {
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args], cwd === undefined ? {} : { cwd });
}

const CHAIN = `import { flow, task, wait } from "${ROOT}/mod.ts";
const add = task(function add(x: number, y: number) { return x + y; });
export const chain = flow(async function* chain(x: number) {
  let v = add(x, 1);
  for (let i = 1; i < 12; i++) v = add(v, 1);
  return yield* wait(v);
});
`;

Deno.test("weft lineage of a 12-step chain run 4 times stays in its run and lists each step once", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/chain.ts`, CHAIN);
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  for (let r = 1; r <= 4; r++) {
    const out = await weft([
      "run",
      `${tmp.dir}/chain.ts`,
      "--input",
      "x=0",
      "--run-id",
      `c-${r}`,
      "--quiet",
      ...store,
    ]);
    assert.equal(out.stdout, "12\n", out.stderr);
  }
  // Before: 16k lines at --depth 6, and no answer within a minute at the default depth.
  const six = await weft(["lineage", "c-2/add_12/o0", "--depth", "6", ...store]);
  assert.equal(six.code, 0, six.stderr);
  const lines = six.stdout.trimEnd().split("\n");
  assert.ok(lines.length < 40, six.stdout);
  assert.doesNotMatch(six.stdout, /c-1|c-3|c-4/);
  for (let i = 12; i >= 7; i--) assert.equal(six.stdout.split(`\nadd_${i}  (add)\n`).length, 2);
  assert.match(six.stdout, /\nnot followed, 6 steps back \(--depth N to go further\): add_6\n/);
  assert.match(six.stdout, /\(within run c-2; --across-runs follows values into other runs\)\n$/);
  const all = await weft(["lineage", "c-2/add_12/o0", "--depth", "20", ...store]);
  assert.match(all.stdout, /\nadd {2}\(add\)\n {2}x {2}[0-9a-f]{12} {2}0 {2}input x of the run\n/);
  const json = JSON.parse((await weft(["lineage", "c-2/add_12/o0", "--json", ...store])).stdout);
  assert.equal(Object.keys(json.steps).length, 11);
  assert.ok(Object.keys(json.steps).every((k: string) => k.startsWith("c-2/")));
  const limited = await weft(["lineage", "c-2/add_12/o0", "--limit", "2", ...store]);
  assert.match(limited.stdout, /not followed, after 2 executions \(--limit N for more\): add_10\n/);
});

Deno.test("weft lineage --across-runs follows a run's input into the run that produced it", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/chain.ts`, CHAIN);
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  await weft([
    "run",
    `${tmp.dir}/chain.ts`,
    "--input",
    "x=0",
    "--run-id",
    "a",
    "--quiet",
    ...store,
  ]);
  await weft([
    "run",
    `${tmp.dir}/chain.ts`,
    "--input",
    "x=12",
    "--run-id",
    "b",
    "--quiet",
    ...store,
  ]);
  const within = await weft(["lineage", "b/add/o0", ...store]);
  assert.match(within.stdout, / {2}x {2}[0-9a-f]{12} {2}12 {2}input x of the run\n/);
  const across = await weft(["lineage", "b/add/o0", "--across-runs", "--depth", "2", ...store]);
  assert.equal(across.code, 0, across.stderr);
  assert.match(
    across.stdout,
    / {2}x {2}[0-9a-f]{12} {2}12 {2}from add_12\.o0 \(run a\); input x of the run\n/,
  );
  assert.match(across.stdout, /\nadd_12 {2}\(add, run a\)\n/);
  assert.doesNotMatch(across.stdout, /within run/);
});

Deno.test("weft lineage refuses a bad --depth or --limit in one line", async () => {
  for (const args of [["--depth", "-1"], ["--depth", "x"], ["--limit", "1.5"]]) {
    const out = await weft(["lineage", "r/n/o0", ...args, "--store", "memory"]);
    assert.equal(out.code, 2);
    assert.match(
      out.stderr,
      /^weft: lineage: --(depth|limit) must be a non-negative integer, not '[^']+'\n$/,
    );
  }
});
