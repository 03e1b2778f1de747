// Property-based tests on random DAGs: every node runs exactly once, never
// before its inputs, and the concurrency limit is never exceeded.

import assert from "node:assert/strict";
import fc from "npm:fast-check@3.23.2";
import { flow, run, task, wait, Workflow } from "../mod.ts";

interface Dag {
  /** deps[i]: indices (< i) that node i takes as inputs. */
  deps: number[][];
  /** delays[i]: ms node i sleeps, 0 for a synchronous task. */
  delays: number[];
  concurrency: number;
}

const dagArb: fc.Arbitrary<Dag> = fc.integer({ min: 1, max: 30 }).chain((n) =>
  fc.record({
    deps: fc.tuple(
      ...Array.from({ length: n }, (_, i) =>
        i === 0
          ? fc.constant([] as number[])
          : fc.uniqueArray(fc.integer({ min: 0, max: i - 1 }), { maxLength: 3 })),
    ),
    delays: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n }),
    concurrency: fc.integer({ min: 1, max: 5 }),
  })
);

function recorder(dag: Dag) {
  const log = {
    starts: [] as number[],
    finished: new Set<number>(),
    active: 0,
    max: 0,
    violations: [] as string[],
  };
  const node = task(async function node(i: number, inputs: number[]) {
    log.starts.push(i);
    for (const d of dag.deps[i]!) {
      if (!log.finished.has(d)) log.violations.push(`${i} started before its input ${d} finished`);
    }
    log.active++;
    log.max = Math.max(log.max, log.active);
    if (dag.delays[i]! > 0) await new Promise((r) => setTimeout(r, dag.delays[i]));
    log.active--;
    log.finished.add(i);
    return inputs.reduce((a, b) => a + b, i);
  });
  return { node, log };
}

/** The value each node computes: its index plus the values of its inputs. */
function expected(dag: Dag): number[] {
  const values: number[] = [];
  dag.deps.forEach((ds, i) => values.push(ds.reduce((a, d) => a + values[d]!, i)));
  return values;
}

function check(dag: Dag, log: ReturnType<typeof recorder>["log"], outputs: unknown) {
  assert.deepEqual(log.violations, []);
  assert.deepEqual(
    [...log.starts].sort((a, b) => a - b),
    dag.deps.map((_, i) => i),
    "every node runs exactly once",
  );
  assert.ok(log.max <= dag.concurrency, `max ${log.max} > limit ${dag.concurrency}`);
  assert.deepEqual(outputs, expected(dag));
}

Deno.test("property: a random static DAG runs each node once, after its inputs, within the limit", async () => {
  await fc.assert(
    fc.asyncProperty(dagArb, async (dag) => {
      const { node, log } = recorder(dag);
      const wf = new Workflow("random_dag");
      const handles = dag.deps.map(() => undefined as unknown);
      dag.deps.forEach((ds, i) => {
        handles[i] = wf.addEntity(node, { i, inputs: ds.map((d) => handles[d]) });
      });
      wf.addOutput("values", handles);
      const result = await run(wf, {}, { concurrency: dag.concurrency });
      assert.equal(result.status, "succeeded");
      check(dag, log, result.outputs);
    }),
    { numRuns: 60 },
  );
});

Deno.test("property: the same DAG built by a flow behaves the same", async () => {
  await fc.assert(
    fc.asyncProperty(dagArb, async (dag) => {
      const { node, log } = recorder(dag);
      const f = flow(async function* randomFlow() {
        const handles: ReturnType<typeof node>[] = [];
        dag.deps.forEach((ds, i) => handles.push(node(i, ds.map((d) => handles[d]!))));
        const values: number[] = [];
        for (const h of handles) values.push(yield* wait(h));
        return values;
      });
      const result = await run(f, {}, { concurrency: dag.concurrency });
      assert.equal(result.status, "succeeded");
      check(dag, log, result.outputs);
    }),
    { numRuns: 60 },
  );
});
