// Deno.bench suites for static workflows: a 1 → N → 1 fan-out run as a
// static workflow, and a 100,000-node DAG (layered and binary tree) built,
// compiled to IR JSON and run. Run with `deno bench bench/`.

import { MemoryStore } from "../store.ts";
import { fanOutFloor, fanOutWorkflow, runFanOutWorkflow } from "./workloads/fanout.ts";
import { buildDag, compileDag, runDag } from "./workloads/static_dag.ts";

for (const n of [10_000, 100_000]) {
  const wf = fanOutWorkflow(n);
  const group = `static fan-out of ${n} tasks`;
  Deno.bench({
    name: `static workflow: 1 → ${n} → 1 (run only)`,
    group,
    n: n > 10_000 ? 5 : 20,
    warmup: 2,
    fn: async () => await runFanOutWorkflow(wf, n),
  });
  Deno.bench({
    name: `floor: Promise.all over ${n} async calls`,
    group,
    baseline: true,
    fn: async () => void await fanOutFloor(n),
  });
}

const N = 100_000;
for (const shape of ["layered", "tree"] as const) {
  const built = buildDag(shape, N);
  Deno.bench({
    name: `${shape} DAG of ${N} nodes: build`,
    group: `${shape} DAG`,
    n: 5,
    warmup: 1,
    fn: () => void buildDag(shape, N),
  });
  Deno.bench({
    name: `${shape} DAG of ${N} nodes: compile to IR JSON`,
    group: `${shape} DAG`,
    n: 5,
    warmup: 1,
    fn: () => void compileDag(built),
  });
  Deno.bench({
    name: `${shape} DAG of ${N} nodes: run`,
    group: `${shape} DAG`,
    n: 5,
    warmup: 1,
    fn: async () => void await runDag(built, new MemoryStore()),
  });
}
