// Checks shared by the tests that SIGKILL a process running many flows that
// share commits (SQLite in durable_test.ts, PostgreSQL in
// postgres_commit_test.ts): each flow `steps(id, n)` logs `ID I` to
// steps.log when its step I starts, and returns the sum of 0..n-1.

import assert from "node:assert/strict";
import type { Store } from "../src/store/mod.ts";
import { deno } from "./_helpers.ts";

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
