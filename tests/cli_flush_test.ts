// weft run's flushes across the trust boundary: the run's process resumes a
// step only once the parent has committed the result it acts on, and several
// flushes asked for at once travel together. Killing the parent in the middle
// of a run (between any request and its answer) must leave a run that weft
// resume finishes with nothing the run's process acted on lost: each step ran
// once, but at most the one in flight per branch at the kill.

import assert from "node:assert/strict";
import { deno, ROOT, tempDir } from "./_helpers.ts";

// Four chains side by side (their steps finish together, so their flushes
// share requests and commits); each step writes a line before it returns.
const SCRIPT = `import { all, flow, task, wait } from "${ROOT}/mod.ts";
import { appendFileSync } from "node:fs";
const step = task(
  { name: "step", permissions: { write: ["./log"] } },
  (chain: number, i: number) => {
    appendFileSync("log", \`\${chain} \${i}\\n\`);
    return i + 1;
  },
);
const chain = flow(async function* chain(c: number, n: number) {
  let x = 0;
  for (let i = 0; i < n; i++) x = yield* wait(step(c, x));
  return x;
});
export const main = flow(async function* main(n: number) {
  return yield* all([chain(0, n), chain(1, n), chain(2, n), chain(3, n)]);
});
`;

const N = 150;

async function lines(path: string): Promise<string[]> {
  return (await Deno.readTextFile(path).catch(() => "")).split("\n").filter((l) => l !== "");
}

Deno.test("a weft run parent killed mid-run leaves a run that resumes with every step the run acted on kept: each ran once but the one in flight per branch", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/flush.ts`, SCRIPT);
  const log = `${tmp.dir}/log`;
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const parent = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}/cli.ts`,
      "run",
      `${tmp.dir}/flush.ts`,
      "--input",
      `n=${N}`,
      "--run-id",
      "killed",
      "--quiet",
      ...store,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(parent.stderr).text();
  // Killed at a moment that depends on the machine: once some steps of each chain ran.
  let seen: string[] = [];
  const started = Date.now();
  while (Date.now() - started < 120_000) {
    seen = await lines(log);
    if (seen.length >= 60) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  try {
    Deno.kill(parent.pid, "SIGKILL");
  } catch {
    // (it ended: the assertion below says how)
  }
  const status = await parent.status;
  assert.equal(status.signal, "SIGKILL", `weft run ended before it was killed: ${await stderr}`);
  // The run's process finds its parent gone and stops; give it time to end before resuming.
  let before = await lines(log);
  for (let quiet = 0; quiet < 10;) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await lines(log);
    quiet = now.length === before.length ? quiet + 1 : 0;
    before = now;
  }
  assert.ok(before.length < 4 * N, "the run was killed before its end");

  const resumed = await deno(["run", "-A", `${ROOT}/cli.ts`, "resume", "killed", ...store]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(JSON.parse(resumed.stdout), [N, N, N, N]);

  const all = await lines(log);
  for (let c = 0; c < 4; c++) {
    const mine = (xs: string[]) =>
      xs.filter((l) => l.startsWith(`${c} `)).map((l) => Number(l.split(" ")[1]));
    const steps = mine(all);
    const beforeKill = mine(before);
    // Every step of the chain ran, in order.
    assert.deepEqual([...new Set(steps)], Array.from({ length: N }, (_, i) => i), `chain ${c}`);
    // Twice at most the step in flight at the kill (its result was not durable):
    // every step whose result the run acted on (the next step started) was kept.
    const twice = steps.filter((x, i) => steps.indexOf(x) !== i);
    assert.ok(twice.length <= 1, `chain ${c} ran ${JSON.stringify(twice)} again`);
    if (twice.length === 1) assert.equal(twice[0], beforeKill.at(-1), `chain ${c}`);
  }
});
