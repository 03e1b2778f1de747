// Checks shared by the tests that SIGKILL a process running many flows that
// share commits (SQLite in durable_test.ts, PostgreSQL in
// postgres_commit_test.ts): each flow `steps(id, n)` logs `ID I` to
// steps.log when its step I starts, and returns the sum of 0..n-1. And the
// kill-and-resume loop of the tests of `weft run`'s running ahead
// (run_ahead_test.ts, run_ahead_attack_test.ts), with the tasks their
// scripts share.

import assert from "node:assert/strict";
import type { Store } from "../src/store/mod.ts";
import { deno, ROOT, sleep } from "./_helpers.ts";

/**
 * The steps each run started, from `DIR/steps.log`.
 *
 * @param dir The directory.
 * @returns Step numbers by run id, in the order logged.
 */
export async function stepsLogged(dir: string): Promise<Map<string, number[]>> {
  const byRun = new Map<string, number[]>();
  const text = await Deno.readTextFile(`${dir}/steps.log`).catch(() => "");
  for (const line of text.split("\n")) {
    const [id, i] = line.split(" ");
    if (id === undefined || i === undefined) continue;
    byRun.set(id, [...byRun.get(id) ?? [], Number(i)]);
  }
  return byRun;
}

/**
 * What the kill left: every result a flow acted on (its next step started)
 * is recorded, and a run whose steps started was recorded before them.
 *
 * @param store The store the killed process wrote.
 * @param before The steps started before the kill.
 * @param runs How many runs (`shared-0`…).
 * @param round How messages name the round.
 */
export async function assertActedOnRecorded(
  store: Store,
  before: Map<string, number[]>,
  runs: number,
  round: string,
): Promise<void> {
  for (let k = 0; k < runs; k++) {
    const id = `shared-${k}`;
    const started = before.get(id) ?? [];
    if (started.length === 0) continue;
    const recorded = await store.getRun(id);
    assert.ok(recorded !== undefined, `round ${round}: ${id} ran steps but is not recorded`);
    const succeeded = new Set(
      recorded.nodes.filter((n) => n.status === "succeeded").map((n) => n.id),
    );
    const last = Math.max(...started);
    for (let i = 0; i < last; i++) {
      const node = i === 0 ? "step" : `step_${i + 1}`;
      assert.ok(
        succeeded.has(node),
        `round ${round}: ${id} started step ${last} but the result of step ${i} is not recorded`,
      );
    }
  }
}

/**
 * Runs every run again, in one process: they resume, each step ran, only
 * the one in flight at the kill twice, and the resumed runs shared their
 * commits (far fewer than one per step).
 *
 * @param args The `deno` arguments of the process (it prints `{ results, commits }`).
 * @param dir Its working directory, with its steps.log.
 * @param before The steps started before the kill.
 * @param shape How many runs (`shared-0`…) of how many steps.
 * @param round How messages name the round.
 */
export async function assertResumedOnce(
  args: string[],
  dir: string,
  before: Map<string, number[]>,
  shape: { runs: number; steps: number },
  round: number,
): Promise<void> {
  const { runs, steps } = shape;
  const resumed = await deno(args, { cwd: dir });
  assert.equal(resumed.code, 0, `round ${round}: ${resumed.stderr}`);
  const { results, commits } = JSON.parse(resumed.stdout);
  for (const [id, status, outputs] of results) {
    assert.equal(status, "succeeded", `round ${round}: ${id}`);
    assert.equal(outputs, (steps * (steps - 1)) / 2, `round ${round}: ${id}`);
  }
  const after = await stepsLogged(dir);
  for (let k = 0; k < runs; k++) {
    const id = `shared-${k}`;
    const counts = new Map<number, number>();
    for (const i of after.get(id) ?? []) counts.set(i, (counts.get(i) ?? 0) + 1);
    const lastBefore = Math.max(-1, ...(before.get(id) ?? []));
    for (let i = 0; i < steps; i++) {
      const times = counts.get(i) ?? 0;
      assert.ok(times >= 1, `round ${round}: ${id} step ${i} never ran`);
      // Only the step in flight at the kill may run again, once.
      if (times > 1) {
        assert.equal(i, lastBefore, `round ${round}: ${id} step ${i} ran ${times} times`);
        assert.equal(times, 2, `round ${round}: ${id} step ${i} ran ${times} times`);
      }
    }
  }
  assert.ok(commits < (runs * steps) / 4, `round ${round}: ${commits} commits`);
}

/**
 * Script text for the scripts of the running-ahead tests: `draw(x)` declares
 * nothing and adds a random number below 1,000; `say(i, what)` declares a
 * write of `./log` and appends the line `i what` to it.
 */
export const SAY = `const say = task(
  { name: "say", permissions: { write: ["./log"] } },
  (i: number, what: string) => {
    appendFileSync("log", \`\${i} \${what}\\n\`);
    return what;
  },
);
`;

/** `draw` and `say` (see {@linkcode SAY}), with the import `say` needs. */
export const DRAW_AND_SAY = `import { appendFileSync } from "node:fs";
const draw = task(function draw(x: number) {
  return x + Math.floor(Math.random() * 1000);
});
${SAY}`;

/**
 * Runs `entity` of `file` with `weft run`, kills the parent (SIGKILL) once a
 * few more lines are in `log`, resumes and kills again, at most `rounds`
 * times, then resumes to the end.
 */
export async function killedAndResumed(
  dir: string,
  file: string,
  entity: string,
  n: number,
  rounds = 6,
  signal: Deno.Signal = "SIGKILL",
  storeUrl = `sqlite:${dir}/weft.db`,
): Promise<{ kills: number; lines: string[]; report: { status: string; outputs: unknown } }> {
  const log = `${dir}/log`;
  const store = ["--store", storeUrl];
  const lines = async () =>
    (await Deno.readTextFile(log).catch(() => "")).split("\n").filter((l) => l !== "");
  let kills = 0;
  for (let round = 0; round < rounds; round++) {
    const before = (await lines()).length;
    if (before >= n) break;
    const args = round === 0
      ? ["run", `${dir}/${file}`, entity, "--input", `n=${n}`, "--run-id", "killed"]
      : ["resume", "killed"];
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}/cli.ts`, ...args, "--quiet", ...store],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const target = before + 2 + Math.floor(Math.random() * 6);
    const started = Date.now();
    while (Date.now() - started < 60_000 && (await lines()).length < target) await sleep(2);
    try {
      Deno.kill(child.pid, signal);
      kills++;
    } catch {
      // it ended first
    }
    if (signal !== "SIGKILL") {
      // A second Ctrl-C would stop it at once: give the first one time, then kill.
      const ended = await Promise.race([
        child.status.then(() => true),
        sleep(10_000).then(() => false),
      ]);
      if (!ended) Deno.kill(child.pid, "SIGKILL");
    }
    const status = await child.status;
    const text = await stderr;
    if (status.signal === null && signal === "SIGKILL") assert.equal(status.code, 0, text);
    // The run's process sees its parent gone and stops; wait until the log is quiet.
    for (let quiet = 0, last = -1; quiet < 5; quiet++) {
      const now = (await lines()).length;
      if (now !== last) quiet = 0;
      last = now;
      await sleep(20);
    }
  }
  const done = await deno(["run", "-A", `${ROOT}/cli.ts`, "resume", "killed", ...store, "--json"], {
    cwd: dir,
  });
  assert.equal(done.code, 0, done.stderr);
  return {
    kills,
    lines: await lines(),
    report: JSON.parse(done.stdout.trim().split("\n").at(-1)!),
  };
}

/** Every line `i what` agrees with what the finished run recorded for step i; each i appears. */
export function agrees(lines: string[], said: string[]): void {
  for (const line of lines) {
    const [i, what] = line.split(" ");
    assert.equal(
      what,
      said[Number(i)],
      `step ${i} wrote ${what}; the run recorded ${said[Number(i)]}:\n${lines.join("\n")}`,
    );
  }
  assert.deepEqual(
    [...new Set(lines.map((l) => Number(l.split(" ")[0])))].sort((a, b) => a - b),
    [...said.keys()],
  );
}

/**
 * {@linkcode killedAndResumed}, then the checks every script of `draw` and
 * `say` steps shares: the run was stopped `minKills` times at least and
 * succeeded in the end, it recorded a decision for each of its `n` steps,
 * and every line written agrees with them ({@linkcode agrees}).
 *
 * @returns What the run recorded for each step.
 */
export async function killedAndAgreeing(
  dir: string,
  file: string,
  entity: string,
  n: number,
  options: { rounds?: number; signal?: Deno.Signal; storeUrl?: string; minKills?: number } = {},
): Promise<string[]> {
  const { kills, lines, report } = await killedAndResumed(
    dir,
    file,
    entity,
    n,
    options.rounds,
    options.signal,
    options.storeUrl,
  );
  const minKills = options.minKills ?? 2;
  assert.ok(kills >= minKills, `only ${kills} kills`);
  assert.equal(report.status, "succeeded");
  const said = report.outputs as string[];
  assert.equal(said.length, n);
  agrees(lines, said);
  return said;
}
